"""The toy task two heads share: "which letter came first, and which came just before me?"

Sequences of N = 10 letters drawn from a to h (V = 8). At every position t >= 2 the answer is the
pair (first letter, letter at t − 1), one of V² = 64 classes, written as two letters: "cf".
Positions 0 and 1 have no answer (there, the first and the previous letter are the same token).

    sample_batch(generator, batch_size)   letters (B, n) and targets (B, n), −100 where there is no answer
    pair_name(label)                      a class 0..63 as its two letters: 21 -> "cf"
    example_letters(seed)                 one sequence as a list of letters and as a (1, n) tensor
    LETTERS, V, N, NO_TARGET, CHANCE      the alphabet, its size, the length, "no answer", a guess's accuracy
"""

import torch

from helpers.library.checks import require_int

__all__ = [
    "LETTERS",
    "V",
    "N",
    "NO_TARGET",
    "CHANCE",
    "sample_batch",
    "pair_name",
    "example_letters",
]

LETTERS = "abcdefgh"
V = len(LETTERS)  # vocabulary size
N = 10  # sequence length
NO_TARGET = -100  # cross_entropy's ignore_index: positions 0 and 1 have no answer
CHANCE = 1 / V  # a guessed letter is right 1 time in 8


def sample_batch(generator, batch_size, n=N):
    """Random letter sequences and their answers.

    generator: a seeded torch.Generator.   batch_size >= 1.   n >= 3.
    Returns letters (batch_size, n) int64 in [0, V) and targets (batch_size, n) int64:
    targets[:, t] = V·letters[:, 0] + letters[:, t − 1] for t >= 2, NO_TARGET for t < 2.
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    batch_size = require_int("batch_size", batch_size, minimum=1)
    n = require_int("n", n, minimum=3)
    letters = torch.randint(0, V, (batch_size, n), generator=generator)
    targets = torch.full_like(letters, NO_TARGET)
    targets[:, 2:] = V * letters[:, :1] + letters[:, 1:-1]  # (first, previous) as one class
    return letters, targets


def pair_name(label):
    """A class number 0..63 as its two letters, e.g. 21 -> "cf" (first letter c, previous letter f)."""
    label = require_int("label", label, minimum=0)
    if label >= V * V:
        raise ValueError(f"label must be below {V * V}, got {label}")
    return LETTERS[label // V] + LETTERS[label % V]


def example_letters(seed=7, n=N):
    """One random sequence as a list of letters, e.g. ['c', 'f', ...], and as a (1, n) int64 tensor."""
    letters, _ = sample_batch(torch.Generator().manual_seed(seed), 1, n=n)
    return [LETTERS[i] for i in letters[0].tolist()], letters
