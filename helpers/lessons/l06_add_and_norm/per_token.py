"""Lesson 06, "per token": what LayerNorm normalises, that it adds no noise, and what an Add & Norm hands on.

The study notes say "Add and Norm normalizes the data across the multiple dimensional space per token" and credit
the normalisation with "a slight noise". Both are tested here, with the thresholds of judging.
Shapes: B sequences, n tokens, d = d_model features, K batches.

    batch_dependence(sequence, companions)  how much one sequence's LayerNorm and BatchNorm outputs change from
                                            one batch to another: {"layer_norm": float, "batch_norm": float}
    stream_normalisation(depth, seed)       the stream handed on after `depth` Post-LN and Pre-LN blocks, per token
                                            and per feature: {"post_ln": stats, "pre_ln": stats, "pre_ln_read": stats}
    per_token_verdict(stats)                the notes' "normalizes … per token" as a verdict-table row
"""

import torch

from helpers.lessons.l06_add_and_norm.blocks import batch_norm, feature_stats, layer_norm, token_stats
from helpers.lessons.l06_add_and_norm.judging import CENTRED, NORMALISED, verdict
from helpers.lessons.l06_add_and_norm.stacked_models import StackedModels
from helpers.lessons.l06_add_and_norm.task import MODEL, VOCAB, above_average_task
from helpers.library.checks import require_float_tensor, require_int

__all__ = ["batch_dependence", "stream_normalisation", "per_token_verdict"]


def batch_dependence(sequence, companions):
    """Put one sequence into K batches with different companions; how much do its normalised outputs move?

    sequence: (n, d). companions: (K, C, n, d), the C other sequences of each of the K batches. LayerNorm and
    BatchNorm (batch statistics, as in training) normalise each batch [sequence, its C companions]; the result
    is the largest difference between the sequence's outputs in any two of the K batches:
    {"layer_norm": float, "batch_norm": float}. 0 means the output is a function of the sequence alone.
    """
    require_float_tensor("sequence", sequence)
    require_float_tensor("companions", companions)
    if sequence.ndim != 2 or companions.ndim != 4 or companions.shape[2:] != sequence.shape:
        raise ValueError(
            f"sequence must be (n, d) and companions (K, C, n, d) with the same n and d, got "
            f"{tuple(sequence.shape)} and {tuple(companions.shape)}"
        )
    if companions.shape[0] < 2:
        raise ValueError(f"companions must hold K >= 2 batches to compare, got K = {companions.shape[0]}")
    outputs = {"layer_norm": [], "batch_norm": []}
    for others in companions:  # (C, n, d)
        batch = torch.cat([sequence[None], others])  # (1 + C, n, d)
        outputs["layer_norm"].append(layer_norm(batch)[0])
        outputs["batch_norm"].append(batch_norm(batch)[0])
    return {
        name: float((torch.stack(values) - values[0]).abs().amax(dim=(1, 2)).max()) for name, values in outputs.items()
    }


def _stats(stream):
    """Per-token and per-feature mean and (population) variance of a stream (B, n, d), as floats at their extremes."""
    token_mean, token_variance = token_stats(stream)
    feature_mean, _ = feature_stats(stream)
    return {
        "token_mean": float(token_mean.abs().max()),  # the largest |mean| of a token
        "token_variance": (float(token_variance.min()), float(token_variance.max())),
        "feature_mean": (float(feature_mean.min()), float(feature_mean.max())),
    }


def stream_normalisation(depth=8, seed=0, sequences=32, model=None):
    """The stream after `depth` blocks of Post-LN and of Pre-LN at initialisation (γ = 1, β = 0), and what a
    Pre-LN sublayer reads from it (its LayerNorm).

    Both stacks start from the same weights (seed) and read the same `sequences` sequences of the task.
    Returns {"depth": depth, and for each of "post_ln", "pre_ln", "pre_ln_read": {"token_mean": the largest
    |mean| of a token over its d features, "token_variance": (smallest, largest) variance of a token over its
    features (population variance, ÷ d), "feature_mean": (smallest, largest) mean of a feature over all B·n tokens}}.
    """
    depth = require_int("depth", depth, minimum=1)
    seed = require_int("seed", seed, minimum=0)
    tokens, _ = above_average_task(require_int("sequences", sequences, minimum=2), torch.Generator().manual_seed(seed))
    stack = StackedModels(["post_ln", "pre_ln"], depth, [seed, seed], vocab=VOCAB, n_classes=2, **(model or MODEL))
    with torch.no_grad():
        _, hidden = stack(tokens=tokens, return_hidden=True)
    post, pre = hidden[depth][0], hidden[depth][1]  # (B, n, d) each
    return {"depth": depth, "post_ln": _stats(post), "pre_ln": _stats(pre), "pre_ln_read": _stats(layer_norm(pre))}


def _normalised(stats):
    low, high = stats["token_variance"]
    return stats["token_mean"] < NORMALISED and max(abs(low - 1), abs(high - 1)) < NORMALISED


def _variance_range(stats):
    low, high = stats["token_variance"]
    return f"{low:.2f} to {high:.2f}"


def per_token_verdict(stats):
    """The notes' "Add and Norm normalizes the data across the multiple dimensional space per token", judged.

    stats: stream_normalisation(...). Three findings: the Norm normalises each token over its features (within
    NORMALISED); it normalises per token only, not each feature across tokens (feature means further than CENTRED
    from 0); and what an Add & Norm hands on is normalised in both wirings (Pre-LN's Add comes after its Norm).
    Returns one verdict-table row (claim, tested by, verdict, numbers), all strings.
    """
    for key in ("depth", "post_ln", "pre_ln", "pre_ln_read"):
        if key not in stats:
            raise ValueError(f"stats needs {key!r} (from stream_normalisation), got {sorted(stats)}")
    post, pre, read = stats["post_ln"], stats["pre_ln"], stats["pre_ln_read"]
    low, high = post["feature_mean"]
    findings = [
        (f"the Norm makes every token mean 0, variance 1 over its features (within {NORMALISED:g}): Post-LN's "
         f"stream and what a Pre-LN sublayer reads have token variances {_variance_range(post)} and "
         f"{_variance_range(read)}", _normalised(post) and _normalised(read)),
        (f"per token, not per feature: over all tokens the features' means are not centred (within {CENTRED:g} of "
         f"0 would be): from {low:.1f} to {high:.1f} after Post-LN", max(abs(low), abs(high)) > CENTRED),
        ("what an Add & Norm hands on is normalised in both wirings: in Pre-LN the Add comes after the Norm, and "
         f"its stream's token variances run from {_variance_range(pre)}", _normalised(post) and _normalised(pre)),
    ]  # fmt: skip
    numbers = "; ".join(f"{text}: **{'yes' if holds else 'no'}**" for text, holds in findings)
    claim = "notes: normalises the data per token (Add & Norm)"
    return (
        claim,
        f"the stream after {stats['depth']} blocks, per token and per feature",
        f"**{verdict(findings)}**",
        numbers,
    )
