"""Lesson 06's checkers: the reference solutions pass, plausible mistakes get a hint, nothing raises."""

import math

import pytest
import torch

from helpers.lessons.l06_add_and_norm.exercises import (
    check_output_is_normalised,
    check_pre_ln,
    check_residual_rms,
    check_rms_norm,
    simulate_residual_rms,
)

# --------------------------------------------------------------------------- reference solutions


def my_rms_norm(x, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)


def my_pre_ln(x, sublayer, norm):
    return x + sublayer(norm(x))


def residual_rms(rms0, c, depth):
    return rms0 * (1 + c) ** (depth / 2)


def output_is_normalised(block, x):
    with torch.no_grad():
        y = block(x)
    mean, variance = y.mean(dim=-1), y.var(dim=-1, unbiased=False)
    return bool(
        torch.allclose(mean, torch.zeros_like(mean), atol=1e-3)
        and torch.allclose(variance, torch.ones_like(variance), atol=1e-3)
    )


def raises(*args):
    raise NotImplementedError


def unbiased_variance(block, x):
    """Exercise 4 with torch's default variance (÷ (d − 1)): 16/15 = 1.067 for a normalised token, not 1."""
    with torch.no_grad():
        y = block(x)
    mean, variance = y.mean(dim=-1), y.var(dim=-1)
    return bool(
        torch.allclose(mean, torch.zeros_like(mean), atol=1e-3)
        and torch.allclose(variance, torch.ones_like(variance), atol=1e-3)
    )


# --------------------------------------------------------------------------- exercise 1


def test_rms_norm_reference_passes(capsys):
    assert check_rms_norm(my_rms_norm) is True
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (raises, "`raise NotImplementedError` with your code"),
        (lambda x, eps: (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + eps),
         "that is LayerNorm"),
        (lambda x, eps: x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps), "inside the square root"),
        (lambda x, eps: x / (x.pow(2).mean(-1, keepdim=True) + eps), "take the square root"),
        (lambda x, eps: x / torch.sqrt(x.pow(2).mean() + eps), "not over the whole tensor"),
        (lambda x, eps: x / x.pow(2).mean(-1, keepdim=True).sqrt(), "did you forget eps"),
        (lambda x, eps: x.pow(2).mean(-1), "keep the shape"),
        (lambda x, eps: 1 / 0, "ZeroDivisionError"),
    ],
)  # fmt: skip
def test_rms_norm_mistakes_get_a_hint(answer, hint, capsys):
    assert check_rms_norm(answer) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out


# --------------------------------------------------------------------------- exercise 2


def test_pre_ln_reference_passes(capsys):
    assert check_pre_ln(my_pre_ln) is True
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (raises, "`raise NotImplementedError` with your code"),
        (lambda x, f, norm: norm(x + f(x)), "that is Post-LN"),
        (lambda x, f, norm: x + f(x), "the norm is missing"),
        (lambda x, f, norm: f(norm(x)), "the residual path is missing"),
        (lambda x, f, norm: norm(x) + f(norm(x)), "add the original x"),
        (lambda x, f, norm: x + norm(f(x)), "Pre-LN normalises the sublayer's input"),
    ],
)
def test_pre_ln_mistakes_get_a_hint(answer, hint, capsys):
    assert check_pre_ln(answer) is False
    assert hint in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 3


def test_residual_rms_reference_passes_and_matches_a_simulation(capsys):
    assert check_residual_rms(residual_rms) is True
    out = capsys.readouterr().out
    assert "a simulation with d = 256 measures" in out
    assert simulate_residual_rms(1.0, 0.16, 48) == pytest.approx(residual_rms(1.0, 0.16, 48), rel=0.05)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (raises, "`raise NotImplementedError` with your code"),
        (lambda rms0, c, depth: rms0 * (1 + c) ** depth, "the RMS is the square root of the variance"),
        (lambda rms0, c, depth: rms0 * math.sqrt(1 + depth * c), "the growth compounds"),
        (lambda rms0, c, depth: rms0, "variances of uncorrelated terms add"),
        (lambda rms0, c, depth: "big", "return a number"),
        (lambda rms0, c, depth: None, "return a number"),
    ],
)
def test_residual_rms_mistakes_get_a_hint(answer, hint, capsys):
    assert check_residual_rms(answer) is False
    assert hint in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 4


def test_output_is_normalised_reference_passes(capsys):
    assert check_output_is_normalised(output_is_normalised) is True
    out = capsys.readouterr().out
    assert "post_ln: its output is normalised" in out and "pre_ln: its output is not normalised" in out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (raises, "`raise NotImplementedError` with your code"),
        (lambda block, x: True, "Pre-LN normalises what goes into the sublayers"),
        (lambda block, x: False, "a LayerNorm output has"),
        (lambda block, x: bool(abs(block(x).mean()) < 1e-3), "a LayerNorm output has"),  # mean alone is not enough
        (lambda block, x: "yes", "return a bool"),
        (unbiased_variance, "use the population variance, y.var(dim=-1, unbiased=False)"),
    ],
)
def test_output_is_normalised_mistakes_get_a_hint(answer, hint, capsys):
    assert check_output_is_normalised(answer) is False
    assert hint in capsys.readouterr().out


def test_a_tensor_bool_counts_as_a_bool(capsys):
    def as_tensor(block, x):
        return torch.tensor(output_is_normalised(block, x))

    assert check_output_is_normalised(as_tensor) is True
