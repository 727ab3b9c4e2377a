"""tools/make_outputs.py strips what changes between runs and keeps what a reader needs."""

import sys
from pathlib import Path

import nbformat
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import make_outputs  # noqa: E402


def notebook_with(outputs, source="x = 1", metadata=None):
    cell = nbformat.v4.new_code_cell(source, outputs=outputs, execution_count=1)
    cell.metadata.update(metadata or {})
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata.update({"widgets": {"state": {}}, "language_info": {"name": "python", "version": "3.11.7"}})
    return notebook


def test_widget_views_become_a_fixed_line_and_state_is_dropped():
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "abc123"}, "text/plain": "VBox(...)"}
    notebook = make_outputs.clean_notebook(notebook_with([nbformat.v4.new_output("display_data", data=view)]))
    assert "widgets" not in notebook.metadata
    assert notebook.metadata.language_info == make_outputs.LANGUAGE_INFO
    assert notebook.cells[0].outputs[0].data == {"text/plain": make_outputs.WIDGET_PLACEHOLDER}


def test_attention_views_become_a_fixed_line():
    from helpers.machinery.bertviz_offline import VIEW_MARKER, head_view

    assert make_outputs.VIEW_MARKER == VIEW_MARKER
    view = head_view(torch.full((1, 2, 3, 3), 1 / 3), ["a", "b", "c"])
    shown = nbformat.v4.new_output("display_data", data=view._repr_mimebundle_())
    plain = nbformat.v4.new_output("display_data", data={"text/html": "<b>a table</b>", "text/plain": "table"})
    notebook = make_outputs.clean_notebook(notebook_with([shown, plain]))
    assert notebook.cells[0].outputs[0].data == {"text/plain": make_outputs.VIEW_PLACEHOLDER}
    assert notebook.cells[0].outputs[1].data == plain.data  # other HTML stays


def test_timings_are_dropped_from_cell_metadata():
    notebook = notebook_with([], metadata={"execution": {"iopub.execute_input": "2026"}, "tags": ["keep"]})
    cleaned = make_outputs.clean_notebook(notebook)
    assert cleaned.cells[0].metadata == {"tags": ["keep"], "slideshow": {"slide_type": "-"}}


def test_stderr_is_dropped_only_in_cells_marked_volatile():
    progress = nbformat.v4.new_output("stream", name="stderr", text="100%|###| 10/10 [00:02<00:00]")
    printed = nbformat.v4.new_output("stream", name="stdout", text="loss 0.1\n")
    marked = make_outputs.clean_notebook(
        notebook_with([progress, printed], "# NBVAL_IGNORE_OUTPUT\n# Why: timing\nrun()")
    )
    assert marked.cells[0].outputs == [printed]
    unmarked = make_outputs.clean_notebook(notebook_with([progress, printed], "run()"))
    assert len(unmarked.cells[0].outputs) == 2, "a warning in an ordinary cell must stay visible to nbval"


def test_png_figures_are_kept():
    png = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    cleaned = make_outputs.clean_notebook(notebook_with([png]))
    assert cleaned.cells[0].outputs[0].data["image/png"] == "iVBORw0KGgo="


def test_volatile_means_what_nbval_means():
    assert make_outputs.is_output_ignored("x = 1\n  #  NBVAL_IGNORE_OUTPUT  \n")
    assert not make_outputs.is_output_ignored("# NBVAL_IGNORE_OUTPUT: nbval does not see this one")
    assert not make_outputs.is_output_ignored("print('NBVAL_IGNORE_OUTPUT')")


def test_prints_split_by_the_kernel_timer_are_stored_as_one_output():
    first = nbformat.v4.new_output("stream", name="stdout", text="a\n")
    second = nbformat.v4.new_output("stream", name="stdout", text="b\n")
    warning = nbformat.v4.new_output("stream", name="stderr", text="w\n")
    third = nbformat.v4.new_output("stream", name="stdout", text="c\n")
    cleaned = make_outputs.clean_notebook(notebook_with([first, second, warning, third]))
    assert [(o.name, o.text) for o in cleaned.cells[0].outputs] == [
        ("stdout", "a\nb\n"),
        ("stderr", "w\n"),
        ("stdout", "c\n"),
    ]


def test_headings_start_slides_and_the_theme_needs_no_web_fonts():
    cells = [
        nbformat.v4.new_markdown_cell("# 03 · Softmax\n\n**Goal:** ..."),
        nbformat.v4.new_markdown_cell("## Set-up"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_markdown_cell("### Exercise 1"),
        nbformat.v4.new_markdown_cell("Some text with a # sign"),
    ]
    notebook = make_outputs.clean_notebook(nbformat.v4.new_notebook(cells=cells))
    assert [cell.metadata["slideshow"]["slide_type"] for cell in notebook.cells] == [
        "slide",
        "slide",
        "-",
        "subslide",
        "-",
    ]
    assert notebook.metadata["rise"]["theme"] == "white"  # the default "simple" theme loads Google Fonts


def test_the_runs_temporary_progress_file_is_stored_as_the_learners_own():
    env = make_outputs.execution_environment()
    temporary = env["ATTENTION_HANDS_ON_PROGRESS"]
    text = f"03_softmax: 0 of 5 exercises passed\n(Kept only on this computer, in {temporary}; delete it.)"
    summary = nbformat.v4.new_output("execute_result", data={"text/plain": text})
    printed = nbformat.v4.new_output("stream", name="stdout", text=f"saved to {temporary}\n")
    cleaned = make_outputs.clean_notebook(notebook_with([summary, printed], "progress_summary()"))
    outputs = cleaned.cells[0].outputs
    assert temporary not in str(outputs)
    assert "in ~/.attention_hands_on/progress.json; delete it." in outputs[0]["data"]["text/plain"]
    assert outputs[1]["text"] == "saved to ~/.attention_hands_on/progress.json\n"
