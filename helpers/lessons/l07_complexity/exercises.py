"""07_complexity's exercises: count attention's FLOPs, predict the crossover, fit a slope, one online-softmax step."""

import math

import numpy as np
import torch

from helpers.machinery.answers import close
from helpers.machinery.exercise_checking import call_learner, checker, error_hint, report

__all__ = ["check_attention_flops", "check_crossover", "check_fit_slope", "check_online_softmax_step"]


def _number(value):
    """The learner's answer as a float, or None if it is not one finite number."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


# --------------------------------------------------------------------------- exercise 1


def _attention_flops(n, d):
    return 8 * n * d * d + 4 * n * n * d


FLOP_CASES = [(1, 1), (8, 4), (64, 64), (1024, 64), (100, 512)]


def _flop_hint(n, d, value):
    """What a wrong count most likely left out, judged from its value."""
    guesses = {
        4 * n * n * d: "you counted the two n×n products but not the four projections (q, k, v and the output)",
        8 * n * d * d: "you counted the four projections but not the two n×n products (q·kᵀ and weights·v)",
        _attention_flops(n, d) // 2: "count 2 FLOPs per multiply-add (one multiply, one add)",
        2 * n * n * d + 8 * n * d * d: "weights·v is a second n×n product: (n, n) @ (n, d), another 2·n²·d",
        n * n * d + n * d * d: "that is the order of growth; count the constants: 2 FLOPs per multiply-add",
        6 * n * d * d + 4 * n * n * d: "there are four projections: q, k, v and the output",
    }
    for guess, hint in guesses.items():
        if n * d > 1 and guess != _attention_flops(n, d) and math.isclose(value, guess, rel_tol=1e-9):
            return hint
    return "an (a, b) @ (b, c) product is a·b·c multiply-adds, 2 FLOPs each; add up the six products"


@checker
def check_attention_flops(fn):
    """Exercise 1: fn(n, d_model) counts the FLOPs of one self-attention layer (projections and both products)."""
    results = []
    for n, d in FLOP_CASES:
        value, error = call_learner(fn, n, d)
        expected = _attention_flops(n, d)
        if error is not None:
            results.append((f"attention_flops({n}, {d}) runs", False, error_hint(error, "return a number")))
            break
        number = _number(value)
        if number is None:
            results.append((f"attention_flops({n}, {d}) returns a number", False, f"it returned {value!r}"))
            break
        passed = math.isclose(number, expected, rel_tol=1e-9)
        results.append((f"attention_flops({n}, {d}) = {expected:,}", passed, _flop_hint(n, d, number)))
    return report("Exercise 1: count the FLOPs of a self-attention layer", results)


# --------------------------------------------------------------------------- exercise 2


@checker
def check_crossover(n_star, d_model=512):
    """Exercise 2: the n at which self-attention's FLOPs (8·n·d² + 4·n²·d) equal the GRU's (12·n·d²), d = 512."""
    results = []
    number = _number(n_star)
    results.append(("n_star is a number", number is not None, "write a number, for example n_star = 100"))
    if number is not None:
        hint = "set 8·n·d² + 4·n²·d equal to 12·n·d² and divide both sides by 4·n·d"
        if math.isclose(number, 3 * d_model, rel_tol=0.01):
            hint = "3·d compares the GRU with the attention products alone; the layer also has its projections"
        elif math.isclose(number, d_model**2, rel_tol=0.01):
            hint = "divide both sides by n·d, not n: the equation is linear in n once you do"
        elif math.isclose(number, math.sqrt(d_model), rel_tol=0.01):
            hint = "the n² term has one factor d, the n·d² terms two: dividing by 4·n·d leaves n = d"
        passed = math.isclose(number, d_model, rel_tol=1e-6)
        results.append((f"FLOPs of attention and GRU are equal at n = {number:g} for d = {d_model}", passed, hint))
    return report("Exercise 2: where does attention start to cost more than a GRU?", results)


# --------------------------------------------------------------------------- exercise 3


def _reference_slope(ns, values):
    return float(np.polyfit(np.log(ns), np.log(values), 1)[0])


def _slope_cases():
    ns = np.array([64.0, 128, 256, 512, 1024, 2048, 4096])
    noise = np.random.default_rng(0).uniform(0.8, 1.25, size=len(ns))
    return [
        ("y = 3·n² (slope 2)", ns, 3 * ns**2),
        ("y = n (slope 1)", ns, ns.copy()),
        ("y = 5·√n (slope 0.5)", ns, 5 * ns**0.5),
        ("y = n²·log n (the notes' curve)", ns, ns**2 * np.log(ns)),
        ("y = n² with ±25 % noise", ns, ns**2 * noise),
    ]


@checker
def check_fit_slope(fn):
    """Exercise 3: fn(ns, values) returns the least-squares slope of log(values) against log(ns)."""
    results = []
    for description, ns, values in _slope_cases():
        value, error = call_learner(fn, ns.tolist(), values.tolist())
        if error is not None:
            results.append((f"{description}: runs", False, error_hint(error, "return one number")))
            break
        number = _number(value)
        expected = _reference_slope(ns, values)
        if number is None:
            results.append((f"{description}: returns a number", False, f"it returned {value!r}"))
            break
        hint = "fit a line to (log n, log y) by least squares over all points, e.g. np.polyfit(..., 1)[0]"
        if math.isclose(number, (math.log(values[-1]) - math.log(values[0])) / (math.log(ns[-1]) - math.log(ns[0]))):
            hint = "the two end points give a slope, but the least-squares line uses every point"
        elif math.isclose(number, float(np.polyfit(ns, values, 1)[0]), rel_tol=1e-6):
            hint = "take the logarithm of both n and y before fitting the line"
        passed = math.isclose(number, expected, rel_tol=1e-6, abs_tol=1e-9)
        results.append((f"{description}: slope {expected:.3f}", passed, hint))
    return report("Exercise 3: fit a slope on log-log axes", results)


# --------------------------------------------------------------------------- exercise 4


def _online_cases():
    """(description, scores (n_q, n_k), values (n_k, d_v), block size)."""
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(4, 12, generator=generator, dtype=torch.float64)
    values = torch.randn(12, 3, generator=generator, dtype=torch.float64)
    rising = torch.arange(12, dtype=torch.float64).repeat(4, 1) * 2.0  # every block brings a new maximum
    return [
        ("one block holding every key", scores, values, 12),
        ("three blocks of 4 keys", scores, values, 4),
        ("blocks of 5, 5 and 2 keys", scores, values, 5),
        ("a new maximum in every block", rising, values, 3),
        ("scores around 1000 (exp(1000) overflows)", scores + 1000.0, values, 4),
    ]


@checker
def check_online_softmax_step(fn):
    """Exercise 4: fn(running_max, running_sum, acc, scores, values) -> (new_max, new_sum, new_acc).

    running_max, running_sum: (n_q, 1); acc: (n_q, d_v); scores: (n_q, b) for a block of b keys;
    values: (b, d_v). After the last block, acc / running_sum must equal softmax(all scores) @ values.
    """
    results = []
    crashed = False
    for description, scores, values, block in _online_cases():
        n_q, d_v = scores.shape[0], values.shape[1]
        state = (
            torch.full((n_q, 1), float("-inf"), dtype=torch.float64),
            torch.zeros(n_q, 1, dtype=torch.float64),
            torch.zeros(n_q, d_v, dtype=torch.float64),
        )
        problem = None
        for start in range(0, scores.shape[1], block):
            block_scores, block_values = scores[:, start : start + block].clone(), values[start : start + block].clone()
            # copies: an in-place `scores -= new_max` of the learner's must not change the checker's own scores
            value, error = call_learner(fn, *state, block_scores, block_values)
            if error is not None:
                problem = error_hint(error, "return the three updated tensors")
                crashed = True
                break
            if not (
                isinstance(value, (tuple, list)) and len(value) == 3 and all(isinstance(t, torch.Tensor) for t in value)
            ):
                problem = f"return a tuple (new_max, new_sum, new_acc) of tensors, got {type(value).__name__}"
                break
            if (
                tuple(value[0].shape) != (n_q, 1)
                or tuple(value[1].shape) != (n_q, 1)
                or tuple(value[2].shape) != (n_q, d_v)
            ):
                shapes = [tuple(t.shape) for t in value]
                problem = f"shapes should be ({n_q}, 1), ({n_q}, 1), ({n_q}, {d_v}); got {shapes}"
                break
            seen = scores[:, : start + block]
            if not close(value[0], seen.amax(dim=-1, keepdim=True)):
                problem = "new_max should be the largest score seen so far: torch.maximum(running_max, block max)"
                break
            state = tuple(value)
        if problem is None:
            output = state[2] / state[1]
            expected = torch.softmax(scores, dim=-1) @ values
            if not torch.isfinite(output).all():
                problem = "the result has inf or NaN: subtract the new maximum before exp"
            elif not close(output, expected):
                problem = (
                    "acc / running_sum differs from softmax(scores) @ values: when the maximum grows, multiply the "
                    "old running_sum and acc by exp(running_max − new_max) before adding the new block"
                )
        results.append((f"{description}: acc / running_sum = softmax(scores) @ values", problem is None, problem))
        if crashed:
            break  # the same error would repeat for every case
    return report("Exercise 4: one step of the online softmax", results)
