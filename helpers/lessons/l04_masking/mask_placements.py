"""04_masking's ways of applying a mask to attention scores: -inf before softmax, and the usual mistakes.

toy_head.attend(tokens, mask, placement) applies the mask the way its placement names:
    MASK_PLACEMENTS   name -> function(scores (..., n_q, n_k), mask bool broadcastable to it) -> weights
                      (..., n_q, n_k); True = may attend. "-inf before softmax" is the right one; the others
                      ("-1e9 before softmax", "0 before softmax", "0 after softmax", "0 after, renormalised")
                      are measured against it by causal_leakage.mask_placement_table
    NEG_INF           float("-inf"), the score of a masked key
"""

import torch

from helpers.library.attention import softmax

__all__ = [
    "MASK_PLACEMENTS",
]


NEG_INF = float("-inf")


def _zero_after(scores, mask):
    return softmax(scores) * mask  # the masked keys still sit in softmax's denominator


def _zero_after_renormalised(scores, mask):
    weights = _zero_after(scores, mask)
    total = weights.sum(dim=-1, keepdim=True)
    return weights / torch.where(total == 0, torch.ones_like(total), total)


# name -> function(scores (..., n_q, n_k), mask bool broadcastable to it) -> weights (..., n_q, n_k)
MASK_PLACEMENTS = {
    "-inf before softmax": lambda scores, mask: softmax(scores.masked_fill(~mask, NEG_INF)),
    "-1e9 before softmax": lambda scores, mask: softmax(scores.masked_fill(~mask, -1e9)),
    "0 before softmax": lambda scores, mask: softmax(scores.masked_fill(~mask, 0.0)),
    "0 after softmax": _zero_after,
    "0 after, renormalised": _zero_after_renormalised,
}
