"""Lesson 07's explorer (n and d sliders over measured and predicted times), driven without a browser."""

import time

import matplotlib
import numpy as np
import pytest

from helpers.lessons import EXPLORERS
from helpers.lessons import l07_complexity as cx
from helpers.lessons.l07_complexity.explorer import complexity_explorer, complexity_state, readout_html
from helpers.machinery.explorer import control_values

matplotlib.use("agg")


def canvas_pixels(explorer):
    return np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()


@pytest.fixture(scope="module")
def measurements():
    return cx.load_measurements()


@pytest.fixture(scope="module")
def explorer(measurements):
    return complexity_explorer(measurements)


@pytest.fixture(autouse=True)
def reset(explorer):
    explorer.controls["n"].value, explorer.controls["d_model"].value = 1024, 64


def test_it_is_registered():
    assert EXPLORERS["complexity"] is complexity_explorer


def test_state_looks_up_the_cached_measurements(measurements, explorer):
    layers = measurements["layers"]
    state = explorer.state
    assert (state["n"], state["d_model"]) == (1024, 64)
    for kind in cx.LAYER_KINDS:
        measured = cx.layer_series(layers, "seconds", kind, 64)
        assert state["measured"][kind] == measured
        assert state["measured_at"][kind] == measured[layers["n"].index(1024)]
        assert state["flops_at"][kind] == cx.layer_flops(kind, 1024, 64)
        assert state["predicted_at"][kind] == pytest.approx(float(explorer.model.predict(kind, 1024, 64)))
    assert state["flop_crossover"] == 64
    assert state["cheapest"] == min(state["measured_at"], key=state["measured_at"].get)


def test_crossover_matches_the_helper(measurements):
    layers = measurements["layers"]
    model = cx.fit_cost_model(layers)
    state = complexity_state(layers, model, 64, 512)
    expected = cx.crossover_between(
        layers["n"],
        cx.layer_series(layers, "seconds", "attention", 512),
        cx.layer_series(layers, "seconds", "gru", 512),
    )
    assert state["crossover"] == expected == (2048, 4096) and state["flop_crossover"] == 512


def test_sliders_change_the_state_and_the_figure(explorer):
    before = canvas_pixels(explorer)
    explorer.controls["d_model"].value = 512
    assert explorer.state["d_model"] == 512
    assert explorer.curves["gru"].get_ydata()[0] == pytest.approx(explorer.state["predicted"]["gru"][0])
    assert not np.array_equal(canvas_pixels(explorer), before)
    pixels = canvas_pixels(explorer)
    explorer.controls["n"].value = 4096
    assert list(explorer.n_line.get_xdata()) == [4096, 4096]
    assert explorer.measured_bars[0].get_height() + explorer.low == pytest.approx(
        explorer.state["measured_at"]["attention"]
    )
    assert not np.array_equal(canvas_pixels(explorer), pixels)
    assert "n = 4096, d = 512" in explorer.readout.value


def test_every_value_of_every_control_updates_without_error(explorer):
    for name, control in explorer.controls.items():
        for value in control_values(control):
            control.value = value
            assert explorer.error is None, f"{name}={value!r}: {explorer.error}"
            assert all(p > 0 for kind in cx.LAYER_KINDS for p in explorer.state["predicted"][kind])


def test_an_update_is_a_quick_lookup(explorer):
    explorer.update(n=256, d_model=128)
    start = time.perf_counter()
    for _ in range(20):
        explorer.update(n=256, d_model=128)
    assert (time.perf_counter() - start) / 20 < 0.005


def test_bad_values_raise_and_show_a_message(explorer, measurements):
    layers, model = measurements["layers"], explorer.model
    with pytest.raises(ValueError, match="n must be one of the measured sizes"):
        complexity_state(layers, model, 100, 64)
    with pytest.raises(ValueError, match="d_model must be one of"):
        complexity_state(layers, model, 1024, True)
    good = explorer.state
    explorer.update = lambda **values: complexity_state(layers, model, 3, 64)
    try:
        explorer.refresh()
        assert "Cannot show this" in explorer.message.value and explorer.state is good
    finally:
        del explorer.update


def test_readout_names_each_layer_and_the_crossover(explorer):
    text = readout_html(explorer.state)
    assert "self-attention" in text and "GRU" in text and "Conv1d" in text and "n = d = 64" in text
    assert "between n = 2048 and 4096 (measured sizes)" in text and "≈" not in text
