"""A linear recurrence h_t = a_t·h_(t−1) + x_t, computed step by step and by a parallel scan along the sequence.

    linear_recurrence_loop(a, x)   n steps, each waiting for the one before (like a GRU's)
    linear_recurrence_scan(a, x)   ⌈log₂ n⌉ steps, each over every position at once (Hillis & Steele's scan)
    seeded_recurrence(n, d, seed)  decay factors a in (0, 1) and inputs x, (n, d) each, float64

a, x: (n, ...) of the same shape, position first; h_(−1) = 0. Both return (h (n, ...), sequential steps).

Why a scan works: one step is the map h ↦ a·h + x, and two such maps compose into one of the same form,
(a₂, x₂) ∘ (a₁, x₁) = (a₂·a₁, a₂·x₁ + x₂). Composition is associative, so the n maps can be combined in a tree,
⌈log₂ n⌉ rounds deep, instead of one after another. Linearity is what lets state-space models train in parallel
along a sequence: Mamba (Gu & Dao, 2023) with such a scan, S4 (Gu et al., 2022) by unrolling the recurrence into
one long convolution. A GRU's step mixes h_(t−1) through a sigmoid and a tanh: two GRU steps do not compose
into a third of the same form, so no such tree exists for it.
"""

import torch

from helpers.library.checks import require_float_tensor, require_int

__all__ = ["linear_recurrence_loop", "linear_recurrence_scan", "seeded_recurrence"]


def _check(a, x):
    require_float_tensor("a", a)
    require_float_tensor("x", x)
    if a.shape != x.shape or a.ndim < 1 or a.shape[0] == 0:
        raise ValueError(f"a and x must have the same shape (n, ...) with n >= 1, got a {tuple(a.shape)}, "
                         f"x {tuple(x.shape)}")  # fmt: skip


def linear_recurrence_loop(a, x):
    """h_t = a_t·h_(t−1) + x_t for t = 0 … n − 1, h_(−1) = 0, one step after another. Returns (h, n steps)."""
    _check(a, x)
    h, outputs = torch.zeros_like(x[0]), []
    for t in range(x.shape[0]):  # step t needs h_(t−1)
        h = a[t] * h + x[t]
        outputs.append(h)
    return torch.stack(outputs), x.shape[0]


def linear_recurrence_scan(a, x):
    """The same h by an inclusive scan: ⌈log₂ n⌉ rounds, each updating every position at once. Returns (h, rounds).

    After the round with offset s, position t holds the composition of the maps t − 2s + 1 … t: (A_t, H_t) with
    h_t = A_t·h_(t−2s) + H_t. Combining with position t − s doubles the span; once it covers position 0, H_t = h_t.
    """
    _check(a, x)
    span, total, offset, rounds = a.clone(), x.clone(), 1, 0
    while offset < x.shape[0]:
        new_total = total.clone()
        new_total[offset:] = span[offset:] * total[:-offset] + total[offset:]  # every position at once
        new_span = span.clone()
        new_span[offset:] = span[offset:] * span[:-offset]
        span, total, offset, rounds = new_span, new_total, 2 * offset, rounds + 1
    return total, rounds


def seeded_recurrence(n, d=4, seed=0):
    """Decay factors a uniform in (0, 1) and inputs x standard normal, both (n, d) float64, seeded."""
    n, d = require_int("n", n, minimum=1), require_int("d", d, minimum=1)
    generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
    a = torch.rand(n, d, generator=generator, dtype=torch.float64)
    return a, torch.randn(n, d, generator=generator, dtype=torch.float64)
