"""00_start_here: an attention map with temperature, mask and query pickers."""

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.patches import Rectangle

from helpers.library.attention import causal_mask, scaled_dot_product_attention
from helpers.library.checks import require_number
from helpers.machinery.explorer import Explorer, log_slider
from helpers.machinery.plotting import plot_attention, plot_weight_bars
from helpers.machinery.toy_data import SENTENCES, toy_queries_and_keys

__all__ = ["attention_map_state", "AttentionMapExplorer", "attention_map_explorer", "EXPLORERS"]


def attention_map_state(tokens, q, k, temperature=1.0, mask="none", query=0):
    """The attention map of q against k at a temperature, with a mask, and one query's row.

    tokens: n labels   q: (n, d_k)   k: (n, d_k)   mask: "none" or "causal"   query: 0 <= query < n.
    Returns a dict: tokens, scores (n, n) = q·kᵀ/√d_k, mask (n, n) bool or None,
    weights (n, n) = softmax(scores / temperature) over allowed keys, query, row = weights[query].
    """
    temperature = require_number("temperature", temperature, positive=True)
    n, d_k = q.shape
    if mask not in ("none", "causal"):
        raise ValueError(f"mask must be 'none' or 'causal', got {mask!r}")
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < n:
        raise ValueError(f"query must be an int between 0 and {n - 1}, got {query!r}")
    allowed = causal_mask(n) if mask == "causal" else None
    scale = 1.0 / (d_k**0.5 * temperature)  # dividing the scores by the temperature
    _, weights = scaled_dot_product_attention(q, k, k, mask=allowed, scale=scale)
    scores = (q @ k.T) / d_k**0.5
    return {
        "tokens": list(tokens),
        "scores": scores,
        "mask": allowed,
        "weights": weights,
        "query": query,
        "row": weights[query],
        "temperature": temperature,
    }


class AttentionMapExplorer(Explorer):
    """Temperature, mask and query pickers over one sentence's attention map.

    State: tokens (n), scores (n, n), mask (n, n) bool or None, weights (n, n),
    query (int), row = weights[query] (n,), temperature (float).
    """

    figsize = (8.0, 3.6)

    def __init__(self, tokens=None, d_k=8, seed=0):
        self.tokens = list(SENTENCES["cat"] if tokens is None else tokens)
        self.q, self.k = toy_queries_and_keys(self.tokens, d_k=d_k, seed=seed)  # (n, d_k) each
        super().__init__()

    def make_controls(self):
        return {
            "temperature": log_slider("temperature", -1, 1),
            "mask": widgets.Dropdown(
                options=[("no mask", "none"), ("causal", "causal")], value="none", description="mask"
            ),
            "query": widgets.Dropdown(
                options=[(f"{i}: {t}", i) for i, t in enumerate(self.tokens)], value=0, description="query"
            ),
        }

    def update(self, temperature, mask, query):
        return attention_map_state(self.tokens, self.q, self.k, temperature, mask, query)

    def setup(self, live):
        n = len(self.tokens)
        live.figure.get_layout_engine().set(wspace=0.12)  # room between the colorbar and the bars' label
        map_ax, bar_ax = live.figure.subplots(1, 2, width_ratios=[1.1, 1])
        plot_attention(torch.zeros(n, n), map_ax, self.tokens, self.tokens, title="Attention weights")
        plot_weight_bars(torch.zeros(n), bar_ax, self.tokens, title="weights of the chosen query")
        self.image = map_ax.images[-1]
        self.bars = list(bar_ax.patches)
        self.bar_ax = bar_ax
        self.row_box = Rectangle((-0.5, -0.5), n, 1, fill=False, edgecolor="#e69f00", linewidth=2.5)
        map_ax.add_patch(self.row_box)
        live.animate(self.image, self.row_box, bar_ax.title, *self.bars)

    def draw(self, state):
        weights = state["weights"].numpy()
        shown = weights if state["mask"] is None else np.ma.masked_array(weights, mask=~state["mask"].numpy())
        self.image.set_data(shown)
        self.row_box.set_y(state["query"] - 0.5)
        for bar, height in zip(self.bars, state["row"].tolist(), strict=True):
            bar.set_height(height)
        self.bar_ax.set_title(f"weights of query {state['query']}: '{self.tokens[state['query']]}'")
        return False


def attention_map_explorer(tokens=None):
    """A widget: drag the temperature, pick a mask and a query, watch the attention map change."""
    return AttentionMapExplorer(tokens=tokens)


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"attention_map": attention_map_explorer}
