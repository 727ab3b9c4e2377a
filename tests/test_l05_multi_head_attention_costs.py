"""helpers.lessons.l05_multi_head_attention.head_costs: what heads cost, counted against the modules and PyTorch's
flop counter, and how differently heads attend, on hand-made maps."""

import pytest
import torch
from torch import nn

from helpers.lessons.l05_multi_head_attention.head_costs import (
    attention_flops,
    counted_flops,
    head_distances,
    parameter_count,
    pattern_weights,
)
from helpers.library.layers import MultiHeadAttention


def _randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --------------------------------------------------------------------------- what it costs


@pytest.mark.parametrize(
    ("d_model", "n_heads", "bias"), [(384, 1, True), (384, 12, True), (64, 8, False), (6, 3, True)]
)
def test_parameter_count_matches_the_modules(d_model, n_heads, bias):
    counts = parameter_count(d_model, n_heads, bias=bias)
    mine = sum(p.numel() for p in MultiHeadAttention(d_model, n_heads, bias=bias).parameters())
    theirs = sum(p.numel() for p in nn.MultiheadAttention(d_model, n_heads, bias=bias).parameters())
    assert counts["total"] == mine == theirs
    assert counts["total"] == sum(counts[name] for name in ("w_q", "w_k", "w_v", "w_o"))


def test_parameter_count_does_not_depend_on_the_number_of_heads():
    totals = {parameter_count(384, h)["total"] for h in (1, 2, 3, 4, 6, 8, 12, 384)}
    assert totals == {4 * 384 * 384 + 4 * 384}
    with pytest.raises(ValueError, match="divisible"):
        parameter_count(384, 5)


@pytest.mark.parametrize(("n", "d_model", "n_heads"), [(7, 12, 1), (7, 12, 3), (16, 64, 8), (1, 4, 4)])
def test_attention_flops_match_pytorchs_flop_counter(n, d_model, n_heads):
    mha = MultiHeadAttention(d_model, n_heads)
    counts = attention_flops(n, d_model, n_heads)
    assert counted_flops(mha, _randn(1, n, d_model)) == counts["matmul_total"]
    assert counted_flops(mha, _randn(3, n, d_model)) == 3 * counts["matmul_total"]  # per sequence


def test_only_the_softmax_count_grows_with_the_heads():
    one, many = attention_flops(16, 384, 1), attention_flops(16, 384, 12)
    for name in ("projections", "scores", "weights·v", "matmul_total"):
        assert one[name] == many[name]
    assert many["softmax exponentials"] == 12 * one["softmax exponentials"] == 12 * 16 * 16
    with pytest.raises(ValueError, match="n must be >= 1"):
        attention_flops(0, 8, 2)
    with pytest.raises(TypeError, match="module must be an nn.Module"):
        counted_flops(lambda x: x, _randn(2, 2))


# --------------------------------------------------------------------------- how different heads are


def test_head_distances_of_identical_disjoint_and_partly_shared_heads():
    eye = torch.eye(4)
    shifted = torch.roll(eye, 1, dims=-1)
    uniform = torch.full((4, 4), 0.25)
    distances = head_distances(torch.stack([eye, eye, shifted, uniform]))
    assert distances.shape == (4, 4)
    torch.testing.assert_close(distances, distances.T)
    assert distances[0, 1] == 0 and distances[0, 2] == 1  # same rows; never the same key
    torch.testing.assert_close(distances[0, 3], torch.tensor(0.75))  # ½ (0.75 + 3 × 0.25)
    assert torch.all(distances.diagonal() == 0)


def test_head_distances_average_over_a_batch():
    weights = torch.softmax(_randn(3, 2, 5, 5), dim=-1)  # (batch, n_heads, n, n)
    expected = torch.stack([head_distances(weights[b]) for b in range(3)]).mean(0)
    torch.testing.assert_close(head_distances(weights), expected)


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (torch.ones(4, 4), r"weights must have shape \(\.\.\., n_heads, n_q, n_k\)"),
        (torch.full((2, 3, 3), float("nan")), "must be finite and >= 0"),
        (-torch.ones(2, 3, 3), "must be finite and >= 0"),
    ],
)
def test_head_distances_reject_bad_input(weights, match):
    with pytest.raises(ValueError, match=match):
        head_distances(weights)


def test_pattern_weights_on_hand_made_maps():
    n = 4
    previous = torch.zeros(n, n)
    previous[torch.arange(1, n), torch.arange(n - 1)] = 1.0
    previous[0, 0] = 1.0
    first = torch.zeros(n, n)
    first[:, 0] = 1.0
    patterns = pattern_weights(torch.stack([previous, first, torch.eye(n)]))  # (3 heads, n, n)
    torch.testing.assert_close(patterns["previous token"], torch.tensor([1.0, 1 / 3, 0.0]))
    torch.testing.assert_close(patterns["first token"], torch.tensor([0.5, 1.0, 0.25]))  # rows 0 and 1 of "previous"
    torch.testing.assert_close(patterns["itself"], torch.tensor([0.25, 0.25, 1.0]))
    torch.testing.assert_close(patterns["next token"], torch.tensor([0.0, 0.0, 0.0]))
    torch.testing.assert_close(patterns["last token"], torch.tensor([0.0, 0.0, 0.25]))
    with pytest.raises(ValueError, match=r"weights must have shape \(\.\.\., n, n\) with n >= 2"):
        pattern_weights(torch.ones(2, 3))
