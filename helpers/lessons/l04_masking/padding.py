"""04_masking's padding: [PAD] tokens, the padding mask, and how far unmasked pads move the real tokens.

A batch needs sentences of one length; the pads must then be hidden from every query:
    pad(tokens, n), left_pad(tokens, n)   n words: [PAD] appended (right padding) or put first (left padding)
    padded_batch(sentences, n)            B sentences as one batch: tokens (B lists of n words),
                                          x (B, n, D_MODEL), mask (B, n) and key_mask (B, 1, n) bool
    MASK_KINDS, sentence_mask(kind, n, length)   no mask / padding / causal for one padded sentence:
                                          (n, n) bool, or None for "none"
    padding_experiment(tokens, pad_counts)   per number of pads: max |Δ output| of the real tokens without
                                          and with the padding mask, and the weight on the pads
    pad_content_change(tokens, pads, seed)   random pad vectors: (no_mask, padding_mask) max |Δ output|
    batch_vs_alone(sentences)             a padded batch against each sentence alone, one dict per sentence
"""

import functools

import torch

from helpers.lessons.l04_masking.toy_head import D_MODEL, PAD, _check_tokens, attend, embed
from helpers.library.attention import causal_mask, padding_mask
from helpers.library.checks import require_int, require_int_list
from helpers.machinery.threads import one_thread

__all__ = [
    "MASK_KINDS",
    "pad",
    "left_pad",
    "padded_batch",
    "sentence_mask",
    "padding_experiment",
    "pad_content_change",
    "batch_vs_alone",
]


MASK_KINDS = ("none", "padding", "causal")


def pad(tokens, n):
    """tokens followed by [PAD] up to length n (right padding). Raises ValueError if len(tokens) > n."""
    tokens = _check_tokens(tokens)
    n = require_int("n", n, minimum=1)
    if len(tokens) > n:
        raise ValueError(f"cannot pad {len(tokens)} tokens to n={n}: n must be >= the sentence's length")
    return tokens + [PAD] * (n - len(tokens))


def left_pad(tokens, n):
    """[PAD] up to length n, then tokens (left padding, used to batch prompts for generation)."""
    tokens = _check_tokens(tokens)
    n = require_int("n", n, minimum=1)
    if len(tokens) > n:
        raise ValueError(f"cannot pad {len(tokens)} tokens to n={n}: n must be >= the sentence's length")
    return [PAD] * (n - len(tokens)) + tokens


def padded_batch(sentences, n=None):
    """Sentences of different lengths as one batch: each padded on the right with [PAD] to length n.

    sentences: a dict name -> words, or a list of word lists.   n: defaults to the longest sentence.
    Returns a dict: names (B), tokens (B lists of n words), lengths (B ints), x (B, n, D_MODEL),
    mask (B, n) bool, True for real tokens (helpers.library.attention.padding_mask), and
    key_mask (B, 1, n): the same mask with a query axis, so it hides the pads from every query.
    """
    if isinstance(sentences, dict):
        names, rows = list(sentences), list(sentences.values())
    elif isinstance(sentences, (list, tuple)) and sentences:
        names, rows = list(range(len(sentences))), list(sentences)
    else:
        raise TypeError(f"sentences must be a dict or a non-empty list of word lists, got {sentences!r}")
    if not rows:
        raise ValueError("sentences is empty: give at least one sentence")
    rows = [_check_tokens(row, "each sentence") for row in rows]
    lengths = [len(row) for row in rows]
    n = max(lengths) if n is None else require_int("n", n, minimum=1)
    tokens = [pad(row, n) for row in rows]
    mask = padding_mask(lengths, n)  # (B, n)
    return {
        "names": names,
        "tokens": tokens,
        "lengths": lengths,
        "x": embed(tokens),
        "mask": mask,
        "key_mask": mask[:, None, :],
    }


@one_thread()
def sentence_mask(kind, n, length=None):
    """The mask of one sentence of `length` real tokens padded to n: (n, n) bool, or None for "none".

    kind: "none" (every key allowed), "padding" (the pads are hidden from every query) or
    "causal" (query i sees keys 0..i, and no pad: a decoder needs both).
    """
    if kind not in MASK_KINDS:
        raise ValueError(f"kind must be one of {list(MASK_KINDS)}, got {kind!r}")
    n = require_int("n", n, minimum=1)
    length = n if length is None else require_int("length", length, minimum=0)
    if length > n:
        raise ValueError(f"length={length} must be <= n={n}")
    if kind == "none":
        return None
    keys = padding_mask([length], n)[0]  # (n,): True for the real tokens
    allowed = keys[None, :].expand(n, n)  # (n, n): the same keys for every query
    return allowed & causal_mask(n) if kind == "causal" else allowed.clone()


def padding_experiment(tokens, pad_counts):
    """How much the real tokens' outputs move when pads are added, without and with the padding mask.

    tokens: n words.   pad_counts: numbers of [PAD] to append, e.g. [0, 1, 2, 4, 8].
    Returns a dict of float64 tensors (len(pad_counts),) and the list of counts:
    pads; no_mask and padding_mask = max |output of the real tokens, padded − output alone|;
    pad_share = the weight the real tokens' queries put on the pads (mean over those queries), unmasked.
    """
    tokens = _check_tokens(tokens)
    counts = require_int_list("pad_counts", pad_counts, minimum=0, what="pad count")
    n_real = len(tokens)
    alone, _ = attend(tokens)  # (n_real, D_K)
    no_mask, masked, share = [], [], []
    for count in counts:
        padded = pad(tokens, n_real + count)
        out_none, weights_none = attend(padded)
        out_masked, _ = attend(padded, mask=sentence_mask("padding", n_real + count, n_real))
        no_mask.append((out_none[:n_real] - alone).abs().max().item())
        masked.append((out_masked[:n_real] - alone).abs().max().item())
        share.append(weights_none[:n_real, n_real:].sum(dim=-1).mean().item())
    as_tensor = functools.partial(torch.tensor, dtype=torch.float64)
    return {
        "pads": counts,
        "no_mask": as_tensor(no_mask),
        "padding_mask": as_tensor(masked),
        "pad_share": as_tensor(share),
    }


def pad_content_change(tokens, pads=4, seed=0):
    """Replace the pads' vectors by random ones: how much do the real tokens' outputs move?

    Returns (no_mask, padding_mask): max |Δ output| over the real tokens, without and with the mask.
    """
    tokens = _check_tokens(tokens)
    pads = require_int("pads", pads, minimum=1)
    n_real = len(tokens)
    n = n_real + pads
    x = embed(pad(tokens, n))  # (n, D_MODEL)
    other = x.clone()
    other[n_real:] = torch.randn(pads, D_MODEL, generator=torch.Generator().manual_seed(require_int("seed", seed, 0)))
    mask = sentence_mask("padding", n, n_real)
    changes = []
    for m in (None, mask):
        before, _ = attend(x, mask=m)
        after, _ = attend(other, mask=m)
        changes.append((after[:n_real] - before[:n_real]).abs().max().item())
    return tuple(changes)


def batch_vs_alone(sentences):
    """Run a padded batch through the head, and each sentence alone: do the real tokens agree?

    sentences: a dict name -> words. Returns a list of dicts (one per sentence): name, length, pads,
    no_mask and padding_mask = max |batch output of its real tokens − its output alone|.
    """
    batch = padded_batch(sentences)
    out_none, _ = attend(batch["x"])  # (B, n, D_K)
    out_masked, _ = attend(batch["x"], mask=batch["key_mask"])
    n = batch["x"].shape[1]
    rows = []
    for b, (name, length) in enumerate(zip(batch["names"], batch["lengths"], strict=True)):
        alone, _ = attend(batch["tokens"][b][:length])
        rows.append(
            {
                "name": name,
                "length": length,
                "pads": n - length,
                "no_mask": (out_none[b, :length] - alone).abs().max().item(),
                "padding_mask": (out_masked[b, :length] - alone).abs().max().item(),
            }
        )
    return rows
