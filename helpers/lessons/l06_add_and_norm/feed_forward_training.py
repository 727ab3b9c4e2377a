"""What the feed-forward sublayer adds: lesson 06's models trained with and without it, on two tasks.

Both tasks use the lesson's sequences (8 ids from 0 to 7) and need attention, since the label depends on the
sequence's average; t = id − average is what attention (the average) and the residual path (the id) give a token:

    "above"   the lesson's task: 1 if t > 0. One cut on t decides it: a straight line, no nonlinearity needed.
    "near"    1 if |t| <= 1: a band around the average. No single cut decides it; a per-token nonlinearity must.

Three arms, Pre-LN (so that taking the FFN away leaves exactly x + attention(norm(x)) per block):
    "2 full blocks"             attention and FFN, as in the lesson;
    "2 attention-only blocks"   the FFN's weights set to 0 and never trained: each block is attention alone;
    "4 attention-only blocks"   about as many parameters as 2 full blocks.

    task_labels(tokens, task)              the labels (B, n) of a task
    best_rule_accuracy(task)               the best accuracy of one cut on t, and of a band (two cuts)
    feed_forward_runs(tasks, seeds)        {task: {arm: eval_accuracy (S,), eval_loss (S,), parameters}}
    feed_forward_table(runs)               the medians and ranges over seeds, a Markdown table
    feed_forward_summary(runs)             what is lost without the FFN, in words judged by SAME_WITHIN
"""

import numpy as np
import torch

from helpers.lessons.l06_add_and_norm.judging import SAME_WITHIN, _listed, _median, _percent, compare
from helpers.lessons.l06_add_and_norm.stacked_models import StackedAdam, StackedModels, per_model_loss
from helpers.lessons.l06_add_and_norm.task import DATA_SEED, EVAL_SEED, MODEL, VOCAB, above_average_task
from helpers.lessons.l06_add_and_norm.training import _progress
from helpers.library.checks import require_int, require_int_list, require_number, require_tensor
from helpers.machinery.threads import one_thread

__all__ = [
    "FEED_FORWARD_TASKS",
    "FEED_FORWARD_ARMS",
    "FEED_FORWARD_PARAMETERS",
    "task_labels",
    "best_rule_accuracy",
    "feed_forward_runs",
    "feed_forward_table",
    "feed_forward_summary",
]

FEED_FORWARD_TASKS = {"above": "above the average", "near": "within 1 of the average"}
FEED_FORWARD_ARMS = {
    "2 full blocks": (2, True),
    "2 attention-only blocks": (2, False),
    "4 attention-only blocks": (4, False),
}
FULL = "2 full blocks"  # the reference arm
FEED_FORWARD_PARAMETERS = ("w_1", "b_1", "w_2", "b_2")  # the FFN's weights in StackedModels


def _require_task(task):
    if task not in FEED_FORWARD_TASKS:
        raise ValueError(f"task must be one of {list(FEED_FORWARD_TASKS)}, got {task!r}")
    return task


def task_labels(tokens, task):
    """The labels of a task: int64 (..., n) for tokens int64 (..., n) (see the module's docstring)."""
    require_tensor("tokens", tokens)
    if tokens.dtype != torch.long or tokens.ndim == 0:
        raise ValueError(f"tokens must be int64 ids (..., n), got {tokens.dtype} {tuple(tokens.shape)}")
    t = tokens.double() - tokens.double().mean(dim=-1, keepdim=True)  # a token's id minus its sequence's average
    return (t > 0).long() if _require_task(task) == "above" else (t.abs() <= 1).long()


def best_rule_accuracy(task, n_sequences=4_000, seed=0):
    """How well a rule that sees only t = id − average can do, on n_sequences random sequences.

    Returns {"one cut": the best accuracy of "1 if t > c" or "1 if t < c" over every c, "band": the best of
    "1 if a < t <= b" or its opposite, over every a < b}. A task a straight line decides has "one cut" = 1.
    """
    tokens, _ = above_average_task(
        require_int("n_sequences", n_sequences, minimum=1),
        torch.Generator().manual_seed(require_int("seed", seed, minimum=0)),
    )
    labels = task_labels(tokens, task).flatten().numpy()
    t = (tokens.double() - tokens.double().mean(dim=-1, keepdim=True)).flatten().numpy()
    values, where = np.unique(t, return_inverse=True)  # t takes few values: multiples of 1/8
    ones = np.bincount(where, weights=labels, minlength=len(values))
    zeros = np.bincount(where, weights=1 - labels, minlength=len(values))
    # Cut before value k: the rule "1 if t >= values[k]" is right on the zeros below and the ones from k on.
    ones_from = np.concatenate([np.cumsum(ones[::-1])[::-1], [0.0]])  # (V + 1,)
    zeros_below = np.concatenate([[0.0], np.cumsum(zeros)])
    cut = ones_from + zeros_below  # (V + 1,) tokens right, for each cut
    total = len(labels)
    one_cut = max(cut.max(), total - cut.min()) / total  # "t >= c" or its opposite
    # A band [values[a], values[b - 1]]: right on its ones and on the zeros outside it.
    ones_before = np.concatenate([[0.0], np.cumsum(ones)])
    inside = ones_before[None, :] - ones_before[:, None]  # (V + 1, V + 1): ones in [a, b) for a <= b
    zeros_inside = zeros_below[None, :] - zeros_below[:, None]
    band = inside + (zeros.sum() - zeros_inside)
    valid = np.triu(np.ones_like(band, dtype=bool))
    band = max(band[valid].max(), total - band[valid].min()) / total
    return {"one cut": float(one_cut), "band": float(band)}


def _parameters(depth, with_ffn, model):
    """Trainable parameters of one model of an arm: embedding, blocks (without the FFN if it is off), final
    LayerNorm and head."""
    d, d_ff = model["d_model"], model["d_ff"]
    block = 4 * d * d + 4 * d + 4 * d + (2 * d * d_ff + d_ff + d if with_ffn else 0)
    return VOCAB * d + depth * block + 2 * d + 2 * d + 2


def _train_depth(depth, runs, steps, batch, lr, eval_tokens, model, bar):
    """Train one stack of Pre-LN models of one depth; runs: [(task, with_ffn, seed)]. Returns accuracy, loss (M,)."""
    seeds = [seed for _, _, seed in runs]
    stack = StackedModels("pre_ln", depth, seeds, vocab=VOCAB, n_classes=2, **model)
    keep = torch.tensor([float(with_ffn) for _, with_ffn, _ in runs]).view(-1, 1, 1, 1)  # (M, 1, 1, 1)
    with torch.no_grad():
        for name in FEED_FORWARD_PARAMETERS:  # without the FFN: W_1, b_1, W_2, b_2 all 0, so FFN(u) = 0
            getattr(stack, name).mul_(keep)
    optimiser = StackedAdam(stack.parameters())
    streams = {
        seed: above_average_task(steps * batch, torch.Generator().manual_seed(DATA_SEED + seed))[0]
        for seed in sorted(set(seeds))
    }
    tokens = torch.stack([streams[seed].view(steps, batch, -1) for seed in seeds], dim=1)  # (steps, M, B, n)
    labels = torch.stack([task_labels(tokens[:, m], task) for m, (task, _, _) in enumerate(runs)], dim=1)
    lrs = torch.full((len(runs),), lr)
    for step in range(steps):
        losses = per_model_loss(stack(tokens=tokens[step]), labels[step])  # (M,)
        optimiser.zero_grad()
        losses.sum().backward()
        for name in FEED_FORWARD_PARAMETERS:  # a zero gradient leaves Adam's step at exactly 0
            getattr(stack, name).grad.mul_(keep)
        optimiser.step(lrs)
        bar.update(1)
    with torch.no_grad():
        logits = stack(tokens=eval_tokens)  # (M, B, n, 2)
        eval_labels = torch.stack([task_labels(eval_tokens, task) for task, _, _ in runs])  # (M, B, n)
        accuracy = (logits.argmax(dim=-1) == eval_labels).double().mean(dim=(1, 2))
        return accuracy, per_model_loss(logits, eval_labels).double(), stack


def feed_forward_runs(
    tasks=("above", "near"),
    seeds=(0, 1, 2, 3, 4),
    steps=100,
    batch=8,
    lr=3e-3,
    eval_sequences=512,
    model=None,
    progress=False,
    return_stacks=False,
):
    """Train every arm of FEED_FORWARD_ARMS on every task, once per seed, Pre-LN, with Adam at one learning rate.

    Models of one depth train side by side in one StackedModels. Seed s fixes a model's initial weights and its
    batches: the arms of one seed start from the same weights (but for the FFN) and see the same data. Every
    model is scored on the same eval_sequences held-out sequences.
    Returns {task: {arm: {"seeds", "eval_accuracy" (S,), "eval_loss" (S,), "parameters": per model}}}; with
    return_stacks=True also {depth: the trained StackedModels} (for the tests).
    """
    tasks = [_require_task(task) for task in tasks]
    if not tasks or len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks must be a non-empty list without repeats, got {tasks!r}")
    seeds = require_int_list("seeds", seeds, 0, distinct=True, what="seed")
    steps = require_int("steps", steps, minimum=1)
    batch = require_int("batch", batch, minimum=1)
    lr = require_number("lr", lr, positive=True)
    model = dict(MODEL if model is None else model)
    eval_tokens, _ = above_average_task(
        require_int("eval_sequences", eval_sequences, minimum=1), torch.Generator().manual_seed(EVAL_SEED)
    )
    depths = sorted({depth for depth, _ in FEED_FORWARD_ARMS.values()})
    results, stacks = {task: {} for task in tasks}, {}
    with one_thread(), _progress(len(depths) * steps, "training", progress) as bar:
        for depth in depths:
            arms = [(arm, ffn) for arm, (arm_depth, ffn) in FEED_FORWARD_ARMS.items() if arm_depth == depth]
            runs = [(task, ffn, seed) for task in tasks for _, ffn in arms for seed in seeds]
            accuracy, loss, stacks[depth] = _train_depth(depth, runs, steps, batch, lr, eval_tokens, model, bar)
            start = 0
            for task in tasks:
                for arm, ffn in arms:
                    rows = slice(start, start + len(seeds))
                    start = rows.stop
                    results[task][arm] = {
                        "seeds": seeds,
                        "eval_accuracy": accuracy[rows].numpy(),
                        "eval_loss": loss[rows].numpy(),
                        "parameters": _parameters(depth, ffn, model),
                    }
    results = {task: {arm: results[task][arm] for arm in FEED_FORWARD_ARMS} for task in tasks}
    return (results, stacks) if return_stacks else results


def _spread(values):
    """'90 % (86–92 %)': the median and the range over seeds, whole percent."""
    values = np.asarray(values, dtype=float)
    return f"{_percent(_median(values))} ({100 * values.min():.0f}–{_percent(values.max())})"


def _points(value):
    """'4 points', '1 point', '0 points': a difference of accuracies, whole points."""
    points = round(100 * float(value)) + 0
    return f"{points} point{'' if abs(points) == 1 else 's'}"


def _lower_seeds(result, reference):
    """Seeds (paired: the same seed in both arms) whose accuracy is lower than the reference's by SAME_WITHIN."""
    drop = np.asarray(reference["eval_accuracy"]) - np.asarray(result["eval_accuracy"])
    return int((drop >= SAME_WITHIN - 1e-9).sum())


def _require_runs(runs):
    if not isinstance(runs, dict) or not runs:
        raise TypeError(f"runs must be feed_forward_runs(...)'s dict, got {type(runs).__name__}")
    for task, arms in runs.items():
        missing = set(FEED_FORWARD_ARMS) - set(arms)
        if missing:
            raise ValueError(f"runs[{task!r}] has no {sorted(missing)}")
    return runs


def feed_forward_table(runs):
    """The runs as a Markdown table: per task and arm, parameters, held-out accuracy (median and range over
    seeds), median held-out loss, and in how many seeds the accuracy is lower than with the FFN."""
    lines = [
        "| task | model | parameters | held-out accuracy: median (range) | median held-out loss | "
        "seeds 2 points or more below the full blocks |",
        "|---|---|---|---|---|---|",
    ]
    for task, arms in _require_runs(runs).items():
        for arm, result in arms.items():
            lower = "–" if arm == FULL else f"{_lower_seeds(result, arms[FULL])} of {len(result['seeds'])}"
            lines.append(
                f"| {FEED_FORWARD_TASKS[task]} | {arm} | {result['parameters']:,} | "
                f"{_spread(result['eval_accuracy'])} | {_median(result['eval_loss']):.2f} | {lower} |"
            )
    return "\n".join(lines)


def _lost(runs, task, arm):
    """'lower' (something is lost), 'the same' or 'higher': the arm's median accuracy against the full blocks'."""
    arms = runs[task]
    return compare(_median(arms[arm]["eval_accuracy"]), _median(arms[FULL]["eval_accuracy"]), SAME_WITHIN)


def feed_forward_summary(runs):
    """What is lost without the FFN, task by task, in Markdown. Lost: a median held-out accuracy lower than the
    full blocks' by at least SAME_WITHIN (2 points); the same: closer than that. The words come from the numbers."""
    words = {"lower": "lower: something is lost", "the same": "the same: nothing is lost", "higher": "higher"}
    n = len(next(iter(_require_runs(runs).values()))[FULL]["seeds"])
    lines = [f"Medians over {n} seeds; the same: within {_points(SAME_WITHIN)}."]
    for task, arms in runs.items():
        reference = _median(arms[FULL]["eval_accuracy"])
        parts = []
        for arm in [arm for arm in FEED_FORWARD_ARMS if arm != FULL]:
            gap = reference - _median(arms[arm]["eval_accuracy"])
            lower = _lower_seeds(arms[arm], arms[FULL])
            parts.append(
                f"{arm} {words[_lost(runs, task, arm)]} ({_points(abs(gap))} "
                f"{'below' if gap > 0 else 'above'} at the median; 2 points or more below in {lower} of "
                f"{n} seeds)"
            )
        lines.append(
            f"- **{FEED_FORWARD_TASKS[task].capitalize()}**: against {_percent(reference)} with 2 full "
            f"blocks, {_listed(parts)}."
        )
    return "\n".join(lines)
