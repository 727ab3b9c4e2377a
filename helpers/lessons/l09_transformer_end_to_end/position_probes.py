"""Lesson 09's probes of position: self-attention is blind to order until positions are added.

    position_similarity(encoding)        (n, n) dot products between the positions' vectors
    permutation_gap(fn, x, permutation)  largest |fn(x shuffled) − fn(x) shuffled|: 0 when equivariant
    plot_encoding(encoding, ax)          heatmap: one row per position, one column per feature
    plot_similarity_by_distance(...)     dot product of positions p and p + k against k, for a few p

The encodings themselves are in the library (helpers.library.positions). Shapes: B batch, n tokens, d features.
"""

import math

import torch

from helpers.library.checks import require_float_tensor, require_int, require_tensor

__all__ = ["position_similarity", "permutation_gap", "plot_encoding", "plot_similarity_by_distance"]


def position_similarity(encoding, normalize=False):
    """Dot products between every two positions' vectors: encoding (n, d) -> (n, n).

    normalize=True divides by the norms (cosine similarity, in [-1, 1]).
    """
    require_float_tensor("encoding", encoding)
    if encoding.ndim != 2:
        raise ValueError(f"encoding must have shape (n, d_model), got {tuple(encoding.shape)}")
    vectors = encoding / encoding.norm(dim=-1, keepdim=True).clamp_min(1e-12) if normalize else encoding
    return vectors @ vectors.T


def permutation_gap(fn, x, permutation):
    """How far fn is from permutation-equivariance on x: max |fn(x[:, perm]) − fn(x)[:, perm]|.

    fn: maps (B, n, d) to (B, n, d_out), mixing the tokens along axis 1 (e.g. a self-attention layer).
    x: (B, n, d).   permutation: the n ints 0 .. n−1 in a new order (a list or an integer tensor).
    Returns a float: 0 (up to rounding, ~1e-7 in float32) if shuffling the input tokens only
    shuffles the outputs the same way; clearly above 0 if fn depends on where each token is.
    """
    require_float_tensor("x", x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (B, n, d), got {tuple(x.shape)}")
    n = x.shape[1]
    permutation = torch.as_tensor(permutation) if not isinstance(permutation, torch.Tensor) else permutation
    require_tensor("permutation", permutation)
    if permutation.is_floating_point() or permutation.dtype == torch.bool:
        raise TypeError(f"permutation must hold integers, got dtype {permutation.dtype}")
    if permutation.ndim != 1 or sorted(permutation.tolist()) != list(range(n)):
        raise ValueError(f"permutation must hold each of 0 .. {n - 1} once, got {permutation.tolist()}")
    with torch.no_grad():
        output = fn(x)
        if not isinstance(output, torch.Tensor) or output.ndim != 3 or output.shape[:2] != x.shape[:2]:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise ValueError(f"fn must return (B, n, d_out) for x of shape {tuple(x.shape)}, got {shape}")
        shuffled_then_fn = fn(x[:, permutation])
        fn_then_shuffled = output[:, permutation]
    gap = (shuffled_then_fn - fn_then_shuffled).abs().max().item()
    if not math.isfinite(gap):
        raise ValueError("fn returned NaN or an infinity: the gap cannot be measured")
    return gap


def plot_encoding(encoding, ax, title="Sinusoidal positional encoding"):
    """Heatmap of a positional encoding (n, d_model): position down, feature across. Returns ax."""
    require_float_tensor("encoding", encoding)
    if encoding.ndim != 2:
        raise ValueError(f"encoding must have shape (n, d_model), got {tuple(encoding.shape)}")
    image = ax.imshow(
        encoding.detach().numpy(), cmap="cividis", vmin=-1, vmax=1, aspect="auto", interpolation="nearest"
    )
    ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.02, label="value")
    ax.set_xlabel("feature (even: sine, odd: cosine)")
    ax.set_ylabel("position")
    ax.set_title(title)
    return ax


LINE_STYLES = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-.")]  # marker and dash: not only colour


def plot_similarity_by_distance(encoding, ax, starts=(0, 10, 30), max_distance=30, title=None):
    """Dot product of positions p and p + k against the distance k, one line per start p. Returns ax.

    encoding: (n, d_model) with n > max(starts) + max_distance.
    """
    require_float_tensor("encoding", encoding)
    max_distance = require_int("max_distance", max_distance, minimum=1)
    if encoding.ndim != 2 or encoding.shape[0] <= max(starts) + max_distance:
        raise ValueError(
            f"encoding (n, d_model) needs n > {max(starts) + max_distance} for these starts and distances, "
            f"got {tuple(encoding.shape)}"
        )
    similarity = position_similarity(encoding.detach())
    distances = range(max_distance + 1)
    colors = ["#440154", "#21918c", "#5ec962", "#3b528b"]  # viridis, light enough yellow left out
    for index, start in enumerate(starts):
        marker, dash = LINE_STYLES[index % len(LINE_STYLES)]
        values = [similarity[start, start + k].item() for k in distances]
        ax.plot(
            distances,
            values,
            marker=marker,
            linestyle=dash,
            markersize=4,
            color=colors[index % len(colors)],
            markevery=(index, len(starts)),
            label=f"from position p = {start}",
        )
    ax.set_xlabel("distance k")
    ax.set_ylabel("dot product of p and p + k")
    ax.set_title(title or "Dot products fall with the distance")
    ax.legend()
    return ax
