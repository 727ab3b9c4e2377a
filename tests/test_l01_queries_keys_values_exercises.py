"""01_queries_keys_values' checkers pass the reference solutions, reject plausible mistakes, never raise."""

import math

import pytest
import torch

from helpers.lessons.l01_queries_keys_values.exercises import (
    check_inanimate_query,
    check_long_key,
    check_self_attention,
    check_soft_lookup,
)

# Reference solutions (the ones the notebook hides under "Solution").


def reference_soft_lookup(q, k, v):
    scores = k @ q  # (n,)
    weights = torch.softmax(scores, dim=-1)  # (n,)
    return weights @ v  # (d_v,)


REFERENCE_QUERY = [6.0, -6.0]
REFERENCE_KEY = [2.0, 4.0]


def reference_self_attention(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T / math.sqrt(q.shape[-1])
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def raises(*args):
    raise NotImplementedError


# Exercise 1


def test_soft_lookup_reference_passes(capsys):
    assert check_soft_lookup(reference_soft_lookup) is True
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (raises, "NotImplementedError"),
        (lambda q, k, v: (k @ q) @ v, "softmax before mixing"),
        (lambda q, k, v: torch.softmax(k @ q / math.sqrt(q.shape[0]), dim=-1) @ v, "no 1/√d_k"),
        (lambda q, k, v: v[(k @ q).argmax()], "hard lookup"),
        (lambda q, k, v: torch.softmax(k @ q, dim=-1), "not the weights"),
        (lambda q, k, v: torch.softmax(k @ q, dim=-1) @ k, "mix the values v, not the keys k"),
        (lambda q, k, v: (k @ q).exp() / (k @ q).exp().sum() @ v, "overflows float32"),
        (lambda q, k, v: None, "a tensor of shape (d_v,)"),
    ],
)
def test_soft_lookup_wrong_answers_get_a_hint(wrong, hint, capsys):
    assert check_soft_lookup(wrong) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out


# Exercise 2


def test_inanimate_query_reference_passes(capsys):
    assert check_inanimate_query(REFERENCE_QUERY) is True
    assert check_inanimate_query(torch.tensor(REFERENCE_QUERY)) is True


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "write two numbers"),
        ("6, -6", "write two numbers"),
        ([1.0, 2.0, 3.0], "write two numbers"),
        ([float("nan"), 1.0], "write two numbers"),
        ([3.0, 3.0], "not animate"),  # asks for an animate noun: the animal wins
        ([3.0, 0.0], "not animate"),  # asks for any noun: a tie, animal first
        ([2.0, -2.0], "longer query"),  # right direction, too soft: street gets 0.4
    ],
)
def test_inanimate_query_wrong_answers_get_a_hint(answer, hint, capsys):
    assert check_inanimate_query(answer) is False
    assert hint in capsys.readouterr().out


# Exercise 3


def test_long_key_reference_passes(capsys):
    assert check_long_key(REFERENCE_KEY) is True


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "write two numbers"),
        (True, "write two numbers"),
        ([5.0, 0.0], "turn E further"),  # wins, but points straight at the query
        ([0.5, 1.0], "make it longer"),  # points away (cosine 0.45), but too short: its score 0.5 < 1
        ([0.0, 5.0], "cos θ > 0"),  # long, but at 90° its score is 0 whatever its length
        ([0.5, 0.5], "make it longer"),  # cosine 0.71 and too short: both checks fail
        ([0.0, 0.0], "make it longer"),  # the zero vector has no direction and scores 0
    ],
)
def test_long_key_wrong_answers_get_a_hint(answer, hint, capsys):
    assert check_long_key(answer) is False
    assert hint in capsys.readouterr().out


# Exercise 4


def test_self_attention_reference_passes(capsys):
    assert check_self_attention(reference_self_attention) is True
    assert "all checks passed" in capsys.readouterr().out


def divide_by_sqrt_d_model(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(x.shape[-1]), dim=-1)
    return weights @ v, weights


def no_scale(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T, dim=-1)
    return weights @ v, weights


def softmax_over_queries(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=0)
    return weights @ v, weights


def values_not_projected(x, w_q, w_k, w_v):
    output, weights = reference_self_attention(x, w_q, w_k, w_v)
    return weights @ x, weights


def only_output(x, w_q, w_k, w_v):
    return reference_self_attention(x, w_q, w_k, w_v)[0]


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (raises, "NotImplementedError"),
        (divide_by_sqrt_d_model, "not by √d_model"),
        (no_scale, "divide the scores by √d_k"),
        (softmax_over_queries, "over the keys (dim=-1)"),
        (values_not_projected, "v = x @ w_v has d_v columns"),
        (only_output, "return output, weights"),
    ],
)
def test_self_attention_wrong_answers_get_a_hint(wrong, hint, capsys):
    assert check_self_attention(wrong) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out
