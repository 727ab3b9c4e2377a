"""Scaled dot-product attention and its parts, as pure functions on torch tensors.

Names used throughout the course:
    q (..., n_q, d_k)   k (..., n_k, d_k)   v (..., n_k, d_v)
    scores = q·kᵀ·scale          (..., n_q, n_k)
    weights = softmax(scores)    (..., n_q, n_k), each row sums to 1
    output = weights·v           (..., n_q, d_v)
Masks are bool tensors with True = this query may attend to this key: the convention of
F.scaled_dot_product_attention (nn.MultiheadAttention and nn.Transformer* read True as "hidden"; lesson 04).
"""

import math

import torch

from helpers.library.checks import (
    normalize_dim,
    require_finite,
    require_float_tensor,
    require_int,
    require_number,
    require_tensor,
)

__all__ = ["softmax", "causal_mask", "padding_mask", "scaled_dot_product_attention"]


def _stable_softmax(x, dim):
    """softmax(x) along `dim`, computed as exp(x - max) / sum(exp(x - max)).

    Subtracting the row maximum keeps every exponent <= 0, so exp never overflows.
    A row that is entirely -inf (every key masked) gives all zeros instead of NaN.
    """
    row_max = x.amax(dim=dim, keepdim=True)
    row_max = torch.where(torch.isneginf(row_max), torch.zeros_like(row_max), row_max)
    exp = torch.exp(x - row_max)
    total = exp.sum(dim=dim, keepdim=True)
    return exp / torch.where(total == 0, torch.ones_like(total), total)


def softmax(x, dim=-1, temperature=1.0):
    """Numerically stable softmax of x / temperature along `dim`.

    x: float tensor of any shape; -inf entries mean "masked" and get weight 0.
    temperature: > 0. Below 1 sharpens the distribution, above 1 flattens it.
    Returns a tensor shaped like x whose slices along `dim` are >= 0 and sum to 1.
    A slice that is entirely -inf gives all zeros (there is nothing to attend to).

    Raises TypeError for a non-tensor or integer tensor, ValueError for NaN or +inf
    in x, an empty `dim`, a `dim` out of range, or temperature <= 0.
    """
    require_float_tensor("x", x)
    if x.ndim == 0:
        raise ValueError("softmax needs at least one dimension, got a 0-d tensor")
    dim = normalize_dim(dim, x.ndim)
    if x.shape[dim] == 0:
        raise ValueError(f"softmax over an empty dimension: x has shape {tuple(x.shape)}, dim={dim}")
    temperature = require_number("temperature", temperature, positive=True)
    if torch.isnan(x).any():
        raise ValueError(f"x (shape {tuple(x.shape)}) contains NaN")
    if torch.isposinf(x).any():
        raise ValueError(f"x (shape {tuple(x.shape)}) contains +inf; only -inf (masked) is allowed")
    scaled = x / temperature
    if torch.isposinf(scaled).any():
        raise ValueError(
            f"temperature={temperature} is too small for these logits: x / temperature overflows "
            f"{x.dtype}; use a larger temperature or float64"
        )
    return _stable_softmax(scaled, dim)


def causal_mask(n):
    """Bool (n, n) mask, True on and below the diagonal: query i may attend to keys 0..i.

    Used when decoding, so that position i cannot see the tokens that come after it.
    """
    n = require_int("n", n, minimum=1)
    return torch.ones(n, n, dtype=torch.bool).tril()


def padding_mask(lengths, n=None):
    """Bool (B, n) mask, True for the real tokens of each sequence, False for padding.

    lengths: B ints (a list or an integer tensor (B,)), each between 0 and n.
    n: padded length; defaults to max(lengths).
    To use it as an attention mask over keys, give it a query axis: mask[:, None, :] is (B, 1, n).
    """
    if not isinstance(lengths, torch.Tensor):
        if isinstance(lengths, (list, tuple)) and not lengths:
            raise ValueError("lengths is empty: give one length per sequence")
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(f"lengths must be a list of ints or an integer tensor: {error}") from None
    if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
        raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
    if lengths.ndim != 1 or lengths.numel() == 0:
        raise ValueError(f"lengths must be 1-D with one length per sequence, got shape {tuple(lengths.shape)}")
    if (lengths < 0).any():
        raise ValueError(f"lengths must be >= 0, got {lengths.tolist()}")
    n = int(lengths.max()) if n is None else require_int("n", n, minimum=1)
    if (lengths > n).any():
        raise ValueError(f"every length must be <= n={n}, got {lengths.tolist()}")
    return torch.arange(n, device=lengths.device)[None, :] < lengths[:, None]


def _broadcast_shapes(*shapes):
    """torch.broadcast_shapes without its first-call import of sympy (about 1 s in a fresh kernel)."""
    ndim = max(len(shape) for shape in shapes)
    result = []
    for sizes in zip(*[(1,) * (ndim - len(shape)) + tuple(shape) for shape in shapes], strict=True):
        not_one = {size for size in sizes if size != 1}
        if len(not_one) > 1:
            raise RuntimeError("shapes do not broadcast")
        result.append(not_one.pop() if not_one else 1)
    return torch.Size(result)


def _check_qkv(q, k, v):
    """Validate q, k, v; return the broadcast batch shape."""
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        require_float_tensor(name, tensor)
        if tensor.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., n, d), got shape {tuple(tensor.shape)}")
    shapes = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"q, k and v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not q.device == k.device == v.device:
        raise ValueError(f"q, k and v must be on one device, got {q.device}, {k.device}, {v.device}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dimension d_k: {shapes}")
    if q.shape[-1] == 0:
        raise ValueError(f"d_k must be >= 1: {shapes}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same number of keys n_k (dim -2): {shapes}")
    if k.shape[-2] == 0:
        raise ValueError(f"attention needs at least one key: {shapes}")
    try:
        batch = _broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(f"the batch dimensions (all but the last two) do not broadcast: {shapes}") from None
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        require_finite(name, tensor)
    return batch


def _check_mask(mask, target_shape):
    require_tensor("mask", mask)
    if mask.dtype != torch.bool:
        raise TypeError(
            f"mask must be a bool tensor (True = may attend), got dtype {mask.dtype}; "
            "for an additive float mask, add it to the scores yourself"
        )
    try:
        fits = _broadcast_shapes(mask.shape, target_shape) == target_shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
            f"(..., n_q, n_k) = {tuple(target_shape)}"
        )


def scaled_dot_product_attention(q, k, v, mask=None, scale=None):
    """softmax(q·kᵀ·scale)·v, returning the output and the attention weights.

    q: (..., n_q, d_k)   k: (..., n_k, d_k)   v: (..., n_k, d_v); batch dims broadcast.
    mask: bool, broadcastable to (..., n_q, n_k); True = may attend (as in F.scaled_dot_product_attention).
    scale: multiplies the scores; defaults to 1/√d_k. Must be finite and >= 0.
    Returns (output (..., n_q, d_v), weights (..., n_q, n_k)).

    A query whose keys are all masked gets zero weights and a zero output, never NaN
    (PyTorch's own function gave NaN there in older versions; torch 2.13 on CPU gives zeros too).
    Raises TypeError/ValueError naming the shapes for mismatched or non-finite input.
    """
    batch = _check_qkv(q, k, v)
    n_q, d_k, n_k = q.shape[-2], q.shape[-1], k.shape[-2]
    scale = 1.0 / math.sqrt(d_k) if scale is None else require_number("scale", scale, non_negative=True)
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., n_q, n_k)
    if torch.isinf(scores).any():
        raise ValueError(f"q·kᵀ·scale overflowed {q.dtype}: the inputs are too large; use float64 or rescale")
    if mask is not None:
        target_shape = torch.Size(batch) + (n_q, n_k)
        _check_mask(mask, target_shape)
        scores = scores.expand(target_shape).masked_fill(~mask.to(scores.device), float("-inf"))
    weights = _stable_softmax(scores, dim=-1)
    return weights @ v, weights


# --------------------------------------------------------------------------- attention without the n×n matrix

__all__ += ["blockwise_attention"]


def _mask_block(mask, rows, cols):
    """The block mask[..., rows, cols] of a mask that broadcasts to (..., n_q, n_k); a view, nothing copied.

    mask: at least 2-D. A size-1 query or key axis broadcasts over every block, so it is not sliced.
    """
    block = mask if mask.shape[-2] == 1 else mask[..., rows, :]
    block = block if block.shape[-1] == 1 else block[..., cols]
    return block


def blockwise_attention(q, k, v, mask=None, block_size=128, query_block_size=None, scale=None):
    """softmax(q·kᵀ·scale)·v computed block by block, never holding the (n_q, n_k) matrix.

    q: (..., n_q, d_k)   k: (..., n_k, d_k)   v: (..., n_k, d_v); batch dims broadcast.
    mask: bool, broadcastable to (..., n_q, n_k); True = may attend (as in F.scaled_dot_product_attention).
    block_size: keys per block (>= 1); query_block_size: queries per block (>= 1), default all n_q at once.
    scale: multiplies the scores; defaults to 1/√d_k. Must be finite and >= 0.
    Returns output (..., n_q, d_v) only: the weights are never formed, which is the point.

    For each block of queries, the keys and values are read in blocks of `block_size`, with an online softmax
    (Milakov & Gimelshein 2018; Rabe & Staats 2021 use it to save memory, FlashAttention tiles it): a running
    maximum m and a running sum l of exp(score − m) per query, and a running output rescaled by exp(m_old −
    m_new) whenever the maximum grows. At most (query_block_size, block_size) scores exist at a time: by default
    (n_q, block_size), so the extra memory grows like n, not n²; with query blocks too, only the (n_q, d_v)
    output and running statistics grow with n. The result equals scaled_dot_product_attention's output up to
    rounding. A query whose keys are all masked gets a zero output, never NaN.
    Raises TypeError/ValueError naming the shapes for mismatched or non-finite input.
    """
    batch = _check_qkv(q, k, v)
    block_size = require_int("block_size", block_size, minimum=1)
    n_q, d_k, n_k, d_v = q.shape[-2], q.shape[-1], k.shape[-2], v.shape[-1]
    if query_block_size is None:
        query_block_size = max(n_q, 1)
    query_block_size = require_int("query_block_size", query_block_size, minimum=1)
    scale = 1.0 / math.sqrt(d_k) if scale is None else require_number("scale", scale, non_negative=True)
    target_shape = torch.Size(batch) + (n_q, n_k)
    if mask is not None:
        _check_mask(mask, target_shape)
        mask = mask.to(q.device).reshape((1,) * max(0, 2 - mask.ndim) + tuple(mask.shape))  # at least 2-D
    # Could a score overflow? |q·k| <= ‖q‖·‖k‖; if even that bound is finite, no block needs checking.
    bound = q.norm(dim=-1).amax() * k.norm(dim=-1).amax() * scale
    check_overflow = not torch.isfinite(bound)
    # Flatten the batch dims into one, so every block is one batched matrix product (bmm).
    size = math.prod(batch)
    q_flat = (q * scale).expand(*batch, n_q, d_k).reshape(size, n_q, d_k)  # scale once: (B, n_q, d_k)
    k_flat = k.expand(*batch, n_k, d_k).reshape(size, n_k, d_k)
    v_flat = v.expand(*batch, n_k, d_v).reshape(size, n_k, d_v)
    output = torch.empty(size, n_q, d_v, dtype=q.dtype, device=q.device)
    for q_start in range(0, n_q, query_block_size):
        q_stop = min(q_start + query_block_size, n_q)
        q_block = q_flat[:, q_start:q_stop]  # (B, b_q, d_k)
        rows = q_stop - q_start
        running_max = torch.full((size, rows, 1), float("-inf"), dtype=q.dtype, device=q.device)
        running_sum = torch.zeros(size, rows, 1, dtype=q.dtype, device=q.device)
        acc = torch.zeros(size, rows, d_v, dtype=q.dtype, device=q.device)  # Σ exp(score − m)·v so far
        for start in range(0, n_k, block_size):
            stop = min(start + block_size, n_k)
            scores = torch.bmm(q_block, k_flat[:, start:stop].transpose(1, 2))  # (B, b_q, b_k)
            if check_overflow and torch.isinf(scores).any():
                raise ValueError(f"q·kᵀ·scale overflowed {q.dtype}: the inputs are too large; use float64 or rescale")
            if mask is not None:
                allowed = _mask_block(mask, slice(q_start, q_stop), slice(start, stop))
                allowed = allowed.expand(*batch, rows, stop - start).reshape(size, rows, stop - start)
                scores.masked_fill_(~allowed, float("-inf"))
            new_max = torch.maximum(running_max, scores.amax(dim=-1, keepdim=True))  # (B, b_q, 1)
            shift = new_max
            if mask is not None:  # a row with no allowed key yet has max -inf: shift by 0 instead (exp(-inf) = 0)
                shift = torch.where(torch.isneginf(new_max), torch.zeros_like(new_max), new_max)
            scores.sub_(shift).exp_()  # exp(score − m_new), in place: (B, b_q, b_k)
            correction = torch.exp(running_max - shift)  # exp(m_old − m_new) <= 1; 0 on the first block
            running_sum.mul_(correction).add_(scores.sum(dim=-1, keepdim=True))
            acc.mul_(correction).baddbmm_(scores, v_flat[:, start:stop])
            running_max = new_max
        # A fully masked row has running_sum 0 and acc 0: divide by 1 to give zeros.
        output[:, q_start:q_stop] = acc / torch.where(running_sum == 0, torch.ones_like(running_sum), running_sum)
    return output.reshape(*batch, n_q, d_v)
