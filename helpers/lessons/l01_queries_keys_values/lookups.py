"""01_queries_keys_values: attention as a soft dictionary lookup, and queries and keys built by hand.

A Python dict finds the one key equal to what you ask for. Attention compares a query q with
every key, turns the scores into weights that sum to 1, and returns the weighted average of
the values: a *soft* lookup. This module holds the pieces lesson 01 builds inline:

    soft_lookup(q, k, v)            one query against a table of keys and values
    lookup_table(keys)              the lesson's small table: four 2-D keys, four 2-D values
    feature_embeddings(tokens)      token vectors made of named, readable features
    hand_built_projections()        W_q, W_k, W_v written by hand: pronouns ask for animate nouns
    self_attention(x, w_q, w_k, w_v)  project, then scaled dot-product attention
    format_matrix, describe_row, diagonal_argmax_fraction: printing and measuring helpers
"""

import math

import torch

from helpers.library.attention import scaled_dot_product_attention, softmax
from helpers.library.checks import require_finite, require_float_tensor, require_number

__all__ = [
    "soft_lookup",
    "LOOKUP_NAMES",
    "lookup_table",
    "FEATURES",
    "KEY_FEATURES",
    "WORD_FEATURES",
    "feature_embeddings",
    "hand_built_projections",
    "self_attention",
    "format_matrix",
    "describe_row",
    "diagonal_argmax_fraction",
]


def _shape(tensor):
    return tuple(tensor.shape)


def soft_lookup(q, k, v, sharpness=1.0):
    """One query looks up a table: weights = softmax(sharpness · k·q), output = weights·v.

    q: (d_k,) one query   k: (n, d_k) one key per row   v: (n, d_v) one value per row.
    sharpness: >= 0 multiplies the scores; 0 gives every key the same weight 1/n, a large
    value puts (almost) all the weight on the best-scoring key: a hard lookup.
    Returns (output (d_v,), weights (n,)); weights are >= 0 and sum to 1.
    """
    for name, tensor, ndim in (("q", q, 1), ("k", k, 2), ("v", v, 2)):
        require_float_tensor(name, tensor)
        if tensor.ndim != ndim:
            expected = {"q": "(d_k,)", "k": "(n, d_k)", "v": "(n, d_v)"}[name]
            raise ValueError(f"{name} must have shape {expected}, got {_shape(tensor)}")
    shapes = f"q {_shape(q)}, k {_shape(k)}, v {_shape(v)}"
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"q, k and v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.shape[0] != k.shape[1]:
        raise ValueError(f"q and k must share d_k (the last dimension): {shapes}")
    if k.shape[0] != v.shape[0]:
        raise ValueError(f"k and v need one row per key, the same number n: {shapes}")
    if k.shape[0] == 0 or q.shape[0] == 0:
        raise ValueError(f"a lookup needs at least one key and d_k >= 1: {shapes}")
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        require_finite(name, tensor)
    sharpness = require_number("sharpness", sharpness, non_negative=True)
    scores = (k @ q) * sharpness  # (n,)
    if not torch.isfinite(scores).all():
        raise ValueError(f"sharpness={sharpness} makes the scores overflow {q.dtype}; use a smaller one")
    weights = softmax(scores, dim=-1)  # (n,)
    return weights @ v, weights


LOOKUP_NAMES = ("A", "B", "C", "D")
_KEY_ANGLES = (0.0, 60.0, 150.0, 240.0)  # degrees
_KEY_LENGTHS = {"equal": (1.0, 1.0, 1.0, 1.0), "long": (1.0, 2.5, 1.0, 1.0)}
_VALUES = ((0.0, 0.0), (4.0, 0.0), (4.0, 3.0), (0.0, 3.0))


def lookup_table(keys="equal"):
    """The lesson's table of four entries A, B, C, D: 2-D keys and 2-D values.

    keys: "equal" (every key has length 1) or "long" (key B has length 2.5, same direction).
    The keys point at 0°, 60°, 150° and 240°; the values are the corners of a 4 × 3 rectangle.
    Returns (names (4 labels), k (4, 2), v (4, 2)), float32.
    """
    if keys not in _KEY_LENGTHS:
        raise ValueError(f"keys must be one of {sorted(_KEY_LENGTHS)}, got {keys!r}")
    angles = torch.tensor(_KEY_ANGLES, dtype=torch.float64) * math.pi / 180
    lengths = torch.tensor(_KEY_LENGTHS[keys], dtype=torch.float64)
    k = torch.stack([angles.cos(), angles.sin()], dim=-1) * lengths[:, None]  # (4, 2)
    k = torch.where(k.abs() < 1e-12, torch.zeros_like(k), k)  # cos 90° etc.: exact zeros, not 6e-17
    return list(LOOKUP_NAMES), k.float(), torch.tensor(_VALUES)


# Each token is described by a few named features, so that its vector can be read.
FEATURES = ("noun", "animate", "verb", "pronoun", "adjective", "function word")
WORD_FEATURES = {
    "the": ("function word",),
    "a": ("function word",),
    "on": ("function word",),
    "by": ("function word",),
    "because": ("function word",),
    "didn't": ("function word",),
    "animal": ("noun", "animate"),
    "cat": ("noun", "animate"),
    "dog": ("noun", "animate"),
    "street": ("noun",),
    "mat": ("noun",),
    "river": ("noun",),
    "bank": ("noun",),
    "cross": ("verb",),
    "sat": ("verb",),
    "was": ("verb",),
    "it": ("pronoun",),
    "she": ("pronoun",),
    "tired": ("adjective",),
    "wide": ("adjective",),
}
# The key space: what a key can advertise and a query can ask for (d_k = 2).
KEY_FEATURES = ("is a noun", "is animate")


def feature_embeddings(tokens):
    """One vector per token: 1 for each feature the word has, 0 elsewhere.

    tokens: list of n words from WORD_FEATURES. Returns x: (n, d_model) float32 with
    d_model = len(FEATURES); column j is FEATURES[j].
    """
    if not isinstance(tokens, (list, tuple)) or not tokens or not all(isinstance(t, str) for t in tokens):
        raise TypeError(f"tokens must be a non-empty list of strings, got {tokens!r}")
    unknown = sorted({t for t in tokens if t not in WORD_FEATURES})
    if unknown:
        raise ValueError(f"no features for {unknown}; known words: {', '.join(sorted(WORD_FEATURES))}")
    x = torch.zeros(len(tokens), len(FEATURES))
    for i, token in enumerate(tokens):
        for feature in WORD_FEATURES[token]:
            x[i, FEATURES.index(feature)] = 1.0
    return x


def hand_built_projections(strength=3.0):
    """W_q, W_k, W_v written by hand for feature_embeddings' vectors.

    Keys advertise (W_k): a noun says "is a noun", an animate word says "is animate".
    Queries ask (W_q): a pronoun asks for an animate noun (strength, strength); a verb asks
    for a noun (strength, 0); every other word asks nothing (a zero query).
    Values (W_v) pass the features through unchanged, so an output can be read feature by feature.
    strength: >= 0, how loudly the queries ask.
    Returns w_q (d_model, d_k), w_k (d_model, d_k), w_v (d_model, d_model); d_model = 6, d_k = 2.
    """
    strength = require_number("strength", strength, non_negative=True)
    d_model, d_k = len(FEATURES), len(KEY_FEATURES)
    row = FEATURES.index
    w_k = torch.zeros(d_model, d_k)
    w_k[row("noun"), 0] = 1.0
    w_k[row("animate"), 1] = 1.0
    w_q = torch.zeros(d_model, d_k)
    w_q[row("pronoun")] = torch.tensor([strength, strength])
    w_q[row("verb")] = torch.tensor([strength, 0.0])
    w_v = torch.eye(d_model)
    return w_q, w_k, w_v


def self_attention(x, w_q, w_k, w_v):
    """Self-attention of a sequence with itself: q = x·W_q, k = x·W_k, v = x·W_v, then
    softmax(q·kᵀ/√d_k)·v.

    x: (..., n, d_model)   w_q, w_k: (d_model, d_k)   w_v: (d_model, d_v).
    Returns (output (..., n, d_v), weights (..., n, n)).
    """
    require_float_tensor("x", x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., n, d_model), got {_shape(x)}")
    for name, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v)):
        require_float_tensor(name, w)
        if w.ndim != 2 or w.shape[0] != x.shape[-1]:
            raise ValueError(f"{name} must have shape (d_model={x.shape[-1]}, d), got {_shape(w)} for x {_shape(x)}")
    if w_q.shape[1] != w_k.shape[1]:
        raise ValueError(f"w_q and w_k must give the same d_k: w_q {_shape(w_q)}, w_k {_shape(w_k)}")
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)


def format_matrix(matrix, row_labels, col_labels, digits=2):
    """A 2-D tensor as an aligned text table with row and column labels, numbers rounded.

    matrix: (n_rows, n_cols). Returns a str (print it).
    """
    require_float_tensor("matrix", matrix)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D (n_rows, n_cols), got shape {_shape(matrix)}")
    n_rows, n_cols = matrix.shape
    if len(row_labels) != n_rows or len(col_labels) != n_cols:
        raise ValueError(
            f"{len(row_labels)} row labels and {len(col_labels)} column labels for a matrix of shape {_shape(matrix)}"
        )
    cells = [[f"{value:.{digits}f}" for value in row] for row in matrix.tolist()]
    cells = [[c if c.strip("-0.") else c.lstrip("-") for c in row] for row in cells]  # no "-0.00"
    label_width = max(len(str(label)) for label in row_labels)
    widths = [max(len(str(label)), *(len(row[j]) for row in cells)) for j, label in enumerate(col_labels)]
    lines = [" " * label_width + "  " + "  ".join(str(c).rjust(w) for c, w in zip(col_labels, widths, strict=True))]
    for label, row in zip(row_labels, cells, strict=True):
        lines.append(
            str(label).ljust(label_width) + "  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
        )
    return "\n".join(lines)


def describe_row(weights, tokens, top=3):
    """The `top` largest weights of one query, as "animal 0.81, street 0.10, the 0.01".

    weights: (n,) one row of an attention map; tokens: n labels. Ties keep the earlier token first.
    """
    require_float_tensor("weights", weights)
    if weights.ndim != 1 or len(tokens) != weights.shape[0]:
        raise ValueError(
            f"weights must be (n,) with one token per entry: weights {_shape(weights)}, {len(tokens)} tokens"
        )
    order = sorted(range(len(tokens)), key=lambda i: (-float(weights[i]), i))[:top]
    return ", ".join(f"{tokens[i]} {float(weights[i]):.2f}" for i in order)


def diagonal_argmax_fraction(weights):
    """Fraction of queries whose largest weight is on their own key (the diagonal).

    weights: (..., n, n). Returns a float in [0, 1].
    """
    require_float_tensor("weights", weights)
    if weights.ndim < 2 or weights.shape[-1] != weights.shape[-2] or weights.shape[-1] == 0:
        raise ValueError(f"weights must be square (..., n, n), got shape {_shape(weights)}")
    n = weights.shape[-1]
    return (weights.argmax(dim=-1) == torch.arange(n)).float().mean().item()
