"""helpers.library.multi_head_attention: multi-head attention built from single heads, checked against PyTorch's own."""

import pytest
import torch
from torch import nn

from helpers.library.attention import causal_mask, scaled_dot_product_attention
from helpers.library.layers import MultiHeadAttention
from helpers.library.multi_head_attention import (
    combine_heads,
    head_contributions,
    multi_head_attention,
    projections_of,
    single_head,
    split_heads,
)


def _randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _torch_mha(d_model, n_heads, bias=True, seed=0, dtype=torch.float32):
    """A torch.nn.MultiheadAttention with every parameter random (not the zero biases it starts with)."""
    mha = nn.MultiheadAttention(d_model, n_heads, bias=bias, batch_first=True, dtype=dtype)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in mha.parameters():
            parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator, dtype=dtype))
    return mha.eval()


# --------------------------------------------------------------------------- split and combine


@pytest.mark.parametrize(("shape", "n_heads"), [((2, 5, 12), 3), ((4, 8), 2), ((1, 3, 6), 1), ((2, 3, 4), 4)])
def test_split_heads_gives_each_head_its_slice_of_features(shape, n_heads):
    x = _randn(*shape)
    heads = split_heads(x, n_heads)
    d_k = shape[-1] // n_heads
    assert heads.shape == (*shape[:-2], n_heads, shape[-2], d_k)
    for h in range(n_heads):
        torch.testing.assert_close(heads[..., h, :, :], x[..., h * d_k : (h + 1) * d_k], rtol=0, atol=0)


def test_combine_heads_undoes_split_heads():
    x = _randn(2, 5, 12)
    torch.testing.assert_close(combine_heads(split_heads(x, 3)), x, rtol=0, atol=0)
    heads = _randn(2, 3, 5, 4)
    torch.testing.assert_close(split_heads(combine_heads(heads), 3), heads, rtol=0, atol=0)


def test_viewing_without_the_transpose_is_different():
    """The classic slip: x.view(B, n_heads, n, d_k) hands a head features of other tokens."""
    x = _randn(1, 4, 6)
    assert not torch.equal(split_heads(x, 2), x.view(1, 2, 4, 3))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: split_heads(_randn(2, 5, 12), 5), ValueError, "d_model=12 must be divisible by n_heads=5"),
        (lambda: split_heads(_randn(12), 3), ValueError, r"x must have shape \(\.\.\., n, d_model\), got \(12,\)"),
        (lambda: split_heads(torch.ones(2, 4, dtype=torch.long), 2), TypeError, "floating dtype"),
        (lambda: split_heads(_randn(2, 4), 0), ValueError, "n_heads must be >= 1"),
        (lambda: split_heads(_randn(2, 4), True), TypeError, "n_heads must be an int"),
        (lambda: combine_heads(_randn(5, 4)), ValueError, r"heads must have shape \(\.\.\., n_heads, n, d_k\)"),
    ],
)
def test_split_and_combine_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------- the layer, head by head


@pytest.mark.parametrize(("d_model", "n_heads", "bias"), [(12, 3, True), (8, 1, True), (8, 8, True), (16, 4, False)])
def test_matches_torch_multihead_attention_with_copied_weights(d_model, n_heads, bias):
    theirs = _torch_mha(d_model, n_heads, bias=bias, seed=d_model + n_heads)
    x = _randn(2, 5, d_model, seed=1)
    expected, expected_weights = theirs(x, x, x, need_weights=True, average_attn_weights=False)
    output, weights = multi_head_attention(x, projections_of(theirs), n_heads)
    torch.testing.assert_close(output, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, expected_weights, atol=1e-6, rtol=1e-5)


def test_matches_helpers_layers_in_float64_and_with_a_mask():
    theirs = _torch_mha(12, 3, seed=3, dtype=torch.float64)
    mine = MultiHeadAttention.from_torch(theirs)
    x = _randn(2, 6, 12, seed=2, dtype=torch.float64)
    mask = causal_mask(6)
    expected, expected_weights = mine(x, mask=mask)
    output, weights = multi_head_attention(x, projections_of(mine), 3, mask=mask)
    torch.testing.assert_close(output, expected, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(weights, expected_weights, atol=1e-12, rtol=1e-12)
    assert torch.all(weights.triu(diagonal=1) == 0)


def test_projections_of_both_modules_agree():
    theirs = _torch_mha(8, 2, seed=5)
    mine = MultiHeadAttention.from_torch(theirs)
    a, b = projections_of(theirs), projections_of(mine)
    assert set(a) == set(b) == {"w_q", "b_q", "w_k", "b_k", "w_v", "b_v", "w_o", "b_o"}
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    assert not a["w_q"].requires_grad
    no_bias = projections_of(MultiHeadAttention(8, 2, bias=False))
    assert all(no_bias[name] is None for name in ("b_q", "b_k", "b_v", "b_o"))
    with pytest.raises(
        TypeError, match="expected helpers.library.layers.MultiHeadAttention or torch.nn.MultiheadAttention"
    ):
        projections_of(nn.Linear(4, 4))


def test_single_head_is_scaled_dot_product_attention_of_its_projections():
    x = _randn(5, 8)
    w_q, w_k, w_v = _randn(3, 2, 8, seed=1)  # d_k = 2
    output, weights = single_head(x, w_q, w_k, w_v)
    expected_output, expected_weights = scaled_dot_product_attention(x @ w_q.T, x @ w_k.T, x @ w_v.T)
    torch.testing.assert_close(output, expected_output)
    torch.testing.assert_close(weights, expected_weights)
    assert output.shape == (5, 2) and weights.shape == (5, 5)


def test_head_contributions_sum_to_the_output():
    mha = MultiHeadAttention.from_torch(_torch_mha(12, 3, seed=7))
    x = _randn(2, 4, 12, seed=8)
    projections = projections_of(mha)
    contributions = head_contributions(x, projections, 3)
    assert contributions.shape == (2, 3, 4, 12)
    output, _ = multi_head_attention(x, projections, 3)
    torch.testing.assert_close(contributions.sum(dim=-3) + projections["b_o"], output, atol=1e-5, rtol=1e-5)


def test_keep_heads_zeroes_the_other_heads_before_w_o():
    mha = MultiHeadAttention.from_torch(_torch_mha(12, 3, seed=9))
    x = _randn(1, 4, 12, seed=10)
    projections = projections_of(mha)
    contributions = head_contributions(x, projections, 3)
    kept, weights = multi_head_attention(x, projections, 3, keep_heads=[0, 2])
    torch.testing.assert_close(
        kept, contributions[:, 0] + contributions[:, 2] + projections["b_o"], atol=1e-5, rtol=1e-5
    )
    only_bias, _ = multi_head_attention(x, projections, 3, keep_heads=[])
    torch.testing.assert_close(only_bias, projections["b_o"].expand(1, 4, 12))
    assert weights.shape == (1, 3, 4, 4)  # the weights of every head are still returned


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_heads": 5}, ValueError, "d_model=12 must be divisible by n_heads=5"),
        ({"keep_heads": [3]}, ValueError, "keep_heads must be a list of heads between 0 and 2"),
        ({"keep_heads": 1}, ValueError, "keep_heads must be a list"),
        ({"projections": {"w_q": torch.eye(12)}}, TypeError, "projections must be a dict with w_q, w_k, w_v, w_o"),
        ({"projections": "weights"}, TypeError, "projections must be a dict"),
        ({"x": _randn(1, 4, 6)}, ValueError, r"w_q must have shape \(6, 6\) \(d_model=6\), got \(12, 12\)"),
        ({"x": _randn(4)}, ValueError, r"x must have shape \(\.\.\., n, d_model\)"),
    ],
)
def test_multi_head_attention_rejects_bad_input(kwargs, error, match):
    values = {
        "x": _randn(1, 4, 12),
        "projections": projections_of(MultiHeadAttention(12, 3)),
        "n_heads": 3,
    } | kwargs
    with pytest.raises(error, match=match):
        multi_head_attention(**values)


def test_a_nan_in_x_is_reported_not_returned():
    x = _randn(1, 4, 12)
    x[0, 1, 2] = float("nan")
    with pytest.raises(ValueError, match="contains NaN"):
        multi_head_attention(x, projections_of(MultiHeadAttention(12, 3)), 3)
