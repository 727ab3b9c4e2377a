"""Lesson 07's checkers: the reference solutions pass, plausible mistakes get a hint, nothing raises."""

import math

import numpy as np
import pytest
import torch

from helpers.lessons.l07_complexity.exercises import (
    check_attention_flops,
    check_crossover,
    check_fit_slope,
    check_online_softmax_step,
)

# --------------------------------------------------------------------------- reference solutions


def attention_flops(n, d_model):
    projections = 4 * 2 * n * d_model * d_model  # q, k, v and output: (n, d) @ (d, d) each
    products = 2 * (2 * n * n * d_model)  # q·kᵀ: (n, d) @ (d, n); weights·v: (n, n) @ (n, d)
    return projections + products


def fit_slope(ns, values):
    return float(np.polyfit(np.log(ns), np.log(values), 1)[0])


def online_softmax_step(running_max, running_sum, acc, scores, values):
    new_max = torch.maximum(running_max, scores.amax(dim=-1, keepdim=True))
    correction = torch.exp(running_max - new_max)
    p = torch.exp(scores - new_max)
    return new_max, running_sum * correction + p.sum(dim=-1, keepdim=True), acc * correction + p @ values


def raises(*args):
    raise NotImplementedError


def crashes(*args):
    raise ZeroDivisionError("division by zero")


# --------------------------------------------------------------------------- exercise 1


def test_attention_flops_accepts_the_solution(capsys):
    assert check_attention_flops(attention_flops) is True
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda n, d: 4 * n * n * d, "not the four projections"),
        (lambda n, d: 8 * n * d * d, "not the two n×n products"),
        (lambda n, d: (8 * n * d * d + 4 * n * n * d) // 2, "2 FLOPs per multiply-add"),
        (lambda n, d: n * n * d + n * d * d, "count the constants"),
        (lambda n, d: 6 * n * d * d + 4 * n * n * d, "four projections"),
        (lambda n, d: "many", "returns a number"),
        (raises, "`raise NotImplementedError` with your code"),
        (crashes, "ZeroDivisionError"),
    ],
)
def test_attention_flops_rejects_mistakes(answer, hint, capsys):
    assert check_attention_flops(answer) is False
    assert hint in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 2


def test_crossover_accepts_d(capsys):
    assert check_crossover(512) is True
    assert check_crossover(512.0) is True
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "write a number"),
        ("512", "write a number"),
        (float("inf"), "write a number"),
        (1536, "projections"),
        (512**2, "divide both sides by n·d"),
        (math.sqrt(512), "leaves n = d"),
        (100, "divide both sides by 4·n·d"),
    ],
)
def test_crossover_rejects_mistakes(answer, hint, capsys):
    assert check_crossover(answer) is False
    assert hint in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 3


def test_fit_slope_accepts_the_solution(capsys):
    assert check_fit_slope(fit_slope) is True
    out = capsys.readouterr().out
    assert "all checks passed" in out and "slope 2.000" in out


def end_points(ns, values):
    return (math.log(values[-1]) - math.log(values[0])) / (math.log(ns[-1]) - math.log(ns[0]))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (end_points, "least-squares line uses every point"),
        (lambda ns, values: float(np.polyfit(ns, values, 1)[0]), "take the logarithm of both"),
        (lambda ns, values: float(np.polyfit(np.log(ns), values, 1)[0]), "least squares"),
        (lambda ns, values: [1, 2], "returns a number"),
        (raises, "`raise NotImplementedError` with your code"),
    ],
)
def test_fit_slope_rejects_mistakes(answer, hint, capsys):
    assert check_fit_slope(answer) is False
    assert hint in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 4


def test_online_softmax_step_accepts_the_solution(capsys):
    assert check_online_softmax_step(online_softmax_step) is True
    assert "all checks passed" in capsys.readouterr().out


def no_rescaling(running_max, running_sum, acc, scores, values):
    new_max = torch.maximum(running_max, scores.amax(dim=-1, keepdim=True))
    p = torch.exp(scores - new_max)
    return new_max, running_sum + p.sum(dim=-1, keepdim=True), acc + p @ values


def no_max(running_max, running_sum, acc, scores, values):
    new_max = torch.maximum(running_max, scores.amax(dim=-1, keepdim=True))
    p = torch.exp(scores)
    return new_max, running_sum + p.sum(dim=-1, keepdim=True), acc + p @ values


def block_max_only(running_max, running_sum, acc, scores, values):
    new_max = scores.amax(dim=-1, keepdim=True)
    correction = torch.exp(running_max - new_max)
    p = torch.exp(scores - new_max)
    return new_max, running_sum * correction + p.sum(dim=-1, keepdim=True), acc * correction + p @ values


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (no_rescaling, "multiply the old running_sum and acc by exp(running_max − new_max)"),
        (no_max, "subtract the new maximum before exp"),
        (block_max_only, "largest score seen so far"),
        (lambda m, s, a, sc, v: (m, s), "return a tuple (new_max, new_sum, new_acc)"),
        (lambda m, s, a, sc, v: (m, s, a[:1]), "shapes should be"),
        (raises, "`raise NotImplementedError` with your code"),
        (crashes, "ZeroDivisionError"),
    ],
)
def test_online_softmax_step_rejects_mistakes(answer, hint, capsys):
    assert check_online_softmax_step(answer) is False
    assert hint in capsys.readouterr().out
