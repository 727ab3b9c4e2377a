"""The typed-sentence view: length limits with clear messages, state testable without a browser."""

import re

import pytest

from helpers.lessons.l05_multi_head_attention.typed_attention import (
    DEFAULT_SENTENCE,
    MAX_SENTENCE_CHARS,
    typed_attention_state,
    typed_attention_view,
)
from helpers.machinery.bertviz_offline import MAX_VIEW_TOKENS, VIEW_MARKER


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


class RecordingHandle:
    def __init__(self, shown):
        self.shown = [shown]

    def update(self, obj):
        self.shown.append(obj)


def test_displaying_shows_the_view_under_an_id_that_a_redraw_updates(monkeypatch):
    import helpers.lessons.l05_multi_head_attention.typed_attention as typed_attention

    displayed = []

    def fake_display(obj, display_id=None):
        displayed.append(obj)
        return RecordingHandle(obj) if display_id else None

    monkeypatch.setattr(typed_attention, "display", fake_display)
    view = typed_attention_view()
    view._ipython_display_()
    assert displayed == [view.widget, view.view]
    first = view.view
    view.controls["sentence"].value = "A dog barked."
    view.controls["sentence"].value = "word " * 60  # refused: the display keeps the last view
    assert view.displays[0].shown == [first, view.view] and view.view.tokens[2] == "dog"


def test_a_bad_first_sentence_displays_a_note_instead_of_a_view(monkeypatch):
    import helpers.lessons.l05_multi_head_attention.typed_attention as typed_attention

    displayed = []
    monkeypatch.setattr(typed_attention, "display", lambda obj, display_id=None: displayed.append(obj))
    view = typed_attention_view(sentence="")
    view._ipython_display_()
    assert view.view is None and "appears here" in displayed[1].data


def test_a_notebook_holding_the_widget_runs_to_the_end_under_nbclient(tmp_path):
    """nbconvert --execute and make_outputs use nbclient; a large HTML inside an Output widget made it
    wait out its whole timeout (here 400 s) before going on. Displayed directly, the run takes seconds (20 s on
    an idle 2-core machine); the bound is far from both, so a loaded machine does not fail it."""
    import time

    import nbformat
    from nbclient import NotebookClient

    cells = [
        "from helpers.lessons.l05_multi_head_attention.typed_attention import typed_attention_view\n"
        "typed_attention_view()",
        "1 + 1",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    started = time.monotonic()
    NotebookClient(notebook, timeout=400, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
    assert time.monotonic() - started < 300
    assert notebook.cells[1].outputs[0]["data"]["text/plain"] == "2"
    assert any(VIEW_MARKER in output.get("data", {}).get("text/html", "") for output in notebook.cells[0].outputs)
