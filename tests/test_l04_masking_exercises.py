"""04_masking's checkers pass the reference solutions, reject plausible wrong answers, and never raise."""

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.lessons.l04_masking.exercises import (
    PLACEMENT_QUESTIONS,
    _reference,
    check_causal_mask,
    check_masked_attention,
    check_padding_mask,
    check_where_the_mask_goes,
)
from helpers.lessons.l04_masking.mask_placements import MASK_PLACEMENTS

# --------------------------------------------------------------------------- reference solutions


def my_causal_mask(n):
    return torch.ones(n, n, dtype=torch.bool).tril()


def my_causal_mask_by_comparison(n):
    return torch.arange(n)[:, None] >= torch.arange(n)[None, :]


def my_padding_mask(lengths, n):
    return torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]


def my_masked_attention(q, k, v, mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask, float("-inf"))
    row_max = scores.amax(dim=-1, keepdim=True)
    row_max = torch.where(torch.isinf(row_max), torch.zeros_like(row_max), row_max)
    exp = torch.exp(scores - row_max)
    total = exp.sum(dim=-1, keepdim=True)
    weights = exp / torch.where(total == 0, torch.ones_like(total), total)
    return weights @ v, weights


ANSWERS = {
    "0 before softmax": True,
    "0 after softmax": True,
    "0 after, renormalised": False,
    "-1e9 before softmax": False,
}


def raises(*args, **kwargs):
    raise NotImplementedError  # the placeholder a learner starts from


def raises_other(*args, **kwargs):
    raise ZeroDivisionError("oops")  # a learner's bug: reported with the line, never raised


# --------------------------------------------------------------------------- placeholders and crashes


@pytest.mark.parametrize("check", [check_causal_mask, check_padding_mask, check_masked_attention])
def test_placeholder_gets_one_line(check, capsys):
    assert check(raises) is False
    out = capsys.readouterr().out
    assert out.count("✗") == 1 and "raises is written" in out and "Not yet" in out


@pytest.mark.parametrize("check", [check_causal_mask, check_padding_mask, check_masked_attention])
def test_a_crashing_answer_is_reported_not_raised(check, capsys):
    assert check(raises_other) is False
    assert "ZeroDivisionError: oops" in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 1


@pytest.mark.parametrize("fn", [my_causal_mask, my_causal_mask_by_comparison])
def test_causal_mask_passes_the_reference(fn, capsys):
    assert check_causal_mask(fn) is True
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n: torch.ones(n, n, dtype=torch.bool).triu(), "this is the upper triangle"),
        (lambda n: torch.ones(n, n, dtype=torch.bool).tril(diagonal=-1), "the diagonal is missing"),
        (lambda n: ~torch.ones(n, n, dtype=torch.bool).tril(), "this is inverted"),
        (lambda n: torch.ones(n, n).tril(), "the dtype is torch.float32"),
        (lambda n: torch.ones(n, n, dtype=torch.bool), "expected"),
        (lambda n: [[True]], "not a torch.Tensor"),
    ],
)
def test_causal_mask_rejects_wrong_answers(wrong, hint, capsys):
    assert check_causal_mask(wrong) is False
    assert hint in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 2


def test_padding_mask_passes_the_reference(capsys):
    assert check_padding_mask(my_padding_mask) is True
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda lengths, n: torch.arange(n)[None, :] >= torch.tensor(lengths)[:, None], "this is inverted"),
        (lambda lengths, n: torch.arange(n)[None, :] <= torch.tensor(lengths)[:, None], "one pad too many"),
        (lambda lengths, n: torch.arange(n)[None, :] >= n - torch.tensor(lengths)[:, None], "left padding"),
        (lambda lengths, n: (torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]).T, "shape"),
        (lambda lengths, n: (torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]).long(), "dtype"),
    ],
)
def test_padding_mask_rejects_wrong_answers(wrong, hint, capsys):
    assert check_padding_mask(wrong) is False
    assert hint in capsys.readouterr().out


def test_padding_mask_covers_an_empty_sentence(capsys):
    def forgets_zero(lengths, n):
        mask = my_padding_mask(lengths, n)
        mask[:, 0] = True  # "every sentence has a first word"
        return mask

    assert check_padding_mask(forgets_zero) is False
    assert "✗ an empty sentence" in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 3


def test_reference_matches_torch_scaled_dot_product_attention():
    q, k, v = (torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(s)) for s in (1, 2, 3))
    for mask in (torch.ones(5, 5, dtype=torch.bool).tril(), torch.tensor([True, True, False, True, False])):
        output, weights = _reference(q, k, v, mask)
        torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    fully = torch.ones(5, 5, dtype=torch.bool).tril() & (torch.arange(5) >= 2)
    output, weights = _reference(q, k, v, fully)
    assert (weights[:, :2] == 0).all() and (output[:, :2] == 0).all()
    torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v, attn_mask=fully))


def test_masked_attention_passes_the_reference(capsys):
    assert check_masked_attention(my_masked_attention) is True
    assert "all checks passed" in capsys.readouterr().out


def naive(q, k, v, mask):
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def zero_after(q, k, v, mask):
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) * mask
    return weights @ v, weights


def zero_before(q, k, v, mask):
    weights = torch.softmax((q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(~mask, 0.0), dim=-1)
    return weights @ v, weights


def unscaled(q, k, v, mask):
    scores = (q @ k.transpose(-2, -1)).masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1))
    return weights @ v, weights


def output_only(q, k, v, mask):
    return my_masked_attention(q, k, v, mask)[0]


@pytest.mark.parametrize(
    ("wrong", "failing", "hint"),
    [
        (naive, "✗ queries 0 and 1 have every key masked", "holds NaN"),
        (zero_after, "✗ a causal mask", "Fill the masked scores with -inf *before* the softmax"),
        (zero_before, "✗ a causal mask", "differs from PyTorch's"),
        (unscaled, "✗ nothing masked", "Scores = q·kᵀ/√d_k"),
        (output_only, "✗ nothing masked", "return two tensors"),
    ],
)
def test_masked_attention_rejects_wrong_answers(wrong, failing, hint, capsys):
    assert check_masked_attention(wrong) is False
    out = capsys.readouterr().out
    assert failing in out and hint in out


def test_naive_passes_everything_but_the_fully_masked_row(capsys):
    check_masked_attention(naive)
    assert capsys.readouterr().out.count("✓") == 3


# --------------------------------------------------------------------------- exercise 4


def test_where_the_mask_goes_passes_the_right_answers(capsys):
    assert set(ANSWERS) == set(PLACEMENT_QUESTIONS) and set(PLACEMENT_QUESTIONS) <= set(MASK_PLACEMENTS)
    assert check_where_the_mask_goes(dict(ANSWERS)) is True
    out = capsys.readouterr().out
    assert "all checks passed" in out and "measured: max change" in out


@pytest.mark.parametrize("flipped", PLACEMENT_QUESTIONS)
def test_where_the_mask_goes_rejects_each_wrong_answer(flipped, capsys):
    answers = dict(ANSWERS)
    answers[flipped] = not answers[flipped]
    assert check_where_the_mask_goes(answers) is False
    out = capsys.readouterr().out
    assert out.count("✗") == 1 and f"✗ '{flipped}'" in out


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({name: None for name in PLACEMENT_QUESTIONS}, "answers are filled in"),
        ({**ANSWERS, "0 after softmax": "yes"}, "set answers['0 after softmax'] = True or False"),
        ({"0 before softmax": True}, "set answers['0 after softmax'] = True or False"),
        ([True, True, False, False], "answers is a dict"),
    ],
)
def test_where_the_mask_goes_reports_incomplete_answers(answers, message, capsys):
    assert check_where_the_mask_goes(answers) is False
    assert message in capsys.readouterr().out
