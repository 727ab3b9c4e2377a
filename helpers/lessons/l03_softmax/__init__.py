"""Lesson 03_softmax (notebooks/03_softmax.ipynb): softmax, its alternatives, temperature and stability.

    variants    sum and ReLU normalisation, hard attention, sparsemax, temperature, overflow, log-sum-exp, the Jacobian
    explorer    temperature on a slider, every normalisation side by side
    exercises   check_predictions, check_softmax, check_logsumexp, check_softmax_backward, check_largest_temperature

The notebook imports every name from here; the modules import each other by their full module paths.
"""

from helpers.lessons.l03_softmax.exercises import (
    check_largest_temperature,
    check_logsumexp,
    check_predictions,
    check_softmax,
    check_softmax_backward,
)
from helpers.lessons.l03_softmax.explorer import FUNCTIONS, TemperatureExplorer, temperature_explorer, temperature_state
from helpers.lessons.l03_softmax.variants import (
    entropy,
    exp_overflow_threshold,
    exp_underflow_threshold,
    hard_attention,
    log_softmax,
    logsumexp,
    naive_softmax,
    plot_temperature_curves,
    plot_weights_by_method,
    relu_normalize,
    softmax_jacobian,
    sparsemax,
    sum_normalize,
    temperature_sweep,
)

__all__ = [
    "check_predictions",
    "check_softmax",
    "check_logsumexp",
    "check_softmax_backward",
    "check_largest_temperature",
    "FUNCTIONS",
    "temperature_state",
    "TemperatureExplorer",
    "temperature_explorer",
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
