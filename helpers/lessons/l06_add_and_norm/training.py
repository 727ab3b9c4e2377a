"""Experiment 2 of lesson 06: train every setting (variant, depth, learning rate, warm-up) over seeds, with Adam.

Models of the same depth train side by side in one helpers.lessons.l06_add_and_norm.stacked_models.StackedModels;
seed s fixes a model's initial weights and its batches. Shapes: S seeds of a setting, `steps` training steps.

    training_grid(settings, seeds)   {setting: loss (S, steps), eval_loss (S,), eval_accuracy (S,), diverged_at (S,)}
    setting_label(setting)           'Pre-LN, depth 6, lr 0.03, warm-up 25' for ("pre_ln", 6, 0.03, 25)
    DIVERGED_LOSS                    a run whose loss is not finite or above this has diverged
"""

import contextlib

import torch

from helpers.lessons.l06_add_and_norm.blocks import VARIANT_LABELS, VARIANTS, require_variant
from helpers.lessons.l06_add_and_norm.stacked_models import StackedAdam, StackedModels, per_model_loss, warmup_lrs
from helpers.lessons.l06_add_and_norm.task import DATA_SEED, EVAL_SEED, MODEL, VOCAB, above_average_task
from helpers.library.checks import require_int, require_int_list, require_number
from helpers.machinery.threads import one_thread

__all__ = ["DIVERGED_LOSS", "training_grid", "setting_label"]

DIVERGED_LOSS = 10.0  # a run whose loss is not finite or above this has diverged (chance is ln 2 ≈ 0.69)


def _progress(total, description, enabled):
    """A tqdm.auto progress bar (a widget in a notebook), or a silent stand-in."""
    if not enabled:
        return contextlib.nullcontext(_Silent())
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=True)


class _Silent:
    def update(self, count=1):
        pass


def _require_setting(setting):
    if not isinstance(setting, tuple) or len(setting) != 4:
        raise TypeError(f"a setting is a tuple (variant, depth, lr, warmup), got {setting!r}")
    variant, depth, lr, warmup = setting
    require_variant(variant)
    require_int("depth", depth, minimum=1)
    require_number("lr", lr, positive=True)
    require_int("warmup", warmup, minimum=0)
    return setting


def setting_label(setting):
    """'Pre-LN, depth 6, lr 0.03, warm-up 25' for the setting ("pre_ln", 6, 0.03, 25)."""
    variant, depth, lr, warmup = _require_setting(setting)
    label = f"{VARIANT_LABELS[variant].split(':')[0]}, depth {depth}, lr {lr:g}"
    return label + (f", warm-up {warmup}" if warmup else "")


def _train_group(depth, runs, steps, batch, eval_tokens, eval_labels, model, bar):
    """Train len(runs) models of one depth side by side; runs: [(variant, lr, warmup, seed)]."""
    seeds = [seed for _, _, _, seed in runs]
    stack = StackedModels([variant for variant, _, _, _ in runs], depth, seeds, vocab=VOCAB, n_classes=2, **model)
    optimiser = StackedAdam(stack.parameters())
    base_lrs = torch.tensor([lr for _, lr, _, _ in runs], dtype=torch.float32)
    warmups = torch.tensor([warmup for _, _, warmup, _ in runs])
    streams = {}
    for seed in sorted(set(seeds)):
        tokens, labels = above_average_task(steps * batch, torch.Generator().manual_seed(DATA_SEED + seed))
        streams[seed] = (tokens.view(steps, batch, -1), labels.view(steps, batch, -1))
    tokens = torch.stack([streams[seed][0] for seed in seeds], dim=1)  # (steps, M, B, n)
    labels = torch.stack([streams[seed][1] for seed in seeds], dim=1)
    history = torch.empty(steps, len(runs))
    for step in range(steps):
        losses = per_model_loss(stack(tokens=tokens[step]), labels[step])  # (M,)
        history[step] = losses.detach()
        # A diverged model's NaN stays in its own slice (no operation mixes models); it adds 0 to the sum.
        total = torch.where(torch.isfinite(losses), losses, torch.zeros(())).sum()
        optimiser.zero_grad()
        total.backward()
        optimiser.step(warmup_lrs(step, base_lrs, warmups))
        bar.update(1)
    with torch.no_grad():
        logits = stack(tokens=eval_tokens)
        eval_loss = per_model_loss(logits, eval_labels)
        eval_accuracy = (logits.argmax(dim=-1) == eval_labels).double().mean(dim=(1, 2))
    bad = ~torch.isfinite(history) | (history > DIVERGED_LOSS)  # (steps, M)
    diverged_at = torch.where(bad.any(dim=0), bad.double().argmax(dim=0), torch.full((len(runs),), -1.0))
    return history, eval_loss, eval_accuracy, diverged_at


def training_grid(settings, seeds=(0, 1, 2), steps=120, batch=8, eval_sequences=256, model=None, progress=False):
    """Experiment 2: train every setting (variant, depth, lr, warmup) once per seed, with Adam.

    seeds: a list of seeds for every setting, or a dict {setting: its own list of seeds}, so that a setting
    whose outcome varies from seed to seed can have more of them. warmup: 0, or the number of steps over
    which the learning rate rises linearly to lr. Models of the same depth train side by side (one
    StackedModels); seed s fixes the initial weights and the batches, so two settings with the same seed
    start from the same weights and see the same data. After training, each model is scored on the same
    `eval_sequences` held-out sequences.
    Returns {setting: {"seeds": [...], "loss": (S, steps) training loss per step, "eval_loss": (S,),
    "eval_accuracy": (S,), "diverged_at": (S,) first step whose loss was not finite or above
    DIVERGED_LOSS, −1 if none}}, S the setting's number of seeds. progress=True shows a tqdm.auto progress bar.
    """
    if isinstance(settings, tuple) or not hasattr(settings, "__iter__"):
        raise TypeError(f"settings must be a list of (variant, depth, lr, warmup) tuples, got {settings!r}")
    settings = [_require_setting(setting) for setting in settings]
    if not settings or len(set(settings)) != len(settings):
        raise ValueError(f"settings must be a non-empty list without repeats, got {settings!r}")
    if isinstance(seeds, dict):
        missing = [setting for setting in settings if setting not in seeds]
        if missing:
            raise ValueError(f"seeds is a dict without an entry for {missing}")
        seeds_of = {
            setting: require_int_list(f"seeds of {setting}", seeds[setting], 0, what="seed") for setting in settings
        }
    else:
        seeds = require_int_list("seeds", seeds, 0, what="seed")
        seeds_of = dict.fromkeys(settings, seeds)
    steps = require_int("steps", steps, minimum=1)
    batch = require_int("batch", batch, minimum=1)
    model = dict(MODEL if model is None else model)
    eval_tokens, eval_labels = above_average_task(
        require_int("eval_sequences", eval_sequences, minimum=1), torch.Generator().manual_seed(EVAL_SEED)
    )
    groups = {}
    for setting in sorted(settings, key=lambda s: VARIANTS.index(s[0])):  # a variant's models side by side: faster
        groups.setdefault(setting[1], []).append(setting)
    results = {}
    with one_thread(), _progress(len(groups) * steps, "training", progress) as bar:
        for depth, members in groups.items():
            runs = [
                (variant, lr, warmup, seed)
                for (variant, _, lr, warmup) in members
                for seed in seeds_of[variant, depth, lr, warmup]
            ]
            history, eval_loss, eval_accuracy, diverged_at = _train_group(
                depth, runs, steps, batch, eval_tokens, eval_labels, model, bar
            )
            start = 0
            for setting in members:
                columns = slice(start, start + len(seeds_of[setting]))
                start = columns.stop
                results[setting] = {
                    "seeds": seeds_of[setting],
                    "loss": history[:, columns].T.double().numpy(),
                    "eval_loss": eval_loss[columns].double().numpy(),
                    "eval_accuracy": eval_accuracy[columns].numpy(),
                    "diverged_at": diverged_at[columns].numpy().astype(int),
                }
    return {setting: results[setting] for setting in settings}
