"""Lesson 06, the learning-rate warm-up: what Adam's first steps do, the reason a warm-up exists.

Adam divides each weight's gradient by the root of a running mean of its squares. At the first step that
quotient is g / |g| = ±1 for every weight: each one moves by the full learning rate, whatever the size of its
gradient. A warm-up makes those first steps small. Shapes: S seeds, `steps` training steps.

    adam_first_steps(variant, ...)   per step: how far the weights moved, in learning rates, and how unequal their
                                     gradients were: {"move": (steps,), "full": (steps,), "grad_orders": (steps,)}
    first_steps_table(first_steps)   {warm-up steps: adam_first_steps(...)} as a text table, one line per step
"""

import numpy as np
import torch

from helpers.lessons.l06_add_and_norm.blocks import require_variant
from helpers.lessons.l06_add_and_norm.stacked_models import (
    BLOCK_PARAMETERS,
    StackedAdam,
    StackedModels,
    per_model_loss,
    warmup_lrs,
)
from helpers.lessons.l06_add_and_norm.task import DATA_SEED, MODEL, VOCAB, above_average_task
from helpers.library.checks import require_int, require_int_list, require_number
from helpers.machinery.threads import one_thread

__all__ = ["adam_first_steps", "first_steps_table"]


def adam_first_steps(
    variant="post_ln", depth=6, lr=3e-2, warmup=0, seeds=(0, 1, 2, 3, 4), steps=3, batch=8, model=None
):
    """Train `steps` Adam steps (as training_grid does) and measure every block weight's move at each step.

    One model per seed, side by side; seed s fixes the weights and the batches, as in training_grid. At each
    step, over all block weights of all S models:
        "move"         the median of |Δw| / lr: 1 means a weight moved by the full (base) learning rate;
        "full"         the share of weights that moved by at least half of that step's learning rate;
        "grad_orders"  log10 of the 90th over the 10th percentile of |gradient|: how many orders of magnitude
                       separate large gradients from small ones.
    Returns {"lrs": (steps,) the learning rate used at each step, "move", "full", "grad_orders": (steps,)}.
    """
    variant = require_variant(variant)
    depth = require_int("depth", depth, minimum=1)
    lr = require_number("lr", lr, positive=True)
    warmup = require_int("warmup", warmup, minimum=0)
    seeds = require_int_list("seeds", seeds, 0, what="seed")
    steps = require_int("steps", steps, minimum=1)
    batch = require_int("batch", batch, minimum=1)
    data = [above_average_task(steps * batch, torch.Generator().manual_seed(DATA_SEED + s)) for s in seeds]
    tokens = torch.stack([t.view(steps, batch, -1) for t, _ in data], dim=1)  # (steps, S, B, n)
    labels = torch.stack([y.view(steps, batch, -1) for _, y in data], dim=1)
    result = {"lrs": [], "move": [], "full": [], "grad_orders": []}
    with one_thread():
        stack = StackedModels(variant, depth, seeds, vocab=VOCAB, n_classes=2, **(model or MODEL))
        optimiser = StackedAdam(stack.parameters())
        weights = [getattr(stack, name) for name in BLOCK_PARAMETERS]
        base, warmups = torch.full((len(seeds),), lr), torch.full((len(seeds),), warmup)
        for step in range(steps):
            optimiser.zero_grad()
            per_model_loss(stack(tokens=tokens[step]), labels[step]).sum().backward()
            grads = torch.cat([w.grad.flatten() for w in weights]).abs()
            before = torch.cat([w.detach().flatten() for w in weights])
            lrs = warmup_lrs(step, base, warmups)
            optimiser.step(lrs)
            moved = (torch.cat([w.detach().flatten() for w in weights]) - before).abs()
            low, high = torch.quantile(grads[grads > 0].double(), torch.tensor([0.1, 0.9], dtype=torch.float64))
            result["lrs"].append(float(lrs[0]))
            result["move"].append(float(moved.median()) / lr)
            result["full"].append(float((moved >= 0.5 * lrs[0]).double().mean()))
            result["grad_orders"].append(float(torch.log10(high / low)))
    return {name: np.asarray(values) for name, values in result.items()}


def first_steps_table(first_steps):
    """{warm-up steps: adam_first_steps(...)} as a text table: for each warm-up and step, the learning rate, the
    median move |Δw| in units of the full rate, the share of weights moved by at least half the step's rate, and
    how many orders of magnitude the gradients span (90th over 10th percentile)."""
    if not isinstance(first_steps, dict) or not first_steps:
        raise TypeError(
            f"first_steps must be a non-empty dict {{warm-up steps: adam_first_steps(...)}}, got {first_steps!r}"
        )
    lines = ["warm-up  | step | learning rate | median |Δw| / lr | moved ≥ half the step's rate | gradients span"]
    for warmup, result in first_steps.items():
        for step, (rate, move, full, orders) in enumerate(
            zip(result["lrs"], result["move"], result["full"], result["grad_orders"], strict=True), start=1
        ):
            label = f"{warmup} steps" if warmup else "none"
            lines.append(
                f"{label:9s}| {step:4d} | {rate:13.4f} | {move:17.2f} | {100 * full:25.0f} % | 10^{orders:.1f}"
            )
    return "\n".join(lines)
