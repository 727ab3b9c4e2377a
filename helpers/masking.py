"""04_masking: which keys each query may read, and what goes wrong without a mask.

The lesson's attention is one toy head over a small fixed vocabulary: one random vector per word
(the same vector wherever the word sits) and one random projection each for q, k and v. So a
sentence, its padded copy and a copy with one word changed differ exactly where the words differ.

    embed(tokens), attend(tokens, mask)               the toy head on a sentence or a padded batch
    pad(tokens, n), left_pad(tokens, n), padded_batch(sentences)   [PAD] tokens and the padding mask
    sentence_mask(kind, n, length)                    no mask / padding / causal, for one padded sentence
    padding_experiment(tokens, pad_counts)            how far padding moves the real tokens' outputs
    pad_content_change(tokens, pads), batch_vs_alone(sentences)   the pads' content, and a whole batch
    influence_matrix(tokens, mask), leakage_table(tokens)   does output[t] change when token s changes?
    MASK_PLACEMENTS, mask_placement_table(tokens)     -inf before softmax against 0 after, and others
    naive_masked_attention(q, k, v, mask)             masked_fill(-inf) then torch.softmax: NaN rows
    fully_masked_example(tokens, n)                   left padding + causal: queries with no key left
    decoding_steps(tokens, mask), decoding_table(tokens)   one token at a time, against one masked pass
    NextTokenModel, train_next_token_model, cheating_experiment   a model that copies the answer
    copies_the_answer(...), stays_honest(...)         the verdicts per seed, with thresholds named here
    format_* (tables as text) and plot_influence (a figure on a given Axes)
    one_thread(), Adam                                helpers.threads' and helpers.optim's, re-exported
"""

import functools
import math
import statistics

import matplotlib
import numpy as np
import torch
from torch import nn

from helpers._checks import require_float_tensor, require_int, require_tensor
from helpers.attention import causal_mask, padding_mask, scaled_dot_product_attention, softmax
from helpers.optim import Adam
from helpers.plotting import MASKED_COLOR
from helpers.threads import one_thread

__all__ = [
    "D_MODEL",
    "D_K",
    "PAD",
    "VOCABULARY",
    "SENTENCES",
    "REPLACEMENT",
    "MASK_KINDS",
    "one_thread",
    "embed",
    "head_weights",
    "project",
    "attend",
    "pad",
    "left_pad",
    "padded_batch",
    "sentence_mask",
    "padding_experiment",
    "pad_content_change",
    "batch_vs_alone",
    "influence_matrix",
    "leakage_table",
    "MASK_PLACEMENTS",
    "mask_placement_table",
    "naive_masked_attention",
    "fully_masked_example",
    "decoding_steps",
    "decoding_table",
    "NextTokenModel",
    "Adam",
    "train_next_token_model",
    "CHEATING_SEEDS",
    "COPIES",
    "NEAR_CHANCE",
    "copies_the_answer",
    "stays_honest",
    "next_token_accuracy",
    "weight_on_next_token",
    "cheating_experiment",
    "format_padding_table",
    "format_leakage_table",
    "format_placement_table",
    "format_decoding_table",
    "format_cheating_table",
    "plot_influence",
]

D_MODEL = 16  # width of a token vector
D_K = 8  # width of the head's queries, keys and values
PAD = "[PAD]"
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
REPLACEMENT = "dog"  # "changing token s" means putting this word at position s
MASK_KINDS = ("none", "padding", "causal")
NEG_INF = float("-inf")


# --------------------------------------------------------------------------- the toy head


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
    mask: None, or bool broadcastable to (..., n, n); True = may attend.
    placement: how the mask is applied, a key of MASK_PLACEMENTS; the default is helpers.attention's
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


# --------------------------------------------------------------------------- padding


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
    mask (B, n) bool, True for real tokens (helpers.attention.padding_mask), and
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


def _require_counts(pad_counts):
    if isinstance(pad_counts, (str, bytes)) or not hasattr(pad_counts, "__iter__"):
        raise TypeError(f"pad_counts must be a list of ints, got {pad_counts!r}")
    counts = [require_int("each pad count", count, minimum=0) for count in pad_counts]
    if not counts:
        raise ValueError("pad_counts is empty: give at least one number of pads")
    return counts


def padding_experiment(tokens, pad_counts):
    """How much the real tokens' outputs move when pads are added, without and with the padding mask.

    tokens: n words.   pad_counts: numbers of [PAD] to append, e.g. [0, 1, 2, 4, 8].
    Returns a dict of float64 tensors (len(pad_counts),) and the list of counts:
    pads; no_mask and padding_mask = max |output of the real tokens, padded − output alone|;
    pad_share = the weight the real tokens' queries put on the pads (mean over those queries), unmasked.
    """
    tokens = _check_tokens(tokens)
    counts = _require_counts(pad_counts)
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


# --------------------------------------------------------------------------- causal masks and leakage


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


# --------------------------------------------------------------------------- where the mask goes


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


# --------------------------------------------------------------------------- fully masked rows


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


# --------------------------------------------------------------------------- decoding, one token at a time


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


# --------------------------------------------------------------------------- a model that copies the answer


class NextTokenModel(nn.Module):
    """The smallest next-token predictor: embedding + learned positions, one attention head, a read-out.

    tokens (B, n) ints in [0, vocab) -> logits (B, n, vocab): at position t, scores for token t+1.
    causal: True applies the causal mask (position t sees tokens 0..t), False lets it see all n.
    """

    def __init__(self, vocab=16, n=12, d_model=32, causal=True, seed=0):
        super().__init__()
        self.vocab = require_int("vocab", vocab, minimum=2)
        self.n = require_int("n", n, minimum=2)
        d_model = require_int("d_model", d_model, minimum=1)
        if not isinstance(causal, bool):
            raise TypeError(f"causal must be True or False, got {causal!r}")
        self.causal = causal
        generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
        self.token_embedding = nn.Parameter(torch.randn(self.vocab, d_model, generator=generator))
        self.position_embedding = nn.Parameter(torch.randn(self.n, d_model, generator=generator) * 0.5)
        self.w_q, self.w_k, self.w_v = (
            nn.Parameter(torch.randn(d_model, d_model, generator=generator) / math.sqrt(d_model)) for _ in range(3)
        )
        self.readout = nn.Parameter(torch.randn(d_model, self.vocab, generator=generator) / math.sqrt(d_model))

    def forward(self, tokens):
        """tokens (B, m) with m <= n. Returns (logits (B, m, vocab), weights (B, m, m))."""
        require_tensor("tokens", tokens)
        if tokens.dtype not in (torch.int64, torch.int32) or tokens.ndim != 2:
            raise TypeError(f"tokens must be an integer tensor (B, m), got {tokens.dtype} {tuple(tokens.shape)}")
        m = tokens.shape[1]
        if not 1 <= m <= self.n:
            raise ValueError(f"tokens has {m} positions; this model reads 1 to {self.n}")
        if tokens.min() < 0 or tokens.max() >= self.vocab:
            raise ValueError(f"tokens must lie in [0, {self.vocab}), got {tokens.min().item()}..{tokens.max().item()}")
        x = self.token_embedding[tokens] + self.position_embedding[:m]  # (B, m, d_model)
        mask = causal_mask(m) if self.causal else None
        output, weights = scaled_dot_product_attention(x @ self.w_q, x @ self.w_k, x @ self.w_v, mask=mask)
        return output @ self.readout, weights


def _next_token_loss(model, tokens):
    logits, _ = model(tokens)  # (B, n, vocab)
    return nn.functional.cross_entropy(logits[:, :-1].reshape(-1, model.vocab), tokens[:, 1:].reshape(-1))


def train_next_token_model(causal, steps=60, batch=64, vocab=16, n=12, lr=0.01, seed=0):
    """Train a NextTokenModel to predict token t+1 at each position t, on uniformly random tokens.

    Random tokens cannot be predicted: the best honest accuracy is 1/vocab. Each step draws a fresh
    batch (B, n), so nothing can be memorised. Returns (model, losses: list of `steps` floats).
    """
    steps = require_int("steps", steps, minimum=1)
    batch = require_int("batch", batch, minimum=1)
    model = NextTokenModel(vocab=vocab, n=n, causal=causal, seed=seed)
    optimizer = Adam(model.parameters(), lr=lr, recipe="textbook")
    generator = torch.Generator().manual_seed(seed + 1)
    losses = []
    with one_thread():
        for _ in range(steps):
            tokens = torch.randint(model.vocab, (batch, model.n), generator=generator)
            loss = _next_token_loss(model, tokens)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return model, losses


@torch.no_grad()
def next_token_accuracy(model, tokens, step_by_step=False):
    """The fraction of positions t < n−1 where the model's top score is token t+1.

    tokens: (B, n) ints.   step_by_step=False: one pass over the whole sequence, as in training.
    step_by_step=True: as in generation, position t is read from a pass over tokens 0..t only.
    """
    if not isinstance(step_by_step, bool):
        raise TypeError(f"step_by_step must be True or False, got {step_by_step!r}")
    logits, _ = model(tokens)
    n = tokens.shape[1]
    if step_by_step:
        predictions = torch.stack([model(tokens[:, : t + 1])[0][:, -1].argmax(-1) for t in range(n - 1)], dim=1)
    else:
        predictions = logits[:, :-1].argmax(-1)  # (B, n−1)
    return (predictions == tokens[:, 1:]).double().mean().item()


@torch.no_grad()
def weight_on_next_token(model, tokens):
    """Mean attention weight that position t puts on position t+1 (the answer), over t < n−1 and the batch."""
    _, weights = model(tokens)  # (B, n, n)
    return weights.diagonal(offset=1, dim1=-2, dim2=-1).mean().item()


CHEATING_SEEDS = tuple(range(5))  # the copying experiment trains one pair of models (no mask, causal) per seed
COPIES = 0.9  # "copies the answer": right at 90 % of the positions or more with the future visible ...
NEAR_CHANCE = 0.05  # ... and within 5 points of chance step by step, where the answer is absent


def copies_the_answer(training_accuracy, generation_accuracy, chance, copies=COPIES, near=NEAR_CHANCE):
    """True if a model reads the answer: right at `copies` or more with the future visible, and within
    `near` of chance step by step, where the answer is absent."""
    return training_accuracy >= copies and abs(generation_accuracy - chance) <= near


def stays_honest(training_accuracy, generation_accuracy, chance, near=NEAR_CHANCE):
    """True if a model scores the same both ways and within `near` of chance: it cannot read the answer."""
    return training_accuracy == generation_accuracy and abs(training_accuracy - chance) <= near


def cheating_experiment(steps=40, vocab=16, n=12, seeds=CHEATING_SEEDS, test_batch=256):
    """Train the same next-token model without and with the causal mask on random tokens, one pair per
    seed, and measure every model on the same test sequences.

    Returns a dict: chance = 1/vocab, seeds, and per mask ("no mask", "causal mask") a dict of lists with
    one entry per seed: models, losses, final_loss, training_accuracy (one pass, the future visible if
    unmasked), generation_accuracy (step by step, the future absent), next_weight (weight_on_next_token);
    and model, the first seed's model (for a figure). Also copies (how many unmasked models copy the
    answer, copies_the_answer) and honest (how many masked models stay honest, stays_honest).
    """
    seeds = [require_int("each seed", seed, minimum=0) for seed in seeds]
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    test = torch.randint(
        vocab, (require_int("test_batch", test_batch, 1), n), generator=torch.Generator().manual_seed(99)
    )
    results = {"chance": 1.0 / vocab, "seeds": seeds}
    for name, causal in (("no mask", False), ("causal mask", True)):
        entry = {key: [] for key in ("models", "losses", "final_loss", "training_accuracy", "generation_accuracy")}
        entry["next_weight"] = []
        for seed in seeds:  # a model this small trains in a tenth of a second; stacking them would not be faster
            model, losses = train_next_token_model(causal, steps=steps, vocab=vocab, n=n, seed=seed)
            with one_thread():
                entry["models"].append(model)
                entry["losses"].append(losses)
                entry["final_loss"].append(losses[-1])
                entry["training_accuracy"].append(next_token_accuracy(model, test))
                entry["generation_accuracy"].append(next_token_accuracy(model, test, step_by_step=True))
                entry["next_weight"].append(weight_on_next_token(model, test))
        entry["model"] = entry["models"][0]
        results[name] = entry
    chance, unmasked, masked = results["chance"], results["no mask"], results["causal mask"]
    results["copies"] = sum(
        copies_the_answer(training, generation, chance)
        for training, generation in zip(unmasked["training_accuracy"], unmasked["generation_accuracy"], strict=True)
    )
    results["honest"] = sum(
        stays_honest(training, generation, chance)
        for training, generation in zip(masked["training_accuracy"], masked["generation_accuracy"], strict=True)
    )
    return results


# --------------------------------------------------------------------------- tables as text


def _fmt(value, digits=4):
    return "—" if value is None else f"{value:.{digits}f}"


def format_padding_table(result):
    """padding_experiment's result as text: one line per number of pads."""
    lines = ["pads | weight on pads | max change, no mask | max change, padding mask"]
    for i, count in enumerate(result["pads"]):
        lines.append(
            f"{count:4d} | {result['pad_share'][i]:14.3f} | {result['no_mask'][i]:19.4f} | "
            f"{result['padding_mask'][i]:24.4f}"
        )
    return "\n".join(lines)


def format_leakage_table(rows):
    """leakage_table's rows as text."""
    width = max(len(row["token"]) for row in rows)
    lines = [f"t | {'token':{width}s} | later tokens | no mask: max change | causal mask: max change"]
    for row in rows:
        lines.append(
            f"{row['position']} | {row['token']:{width}s} | {row['later']:12d} | {_fmt(row['no_mask']):>19s} | "
            f"{_fmt(row['causal']):>23s}"
        )
    return "\n".join(lines)


def format_placement_table(rows):
    """mask_placement_table's rows as text."""
    width = max(len(row["placement"]) for row in rows)
    lines = [f"{'where the mask goes':{width}s} | max hidden weight | row sums      | leak   | vs -inf before"]
    for row in rows:
        sums = f"{row['min_row_sum']:.3f}..{row['max_row_sum']:.3f}"
        lines.append(
            f"{row['placement']:{width}s} | {row['hidden_weight']:17.4f} | {sums:13s} | {row['leak']:.4f} | "
            f"{row['difference']:.4f}"
        )
    return "\n".join(lines)


def format_decoding_table(rows):
    """decoding_table's rows as text."""
    width = max(len(row["token"]) for row in rows)
    lines = [
        f"step | {'new token':{max(width, 9)}s} | no mask: earlier outputs changed | causal: changed | "
        "causal vs one pass"
    ]
    for row in rows:
        changed = f"{row['changed_none']} of {row['earlier']}"
        if row["changed_none"]:
            changed += f" (by up to {row['max_change_none']:.3f})"
        lines.append(
            f"{row['step']:4d} | {row['token']:{max(width, 9)}s} | {changed:32s} | "
            f"{str(row['changed_causal']) + ' of ' + str(row['earlier']):15s} | {row['causal_vs_full']:.4f}"
        )
    newest = max(row["newest_none_vs_causal"] for row in rows)
    lines.append(f"the newest token's output, no mask vs causal mask: largest difference over all steps {newest:.4f}")
    return "\n".join(lines)


def _spread(values, show):
    """'0.95 (0.92–0.97)': the median and, in brackets, the lowest and the highest value."""
    return f"{show(statistics.median(values))} ({show(min(values))}–{show(max(values))})"


def format_cheating_table(results):
    """cheating_experiment's result as text: per mask, the median over the seeds and the range, then the
    verdicts counted over the seeds."""
    chance, count = results["chance"], len(results["seeds"])

    def percent(value):
        return f"{100 * value:.0f}%"

    def two(value):
        return f"{value:.2f}"

    lines = [
        f"chance (1/vocab): {percent(chance)}; {count} seeds, each number the median (lowest–highest)",
        "model       | final loss       | accuracy, future visible | accuracy, step by step | weight on t+1",
    ]
    for name in ("no mask", "causal mask"):
        r = results[name]
        lines.append(
            f"{name:11s} | {_spread(r['final_loss'], two):16s} | {_spread(r['training_accuracy'], percent):>24s} | "
            f"{_spread(r['generation_accuracy'], percent):>22s} | {_spread(r['next_weight'], two)}"
        )
    lines += [
        f"no mask, copies the answer ({percent(COPIES)} or more with the future visible, within "
        f"{100 * NEAR_CHANCE:.0f} points of chance step by step): {results['copies']} of {count} seeds",
        f"causal mask, stays honest (the same both ways, within {100 * NEAR_CHANCE:.0f} points of chance): "
        f"{results['honest']} of {count} seeds",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- figures


def plot_influence(influence, tokens, ax, title="max |change of output[t]| when token s changes", vmax=None):
    """influence_matrix as a heatmap (rows: output t, columns: changed token s); exact zeros drawn grey.

    vmax: the top of the colour scale (give two maps the same one to compare them). Returns ax;
    the heatmap is ax.images[-1], its data a masked array whose masked cells are the exact zeros.
    """
    values = influence.detach().cpu().numpy() if isinstance(influence, torch.Tensor) else np.asarray(influence)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or len(tokens) != values.shape[0]:
        raise ValueError(f"influence must be (n, n) with n = len(tokens) = {len(tokens)}, got {values.shape}")
    n = values.shape[0]
    cmap = matplotlib.colormaps["cividis"].with_extremes(bad=MASKED_COLOR)
    shown = np.ma.masked_array(values, mask=values == 0)
    image = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
    labels = [f"{i} {token}" for i, token in enumerate(tokens)]
    ax.set_xticks(range(n), labels=labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels=labels, fontsize=8)
    ax.set_xlabel("token s that is changed")
    ax.set_ylabel("output t")
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="max |change|")
    return ax
