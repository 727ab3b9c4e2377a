"""The numbers in words, and the thresholds behind every verdict word the lesson prints.

    SLOPE_MATCH, TIME_MARGIN, FRESH_COST_THRESHOLD, MEMORY_FIT_TOLERANCE, FLOAT_ERROR_BOUNDS   the thresholds
    error_bound(difference, dtype)   a float difference as the digits any CPU agrees on: "< 1e-6"
    power_of_ten(value)              1e-06 as "1e-6"
    compare_times(seconds, other, margin)   "below", "above" or "level with"
    between_text(interval, ns)       a crossover_between result in words: "between n = 2048 and 4096"

The notebook states each threshold where it decides a verdict.
"""

import math

import torch

from helpers.machinery.power_laws import require_positive_series

__all__ = [
    "SLOPE_MATCH",
    "TIME_MARGIN",
    "FRESH_COST_THRESHOLD",
    "MEMORY_FIT_TOLERANCE",
    "FLOAT_ERROR_BOUNDS",
    "error_bound",
    "power_of_ten",
    "compare_times",
    "between_text",
]

# The thresholds behind every verdict word the lesson prints (the notebook prints them where they decide).
SLOPE_MATCH = 0.5  # a fitted slope "matches" an exponent when it is within 0.5 of it (it rounds to it)
TIME_MARGIN = 0.2  # one time is "below" or "above" another only when they differ by more than 20 %; else "level"
FRESH_COST_THRESHOLD = 0.25  # fresh allocation "costs" time where fresh matrices take > 25 % longer than reused ones
MEMORY_FIT_TOLERANCE = 0.01  # a memory formula "fits" when its largest error over the measured sizes is <= 1 %
# A float difference prints as "< bound" when it is below its dtype's bound here: the digits of the difference
# itself are rounding, and they change with the CPU's kernels (3.6e-07 on one machine, 3.3e-07 on another).
FLOAT_ERROR_BOUNDS = {torch.float32: 1e-6, torch.float64: 1e-12}


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
    shown = power_of_ten(bound)
    value = float(difference)
    if value < bound:
        return f"< {shown}"
    return f"{value:.1e} (not below {shown}: more than rounding)"


def power_of_ten(value):
    """1e-06 as "1e-6"."""
    return f"1e{round(math.log10(value))}"


def compare_times(seconds, other, margin=TIME_MARGIN):
    """ "below", "above" or "level with": `seconds` against `other`, level while their ratio is within 1 + margin."""
    seconds, other = require_positive_series("times", [seconds, other])
    ratio = seconds / other
    if ratio > 1 + margin:
        return "above"
    if ratio < 1 / (1 + margin):
        return "below"
    return "level with"


def between_text(interval, ns):
    """A crossover_between result in words: "between n = 2048 and 4096", "below n = 64", "beyond n = 4096"."""
    if interval is None:
        return f"beyond n = {int(ns[-1])}"
    below, reached = interval
    return f"below n = {reached}" if below is None else f"between n = {below} and {reached}"
