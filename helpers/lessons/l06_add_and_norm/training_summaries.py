"""Experiment 4 of lesson 06 in words: what training_grid's seeds say, at a moderate and a high learning rate.

The settings read here are stated once below (MODERATE_LR, HIGH_LR, DEEP, SHALLOW, WARMUP); every judging
word comes from the thresholds of helpers.lessons.l06_add_and_norm.judging.

    per_seed_table(grid)                           seed by seed (chaotic: the notebook shows it but does not compare it)
    moderate_rate_summary(grid, baseline_accuracy) at lr 0.003, in Markdown: medians over seeds and what they say
    high_rate_summary(grid)                        at lr 0.03, in Markdown: how the seeds of each setting ended
    warmup_summary(grid)                           at lr 0.03, in Markdown: each wiring with and without a warm-up
"""

import numpy as np

from helpers.lessons.l06_add_and_norm.blocks import VARIANTS
from helpers.lessons.l06_add_and_norm.judging import (
    AT_CHANCE,
    FASTER,
    RELIABLE,
    SAME_WITHIN,
    TRAINED,
    _baseline,
    _each,
    _judged,
    _listed,
    _lookup,
    _median,
    _name,
    _percent,
    _points,
    compare,
    convergence,
    describe_outcome,
    seed_outcome,
)
from helpers.lessons.l06_add_and_norm.training import DIVERGED_LOSS, setting_label

__all__ = ["per_seed_table", "moderate_rate_summary", "high_rate_summary", "warmup_summary"]

# Experiment 4's settings that the summaries and verdicts read: (variant, depth, learning rate, warm-up steps).
MODERATE_LR, HIGH_LR, DEEP, SHALLOW, WARMUP = 3e-3, 3e-2, 6, 2, 25
WITH_RESIDUAL, WITHOUT_RESIDUAL = ("residual", "post_ln", "pre_ln"), ("plain", "layernorm")


def per_seed_table(grid):
    """Experiment 4 seed by seed: each seed's held-out accuracy, and the steps at which seeds diverged.

    grid: training_grid(...)'s dict. Returns the table as text, one line per setting.
    """
    lines = [f"{'setting':38s}| seeds | held-out accuracy of each seed | diverged at step"]
    for setting, result in grid.items():
        diverged = result["diverged_at"] >= 0
        accuracies = " ".join(f"{accuracy:4.0%}" for accuracy in result["eval_accuracy"])
        steps = ", ".join(str(step) for step in result["diverged_at"][diverged]) or "-"
        lines.append(f"{setting_label(setting):38s}| {len(result['seeds']):5d} | {accuracies} | {steps}")
    return "\n".join(lines)


def _moderate(grid):
    """Medians of experiment 4 at MODERATE_LR: {"deep": {variant: seed_outcome}, "shallow": {variant: median},
    "mean_loss": {variant: median over seeds of the mean training loss over the steps, at depth DEEP}}."""
    deep = {v: _lookup(grid, (v, DEEP, MODERATE_LR, 0), "the grid") for v in VARIANTS}
    return {
        "deep": {v: seed_outcome(result) for v, result in deep.items()},
        "shallow": {
            v: _median(_lookup(grid, (v, SHALLOW, MODERATE_LR, 0), "the grid")["eval_accuracy"])
            for v in WITHOUT_RESIDUAL
        },
        "mean_loss": {v: _median(np.asarray(result["loss"]).mean(axis=1)) for v, result in deep.items()},
    }


def _high(grid):
    """seed_outcome of experiment 4's settings at HIGH_LR: {(variant, warm-up steps): outcome}."""
    keys = [("residual", 0), ("post_ln", 0), ("post_ln", WARMUP), ("pre_ln", 0), ("pre_ln", WARMUP)]
    return {(v, w): seed_outcome(_lookup(grid, (v, DEEP, HIGH_LR, w), "the grid")) for v, w in keys}


def moderate_rate_summary(grid, baseline_accuracy):
    """Experiment 4 at the moderate learning rate in Markdown: medians over the seeds, and what they say.

    grid: training_grid(...)'s dict, with the five wirings at depth DEEP and plain and LayerNorm only at
    depth SHALLOW, all at MODERATE_LR without warm-up. baseline_accuracy: what a model that sees only its
    own token reaches (token_only_baseline). Every judging word comes from the thresholds of judging.
    """
    measured = _moderate(grid)
    deep, shallow, mean_loss = measured["deep"], measured["shallow"], measured["mean_loss"]
    lines = ["| setting | seeds | median held-out accuracy | median of the mean training loss |", "|---|---|---|---|"]
    for setting, result in grid.items():
        if setting[2] == MODERATE_LR and setting[3] == 0:
            accuracy, loss = _median(result["eval_accuracy"]), _median(np.asarray(result["loss"]).mean(axis=1))
            lines.append(f"| {setting_label(setting)} | {len(result['seeds'])} | {_percent(accuracy)} | {loss:.2f} |")
    baseline = _baseline(baseline_accuracy)
    where = {"higher": "above", "lower": "below", "the same": "at"}
    above = {_name(v): where[compare(deep[v]["median"], baseline_accuracy, 0.0)] for v in WITH_RESIDUAL}
    shallow_above = {_name(v): where[compare(shallow[v], baseline_accuracy, 0.0)] for v in WITHOUT_RESIDUAL}
    shallow_chance = {_name(v): where[compare(shallow[v], AT_CHANCE, 0.0)] for v in WITHOUT_RESIDUAL}
    accuracy = {
        _name(v): compare(deep[v]["median"], deep["residual"]["median"], SAME_WITHIN) for v in ("post_ln", "pre_ln")
    }
    speed = {_name(v): convergence(mean_loss[v], mean_loss["residual"]) for v in ("post_ln", "pre_ln")}
    steps = np.asarray(next(iter(grid.values()))["loss"]).shape[1]
    lines += [
        "",
        f"(Trained: held-out accuracy at least {_percent(TRAINED)}; at chance: below {_percent(AT_CHANCE)}. The mean "
        f"training loss is the average over the {steps} steps: the sooner the loss falls, the lower it is.)",
        "",
        "- **With the residual path**, 6 blocks deep: "
        + _each({_name(v): describe_outcome(deep[v]) for v in WITH_RESIDUAL})
        + f", with medians of {_listed(_percent(deep[v]['median']) for v in WITH_RESIDUAL)}: {_judged(above)} "
        f"the {baseline} of a model that sees only its own token.",
        "- **Without it**, 6 blocks deep: "
        + _each({_name(v): describe_outcome(deep[v]) for v in WITHOUT_RESIDUAL})
        + f", with medians of {_listed(_percent(deep[v]['median']) for v in WITHOUT_RESIDUAL)}.",
        "- **At 2 blocks** the same two reach medians of "
        f"{_listed(_percent(shallow[v]) for v in WITHOUT_RESIDUAL)}: {_judged(shallow_chance)} chance, but "
        f"{_judged(shallow_above)} the {baseline} that needs no attention at all.",
        "- **The Norm** at this learning rate: Post-LN's and Pre-LN's median accuracies against residual only's: "
        f"{_judged(accuracy)} (the same: within {_points(SAME_WITHIN)}); their convergence: {_judged(speed)} (median "
        f"mean training loss {mean_loss['post_ln']:.2f} and {mean_loss['pre_ln']:.2f} against "
        f"{mean_loss['residual']:.2f}; faster would be at most {FASTER:g} times as large).",
    ]
    return "\n".join(lines)


def high_rate_summary(grid):
    """Experiment 4 at the high learning rate in Markdown: how the seeds of each setting ended, and what that says.

    grid: training_grid(...)'s dict with residual only, Post-LN and Pre-LN at depth DEEP and HIGH_LR,
    Post-LN and Pre-LN also with a WARMUP-step warm-up. A median accuracy is given only for a setting that
    trained reliably: the median of seeds that split into two groups describes neither group.
    """
    outcome = _high(grid)
    lines = ["| setting | seeds | how the seeds ended | median held-out accuracy |", "|---|---|---|---|"]
    for (variant, warmup), o in outcome.items():
        median = _percent(o["median"]) if o["outcome"] == "trained" else "–"
        label = setting_label((variant, DEEP, HIGH_LR, warmup))
        lines.append(f"| {label} | {o['seeds']} | {describe_outcome(o)} | {median} |")
    post, post_warm = outcome["post_ln", 0]["outcome"], outcome["post_ln", WARMUP]["outcome"]
    if post == "trained":
        warm_up = "was not needed"
    else:
        warm_up = "made it reliable" if post_warm == "trained" else "did not make it reliable"
    lines += [
        "",
        f"(Trained: held-out accuracy at least {_percent(TRAINED)}, the training loss never above "
        f"{DIVERGED_LOSS:g}; diverged: it went above. A setting trains reliably if at least {_percent(RELIABLE)} of "
        "its seeds train, and diverges if at least half of them diverge. A median is given only where the seeds "
        "trained reliably: the median of seeds that split into two groups describes neither.)",
        "",
        f"- **Residual only**: {describe_outcome(outcome['residual', 0])}.",
        f"- **Pre-LN** without warm-up: {describe_outcome(outcome['pre_ln', 0])}; with warm-up: "
        f"{describe_outcome(outcome['pre_ln', WARMUP])}.",
        f"- **Post-LN** without warm-up: {describe_outcome(outcome['post_ln', 0])}; with warm-up: "
        f"{describe_outcome(outcome['post_ln', WARMUP])}. A warm-up {warm_up} at this learning rate.",
    ]
    return "\n".join(lines)


def _spread(values, digits=2, percent=False):
    """'0.45 (0.41–0.52)': the median and the range over seeds."""
    values = np.asarray(values, dtype=float)
    shown = [_percent(v) if percent else f"{v:.{digits}f}" for v in (np.median(values), values.min(), values.max())]
    return f"{shown[0]} ({shown[1]}–{shown[2]})"


def warmup_summary(grid, table=True, words=True):
    """Post-LN and Pre-LN at HIGH_LR, without and with a WARMUP-step warm-up, seed by seed summed up in Markdown.

    For each: how many seeds trained, the range of held-out accuracy (no median: the seeds may split into two
    groups), and the median and range over seeds of the mean training loss during the warm-up's steps and during
    the last WARMUP steps. The warm-up "helped early" if it makes the first median at most FASTER times the
    other's (convergence), "helped at the end" likewise for the last. table=False leaves out the table (whose
    per-seed counts and ranges move between runs for seeds on a knife's edge), words=False the judged lines.
    """
    lines = [
        f"| setting | seeds trained | held-out accuracy, range | mean loss, steps 1–{WARMUP}: median (range) "
        f"| mean loss, last {WARMUP} steps: median (range) |",
        "|---|---|---|---|---|",
    ]
    early, late, said_lines = {}, {}, []
    for variant in ("post_ln", "pre_ln"):
        for warmup in (0, WARMUP):
            result = _lookup(grid, (variant, DEEP, HIGH_LR, warmup), "the grid")
            loss, accuracy = np.asarray(result["loss"], dtype=float), np.asarray(result["eval_accuracy"])
            first, last = loss[:, :WARMUP].mean(axis=1), loss[:, -WARMUP:].mean(axis=1)
            early[variant, warmup], late[variant, warmup] = _median(first), _median(last)
            outcome = seed_outcome(result)
            lines.append(
                f"| {setting_label((variant, DEEP, HIGH_LR, warmup))} | {outcome['trained']} of {outcome['seeds']} "
                f"| {_percent(accuracy.min())} to {_percent(accuracy.max())} | {_spread(first)} | {_spread(last)} |"
            )
        said = {"faster": "lower", "slower": "higher", "as fast": "about the same"}
        said_lines.append(
            f"- **{_name(variant)}**: with the warm-up the mean loss of the first {WARMUP} steps is "
            f"{said[convergence(early[variant, WARMUP], early[variant, 0])]}, that of the last {WARMUP} steps "
            f"{said[convergence(late[variant, WARMUP], late[variant, 0])]} (median over seeds; lower: at most "
            f"{FASTER:g} times the other)."
        )
    return "\n".join([*(lines if table else []), *([""] if table and words else []), *(said_lines if words else [])])
