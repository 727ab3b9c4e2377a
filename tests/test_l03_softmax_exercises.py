"""03_softmax's checkers pass the reference solutions, reject plausible wrong answers, and never raise."""

import math

import pytest
import torch

from helpers.lessons.l03_softmax.exercises import (
    check_largest_temperature,
    check_logsumexp,
    check_predictions,
    check_softmax,
    check_softmax_backward,
)

# --------------------------------------------------------------------------- reference solutions


def my_softmax(x, dim=-1):
    shifted = x - x.amax(dim=dim, keepdim=True)
    exp = torch.exp(shifted)
    return exp / exp.sum(dim=dim, keepdim=True)


def my_logsumexp(x, dim=-1):
    m = x.amax(dim=dim, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    return (m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))).squeeze(dim)


def my_softmax_backward(p, grad_output):
    return p * (grad_output - (p * grad_output).sum(dim=-1, keepdim=True))


def largest_temperature(scores, target):
    low, high = 1e-6, 1e6  # the largest weight is >= target at low, < target at high
    for _ in range(100):
        middle = math.sqrt(low * high)
        if torch.softmax(scores / middle, dim=-1).max() >= target:
            low = middle
        else:
            high = middle
    return low


def raises(*args, **kwargs):
    raise NotImplementedError  # the placeholder a learner starts from


def raises_other(*args, **kwargs):
    raise ZeroDivisionError("oops")  # a learner's bug: reported with the line, never raised


# --------------------------------------------------------------------------- exercise 1


def test_placeholder_gets_one_line_not_a_hint_per_case(capsys):
    assert check_softmax(raises) is False
    out = capsys.readouterr().out
    assert out.count("✗") == 1 and "raises is written" in out


def test_predictions_pass_with_the_right_answers(capsys):
    assert check_predictions([0.0, 0.0, 0.0], True) is True
    assert check_predictions(torch.zeros(3), True) is True
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("difference", "sharper", "hint"),
    [
        (None, None, "write a list of three numbers"),
        ([0.09, 0.245, 0.665], True, "multiplies every exp(score) by the same e^100"),
        ([-100.0, -100.0, -100.0], True, "multiplies every exp(score)"),
        ([0.0, 0.0], True, "write a list of three numbers"),
        ([0.0, 0.0, 0.0], False, "halving the temperature"),
        ([0.0, 0.0, 0.0], "yes", "sharper = True or sharper = False"),
        ([True, False, False], True, "write a list of three numbers"),
    ],
)
def test_predictions_reject_wrong_answers(difference, sharper, hint, capsys):
    assert check_predictions(difference, sharper) is False
    assert hint in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 2


def test_softmax_checker_passes_the_reference(capsys):
    assert check_softmax(my_softmax) is True
    assert check_softmax(lambda x, dim=-1: torch.softmax(x, dim=dim)) is True


def naive(x, dim=-1):
    return torch.exp(x) / torch.exp(x).sum(dim=dim, keepdim=True)


def fixed_last_dim(x, dim=-1):
    return my_softmax(x, dim=-1)


def in_place(x, dim=-1):
    x -= x.amax(dim=dim, keepdim=True)
    x.exp_()
    return x / x.sum(dim=dim, keepdim=True)


def global_max(x, dim=-1):
    exp = torch.exp(x - x.max())  # one maximum for the whole tensor: a row far below it underflows
    return exp / exp.sum(dim=dim, keepdim=True)


def no_keepdim(x, dim=-1):
    exp = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return exp / exp.sum(dim=dim)


def float32_always(x, dim=-1):
    return my_softmax(x.float(), dim=dim)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (naive, "subtract each row's maximum before exp"),
        (fixed_last_dim, "use `dim` in every max and sum"),
        (in_place, "it changed its input"),
        (global_max, "each row's own maximum"),
        (no_keepdim, "keepdim=True"),
        (float32_always, "right values but dtype torch.float32; the input's dtype, torch.float64"),
        (raises, "replace the line `raise NotImplementedError`"),
        (raises_other, "your function raised ZeroDivisionError: oops"),
        (lambda x, dim=-1: None, "not a torch.Tensor"),
    ],
)
def test_softmax_checker_rejects_wrong_answers(wrong, hint, capsys):
    assert check_softmax(wrong) is False
    assert hint in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 3


def test_logsumexp_checker_passes_the_reference(capsys):
    assert check_logsumexp(my_logsumexp) is True
    assert check_logsumexp(lambda x, dim=-1: torch.logsumexp(x, dim=dim)) is True


def lse_naive(x, dim=-1):
    return torch.log(torch.exp(x).sum(dim=dim))


def lse_without_the_inf_guard(x, dim=-1):
    m = x.amax(dim=dim, keepdim=True)
    return (m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))).squeeze(dim)


def lse_keeps_the_dim(x, dim=-1):
    m = x.amax(dim=dim, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    return m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))


def lse_forgets_the_max(x, dim=-1):
    m = x.amax(dim=dim, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    return torch.log(torch.exp(x - m).sum(dim=dim))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lse_naive, "m + log(sum(exp(x - m)))"),
        (lse_without_the_inf_guard, "shift by 0 instead"),
        (lse_keeps_the_dim, "expected (3,)"),
        (lse_forgets_the_max, "expected"),
        (raises, "replace the line `raise NotImplementedError`"),
        (raises_other, "your function raised ZeroDivisionError: oops"),
    ],
)
def test_logsumexp_checker_rejects_wrong_answers(wrong, hint, capsys):
    assert check_logsumexp(wrong) is False
    assert hint in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 4


def test_backward_checker_passes_the_reference(capsys):
    assert check_softmax_backward(my_softmax_backward) is True

    def with_the_full_jacobian(p, grad_output):
        jacobian = torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)
        return (jacobian @ grad_output.unsqueeze(-1)).squeeze(-1)

    assert check_softmax_backward(with_the_full_jacobian) is True


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda p, g: p * (g - (p * g).sum()), "not over the whole tensor"),
        (lambda p, g: g - (p * g).sum(dim=-1, keepdim=True), "J = diag(p) - p·pᵀ is symmetric"),
        (lambda p, g: p * g, "J = diag(p) - p·pᵀ is symmetric"),
        (lambda p, g: p * (1 - p) * g, "J = diag(p) - p·pᵀ is symmetric"),
        (raises, "replace the line `raise NotImplementedError`"),
        (raises_other, "your function raised ZeroDivisionError: oops"),
    ],
)
def test_backward_checker_rejects_wrong_answers(wrong, hint, capsys):
    assert check_softmax_backward(wrong) is False
    assert hint in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 5


def test_temperature_checker_passes_the_reference(capsys):
    assert check_largest_temperature(largest_temperature) is True

    def as_tensor(scores, target):
        return torch.tensor(largest_temperature(scores, target))

    assert check_largest_temperature(as_tensor) is True


def two_score_formula(scores, target):
    top2 = scores.topk(2).values
    return float((top2[0] - top2[1]) / math.log(target / (1 - target)))  # right only for two scores


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda scores, target: 0.01, "1 % more still does"),
        (lambda scores, target: 1.0, "a smaller T makes it larger"),
        (two_score_formula, "a smaller T makes it larger"),
        (lambda scores, target: -1.0, "return one number > 0"),
        (lambda scores, target: "cold", "return one number > 0"),
        (raises, "replace the line `raise NotImplementedError`"),
        (raises_other, "your function raised ZeroDivisionError: oops"),
    ],
)
def test_temperature_checker_rejects_wrong_answers(wrong, hint, capsys):
    assert check_largest_temperature(wrong) is False
    assert hint in capsys.readouterr().out


def test_two_score_formula_is_right_for_two_scores(capsys):
    """The wrong answer above fails for the right reason: it is exact with two scores, not with more."""
    check_largest_temperature(two_score_formula)
    out = capsys.readouterr().out
    assert "✓ scores [2, 0], target 0.99" in out
    assert "✗ scores [1, 0.5, 0.5, 0.5], target 0.9" in out
