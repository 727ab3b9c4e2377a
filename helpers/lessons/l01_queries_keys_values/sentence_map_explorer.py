"""01_queries_keys_values: a real sentence's attention map, from one head of MiniLM's first layer.

Pick a sentence, a query token and a head: the heatmap is softmax(q·kᵀ/√d_k) for the whole sentence
(the chosen query's row outlined), the bars are that row. Token vectors and weights are MiniLM's
(helpers.machinery.minilm), read once per sentence.
"""

import ipywidgets as widgets
import torch
from matplotlib.patches import Rectangle

from helpers.library.attention import scaled_dot_product_attention
from helpers.machinery.explorer import PerSentenceExplorer
from helpers.machinery.minilm import N_HEADS, minilm_layer0_qkv, minilm_token_vectors
from helpers.machinery.plotting import plot_attention, plot_weight_bars

__all__ = ["SENTENCE_CHOICES", "sentence_map_state", "SentenceMapExplorer", "sentence_map_explorer", "EXPLORERS"]

# The widget's sentences. The first is the default; the last has at least as many word pieces as the
# first, so a query position valid in the first is valid after stepping through the list.
SENTENCE_CHOICES = (
    "The animal didn't cross the street because it was too tired",
    "She sat by the river bank",
    "The cat sat on the mat because it was warm",
    "The trophy didn't fit in the suitcase because it was too big",
)
DEFAULT_HEAD = 6  # in layer 0 this head sends "it" to the nouns of the sentence
HIGHLIGHT = "#e69f00"


def sentence_map_state(sentence, query, head=DEFAULT_HEAD):
    """One head of MiniLM's layer 0 on a sentence, and one query's row of its attention map.

    sentence: str.   query: position of the query token, 0 <= query < n.   head: 0 <= head < 12.
    Returns a dict: sentence, tokens (n word pieces), q, k, v (n, d_k), scores (n, n) = q·kᵀ/√d_k,
    weights (n, n) = softmax(scores) (each row sums to 1), query, head, row = weights[query] (n,).
    """
    tokens, x = minilm_token_vectors(sentence)  # x: (n, d_model)
    n = len(tokens)
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < n:
        raise ValueError(f"query must be a token position between 0 and {n - 1}, got {query!r}")
    q, k, v = minilm_layer0_qkv(x, head)  # (n, d_k) each
    _, weights = scaled_dot_product_attention(q, k, v)
    return {
        "sentence": sentence,
        "tokens": tokens,
        "q": q,
        "k": k,
        "v": v,
        "scores": q @ k.T / q.shape[-1] ** 0.5,
        "weights": weights,
        "query": query,
        "head": head,
        "row": weights[query],
    }


def _query_options(tokens):
    return [(f"{i}: {token}", i) for i, token in enumerate(tokens)]


class SentenceMapExplorer(PerSentenceExplorer):
    """Sentence, query-token and head pickers over a real attention map (MiniLM, layer 0).

    One heatmap and one bar chart per sentence, created when the sentence is first shown; a later sentence
    change only swaps which set is visible (each set's background is cached after its first full draw), and
    a query or head change repaints the animated image, outline, bars and titles. State: sentence_map_state's dict.
    """

    figsize = (9.0, 3.9)

    def __init__(self, sentences=SENTENCE_CHOICES):
        if not sentences or not all(isinstance(s, str) for s in sentences):
            raise TypeError(f"sentences must be a non-empty sequence of str, got {sentences!r}")
        self.sentences = list(sentences)
        self.tokens = {s: minilm_token_vectors(s)[0] for s in self.sentences}  # reads MiniLM once per sentence
        self._rebuilding = False
        self._backgrounds = {}
        self._maps = {}  # (sentence, head) -> sentence_map_state without the query
        super().__init__()

    def make_controls(self):
        first = self.tokens[self.sentences[0]]
        query = first.index("it") if "it" in first else 0
        return {
            "sentence": self._sentence_dropdown(),
            "query": widgets.Dropdown(options=_query_options(first), value=query, description="query token"),
            "head": widgets.Dropdown(
                options=[(f"head {h}", h) for h in range(N_HEADS)], value=DEFAULT_HEAD, description="layer 0"
            ),
        }

    def _on_change(self, change):
        if self._rebuilding:
            return
        if change["owner"] is self.controls["sentence"]:
            # New tokens: new query options. Keep the query position when it exists, else take the last token.
            tokens = self.tokens[change["new"]]
            query = self.controls["query"]
            keep = min(query.value, len(tokens) - 1)
            self._rebuilding = True
            try:
                query.options = _query_options(tokens)
                query.value = keep
            finally:
                self._rebuilding = False
        self.refresh()

    def update(self, sentence, query, head):
        # The map depends on the sentence and the head only: compute it once, then a query change only picks a row.
        if (sentence, head) not in self._maps:
            self._maps[(sentence, head)] = sentence_map_state(sentence, 0, head)
        state = dict(self._maps[(sentence, head)])
        if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < len(state["tokens"]):
            raise ValueError(f"query must be a token position between 0 and {len(state['tokens']) - 1}, got {query!r}")
        state.update(query=query, row=state["weights"][query])
        return state

    def setup(self, live):
        # Fixed margins: every sentence's axes sit at the same place, and only one set is visible.
        live.figure.set_layout_engine("none")
        self._start_parts(live)

    def _build_part(self, sentence):
        """Create one sentence's heatmap and bars (the first time it is shown)."""
        live, tokens = self.live, self.tokens[sentence]
        n = len(tokens)
        map_ax = live.figure.add_axes((0.1, 0.24, 0.36, 0.66))
        bar_ax = live.figure.add_axes((0.62, 0.24, 0.36, 0.66))
        plot_attention(torch.zeros(n, n), map_ax, tokens, tokens, title="")
        plot_weight_bars(torch.zeros(n), bar_ax, tokens, title="")
        for ax in (map_ax, bar_ax):
            ax.tick_params(labelsize=8)
        image = map_ax.images[-1]
        box = Rectangle((-0.5, -0.5), n, 1, fill=False, edgecolor=HIGHLIGHT, linewidth=2.5)
        map_ax.add_patch(box)
        bars = list(bar_ax.patches)
        animated = (image, box, map_ax.title, bar_ax.title, *bars)
        live.animate(*animated)
        self.parts[sentence] = {
            "axes": (map_ax, bar_ax, image.colorbar.ax),
            "animated": animated,
            "image": image,
            "box": box,
            "bars": bars,
            "map_ax": map_ax,
            "bar_ax": bar_ax,
        }

    def draw(self, state):
        full_redraw = self._swap_to(state["sentence"])
        part = self.parts[state["sentence"]]
        query, tokens = state["query"], state["tokens"]
        part["image"].set_data(state["weights"].numpy())
        part["box"].set_y(query - 0.5)
        for bar, height in zip(part["bars"], state["row"].tolist(), strict=True):
            bar.set_height(height)
        part["map_ax"].set_title(f"layer 0, head {state['head']}: weights")
        part["bar_ax"].set_title(f"weights of query {query}: '{tokens[query]}'")
        return full_redraw


def sentence_map_explorer():
    """A widget: pick a sentence, a query token and a head of MiniLM; watch who that token attends to."""
    return SentenceMapExplorer()


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"sentence_map": sentence_map_explorer}
