"""Shared by every test: checks record progress in a temporary file, never in the learner's home folder.

Set here, at collection time, so the kernels nbval and the browser suite start inherit it too.
"""

import os
import shutil
import tempfile
from pathlib import Path

_PROGRESS_DIR = Path(tempfile.mkdtemp(prefix="attention-progress-"))
os.environ["ATTENTION_HANDS_ON_PROGRESS"] = str(_PROGRESS_DIR / "progress.json")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_PROGRESS_DIR, ignore_errors=True)
