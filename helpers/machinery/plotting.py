"""Figures of the course. Each function draws on the Axes it is given and returns it.

No function here calls plt.show() or reads global state, so the same code draws a
static figure in a lesson and the live figure of a widget.
"""

import math

import numpy as np
import torch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = ["ATTENTION_CMAP", "plot_attention", "plot_weight_bars", "power_of_ten_label", "log10_y_axis"]

# viridis: perceptually uniform and readable with the common colour-vision deficiencies.
ATTENTION_CMAP = "viridis"
MASKED_COLOR = "#d9d9d9"


def _as_numpy(name, values, ndim):
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    values = np.asarray(values, dtype=float)
    if values.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {values.shape}")
    return values


def _check_labels(name, labels, count):
    if labels is not None and len(labels) != count:
        raise ValueError(f"{name} has {len(labels)} labels for {count} rows or columns")


def plot_attention(weights, ax, query_tokens=None, key_tokens=None, mask=None, title="Attention weights"):
    """Heatmap of an attention map: one row per query, one column per key.

    weights: (n_q, n_k), values in [0, 1].   mask: optional bool (n_q, n_k), True = may attend;
    masked cells are drawn grey. Returns ax; the heatmap is ax.images[-1].
    """
    weights = _as_numpy("weights", weights, 2)
    n_q, n_k = weights.shape
    _check_labels("query_tokens", query_tokens, n_q)
    _check_labels("key_tokens", key_tokens, n_k)
    shown = weights if mask is None else np.ma.masked_array(weights, mask=~_as_numpy("mask", mask, 2).astype(bool))
    image = ax.imshow(shown, cmap=_cmap_with_grey_masked(), vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks(range(n_k), labels=key_tokens if key_tokens is not None else range(n_k), rotation=45, ha="right")
    ax.set_yticks(range(n_q), labels=query_tokens if query_tokens is not None else range(n_q))
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="weight")
    return ax


def _cmap_with_grey_masked():
    import matplotlib

    return matplotlib.colormaps[ATTENTION_CMAP].with_extremes(bad=MASKED_COLOR)


def plot_weight_bars(weights, ax, tokens=None, title="One query's weights"):
    """Bar chart of one query's weights over the keys. weights: (n_k,). Returns ax."""
    weights = _as_numpy("weights", weights, 1)
    _check_labels("tokens", tokens, len(weights))
    ax.bar(range(len(weights)), weights, color="#440154")
    ax.set_xticks(
        range(len(weights)), labels=tokens if tokens is not None else range(len(weights)), rotation=45, ha="right"
    )
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("weight")
    ax.set_title(title)
    return ax


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten_label(value, position=None):
    """'10⁻³' for 0.001: a log axis's tick label in plain text (matplotlib's default, mathtext, is slow to draw)."""
    exponent = round(math.log10(value))
    return "1" if exponent == 0 else "10" + str(exponent).translate(_SUPERSCRIPTS)


def log10_y_axis(ax, numticks=7):
    """A log y axis with ticks at powers of ten (at most about `numticks`), labelled in plain text."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=numticks))
    ax.yaxis.set_major_formatter(FuncFormatter(power_of_ten_label))
    ax.yaxis.set_minor_formatter(NullFormatter())
