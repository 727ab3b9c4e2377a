"""Lesson 08's toy task: reversing a sequence of distinct letters, with a fixed held-out split.

    SYMBOLS, BOS          the 26 letters (ids 0..25) and the decoder's start token (id 26)
    to_tokens(ids)        letters of a 1-D sequence of ids (n,); BOS shows as '<s>'
    to_ids(text)          a string of letters as a 1-D long tensor of ids (n,)
    is_held_out(source)   (..., n) long -> (...,) bool: the sequences never in a training batch (ids sum to a
                          multiple of HELD_OUT_EVERY, about one in five)
    reversal_batch(batch_size, n, generator, held_out=False)
                          (source (batch_size, n), target (batch_size, n)) with target = source reversed
    held_out_set(lengths, per_length=200, seed=1234)
                          {n: (source (per_length, n), target (per_length, n))}: the fixed evaluation set

Names: n source positions, the same number of target steps (the target is the source reversed).
"""

import torch

from helpers.library.checks import require_int, require_int_list, require_tensor

__all__ = [
    "SYMBOLS",
    "BOS",
    "to_tokens",
    "to_ids",
    "is_held_out",
    "reversal_batch",
    "held_out_set",
]

SYMBOLS = list("abcdefghijklmnopqrstuvwxyz")  # the source and target vocabulary: 26 letters, ids 0..25
BOS = len(SYMBOLS)  # id 26: "start of sequence", the decoder's input at step 0 (target vocabulary only)
HELD_OUT_EVERY = 5  # a sequence whose ids sum to a multiple of 5 is held out: never in a training batch


def to_tokens(ids):
    """Letters of a 1-D sequence of ids (a list or tensor); BOS shows as '<s>'."""
    ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i <= BOS:
            raise ValueError(f"ids must be ints between 0 and {BOS}, got {ids!r}")
    return [SYMBOLS[i] if i < BOS else "<s>" for i in ids]


def to_ids(text):
    """A string of letters from SYMBOLS ('cab') as a 1-D long tensor of ids (n,)."""
    if not isinstance(text, str) or not text:
        raise TypeError(f"text must be a non-empty string of the letters {''.join(SYMBOLS)}, got {text!r}")
    unknown = sorted(set(text) - set(SYMBOLS))
    if unknown:
        raise ValueError(f"text {text!r} holds letters outside {''.join(SYMBOLS)}: {unknown}")
    return torch.tensor([SYMBOLS.index(letter) for letter in text])


def is_held_out(source):
    """True for the sequences kept out of training: ids summing to a multiple of HELD_OUT_EVERY.

    source: (..., n) long. Returns a bool tensor (...,). About one sequence in five is held out.
    """
    require_tensor("source", source)
    return source.sum(dim=-1) % HELD_OUT_EVERY == 0


def _require_generator(generator):
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")


def reversal_batch(batch_size, n, generator, held_out=False):
    """A batch of the toy task: random sequences of n letters and their reversals.

    batch_size, n: ints >= 1.   generator: a torch.Generator (the batch depends only on its state).
    held_out: False draws only training sequences, True only held-out ones (see is_held_out).
    Returns (source (batch_size, n) long, target (batch_size, n) long) with target = source reversed.
    """
    batch_size = require_int("batch_size", batch_size, minimum=1)
    n = require_int("n", n, minimum=1)
    _require_generator(generator)
    if n > len(SYMBOLS):
        raise ValueError(f"n={n} is longer than the {len(SYMBOLS)} letters: a sequence never repeats a letter")
    source = _distinct_letters(batch_size, n, generator)
    wrong = is_held_out(source) != held_out
    while wrong.any():  # redraw the rows on the wrong side of the split
        source[wrong] = _distinct_letters(int(wrong.sum()), n, generator)
        wrong = is_held_out(source) != held_out
    return source, source.flip(-1)


def _distinct_letters(batch_size, n, generator):
    """(batch_size, n) ids, each row n different letters in random order."""
    return torch.rand(batch_size, len(SYMBOLS), generator=generator).argsort(dim=-1)[:, :n]


def held_out_set(lengths, per_length=200, seed=1234):
    """A fixed evaluation set of held-out sequences: {n: (source (per_length, n), target (per_length, n))}."""
    lengths = require_int_list("lengths", lengths, minimum=1, what="length")
    per_length = require_int("per_length", per_length, minimum=1)
    generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
    return {n: reversal_batch(per_length, n, generator, held_out=True) for n in lengths}
