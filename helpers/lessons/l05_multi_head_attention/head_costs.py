"""Lesson 05: what multi-head attention costs, and how differently its heads attend.

Shapes: n sequence length, d_model model width, n_heads heads, d_k = d_model // n_heads per head.
FLOPs are floating-point operations, 2 per multiply-add, as PyTorch's FlopCounterMode counts them.

    parameter_count(d_model, n_heads)  parameters per matrix: the same for any n_heads
    attention_flops(n, d_model, n_heads)  FLOPs per step, counted by formula
    counted_flops(module, x)           the same, counted by PyTorch's FlopCounterMode (helpers.machinery.measurement)
    operations_markdown(n, d_model, head_counts)  the FLOP counts compared in words, FLOPs and multiply-adds
    attention_memory(n, d_model, n_heads)  what one layer stores: its attention weights, its peak memory, its FLOPs
    memory_growth(rows)                what more heads cost in memory at the longest n measured
    memory_markdown(rows)              the memory measurements compared in words
    head_distances(weights)            how differently heads attend: mean total-variation distance
    pattern_weights(weights)           each head's mean weight on the previous, next, first, last token, itself
"""

import torch

from helpers.library.checks import require_float_tensor, require_int
from helpers.library.layers import MultiHeadAttention
from helpers.library.multi_head_attention import require_n_heads
from helpers.machinery.measurement import OpMeter, counted_flops

__all__ = [
    "parameter_count",
    "attention_flops",
    "counted_flops",
    "operations_markdown",
    "attention_memory",
    "memory_growth",
    "memory_markdown",
    "head_distances",
    "pattern_weights",
]

MATMULS = ("projections", "scores", "weights·v")  # the counts FlopCounterMode sees


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


def operations_markdown(n, d_model, head_counts=(1, 12)):
    """The FLOP counts of attention_flops for the fewest and the most heads in `head_counts`, compared in words.

    Says which counts are the same (the matrix products, in FLOPs and in multiply-adds, 2 FLOPs each) and how
    many softmax exponentials each has. Returns one Markdown paragraph.
    """
    few, many = min(head_counts), max(head_counts)
    a, b = attention_flops(n, d_model, few), attention_flops(n, d_model, many)
    same = all(a[name] == b[name] for name in MATMULS)
    cost = "cost the same" if same else "do not cost the same"
    sentence = ""
    if same:
        sentence = f" In operations, {many} heads of {d_model // many} cost what {few} of {d_model // few} costs."
    return (
        f"The matrix products {cost} for {few} and for {many} heads: {b['matmul_total']:,} FLOPs, that is "
        f"{b['matmul_total'] // 2:,} multiply-adds (2 FLOPs each), at {n} tokens of width {d_model}. Only the "
        f"softmax's exponentials grow, one per score, n_heads · n²: {b['softmax exponentials']:,} with {many} heads "
        f"against {a['softmax exponentials']:,} with {few}, beside the {b['matmul_total'] // 2:,} multiply-adds."
        + sentence
    )


def attention_memory(n, d_model, n_heads, seed=0):
    """What one MultiHeadAttention(d_model, n_heads) stores on one sequence of n random token vectors.

    Runs the layer once under helpers.machinery.measurement.OpMeter (no_grad). Returns a dict: n, n_heads,
    weights (the numbers in the attention weights it returns, (1, n_heads, n, n): n_heads · n²), weights_bytes,
    peak_bytes (the most bytes its tensors held at once: q, k, v, the scores, the weights, the output ...) and
    flops (the FLOPs of its matrix products, 2 per multiply-add). The layer and x are seeded by `seed`.
    """
    n = require_int("n", n, minimum=1)
    d_model = require_int("d_model", d_model, minimum=1)
    n_heads = require_n_heads(n_heads, d_model)
    generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
    x = torch.randn(1, n, d_model, generator=generator)  # (1, n, d_model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = MultiHeadAttention(d_model, n_heads)
    with torch.no_grad(), OpMeter() as meter:
        _, weights = layer(x)  # (1, n_heads, n, n)
    return {
        "n": n,
        "n_heads": n_heads,
        "weights": weights.numel(),
        "weights_bytes": weights.numel() * weights.element_size(),
        "peak_bytes": meter.peak_bytes,
        "flops": meter.flops,
    }


def memory_growth(rows):
    """What more heads cost in memory: rows of attention_memory, compared at the longest n among them.

    Returns a dict: n, few and many (the fewest and the most heads measured at that n), weights_ratio and
    peak_ratio (many heads' stored weights and peak memory over few heads'), same_flops (bool), and the two
    rows themselves (few_row, many_row).
    """
    if not rows:
        raise ValueError("rows is empty: give attention_memory's dicts for two head counts or more")
    n = max(row["n"] for row in rows)
    at_n = sorted((row for row in rows if row["n"] == n), key=lambda row: row["n_heads"])
    if len(at_n) < 2:
        raise ValueError(f"memory_growth needs two head counts at n={n}, got {len(at_n)}")
    few, many = at_n[0], at_n[-1]
    return {
        "n": n,
        "few": few["n_heads"],
        "many": many["n_heads"],
        "weights_ratio": many["weights"] / few["weights"],
        "peak_ratio": many["peak_bytes"] / few["peak_bytes"],
        "same_flops": few["flops"] == many["flops"],
        "few_row": few,
        "many_row": many,
    }


def _heads(count):
    return f"{count} head" if count == 1 else f"{count} heads"


def memory_markdown(rows):
    """attention_memory's rows compared in words, at the longest n measured: FLOPs, stored weights, peak memory."""
    growth = memory_growth(rows)
    few, many = growth["few_row"], growth["many_row"]
    flops = "the same" if growth["same_flops"] else "different"
    grows = "grow with the heads" if growth["weights_ratio"] > 1 else "do not grow with the heads"
    return (
        f"At {growth['n']} tokens, {growth['many']} heads run {flops} FLOPs as {_heads(growth['few'])} "
        f"({many['flops']:,}), but the weights they store {grows}: {many['weights']:,} numbers against "
        f"{few['weights']:,}, n_heads · n², {growth['weights_ratio']:.0f} times as many. The layer's peak memory is "
        f"{growth['peak_ratio']:.1f} times as large ({many['peak_bytes'] / 1024:,.0f} KiB against "
        f"{few['peak_bytes'] / 1024:,.0f} KiB): the scores and the weights are both n_heads × n × n."
    )


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
