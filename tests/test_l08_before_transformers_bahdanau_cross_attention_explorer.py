"""The cross-attention explorer of 08_before_transformers_bahdanau, driven through its controls without a browser."""

import statistics
import time

import numpy as np
import pytest
import torch

from helpers.lessons import EXPLORERS
from helpers.lessons.l08_before_transformers_bahdanau.cross_attention import CrossAttentionSeq2Seq
from helpers.lessons.l08_before_transformers_bahdanau.cross_attention_explorer import (
    MODEL_LABELS,
    CrossAttentionExplorer,
    cross_attention_explorer,
    decode_with_models,
    quick_cross_attention,
)
from helpers.lessons.l08_before_transformers_bahdanau.explorer import EXAMPLE_LENGTHS, alignment_state, decode_examples
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import to_tokens
from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import Seq2Seq
from helpers.machinery.explorer import control_values


@pytest.fixture(scope="module")
def shared_explorer():
    return cross_attention_explorer()  # trains two small models once (cached), then decodes the examples


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
    assert EXPLORERS["cross_attention_alignment"] is cross_attention_explorer


def test_default_models_and_examples(explorer):
    assert set(explorer.record["decoded"]) == {"additive", "cross"}
    assert [len(source) for source in explorer.record["examples"]] == list(EXAMPLE_LENGTHS)
    labels = [label for label, _ in explorer.controls["scoring"].options]
    assert labels == [MODEL_LABELS["additive"], MODEL_LABELS["cross"]]
    assert explorer.controls["scoring"].description == "model"


def test_the_examples_are_the_alignment_explorers(explorer):
    torch.manual_seed(0)
    theirs = decode_examples({"dot": Seq2Seq("dot", d_hidden=8, d_a=8)})["examples"]
    assert all(torch.equal(a, b) for a, b in zip(explorer.record["examples"], theirs, strict=True))


def test_state_is_a_lookup_of_the_cross_attention_weights(explorer):
    explorer.controls["scoring"].value = "cross"
    explorer.controls["example"].value = 3  # 10 letters
    explorer.controls["step"].value = 2
    source = explorer.record["examples"][3]
    tokens, weights = quick_cross_attention().greedy_decode(source[None])
    state = explorer.state
    torch.testing.assert_close(state["row"], weights[0, 1])
    assert state["output"] == to_tokens(tokens[0]) and state["expected"] == len(source) - 2
    assert explorer.bars[0].get_height() == pytest.approx(float(weights[0, 1, 0]))


def test_switching_the_model_changes_the_figure(explorer):
    explorer.controls["example"].value = 2
    explorer.controls["step"].value = 3
    additive = explorer.state["row"].clone()
    before = np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()
    explorer.controls["scoring"].value = "cross"
    assert not torch.equal(explorer.state["row"], additive)
    after = np.asarray(explorer.live.canvas.get_renderer().buffer_rgba())
    assert not np.array_equal(after, before)


def test_every_value_of_every_control_updates_without_error(explorer):
    for name, control in explorer.controls.items():
        for value in control_values(control):
            control.value = value
            assert explorer.error is None, f"{name}={value!r}: {explorer.error}"
            torch.testing.assert_close(explorer.state["row"].sum(), torch.tensor(1.0))


def test_an_update_is_a_lookup(explorer):
    # The state is looked up, never computed, so a control change costs the redraw only (tools/bench.py measures
    # the whole update against 50 ms; a timing of the redraw here would fail on a busy machine).
    times = []
    for step in [2, 5, 3, 8, 1, 6, 4, 7, 2, 9]:
        start = time.perf_counter()
        explorer.update(example=4, scoring="cross", step=step)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.01


def test_explorer_takes_the_lessons_models():
    torch.manual_seed(0)
    models = {"dot": Seq2Seq("dot", d_hidden=8, d_a=8), "cross": CrossAttentionSeq2Seq(d_model=8, d_ff=8)}
    explorer = CrossAttentionExplorer(models)
    assert [option[1] for option in explorer.controls["scoring"].options] == ["dot", "cross"]
    state = alignment_state(explorer.record, example=1, scoring="cross", step=6)
    assert state["weights"].shape == (6, 6) and state["expected"] == 0


def test_decode_with_models_rejects_bad_models():
    torch.manual_seed(0)
    with pytest.raises(TypeError, match="non-empty dict"):
        decode_with_models({})
    with pytest.raises(ValueError, match="the kinds are"):
        decode_with_models({"none": Seq2Seq("none", d_hidden=8, d_a=8)})
    with pytest.raises(TypeError, match="CrossAttentionSeq2Seq"):
        decode_with_models({"cross": Seq2Seq("dot", d_hidden=8, d_a=8)})
    with pytest.raises(TypeError, match="Seq2Seq with attention"):
        decode_with_models({"additive": CrossAttentionSeq2Seq(d_model=8, d_ff=8)})
