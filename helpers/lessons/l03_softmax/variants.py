"""Softmax, the ways to get it wrong, and what it is compared with (lesson 03).

Stable softmax itself is `helpers.library.attention.softmax`; this module holds the rest:
    naive_softmax        exp(x) / sum(exp(x)), deliberately unguarded: overflows and gives NaN
    sum_normalize        x / sum(x), deliberately unguarded: negative weights, division by zero
    relu_normalize       relu(x) / sum(relu(x)), deliberately unguarded: 0/0 when no score is > 0
    hard_attention       one-hot at the largest score (argmax): no gradient
    sparsemax            Martins & Astudillo (2016): a projection on the simplex, with exact zeros
    logsumexp, log_softmax   stable, checked against torch.logsumexp and torch.log_softmax
    softmax_jacobian     diag(p) - p·pᵀ
    entropy              -Σ p·log p, in nats
    exp_overflow_threshold, exp_underflow_threshold   where exp stops being finite / non-zero
    temperature_sweep    largest weight and entropy of softmax(x / T) over many T
and this lesson's figures, each drawing on a given Axes and returning it.

Every function works along `dim` (default: the last) of a float tensor of any shape x (..., n).
"""

import math

import numpy as np
import torch

from helpers.library.attention import softmax
from helpers.library.checks import normalize_dim, require_float_tensor, require_number

__all__ = [
    "naive_softmax",
    "sum_normalize",
    "relu_normalize",
    "hard_attention",
    "sparsemax",
    "logsumexp",
    "log_softmax",
    "softmax_jacobian",
    "entropy",
    "exp_overflow_threshold",
    "exp_underflow_threshold",
    "temperature_sweep",
    "plot_weights_by_method",
    "plot_temperature_curves",
]


def _check_slices(name, x, dim):
    """Validate a float tensor with a non-empty `dim`; return `dim` as a non-negative int."""
    require_float_tensor(name, x)
    if x.ndim == 0:
        raise ValueError(f"{name} needs at least one dimension, got a 0-d tensor")
    dim = normalize_dim(dim, x.ndim)
    if x.shape[dim] == 0:
        raise ValueError(f"{name} has an empty dimension {dim}: shape {tuple(x.shape)}")
    return dim


def _check_logits(name, x, dim):
    """As _check_slices, and reject NaN and +inf (-inf is allowed: it means "masked")."""
    dim = _check_slices(name, x, dim)
    if torch.isnan(x).any():
        raise ValueError(f"{name} (shape {tuple(x.shape)}) contains NaN")
    if torch.isposinf(x).any():
        raise ValueError(f"{name} (shape {tuple(x.shape)}) contains +inf; only -inf (masked) is allowed")
    return dim


# --------------------------------------------------------------------------- deliberately naive


def naive_softmax(x, dim=-1):
    """exp(x) / sum(exp(x)) along `dim`, with no protection at all. x: (..., n) → (..., n).

    Deliberately naive, to show what goes wrong: it returns NaN when a logit is so large
    that exp overflows to inf (inf / inf), zeros when only the sum overflows, and NaN when
    every logit is so negative that exp underflows to 0 (0 / 0). Use helpers.library.attention.softmax.
    """
    dim = _check_slices("x", x, dim)
    exp = torch.exp(x)
    return exp / exp.sum(dim=dim, keepdim=True)


def sum_normalize(x, dim=-1):
    """x / sum(x) along `dim`: the first idea for turning scores into weights. x: (..., n) → (..., n).

    Deliberately naive: negative scores give negative weights (and others above 1), and a
    slice whose sum is 0 gives ±inf or NaN. The point of the function is to show this.
    """
    dim = _check_slices("x", x, dim)
    return x / x.sum(dim=dim, keepdim=True)


def relu_normalize(x, dim=-1):
    """relu(x) / sum(relu(x)) along `dim`: clip negative scores to 0, then normalise. x: (..., n) → (..., n).

    Deliberately naive: a slice with no positive score gives 0 / 0 = NaN; that is what it shows.
    Every clipped score gets weight 0 and gradient 0.
    """
    dim = _check_slices("x", x, dim)
    clipped = torch.relu(x)
    return clipped / clipped.sum(dim=dim, keepdim=True)


# --------------------------------------------------------------------------- alternatives


def hard_attention(x, dim=-1):
    """One-hot weights at the largest score along `dim` (argmax; the first one on a tie).

    x: (..., n) → (..., n) of 0.0 and 1.0, same dtype as x. The result does not depend
    differentiably on x: a small change of the scores changes nothing, so the gradient is 0.
    """
    dim = _check_logits("x", x, dim)
    index = x.detach().argmax(dim=dim, keepdim=True)
    return torch.zeros_like(x, requires_grad=False).scatter(dim, index, 1.0)


def sparsemax(x, dim=-1):
    """Sparsemax (Martins & Astudillo, 2016): the point of the simplex closest to x.

    x: (..., n) → (..., n), each slice >= 0 summing to 1, with exact zeros for low scores.
    p = max(x - τ, 0) with the threshold τ chosen so that the slice sums to 1.
    -inf entries get 0; a slice that is entirely -inf gives all zeros (like helpers.library.attention.softmax).
    Differentiable almost everywhere (it is piecewise linear); autograd works through it.
    """
    dim = _check_logits("x", x, dim)
    z = x.movedim(dim, -1)  # (..., n)
    n = z.shape[-1]
    all_masked = torch.isneginf(z).all(dim=-1, keepdim=True)  # (..., 1)
    z = torch.where(all_masked, torch.zeros_like(z), z)
    z_sorted = torch.sort(z, dim=-1, descending=True).values
    k = torch.arange(1, n + 1, dtype=z.dtype, device=z.device)
    cumulative = z_sorted.cumsum(dim=-1)
    # The support is the largest k with 1 + k·z_(k) > z_(1) + ... + z_(k); it is a prefix of the sorted scores.
    in_support = 1 + k * z_sorted > cumulative
    support_size = in_support.sum(dim=-1, keepdim=True)  # (..., 1), >= 1
    tau = (cumulative.gather(-1, support_size - 1) - 1) / support_size.to(z.dtype)
    p = torch.clamp(z - tau, min=0)
    p = torch.where(all_masked, torch.zeros_like(p), p)
    return p.movedim(-1, dim)


# --------------------------------------------------------------------------- stable log-space pieces


def logsumexp(x, dim=-1, keepdim=False):
    """log(sum(exp(x))) along `dim`, computed as m + log(sum(exp(x - m))) with m the maximum.

    x: (..., n) → (...) (or (..., 1) with keepdim). -inf entries contribute nothing; a slice
    that is entirely -inf gives -inf (the log of an empty sum), as torch.logsumexp does.
    """
    dim = _check_logits("x", x, dim)
    m = x.amax(dim=dim, keepdim=True)
    m = torch.where(torch.isneginf(m), torch.zeros_like(m), m)  # an all -inf slice: shift by 0, not by -inf
    result = m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))
    return result if keepdim else result.squeeze(dim)


def log_softmax(x, dim=-1):
    """log(softmax(x)) along `dim`, computed as x - logsumexp(x): finite even where softmax underflows to 0.

    x: (..., n) → (..., n). A slice that is entirely -inf gives all -inf (log 0; torch gives NaN there).
    """
    dim = _check_logits("x", x, dim)
    lse = logsumexp(x, dim=dim, keepdim=True)
    return torch.where(torch.isneginf(lse), torch.full_like(x, -math.inf), x - lse)


# --------------------------------------------------------------------------- gradient and spread


def _check_distribution(name, p, dim, tolerance=1e-4):
    dim = _check_slices(name, p, dim)
    if not torch.isfinite(p).all():
        raise ValueError(f"{name} (shape {tuple(p.shape)}) contains NaN or an infinity")
    if (p < 0).any():
        raise ValueError(f"{name} must be >= 0 (weights), got a minimum of {p.min().item():.3g}")
    sums = p.sum(dim=dim)
    if ((sums - 1).abs() > tolerance).any():
        worst = sums.flatten()[(sums - 1).abs().flatten().argmax()].item()
        raise ValueError(f"each slice of {name} along dim {dim} must sum to 1, got a sum of {worst:.6g}")
    return dim


def softmax_jacobian(p):
    """The Jacobian of softmax at the point where it outputs p: J = diag(p) - p·pᵀ.

    p: (..., n), softmax weights (>= 0, summing to 1 along the last dim).
    Returns (..., n, n) with J[..., i, j] = ∂p_i/∂x_j = p_i·(δ_ij - p_j): symmetric, rows sum to 0.
    """
    _check_distribution("p", p, -1)
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)


def entropy(p, dim=-1):
    """-Σ p·log p along `dim`, in nats, with 0·log 0 = 0. p: (..., n) weights → (...).

    0 for a one-hot slice, log n (its maximum) for a uniform one.
    """
    dim = _check_distribution("p", p, dim)
    return 0.0 - torch.special.xlogy(p, p).sum(dim=dim)  # 0.0 - …, not -…: a one-hot row gives 0.0, not -0.0


def temperature_sweep(x, temperatures, function=softmax):
    """function(x / T) for each T: its largest weight and its entropy. x: (n,) scores.

    temperatures: a sequence of numbers > 0, length t.   function: scores (n,) -> weights (n,);
    helpers.library.attention.softmax by default, or e.g. sparsemax.
    Returns a dict of float64 tensors (t,): temperature, max_weight, entropy, and
    to_argmax = max |p - one-hot| and to_uniform = max |p - 1/n| (how far from each limit).
    """
    _check_logits("x", x, -1)
    if x.ndim != 1:
        raise ValueError(f"x must be one row of scores (n,), got shape {tuple(x.shape)}")
    if torch.isneginf(x).all():
        raise ValueError("x is entirely -inf: there is nothing to weight")
    if not callable(function):
        raise TypeError(f"function must be callable (scores -> weights), got {type(function).__name__}")
    temperatures = [require_number("temperature", t, positive=True) for t in temperatures]
    if not temperatures:
        raise ValueError("temperatures is empty: give at least one")
    x = x.double()
    one_hot = hard_attention(x)
    uniform = torch.full_like(x, 1.0 / len(x))
    rows = torch.stack([function(x / t) for t in temperatures])  # (t, n)
    return {
        "temperature": torch.tensor(temperatures, dtype=torch.float64),
        "max_weight": rows.max(dim=-1).values,
        "entropy": entropy(rows),
        "to_argmax": (rows - one_hot).abs().max(dim=-1).values,
        "to_uniform": (rows - uniform).abs().max(dim=-1).values,
    }


# --------------------------------------------------------------------------- where exp breaks


def _bisect(dtype, lo, hi, lo_is_good):
    """The last value of `dtype` between lo and hi where `lo_is_good(value)` still holds (lo good, hi bad)."""
    lo, hi = torch.tensor(lo, dtype=dtype), torch.tensor(hi, dtype=dtype)
    while True:
        mid = (lo + hi) / 2
        if mid == lo or mid == hi:  # lo and hi are neighbouring floats
            return lo.item()
        if lo_is_good(mid):
            lo = mid
        else:
            hi = mid


def _check_float_dtype(dtype):
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a torch floating dtype such as torch.float32, got {dtype!r}")


def exp_overflow_threshold(dtype=torch.float32):
    """The largest x of `dtype` with torch.exp(x) finite, found by bisection (≈ log of the largest float)."""
    _check_float_dtype(dtype)
    limit = math.log(torch.finfo(dtype).max)
    return _bisect(dtype, limit - 1, limit + 1, lambda v: bool(torch.isfinite(torch.exp(v))))


def exp_underflow_threshold(dtype=torch.float32):
    """The smallest x of `dtype` with torch.exp(x) > 0, found by bisection (below it exp gives exactly 0)."""
    _check_float_dtype(dtype)
    tiny = torch.finfo(dtype).smallest_normal
    mantissa_bits = {torch.float16: 10, torch.bfloat16: 7, torch.float32: 23, torch.float64: 52}.get(dtype, 52)
    lowest = math.log(tiny) - (mantissa_bits + 1) * math.log(2)  # subnormals reach down to tiny·2^-mantissa
    return -_bisect(dtype, -(lowest + 2), -(lowest - 2), lambda v: bool(torch.exp(-v) > 0))


# --------------------------------------------------------------------------- figures

_HATCHES = ["", "//", "..", "xx", "\\\\", "++"]


def plot_weights_by_method(tokens, methods, ax, title="The same scores, five ways to weight them"):
    """Grouped bars: for each key, the weight each method gives it.

    tokens: n labels.   methods: dict name -> weights (n,); NaN weights are left out and marked "NaN".
    Colours from cividis plus a hatch per method, so the groups read without colour. Returns ax.
    """
    if not methods:
        raise ValueError("methods is empty: give at least one name -> weights")
    import matplotlib

    n, count = len(tokens), len(methods)
    width = 0.8 / count
    colours = matplotlib.colormaps["cividis"](np.linspace(0.0, 0.9, count))
    for index, (name, weights) in enumerate(methods.items()):
        weights = torch.as_tensor(weights, dtype=torch.float64).detach().numpy()
        if weights.shape != (n,):
            raise ValueError(f"methods[{name!r}] has shape {weights.shape}, expected ({n},) for {n} tokens")
        positions = np.arange(n) - 0.4 + width * (index + 0.5)
        shown = np.where(np.isfinite(weights), weights, 0.0)
        ax.bar(
            positions,
            shown,
            width,
            label=name,
            color=colours[index],
            hatch=_HATCHES[index % len(_HATCHES)],
            edgecolor="black",
            linewidth=0.5,
        )
        for position in positions[~np.isfinite(weights)]:
            ax.text(position, 0.02, "NaN", rotation=90, ha="center", va="bottom", fontsize=7)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(range(n), labels=tokens)
    ax.set_xlabel("key")
    ax.set_ylabel("weight")
    ax.set_title(title)
    ax.legend(fontsize=8, ncols=2)
    return ax


_STYLES = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-.")]


def plot_temperature_curves(temperatures, curves, ax, ylabel, title, references=None):
    """Curves against the temperature (log x axis), each with its own marker and line style.

    temperatures: (t,).   curves: dict label -> values (t,).
    references: optional dict label -> y, drawn as grey horizontal lines with a text label. Returns ax.
    """
    import matplotlib

    temperatures = np.asarray(temperatures, dtype=float)
    colours = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.7, max(len(curves), 1)))
    for index, (label, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        if values.shape != temperatures.shape:
            raise ValueError(f"curve {label!r} has shape {values.shape}, temperatures {temperatures.shape}")
        marker, linestyle = _STYLES[index % len(_STYLES)]
        ax.plot(temperatures, values, marker=marker, linestyle=linestyle, color=colours[index], label=label)
    for label, y in (references or {}).items():
        ax.axhline(y, color="grey", linestyle=":", linewidth=1)
        ax.annotate(label, (temperatures.min(), y), xytext=(2, 3), textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    # Plain decade labels ("0.01", not mathtext 10⁻²) and no minor ticks: the same axis, drawn several times faster.
    low, high = np.log10(temperatures.min()) + 1e-6, np.log10(temperatures.max()) - 1e-6  # 0.00999… is 0.01
    decades = 10.0 ** np.arange(np.floor(low), np.ceil(high) + 1)
    ax.set_xticks(decades, labels=[f"{decade:g}" for decade in decades])
    ax.minorticks_off()
    ax.set_xlabel("temperature T (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    return ax
