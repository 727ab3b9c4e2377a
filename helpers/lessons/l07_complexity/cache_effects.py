"""What the cache and fresh memory do to naive attention's time, and so where its time reaches the GRU's.

    cache_bytes(size)                 bytes of a cache size as Linux writes it ("32768K"), or None
    fresh_memory_table(measurements)  fresh against reused n×n matrices, per n and from one n to the next
    crossover_causes(measurements, d_model)   the crossover's interval, the first n whose n×n matrix outgrows the
                                      cache, the first n where fresh memory costs, and the times at the crossover
    fresh_bytes_per_call(n, d_k)      bytes of new memory one naive attention call gets: fresh, and with reused buffers
    crossover_report(measurements, d_model)   crossover_causes in sentences, every number and word computed

measurements: load_measurements' dict (its "layers", "fresh_memory" and "machine" entries).
"""

import itertools

import torch

from helpers.lessons.l07_complexity.attention_variants import naive_attention
from helpers.lessons.l07_complexity.cached_measurements import layer_series
from helpers.lessons.l07_complexity.measurement_runs import naive_attention_into, reused_buffers
from helpers.lessons.l07_complexity.summaries import measured_crossovers
from helpers.lessons.l07_complexity.verdicts import FRESH_COST_THRESHOLD, TIME_MARGIN, between_text, compare_times
from helpers.library.checks import require_int
from helpers.machinery.measurement import peak_memory

__all__ = ["cache_bytes", "fresh_memory_table", "crossover_causes", "fresh_bytes_per_call", "crossover_report"]


def cache_bytes(size):
    """Bytes of a cache size as Linux writes it ("32768K", "32M"), or None if it is not known."""
    if size is None:
        return None
    text = str(size).strip().upper()
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    number, unit = (text[:-1], units[text[-1]]) if text[-1:] in units else (text, 1)
    if not number.isdigit():
        raise ValueError(f"cache size must look like '32768K', got {size!r}")
    return int(number) * unit


def fresh_memory_table(measurements):
    """The fresh-against-reused measurement of naive attention (d = 64), per n and from one n to the next.

    Returns {"cache_bytes": the CPU's last-level cache (None if not recorded),
    "rows": [{"n", "matrix_bytes" (one n×n float32 matrix), "fits" (in that cache; None if unknown),
    "fresh", "reused" (seconds), "fresh_cost" (fresh ÷ reused − 1), "costs" (fresh_cost > FRESH_COST_THRESHOLD)}],
    "growth": [{"from", "to", "work" (×, the n² work), "fresh", "reused" (×), "fresh_vs_work", "reused_vs_work"
    (compare_times of the growth against the work's)}]}.
    """
    fresh_memory = measurements["fresh_memory"]
    cache = cache_bytes(measurements["machine"].get("l3_cache"))
    rows = []
    for n, fresh, reused in zip(fresh_memory["n"], fresh_memory["fresh"], fresh_memory["reused"], strict=True):
        matrix = 4 * n * n
        cost = fresh / reused - 1
        fits = None if cache is None else matrix <= cache
        rows.append({"n": n, "matrix_bytes": matrix, "fits": fits, "fresh": fresh, "reused": reused,
                     "fresh_cost": cost, "costs": cost > FRESH_COST_THRESHOLD})  # fmt: skip
    growth = []
    for before, after in itertools.pairwise(rows):
        work = (after["n"] / before["n"]) ** 2
        fresh, reused = after["fresh"] / before["fresh"], after["reused"] / before["reused"]
        verdicts = {"fresh_vs_work": compare_times(fresh, work), "reused_vs_work": compare_times(reused, work)}
        growth.append(
            {"from": before["n"], "to": after["n"], "work": work, "fresh": fresh, "reused": reused} | verdicts
        )
    return {"cache_bytes": cache, "rows": rows, "growth": growth}


def crossover_causes(measurements, d_model=64):
    """Where attention's time reaches the GRU's, and what happens to its memory there, from the cached data.

    Returns {"intervals": measured_crossovers, "interval": the one interval every d_model shares (None if they
    differ), "first_outgrown": the first measured n whose n×n float32 matrix is larger than the last-level cache,
    "first_costly": the first n at which fresh allocation costs (fresh_memory_table), "coincide": both lie in
    the shared interval (n_below, n_reached], and at n_reached for d_model: "n", "gru", "fresh", "reused"
    (seconds: the GRU layer, the n×n step of naive attention with fresh matrices and with reused buffers),
    "fresh_vs_gru", "reused_vs_gru" (compare_times)}.
    """
    layers = measurements["layers"]
    intervals = measured_crossovers(layers)
    shared = set(intervals.values())
    interval = shared.pop() if len(shared) == 1 else None
    table = fresh_memory_table(measurements)
    cache = table["cache_bytes"]
    outgrown = [n for n in layers["n"] if cache is not None and 4 * n * n > cache]
    costly = [row["n"] for row in table["rows"] if row["costs"]]
    first_outgrown, first_costly = (outgrown[0] if outgrown else None), (costly[0] if costly else None)
    inside = interval is not None and interval[0] is not None
    coincide = inside and all(n is not None and interval[0] < n <= interval[1] for n in (first_outgrown, first_costly))
    result = {"intervals": intervals, "interval": interval, "cache_bytes": cache, "first_outgrown": first_outgrown,
              "first_costly": first_costly, "coincide": coincide, "d_model": d_model}  # fmt: skip
    own = intervals.get(d_model)
    rows = {row["n"]: row for row in table["rows"]}
    if own is not None and own[1] in rows:
        n = own[1]
        gru = layer_series(layers, "seconds", "gru", d_model)[layers["n"].index(n)]
        fresh, reused = rows[n]["fresh"], rows[n]["reused"]
        result |= {"n": n, "gru": gru, "fresh": fresh, "reused": reused,
                   "fresh_vs_gru": compare_times(fresh, gru), "reused_vs_gru": compare_times(reused, gru)}  # fmt: skip
    return result


def fresh_bytes_per_call(n, d_k=64):
    """Bytes of new memory one call of naive attention on (n, d_k) gets, counted by OpMeter (exact, any machine).

    Returns {"n", "d_k", "fresh": naive_attention's peak (its two n×n matrices and q/√d_k), "reused": the same
    arithmetic written into buffers made before the call (naive_attention_into), "matrices": 2·4·n² bytes}.
    """
    n, d_k = require_int("n", n, minimum=1), require_int("d_k", d_k, minimum=1)
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(n, d_k, generator=generator) for _ in range(3))
    fresh = peak_memory(lambda: naive_attention(q, k, v))
    buffers = reused_buffers(n, d_k)
    reused = peak_memory(lambda: naive_attention_into(q, k, v, *buffers))
    return {"n": n, "d_k": d_k, "fresh": fresh, "reused": reused, "matrices": 2 * 4 * n * n}


def _mb(n_bytes):
    return f"{n_bytes / 2**20:.0f} MB"


def crossover_report(measurements, d_model=64):
    """crossover_causes in sentences, one per line, each number and verdict word computed from the cache."""
    causes = crossover_causes(measurements, d_model)
    ns, interval = measurements["layers"]["n"], causes["interval"]
    d_models = measurements["layers"]["d_model"]
    if interval is None:
        lines = [f"d = {d}: attention's time reaches the GRU's {between_text(found, ns)}"
                 for d, found in causes["intervals"].items()]  # fmt: skip
    else:
        which = f"d = {d_models[0]}" if len(d_models) == 1 else f"every d measured ({d_models[0]} to {d_models[-1]})"
        lines = [f"at {which}, attention's time reaches the GRU's {between_text(interval, ns)}"]
    cache = causes["cache_bytes"]
    if cache is None:
        lines.append("this machine's last-level cache was not recorded")
    else:
        first = causes["first_outgrown"]
        where = f"at n = {first} ({_mb(4 * first * first)})" if first else f"at no measured n up to {ns[-1]}"
        lines.append(f"one n×n float32 matrix first outgrows the {_mb(cache)} last-level cache {where}")
    costly, threshold = causes["first_costly"], f"more than {FRESH_COST_THRESHOLD:.0%} longer"
    if costly is None:
        lines.append(f"fresh matrices take {threshold} than reused ones at no measured n")
    else:
        cost = next(row["fresh_cost"] for row in fresh_memory_table(measurements)["rows"] if row["n"] == costly)
        lines.append(f"fresh matrices first take {threshold} than reused ones at n = {costly} ({cost:+.0%})")
    lines.append("both happen within the crossover's interval: " + ("yes" if causes["coincide"] else "no"))
    if "n" in causes:
        counted = fresh_bytes_per_call(causes["n"], d_model)
        lines.append(
            f"n = {causes['n']}, d = {d_model}, counted (the same on any machine): one call of the n×n step gets "
            f"{_mb(counted['fresh'])} of fresh memory, {_mb(counted['matrices'])} of it the two n×n matrices; "
            f"written into reused buffers, {_mb(counted['reused'])}"
        )
        lines.append(
            f"timed on the measuring CPU: the GRU {causes['gru'] * 1000:.0f} ms; the n×n step alone "
            f"{causes['fresh'] * 1000:.0f} ms with fresh matrices ({causes['fresh_vs_gru']} the GRU), "
            f"{causes['reused'] * 1000:.0f} ms with reused buffers ({causes['reused_vs_gru']} the GRU)"
        )
        lines.append(f"(above or below: more than {TIME_MARGIN:.0%} apart; level otherwise)")
    return lines
