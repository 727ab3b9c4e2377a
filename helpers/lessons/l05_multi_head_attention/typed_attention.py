"""Type a sentence, see every head of a real model attend: MiniLM's attention in bertviz's views.

The learner types into a text box; on Enter (or on leaving the box) the sentence goes through
all-MiniLM-L6-v2 (helpers.machinery.minilm_model) and its 6 × 12 attention maps are drawn with
helpers.machinery.bertviz_offline's offline head view or model view. Typed input is limited — at most
MAX_SENTENCE_CHARS characters and MAX_VIEW_TOKENS word pieces — with a message saying so,
because a longer view is too dense to read and a long paste would stall the kernel.

This is not a matplotlib explorer: the view is HTML, so the state is the tokens and weights.
Displaying the widget shows the controls and, below them, the view as a display with an id;
drawing a new view updates that display in place. The view is deliberately not held in an
ipywidgets Output widget: a large HTML output inside one makes nbclient (nbconvert --execute,
the course's make_outputs) wait out its full timeout while the widget's state is echoed back.
"""

import html

import ipywidgets as widgets
from IPython.display import HTML, display

from helpers.machinery.bertviz_offline import MAX_VIEW_TOKENS, head_view, model_view

__all__ = [
    "MAX_SENTENCE_CHARS",
    "DEFAULT_SENTENCE",
    "VIEWS",
    "typed_attention_state",
    "TypedAttentionView",
    "typed_attention_view",
]

MAX_SENTENCE_CHARS = 200
DEFAULT_SENTENCE = "The animal didn't cross the street because it was too tired."
VIEWS = {"head view": head_view, "model view": model_view}


def typed_attention_state(sentence, view="head view"):
    """MiniLM's attention for a typed sentence, checked for length first.

    sentence: str of 1 to MAX_SENTENCE_CHARS characters, at most MAX_VIEW_TOKENS word pieces
    (with [CLS] and [SEP]).  view: "head view" or "model view".
    Returns {"sentence", "view", "tokens": n str, "attention": (6, 12, n, n)}.
    Raises TypeError / ValueError with a message a learner can act on.
    """
    if not isinstance(sentence, str):
        raise TypeError(f"the sentence must be text (str), got {type(sentence).__name__}")
    if view not in VIEWS:
        raise ValueError(f"view must be one of {list(VIEWS)}, got {view!r}")
    sentence = sentence.strip()
    if not sentence:
        raise ValueError("type a sentence first: the box is empty")
    if len(sentence) > MAX_SENTENCE_CHARS:
        raise ValueError(
            f"the sentence has {len(sentence)} characters; type at most {MAX_SENTENCE_CHARS}, "
            "so that the view stays readable"
        )
    from helpers.machinery.minilm_model import minilm_attention  # reads the weights file: only when first needed

    tokens, attention = minilm_attention(sentence)
    if len(tokens) > MAX_VIEW_TOKENS:
        raise ValueError(
            f"the sentence makes {len(tokens)} word pieces (with [CLS] and [SEP]); the view shows at most "
            f"{MAX_VIEW_TOKENS}: shorten it"
        )
    return {"sentence": sentence, "view": view, "tokens": tokens, "attention": attention}


class TypedAttentionView:
    """A text box and a view picker above MiniLM's attention for the typed sentence.

    controls: {"sentence": Text, "view": ToggleButtons}.  state: typed_attention_state's dict.
    error: the last message shown instead of a view (None when the view is current).
    """

    def __init__(self, sentence=DEFAULT_SENTENCE, view="head view"):
        self.controls = {
            "sentence": widgets.Text(
                value=sentence,
                description="Sentence (press Enter):",
                placeholder="Type a sentence and press Enter",
                continuous_update=False,  # one model run per Enter, not one per key
                layout=widgets.Layout(width="95%"),
            ),
            "view": widgets.ToggleButtons(
                options=list(VIEWS),
                value=view,
                description="View:",
                tooltips=["lines from each token, one colour per head", "every layer and head at once"],
            ),
        }
        for control in self.controls.values():
            control.style.description_width = "initial"
            control.observe(self._on_change, names="value")
        self.message = widgets.HTML(value="")
        self.state = {}
        self.error = None
        self.view = None  # the current AttentionView
        self.displays = []  # one DisplayHandle per place the widget was displayed
        self.widget = widgets.VBox([self.controls["sentence"], self.controls["view"], self.message])
        self.refresh()

    def values(self):
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self):
        """Recompute from the controls and draw; a bad sentence shows a message and keeps the last view."""
        try:
            state = typed_attention_state(**self.values())
        except (ValueError, TypeError) as error:
            self.error = str(error)
            shown = f" The view below is still for: “{html.escape(self.state['sentence'])}”." if self.state else ""
            self.message.value = (
                f"<span style='color:#b00020'>Cannot show this: {html.escape(self.error)}.</span>{shown}"
            )
            return
        self.error = None
        self.message.value = f"{len(state['tokens'])} word pieces, 6 layers × 12 heads."
        self.state = state
        self.draw(state)

    def draw(self, state):
        """Make the view for `state` and put it in every place the widget is displayed."""
        self.view = VIEWS[state["view"]](state["attention"], state["tokens"])
        for handle in self.displays:
            handle.update(self.view)

    def _on_change(self, change):
        self.refresh()

    def _ipython_display_(self):
        """The controls, then the view under a display id that draw() updates."""
        display(self.widget)
        shown = (
            self.view if self.view is not None else HTML("<i>The view appears here once the sentence can be shown.</i>")
        )
        self.displays.append(display(shown, display_id=True))


def typed_attention_view(sentence=DEFAULT_SENTENCE, view="head view"):
    """Build the widget: type a sentence, press Enter, see MiniLM's attention for it."""
    return TypedAttentionView(sentence=sentence, view=view)
