"""Lesson 07's verdict table: each claim of the study notes, its verdict and the numbers it rests on.

    claims_table(measurements, multi_head)   the table in Markdown; every number and verdict (yes, partly or no)
                                 computed (multi_head: multi_head_memory's counts, made now if not given)

Each _…_claim returns (claim, verdict, numbers), from the cached measurements or from counts made now.
"""

import itertools

import torch

from helpers.lessons.l07_complexity.attention_variants import naive_attention
from helpers.lessons.l07_complexity.cost_model import fit_memory_terms
from helpers.lessons.l07_complexity.layer_kinds import LABELS, LAYER_KINDS
from helpers.lessons.l07_complexity.linear_recurrence import (
    linear_recurrence_loop,
    linear_recurrence_scan,
    seeded_recurrence,
)
from helpers.lessons.l07_complexity.measurement_runs import operation_counts
from helpers.lessons.l07_complexity.multi_head_memory import multi_head_memory, multi_head_slopes
from helpers.lessons.l07_complexity.path_length import conv_layers_to_connect, gradient_reach
from helpers.lessons.l07_complexity.summaries import (
    attention_against_conv,
    attention_product_flops,
    gflops_per_second,
    measured_crossovers,
    slopes,
)
from helpers.lessons.l07_complexity.theory import THEORY_SLOPE_D, THEORY_SLOPE_N, flop_crossover_n, notes_memory_curve
from helpers.lessons.l07_complexity.verdicts import (
    FLOAT_ERROR_BOUNDS,
    MEMORY_FIT_TOLERANCE,
    SLOPE_MATCH,
    TIME_MARGIN,
    between_text,
    error_bound,
    power_of_ten,
)
from helpers.library.attention import blockwise_attention
from helpers.machinery.power_laws import fit_power_law

__all__ = ["claims_table"]


def _verdict(holds):
    """'yes' if every part of a claim holds, 'no' if none does, 'partly' otherwise."""
    return "yes" if all(holds) else "no" if not any(holds) else "partly"


def _time_claim(layers, by_n_at, by_d_at):
    by_n = {d: slopes(layers, "n", at=d, fit_from=512) for d in by_n_at}
    by_d = slopes(layers, "d", at=by_d_at, fit_from=128)
    in_n = ", ".join(
        f"{LABELS[k]} " + " / ".join(f"{by_n[d][k]['measured']:.1f}" for d in by_n_at) for k in LAYER_KINDS
    )
    in_d = ", ".join(f"{by_d[k]['measured']:.1f}" for k in LAYER_KINDS)
    off = [f"{LABELS[k]} in n (d = {d})" for d in by_n_at for k in LAYER_KINDS if not by_n[d][k]["matches"]]
    off += [f"{LABELS[k]} in d" for k in LAYER_KINDS if not by_d[k]["matches"]]
    numbers = (
        f"fitted slopes in n (d = {' / '.join(map(str, by_n_at))}): {in_n}, against "
        f"{', '.join(str(THEORY_SLOPE_N[k]) for k in LAYER_KINDS)}; in d (n = {by_d_at}): {in_d}, against "
        f"{', '.join(str(THEORY_SLOPE_D[k]) for k in LAYER_KINDS)}. Off by more than {SLOPE_MATCH}: "
        + (", ".join(off) if off else "none")
    )
    holds = [by_n[d][k]["matches"] for d in by_n_at for k in LAYER_KINDS] + [by_d[k]["matches"] for k in LAYER_KINDS]
    return "Self-attention time O(n²·d), RNN O(n·d²), CNN O(k·n·d²)", _verdict(holds), numbers


def _weights_values_claim(n=1024, d=64):
    base, double_n, double_d = (attention_product_flops(*size) for size in [(n, d), (2 * n, d), (n, 2 * d)])
    grows = {name: (double_n[name] / base[name], double_d[name] / base[name]) for name in base}
    n_d2 = [name for name, factors in grows.items() if factors == (2, 4)]
    factor_n, factor_d = grows["weights·v"]
    numbers = (
        f"weights·v: ×{factor_n:.0f} when n doubles, ×{factor_d:.0f} when d doubles. What grows like n·d² "
        f"(×2, ×4): {', '.join(n_d2)}"
    )
    return '"O(n·d²): applying attention weights to values"', _verdict([(factor_n, factor_d) == (2, 4)]), numbers


def _cheaper_claim(layers, n_rates=4096):
    intervals = measured_crossovers(layers)
    flops_at_d = all(flop_crossover_n(d) == d for d in layers["d_model"])
    time_at_d = all(found is not None and (found[0] is None or found[0] < d) and d <= found[1]
                    for d, found in intervals.items())  # fmt: skip
    shared = set(intervals.values())
    if len(shared) == 1:
        where = f"{between_text(shared.pop(), layers['n'])} at every d"
    else:
        where = "; ".join(f"d = {d}: {between_text(found, layers['n'])}" for d, found in intervals.items())
    rates = gflops_per_second(layers, n_rates)
    gru = [rates[d]["gru"] for d in rates]
    attention = [rates[d]["attention"] for d in rates]
    slower = all(rates[d]["gru"] < rates[d]["attention"] for d in rates)
    numbers = (
        f"FLOPs equal at n = d: {'yes' if flops_at_d else 'no'}, at every d. Times equal {where} "
        f"(d = {layers['d_model'][0]} to {layers['d_model'][-1]}). At n = {n_rates} the GRU does "
        f"{'fewer' if slower else 'not always fewer'} FLOPs per second than attention at every d: "
        f"{min(gru):.1f}–{max(gru):.1f} GFLOP/s against {min(attention):.1f}–{max(attention):.1f}"
    )
    return "Self-attention cheaper than an RNN while n < d", _verdict([flops_at_d, time_at_d]), numbers


def _conv_claim(layers):
    found = attention_against_conv(layers)
    ns, rows = layers["n"], found["by_d"].values()
    first, last = ([row["time_ratio"][i] for row in rows] for i in (0, -1))
    numbers = (
        f"FLOPs above the Conv1d's at every n and d: {'yes' if found['flops_above'] else 'no'} (8·n·d² + 4·n²·d "
        f"against 6·n·d²). Time above at n = {ns[-1]} at every d: {'yes' if found['above_at_longest'] else 'no'}; "
        f"attention ÷ Conv1d grows from {min(first):.1f}–{max(first):.1f} at n = {ns[0]} to "
        f"{min(last):.0f}–{max(last):.0f} at n = {ns[-1]} (d = {layers['d_model'][0]} to {layers['d_model'][-1]})"
    )
    holds = [found["flops_above"], found["above_at_longest"], found["excess_grows"]]
    return "Self-attention costs more than a CNN (k = 3), more so for long sequences", _verdict(holds), numbers


def _attention_memory_claim(layers, multi_head):
    exact = fit_memory_terms(layers, "attention", terms=("n²", "n·d"), min_n=256)
    n2d = fit_memory_terms(layers, "attention", terms=("n²·d",), min_n=256)
    formula = " + ".join(f"{value:.2f}·{term}" for term, value in exact["coefficients"].items())
    heads = multi_head_slopes(multi_head)
    many = heads["multi_head"]
    numbers = (
        f"one head: peak bytes = {formula} (largest error {exact['max_relative_error']:.1%}); n²·d alone misses by "
        f"up to {n2d['max_relative_error']:.0%}: the n×n matrices do not grow with d. h = d/{multi_head['d_k']} "
        f"heads (d = {multi_head['d_model'][0]} to {multi_head['d_model'][-1]}): fitted exponent "
        f"{many['in_d']:.2f} in d (n = {heads['n']}), {many['in_n']:.2f} in n (d = {heads['d_model']}): the h·n² "
        f"weights grow like n²·d {'' if many['like_n2_d'] else 'not '}(one head: {heads['one_head']['in_d']:.2f} in d)"
    )
    holds = [n2d["max_relative_error"] <= MEMORY_FIT_TOLERANCE, many["like_n2_d"]]
    return "Memory: self-attention O(n²·d)", _verdict(holds), numbers


def _rnn_cnn_memory_claim(layers, kernels):
    gru = fit_memory_terms(layers, "gru", terms=("n·d",), min_n=256)
    conv = fit_memory_terms(layers, "conv", terms=("n·d",), min_n=256)
    grows_with_k = len(set(kernels["opmeter_bytes"])) > 1
    numbers = (
        f"GRU {gru['coefficients']['n·d']:.2f}·n·d bytes (largest error {gru['max_relative_error']:.1%}); Conv1d "
        f"{conv['coefficients']['n·d']:.2f}·n·d, its tensors {'growing' if grows_with_k else 'the same'} for "
        f"k = {', '.join(map(str, kernels['kernel_size']))}"
    )
    holds = [gru["max_relative_error"] <= MEMORY_FIT_TOLERANCE, grows_with_k]
    return "Memory: RNN O(n·d), CNN O(n·k·d)", _verdict(holds), numbers


def _log_memory_claim(variants):
    ns, naive = variants["n"], variants["peak_bytes"]["naive"]
    per_n2 = [b / n**2 for n, b in zip(ns, naive, strict=True)]
    rising = all(after > before for before, after in itertools.pairwise(per_n2))
    numbers = (
        f"fitted exponent {fit_power_law(ns, naive)['slope']:.2f} (n² log n over the same n: "
        f"{fit_power_law(ns, notes_memory_curve(ns))['slope']:.2f}); bytes per n² "
        + ("rise" if rising else "fall")
        + f" from {per_n2[0]:.3f} at n = {ns[0]} to {per_n2[-1]:.3f} at n = {ns[-1]}"
    )
    return "Memory O(n² log n)", _verdict([rising]), numbers


def _parallel_claim(ns=(16, 64, 256), scan_n=1024):
    counts = operation_counts(list(ns))
    constant = len(set(counts["attention"])) == 1
    steps = zip(itertools.pairwise(ns), itertools.pairwise(counts["gru"]), strict=True)
    per_step = [(b - a) / (m - n) for (n, m), (a, b) in steps]
    sequential = len(set(per_step)) == 1 and per_step[0] > 0
    a, x = seeded_recurrence(scan_n)
    looped, loop_steps = linear_recurrence_loop(a, x)
    scanned, scan_rounds = linear_recurrence_scan(a, x)
    numbers = (
        f"self-attention runs {', '.join(map(str, counts['attention']))} operations at n = "
        f"{', '.join(map(str, ns))}; the GRU {', '.join(map(str, counts['gru']))}: {per_step[0]:.0f} more per step. "
        f"Not every recurrence: h_t = a_t·h_(t−1) + x_t at n = {scan_n} takes {loop_steps} steps as a loop, "
        f"{scan_rounds} as a scan (largest difference {error_bound(scanned - looped)})"
    )
    return "Attention is parallel, the RNN (a GRU) sequential", _verdict([constant, sequential]), numbers


def _path_claim(n=32):
    reach = {kind: gradient_reach(kind, n=n) for kind in LAYER_KINDS}
    stacked = conv_layers_to_connect(n, kernel_size=3)
    numbers = (
        f"one layer's last output depends on {reach['attention']} of {n} inputs (GRU {reach['gru']}, through up "
        f"to {n - 1} steps; Conv1d {reach['conv']}); k = 3 convolutions need {stacked} layers at n = {n}"
    )
    return "Attention connects any two tokens in one step", _verdict([reach["attention"] == n]), numbers


def _blockwise_claim(variants, n=256, d=64):
    slope = {
        name: fit_power_law(variants["n"], variants["peak_bytes"][name])["slope"] for name in ("naive", "blockwise")
    }
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, n, d, generator=generator) for _ in range(3))
    same = error_bound(blockwise_attention(q, k, v) - naive_attention(q, k, v))
    linear = abs(slope["blockwise"] - 1) <= SLOPE_MATCH and same.startswith("<")
    numbers = (
        f"peak memory slope {slope['naive']:.1f} naive, {slope['blockwise']:.1f} blockwise (n = {variants['n'][0]} "
        f"to {variants['n'][-1]}); the same output (largest difference {same})"
    )
    return "Attention needs n² memory", "only with the weights materialised" if linear else "yes", numbers


def claims_table(measurements, multi_head=None):
    """Lesson 07's verdict table in Markdown: each claim, its verdict and the numbers it rests on.

    Every number and verdict is computed: from the cached measurements, and from counts made now (operations,
    gradients, one blockwise attention, multi-head memory), with the thresholds SLOPE_MATCH, TIME_MARGIN,
    MEMORY_FIT_TOLERANCE and FLOAT_ERROR_BOUNDS, which the table's last line states. A verdict: yes, partly or no.
    multi_head: multi_head_memory's result (counted now when None).
    """
    layers, variants = measurements["layers"], measurements["attention_variants"]
    multi_head = multi_head_memory() if multi_head is None else multi_head
    rows = [
        _time_claim(layers, by_n_at=(64, 512), by_d_at=1024),
        _weights_values_claim(),
        _cheaper_claim(layers),
        _conv_claim(layers),
        _attention_memory_claim(layers, multi_head),
        _rnn_cnn_memory_claim(layers, measurements["allocator_cross_check"]["conv_kernel_sizes"]),
        _log_memory_claim(variants),
        _parallel_claim(),
        _path_claim(),
        _blockwise_claim(variants),
    ]
    lines = ["| Claim | Verdict | The numbers (cached on one CPU; counts made now) |", "|---|---|---|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    lines.append("")
    lines.append(
        f"Thresholds: a fitted slope matches an exponent within {SLOPE_MATCH}; one time is above another when "
        f"more than {TIME_MARGIN:.0%} larger; a memory formula fits when its "
        f"largest error is at most {MEMORY_FIT_TOLERANCE:.0%}; a float32 difference below "
        f"{power_of_ten(FLOAT_ERROR_BOUNDS[torch.float32])} is rounding."
    )
    return "\n".join(lines)
