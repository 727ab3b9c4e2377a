"""Lesson 06's figures: each draws on the Axes it is given and returns it; one colour, marker and line per variant.

Shapes: S seeds, L+1 layers, T steps.

    STYLES                                    {variant: matplotlib style} (Okabe-Ito colours)
    smooth(values, window)                    running mean over the last axis, (..., T) -> (..., T)
    plot_layer_profile(profiles, ax, key)     layer_profiles' median over seeds against the layer, min–max shaded
    plot_training_curves(grid, ax, settings)  training_grid's loss against step, diverged seeds marked ✕
    plot_generalisation(results, ax, metric)  overfit_runs' training and held-out bars per variant
"""

import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator

from helpers.lessons.l06_add_and_norm.blocks import VARIANT_LABELS, require_variants
from helpers.lessons.l06_add_and_norm.training import _require_setting, setting_label
from helpers.library.checks import require_int
from helpers.machinery.plotting import log10_y_axis

__all__ = ["STYLES", "smooth", "plot_layer_profile", "plot_training_curves", "plot_generalisation"]

GRADIENT_FLOOR = 1e-30  # plotted instead of a gradient that is 0 (underflow) or smaller

# Okabe-Ito colours (readable with colour-vision deficiencies), each with its own marker and line style.
STYLES = {
    "plain": {"color": "#000000", "marker": "x", "linestyle": ":"},
    "residual": {"color": "#E69F00", "marker": "s", "linestyle": "--"},
    "layernorm": {"color": "#56B4E9", "marker": "^", "linestyle": "-."},
    "post_ln": {"color": "#009E73", "marker": "o", "linestyle": "-"},
    "pre_ln": {"color": "#D55E00", "marker": "D", "linestyle": "-"},
}


def smooth(values, window=10):
    """Running mean over the last `window` entries of the last axis (shorter at the start). (..., T) -> (..., T)."""
    values = np.asarray(values, dtype=float)
    window = require_int("window", window, minimum=1)
    if values.ndim == 0 or values.shape[-1] == 0:
        raise ValueError(f"values must have at least one entry on the last axis, got shape {values.shape}")
    length = values.shape[-1]
    sums = np.cumsum(values, axis=-1)
    padded = np.concatenate([np.zeros(values.shape[:-1] + (window,)), sums], axis=-1)
    counts = np.minimum(np.arange(1, length + 1), window)
    return (sums - padded[..., :length]) / counts  # (sum up to t) − (sum up to t − window)


PROFILE_KEYS = {
    "grad": ("‖∂loss/∂weights of block l‖ (log scale)", True, 1),
    "input_grad": ("‖∂loss/∂x_l‖ (log scale)", True, 0),
    "rms": ("RMS of x_l (log scale)", True, 0),
    "r2": ("R² recovering x_0 from x_l", False, 0),
    "similarity": ("mean cosine between tokens", False, 0),
}


def plot_layer_profile(profiles, ax, key="grad", depth=None, variants=None, title=None):
    """One line per variant: the median over seeds of profiles[variant][key] against the layer, min–max shaded.

    profiles: layer_profiles(...)'s dict. key: "grad", "input_grad", "rms", "r2" or "similarity".
    depth: which depth's gradients (default: the largest). A gradient of 0 (it underflowed) or below
    1e-30 is drawn at 1e-30. Returns ax.
    """
    if key not in PROFILE_KEYS:
        raise ValueError(f"key must be one of {tuple(PROFILE_KEYS)}, got {key!r}")
    variants = require_variants(list(profiles) if variants is None else variants)
    ylabel, log, first_layer = PROFILE_KEYS[key]
    for variant in variants:
        profile = profiles[variant]
        if key in ("grad", "input_grad"):
            chosen = max(profile["depths"]) if depth is None else depth
            if chosen not in profile[key]:
                raise ValueError(f"depth {chosen} was not measured; measured depths: {profile['depths']}")
            values = profile[key][chosen]
        else:
            values = profile[key] if depth is None else profile[key][:, : depth + 1]
        values = np.maximum(values, GRADIENT_FLOOR) if log else values
        layers = np.arange(first_layer, first_layer + values.shape[1])
        style = STYLES[variant]
        ax.plot(
            layers, np.median(values, axis=0), label=VARIANT_LABELS[variant], markersize=4,
            markevery=max(1, len(layers) // 12), **style,
        )  # fmt: skip
        if values.shape[0] > 1:
            ax.fill_between(layers, values.min(axis=0), values.max(axis=0), color=style["color"], alpha=0.15)
    if log:
        log10_y_axis(ax)  # ticks at powers of ten, labelled 10⁻³ in plain text (mathtext is slow to draw)
        ax.yaxis.set_minor_locator(NullLocator())  # and no minor ticks: dozens of decades would make hundreds
    ax.set_xlabel("layer l (block l's output; 0 = input)" if first_layer == 0 else "block l")
    ax.set_ylabel(ylabel)
    ax.set_title(title or ylabel.replace(" (log scale)", ""), fontsize=10)
    return ax


def plot_training_curves(grid, ax, settings=None, window=10, ymax=1.0, title="Training loss"):
    """Training loss against step: for each setting the median over seeds (running mean over `window` steps),
    min–max over seeds shaded. A seed that diverged is marked ✕ at the top, at the step it diverged.

    grid: training_grid(...)'s dict. Settings with a warm-up are drawn with hollow markers. Returns ax.
    """
    settings = list(grid) if settings is None else [_require_setting(s) for s in settings]
    for setting in settings:
        result = grid[setting]
        variant, warmup = setting[0], setting[3]
        losses = np.where(np.isfinite(result["loss"]), result["loss"], np.inf)
        curves = np.minimum(smooth(np.minimum(losses, 1e6), window), 10 * ymax)  # (S, steps)
        steps = np.arange(1, curves.shape[1] + 1)
        style = dict(STYLES[variant])
        if warmup:
            style.update(linestyle=(0, (1, 1)), markerfacecolor="white")
        ax.plot(
            steps, np.median(curves, axis=0), label=setting_label(setting), markersize=5,
            markevery=max(1, len(steps) // 6), **style,
        )  # fmt: skip
        ax.fill_between(steps, curves.min(axis=0), curves.max(axis=0), color=style["color"], alpha=0.12)
        diverged = result["diverged_at"][result["diverged_at"] >= 0]
        if len(diverged):
            ax.plot(diverged + 1, np.full(len(diverged), ymax * 0.97), linestyle="none", marker="X",
                    markersize=9, color=style["color"], markeredgecolor="black")  # fmt: skip
    ax.set_ylim(0.0, ymax)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"loss (running mean of {window} steps)")
    ax.set_title(title, fontsize=10)
    return ax


def plot_generalisation(results, ax, metric="loss", title=None):
    """Grouped bars per variant: training and held-out loss (metric="loss") or accuracy ("accuracy").

    results: overfit_runs(...)'s dict; bars show the median over seeds, dots each seed. Returns ax.
    """
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
    variants = list(results)
    width = 0.38
    for offset, split, hatch in ((-width / 2, "train", ""), (width / 2, "val", "//")):
        key = f"{split}_{metric}"
        values = [results[v][key] for v in variants]
        positions = np.arange(len(variants)) + offset
        ax.bar(
            positions, [np.median(v) for v in values], width, hatch=hatch, edgecolor="black",
            color=[STYLES[v]["color"] for v in variants], alpha=0.85 if split == "train" else 0.45,
        )  # fmt: skip
        for position, seed_values in zip(positions, values, strict=True):
            ax.plot(np.full(len(seed_values), position), seed_values, "k.", markersize=4)
    ax.set_xticks(range(len(variants)), labels=[VARIANT_LABELS[v].split(":")[0] for v in variants])
    ax.set_ylabel("cross-entropy loss" if metric == "loss" else "accuracy")
    if metric == "accuracy":
        ax.set_ylim(0.5, 1.02)
    ax.set_title(title or f"{metric.capitalize()} after training", fontsize=10)
    handles = [
        Patch(facecolor="white", edgecolor="black", label="training set (solid)"),
        Patch(facecolor="white", edgecolor="black", hatch="//", label="held-out set (hatched)"),
    ]
    ax.legend(handles=handles, fontsize="small", loc="upper right" if metric == "loss" else "lower left")
    return ax
