"""Where a token is: positional encodings, and the test that shows self-attention needs them.

Self-attention compares every token with every other by content alone, so shuffling its input
tokens only shuffles its outputs the same way (it is *permutation-equivariant*): it cannot tell
"dog bites man" from "man bites dog". Adding a vector that depends on the position breaks this.

    sinusoidal_encoding(n, d_model)      (n, d_model) fixed sines and cosines (Vaswani et al., 2017)
    SinusoidalPositions(n_positions, d)  nn.Module: x + that table; nothing learned
    LearnedPositions(n_positions, d)     nn.Module: x + one learned vector per position (GPT-2, BERT)
    position_similarity(encoding)        (n, n) dot products between the positions' vectors
    permutation_gap(fn, x, permutation)  largest |fn(x shuffled) − fn(x) shuffled|: 0 when equivariant
    plot_encoding(encoding, ax)          heatmap: one row per position, one column per feature
    plot_similarity_by_distance(...)     dot product of positions p and p + k against k, for a few p

Shapes: B batch, n tokens, d_model features per token.
"""

import math

import torch
from torch import nn

from helpers._checks import require_float_tensor, require_int, require_number, require_tensor

__all__ = [
    "sinusoidal_encoding",
    "SinusoidalPositions",
    "LearnedPositions",
    "position_similarity",
    "permutation_gap",
    "plot_encoding",
    "plot_similarity_by_distance",
]


def sinusoidal_encoding(n, d_model, base=10000.0):
    """The fixed positional encoding of "Attention is all you need": (n, d_model), float32.

    encoding[pos, 2i]   = sin(pos / base^(2i / d_model))
    encoding[pos, 2i+1] = cos(pos / base^(2i / d_model))
    Pair i turns with frequency 1 / base^(2i / d_model): the first pairs change fast with the
    position, the last ones slowly. d_model must be even (one sine and one cosine per pair).
    """
    n = require_int("n", n, minimum=1)
    d_model = require_int("d_model", d_model, minimum=2)
    if d_model % 2:
        raise ValueError(f"d_model must be even (a sine and a cosine per frequency), got {d_model}")
    base = require_number("base", base, positive=True)
    position = torch.arange(n, dtype=torch.float64)[:, None]  # (n, 1)
    frequency = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d_model / 2,)
    angle = position * frequency  # (n, d_model / 2)
    encoding = torch.empty(n, d_model, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angle)
    encoding[:, 1::2] = torch.cos(angle)
    return encoding.float()


def _check_sequence(x, n_positions, d_model):
    require_float_tensor("x", x)
    if x.ndim != 3 or x.shape[-1] != d_model:
        raise ValueError(f"x must have shape (B, n, d_model={d_model}), got {tuple(x.shape)}")
    if x.shape[1] > n_positions:
        raise ValueError(
            f"x has n={x.shape[1]} tokens, but there are encodings for {n_positions} positions only (0 to "
            f"{n_positions - 1}); build the layer with a larger n_positions"
        )


class SinusoidalPositions(nn.Module):
    """Adds sinusoidal_encoding to a sequence of token vectors: x (B, n, d_model) -> (B, n, d_model).

    The table is a buffer (saved with the model, never trained). n_positions: the longest n allowed.
    """

    def __init__(self, n_positions, d_model, base=10000.0):
        super().__init__()
        self.n_positions = require_int("n_positions", n_positions, minimum=1)
        self.d_model = require_int("d_model", d_model, minimum=2)
        self.register_buffer("encoding", sinusoidal_encoding(n_positions, d_model, base))

    def forward(self, x):
        _check_sequence(x, self.n_positions, self.d_model)
        return x + self.encoding[: x.shape[1]].to(x.dtype)


class LearnedPositions(nn.Module):
    """Adds one learned vector per position: x (B, n, d_model) -> (B, n, d_model).

    `weight` (n_positions, d_model) starts random (N(0, 1), as nn.Embedding) and is trained with the
    rest of the model. A position beyond n_positions has no vector: such inputs are refused.
    """

    def __init__(self, n_positions, d_model, init_std=1.0):
        super().__init__()
        self.n_positions = require_int("n_positions", n_positions, minimum=1)
        self.d_model = require_int("d_model", d_model, minimum=1)
        init_std = require_number("init_std", init_std, non_negative=True)
        self.weight = nn.Parameter(torch.randn(n_positions, d_model) * init_std)

    def forward(self, x):
        _check_sequence(x, self.n_positions, self.d_model)
        return x + self.weight[: x.shape[1]].to(x.dtype)


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
