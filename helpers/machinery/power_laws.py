"""Power laws fitted to measured series, and where one measured series reaches another.

    require_positive_series(name, values)   values as a 1-D float array of at least 2 finite numbers > 0
    fit_power_law(x, y, min_x)              least-squares line through (log x, log y): y ≈ coefficient · x**slope
    crossover_between(ns, cost_a, cost_b)   the two measured sizes between which cost_a reaches cost_b

x, ns: sizes (n, d, …), lists of positive numbers; y, cost_a, cost_b: one measured value per size.
"""

import numpy as np

__all__ = ["require_positive_series", "fit_power_law", "crossover_between"]


def require_positive_series(name, values):
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
    x, y = require_positive_series("x", x), require_positive_series("y", y)
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
    ns = require_positive_series("ns", ns)
    a, b = require_positive_series("cost_a", cost_a), require_positive_series("cost_b", cost_b)
    if not len(ns) == len(a) == len(b):
        raise ValueError(f"ns, cost_a and cost_b must have one value per size, got {len(ns)}, {len(a)}, {len(b)}")
    reached = np.flatnonzero(a >= b)
    if len(reached) == 0:
        return None
    i = int(reached[0])
    return (None if i == 0 else int(ns[i - 1]), int(ns[i]))
