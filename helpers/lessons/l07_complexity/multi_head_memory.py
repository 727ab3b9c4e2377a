"""Peak memory of self-attention with many heads: h = d_model / d_k heads of a fixed width d_k, against one head.

    MULTI_HEAD_D_K, MULTI_HEAD_NS, MULTI_HEAD_D_MODELS   the sizes the lesson counts (d_k = 64, as in the paper)
    multi_head_memory(ns, d_models, d_k)   peak bytes (OpMeter) of h = d_model / d_k heads and of one head, per n, d
    multi_head_slopes(memory)   the fitted exponents of those bytes in d (at the largest n) and in n (at the
                                largest d), and whether they are n²·d's (1 in d, 2 in n) within SLOPE_MATCH

One head of width d holds two (n, n) matrices whatever d is; h heads hold 2·h of them. With d_k fixed, h grows
with d, so the weights' h·n² = n²·d / d_k entries grow like n²·d: the study notes' O(n²·d) is the memory of a
multi-head layer that materialises its weights (a fused kernel such as FlashAttention never holds them).
Counted, not timed: the same numbers on every machine.
"""

import functools

from helpers.lessons.l07_complexity.layer_kinds import make_layer, seeded_sequence
from helpers.lessons.l07_complexity.verdicts import SLOPE_MATCH
from helpers.library.checks import require_int, require_int_list
from helpers.machinery.measurement import peak_memory
from helpers.machinery.power_laws import fit_power_law

__all__ = ["MULTI_HEAD_D_K", "MULTI_HEAD_NS", "MULTI_HEAD_D_MODELS", "multi_head_memory", "multi_head_slopes"]

MULTI_HEAD_D_K = 64  # the paper's head width: d_model = 512 with 8 heads
MULTI_HEAD_NS = (256, 512, 1024)
MULTI_HEAD_D_MODELS = (64, 128, 256, 512)  # 1, 2, 4, 8 heads of 64


def multi_head_memory(ns=MULTI_HEAD_NS, d_models=MULTI_HEAD_D_MODELS, d_k=MULTI_HEAD_D_K):
    """Peak bytes of one forward pass of naive self-attention, h = d_model / d_k heads and one head, per n and d.

    ns, d_models: increasing ints; every d_model a multiple of d_k. x: one sequence (1, n, d_model).
    Returns {"n", "d_model", "d_k", "n_heads": [h per d_model], "peak_bytes": {"multi_head", "one_head":
    {str(d_model): [bytes per n]}}}, in the layout of measure_layers' result (fit_memory_terms reads it).
    """
    d_k = require_int("d_k", d_k, minimum=1)
    ns = require_int_list("ns", ns, minimum=1, distinct=True, what="n")
    d_models = require_int_list("d_models", d_models, minimum=1, distinct=True, what="d_model")
    for name, values in (("ns", ns), ("d_models", d_models)):
        if values != sorted(values):
            raise ValueError(f"{name} must be increasing, got {values}")
    for d in d_models:
        if d % d_k:
            raise ValueError(f"every d_model must be a multiple of d_k={d_k}, got {d_models}")
    result = {"n": ns, "d_model": d_models, "d_k": d_k, "n_heads": [d // d_k for d in d_models]}
    result["peak_bytes"] = {"multi_head": {}, "one_head": {}}
    for d in d_models:
        for name, n_heads in (("multi_head", d // d_k), ("one_head", 1)):
            layer = make_layer("attention", d, n_heads=n_heads)
            runs = [functools.partial(layer, seeded_sequence(n, d)) for n in ns]
            result["peak_bytes"][name][str(d)] = [peak_memory(run) for run in runs]
    return result


def multi_head_slopes(memory):
    """Fitted exponents of multi_head_memory's bytes: in d at the largest n, in n at the largest d.

    Returns {"multi_head", "one_head": {"in_d", "in_n": slope, "like_n2_d": in_d within SLOPE_MATCH of 1 and
    in_n within SLOPE_MATCH of 2}}, with "n" and "d_model" (the sizes fitted at).
    """
    ns, d_models = memory["n"], memory["d_model"]
    if len(ns) < 2 or len(d_models) < 2:
        raise ValueError(f"need at least 2 sizes n and 2 widths d, got n {ns} and d {d_models}")
    result = {"n": ns[-1], "d_model": d_models[-1]}
    for name, table in memory["peak_bytes"].items():
        in_d = fit_power_law(d_models, [table[str(d)][-1] for d in d_models])["slope"]
        in_n = fit_power_law(ns, table[str(d_models[-1])])["slope"]
        like = abs(in_d - 1) <= SLOPE_MATCH and abs(in_n - 2) <= SLOPE_MATCH
        result[name] = {"in_d": in_d, "in_n": in_n, "like_n2_d": like}
    return result
