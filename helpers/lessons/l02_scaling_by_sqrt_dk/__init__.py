"""Lesson 02_scaling_by_sqrt_dk (notebooks/02_scaling_by_sqrt_dk.ipynb): why scores are divided by √d_k.

    variance    the variance of q·k against d_k, softmax saturation and the gradient that vanishes, figures
    explorer    d_k and scaling on a slider: the scores' spread, the weights, the gradient
    exercises   the scaling exercises

The notebook imports every name from here; the modules import each other by their full module paths.
"""

from helpers.lessons.l02_scaling_by_sqrt_dk.exercises import (
    check_dot_product_variance,
    check_scaled_scores,
    check_softmax_entropy,
    check_std_growth,
    check_unit_variance_scale,
)
from helpers.lessons.l02_scaling_by_sqrt_dk.explorer import (
    D_KS,
    ScalingExplorer,
    readout_html,
    scaling_explorer,
    scaling_inputs,
    scaling_state,
)
from helpers.lessons.l02_scaling_by_sqrt_dk.variance import (
    compute_scores,
    dot_product_variance,
    entropy,
    plot_gradient_vs_dk,
    plot_saturation_vs_dk,
    plot_variance_vs_dk,
    projection_score_variance,
    sample_dot_products,
    saturation_sweep,
    score_gradient,
    softmax_jacobian,
    variance_sweep,
)

__all__ = [
    "check_std_growth",
    "check_dot_product_variance",
    "check_scaled_scores",
    "check_softmax_entropy",
    "check_unit_variance_scale",
    "D_KS",
    "scaling_inputs",
    "scaling_state",
    "readout_html",
    "ScalingExplorer",
    "scaling_explorer",
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
