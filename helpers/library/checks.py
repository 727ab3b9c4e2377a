"""Input checks shared by the helpers: each raises a clear TypeError or ValueError.

A learner who passes the wrong thing should read what was wrong and what was
expected, with the shapes spelled out, instead of getting a NaN three cells later.
"""

import math
import numbers

import torch


def require_tensor(name, value):
    """Raise TypeError unless `value` is a torch.Tensor."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}; "
            f"convert it with torch.as_tensor({name}, dtype=torch.float32)"
        )


def require_float_tensor(name, value):
    """Raise TypeError unless `value` is a floating-point torch.Tensor."""
    require_tensor(name, value)
    if not value.is_floating_point():
        raise TypeError(
            f"{name} must have a floating dtype (float32 or float64), got {value.dtype}; use {name}.float()"
        )


def require_finite(name, value):
    """Raise ValueError if the tensor holds a NaN or an infinity."""
    if not torch.isfinite(value).all():
        bad = "NaN" if torch.isnan(value).any() else "an infinity"
        raise ValueError(f"{name} (shape {tuple(value.shape)}) contains {bad}")


def require_int(name, value, minimum):
    """Return `value` as an int, or raise TypeError/ValueError. bool is not an int here."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def require_int_list(name, values, minimum, *, distinct=False, what="value"):
    """Return `values` as a non-empty list of ints >= minimum, or raise TypeError/ValueError.

    name: the argument's name ("seeds").   what: one element, for the messages ("seed").
    distinct=True also refuses repeats (seeds of runs that would be the same run twice).
    """
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list of ints, got {type(values).__name__} {values!r}")
    values = [require_int(f"each {what}", value, minimum=minimum) for value in values]
    if not values:
        raise ValueError(f"{name} is empty: give at least one {what}")
    if distinct and len(set(values)) != len(values):
        raise ValueError(f"{name} must differ from each other, got {values}")
    return values


def require_number(name, value, *, positive=False, non_negative=False):
    """Return `value` as a finite float, or raise TypeError/ValueError."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if non_negative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def normalize_dim(dim, ndim, name="dim"):
    """Return `dim` as a non-negative index into a tensor with `ndim` dimensions."""
    dim = require_int(name, dim, minimum=-(10**9))
    if not -ndim <= dim < ndim:
        raise ValueError(f"{name}={dim} is out of range for a tensor with {ndim} dimension(s)")
    return dim % ndim
