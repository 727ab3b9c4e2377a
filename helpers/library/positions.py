"""Where a token is: positional encodings, and the test that shows self-attention needs them.

Self-attention compares every token with every other by content alone, so shuffling its input
tokens only shuffles its outputs the same way (it is *permutation-equivariant*): it cannot tell
"dog bites man" from "man bites dog". Adding a vector that depends on the position breaks this.

    sinusoidal_encoding(n, d_model)      (n, d_model) fixed sines and cosines (Vaswani et al., 2017)
    SinusoidalPositions(n_positions, d)  nn.Module: x + that table; nothing learned
    LearnedPositions(n_positions, d)     nn.Module: x + one learned vector per position (GPT-2, BERT)

Lesson 09 measures them (helpers.lessons.l09_transformer_end_to_end.position_probes).

Shapes: B batch, n tokens, d_model features per token.
"""

import torch
from torch import nn

from helpers.library.checks import require_float_tensor, require_int, require_number

__all__ = [
    "sinusoidal_encoding",
    "SinusoidalPositions",
    "LearnedPositions",
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
