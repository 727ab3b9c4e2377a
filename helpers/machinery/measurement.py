"""Measure what code costs: the memory its tensors hold at once, the operations and FLOPs it runs, its time.

    OpMeter()                  `with OpMeter() as meter:` watches every operation torch runs inside the block:
                               meter.peak_bytes, meter.ops, meter.flops, meter.log
    peak_memory(fn)            peak bytes held at once by the tensors `fn()` creates (OpMeter, under no_grad)
    count_ops(fn)              (operations, multiply-add FLOPs) that `fn()` runs (OpMeter)
    allocator_peak_bytes(fn)   torch's CPU allocator peak during `fn()`, fused kernels' scratch included
    counted_flops(module, x)   the FLOPs of `module(x)` by PyTorch's own formulas, as FlopCounterMode counts them
    time_call(fn, repeats, warmup)   median wall-clock seconds of `fn()` over `repeats` runs, under no_grad
    median_call_seconds(calls)  median wall-clock seconds of a sequence of different calls, each run once
                               (tools/bench.py: a widget's latency over its control changes)
    interleaved_timings(runs, repeats, bar)   median seconds per call of each {key: fn}, round after round, on
                               one CPU thread, under no_grad

fn: a function taking no arguments, e.g. functools.partial(layer, x) with x (B, n, d_model). Memory is counted,
not estimated: see OpMeter for what it sees and what it cannot. Fits to the measured series: power_laws.
"""

import math
import statistics
import time
import weakref

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from helpers.library.checks import require_float_tensor, require_int
from helpers.machinery.threads import one_thread

__all__ = [
    "OpMeter",
    "peak_memory",
    "count_ops",
    "allocator_peak_bytes",
    "counted_flops",
    "time_call",
    "median_call_seconds",
    "interleaved_timings",
]


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


class _PyTorchFlopCount(TorchDispatchMode):
    """Adds up PyTorch's own FLOP formulas (torch.utils.flop_counter.flop_registry, the ones FlopCounterMode
    applies) for every operation run inside the block: meter.flops."""

    @classmethod
    def _should_skip_dynamo(cls):
        return False  # as OpMeter: FlopCounterMode's own mode imports torch._dynamo on first use (about 1 s)

    def __init__(self):
        super().__init__()
        from torch.utils.flop_counter import flop_registry

        self.registry, self.flops = flop_registry, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = self.registry.get(func.overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **kwargs, out_val=out)
        return out


def counted_flops(module, x):
    """The floating-point operations PyTorch counts while `module(x)` runs (matrix products only).

    PyTorch's own formulas (torch.utils.flop_counter's registry, what FlopCounterMode applies), added up over
    the operations that run; the same total as FlopCounterMode's (the tests compare them), without the
    import of torch._dynamo that FlopCounterMode's first use costs. Returns an int.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    require_float_tensor("x", x)
    with torch.no_grad(), _PyTorchFlopCount() as counter:
        module(x)
    return int(counter.flops)


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


def median_call_seconds(calls):
    """Median wall-clock seconds of `calls` (functions taking no arguments), each run once, in order.

    For calls that differ from each other and cannot be repeated alike, such as the successive control changes
    of a widget. `calls` may be a generator: each function is taken from it just before it runs, untimed, so
    the generator can decide from the state the last call left. Grad mode and threads are left as they are.
    """
    timings = []
    for fn in calls:
        _require_callable(fn)
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    if not timings:
        raise ValueError("calls is empty: give at least one function to time")
    return statistics.median(timings)


MIN_ROUND_SECONDS = 0.005  # a timing shorter than this repeats the call within the round and divides


def interleaved_timings(runs, repeats=5, bar=None):
    """Median seconds per call of each function in `runs` ({key: fn}), on one thread, under no_grad.

    Interleaved: round after round over every function, so a burst of load elsewhere touches them
    alike. Round 0 warms up and picks how many calls make one timing (enough for MIN_ROUND_SECONDS,
    as timeit does for short calls). bar: anything with .update() (a tqdm bar), called after each timing, or
    None. Returns {key: median seconds per call}.
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
