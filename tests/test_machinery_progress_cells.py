"""Every lesson ends with a summary of its own exercises, and 00_start_here shows them all.

The summary cells are run here, in-process, the way the notebook runs them (the last line's value is
what the cell shows), against a temporary progress record with one exercise passed.
"""

import ast
import json
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.machinery import progress

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402

START = ROOT / "notebooks" / "00_start_here.ipynb"
LESSON_PATHS = [path for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) if path != START]
IGNORE_MARK = "# NBVAL_IGNORE_OUTPUT"


def cells(path):
    return [{**cell, "source": "".join(cell["source"])} for cell in json.loads(path.read_text())["cells"]]


def summary_calls(source):
    """The arguments of each progress_summary(...) call in the source, as a list of Python values."""
    return [
        [ast.literal_eval(argument) for argument in node.args]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "progress_summary"
    ]


def summary_cells(path):
    return [cell for cell in cells(path) if cell["cell_type"] == "code" and is_summary(cell["source"])]


def is_summary(source):
    """True for a cell calling progress_summary (other cells may hold IPython syntax ast cannot parse)."""
    return "progress_summary" in source and bool(summary_calls(source))


def run_cell(source):
    """Run a cell's code and return what the notebook shows for it: repr of its last expression."""
    tree = ast.parse(source)
    *body, last = tree.body
    assert isinstance(last, ast.Expr), "the cell must end with the summary call, so that the notebook shows it"
    namespace = {}
    exec(compile(ast.Module(body=body, type_ignores=[]), "<cell>", "exec"), namespace)
    return repr(eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace))


@pytest.fixture
def record_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv(progress.ENVIRONMENT_VARIABLE, str(path))
    return path


def record_first_pass(lesson):
    """Record a pass of the lesson's first exercise, as its checker would; returns the checker's name."""
    first = progress.lesson_checkers(lesson)[0].__name__
    assert progress.record(f"{lesson}.{first}", f"Exercise 1 of {lesson}", True)
    return first


def test_every_lesson_notebook_is_checked():
    assert [path.stem for path in LESSON_PATHS] == [name for name in progress.LESSON_EXERCISES if name != START.stem]


@pytest.mark.parametrize("path", LESSON_PATHS, ids=lambda p: p.stem)
def test_each_lesson_ends_with_the_summary_of_its_own_exercises(path):
    *_, heading, last = cells(path)
    assert last["cell_type"] == "code", f"{path.name} must end with its progress cell"
    assert summary_calls(last["source"]) == [[path.stem]], f"the last cell must call progress_summary({path.stem!r})"
    assert path.stem in progress.LESSON_EXERCISES
    assert last["source"].startswith(IGNORE_MARK + "\n# Why: "), "the summary differs from learner to learner"
    assert heading["cell_type"] == "markdown" and heading["source"].startswith("## Your progress\n")
    assert "this computer" in heading["source"], "say where the record is kept"
    assert len(summary_cells(path)) == 1, "one summary per lesson"


def test_start_here_shows_every_lesson_near_its_end():
    notebook = cells(START)
    found = [i for i, cell in enumerate(notebook) if cell in summary_cells(START)]
    assert len(found) == 1, "00_start_here has one progress summary"
    at = found[0]
    assert summary_calls(notebook[at]["source"]) == [[]], "00_start_here's summary covers every lesson"
    assert notebook[at]["source"].startswith(IGNORE_MARK + "\n# Why: ")
    exercise = max(
        i
        for i, cell in enumerate(notebook)
        if cell["cell_type"] == "code" and make_student.CHECK_CALL.search(cell["source"])
    )
    assert exercise < at and len(notebook) - at <= 3, "the summary comes after the exercise, near the end"
    heading = notebook[at - 1]["source"]
    assert heading.startswith("## Your progress\n") and "Every lesson ends with" in heading


@pytest.mark.parametrize("path", LESSON_PATHS, ids=lambda p: p.stem)
def test_a_lessons_summary_cell_shows_a_recorded_pass(record_file, path):
    first = record_first_pass(path.stem)
    shown = run_cell(summary_cells(path)[0]["source"]).splitlines()
    n_exercises = len(progress.lesson_checkers(path.stem))
    assert shown[0] == f"{path.stem}: 1 of {n_exercises} exercises passed"
    assert shown[1] == f"  ✓ Exercise 1 of {path.stem} (passed)", f"the first exercise ({first}) is shown passed"
    assert all(line.startswith("  · ") for line in shown[2 : 1 + n_exercises]), "the others are not tried yet"
    assert "on this computer" in shown[-1]


def test_start_heres_summary_cell_shows_a_pass_in_any_lesson(record_file, capsys):
    from helpers.lessons.l00_start_here.exercises import check_sharp_temperature

    assert check_sharp_temperature(0.2) is True  # the real checker records it
    record_first_pass("05_multi_head_attention")
    shown = run_cell(summary_cells(START)[0]["source"])
    for lesson in progress.LESSON_EXERCISES:
        passed = 1 if lesson in ("00_start_here", "05_multi_head_attention") else 0
        assert f"\n{lesson}: {passed} of " in "\n" + shown
    assert "  ✓ Exercise: a sharp attention row (passed)" in shown.splitlines()
    assert shown.count("✓") == 2


@pytest.mark.parametrize("path", [START, *LESSON_PATHS], ids=lambda p: p.stem)
def test_the_summary_cell_works_in_the_student_edition(record_file, path):
    original = nbformat.read(path, as_version=4)
    student = make_student.student_notebook(original)
    kept = [
        (before, after)
        for before, after in zip(original.cells, student.cells, strict=True)
        if before.cell_type == "code" and is_summary(before.source)
    ]
    assert len(kept) == 1
    before, after = kept[0]
    assert not make_student.is_exercise(before), "a summary cell must not look like an exercise to make_student"
    assert after.source == before.source, "the student edition must keep the summary cell's code"
    record_first_pass(path.stem)
    assert f"  ✓ Exercise 1 of {path.stem} (passed)" in run_cell(after.source).splitlines()
