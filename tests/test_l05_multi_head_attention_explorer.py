"""The head-comparison explorer of 05_multi_head_attention, driven through its controls without a browser."""

import numpy as np
import pytest
import torch

from helpers.lessons import EXPLORERS
from helpers.lessons.l05_multi_head_attention.explorer import (
    HEAD_SENTENCES,
    HeadsExplorer,
    heads_explorer,
    heads_state,
    plot_head_grid,
)
from helpers.lessons.l05_multi_head_attention.head_costs import head_distances
from helpers.machinery.explorer import control_values
from helpers.machinery.minilm_model import minilm_attention


def canvas_pixels(explorer):
    return np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()


@pytest.fixture(scope="module")
def explorer():
    return heads_explorer()


def test_registered():
    assert EXPLORERS["heads"] is heads_explorer


def test_state_is_minilm_attention_of_the_chosen_heads():
    sentence = HEAD_SENTENCES[2]
    state = heads_state(sentence, layer=4, head=2, other=9)
    tokens, attention = minilm_attention(sentence)
    assert state["tokens"] == tokens and (state["layer"], state["head"], state["other"]) == (4, 2, 9)
    torch.testing.assert_close(state["weights"], attention[4, 2])
    torch.testing.assert_close(state["other_weights"], attention[4, 9])
    torch.testing.assert_close(state["distances"], head_distances(attention[4]))
    assert state["distance"] == pytest.approx(float(head_distances(attention[4])[2, 9]))
    assert state["distances"].shape == (12, 12) and 0 <= state["distance"] <= 1


def test_a_head_compared_with_itself_is_at_distance_zero():
    assert heads_state(HEAD_SENTENCES[0], layer=0, head=5, other=5)["distance"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"layer": 6}, ValueError, "layer must be between 0 and 5, got 6"),
        ({"head": 12}, ValueError, "head must be between 0 and 11, got 12"),
        ({"other": -1}, ValueError, "other must be >= 0"),
        ({"head": "1"}, TypeError, "head must be an int"),
        ({"sentence": ""}, ValueError, "sentence is empty"),
    ],
)
def test_state_rejects_bad_values(kwargs, error, match):
    values = {"sentence": HEAD_SENTENCES[0], "layer": 0, "head": 0, "other": 1} | kwargs
    with pytest.raises(error, match=match):
        heads_state(**values)


def test_every_value_of_every_control_updates_state_and_figure(explorer):
    for name, control in explorer.controls.items():
        for value in control_values(control):
            before = canvas_pixels(explorer)
            changed = control.value != value
            control.value = value
            assert explorer.error is None, f"{name}={value!r}: {explorer.error}"
            state = explorer.state
            assert state[name] == value
            expected = heads_state(state["sentence"], state["layer"], state["head"], state["other"])
            torch.testing.assert_close(state["weights"], expected["weights"])
            torch.testing.assert_close(state["other_weights"], expected["other_weights"])
            assert state["tokens"] == expected["tokens"]
            if changed:  # a new sentence, layer or head always changes a map, a title or the outline
                assert not np.array_equal(canvas_pixels(explorer), before), f"{name}={value!r} did not redraw"


def test_figure_shows_the_state(explorer):
    explorer.controls["sentence"].value = HEAD_SENTENCES[1]
    explorer.controls["layer"].value = 2
    explorer.controls["head"].value = 3
    explorer.controls["other"].value = 8
    part = explorer.parts[HEAD_SENTENCES[1]]
    np.testing.assert_allclose(part["images"][0].get_array(), explorer.state["weights"].numpy())
    np.testing.assert_allclose(part["images"][1].get_array(), explorer.state["other_weights"].numpy())
    np.testing.assert_allclose(explorer.matrix.get_array(), explorer.state["distances"].numpy())
    assert explorer.pair_box.get_xy() == (7.5, 2.5)
    assert explorer.caption.get_text() == (
        f"layer 2: head 3 (left) and head 8 (middle), distance {explorer.state['distance']:.2f}"
    )
    assert all(a.get_visible() for a in part["axes"])
    other_part = explorer.parts[HEAD_SENTENCES[0]]
    assert not any(a.get_visible() for a in other_part["axes"])  # only the chosen sentence's maps show


def test_bad_sentence_shows_a_message_not_a_traceback(explorer):
    good = explorer.state
    with pytest.raises(ValueError, match="one of the explorer's sentences"):
        explorer.update(sentence="another one", layer=0, head=0, other=1)
    explorer.update = lambda **values: heads_state(HEAD_SENTENCES[0], layer=9)
    explorer.refresh()
    assert "layer must be between 0 and 5" in explorer.error and "Cannot show this" in explorer.message.value
    assert explorer.state is good
    del explorer.update  # back to the class's method


def test_rejects_a_bad_sentence_list():
    with pytest.raises(TypeError, match="sentences must be a non-empty sequence of str"):
        HeadsExplorer(sentences=[])


def test_plot_head_grid_draws_one_cell_per_head():
    from matplotlib.figure import Figure

    values = torch.rand(6, 12, generator=torch.Generator().manual_seed(0))
    ax = Figure().subplots()
    assert plot_head_grid(values, ax, "it → animal") is ax
    np.testing.assert_allclose(ax.images[-1].get_array(), values.numpy())
    assert ax.get_title() == "it → animal" and ax.get_xlabel() == "head" and ax.get_ylabel() == "layer"
    with pytest.raises(ValueError, match=r"values must have shape \(n_layers, n_heads\)"):
        plot_head_grid(torch.ones(3), ax, "bad")
