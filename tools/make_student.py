"""Write the student edition of the course: the notebooks without their solutions, ready to hand out.

    python tools/make_student.py [--out student]

For every notebooks/NN_*.ipynb:
- each hidden solution (a markdown cell `<details><summary><b>Solution</b>...`) is replaced by a line
  saying the solution is in the teacher's edition;
- each exercise cell (a code cell that calls a `check_...` function) keeps its placeholder, loses its
  stored output and execution count, so the learner starts from a clean cell;
- everything else (the lesson's text, figures, printed results, widgets) stays as it is.
The files the notebooks read (everything in notebooks/ that is not a notebook: checkpoints, cached
measurements) are copied beside them. The self-checks still work: they live in `helpers`, which the
learner's environment installs (`make lab`, or the class server's image).
"""

import argparse
import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOLUTION = re.compile(r"^\s*<details>\s*<summary>\s*(<b>)?\s*Solution", re.IGNORECASE)
CHECK_CALL = re.compile(r"\bcheck_\w+\s*\(")
IN_TEACHERS_EDITION = "*The solution to this exercise is in the teacher's edition of the course.*"
SKIPPED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.ipynb")


def is_solution(cell):
    """True for a markdown cell holding a hidden solution."""
    return cell.cell_type == "markdown" and bool(SOLUTION.match(cell.source))


def is_exercise(cell):
    """True for a code cell that runs a self-check: the learner's answer goes there."""
    return cell.cell_type == "code" and bool(CHECK_CALL.search(cell.source))


def student_notebook(notebook):
    """A copy of the notebook with solutions replaced and exercise cells' outputs cleared."""
    notebook = nbformat.from_dict(notebook)  # a deep copy
    for index, cell in enumerate(notebook.cells):
        if is_solution(cell):
            replacement = nbformat.v4.new_markdown_cell(IN_TEACHERS_EDITION)
            if "id" in cell:
                replacement["id"] = cell["id"]  # same ids on every run: the edition is reproducible
            notebook.cells[index] = replacement
        elif is_exercise(cell):
            cell.outputs = []
            cell.execution_count = None
    return notebook


def build(out, notebooks=NOTEBOOKS):
    """Write the student edition into `out` (replacing it); returns the notebooks written."""
    out = Path(out)
    if out.resolve() in (Path(notebooks).resolve(), ROOT.resolve()):
        raise ValueError(f"refusing to overwrite {out}: give a folder of its own, e.g. student/")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(notebooks, out, ignore=SKIPPED)  # the data files the lessons read
    written = []
    for path in sorted(Path(notebooks).glob("[0-9][0-9]_*.ipynb")):
        notebook = student_notebook(nbformat.read(path, as_version=4))
        target = out / path.name
        nbformat.write(notebook, target)
        written.append(target)
    return written


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "student"), help="folder to write (replaced if it exists)")
    args = parser.parse_args(argv)
    written = build(args.out)
    print(f"wrote {len(written)} notebooks without solutions to {args.out}/")


if __name__ == "__main__":
    main(sys.argv[1:])
