"""helpers.lessons.l05_multi_head_attention.head_costs: what heads cost, counted against the modules and PyTorch's
flop counter, and how differently heads attend, on hand-made maps."""

import pytest
import torch
from torch import nn

from helpers.lessons.l05_multi_head_attention.head_costs import (
    attention_flops,
    attention_memory,
    counted_flops,
    head_distances,
    memory_growth,
    memory_markdown,
    operations_markdown,
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


def test_operations_markdown_says_flops_and_multiply_adds():
    text = operations_markdown(16, 384, head_counts=(1, 2, 12))
    total = attention_flops(16, 384, 12)["matmul_total"]
    assert f"cost the same for 1 and for 12 heads: {total:,} FLOPs, that is {total // 2:,} multiply-adds" in text
    assert "3,072 with 12 heads against 256 with 1" in text and "12 heads of 32 cost what 1 of 384 costs" in text


@pytest.mark.parametrize(("n", "d_model", "n_heads"), [(16, 384, 12), (7, 12, 3), (5, 8, 1)])
def test_attention_memory_counts_the_weights_pytorch_returns(n, d_model, n_heads):
    row = attention_memory(n, d_model, n_heads)
    x = _randn(1, n, d_model)
    _, theirs = nn.MultiheadAttention(d_model, n_heads, batch_first=True)(x, x, x, average_attn_weights=False)
    assert row["weights"] == theirs.numel() == n_heads * n * n  # (1, n_heads, n, n)
    assert row["weights_bytes"] == 4 * row["weights"]
    assert row["flops"] == attention_flops(n, d_model, n_heads)["matmul_total"]
    assert row["peak_bytes"] >= row["weights_bytes"] + 3 * n * d_model * 4  # the weights, and q, k, v at least
    assert attention_memory(n, d_model, n_heads) == row  # seeded


@pytest.mark.parametrize("n", [16, 64])
def test_memory_grows_with_the_heads_while_the_flops_stay(n):
    rows = [attention_memory(n, 384, count) for count in (1, 4, 12)]
    assert rows[0]["flops"] == rows[1]["flops"] == rows[2]["flops"]
    assert rows[0]["peak_bytes"] < rows[1]["peak_bytes"] < rows[2]["peak_bytes"]
    # the scores and the weights, both (1, n_heads, n, n), are held at once: 11 more heads hold 2 × 11 n² floats more
    assert rows[2]["peak_bytes"] - rows[0]["peak_bytes"] >= 2 * 11 * n * n * 4
    growth = memory_growth(rows + [attention_memory(8, 384, 2)])
    assert (growth["n"], growth["few"], growth["many"], growth["same_flops"]) == (n, 1, 12, True)
    assert growth["weights_ratio"] == 12
    assert growth["peak_ratio"] == rows[2]["peak_bytes"] / rows[0]["peak_bytes"] > 1


def test_memory_markdown_and_its_refusals():
    rows = [attention_memory(64, 384, count) for count in (1, 12)]
    text = memory_markdown(rows)
    assert "At 64 tokens, 12 heads run the same FLOPs as 1 head" in text
    assert "grow with the heads: 49,152 numbers against 4,096, n_heads · n², 12 times as many" in text
    with pytest.raises(ValueError, match="rows is empty"):
        memory_growth([])
    with pytest.raises(ValueError, match="two head counts at n=64"):
        memory_growth(rows[:1])
    with pytest.raises(ValueError, match="divisible"):
        attention_memory(4, 384, 5)
    with pytest.raises(ValueError, match="n must be >= 1"):
        attention_memory(0, 8, 2)


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
