"""Lesson 02's experiments: why attention divides the scores q·kᵀ by √d_k.

Each experiment draws random q and k, measures something, and returns plain numbers;
each figure function draws one of those measurements on a given Axes and returns it.

    dot_product_variance   Var(q·k) for q, k with unit-variance entries: ≈ d_k
    variance_sweep         that variance for many d_k, scaled and unscaled
    compute_scores         q·kᵀ·scale, batched, default scale 1/√d_k
    entropy                −Σ p log p of attention weights (0 for one-hot, log n for uniform)
    softmax_jacobian       diag(p) − p·pᵀ, the derivative of softmax
    score_gradient         ∂loss/∂scores by autograd, for a small attention-then-MSE loss
    saturation_sweep       entropy, max weight and gradient norm against d_k, scaled and unscaled
    projection_score_variance   Var(q·k) when q, k come from nn.Linear layers at initialisation
"""

import math

import torch
from matplotlib.ticker import FuncFormatter
from torch import nn

from helpers.library.attention import softmax
from helpers.library.checks import require_finite, require_float_tensor, require_int, require_number
from helpers.machinery.plotting import log10_y_axis, power_of_ten_label

__all__ = [
    "sample_dot_products",
    "dot_product_variance",
    "variance_sweep",
    "compute_scores",
    "entropy",
    "softmax_jacobian",
    "score_gradient",
    "saturation_sweep",
    "projection_score_variance",
    "plot_variance_vs_dk",
    "plot_saturation_vs_dk",
    "plot_gradient_vs_dk",
]

DISTRIBUTIONS = ("normal", "uniform")
SATURATION_STATS = ("entropy", "max_weight")
DEAD_GRADIENT = 1e-3  # a row whose ‖∂loss/∂scores‖ is below this barely learns


# --------------------------------------------------------------------------- input checks


def _require_generator(generator):
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def _require_d_ks(d_ks):
    if isinstance(d_ks, (str, bytes)) or not hasattr(d_ks, "__iter__"):
        raise TypeError(f"d_ks must be a list of ints, got {type(d_ks).__name__} {d_ks!r}")
    d_ks = [require_int("each d_k", d_k, minimum=1) for d_k in d_ks]
    if not d_ks:
        raise ValueError("d_ks is empty: give at least one d_k")
    return d_ks


def _require_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


# --------------------------------------------------------------------------- variance of q·k


def sample_dot_products(d_k, n_samples, generator=None, distribution="normal"):
    """n_samples independent dot products q·k, q and k with independent zero-mean unit-variance entries.

    distribution: "normal" (entries ~ N(0, 1)) or "uniform" (entries ~ U(−√3, √3), also variance 1).
    Returns a float32 tensor (n_samples,).
    """
    d_k = require_int("d_k", d_k, minimum=1)
    n_samples = require_int("n_samples", n_samples, minimum=1)
    _require_generator(generator)
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    if distribution == "normal":
        q = torch.randn(n_samples, d_k, generator=generator)  # (n_samples, d_k)
        k = torch.randn(n_samples, d_k, generator=generator)
    else:
        half_width = math.sqrt(3.0)  # U(−a, a) has variance a²/3
        q = (torch.rand(n_samples, d_k, generator=generator) * 2 - 1) * half_width
        k = (torch.rand(n_samples, d_k, generator=generator) * 2 - 1) * half_width
    return (q * k).sum(dim=-1)  # (n_samples,)


def dot_product_variance(d_k, n_samples=10_000, generator=None, scaled=False, distribution="normal"):
    """The measured variance of q·k (or of q·k/√d_k if scaled) over n_samples random pairs.

    q, k: (d_k,) with independent zero-mean unit-variance entries (see sample_dot_products).
    Theory: Var(q·k) = d_k, Var(q·k/√d_k) = 1. Returns a Python float (the unbiased estimate).
    """
    n_samples = require_int("n_samples", n_samples, minimum=2)
    _require_bool("scaled", scaled)
    dots = sample_dot_products(d_k, n_samples, generator, distribution)
    if scaled:
        dots = dots / math.sqrt(d_k)
    return float(dots.var())


def variance_sweep(d_ks, n_samples=10_000, seed=0):
    """Var(q·k) and Var(q·k/√d_k) measured for each d_k on n_samples pairs of q and k.

    One draw serves every d_k: n_samples pairs of vectors with max(d_ks) entries ~ N(0, 1), of which
    each d_k uses the first d_k entries (as if the vectors grew wider). Each point is still a
    measurement on n_samples pairs; it halves the random numbers drawn, which is most of the time.
    Returns {"d_k": [ints], "unscaled": [floats], "scaled": [floats], "n_samples": int}.
    Both variances come from the same samples: the scaled one is the unscaled one over d_k.
    """
    d_ks = _require_d_ks(d_ks)
    n_samples = require_int("n_samples", n_samples, minimum=2)
    generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
    q = torch.randn(n_samples, max(d_ks), generator=generator)  # (n_samples, max d_k)
    k = torch.randn(n_samples, max(d_ks), generator=generator)
    prefix_sums = (q * k).cumsum(dim=-1)  # (n_samples, max d_k): column j holds Σ_{i<=j} q_i·k_i
    dots = prefix_sums[:, [d_k - 1 for d_k in d_ks]]  # (n_samples, len(d_ks)): q·k over the first d_k entries
    root_d_ks = torch.tensor(d_ks, dtype=dots.dtype).sqrt()  # (len(d_ks),)
    unscaled, scaled = dots.var(dim=0), (dots / root_d_ks).var(dim=0)  # (len(d_ks),) each, one op for all d_k
    return {"d_k": d_ks, "unscaled": unscaled.tolist(), "scaled": scaled.tolist(), "n_samples": n_samples}


# --------------------------------------------------------------------------- scores, entropy, gradients


def _broadcastable(shape_a, shape_b):
    """True if two shapes broadcast (checked by hand: torch.broadcast_shapes imports sympy, ~1 s, on first use)."""
    return all(a == b or a == 1 or b == 1 for a, b in zip(reversed(shape_a), reversed(shape_b), strict=False))


def compute_scores(q, k, scale=None):
    """scores = q·kᵀ·scale, the attention scores before softmax.

    q: (..., n_q, d_k)   k: (..., n_k, d_k); batch dims broadcast.
    scale: a number >= 0; default 1/√d_k. Returns scores (..., n_q, n_k).
    """
    for name, tensor in (("q", q), ("k", k)):
        require_float_tensor(name, tensor)
        if tensor.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., n, d_k), got shape {tuple(tensor.shape)}")
    shapes = f"q {tuple(q.shape)}, k {tuple(k.shape)}"
    if q.dtype != k.dtype:
        raise TypeError(f"q and k must share a dtype, got {q.dtype} and {k.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dimension d_k: {shapes}")
    if q.shape[-1] == 0:
        raise ValueError(f"d_k must be >= 1: {shapes}")
    if not _broadcastable(q.shape[:-2], k.shape[:-2]):
        raise ValueError(f"the batch dimensions (all but the last two) do not broadcast: {shapes}")
    d_k = q.shape[-1]
    scale = 1.0 / math.sqrt(d_k) if scale is None else require_number("scale", scale, non_negative=True)
    return (q @ k.transpose(-2, -1)) * scale  # (..., n_q, n_k)


def _require_weights(weights, dim=-1):
    require_float_tensor("weights", weights)
    if weights.ndim == 0 or weights.shape[dim] == 0:
        raise ValueError(f"weights must have at least one entry along dim {dim}, got shape {tuple(weights.shape)}")
    require_finite("weights", weights)
    if (weights < 0).any():
        raise ValueError(f"weights (shape {tuple(weights.shape)}) has negative entries; they must be probabilities")
    sums = weights.sum(dim=dim)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-3):
        worst = float((sums - 1).abs().max())
        raise ValueError(
            f"each row of weights (shape {tuple(weights.shape)}) must sum to 1; one is off by {worst:.3g}. "
            "Pass softmax(scores), not the scores"
        )


def entropy(weights, dim=-1):
    """Entropy −Σ p·log p (in nats) of each row of attention weights, with 0·log 0 = 0.

    weights: (..., n) rows of probabilities (>= 0, summing to 1 along `dim`).
    Returns (...): log n for a uniform row, 0 for a one-hot row.
    """
    _require_weights(weights, dim)
    return 0.0 - torch.special.xlogy(weights, weights).sum(dim=dim)  # 0.0 − x, not −x: a one-hot row gives 0, not −0


def softmax_jacobian(weights):
    """The Jacobian of softmax at the point where it outputs `weights`: diag(p) − p·pᵀ.

    weights: (..., n) rows of probabilities p = softmax(scores).
    Returns (..., n, n): entry [i, j] = ∂p_i/∂score_j = p_i·(δ_ij − p_j).
    When one p_i is ≈ 1 and the others ≈ 0, every entry is ≈ 0: no gradient gets through.
    """
    _require_weights(weights)
    return torch.diag_embed(weights) - weights.unsqueeze(-1) * weights.unsqueeze(-2)


def score_gradient(scores, v, target):
    """∂loss/∂scores by autograd, for loss = ½·Σ_rows ‖softmax(scores)·v − target‖².

    scores: (..., n)   v: (..., n, d_v)   target: (..., d_v); the batch dims (...) broadcast.
    Each row of scores attends over n keys with values v and is pulled towards its own target.
    Returns (weights, grad), both shaped like scores; the rows do not interact, so grad[r] is row r's gradient.
    """
    for name, tensor in (("scores", scores), ("v", v), ("target", target)):
        require_float_tensor(name, tensor)
    shapes = f"scores {tuple(scores.shape)}, v {tuple(v.shape)}, target {tuple(target.shape)}"
    expected = f"expected scores (..., n), v (..., n, d_v), target (..., d_v) with broadcasting batch dims: {shapes}"
    if scores.ndim < 1 or v.ndim < 2 or target.ndim < 1:
        raise ValueError(expected)
    if v.shape[-2] != scores.shape[-1] or target.shape[-1] != v.shape[-1]:
        raise ValueError(expected)
    batch = (scores.shape[:-1], v.shape[:-2], target.shape[:-1])
    if not all(_broadcastable(a, b) for a in batch for b in batch):
        raise ValueError(expected)
    for name, tensor in (("scores", scores), ("v", v), ("target", target)):
        require_finite(name, tensor)
    with torch.enable_grad():
        scores = scores.detach().clone().requires_grad_(True)
        weights = softmax(scores, dim=-1)  # (..., n)
        output = (weights.unsqueeze(-2) @ v).squeeze(-2)  # (..., d_v)
        loss = 0.5 * ((output - target) ** 2).sum()
        (grad,) = torch.autograd.grad(loss, scores)
    return weights.detach(), grad


def saturation_sweep(d_ks, n_rows=1000, n=16, d_v=8, seed=0):
    """How softmax and its gradient behave as d_k grows, with and without dividing by √d_k.

    n_rows independent rows, each a query q against n keys, all entries ~ N(0, 1), with values
    v (n, d_v) and a target (d_v,) ~ N(0, 1) for score_gradient's loss. The vectors are drawn once with
    max(d_ks) entries; each d_k uses the first d_k (the same rows, grown wider). The same q·kᵀ are used
    unscaled and divided by √d_k.
    Returns {"d_k", "n", "n_rows", "unscaled": stats, "scaled": stats}, where stats maps
    entropy, max_weight, grad_mean (means over rows), grad_median, grad_q25, grad_q75 (quantiles of
    the per-row ‖∂loss/∂scores‖) and dead_fraction (share of rows with that norm < 1e-3) to lists over d_k.
    """
    d_ks = _require_d_ks(d_ks)
    n_rows = require_int("n_rows", n_rows, minimum=1)
    n = require_int("n", n, minimum=2)
    d_v = require_int("d_v", d_v, minimum=1)
    generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
    q = torch.randn(n_rows, 1, max(d_ks), generator=generator)  # (n_rows, 1, max d_k)
    k = torch.randn(n_rows, n, max(d_ks), generator=generator)  # (n_rows, n, max d_k)
    v = torch.randn(n_rows, n, d_v, generator=generator)  # (n_rows, n, d_v)
    target = torch.randn(n_rows, d_v, generator=generator)  # (n_rows, d_v)
    # Every d_k at once (a few large tensor operations are much faster than many small ones):
    raw = torch.stack([compute_scores(q[..., :d_k], k[..., :d_k], scale=1.0).squeeze(-2) for d_k in d_ks])
    # raw: (len(d_ks), n_rows, n), the unscaled q·kᵀ of each row at each d_k
    root_d_ks = torch.tensor(d_ks, dtype=raw.dtype).sqrt()[:, None, None]  # (len(d_ks), 1, 1)
    result = {"d_k": d_ks, "n": n, "n_rows": n_rows}
    for name, scores in (("unscaled", raw), ("scaled", raw / root_d_ks)):
        weights, grad = score_gradient(scores, v, target)  # (len(d_ks), n_rows, n) each; v, target broadcast
        norms = grad.norm(dim=-1).double()  # (len(d_ks), n_rows)
        q25, median, q75 = torch.quantile(norms, torch.tensor([0.25, 0.5, 0.75], dtype=norms.dtype), dim=-1)
        result[name] = {
            "entropy": entropy(weights).mean(dim=-1).tolist(),
            "max_weight": weights.amax(dim=-1).mean(dim=-1).tolist(),
            "grad_mean": norms.mean(dim=-1).tolist(),
            "grad_median": median.tolist(),
            "grad_q25": q25.tolist(),
            "grad_q75": q75.tolist(),
            "dead_fraction": (norms < DEAD_GRADIENT).double().mean(dim=-1).tolist(),
        }
    return result


# --------------------------------------------------------------------------- q and k from nn.Linear


def projection_score_variance(d_model, d_ks, n_samples=4000, n_draws=4, seed=0):
    """Var(q·k) when q = x·W_q + b_q and k = x·W_k + b_k come from freshly initialised nn.Linear layers.

    x: (n_samples, d_model) with entries ~ N(0, 1). For each d_k, n_draws pairs of
    nn.Linear(d_model, d_k) (PyTorch's default init: weights and biases ~ U(−1/√d_model, 1/√d_model)).
    Returns {"d_k", "var_x", "var_q", "var_k", "unscaled", "scaled"}: var_x a float, the others lists
    over d_k, each averaged over the draws. The layers are built inside torch.random.fork_rng, so the
    global random state is left as it was.
    """
    d_model = require_int("d_model", d_model, minimum=1)
    d_ks = _require_d_ks(d_ks)
    n_samples = require_int("n_samples", n_samples, minimum=2)
    n_draws = require_int("n_draws", n_draws, minimum=1)
    seed = require_int("seed", seed, minimum=0)
    x = torch.randn(n_samples, d_model, generator=torch.Generator().manual_seed(seed))  # (n_samples, d_model)
    result = {"d_k": d_ks, "var_x": float(x.var()), "var_q": [], "var_k": [], "unscaled": [], "scaled": []}
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed + 1)
        for d_k in d_ks:
            var_q = var_k = unscaled = 0.0
            for _ in range(n_draws):
                w_q, w_k = nn.Linear(d_model, d_k), nn.Linear(d_model, d_k)
                q, k = w_q(x), w_k(x)  # (n_samples, d_k) each
                dots = (q * k).sum(dim=-1)  # (n_samples,): one score per input row
                var_q, var_k, unscaled = var_q + float(q.var()), var_k + float(k.var()), unscaled + float(dots.var())
            result["var_q"].append(var_q / n_draws)
            result["var_k"].append(var_k / n_draws)
            result["unscaled"].append(unscaled / n_draws)
            result["scaled"].append(unscaled / n_draws / d_k)
    return result


# --------------------------------------------------------------------------- figures

# Two line styles that differ in colour (viridis ends), marker and dash, so they read in grey too.
UNSCALED_STYLE = {"color": "#440154", "marker": "s", "linestyle": "-", "label": "unscaled: q·k"}
SCALED_STYLE = {"color": "#21918c", "marker": "o", "linestyle": "--", "label": "scaled: q·k / √d_k"}
REFERENCE_STYLE = {"color": "#7f7f7f", "linestyle": ":", "linewidth": 1.5}


def _require_sweep(sweep, keys):
    if not isinstance(sweep, dict) or not all(key in sweep for key in keys):
        found = sorted(sweep) if isinstance(sweep, dict) else type(sweep).__name__
        raise TypeError(f"expected the dict returned by the sweep, with keys {list(keys)}; got {found}")


def _log2_x_axis(ax, d_ks):
    ax.set_xscale("log", base=2)
    ax.set_xticks(d_ks, labels=[str(d) for d in d_ks])
    ax.minorticks_off()
    ax.set_xlabel("d_k (log scale)")


def plot_variance_vs_dk(sweep, ax):
    """Measured Var(q·k) and Var(q·k/√d_k) against d_k on log-log axes, with y = d_k and y = 1.

    sweep: the dict from variance_sweep. Returns ax.
    """
    _require_sweep(sweep, ("d_k", "unscaled", "scaled"))
    d_ks = sweep["d_k"]
    ax.plot(d_ks, d_ks, **REFERENCE_STYLE, label="theory: y = d_k")
    ax.plot(d_ks, [1.0] * len(d_ks), **{**REFERENCE_STYLE, "linestyle": "-."}, label="theory: y = 1")
    ax.plot(d_ks, sweep["unscaled"], **{**UNSCALED_STYLE, "linestyle": "none", "label": "measured Var(q·k)"})
    ax.plot(d_ks, sweep["scaled"], **{**SCALED_STYLE, "linestyle": "none", "label": "measured Var(q·k / √d_k)"})
    _log2_x_axis(ax, d_ks)
    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, position: f"{value:g}"))
    ax.set_ylabel("variance (log scale)")
    ax.set_title(f"Variance of the scores, {sweep.get('n_samples', '?'):,} samples per d_k")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_saturation_vs_dk(sweep, ax, stat="entropy"):
    """Mean entropy (stat="entropy") or mean largest weight (stat="max_weight") of softmax rows against d_k.

    sweep: the dict from saturation_sweep. A dotted line marks the uniform row's value
    (log n or 1/n); one-hot rows have entropy 0 and largest weight 1. Returns ax.
    """
    _require_sweep(sweep, ("d_k", "n", "unscaled", "scaled"))
    if stat not in SATURATION_STATS:
        raise ValueError(f"stat must be one of {SATURATION_STATS}, got {stat!r}")
    d_ks, n = sweep["d_k"], sweep["n"]
    uniform = math.log(n) if stat == "entropy" else 1.0 / n
    ax.plot(d_ks, [uniform] * len(d_ks), **REFERENCE_STYLE, label=f"uniform row ({n} keys)")
    ax.plot(d_ks, sweep["unscaled"][stat], **UNSCALED_STYLE)
    ax.plot(d_ks, sweep["scaled"][stat], **SCALED_STYLE)
    _log2_x_axis(ax, d_ks)
    if stat == "entropy":
        ax.set_ylim(0.0, math.log(n) * 1.1)
        ax.set_ylabel("mean entropy (nats)")
        ax.set_title("Entropy of the weights")
    else:
        ax.set_ylim(0.0, 1.05)
        ax.set_ylabel("mean largest weight")
        ax.set_title("Largest weight in a row")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_gradient_vs_dk(sweep, ax):
    """Median ‖∂loss/∂scores‖ over the rows against d_k (log-log), with the middle half of rows shaded.

    sweep: the dict from saturation_sweep. Returns ax.
    """
    _require_sweep(sweep, ("d_k", "unscaled", "scaled"))
    d_ks = sweep["d_k"]
    for name, style, hatch in (("unscaled", UNSCALED_STYLE, "//"), ("scaled", SCALED_STYLE, "\\\\")):
        stats = sweep[name]
        ax.fill_between(
            d_ks, stats["grad_q25"], stats["grad_q75"], color=style["color"], alpha=0.15, hatch=hatch, linewidth=0
        )
        ax.plot(d_ks, stats["grad_median"], **{**style, "label": style["label"] + " (median, middle half)"})
    ax.axhline(DEAD_GRADIENT, **REFERENCE_STYLE, label=f"{power_of_ten_label(DEAD_GRADIENT)}: barely learns")
    _log2_x_axis(ax, d_ks)
    log10_y_axis(ax)
    ax.set_ylabel("‖∂loss/∂scores‖ (log scale)")
    ax.set_title("Gradient reaching the scores")
    ax.legend(loc="lower left", fontsize="small")
    return ax
