"""04_masking's figure, drawn on a given Axes; no plt.show(), no global figure state:
plot_influence(influence, tokens, ax, title, vmax)   causal_leakage.influence_matrix (n, n) as a heatmap
                                                     (rows: output t, columns: changed token s), exact
                                                     zeros grey; returns ax
"""

import matplotlib
import numpy as np
import torch

from helpers.machinery.plotting import MASKED_COLOR

__all__ = [
    "plot_influence",
]


def plot_influence(influence, tokens, ax, title="max |change of output[t]| when token s changes", vmax=None):
    """influence_matrix as a heatmap (rows: output t, columns: changed token s); exact zeros drawn grey.

    vmax: the top of the colour scale (give two maps the same one to compare them). Returns ax;
    the heatmap is ax.images[-1], its data a masked array whose masked cells are the exact zeros.
    """
    values = influence.detach().cpu().numpy() if isinstance(influence, torch.Tensor) else np.asarray(influence)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or len(tokens) != values.shape[0]:
        raise ValueError(f"influence must be (n, n) with n = len(tokens) = {len(tokens)}, got {values.shape}")
    n = values.shape[0]
    cmap = matplotlib.colormaps["cividis"].with_extremes(bad=MASKED_COLOR)
    shown = np.ma.masked_array(values, mask=values == 0)
    image = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
    labels = [f"{i} {token}" for i, token in enumerate(tokens)]
    ax.set_xticks(range(n), labels=labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels=labels, fontsize=8)
    ax.set_xlabel("token s that is changed")
    ax.set_ylabel("output t")
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="max |change|")
    return ax
