"""Shared by every test: the numerics every kernel runs with, how notebook outputs are compared, and a
temporary progress record.

Set here, at collection time and before anything imports torch, so the kernels nbval and the browser suite
start inherit it too:
- numerics (helpers.machinery.numerics): pinned on x86-64 unless ATTENTION_NUMERICS=native; in native mode nbval
  compares notebook outputs within the tolerance of tests/tolerant_outputs.py instead of exactly;
- checks record progress in a temporary file, never in the learner's home folder.
"""

import os
import shutil
import tempfile
from pathlib import Path

from helpers.machinery.numerics import apply_numerics, describe

NUMERICS = apply_numerics()
if NUMERICS == "native":
    import tolerant_outputs

    tolerant_outputs.install()

_PROGRESS_DIR = Path(tempfile.mkdtemp(prefix="attention-progress-"))
os.environ["ATTENTION_HANDS_ON_PROGRESS"] = str(_PROGRESS_DIR / "progress.json")


def pytest_report_header(config):
    return describe(NUMERICS)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_PROGRESS_DIR, ignore_errors=True)
