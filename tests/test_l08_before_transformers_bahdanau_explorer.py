"""The alignment explorer of 08_before_transformers_bahdanau, driven through its controls without a browser."""

import time

import numpy as np
import pytest
import torch

from helpers.lessons import EXPLORERS
from helpers.lessons.l08_before_transformers_bahdanau.explorer import (
    EXAMPLE_LENGTHS,
    AlignmentExplorer,
    alignment_explorer,
    alignment_over_seeds,
    alignment_state,
    decode_examples,
    quick_results,
)
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import to_tokens
from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import Seq2Seq
from helpers.machinery.explorer import control_values


def canvas_pixels(explorer):
    return np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()


@pytest.fixture(scope="module")
def shared_explorer():
    return alignment_explorer()  # trains two small models once (cached), then decodes the examples


@pytest.fixture
def explorer(shared_explorer):
    """The shared explorer, set back to its initial control values."""
    shared_explorer.controls["example"].value = 0
    shared_explorer.controls["scoring"].value = "additive"
    shared_explorer.controls["step"].value = 1
    shared_explorer.refresh()
    assert shared_explorer.error is None
    return shared_explorer


def test_registered_under_its_name():
    assert EXPLORERS["bahdanau_alignment"] is alignment_explorer


def test_examples_are_held_out_sequences_of_each_length(explorer):
    examples = explorer.record["examples"]
    assert [len(source) for source in examples] == list(EXAMPLE_LENGTHS)
    assert all(int(source.sum()) % 5 == 0 for source in examples)  # held out of training
    assert set(explorer.record["decoded"]) == {"additive", "dot"}


def test_state_is_a_lookup_of_the_decoded_weights(explorer):
    record = explorer.record
    for kind, model in quick_results().items():
        source = record["examples"][2]
        tokens, weights = model.greedy_decode(source[None])
        state = alignment_state(record, example=2, scoring=kind, step=3)
        torch.testing.assert_close(state["row"], weights[0, 2])
        assert state["output"] == to_tokens(tokens[0]) and state["source"] == to_tokens(source)
        assert state["expected"] == len(source) - 3
        assert state["row_on_expected"] == pytest.approx(float(weights[0, 2, len(source) - 3]))


def test_step_fills_the_map_row_by_row(explorer):
    explorer.controls["example"].value = 3  # 10 letters
    before = canvas_pixels(explorer)
    explorer.controls["step"].value = 4
    shown, n = explorer.state["shown"], explorer.state["n"]
    assert np.isfinite(shown[:4, :n]).all() and np.isnan(shown[4:]).all() and np.isnan(shown[:, n:]).all()
    assert explorer.state["output_so_far"].count(" ") == 3
    assert explorer.bars[2].get_height() == pytest.approx(float(explorer.state["row"][2]))
    assert explorer.star.get_xdata()[0] == n - 4
    assert explorer.headline.get_text().startswith("".join(explorer.state["source"]))
    assert f"({explorer.state['correct']}/4 right)" in explorer.headline.get_text()
    assert not np.array_equal(canvas_pixels(explorer), before)


def test_a_step_past_the_end_shows_the_last_row(explorer):
    explorer.controls["step"].value = explorer.controls["step"].max  # 12, on a 4-letter example
    assert explorer.state["step"] == 4 and explorer.state["expected"] == 0
    assert explorer.error is None


def test_scoring_control_switches_model(explorer):
    explorer.controls["step"].value = 2
    additive = explorer.state["row"].clone()
    explorer.controls["scoring"].value = "dot"
    assert explorer.state["row"].shape == additive.shape
    assert not torch.equal(explorer.state["row"], additive)


def test_every_value_of_every_control_updates_without_error(explorer):
    for name, control in explorer.controls.items():
        for value in control_values(control):
            control.value = value
            assert explorer.error is None, f"{name}={value!r}: {explorer.error}"
            torch.testing.assert_close(explorer.state["row"].sum(), torch.tensor(1.0))


def test_an_update_is_a_lookup(explorer):
    start = time.perf_counter()
    for step in range(1, 13):
        explorer.update(example=4, scoring="dot", step=step)
    assert (time.perf_counter() - start) / 12 < 0.01


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"example": 5}, "between 0 and 4"),
        ({"example": True}, "example must be an int"),
        ({"scoring": "none"}, "scoring must be one of"),
        ({"step": 0}, "step must be an int >= 1"),
        ({"step": 1.5}, "step must be an int"),
    ],
)
def test_alignment_state_rejects_bad_input(explorer, kwargs, match):
    with pytest.raises(ValueError, match=match):
        alignment_state(explorer.record, **{"example": 0, "scoring": "additive", "step": 1, **kwargs})


def test_decode_examples_needs_attention_models():
    with pytest.raises(ValueError, match="only attention models"):
        decode_examples({"none": Seq2Seq("none", d_hidden=8, d_a=8)})
    with pytest.raises(TypeError, match="non-empty dict"):
        decode_examples({})


def test_explorer_takes_the_lessons_models():
    torch.manual_seed(0)
    explorer = AlignmentExplorer({"dot": Seq2Seq("dot", d_hidden=8, d_a=8)})
    assert [option[1] for option in explorer.controls["scoring"].options] == ["dot"]
    assert explorer.state["weights"].shape == (4, 4)


def test_alignment_over_seeds_is_the_median_of_each_seeds_state():
    torch.manual_seed(0)
    models = {"additive": [Seq2Seq("additive", d_hidden=8, d_a=8) for _ in range(3)]}
    models["dot"] = [Seq2Seq("dot", d_hidden=8, d_a=8) for _ in range(3)]
    text = alignment_over_seeds(models, example=1, step=2).splitlines()
    assert len(text) == 2 and text[1].startswith("dot      source ")
    for line, kind in zip(text, ["additive", "dot"], strict=True):
        states = [alignment_state(decode_examples({kind: m}), example=1, scoring=kind, step=2) for m in models[kind]]
        median = float(np.median([state["row_on_expected"] for state in states]))
        right = sum(state["correct"] == 2 for state in states)
        assert f"weight on position {states[0]['expected']}, median of 3 seeds {median:.1f};" in line
        assert line.endswith(f"every letter so far right in {right} of 3 seeds")
    with pytest.raises(ValueError, match="same number of seeds"):
        alignment_over_seeds({"additive": models["additive"], "dot": models["dot"][:2]})
    with pytest.raises(TypeError, match="non-empty dict"):
        alignment_over_seeds({"dot": []})
