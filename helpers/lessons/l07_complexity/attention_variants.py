"""Attention four ways, to measure: with the n×n matrix, in key blocks, in query and key blocks, torch's fused.

    ATTENTION_VARIANTS        ("naive", "blockwise", "query_blocks", "sdpa")
    naive_attention(q, k, v)  softmax(q·kᵀ/√d_k)·v the textbook way, holding the (n_q, n_k) scores and weights
    attend(variant, q, k, v)  attention by one of ATTENTION_VARIANTS: q, k, v (..., n, d) -> output (..., n, d)

Every variant gives the same output to rounding; they differ in the memory they hold and the time they take.
"""

import math

import torch

from helpers.library.attention import blockwise_attention

__all__ = ["ATTENTION_VARIANTS", "naive_attention", "attend"]

ATTENTION_VARIANTS = ("naive", "blockwise", "query_blocks", "sdpa")
QUERY_BLOCK = 512  # queries per block of the "query_blocks" variant


def naive_attention(q, k, v):
    """softmax(q·kᵀ/√d_k)·v the textbook way, holding the (n_q, n_k) scores and weights.

    q: (..., n_q, d_k)   k: (..., n_k, d_k)   v: (..., n_k, d_v). Returns output (..., n_q, d_v).
    No mask, and only checks of the shapes (no extra tensor operation): the plain path whose cost is measured.
    """
    _check_attention_shapes(q, k, v)
    scores = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)  # (..., n_q, n_k)
    weights = torch.softmax(scores, dim=-1)  # (..., n_q, n_k): a second n×n matrix while scores lives
    return weights @ v


def _check_attention_shapes(q, k, v):
    """TypeError/ValueError naming the shapes, from the shapes alone: no tensor operation, nothing to measure."""
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise TypeError(f"{name} must be a float tensor, got {type(tensor).__name__}")
        if tensor.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., n, d), got shape {tuple(tensor.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"expected q (..., n_q, d_k), k (..., n_k, d_k), v (..., n_k, d_v); "
            f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )


def attend(variant, q, k, v):
    """Attention by one of ATTENTION_VARIANTS. q, k, v: (..., n, d). Returns output (..., n, d).

    "naive": naive_attention; "blockwise": helpers.library.attention.blockwise_attention (blocks of 128 keys);
    "query_blocks": the same with blocks of QUERY_BLOCK queries too; "sdpa": torch's
    scaled_dot_product_attention on (B, 1, n, d), the shape its fused CPU kernel takes.
    """
    _check_attention_shapes(q, k, v)
    if variant == "naive":
        return naive_attention(q, k, v)
    if variant == "blockwise":
        return blockwise_attention(q, k, v)  # keys in blocks of 128, every query at once
    if variant == "query_blocks":
        return blockwise_attention(q, k, v, query_block_size=QUERY_BLOCK)  # blocks of queries × blocks of keys
    if variant == "sdpa":
        # torch's fused (flash) CPU kernel needs 4-D (B, heads, n, d); on 3-D or 5-D input it falls back to a
        # math path that materialises the n×n weights. So: all batch dims into B, one head.
        four_d = [t.reshape(-1, 1, *t.shape[-2:]) for t in (q, k, v)]
        output = torch.nn.functional.scaled_dot_product_attention(*four_d)  # (B, 1, n_q, d_v)
        return output.reshape(*q.shape[:-1], v.shape[-1])
    raise ValueError(f"attention must be one of {ATTENTION_VARIANTS}, got {variant!r}")
