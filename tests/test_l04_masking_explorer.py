"""The masking explorer of 04_masking, driven through its controls without a browser."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.colors import to_rgba

from helpers.lessons import EXPLORERS
from helpers.lessons.l04_masking.explorer import N, map_colors, masking_explorer, masking_map_state
from helpers.lessons.l04_masking.padding import pad, sentence_mask
from helpers.lessons.l04_masking.toy_head import PAD, SENTENCES, attend, embed, project
from helpers.library.attention import causal_mask
from helpers.machinery.explorer import control_values
from helpers.machinery.plotting import MASKED_COLOR


def canvas_pixels(explorer):
    return np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()


@pytest.fixture(scope="module")
def shared_explorer():
    return masking_explorer()  # building one takes a full draw; the tests share it


@pytest.fixture
def explorer(shared_explorer):
    for name, value in (("sentence", "cat"), ("mask", "causal"), ("query", 2), ("step", N)):
        shared_explorer.controls[name].value = value
    return shared_explorer


def test_registered():
    assert EXPLORERS["masking"] is masking_explorer


def test_the_readout_line_sits_between_the_controls_and_the_figure(explorer):
    children = explorer.widget.children
    assert children[2] is explorer.readout and children[-1] is explorer.live.canvas
    assert explorer.readout.value == "step 10: 0 of 9 earlier outputs changed"


# --------------------------------------------------------------------------- the pure state


def test_full_step_is_the_whole_masked_map():
    state = masking_map_state("cat", "causal", query=4, step=N)
    tokens = pad(SENTENCES["cat"], N)
    mask = sentence_mask("causal", N, 6)
    _, weights = attend(tokens, mask=mask)
    torch.testing.assert_close(state["weights"], weights)
    assert torch.equal(state["allowed"], mask) and state["revealed"].all()
    torch.testing.assert_close(state["row"], weights[4])
    assert state["tokens"] == tokens and state["length"] == 6 and state["query_revealed"]


@pytest.mark.parametrize("mask", ["none", "padding", "causal"])
def test_a_step_is_the_prefix_alone_and_matches_torch(mask):
    state = masking_map_state("short", mask, query=1, step=5)
    tokens = pad(SENTENCES["short"], N)[:5]
    q, k, v = project(embed(tokens))
    allowed = state["allowed"][:5, :5]
    torch.testing.assert_close(state["output"], F.scaled_dot_product_attention(q, k, v, attn_mask=allowed))
    assert (state["weights"][5:] == 0).all() and (state["weights"][:, 5:] == 0).all()
    assert state["revealed"].sum() == 25
    torch.testing.assert_close(state["weights"][:5].sum(dim=-1), torch.ones(5))


def test_changed_outputs_per_mask():
    assert masking_map_state("cat", "causal", step=6)["changed"] == 0
    assert masking_map_state("cat", "none", step=6)["changed"] == 5
    assert masking_map_state("cat", "padding", step=6)["changed"] == 5  # a word arrives: earlier rows read it
    assert masking_map_state("cat", "padding", step=7)["changed"] == 0  # a pad arrives: nobody reads it
    none = masking_map_state("cat", "none", step=7)
    assert none["changed"] == 6 and none["max_change"] > 0.1
    assert masking_map_state("cat", "none", step=1)["changed"] == 0


def test_a_query_not_generated_yet_has_no_row():
    state = masking_map_state("cat", "none", query=8, step=5)
    assert not state["query_revealed"] and (state["row"] == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sentence": "zebra"}, "sentence must be one of"),
        ({"mask": "future"}, "mask must be one of"),
        ({"query": N}, f"query must be an int between 0 and {N - 1}"),
        ({"query": True}, "query must be an int"),
        ({"step": 0}, f"step must be an int between 1 and {N}"),
        ({"step": 2.5}, "step must be an int"),
    ],
)
def test_masking_map_state_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        masking_map_state(**kwargs)


def test_map_colors_grey_for_masked_white_for_not_yet():
    state = masking_map_state("cat", "causal", query=0, step=8)
    rgba = map_colors(state)
    assert rgba.shape == (N, N, 4) and rgba.dtype == np.uint8
    grey = np.round(np.array(to_rgba(MASKED_COLOR)) * 255)
    assert (rgba[0, 5] == grey).all()  # revealed, masked (the future)
    assert (rgba[7, 6] == grey).all()  # revealed, masked (a pad key)
    assert (rgba[9, 0] == 255).all() and (rgba[0, 9] == 255).all()  # not generated yet: white
    assert not (rgba[2, 2] == grey).all() and not (rgba[2, 2] == 255).all()  # a weight: a viridis colour


# --------------------------------------------------------------------------- the explorer


def test_initial_state(explorer):
    assert explorer.state["mask"] == "causal" and explorer.state["step"] == N and explorer.state["query"] == 2
    assert explorer.error is None
    rows, cols = np.asarray(explorer.crosses.get_ydata()), np.asarray(explorer.crosses.get_xdata())
    expected = torch.nonzero(~sentence_mask("causal", N, 6)).numpy()
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == sorted(map(tuple, expected.tolist()))


def test_every_control_changes_the_state_and_the_figure(explorer):
    for name, value in (("mask", "none"), ("query", 5), ("step", 4), ("sentence", "animal")):
        before_state, before_pixels = explorer.state, canvas_pixels(explorer)
        explorer.controls[name].value = value
        assert explorer.state is not before_state and explorer.error is None, name
        assert not np.array_equal(canvas_pixels(explorer), before_pixels), f"{name}: the figure did not change"


def test_mask_toggle_draws_crosses_only_where_masked(explorer):
    explorer.controls["mask"].value = "none"
    assert len(explorer.crosses.get_xdata()) == 0
    explorer.controls["mask"].value = "padding"
    assert len(explorer.crosses.get_xdata()) == N * (N - 6)
    assert "padding mask" in explorer.map_title.get_text()


def test_step_reveals_one_more_row_and_reports_changes(explorer):
    explorer.controls["mask"].value = "none"
    explorer.controls["step"].value = 7
    assert explorer.state["revealed"].sum() == 49
    assert "6 of 6 earlier outputs changed" in explorer.readout.value
    explorer.controls["mask"].value = "causal"
    assert "0 of 6 earlier outputs changed" in explorer.readout.value
    explorer.controls["step"].value = 1
    assert explorer.readout.value == "step 1: the first token"


def test_bars_show_the_query_row_and_mark_masked_keys(explorer):
    explorer.controls["query"].value = 3
    heights = [bar.get_height() for bar in explorer.bars]
    assert heights == pytest.approx(explorer.state["row"].tolist())
    assert list(explorer.bar_crosses.get_xdata()) == [4, 5, 6, 7, 8, 9]  # causal: the future and the pads
    explorer.controls["step"].value = 2
    assert "not generated yet" in explorer.bar_title.get_text() and list(explorer.bar_crosses.get_xdata()) == []


def test_sentence_change_relabels_the_query_options_and_keeps_the_position(explorer):
    explorer.controls["query"].value = 4
    explorer.controls["sentence"].value = "short"
    query = explorer.controls["query"]
    assert query.value == 4 and explorer.state["query"] == 4
    assert query.label == f"4: {PAD}"
    assert [label for label, _ in query.options][:3] == ["0: the", "1: cat", "2: sat"]
    assert [tick.get_text() for tick in explorer.map_ax.get_xticklabels()][3] == PAD


def test_every_value_of_every_control_updates_without_error(explorer):
    for name, control in explorer.controls.items():
        for value in control_values(control):
            control.value = value
            assert explorer.error is None, f"{name}={value!r}: {explorer.error}"
            assert torch.isfinite(explorer.state["weights"]).all()


def test_bad_values_show_a_message_and_keep_the_last_good_state(explorer):
    good = explorer.state
    explorer.update = lambda **values: masking_map_state(step=0)
    try:
        explorer.refresh()
        assert "step must be an int" in explorer.error and "Cannot show this" in explorer.message.value
        assert explorer.state is good
    finally:
        del explorer.update
        explorer.refresh()
    assert explorer.error is None


def test_causal_widget_map_equals_the_causal_mask_of_helpers(explorer):
    explorer.controls["sentence"].value = "animal"  # no pads: the plain causal mask
    assert torch.equal(explorer.state["allowed"], causal_mask(N))
