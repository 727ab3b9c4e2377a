"""`make student`: no solution survives in the student edition, and every notebook of it still runs."""

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import make_outputs  # noqa: E402
import make_student  # noqa: E402

NOTEBOOK_PATHS = sorted(make_student.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("edition") / "student"
    make_student.build(out)
    return out


def code_line(line):
    """A line of code without its trailing comment and indentation."""
    return line.split("  #")[0].strip()


def lines_of(cells):
    """Every line of the cells' sources and printed outputs, as code_line."""
    found = set()
    for cell in cells:
        texts = [cell.source] + [output.get("text", "") for output in cell.get("outputs", [])]
        found |= {code_line(line) for text in texts for line in text.splitlines()}
    return found


def solution_lines(notebook):
    """Lines of code that only the solutions contain (not the exercise cells or the lesson around them)."""
    elsewhere = lines_of(cell for cell in notebook.cells if not make_student.is_solution(cell))
    lines = set()
    for cell in notebook.cells:
        if make_student.is_solution(cell):
            for block in CODE_BLOCK.findall(cell.source):
                lines |= {code_line(line) for line in block.splitlines() if len(code_line(line)) > 12}
    return lines - elsewhere


def test_every_notebook_is_in_the_edition_with_the_files_they_read(edition):
    assert sorted(path.name for path in edition.glob("*.ipynb")) == [path.name for path in NOTEBOOK_PATHS]
    data_files = [p for p in make_student.NOTEBOOKS.iterdir() if p.is_file() and p.suffix != ".ipynb"]
    for path in data_files:
        assert (edition / path.name).read_bytes() == path.read_bytes()


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_no_solution_survives(edition, path):
    original = nbformat.read(path, as_version=4)
    secret = solution_lines(original)
    n_solutions = sum(make_student.is_solution(cell) for cell in original.cells)
    assert n_solutions >= 1 and secret, f"{path.name}: no solution found to remove: is the pattern still right?"
    text = (edition / path.name).read_text(encoding="utf-8")
    student = nbformat.reads(text, as_version=4)
    assert not any(make_student.is_solution(cell) for cell in student.cells)
    assert "<summary><b>Solution" not in text
    leaked = sorted(secret & lines_of(student.cells))
    assert not leaked, f"{path.name}: solution lines left in the student edition: {leaked[:5]}"
    notices = [cell for cell in student.cells if cell.source == make_student.IN_TEACHERS_EDITION]
    assert len(notices) == n_solutions


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_exercise_cells_start_clean_and_the_lesson_keeps_its_outputs(edition, path):
    original = nbformat.read(path, as_version=4).cells
    student = nbformat.read(edition / path.name, as_version=4).cells
    assert len(student) == len(original)
    exercises = 0
    for before, after in zip(original, student, strict=True):
        if make_student.is_exercise(before):
            exercises += 1
            assert after.source == before.source  # the placeholder stays
            assert after.outputs == [] and after.execution_count is None
        elif not make_student.is_solution(before):
            assert after == before  # text, figures and printed results unchanged
    assert exercises >= 1


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_every_notebook_of_the_edition_runs_and_its_checks_answer(edition, path):
    notebook = nbformat.read(edition / path.name, as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(edition)}}
    )
    client.execute(env=make_outputs.execution_environment())  # raises CellExecutionError on any error
    for cell in notebook.cells:
        if make_student.is_exercise(cell):
            printed = "".join(output.get("text", "") for output in cell.outputs)
            assert re.search(r"Exercise|✗|✓", printed), f"{path.name}: a self-check printed nothing:\n{cell.source}"


def test_it_refuses_to_overwrite_the_course():
    with pytest.raises(ValueError, match="refusing to overwrite"):
        make_student.build(make_student.NOTEBOOKS)
