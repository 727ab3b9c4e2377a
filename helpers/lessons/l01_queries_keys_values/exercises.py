"""01_queries_keys_values' exercises: a soft lookup, a query that asks, a key that shouts, self-attention."""

import math

import torch

from helpers.lessons.l01_queries_keys_values.lookups import (
    KEY_FEATURES,
    describe_row,
    feature_embeddings,
    hand_built_projections,
    lookup_table,
    self_attention,
    soft_lookup,
)
from helpers.machinery.answers import close
from helpers.machinery.exercise_checking import call_learner, checker, report
from helpers.machinery.toy_data import SENTENCES

__all__ = ["check_soft_lookup", "check_inanimate_query", "check_long_key", "check_self_attention"]


def _close(value, expected, atol=1e-4):
    """True if `value` is a finite tensor shaped like `expected` and equal to it up to rounding."""
    return (
        isinstance(value, torch.Tensor)
        and value.shape == expected.shape
        and value.is_floating_point()
        and bool(torch.isfinite(value).all())
        and close(value.to(expected.dtype), expected, atol=atol, rtol=1e-4)
    )


def _shape_of(value):
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


def _two_numbers(value):
    """The learner's answer as a float32 (2,) tensor, or None if it is not two finite numbers."""
    if value is None or isinstance(value, (str, bool)):
        return None
    try:
        tensor = torch.as_tensor(value, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        return None
    if tensor.shape != (2,) or not torch.isfinite(tensor).all():
        return None
    return tensor


def _soft_lookup_cases():
    """(description, q, k, v) cases; the last one has scores up to 100 (exp overflows float32 there)."""
    names, k, v = lookup_table()
    generator = torch.Generator().manual_seed(1)
    k_random, q_random = torch.randn(5, 3, generator=generator), torch.randn(3, generator=generator)
    v_random = torch.randn(5, 2, generator=generator)
    return [
        ("the table A–D, query pointing at A", torch.tensor([1.0, 0.0]), k, v),
        ("random q, k, v with n=5, d_k=3, d_v=2", q_random, k_random, v_random),
        ("a table with a single key", torch.tensor([0.3, -0.2]), k[:1], v[:1]),
        ("a long query (scores up to 100)", torch.tensor([100.0, 0.0]), k, v),
    ]


def _soft_lookup_hint(value, q, k, v):
    """Guess what went wrong from the learner's output."""
    scores = k @ q
    if _close(value, scores @ v):
        return "turn the scores into weights with softmax before mixing the values"
    if _close(value, torch.softmax(scores / math.sqrt(q.shape[0]), dim=-1) @ v):
        return "this lookup has no 1/√d_k: the query's length alone sets how sharp it is"
    if _close(value, v[scores.argmax()]):
        return "that is a hard lookup (argmax); mix every value with its softmax weight"
    if not torch.isfinite(torch.as_tensor(value)).all():
        return "exp(100) overflows float32: subtract the largest score before exp, or use torch.softmax"
    return "scores = k @ q, weights = torch.softmax(scores, dim=-1), output = weights @ v"


@checker
def check_soft_lookup(fn):
    """Exercise 1: fn(q, k, v) -> output (d_v,), the soft lookup of one query q (d_k,) in k (n, d_k), v (n, d_v)."""
    results = []
    for description, q, k, v in _soft_lookup_cases():
        value, error = call_learner(fn, q.clone(), k.clone(), v.clone())
        expected, _ = soft_lookup(q, k, v)
        if error is not None:
            results.append((f"{description}: runs", False, error))
            break
        if not isinstance(value, torch.Tensor) or value.shape != expected.shape:
            hint = (
                "return weights @ v (one mixed value), not the weights"
                if isinstance(value, torch.Tensor) and value.shape == (k.shape[0],)
                else "return weights @ v: a tensor of shape (d_v,)"
            )
            if isinstance(value, torch.Tensor) and value.shape == (k.shape[1],) and k.shape[1] != v.shape[1]:
                hint = "mix the values v, not the keys k"
            results.append(
                (f"{description}: output has shape {tuple(expected.shape)}, got {_shape_of(value)}", False, hint)
            )
            continue
        results.append(
            (
                f"{description}: output matches helpers.lessons.l01_queries_keys_values.lookups.soft_lookup",
                _close(value, expected),
                _soft_lookup_hint(value, q, k, v),
            )
        )
    return report("Exercise 1: a soft lookup", results)


def _cross_weights(q):
    """Weights of the token 'cross' in the 'animal' sentence, with the learner's query q (2,)."""
    tokens = SENTENCES["animal"]
    x = feature_embeddings(tokens)
    _, w_k, _ = hand_built_projections()
    k = x @ w_k  # (n, d_k)
    _, weights = soft_lookup(q, k, x, sharpness=1 / math.sqrt(k.shape[-1]))  # scores / √d_k, as in attention
    return tokens, weights


@checker
def check_inanimate_query(q, threshold=0.8):
    """Exercise 2: a query (2 numbers, one per KEY_FEATURES) with which 'cross' attends to 'street' > threshold."""
    results = []
    tensor = _two_numbers(q)
    results.append(
        (
            f"q is two numbers, one per key feature {KEY_FEATURES}",
            tensor is not None,
            "write two numbers in a list, for example [1.0, 0.0]",
        )
    )
    if tensor is not None:
        tokens, weights = _cross_weights(tensor)
        street = tokens.index("street")
        results.append(
            (
                f"'street' gets the largest weight (largest: {describe_row(weights, tokens, top=2)})",
                int(weights.argmax()) == street,
                "ask for a noun (+ on 'is a noun') that is not animate (− on 'is animate')",
            )
        )
        results.append(
            (
                f"'street' gets more than {threshold} (it gets {float(weights[street]):.2f})",
                float(weights[street]) > threshold,
                "a longer query is a sharper lookup: multiply your query by a larger number",
            )
        )
    return report("Exercise 2: a query that asks for a thing, not an animal", results)


@checker
def check_long_key(key, max_cosine=0.5):
    """Exercise 3: a fifth key E, pointing away from the query (cosine < max_cosine), that still wins."""
    results = []
    tensor = _two_numbers(key)
    results.append(
        (
            "the key is two numbers (a 2-D vector)",
            tensor is not None,
            "write two numbers in a list, for example [0.0, 1.0]",
        )
    )
    if tensor is not None:
        names, k, v = lookup_table()
        q = torch.tensor([1.0, 0.0])  # points exactly at key A
        cosine = float(torch.nn.functional.cosine_similarity(tensor, q, dim=0))
        results.append(
            (
                f"E points away from the query: cosine similarity below {max_cosine} (it is {cosine:.2f})",
                cosine < max_cosine,
                "turn E further from the query: an angle above 60° from the x axis",
            )
        )
        _, weights = soft_lookup(q, torch.vstack([k, tensor]), torch.vstack([v, torch.tensor([2.0, 4.0])]))
        labels = [*names, "E"]
        results.append(
            (
                f"E gets the largest weight (largest: {describe_row(weights, labels, top=2)})",
                int(weights.argmax()) == 4,
                "k·q = |k|·|q|·cos θ grows with the key's length: keep E partly along the query (cos θ > 0) "
                "and make it longer",
            )
        )
    return report("Exercise 3: a key that wins without pointing at the query", results)


def _self_attention_cases():
    tokens = SENTENCES["animal"]
    generator = torch.Generator().manual_seed(2)
    x_random = torch.randn(5, 8, generator=generator)
    w_q, w_k = torch.randn(2, 8, 4, generator=generator)
    w_v = torch.randn(8, 3, generator=generator)
    return [
        ("random x (n=5, d_model=8), d_k=4, d_v=3", x_random, w_q, w_k, w_v),
        ("the hand-built sentence", feature_embeddings(tokens), *hand_built_projections()),
    ]


def _self_attention_hint(weights, x, w_q, w_k):
    scores = (x @ w_q) @ (x @ w_k).T
    if _close(weights, torch.softmax(scores / math.sqrt(x.shape[-1]), dim=-1)):
        return "divide by √d_k (the width of q and k, w_q.shape[1]), not by √d_model"
    if _close(weights, torch.softmax(scores, dim=-1)):
        return "divide the scores by √d_k before the softmax"
    if _close(weights, torch.softmax(scores / math.sqrt(w_q.shape[1]), dim=0)):
        return "take the softmax over the keys (dim=-1), so that each query's row sums to 1"
    return "q = x @ w_q, k = x @ w_k, scores = q @ k.T / √d_k, weights = softmax over dim=-1"


@checker
def check_self_attention(fn):
    """Exercise 4: fn(x, w_q, w_k, w_v) -> (output (n, d_v), weights (n, n)), self-attention of x (n, d_model)."""
    results = []
    for description, x, w_q, w_k, w_v in _self_attention_cases():
        value, error = call_learner(fn, x.clone(), w_q.clone(), w_k.clone(), w_v.clone())
        if error is not None:
            results.append((f"{description}: runs", False, error))
            break
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            results.append((f"{description}: returns a pair", False, "return output, weights"))
            break
        output, weights = value
        expected_output, expected_weights = self_attention(x, w_q, w_k, w_v)
        n, d_v = expected_output.shape
        shapes_ok = (
            isinstance(output, torch.Tensor)
            and isinstance(weights, torch.Tensor)
            and output.shape == (n, d_v)
            and weights.shape == (n, n)
        )
        results.append(
            (
                f"{description}: output is ({n}, {d_v}) and weights ({n}, {n}); got {_shape_of(output)}, "
                f"{_shape_of(weights)}",
                shapes_ok,
                "v = x @ w_v has d_v columns; output = weights @ v",
            )
        )
        if not shapes_ok:
            continue
        results.append(
            (
                f"{description}: weights match",
                _close(weights, expected_weights),
                _self_attention_hint(weights, x, w_q, w_k),
            )
        )
        results.append(
            (
                f"{description}: output matches",
                _close(output, expected_output),
                "output = weights @ v, with v = x @ w_v (project the values too)",
            )
        )
    return report("Exercise 4: self-attention from token vectors", results)
