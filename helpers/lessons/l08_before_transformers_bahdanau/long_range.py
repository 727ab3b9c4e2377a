"""The notes' "superior capture of long-range dependencies", tested on lesson 08's models: letters right by path.

The argument behind the claim (Vaswani et al. 2017, Table 1: maximum path length O(n) for a recurrent layer,
O(1) for self-attention) is that a signal which must pass through many recurrent steps is learned worse. The
fixed summary c = [→h_{n-1}; ←h_0] holds source letter x_j only through the GRU steps taken after reading it:
the forward half has read n-1-j more letters, the backward half j more, so x_j's shortest path into the
summary is min(j, n-1-j) steps: 0 at both ends of the source, about n/2 in the middle. With attention the
decoder reads the annotation h_j itself, which holds x_j with no step in between, whatever j.

    path_lengths(n)                        (n,) long: min(j, n-1-j), the GRU steps from x_j into the summary
    NEAR_PATH, FAR_PATH, LOSES_BY          the test: letters with a path of at most NEAR_PATH steps against
                                           those with at least FAR_PATH; "loses the far letters" = at least
                                           LOSES_BY points fewer right among the far ones
    accuracy_by_position(runs, source, target)   teacher-forced letters right per source position:
                                           {kind: (S seeds, n)} fractions
    long_range_table(by_position)          letters right per position: the median of the seeds (moves by CPU)
    long_range_summary(by_position)        the threshold, the counts over the seeds and the verdict

Teacher forcing (the decoder reads the true previous letter) judges every letter on its own, so an early
mistake does not drag the later letters down with it.
"""

import math

import torch

from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import SCORINGS
from helpers.lessons.l08_before_transformers_bahdanau.training import SeedRuns
from helpers.library.checks import require_int, require_tensor
from helpers.machinery.threads import one_thread

__all__ = [
    "NEAR_PATH",
    "FAR_PATH",
    "LOSES_BY",
    "path_lengths",
    "accuracy_by_position",
    "long_range_table",
    "long_range_summary",
]

NEAR_PATH = 1  # letters at most this many GRU steps from the summary: the "near" group
FAR_PATH = 3  # letters at least this many steps from it: the "far" group
LOSES_BY = 10  # points fewer letters right among the far letters than among the near ones: "loses the far letters"
_MOST = 0.8  # a claim holds when at least this share of the seeds meets it (4 of 5), as in seed_summaries


def path_lengths(n):
    """(n,) long: min(j, n-1-j), the GRU steps between reading x_j and the fixed summary [→h_{n-1}; ←h_0]."""
    n = require_int("n", n, minimum=1)
    j = torch.arange(n)
    return torch.minimum(j, n - 1 - j)


@torch.no_grad()
def accuracy_by_position(runs, source, target):
    """Teacher-forced letters right, per source position, for every model of the stack.

    runs: a SeedRuns   source, target: (N, n) long, target the reversal of source (step i writes x_{n-1-i}).
    Returns {kind: (S, n) float tensor}: the share of the N sequences whose letter x_j (column j) is written
    right, one row per seed in runs.seeds_of(kind) order.
    """
    if not isinstance(runs, SeedRuns):
        raise TypeError(f"runs must be a SeedRuns (from train_seeds), got {type(runs).__name__}")
    require_tensor("source", source)
    require_tensor("target", target)
    if source.ndim != 2 or source.shape != target.shape or source.dtype != torch.long:
        raise ValueError(
            f"source and target must be (N, n) long tensors of one shape, got {tuple(source.shape)} and"
            f" {tuple(target.shape)}"
        )
    if not torch.equal(target, source.flip(-1)):
        raise ValueError("target must be the reversal of source (step i writes source position n-1-i)")
    M = len(runs.kinds)
    with one_thread():
        logits, _ = runs.stacked(source.expand(M, -1, -1), target.expand(M, -1, -1))  # (M, N, n, 26)
    right = (logits.argmax(dim=-1) == target).float().mean(dim=1)  # (M, n): per target step i
    right = right.flip(-1)  # per source position j = n-1-i
    return {
        kind: right[[i for i, k in enumerate(runs.kinds) if k == kind]]
        for kind in sorted(set(runs.kinds), key=SCORINGS.index)
    }


def _count(flags):
    return f"{int(flags.sum())} of {len(flags)} seeds"


def _holds(flags):
    return int(flags.sum()) >= math.ceil(_MOST * len(flags))


def _require_by_position(by_position):
    """(S, n) of the checked {kind: (S, n)} of accuracy_by_position."""
    if not isinstance(by_position, dict) or "none" not in by_position or len(by_position) < 2:
        raise ValueError("by_position must be {kind: (S, n)} with 'none' and at least one attention kind")
    shapes = {tuple(values.shape) for values in by_position.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"every kind needs a (S, n) tensor of one shape, got shapes {sorted(shapes)}")
    S, n = next(iter(shapes))
    if not (path_lengths(n) >= FAR_PATH).any():
        raise ValueError(f"a source of {n} letters has no letter {FAR_PATH} or more steps from the summary")
    return S, n


def _header(n):
    return [
        f"{'source position j':24s}" + "".join(f"{j:4d}" for j in range(n)),
        f"{'path into the summary':24s}" + "".join(f"{p:4d}" for p in path_lengths(n).tolist()),
    ]


def long_range_table(by_position):
    """Text: letters right (%) per source position, the median of the seeds, under each position's path length.

    by_position: {kind: (S, n)} from accuracy_by_position. One seed's accuracy moves by several points from one
    CPU to another, and these medians with it: long_range_summary prints what the seeds agree on.
    """
    S, n = _require_by_position(by_position)
    lines = _header(n) + [f"letters right (%), teacher-forced, median of {S} seeds:"]
    for kind, values in by_position.items():
        lines.append(f"  {kind:22s}" + "".join(f"{p:4.0f}" for p in (100 * values).median(0).values.tolist()))
    return "\n".join(lines)


def long_range_summary(by_position):
    """Text: the path lengths, the threshold, near against far letters counted over the seeds, and the verdict.

    by_position: {kind: (S, n)} from accuracy_by_position; needs "none" and at least one attention kind.
    "loses the far letters" (per seed): the mean over the far positions (path >= FAR_PATH) at least LOSES_BY
    points below the mean over the near ones (path <= NEAR_PATH). The path-length argument is supported when
    the model without attention loses them in at least 4 of 5 seeds and every attention model keeps them
    (does not lose them) in at least 4 of 5.
    """
    S, n = _require_by_position(by_position)
    paths = path_lengths(n)
    near, far = paths <= NEAR_PATH, paths >= FAR_PATH
    lines = _header(n)[1:] + [
        f"threshold: 'loses the far letters' = at least {LOSES_BY} points fewer right at a path of {FAR_PATH} or more"
        f" steps than at {NEAR_PATH} or fewer (teacher-forced);",
        f"a claim holds in at least {math.ceil(_MOST * S)} of the {S} seeds.",
    ]
    loses = {}
    for kind, values in by_position.items():
        percent = 100 * values  # (S, n)
        loses[kind] = percent[:, near].mean(dim=1) - percent[:, far].mean(dim=1) >= LOSES_BY  # (S,)
        lines.append(f"{kind:8s}: loses the far letters in {_count(loses[kind])}")
    attending = [kind for kind in loses if kind != "none"]
    supported = _holds(loses["none"]) and all(_holds(~loses[kind]) for kind in attending)
    verdict = "supported" if supported else "not supported"
    lines.append(f"a long recurrent path loses letters, a direct path (attention) keeps them: {verdict} on this task")
    return "\n".join(lines)
