"""08_before_transformers_bahdanau's exercises: the additive score, the context vector, additive scores
for every pair, the sequential steps of the decoder against self-attention's one product, and cross-attention
(queries from the decoder, keys and values from the encoder)."""

import math

import torch

from helpers.lessons.l08_before_transformers_bahdanau.alignment_model import additive_scores
from helpers.lessons.l08_before_transformers_bahdanau.costs import count_decoder_steps
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import reversal_batch
from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import Seq2Seq
from helpers.library.attention import scaled_dot_product_attention
from helpers.machinery.answers import close
from helpers.machinery.exercise_checking import PLACEHOLDER_ADVICE, call_learner, checker, report

__all__ = [
    "check_additive_score",
    "check_context",
    "check_all_pairs",
    "check_sequential_steps",
    "check_cross_attention",
]


def _error_hint(error, advice):
    """The learner's error, with advice."""
    return f"{error}; {advice}"


def _failed_run(fn, label, error, advice):
    """The result line for a learner function that raised: the untouched placeholder gets a plainer one."""
    if error.startswith("NotImplementedError"):
        return (f"{getattr(fn, '__name__', 'your function')} is written", False, PLACEHOLDER_ADVICE)
    return (f"{label}: runs", False, _error_hint(error, advice))


def _as_tensor(value):
    return value if isinstance(value, torch.Tensor) else None


def _alignment_case(seed, n=5, d_dec=3, d_enc=4, d_a=6):
    """One decoder state and its annotations, with sizes all different so a transposed matrix fails."""
    generator = torch.Generator().manual_seed(seed)
    s = torch.randn(d_dec, generator=generator, dtype=torch.float64)
    h = torch.randn(n, d_enc, generator=generator, dtype=torch.float64)
    W = torch.randn(d_a, d_dec, generator=generator, dtype=torch.float64)
    U = torch.randn(d_a, d_enc, generator=generator, dtype=torch.float64)
    v = torch.randn(d_a, generator=generator, dtype=torch.float64)
    return s, h, W, U, v


# --------------------------------------------------------------------------- exercise 1

SCORE_HINT = "W @ s is (d_a,), h @ U.T is (n, d_a): add them (broadcasting), tanh, then multiply by v"


@checker
def check_additive_score(fn):
    """Exercise 1: fn(s, h, W, U, v) -> scores (n,) = vᵀ tanh(W s + U h_j) for one decoder state s."""
    title = "Exercise 1: Bahdanau's additive score"
    results = []
    cases = [_alignment_case(0), _alignment_case(1, n=1), _alignment_case(2, n=7, d_a=1)]
    for index, (s, h, W, U, v) in enumerate(cases):
        n = h.shape[0]
        label = f"case {index + 1} (n={n}, d_dec={s.shape[0]}, d_enc={h.shape[1]}, d_a={W.shape[0]})"
        value, error = call_learner(fn, s.clone(), h.clone(), W.clone(), U.clone(), v.clone())
        if error is not None:
            results.append(_failed_run(fn, label, error, SCORE_HINT))
            break
        scores = _as_tensor(value)
        if scores is None or scores.shape != (n,):
            got = tuple(scores.shape) if scores is not None else type(value).__name__
            results.append((f"{label}: returns a tensor of shape ({n},)", False, f"got {got}; one score per j"))
            break
        expected = additive_scores(s, h, W, U, v)
        hint = SCORE_HINT
        no_tanh = (W @ s + h @ U.T) @ v
        if close(scores.double(), torch.softmax(expected, -1)):
            hint = "these are the weights (after the softmax); return the scores, before it"
        elif close(scores.double(), no_tanh):
            hint = "apply tanh to W s + U h_j before multiplying by v: without it the score is linear"
        ok = close(scores.double(), expected, atol=1e-6)
        results.append((f"{label}: scores match vᵀ tanh(W s + U h_j)", ok, hint))
        if not ok:
            break
    return report(title, results)


# --------------------------------------------------------------------------- exercise 2

CONTEXT_HINT = "weights = torch.softmax(scores, dim=-1); context = weights @ h (a weighted average of the rows of h)"


@checker
def check_context(fn):
    """Exercise 2: fn(scores (n,), h (n, d_enc)) -> (context (d_enc,), weights (n,))."""
    title = "Exercise 2: alignment weights and the context vector"
    results = []
    generator = torch.Generator().manual_seed(3)
    h = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    cases = [
        ("random scores", torch.randn(5, generator=generator, dtype=torch.float64), h),
        ("one source position", torch.tensor([0.7], dtype=torch.float64), h[:1]),
        ("scores around 1000", torch.tensor([1000.0, 999.0, 0.0, -5.0, 1000.0], dtype=torch.float64), h),
    ]
    for label, scores, annotations in cases:
        value, error = call_learner(fn, scores.clone(), annotations.clone())
        if error is not None:
            results.append(_failed_run(fn, label, error, CONTEXT_HINT))
            break
        if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(x, torch.Tensor) for x in value)):
            results.append((f"{label}: returns (context, weights)", False, "return two tensors: context, weights"))
            break
        context, weights = value
        n, d_enc = annotations.shape
        if context.shape != (d_enc,) or weights.shape != (n,):
            got = f"context {tuple(context.shape)}, weights {tuple(weights.shape)}"
            results.append((f"{label}: shapes context ({d_enc},), weights ({n},)", False, f"got {got}"))
            break
        expected_weights = torch.softmax(scores, dim=-1)
        expected_context = expected_weights @ annotations
        finite = bool(torch.isfinite(weights).all() and torch.isfinite(context).all())
        if not finite:
            results.append(
                (f"{label}: no NaN or inf", False, "exp(1000) overflows: use torch.softmax, or subtract the max first")
            )
            break
        weights_ok = close(weights.double(), expected_weights, atol=1e-6)
        hint = CONTEXT_HINT
        if abs(float(weights.double().sum()) - 1) > 1e-6:
            hint = "the weights must sum to 1 over the source positions: a softmax of the scores"
        results.append((f"{label}: weights = softmax(scores)", weights_ok, hint))
        if not weights_ok:
            break
        context_ok = close(context.double(), expected_context, atol=1e-6)
        hint = CONTEXT_HINT
        if close(context.double(), annotations.mean(dim=0), atol=1e-6):
            hint = "that is the plain mean of h; weight each row h_j by weights_j"
        results.append((f"{label}: context = Σ_j weights_j h_j", context_ok, hint))
        if not context_ok:
            break
    return report(title, results)


# --------------------------------------------------------------------------- exercise 3

PAIRS_HINT = "q[:, None, :] + k[None, :, :] is (n_q, n_k, d_a): every query beside every key; tanh, then @ v"


@checker
def check_all_pairs(fn):
    """Exercise 3: fn(q (n_q, d_a), k (n_k, d_a), v (d_a,)) -> scores (n_q, n_k) = vᵀ tanh(q_i + k_j)."""
    title = "Exercise 3: additive scores for every query and every key"
    results = []
    generator = torch.Generator().manual_seed(4)
    cases = [(3, 5, 4), (1, 1, 2), (6, 2, 3)]
    for n_q, n_k, d_a in cases:
        q = torch.randn(n_q, d_a, generator=generator, dtype=torch.float64)
        k = torch.randn(n_k, d_a, generator=generator, dtype=torch.float64)
        v = torch.randn(d_a, generator=generator, dtype=torch.float64)
        label = f"n_q={n_q}, n_k={n_k}, d_a={d_a}"
        value, error = call_learner(fn, q.clone(), k.clone(), v.clone())
        if error is not None:
            results.append(_failed_run(fn, label, error, PAIRS_HINT))
            break
        scores = _as_tensor(value)
        if scores is None or scores.shape != (n_q, n_k):
            got = tuple(scores.shape) if scores is not None else type(value).__name__
            results.append((f"{label}: shape ({n_q}, {n_k})", False, f"got {got}; one row per query. {PAIRS_HINT}"))
            break
        expected = torch.tanh(q[:, None, :] + k[None, :, :]) @ v
        hint = PAIRS_HINT
        if n_k == n_q and close(scores.double(), (q @ k.T) / math.sqrt(d_a)):
            hint = "that is the (scaled) dot product q·kᵀ; the additive score is vᵀ tanh(q_i + k_j)"
        elif close(scores.double(), (q[:, None, :] + k[None, :, :]) @ v):
            hint = "apply tanh to q_i + k_j before multiplying by v"
        ok = close(scores.double(), expected, atol=1e-6)
        results.append((f"{label}: scores[i, j] = vᵀ tanh(q_i + k_j)", ok, hint))
        if not ok:
            break
    return report(title, results)


# --------------------------------------------------------------------------- exercise 4


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool)


# answers that count more than q @ kᵀ: the projections x W_q, x W_k (2, or 3 with q @ kᵀ), x W_v too (4), and the
# weighted sum weights @ v (5)
PROJECTION_COUNTS = (2, 3, 4, 5)


@checker
def check_sequential_steps(decoder_steps, score_products, batch_size=8, n=5, m=15):
    """Exercise 4: how many decoder steps to write m letters for each of `batch_size` sources of n letters,
    and how many matrix products turn projected q, k (B, n, d_k) into the scores of all positions (the whole
    batch): exactly 1, the projections that made q and k not counted."""
    title = "Exercise 4: sequential steps, RNN decoder against self-attention"
    results = []
    results.append(("decoder_steps is a whole number", _is_count(decoder_steps), "write an int, e.g. 5"))
    results.append(("score_products is a whole number", _is_count(score_products), "write an int, e.g. 5"))
    if not all(ok for _, ok, _ in results):
        return report(title, results)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = Seq2Seq("additive")
    source, _ = reversal_batch(batch_size, n, torch.Generator().manual_seed(0))
    measured = count_decoder_steps(model, source, m=m)
    hint = "the decoder writes one letter per step, and each step needs the state of the step before"
    if decoder_steps == n:
        hint = f"the decoder runs once per letter it writes ({m} here), not once per source letter"
    elif decoder_steps in (batch_size * m, batch_size * n):
        hint = f"the {batch_size} sources of the batch go through each step side by side, in one call"
    elif decoder_steps == n * m:
        hint = "each step scores all n source positions at once; count the steps, not the scores"
    elif decoder_steps == n + m:
        hint = "count the decoder's steps only (the encoder's loop is another one)"
    results.append((f"decoder_steps: the GRU cell runs {measured} times (counted)", decoder_steps == measured, hint))
    hint = "q @ kᵀ gives every query's scores against every key in one (batched) matrix product"
    if score_products in PROJECTION_COUNTS:
        hint = (
            f"{score_products} counts more than the scores: the projections x W_q, x W_k (x W_v), or the product"
            " with v; the question starts from q and k already projected and stops at the scores"
        )
    elif score_products > 1:
        hint = (
            "one product per query is what the RNN decoder does; self-attention stacks all the queries, and a "
            "batched matrix product (B, n, d_k) @ (B, d_k, n) does the whole batch at once"
        )
    elif score_products < 1:
        hint = "the scores are computed, not free: one product q @ kᵀ at least"
    results.append(("score_products: one batched product q @ kᵀ (projections not counted)", score_products == 1, hint))
    return report(title, results)


# --------------------------------------------------------------------------- exercise 5

CROSS_HINT = (
    "q = s @ w_q.T (the decoder's states ask), k = h @ w_k.T and v = h @ w_v.T (the encoder's answer); "
    "weights = softmax(q @ k.T / √d_k) over the source positions (dim=-1); output = weights @ v"
)


def _cross_case(seed, m, n, d_dec=5, d_enc=6, d_k=3, d_v=4):
    """Decoder states s (m, d_dec), encoder states h (n, d_enc) and the projections; every size different."""
    generator = torch.Generator().manual_seed(seed)
    tensors = [(m, d_dec), (n, d_enc), (d_k, d_dec), (d_k, d_enc), (d_v, d_enc)]
    return [torch.randn(*shape, generator=generator, dtype=torch.float64) for shape in tensors]


def _cross_hint(weights, q, k):
    """A hint naming a typical mistake, from what the learner's weights equal."""
    d_k = q.shape[-1]
    if weights.shape == (q.shape[0], k.shape[0]):
        if close(weights, torch.softmax(q @ k.T, dim=-1)):
            return "divide the scores by √d_k before the softmax (lesson 02)"
        if close(weights, torch.softmax(q @ k.T / math.sqrt(d_k), dim=0)):
            return "take the softmax over the source positions (dim=-1): each decoder step's row sums to 1"
        if close(weights, q @ k.T / math.sqrt(d_k)):
            return "these are the scores: turn them into weights with a softmax over the source positions"
    return CROSS_HINT


@checker
def check_cross_attention(fn):
    """Exercise 5: fn(s (m, d_dec), h (n, d_enc), w_q, w_k, w_v) -> (output (m, d_v), weights (m, n)):
    one head of cross-attention, queries from the decoder's states s, keys and values from the encoder's h."""
    title = "Exercise 5: cross-attention, queries from the decoder, keys and values from the encoder"
    results = []
    for index, (m, n) in enumerate([(4, 6), (1, 5), (7, 3)]):
        s, h, w_q, w_k, w_v = _cross_case(10 + index, m, n)
        label = f"case {index + 1} (m={m} decoder steps, n={n} source positions)"
        value, error = call_learner(fn, s.clone(), h.clone(), w_q.clone(), w_k.clone(), w_v.clone())
        if error is not None:
            advice = CROSS_HINT
            if "shapes cannot be multiplied" in error or "size of tensor" in error:
                advice = "w_q (d_k, d_dec) reads the decoder's s, w_k and w_v (·, d_enc) read the encoder's h"
            results.append(_failed_run(fn, label, error, advice))
            break
        if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(x, torch.Tensor) for x in value)):
            results.append((f"{label}: returns (output, weights)", False, "return two tensors: output, weights"))
            break
        output, weights = value
        d_v = w_v.shape[0]
        if output.shape != (m, d_v) or weights.shape != (m, n):
            got = f"output {tuple(output.shape)}, weights {tuple(weights.shape)}"
            hint = f"got {got}; one row per decoder step (query), one column per source position (key)"
            if weights.shape == (n, m):
                hint = f"got {got}: the queries come from the decoder's states s, the keys from the encoder's h"
            results.append((f"{label}: shapes output ({m}, {d_v}), weights ({m}, {n})", False, hint))
            break
        q, k, v = s @ w_q.T, h @ w_k.T, h @ w_v.T
        expected_output, expected_weights = scaled_dot_product_attention(q, k, v)
        ok = close(weights.double(), expected_weights, atol=1e-6)
        ok = ok and close(output.double(), expected_output, atol=1e-6)
        results.append(
            (f"{label}: matches the library's scaled_dot_product_attention", ok, _cross_hint(weights.double(), q, k))
        )
        if not ok:
            break
    return report(title, results)
