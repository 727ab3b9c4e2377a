"""09: a complete decoder-only transformer, small enough to train in the notebook in seconds.

The model is built from the course's own pieces (helpers.library.layers):

    x = embedding(tokens) + position             (B, n, d_model)
    x = TransformerBlock(x, causal mask)         n_layers times (Pre-LN: norm_first=True)
    logits = output_projection(LayerNorm(x))     (B, n, vocab_size)

    CONFIG                             the lesson's model: d_model 32, 4 heads, 2 layers, learned positions
    TinyTransformer(**CONFIG)          the model; forward(tokens, return_weights=True) gives the maps
    count_parameters(model)            parameters per part

Shapes: B sequences, n <= n_positions tokens (the task's N_POSITIONS by default).
"""

import torch
from torch import nn

from helpers.lessons.l09_transformer_end_to_end.sorting_task import N_POSITIONS, TOKENS
from helpers.library.attention import causal_mask
from helpers.library.checks import require_int, require_tensor
from helpers.library.layers import LayerNorm, TransformerBlock
from helpers.library.positions import LearnedPositions, SinusoidalPositions

__all__ = ["CONFIG", "TinyTransformer", "count_parameters"]

CONFIG = {
    "vocab_size": len(TOKENS),
    "n_positions": N_POSITIONS,
    "d_model": 32,
    "n_heads": 4,
    "n_layers": 2,
    "d_ff": 64,
    "positions": "learned",
}


class TinyTransformer(nn.Module):
    """A decoder-only transformer: token embedding + positions, n_layers TransformerBlocks with a
    causal mask, a final LayerNorm and an output projection to the vocabulary.

    positions: "learned" (LearnedPositions), "sinusoidal" (SinusoidalPositions) or "none".
    `config` holds the arguments, so save_checkpoint can rebuild the same model.
    """

    def __init__(self, vocab_size, n_positions, d_model, n_heads, n_layers, d_ff, positions="learned"):
        super().__init__()
        vocab_size = require_int("vocab_size", vocab_size, minimum=1)
        n_positions = require_int("n_positions", n_positions, minimum=1)
        n_layers = require_int("n_layers", n_layers, minimum=1)
        kinds = {"learned": LearnedPositions, "sinusoidal": SinusoidalPositions, "none": None}
        if positions not in kinds:
            raise ValueError(f"positions must be one of {list(kinds)}, got {positions!r}")
        self.config = {
            "vocab_size": vocab_size,
            "n_positions": n_positions,
            "d_model": d_model,
            "n_heads": n_heads,
            "n_layers": n_layers,
            "d_ff": d_ff,
            "positions": positions,
        }
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.positions = kinds[positions](n_positions, d_model) if kinds[positions] else nn.Identity()
        self.blocks = nn.ModuleList(TransformerBlock(d_model, n_heads, d_ff, norm_first=True) for _ in range(n_layers))
        self.norm = LayerNorm(d_model)
        self.output = nn.Linear(d_model, vocab_size)

    def forward(self, tokens, return_weights=False):
        """tokens: int64 (B, n), n <= n_positions -> logits (B, n, vocab_size).

        With return_weights=True, returns (logits, weights (B, n_layers, n_heads, n, n)).
        Position i sees positions 0 .. i only (the causal mask), so logits[:, i] predicts token i + 1.
        """
        require_tensor("tokens", tokens)
        if tokens.dtype != torch.long or tokens.ndim != 2:
            raise ValueError(f"tokens must be int64 of shape (B, n), got {tokens.dtype} {tuple(tokens.shape)}")
        n = tokens.shape[1]
        if not 1 <= n <= self.config["n_positions"]:
            raise ValueError(f"n must be 1 .. n_positions={self.config['n_positions']}, got {n}")
        if tokens.min() < 0 or tokens.max() >= self.config["vocab_size"]:
            raise ValueError(f"token ids must lie in 0 .. {self.config['vocab_size'] - 1}")
        x = self.positions(self.embedding(tokens))  # (B, n, d_model)
        mask = causal_mask(n)  # (n, n), True on and below the diagonal
        weights = []
        for block in self.blocks:
            x, layer_weights = block(x, mask, return_weights=True)  # layer_weights (B, n_heads, n, n)
            weights.append(layer_weights)
        logits = self.output(self.norm(x))
        return (logits, torch.stack(weights, dim=1)) if return_weights else logits


def count_parameters(model):
    """Trainable parameters of a TinyTransformer, per part: {part: count, ..., "total": count}."""
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    parts = {"token embedding": model.embedding, "positions": model.positions}
    parts.update({f"block {i}": block for i, block in enumerate(model.blocks)})
    parts.update({"final LayerNorm": model.norm, "output projection": model.output})
    counts = {name: sum(p.numel() for p in part.parameters() if p.requires_grad) for name, part in parts.items()}
    counts["total"] = sum(counts.values())
    return counts
