"""02_scaling_by_sqrt_dk's exercises: predict the growth, measure the variance, scale, and measure entropy."""

import math

import torch

from helpers.lessons.l02_scaling_by_sqrt_dk.variance import dot_product_variance, sample_dot_products
from helpers.machinery.answers import close
from helpers.machinery.exercise_checking import call_learner, checker, error_hint, report

__all__ = [
    "check_std_growth",
    "check_dot_product_variance",
    "check_scaled_scores",
    "check_softmax_entropy",
    "check_unit_variance_scale",
]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------- exercise 1


@checker
def check_std_growth(factor):
    """Exercise 1: by what factor does the standard deviation of q·k grow when d_k goes from 64 to 1024?"""
    results = []
    is_number = _is_number(factor)
    results.append(("factor is a finite number", is_number, "write a number, for example factor = 2.0"))
    if is_number:
        hint = "the standard deviation is √(variance) = √d_k: compare √1024 with √64"
        if abs(factor - 16) < 0.5:
            hint = "16 is how much the variance grows (1024 / 64); the standard deviation is its square root"
        elif abs(factor - 1) < 0.05:
            hint = "that is the growth after dividing by √d_k; the question is about the raw q·k"
        generator = torch.Generator().manual_seed(0)
        small, large = (math.sqrt(dot_product_variance(d_k, 4000, generator)) for d_k in (64, 1024))
        results.append(
            (
                f"the factor is 4 (measured: std {small:.1f} at d_k=64, {large:.1f} at d_k=1024, "
                f"ratio {large / small:.2f})",
                abs(factor - 4) < 0.05,
                hint,
            )
        )
    return report("Exercise 1: how fast does the spread of q·k grow?", results)


# --------------------------------------------------------------------------- exercise 2


def _as_float(value):
    """A learner's variance as a float, or None if it is not a single number."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    return float(value) if _is_number(value) else None


SAMPLE_HINT = (
    "draw q and k of shape (n_samples, d_k) with torch.randn(..., generator=generator), "
    "multiply them entry by entry, sum over the last dimension (one dot product per sample), then .var()"
)


@checker
def check_dot_product_variance(fn):
    """Exercise 2: fn(d_k, n_samples, generator) measures Var(q·k) for q, k with N(0, 1) entries."""
    results = []
    value, error = call_learner(fn, 16, 1000, torch.Generator().manual_seed(0))
    if error is not None:
        results.append(("dot_product_variance(16, 1000, generator) runs", False, error_hint(error, SAMPLE_HINT)))
        return report("Exercise 2: measure Var(q·k)", results)
    results.append(
        (
            "it returns a Python float",
            isinstance(value, float),
            f"it returned {type(value).__name__}; turn a one-element tensor into a float with .item()",
        )
    )
    measured = {}
    for d_k in (1, 16, 256):
        value, error = call_learner(fn, d_k, 4000, torch.Generator().manual_seed(d_k))
        measured[d_k] = _as_float(value)
        if error is not None or measured[d_k] is None:
            shown = error or f"it returned {value!r}"
            results.append((f"the variance for d_k={d_k} is a number", False, shown))
            continue
        close = abs(measured[d_k] - d_k) <= 0.15 * d_k
        hint = SAMPLE_HINT
        if d_k > 1 and abs(measured[d_k] - 1) < 0.15:
            hint = (
                "you get about 1: that is the variance of one product q_i·k_i (or of the scaled q·k/√d_k); "
                "sum the d_k products first"
            )
        results.append((f"for d_k={d_k} it measures about {d_k} (got {measured[d_k]:.3g})", close, hint))

    def run(seed, n_samples=1000):
        value, error = call_learner(fn, 16, n_samples, torch.Generator().manual_seed(seed))
        return None if error else _as_float(value)

    first, again, other = run(3), run(3), run(4)
    results.append(
        (
            "it draws its random numbers from the generator it is given",
            first is not None and first == again and first != other,
            "pass generator=generator to every torch.randn call, so that a seeded generator gives repeatable results",
        )
    )
    results.append(
        (
            "it uses n_samples samples",
            first is not None and first != run(3, 3000),
            "draw n_samples pairs: torch.randn(n_samples, d_k, generator=generator)",
        )
    )
    return report("Exercise 2: measure Var(q·k)", results)


# --------------------------------------------------------------------------- exercise 3

TRANSPOSE_HINT = "transpose only the last two dimensions of k, k.transpose(-2, -1) (k.T reverses all of them)"
SCORE_SHAPES = [((3, 4), (5, 4)), ((2, 3, 8), (2, 6, 8)), ((2, 2, 3, 1), (2, 2, 4, 1)), ((1, 64), (7, 64))]


@checker
def check_scaled_scores(fn):
    """Exercise 3: fn(q, k) returns q·kᵀ/√d_k for q (..., n_q, d_k) and k (..., n_k, d_k)."""
    results = []
    generator = torch.Generator().manual_seed(0)
    for q_shape, k_shape in SCORE_SHAPES:
        q, k = torch.randn(q_shape, generator=generator), torch.randn(k_shape, generator=generator)
        q_before, k_before = q.clone(), k.clone()
        expected = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        raw = q @ k.transpose(-2, -1)
        got, error = call_learner(fn, q, k)
        label = f"q {q_shape}, k {k_shape} -> scores {tuple(expected.shape)}"
        if error is not None:
            results.append((label, False, error_hint(error, TRANSPOSE_HINT)))
            if error.startswith("NotImplementedError"):
                break  # the placeholder: one line says it all
            continue
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            hint = f"got {shape}; {TRANSPOSE_HINT}"
            results.append((label, False, hint))
            continue
        if close(got, expected, atol=1e-5):
            passed, hint = True, ""
        elif close(got, raw, atol=1e-5) and q.shape[-1] > 1:
            passed, hint = False, "these are the raw scores q·kᵀ: divide them by √d_k"
        elif close(got, raw / q.shape[-1], atol=1e-5):
            passed, hint = False, "you divided by d_k; divide by its square root, math.sqrt(d_k)"
        else:
            passed, hint = False, "d_k is the last dimension of q: q.shape[-1], not q.shape[0]"
        if passed and not (torch.equal(q, q_before) and torch.equal(k, k_before)):
            passed, hint = False, "your function changed q or k in place; compute a new tensor instead"
        results.append((label, passed, hint))
    return report("Exercise 3: scaled scores for batched q and k", results)


# --------------------------------------------------------------------------- exercise 4


@checker
def check_softmax_entropy(fn):
    """Exercise 4: fn(weights) returns −Σ p·log p over the last dim, 0·log 0 = 0, shape weights.shape[:-1]."""
    results = []
    generator = torch.Generator().manual_seed(0)
    batch = torch.softmax(torch.randn(2, 3, 5, generator=generator) * 2, dim=-1)
    reference = -(batch * batch.log()).sum(dim=-1)  # no zeros in this batch, so the plain formula is safe
    cases = [
        ("a uniform row of 4 weights has entropy log 4 ≈ 1.386", torch.full((4,), 0.25), math.log(4)),
        ("a one-hot row has entropy 0 (not NaN)", torch.tensor([0.0, 1.0, 0.0, 0.0]), 0.0),
        ("[0.5, 0.5, 0] has entropy log 2 ≈ 0.693 (not NaN)", torch.tensor([0.5, 0.5, 0.0]), math.log(2)),
        ("a batch (2, 3, 5) gives one entropy per row, shape (2, 3)", batch, reference),
    ]
    for description, weights, expected in cases:
        expected = torch.as_tensor(expected, dtype=weights.dtype)
        got, error = call_learner(fn, weights.clone())
        if error is not None:
            results.append((description, False, error_hint(error, "see the formula above the exercise")))
            if error.startswith("NotImplementedError"):
                break
            continue
        if not isinstance(got, torch.Tensor):
            results.append((description, False, f"return a tensor, got {type(got).__name__}"))
            continue
        if got.shape != expected.shape:
            hint = f"got shape {tuple(got.shape)}: sum over the last dimension only, .sum(dim=-1)"
            results.append((description, False, hint))
            continue
        if torch.isnan(got).any():
            hint = "0·log 0 gives NaN in floating point; use torch.special.xlogy(w, w), which takes it as 0"
            results.append((description, False, hint))
            continue
        passed = close(got.to(expected.dtype), expected, atol=1e-4)
        hint = "entropy is −Σ p·log p with the natural log (torch.log)"
        if close(got.to(expected.dtype), -expected, atol=1e-4):
            hint = "the sign is flipped: entropy is −Σ p·log p, which is >= 0"
        elif close(got.to(expected.dtype), expected / math.log(2), atol=1e-4):
            hint = "you used log base 2 (bits); the course uses the natural log (nats): torch.log"
        results.append((description, passed, hint))
    return report("Exercise 4: the entropy of attention weights", results)


# --------------------------------------------------------------------------- exercise 5

SCALE_CASES = [(64, 1.0, 1.0), (64, 1 / 3, 1 / 3), (1, 4.0, 1.0), (256, 0.5, 2.0), (16, 0.1, 0.1)]


@checker
def check_unit_variance_scale(fn):
    """Exercise 5: fn(d_k, var_q, var_k) returns the scale c with Var(c·q·k) = 1 when the entries of q and k
    are independent, zero-mean, with variances var_q and var_k: c = 1/√(d_k·var_q·var_k)."""
    results = []
    for d_k, var_q, var_k in SCALE_CASES:
        expected = 1 / math.sqrt(d_k * var_q * var_k)
        label = f"d_k={d_k}, var_q={var_q:.3g}, var_k={var_k:.3g}: scale {expected:.4g}"
        got, error = call_learner(fn, d_k, var_q, var_k)
        if error is not None:
            results.append((label, False, error_hint(error, "return a number")))
            if error.startswith("NotImplementedError"):
                break
            continue
        got = _as_float(got)
        if got is None:
            results.append((label, False, "return a single number, for example 1 / math.sqrt(d_k)"))
            continue
        passed = math.isclose(got, expected, rel_tol=1e-3)
        hint = "Var(q·k) = d_k·var_q·var_k, and a scale c multiplies a variance by c²"
        if math.isclose(got, 1 / math.sqrt(d_k), rel_tol=1e-3):
            hint = "1/√d_k is right only for unit variances; the variances of q and k multiply into Var(q·k)"
        elif math.isclose(got, expected**2, rel_tol=1e-3):
            hint = (
                "that divides the variance by Var(q·k); a scale c multiplies a variance by c², so take the square root"
            )
        results.append((label, passed, hint))
    if all(passed for _, passed, _ in results):
        # Measure it: q and k with variances 1/3 (nn.Linear at initialisation), scaled by the learner's c.
        d_k, var = 64, 1 / 3
        scale = _as_float(fn(d_k, var, var))
        dots = sample_dot_products(d_k, 20_000, torch.Generator().manual_seed(0)) * var  # entries of variance 1/3
        measured = float((dots * scale).var())
        results.append(
            (
                f"measured: q, k with entry variance 1/3 at d_k=64, times your scale {scale:.3f}: "
                f"variance {measured:.2f}",
                abs(measured - 1) < 0.1,
                "check the formula against the derivation in the lesson",
            )
        )
    return report("Exercise 5: a scale for entries that do not have unit variance", results)
