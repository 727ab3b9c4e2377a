"""The soft-lookup explorer of 01_queries_keys_values, driven through its controls without a browser."""

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from helpers.lessons import EXPLORERS
from helpers.lessons.l01_queries_keys_values.lookups import lookup_table, soft_lookup
from helpers.lessons.l01_queries_keys_values.soft_lookup_explorer import (
    plot_soft_lookup,
    soft_lookup_explorer,
    soft_lookup_state,
)
from helpers.machinery.explorer import control_values


def canvas_pixels(explorer):
    return np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()


@pytest.fixture
def explorer():
    return soft_lookup_explorer()


def test_registered():
    assert EXPLORERS["soft_lookup"] is soft_lookup_explorer


def test_state_is_the_soft_lookup_of_the_query():
    state = soft_lookup_state(angle=90.0, length=2.0, keys="long")
    torch.testing.assert_close(state["q"], torch.tensor([0.0, 2.0]), atol=1e-6, rtol=0)
    names, k, v = lookup_table("long")
    output, weights = soft_lookup(state["q"], k, v)
    torch.testing.assert_close(state["weights"], weights)
    torch.testing.assert_close(state["output"], output)
    torch.testing.assert_close(state["scores"], k @ state["q"])
    assert state["names"] == names and state["keys"] == "long"


def test_zero_length_query_averages_every_value():
    state = soft_lookup_state(angle=123.0, length=0.0)
    torch.testing.assert_close(state["weights"], torch.full((4,), 0.25))
    torch.testing.assert_close(state["output"], torch.tensor([2.0, 1.5]))


def test_long_key_b_wins_although_the_query_points_at_a():
    equal = soft_lookup_state(angle=0.0, length=1.0, keys="equal")
    long = soft_lookup_state(angle=0.0, length=1.0, keys="long")
    assert int(equal["weights"].argmax()) == 0
    assert int(long["weights"].argmax()) == 1
    assert long["scores"][1] == pytest.approx(2.5 * math.cos(math.radians(60)))


def test_a_longer_query_sharpens_the_lookup():
    tops = [float(soft_lookup_state(0.0, length)["weights"].max()) for length in (0.5, 1.0, 2.0, 4.0)]
    assert tops == sorted(tops) and tops[0] < 0.5 < 0.85 < tops[-1]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"length": -1.0}, ValueError, "length must be >= 0"),
        ({"angle": float("nan")}, ValueError, "angle must be finite"),
        ({"angle": "north"}, TypeError, "angle must be a real number"),
        ({"keys": "short"}, ValueError, "keys must be one of"),
    ],
)
def test_state_rejects_bad_values(kwargs, error, match):
    with pytest.raises(error, match=match):
        soft_lookup_state(**kwargs)


def test_every_value_of_every_control_updates_without_error(explorer):
    for name, control in explorer.controls.items():
        for value in control_values(control, count=9):
            control.value = value
            assert explorer.error is None, f"{name}={value!r}: {explorer.error}"
            assert torch.isfinite(explorer.state["output"]).all()
            torch.testing.assert_close(explorer.state["weights"].sum(), torch.tensor(1.0))


@pytest.mark.parametrize(("name", "value"), [("angle", 200.0), ("length", 3.5), ("keys", "long")])
def test_each_control_changes_the_state_and_the_figure(explorer, name, value):
    before_state, before_pixels = explorer.state, canvas_pixels(explorer)
    explorer.controls[name].value = value
    assert explorer.state is not before_state
    assert not np.array_equal(canvas_pixels(explorer), before_pixels), f"{name} did not change the figure"


def test_artists_follow_the_state(explorer):
    explorer.controls["keys"].value = "long"
    explorer.controls["angle"].value = 0.0
    explorer.controls["length"].value = 2.0
    state, artists = explorer.state, explorer.artists
    for bar, weight in zip(artists["bars"], state["weights"].tolist(), strict=True):
        assert bar.get_height() == pytest.approx(weight)
    assert artists["query"].get_xdata()[1] == pytest.approx(2.0)
    assert artists["key_lines"][1].get_xdata()[1] == pytest.approx(float(state["k"][1, 0]))
    np.testing.assert_allclose(artists["value_dots"].get_sizes(), 900.0 * state["weights"].numpy(), rtol=1e-6)
    assert artists["output"].get_xdata()[0] == pytest.approx(float(state["output"][0]))
    assert artists["output_text"].get_text() == f"★ ({float(state['output'][0]):.2f}, {float(state['output'][1]):.2f})"


def test_bad_value_shows_a_message_and_keeps_the_last_state(explorer):
    good = explorer.state
    explorer.update = lambda **values: soft_lookup_state(length=-1.0)
    explorer.refresh()
    assert "length must be >= 0" in explorer.error and "Cannot show this" in explorer.message.value
    assert explorer.state is good


def test_plot_soft_lookup_draws_on_three_axes():
    figure = Figure()
    axes = figure.subplots(1, 3)
    state = soft_lookup_state(angle=30.0, length=3.0)
    assert plot_soft_lookup(state, axes) is axes
    key_ax, bar_ax, value_ax = axes
    assert [p.get_height() for p in bar_ax.patches] == pytest.approx(state["weights"].tolist())
    assert key_ax.get_title() and bar_ax.get_xlabel() == "key" and value_ax.get_ylabel()
    with pytest.raises(ValueError, match="3 Axes, got 2"):
        plot_soft_lookup(state, axes[:2])
