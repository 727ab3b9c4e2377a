"""Formulas in the theory's terms, fitted to the cached measurements: each layer's time, and its peak bytes.

    CostModel(coefficients)    time(kind, n, d) = Σ coefficient · term(n, d); .predict(kind, n, d_model) -> seconds
    fit_cost_model(layers)     a CostModel fitted to measure_layers' seconds, with the terms of COST_TERMS[kind]
    fit_memory_terms(layers, kind, terms, min_n)   bytes ≈ Σ coefficient · term(n, d), and its largest error

layers: measure_layers' result (see cached_measurements). Terms: "n·d²", "n²·d", "n²", "n·d", "n", "d", "1".
"""

import numpy as np

from helpers.lessons.l07_complexity.cached_measurements import layer_series

__all__ = ["CostModel", "fit_cost_model", "fit_memory_terms"]


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
