"""Lesson 09's widgets without a browser: the generation explorer and the training monitor."""

import numpy as np
import pytest
import torch

from helpers.lessons.l09_transformer_end_to_end.checkpoint import CHECKPOINT_PATH, load_checkpoint
from helpers.lessons.l09_transformer_end_to_end.explorer import (
    DEFAULT_DIGITS,
    EXPLORERS,
    GenerationExplorer,
    TrainingMonitor,
    _verdict,
    generation_explorer,
    generation_state,
)
from helpers.lessons.l09_transformer_end_to_end.generation import generate
from helpers.lessons.l09_transformer_end_to_end.sorting_task import MAX_DIGITS
from helpers.lessons.l09_transformer_end_to_end.training import one_thread_context
from helpers.machinery.explorer import control_values


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with one_thread_context():
        yield


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(CHECKPOINT_PATH)[0]


@pytest.fixture(scope="module")
def shared(model):
    return generation_explorer(model)


@pytest.fixture
def explorer(shared):
    """One explorer for the module (building one draws a whole figure), reset to the default input."""
    shared.text.value = DEFAULT_DIGITS
    shared.controls["step"].value = 1
    assert shared.generation["digits"] == DEFAULT_DIGITS and shared.state["step"] == 1
    return shared


def canvas_pixels(explorer):
    return np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()


def test_registered_and_built_from_the_committed_checkpoint():
    assert EXPLORERS["generation"] is generation_explorer
    explorer = generation_explorer()
    assert isinstance(explorer, GenerationExplorer) and explorer.error is None
    assert explorer.generation["digits"] == DEFAULT_DIGITS and explorer.state["step"] == 1


def test_generation_state_looks_up_one_step(model):
    generation = generate(model, "3141")
    state = generation_state(generation, 3)
    assert state["query"] == 6 and state["read"] == "1" and state["written"] == "3"
    assert state["output_so_far"] == "113" and state["tokens"] == list("3141=113")
    n_layers, n_heads = model.config["n_layers"], model.config["n_heads"]
    torch.testing.assert_close(state["rows"], generation["weights"][2].reshape(n_layers * n_heads, 8))
    assert state["allowed"].tolist() == [True] * 7 + [False]
    assert len(state["row_labels"]) == n_layers * n_heads and state["row_labels"][0] == "layer 0 head 0"
    torch.testing.assert_close(state["probabilities"], generation["probabilities"][2])


@pytest.mark.parametrize(("step", "match"), [(0, "from 1 to 4"), (5, "from 1 to 4"), (True, "an int"), (1.0, "an int")])
def test_generation_state_refuses_steps_outside_the_output(model, step, match):
    with pytest.raises(ValueError, match=match):
        generation_state(generate(model, "3141"), step)
    with pytest.raises(TypeError, match="generate"):
        generation_state({"digits": "1"}, 1)


def test_the_step_slider_is_a_lookup_that_redraws(explorer):
    before = canvas_pixels(explorer)
    generation = explorer.generation
    explorer.controls["step"].value = 4
    assert explorer.generation is generation  # no new generation: the slider only looks up
    assert explorer.state["step"] == 4 and explorer.state["written"] == generation["output"][3]
    shown = explorer.image.get_array()
    rows = explorer.state["rows"].numpy()
    query = explorer.state["query"]
    np.testing.assert_allclose(shown[:, : query + 1], rows[:, : query + 1], rtol=1e-6)
    assert shown.mask[:, query + 1 :].all() and not shown.mask[:, : query + 1].any()  # future keys are grey
    assert explorer.query_box.get_x() == pytest.approx(query - 0.5)
    heights = [bar.get_height() for bar in explorer.bars]
    np.testing.assert_allclose(heights, explorer.state["probabilities"].numpy(), rtol=1e-6)
    assert "Step 4 of 6" in explorer.step_line.value
    assert not np.array_equal(canvas_pixels(explorer), before)


def test_every_slider_value_updates_without_error(explorer):
    for value in control_values(explorer.controls["step"]):
        explorer.controls["step"].value = value
        assert explorer.error is None and explorer.state["step"] == value


def test_typing_digits_generates_once_and_resizes_the_slider(explorer):
    explorer.controls["step"].value = 6
    explorer.text.value = "9 7 2"
    assert explorer.typed_error is None and explorer.generation["digits"] == "972"
    slider = explorer.controls["step"]
    assert slider.max == 3 and slider.value == 3 and explorer.state["step"] == 3
    assert explorer.state["tokens"] == list("972=27")
    assert [text.get_text() for text in explorer.map_ax.get_xticklabels()] == list("972=27")
    assert "wrote 279: sorted correctly" in explorer.typed_message.value
    assert "972" in explorer.title.get_text()
    explorer.text.value = "5" * MAX_DIGITS
    assert slider.max == MAX_DIGITS and explorer.state["digits"] == "555555"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("12a", "only the digits 0-9 are allowed; found &#x27;a&#x27;"),
        ("1234567", "7 digits is too many"),
        ("  ", "the box is empty"),
        ("<b>1</b>", "&#x27;&lt;&#x27;, &#x27;&gt;&#x27;"),  # escaped: typed HTML is shown as text
    ],
)
def test_bad_input_shows_a_message_and_keeps_the_last_result(explorer, typed, message):
    explorer.text.value = "4312"
    kept = explorer.generation
    explorer.text.value = typed
    assert explorer.typed_error is not None
    assert "Cannot sort this" in explorer.typed_message.value and message in explorer.typed_message.value
    assert "Still showing 4312" in explorer.typed_message.value
    assert explorer.generation is kept and explorer.state["digits"] == "4312"
    explorer.text.value = "21"
    assert explorer.typed_error is None and explorer.state["digits"] == "21"


def test_the_verdict_says_right_or_what_the_answer_was(model):
    right = generate(model, "21")
    assert _verdict(right) == "The model wrote 12: sorted correctly."
    wrong = dict(right, output="22", correct=False)
    assert _verdict(wrong) == "The model wrote 22: wrong, sorted it is 12."


def test_the_text_box_is_described_and_outside_the_stepped_controls(explorer):
    assert explorer.text.description.strip()
    assert list(explorer.controls) == ["step"]
    assert explorer.text in explorer.widget.children[0].children
    assert explorer.live.canvas in explorer.widget.children


def test_the_training_monitor_draws_the_losses_it_is_given():
    monitor = TrainingMonitor(steps=20, every=5)
    for step in range(20):
        monitor(step, 2.0 / (step + 1))
    assert monitor.progress.value == 20 and monitor.progress.max == 20
    assert len(monitor.losses) == 20 and "step 20 / 20" in monitor.label.value
    x, y = monitor.line.get_data()
    assert len(x) == 20 and y[-1] == pytest.approx(0.1)
    assert "run this cell in JupyterLab" in monitor._repr_mimebundle_()["text/plain"]
    with pytest.raises(ValueError, match="steps must be >= 1"):
        TrainingMonitor(steps=0)
