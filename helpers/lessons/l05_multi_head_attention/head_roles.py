"""What each head of a letter-task model does: where its weight goes, its job, what it answers alone.

Shapes: weights (..., n_heads, n, n), rows summing to 1; a result is a dict of train_head_models' or a row
of compare_head_counts'.

    head_weight_on(weights)               per head: the mean weight on the first and on the previous token
    head_role(first, previous)            "first token", "previous token" or "mixed"
    splits_the_jobs(result)               one head does "first token", another "previous token" (head_role)
    answers_one_half(model, head)         the head alone gets one letter right (>= 85 %), the other not (<= 30 %)
"""

import torch

from helpers.lessons.l05_multi_head_attention.letter_task_model import evaluate
from helpers.library.checks import require_tensor

__all__ = [
    "head_weight_on",
    "head_role",
    "splits_the_jobs",
    "answers_one_half",
]

OWN_HALF, OTHER_HALF = 0.85, 0.3  # a head alone "answers one half": one letter >= 85 % right, the other <= 30 %


def head_weight_on(weights):
    """Per head, the mean weight a token t >= 2 puts on the first token and on the token before it.

    weights: (..., n_heads, n, n) with n >= 3. Returns (first (n_heads,), previous (n_heads,)).
    """
    require_tensor("weights", weights)
    if weights.ndim < 3 or weights.shape[-1] != weights.shape[-2] or weights.shape[-1] < 3:
        raise ValueError(f"weights must have shape (..., n_heads, n, n) with n >= 3, got {tuple(weights.shape)}")
    n = weights.shape[-1]
    rows = weights.reshape(-1, *weights.shape[-3:])[..., 2:, :]  # (batch, n_heads, n − 2, n): queries t >= 2
    first = rows[..., 0].mean(dim=(0, 2))
    t = torch.arange(2, n)
    previous = rows[..., torch.arange(n - 2), t - 1].mean(dim=(0, 2))
    return first, previous


def head_role(first, previous, threshold=0.8):
    """A head's job in words: "first token", "previous token", or "mixed" (neither above threshold)."""
    if first > threshold:
        return "first token"
    if previous > threshold:
        return "previous token"
    return "mixed"


def _roles(result):
    if "roles" in result:
        return list(result["roles"])
    first, previous = head_weight_on(result["weights"])
    return [head_role(f, p) for f, p in zip(first.tolist(), previous.tolist(), strict=True)]


def splits_the_jobs(result):
    """True if one head is a "first token" head and another a "previous token" head, and no head is mixed."""
    roles = _roles(result)
    return "mixed" not in roles and {"first token", "previous token"} <= set(roles)


def answers_one_half(model, head, own=OWN_HALF, other=OTHER_HALF):
    """True if `head` kept alone (the others switched off) gets one letter right at `own` of the test
    positions or more and the other letter at `other` or less: it answers one half of the question."""
    alone = evaluate(model, keep_heads=[head])
    letters = sorted((alone["first_accuracy"], alone["previous_accuracy"]))
    return letters[1] >= own and letters[0] <= other
