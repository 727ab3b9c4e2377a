"""The typed-sentence view: length limits with clear messages, state testable without a browser."""

import re

import pytest

from helpers.viz import MAX_VIEW_TOKENS, VIEW_MARKER
from helpers.widgets.typed_attention import (
    DEFAULT_SENTENCE,
    MAX_SENTENCE_CHARS,
    typed_attention_state,
    typed_attention_view,
)


@pytest.fixture(scope="module")
def view():
    return typed_attention_view()


def test_it_starts_with_the_default_sentence_drawn(view):
    assert view.error is None
    assert view.state["sentence"] == DEFAULT_SENTENCE.strip()
    n = len(view.state["tokens"])
    assert view.state["attention"].shape == (6, 12, n, n)
    assert view.view.kind == "head_view" and VIEW_MARKER in view.view.html
    assert f"{n} word pieces" in view.message.value


def test_typing_a_sentence_and_switching_views_redraw(view):
    view.controls["sentence"].value = "  A dog barked.  "
    assert view.state["sentence"] == "A dog barked."
    assert view.state["tokens"] == ["[CLS]", "a", "dog", "barked", ".", "[SEP]"]
    assert view.view.tokens == view.state["tokens"]
    view.controls["view"].value = "model view"
    assert view.view.kind == "model_view"
    view.controls["view"].value = "head view"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("   ", "the box is empty"),
        ("word " * 50, f"type at most {MAX_SENTENCE_CHARS}"),
        ("a " * (MAX_VIEW_TOKENS - 1), f"{MAX_VIEW_TOKENS + 1} word pieces.*at most {MAX_VIEW_TOKENS}"),
    ],
    ids=["empty", "too-many-characters", "too-many-word-pieces"],
)
def test_bad_input_shows_a_message_and_keeps_the_last_view(view, typed, expected):
    view.controls["sentence"].value = "The last good one."
    shown = view.view
    view.controls["sentence"].value = typed
    assert view.error is not None
    assert re.search(expected, view.error)
    assert "Cannot show this" in view.message.value and "The last good one." in view.message.value
    assert view.view is shown and view.state["sentence"] == "The last good one."
    view.controls["sentence"].value = "Fixed again."
    assert view.error is None and view.view is not shown


def test_the_longest_allowed_input_is_drawn():
    state = typed_attention_state("a " * (MAX_VIEW_TOKENS - 2))
    assert len(state["tokens"]) == MAX_VIEW_TOKENS


@pytest.mark.parametrize(("sentence", "view", "error"), [(None, "head view", TypeError), ("ok", "heads", ValueError)])
def test_state_function_refuses_bad_values(sentence, view, error):
    with pytest.raises(error):
        typed_attention_state(sentence, view)


def test_every_control_is_described_for_screen_readers(view):
    for control in view.controls.values():
        assert control.description.strip()
