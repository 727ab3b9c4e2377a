"""What the theory and the study notes predict: FLOPs counted by hand, Table 1's exponents, the notes' n² log n.

    THEORY_SLOPE_N, THEORY_SLOPE_D   {kind: exponent of n, of d} in each layer's cost (Vaswani et al. 2017, Table 1)
    layer_flops(kind, n, d_model, kernel_size)   multiply-add FLOPs of one layer's forward pass on n tokens
    attention_flop_breakdown(n, d_model)         self-attention's FLOPs by part: projections, q·kᵀ, weights·v
    flop_crossover_n(d_model, other, kernel_size)   the n at which attention's FLOPs equal the GRU's (n = d)
    notes_memory_curve(ns)           n² · log n, the study notes' claimed memory of self-attention

FLOPs: 2 per multiply-add, matrix products only (biases, the softmax, the gates' element-wise work left out).
"""

import numpy as np

from helpers.lessons.l07_complexity.layer_kinds import LAYER_KINDS
from helpers.library.checks import require_int
from helpers.machinery.power_laws import require_positive_series

__all__ = [
    "THEORY_SLOPE_N",
    "THEORY_SLOPE_D",
    "layer_flops",
    "attention_flop_breakdown",
    "flop_crossover_n",
    "notes_memory_curve",
]

# Per-layer cost in n for large n (Vaswani et al. 2017, Table 1): n²·d, n·d², k·n·d².
THEORY_SLOPE_N = {"attention": 2, "gru": 1, "conv": 1}
THEORY_SLOPE_D = {"attention": 1, "gru": 2, "conv": 2}  # ... and in d: n²·d, n·d², k·n·d²
TABLE_1_N = {"attention": "2 (n²·d)", "gru": "1 (n·d²)", "conv": "1 (k·n·d²)"}
TABLE_1_D = {"attention": "1 (n²·d)", "gru": "2 (n·d²)", "conv": "2 (k·n·d²)"}


def layer_flops(kind, n, d_model, kernel_size=3):
    """Multiply-add FLOPs (2 per multiply-add) of one layer's forward pass on a sequence of n tokens.

    attention: q, k, v and output projections 4·(2·n·d²) + scores q·kᵀ 2·n²·d + weights·v 2·n²·d.
    gru: 3 gates, each an input and a hidden d×d product per step: 12·n·d².
    conv: d_out·d_in·k multiply-adds per position: 2·k·n·d².
    Biases, the softmax and the gates' element-wise work (O(n²) or O(n·d)) are left out.
    """
    n = require_int("n", n, minimum=1)
    d = require_int("d_model", d_model, minimum=1)
    if kind == "attention":
        return 8 * n * d * d + 4 * n * n * d
    if kind == "gru":
        return 12 * n * d * d
    if kind == "conv":
        return 2 * require_int("kernel_size", kernel_size, minimum=1) * n * d * d
    raise ValueError(f"kind must be one of {LAYER_KINDS}, got {kind!r}")


def attention_flop_breakdown(n, d_model):
    """{"projections q, k, v, output": 8·n·d², "scores q·kᵀ": 2·n²·d, "weights·v": 2·n²·d} in FLOPs."""
    n = require_int("n", n, minimum=1)
    d = require_int("d_model", d_model, minimum=1)
    return {"projections q, k, v, output": 8 * n * d * d, "scores q·kᵀ": 2 * n * n * d, "weights·v": 2 * n * n * d}


def flop_crossover_n(d_model, other="gru", kernel_size=3):
    """The n at which self-attention's FLOPs equal `other`'s ("gru" or "conv"), or None if they never do.

    attention 8·n·d² + 4·n²·d = other c·n·d²  gives  n = (c − 8)·d / 4: n = d for the GRU (c = 12).
    """
    d = require_int("d_model", d_model, minimum=1)
    per_nd2 = {"gru": 12, "conv": 2 * require_int("kernel_size", kernel_size, minimum=1)}
    if other not in per_nd2:
        raise ValueError(f"other must be 'gru' or 'conv', got {other!r}")
    n = (per_nd2[other] - 8) * d / 4
    return n if n > 0 else None


def notes_memory_curve(ns):
    """n² · log n, the study notes' claimed memory of self-attention (natural log, as their np.log)."""
    ns = require_positive_series("ns", ns)
    return ns**2 * np.log(ns)
