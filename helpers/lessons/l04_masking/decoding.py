"""04_masking's decoding, one token at a time: with the causal mask, earlier outputs never change.

A generator sees only the tokens made so far; one causal pass over the sentence must give the same rows:
    decoding_steps(tokens, mask)   at step t only tokens 0..t−1 exist: n pairs (output (t, D_K), weights (t, t))
    decoding_table(tokens)         per step: the earlier outputs that change, without and with the causal
                                   mask, and the causal steps against one masked pass (n dicts)
"""

import torch

from helpers.lessons.l04_masking.toy_head import D_K, _check_tokens, attend
from helpers.library.attention import causal_mask

__all__ = [
    "decoding_steps",
    "decoding_table",
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
