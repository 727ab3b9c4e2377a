"""Tests for helpers.lessons.l06_add_and_norm.blocks: LayerNorm, BatchNorm, the residual Jacobian and the five ways
to wrap a sublayer.

Each piece is compared with PyTorch's own (nn.LayerNorm, nn.BatchNorm1d, autograd, nn.TransformerEncoderLayer).
"""

import pytest
import torch
from torch import nn

from helpers.lessons.l06_add_and_norm.blocks import (
    VARIANT_LABELS,
    VARIANTS,
    AddNormBlock,
    add_and_norm,
    batch_norm,
    feature_stats,
    layer_norm,
    require_variant,
    residual_jacobian,
    token_stats,
)
from helpers.library.layers import LayerNorm, TransformerBlock


def _randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --------------------------------------------------------------------------- variants


def test_five_variants_each_with_a_label():
    assert VARIANTS == ("plain", "residual", "layernorm", "post_ln", "pre_ln")
    assert set(VARIANT_LABELS) == set(VARIANTS)
    assert require_variant("pre_ln") == "pre_ln"
    for bad in ("Post-LN", None, 3):
        with pytest.raises(ValueError, match="variant must be one of"):
            require_variant(bad)


# --------------------------------------------------------------------------- layer_norm and statistics


@pytest.mark.parametrize("shape", [(5,), (3, 7), (2, 4, 16)])
def test_layer_norm_matches_torch(shape):
    x = _randn(*shape) * 3 + 2
    weight, bias = _randn(shape[-1], seed=1), _randn(shape[-1], seed=2)
    expected = nn.functional.layer_norm(x, shape[-1:], weight, bias, eps=1e-5)
    torch.testing.assert_close(layer_norm(x, weight, bias), expected)
    torch.testing.assert_close(layer_norm(x), nn.functional.layer_norm(x, shape[-1:]))


def test_layer_norm_matches_the_course_layer_norm_module():
    norm = LayerNorm(8, eps=1e-3)
    with torch.no_grad():
        norm.weight.copy_(_randn(8, seed=3))
        norm.bias.copy_(_randn(8, seed=4))
    x = _randn(2, 3, 8)
    torch.testing.assert_close(layer_norm(x, norm.weight, norm.bias, eps=1e-3), norm(x))


def test_layer_norm_gives_each_token_mean_0_and_variance_1():
    x = _randn(4, 6, 32) * torch.linspace(0.1, 10, 32) + 5  # features of very different scales
    mean, variance = token_stats(layer_norm(x))
    assert mean.shape == variance.shape == (4, 6)
    torch.testing.assert_close(mean, torch.zeros(4, 6), atol=1e-5, rtol=0)
    torch.testing.assert_close(variance, torch.ones(4, 6), atol=1e-3, rtol=0)


def test_layer_norm_ignores_each_tokens_scale_and_shift():
    x = _randn(3, 16, dtype=torch.float64)
    scale = torch.tensor([[0.01], [1.0], [100.0]], dtype=torch.float64)
    torch.testing.assert_close(layer_norm(x * scale + 7.0, eps=1e-12), layer_norm(x, eps=1e-12))


def test_token_stats_and_feature_stats_match_torch():
    x = _randn(2, 5, 4)
    mean, variance = token_stats(x)
    torch.testing.assert_close(mean, x.mean(-1))
    torch.testing.assert_close(variance, x.var(-1, unbiased=False))
    mean, variance = feature_stats(x)
    assert mean.shape == variance.shape == (4,)
    torch.testing.assert_close(mean, x.reshape(10, 4).mean(0))
    torch.testing.assert_close(variance, x.reshape(10, 4).var(0, unbiased=False))


def test_batch_norm_matches_torch_batchnorm_in_training_mode():
    x = _randn(4, 3, 6) * 2 + 1
    reference = nn.BatchNorm1d(6, affine=False, eps=1e-5).train()
    expected = reference(x.reshape(12, 6)).reshape(4, 3, 6)
    torch.testing.assert_close(batch_norm(x), expected)
    mean, variance = feature_stats(batch_norm(x))
    torch.testing.assert_close(mean, torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(variance, torch.ones(6), atol=1e-3, rtol=0)


def test_batch_norm_depends_on_the_other_sequences_layer_norm_does_not():
    x = _randn(4, 3, 6)
    other = torch.cat([x[:1], _randn(3, 3, 6, seed=9) * 5])  # same first sequence, different companions
    assert not torch.allclose(batch_norm(x)[0], batch_norm(other)[0])
    assert torch.equal(layer_norm(x)[0], layer_norm(other)[0])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: layer_norm([1.0, 2.0]), TypeError, "x must be a torch.Tensor"),
        (lambda: layer_norm(torch.ones(3, dtype=torch.long)), TypeError, "floating dtype"),
        (lambda: layer_norm(torch.tensor(1.0)), ValueError, r"x must have shape \(\.\.\., d_model\)"),
        (lambda: layer_norm(torch.ones(2, 0)), ValueError, r"got \(2, 0\)"),
        (lambda: layer_norm(torch.ones(3), eps=0), ValueError, "eps must be > 0"),
        (lambda: token_stats(torch.tensor(1.0)), ValueError, "d_model >= 1"),
        (lambda: feature_stats(torch.ones(3, 4)), ValueError, r"\(B, n, d_model\).*got \(3, 4\)"),
        (lambda: batch_norm(torch.ones(0, 2, 4)), ValueError, "no empty axis"),
        (lambda: batch_norm(torch.ones(2, 2, 4), eps=-1.0), ValueError, "eps must be > 0"),
    ],
)
def test_bad_input_is_rejected_with_the_shape(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------- residual_jacobian


def test_residual_jacobian_is_identity_plus_the_sublayers():
    torch.manual_seed(0)
    f = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 6))
    x = _randn(6, seed=5)
    residual, f_jacobian = residual_jacobian(f, x)
    torch.testing.assert_close(f_jacobian, torch.autograd.functional.jacobian(f, x))
    torch.testing.assert_close(residual, torch.eye(6) + f_jacobian)


def test_residual_jacobian_keeps_the_identity_when_the_sublayer_kills_the_gradient():
    x = _randn(4, dtype=torch.float64)
    residual, f_jacobian = residual_jacobian(lambda v: torch.zeros_like(v) * v, x)  # ∂f/∂x = 0
    assert torch.equal(f_jacobian, torch.zeros(4, 4, dtype=torch.float64))
    assert torch.equal(residual, torch.eye(4, dtype=torch.float64))


@pytest.mark.parametrize(
    ("f", "x", "error", "match"),
    [
        (torch.tanh, torch.ones(2, 3), ValueError, r"one token vector of shape \(d,\), got \(2, 3\)"),
        (torch.tanh, torch.ones(0), ValueError, r"got \(0,\)"),
        ("tanh", torch.ones(3), TypeError, "f must be a callable"),
        (lambda v: v[:2], torch.ones(3), ValueError, r"same shape, got \(2,\)"),
        (lambda v: 1.0, torch.ones(3), ValueError, "same shape, got float"),
        (torch.tanh, torch.ones(3, dtype=torch.long), TypeError, "floating dtype"),
    ],
)
def test_residual_jacobian_rejects_bad_input(f, x, error, match):
    with pytest.raises(error, match=match):
        residual_jacobian(f, x)


# --------------------------------------------------------------------------- add_and_norm


def test_add_and_norm_wires_each_variant():
    x = _randn(2, 3, 4)

    def f(u):
        return 2 * u + 1

    def norm(u):
        return u / 10

    expected = {
        "plain": f(x),
        "residual": x + f(x),
        "layernorm": norm(f(x)),
        "post_ln": norm(x + f(x)),
        "pre_ln": x + f(norm(x)),
    }
    for variant, value in expected.items():
        torch.testing.assert_close(add_and_norm(x, f, norm, variant), value)
    with pytest.raises(ValueError, match="variant must be one of"):
        add_and_norm(x, f, norm, "sandwich")


# --------------------------------------------------------------------------- AddNormBlock


def _torch_layer(norm_first, d_model=8, n_heads=2, d_ff=16, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(
        d_model, n_heads, d_ff, dropout=0.0, batch_first=True, norm_first=norm_first, dtype=dtype
    )
    with torch.no_grad():  # give LayerNorm non-trivial weights too, so a swapped norm would be caught
        for norm in (layer.norm1, layer.norm2):
            norm.weight.copy_(1 + 0.3 * torch.randn(d_model, dtype=dtype))
            norm.bias.copy_(0.3 * torch.randn(d_model, dtype=dtype))
    return layer.eval()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("norm_first", "variant"), [(False, "post_ln"), (True, "pre_ln")])
def test_post_ln_and_pre_ln_blocks_match_torch_transformer_encoder_layer(norm_first, variant, dtype):
    layer = _torch_layer(norm_first, dtype=dtype)
    block = AddNormBlock.from_torch(layer)
    assert block.variant == variant
    x = _randn(3, 5, 8, seed=1, dtype=dtype)
    tolerance = {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-10, "rtol": 1e-10}
    with torch.no_grad():
        torch.testing.assert_close(block(x), layer(x), **tolerance)


def test_block_matches_the_course_transformer_block():
    layer = _torch_layer(False, seed=3)
    for variant, norm_first in (("post_ln", False), ("pre_ln", True)):
        layer.norm_first = norm_first
        block, reference = AddNormBlock.from_torch(layer), TransformerBlock.from_torch(layer)
        x = _randn(2, 4, 8, seed=2)
        assert block.variant == variant
        torch.testing.assert_close(block(x), reference(x))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_computes_add_and_norm_with_the_blocks_layers(variant):
    block = AddNormBlock.from_torch(_torch_layer(False, seed=4), variant=variant)
    x = _randn(2, 4, 8, seed=5)
    step = add_and_norm(x, lambda u: block.attn(u)[0], block.norm1, variant)
    expected = add_and_norm(step, block.ff, block.norm2, variant)
    torch.testing.assert_close(block(x), expected)
    assert block(x).shape == (2, 4, 8)


def test_block_rejects_bad_arguments():
    with pytest.raises(ValueError, match="variant must be one of"):
        AddNormBlock(8, 2, 16, variant="none")
    with pytest.raises(ValueError, match="divisible"):
        AddNormBlock(8, 3, 16)
    with pytest.raises(TypeError, match="TransformerEncoderLayer"):
        AddNormBlock.from_torch(nn.Linear(2, 2))
