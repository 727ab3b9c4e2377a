"""00_start_here's attention-map explorer, driven through its controls without a browser."""

import ipywidgets as widgets
import numpy as np
import pytest
import torch

from helpers.lessons.l00_start_here.explorer import AttentionMapExplorer, attention_map_explorer, attention_map_state
from helpers.library.attention import causal_mask, softmax
from helpers.machinery.explorer import control_values
from helpers.machinery.toy_data import SENTENCES, toy_queries_and_keys


def canvas_pixels(explorer):
    """What the figure currently shows, as an RGBA array."""
    return np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()


@pytest.fixture
def explorer():
    return attention_map_explorer()


def test_initial_state_matches_a_direct_computation(explorer):
    q, k = toy_queries_and_keys(SENTENCES["cat"])
    expected = softmax(q @ k.T / q.shape[-1] ** 0.5, dim=-1)
    torch.testing.assert_close(explorer.state["weights"], expected)
    assert explorer.state["query"] == 0 and explorer.state["mask"] is None
    assert explorer.state["tokens"] == SENTENCES["cat"]


def test_temperature_control_changes_the_state_and_the_figure(explorer):
    before_weights, before_pixels = explorer.state["weights"].clone(), canvas_pixels(explorer)
    explorer.controls["temperature"].value = 0.2
    assert explorer.state["temperature"] == pytest.approx(0.2)
    q, k = explorer.q, explorer.k
    torch.testing.assert_close(explorer.state["weights"], softmax(q @ k.T / 8**0.5, temperature=0.2))
    assert not torch.allclose(explorer.state["weights"], before_weights)
    assert not np.array_equal(canvas_pixels(explorer), before_pixels)


def test_lower_temperature_sharpens_every_row(explorer):
    explorer.controls["temperature"].value = 2.0
    flat = explorer.state["weights"].max(dim=-1).values
    explorer.controls["temperature"].value = 0.2
    sharp = explorer.state["weights"].max(dim=-1).values
    assert (sharp > flat).all()


def test_causal_mask_hides_the_future(explorer):
    explorer.controls["mask"].value = "causal"
    weights, n = explorer.state["weights"], len(explorer.tokens)
    assert torch.equal(explorer.state["mask"], causal_mask(n))
    assert torch.all(weights.triu(diagonal=1) == 0)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(n))
    assert weights[0, 0] == pytest.approx(1.0)


def test_query_control_selects_the_row_and_redraws(explorer):
    before = canvas_pixels(explorer)
    explorer.controls["query"].value = 3
    torch.testing.assert_close(explorer.state["row"], explorer.state["weights"][3])
    assert explorer.bars[1].get_height() == pytest.approx(float(explorer.state["row"][1]))
    assert "query 3" in explorer.bar_ax.get_title()
    assert not np.array_equal(canvas_pixels(explorer), before)


def test_every_value_of_every_control_updates_without_error(explorer):
    for name, control in explorer.controls.items():
        for value in control_values(control):
            control.value = value
            assert explorer.error is None, f"{name}={value!r}: {explorer.error}"
            assert explorer.message.value == ""
            assert torch.isfinite(explorer.state["weights"]).all()


def test_bad_values_show_a_message_and_keep_the_last_good_state(explorer):
    good = explorer.state
    with pytest.raises(ValueError, match="temperature"):
        explorer.update(temperature=0.0, mask="none", query=0)
    explorer.update = lambda **values: attention_map_state(explorer.tokens, explorer.q, explorer.k, -1.0)
    explorer.refresh()
    assert "temperature must be > 0" in explorer.error
    assert "Cannot show this" in explorer.message.value
    assert explorer.state is good


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": 0}, "temperature must be > 0"),
        ({"temperature": float("inf")}, "temperature must be finite"),
        ({"temperature": "hot"}, "temperature must be a real number"),
        ({"mask": "future"}, "mask must be 'none' or 'causal'"),
        ({"query": 6}, "between 0 and 5"),
        ({"query": True}, "query must be an int"),
    ],
)
def test_attention_map_state_rejects_bad_input(kwargs, match):
    tokens = SENTENCES["cat"]
    q, k = toy_queries_and_keys(tokens)
    with pytest.raises((ValueError, TypeError), match=match):
        attention_map_state(tokens, q, k, **kwargs)


def test_explorer_works_on_another_sentence():
    tokens = SENTENCES["animal"]
    explorer = AttentionMapExplorer(tokens=tokens)
    assert explorer.state["weights"].shape == (len(tokens), len(tokens))
    assert len(explorer.controls["query"].options) == len(tokens)


def test_widget_holds_the_controls_and_the_figure(explorer):
    assert isinstance(explorer.widget, widgets.VBox)
    children = explorer.widget.children
    assert explorer.live.canvas in children
    assert set(explorer.controls.values()) <= set(children[0].children)
    for control in explorer.controls.values():
        assert control.description, "every control needs a description (screen readers read it)"
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "run this cell in JupyterLab" in bundle["text/plain"]
