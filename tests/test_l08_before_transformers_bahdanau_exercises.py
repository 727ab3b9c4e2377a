"""08_before_transformers_bahdanau's checkers pass the reference solutions, reject plausible wrong answers,
and never raise."""

import pytest
import torch

from helpers.lessons.l08_before_transformers_bahdanau.exercises import (
    check_additive_score,
    check_all_pairs,
    check_context,
    check_sequential_steps,
)

# --------------------------------------------------------------------------- reference solutions


def my_additive_scores(s, h, W, U, v):
    return torch.tanh(W @ s + h @ U.T) @ v


def my_context(scores, h):
    weights = torch.softmax(scores, dim=-1)
    return weights @ h, weights


def my_all_pairs(q, k, v):
    return torch.tanh(q[:, None, :] + k[None, :, :]) @ v


def raises(*args, **kwargs):
    raise NotImplementedError  # the placeholder a learner starts from


def raises_other(*args, **kwargs):
    raise ZeroDivisionError("oops")  # a learner's bug: reported with the line, never raised


# --------------------------------------------------------------------------- exercise 1


def test_additive_score_reference_passes(capsys):
    assert check_additive_score(my_additive_scores) is True
    assert "all checks passed" in capsys.readouterr().out


def test_additive_score_placeholder_and_bugs_are_reported(capsys):
    assert check_additive_score(raises) is False
    out = capsys.readouterr().out
    assert "raises is written" in out and out.count("✗") == 1
    assert check_additive_score(raises_other) is False
    assert "ZeroDivisionError: oops (line " in capsys.readouterr().out


def test_additive_score_wrong_answers_get_hints(capsys):
    assert check_additive_score(lambda s, h, W, U, v: torch.softmax(my_additive_scores(s, h, W, U, v), -1)) is False
    assert "before it" in capsys.readouterr().out
    assert check_additive_score(lambda s, h, W, U, v: (W @ s + h @ U.T) @ v) is False
    assert "apply tanh" in capsys.readouterr().out
    assert check_additive_score(lambda s, h, W, U, v: torch.tanh(s @ W + h @ U) @ v) is False  # transposed
    assert "runs" in capsys.readouterr().out
    assert check_additive_score(lambda s, h, W, U, v: torch.tanh(W @ s + h @ U.T)) is False  # forgot v
    assert "shape (5,)" in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 2


def test_context_reference_passes(capsys):
    assert check_context(my_context) is True


def test_context_wrong_answers_get_hints(capsys):
    def naive_softmax(scores, h):
        weights = torch.exp(scores) / torch.exp(scores).sum()
        return weights @ h, weights

    assert check_context(naive_softmax) is False
    assert "exp(1000) overflows" in capsys.readouterr().out

    def raw_scores(scores, h):
        return scores @ h, scores

    assert check_context(raw_scores) is False
    assert "must sum to 1" in capsys.readouterr().out

    def plain_mean(scores, h):
        return h.mean(dim=0), torch.softmax(scores, -1)

    assert check_context(plain_mean) is False
    assert "plain mean of h" in capsys.readouterr().out

    assert check_context(lambda scores, h: torch.softmax(scores, -1) @ h) is False  # forgot the weights
    assert "return two tensors" in capsys.readouterr().out
    assert check_context(raises) is False
    assert "raises is written" in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 3


def test_all_pairs_reference_passes(capsys):
    assert check_all_pairs(my_all_pairs) is True


def test_all_pairs_wrong_answers_get_hints(capsys):
    assert check_all_pairs(lambda q, k, v: (q[:, None, :] + k[None, :, :]) @ v) is False
    assert "apply tanh" in capsys.readouterr().out
    assert check_all_pairs(lambda q, k, v: torch.tanh(k[:, None, :] + q[None, :, :]) @ v) is False  # (n_k, n_q)
    assert "shape (3, 5)" in capsys.readouterr().out
    assert check_all_pairs(lambda q, k, v: torch.tanh(q + k) @ v) is False  # no broadcasting: raises
    assert "runs" in capsys.readouterr().out
    assert check_all_pairs(raises_other) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 4


def test_sequential_steps_reference_passes(capsys):
    assert check_sequential_steps(15, 1) is True
    assert "runs 15 times (counted)" in capsys.readouterr().out


def test_sequential_steps_wrong_answers_get_hints(capsys):
    assert check_sequential_steps(None, None) is False
    assert "write an int" in capsys.readouterr().out
    assert check_sequential_steps(5, 1) is False
    assert "once per letter it writes" in capsys.readouterr().out
    assert check_sequential_steps(120, 1) is False
    assert "side by side" in capsys.readouterr().out
    assert check_sequential_steps(15, 8) is False
    assert "stacks all the queries" in capsys.readouterr().out
    assert check_sequential_steps(15, 0) is False
    assert "one product q @ kᵀ at least" in capsys.readouterr().out


@pytest.mark.parametrize("counted", [2, 3, 4, 5])
def test_sequential_steps_counting_the_projections_gets_the_projection_hint(capsys, counted):
    assert check_sequential_steps(15, counted) is False
    out = capsys.readouterr().out
    assert "the projections x W_q, x W_k" in out and "already projected" in out
    assert "✗ score_products: one batched product q @ kᵀ (projections not counted)" in out
    assert check_sequential_steps(True, 1) is False
