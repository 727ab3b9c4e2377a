"""Lesson 09's widgets without a browser: the generation explorer and the training monitor."""

import matplotlib
import numpy as np
import pytest
import torch

from helpers.lessons.l09_transformer_end_to_end.checkpoint import CHECKPOINT_PATH, load_checkpoint
from helpers.lessons.l09_transformer_end_to_end.explorer import (
    DEFAULT_DIGITS,
    DROPPED_COLOR,
    EXPLORERS,
    HIGHLIGHT,
    SAMPLING_SEED,
    GenerationExplorer,
    TrainingMonitor,
    _verdict,
    generation_explorer,
    generation_state,
)
from helpers.lessons.l09_transformer_end_to_end.generation import generate
from helpers.lessons.l09_transformer_end_to_end.sorting_task import MAX_DIGITS, TOKENS
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
    shared.controls["top_k"].value = 1
    shared.controls["temperature"].value = 1.0
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
    state = explorer.state  # top-k = 1: the written token at 1, the others at softmax(logits / T), grey
    shown = np.where(state["kept"], state["probabilities"].numpy(), state["before_top_k"].numpy())
    np.testing.assert_allclose(heights, shown, rtol=1e-6)
    assert "Step 4 of 6" in explorer.step_line.value
    assert not np.array_equal(canvas_pixels(explorer), before)


def test_every_slider_value_updates_without_error(explorer):
    for name, control in explorer.controls.items():
        for value in control_values(control):
            control.value = value
            assert explorer.error is None and explorer.state[name] == pytest.approx(value)


def test_the_widget_starts_greedy(explorer, model):
    assert explorer.state["top_k"] == 1 and explorer.state["temperature"] == 1.0
    assert explorer.generation["output"] == generate(model, DEFAULT_DIGITS)["output"]
    assert explorer.state["kept"].sum() == 1 and "greedy decoding" in explorer.step_line.value


def test_temperature_at_top_k_1_rescales_the_dropped_bars_without_a_new_answer(explorer, model):
    before = canvas_pixels(explorer)
    output = explorer.generation["output"]
    explorer.controls["temperature"].value = 10**0.5
    state = explorer.state
    assert explorer.generation["output"] == output and state["temperature"] == pytest.approx(10**0.5)
    logits = generate(model, DEFAULT_DIGITS)["logits"][0]
    torch.testing.assert_close(state["before_top_k"], torch.softmax(logits.double() / 10**0.5, -1).float())
    heights = np.array([bar.get_height() for bar in explorer.bars])
    dropped = ~state["kept"]
    np.testing.assert_allclose(heights[dropped], state["before_top_k"].numpy()[dropped], rtol=1e-6)
    assert all(
        explorer.bars[i].get_facecolor() == matplotlib.colors.to_rgba(DROPPED_COLOR) for i in np.flatnonzero(dropped)
    )
    assert not np.array_equal(canvas_pixels(explorer), before)


def test_top_k_samples_from_the_seeded_generator_and_greys_the_rest(explorer, model):
    explorer.controls["temperature"].value = 10.0
    explorer.controls["top_k"].value = 3
    expected = generate(model, DEFAULT_DIGITS, torch.Generator().manual_seed(SAMPLING_SEED), temperature=10.0, top_k=3)
    assert explorer.generation["output"] == expected["output"] != generate(model, DEFAULT_DIGITS)["output"]
    state = explorer.state
    assert state["kept"].sum() == 3 and (state["probabilities"][~state["kept"]] == 0).all()
    written = TOKENS.index(state["written"])
    assert state["kept"][written] and explorer.bars[written].get_facecolor() == matplotlib.colors.to_rgba(HIGHLIGHT)
    assert "sampled at temperature 10 from the 3 most likely tokens" in explorer.step_line.value
    assert [text.get_text() for text in explorer.map_ax.get_xticklabels()] == state["tokens"]
    explorer.text.value = "9 7 2"  # typed digits keep the sampling settings
    again = generate(model, "972", torch.Generator().manual_seed(SAMPLING_SEED), temperature=10.0, top_k=3)
    assert explorer.generation["output"] == again["output"] and explorer.generation["top_k"] == 3


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
    assert list(explorer.controls) == ["step", "temperature", "top_k"]
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
