"""The measurements summarised as the lesson prints them: FLOPs per product, fitted slopes, rates, crossovers.

    attention_product_flops(n, d_model)    {product: FLOPs} of each matrix product of self-attention (OpMeter)
    slopes(layers, against, at, fit_from)  each layer's fitted log-log slope of its time and of its FLOPs
    gflops_per_second(layers, n)           {d_model: {kind: GFLOP/s}} at one measured n
    measured_crossovers(layers)            {d_model: the two measured n between which attention reaches the GRU}
    attention_against_conv(layers)         attention against the Conv1d (k = 3): FLOPs, times, and their verdicts

layers: measure_layers' result (see cached_measurements).
Re-exported from helpers.machinery.power_laws, so the lesson calls them as its own: fit_power_law, crossover_between.
"""

import torch

from helpers.lessons.l07_complexity.cached_measurements import layer_series
from helpers.lessons.l07_complexity.layer_kinds import LAYER_KINDS, make_layer, seeded_sequence
from helpers.lessons.l07_complexity.theory import (
    TABLE_1_D,
    TABLE_1_N,
    THEORY_SLOPE_D,
    THEORY_SLOPE_N,
    flop_crossover_n,
    layer_flops,
)
from helpers.lessons.l07_complexity.verdicts import SLOPE_MATCH, compare_times
from helpers.library.checks import require_int
from helpers.machinery.measurement import OpMeter
from helpers.machinery.power_laws import crossover_between, fit_power_law

__all__ = [
    "fit_power_law",
    "crossover_between",
    "attention_product_flops",
    "slopes",
    "gflops_per_second",
    "measured_crossovers",
    "attention_against_conv",
]

PRODUCT_NAMES = ("q, k, v projections", "scores q·kᵀ", "weights·v", "output projection")


def attention_product_flops(n, d_model):
    """{product name: FLOPs} of the matrix products a self-attention layer runs, as OpMeter counts them.

    Names from PRODUCT_NAMES, in the order the layer runs them (see SelfAttentionLayer).
    """
    layer, x = make_layer("attention", d_model), seeded_sequence(require_int("n", n, minimum=1), d_model)
    with torch.no_grad(), OpMeter() as meter:
        layer(x)
    counted = [flops for _, flops in meter.log if flops]
    return dict(zip(PRODUCT_NAMES, counted, strict=True))


def slopes(layers, against, at, fit_from):
    """Fitted log-log slopes of each layer's measured time, and of its FLOP count over the same sizes.

    against: "n" (at = d_model) or "d" (at = n); fit_from: the smallest size fitted.
    Returns {kind: {"measured": slope, "flops": slope, "table_1": Table 1's exponent as text,
    "matches": the measured slope is within SLOPE_MATCH of Table 1's exponent}}.
    """
    if against not in ("n", "d"):
        raise ValueError(f"against must be 'n' or 'd', got {against!r}")
    result = {}
    for kind in LAYER_KINDS:
        if against == "n":
            sizes = layers["n"]
            measured = layer_series(layers, "seconds", kind, at)
            flops = [layer_flops(kind, n, at) for n in sizes]
        else:
            if at not in layers["n"]:
                raise ValueError(f"n={at} was not measured; measured: {layers['n']}")
            sizes = layers["d_model"]
            measured = [layer_series(layers, "seconds", kind, d)[layers["n"].index(at)] for d in sizes]
            flops = [layer_flops(kind, at, d) for d in sizes]
        slope = fit_power_law(sizes, measured, min_x=fit_from)["slope"]
        exponent = (THEORY_SLOPE_N if against == "n" else THEORY_SLOPE_D)[kind]
        result[kind] = {
            "measured": slope,
            "flops": fit_power_law(sizes, flops, min_x=fit_from)["slope"],
            "table_1": (TABLE_1_N if against == "n" else TABLE_1_D)[kind],
            "matches": abs(slope - exponent) <= SLOPE_MATCH,
        }
    return result


def gflops_per_second(layers, n):
    """{d_model: {kind: FLOPs done per second / 1e9}} at one measured n: layer_flops over the measured time."""
    if n not in layers["n"]:
        raise ValueError(f"n={n} was not measured; measured: {layers['n']}")
    at = layers["n"].index(n)
    return {
        d: {kind: layer_flops(kind, n, d) / layer_series(layers, "seconds", kind, d)[at] / 1e9 for kind in LAYER_KINDS}
        for d in layers["d_model"]
    }


def measured_crossovers(layers):
    """{d_model: the two measured n between which self-attention's time reaches the GRU's} (see crossover_between)."""
    return {
        d: crossover_between(
            layers["n"], layer_series(layers, "seconds", "attention", d), layer_series(layers, "seconds", "gru", d)
        )
        for d in layers["d_model"]
    }


def attention_against_conv(layers, kernel_size=3):
    """Self-attention against the Conv1d of the measurements (kernel k = 3), in FLOPs and in measured time.

    Returns {"by_d": {d_model: {"flop_ratio": [attention's FLOPs ÷ the Conv1d's, per n], "time_ratio": [the same
    for the measured seconds], "time_crossover": crossover_between(ns, attention, conv)}},
    "flops_above": attention does more FLOPs at every n and d (flop_crossover_n finds no n where they are equal),
    "above_at_longest": at the longest n, attention's time is above the Conv1d's at every d (compare_times),
    "excess_grows": at every d, the time ratio at the longest n is above the one at the shortest (compare_times)}.
    """
    ns = layers["n"]
    by_d = {}
    for d in layers["d_model"]:
        attention, conv = (layer_series(layers, "seconds", kind, d) for kind in ("attention", "conv"))
        by_d[d] = {
            "flop_ratio": [layer_flops("attention", n, d) / layer_flops("conv", n, d, kernel_size) for n in ns],
            "time_ratio": [a / c for a, c in zip(attention, conv, strict=True)],
            "time_crossover": crossover_between(ns, attention, conv),
        }
    return {
        "by_d": by_d,
        "flops_above": all(flop_crossover_n(d, "conv", kernel_size) is None for d in by_d),
        "above_at_longest": all(compare_times(row["time_ratio"][-1], 1) == "above" for row in by_d.values()),
        "excess_grows": all(
            compare_times(row["time_ratio"][-1], row["time_ratio"][0]) == "above" for row in by_d.values()
        ),
    }
