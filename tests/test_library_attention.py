"""Tests for helpers.library.attention: softmax, masks and scaled dot-product attention, checked against PyTorch."""

import math
import re

import pytest
import torch
import torch.nn.functional as F

from helpers.library.attention import causal_mask, padding_mask, scaled_dot_product_attention, softmax


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _randn(*shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, generator=_gen(seed), dtype=dtype)


def _shape(t):
    """The shape as it appears in the helpers' error messages, ready for `match=`."""
    return re.escape(str(tuple(t.shape)))


# --------------------------------------------------------------------------- softmax


SOFTMAX_CASES = [
    ((7,), 0),
    ((7,), -1),
    ((3, 5), -1),
    ((3, 5), 0),
    ((2, 3, 4), 1),
    ((2, 3, 4), -3),
    ((2, 1, 3, 6), 3),
    ((2, 1, 3, 6), 1),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("shape", "dim"), SOFTMAX_CASES)
@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_softmax_matches_torch(shape, dim, dtype, temperature):
    x = _randn(*shape, dtype=dtype, seed=len(shape) + dim) * 4
    result = softmax(x, dim=dim, temperature=temperature)
    assert result.shape == x.shape
    assert result.dtype == dtype
    torch.testing.assert_close(result, torch.softmax(x / temperature, dim=dim))
    torch.testing.assert_close(result.sum(dim=dim), torch.ones_like(result.sum(dim=dim)))


def test_softmax_default_dim_is_last():
    x = _randn(3, 4, 5)
    torch.testing.assert_close(softmax(x), torch.softmax(x, dim=-1))


def test_softmax_temperature_as_one_element_tensor():
    x = _randn(3, 4)
    torch.testing.assert_close(softmax(x, temperature=torch.tensor(2.0)), torch.softmax(x / 2.0, dim=-1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_is_stable_for_huge_logits(dtype):
    x = torch.tensor([[1e4, -1e4, 0.0], [1e4, 1e4 - 1.0, 1e4 - 2.0], [-1e4, -1e4 + 3.0, -1e4]], dtype=dtype)
    result = softmax(x)
    assert torch.isfinite(result).all()
    torch.testing.assert_close(result, torch.softmax(x, dim=-1))
    # A naive exp(x) / sum(exp(x)) overflows here: make sure the test input really is hard.
    naive = torch.exp(x) / torch.exp(x).sum(dim=-1, keepdim=True)
    assert not torch.isfinite(naive).all()


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf"), float("-inf")])
def test_softmax_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        softmax(_randn(2, 3), temperature=temperature)


def test_softmax_rejects_non_number_temperature():
    with pytest.raises(TypeError, match="temperature"):
        softmax(_randn(2, 3), temperature="hot")


@pytest.mark.parametrize("x", [[1.0, 2.0], 3.0, torch.tensor([1, 2, 3]), torch.tensor([True, False])])
def test_softmax_rejects_non_float_input(x):
    with pytest.raises(TypeError, match="x must"):
        softmax(x)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_softmax_rejects_nan_and_positive_inf(bad):
    x = _randn(2, 3)
    x[1, 2] = bad
    with pytest.raises(ValueError, match=re.escape("(2, 3)")):
        softmax(x)


def test_softmax_rejects_0d_tensor():
    with pytest.raises(ValueError, match="0-d"):
        softmax(torch.tensor(1.0))


def test_softmax_rejects_temperature_that_overflows():
    with pytest.raises(ValueError, match="temperature"):
        softmax(torch.tensor([1e30, 0.0]), temperature=1e-30)


@pytest.mark.parametrize("dim", [2, -3, 10])
def test_softmax_rejects_dim_out_of_range(dim):
    with pytest.raises(ValueError, match="out of range"):
        softmax(_randn(2, 3), dim=dim)


def test_softmax_rejects_non_int_dim():
    with pytest.raises(TypeError, match="dim"):
        softmax(_randn(2, 3), dim=1.0)


def test_softmax_all_negative_inf_slice_gives_zeros():
    x = _randn(3, 4)
    x[1] = float("-inf")
    result = softmax(x)
    assert not torch.isnan(result).any()
    torch.testing.assert_close(result[1], torch.zeros(4))
    torch.testing.assert_close(result[[0, 2]], torch.softmax(x[[0, 2]], dim=-1))


def test_softmax_all_negative_inf_along_dim_0():
    x = _randn(3, 4)
    x[:, 2] = float("-inf")
    result = softmax(x, dim=0)
    torch.testing.assert_close(result[:, 2], torch.zeros(3))
    torch.testing.assert_close(result.sum(dim=0), torch.tensor([1.0, 1.0, 0.0, 1.0]))


def test_softmax_negative_inf_entries_get_zero_weight():
    x = _randn(4, 6)
    masked = torch.zeros(4, 6, dtype=torch.bool)
    masked[0, 1] = masked[2, [0, 3, 5]] = masked[3, :5] = True
    x = x.masked_fill(masked, float("-inf"))
    result = softmax(x)
    assert (result[masked] == 0).all()
    assert (result[~masked] > 0).all()
    torch.testing.assert_close(result, torch.softmax(x, dim=-1))
    torch.testing.assert_close(result[3, 5], torch.tensor(1.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("shape", "dim"), [((5,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_softmax_gradient_matches_torch(shape, dim, dtype):
    x = _randn(*shape, dtype=dtype, seed=1) * 3
    upstream = _randn(*shape, dtype=dtype, seed=2)
    ours = x.clone().requires_grad_()
    theirs = x.clone().requires_grad_()
    (softmax(ours, dim=dim, temperature=0.7) * upstream).sum().backward()
    (torch.softmax(theirs / 0.7, dim=dim) * upstream).sum().backward()
    assert ours.grad is not None
    assert ours.grad.abs().sum() > 0
    torch.testing.assert_close(ours.grad, theirs.grad)


def test_softmax_gradient_with_masked_entries_matches_torch():
    x = _randn(3, 5, dtype=torch.float64).masked_fill(torch.eye(3, 5, dtype=torch.bool), float("-inf"))
    upstream = _randn(3, 5, dtype=torch.float64, seed=3)
    ours = x.clone().requires_grad_()
    theirs = x.clone().requires_grad_()
    (softmax(ours) * upstream).sum().backward()
    (torch.softmax(theirs, dim=-1) * upstream).sum().backward()
    assert torch.isfinite(ours.grad).all()
    torch.testing.assert_close(ours.grad, theirs.grad)


def test_softmax_gradient_of_fully_masked_row_is_finite():
    x = _randn(2, 4).requires_grad_()
    mask = torch.tensor([[True] * 4, [False] * 4])
    softmax(x.masked_fill(mask, float("-inf"))).sum().backward()
    assert torch.isfinite(x.grad).all()
    torch.testing.assert_close(x.grad[0], torch.zeros(4))


# --------------------------------------------------------------------------- causal_mask


@pytest.mark.parametrize("n", [1, 2, 5, 16])
def test_causal_mask_is_lower_triangle(n):
    mask = causal_mask(n)
    assert mask.dtype == torch.bool
    assert mask.shape == (n, n)
    assert torch.equal(mask, torch.ones(n, n, dtype=torch.bool).tril())


def test_causal_mask_query_sees_only_itself_and_the_past():
    mask = causal_mask(4)
    assert mask[2, 0] and mask[2, 1] and mask[2, 2]
    assert not mask[2, 3]
    assert not mask[0, 1]
    assert mask.diagonal().all()


@pytest.mark.parametrize("n", [0, -3])
def test_causal_mask_rejects_small_n(n):
    with pytest.raises(ValueError, match="n must be >= 1"):
        causal_mask(n)


@pytest.mark.parametrize("n", [3.0, True, "3", None])
def test_causal_mask_rejects_non_int(n):
    with pytest.raises(TypeError, match="n must be an int"):
        causal_mask(n)


# --------------------------------------------------------------------------- padding_mask


def test_padding_mask_from_list():
    mask = padding_mask([3, 1, 4], n=5)
    expected = torch.tensor(
        [
            [True, True, True, False, False],
            [True, False, False, False, False],
            [True, True, True, True, False],
        ]
    )
    assert mask.dtype == torch.bool
    assert torch.equal(mask, expected)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8])
def test_padding_mask_from_int_tensor(dtype):
    lengths = torch.tensor([2, 0, 3], dtype=dtype)
    mask = padding_mask(lengths, n=3)
    assert torch.equal(mask, torch.tensor([[True, True, False], [False, False, False], [True, True, True]]))


def test_padding_mask_n_defaults_to_max_length():
    mask = padding_mask([2, 5, 1])
    assert mask.shape == (3, 5)
    assert torch.equal(mask.sum(dim=1), torch.tensor([2, 5, 1]))
    assert mask[1].all()


@pytest.mark.parametrize("lengths", [[1, 6, 2], torch.tensor([7])])
def test_padding_mask_rejects_length_longer_than_n(lengths):
    with pytest.raises(ValueError, match="<= n=5"):
        padding_mask(lengths, n=5)


def test_padding_mask_rejects_negative_length():
    with pytest.raises(ValueError, match=">= 0"):
        padding_mask([2, -1], n=3)


@pytest.mark.parametrize("lengths", [[1.0, 2.0], torch.tensor([1.5, 2.0]), [True, False], ["a", "b"]])
def test_padding_mask_rejects_non_integer_lengths(lengths):
    with pytest.raises(TypeError, match="lengths"):
        padding_mask(lengths, n=3)


@pytest.mark.parametrize(
    "lengths", [[[1, 2], [3, 1]], torch.tensor([[1, 2]]), torch.tensor(3), torch.tensor([], dtype=torch.int64)]
)
def test_padding_mask_rejects_non_1d_lengths(lengths):
    with pytest.raises(ValueError, match="1-D"):
        padding_mask(lengths, n=3)


@pytest.mark.parametrize(("n", "error"), [(0, ValueError), (2.0, TypeError)])
def test_padding_mask_rejects_bad_n(n, error):
    with pytest.raises(error, match="n must"):
        padding_mask([1, 2], n=n)


# --------------------------------------------------------------------------- scaled_dot_product_attention


SDPA_SHAPES = [
    pytest.param((2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 8), id="two-batch-dims"),
    pytest.param((2, 2, 2, 4, 6), (2, 2, 2, 4, 6), (2, 2, 2, 4, 6), id="three-batch-dims"),
    pytest.param((1, 1, 8), (1, 1, 8), (1, 1, 8), id="n=1"),
    pytest.param((2, 4, 8), (2, 7, 8), (2, 7, 8), id="n_q!=n_k"),
    pytest.param((2, 4, 8), (2, 6, 8), (2, 6, 3), id="d_v!=d_k"),
    pytest.param((2, 3, 4, 8), (3, 6, 8), (1, 3, 6, 5), id="broadcast-batch"),
    pytest.param((2, 1, 4, 8), (1, 3, 6, 8), (1, 3, 6, 8), id="broadcast-both-ways"),
    pytest.param((4, 8), (6, 8), (6, 8), id="no-batch-dims"),
]


def _qkv(q_shape, k_shape, v_shape, dtype=torch.float32, seed=0):
    return (
        _randn(*q_shape, dtype=dtype, seed=seed),
        _randn(*k_shape, dtype=dtype, seed=seed + 1),
        _randn(*v_shape, dtype=dtype, seed=seed + 2),
    )


def _reference_weights(q, k, mask=None, scale=None):
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-5), (torch.float64, 1e-10)])
@pytest.mark.parametrize(("q_shape", "k_shape", "v_shape"), SDPA_SHAPES)
def test_sdpa_matches_torch(q_shape, k_shape, v_shape, dtype, tol):
    q, k, v = _qkv(q_shape, k_shape, v_shape, dtype=dtype)
    output, weights = scaled_dot_product_attention(q, k, v)
    expected = F.scaled_dot_product_attention(q, k, v)
    assert output.shape == expected.shape
    assert output.dtype == dtype
    torch.testing.assert_close(output, expected, atol=tol, rtol=tol)
    n_q, n_k = q.shape[-2], k.shape[-2]
    assert weights.shape[-2:] == (n_q, n_k)
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)), atol=tol, rtol=tol)
    torch.testing.assert_close(weights, _reference_weights(q, k), atol=tol, rtol=tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [0.3, 2.0, 0.0])
def test_sdpa_custom_scale_matches_torch(scale, dtype):
    q, k, v = _qkv((2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 8), dtype=dtype)
    output, weights = scaled_dot_product_attention(q, k, v, scale=scale)
    torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v, scale=scale), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, _reference_weights(q, k, scale=scale))
    if scale == 0.0:
        torch.testing.assert_close(weights, torch.full_like(weights, 1 / 6))


def test_sdpa_default_scale_is_inverse_sqrt_d_k():
    q, k, v = _qkv((2, 5, 16), (2, 5, 16), (2, 5, 16))
    default, _ = scaled_dot_product_attention(q, k, v)
    explicit, _ = scaled_dot_product_attention(q, k, v, scale=0.25)
    other, _ = scaled_dot_product_attention(q, k, v, scale=1.0)
    torch.testing.assert_close(default, explicit)
    assert not torch.allclose(default, other)


def _random_mask(shape, seed=0):
    """A random bool mask in which every query can still attend to key 0."""
    mask = torch.rand(*shape, generator=_gen(seed)) > 0.4
    mask[..., 0] = True
    return mask


# (q_shape, k_shape, mask), with v shaped like k.
MASK_CASES = [
    pytest.param((2, 3, 4, 8), (2, 3, 6, 8), _random_mask((4, 6)), id="(n_q,n_k)"),
    pytest.param((3, 4, 8), (3, 6, 8), _random_mask((3, 1, 6), seed=1), id="(B,1,n_k)"),
    pytest.param((2, 3, 4, 8), (2, 3, 6, 8), _random_mask((2, 1, 1, 6), seed=2), id="(B,1,1,n_k)"),
    pytest.param((2, 3, 4, 8), (2, 3, 6, 8), _random_mask((2, 3, 4, 6), seed=3), id="full"),
    pytest.param((2, 3, 5, 8), (2, 3, 5, 8), causal_mask(5), id="causal"),
    pytest.param((3, 4, 8), (3, 4, 8), padding_mask([4, 1, 2])[:, None, :], id="padding"),
    pytest.param((2, 4, 8), (1, 6, 8), _random_mask((2, 4, 6), seed=4), id="broadcast-k"),
]


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-5), (torch.float64, 1e-10)])
@pytest.mark.parametrize(("q_shape", "k_shape", "mask"), MASK_CASES)
def test_sdpa_with_mask_matches_torch(q_shape, k_shape, mask, dtype, tol):
    q, k, v = _qkv(q_shape, k_shape, k_shape, dtype=dtype, seed=5)
    output, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(output, expected, atol=tol, rtol=tol)
    reference = _reference_weights(q, k, mask=mask)
    torch.testing.assert_close(weights, reference, atol=tol, rtol=tol)
    masked = ~mask.expand_as(weights)
    assert masked.any()
    assert (weights[masked] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)), atol=tol, rtol=tol)


def test_sdpa_causal_query_ignores_future_values():
    q, k, v = _qkv((1, 5, 4), (1, 5, 4), (1, 5, 3))
    output, _ = scaled_dot_product_attention(q, k, v, mask=causal_mask(5))
    changed_v = v.clone()
    changed_v[:, 3:] += 100.0
    changed_output, _ = scaled_dot_product_attention(q, k, changed_v, mask=causal_mask(5))
    torch.testing.assert_close(output[:, :3], changed_output[:, :3])
    assert not torch.allclose(output[:, 3:], changed_output[:, 3:])


def test_sdpa_causal_and_custom_scale_together():
    q, k, v = _qkv((2, 6, 8), (2, 6, 8), (2, 6, 8), dtype=torch.float64)
    output, _ = scaled_dot_product_attention(q, k, v, mask=causal_mask(6), scale=0.5)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.5)
    torch.testing.assert_close(output, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sdpa_fully_masked_row_gives_zeros_not_nan(dtype):
    q, k, v = _qkv((2, 4, 8), (2, 5, 8), (2, 5, 3), dtype=dtype)
    mask = _random_mask((2, 4, 5), seed=6)
    mask[0, 2] = False
    mask[1, 0] = False
    output, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert not torch.isnan(output).any() and not torch.isnan(weights).any()
    torch.testing.assert_close(weights[0, 2], torch.zeros(5, dtype=dtype))
    torch.testing.assert_close(output[0, 2], torch.zeros(3, dtype=dtype))
    torch.testing.assert_close(output[1, 0], torch.zeros(3, dtype=dtype))
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    keep = mask.any(dim=-1)  # (2, 4): the rows that have at least one key
    torch.testing.assert_close(output[keep], expected[keep], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.sum(-1)[keep], torch.ones(int(keep.sum()), dtype=dtype))


def test_sdpa_fully_masked_row_has_finite_gradients():
    q, k, v = (t.requires_grad_() for t in _qkv((1, 3, 4), (1, 3, 4), (1, 3, 4)))
    mask = causal_mask(3).clone()
    mask[1] = False
    output, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    output.sum().backward()
    for tensor in (q, k, v):
        assert torch.isfinite(tensor.grad).all()
    torch.testing.assert_close(q.grad[0, 1], torch.zeros(4))


def test_sdpa_gradients_match_torch():
    ours = [t.requires_grad_() for t in _qkv((2, 4, 8), (2, 6, 8), (2, 6, 5), dtype=torch.float64)]
    theirs = [t.detach().clone().requires_grad_() for t in ours]
    mask = _random_mask((2, 4, 6), seed=7)
    upstream = _randn(2, 4, 5, dtype=torch.float64, seed=8)
    (scaled_dot_product_attention(*ours, mask=mask)[0] * upstream).sum().backward()
    (F.scaled_dot_product_attention(*theirs, attn_mask=mask) * upstream).sum().backward()
    for mine, reference in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine.grad, reference.grad)


# ---- bad input: each error names what was wrong


def test_sdpa_rejects_mismatched_d_k():
    q, k, v = _qkv((2, 4, 8), (2, 6, 7), (2, 6, 7))
    with pytest.raises(ValueError, match=r"d_k.*" + _shape(q) + r".*" + _shape(k)):
        scaled_dot_product_attention(q, k, v)


def test_sdpa_rejects_mismatched_n_k():
    q, k, v = _qkv((2, 4, 8), (2, 6, 8), (2, 5, 8))
    with pytest.raises(ValueError, match=r"n_k.*" + _shape(k) + r".*" + _shape(v)):
        scaled_dot_product_attention(q, k, v)


def test_sdpa_rejects_non_broadcastable_batch_dims():
    q, k, v = _qkv((2, 4, 8), (3, 6, 8), (3, 6, 8))
    with pytest.raises(ValueError, match=r"broadcast.*" + _shape(q) + r".*" + _shape(k)):
        scaled_dot_product_attention(q, k, v)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_sdpa_rejects_1d_input(which):
    tensors = list(_qkv((4, 8), (4, 8), (4, 8)))
    tensors[which] = _randn(8)
    name = "qkv"[which]
    with pytest.raises(ValueError, match=name + r" must have at least 2 dimensions.*" + re.escape("(8,)")):
        scaled_dot_product_attention(*tensors)


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.uint8])
def test_sdpa_rejects_non_bool_mask(dtype):
    q, k, v = _qkv((2, 4, 8), (2, 6, 8), (2, 6, 8))
    with pytest.raises(TypeError, match="mask must be a bool tensor.*" + re.escape(str(dtype))):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(4, 6, dtype=dtype))


def test_sdpa_rejects_non_tensor_mask():
    q, k, v = _qkv((2, 4, 8), (2, 6, 8), (2, 6, 8))
    with pytest.raises(TypeError, match="mask must be a torch.Tensor"):
        scaled_dot_product_attention(q, k, v, mask=[[True] * 6] * 4)


@pytest.mark.parametrize("mask_shape", [(6, 4), (4, 5), (3, 4, 6), (1, 2, 4, 6), (4,)])
def test_sdpa_rejects_mask_of_wrong_shape(mask_shape):
    q, k, v = _qkv((2, 4, 8), (2, 6, 8), (2, 6, 8))
    mask = torch.ones(mask_shape, dtype=torch.bool)
    with pytest.raises(ValueError, match=re.escape(str(mask_shape)) + r".*" + re.escape("(2, 4, 6)")):
        scaled_dot_product_attention(q, k, v, mask=mask)


def test_sdpa_rejects_mixed_dtypes():
    q, k, v = _qkv((2, 4, 8), (2, 6, 8), (2, 6, 8))
    with pytest.raises(TypeError, match="share a dtype.*torch.float32.*torch.float64"):
        scaled_dot_product_attention(q, k.double(), v)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_sdpa_rejects_integer_input(which):
    tensors = list(_qkv((4, 8), (4, 8), (4, 8)))
    tensors[which] = torch.ones(4, 8, dtype=torch.int64)
    with pytest.raises(TypeError, match="qkv"[which] + " must have a floating dtype"):
        scaled_dot_product_attention(*tensors)


def test_sdpa_rejects_non_tensor_input():
    _, k, v = _qkv((4, 8), (4, 8), (4, 8))
    with pytest.raises(TypeError, match="q must be a torch.Tensor"):
        scaled_dot_product_attention([[1.0] * 8] * 4, k, v)


@pytest.mark.parametrize("which", [0, 1, 2])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_sdpa_rejects_non_finite_input(which, bad):
    tensors = list(_qkv((2, 4, 8), (2, 6, 8), (2, 6, 8)))
    tensors[which][1, 2, 3] = bad
    name = "qkv"[which]
    with pytest.raises(ValueError, match=name + " " + re.escape(f"(shape {tuple(tensors[which].shape)})")):
        scaled_dot_product_attention(*tensors)


@pytest.mark.parametrize(
    ("scale", "error"),
    [(-1.0, ValueError), (float("nan"), ValueError), (float("inf"), ValueError), ("big", TypeError)],
)
def test_sdpa_rejects_bad_scale(scale, error):
    q, k, v = _qkv((2, 4, 8), (2, 6, 8), (2, 6, 8))
    with pytest.raises(error, match="scale"):
        scaled_dot_product_attention(q, k, v, scale=scale)


def test_sdpa_rejects_overflowing_scores():
    q = torch.full((1, 2, 4), 1e20)
    with pytest.raises(ValueError, match="overflow"):
        scaled_dot_product_attention(q, q, q)


def test_padding_mask_rejects_an_empty_list_with_a_clear_message():
    with pytest.raises(ValueError, match="lengths is empty"):
        padding_mask([])
