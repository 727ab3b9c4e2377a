"""The project's promises about set-up: pinned packages, two commands, CI runs `make test`."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def requirement_lines():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_every_requirement_is_pinned_and_torch_is_the_cpu_release():
    for line in requirement_lines():
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][^\s]*", line), f"pin it with ==: {line!r}"
    assert "torch==2.13.0" in requirement_lines()


def test_conda_environment_reuses_the_requirements():
    text = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in text and "-r requirements.txt" in text


def test_ci_runs_exactly_make_test_and_requires_the_browser():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert commands[-1] == "make test"
    assert "export REQUIRE_BROWSER=1" in ci


def test_make_test_runs_unit_notebook_and_browser_tests():
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "pytest --nbval" in test_recipe and " tests " in test_recipe and "notebooks" in test_recipe
    assert (ROOT / "tests" / "browser").is_dir()


def test_readme_shows_the_two_commands_first():
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:30])
    assert "make lab" in first_screen and "make test" in first_screen
