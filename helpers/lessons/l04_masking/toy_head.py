"""04_masking's toy head: one attention head over a small fixed vocabulary, on a sentence or a padded batch.

One random vector per word (the same vector wherever the word sits) and one random projection each for q,
k and v. So a sentence, its padded copy and a copy with one word changed differ exactly where the words differ.

    D_MODEL, D_K                     the width of a token vector (16) and of the head's q, k, v (8)
    PAD, VOCABULARY, SENTENCES       the padding token, the lesson's words (fixed order), its example sentences
    embed(tokens)                    n words -> (n, D_MODEL); B lists of n words -> (B, n, D_MODEL)
    head_weights()                   copies of W_q, W_k, W_v, each (D_MODEL, D_K)
    project(x)                       x (..., n, D_MODEL) -> q, k, v, each (..., n, D_K)
    attend(tokens, mask, placement)  the head, the mask applied as MASK_PLACEMENTS[placement] says:
                                     (output (..., n, D_K), weights (..., n, n))
    one_thread()                     helpers.machinery.threads', re-exported
    SAME_BELOW                       two outputs count as the same when no entry differs by this much
"""

import functools
import math

import torch

from helpers.lessons.l04_masking.mask_placements import MASK_PLACEMENTS
from helpers.library.attention import scaled_dot_product_attention
from helpers.library.checks import require_float_tensor, require_tensor
from helpers.machinery.threads import one_thread

__all__ = [
    "D_MODEL",
    "D_K",
    "PAD",
    "VOCABULARY",
    "SENTENCES",
    "one_thread",
    "SAME_BELOW",
    "embed",
    "head_weights",
    "project",
    "attend",
]


D_MODEL = 16  # width of a token vector
D_K = 8  # width of the head's queries, keys and values
PAD = "[PAD]"
# Outputs are of size ~1: the same sums in another order differ by ~1e-7 per layer in float32 (~1e-15 in float64),
# a different mask changes them by ~0.1. A verdict "same" means no entry differs by SAME_BELOW or more.
SAME_BELOW = 1e-5
# Fixed order: a word's vector depends on its place in this tuple only, never on the sentence.
VOCABULARY = (
    PAD,
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "animal",
    "didn't",
    "cross",
    "street",
    "because",
    "it",
    "was",
    "tired",
    "dog",
    "ran",
)
SENTENCES = {
    "short": ("the", "cat", "sat"),
    "cat": ("the", "cat", "sat", "on", "the", "mat"),
    "animal": ("the", "animal", "didn't", "cross", "the", "street", "because", "it", "was", "tired"),
}


@functools.cache
def _table():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(len(VOCABULARY), D_MODEL, generator=generator)  # (vocabulary, d_model), entries ~ N(0, 1)


@functools.cache
def _head():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(3, D_MODEL, D_K, generator=generator) / math.sqrt(D_MODEL)  # W_q, W_k, W_v


def _check_tokens(tokens, name="tokens"):
    if isinstance(tokens, str) or not isinstance(tokens, (list, tuple)) or not tokens:
        raise TypeError(f"{name} must be a non-empty list of words, got {tokens!r}")
    if not all(isinstance(token, str) for token in tokens):
        raise TypeError(f"{name} must hold strings, got {tokens!r}")
    unknown = sorted({token for token in tokens if token not in VOCABULARY})
    if unknown:
        raise ValueError(f"{name} holds words outside the lesson's vocabulary: {unknown}; known: {list(VOCABULARY)}")
    return list(tokens)


def _is_batch(tokens):
    return isinstance(tokens, (list, tuple)) and bool(tokens) and all(isinstance(t, (list, tuple)) for t in tokens)


def embed(tokens):
    """The vector of each word: one fixed random vector per word of VOCABULARY (entries ~ N(0, 1)).

    tokens: a list of n words -> (n, D_MODEL); or a list of B lists of n words each -> (B, n, D_MODEL).
    """
    if _is_batch(tokens):
        rows = [_check_tokens(sentence, "each sentence") for sentence in tokens]
        lengths = {len(row) for row in rows}
        if len(lengths) != 1:
            raise ValueError(f"a batch needs sentences of one length (pad them first), got lengths {sorted(lengths)}")
        return torch.stack([embed(row) for row in rows])
    tokens = _check_tokens(tokens)
    return _table()[[VOCABULARY.index(token) for token in tokens]]


def head_weights():
    """The toy head's projections W_q, W_k, W_v, each (D_MODEL, D_K), entries ~ N(0, 1/D_MODEL). Copies."""
    return tuple(w.clone() for w in _head())


@one_thread()
def project(x):
    """q = x·W_q, k = x·W_k, v = x·W_v for token vectors x (..., n, D_MODEL). Returns q, k, v (..., n, D_K)."""
    require_float_tensor("x", x)
    if x.ndim < 2 or x.shape[-1] != D_MODEL:
        raise ValueError(f"x must have shape (..., n, {D_MODEL}), got {tuple(x.shape)}")
    w_q, w_k, w_v = _head()
    return x @ w_q, x @ w_k, x @ w_v


def _vectors(tokens):
    if isinstance(tokens, torch.Tensor):
        return tokens
    return embed(tokens)


@one_thread()
def attend(tokens, mask=None, placement="-inf before softmax"):
    """The toy head on a sentence: weights = softmax(q·kᵀ/√d_k) with the mask applied, output = weights·v.

    tokens: n words, a batch of B lists of n words, or token vectors x (..., n, D_MODEL).
    mask: None, or bool broadcastable to (..., n, n); True = may attend (as in F.scaled_dot_product_attention;
    nn.MultiheadAttention reads True as hidden, see mask_conventions).
    placement: how the mask is applied, a key of MASK_PLACEMENTS; the default is helpers.library.attention's
    scaled_dot_product_attention (a query with every key masked gets zeros, never NaN).
    Returns (output (..., n, D_K), weights (..., n, n)).
    """
    x = _vectors(tokens)
    q, k, v = project(x)
    if placement == "-inf before softmax":
        return scaled_dot_product_attention(q, k, v, mask=mask)
    if placement not in MASK_PLACEMENTS:
        raise ValueError(f"placement must be one of {list(MASK_PLACEMENTS)}, got {placement!r}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(D_K)  # (..., n, n)
    if mask is None:
        mask = torch.ones(scores.shape[-2:], dtype=torch.bool)
    _require_bool_mask(mask)
    try:
        mask = mask.expand(scores.shape)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape {tuple(scores.shape)}"
        ) from None
    weights = MASK_PLACEMENTS[placement](scores, mask)
    return weights @ v, weights


def _require_bool_mask(mask):
    require_tensor("mask", mask)
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = may attend), got dtype {mask.dtype}")
