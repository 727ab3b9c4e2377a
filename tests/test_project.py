"""The project's promises about set-up: pinned packages, two commands, CI runs `make test`."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


REQUIREMENT_FILES = ("requirements.txt", "requirements-files.txt", "requirements-dev.txt")


def requirement_lines(name="requirements.txt"):
    lines = (ROOT / name).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_every_requirement_is_pinned_and_torch_is_the_cpu_release():
    for name in REQUIREMENT_FILES:
        for line in requirement_lines(name):
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][^\s]*", line), f"{name}: pin it with ==: {line!r}"
    assert "torch==2.13.0" in requirement_lines()


def test_conda_environment_installs_the_same_builds_as_make_install():
    text = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in text and "-r requirements.txt" in text
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert 'torch==2.13.0+cpu ; sys_platform == "linux"' in text
    assert "pip install --no-deps -r requirements-files.txt" in (ROOT / "postBuild").read_text()


def test_ci_runs_exactly_make_test_and_requires_the_browser():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert commands[-1] == "make test"
    assert "export REQUIRE_BROWSER=1" in ci


def test_make_test_runs_unit_notebook_and_browser_tests():
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "PYTEST := $(PY) -m pytest --nbval --nbval-current-env" in makefile
    assert "$(PYTEST) tests notebooks\n" in test_recipe  # the first run: everything
    assert (ROOT / "tests" / "browser").is_dir()


def test_readme_shows_the_two_commands_first():
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:30])
    assert "make lab" in first_screen and "make test" in first_screen
