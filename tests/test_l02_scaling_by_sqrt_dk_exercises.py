"""Lesson 02's checkers: the reference solutions pass, plausible mistakes get a hint, nothing raises."""

import math

import pytest
import torch

from helpers.lessons.l02_scaling_by_sqrt_dk.exercises import (
    check_dot_product_variance,
    check_scaled_scores,
    check_softmax_entropy,
    check_std_growth,
    check_unit_variance_scale,
)

# --------------------------------------------------------------------------- reference solutions


def dot_product_variance(d_k, n_samples, generator):
    q = torch.randn(n_samples, d_k, generator=generator)
    k = torch.randn(n_samples, d_k, generator=generator)
    return (q * k).sum(dim=-1).var().item()


def scaled_scores(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])


def softmax_entropy(weights):
    return -torch.special.xlogy(weights, weights).sum(dim=-1)


def raises(*args):
    raise NotImplementedError


# --------------------------------------------------------------------------- exercise 1


def test_std_growth_accepts_4(capsys):
    assert check_std_growth(4) is True
    out = capsys.readouterr().out
    assert "all checks passed" in out and "ratio 4.0" in out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "write a number"),
        ("4", "write a number"),
        (float("nan"), "write a number"),
        (16, "16 is how much the variance grows"),
        (1, "after dividing by √d_k"),
        (2.0, "compare √1024 with √64"),
    ],
)
def test_std_growth_rejects_wrong_answers(answer, hint, capsys):
    assert check_std_growth(answer) is False
    assert hint in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 2


def test_dot_product_variance_reference_passes(capsys):
    assert check_dot_product_variance(dot_product_variance) is True


def test_dot_product_variance_placeholder_gets_a_plain_message(capsys):
    assert check_dot_product_variance(raises) is False
    assert "`raise NotImplementedError` with your code" in capsys.readouterr().out


def per_product_variance(d_k, n_samples, generator):  # forgets to sum the products
    q = torch.randn(n_samples, d_k, generator=generator)
    k = torch.randn(n_samples, d_k, generator=generator)
    return (q * k).var().item()


def returns_a_tensor(d_k, n_samples, generator):
    q = torch.randn(n_samples, d_k, generator=generator)
    k = torch.randn(n_samples, d_k, generator=generator)
    return (q * k).sum(dim=-1).var()


def ignores_the_generator(d_k, n_samples, generator):
    return dot_product_variance(d_k, n_samples, torch.Generator().manual_seed(123))


def ignores_n_samples(d_k, n_samples, generator):
    return dot_product_variance(d_k, 5000, generator)


def uniform_zero_to_one(d_k, n_samples, generator):  # torch.rand: mean 1/2, variance 1/12
    q = torch.rand(n_samples, d_k, generator=generator)
    k = torch.rand(n_samples, d_k, generator=generator)
    return (q * k).sum(dim=-1).var().item()


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (per_product_variance, "sum the d_k products first"),
        (returns_a_tensor, ".item()"),
        (ignores_the_generator, "pass generator=generator"),
        (ignores_n_samples, "draw n_samples pairs"),
        (uniform_zero_to_one, "torch.randn(..., generator=generator)"),
        (lambda d_k, n_samples, generator: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_dot_product_variance_rejects_mistakes(fn, hint, capsys):
    assert check_dot_product_variance(fn) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out


# --------------------------------------------------------------------------- exercise 3


def test_scaled_scores_reference_passes(capsys):
    assert check_scaled_scores(scaled_scores) is True


def in_place(q, k):
    q /= math.sqrt(q.shape[-1])
    return q @ k.transpose(-2, -1)


@pytest.mark.filterwarnings("ignore:The use of `x.T` on tensors")
@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (lambda q, k: q @ k.transpose(-2, -1), "divide them by √d_k"),
        (lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1], "divide by its square root"),
        (lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[0]), "q.shape[-1], not q.shape[0]"),
        (lambda q, k: q @ k.T / math.sqrt(q.shape[-1]), "k.transpose(-2, -1)"),
        (in_place, "changed q or k in place"),
        (raises, "`raise NotImplementedError` with your code"),
    ],
)
def test_scaled_scores_rejects_mistakes(fn, hint, capsys):
    assert check_scaled_scores(fn) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out


# --------------------------------------------------------------------------- exercise 4


def test_softmax_entropy_reference_passes(capsys):
    assert check_softmax_entropy(softmax_entropy) is True


def test_softmax_entropy_with_where_passes(capsys):
    def with_where(weights):
        logs = torch.where(weights > 0, weights.log(), torch.zeros_like(weights))
        return -(weights * logs).sum(dim=-1)

    assert check_softmax_entropy(with_where) is True


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (lambda w: -(w * w.log()).sum(dim=-1), "0·log 0 gives NaN"),
        (lambda w: torch.special.xlogy(w, w).sum(dim=-1), "the sign is flipped"),
        (lambda w: -(torch.special.xlogy(w, w) / math.log(2)).sum(dim=-1), "log base 2"),
        (lambda w: -torch.special.xlogy(w, w).sum(), "sum over the last dimension only"),
        (lambda w: float(-torch.special.xlogy(w, w).sum()), "return a tensor"),
        (raises, "`raise NotImplementedError` with your code"),
    ],
)
def test_softmax_entropy_rejects_mistakes(fn, hint, capsys):
    assert check_softmax_entropy(fn) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out


# --------------------------------------------------------------------------- exercise 5


def unit_variance_scale(d_k, var_q, var_k):
    return 1 / math.sqrt(d_k * var_q * var_k)


def test_unit_variance_scale_reference_passes(capsys):
    assert check_unit_variance_scale(unit_variance_scale) is True
    assert "times your scale 0.375: variance 0.99" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (lambda d_k, var_q, var_k: 1 / math.sqrt(d_k), "right only for unit variances"),
        (lambda d_k, var_q, var_k: 1 / (d_k * var_q * var_k), "take the square root"),
        (lambda d_k, var_q, var_k: 1 / math.sqrt(d_k) / (var_q * var_k), "multiplies a variance by c²"),
        (lambda d_k, var_q, var_k: torch.ones(2), "return a single number"),
        (raises, "`raise NotImplementedError` with your code"),
    ],
)
def test_unit_variance_scale_rejects_mistakes(fn, hint, capsys):
    assert check_unit_variance_scale(fn) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out
