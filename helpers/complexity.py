"""Lesson 07's measurements: time, memory and operations of self-attention, a GRU and a Conv1d.

    OpMeter, peak_memory(fn), count_ops(fn)   watch every operation torch runs: the bytes of the tensors
                                              alive at once (their peak), multiply-add FLOPs, operations
    allocator_peak_bytes(fn)                  torch's allocator peak via torch.profiler (a cross-check)
    time_call(fn), interleaved_timings(runs), one_thread()   median wall-clock seconds, on one CPU thread
    naive_attention, attend(variant, q, k, v) attention with and without the n×n matrix, and torch's fused one
    make_layer(kind, d_model)                 the three layers, each (B, n, d_model) -> (B, n, d_model)
    layer_flops, attention_flop_breakdown, flop_crossover_n   the theory: multiply-adds counted by hand
    fit_power_law, crossover_between, fit_memory_terms   fitted log-log slopes, crossovers, memory formulas
    measure_layers, measure_attention_variants, measure_sequential, measure_fresh_memory
                                              the experiments behind the data file
    gradient_reach, conv_layers_to_connect    how far information travels in one layer, and in a stack
    remeasure(path), load_measurements(path)  regenerate or read notebooks/07_complexity_measurements.json
    attention_product_flops, slopes, gflops_per_second, measured_crossovers, operation_counts
                                              the summaries the lesson prints
    fit_cost_model, CostModel                 time ≈ Σ c_i · (n^a d^b) terms of the theory, fitted per layer
    error_bound, compare_times                a float difference as "< 1e-6"; "below" / "above" / "level with"
    fresh_memory_table, crossover_causes, crossover_report, claims_table
                                              the lesson's verdicts, computed from the cached data with the
                                              thresholds SLOPE_MATCH, TIME_MARGIN, FRESH_COST_THRESHOLD,
                                              MEMORY_FIT_TOLERANCE and FLOAT_ERROR_BOUNDS
    plot_*                                    figures on a given Axes

Times are measured on one CPU thread (see `one_thread`): the cost of the work, not how well it spreads
over cores. Memory is counted, not estimated: see OpMeter for what it sees and what it cannot.
"""

import contextlib
import datetime
import functools
import itertools
import json
import math
import os
import platform
import statistics
import time
import weakref
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from helpers._checks import require_int
from helpers.attention import blockwise_attention
from helpers.threads import one_thread

__all__ = [
    "LAYER_KINDS",
    "ATTENTION_VARIANTS",
    "THEORY_SLOPE_N",
    "THEORY_SLOPE_D",
    "SLOPE_MATCH",
    "TIME_MARGIN",
    "FRESH_COST_THRESHOLD",
    "MEMORY_FIT_TOLERANCE",
    "FLOAT_ERROR_BOUNDS",
    "DATA_PATH",
    "OpMeter",
    "peak_memory",
    "count_ops",
    "allocator_peak_bytes",
    "time_call",
    "one_thread",
    "naive_attention",
    "attend",
    "SelfAttentionLayer",
    "RecurrentLayer",
    "ConvLayer",
    "make_layer",
    "layer_flops",
    "attention_flop_breakdown",
    "flop_crossover_n",
    "fit_power_law",
    "crossover_between",
    "between_text",
    "interleaved_timings",
    "measure_layers",
    "measure_attention_variants",
    "measure_sequential",
    "measure_fresh_memory",
    "conv_layers_to_connect",
    "gradient_reach",
    "remeasure",
    "load_measurements",
    "layer_series",
    "CostModel",
    "fit_cost_model",
    "notes_memory_curve",
    "plot_loglog",
    "plot_memory_claim",
    "plot_bytes_per_n2",
    "plot_notes_curve",
    "plot_crossover",
    "fit_memory_terms",
    "attention_product_flops",
    "slopes",
    "gflops_per_second",
    "measured_crossovers",
    "operation_counts",
    "error_bound",
    "compare_times",
    "cache_bytes",
    "fresh_memory_table",
    "crossover_causes",
    "crossover_report",
    "claims_table",
]

LAYER_KINDS = ("attention", "gru", "conv")
ATTENTION_VARIANTS = ("naive", "blockwise", "query_blocks", "sdpa")
# Per-layer cost in n for large n (Vaswani et al. 2017, Table 1): n²·d, n·d², k·n·d².
THEORY_SLOPE_N = {"attention": 2, "gru": 1, "conv": 1}
THEORY_SLOPE_D = {"attention": 1, "gru": 2, "conv": 2}  # ... and in d: n²·d, n·d², k·n·d²

# The thresholds behind every verdict word the lesson prints (the notebook prints them where they decide).
SLOPE_MATCH = 0.5  # a fitted slope "matches" an exponent when it is within 0.5 of it (it rounds to it)
TIME_MARGIN = 0.2  # one time is "below" or "above" another only when they differ by more than 20 %; else "level"
FRESH_COST_THRESHOLD = 0.25  # fresh allocation "costs" time where fresh matrices take > 25 % longer than reused ones
MEMORY_FIT_TOLERANCE = 0.01  # a memory formula "fits" when its largest error over the measured sizes is <= 1 %
# A float difference prints as "< bound" when it is below its dtype's bound here: the digits of the difference
# itself are rounding, and they change with the CPU's kernels (3.6e-07 on one machine, 3.3e-07 on another).
FLOAT_ERROR_BOUNDS = {torch.float32: 1e-6, torch.float64: 1e-12}
QUERY_BLOCK = 512  # queries per block of the "query_blocks" variant
DATA_PATH = Path(__file__).resolve().parent.parent / "notebooks" / "07_complexity_measurements.json"
STYLES = {  # colour-blind-safe (Okabe-Ito) colours, each with its own marker and line style
    "attention": {"color": "#0072b2", "marker": "o", "linestyle": "-"},
    "gru": {"color": "#d55e00", "marker": "s", "linestyle": "--"},
    "conv": {"color": "#009e73", "marker": "^", "linestyle": ":"},
    "naive": {"color": "#0072b2", "marker": "o", "linestyle": "-"},
    "blockwise": {"color": "#cc79a7", "marker": "D", "linestyle": "--"},
    "query_blocks": {"color": "#56b4e9", "marker": "P", "linestyle": "-."},
    "sdpa": {"color": "#e69f00", "marker": "v", "linestyle": ":"},
}
LABELS = {
    "attention": "self-attention",
    "gru": "GRU",
    "conv": "Conv1d (k=3)",
    "naive": "naive (n×n weights)",
    "blockwise": "blockwise (online softmax)",
    "query_blocks": "blockwise, 512-query blocks",
    "sdpa": "torch SDPA (fused)",
}


# --------------------------------------------------------------------------- measuring memory and operations


def _matmul_flops(func, args, out):
    """Multiply-add FLOPs (2 per multiply-add) of a matrix product or convolution; 0 for other operations."""
    name = func.overloadpacket.__name__
    if name in ("mm", "addmm", "bmm", "baddbmm"):
        a, b = (args[1], args[2]) if name in ("addmm", "baddbmm") else (args[0], args[1])
        return 2 * a.numel() * b.shape[-1]  # (…, m, k) @ (…, k, p): m·k·p multiply-adds per batch
    if name == "convolution":
        weight = args[1]  # (d_out, d_in / groups, kernel...)
        return 2 * out.numel() * math.prod(weight.shape[1:])
    return 0


class OpMeter(TorchDispatchMode):
    """Watch every operation torch runs inside `with OpMeter() as meter:`.

    After the block: meter.peak_bytes (the most bytes held at once by tensors created inside the block),
    meter.ops (operations run), meter.flops (multiply-add FLOPs of matrix products and convolutions),
    meter.log (one (operation name, flops) per operation).

    How: each operation's outputs are seen as it returns. A new storage (not one of the operation's
    inputs, not a view of an earlier tensor) adds its bytes; a finaliser subtracts them when the last
    tensor using that storage is freed. Tensors that existed before the block (inputs, weights) are not
    counted. What it cannot see: scratch memory a single fused kernel allocates and frees inside itself
    (torch's SDPA, a convolution's work buffer) — `allocator_peak_bytes` watches the allocator for that.
    Use it under torch.no_grad() (not inference_mode, which hides a GRU's steps).
    """

    @classmethod
    def _should_skip_dynamo(cls):
        return False  # the default wraps __torch_dispatch__ for torch.compile, importing it (seconds)

    def __init__(self):
        super().__init__()
        self.live_bytes = 0
        self.peak_bytes = 0
        self.ops = 0
        self.flops = 0
        self.log = []
        self._storages = {}  # data pointer -> [tensors alive that use it, bytes]
        self._finalizers = []

    def _release(self, key):
        entry = self._storages.get(key)
        if entry is None:
            return
        entry[0] -= 1
        if entry[0] == 0:
            self.live_bytes -= entry[1]
            del self._storages[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        flops = _matmul_flops(func, args, out)
        self.ops += 1
        self.flops += flops
        self.log.append((func.overloadpacket.__name__, flops))
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        inputs = None
        for tensor in outputs:
            if not isinstance(tensor, torch.Tensor) or any(tensor is arg for arg in args):
                continue  # not a tensor, or an in-place operation handing back its own input
            storage = tensor.untyped_storage()
            key = storage.data_ptr()
            if key in self._storages:  # a view of a tensor created inside the block
                self._storages[key][0] += 1
            else:
                if inputs is None:
                    flat = list(args) + list(kwargs.values())
                    flat += [t for a in flat if isinstance(a, (tuple, list)) for t in a]
                    inputs = {t.untyped_storage().data_ptr() for t in flat if isinstance(t, torch.Tensor)}
                if key in inputs or key == 0:  # in place, a view of an input, or empty
                    continue
                self._storages[key] = [1, storage.nbytes()]
                self.live_bytes += storage.nbytes()
                self.peak_bytes = max(self.peak_bytes, self.live_bytes)
            finalizer = weakref.finalize(tensor, self._release, key)
            finalizer.atexit = False
            self._finalizers.append(finalizer)
        return out

    def __exit__(self, *exc):
        result = super().__exit__(*exc)
        for finalizer in self._finalizers:
            finalizer.detach()  # tensors that outlive the block no longer report to this meter
        self._finalizers.clear()
        return result


def _require_callable(fn):
    if not callable(fn):
        raise TypeError(f"fn must be a function taking no arguments, got {type(fn).__name__}")


def peak_memory(fn):
    """Peak bytes held at once by the tensors `fn()` creates (its inputs and weights excluded). See OpMeter."""
    _require_callable(fn)
    with torch.no_grad(), OpMeter() as meter:
        output = fn()
    del output
    return meter.peak_bytes


def count_ops(fn):
    """(operations, multiply-add FLOPs) that `fn()` runs, counted by OpMeter."""
    _require_callable(fn)
    with torch.no_grad(), OpMeter() as meter:
        output = fn()
    del output
    return meter.ops, meter.flops


def allocator_peak_bytes(fn):
    """Peak bytes torch's CPU allocator handed out during `fn()`, fused kernels' scratch included.

    Uses torch.profiler with profile_memory=True, which watches every allocation and free. Slow to
    start (seconds the first time) and chatty on stderr, so only `remeasure` uses it, as a cross-check.
    """
    from torch.profiler import ProfilerActivity, profile

    _require_callable(fn)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        output = fn()
    del output
    events = []

    def walk(event):
        if isinstance(event.extra_fields, torch._C._profiler._ExtraFields_Allocation):
            events.append((event.start_time_ns, event.extra_fields.alloc_size))
        for child in event.children:
            walk(child)

    for root in prof.profiler.kineto_results.experimental_event_tree():
        walk(root)
    running = peak = 0
    for _, size in sorted(events):
        running += size
        peak = max(peak, running)
    return peak


def time_call(fn, repeats=5, warmup=1):
    """Median wall-clock seconds of `fn()` over `repeats` runs, after `warmup` untimed runs, under no_grad."""
    _require_callable(fn)
    repeats = require_int("repeats", repeats, minimum=1)
    warmup = require_int("warmup", warmup, minimum=0)
    timings = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            fn()
            if i >= warmup:
                timings.append(time.perf_counter() - start)
    return statistics.median(timings)


# --------------------------------------------------------------------------- the three layers


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


class SelfAttentionLayer(nn.Module):
    """One head of self-attention with its projections: x (B, n, d_model) -> (B, n, d_model).

    w_qkv: nn.Linear(d_model, 3·d_model) gives q, k, v; w_o: nn.Linear(d_model, d_model) after attention.
    attention: one of ATTENTION_VARIANTS, see `attend`.
    """

    def __init__(self, d_model, attention="naive"):
        super().__init__()
        self.d_model = require_int("d_model", d_model, minimum=1)
        if attention not in ATTENTION_VARIANTS:
            raise ValueError(f"attention must be one of {ATTENTION_VARIANTS}, got {attention!r}")
        self.attention = attention
        self.w_qkv = nn.Linear(d_model, 3 * d_model)
        self.w_o = nn.Linear(d_model, d_model)

    def forward(self, x):
        _check_sequence(x, self.d_model)
        q, k, v = self.w_qkv(x).chunk(3, dim=-1)  # (B, n, d_model) each
        output = attend(self.attention, q, k, v)
        return self.w_o(output)


def attend(variant, q, k, v):
    """Attention by one of ATTENTION_VARIANTS. q, k, v: (..., n, d). Returns output (..., n, d).

    "naive": naive_attention; "blockwise": helpers.attention.blockwise_attention (blocks of 128 keys);
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


class RecurrentLayer(nn.Module):
    """A GRU over the sequence, one step per position: x (B, n, d_model) -> outputs (B, n, d_model)."""

    def __init__(self, d_model):
        super().__init__()
        self.d_model = require_int("d_model", d_model, minimum=1)
        self.gru = nn.GRU(d_model, d_model, batch_first=True)

    def forward(self, x):
        _check_sequence(x, self.d_model)
        output, _ = self.gru(x)
        return output


class ConvLayer(nn.Module):
    """A Conv1d over the sequence, kernel k, padded to keep n: x (B, n, d_model) -> (B, n, d_model)."""

    def __init__(self, d_model, kernel_size=3):
        super().__init__()
        self.d_model = require_int("d_model", d_model, minimum=1)
        kernel_size = require_int("kernel_size", kernel_size, minimum=1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (so padding keeps the length), got {kernel_size}")
        self.conv = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2)

    def forward(self, x):
        _check_sequence(x, self.d_model)
        return self.conv(x.transpose(1, 2)).transpose(1, 2)


def _check_sequence(x, d_model):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a float tensor (B, n, d_model), got {type(x).__name__}")
    if x.ndim != 3 or x.shape[-1] != d_model:
        raise ValueError(f"x must have shape (B, n, d_model={d_model}), got {tuple(x.shape)}")


def make_layer(kind, d_model, kernel_size=3, seed=0):
    """A seeded layer of one of LAYER_KINDS ("attention", "gru", "conv") in eval mode."""
    if kind not in LAYER_KINDS:
        raise ValueError(f"kind must be one of {LAYER_KINDS}, got {kind!r}")
    seed = require_int("seed", seed, minimum=0)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if kind == "attention":
            layer = SelfAttentionLayer(d_model)
        elif kind == "gru":
            layer = RecurrentLayer(d_model)
        else:
            layer = ConvLayer(d_model, kernel_size)
    return layer.eval()


def _sequence(n, d_model, seed=0):
    return torch.randn(1, n, d_model, generator=torch.Generator().manual_seed(seed))  # (1, n, d_model)


# --------------------------------------------------------------------------- theory


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


# --------------------------------------------------------------------------- fits


def _positive_series(name, values):
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"{name} must be a list of at least 2 numbers, got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"{name} must be finite and > 0 (log-log axes), got {values.tolist()}")
    return values


def fit_power_law(x, y, min_x=None):
    """Least-squares line through (log x, log y): y ≈ coefficient · x**slope.

    x, y: equal-length lists of positive numbers; min_x: fit only the points with x >= min_x.
    Returns {"slope", "coefficient", "points"} (points: how many were fitted).
    """
    x, y = _positive_series("x", x), _positive_series("y", y)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    keep = x >= min_x if min_x is not None else np.ones(len(x), dtype=bool)
    if keep.sum() < 2:
        raise ValueError(f"fewer than 2 points with x >= {min_x}")
    slope, intercept = np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)
    return {"slope": float(slope), "coefficient": float(np.exp(intercept)), "points": int(keep.sum())}


def crossover_between(ns, cost_a, cost_b):
    """The two measured sizes between which cost_a reaches cost_b: (n_below, n_reached).

    ns: increasing sizes; cost_a, cost_b: costs at those sizes. cost_a < cost_b at n_below and
    cost_a >= cost_b at n_reached, the first size where it is. (None, ns[0]) if a already costs at least
    b at the first size; None if it never does within ns. Only the grid is claimed: where exactly between
    two sizes two timings meet moves from run to run and from machine to machine.
    """
    ns = _positive_series("ns", ns)
    a, b = _positive_series("cost_a", cost_a), _positive_series("cost_b", cost_b)
    if not len(ns) == len(a) == len(b):
        raise ValueError(f"ns, cost_a and cost_b must have one value per size, got {len(ns)}, {len(a)}, {len(b)}")
    reached = np.flatnonzero(a >= b)
    if len(reached) == 0:
        return None
    i = int(reached[0])
    return (None if i == 0 else int(ns[i - 1]), int(ns[i]))


def between_text(interval, ns):
    """A crossover_between result in words: "between n = 2048 and 4096", "below n = 64", "beyond n = 4096"."""
    if interval is None:
        return f"beyond n = {int(ns[-1])}"
    below, reached = interval
    return f"below n = {reached}" if below is None else f"between n = {below} and {reached}"


# --------------------------------------------------------------------------- experiments


def _progress(total, description, show):
    if not show:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=False)


def _sizes(name, values):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list of ints, got {type(values).__name__} {values!r}")
    values = [require_int(f"each of {name}", value, minimum=1) for value in values]
    if not values:
        raise ValueError(f"{name} is empty")
    if values != sorted(set(values)):
        raise ValueError(f"{name} must be increasing without repeats, got {values}")
    return values


MIN_ROUND_SECONDS = 0.005  # a timing shorter than this repeats the call within the round and divides


def interleaved_timings(runs, repeats=5, bar=None):
    """Median seconds per call of each function in `runs` ({key: fn}), on one thread, under no_grad.

    Interleaved: round after round over every function, so a burst of load elsewhere touches them
    alike. Round 0 warms up and picks how many calls make one timing (enough for MIN_ROUND_SECONDS,
    as timeit does for short calls). Returns {key: median seconds per call}.
    """
    repeats = require_int("repeats", repeats, minimum=1)
    timings = {key: [] for key in runs}
    number = {}
    with one_thread(), torch.no_grad():
        for round_ in range(repeats + 1):
            for key, fn in runs.items():
                calls = number.get(key, 1)
                start = time.perf_counter()
                for _ in range(calls):
                    fn()
                elapsed = time.perf_counter() - start
                if round_ == 0:
                    number[key] = max(1, math.ceil(MIN_ROUND_SECONDS / max(elapsed, 1e-9)))
                else:
                    timings[key].append(elapsed / calls)
                if bar is not None:
                    bar.update()
    return {key: statistics.median(values) for key, values in timings.items()}


def measure_layers(ns, d_models, kinds=LAYER_KINDS, repeats=5, memory=True, progress=False, seed=0):
    """Time (and peak memory) of each layer kind's forward pass for every n and d_model, on one thread.

    ns, d_models: increasing lists of ints; x is one sequence (1, n, d_model). Times: interleaved_timings.
    Returns {"n": ns, "d_model": d_models, "seconds": {kind: {str(d): [per n]}},
    "peak_bytes": same shape (OpMeter's count; only if memory)}.
    """
    ns, d_models = _sizes("ns", ns), _sizes("d_models", d_models)
    for kind in kinds:
        if kind not in LAYER_KINDS:
            raise ValueError(f"each kind must be one of {LAYER_KINDS}, got {kind!r}")
    repeats = require_int("repeats", repeats, minimum=1)
    layers = {(kind, d): make_layer(kind, d, seed=seed) for kind in kinds for d in d_models}
    inputs = {(d, n): _sequence(n, d, seed) for d in d_models for n in ns}
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
    ns = _sizes("ns", ns)
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
    ns = _sizes("ns", ns)
    d = require_int("d_model", d_model, minimum=1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        step_loop = _StepLoop(d).eval()
    gru, attention = make_layer("gru", d), make_layer("attention", d)
    xs = {n: _sequence(n, d) for n in ns}
    shapes = {"1x4096": _sequence(4096, d), "64x64": torch.randn(64, 64, d, generator=torch.Generator().manual_seed(1))}
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


def measure_fresh_memory(ns, d_k=64, repeats=5, progress=False):
    """Naive attention with its two n×n matrices freshly allocated on every call, against written into reused buffers.

    The same arithmetic either way; the difference is what getting fresh memory costs (from the operating system,
    page by page, for large blocks). One thread, interleaved repeats. Returns {"n", "d_k", "fresh": [s per n],
    "reused": [s per n]}.
    """
    ns = _sizes("ns", ns)
    d_k = require_int("d_k", d_k, minimum=1)
    generator = torch.Generator().manual_seed(0)
    runs = {}
    for n in ns:
        q, k, v = (torch.randn(n, d_k, generator=generator) for _ in range(3))
        scores, weights, output = torch.empty(n, n), torch.empty(n, n), torch.empty(n, d_k)

        def reused(q=q, k=k, v=v, scores=scores, weights=weights, output=output):
            torch.matmul(q * (1.0 / math.sqrt(q.shape[-1])), k.T, out=scores)
            torch.softmax(scores, dim=-1, out=weights)
            return torch.matmul(weights, v, out=output)

        runs["fresh", n] = functools.partial(naive_attention, q, k, v)
        runs["reused", n] = reused
    with _progress(len(runs) * (require_int("repeats", repeats, minimum=1) + 1), "measuring memory", progress) as bar:
        timings = interleaved_timings(runs, repeats, bar)
    return {"n": ns, "d_k": d_k, **{way: [timings[way, n] for n in ns] for way in ("fresh", "reused")}}


def gradient_reach(kind, n=32, d_model=8, kernel_size=3):
    """How many input positions one layer's last output depends on (its gradient is not zero there).

    kind: one of LAYER_KINDS. attention and gru: all n; conv: kernel_size // 2 + 1 (itself and the
    positions before it that the kernel covers). Measured with autograd on a seeded layer.
    """
    layer = make_layer(kind, d_model, kernel_size)
    x = _sequence(require_int("n", n, minimum=2), d_model).requires_grad_(True)
    layer(x)[0, -1].sum().backward()
    return int((x.grad[0].abs().sum(dim=-1) > 0).sum())


def conv_layers_to_connect(n, kernel_size=3, d_model=4):
    """How many stacked Conv1d layers it takes until the first token reaches the last output.

    Measured: one seeded layer, bias set to zero, applied again and again (a stack sharing its weights) to a
    sequence that is zero except its first token; the first token has reached position t once the output there
    is not exactly zero.
    (Comparing two runs instead would lose the change in rounding: it shrinks at every layer.)
    Each centred layer reaches k // 2 positions further, so theory says ceil((n − 1) / (k // 2)) layers: O(n / k).
    """
    n = require_int("n", n, minimum=2)
    kernel_size = require_int("kernel_size", kernel_size, minimum=3)
    h = torch.zeros(1, n, d_model)
    h[0, 0] = 1.0  # only the first token is not zero
    layer = make_layer("conv", d_model, kernel_size)
    with torch.no_grad():
        layer.conv.bias.zero_()
        for depth in range(1, n + 1):
            h = layer(h)
            if h[0, -1].abs().sum() > 0:
                return depth
    return None


# --------------------------------------------------------------------------- the data file


def _l3_cache():
    """The CPU's last-level cache as the OS reports it (Linux), e.g. "32768K", or None."""
    try:
        return Path("/sys/devices/system/cpu/cpu0/cache/index3/size").read_text().strip()
    except OSError:
        return None


def _machine(threads):
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "l3_cache": _l3_cache(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": threads,
        "load_average_1_5_15_min_before": [round(x, 2) for x in load] if load else None,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


LAYER_NS = [64, 128, 256, 512, 1024, 2048, 4096]
LAYER_D_MODELS = [32, 64, 128, 256, 512]
VARIANT_NS = [256, 512, 1024, 2048, 4096, 8192]
SEQUENTIAL_NS = [64, 256, 1024, 4096]
QUICK_NS = [64, 256, 1024, 2048]
QUICK_VARIANT_N = 2048
CONV_KERNEL_SIZES = (3, 7, 15)
FRESH_MEMORY_NS = [1024, 2048, 4096]


def remeasure(path=DATA_PATH, quick=False, repeats=None, progress=True, cross_check=True):
    """Run lesson 07's experiments and write the results as JSON to `path` (None: do not write). Returns them.

    quick: d_model 64 with n from 64 to 2048, and the attention variants at n = 2048, 3 repeats, no
    memory: a few seconds, for the notebook's re-measure cell. The full grid takes a few minutes.
    cross_check: also record torch's allocator peak (torch.profiler) beside OpMeter's count for a few
    settings (full grid only).
    """
    repeats = repeats or (3 if quick else 7)
    data = {
        "about": "lesson 07: seconds are medians of interleaved repeats on one thread; bytes are OpMeter's peak",
        "machine": _machine(threads=1),
        "seed": 0,
        "repeats": repeats,
    }
    if quick:
        data["layers"] = measure_layers(QUICK_NS, [64], repeats=repeats, memory=False, progress=progress)
        data["attention_variants"] = measure_attention_variants(
            [QUICK_VARIANT_N], repeats=repeats, memory=False, progress=progress
        )
    else:
        data["layers"] = measure_layers(LAYER_NS, LAYER_D_MODELS, repeats=repeats, progress=progress)
        data["attention_variants"] = measure_attention_variants(VARIANT_NS, repeats=repeats, progress=progress)
        data["sequential"] = measure_sequential(SEQUENTIAL_NS, repeats=repeats, progress=progress)
        data["fresh_memory"] = measure_fresh_memory(FRESH_MEMORY_NS, repeats=repeats, progress=progress)
        if cross_check:
            data["allocator_cross_check"] = _allocator_cross_check()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    data["machine"]["load_average_1_5_15_min_after"] = [round(x, 2) for x in load] if load else None
    if path is not None:
        Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return data


def _allocator_cross_check(ns=(1024, 4096), d=64):
    """OpMeter's count against torch's allocator (profiler) for the attention variants and the layers."""
    generator = torch.Generator().manual_seed(0)
    runs = {}
    for n in ns:
        qkv = [torch.randn(1, 1, n, d, generator=generator) for _ in range(3)]
        runs |= {(variant, n): functools.partial(attend, variant, *qkv) for variant in ATTENTION_VARIANTS}
        runs |= {(kind, n): functools.partial(make_layer(kind, d), _sequence(n, d)) for kind in LAYER_KINDS}
    names = list(ATTENTION_VARIANTS) + list(LAYER_KINDS)
    x = _sequence(ns[0], d)
    kernels = {k: functools.partial(make_layer("conv", d, kernel_size=k), x) for k in CONV_KERNEL_SIZES}
    return {
        "n": list(ns),
        "d": d,
        "opmeter_bytes": {name: [peak_memory(runs[name, n]) for n in ns] for name in names},
        "allocator_bytes": {name: [allocator_peak_bytes(runs[name, n]) for n in ns] for name in names},
        "conv_kernel_sizes": {
            "n": ns[0],
            "kernel_size": list(CONV_KERNEL_SIZES),
            "opmeter_bytes": [peak_memory(fn) for fn in kernels.values()],
            "allocator_bytes": [allocator_peak_bytes(fn) for fn in kernels.values()],
        },
    }


def load_measurements(path=DATA_PATH):
    """The measurements written by `remeasure`, as a dict (see the file's "machine" entry for where and when)."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no measurements at {path}: run helpers.complexity.remeasure() to make them")
    data = json.loads(path.read_text(encoding="utf-8"))
    if "layers" not in data:
        raise ValueError(f"{path} holds no 'layers' measurements: run remeasure() again")
    return data


def layer_series(layers, quantity, kind, d_model):
    """One measured series from measure_layers' result: quantity "seconds" or "peak_bytes" against n."""
    if quantity not in ("seconds", "peak_bytes"):
        raise ValueError(f"quantity must be 'seconds' or 'peak_bytes', got {quantity!r}")
    table = layers[quantity]
    if kind not in table:
        raise ValueError(f"no {quantity} for {kind!r}; measured: {sorted(table)}")
    if str(d_model) not in table[kind]:
        raise ValueError(f"no {quantity} for d_model={d_model}; measured: {sorted(table[kind], key=int)}")
    return table[kind][str(d_model)]


# --------------------------------------------------------------------------- a cost model, fitted


# Each layer's time as a sum of terms from the theory (plus a constant: the call's fixed overhead).
COST_TERMS = {
    "attention": ("n·d²", "n²·d", "n²", "1"),  # projections, the two n×n products, the softmax's n² exps
    "gru": ("n·d²", "n·d", "n", "1"),  # the gates' products, their element-wise work, a fixed cost per step
    "conv": ("n·d²", "n·d", "1"),
}


def _term_values(term, n, d):
    n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
    return {"n·d²": n * d * d, "n²·d": n * n * d, "n²": n * n, "n·d": n * d, "n": n, "1": np.ones_like(n * d)}[term]


class CostModel:
    """time(kind, n, d) = Σ coefficient · term(n, d), with the terms of COST_TERMS[kind] and fitted coefficients."""

    def __init__(self, coefficients):
        self.coefficients = coefficients  # {kind: {term: seconds per unit}}

    def predict(self, kind, n, d_model):
        """Predicted seconds for one layer kind at n and d_model (numbers or arrays)."""
        if kind not in self.coefficients:
            raise ValueError(f"kind must be one of {sorted(self.coefficients)}, got {kind!r}")
        return sum(c * _term_values(term, n, d_model) for term, c in self.coefficients[kind].items())


def fit_cost_model(layers):
    """Fit a CostModel to measure_layers' seconds: non-negative coefficients, least squares in relative error.

    For each kind, every subset of its terms is fitted and the best fit with no negative coefficient kept
    (a negative cost would mean the model is fitting noise).
    """
    ns, d_models = layers["n"], layers["d_model"]
    grid_n, grid_d = np.meshgrid(np.asarray(ns, dtype=float), np.asarray(d_models, dtype=float))
    coefficients = {}
    for kind, terms in COST_TERMS.items():
        if kind not in layers["seconds"]:
            continue
        seconds = np.array([layer_series(layers, "seconds", kind, d) for d in d_models])  # (len(d), len(n))
        y = seconds.ravel()
        columns = np.stack([_term_values(term, grid_n, grid_d).ravel() for term in terms], axis=1) / y[:, None]
        best = None
        for mask in range(1, 2 ** len(terms)):
            chosen = [i for i in range(len(terms)) if mask >> i & 1]
            solution, *_ = np.linalg.lstsq(columns[:, chosen], np.ones_like(y), rcond=None)
            if np.any(solution < 0):
                continue
            error = float(np.sum((columns[:, chosen] @ solution - 1) ** 2))
            if best is None or error < best[0]:
                best = (error, {terms[i]: float(c) for i, c in zip(chosen, solution, strict=True)})
        coefficients[kind] = best[1]
    return CostModel(coefficients)


# --------------------------------------------------------------------------- the study notes' memory curve


def notes_memory_curve(ns):
    """n² · log n, the study notes' claimed memory of self-attention (natural log, as their np.log)."""
    ns = _positive_series("ns", ns)
    return ns**2 * np.log(ns)


# --------------------------------------------------------------------------- figures


def plot_loglog(ax, x, series, theory=None, fit_from=None, xlabel="sequence length n", ylabel="", title=""):
    """Measured series on log-log axes (markers), each with its fitted power law (a line) in the legend.

    series: {name: values per x}; names from STYLES get their colour, marker and line style.
    theory: {name: theoretical slope} shown beside the fitted one; fit_from: fit only x >= fit_from.
    title: if empty, "<ylabel> against <xlabel>, log-log" (a figure always has a title). Returns ax.
    """
    x = _positive_series("x", x)
    for name, values in series.items():
        style = STYLES.get(name, {"color": "#000000", "marker": "x", "linestyle": "-"})
        fit = fit_power_law(x, values, min_x=fit_from)
        label = f"{LABELS.get(name, name)}: slope {fit['slope']:.2f}"
        if theory and name in theory:
            label += f" (theory {theory[name]})"
        ax.plot(x, values, linestyle="none", marker=style["marker"], color=style["color"], markersize=6)
        fitted_x = x[x >= fit_from] if fit_from is not None else x
        fitted = fit["coefficient"] * fitted_x ** fit["slope"]
        ax.plot(fitted_x, fitted, label=label, color=style["color"], linestyle=style["linestyle"],
                marker=style["marker"], markevery=[0], markersize=6)  # fmt: skip
    _size_axis(ax, x)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{ylabel or 'measured value'} against {xlabel}, log-log")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def _size_axis(ax, sizes):
    """A log2 x axis labelled with the sizes themselves (64, 128, …) rather than 2⁶, 2⁷, …"""
    sizes = np.asarray(sizes, dtype=float)
    ax.set_xscale("log", base=2)
    shown = sizes if len(sizes) <= 7 else sizes[::2]
    ax.set_xticks(shown, labels=[f"{size:g}" for size in shown])
    ax.minorticks_off()


def plot_memory_claim(ax, ns, measured_bytes, normalise_at=1024):
    """The study notes' n²·log n curve and the measured memory, both scaled to 1 at n = normalise_at.

    Log-log axes, so a power law is a straight line; each legend entry gives the fitted slope. Returns ax.
    """
    ns = _positive_series("ns", ns)
    measured = _positive_series("measured_bytes", measured_bytes)
    if normalise_at not in ns:
        raise ValueError(f"normalise_at={normalise_at} must be one of the sizes {ns.astype(int).tolist()}")
    at = int(np.flatnonzero(ns == normalise_at)[0])
    notes = notes_memory_curve(ns)
    for values, name, style in (
        (notes / notes[at], "notes' n² log n", {"color": "#d55e00", "marker": "s", "linestyle": "--"}),
        (measured / measured[at], "measured", {"color": "#0072b2", "marker": "o", "linestyle": "-"}),
        ((ns / normalise_at) ** 2, "n² exactly", {"color": "#7f7f7f", "marker": "", "linestyle": ":"}),
    ):
        slope = fit_power_law(ns, values)["slope"]
        ax.plot(ns, values, label=f"{name}: slope {slope:.2f}", **style)
    _size_axis(ax, ns)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel(f"memory / memory at n={normalise_at}")
    ax.set_title(f"Scaled to 1 at n = {normalise_at}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="x-small", loc="upper left")
    return ax


def plot_bytes_per_n2(ax, ns, measured_bytes, normalise_at=1024):
    """Memory divided by n²: flat if memory ∝ n², rising like log n if it were n²·log n. Returns ax."""
    ns = _positive_series("ns", ns)
    measured = _positive_series("measured_bytes", measured_bytes)
    if normalise_at not in ns:
        raise ValueError(f"normalise_at={normalise_at} must be one of the sizes {ns.astype(int).tolist()}")
    at = int(np.flatnonzero(ns == normalise_at)[0])
    per_n2 = measured / ns**2
    notes = notes_memory_curve(ns) / ns**2 * per_n2[at] / math.log(normalise_at)  # same value at normalise_at
    ax.plot(ns, per_n2, color="#0072b2", marker="o", linestyle="-", label="measured bytes / n²")
    ax.plot(ns, notes, color="#d55e00", marker="s", linestyle="--", label="if it were n² log n (scaled)")
    _size_axis(ax, ns)
    ax.set_ylim(0, None)
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("bytes per n²")
    ax.set_title("Memory / n²: is there a log n factor?")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_notes_curve(ax):
    """The study notes' figure as they drew it: n² · log n for n = 1 … 100 on linear axes. Returns ax."""
    n = np.arange(1, 101)
    ax.plot(n, n**2 * np.log(n), color="#d55e00", linestyle="--", label="Memory Complexity O(n^2 log(n))")
    ax.set_xlabel("Sequence Length n")
    ax.set_ylabel("Memory Complexity")
    ax.set_title("The study notes' plot, redrawn")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_crossover(ax, layers, d_model):
    """Self-attention's and the GRU's measured time against n at one d_model, with the FLOP crossover n = d
    marked, and the measured crossover shaded between the two measured sizes it lies between. Returns ax."""
    ns = np.asarray(layers["n"], dtype=float)
    attention = layer_series(layers, "seconds", "attention", d_model)
    gru = layer_series(layers, "seconds", "gru", d_model)
    for kind, values in (("attention", attention), ("gru", gru)):
        style = STYLES[kind]
        ax.plot(ns, values, label=LABELS[kind], color=style["color"], marker=style["marker"],
                linestyle=style["linestyle"])  # fmt: skip
    ax.axvline(d_model, color="#7f7f7f", linestyle=":", linewidth=1.5, label=f"FLOPs equal: n = d = {d_model}")
    measured = crossover_between(ns, attention, gru)
    if measured is not None and measured[0] is not None:
        ax.axvspan(*measured, color="#7f7f7f", alpha=0.25, label=f"times equal {between_text(measured, ns)}")
    _size_axis(ax, ns)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("forward time (s), one thread")
    ax.set_title(f"d = {d_model}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def fit_memory_terms(layers, kind, terms=("n²", "n·d"), min_n=None):
    """Least-squares bytes ≈ Σ coefficient · term(n, d) over the measured (n, d) of one layer kind.

    layers: measure_layers' result with peak_bytes; terms from "n²", "n·d", "n", "d", "1", "n²·d", "n·d²";
    min_n: fit only n >= min_n. Returns {"coefficients": {term: bytes per unit},
    "max_relative_error": the largest |fit − measured| / measured among the fitted points}.
    """
    for term in terms:
        if term not in ("n²", "n·d", "n", "d", "1", "n²·d", "n·d²"):
            raise ValueError(f"unknown term {term!r}")
    ns, d_models = layers["n"], layers["d_model"]
    grid_n, grid_d = np.meshgrid(np.asarray(ns, dtype=float), np.asarray(d_models, dtype=float))
    measured = np.array([layer_series(layers, "peak_bytes", kind, d) for d in d_models], dtype=float).ravel()
    keep = grid_n.ravel() >= (min_n or 0)
    if not keep.any():
        raise ValueError(f"no measured n >= {min_n}")
    measured = measured[keep]
    columns = np.stack([_memory_term(term, grid_n, grid_d).ravel()[keep] for term in terms], axis=1)
    solution, *_ = np.linalg.lstsq(columns, measured, rcond=None)
    error = np.max(np.abs(columns @ solution - measured) / measured)
    return {"coefficients": dict(zip(terms, solution.tolist(), strict=True)), "max_relative_error": float(error)}


def _memory_term(term, n, d):
    if term == "d":
        return d * np.ones_like(n)
    if term == "n²·d":
        return n * n * d
    return _term_values(term, n, d)


# --------------------------------------------------------------------------- summaries the lesson prints

PRODUCT_NAMES = ("q, k, v projections", "scores q·kᵀ", "weights·v", "output projection")
TABLE_1_N = {"attention": "2 (n²·d)", "gru": "1 (n·d²)", "conv": "1 (k·n·d²)"}
TABLE_1_D = {"attention": "1 (n²·d)", "gru": "2 (n·d²)", "conv": "2 (k·n·d²)"}


def attention_product_flops(n, d_model):
    """{product name: FLOPs} of the matrix products a self-attention layer runs, as OpMeter counts them.

    Names from PRODUCT_NAMES, in the order the layer runs them (see SelfAttentionLayer).
    """
    layer, x = make_layer("attention", d_model), _sequence(require_int("n", n, minimum=1), d_model)
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


def operation_counts(ns, d_model=8):
    """{"gru": [operations per n], "attention": [...]}: what each layer runs, counted by OpMeter."""
    ns = _sizes("ns", ns)
    counts = {}
    for kind in ("gru", "attention"):
        layer = make_layer(kind, d_model)
        counts[kind] = [count_ops(functools.partial(layer, _sequence(n, d_model)))[0] for n in ns]
    return counts


# --------------------------------------------------------------------------- verdicts: the numbers in words


def error_bound(difference, dtype=None):
    """A float difference as the digits any CPU agrees on: "< 1e-6" in float32, "< 1e-12" in float64.

    difference: a tensor of differences (its largest |value| is taken and its dtype picks the bound), or a
    number with dtype given. Below FLOAT_ERROR_BOUNDS[dtype] the difference is rounding, and its own digits
    depend on the CPU's kernels, so only the bound is shown; otherwise the number and "more than rounding".
    """
    if isinstance(difference, torch.Tensor):
        dtype = dtype or difference.dtype
        difference = difference.abs().max().item() if difference.numel() else 0.0
    if dtype not in FLOAT_ERROR_BOUNDS:
        raise ValueError(f"dtype must be one of {list(FLOAT_ERROR_BOUNDS)}, got {dtype}")
    bound = FLOAT_ERROR_BOUNDS[dtype]
    shown = _power_of_ten(bound)
    value = float(difference)
    if value < bound:
        return f"< {shown}"
    return f"{value:.1e} (not below {shown}: more than rounding)"


def _power_of_ten(value):
    """1e-06 as "1e-6"."""
    return f"1e{round(math.log10(value))}"


def compare_times(seconds, other, margin=TIME_MARGIN):
    """ "below", "above" or "level with": `seconds` against `other`, level while their ratio is within 1 + margin."""
    seconds, other = _positive_series("times", [seconds, other])
    ratio = seconds / other
    if ratio > 1 + margin:
        return "above"
    if ratio < 1 / (1 + margin):
        return "below"
    return "level with"


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
        lines.append(
            f"n = {causes['n']}, d = {d_model}: the GRU takes {causes['gru'] * 1000:.0f} ms; the n×n step alone"
        )
        for way in ("fresh", "reused"):
            what = "fresh matrices" if way == "fresh" else "reused buffers"
            lines.append(f"  with {what}: {causes[way] * 1000:.0f} ms, {causes[way + '_vs_gru']} the GRU")
        lines.append(f"(above or below: more than {TIME_MARGIN:.0%} apart; level otherwise)")
    return lines


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


def _attention_memory_claim(layers):
    exact = fit_memory_terms(layers, "attention", terms=("n²", "n·d"), min_n=256)
    n2d = fit_memory_terms(layers, "attention", terms=("n²·d",), min_n=256)
    formula = " + ".join(f"{value:.2f}·{term}" for term, value in exact["coefficients"].items())
    numbers = (
        f"peak bytes = {formula} (largest error {exact['max_relative_error']:.1%}); n²·d alone misses by up to "
        f"{n2d['max_relative_error']:.0%}: the n×n matrices do not grow with d"
    )
    holds = n2d["max_relative_error"] <= MEMORY_FIT_TOLERANCE
    return "Memory: self-attention O(n²·d)", _verdict([holds]), numbers


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


def _parallel_claim(ns=(16, 64, 256)):
    counts = operation_counts(list(ns))
    constant = len(set(counts["attention"])) == 1
    steps = zip(itertools.pairwise(ns), itertools.pairwise(counts["gru"]), strict=True)
    per_step = [(b - a) / (m - n) for (n, m), (a, b) in steps]
    sequential = len(set(per_step)) == 1 and per_step[0] > 0
    numbers = (
        f"self-attention runs {', '.join(map(str, counts['attention']))} operations at n = "
        f"{', '.join(map(str, ns))}; the GRU {', '.join(map(str, counts['gru']))}: {per_step[0]:.0f} more per step"
    )
    return "Attention is parallel, the RNN sequential", _verdict([constant, sequential]), numbers


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


def claims_table(measurements):
    """Lesson 07's verdict table in Markdown: each claim, its verdict and the numbers it rests on.

    Every number and verdict is computed: from the cached measurements, and from counts made now (operations,
    gradients, one blockwise attention), with the thresholds SLOPE_MATCH, MEMORY_FIT_TOLERANCE and
    FLOAT_ERROR_BOUNDS, which the table's last line states. A verdict: yes, partly or no.
    """
    layers, variants = measurements["layers"], measurements["attention_variants"]
    rows = [
        _time_claim(layers, by_n_at=(64, 512), by_d_at=1024),
        _weights_values_claim(),
        _cheaper_claim(layers),
        _attention_memory_claim(layers),
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
        f"Thresholds: a fitted slope matches an exponent within {SLOPE_MATCH}; a memory formula fits when its "
        f"largest error is at most {MEMORY_FIT_TOLERANCE:.0%}; a float32 difference below "
        f"{_power_of_ten(FLOAT_ERROR_BOUNDS[torch.float32])} is rounding."
    )
    return "\n".join(lines)
