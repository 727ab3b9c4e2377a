"""The sentence attention-map explorer of 01_queries_keys_values, driven through its controls without a browser."""

import numpy as np
import pytest
import torch

from helpers.lessons import EXPLORERS
from helpers.lessons.l01_queries_keys_values.sentence_map_explorer import (
    SENTENCE_CHOICES,
    sentence_map_explorer,
    sentence_map_state,
)
from helpers.library.attention import scaled_dot_product_attention
from helpers.machinery.explorer import control_values
from helpers.machinery.minilm import N_HEADS, minilm_layer0_qkv, minilm_token_vectors


def canvas_pixels(explorer):
    return np.asarray(explorer.live.canvas.get_renderer().buffer_rgba()).copy()


@pytest.fixture(scope="module")
def explorer():
    return sentence_map_explorer()


def test_registered():
    assert EXPLORERS["sentence_map"] is sentence_map_explorer


def test_state_is_helpers_attention_on_minilm_head():
    sentence = SENTENCE_CHOICES[2]
    state = sentence_map_state(sentence, query=3, head=4)
    tokens, x = minilm_token_vectors(sentence)
    q, k, v = minilm_layer0_qkv(x, 4)
    _, weights = scaled_dot_product_attention(q, k, v)
    assert state["tokens"] == tokens and state["head"] == 4 and state["query"] == 3
    torch.testing.assert_close(state["weights"], weights)
    torch.testing.assert_close(state["row"], weights[3])
    torch.testing.assert_close(state["scores"], q @ k.T / q.shape[-1] ** 0.5)
    torch.testing.assert_close(state["weights"].sum(dim=-1), torch.ones(len(tokens)))


def test_default_sentences_fit_the_controls():
    lengths = [len(minilm_token_vectors(s)[0]) for s in SENTENCE_CHOICES]
    assert 3 <= len(SENTENCE_CHOICES) <= 4 and len(set(lengths)) == len(lengths)
    assert lengths[-1] >= lengths[0]  # a query position of the first sentence exists after the last


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"query": 99}, ValueError, "query must be a token position between 0 and 14, got 99"),
        ({"query": True}, ValueError, "query must be a token position"),
        ({"head": 12}, ValueError, "head must be between 0 and 11"),
        ({"sentence": ""}, ValueError, "sentence is empty"),
    ],
)
def test_state_rejects_bad_values(kwargs, error, match):
    values = {"sentence": SENTENCE_CHOICES[0], "query": 0, "head": 0} | kwargs
    with pytest.raises(error, match=match):
        sentence_map_state(**values)


def test_starts_on_it_in_the_lesson_sentence(explorer):
    assert explorer.state["tokens"][explorer.state["query"]] == "it"
    assert explorer.controls["head"].value == 6


def test_every_value_of_every_control_updates_without_error(explorer):
    for sentence in control_values(explorer.controls["sentence"]):
        explorer.controls["sentence"].value = sentence
        n = len(explorer.state["tokens"])
        assert [o[1] for o in explorer.controls["query"].options] == list(range(n))
        for name in ("query", "head"):
            for value in control_values(explorer.controls[name]):
                explorer.controls[name].value = value
                assert explorer.error is None, f"{sentence!r} {name}={value!r}: {explorer.error}"
                state = explorer.state
                assert state["sentence"] == sentence and state[name] == value
                expected = sentence_map_state(sentence, state["query"], state["head"])
                torch.testing.assert_close(state["row"], expected["row"])
    assert len(control_values(explorer.controls["head"])) == N_HEADS


def test_sentence_change_keeps_or_clamps_the_query(explorer):
    explorer.controls["sentence"].value = SENTENCE_CHOICES[0]
    explorer.controls["query"].value = 12
    explorer.controls["sentence"].value = SENTENCE_CHOICES[1]  # 8 word pieces: position 12 does not exist
    n = len(explorer.state["tokens"])
    assert explorer.state["query"] == explorer.controls["query"].value == n - 1
    explorer.controls["query"].value = 2
    explorer.controls["sentence"].value = SENTENCE_CHOICES[3]
    assert explorer.state["query"] == 2 and explorer.error is None


@pytest.mark.parametrize(
    ("name", "value"), [("query", 2), ("head", 2), ("sentence", SENTENCE_CHOICES[1]), ("sentence", SENTENCE_CHOICES[0])]
)
def test_each_control_changes_the_state_and_the_figure(explorer, name, value):
    explorer.controls["sentence"].value = SENTENCE_CHOICES[2] if name == "sentence" else SENTENCE_CHOICES[0]
    explorer.controls["query"].value = 5
    explorer.controls["head"].value = 6
    before_state, before_pixels = explorer.state, canvas_pixels(explorer)
    explorer.controls[name].value = value
    assert explorer.state is not before_state
    assert not np.array_equal(canvas_pixels(explorer), before_pixels), f"{name} did not change the figure"


def test_artists_follow_the_state_and_only_one_sentence_shows(explorer):
    explorer.controls["sentence"].value = SENTENCE_CHOICES[3]
    explorer.controls["query"].value = 11
    explorer.controls["head"].value = 3
    state = explorer.state
    part = explorer.parts[SENTENCE_CHOICES[3]]
    np.testing.assert_allclose(part["image"].get_array(), state["weights"].numpy())
    assert [bar.get_height() for bar in part["bars"]] == pytest.approx(state["row"].tolist())
    assert part["box"].get_y() == pytest.approx(10.5)
    assert part["bar_ax"].get_title() == "weights of query 11: 'it'"
    visible = [s for s, p in explorer.parts.items() if p["map_ax"].get_visible() and p["image"].get_visible()]
    assert visible == [SENTENCE_CHOICES[3]]


def test_returning_to_a_sentence_draws_the_same_pixels(explorer):
    explorer.controls["sentence"].value = SENTENCE_CHOICES[0]
    explorer.controls["head"].value = 1
    explorer.controls["query"].value = 4
    first = canvas_pixels(explorer)
    explorer.controls["sentence"].value = SENTENCE_CHOICES[1]
    explorer.controls["sentence"].value = SENTENCE_CHOICES[0]  # from the cached background
    explorer.controls["query"].value = 4
    assert np.array_equal(canvas_pixels(explorer), first)


def test_bad_value_shows_a_message(explorer):
    good = explorer.state
    explorer.update = lambda **values: sentence_map_state(SENTENCE_CHOICES[0], 99)
    explorer.refresh()
    del explorer.update
    assert "query must be a token position" in explorer.error and "Cannot show this" in explorer.message.value
    assert explorer.state is good


def test_rejects_no_sentences():
    with pytest.raises(TypeError, match="non-empty sequence of str"):
        type(sentence_map_explorer())(sentences=[])
