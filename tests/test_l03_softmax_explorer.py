"""The temperature explorer of 03_softmax, driven through its controls without a browser."""

import math

import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba

from helpers.lessons import EXPLORERS
from helpers.lessons.l03_softmax.explorer import (
    BAR_COLOR,
    FUNCTIONS,
    HEADLINES,
    TemperatureExplorer,
    temperature_explorer,
    temperature_state,
)
from helpers.lessons.l03_softmax.variants import naive_softmax, sparsemax
from helpers.library.attention import softmax
from helpers.machinery.explorer import control_values
from helpers.machinery.plotting import MASKED_COLOR
from helpers.machinery.toy_data import SENTENCES, toy_queries_and_keys


def canvas_pixels(explorer):
    return np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()


def _scores():
    q, k = toy_queries_and_keys(SENTENCES["cat"])
    return q @ k.T / q.shape[-1] ** 0.5


@pytest.fixture(scope="module")
def shared_explorer():
    return temperature_explorer()  # building one takes ~0.5 s (a full draw); the tests share it


@pytest.fixture
def explorer(shared_explorer):
    """The shared explorer, set back to its initial control values."""
    shared_explorer.controls["function"].value = "softmax"
    shared_explorer.controls["temperature"].value = 1.0
    shared_explorer.refresh()  # clears an error left by a test that set a bad value
    assert shared_explorer.error is None
    return shared_explorer


def test_registered_under_its_name():
    assert EXPLORERS["temperature"] is temperature_explorer


def test_initial_state_is_softmax_of_the_scores(explorer):
    torch.testing.assert_close(explorer.state["weights"], softmax(_scores()))
    assert explorer.state["row"] == 5 and explorer.state["function"] == "softmax"
    torch.testing.assert_close(explorer.state["row_weights"], softmax(_scores()[5]))
    assert explorer.state["uniform"] == pytest.approx(1 / 6)


def test_temperature_changes_the_map_the_bars_and_the_headline(explorer):
    before = canvas_pixels(explorer)
    explorer.controls["temperature"].value = 0.1
    torch.testing.assert_close(explorer.state["weights"], softmax(_scores(), temperature=0.1))
    assert explorer.bars[5].get_height() == pytest.approx(explorer.state["max_weight"])
    assert explorer.readout.get_text() == f"entropy {explorer.state['entropy']:.2f} nats"
    np.testing.assert_allclose(explorer.image.get_array(), explorer.state["weights"].numpy())
    assert not np.array_equal(canvas_pixels(explorer), before)


def test_low_temperature_approaches_argmax_and_high_temperature_uniform(explorer):
    explorer.controls["temperature"].value = 0.01
    assert explorer.state["max_weight"] > 0.999 and explorer.state["entropy"] < 1e-3
    assert int(explorer.state["row_weights"].argmax()) == int(_scores()[5].argmax())
    explorer.controls["temperature"].value = 100.0
    assert (explorer.state["row_weights"] - 1 / 6).abs().max() < 0.01
    assert explorer.state["entropy"] == pytest.approx(math.log(6), abs=1e-3)


def test_sparsemax_gives_exact_zeros(explorer):
    explorer.controls["function"].value = "sparsemax"
    torch.testing.assert_close(explorer.state["weights"], sparsemax(_scores()))
    assert (explorer.state["row_weights"] == 0).sum() >= 3
    assert explorer.headline.get_text().startswith("sparsemax(scores / T)")


def test_naive_function_overflows_at_low_temperature_and_shows_grey_bars(explorer):
    explorer.controls["function"].value = "naive"
    torch.testing.assert_close(explorer.state["weights"], naive_softmax(_scores()))
    explorer.controls["temperature"].value = 0.01
    assert explorer.error is None  # NaN is what this option shows, not an error
    assert explorer.state["nan_count"] > 0 and explorer.state["entropy"] is None
    assert explorer.headline.get_text() == HEADLINES["naive"]
    assert explorer.readout.get_text() == "3 NaN weights"
    row = explorer.state["row_weights"].tolist()
    for bar, weight in zip(explorer.bars, row, strict=True):
        if math.isnan(weight):  # a full grey bar, like the grey cell in the map
            assert bar.get_height() == 1.0 and bar.get_facecolor() == to_rgba(MASKED_COLOR)
        else:
            assert bar.get_height() == weight and bar.get_facecolor() == to_rgba(BAR_COLOR)
    assert sum(math.isnan(w) for w in row) == 3


def test_only_a_new_function_redraws_the_whole_figure(explorer):
    state = temperature_state(explorer.scores, 0.5, "softmax", 5)
    assert explorer.draw(state) is False  # same function: blit the animated artists only
    assert explorer.draw(temperature_state(explorer.scores, 0.5, "sparsemax", 5)) is True
    assert explorer.draw(temperature_state(explorer.scores, 0.7, "sparsemax", 5)) is False


def test_every_value_of_every_control_updates_without_error(explorer):
    for function in control_values(explorer.controls["function"]):
        explorer.controls["function"].value = function
        for temperature in control_values(explorer.controls["temperature"]):
            explorer.controls["temperature"].value = temperature
            assert explorer.error is None, f"{function}, T={temperature}: {explorer.error}"
            if function != "naive":
                assert torch.isfinite(explorer.state["weights"]).all()
                torch.testing.assert_close(explorer.state["weights"].sum(-1), torch.ones(6))


def test_function_options_list_every_function(explorer):
    assert explorer.controls["function"].options == tuple((label, name) for name, (label, _) in FUNCTIONS.items())


def test_explorer_works_on_another_sentence():
    tokens = SENTENCES["animal"]
    explorer = TemperatureExplorer(tokens=tokens, row=1)
    assert explorer.state["weights"].shape == (10, 10)
    assert len(explorer.bars) == 10 and explorer.state["row"] == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"temperature": 0.0}, ValueError, "temperature must be > 0"),
        ({"temperature": "hot"}, TypeError, "temperature must be a real number"),
        ({"function": "softmin"}, ValueError, "function must be one of"),
        ({"row": 6}, ValueError, "between 0 and 5"),
        ({"row": True}, ValueError, "row must be an int"),
        ({"temperature": 1e-45}, ValueError, "too small"),
    ],
)
def test_temperature_state_rejects_bad_values(kwargs, error, match):
    with pytest.raises(error, match=match):
        temperature_state(_scores(), **kwargs)


@pytest.mark.parametrize(
    ("scores", "error", "match"),
    [
        (torch.ones(3), ValueError, r"\(n_q, n_k\) map, got shape \(3,\)"),
        (torch.ones(2, 0), ValueError, "non-empty"),
        (torch.tensor([[1.0, float("nan")]]), ValueError, "must be finite"),
        (torch.ones(2, 2, dtype=torch.int64), TypeError, "floating dtype"),
    ],
)
def test_temperature_state_rejects_bad_scores(scores, error, match):
    with pytest.raises(error, match=match):
        temperature_state(scores)


def test_bad_values_show_a_message_and_keep_the_last_good_state(explorer, monkeypatch):
    good = explorer.state
    monkeypatch.setattr(explorer, "update", lambda **values: temperature_state(explorer.scores, 0.0))
    explorer.refresh()
    assert "Cannot show this" in explorer.message.value and "temperature must be > 0" in explorer.error
    assert explorer.state is good
