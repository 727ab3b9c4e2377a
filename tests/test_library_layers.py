"""Tests for helpers.library.layers: each layer is compared with the PyTorch module it reimplements."""

import re

import pytest
import torch
from torch import nn

from helpers.library.attention import causal_mask, padding_mask
from helpers.library.layers import LayerNorm, MultiHeadAttention, TransformerBlock


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _randn(*shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, generator=_gen(seed), dtype=dtype)


def _randomize_(module, seed=0):
    """Give every parameter fresh random values drawn in the parameter's own dtype.

    Drawn in float64 for a float64 module, so a copy that rounds through float32 is caught.
    """
    generator = _gen(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return module


def _torch_mha(d_model, n_heads, bias=True, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    mha = nn.MultiheadAttention(d_model, n_heads, bias=bias, batch_first=True, dtype=dtype)
    return _randomize_(mha, seed).eval()


def _tolerance(dtype):
    return {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-10, "rtol": 1e-10}


# --------------------------------------------------------------------------- MultiHeadAttention


@pytest.mark.parametrize("bias", [True, False])
def test_mha_attributes(bias):
    mha = MultiHeadAttention(12, 3, bias=bias)
    assert (mha.d_model, mha.n_heads, mha.d_k) == (12, 3, 4)
    for linear in (mha.w_q, mha.w_k, mha.w_v, mha.w_o):
        assert isinstance(linear, nn.Linear)
        assert (linear.in_features, linear.out_features) == (12, 12)
        assert (linear.bias is not None) == bias
    n_params = 4 * 12 * 12 + (4 * 12 if bias else 0)
    assert sum(p.numel() for p in mha.parameters()) == n_params


def test_mha_from_torch_copies_weights():
    theirs = _torch_mha(8, 2, seed=1)
    mine = MultiHeadAttention.from_torch(theirs)
    stacked = torch.cat([mine.w_q.weight, mine.w_k.weight, mine.w_v.weight])
    torch.testing.assert_close(stacked, theirs.in_proj_weight, rtol=0, atol=0)
    torch.testing.assert_close(
        torch.cat([mine.w_q.bias, mine.w_k.bias, mine.w_v.bias]), theirs.in_proj_bias, rtol=0, atol=0
    )
    torch.testing.assert_close(mine.w_o.weight, theirs.out_proj.weight, rtol=0, atol=0)
    torch.testing.assert_close(mine.w_o.bias, theirs.out_proj.bias, rtol=0, atol=0)
    # A copy, not shared storage: changing ours leaves torch's alone.
    with torch.no_grad():
        mine.w_q.weight.zero_()
    assert theirs.in_proj_weight[:8].abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("batch", "n", "d_model", "n_heads"), [(2, 5, 8, 2), (3, 1, 12, 4), (1, 7, 6, 1)])
def test_mha_self_attention_matches_torch(batch, n, d_model, n_heads, bias, dtype):
    theirs = _torch_mha(d_model, n_heads, bias=bias, dtype=dtype, seed=n)
    mine = MultiHeadAttention.from_torch(theirs)
    assert mine.w_q.weight.dtype == dtype
    x = _randn(batch, n, d_model, dtype=dtype, seed=2)
    output, weights = mine(x)
    expected, expected_weights = theirs(x, x, x, need_weights=True, average_attn_weights=False)
    assert output.shape == (batch, n, d_model)
    assert weights.shape == (batch, n_heads, n, n)
    torch.testing.assert_close(output, expected, **_tolerance(dtype))
    torch.testing.assert_close(weights, expected_weights, **_tolerance(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_mha_cross_attention_matches_torch(bias, dtype):
    theirs = _torch_mha(8, 4, bias=bias, dtype=dtype, seed=3)
    mine = MultiHeadAttention.from_torch(theirs)
    query = _randn(2, 3, 8, dtype=dtype, seed=4)
    key = _randn(2, 6, 8, dtype=dtype, seed=5)
    value = _randn(2, 6, 8, dtype=dtype, seed=6)
    output, weights = mine(query, key, value)
    expected, expected_weights = theirs(query, key, value, average_attn_weights=False)
    assert output.shape == (2, 3, 8)
    assert weights.shape == (2, 4, 3, 6)
    torch.testing.assert_close(output, expected, **_tolerance(dtype))
    torch.testing.assert_close(weights, expected_weights, **_tolerance(dtype))


def test_mha_value_defaults_to_key():
    mine = MultiHeadAttention.from_torch(_torch_mha(8, 2, seed=7))
    query, key = _randn(2, 3, 8, seed=1), _randn(2, 5, 8, seed=2)
    torch.testing.assert_close(mine(query, key)[0], mine(query, key, key)[0])


@pytest.mark.parametrize("bias", [True, False])
def test_mha_matches_torch_with_weights_copied_by_hand(bias):
    """Copies torch's packed in_proj_weight into w_q, w_k, w_v here, without from_torch."""
    d_model, n_heads = 12, 3
    theirs = _torch_mha(d_model, n_heads, bias=bias, dtype=torch.float64, seed=8)
    mine = MultiHeadAttention(d_model, n_heads, bias=bias).double()
    with torch.no_grad():
        w_q, w_k, w_v = theirs.in_proj_weight.chunk(3, dim=0)
        mine.w_q.weight.copy_(w_q)
        mine.w_k.weight.copy_(w_k)
        mine.w_v.weight.copy_(w_v)
        mine.w_o.weight.copy_(theirs.out_proj.weight)
        if bias:
            b_q, b_k, b_v = theirs.in_proj_bias.chunk(3)
            mine.w_q.bias.copy_(b_q)
            mine.w_k.bias.copy_(b_k)
            mine.w_v.bias.copy_(b_v)
            mine.w_o.bias.copy_(theirs.out_proj.bias)
    query, key = _randn(2, 4, d_model, dtype=torch.float64, seed=9), _randn(2, 6, d_model, dtype=torch.float64)
    output, weights = mine(query, key, key)
    expected, expected_weights = theirs(query, key, key, average_attn_weights=False)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(weights, expected_weights)
    # And the same module, copied by from_torch, agrees with the hand copy.
    torch.testing.assert_close(MultiHeadAttention.from_torch(theirs)(query, key, key)[0], output)


def test_mha_heads_really_split_d_model():
    """Per-head weights computed by hand from slices of the projections equal the module's weights."""
    mha = MultiHeadAttention.from_torch(_torch_mha(8, 2, dtype=torch.float64, seed=10))
    x = _randn(1, 4, 8, dtype=torch.float64, seed=11)
    _, weights = mha(x)
    q, k = mha.w_q(x), mha.w_k(x)
    for head in range(2):
        columns = slice(head * 4, (head + 1) * 4)
        scores = q[..., columns] @ k[..., columns].transpose(-2, -1) / 2.0
        torch.testing.assert_close(weights[:, head], torch.softmax(scores, dim=-1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mha_causal_mask_matches_torch(dtype):
    theirs = _torch_mha(8, 2, dtype=dtype, seed=12)
    mine = MultiHeadAttention.from_torch(theirs)
    x = _randn(2, 5, 8, dtype=dtype, seed=13)
    mask = causal_mask(5)
    output, weights = mine(x, mask=mask)
    # torch's bool attn_mask means the opposite: True = NOT allowed.
    expected, expected_weights = theirs(x, x, x, attn_mask=~mask, average_attn_weights=False)
    torch.testing.assert_close(output, expected, **_tolerance(dtype))
    torch.testing.assert_close(weights, expected_weights, **_tolerance(dtype))
    assert (weights[..., ~mask] == 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mha_padding_mask_matches_torch_key_padding_mask(dtype):
    theirs = _torch_mha(8, 2, dtype=dtype, seed=14)
    mine = MultiHeadAttention.from_torch(theirs)
    lengths = [5, 2, 3]
    x = _randn(3, 5, 8, dtype=dtype, seed=15)
    keep = padding_mask(lengths, 5)  # (B, n), True = real token
    output, weights = mine(x, mask=keep[:, None, :])
    expected, expected_weights = theirs(x, x, x, key_padding_mask=~keep, average_attn_weights=False)
    torch.testing.assert_close(output, expected, **_tolerance(dtype))
    torch.testing.assert_close(weights, expected_weights, **_tolerance(dtype))
    assert (weights[1, :, :, 2:] == 0).all()


def test_mha_padding_and_causal_masks_combined_match_torch():
    theirs = _torch_mha(8, 2, dtype=torch.float64, seed=16)
    mine = MultiHeadAttention.from_torch(theirs)
    x = _randn(2, 4, 8, dtype=torch.float64, seed=17)
    keep = padding_mask([4, 3])
    mask = keep[:, None, :] & causal_mask(4)  # (B, n, n)
    output, _ = mine(x, mask=mask)
    expected, _ = theirs(x, x, x, attn_mask=~causal_mask(4), key_padding_mask=~keep)
    torch.testing.assert_close(output, expected)


def test_mha_per_head_mask():
    mine = MultiHeadAttention.from_torch(_torch_mha(8, 2, seed=18))
    x = _randn(1, 4, 8, seed=19)
    mask = torch.stack([causal_mask(4), torch.ones(4, 4, dtype=torch.bool)])[None]  # (1, n_heads, n, n)
    _, weights = mine(x, mask=mask)
    _, causal_weights = mine(x, mask=causal_mask(4))
    _, free_weights = mine(x)
    torch.testing.assert_close(weights[:, 0], causal_weights[:, 0])
    torch.testing.assert_close(weights[:, 1], free_weights[:, 1])


def test_mha_gradients_match_torch():
    theirs = _torch_mha(8, 2, dtype=torch.float64, seed=20)
    mine = MultiHeadAttention.from_torch(theirs)
    x_mine = _randn(2, 5, 8, dtype=torch.float64, seed=21).requires_grad_()
    x_theirs = x_mine.detach().clone().requires_grad_()
    mine(x_mine, mask=causal_mask(5))[0].square().sum().backward()
    theirs(x_theirs, x_theirs, x_theirs, attn_mask=~causal_mask(5))[0].square().sum().backward()
    torch.testing.assert_close(x_mine.grad, x_theirs.grad)
    torch.testing.assert_close(
        torch.cat([mine.w_q.weight.grad, mine.w_k.weight.grad, mine.w_v.weight.grad]), theirs.in_proj_weight.grad
    )


@pytest.mark.parametrize(("d_model", "n_heads"), [(10, 3), (8, 16)])
def test_mha_rejects_d_model_not_divisible_by_n_heads(d_model, n_heads):
    with pytest.raises(ValueError, match=f"d_model={d_model} must be divisible by n_heads={n_heads}"):
        MultiHeadAttention(d_model, n_heads)


@pytest.mark.parametrize(("d_model", "n_heads", "error"), [(0, 1, ValueError), (8, 0, ValueError), (8.0, 2, TypeError)])
def test_mha_rejects_bad_sizes(d_model, n_heads, error):
    with pytest.raises(error):
        MultiHeadAttention(d_model, n_heads)


def test_mha_rejects_2d_input_and_suggests_unsqueeze():
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=re.escape("(5, 8)") + r".*unsqueeze\(0\)"):
        mha(torch.randn(5, 8))


@pytest.mark.parametrize("shape", [(2, 5, 6), (2, 5, 16), (1, 2, 5, 8), (8,)])
def test_mha_rejects_wrong_shape(shape):
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"d_model=8.*" + re.escape(str(shape))):
        mha(torch.randn(shape))


def test_mha_rejects_wrong_d_model_in_key():
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"key must have shape.*" + re.escape("(2, 5, 4)")):
        mha(torch.randn(2, 3, 8), torch.randn(2, 5, 4))


@pytest.mark.parametrize(
    ("query_shape", "key_shape", "value_shape"),
    [((2, 3, 8), (3, 3, 8), (3, 3, 8)), ((2, 3, 8), (2, 5, 8), (2, 4, 8)), ((2, 3, 8), (2, 5, 8), (1, 5, 8))],
)
def test_mha_rejects_mismatched_batch_or_n_k(query_shape, key_shape, value_shape):
    mha = MultiHeadAttention(8, 2)
    pattern = r".*".join(re.escape(str(s)) for s in (query_shape, key_shape, value_shape))
    with pytest.raises(ValueError, match=pattern):
        mha(torch.randn(query_shape), torch.randn(key_shape), torch.randn(value_shape))


def test_mha_rejects_integer_input():
    with pytest.raises(TypeError, match="floating dtype"):
        MultiHeadAttention(8, 2)(torch.ones(2, 3, 8, dtype=torch.int64))


@pytest.mark.parametrize("mask", [torch.ones(4, dtype=torch.bool), torch.ones(1, 1, 1, 4, 4, dtype=torch.bool)])
def test_mha_rejects_mask_with_wrong_rank(mask):
    with pytest.raises(ValueError, match="mask must be"):
        MultiHeadAttention(8, 2)(torch.randn(2, 4, 8), mask=mask)


def test_mha_rejects_float_mask():
    with pytest.raises(TypeError, match="bool"):
        MultiHeadAttention(8, 2)(torch.randn(2, 4, 8), mask=torch.ones(4, 4))


def test_mha_from_torch_rejects_other_modules():
    with pytest.raises(TypeError, match="MultiheadAttention"):
        MultiHeadAttention.from_torch(nn.Linear(8, 8))
    with pytest.raises(ValueError, match="kdim"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, kdim=4, vdim=4))


@pytest.mark.parametrize("kwargs", [{"add_bias_kv": True}, {"add_zero_attn": True}])
def test_mha_from_torch_rejects_what_it_cannot_copy(kwargs):
    with pytest.raises(ValueError, match="add_bias_kv|add_zero_attn"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, **kwargs))


# --------------------------------------------------------------------------- LayerNorm


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("shape", "eps"), [((4, 8), 1e-5), ((2, 3, 16), 1e-5), ((5,), 1e-3), ((2, 1, 3, 6), 1e-6)])
def test_layer_norm_matches_torch(shape, eps, dtype):
    d_model = shape[-1]
    theirs = _randomize_(nn.LayerNorm(d_model, eps=eps, dtype=dtype), seed=d_model)
    mine = LayerNorm.from_torch(theirs)
    assert mine.eps == eps
    assert mine.weight.dtype == dtype
    x = 3 * _randn(*shape, dtype=dtype, seed=1) + 2
    torch.testing.assert_close(mine(x), theirs(x), **_tolerance(dtype))


def test_layer_norm_matches_torch_with_weights_copied_by_hand():
    theirs = _randomize_(nn.LayerNorm(8, dtype=torch.float64), seed=2)
    mine = LayerNorm(8).double()
    with torch.no_grad():
        mine.weight.copy_(theirs.weight)
        mine.bias.copy_(theirs.bias)
    x = _randn(3, 4, 8, dtype=torch.float64, seed=3)
    torch.testing.assert_close(mine(x), theirs(x))


def test_layer_norm_default_weights_and_gradients_match_torch():
    mine, theirs = LayerNorm(6), nn.LayerNorm(6)
    x_mine = _randn(2, 3, 6, seed=4).requires_grad_()
    x_theirs = x_mine.detach().clone().requires_grad_()
    upstream = _randn(2, 3, 6, seed=5)
    (mine(x_mine) * upstream).sum().backward()
    (theirs(x_theirs) * upstream).sum().backward()
    torch.testing.assert_close(x_mine.grad, x_theirs.grad)
    torch.testing.assert_close(mine.weight.grad, theirs.weight.grad)
    torch.testing.assert_close(mine.bias.grad, theirs.bias.grad)


@pytest.mark.parametrize("shape", [(4, 32), (2, 5, 32)])
def test_layer_norm_gives_each_token_mean_0_and_variance_1(shape):
    x = 5 * _randn(*shape, dtype=torch.float64, seed=6) - 3
    y = LayerNorm(32).double()(x)
    torch.testing.assert_close(y.mean(dim=-1), torch.zeros(shape[:-1], dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        y.var(dim=-1, unbiased=False), torch.ones(shape[:-1], dtype=torch.float64), atol=1e-4, rtol=0
    )


def test_layer_norm_is_per_token_not_per_batch():
    x = _randn(3, 4, 8, seed=7)
    norm = LayerNorm(8)
    scaled = x.clone()
    scaled[1] = scaled[1] * 100 + 50  # changing one sequence must not change another's output
    torch.testing.assert_close(norm(scaled)[[0, 2]], norm(x)[[0, 2]])
    torch.testing.assert_close(norm(scaled)[1], norm(x)[1], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("shape", [(4, 7), (2, 8, 3), (8, 1)])
def test_layer_norm_rejects_wrong_last_dim(shape):
    with pytest.raises(ValueError, match=r"d_model=8.*" + re.escape(str(shape))):
        LayerNorm(8)(torch.randn(shape))


def test_layer_norm_rejects_0d_and_integer_input():
    with pytest.raises(ValueError, match="d_model=8"):
        LayerNorm(8)(torch.tensor(1.0))
    with pytest.raises(TypeError, match="floating dtype"):
        LayerNorm(8)(torch.ones(2, 8, dtype=torch.int64))


@pytest.mark.parametrize(("kwargs", "error"), [({"eps": 0.0}, ValueError), ({"eps": -1e-5}, ValueError)])
def test_layer_norm_rejects_bad_eps(kwargs, error):
    with pytest.raises(error, match="eps"):
        LayerNorm(8, **kwargs)


# --------------------------------------------------------------------------- TransformerBlock


def _torch_layer(d_model, n_heads, d_ff, norm_first, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(
        d_model, n_heads, d_ff, dropout=0.0, batch_first=True, norm_first=norm_first, dtype=dtype
    )
    return _randomize_(layer, seed).eval()


def test_block_attributes():
    block = TransformerBlock(8, 2, 32)
    assert isinstance(block.attn, MultiHeadAttention)
    assert (block.attn.d_model, block.attn.n_heads) == (8, 2)
    assert isinstance(block.ff, nn.Sequential)
    assert [type(m) for m in block.ff] == [nn.Linear, nn.ReLU, nn.Linear]
    assert (block.ff[0].in_features, block.ff[0].out_features) == (8, 32)
    assert (block.ff[2].in_features, block.ff[2].out_features) == (32, 8)
    assert isinstance(block.norm1, LayerNorm) and isinstance(block.norm2, LayerNorm)
    assert block.norm_first is False
    assert TransformerBlock(8, 2, 32, norm_first=True).norm_first is True


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_block_from_torch_matches_torch(norm_first, causal, dtype):
    layer = _torch_layer(8, 2, 16, norm_first, dtype=dtype, seed=1)
    block = TransformerBlock.from_torch(layer)
    assert block.norm_first is norm_first
    x = _randn(3, 5, 8, dtype=dtype, seed=2)
    mask = causal_mask(5) if causal else None
    # torch's bool src_mask means the opposite: True = NOT allowed.
    src_mask = ~causal_mask(5) if causal else None
    output = block(x, mask=mask)
    expected = layer(x, src_mask=src_mask)
    assert output.shape == x.shape
    torch.testing.assert_close(output, expected, **_tolerance(dtype))


@pytest.mark.parametrize("norm_first", [False, True])
def test_block_causal_mask_matches_torch_is_causal(norm_first):
    layer = _torch_layer(8, 4, 16, norm_first, seed=3)
    block = TransformerBlock.from_torch(layer)
    x = _randn(2, 6, 8, seed=4)
    src_mask = nn.Transformer.generate_square_subsequent_mask(6)  # float, -inf above the diagonal
    expected = layer(x, src_mask=src_mask, is_causal=True)
    torch.testing.assert_close(block(x, mask=causal_mask(6)), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_block_input_gradients_match_torch(norm_first, causal):
    layer = _torch_layer(8, 2, 16, norm_first, seed=5)
    block = TransformerBlock.from_torch(layer)
    x_mine = _randn(2, 5, 8, seed=6).requires_grad_()
    x_theirs = x_mine.detach().clone().requires_grad_()
    upstream = _randn(2, 5, 8, seed=7)
    mask = causal_mask(5) if causal else None
    src_mask = ~causal_mask(5) if causal else None
    (block(x_mine, mask=mask) * upstream).sum().backward()
    (layer(x_theirs, src_mask=src_mask) * upstream).sum().backward()
    assert x_mine.grad.abs().sum() > 0
    torch.testing.assert_close(x_mine.grad, x_theirs.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(block.ff[0].weight.grad, layer.linear1.weight.grad, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("norm_first", [False, True])
def test_block_matches_torch_with_weights_copied_by_hand(norm_first):
    d_model, n_heads, d_ff = 12, 3, 24
    layer = _torch_layer(d_model, n_heads, d_ff, norm_first, dtype=torch.float64, seed=8)
    block = TransformerBlock(d_model, n_heads, d_ff, norm_first=norm_first).double()
    with torch.no_grad():
        attn = layer.self_attn
        for i, linear in enumerate((block.attn.w_q, block.attn.w_k, block.attn.w_v)):
            linear.weight.copy_(attn.in_proj_weight[i * d_model : (i + 1) * d_model])
            linear.bias.copy_(attn.in_proj_bias[i * d_model : (i + 1) * d_model])
        block.attn.w_o.weight.copy_(attn.out_proj.weight)
        block.attn.w_o.bias.copy_(attn.out_proj.bias)
        for mine, theirs in ((block.ff[0], layer.linear1), (block.ff[2], layer.linear2)):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
        for mine, theirs in ((block.norm1, layer.norm1), (block.norm2, layer.norm2)):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    x = _randn(2, 4, d_model, dtype=torch.float64, seed=9)
    torch.testing.assert_close(block(x), layer(x))
    torch.testing.assert_close(block(x, mask=causal_mask(4)), layer(x, src_mask=~causal_mask(4)))


def test_block_return_weights():
    layer = _torch_layer(8, 2, 16, False, dtype=torch.float64, seed=10)
    block = TransformerBlock.from_torch(layer)
    x = _randn(2, 5, 8, dtype=torch.float64, seed=11)
    output, weights = block(x, mask=causal_mask(5), return_weights=True)
    torch.testing.assert_close(output, block(x, mask=causal_mask(5)))
    _, expected_weights = layer.self_attn(x, x, x, attn_mask=~causal_mask(5), average_attn_weights=False)
    torch.testing.assert_close(weights, expected_weights)


def test_block_from_torch_rejects_other_layers():
    with pytest.raises(TypeError, match="TransformerEncoderLayer"):
        TransformerBlock.from_torch(nn.Linear(8, 8))
    with pytest.raises(ValueError, match="relu"):
        TransformerBlock.from_torch(nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True))


def test_block_rejects_bad_sizes():
    with pytest.raises(ValueError, match="divisible"):
        TransformerBlock(10, 3, 16)
    with pytest.raises(ValueError, match="d_ff"):
        TransformerBlock(8, 2, 0)
