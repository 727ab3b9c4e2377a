"""helpers.library.attention.blockwise_attention: the same output as the naive attention and torch's, in O(n) memory."""

import math
import re

import pytest
import torch
import torch.nn.functional as F

from helpers.lessons.l07_complexity.attention_variants import naive_attention
from helpers.library.attention import blockwise_attention, causal_mask, padding_mask, scaled_dot_product_attention
from helpers.machinery.measurement import peak_memory
from helpers.machinery.power_laws import fit_power_law
from helpers.machinery.threads import one_thread


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Many small operations: on a busy machine, a second thread mostly waits for its share of a core."""
    with one_thread():
        yield


def _randn(*shape, dtype=torch.float32, seed=0, scale=1.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale


def _tolerance(dtype):
    return {"rtol": 1e-12, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-5}


SHAPES = [
    ((37, 8), (37, 8), (37, 5)),  # one sequence, no batch
    ((2, 3, 37, 8), (2, 3, 37, 8), (2, 3, 37, 5)),  # batch and heads
    ((5, 8), (50, 8), (50, 4)),  # fewer queries than keys
    ((2, 1, 10, 8), (1, 3, 20, 8), (1, 3, 20, 4)),  # batch dims that broadcast
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shapes", SHAPES, ids=lambda s: "x".join(map(str, s[0])))
@pytest.mark.parametrize(("block_size", "query_block_size"), [(1, 16), (7, 5), (16, None), (128, 3)])
def test_matches_the_naive_attention(shapes, dtype, block_size, query_block_size):
    q, k, v = (_randn(*shape, dtype=dtype, seed=i, scale=3.0) for i, shape in enumerate(shapes))
    expected, _ = scaled_dot_product_attention(q, k, v)
    output = blockwise_attention(q, k, v, block_size=block_size, query_block_size=query_block_size)
    assert output.shape == expected.shape and output.dtype == dtype
    torch.testing.assert_close(output, expected, **_tolerance(dtype))


@pytest.mark.parametrize("block_size", [1, 7, 32, 100])
def test_matches_torch_sdpa(block_size):
    q, k, v = (_randn(2, 4, 45, 16, seed=i) for i in range(3))
    torch.testing.assert_close(
        blockwise_attention(q, k, v, block_size=block_size), F.scaled_dot_product_attention(q, k, v)
    )


def test_custom_scale_matches_torch_sdpa():
    q, k, v = (_randn(3, 20, 8, seed=i, dtype=torch.float64) for i in range(3))
    expected = F.scaled_dot_product_attention(q, k, v, scale=0.3)
    torch.testing.assert_close(blockwise_attention(q, k, v, block_size=6, scale=0.3), expected, rtol=1e-12, atol=1e-12)


N = 23


def _masks():
    generator = torch.Generator().manual_seed(5)
    return {
        "causal": causal_mask(N),
        "padding": padding_mask([17, 23])[:, None, :],  # (B, 1, n): the keys of each sequence
        "padding and causal": padding_mask([5, 23])[:, None, :] & causal_mask(N),
        "random per batch": torch.rand(2, N, N, generator=generator) > 0.6,
        "per key only (n,)": torch.rand(N, generator=generator) > 0.5,
        "per query (n, 1)": torch.rand(N, 1, generator=generator) > 0.3,
        "all allowed (1,)": torch.ones(1, dtype=torch.bool),
    }


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(_masks()))
def test_masks_match_the_naive_attention(name, dtype):
    mask = _masks()[name]
    q, k, v = (_randn(2, N, 8, dtype=dtype, seed=i) for i in range(3))
    expected, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    for block_size, query_block_size in [(1, 8), (4, 3), (7, None), (64, 10)]:  # 4 and 7 do not divide n = 23
        output = blockwise_attention(q, k, v, mask=mask, block_size=block_size, query_block_size=query_block_size)
        torch.testing.assert_close(output, expected, **_tolerance(dtype))


def test_causal_mask_matches_torch_is_causal():
    q, k, v = (_randn(1, 2, 40, 16, seed=i) for i in range(3))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(blockwise_attention(q, k, v, mask=causal_mask(40), block_size=9), expected)


@pytest.mark.parametrize("block_size", [1, 4, 23])
def test_fully_masked_rows_give_zeros_not_nan(block_size):
    q, k, v = (_randn(2, N, 8, seed=i) for i in range(3))
    mask = padding_mask([0, 5], n=N)[:, None, :] & causal_mask(N)  # sequence 0 has no key at all
    mask = mask.clone()
    mask[1, 3] = False  # and one query of sequence 1 sees nothing
    output = blockwise_attention(q, k, v, mask=mask, block_size=block_size)
    assert torch.isfinite(output).all()
    assert torch.equal(output[0], torch.zeros_like(output[0]))
    assert torch.equal(output[1, 3], torch.zeros_like(output[1, 3]))
    expected, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    torch.testing.assert_close(output, expected)


def test_large_scores_that_would_overflow_exp_stay_finite():
    q, k, v = (_randn(30, 16, seed=i, scale=30.0) for i in range(3))  # scores in the hundreds
    expected, _ = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(blockwise_attention(q, k, v, block_size=7), expected)


def test_a_block_without_the_maximum_is_rescaled_later():
    """Scores rising along the keys: every new block holds a new maximum, so every block rescales."""
    k = torch.arange(12, dtype=torch.float64)[:, None] * torch.ones(1, 4, dtype=torch.float64)  # (12, 4)
    q = torch.ones(3, 4, dtype=torch.float64)
    v = _randn(12, 2, dtype=torch.float64)
    expected = torch.softmax(q @ k.T / 2.0, dim=-1) @ v
    torch.testing.assert_close(blockwise_attention(q, k, v, block_size=5), expected, rtol=1e-12, atol=1e-12)


def test_memory_grows_linearly_while_the_naive_one_grows_quadratically():
    ns = [256, 512, 1024, 2048]
    naive, blockwise = [], []
    for n in ns:
        q, k, v = (_randn(1, n, 64, seed=i) for i in range(3))
        naive.append(peak_memory(lambda q=q, k=k, v=v: naive_attention(q, k, v)))
        blockwise.append(peak_memory(lambda q=q, k=k, v=v: blockwise_attention(q, k, v)))
    assert fit_power_law(ns, naive)["slope"] >= 1.7
    assert fit_power_law(ns, blockwise)["slope"] <= 1.3
    # the naive peak holds two float32 n×n matrices: the scores and the weights
    assert naive[-1] >= 2 * 4 * ns[-1] ** 2 > 5 * blockwise[-1]


def test_the_naive_peak_is_exactly_what_it_holds():
    n, d = 512, 64
    q, k, v = (_randn(n, d, seed=i) for i in range(3))
    # q·scale (n·d), then scores and weights (n² each) alive together: 4 bytes per float32
    assert peak_memory(lambda: naive_attention(q, k, v)) == 4 * (n * d + 2 * n * n)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"q": [[1.0]]}, TypeError, "q must be a torch.Tensor"),
        ({"q": torch.ones(4, 8, dtype=torch.long)}, TypeError, "floating dtype"),
        ({"k": _randn(5, 7)}, ValueError, re.escape("q (4, 8), k (5, 7), v (5, 3)")),
        ({"v": _randn(6, 3)}, ValueError, "same number of keys"),
        ({"q": _randn(8)}, ValueError, "at least 2 dimensions"),
        ({"q": _randn(2, 4, 8), "k": _randn(3, 5, 8), "v": _randn(3, 5, 3)}, ValueError, "do not broadcast"),
        ({"mask": torch.ones(4, 5)}, TypeError, "bool"),
        ({"mask": torch.ones(3, 5, dtype=torch.bool)}, ValueError, re.escape("mask of shape (3, 5)")),
        ({"block_size": 0}, ValueError, "block_size must be >= 1"),
        ({"block_size": 2.5}, TypeError, "block_size must be an int"),
        ({"query_block_size": 0}, ValueError, "query_block_size must be >= 1"),
        ({"scale": -1.0}, ValueError, "scale must be >= 0"),
        ({"q": torch.full((4, 8), float("nan"))}, ValueError, "contains NaN"),
    ],
)
def test_bad_input_is_named(kwargs, error, match):
    args = {"q": _randn(4, 8), "k": _randn(5, 8), "v": _randn(5, 3)} | kwargs
    with pytest.raises(error, match=match):
        blockwise_attention(**args)


def test_overflowing_scores_raise_like_the_naive_attention():
    q = torch.full((2, 4), 1e20)
    k = torch.full((3, 4), 1e20)
    v = _randn(3, 2)
    with pytest.raises(ValueError, match="overflowed"):
        scaled_dot_product_attention(q, k, v)
    with pytest.raises(ValueError, match="overflowed"):
        blockwise_attention(q, k, v)


def test_output_has_no_weights_and_keeps_batch_shape():
    q, k, v = (_randn(2, 3, 10, 4, seed=i) for i in range(3))
    output = blockwise_attention(q, k, v)
    assert isinstance(output, torch.Tensor) and output.shape == (2, 3, 10, 4)
    assert math.isclose(float(output.sum()), float(scaled_dot_product_attention(q, k, v)[0].sum()), rel_tol=1e-4)
