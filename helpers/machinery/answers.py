"""Is the learner's answer the expected one? The one comparison every checker uses, and what it says when not.

A learner answers with whatever Python hands them: a float32 or a float64 tensor, a numpy array or scalar, a
0-d tensor, a list, `16640.0` for a count. A checker accepts every such form of a right answer and names a
type or dtype difference as exactly that, never as "wrong numbers".

    same_values(answer, expected, scale, keep_dtype, name)   a Comparison: truthy if the answer holds the
                                 expected values (NaN and ±inf where expected, finite values within TOLERANCE)
    close(answer, expected, atol, rtol)   torch.allclose for anything a learner returns: True/False, never an
                                 error (dtypes and types converted; different shapes are not close)
    matching(answer, candidates)  the first of several (values, label) the answer holds, or None: how a checker
                                 recognises a known wrong answer and picks the hint for that mistake
    as_tensor(answer)            the answer as a tensor (from a tensor, numpy, a number or a nested list), or None
    as_count(answer)             a whole number as an int (16640, 16640.0, numpy and 0-d tensor forms), or None
    as_number(answer)            a real number as a float, or None (bools are not numbers here)
    as_bool(answer)              True / False from a bool, numpy.bool_ or a one-element bool tensor, or None
    as_int_tuple(answer)         a tuple of whole numbers from a tuple, list, torch.Size or array, or None
    describe(answer)             a short name of the answer's type, for messages ("a numpy float64", "a list")
    show(values)                 the first few numbers of a tensor, for messages

TOLERANCE: |answer − expected| <= ATOL · max(1, scale) + RTOL · |expected|, with scale the largest |expected|
(or the caller's `scale`, e.g. the inputs' size). That accepts float32 arithmetic on inputs of any size and an
answer off by about 1e-6, and rejects every misconception the checkers test, whose errors are far larger.
"""

import math
import numbers

import numpy as np
import torch

__all__ = [
    "ATOL",
    "RTOL",
    "Comparison",
    "same_values",
    "close",
    "matching",
    "as_tensor",
    "as_count",
    "as_number",
    "as_bool",
    "as_int_tuple",
    "describe",
    "show",
]

ATOL = 1e-5  # absolute, per unit of scale
RTOL = 1e-4  # relative to each expected value


class Comparison:
    """The verdict of same_values: truthy when the answer is right; `why` says what differs ("" when right)."""

    def __init__(self, ok, why=""):
        self.ok, self.why = bool(ok), why

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return f"Comparison(ok={self.ok}, why={self.why!r})"


def describe(answer):
    """A short name of the answer's type: "a torch.Tensor", "a numpy float64", "a list", "None"."""
    if answer is None:
        return "None"
    if isinstance(answer, torch.Tensor):
        return f"a {answer.dtype} tensor of shape {tuple(answer.shape)}"
    if isinstance(answer, np.ndarray):
        return f"a numpy array ({answer.dtype}) of shape {answer.shape}"
    if isinstance(answer, np.generic):
        return f"a numpy {answer.dtype}"
    name = type(answer).__name__
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"


def _from_list(items):
    converted = [as_tensor(item) for item in items]
    if any(item is None for item in converted):
        return None
    shapes = {tuple(item.shape) for item in converted}
    if len(shapes) != 1:
        return None
    dtypes = {item.dtype for item in converted}
    dtype = torch.float64 if len(dtypes) > 1 and any(d.is_floating_point for d in dtypes) else converted[0].dtype
    return torch.stack([item.to(dtype) for item in converted]) if converted else torch.zeros(0)


def as_tensor(answer):
    """The answer as a CPU tensor, detached; None if it is not numbers.

    Accepts a tensor, a numpy array or scalar, a Python number or bool, and (nested) lists or tuples of those
    with equal shapes. Python floats become float64, ints int64.
    """
    if isinstance(answer, torch.Tensor):
        if answer.is_complex() or answer.layout != torch.strided:
            return None
        return answer.detach().cpu()
    if isinstance(answer, (np.ndarray, np.generic)):
        if answer.dtype.kind not in "biuf":
            return None
        return torch.from_numpy(np.array(answer, copy=True))
    if isinstance(answer, bool):
        return torch.tensor(answer)
    if isinstance(answer, numbers.Integral):
        return torch.tensor(int(answer), dtype=torch.int64)
    if isinstance(answer, numbers.Real):
        return torch.tensor(float(answer), dtype=torch.float64)
    if isinstance(answer, (list, tuple)):
        return _from_list(answer)
    return None


def show(values, count=6):
    """The first `count` numbers of a tensor as text, e.g. "[0.25, 0.5, nan, …]"."""
    flat = values.detach().flatten()
    shown = []
    for v in flat[:count].tolist():
        shown.append(str(v) if isinstance(v, bool) else ("nan" if math.isnan(v) else f"{v:.4g}"))
    return "[" + ", ".join(shown) + (", …" if flat.numel() > count else "") + "]"


def _where(mask):
    index = tuple(int(i) for i in torch.nonzero(mask)[0])
    return index[0] if len(index) == 1 else index


def same_values(answer, expected, scale=None, keep_dtype=False, name="it"):
    """Compare an answer with the expected tensor (or number). Returns a Comparison (truthy when right).

    answer: anything a learner returns (see as_tensor).   expected: a tensor or a number.
    scale: the size of the numbers involved (default: the largest |expected|); the absolute tolerance grows
    with it.   keep_dtype: the exercise asks for the input's dtype, so another dtype fails (and says so);
    otherwise any floating dtype is accepted and the values compared in float64.
    name: how the message calls the answer ("it", "your scores").
    A bool expected needs bools (or 0/1 integers) equal everywhere; NaN and ±inf must sit where expected.
    """
    expected = as_tensor(expected)
    if expected is None:
        raise TypeError("same_values: expected must be numbers (a tensor, a number or a list)")
    got = as_tensor(answer)
    if got is None:
        return Comparison(False, f"{name} returned {describe(answer)}, not numbers (a tensor)")
    if got.shape != expected.shape:
        if expected.ndim == 0 and got.numel() == 1:
            got = got.reshape(())
        else:
            return Comparison(False, f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    if expected.dtype == torch.bool:
        if got.dtype != torch.bool and not (not got.is_floating_point() and ((got == 0) | (got == 1)).all()):
            return Comparison(False, f"{name} holds {got.dtype} values; expected True/False (a bool tensor)")
        wrong = got.bool() != expected
        if wrong.any():
            return Comparison(
                False,
                f"{name} is {show(got)} where {show(expected)} was expected (first difference at {_where(wrong)})",
            )
        return Comparison(True)
    if got.dtype == torch.bool:
        return Comparison(False, f"{name} holds True/False values; expected numbers ({expected.dtype})")
    ours, theirs = got.double(), expected.double()
    finite = torch.isfinite(theirs)
    if scale is None:
        scale = float(theirs[finite].abs().max()) if finite.any() else 1.0
    atol = ATOL * max(1.0, float(scale))
    nan_wrong = torch.isnan(ours) != torch.isnan(theirs)
    if nan_wrong.any():
        where = _where(nan_wrong)
        what = "NaN" if torch.isnan(ours).flatten()[nan_wrong.flatten()].any() else "a number"
        return Comparison(False, f"{name} has {what} at {where}: {show(got)}, expected {show(expected)}")
    inf_wrong = torch.isinf(theirs) & (ours != theirs) | (torch.isinf(ours) & ~torch.isinf(theirs))
    if inf_wrong.any():
        return Comparison(
            False, f"{name} is {show(got)}, expected {show(expected)} (infinities differ at {_where(inf_wrong)})"
        )
    both = finite & torch.isfinite(ours)
    difference = torch.where(both, (ours - theirs).abs(), torch.zeros_like(ours))
    off = difference > atol + RTOL * theirs.abs().where(both, torch.zeros_like(theirs))
    if off.any():
        largest = float(difference.max())
        return Comparison(
            False,
            f"{name} is {show(got)}, expected {show(expected)}"
            f" (first difference at {_where(off)}, largest {largest:.3g})",
        )
    if keep_dtype and got.dtype != expected.dtype:
        return Comparison(
            False,
            f"{name} has the right values but dtype {got.dtype}; the input's dtype, {expected.dtype}, was expected",
        )
    return Comparison(True)


def close(answer, expected, atol=None, rtol=None):
    """True if the answer is close to expected, as torch.allclose, for any answer; never raises.

    With neither tolerance given, same_values's (scale-aware, float32-suited). Otherwise torch.allclose's rule
    |a − e| <= atol + rtol·|e| in float64 (atol default 1e-8, rtol default 1e-5). Non-numbers, a bool against
    numbers and different shapes (no broadcasting) are not close.
    """
    if atol is None and rtol is None:
        return bool(same_values(answer, expected))
    got, want = as_tensor(answer), as_tensor(expected)
    if (
        got is None
        or want is None
        or got.shape != want.shape
        or (got.dtype == torch.bool) != (want.dtype == torch.bool)
    ):
        return False
    atol = 1e-8 if atol is None else atol
    rtol = 1e-5 if rtol is None else rtol
    return bool(torch.allclose(got.double(), want.double(), atol=atol, rtol=rtol))


def matching(answer, candidates, scale=None):
    """The label of the first (values, label) in candidates that the answer equals (same_values), else None.

    candidates: pairs of what a known wrong version computes and the hint (or name) for that mistake. A
    checker calls it after the right answer failed, to say what the learner did rather than a fixed hint.
    """
    for values, label in candidates:
        if values is not None and same_values(answer, values, scale=scale):
            return label
    return None


def as_number(answer):
    """A real number as a float: int, float, numpy number, or a one-element non-bool tensor/array. Else None."""
    if isinstance(answer, (bool, np.bool_)):
        return None
    if isinstance(answer, numbers.Real):
        return float(answer)
    if isinstance(answer, (torch.Tensor, np.ndarray)):
        values = as_tensor(answer)
        if values is None or values.numel() != 1 or values.dtype == torch.bool:
            return None
        return float(values.reshape(()))
    return None


def as_count(answer):
    """A whole number as an int: 16640, 16640.0, numpy.int64(16640), tensor(16640.), ... Else None (bools too)."""
    number = as_number(answer)
    if number is None or not math.isfinite(number) or number != int(number):
        return None
    return int(number)


def as_bool(answer):
    """True or False from a bool, a numpy.bool_, or a one-element bool tensor/array. Else None."""
    if isinstance(answer, (bool, np.bool_)):
        return bool(answer)
    if isinstance(answer, (torch.Tensor, np.ndarray)):
        values = as_tensor(answer)
        if values is not None and values.numel() == 1 and values.dtype == torch.bool:
            return bool(values.reshape(()))
    return None


def as_int_tuple(answer):
    """A tuple of whole numbers from a tuple, list, torch.Size, or a 1-D tensor/array of them. Else None."""
    if isinstance(answer, (torch.Tensor, np.ndarray)):
        values = as_tensor(answer)
        if values is None or values.ndim != 1:
            return None
        answer = values.tolist()
    if not isinstance(answer, (tuple, list)):
        return None
    counts = [as_count(item) for item in answer]
    return None if any(count is None for count in counts) else tuple(counts)
