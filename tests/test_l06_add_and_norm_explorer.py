"""Lesson 06's explorer (variant and depth), driven without a browser."""

import matplotlib
import numpy as np
import pytest

import helpers.lessons.l06_add_and_norm.explorer as add_norm_widget
from helpers.lessons import EXPLORERS
from helpers.lessons.l06_add_and_norm.blocks import VARIANTS
from helpers.lessons.l06_add_and_norm.explorer import (
    DEPTHS,
    GRADIENT_FLOOR,
    AddNormExplorer,
    add_norm_explorer,
    add_norm_state,
    readout_html,
)
from helpers.lessons.l06_add_and_norm.initialisation import layer_profiles
from helpers.machinery.explorer import control_values

matplotlib.use("agg")

SMALL_DEPTHS = (2, 4, 8, 16)


def canvas_pixels(explorer):
    return np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()


@pytest.fixture(scope="module")
def explorer():
    return AddNormExplorer(depths=SMALL_DEPTHS)


@pytest.fixture(autouse=True)
def reset(explorer):
    explorer.controls["variant"].value, explorer.controls["depth"].value = "plain", 16


def test_it_is_registered_with_the_full_depth_range():
    assert EXPLORERS["add_norm"] is add_norm_explorer
    assert DEPTHS[0] == 2 and DEPTHS[-1] == 48 and list(DEPTHS) == sorted(DEPTHS)


def test_initial_state_is_plain_at_16_blocks(explorer):
    state = explorer.state
    assert (state["variant"], state["depth"]) == ("plain", 16)
    assert state["grad"].shape == (16,) and state["rms"].shape == (17,)
    assert set(state["all_grads"]) == set(VARIANTS)
    assert "plain: f(x), 16 blocks" in explorer.readout.value


def test_state_is_the_measured_profile_of_seed_0():
    profiles = layer_profiles(VARIANTS, depths=(4, 8), seeds=(0,), batch=8, information=False)
    state = add_norm_state(profiles, "post_ln", 4)
    np.testing.assert_array_equal(state["grad"], profiles["post_ln"]["grad"][4][0])
    np.testing.assert_array_equal(state["rms"], profiles["post_ln"]["rms"][0, :5])
    assert state["grad_ratio"] == pytest.approx(state["grad"][0] / state["grad"][-1])
    assert state["rms_last"] == pytest.approx(state["rms"][-1])
    # The first blocks of the 8-block stack are the 4-block stack's, but their gradients differ.
    np.testing.assert_array_equal(profiles["post_ln"]["rms"][0, :5], state["rms"])
    assert not np.allclose(profiles["post_ln"]["grad"][8][0, :4], state["grad"])


def test_update_only_looks_up(explorer, monkeypatch):
    def no_computing(*args, **kwargs):
        raise AssertionError("update must not measure anything")

    monkeypatch.setattr(add_norm_widget, "layer_profiles", no_computing)
    state = explorer.update(variant="pre_ln", depth=8)
    np.testing.assert_array_equal(state["grad"], explorer.profiles["pre_ln"]["grad"][8][0])


def test_plain_gradient_vanishes_and_the_residual_path_keeps_it(explorer):
    plain = explorer.update(variant="plain", depth=16)
    pre_ln = explorer.update(variant="pre_ln", depth=16)
    assert plain["grad_ratio"] < 1e-6  # block 1 gets a millionth of what block 16 gets, or less
    assert 0.1 < pre_ln["grad_ratio"] < 10
    post_ln = explorer.update(variant="post_ln", depth=16)
    np.testing.assert_allclose(post_ln["rms"][1:], 1.0, atol=1e-3)  # Post-LN: every x_l is a LayerNorm output


def test_controls_change_the_state_and_the_figure(explorer):
    before = canvas_pixels(explorer)
    explorer.controls["variant"].value = "residual"
    assert explorer.state["variant"] == "residual"
    after_variant = canvas_pixels(explorer)
    assert not np.array_equal(after_variant, before)
    explorer.controls["depth"].value = 4
    assert explorer.state["depth"] == 4
    line = explorer.grad_lines["residual"]
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
    assert line.get_linewidth() > explorer.grad_lines["plain"].get_linewidth()
    assert len(explorer.rms_lines["plain"].get_xdata()) == 5
    assert not np.array_equal(canvas_pixels(explorer), after_variant)
    assert "residual only: x + f(x), 4 blocks" in explorer.readout.value


def test_a_vanished_gradient_is_drawn_at_the_floor():
    explorer = AddNormExplorer(depths=(48,))
    explorer.controls["variant"].value = "plain"
    assert explorer.state["grad_first"] == 0.0  # underflowed to an exact 0 in float32
    assert explorer.grad_lines["plain"].get_ydata()[0] == GRADIENT_FLOOR
    assert "gradient of block 1 / block 48 = 0.0e+00" in readout_html(explorer.state)


def test_every_value_of_every_control_updates_without_error(explorer):
    for name, control in explorer.controls.items():
        for value in control_values(control):
            control.value = value
            assert explorer.error is None, f"{name}={value!r}: {explorer.error}"
            assert np.all(np.isfinite(explorer.state["rms"]))


@pytest.mark.parametrize(
    ("variant", "depth", "match"),
    [("sideways", 4, "variant must be one of"), ("plain", 5, r"depth must be one of \[2, 4, 8, 16\]"),
     ("plain", True, "depth must be one of")],
)  # fmt: skip
def test_bad_values_raise_and_the_explorer_shows_a_message(explorer, variant, depth, match):
    with pytest.raises(ValueError, match=match):
        add_norm_state(explorer.profiles, variant, depth)
    good = explorer.state
    explorer.update = lambda **values: add_norm_state(explorer.profiles, variant, depth)
    try:
        explorer.refresh()
        assert "Cannot show this" in explorer.message.value and explorer.state is good
    finally:
        del explorer.update  # back to the class's method
        explorer.refresh()


def test_widget_has_the_readout_above_the_figure(explorer):
    assert explorer.widget.children[2] is explorer.readout
    assert explorer.widget.children[3] is explorer.live.canvas
    for control in explorer.controls.values():
        assert control.description
