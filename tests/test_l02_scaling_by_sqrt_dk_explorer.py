"""Lesson 02's explorer (d_k, scaling and row controls), driven without a browser."""

import math

import matplotlib
import numpy as np
import pytest
import torch

from helpers.lessons import EXPLORERS
from helpers.lessons.l02_scaling_by_sqrt_dk.explorer import (
    D_KS,
    readout_html,
    scaling_explorer,
    scaling_inputs,
    scaling_state,
)
from helpers.lessons.l02_scaling_by_sqrt_dk.variance import entropy
from helpers.library.attention import softmax
from helpers.machinery.explorer import control_values

matplotlib.use("agg")


def canvas_pixels(explorer):
    return np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()


@pytest.fixture(scope="module")
def explorer():
    return scaling_explorer(n_rows=12)


@pytest.fixture(autouse=True)
def reset(explorer):
    explorer.controls["d_k"].value, explorer.controls["scaled"].value, explorer.controls["row"].value = 64, True, 0


def test_it_is_registered():
    assert EXPLORERS["scaling"] is scaling_explorer


def test_scaling_inputs_are_seeded_and_shaped():
    q, k, v, target = scaling_inputs(n_rows=3, n=5, d_v=2, max_d_k=16, seed=1)
    assert (q.shape, k.shape, v.shape, target.shape) == ((3, 16), (3, 5, 16), (3, 5, 2), (3, 2))
    again = scaling_inputs(n_rows=3, n=5, d_v=2, max_d_k=16, seed=1)
    assert all(torch.equal(a, b) for a, b in zip((q, k, v, target), again, strict=True))
    with pytest.raises(ValueError, match="n must be >= 2"):
        scaling_inputs(n=1)


def test_scaling_state_matches_a_direct_computation():
    q, k, v, target = scaling_inputs(n_rows=1, n=6, max_d_k=32, seed=2)
    for scaled in (False, True):
        state = scaling_state(q[0], k[0], v[0], target[0], scaled)
        scale = 1 / math.sqrt(32) if scaled else 1.0
        torch.testing.assert_close(state["scores"], k[0] @ q[0] * scale)
        torch.testing.assert_close(state["weights"], torch.softmax(k[0] @ q[0] * scale, dim=-1))
        scores = (k[0] @ q[0] * scale).requires_grad_(True)
        (0.5 * ((torch.softmax(scores, -1) @ v[0] - target[0]) ** 2).sum()).backward()
        torch.testing.assert_close(state["grad"], scores.grad)
        assert state["grad_norm"] == pytest.approx(float(scores.grad.norm()), rel=1e-5)
        assert state["entropy"] == pytest.approx(float(entropy(state["weights"])))
        assert state["max_weight"] == pytest.approx(float(state["weights"].max()))
        assert state["expected_std"] == (1.0 if scaled else math.sqrt(32))


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((torch.ones(4), torch.ones(3, 5), torch.ones(3, 2), torch.ones(2), True), ValueError, r"q \(4,\), k \(3, 5\)"),
        ((torch.ones(4), torch.ones(3, 4), torch.ones(3, 2), torch.ones(2), "yes"), TypeError, "scaled must be"),
        ((torch.ones(4), torch.ones(3, 4), torch.ones(2, 2), torch.ones(2), True), ValueError, r"v \(2, 2\)"),
    ],
)
def test_scaling_state_rejects_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        scaling_state(*args)


def test_initial_state_is_row_0_at_64_scaled(explorer):
    state = explorer.state
    assert (state["d_k"], state["scaled"], state["row"]) == (64, True, 0)
    q, k = explorer.q_all[0, :64], explorer.k_all[0, :, :64]
    torch.testing.assert_close(state["weights"], softmax(k @ q / 8.0))


def test_d_k_slider_grows_the_same_row(explorer):
    explorer.controls["scaled"].value = False
    explorer.controls["d_k"].value = 4
    small = explorer.state["scores"]
    torch.testing.assert_close(small, explorer.k_all[0, :, :4] @ explorer.q_all[0, :4])
    explorer.controls["d_k"].value = 1024
    assert explorer.state["d_k"] == 1024
    assert explorer.state["scores"].std() > 5 * small.std()


def test_unscaled_large_d_k_saturates_and_kills_the_gradient(explorer):
    explorer.controls["d_k"].value = 1024
    scaled = explorer.state
    explorer.controls["scaled"].value = False
    unscaled = explorer.state
    assert unscaled["max_weight"] > 0.99 > scaled["max_weight"]
    assert unscaled["grad_norm"] < 1e-3 * scaled["grad_norm"]


def test_controls_change_the_figure_and_the_readout(explorer):
    before_pixels, before_text = canvas_pixels(explorer), explorer.readout.value
    explorer.controls["scaled"].value = False
    assert explorer.score_bars[0].get_height() == pytest.approx(float(explorer.state["scores"][0]))
    assert explorer.weight_bars[3].get_height() == pytest.approx(float(explorer.state["weights"][3]))
    assert explorer.std_up.get_ydata()[0] == pytest.approx(8.0)
    assert "unscaled" in explorer.readout.value and explorer.readout.value != before_text
    assert not np.array_equal(canvas_pixels(explorer), before_pixels)
    pixels = canvas_pixels(explorer)
    explorer.controls["row"].value = 5
    assert explorer.state["row"] == 5
    assert not np.array_equal(canvas_pixels(explorer), pixels)


def test_marker_sits_at_this_rows_gradient(explorer):
    explorer.controls["d_k"].value = 256
    x, y = explorer.marker.get_data()
    assert list(x) == [256] and y[0] == pytest.approx(max(explorer.state["grad_norm"], 1e-12))


def test_every_value_of_every_control_updates_without_error(explorer):
    for name, control in explorer.controls.items():
        for value in control_values(control):
            control.value = value
            assert explorer.error is None, f"{name}={value!r}: {explorer.error}"
            assert torch.isfinite(explorer.state["grad"]).all()
    assert set(control_values(explorer.controls["d_k"])) == set(D_KS)


def test_bad_values_show_a_message(explorer):
    with pytest.raises(ValueError, match="d_k must be one of"):
        explorer.update(d_k=100, scaled=True, row=0)
    with pytest.raises(ValueError, match="row must be an int between 0 and 11"):
        explorer.update(d_k=64, scaled=True, row=12)
    good = explorer.state
    explorer.update = lambda **values: explorer.row_inputs(-1, 64)
    try:
        explorer.refresh()
        assert "Cannot show this" in explorer.message.value and "row must be" in explorer.error
        assert explorer.state is good
    finally:
        del explorer.update  # back to the class's method


def test_median_curves_show_the_unscaled_gradient_collapsing(explorer):
    medians = explorer.median_gradient_norms()
    assert len(medians["unscaled"]) == len(medians["scaled"]) == len(D_KS)
    assert medians["unscaled"][-1] < 1e-3 < min(medians["scaled"])


def test_the_readout_is_shown(explorer):
    assert explorer.readout in explorer.widget.children
    assert "d_k = 64" in readout_html(explorer.state)
