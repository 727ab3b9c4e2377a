"""Rules every lesson notebook follows, so that nbval compares real outputs and a lesson reads well.

nbval (run by `make test`) re-executes each notebook and compares its outputs; these tests
check what nbval cannot: that outputs are stored at all, clean, and that ignored cells say why.
"""

import json
import re
from pathlib import Path

import pytest
from nbval.plugin import find_comment_markers

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


def nbval_ignores_output(cell):
    """Ask nbval itself, so a marker it would not recognise (e.g. with text after it) is caught."""
    return dict(find_comment_markers(source(cell))).get("check", True) is False


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_ignored_outputs_say_why(path):
    for cell in cells(path, "code"):
        lines = source(cell).splitlines()
        if any("NBVAL_IGNORE_OUTPUT" in line for line in lines):
            assert nbval_ignores_output(cell), f"nbval does not see the marker; write it alone on a line:\n{lines[0]}"
            assert lines[0] == IGNORE_MARK, "put '# NBVAL_IGNORE_OUTPUT' on the first line"
            assert len(lines) > 1 and lines[1].startswith("# Why: ") and len(lines[1]) > 20, (
                "the second line says why the output varies: '# Why: ...'"
            )


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_widget_and_display_cells_are_marked(path):
    """A cell whose stored output is a widget or attention-view placeholder must be NBVAL_IGNORE_OUTPUT."""
    for cell in cells(path, "code"):
        placeholders = [
            o
            for o in cell["outputs"]
            if re.match(r"\[interactive (widget|attention view)", "".join(o.get("data", {}).get("text/plain", "")))
        ]
        if placeholders:
            assert nbval_ignores_output(cell), f"widget cell without {IGNORE_MARK}:\n{source(cell)}"


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
