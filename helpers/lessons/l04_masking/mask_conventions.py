"""04_masking's two meanings of a bool mask in PyTorch, measured, and the conversions between them.

A bool mask means opposite things in PyTorch's APIs:
    torch.nn.functional.scaled_dot_product_attention(attn_mask=...)   True = this query MAY attend to this key
        (helpers.library.attention and this course use the same convention)
    torch.nn.MultiheadAttention(attn_mask=..., key_padding_mask=...) and nn.Transformer, nn.TransformerEncoder(Layer),
    nn.TransformerDecoder(Layer) (src_mask, tgt_mask, memory_mask, *_key_padding_mask)   True = this key is HIDDEN
A float mask means the same in all of them: it is added to the scores, 0 keeps a key and −∞ hides it.

    hidden_key_mask(mask)         course mask (True = may attend) -> the bool mask nn.MultiheadAttention and
                                  nn.Transformer* take (True = hidden)
    allowed_key_mask(hidden)      the way back: a torch module's bool mask (True = hidden) -> True = may attend
    additive_mask(mask, dtype)    course mask -> float mask, 0 where allowed and −∞ where hidden (any API)
    mask_convention_table(tokens) one causal mask, given as it is, inverted and as a float mask to three PyTorch
                                  APIs, each compared with helpers' own attention under the causal mask
"""

import functools

import torch
import torch.nn.functional as F
from torch import nn

from helpers.lessons.l04_masking.toy_head import D_MODEL, SAME_BELOW, _check_tokens, embed, project
from helpers.library.attention import causal_mask, scaled_dot_product_attention
from helpers.library.layers import MultiHeadAttention, TransformerBlock
from helpers.machinery.threads import one_thread

__all__ = [
    "hidden_key_mask",
    "allowed_key_mask",
    "additive_mask",
    "mask_convention_table",
]


def _require_bool(name, mask, meaning):
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a bool tensor ({meaning}), got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(
            f"{name} must be a bool tensor ({meaning}), got dtype {mask.dtype} of shape {tuple(mask.shape)}"
        )


def hidden_key_mask(mask):
    """The course's mask (True = may attend) as nn.MultiheadAttention and nn.Transformer* want it: True = hidden.

    mask: bool, any shape, e.g. (n_q, n_k) for attn_mask / src_mask / tgt_mask, or a padding mask (B, n_k)
    for key_padding_mask. Returns ~mask, the same shape. (F.scaled_dot_product_attention takes mask itself.)
    """
    _require_bool("mask", mask, "True = may attend")
    return ~mask


def allowed_key_mask(hidden):
    """A torch module's bool mask (True = hidden) in the course's convention: True = may attend.

    hidden: bool, any shape (nn.MultiheadAttention's attn_mask or key_padding_mask, nn.Transformer's src_mask...).
    Returns ~hidden, the same shape: what helpers.library.attention and F.scaled_dot_product_attention take.
    """
    _require_bool("hidden", hidden, "True = hidden, as nn.MultiheadAttention takes it")
    return ~hidden


def additive_mask(mask, dtype=torch.float32):
    """The course's mask (True = may attend) as a float mask: 0 where allowed, −∞ where hidden.

    mask: bool, any shape.   dtype: a floating dtype (that of the scores it is added to).
    Every PyTorch API adds a float mask to the scores, so this one means the same everywhere;
    nn.Transformer.generate_square_subsequent_mask(n) is additive_mask(causal_mask(n)).
    """
    _require_bool("mask", mask, "True = may attend")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch dtype, got {dtype!r}")
    return torch.zeros(mask.shape, dtype=dtype).masked_fill(~mask, float("-inf"))


@functools.cache
def _modules():
    """A 2-head nn.MultiheadAttention and an nn.TransformerEncoderLayer (d_model 16), float64, fixed weights,
    each with helpers' copy of it (MultiHeadAttention.from_torch, TransformerBlock.from_torch).

    Built inside fork_rng: building modules draws initial weights, and the global random state must stay as it was.
    """
    generator = torch.Generator().manual_seed(3)
    with torch.random.fork_rng(devices=()), torch.no_grad():
        attention = nn.MultiheadAttention(D_MODEL, 2, batch_first=True, dtype=torch.float64)
        layer = nn.TransformerEncoderLayer(
            D_MODEL, 2, dim_feedforward=32, dropout=0.0, batch_first=True, dtype=torch.float64
        )
        for parameter in [*attention.parameters(), *layer.parameters()]:
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64) * 0.3)
        attention, layer = attention.eval(), layer.eval()
        return attention, MultiHeadAttention.from_torch(attention), layer, TransformerBlock.from_torch(layer)


def _rows_that_differ(output, reference):
    """How many of the n rows (positions) of output (1, n, d) differ from reference by SAME_BELOW or more (or NaN)."""
    difference = (output - reference).abs().amax(dim=-1).reshape(-1)  # (n,)
    differs = torch.isnan(difference) | (difference >= SAME_BELOW)
    largest = difference.nan_to_num(nan=float("inf")).max().item()
    return int(differs.sum()), largest


@one_thread()
@torch.no_grad()
def mask_convention_table(tokens):
    """The causal mask given to three PyTorch APIs as it is (True = may attend), inverted, and as a float mask.

    tokens: n words of the lesson's vocabulary. Each API runs in float64 on the toy sentence: F.sdpa on the toy
    head's q, k, v; nn.MultiheadAttention and nn.TransformerEncoderLayer (fixed random weights) on its vectors.
    Each output is compared with helpers' own version under causal_mask(n) (scaled_dot_product_attention,
    MultiHeadAttention.from_torch, TransformerBlock.from_torch), whose mask means True = may attend.
    Returns a list of dicts: api, given ("mask", "~mask" or "float mask"), rows_differ (of n), n,
    largest (max |difference|, inf if NaN), same (rows_differ == 0).
    """
    tokens = _check_tokens(tokens)
    n = len(tokens)
    mask = causal_mask(n)  # (n, n), True = may attend
    x = embed(tokens).double()[None]  # (1, n, D_MODEL)
    q, k, v = (t.double() for t in project(embed(tokens)))  # (n, D_K) each
    attention, helpers_attention, layer, helpers_block = _modules()
    givens = {"mask": mask, "~mask": hidden_key_mask(mask), "float mask": additive_mask(mask, torch.float64)}
    apis = {
        "F.scaled_dot_product_attention": (
            lambda m: F.scaled_dot_product_attention(q, k, v, attn_mask=m)[None],
            scaled_dot_product_attention(q, k, v, mask=mask)[0][None],
        ),
        "nn.MultiheadAttention": (
            lambda m: attention(x, x, x, attn_mask=m, need_weights=False)[0],
            helpers_attention(x, mask=mask)[0],
        ),
        "nn.TransformerEncoderLayer": (
            lambda m: layer(x, src_mask=m),
            helpers_block(x, mask=mask),
        ),
    }
    rows = []
    for api, (run, reference) in apis.items():
        for given, m in givens.items():
            rows_differ, largest = _rows_that_differ(run(m), reference)
            row = {"api": api, "given": given, "rows_differ": rows_differ, "n": n, "largest": largest}
            rows.append(row | {"same": rows_differ == 0})
    return rows
