"""Rules every lesson notebook follows, so that nbval compares real outputs and a lesson reads well.

nbval (run by `make test`) re-executes each notebook and compares its outputs; these tests
check what nbval cannot: that outputs are stored at all, clean, and that ignored cells say why.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_PATHS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IGNORE_MARK = "# NBVAL_IGNORE_OUTPUT"


def cells(path, kind=None):
    notebook = json.loads(path.read_text())
    return [c for c in notebook["cells"] if kind is None or c["cell_type"] == kind]


def source(cell):
    return "".join(cell["source"])


def test_there_is_a_start_notebook():
    assert ROOT / "notebooks" / "00_start_here.ipynb" in NOTEBOOK_PATHS


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_name_title_and_goal(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), "name notebooks NN_snake_case.ipynb"
    first = source(cells(path)[0])
    assert first.startswith(f"# {path.name[:2]} · "), "the first cell is the title: '# NN · Title'"
    assert "**Goal:**" in first, "the first cell states the lesson's goal"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_outputs_are_stored_in_order_and_clean(path):
    notebook = json.loads(path.read_text())
    assert "widgets" not in notebook["metadata"], "stored widget state: run `make outputs`"
    code = cells(path, "code")
    counts = [cell["execution_count"] for cell in code]
    assert counts == list(range(1, len(code) + 1)), "run `make outputs` to execute the notebook top to bottom"
    for cell in code:
        assert "execution" not in cell["metadata"], "timings in cell metadata: run `make outputs`"
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"stored error in:\n{source(cell)}"
            data = output.get("data", {})
            assert "application/vnd.jupyter.widget-view+json" not in data, "widget views are stripped"
            assert "image/svg+xml" not in data, "store figures as PNG (nbval skips PNG; SVG bloats diffs)"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_ignored_outputs_say_why(path):
    for cell in cells(path, "code"):
        text = source(cell)
        if IGNORE_MARK in text:
            first_line = text.splitlines()[0]
            assert first_line.startswith(IGNORE_MARK + ":"), "put '# NBVAL_IGNORE_OUTPUT: <why>' on the first line"
            assert len(first_line) > len(IGNORE_MARK) + 10, f"say why the output varies: {first_line!r}"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_widget_and_display_cells_are_marked(path):
    """A cell whose stored output is a widget placeholder must be NBVAL_IGNORE_OUTPUT."""
    for cell in cells(path, "code"):
        placeholders = [
            o for o in cell["outputs"] if "interactive widget" in "".join(o.get("data", {}).get("text/plain", ""))
        ]
        if placeholders:
            assert source(cell).startswith(IGNORE_MARK), f"widget cell without {IGNORE_MARK}:\n{source(cell)}"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_nothing_is_fetched_from_the_internet(path):
    for cell in cells(path, "code"):
        assert not re.search(r"https?://", source(cell)), (
            f"a code cell names a URL (the course runs offline):\n{source(cell)}"
        )


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_headings_do_not_skip_levels(path):
    level = 0
    for cell in cells(path, "markdown"):
        in_code = False
        for line in source(cell).splitlines():
            in_code ^= line.startswith("```")
            match = re.match(r"^(#+) ", line)
            if match and not in_code:
                new = len(match.group(1))
                assert new <= level + 1, f"heading jumps from level {level} to {new}: {line!r}"
                level = new


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_stored_notebook_stays_small(path):
    assert path.stat().st_size < 2_000_000, "over 2 MB: lower the figures' dpi or size"
