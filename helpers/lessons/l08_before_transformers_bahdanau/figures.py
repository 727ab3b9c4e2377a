"""Lesson 08's figures: accuracy against length and the training loss, one line per kind of model.

    plot_accuracy_by_length(evaluations, ax, metric="token_accuracy", title=None, legend="lower left")
                         a SeedEvaluation (median line, range band) or {kind: evaluate(...)}; returns ax
    plot_losses(results, ax, window=20)   a SeedRuns (median line, range band) or a list of TrainResult;
                         the loss as a running mean over `window` steps, log scale; returns ax

Each kind keeps its colour, marker and line style (MODEL_STYLES) in every figure of the lesson.
"""

import torch

from helpers.lessons.l08_before_transformers_bahdanau.evaluation import SeedEvaluation
from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import SCORINGS
from helpers.lessons.l08_before_transformers_bahdanau.training import SeedRuns
from helpers.library.checks import require_int

__all__ = [
    "plot_accuracy_by_length",
    "plot_losses",
]

MODEL_STYLES = {
    "additive": {"color": "#440154", "marker": "o", "linestyle": "-", "label": "additive attention (Bahdanau)"},
    "dot": {"color": "#21918c", "marker": "s", "linestyle": "--", "label": "dot-product attention"},
    "none": {"color": "#e69f00", "marker": "^", "linestyle": ":", "label": "no attention (one fixed vector)"},
}


def plot_accuracy_by_length(evaluations, ax, metric="token_accuracy", title=None, legend="lower left"):
    """Accuracy against source length, one line per kind of model.

    evaluations: a SeedEvaluation (from evaluate_seeds: the line is the median of the seeds, the band their
    range), or {attention kind: evaluate(...) result} (one model per kind). metric: "token_accuracy" or
    "sequence_accuracy". legend: where to put the legend (a matplotlib location), or None for none. Returns ax.
    """
    if metric not in ("token_accuracy", "sequence_accuracy"):
        raise ValueError(f"metric must be 'token_accuracy' or 'sequence_accuracy', got {metric!r}")
    if isinstance(evaluations, SeedEvaluation):
        curves = {kind: 100 * evaluations.of(kind, metric) for kind in evaluations.results}  # (S, L) each
        lengths = evaluations.lengths
    else:
        curves, lengths = {}, None
        for kind, results in evaluations.items():
            lengths = sorted(results)
            curves[kind] = torch.tensor([[100 * results[n][metric] for n in lengths]], dtype=torch.float64)
    for kind, values in curves.items():
        if kind not in MODEL_STYLES:
            raise ValueError(f"unknown model {kind!r}; expected one of {sorted(MODEL_STYLES)}")
        style = MODEL_STYLES[kind]
        ax.plot(lengths, values.median(0).values.tolist(), **style)
        if len(values) > 1:
            low, high = values.min(0).values.tolist(), values.max(0).values.tolist()
            ax.fill_between(lengths, low, high, color=style["color"], alpha=0.2, linewidth=0)
    ax.set_ylim(0, 105)
    ax.set_xlabel("source length n")
    ax.set_ylabel("letters right (%)" if metric == "token_accuracy" else "sequences entirely right (%)")
    ax.set_title(title or "Held-out accuracy against length")
    if legend is not None:
        ax.legend(loc=legend, fontsize="small")
    return ax


def plot_losses(results, ax, window=20):
    """Training loss against step (a running mean over `window` steps), one line per kind of model.

    results: a SeedRuns (the line is the median of the seeds, the band their range) or a list of
    TrainResult (one line each). Returns ax.
    """
    window = require_int("window", window, minimum=1)
    if isinstance(results, SeedRuns):
        curves = [(kind, results.losses_of(kind)) for kind in sorted(set(results.kinds), key=SCORINGS.index)]
    else:
        curves = [(result.attention, torch.tensor(result.losses)[:, None]) for result in results]
    for kind, losses in curves:  # (steps, S)
        steps = len(losses)
        smooth = losses.unfold(0, window, 1).mean(dim=-1) if steps >= window else losses  # (steps', S)
        x = list(range(steps - len(smooth) + 1, steps + 1))
        style = {key: value for key, value in MODEL_STYLES[kind].items() if key != "marker"}
        ax.plot(x, smooth.median(dim=1).values.tolist(), **style)
        if smooth.shape[1] > 1:
            low, high = smooth.min(dim=1).values.tolist(), smooth.max(dim=1).values.tolist()
            ax.fill_between(x, low, high, color=style["color"], alpha=0.2, linewidth=0)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"cross-entropy (mean of {window} steps)")
    ax.set_title("Training loss")
    ax.legend(loc="upper right", fontsize="small")
    return ax
