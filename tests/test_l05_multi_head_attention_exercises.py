"""05_multi_head_attention's checkers pass the reference solutions and reject plausible wrong answers with a hint."""

import math

import pytest
import torch

from helpers.lessons.l05_multi_head_attention.exercises import (
    check_combine_heads,
    check_multi_head,
    check_parameter_count,
    check_split_heads,
)

# ----------------------------------------------------------------------------- reference solutions


def split_heads(x, n_heads):
    batch, n, d_model = x.shape
    return x.reshape(batch, n, n_heads, d_model // n_heads).transpose(1, 2)


def combine_heads(heads):
    batch, n_heads, n, d_k = heads.shape
    return heads.transpose(1, 2).reshape(batch, n, n_heads * d_k)


def multi_head(x, projections, n_heads):
    p = projections
    d_k = x.shape[-1] // n_heads
    outputs = []
    for h in range(n_heads):
        rows = slice(h * d_k, (h + 1) * d_k)
        q = x @ p["w_q"][rows].T + p["b_q"][rows]
        k = x @ p["w_k"][rows].T + p["b_k"][rows]
        v = x @ p["w_v"][rows].T + p["b_v"][rows]
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
        outputs.append(weights @ v)
    return torch.cat(outputs, dim=-1) @ p["w_o"].T + p["b_o"]


# ----------------------------------------------------------------------------- wrong answers


def unfinished(*args):
    raise NotImplementedError


def split_without_transpose(x, n_heads):
    batch, n, d_model = x.shape
    return x.view(batch, n_heads, n, d_model // n_heads)


def split_forgetting_the_transpose(x, n_heads):
    batch, n, d_model = x.shape
    return x.view(batch, n, n_heads, d_model // n_heads)


def combine_without_transpose(heads):
    batch, n_heads, n, d_k = heads.shape
    return heads.reshape(batch, n, n_heads * d_k)


def combine_without_flattening(heads):
    return heads.transpose(1, 2)


def multi_head_without_w_o(x, projections, n_heads):
    p = projections | {"w_o": torch.eye(x.shape[-1]), "b_o": torch.zeros(x.shape[-1])}
    return multi_head(x, p, n_heads)


def multi_head_scaled_by_d_model(x, projections, n_heads):
    factor = math.sqrt((x.shape[-1] // n_heads) / x.shape[-1])
    p = projections | {"w_q": projections["w_q"] * factor, "b_q": projections["b_q"] * factor}
    return multi_head(x, p, n_heads)


def multi_head_returning_weights_too(x, projections, n_heads):
    return multi_head(x, projections, n_heads), None


def multi_head_softmax_over_queries(x, projections, n_heads):
    p = projections
    d_k = x.shape[-1] // n_heads
    outputs = []
    for h in range(n_heads):
        rows = slice(h * d_k, (h + 1) * d_k)
        q = x @ p["w_q"][rows].T + p["b_q"][rows]
        k = x @ p["w_k"][rows].T + p["b_k"][rows]
        v = x @ p["w_v"][rows].T + p["b_v"][rows]
        outputs.append(torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-2) @ v)
    return torch.cat(outputs, dim=-1) @ p["w_o"].T + p["b_o"]


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize(
    ("checker", "solution"),
    [
        (check_split_heads, split_heads),
        (check_combine_heads, combine_heads),
        (check_parameter_count, 4 * 64 * 64 + 4 * 64),
        (check_multi_head, multi_head),
    ],
)
def test_reference_solutions_pass(checker, solution, capsys):
    assert checker(solution) is True
    assert "Well done" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("checker", "answer", "hint"),
    [
        (check_split_heads, unfinished, "unfinished is written"),
        (check_split_heads, split_without_transpose, "viewing x directly as (B, n_heads, n, d_k)"),
        (check_split_heads, split_forgetting_the_transpose, "now move the head axis forward with .transpose(1, 2)"),
        (check_combine_heads, unfinished, "unfinished is written"),
        (check_combine_heads, combine_without_transpose, "straight to (B, n, d_model) mixes tokens"),
        (check_combine_heads, combine_without_flattening, "flatten the last two axes"),
        (check_parameter_count, None, "write an int"),
        (check_parameter_count, 16640.0, "write an int"),
        (check_parameter_count, 8 * 16640, "it owns d_k rows of them"),
        (check_parameter_count, 4 * 64 * 64, "count the biases too"),
        (check_parameter_count, 3 * (64 * 64 + 64), "there are four matrices"),
        (check_parameter_count, 12345, "four nn.Linear(d_model, d_model) layers, each"),
        (check_multi_head, unfinished, "unfinished is written"),
        (check_multi_head, multi_head_without_w_o, "finish with the output projection"),
        (check_multi_head, multi_head_scaled_by_d_model, "not by √d_model"),
        (check_multi_head, multi_head_returning_weights_too, "return the output alone"),
        (check_multi_head, multi_head_softmax_over_queries, "for each head h take rows"),
    ],
)
def test_wrong_answers_fail_with_a_hint(checker, answer, hint, capsys):
    assert checker(answer) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out


def test_the_parameter_checker_does_not_give_the_answer_away(capsys):
    check_parameter_count(12345)
    assert "16,640" not in capsys.readouterr().out


def test_checkers_leave_the_global_random_state_alone():
    state = torch.get_rng_state()
    check_multi_head(multi_head)
    assert torch.equal(torch.get_rng_state(), state)
