"""The three layers lesson 07 compares, each x (B, n, d_model) -> (B, n, d_model), and the names it prints.

    LAYER_KINDS                            ("attention", "gru", "conv")
    SelfAttentionLayer(d_model, attention, n_heads)  self-attention with its projections (one head unless n_heads)
    RecurrentLayer(d_model)                a GRU over the sequence, one step per position
    ConvLayer(d_model, kernel_size)        a Conv1d over the sequence, padded to keep n
    make_layer(kind, d_model, kernel_size, seed, n_heads)   a seeded layer of one of LAYER_KINDS, in eval mode
    seeded_sequence(n, d_model, seed)      a seeded random input x (1, n, d_model)
    LABELS                                 {layer kind or attention variant: its name in print and in legends}

Shapes: B batch, n sequence length, d_model model width.
"""

import torch
from torch import nn

from helpers.lessons.l07_complexity.attention_variants import ATTENTION_VARIANTS, attend
from helpers.library.checks import require_int
from helpers.library.multi_head_attention import combine_heads, require_n_heads, split_heads

__all__ = [
    "LAYER_KINDS",
    "LABELS",
    "SelfAttentionLayer",
    "RecurrentLayer",
    "ConvLayer",
    "make_layer",
    "seeded_sequence",
]

LAYER_KINDS = ("attention", "gru", "conv")
LABELS = {
    "attention": "self-attention",
    "gru": "GRU",
    "conv": "Conv1d (k=3)",
    "naive": "naive (n×n weights)",
    "blockwise": "blockwise (online softmax)",
    "query_blocks": "blockwise, 512-query blocks",
    "sdpa": "torch SDPA (fused)",
}


class SelfAttentionLayer(nn.Module):
    """Self-attention with its projections: x (B, n, d_model) -> (B, n, d_model); one head unless n_heads > 1.

    w_qkv: nn.Linear(d_model, 3·d_model) gives q, k, v (the layout of nn.MultiheadAttention's in_proj_weight);
    w_o: nn.Linear(d_model, d_model) after attention. attention: one of ATTENTION_VARIANTS, see `attend`.
    n_heads: q, k, v are split into n_heads heads of d_k = d_model / n_heads, (B, n_heads, n, d_k), attended
    side by side (n_heads (n, n) weight matrices) and concatenated before w_o.
    """

    def __init__(self, d_model, attention="naive", n_heads=1):
        super().__init__()
        self.d_model = require_int("d_model", d_model, minimum=1)
        if attention not in ATTENTION_VARIANTS:
            raise ValueError(f"attention must be one of {ATTENTION_VARIANTS}, got {attention!r}")
        self.attention = attention
        self.n_heads = require_n_heads(n_heads, self.d_model)
        self.w_qkv = nn.Linear(d_model, 3 * d_model)
        self.w_o = nn.Linear(d_model, d_model)

    def forward(self, x):
        _check_sequence(x, self.d_model)
        q, k, v = self.w_qkv(x).chunk(3, dim=-1)  # (B, n, d_model) each
        if self.n_heads == 1:
            output = attend(self.attention, q, k, v)
        else:
            heads = [split_heads(t, self.n_heads) for t in (q, k, v)]  # (B, n_heads, n, d_k) each
            output = combine_heads(attend(self.attention, *heads))  # (B, n, d_model)
        return self.w_o(output)


class RecurrentLayer(nn.Module):
    """A GRU over the sequence, one step per position: x (B, n, d_model) -> outputs (B, n, d_model)."""

    def __init__(self, d_model):
        super().__init__()
        self.d_model = require_int("d_model", d_model, minimum=1)
        self.gru = nn.GRU(d_model, d_model, batch_first=True)

    def forward(self, x):
        _check_sequence(x, self.d_model)
        output, _ = self.gru(x)
        return output


class ConvLayer(nn.Module):
    """A Conv1d over the sequence, kernel k, padded to keep n: x (B, n, d_model) -> (B, n, d_model)."""

    def __init__(self, d_model, kernel_size=3):
        super().__init__()
        self.d_model = require_int("d_model", d_model, minimum=1)
        kernel_size = require_int("kernel_size", kernel_size, minimum=1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (so padding keeps the length), got {kernel_size}")
        self.conv = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2)

    def forward(self, x):
        _check_sequence(x, self.d_model)
        return self.conv(x.transpose(1, 2)).transpose(1, 2)


def _check_sequence(x, d_model):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a float tensor (B, n, d_model), got {type(x).__name__}")
    if x.ndim != 3 or x.shape[-1] != d_model:
        raise ValueError(f"x must have shape (B, n, d_model={d_model}), got {tuple(x.shape)}")


def make_layer(kind, d_model, kernel_size=3, seed=0, n_heads=1):
    """A seeded layer of one of LAYER_KINDS ("attention", "gru", "conv") in eval mode (n_heads: attention's)."""
    if kind not in LAYER_KINDS:
        raise ValueError(f"kind must be one of {LAYER_KINDS}, got {kind!r}")
    seed = require_int("seed", seed, minimum=0)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if kind == "attention":
            layer = SelfAttentionLayer(d_model, n_heads=n_heads)
        elif kind == "gru":
            layer = RecurrentLayer(d_model)
        else:
            layer = ConvLayer(d_model, kernel_size)
    return layer.eval()


def seeded_sequence(n, d_model, seed=0):
    """A seeded random input x (1, n, d_model): what every measurement of a layer feeds it."""
    return torch.randn(1, n, d_model, generator=torch.Generator().manual_seed(seed))  # (1, n, d_model)
