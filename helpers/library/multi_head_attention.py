"""Multi-head attention built from single heads.

Shapes: n sequence length, d_model model width, n_heads heads, d_k = d_model // n_heads per head.
Weights are in nn.Linear's layout, (out_features, in_features): q = x·W_qᵀ + b_q.

    split_heads(x, n_heads)            (..., n, d_model) -> (..., n_heads, n, d_k)
    combine_heads(heads)               (..., n_heads, n, d_k) -> (..., n, d_model)
    projections_of(module)             w_q b_q w_k b_k w_v b_v w_o b_o of helpers.library.layers.MultiHeadAttention
                                       or torch.nn.MultiheadAttention
    single_head(x, ...)                one head: its own slice of W_q, W_k, W_v, then attention
    multi_head_attention(x, p, n_heads)  every head on its own, concatenated, projected by W_o
    head_contributions(x, p, n_heads)  what each head adds to the output (they sum to it, minus b_o)

What heads cost and how differently they attend is lesson 05's (helpers.lessons.l05_multi_head_attention.head_costs).
"""

import torch
from torch import nn

from helpers.library.attention import scaled_dot_product_attention
from helpers.library.checks import require_float_tensor, require_int

__all__ = [
    "require_n_heads",
    "split_heads",
    "combine_heads",
    "projections_of",
    "single_head",
    "multi_head_attention",
    "head_contributions",
]

_NAMES = ("w_q", "b_q", "w_k", "b_k", "w_v", "b_v", "w_o", "b_o")


def require_n_heads(n_heads, d_model):
    n_heads = require_int("n_heads", n_heads, minimum=1)
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
    return n_heads


def split_heads(x, n_heads):
    """Cut each token's d_model features into n_heads slices of d_k = d_model / n_heads, one per head.

    x: (..., n, d_model) -> (..., n_heads, n, d_k). Head h gets features h·d_k ... (h+1)·d_k − 1 of
    every token. Reshape to (..., n, n_heads, d_k) first and only then move the head axis forward:
    viewing x directly as (..., n_heads, n, d_k) would hand one head features of other tokens.
    """
    require_float_tensor("x", x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., n, d_model), got {tuple(x.shape)}")
    d_model = x.shape[-1]
    n_heads = require_n_heads(n_heads, d_model)
    return x.reshape(*x.shape[:-1], n_heads, d_model // n_heads).transpose(-3, -2)  # (..., n_heads, n, d_k)


def combine_heads(heads):
    """Concatenate the heads' outputs token by token: the inverse of split_heads.

    heads: (..., n_heads, n, d_k) -> (..., n, n_heads·d_k), head 0's features first.
    """
    require_float_tensor("heads", heads)
    if heads.ndim < 3:
        raise ValueError(f"heads must have shape (..., n_heads, n, d_k), got {tuple(heads.shape)}")
    n_heads, n, d_k = heads.shape[-3:]
    return heads.transpose(-3, -2).reshape(*heads.shape[:-3], n, n_heads * d_k)


def projections_of(module):
    """The eight tensors of a multi-head attention layer, in nn.Linear layout, detached.

    module: helpers.library.layers.MultiHeadAttention, or torch.nn.MultiheadAttention (whose packed
    in_proj_weight (3·d_model, d_model) holds W_q, W_k, W_v one under the other).
    Returns a dict w_q, w_k, w_v, w_o (d_model, d_model) and b_q, b_k, b_v, b_o (d_model,) or None.
    """
    if isinstance(module, nn.MultiheadAttention):
        if not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn:
            raise ValueError(
                "only a MultiheadAttention with kdim == vdim == embed_dim and no extra biases is supported"
            )
        weights = module.in_proj_weight.detach().chunk(3)
        biases = (None,) * 3 if module.in_proj_bias is None else module.in_proj_bias.detach().chunk(3)
        out = module.out_proj
    elif all(hasattr(module, name) for name in ("w_q", "w_k", "w_v", "w_o", "n_heads")):
        weights = tuple(getattr(module, name).weight.detach() for name in ("w_q", "w_k", "w_v"))
        biases = tuple(_bias(getattr(module, name)) for name in ("w_q", "w_k", "w_v"))
        out = module.w_o
    else:
        raise TypeError(
            "expected helpers.library.layers.MultiHeadAttention or torch.nn.MultiheadAttention, "
            f"got {type(module).__name__}"
        )
    values = (weights[0], biases[0], weights[1], biases[1], weights[2], biases[2], out.weight.detach(), _bias(out))
    return dict(zip(_NAMES, values, strict=True))


def _bias(linear):
    return None if linear.bias is None else linear.bias.detach()


def _check_projections(projections, d_model):
    if not isinstance(projections, dict) or not all(name in projections for name in ("w_q", "w_k", "w_v", "w_o")):
        raise TypeError(
            "projections must be a dict with w_q, w_k, w_v, w_o (biases optional), e.g. projections_of(mha)"
        )
    for name in _NAMES:
        value = projections.get(name)
        if value is None:
            continue
        require_float_tensor(name, value)
        expected = (d_model, d_model) if name.startswith("w_") else (d_model,)
        if tuple(value.shape) != expected:
            raise ValueError(f"{name} must have shape {expected} (d_model={d_model}), got {tuple(value.shape)}")


def _linear(x, weight, bias):
    return x @ weight.T if bias is None else x @ weight.T + bias


def single_head(x, w_q, w_k, w_v, b_q=None, b_k=None, b_v=None, mask=None):
    """One attention head: project x into this head's own queries, keys and values, then attend.

    x: (..., n, d_model)   w_q, w_k, w_v: (d_k, d_model), the head's rows of the full matrices.
    b_q, b_k, b_v: (d_k,) or None.   mask: bool, broadcastable to (..., n, n); True = may attend.
    Returns (output (..., n, d_k), weights (..., n, n)).
    """
    q = _linear(x, w_q, b_q)  # (..., n, d_k)  this head's question for each token
    k = _linear(x, w_k, b_k)  # (..., n, d_k)  this head's key for each token
    v = _linear(x, w_v, b_v)  # (..., n, d_k)  what this head hands over
    return scaled_dot_product_attention(q, k, v, mask=mask)


def _check_x(x):
    require_float_tensor("x", x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., n, d_model), got {tuple(x.shape)}")


def _head_outputs(x, projections, n_heads, mask):
    """Each head run on its own: outputs (..., n_heads, n, d_k), weights (..., n_heads, n, n)."""
    _check_x(x)
    d_model = x.shape[-1]
    n_heads = require_n_heads(n_heads, d_model)
    _check_projections(projections, d_model)
    d_k = d_model // n_heads
    outputs, weights = [], []
    for head in range(n_heads):
        rows = slice(head * d_k, (head + 1) * d_k)  # this head's d_k rows of W_q, W_k, W_v
        parts = {}
        for letter in "qkv":
            bias = projections.get(f"b_{letter}")
            parts[f"w_{letter}"] = projections[f"w_{letter}"][rows]
            parts[f"b_{letter}"] = None if bias is None else bias[rows]
        output, weight = single_head(x, mask=mask, **parts)
        outputs.append(output)
        weights.append(weight)
    return torch.stack(outputs, dim=-3), torch.stack(weights, dim=-3)


def multi_head_attention(x, projections, n_heads, mask=None, keep_heads=None):
    """Multi-head self-attention, one head at a time: split, attend, concatenate, project.

    x: (..., n, d_model)   projections: dict from projections_of (w_* (d_model, d_model), b_* or None).
    n_heads: divides d_model.   mask: bool, broadcastable to (..., n, n); True = may attend.
    keep_heads: None for all heads, or the heads whose output is kept; the others' outputs are zeroed
    before W_o (an ablation: what the layer does without them).
    Returns (output (..., n, d_model), weights (..., n_heads, n, n)).
    """
    heads, weights = _head_outputs(x, projections, n_heads, mask)  # (..., n_heads, n, d_k)
    if keep_heads is not None:
        heads = heads * _head_filter(keep_heads, heads.shape[-3], heads.dtype)[:, None, None]
    concatenated = combine_heads(heads)  # (..., n, d_model): head 0's d_k features, then head 1's, ...
    return _linear(concatenated, projections["w_o"], projections.get("b_o")), weights


def _head_filter(keep_heads, n_heads, dtype):
    if isinstance(keep_heads, (int, str)) or not all(
        isinstance(h, int) and not isinstance(h, bool) and 0 <= h < n_heads for h in keep_heads
    ):
        raise ValueError(f"keep_heads must be a list of heads between 0 and {n_heads - 1}, got {keep_heads!r}")
    keep = torch.zeros(n_heads, dtype=dtype)
    keep[list(keep_heads)] = 1.0
    return keep


def head_contributions(x, projections, n_heads, mask=None):
    """What each head adds to the output: its d_k features times its own d_k columns of W_o.

    Concatenating and then projecting is the same as projecting each head with its slice of W_o and
    summing: output = Σ_h contributions[..., h, :, :] + b_o.
    x: (..., n, d_model). Returns contributions (..., n_heads, n, d_model).
    """
    heads, _ = _head_outputs(x, projections, n_heads, mask)  # (..., n_heads, n, d_k)
    d_k = heads.shape[-1]
    w_o = projections["w_o"].reshape(-1, n_heads, d_k).transpose(0, 1)  # (n_heads, d_model, d_k)
    return heads @ w_o.transpose(-2, -1)  # (..., n_heads, n, d_model)
