"""Lesson 06's pieces: LayerNorm, the residual connection, and the five ways to wrap a sublayer.

Shapes: B batch, n sequence length, d_model features per token.

    layer_norm          normalise each token's features to mean 0, variance 1, then scale and shift
    token_stats         mean and variance over the features of each token (what LayerNorm fixes)
    feature_stats       mean and variance of each feature over all tokens (what BatchNorm fixes)
    batch_norm          normalise each feature over the batch and the positions (training-mode BatchNorm)
    residual_jacobian   ∂(x + f(x))/∂x = I + ∂f/∂x, and ∂f/∂x, by autograd
    add_and_norm        one sublayer wrapped as plain, residual, layernorm, post_ln or pre_ln
    AddNormBlock        attention and feed-forward, each wrapped by add_and_norm
    require_variant(s)  a variant (or a non-empty list of them), checked against VARIANTS
"""

import torch
from torch import nn

from helpers.library.checks import require_float_tensor, require_int, require_number
from helpers.library.layers import LayerNorm, MultiHeadAttention, TransformerBlock

__all__ = [
    "VARIANTS",
    "VARIANT_LABELS",
    "require_variant",
    "require_variants",
    "layer_norm",
    "token_stats",
    "feature_stats",
    "batch_norm",
    "residual_jacobian",
    "add_and_norm",
    "AddNormBlock",
]

# The five ways to wrap a sublayer f, from no Add & Norm at all to the two that transformers use.
VARIANTS = ("plain", "residual", "layernorm", "post_ln", "pre_ln")
VARIANT_LABELS = {
    "plain": "plain: f(x)",
    "residual": "residual only: x + f(x)",
    "layernorm": "LayerNorm only: norm(f(x))",
    "post_ln": "Post-LN: norm(x + f(x))",
    "pre_ln": "Pre-LN: x + f(norm(x))",
}


def require_variant(variant):
    """Return `variant` if it is one of VARIANTS, else raise ValueError naming them."""
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return variant


def require_variants(variants):
    """Return `variants` (one variant, or a non-empty list of them) as a list, each checked by require_variant."""
    if isinstance(variants, str):
        variants = [variants]
    variants = [require_variant(variant) for variant in variants]
    if not variants:
        raise ValueError(f"variants is empty: give some of {VARIANTS}")
    return variants


def _require_features(name, x):
    require_float_tensor(name, x)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (..., d_model) with d_model >= 1, got {tuple(x.shape)}")


def layer_norm(x, weight=None, bias=None, eps=1e-5):
    """(x − mean) / √(variance + eps) · weight + bias, the statistics taken per token over its features.

    x: (..., d_model)   weight, bias: None or broadcastable to x (e.g. (d_model,)); None = 1 and 0.
    The variance is the biased one (divide by d_model), as in torch.nn.LayerNorm. Returns (..., d_model).
    """
    _require_features("x", x)
    eps = require_number("eps", eps, positive=True)
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    centred = x - mean
    variance = (centred * centred).mean(dim=-1, keepdim=True)  # (..., 1); x.var() is slower on CPU
    normalised = centred * torch.rsqrt(variance + eps)
    if weight is not None:
        normalised = normalised * weight
    if bias is not None:
        normalised = normalised + bias
    return normalised


def token_stats(x):
    """Mean and (biased) variance over the features of each token.

    x: (..., d_model). Returns (mean (...,), variance (...,)): one number per token.
    """
    _require_features("x", x)
    return x.mean(dim=-1), x.var(dim=-1, unbiased=False)


def _require_3d(name, x):
    require_float_tensor(name, x)
    if x.ndim != 3 or 0 in x.shape:
        raise ValueError(f"{name} must have shape (B, n, d_model) with no empty axis, got {tuple(x.shape)}")


def feature_stats(x):
    """Mean and (biased) variance of each feature over every token of every sequence.

    x: (B, n, d_model). Returns (mean (d_model,), variance (d_model,)): one number per feature.
    """
    _require_3d("x", x)
    flat = x.reshape(-1, x.shape[-1])  # (B·n, d_model)
    return flat.mean(dim=0), flat.var(dim=0, unbiased=False)


def batch_norm(x, eps=1e-5):
    """BatchNorm as in training: each feature normalised with its mean and variance over the batch.

    x: (B, n, d_model); the statistics of feature j are taken over all B·n tokens (feature_stats).
    No learned scale or shift. Returns (B, n, d_model). A token's output depends on the other
    sequences in the batch; torch.nn.BatchNorm1d in training mode computes the same.
    """
    _require_3d("x", x)
    eps = require_number("eps", eps, positive=True)
    mean, variance = feature_stats(x)  # (d_model,) each
    return (x - mean) / torch.sqrt(variance + eps)


def residual_jacobian(f, x):
    """The Jacobians of x ↦ x + f(x) and of f at one token vector x, by autograd.

    f: a callable (d,) -> (d,)   x: (d,). Returns (jacobian of x + f(x) (d, d), jacobian of f (d, d)).
    The first is the identity plus the second: the residual path adds I to whatever f contributes.
    """
    require_float_tensor("x", x)
    if x.ndim != 1 or x.shape[0] == 0:
        raise ValueError(f"x must be one token vector of shape (d,), got {tuple(x.shape)}")
    if not callable(f):
        raise TypeError(f"f must be a callable (d,) -> (d,), got {type(f).__name__}")
    f_out = f(x)
    if not isinstance(f_out, torch.Tensor) or f_out.shape != x.shape:
        shape = tuple(f_out.shape) if isinstance(f_out, torch.Tensor) else type(f_out).__name__
        raise ValueError(f"f must map x of shape {tuple(x.shape)} to the same shape, got {shape}")
    f_jacobian = torch.autograd.functional.jacobian(f, x)  # (d, d)
    residual = torch.autograd.functional.jacobian(lambda v: v + f(v), x)  # (d, d)
    return residual, f_jacobian


def add_and_norm(x, sublayer, norm, variant):
    """Wrap one sublayer f (attention or feed-forward) the way `variant` says.

    x: (..., d_model)   sublayer, norm: callables (..., d_model) -> (..., d_model).
        plain      f(x)               no Add, no Norm
        residual   x + f(x)           Add only
        layernorm  norm(f(x))         Norm only
        post_ln    norm(x + f(x))     Add, then Norm: the original transformer
        pre_ln     x + f(norm(x))     Norm inside the branch: GPT-2 and most models since
    Returns (..., d_model).
    """
    variant = require_variant(variant)
    if variant == "plain":
        return sublayer(x)
    if variant == "residual":
        return x + sublayer(x)
    if variant == "layernorm":
        return norm(sublayer(x))
    if variant == "post_ln":
        return norm(x + sublayer(x))
    return x + sublayer(norm(x))  # pre_ln


class AddNormBlock(nn.Module):
    """Self-attention then a feed-forward network, each wrapped by add_and_norm(…, variant).

    Attributes: attn (helpers.library.layers.MultiHeadAttention), ff (Linear, ReLU, Linear),
    norm1, norm2 (helpers.library.layers.LayerNorm; unused by the plain and residual variants), variant.
    post_ln is torch.nn.TransformerEncoderLayer with norm_first=False, pre_ln with norm_first=True.
    """

    def __init__(self, d_model, n_heads, d_ff, variant="post_ln", eps=1e-5):
        super().__init__()
        self.variant = require_variant(variant)
        d_model = require_int("d_model", d_model, minimum=1)
        d_ff = require_int("d_ff", d_ff, minimum=1)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))
        self.norm1 = LayerNorm(d_model, eps=eps)
        self.norm2 = LayerNorm(d_model, eps=eps)

    def forward(self, x):
        """x: (B, n, d_model) -> (B, n, d_model)."""
        x = add_and_norm(x, lambda u: self.attn(u)[0], self.norm1, self.variant)
        return add_and_norm(x, self.ff, self.norm2, self.variant)

    @classmethod
    def from_torch(cls, layer, variant=None):
        """An AddNormBlock with the weights of a torch.nn.TransformerEncoderLayer (ReLU).

        variant: default "pre_ln" if layer.norm_first else "post_ln"; any other variant reuses the
        same weights wired differently (the layer itself only computes post_ln or pre_ln).
        """
        copy = TransformerBlock.from_torch(layer)  # checks the layer, copies every weight
        if variant is None:
            variant = "pre_ln" if layer.norm_first else "post_ln"
        d_model, d_ff = layer.linear1.in_features, layer.linear1.out_features
        block = cls(d_model, layer.self_attn.num_heads, d_ff, variant=variant, eps=layer.norm1.eps)
        block.attn, block.ff, block.norm1, block.norm2 = copy.attn, copy.ff, copy.norm1, copy.norm2
        return block
