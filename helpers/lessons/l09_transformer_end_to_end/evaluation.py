"""09: how well the model sorts: exact match per sequence, and accuracy per input length.

    exact_match(model, tokens, targets)         bool (B,): every output digit predicted right (teacher forcing)
    accuracy_by_length(model, tokens, targets)  {"all": float, L: float, ...}: exact match overall and per L

tokens, targets: int64 (B, n), as the sorting task's sample_batch and held_out_set make them.
"""

import torch

from helpers.lessons.l09_transformer_end_to_end.sorting_task import IGNORE, MAX_DIGITS, MIN_DIGITS, input_lengths
from helpers.library.checks import require_tensor
from helpers.machinery.threads import one_thread

__all__ = ["exact_match", "accuracy_by_length"]


def _check_pair(tokens, targets):
    require_tensor("tokens", tokens)
    require_tensor("targets", targets)
    if tokens.shape != targets.shape or tokens.ndim != 2:
        raise ValueError(f"tokens and targets must both be (B, n), got {tuple(tokens.shape)}, {tuple(targets.shape)}")


@one_thread()
def exact_match(model, tokens, targets):
    """Per sequence: is every output digit predicted right? bool (B,).

    One forward pass with the true tokens as input (teacher forcing). Because of the causal mask,
    this equals greedy generation's verdict: if every prediction is right given a right prefix,
    generating token by token builds exactly that prefix; at the first wrong one, both fail.
    """
    _check_pair(tokens, targets)
    with torch.no_grad():
        predicted = model(tokens).argmax(dim=-1)  # (B, n)
    scored = targets != IGNORE
    return ((predicted == targets) | ~scored).all(dim=-1)


def accuracy_by_length(model, tokens, targets):
    """Exact-match accuracy overall and per input length: {"all": float, L: float, ...}."""
    correct = exact_match(model, tokens, targets).float()
    lengths = input_lengths(tokens)
    result = {"all": correct.mean().item()}
    for length in range(MIN_DIGITS, MAX_DIGITS + 1):
        chosen = lengths == length
        if chosen.any():
            result[length] = correct[chosen].mean().item()
    return result
