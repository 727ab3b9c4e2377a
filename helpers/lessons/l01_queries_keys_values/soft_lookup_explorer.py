"""01_queries_keys_values: steer one query over a table of four keys and watch the values mix."""

import math

import ipywidgets as widgets
import matplotlib
import numpy as np
import torch

from helpers.lessons.l01_queries_keys_values.lookups import lookup_table, soft_lookup
from helpers.library.checks import require_number
from helpers.machinery.explorer import Explorer
from helpers.machinery.plotting import ATTENTION_CMAP

__all__ = ["soft_lookup_state", "plot_soft_lookup", "SoftLookupExplorer", "soft_lookup_explorer", "EXPLORERS"]

QUERY_COLOR = "#e69f00"  # orange: stands out from viridis' blues and greens, also for colour-blind readers
KEY_COLOR = "#31688e"
OUTPUT_COLOR = "#cc3311"
ENTRY_COLORS = [matplotlib.colormaps[ATTENTION_CMAP](x) for x in (0.0, 0.33, 0.66, 0.95)]  # A, B, C, D
PLANE_LIMIT = 4.3  # the key plane shows -4.3..4.3: room for the longest query (4) and key (2.5)
MARKER_AREA = 900.0  # marker area (points²) of a weight of 1


def soft_lookup_state(angle=30.0, length=1.0, keys="equal"):
    """One soft lookup in the lesson's table (lookups.lookup_table) for a query given by angle and length.

    angle: degrees, the query's direction.   length: >= 0, the query's length (its sharpness).
    keys: "equal" or "long" (key B 2.5 times longer).
    Returns a dict: names (4), q (2,), k (4, 2), v (4, 2), scores (4,) = k·q, weights (4,) = softmax(scores),
    output (2,) = weights·v, and angle, length, keys.
    """
    angle = require_number("angle", angle)
    length = require_number("length", length, non_negative=True)
    names, k, v = lookup_table(keys)
    radians = math.radians(angle)
    q = length * torch.tensor([math.cos(radians), math.sin(radians)])  # (2,)
    output, weights = soft_lookup(q, k, v)
    return {
        "names": names,
        "q": q,
        "k": k,
        "v": v,
        "scores": k @ q,
        "weights": weights,
        "output": output,
        "angle": angle,
        "length": length,
        "keys": keys,
    }


def _output_text(output):
    return f"★ ({float(output[0]):.2f}, {float(output[1]):.2f})"


def _scores_text(scores):
    return "k·q: " + " ".join(f"{float(score):.1f}" for score in scores)


def _label_position(key):
    """Where a key's name goes: beyond the tip of its arrow and a little to its left, clear of a query along it."""
    kx, ky = float(key[0]), float(key[1])
    norm = math.hypot(kx, ky) or 1.0
    ux, uy = kx / norm, ky / norm  # the key's direction; (-uy, ux) is its left
    return kx + 0.4 * ux - 0.35 * uy, ky + 0.4 * uy + 0.35 * ux


def _draw_soft_lookup(state, axes):
    """Draw a soft lookup on three Axes; returns the artists that change, by name."""
    key_ax, bar_ax, value_ax = axes
    names, k, v = state["names"], state["k"].numpy(), state["v"].numpy()
    weights, q, output = state["weights"].numpy(), state["q"].numpy(), state["output"].numpy()
    artists = {}

    # Left: the keys as arrows from the origin, the query as a dashed orange arrow.
    key_ax.axhline(0, color="#bbbbbb", linewidth=0.8)
    key_ax.axvline(0, color="#bbbbbb", linewidth=0.8)
    artists["key_lines"] = [key_ax.plot([0, kx], [0, ky], color=KEY_COLOR, linewidth=2)[0] for kx, ky in k.tolist()]
    artists["key_tips"] = key_ax.scatter(k[:, 0], k[:, 1], s=60, c=ENTRY_COLORS, edgecolors="black", zorder=3)
    artists["key_labels"] = [
        key_ax.text(*_label_position(key), name, fontsize=11, fontweight="bold", ha="center", va="center")
        for name, key in zip(names, k, strict=True)
    ]
    (artists["query"],) = key_ax.plot(
        [0, q[0]], [0, q[1]], color=QUERY_COLOR, linewidth=2.5, linestyle="--", marker="o", markevery=[1], zorder=4
    )
    key_ax.set_xlim(-PLANE_LIMIT, PLANE_LIMIT)
    key_ax.set_ylim(-PLANE_LIMIT, PLANE_LIMIT)
    key_ax.set_xticks([-4, -2, 0, 2, 4])  # few tick labels: text is the slowest thing to draw
    key_ax.set_yticks([-4, -2, 0, 2, 4])
    key_ax.set_aspect("equal")
    key_ax.set_xlabel("dim 0")
    key_ax.set_ylabel("dim 1")
    key_ax.set_title("keys (solid), query (dashed)")

    # Middle: the weights, one bar per key.
    artists["bars"] = list(bar_ax.bar(range(len(names)), weights, color=ENTRY_COLORS, edgecolor="black"))
    bar_ax.set_xticks(range(len(names)), labels=names)
    bar_ax.set_ylim(0.0, 1.0)
    bar_ax.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0])
    bar_ax.set_xlabel("key")
    bar_ax.set_ylabel("weight")
    bar_ax.set_title("weights = softmax(k·q)")
    artists["scores_text"] = bar_ax.text(
        0.03, 0.96, _scores_text(state["scores"]), transform=bar_ax.transAxes, va="top", fontsize=9
    )

    # Right: the values, sized by their weight, and the output, their weighted average (a star).
    corners = np.vstack([v, v[:1]])
    value_ax.plot(corners[:, 0], corners[:, 1], color="#999999", linewidth=1, linestyle=":")
    artists["value_dots"] = value_ax.scatter(
        v[:, 0], v[:, 1], s=MARKER_AREA * weights, c=ENTRY_COLORS, edgecolors="black", zorder=3
    )
    for name, (vx, vy) in zip(names, v.tolist(), strict=True):
        value_ax.annotate(name, (vx, vy), xytext=(9, 9), textcoords="offset points", fontsize=11, fontweight="bold")
    # The output as an arrow from the origin, like the query: a vector, the weighted sum of the values.
    (artists["output_arrow"],) = value_ax.plot([0, output[0]], [0, output[1]], color=OUTPUT_COLOR, linewidth=2)
    (artists["output"],) = value_ax.plot(
        [output[0]], [output[1]], marker="*", markersize=18, color=OUTPUT_COLOR, markeredgecolor="black", zorder=4
    )
    value_ax.set_xlim(-1.0, 5.5)
    value_ax.set_ylim(-1.0, 4.5)
    value_ax.set_xticks([0, 2, 4])
    value_ax.set_yticks([0, 1.5, 3])
    value_ax.set_aspect("equal")
    value_ax.set_xlabel("dim 0")
    value_ax.set_ylabel("dim 1")
    value_ax.set_title("values; ★ = Σ weight·value")
    artists["output_text"] = value_ax.text(
        0.03, 0.96, _output_text(output), transform=value_ax.transAxes, va="top", color=OUTPUT_COLOR
    )
    return artists


def plot_soft_lookup(state, axes):
    """A soft lookup (a soft_lookup_state dict) on three Axes: keys and query, weights, values and output.

    axes: a sequence of 3 Axes. A key's and a value's marker area is proportional to its weight.
    Returns axes.
    """
    if len(axes) != 3:
        raise ValueError(f"plot_soft_lookup draws on 3 Axes, got {len(axes)}")
    _draw_soft_lookup(state, axes)
    return axes


class SoftLookupExplorer(Explorer):
    """Steer a query over four keys; watch the scores, the weights and the mixed value.

    Controls: query angle (degrees), query length, keys ("equal" or "long").
    The value markers' areas are proportional to the weights; the star is the output.
    State: soft_lookup_state's dict.
    """

    figsize = (9.0, 3.4)

    def make_controls(self):
        return {
            "angle": widgets.FloatSlider(
                value=30.0, min=0.0, max=360.0, step=5.0, description="query angle", readout_format=".0f"
            ),
            "length": widgets.FloatSlider(
                value=1.0, min=0.0, max=4.0, step=0.1, description="query length", readout_format=".1f"
            ),
            "keys": widgets.Dropdown(
                options=[("all length 1", "equal"), ("key B is long", "long")], value="equal", description="keys"
            ),
        }

    def update(self, angle, length, keys):
        return soft_lookup_state(angle, length, keys)

    def setup(self, live):
        # Fixed margins instead of constrained layout: its first full draw is several times slower.
        live.figure.set_layout_engine("none")
        margins = {"left": 0.06, "right": 0.99, "bottom": 0.15, "top": 0.91, "wspace": 0.35}
        axes = live.figure.subplots(1, 3, width_ratios=[1.1, 0.8, 1.1], gridspec_kw=margins)
        self.artists = _draw_soft_lookup(soft_lookup_state(), axes)
        a = self.artists
        # Only key B's arrow and label move (when the key set changes); the rest of the keys' panel is fixed.
        live.animate(
            a["key_lines"][1], a["key_tips"], a["key_labels"][1], a["query"], *a["bars"], a["value_dots"], a["output"]
        )
        live.animate(a["output_arrow"], a["output_text"], a["scores_text"])

    def draw(self, state):
        a = self.artists
        k, q, weights, output = state["k"], state["q"], state["weights"], state["output"]
        a["key_lines"][1].set_data([0, float(k[1, 0])], [0, float(k[1, 1])])
        a["key_labels"][1].set_position(_label_position(k[1]))
        a["key_tips"].set_offsets(k.numpy())
        a["query"].set_data([0, float(q[0])], [0, float(q[1])])
        for bar, height in zip(a["bars"], weights.tolist(), strict=True):
            bar.set_height(height)
        a["value_dots"].set_sizes(MARKER_AREA * weights.numpy())
        a["output"].set_data([float(output[0])], [float(output[1])])
        a["output_arrow"].set_data([0, float(output[0])], [0, float(output[1])])
        a["output_text"].set_text(_output_text(output))
        a["scores_text"].set_text(_scores_text(state["scores"]))
        return False


def soft_lookup_explorer():
    """A widget: turn and stretch a query, watch which keys it matches and where the output lands."""
    return SoftLookupExplorer()


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"soft_lookup": soft_lookup_explorer}
