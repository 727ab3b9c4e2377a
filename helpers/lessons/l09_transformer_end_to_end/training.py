"""09: training the tiny transformer on the sorting task, seeded and on one CPU thread.

    TRAINING                           the lesson's settings: 300 steps, batches of 128, lr 1e-2, seed 0
    learning_rate(step, steps, lr)     linear warm-up over the first 10 %, then a cosine to 0
    train(...)                         seeded training with helpers.library.optim's Adam; a callback sees every
                                       step's loss. Returns (model, losses: list of `steps` floats)
    Adam, one_thread                   re-exported: the optimizer and the context manager train uses
    one_thread_context                 the same one_thread, under the name lesson 09's exercises import

Each step draws a batch of B sequences: tokens (B, n), targets (B, n), the loss on the scored targets only.
"""

import math

import torch
import torch.nn.functional as F

from helpers.lessons.l09_transformer_end_to_end.sorting_task import IGNORE, sample_batch
from helpers.lessons.l09_transformer_end_to_end.tiny_transformer import CONFIG, TinyTransformer
from helpers.library.checks import require_int, require_number
from helpers.library.optim import Adam
from helpers.machinery.threads import one_thread

__all__ = ["TRAINING", "one_thread", "one_thread_context", "learning_rate", "Adam", "train"]

TRAINING = {"steps": 300, "batch_size": 128, "lr": 1e-2, "seed": 0}
one_thread_context = one_thread  # the name lesson 09's exercises import


def learning_rate(step, steps, lr, warmup=0.1):
    """The learning rate at `step` of `steps`: linear warm-up over the first 10 %, then a cosine to 0."""
    warm = max(1, round(warmup * steps))
    if step < warm:
        return lr * (step + 1) / warm
    progress = (step - warm) / max(1, steps - warm)
    return lr * 0.5 * (1 + math.cos(math.pi * progress))


def train(config=None, steps=None, batch_size=None, lr=None, seed=None, callback=None):
    """Train a TinyTransformer from scratch on the sorting task; returns (model, losses).

    config: model arguments (default CONFIG); steps, batch_size, lr, seed: default TRAINING.
    callback(step, loss): called after every step (e.g. to draw a progress bar and a loss curve).
    Deterministic: the same seed gives the same weights, bit for bit, on the same machine (training
    runs on one CPU thread, restored afterwards). losses: list of `steps` floats (cross-entropy, nats).
    """
    config = dict(CONFIG if config is None else config)
    given = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}
    settings = {name: TRAINING[name] if value is None else value for name, value in given.items()}
    steps = require_int("steps", settings["steps"], minimum=1)
    batch_size = require_int("batch_size", settings["batch_size"], minimum=1)
    lr = require_number("lr", settings["lr"], positive=True)
    seed = require_int("seed", settings["seed"], minimum=0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    with one_thread():  # one thread: repeatable sums, and no fight with the other core's work
        torch.manual_seed(seed)
        model = TinyTransformer(**config)
        generator = torch.Generator().manual_seed(seed)
        optimizer = Adam(model.parameters(), recipe="textbook_addcdiv")
        losses = []
        model.train()
        for step in range(steps):
            tokens, targets = sample_batch(generator, batch_size)
            logits = model(tokens)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step(learning_rate(step, steps, lr))
            losses.append(loss.item())
            if callback is not None:
                callback(step, losses[-1])
    model.eval()
    return model, losses
