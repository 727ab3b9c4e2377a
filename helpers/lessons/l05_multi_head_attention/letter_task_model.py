"""The model of the letter task: embeddings, one multi-head attention layer, a readout; and its test score.

The model is one multi-head attention layer (helpers.library.layers.MultiHeadAttention) between learned
token + position embeddings and a linear readout, with a residual connection:

    x = embed(letters) + position          (B, n, d_model)
    logits = readout(x + attention(x))     (B, n, 64)

Attention is the only part that moves information between positions, so what each head looks at
is all the model can use.

    LetterTaskModel(n_heads)                letters (B, n) -> logits (B, n, V²), weights (B, n_heads, n, n)
    initial_model(n_heads, seed)          the untrained model that training starts from
    evaluate(model)                       accuracy on a fixed test set: both letters, each letter
    D_MODEL                               the model's width, 32, whatever the number of heads
"""

import functools

import torch
from torch import nn

from helpers.lessons.l05_multi_head_attention.letter_task import NO_TARGET, N, V, sample_batch
from helpers.library.checks import require_int, require_tensor
from helpers.library.layers import MultiHeadAttention
from helpers.library.multi_head_attention import multi_head_attention, projections_of
from helpers.machinery.threads import one_thread

__all__ = [
    "D_MODEL",
    "LetterTaskModel",
    "initial_model",
    "evaluate",
]

D_MODEL = 32
TEST_SEED = 1234


class LetterTaskModel(nn.Module):
    """Embeddings, one multi-head attention layer with a residual connection, a linear readout.

    letters (B, n) int64 -> logits (B, n, V²), weights (B, n_heads, n, n).
    """

    def __init__(self, n_heads, d_model=D_MODEL, n=N):
        super().__init__()
        self.n_heads, self.d_model, self.n = n_heads, d_model, n
        self.embed = nn.Embedding(V, d_model)
        self.position = nn.Parameter(torch.randn(n, d_model))  # one learned vector per position
        self.attention = MultiHeadAttention(d_model, n_heads)
        self.readout = nn.Linear(d_model, V * V)

    def forward(self, letters, keep_heads=None):
        """keep_heads: None, or the heads to keep; the others' outputs are zeroed (an ablation)."""
        require_tensor("letters", letters)
        if letters.dtype != torch.int64 or letters.ndim != 2 or not 1 <= letters.shape[1] <= self.n:
            raise ValueError(
                f"letters must be int64 (B, n) with 1 <= n <= {self.n}, got {letters.dtype} {tuple(letters.shape)}"
            )
        if letters.numel() and not ((letters >= 0) & (letters < V)).all():
            raise ValueError(f"letters must lie in [0, {V})")
        x = self.embed(letters) + self.position[: letters.shape[1]]  # (B, n, d_model)
        if keep_heads is None:
            attended, weights = self.attention(x)
        else:  # the same layer, computed one head at a time so that heads can be left out
            attended, weights = multi_head_attention(
                x, projections_of(self.attention), self.n_heads, keep_heads=keep_heads
            )
        return self.readout(x + attended), weights


def initial_model(n_heads=2, seed=0):
    """The untrained LetterTaskModel that train_head_model(n_heads, seed) starts from.

    Seeds its own copy of torch's random state, leaving the global one as it was.
    """
    n_heads, seed = _check_heads_and_seed(n_heads, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LetterTaskModel(n_heads)


def _check_heads_and_seed(n_heads, seed):
    n_heads = require_int("n_heads", n_heads, minimum=1)
    if D_MODEL % n_heads:
        raise ValueError(f"n_heads must divide d_model={D_MODEL}, got {n_heads}")
    return n_heads, require_int("seed", seed, minimum=0)


def _loss(logits, targets):
    return nn.functional.cross_entropy(logits.reshape(-1, V * V), targets.reshape(-1), ignore_index=NO_TARGET)


@functools.cache
def _test_set(n_sequences=1000):
    return sample_batch(torch.Generator().manual_seed(TEST_SEED), n_sequences)


def evaluate(model, keep_heads=None):
    """The model on 1,000 fixed test sequences (positions t >= 2), on one CPU thread.

    Returns a dict: loss, accuracy (both letters right), first_accuracy, previous_accuracy (each letter
    right on its own) as floats, and weights (1000, n_heads, n, n).
    """
    if not isinstance(model, LetterTaskModel):
        raise TypeError(f"model must be a LetterTaskModel, got {type(model).__name__}")
    letters, targets = _test_set()
    with one_thread(), torch.no_grad():
        logits, weights = model(letters, keep_heads=keep_heads)
    predicted, answer = logits[:, 2:].argmax(dim=-1), targets[:, 2:]  # (1000, n − 2)
    return {
        "loss": float(_loss(logits, targets)),
        "accuracy": float((predicted == answer).float().mean()),
        "first_accuracy": float((predicted // V == answer // V).float().mean()),
        "previous_accuracy": float((predicted % V == answer % V).float().mean()),
        "weights": weights,
    }
