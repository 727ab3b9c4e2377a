"""The explorer machinery: every registered explorer builds and responds, controls are enumerable, figures stay PNG."""

import ipywidgets as widgets
import pytest

from helpers.lessons import EXPLORERS
from helpers.machinery.explorer import control_values


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_every_registered_explorer_builds_and_responds(name):
    explorer = EXPLORERS[name]()
    assert explorer.state and explorer.error is None
    assert explorer.live.canvas in explorer.widget.children
    if explorer.has_readout:  # a line of text between the message and the figure, filled by the first draw
        assert explorer.widget.children[2:] == (explorer.readout, explorer.live.canvas)
        assert explorer.readout.value.strip(), f"{name}: the readout is empty after the first draw"
    figure = explorer.live.figure
    if not (figure._suptitle and figure._suptitle.get_text().strip()):
        untitled = [ax for ax in figure.axes if ax.get_label() != "<colorbar>" and not ax.get_title().strip()]
        assert not untitled, f"{name}: an Axes without a title (a figure needs one for screen readers and slides)"
    for control in explorer.controls.values():
        assert control.description, f"{name}: every control needs a description (screen readers read it)"
        first = explorer.state
        values = [v for v in control_values(control) if v != control.value]
        control.value = values[0]
        assert explorer.state is not first, f"{name}: changing {control.description} did not recompute the state"


def test_control_values_cover_each_kind_of_control():
    assert control_values(widgets.FloatLogSlider(base=10, min=-1, max=1), count=3) == pytest.approx([0.1, 1, 10])
    assert control_values(widgets.IntSlider(min=0, max=4), count=5) == [0, 1, 2, 3, 4]
    assert control_values(widgets.FloatSlider(min=0, max=1), count=3) == pytest.approx([0, 0.5, 1])
    assert control_values(widgets.Dropdown(options=[("a", 1), ("b", 2)])) == [1, 2]
    assert control_values(widgets.Checkbox(value=False)) == [True, False]
    with pytest.raises(TypeError):
        control_values(widgets.Text())


def test_importing_the_widgets_keeps_static_figures_inline_pngs():
    """ipympl switches pyplot's backend on import; helpers.machinery.explorer switches it back in a kernel."""
    import nbformat
    from nbclient import NotebookClient

    source = (
        "from helpers.lessons.l00_start_here import attention_map_explorer\n"
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(notebook, kernel_name="python3", timeout=120).execute()
    outputs = notebook.cells[0].outputs
    assert any("image/png" in output.get("data", {}) for output in outputs), outputs
