"""04_masking's causal leakage: does output[t] change when a later token s changes, for each mask and placement?

Each change is measured by replacing one word and rerunning the head; an exact 0 means no leak:
    REPLACEMENT                       "changing token s" means putting this word at position s
    influence_matrix(tokens, mask, replacement, placement)   (n, n) float64: [t, s] = max |Δ output[t]|
                                      when token s is replaced
    leakage_table(tokens)             per position t: the largest change from a later token, without a mask
                                      and with the causal mask (n dicts)
    mask_placement_table(tokens)      a causal mask applied each way of MASK_PLACEMENTS: hidden weight, row
                                      sums, leak, difference from -inf before softmax (one dict per way)
"""

from helpers.lessons.l04_masking.mask_placements import MASK_PLACEMENTS
from helpers.lessons.l04_masking.toy_head import PAD, VOCABULARY, _check_tokens, _require_bool_mask, attend, embed
from helpers.library.attention import causal_mask

__all__ = [
    "REPLACEMENT",
    "influence_matrix",
    "leakage_table",
    "mask_placement_table",
]


REPLACEMENT = "dog"  # "changing token s" means putting this word at position s


def _other_word(token, replacement):
    return replacement if token != replacement else next(w for w in VOCABULARY if w not in (PAD, token))


def influence_matrix(tokens, mask=None, replacement=REPLACEMENT, placement="-inf before softmax"):
    """Does output[t] change when token s changes? For every pair (t, s).

    tokens: n words.   mask: None or bool (n, n).   replacement: the word put at position s (if the
    word there already is `replacement`, another word is used).   placement: see MASK_PLACEMENTS.
    Returns (n, n) float64: entry [t, s] = max |output'[t] − output[t]| when token s is replaced.
    """
    tokens = _check_tokens(tokens)
    _check_tokens([replacement], "replacement")
    n = len(tokens)
    if mask is not None:
        _require_bool_mask(mask)
        if mask.shape != (n, n):
            raise ValueError(f"mask must have shape ({n}, {n}) for {n} tokens, got {tuple(mask.shape)}")
    sentences = [tokens]  # the sentence itself, then one copy per position s with token s replaced
    for s in range(n):
        altered = list(tokens)
        altered[s] = _other_word(tokens[s], replacement)
        sentences.append(altered)
    # One batched call for all n + 1 sentences: every row is computed the same way, so an output that
    # does not depend on token s comes out bit for bit equal, and its change is exactly 0.
    outputs, _ = attend(embed(sentences), mask=mask, placement=placement)  # (n + 1, n, D_K)
    change = (outputs[1:] - outputs[0]).abs().amax(dim=-1)  # (n sentences s, n outputs t)
    return change.T.double()


def _later_max(influence):
    """Per row t, the largest influence of a later position s > t; None for the last row."""
    n = influence.shape[0]
    return [influence[t, t + 1 :].max().item() if t < n - 1 else None for t in range(n)]


def leakage_table(tokens, replacement=REPLACEMENT):
    """For each position t: the largest change of output[t] when one later token changes.

    Returns a list of n dicts: position, token, later (how many tokens come after t),
    no_mask and causal (floats; None for the last position, which has no later token).
    """
    tokens = _check_tokens(tokens)
    n = len(tokens)
    none = _later_max(influence_matrix(tokens, None, replacement))
    causal = _later_max(influence_matrix(tokens, causal_mask(n), replacement))
    return [
        {"position": t, "token": tokens[t], "later": n - 1 - t, "no_mask": none[t], "causal": causal[t]}
        for t in range(n)
    ]


def mask_placement_table(tokens, replacement=REPLACEMENT):
    """Each way of applying a causal mask, measured on one sentence.

    Returns a list of dicts, one per MASK_PLACEMENTS entry: placement; hidden_weight = the largest
    weight on a masked key; min_row_sum, max_row_sum; leak = the largest change of an output[t]
    when a later token changes; difference = max |output − output with -inf before softmax|.
    """
    tokens = _check_tokens(tokens)
    n = len(tokens)
    mask = causal_mask(n)
    reference, _ = attend(tokens, mask=mask)
    rows = []
    for placement in MASK_PLACEMENTS:
        output, weights = attend(tokens, mask=mask, placement=placement)
        sums = weights.sum(dim=-1)
        leak = [
            value for value in _later_max(influence_matrix(tokens, mask, replacement, placement)) if value is not None
        ]
        rows.append(
            {
                "placement": placement,
                "hidden_weight": weights[~mask].max().item(),
                "min_row_sum": sums.min().item(),
                "max_row_sum": sums.max().item(),
                "leak": max(leak),
                "difference": (output - reference).abs().max().item(),
            }
        )
    return rows
