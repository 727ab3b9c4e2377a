"""09's figures, each drawn on given Axes and returned: training, mistakes, attention maps, ablation.

    plot_losses(curves, ax)                      loss curves against the step, log scale
    plot_mistakes_by_length(accuracy, counts, ax)   bars: the share sorted wrongly per input length L
    plot_heads(maps, tokens, axes)               every head's map (n_layers, n_heads, n, n) on a grid of Axes
    plot_ablation(table, baseline, ax)           bars: exact match with each head zeroed, table (n_layers, n_heads)
    plot_sampling_sweep(sweep, greedy, axes)     against the temperature: the next-token entropy, and the chance
                                                 that sampling sorts a question (sampling_sweep's dict)

Each helper draws on the Axes it is given and returns them: no plt.show(), no global figure state.
"""

import math

import torch

from helpers.lessons.l09_transformer_end_to_end.sorting_task import MAX_DIGITS, MIN_DIGITS

__all__ = ["plot_losses", "plot_mistakes_by_length", "plot_heads", "plot_ablation", "plot_sampling_sweep"]

STYLES = [("#440154", "-", None), ("#21918c", "--", None)]  # colour and dash: the two runs differ by more than colour


def plot_losses(curves, ax, title="Training loss"):
    """Loss curves against the step, log scale. curves: {label: list of floats, or None to skip}. Returns ax."""
    drawn = 0
    for label, losses in curves.items():
        if losses is None:
            continue
        color, dash, _ = STYLES[drawn % len(STYLES)]
        ax.plot(range(1, len(losses) + 1), losses, color=color, linestyle=dash, linewidth=1.5, label=label)
        drawn += 1
    if not drawn:
        raise ValueError("curves holds no losses to draw")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (nats, log scale)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def plot_mistakes_by_length(accuracy, counts, ax, title="Held-out sequences sorted wrongly"):
    """Bars: the share of sequences sorted wrongly, per input length, each labelled "wrong of total".

    accuracy: accuracy_by_length's dict; counts: {L: number of test sequences of length L}. Returns ax.
    """
    lengths = [length for length in range(MIN_DIGITS, MAX_DIGITS + 1) if length in accuracy]
    wrong = [round((1 - accuracy[length]) * counts[length]) for length in lengths]
    shares = [100 * w / counts[length] for w, length in zip(wrong, lengths, strict=True)]
    bars = ax.bar(lengths, shares, color="#21918c")
    top = max(max(shares), 100 * (1 - accuracy["all"])) * 1.3 + 0.5
    for bar, w, length in zip(bars, wrong, lengths, strict=True):
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            bar.get_height() + top * 0.02,
            f"{w} of {counts[length]}",
            ha="center",
            fontsize=8,
        )
    ax.axhline(
        100 * (1 - accuracy["all"]),
        color="#440154",
        linestyle="--",
        label=f"all lengths: {100 * (1 - accuracy['all']):.2f} %",
    )
    ax.set_ylim(0, top)
    ax.set_xticks(lengths)
    ax.set_xlabel("number of input digits L")
    ax.set_ylabel("sorted wrongly (%)")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return ax


def plot_heads(maps, tokens, axes):
    """Every head's attention map on a grid: maps (n_layers, n_heads, n, n), axes (n_layers, n_heads). Returns axes.

    Rows are queries, columns keys; grey above the diagonal: keys the causal mask hid. Token labels
    are written on the outer maps only (text is the slow part of drawing a figure).
    """
    import matplotlib
    import numpy as np

    maps = torch.as_tensor(maps).detach()
    axes = (
        np.asarray(axes).reshape(maps.shape[:2])
        if maps.ndim == 4 and np.size(axes) == maps.shape[0] * maps.shape[1]
        else None
    )
    if axes is None or maps.shape[-1] != maps.shape[-2] or maps.shape[-1] != len(tokens):
        raise ValueError(
            f"maps must be (n_layers, n_heads, n, n) with n = {len(tokens)} tokens and one Axes per map, "
            f"got {tuple(maps.shape)}"
        )
    n_layers, n_heads, n, _ = maps.shape
    hidden = np.triu(np.ones((n, n), dtype=bool), k=1)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#d9d9d9")
    for layer in range(n_layers):
        for head in range(n_heads):
            ax = axes[layer, head]
            shown = np.ma.masked_array(maps[layer, head].numpy(), hidden)
            image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"layer {layer} head {head}", fontsize=9)
            if layer == n_layers - 1:
                ax.set_xticks(range(n), labels=tokens, fontsize=8)
            else:
                ax.set_xticks([])  # no ticks at all: each one is two lines and a text to draw
            if head == 0:
                ax.set_yticks(range(n), labels=tokens, fontsize=8)
            else:
                ax.set_yticks([])
        axes[layer, 0].set_ylabel("query")
    for ax in axes[-1]:
        ax.set_xlabel("key")
    axes[0, 0].figure.colorbar(image, ax=axes.ravel().tolist(), fraction=0.02, pad=0.02, label="weight")
    return axes


def plot_ablation(table, baseline, ax, title="Accuracy with one head switched off"):
    """Bars: exact match with each head zeroed; a dashed line at the full model's. table: (n_layers, n_heads)."""
    table = torch.as_tensor(table)
    n_layers, n_heads = table.shape
    labels = [f"L{layer} H{head}" for layer in range(n_layers) for head in range(n_heads)]
    colors = ["#3b528b" if layer == 0 else "#5ec962" for layer in range(n_layers) for _ in range(n_heads)]
    hatches = ["" if layer == 0 else "//" for layer in range(n_layers) for _ in range(n_heads)]
    bars = ax.bar(range(len(labels)), table.flatten().tolist(), color=colors, hatch=hatches, edgecolor="white")
    for bar, value in zip(bars, table.flatten().tolist(), strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, value + 0.01, f"{value:.0%}", ha="center", fontsize=8)
    ax.axhline(baseline, color="#440154", linestyle="--", label=f"all heads: {baseline:.2%}")
    ax.set_xticks(range(len(labels)), labels=labels)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("head switched off (layer 0 plain, layer 1 hatched)")
    ax.set_ylabel("exact match")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return ax


def plot_sampling_sweep(sweep, greedy, axes, vocab_size=12):
    """Two panels against the temperature (log scale): the mean next-token entropy (bits) with its largest
    possible value log2(vocab_size), and the expected exact match with greedy's as a dashed line.

    sweep: sampling_sweep's dict. greedy: greedy decoding's exact match, a float. axes: two Axes. Returns axes.
    """
    left, right = axes
    temperatures = sweep["temperatures"].tolist()
    left.plot(temperatures, sweep["entropy_bits"].tolist(), color=STYLES[0][0], marker="o", markersize=3)
    left.axhline(math.log2(vocab_size), color="grey", linestyle=":", label=f"uniform: log2 {vocab_size}")
    left.set_ylabel("entropy of the next token (bits)")
    left.set_title("Temperature flattens the distribution")
    left.legend(loc="upper left")
    right.plot(temperatures, sweep["exact_match"].tolist(), color=STYLES[1][0], marker="o", markersize=3)
    right.axhline(greedy, color=STYLES[0][0], linestyle="--", label=f"greedy: {greedy:.0%}")
    right.set_ylim(0, 1.02)
    right.set_ylabel("chance of sorting a question")
    right.set_title("...and costs accuracy")
    right.legend(loc="lower left")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("temperature T (log scale)")
        ax.grid(True, alpha=0.3)
    return axes
