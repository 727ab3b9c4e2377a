"""09: saving and loading the tiny transformer, and writing the committed checkpoint.

    CHECKPOINT_NAME, CHECKPOINT_PATH   notebooks/09_checkpoint.pt: the file name and the committed file's path
    STATED_ACCURACY                    the exact match on held_out_set() the committed checkpoint must reach
    save_checkpoint(model, path)       the model's config and weights (a state_dict), plus plain extras
    load_checkpoint(path)              (model in eval mode, extras), read with torch.load(weights_only=True)
    write_checkpoint()                 train with TRAINING's settings and save: how the committed file is made

A checkpoint is a dict {config, state_dict, extra}: plain values and tensors, no pickled classes.
weights_only=True makes torch.load use a restricted unpickler that rebuilds only tensors, containers and plain
values and refuses any other class or function. That closes pickle's usual way of running code, but it is a
safeguard, not a guarantee: the unpickler itself has had bugs that let a crafted file run code
(CVE-2025-32434, fixed in PyTorch 2.6; CVE-2026-24747, fixed in 2.10). Load checkpoints you trust.
"""

from pathlib import Path

import torch

from helpers.lessons.l09_transformer_end_to_end.evaluation import accuracy_by_length
from helpers.lessons.l09_transformer_end_to_end.sorting_task import held_out_set
from helpers.lessons.l09_transformer_end_to_end.tiny_transformer import TinyTransformer
from helpers.lessons.l09_transformer_end_to_end.training import train

__all__ = [
    "STATED_ACCURACY",
    "CHECKPOINT_NAME",
    "CHECKPOINT_PATH",
    "save_checkpoint",
    "write_checkpoint",
    "load_checkpoint",
]

STATED_ACCURACY = 0.95  # exact match on the held-out test set that the committed checkpoint must reach
CHECKPOINT_NAME = "09_checkpoint.pt"
CHECKPOINT_PATH = Path(__file__).resolve().parents[3] / "notebooks" / CHECKPOINT_NAME  # the committed one


def save_checkpoint(model, path, **extra):
    """Save the model's config and weights (a state_dict) with torch.save; `extra` holds plain numbers or text."""
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    torch.save({"config": dict(model.config), "state_dict": model.state_dict(), "extra": extra}, path)


def write_checkpoint(path=CHECKPOINT_PATH, **training):
    """Train with TRAINING's settings (or `training`'s overrides) and save the model with its losses and accuracy.

    This is how notebooks/09_checkpoint.pt is made (one shell command):
    python -c "from helpers.lessons.l09_transformer_end_to_end.checkpoint import write_checkpoint; write_checkpoint()"
    Returns (model, losses, accuracy on held_out_set()).
    """
    model, losses = train(**training)
    accuracy = accuracy_by_length(model, *held_out_set())["all"]
    save_checkpoint(model, path, losses=losses, accuracy=accuracy)
    return model, losses, accuracy


def load_checkpoint(path):
    """Rebuild a TinyTransformer from save_checkpoint's file, in eval mode. Returns (model, extra).

    torch.load(weights_only=True) rebuilds tensors and plain values only (a restricted unpickler): a safeguard
    against code hidden in the file, not a guarantee (see the module's docstring).
    """
    checkpoint = torch.load(path, weights_only=True)
    if not isinstance(checkpoint, dict) or {"config", "state_dict"} - set(checkpoint):
        raise ValueError(f"{path} is not a checkpoint written by save_checkpoint")
    model = TinyTransformer(**checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    return model, checkpoint.get("extra", {})
