"""04_masking's decoding, one token at a time: with the causal mask, earlier outputs never change.

A generator sees only the tokens made so far; one causal pass over the sentence must give the same rows:
    decoding_steps(tokens, mask)   at step t only tokens 0..t−1 exist: n pairs (output (t, D_K), weights (t, t))
    decoding_table(tokens)         per step: the earlier outputs that change, without and with the causal
                                   mask, and the causal steps against one masked pass (n dicts)
In one layer the newest token's output needs no mask (its row of the causal mask is all True). In a stack it does:
    decoder_weights(n_layers)      W_q, W_k, W_v of each layer of a stack of heads: layer 1 is the toy head
    stacked_heads(tokens, n_layers, mask)   each layer's outputs, layer l + 1 attending over layer l's outputs
    newest_output_by_depth(tokens, depths)  per depth, over every decoding step: the newest token's output
                                   without vs with the causal mask, and causal step by step vs one pass
"""

import functools
import math

import torch

from helpers.lessons.l04_masking.toy_head import D_K, SAME_BELOW, _check_tokens, attend, head_weights
from helpers.library.attention import causal_mask, scaled_dot_product_attention
from helpers.library.checks import require_int
from helpers.machinery.threads import one_thread

__all__ = [
    "decoding_steps",
    "decoding_table",
    "decoder_weights",
    "stacked_heads",
    "newest_output_by_depth",
]


def decoding_steps(tokens, mask="causal"):
    """Decoding as a generator does it: at step t only tokens 0..t−1 exist; attend over them.

    tokens: n words.   mask: "causal" or "none" (applied within the prefix).
    Returns a list of n (output (t, D_K), weights (t, t)) pairs, for t = 1..n.
    """
    tokens = _check_tokens(tokens)
    if mask not in ("causal", "none"):
        raise ValueError(f"mask must be 'causal' or 'none', got {mask!r}")
    steps = []
    for t in range(1, len(tokens) + 1):
        allowed = causal_mask(t) if mask == "causal" else None
        steps.append(attend(tokens[:t], mask=allowed))
    return steps


def _changed_rows(before, after, atol=1e-6):
    """How many rows of `after` (its first len(before) rows) differ from `before`, and by how much at most."""
    if before.shape[0] == 0:
        return 0, 0.0
    change = (after[: before.shape[0]] - before).abs().amax(dim=-1)
    return int((change > atol).sum()), change.max().item()


def decoding_table(tokens):
    """Step by step decoding against one masked pass over the whole sentence.

    Returns a list of n dicts, one per step t = 1..n: step, token (the newest), earlier (t − 1);
    changed_none, max_change_none: how many earlier outputs change at this step without a mask, and the
    largest change; changed_causal: the same with the causal mask; newest_none_vs_causal: max |newest
    output without mask − with mask|; causal_vs_full: max |outputs so far − the same rows of one causal pass
    over the whole sentence|.
    """
    tokens = _check_tokens(tokens)
    full, _ = attend(tokens, mask=causal_mask(len(tokens)))
    none, causal = decoding_steps(tokens, "none"), decoding_steps(tokens, "causal")
    rows = []
    for i, t in enumerate(range(1, len(tokens) + 1)):
        previous_none = none[i - 1][0] if i else torch.zeros(0, D_K)
        previous_causal = causal[i - 1][0] if i else torch.zeros(0, D_K)
        changed_none, max_none = _changed_rows(previous_none, none[i][0])
        changed_causal, _ = _changed_rows(previous_causal, causal[i][0])
        rows.append(
            {
                "step": t,
                "token": tokens[t - 1],
                "earlier": t - 1,
                "changed_none": changed_none,
                "max_change_none": max_none,
                "changed_causal": changed_causal,
                "newest_none_vs_causal": (none[i][0][-1] - causal[i][0][-1]).abs().max().item(),
                "causal_vs_full": (causal[i][0] - full[:t]).abs().max().item(),
            }
        )
    return rows


@functools.cache
def _upper_head(layer):
    """Layer `layer` (>= 2) of the stack: its own fixed random W_q, W_k, W_v, each (D_K, D_K), entries ~ N(0, 1/D_K)."""
    generator = torch.Generator().manual_seed(100 + layer)
    return torch.randn(3, D_K, D_K, generator=generator) / math.sqrt(D_K)


def decoder_weights(n_layers):
    """The stack's projections, bottom layer first: a list of n_layers (W_q, W_k, W_v) triples (copies).

    Layer 1 is the lesson's toy head, each (D_MODEL, D_K); every layer above has its own, each (D_K, D_K).
    """
    n_layers = require_int("n_layers", n_layers, minimum=1)
    return [head_weights()] + [tuple(w.clone() for w in _upper_head(layer)) for layer in range(2, n_layers + 1)]


@one_thread()
def stacked_heads(tokens, n_layers, mask=None):
    """A decoder reduced to its attention: n_layers heads, layer l + 1 reading layer l's outputs at every position.

    tokens: n words.   n_layers: >= 1.   mask: None or bool broadcastable to (n, n), True = may attend, used by
    every layer. Layer 1 is `attend` (the toy head); layer l >= 2 projects the outputs (n, D_K) of layer l − 1
    with decoder_weights(n_layers)[l − 1]. A residual path or a feed-forward sublayer would act on each position
    alone, so it would not change which positions a layer reads.
    Returns a list of n_layers outputs, each (n, D_K), bottom layer first.
    """
    tokens = _check_tokens(tokens)
    n_layers = require_int("n_layers", n_layers, minimum=1)
    outputs = [attend(tokens, mask=mask)[0]]  # (n, D_K)
    for layer in range(2, n_layers + 1):
        w_q, w_k, w_v = _upper_head(layer)
        below = outputs[-1]
        outputs.append(scaled_dot_product_attention(below @ w_q, below @ w_k, below @ w_v, mask=mask)[0])
    return outputs


def newest_output_by_depth(tokens, depths=(1, 2, 3)):
    """Does the newest token's output need the causal mask? Per number of layers, over every decoding step.

    tokens: n words.   depths: numbers of layers, each >= 1.
    At step t only tokens 0..t−1 exist; the stack runs over them without a mask and with the causal mask.
    Returns a list of dicts, one per depth: layers; newest (max over the steps of |newest token's top output
    without mask − with the causal mask|); newest_same (newest < SAME_BELOW); causal_vs_full (max over the
    steps of |causal top outputs so far − the same rows of one causal pass over the whole sentence|);
    causal_same (causal_vs_full < SAME_BELOW).
    """
    tokens = _check_tokens(tokens)
    if isinstance(depths, int) or not depths:
        raise TypeError(f"depths must be a non-empty list of numbers of layers, got {depths!r}")
    depths = [require_int("each depth", depth, minimum=1) for depth in depths]
    n = len(tokens)
    deepest = max(depths)  # layer l of a deeper stack is layer l of every stack: run the deepest one only
    full = stacked_heads(tokens, deepest, mask=causal_mask(n))  # one causal pass: deepest outputs (n, D_K)
    newest, causal_vs_full = [0.0] * deepest, [0.0] * deepest
    for t in range(1, n + 1):
        prefix = tokens[:t]
        none = stacked_heads(prefix, deepest)
        causal = stacked_heads(prefix, deepest, mask=causal_mask(t))
        for layer in range(deepest):
            newest[layer] = max(newest[layer], (none[layer][-1] - causal[layer][-1]).abs().max().item())
            step_vs_full = (causal[layer] - full[layer][:t]).abs().max().item()
            causal_vs_full[layer] = max(causal_vs_full[layer], step_vs_full)
    return [
        {
            "layers": n_layers,
            "newest": newest[n_layers - 1],
            "newest_same": newest[n_layers - 1] < SAME_BELOW,
            "causal_vs_full": causal_vs_full[n_layers - 1],
            "causal_same": causal_vs_full[n_layers - 1] < SAME_BELOW,
        }
        for n_layers in depths
    ]
