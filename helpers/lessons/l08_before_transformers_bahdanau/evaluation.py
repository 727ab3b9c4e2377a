"""Evaluating lesson 08's models: greedy decoding of the held-out sequences, accuracy and alignment per length.

    aligned_weight(weights, expected=None, within=0)   (..., m, n) -> (...,): mean weight on the position to read
                                                        (reversal: step i reads n-1-i), or within `within` of it
    evaluate(model, test_set)      one Seq2Seq: {n: {metric: float}} for the METRICS
    METRICS                        token_accuracy, sequence_accuracy, aligned_weight, aligned_near, aligned_argmax
    SeedEvaluation                 results[kind][metric]: a (S seeds, L lengths) tensor; of(kind, metric), at(...)
    evaluate_seeds(runs, test_set) evaluate for every model of a SeedRuns at once: a SeedEvaluation

Names: m target steps, n source positions, S seeds, L lengths; test_set is {n: (source (N, n), target (N, n))}.
"""

from dataclasses import dataclass

import torch

from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import SCORINGS, Seq2Seq
from helpers.lessons.l08_before_transformers_bahdanau.training import SeedRuns
from helpers.library.checks import require_float_tensor, require_int, require_tensor
from helpers.machinery.threads import one_thread

__all__ = [
    "aligned_weight",
    "evaluate",
    "METRICS",
    "SeedEvaluation",
    "evaluate_seeds",
]


def aligned_weight(weights, expected=None, within=0):
    """Mean weight on the aligned source position: for reversal, step i should read position n-1-i.

    weights: (..., m, n)   expected: (m,) long source positions, default n-1, n-2, ..., n-m.
    within: also count the positions at most `within` away from the expected one (0: that position only).
    Returns a float tensor (...,): 1 for a perfect alignment, about (2·within + 1)/n for uniform weights.
    """
    require_float_tensor("weights", weights)
    if weights.ndim < 2 or 0 in weights.shape[-2:]:
        raise ValueError(f"weights must be (..., m, n) with m, n >= 1, got shape {tuple(weights.shape)}")
    within = require_int("within", within, minimum=0)
    m, n = weights.shape[-2:]
    expected = torch.arange(n - 1, n - 1 - m, -1) if expected is None else expected
    require_tensor("expected", expected)
    if expected.shape != (m,) or expected.is_floating_point() or expected.min() < 0 or expected.max() >= n:
        raise ValueError(f"expected must be (m,) = ({m},) integer positions between 0 and {n - 1}")
    near = (torch.arange(n)[None, :] - expected[:, None]).abs() <= within  # (m, n)
    return (weights * near).sum(dim=-1).mean(dim=-1)


def evaluate(model, test_set):
    """Greedy-decode every held-out sequence; measure per length.

    model: a Seq2Seq   test_set: {n: (source (N, n), target (N, n))}, e.g. from held_out_set.
    Returns {n: {"token_accuracy", "sequence_accuracy", "aligned_weight", "aligned_near", "aligned_argmax"}}
    as floats: aligned_weight is the mean weight on the aligned position n-1-i (see aligned_weight),
    aligned_near the mean weight within one position of it, aligned_argmax the fraction of steps whose
    largest weight is there; all three None without attention.
    """
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"model must be a Seq2Seq, got {type(model).__name__}")
    if not isinstance(test_set, dict) or not test_set:
        raise TypeError("test_set must be a non-empty dict {n: (source, target)}, as held_out_set returns")
    results = {}
    with one_thread():
        for n, (source, target) in test_set.items():
            tokens, weights = model.greedy_decode(source, target.shape[-1])
            correct = tokens == target
            results[n] = {
                "token_accuracy": correct.float().mean().item(),
                "sequence_accuracy": correct.all(dim=-1).float().mean().item(),
                "aligned_weight": None,
                "aligned_near": None,
                "aligned_argmax": None,
            }
            if model.attention is not None:
                expected = torch.arange(n - 1, -1, -1)
                results[n]["aligned_weight"] = aligned_weight(weights).mean().item()
                results[n]["aligned_near"] = aligned_weight(weights, within=1).mean().item()
                results[n]["aligned_argmax"] = (weights.argmax(dim=-1) == expected).float().mean().item()
    return results


METRICS = ("token_accuracy", "sequence_accuracy", "aligned_weight", "aligned_near", "aligned_argmax")


@dataclass
class SeedEvaluation:
    """evaluate_seeds's measurements: results[kind][metric] is a (S, L) tensor, one row per seed (in `seeds`
    order), one column per length (in `lengths` order). The aligned_* metrics exist for attention models only."""

    lengths: list
    seeds: list
    results: dict

    def of(self, kind, metric):
        """(S, L) values of one metric for one kind of model."""
        if kind not in self.results:
            raise ValueError(f"no models of kind {kind!r}; evaluated: {list(self.results)}")
        if metric not in self.results[kind]:
            raise ValueError(f"{kind!r} models have no {metric!r}; they have {list(self.results[kind])}")
        return self.results[kind][metric]

    def at(self, kind, metric, n):
        """(S,) values of one metric for one kind at source length n."""
        if n not in self.lengths:
            raise ValueError(f"length {n} was not evaluated; lengths: {self.lengths}")
        return self.of(kind, metric)[:, self.lengths.index(n)]


def evaluate_seeds(runs, test_set):
    """Greedy-decode every held-out sequence with every model of the stack at once; measure as evaluate does.

    runs: a SeedRuns   test_set: {n: (source (N, n), target (N, n))}, e.g. from held_out_set.
    Returns a SeedEvaluation: per kind, per metric, (S seeds, L lengths) tensors of floats in [0, 1].
    """
    if not isinstance(runs, SeedRuns):
        raise TypeError(f"runs must be a SeedRuns (from train_seeds), got {type(runs).__name__}")
    if not isinstance(test_set, dict) or not test_set:
        raise TypeError("test_set must be a non-empty dict {n: (source, target)}, as held_out_set returns")
    columns = {metric: [] for metric in METRICS}
    for n, (source, target) in test_set.items():
        tokens, weights = runs.stacked.greedy_decode(source, target.shape[-1])  # (M, N, n), (M, N, n, n)
        correct = tokens == target
        columns["token_accuracy"].append(correct.float().mean(dim=(1, 2)))
        columns["sequence_accuracy"].append(correct.all(dim=-1).float().mean(dim=1))
        columns["aligned_weight"].append(aligned_weight(weights).mean(dim=1))
        columns["aligned_near"].append(aligned_weight(weights, within=1).mean(dim=1))
        expected = torch.arange(n - 1, -1, -1)
        columns["aligned_argmax"].append((weights.argmax(dim=-1) == expected).float().mean(dim=(1, 2)))
    table = {metric: torch.stack(values, dim=1) for metric, values in columns.items()}  # (M, L) each
    results = {}
    for kind in sorted(set(runs.kinds), key=SCORINGS.index):
        rows = [i for i, k in enumerate(runs.kinds) if k == kind]
        metrics = METRICS if kind != "none" else METRICS[:2]
        results[kind] = {metric: table[metric][rows] for metric in metrics}
    seeds = runs.seeds_of(runs.kinds[0])
    return SeedEvaluation(lengths=list(test_set), seeds=seeds, results=results)
