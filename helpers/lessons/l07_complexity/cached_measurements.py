"""Lesson 07's data file, notebooks/07_complexity_measurements.json: written by remeasure, read by the lesson.

    DATA_PATH                  the cached file, beside the notebook
    remeasure(path, quick, repeats, progress, cross_check)   run the experiments, write them as JSON, return them
    load_measurements(path)    the cached measurements as a dict (its "machine" entry says where and when)
    layer_series(layers, quantity, kind, d_model)   one measured series against n: "seconds" or "peak_bytes"

The grids: LAYER_NS × LAYER_D_MODELS for the layers, VARIANT_NS for the attention variants, SEQUENTIAL_NS,
FRESH_MEMORY_NS; quick: QUICK_NS at d_model 64 and the variants at QUICK_VARIANT_N, without memory.
"""

import datetime
import functools
import json
import os
import platform
from pathlib import Path

import torch

from helpers.lessons.l07_complexity.attention_variants import ATTENTION_VARIANTS, attend
from helpers.lessons.l07_complexity.layer_kinds import LAYER_KINDS, make_layer, seeded_sequence
from helpers.lessons.l07_complexity.measurement_runs import (
    measure_attention_variants,
    measure_fresh_memory,
    measure_layers,
    measure_sequential,
)
from helpers.machinery.measurement import allocator_peak_bytes, peak_memory

__all__ = ["DATA_PATH", "remeasure", "load_measurements", "layer_series"]

DATA_PATH = Path(__file__).resolve().parents[3] / "notebooks" / "07_complexity_measurements.json"
LAYER_NS = [64, 128, 256, 512, 1024, 2048, 4096]
LAYER_D_MODELS = [32, 64, 128, 256, 512]
VARIANT_NS = [256, 512, 1024, 2048, 4096, 8192]
SEQUENTIAL_NS = [64, 256, 1024, 4096]
QUICK_NS = [64, 256, 1024, 2048]
QUICK_VARIANT_N = 2048
CONV_KERNEL_SIZES = (3, 7, 15)
FRESH_MEMORY_NS = [1024, 2048, 4096]


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
        runs |= {(kind, n): functools.partial(make_layer(kind, d), seeded_sequence(n, d)) for kind in LAYER_KINDS}
    names = list(ATTENTION_VARIANTS) + list(LAYER_KINDS)
    x = seeded_sequence(ns[0], d)
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
        raise ValueError(
            f"no measurements at {path}: run "
            "helpers.lessons.l07_complexity.cached_measurements.remeasure() to make them"
        )
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
