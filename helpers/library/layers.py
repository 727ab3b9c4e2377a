"""The transformer's layers as small nn.Modules, built on helpers.library.attention.

Shapes: B batch, n sequence length, d_model model width, n_heads heads,
d_k = d_model // n_heads per head. Each class can copy its weights from the matching
PyTorch module (`from_torch`), which is how the tests prove them equal.
"""

import torch
from torch import nn

from helpers.library.attention import scaled_dot_product_attention
from helpers.library.checks import require_float_tensor, require_int, require_number

__all__ = ["MultiHeadAttention", "LayerNorm", "TransformerBlock"]


class MultiHeadAttention(nn.Module):
    """n_heads scaled dot-product attentions side by side, then one output projection.

    Attributes w_q, w_k, w_v, w_o: nn.Linear(d_model, d_model).
    The projected q, k, v (B, n, d_model) are split into n_heads slices of width
    d_k = d_model // n_heads, attended separately, concatenated and projected by w_o.
    """

    def __init__(self, d_model, n_heads, bias=True):
        super().__init__()
        d_model = require_int("d_model", d_model, minimum=1)
        n_heads = require_int("n_heads", n_heads, minimum=1)
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def _split_heads(self, x):
        """(B, n, d_model) -> (B, n_heads, n, d_k)"""
        batch, n, _ = x.shape
        return x.view(batch, n, self.n_heads, self.d_k).transpose(1, 2)

    def _check_input(self, name, x):
        require_float_tensor(name, x)
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            hint = " (add a batch axis with x.unsqueeze(0))" if x.ndim == 2 else ""
            raise ValueError(f"{name} must have shape (B, n, d_model={self.d_model}), got {tuple(x.shape)}{hint}")

    def _head_mask(self, mask):
        """A mask (n_q, n_k), (B, n_q, n_k) or (B, n_heads, n_q, n_k) -> broadcastable to 4-D."""
        if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3, 4):
            shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"mask must be (n_q, n_k), (B, n_q, n_k) or (B, n_heads, n_q, n_k), got {shape}")
        return mask.unsqueeze(1) if mask.ndim == 3 else mask

    def forward(self, query, key=None, value=None, mask=None):
        """query (B, n_q, d_model); key, value (B, n_k, d_model), default: self-attention.

        mask: bool, True = may attend (nn.MultiheadAttention's attn_mask means the opposite: give it ~mask):
        (n_q, n_k) for all, (B, n_q, n_k) per sequence
        (a padding mask from helpers.library.attention.padding_mask fits as mask[:, None, :]),
        or (B, n_heads, n_q, n_k) per head.
        Returns (output (B, n_q, d_model), weights (B, n_heads, n_q, n_k)).
        """
        key = query if key is None else key
        value = key if value is None else value
        for name, x in (("query", query), ("key", key), ("value", value)):
            self._check_input(name, x)
        if key.shape[:2] != value.shape[:2] or query.shape[0] != key.shape[0]:
            raise ValueError(
                f"query (B, n_q, d), key and value (B, n_k, d) must agree on B and n_k: query "
                f"{tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
            )
        q = self._split_heads(self.w_q(query))  # (B, n_heads, n_q, d_k)
        k = self._split_heads(self.w_k(key))  # (B, n_heads, n_k, d_k)
        v = self._split_heads(self.w_v(value))  # (B, n_heads, n_k, d_k)
        head_mask = None if mask is None else self._head_mask(mask)
        heads, weights = scaled_dot_product_attention(q, k, v, mask=head_mask)
        batch, _, n_q, _ = heads.shape
        concatenated = heads.transpose(1, 2).reshape(batch, n_q, self.d_model)  # (B, n_q, d_model)
        return self.w_o(concatenated), weights

    @classmethod
    def from_torch(cls, torch_mha):
        """A MultiHeadAttention with the weights of a torch.nn.MultiheadAttention.

        torch packs w_q, w_k, w_v into one in_proj_weight (3·d_model, d_model).
        """
        if not isinstance(torch_mha, nn.MultiheadAttention):
            raise TypeError(f"expected torch.nn.MultiheadAttention, got {type(torch_mha).__name__}")
        if not torch_mha._qkv_same_embed_dim:
            raise ValueError("only a MultiheadAttention with kdim == vdim == embed_dim can be copied")
        if torch_mha.bias_k is not None or torch_mha.add_zero_attn:
            raise ValueError("a MultiheadAttention with add_bias_kv or add_zero_attn cannot be copied")
        bias = torch_mha.in_proj_bias is not None
        # Convert before copying: copying float64 weights into float32 ones would round them.
        mha = cls(torch_mha.embed_dim, torch_mha.num_heads, bias=bias).to(torch_mha.in_proj_weight.dtype)
        with torch.no_grad():
            for i, linear in enumerate((mha.w_q, mha.w_k, mha.w_v)):
                rows = slice(i * mha.d_model, (i + 1) * mha.d_model)
                linear.weight.copy_(torch_mha.in_proj_weight[rows])
                if bias:
                    linear.bias.copy_(torch_mha.in_proj_bias[rows])
            mha.w_o.weight.copy_(torch_mha.out_proj.weight)
            if bias:
                mha.w_o.bias.copy_(torch_mha.out_proj.bias)
        return mha


class LayerNorm(nn.Module):
    """Normalise each token's features to mean 0 and variance 1, then scale and shift.

    x: (..., d_model) -> (..., d_model). The statistics are taken over the last axis,
    per token, never across the batch. `weight` (γ) and `bias` (β) are learned, (d_model,).
    """

    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.d_model = require_int("d_model", d_model, minimum=1)
        self.eps = require_number("eps", eps, positive=True)
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x):
        require_float_tensor("x", x)
        if x.ndim == 0 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (..., d_model={self.d_model}), got {tuple(x.shape)}")
        mean = x.mean(dim=-1, keepdim=True)
        variance = x.var(dim=-1, keepdim=True, unbiased=False)
        # rsqrt, not 1 / sqrt: torch.sqrt goes through MKL's vector maths, whose last bit differs by CPU;
        # torch.rsqrt is torch's own loop (a correctly rounded sqrt, then a division), the same everywhere.
        return (x - mean) * torch.rsqrt(variance + self.eps) * self.weight + self.bias

    @classmethod
    def from_torch(cls, torch_norm):
        """A LayerNorm with the weights and eps of a torch.nn.LayerNorm over one axis."""
        if not isinstance(torch_norm, nn.LayerNorm) or len(torch_norm.normalized_shape) != 1:
            raise TypeError("expected a torch.nn.LayerNorm over the last axis only")
        if not torch_norm.elementwise_affine or torch_norm.bias is None:
            raise ValueError("only a LayerNorm with a learned weight and bias can be copied")
        norm = cls(torch_norm.normalized_shape[0], eps=torch_norm.eps).to(torch_norm.weight.dtype)
        norm.load_state_dict(torch_norm.state_dict())
        return norm


class TransformerBlock(nn.Module):
    """Self-attention and a feed-forward network, each wrapped in Add & Norm.

    norm_first=False (Post-LN, the original paper): x = norm(x + sublayer(x)).
    norm_first=True (Pre-LN, GPT-2 and most models since): x = x + sublayer(norm(x)).
    Attributes: attn (MultiHeadAttention), ff (Linear, ReLU, Linear), norm1, norm2.
    """

    def __init__(self, d_model, n_heads, d_ff, norm_first=False, eps=1e-5):
        super().__init__()
        d_ff = require_int("d_ff", d_ff, minimum=1)
        self.norm_first = bool(norm_first)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))
        self.norm1 = LayerNorm(d_model, eps=eps)
        self.norm2 = LayerNorm(d_model, eps=eps)

    def forward(self, x, mask=None, return_weights=False):
        """x: (B, n, d_model) -> (B, n, d_model); mask as in MultiHeadAttention.forward.

        With return_weights=True, returns (x, weights (B, n_heads, n, n)).
        """
        if self.norm_first:
            attended, weights = self.attn(self.norm1(x), mask=mask)
            x = x + attended
            x = x + self.ff(self.norm2(x))
        else:
            attended, weights = self.attn(x, mask=mask)
            x = self.norm1(x + attended)
            x = self.norm2(x + self.ff(x))
        return (x, weights) if return_weights else x

    @classmethod
    def from_torch(cls, layer):
        """A TransformerBlock with the weights of a torch.nn.TransformerEncoderLayer (ReLU)."""
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise TypeError(f"expected torch.nn.TransformerEncoderLayer, got {type(layer).__name__}")
        if layer.activation_relu_or_gelu != 1:
            raise ValueError("only a TransformerEncoderLayer with activation='relu' can be copied")
        d_model, d_ff = layer.linear1.in_features, layer.linear1.out_features
        block = cls(d_model, layer.self_attn.num_heads, d_ff, norm_first=layer.norm_first, eps=layer.norm1.eps)
        block = block.to(layer.linear1.weight.dtype)
        block.attn = MultiHeadAttention.from_torch(layer.self_attn)
        block.norm1 = LayerNorm.from_torch(layer.norm1)
        block.norm2 = LayerNorm.from_torch(layer.norm2)
        with torch.no_grad():
            for mine, theirs in ((block.ff[0], layer.linear1), (block.ff[2], layer.linear2)):
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
        return block
