"""04_masking's fully masked rows: a query whose every key is masked, NaN in a naive softmax, zeros in ours.

helpers.library.attention gives such a query zeros; the naive version below shows why it has to:
    naive_masked_attention(q, k, v, mask)   masked_fill(~mask, -inf), then torch.softmax: q (..., n_q, d_k),
                                            k (..., n_k, d_k), v (..., n_k, d_v) -> (output (..., n_q, d_v),
                                            weights (..., n_q, n_k)), NaN rows where no key is left
    fully_masked_example(tokens, n)         left padding + causal + padding mask: mask (n, n), q, k, v (n, D_K),
                                            and the queries with no key left
"""

import math

import torch

from helpers.lessons.l04_masking.mask_placements import NEG_INF
from helpers.lessons.l04_masking.padding import left_pad
from helpers.lessons.l04_masking.toy_head import PAD, _require_bool_mask, embed, project
from helpers.library.attention import causal_mask
from helpers.library.checks import require_float_tensor
from helpers.machinery.threads import one_thread

__all__ = [
    "naive_masked_attention",
    "fully_masked_example",
]


@one_thread()
def naive_masked_attention(q, k, v, mask):
    """What most first attempts do: masked_fill(~mask, -inf), then torch.softmax.

    q: (..., n_q, d_k)   k: (..., n_k, d_k)   v: (..., n_k, d_v)   mask: bool, True = may attend.
    A query whose keys are all masked gets softmax of all -inf: 0/0 = NaN weights and a NaN output.
    Returns (output (..., n_q, d_v), weights (..., n_q, n_k)).
    """
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        require_float_tensor(name, tensor)
    _require_bool_mask(mask)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = torch.softmax(scores.masked_fill(~mask, NEG_INF), dim=-1)
    return weights @ v, weights


def fully_masked_example(tokens, n):
    """A sentence left-padded to n under the causal and padding masks: the pads' queries see no key.

    Left padding puts the pads first; the causal mask lets query i see keys 0..i, all pads for
    the first n − len(tokens) queries, and the padding mask hides those: nothing is left.
    Returns a dict: tokens (n words), mask (n, n) bool, q, k, v (n, D_K), fully_masked (list of
    the query positions whose every key is masked).
    """
    tokens = left_pad(tokens, n)
    length = sum(token != PAD for token in tokens)
    keys = torch.arange(n) >= n - length  # (n,): True for the real tokens, which come last
    mask = causal_mask(n) & keys[None, :]
    q, k, v = project(embed(tokens))
    fully = [i for i in range(n) if not mask[i].any()]
    return {"tokens": tokens, "mask": mask, "q": q, "k": k, "v": v, "fully_masked": fully}
