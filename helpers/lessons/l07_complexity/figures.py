"""Lesson 07's figures, each drawn on a given Axes and returned.

    plot_loglog(ax, x, series, theory, fit_from, xlabel, ylabel, title)   measured series on log-log axes, each
                                     with its fitted power law
    plot_memory_claim(ax, ns, measured_bytes, normalise_at)   the notes' n² log n against the measured memory
    plot_bytes_per_n2(ax, ns, measured_bytes, normalise_at)   memory / n²: flat, or rising like log n?
    plot_notes_curve(ax)             the study notes' figure as they drew it
    plot_crossover(ax, layers, d_model)   attention's and the GRU's time against n, with both crossovers marked

STYLES gives each layer kind and attention variant a colour-blind-safe colour, a marker and a line style.
"""

import math

import numpy as np

from helpers.lessons.l07_complexity.cached_measurements import layer_series
from helpers.lessons.l07_complexity.layer_kinds import LABELS
from helpers.lessons.l07_complexity.theory import notes_memory_curve
from helpers.lessons.l07_complexity.verdicts import between_text
from helpers.machinery.power_laws import crossover_between, fit_power_law, require_positive_series

__all__ = ["plot_loglog", "plot_memory_claim", "plot_bytes_per_n2", "plot_notes_curve", "plot_crossover"]

STYLES = {  # colour-blind-safe (Okabe-Ito) colours, each with its own marker and line style
    "attention": {"color": "#0072b2", "marker": "o", "linestyle": "-"},
    "gru": {"color": "#d55e00", "marker": "s", "linestyle": "--"},
    "conv": {"color": "#009e73", "marker": "^", "linestyle": ":"},
    "naive": {"color": "#0072b2", "marker": "o", "linestyle": "-"},
    "blockwise": {"color": "#cc79a7", "marker": "D", "linestyle": "--"},
    "query_blocks": {"color": "#56b4e9", "marker": "P", "linestyle": "-."},
    "sdpa": {"color": "#e69f00", "marker": "v", "linestyle": ":"},
}


def plot_loglog(ax, x, series, theory=None, fit_from=None, xlabel="sequence length n", ylabel="", title=""):
    """Measured series on log-log axes (markers), each with its fitted power law (a line) in the legend.

    series: {name: values per x}; names from STYLES get their colour, marker and line style.
    theory: {name: theoretical slope} shown beside the fitted one; fit_from: fit only x >= fit_from.
    title: if empty, "<ylabel> against <xlabel>, log-log" (a figure always has a title). Returns ax.
    """
    x = require_positive_series("x", x)
    for name, values in series.items():
        style = STYLES.get(name, {"color": "#000000", "marker": "x", "linestyle": "-"})
        fit = fit_power_law(x, values, min_x=fit_from)
        label = f"{LABELS.get(name, name)}: slope {fit['slope']:.2f}"
        if theory and name in theory:
            label += f" (theory {theory[name]})"
        ax.plot(x, values, linestyle="none", marker=style["marker"], color=style["color"], markersize=6)
        fitted_x = x[x >= fit_from] if fit_from is not None else x
        fitted = fit["coefficient"] * fitted_x ** fit["slope"]
        ax.plot(fitted_x, fitted, label=label, color=style["color"], linestyle=style["linestyle"],
                marker=style["marker"], markevery=[0], markersize=6)  # fmt: skip
    _size_axis(ax, x)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{ylabel or 'measured value'} against {xlabel}, log-log")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def _size_axis(ax, sizes):
    """A log2 x axis labelled with the sizes themselves (64, 128, …) rather than 2⁶, 2⁷, …"""
    sizes = np.asarray(sizes, dtype=float)
    ax.set_xscale("log", base=2)
    shown = sizes if len(sizes) <= 7 else sizes[::2]
    ax.set_xticks(shown, labels=[f"{size:g}" for size in shown])
    ax.minorticks_off()


def plot_memory_claim(ax, ns, measured_bytes, normalise_at=1024):
    """The study notes' n²·log n curve and the measured memory, both scaled to 1 at n = normalise_at.

    Log-log axes, so a power law is a straight line; each legend entry gives the fitted slope. Returns ax.
    """
    ns = require_positive_series("ns", ns)
    measured = require_positive_series("measured_bytes", measured_bytes)
    if normalise_at not in ns:
        raise ValueError(f"normalise_at={normalise_at} must be one of the sizes {ns.astype(int).tolist()}")
    at = int(np.flatnonzero(ns == normalise_at)[0])
    notes = notes_memory_curve(ns)
    for values, name, style in (
        (notes / notes[at], "notes' n² log n", {"color": "#d55e00", "marker": "s", "linestyle": "--"}),
        (measured / measured[at], "measured", {"color": "#0072b2", "marker": "o", "linestyle": "-"}),
        ((ns / normalise_at) ** 2, "n² exactly", {"color": "#7f7f7f", "marker": "", "linestyle": ":"}),
    ):
        slope = fit_power_law(ns, values)["slope"]
        ax.plot(ns, values, label=f"{name}: slope {slope:.2f}", **style)
    _size_axis(ax, ns)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel(f"memory / memory at n={normalise_at}")
    ax.set_title(f"Scaled to 1 at n = {normalise_at}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="x-small", loc="upper left")
    return ax


def plot_bytes_per_n2(ax, ns, measured_bytes, normalise_at=1024):
    """Memory divided by n²: flat if memory ∝ n², rising like log n if it were n²·log n. Returns ax."""
    ns = require_positive_series("ns", ns)
    measured = require_positive_series("measured_bytes", measured_bytes)
    if normalise_at not in ns:
        raise ValueError(f"normalise_at={normalise_at} must be one of the sizes {ns.astype(int).tolist()}")
    at = int(np.flatnonzero(ns == normalise_at)[0])
    per_n2 = measured / ns**2
    notes = notes_memory_curve(ns) / ns**2 * per_n2[at] / math.log(normalise_at)  # same value at normalise_at
    ax.plot(ns, per_n2, color="#0072b2", marker="o", linestyle="-", label="measured bytes / n²")
    ax.plot(ns, notes, color="#d55e00", marker="s", linestyle="--", label="if it were n² log n (scaled)")
    _size_axis(ax, ns)
    ax.set_ylim(0, None)
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("bytes per n²")
    ax.set_title("Memory / n²: is there a log n factor?")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_notes_curve(ax):
    """The study notes' figure as they drew it: n² · log n for n = 1 … 100 on linear axes. Returns ax."""
    n = np.arange(1, 101)
    ax.plot(n, n**2 * np.log(n), color="#d55e00", linestyle="--", label="Memory Complexity O(n^2 log(n))")
    ax.set_xlabel("Sequence Length n")
    ax.set_ylabel("Memory Complexity")
    ax.set_title("The study notes' plot, redrawn")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_crossover(ax, layers, d_model):
    """Self-attention's and the GRU's measured time against n at one d_model, with the FLOP crossover n = d
    marked, and the measured crossover shaded between the two measured sizes it lies between. Returns ax."""
    ns = np.asarray(layers["n"], dtype=float)
    attention = layer_series(layers, "seconds", "attention", d_model)
    gru = layer_series(layers, "seconds", "gru", d_model)
    for kind, values in (("attention", attention), ("gru", gru)):
        style = STYLES[kind]
        ax.plot(ns, values, label=LABELS[kind], color=style["color"], marker=style["marker"],
                linestyle=style["linestyle"])  # fmt: skip
    ax.axvline(d_model, color="#7f7f7f", linestyle=":", linewidth=1.5, label=f"FLOPs equal: n = d = {d_model}")
    measured = crossover_between(ns, attention, gru)
    if measured is not None and measured[0] is not None:
        ax.axvspan(*measured, color="#7f7f7f", alpha=0.25, label=f"times equal {between_text(measured, ns)}")
    _size_axis(ax, ns)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("forward time (s), one thread")
    ax.set_title(f"d = {d_model}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax
