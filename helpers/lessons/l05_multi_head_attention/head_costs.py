"""Lesson 05: what multi-head attention costs, and how differently its heads attend.

Shapes: n sequence length, d_model model width, n_heads heads, d_k = d_model // n_heads per head.

    parameter_count(d_model, n_heads)  parameters per matrix: the same for any n_heads
    attention_flops(n, d_model, n_heads)  floating-point operations per step, counted by formula
    counted_flops(module, x)           the same, counted by PyTorch's FlopCounterMode (helpers.machinery.measurement)
    head_distances(weights)            how differently heads attend: mean total-variation distance
    pattern_weights(weights)           each head's mean weight on the previous, next, first, last token, itself
"""

import torch

from helpers.library.checks import require_float_tensor, require_int
from helpers.library.multi_head_attention import require_n_heads
from helpers.machinery.measurement import counted_flops

__all__ = ["parameter_count", "attention_flops", "counted_flops", "head_distances", "pattern_weights"]


def parameter_count(d_model, n_heads, bias=True):
    """Parameters of a multi-head attention layer, by matrix: W_q, W_k, W_v, W_o are each d_model × d_model.

    Each head owns d_k = d_model / n_heads rows of W_q, W_k and W_v and d_k columns of W_o, so
    n_heads only decides how the same matrices are cut, not how large they are.
    Returns a dict w_q, w_k, w_v, w_o (weights plus biases) and total.
    """
    d_model = require_int("d_model", d_model, minimum=1)
    require_n_heads(n_heads, d_model)
    per_matrix = d_model * d_model + (d_model if bias else 0)
    counts = {name: per_matrix for name in ("w_q", "w_k", "w_v", "w_o")}
    counts["total"] = 4 * per_matrix
    return counts


def attention_flops(n, d_model, n_heads):
    """Floating-point operations of one multi-head self-attention on n tokens (one multiply-add = 2).

    projections: q, k, v and the output projection, 4 × (n × d_model) · (d_model × d_model)
    scores: n_heads × (n × d_k) · (d_k × n) = n² · d_model multiply-adds, whatever n_heads is
    weights·v: n_heads × (n × n) · (n × d_k), the same
    softmax exponentials: one per score, n_heads · n² (the only count that grows with n_heads)
    Returns a dict of those four counts, and matmul_total (what FlopCounterMode counts: the first three).
    """
    n = require_int("n", n, minimum=1)
    d_model = require_int("d_model", d_model, minimum=1)
    n_heads = require_n_heads(n_heads, d_model)
    d_k = d_model // n_heads
    counts = {
        "projections": 4 * 2 * n * d_model * d_model,
        "scores": n_heads * 2 * n * n * d_k,
        "weights·v": n_heads * 2 * n * n * d_k,
        "softmax exponentials": n_heads * n * n,
    }
    counts["matmul_total"] = counts["projections"] + counts["scores"] + counts["weights·v"]
    return counts


def head_distances(weights):
    """How differently the heads attend: mean total-variation distance between every two heads' rows.

    weights: (..., n_heads, n_q, n_k), rows summing to 1 (leading axes, e.g. a batch, are averaged over).
    For heads a and b: ½ Σ_j |weights[a, i, j] − weights[b, i, j]|, averaged over queries i.
    0 = the two heads attend identically; 1 = they never attend to the same key.
    Returns (n_heads, n_heads), symmetric, zero on the diagonal.
    """
    require_float_tensor("weights", weights)
    if weights.ndim < 3:
        raise ValueError(f"weights must have shape (..., n_heads, n_q, n_k), got {tuple(weights.shape)}")
    if not torch.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"weights (shape {tuple(weights.shape)}) must be finite and >= 0")
    rows = weights.reshape(-1, *weights.shape[-3:]).transpose(0, 1)  # (n_heads, batch, n_q, n_k)
    n_heads = rows.shape[0]
    rows = rows.reshape(n_heads, -1, rows.shape[-1])  # (n_heads, rows, n_k)
    distances = torch.stack([0.5 * (rows - rows[a]).abs().sum(-1).mean(-1) for a in range(n_heads)])
    return (distances + distances.T) / 2  # symmetric up to rounding


def pattern_weights(weights):
    """How much weight, on average over the queries, a head puts on a few simple targets.

    weights: (..., n, n) with n >= 2, e.g. MiniLM's (6, 12, n, n).
    Returns a dict of tensors shaped like weights[..., 0, 0]:
    "previous token" (mean over queries 1..n−1 of the weight on the token just before),
    "next token" (queries 0..n−2, on the token just after), "itself", "first token" (e.g. [CLS])
    and "last token" (e.g. [SEP]).
    """
    require_float_tensor("weights", weights)
    if weights.ndim < 2 or weights.shape[-1] != weights.shape[-2] or weights.shape[-1] < 2:
        raise ValueError(f"weights must have shape (..., n, n) with n >= 2, got {tuple(weights.shape)}")
    return {
        "previous token": weights.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1),
        "next token": weights.diagonal(offset=1, dim1=-2, dim2=-1).mean(-1),
        "itself": weights.diagonal(dim1=-2, dim2=-1).mean(-1),
        "first token": weights[..., :, 0].mean(-1),
        "last token": weights[..., :, -1].mean(-1),
    }
