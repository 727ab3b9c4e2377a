"""Experiment 5 of lesson 06: train on 16 sequences until the models know them by heart; does LayerNorm narrow the gap?

Shapes: S seeds per variant.

    overfit_runs(variants, seeds)   {variant: train_loss, val_loss, train_accuracy, val_accuracy, logit_scale},
                                    each (S,)
    overfit_table(overfit)          the medians over seeds as a text table, one line per variant
    overfit_summary(overfit)        what the medians say, in Markdown, judged by SAME_WITHIN
"""

import numpy as np
import torch

from helpers.lessons.l06_add_and_norm.blocks import require_variants
from helpers.lessons.l06_add_and_norm.judging import (
    SAME_WITHIN,
    _judged,
    _listed,
    _lookup,
    _median,
    _name,
    _percent,
    _points,
    _same_or_listed,
    compare,
)
from helpers.lessons.l06_add_and_norm.stacked_models import StackedAdam, StackedModels, per_model_loss
from helpers.lessons.l06_add_and_norm.task import EVAL_SEED, MODEL, TRAIN_SET_SEED, VOCAB, above_average_task
from helpers.lessons.l06_add_and_norm.training import _progress
from helpers.library.checks import require_int, require_int_list, require_number
from helpers.machinery.threads import one_thread

__all__ = ["overfit_runs", "overfit_table", "overfit_summary"]


def overfit_runs(
    variants=("residual", "post_ln", "pre_ln"),
    seeds=(0, 1, 2),
    n_train=16,
    steps=150,
    lr=3e-3,
    depth=2,
    val_sequences=256,
    model=None,
    progress=False,
):
    """Experiment 5: train on only n_train sequences (full batch) until the models know them by heart.

    One model per (variant, seed), trained side by side; seed s fixes the initial weights and the
    training set (the same for every variant). Every model is scored on the same val_sequences
    held-out sequences. Returns {variant: {"train_loss", "val_loss", "train_accuracy", "val_accuracy",
    "logit_scale": mean |logit| on the validation set; each (S,)}}.
    """
    variants = require_variants(variants)
    seeds = require_int_list("seeds", seeds, 0, what="seed")
    n_train = require_int("n_train", n_train, minimum=1)
    steps = require_int("steps", steps, minimum=1)
    lr = require_number("lr", lr, positive=True)
    depth = require_int("depth", depth, minimum=1)
    model = dict(MODEL if model is None else model)
    val_tokens, val_labels = above_average_task(
        require_int("val_sequences", val_sequences, minimum=1), torch.Generator().manual_seed(EVAL_SEED)
    )
    runs = [(variant, seed) for variant in variants for seed in seeds]
    train = {seed: above_average_task(n_train, torch.Generator().manual_seed(TRAIN_SET_SEED + seed)) for seed in seeds}
    train_tokens = torch.stack([train[seed][0] for _, seed in runs])  # (M, n_train, n)
    train_labels = torch.stack([train[seed][1] for _, seed in runs])
    with one_thread(), _progress(steps, "overfitting", progress) as bar:
        stack = StackedModels([v for v, _ in runs], depth, [s for _, s in runs], vocab=VOCAB, n_classes=2, **model)
        optimiser = StackedAdam(stack.parameters())
        lrs = torch.full((len(runs),), lr)
        for _ in range(steps):
            losses = per_model_loss(stack(tokens=train_tokens), train_labels)
            optimiser.zero_grad()
            losses.sum().backward()
            optimiser.step(lrs)
            bar.update(1)
        with torch.no_grad():
            train_logits, val_logits = stack(tokens=train_tokens), stack(tokens=val_tokens)
            measures = {
                "train_loss": per_model_loss(train_logits, train_labels),
                "val_loss": per_model_loss(val_logits, val_labels),
                "train_accuracy": (train_logits.argmax(-1) == train_labels).double().mean(dim=(1, 2)),
                "val_accuracy": (val_logits.argmax(-1) == val_labels).double().mean(dim=(1, 2)),
                "logit_scale": val_logits.abs().mean(dim=(1, 2, 3)),
            }
    return {
        variant: {
            name: values[i * len(seeds) : (i + 1) * len(seeds)].double().numpy() for name, values in measures.items()
        }
        for i, variant in enumerate(variants)
    }


def _overfit_medians(overfit):
    """{variant: {measure: median over seeds}} with "gap": the median of training − held-out accuracy."""
    medians = {}
    for variant, result in overfit.items():
        medians[variant] = {name: _median(values) for name, values in result.items()}
        medians[variant]["gap"] = _median(np.asarray(result["train_accuracy"]) - np.asarray(result["val_accuracy"]))
    return medians


def overfit_table(overfit):
    """Experiment 5 as a text table: the median over seeds of each measure, one line per variant.

    overfit: overfit_runs(...)'s dict. Columns: training and held-out loss and accuracy, the accuracy gap
    (training − held-out, in points) and the mean absolute logit on the held-out set.
    """
    n = len(next(iter(overfit.values()))["val_accuracy"])
    lines = [
        f"median over {n} seeds | training loss | held-out loss | training acc. | held-out acc. | gap (acc.) "
        "| mean |logit|"
    ]
    for variant, m in _overfit_medians(overfit).items():
        lines.append(
            f"{_name(variant):20s}| {m['train_loss']:13.3f} | {m['val_loss']:13.2f} "
            f"| {_percent(m['train_accuracy']):>13s} | {_percent(m['val_accuracy']):>13s} "
            f"| {_points(m['gap']):>10s} | {m['logit_scale']:8.1f}"
        )
    return "\n".join(lines)


def overfit_summary(overfit):
    """Experiment 5 in Markdown: did LayerNorm narrow the gap between training and held-out accuracy?

    overfit: overfit_runs(...)'s dict with "residual" and at least one of "post_ln" and "pre_ln". Compares
    medians over seeds; two gaps are the same if they differ by less than SAME_WITHIN.
    """
    _lookup(overfit, "residual", "overfit")
    normed = [v for v in ("post_ln", "pre_ln") if v in overfit]
    if not normed:
        raise ValueError("overfit needs 'post_ln' or 'pre_ln' to compare with 'residual'")
    m = _overfit_medians(overfit)
    everyone = ["residual", *normed]
    width = {"higher": "wider", "lower": "narrower", "the same": "the same"}
    gaps = {_name(v): width[compare(m[v]["gap"], m["residual"]["gap"], SAME_WITHIN)] for v in normed}
    ratio = m["residual"]["logit_scale"] / max(m[v]["logit_scale"] for v in normed)  # the smaller ratio
    n = len(overfit["residual"]["val_accuracy"])
    return "\n".join([
        f"Medians over {n} seeds, in the order {_listed(_name(v) for v in everyone)}:",
        "",
        f"- **Training accuracy**: {_same_or_listed(_percent(m[v]['train_accuracy']) for v in everyone)}.",
        f"- **Held-out accuracy**: {_same_or_listed(_percent(m[v]['val_accuracy']) for v in everyone)}; the gap "
        f"between the two: {_same_or_listed(_points(m[v]['gap']) for v in everyone)}. Against the gap without "
        f"LayerNorm, the gaps with it are {_judged(gaps)} (the same: within {_points(SAME_WITHIN)}).",
        f"- **Held-out loss**: {m['residual']['val_loss']:.2f} without LayerNorm, "
        f"{_listed(format(m[v]['val_loss'], '.2f') for v in normed)} with it. **Mean absolute logit**: "
        f"{m['residual']['logit_scale']:.1f} without, {_listed(format(m[v]['logit_scale'], '.1f') for v in normed)} "
        f"with it: without LayerNorm the logits are about {ratio:.0f} times as large.",
    ])  # fmt: skip
