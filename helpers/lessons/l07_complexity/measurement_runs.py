"""Lesson 07's experiments: time and peak memory of the layers and of the attention variants, over grids of sizes.

    measure_layers(ns, d_models, kinds, repeats, memory)   each layer kind's time (and peak bytes) per n and d_model
    measure_attention_variants(ns, d_k, variants, repeats, memory)   each of ATTENTION_VARIANTS per n
    measure_sequential(ns, d_model, repeats)   a GRU's step loop against one attention call; 1×4096 against 64×64
    measure_fresh_memory(ns, d_k, repeats)     naive attention with fresh n×n matrices against reused buffers
    reused_buffers(n, d_k), naive_attention_into(q, k, v, *buffers)   the reused-buffer way, measured above
    operation_counts(ns, d_model)              the operations a GRU and self-attention run per n (OpMeter)

ns, d_models: increasing lists of ints. Times are measured on one CPU thread (interleaved_timings): the cost of
the work, not how well it spreads over cores. Peak bytes are OpMeter's count.
Re-exported from the machinery, so the lesson calls them as its own: OpMeter, peak_memory, count_ops,
allocator_peak_bytes, time_call, interleaved_timings (helpers.machinery.measurement), one_thread (threads).
"""

import contextlib
import functools
import math

import torch
from torch import nn

from helpers.lessons.l07_complexity.attention_variants import ATTENTION_VARIANTS, attend, naive_attention
from helpers.lessons.l07_complexity.layer_kinds import LAYER_KINDS, make_layer, seeded_sequence
from helpers.library.checks import require_int, require_int_list
from helpers.machinery.measurement import (
    OpMeter,
    allocator_peak_bytes,
    count_ops,
    interleaved_timings,
    peak_memory,
    time_call,
)
from helpers.machinery.threads import one_thread

__all__ = [
    "OpMeter",
    "peak_memory",
    "count_ops",
    "allocator_peak_bytes",
    "time_call",
    "interleaved_timings",
    "one_thread",
    "measure_layers",
    "measure_attention_variants",
    "measure_sequential",
    "measure_fresh_memory",
    "reused_buffers",
    "naive_attention_into",
    "operation_counts",
]


def _progress(total, description, show):
    if not show:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=False)


def _sizes(name, values, what):
    """`values` as an increasing list of ints >= 1 without repeats (sizes n or d), or TypeError/ValueError."""
    values = require_int_list(name, values, minimum=1, what=what)
    if values != sorted(set(values)):
        raise ValueError(f"{name} must be increasing without repeats, got {values}")
    return values


def measure_layers(ns, d_models, kinds=LAYER_KINDS, repeats=5, memory=True, progress=False, seed=0):
    """Time (and peak memory) of each layer kind's forward pass for every n and d_model, on one thread.

    ns, d_models: increasing lists of ints; x is one sequence (1, n, d_model). Times: interleaved_timings.
    Returns {"n": ns, "d_model": d_models, "seconds": {kind: {str(d): [per n]}},
    "peak_bytes": same shape (OpMeter's count; only if memory)}.
    """
    ns, d_models = _sizes("ns", ns, "n"), _sizes("d_models", d_models, "d_model")
    for kind in kinds:
        if kind not in LAYER_KINDS:
            raise ValueError(f"each kind must be one of {LAYER_KINDS}, got {kind!r}")
    repeats = require_int("repeats", repeats, minimum=1)
    layers = {(kind, d): make_layer(kind, d, seed=seed) for kind in kinds for d in d_models}
    inputs = {(d, n): seeded_sequence(n, d, seed) for d in d_models for n in ns}
    runs = {
        (kind, d, n): functools.partial(layers[kind, d], inputs[d, n]) for kind in kinds for d in d_models for n in ns
    }
    total = len(runs) * (repeats + 1 + (1 if memory else 0))
    with _progress(total, "measuring layers", progress) as bar:
        seconds = interleaved_timings(runs, repeats, bar)
        result = {"n": ns, "d_model": d_models, "seconds": {}, "peak_bytes": {}}
        for kind in kinds:
            result["seconds"][kind] = {str(d): [seconds[kind, d, n] for n in ns] for d in d_models}
        if memory:
            for kind in kinds:
                result["peak_bytes"][kind] = {str(d): [] for d in d_models}
                for d in d_models:
                    for n in ns:
                        result["peak_bytes"][kind][str(d)].append(peak_memory(runs[kind, d, n]))
                        if bar is not None:
                            bar.update()
    return result


def measure_attention_variants(ns, d_k=64, variants=ATTENTION_VARIANTS, repeats=5, memory=True, progress=False):
    """Time and peak memory of each of ATTENTION_VARIANTS on q, k, v of shape (1, 1, n, d_k).

    Times: interleaved_timings (one thread). Returns {"n", "d_k", "seconds": {variant: [per n]},
    "peak_bytes": {variant: [per n]} (OpMeter; only if memory)}.
    """
    ns = _sizes("ns", ns, "n")
    d_k = require_int("d_k", d_k, minimum=1)
    for variant in variants:
        if variant not in ATTENTION_VARIANTS:
            raise ValueError(f"each variant must be one of {ATTENTION_VARIANTS}, got {variant!r}")
    generator = torch.Generator().manual_seed(0)
    qkv = {n: [torch.randn(1, 1, n, d_k, generator=generator) for _ in range(3)] for n in ns}
    runs = {(variant, n): functools.partial(attend, variant, *qkv[n]) for variant in variants for n in ns}
    total = len(runs) * (require_int("repeats", repeats, minimum=1) + 1 + (1 if memory else 0))
    with _progress(total, "measuring attention", progress) as bar:
        seconds = interleaved_timings(runs, repeats, bar)
        result = {"n": ns, "d_k": d_k, "seconds": {}, "peak_bytes": {}}
        for variant in variants:
            result["seconds"][variant] = [seconds[variant, n] for n in ns]
            if memory:
                result["peak_bytes"][variant] = []
                for n in ns:
                    result["peak_bytes"][variant].append(peak_memory(runs[variant, n]))
                    if bar is not None:
                        bar.update()
    return result


class _StepLoop(nn.Module):
    """The GRU written as a Python loop of GRUCell steps: h_t = cell(x_t, h_{t-1}). x (1, n, d) -> (1, n, d)."""

    def __init__(self, d_model):
        super().__init__()
        self.cell = nn.GRUCell(d_model, d_model)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], x.shape[-1])  # (B, d)
        outputs = []
        for t in range(x.shape[1]):  # step t needs h from step t-1: no way to start it earlier
            h = self.cell(x[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1)


def measure_sequential(ns, d_model=64, repeats=5, progress=False):
    """A GRU's step loop (Python, and PyTorch's own C++ loop) against one self-attention call, per n.

    Also the batch experiment: the same 4096 tokens as 1 sequence of 4096 or 64 sequences of 64
    (the same FLOPs for the GRU; 4096 or 64 steps in a row). Times: interleaved_timings (one thread).
    Returns {"n", "d_model", "seconds": {"gru_step_loop", "gru", "attention": [per n]},
    "ops": {"gru", "attention": [per n]}, "batch": {"gru_1x4096", "gru_64x64", "attention_1x4096",
    "attention_64x64": seconds}}.
    """
    ns = _sizes("ns", ns, "n")
    d = require_int("d_model", d_model, minimum=1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        step_loop = _StepLoop(d).eval()
    gru, attention = make_layer("gru", d), make_layer("attention", d)
    xs = {n: seeded_sequence(n, d) for n in ns}
    shapes = {
        "1x4096": seeded_sequence(4096, d),
        "64x64": torch.randn(64, 64, d, generator=torch.Generator().manual_seed(1)),
    }
    layers = {"gru_step_loop": step_loop, "gru": gru, "attention": attention}
    runs = {(name, n): functools.partial(layer, xs[n]) for name, layer in layers.items() for n in ns}
    for shape, x in shapes.items():
        runs |= {("batch", f"gru_{shape}"): functools.partial(gru, x)}
        runs |= {("batch", f"attention_{shape}"): functools.partial(attention, x)}
    with _progress(len(runs) * (require_int("repeats", repeats, minimum=1) + 1), "measuring steps", progress) as bar:
        timings = interleaved_timings(runs, repeats, bar)
    return {
        "n": ns,
        "d_model": d,
        "seconds": {name: [timings[name, n] for n in ns] for name in layers},
        "ops": {name: [count_ops(runs[name, n])[0] for n in ns] for name in ("gru", "attention")},
        "batch": {key[1]: value for key, value in timings.items() if key[0] == "batch"},
    }


def reused_buffers(n, d_k):
    """Buffers for naive_attention_into, allocated once: scores, weights (n, n) and output (n, d_k), float32."""
    n, d_k = require_int("n", n, minimum=1), require_int("d_k", d_k, minimum=1)
    return torch.empty(n, n), torch.empty(n, n), torch.empty(n, d_k)


def naive_attention_into(q, k, v, scores, weights, output):
    """naive_attention's arithmetic written into buffers made once (reused_buffers): no fresh n×n memory per call.

    q, k: (n, d_k), v: (n, d_k); scores, weights: (n, n); output: (n, d_k). Returns output.
    """
    if scores.shape != (q.shape[0], k.shape[0]) or weights.shape != scores.shape or output.shape != v.shape:
        got = f"{tuple(scores.shape)}, {tuple(weights.shape)}, {tuple(output.shape)}"
        raise ValueError(
            f"buffers must be scores, weights (n_q, n_k) and output like v; got {got} for q {tuple(q.shape)}, "
            f"k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    torch.matmul(q * (1.0 / math.sqrt(q.shape[-1])), k.T, out=scores)
    torch.softmax(scores, dim=-1, out=weights)
    return torch.matmul(weights, v, out=output)


def measure_fresh_memory(ns, d_k=64, repeats=5, progress=False):
    """Naive attention with its two n×n matrices freshly allocated on every call, against written into reused buffers.

    The same arithmetic either way; the difference is what getting fresh memory costs (from the operating system,
    page by page, for large blocks). One thread, interleaved repeats. Returns {"n", "d_k", "fresh": [s per n],
    "reused": [s per n]}.
    """
    ns = _sizes("ns", ns, "n")
    d_k = require_int("d_k", d_k, minimum=1)
    generator = torch.Generator().manual_seed(0)
    runs = {}
    for n in ns:
        q, k, v = (torch.randn(n, d_k, generator=generator) for _ in range(3))
        buffers = reused_buffers(n, d_k)
        runs["fresh", n] = functools.partial(naive_attention, q, k, v)
        runs["reused", n] = functools.partial(naive_attention_into, q, k, v, *buffers)
    with _progress(len(runs) * (require_int("repeats", repeats, minimum=1) + 1), "measuring memory", progress) as bar:
        timings = interleaved_timings(runs, repeats, bar)
    return {"n": ns, "d_k": d_k, **{way: [timings[way, n] for n in ns] for way in ("fresh", "reused")}}


def operation_counts(ns, d_model=8):
    """{"gru": [operations per n], "attention": [...]}: what each layer runs, counted by OpMeter."""
    ns = _sizes("ns", ns, "n")
    counts = {}
    for kind in ("gru", "attention"):
        layer = make_layer(kind, d_model)
        counts[kind] = [count_ops(functools.partial(layer, seeded_sequence(n, d_model)))[0] for n in ns]
    return counts
