"""03_softmax: one temperature slider over a row of scores and over the whole attention map."""

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.patches import Rectangle

from helpers.lessons.l03_softmax.variants import entropy, naive_softmax, sparsemax
from helpers.library.attention import softmax
from helpers.library.checks import require_float_tensor, require_number
from helpers.machinery.explorer import Explorer, log_slider
from helpers.machinery.plotting import MASKED_COLOR, plot_attention
from helpers.machinery.toy_data import SENTENCES, toy_queries_and_keys

__all__ = ["FUNCTIONS", "temperature_state", "TemperatureExplorer", "temperature_explorer", "EXPLORERS"]

BAR_COLOR = "#440154"

# What turns scores / T into weights: name -> (label, function of (scores (n_q, n_k)) -> weights (n_q, n_k)).
FUNCTIONS = {
    "softmax": ("softmax", lambda x: softmax(x, dim=-1)),
    "sparsemax": ("sparsemax", lambda x: sparsemax(x, dim=-1)),
    "naive": ("naive exp/sum, float32", lambda x: naive_softmax(x.float(), dim=-1)),
}

HEADLINES = {
    "softmax": "softmax(scores / T): smooth weights, each row sums to 1",
    "sparsemax": "sparsemax(scores / T): exact zeros, each row sums to 1",
    "naive": "exp(s / T) / sum(exp(s / T)) in float32: NaN (grey) once exp overflows",
}


def temperature_state(scores, temperature=1.0, function="softmax", row=0):
    """The weights of scores / temperature for a whole map, and one row of it.

    scores: (n_q, n_k) float, finite.   temperature: > 0.   function: a key of FUNCTIONS.
    row: the query whose weights are drawn as bars, 0 <= row < n_q.
    Returns a dict: scores, weights (n_q, n_k), row, row_weights (n_k,), temperature, function,
    label, nan_count (int; only the naive function produces NaN, when exp overflows),
    max_weight and entropy of the row (floats; None if the row holds NaN), and uniform = 1/n_k.
    """
    require_float_tensor("scores", scores)
    if scores.ndim != 2 or 0 in scores.shape:
        raise ValueError(f"scores must be a non-empty (n_q, n_k) map, got shape {tuple(scores.shape)}")
    if not torch.isfinite(scores).all():
        raise ValueError(f"scores (shape {tuple(scores.shape)}) must be finite")
    temperature = require_number("temperature", temperature, positive=True)
    if function not in FUNCTIONS:
        raise ValueError(f"function must be one of {sorted(FUNCTIONS)}, got {function!r}")
    n_q, n_k = scores.shape
    if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < n_q:
        raise ValueError(f"row must be an int between 0 and {n_q - 1}, got {row!r}")
    label, weigh = FUNCTIONS[function]
    scaled = scores / temperature  # (n_q, n_k)
    if torch.isinf(scaled).any():
        raise ValueError(f"temperature={temperature:.3g} is too small: scores / temperature overflow {scores.dtype}")
    weights = weigh(scaled)  # (n_q, n_k)
    row_weights = weights[row]
    healthy = bool(torch.isfinite(row_weights).all())
    return {
        "scores": scores,
        "weights": weights,
        "row": row,
        "row_weights": row_weights,
        "temperature": temperature,
        "function": function,
        "label": label,
        "nan_count": int(torch.isnan(weights).sum()),
        "max_weight": float(row_weights.max()) if healthy else None,
        "entropy": float(entropy(row_weights.double())) if healthy else None,
        "uniform": 1.0 / n_k,
    }


class TemperatureExplorer(Explorer):
    """A temperature slider (log scale) and a choice of function, over one row (bars) and the whole map.

    State: see temperature_state.
    """

    figsize = (9.0, 3.6)

    def __init__(self, tokens=None, row=None, d_k=8, seed=0):
        self.tokens = list(SENTENCES["cat"] if tokens is None else tokens)
        q, k = toy_queries_and_keys(self.tokens, d_k=d_k, seed=seed)  # (n, d_k) each
        self.scores = q @ k.T / d_k**0.5  # (n, n)
        self.row = len(self.tokens) - 1 if row is None else row  # default: the last token's row
        super().__init__()

    def make_controls(self):
        return {
            "temperature": log_slider("temperature", -2, 2, readout_format=".3g"),
            "function": widgets.Dropdown(
                options=[(label, name) for name, (label, _) in FUNCTIONS.items()],
                value="softmax",
                description="function",
            ),
        }

    def update(self, temperature, function):
        return temperature_state(self.scores, temperature, function, self.row)

    def setup(self, live):
        n = len(self.tokens)
        row_scores = self.scores[self.row].tolist()
        bar_ax, map_ax = live.figure.subplots(1, 2, width_ratios=[1, 1])
        self.bars = list(bar_ax.bar(range(n), np.zeros(n), color=BAR_COLOR).patches)
        labels = [f"{token}\n{score:+.2f}" for token, score in zip(self.tokens, row_scores, strict=True)]
        bar_ax.set_xticks(range(n), labels=labels)
        bar_ax.set_xlabel("key, and its score")
        bar_ax.set_ylabel("weight")
        bar_ax.set_ylim(0.0, 1.4)  # the band above 1.1 holds the legend, clear of the bars
        bar_ax.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
        uniform = bar_ax.axhline(
            1.0 / n, color="#e69f00", linestyle="--", linewidth=1.5, label=f"uniform 1/{n} (T → ∞)"
        )
        top = int(torch.tensor(row_scores).argmax())
        (star,) = bar_ax.plot([top], [1.07], marker="*", markersize=11, linestyle="none", color="#e69f00")
        star.set_label("argmax (T → 0)")
        bar_ax.legend(loc="upper left", fontsize=8, ncols=2)
        bar_ax.set_title(f"row of query {self.row}, '{self.tokens[self.row]}' (NaN: grey)", loc="left", fontsize=10)
        # Text is slow to draw (each glyph is rasterised on every frame): animate one short label only.
        self.readout = bar_ax.text(1.0, 1.02, " ", transform=bar_ax.transAxes, ha="right", va="bottom", fontsize=10)
        plot_attention(torch.zeros(n, n), map_ax, self.tokens, self.tokens, title="every row")
        self.image = map_ax.images[-1]
        map_ax.add_patch(Rectangle((-0.5, self.row - 0.5), n, 1, fill=False, edgecolor="#e69f00", linewidth=2.5))
        self.headline = live.figure.suptitle(" ", fontsize=11)  # changes with the function only: not animated
        self.shown_function = None
        live.animate(self.image, self.readout, *self.bars, uniform, star)  # the two marks drawn over the bars

    def draw(self, state):
        self.image.set_data(state["weights"].numpy())
        for bar, height in zip(self.bars, state["row_weights"].tolist(), strict=True):
            finite = bool(np.isfinite(height))
            bar.set_height(height if finite else 1.0)  # a NaN weight: a full grey bar, as in the map
            bar.set_facecolor(BAR_COLOR if finite else MASKED_COLOR)
        if state["entropy"] is None:
            nan_in_row = int(torch.isnan(state["row_weights"]).sum())
            self.readout.set_text(f"{nan_in_row} NaN weights")
        else:
            self.readout.set_text(f"entropy {state['entropy']:.2f} nats")
        if state["function"] == self.shown_function:
            return False
        self.shown_function = state["function"]
        self.headline.set_text(HEADLINES[state["function"]])
        return True  # a new headline: redraw the whole figure once


def temperature_explorer(tokens=None):
    """A widget: drag the temperature, choose softmax, sparsemax or the naive formula; watch a row and the map."""
    return TemperatureExplorer(tokens=tokens)


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"temperature": temperature_explorer}
