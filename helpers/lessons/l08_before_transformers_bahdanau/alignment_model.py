"""Bahdanau, Cho & Bengio's alignment model (2014): how a decoder state scores every source annotation.

At each target step i the model scores every source position j with a(s_{i-1}, h_j) = vᵀ tanh(W s_{i-1} + U h_j),
turns the scores into weights with a softmax over the source positions, and reads the context vector
c_i = Σ_j weights_ij h_j. The decoder's state s plays the part of the query, the annotations h the part of the
keys and the values.

    additive_scores(s, h, W, U, v)   vᵀ tanh(W s + U h_j) for every source position j: (..., n) (pure function)
    dot_product_scores(s, h, W, U)   (W s)·(U h_j) / √d_a, the transformer's scoring with the same projections
    context_vector(weights, h)       Σ_j weights_j h_j: (..., n), (..., n, d_enc) -> (..., d_enc)
    BahdanauAttention                the alignment model as an nn.Module: scoring "additive" or "dot";
                                     s (B, d_dec), h (B, n, d_enc) -> (context (B, d_enc), weights (B, n))

Names: B sequences in a batch, n source positions, d_dec the decoder state's size, d_enc the annotations' size,
d_a the alignment model's size.
"""

import math

import torch
from torch import nn

from helpers.library.checks import require_float_tensor, require_int

__all__ = [
    "additive_scores",
    "dot_product_scores",
    "context_vector",
    "BahdanauAttention",
]


def _check_alignment_inputs(s, h, W, U):
    for name, tensor in (("s", s), ("h", h), ("W", W), ("U", U)):
        require_float_tensor(name, tensor)
    shapes = f"s {tuple(s.shape)}, h {tuple(h.shape)}, W {tuple(W.shape)}, U {tuple(U.shape)}"
    if s.ndim < 1 or h.ndim < 2 or W.ndim != 2 or U.ndim != 2:
        raise ValueError(f"expected s (..., d_dec), h (..., n, d_enc), W (d_a, d_dec), U (d_a, d_enc): {shapes}")
    if W.shape[1] != s.shape[-1]:
        raise ValueError(f"W must be (d_a, d_dec) with d_dec = s.shape[-1]: {shapes}")
    if U.shape[1] != h.shape[-1]:
        raise ValueError(f"U must be (d_a, d_enc) with d_enc = h.shape[-1]: {shapes}")
    if W.shape[0] != U.shape[0]:
        raise ValueError(f"W and U must share d_a (their first dimension): {shapes}")
    if h.shape[-2] == 0:
        raise ValueError(f"h needs at least one source position: {shapes}")
    if s.shape[:-1] != h.shape[:-2]:
        raise ValueError(f"s and h must share their batch dimensions (one decoder state per source): {shapes}")


def additive_scores(s, h, W, U, v):
    """Bahdanau's alignment model: scores_j = vᵀ tanh(W s + U h_j) for every source position j.

    s: (..., d_dec) decoder state(s)   h: (..., n, d_enc) annotations   W: (d_a, d_dec)   U: (d_a, d_enc)
    v: (d_a,). Returns scores (..., n). A one-hidden-layer network (d_a tanh units) on [s; h_j].
    """
    _check_alignment_inputs(s, h, W, U)
    require_float_tensor("v", v)
    if v.shape != (W.shape[0],):
        raise ValueError(f"v must be (d_a,) = ({W.shape[0]},), got shape {tuple(v.shape)}")
    hidden = torch.tanh((s @ W.T)[..., None, :] + h @ U.T)  # (..., n, d_a)
    return hidden @ v  # (..., n)


def dot_product_scores(s, h, W, U):
    """The transformer's scoring with the same projections: scores_j = (W s)·(U h_j) / √d_a.

    s: (..., d_dec)   h: (..., n, d_enc)   W: (d_a, d_dec)   U: (d_a, d_enc). Returns scores (..., n).
    """
    _check_alignment_inputs(s, h, W, U)
    q = s @ W.T  # (..., d_a): the query
    k = h @ U.T  # (..., n, d_a): one key per source position
    return (k @ q[..., None])[..., 0] / math.sqrt(W.shape[0])


def context_vector(weights, h):
    """c = Σ_j weights_j h_j: the annotations averaged with the alignment weights.

    weights: (..., n), each row summing to 1   h: (..., n, d_enc). Returns (..., d_enc).
    """
    require_float_tensor("weights", weights)
    require_float_tensor("h", h)
    if h.ndim < 2 or weights.shape != h.shape[:-1]:
        raise ValueError(
            f"weights must be (..., n) and h (..., n, d_enc) with the same n and batch dimensions, "
            f"got weights {tuple(weights.shape)}, h {tuple(h.shape)}"
        )
    return (weights[..., None, :] @ h)[..., 0, :]


class BahdanauAttention(nn.Module):
    """The alignment model and the context vector, for one decoder step of a batch.

    scoring "additive": scores_j = vᵀ tanh(W s + U h_j) (Bahdanau et al.);
    scoring "dot": scores_j = (W s)·(U h_j) / √d_a (the same W and U, no v and no tanh).
    W: nn.Linear(d_dec, d_a, bias=False)   U: nn.Linear(d_enc, d_a)   v: nn.Linear(d_a, 1, bias=False).
    """

    def __init__(self, d_dec, d_enc, d_a, scoring="additive"):
        super().__init__()
        if scoring not in ("additive", "dot"):
            raise ValueError(f"scoring must be 'additive' or 'dot', got {scoring!r}")
        self.scoring = scoring
        self.d_a = require_int("d_a", d_a, minimum=1)
        self.W = nn.Linear(require_int("d_dec", d_dec, minimum=1), d_a, bias=False)
        self.U = nn.Linear(require_int("d_enc", d_enc, minimum=1), d_a)
        self.v = nn.Linear(d_a, 1, bias=False) if scoring == "additive" else None

    def keys(self, h):
        """U h_j for every position, computed once per source sentence: (B, n, d_enc) -> (B, n, d_a)."""
        return self.U(h)

    def forward(self, s, h, keys=None):
        """s: (B, d_dec)   h: (B, n, d_enc)   keys: U h (B, n, d_a), or None to compute it.

        Returns (context (B, d_enc), weights (B, n)).
        """
        keys = self.keys(h) if keys is None else keys
        query = self.W(s)  # (B, d_a)
        if self.scoring == "additive":
            scores = torch.tanh(query[:, None, :] + keys) @ self.v.weight[0]  # (B, n)
        else:
            scores = (keys @ query[:, :, None])[:, :, 0] / math.sqrt(self.d_a)  # (B, n)
        weights = torch.softmax(scores, dim=-1)
        return (weights[:, None, :] @ h)[:, 0, :], weights
