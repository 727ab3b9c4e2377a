"""Training the letter-task models: seeded, on one CPU thread, side by side, cached.

Training is seeded and runs on one CPU thread, so it is repeatable; its Adam is helpers.library.optim.Adam,
whose square roots are correctly rounded on any CPU (torch.optim.Adam's are not, and importing it costs a
fresh kernel 2 to 3 s). The models train side by side (helpers.lessons.l05_multi_head_attention.side_by_side).

    train_side_by_side(runs)              one trained model per (n_heads, seed), all side by side (cached)
    train_head_models(n_heads, seeds)     the same for one number of heads
    train_head_model(n_heads, seed)       one of them
    SEEDS, FOUR_HEAD_SEEDS                the lesson's ten seeds (one and two heads) and five (four heads)
"""

import torch
from torch import nn

from helpers.lessons.l05_multi_head_attention.letter_task import NO_TARGET, V, sample_batch
from helpers.lessons.l05_multi_head_attention.letter_task_model import _check_heads_and_seed, evaluate, initial_model
from helpers.lessons.l05_multi_head_attention.side_by_side import StackedLetterTaskModels
from helpers.library.checks import require_int, require_int_list, require_number
from helpers.library.optim import Adam
from helpers.machinery.threads import one_thread

__all__ = [
    "SEEDS",
    "FOUR_HEAD_SEEDS",
    "train_side_by_side",
    "train_head_models",
    "train_head_model",
]

STEPS, BATCH_SIZE, LEARNING_RATE = 200, 64, 5e-3
SEEDS = tuple(range(10))  # lesson 05 trains one model per seed with one head and with two heads ...
FOUR_HEAD_SEEDS = SEEDS[:5]  # ... and with four heads on the first five (the lesson's time budget)


def _stacked_losses(logits, targets):
    """Each model's mean cross-entropy over the positions with an answer. logits (M, B, n, V²), targets (M, B, n)."""
    models = logits.shape[0]
    losses = nn.functional.cross_entropy(
        logits.reshape(-1, V * V), targets.reshape(-1), ignore_index=NO_TARGET, reduction="none"
    )  # 0 where there is no answer
    counted = (targets != NO_TARGET).reshape(models, -1).sum(dim=1)  # (M,)
    return losses.view(models, -1).sum(dim=1) / counted


_TRAINED = {}


def train_side_by_side(runs, steps=STEPS, batch_size=BATCH_SIZE, lr=LEARNING_RATE, progress=False):
    """Train one LetterTaskModel per run with Adam on fresh random batches, all side by side in one stack.

    runs: a list of distinct (n_heads, seed) pairs: n_heads divides D_MODEL = 32; seed sets the model's
    initial weights (initial_model(n_heads, seed)) and its own stream of batches. Models with the same
    n_heads next to each other share their attention operations (StackedLetterTaskModels), so list them so.
    progress: show a tqdm bar. Runs on one CPU thread (restored afterwards) so that the result does not
    depend on the thread count, and leaves torch's global random state as it was. Cached: a run trained
    before with the same settings is not trained again (do not train its model further); the others
    train together.
    Returns a list, one dict per run: model, n_heads, seed, losses (list of steps floats), and
    evaluate(model)'s entries.
    """
    if isinstance(runs, (str, bytes)) or not hasattr(runs, "__iter__"):
        raise TypeError(f"runs must be a list of (n_heads, seed) pairs, got {type(runs).__name__}")
    runs = [_check_heads_and_seed(*run) for run in runs]
    if not runs:
        raise ValueError("runs is empty: give at least one (n_heads, seed)")
    if len(set(runs)) != len(runs):
        raise ValueError(f"runs must differ from each other, got {runs}")
    steps = require_int("steps", steps, minimum=1)
    batch_size = require_int("batch_size", batch_size, minimum=1)
    lr = require_number("lr", lr, positive=True)
    missing = [run for run in runs if (*run, steps, batch_size, lr) not in _TRAINED]
    if missing:
        for result in _train(missing, steps, batch_size, lr, progress):
            _TRAINED[(result["n_heads"], result["seed"], steps, batch_size, lr)] = result
    return [_TRAINED[(*run, steps, batch_size, lr)] for run in runs]


def train_head_models(n_heads=2, seeds=(0,), steps=STEPS, batch_size=BATCH_SIZE, lr=LEARNING_RATE, progress=False):
    """train_side_by_side for one number of heads: one dict per seed (distinct ints)."""
    n_heads = _check_heads_and_seed(n_heads, 0)[0]
    return train_side_by_side(
        [(n_heads, seed) for seed in require_int_list("seeds", seeds, 0, distinct=True, what="seed")],
        steps,
        batch_size,
        lr,
        progress,
    )


def train_head_model(n_heads=2, seed=0, steps=STEPS, batch_size=BATCH_SIZE, lr=LEARNING_RATE, progress=False):
    """One model of train_side_by_side: the dict for (n_heads, seed), trained now if it was not before."""
    return train_side_by_side([(n_heads, seed)], steps, batch_size, lr, progress)[0]


def _train(runs, steps, batch_size, lr, progress):
    with one_thread():
        models = [initial_model(n_heads, seed) for n_heads, seed in runs]
        stack = StackedLetterTaskModels(models)
        generators = [torch.Generator().manual_seed(seed) for _, seed in runs]
        optimizer = Adam(stack.parameters(), lr=lr, recipe="torch")
        losses = []
        bar = _progress_bar(steps, _describe(runs)) if progress else None
        for _ in range(steps):
            batches = [sample_batch(generator, batch_size) for generator in generators]
            letters = torch.stack([letters for letters, _ in batches])  # (M, B, n)
            targets = torch.stack([targets for _, targets in batches])
            logits, _ = stack(letters)
            loss = _stacked_losses(logits, targets)  # (M,)
            optimizer.zero_grad()
            loss.sum().backward()  # the sum's gradient for model m is model m's own
            optimizer.step()
            losses.append(loss.tolist())
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        stack.copy_into(models)
    results = []
    for m, (model, (n_heads, seed)) in enumerate(zip(models, runs, strict=True)):
        model.eval()
        own_losses = [step_losses[m] for step_losses in losses]
        results.append({"model": model, "n_heads": n_heads, "seed": seed, "losses": own_losses} | evaluate(model))
    return results


def _describe(runs):
    if len(runs) == 1:
        n_heads, seed = runs[0]
        return f"{n_heads} head{'s' * (n_heads > 1)}, seed {seed}"
    return f"{len(runs)} models"


def _progress_bar(total, description):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="step")
