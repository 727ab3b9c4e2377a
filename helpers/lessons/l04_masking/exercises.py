"""04_masking's exercises: a causal mask, a padding mask, masked attention, and where the mask goes.

Each checker runs the learner's answer on several cases, edge cases included, and reports
what is wrong with a hint; it never raises on the learner's mistake.
"""

import math

import torch

from helpers.lessons.l04_masking.padding import pad, sentence_mask
from helpers.lessons.l04_masking.toy_head import SENTENCES, attend
from helpers.machinery.answers import close
from helpers.machinery.exercise_checking import call_learner, checker, not_written, report

__all__ = [
    "check_causal_mask",
    "check_padding_mask",
    "check_masked_attention",
    "PLACEMENT_QUESTIONS",
    "check_where_the_mask_goes",
]


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _show_mask(mask):
    rows = mask.to(torch.int64).tolist()
    return " ".join("".join(str(v) for v in row) for row in rows) if mask.ndim == 2 else str(rows)


def _mask_problem(result, expected, wrong_guesses):
    """Why `result` is not the bool mask `expected` (None if it is). wrong_guesses: [(mask, hint)]."""
    if not isinstance(result, torch.Tensor):
        return f"it returned a {type(result).__name__}, not a torch.Tensor"
    if result.shape != expected.shape:
        return f"it returned shape {tuple(result.shape)}, expected {tuple(expected.shape)}"
    if result.dtype != torch.bool:
        if torch.equal(result.to(torch.int64), expected.to(torch.int64)):
            return (
                f"the values are right but the dtype is {result.dtype}: masks are bool "
                "(write dtype=torch.bool, or build it from a comparison)"
            )
        return f"it returned dtype {result.dtype}; masks are bool, True = may attend"
    if torch.equal(result, expected):
        return None
    for guess, hint in wrong_guesses:
        if torch.equal(result, guess):
            return hint
    return f"it returned {_show_mask(result)}, expected {_show_mask(expected)} (rows of 1 = may attend)"


# --------------------------------------------------------------------------- exercise 1


@checker
def check_causal_mask(my_causal_mask):
    """Exercise 1: my_causal_mask(n) -> bool (n, n), True where query i may attend key j, i.e. j <= i."""
    title = "Exercise 1: a causal mask"
    placeholder = not_written(my_causal_mask, 4)
    if placeholder:
        return report(title, placeholder)
    results = []
    for n in (1, 2, 5, 8):
        expected = torch.ones(n, n, dtype=torch.bool).tril()
        guesses = [
            (
                expected.T.contiguous(),
                "this is the upper triangle: rows are queries, columns keys, and query i may read keys 0..i "
                "(the lower triangle, torch.tril)",
            ),
            (
                torch.ones(n, n, dtype=torch.bool).tril(diagonal=-1),
                "the diagonal is missing: a token may attend to itself (and token 0 has nothing else)",
            ),
            (
                ~expected,
                "this is inverted (nn.MultiheadAttention's convention, True = hidden): here, as in "
                "F.scaled_dot_product_attention, True means *may attend*, so the past and the token itself are True",
            ),
        ]
        result, error = call_learner(my_causal_mask, n)
        description = f"n = {n}" + (": a single token attends to itself" if n == 1 else "")
        if error is not None:
            results.append((description, False, f"your function raised {error}"))
            continue
        problem = _mask_problem(result, expected, guesses)
        results.append((description, problem is None, problem or ""))
    return report(title, results)


# --------------------------------------------------------------------------- exercise 2


@checker
def check_padding_mask(my_padding_mask):
    """Exercise 2: my_padding_mask(lengths, n) -> bool (B, n), True for the real tokens of each sentence."""
    title = "Exercise 2: a padding mask"
    placeholder = not_written(my_padding_mask, [2, 3], 4)
    if placeholder:
        return report(title, placeholder)
    cases = [
        ([3, 6, 10], 10, "three sentences of 3, 6 and 10 tokens, padded to 10"),
        ([5], 5, "one sentence with no padding: all True"),
        ([0, 2], 4, "an empty sentence (length 0): all False"),
        ([4, 1], 6, "lengths [4, 1], padded to 6 (longer than the longest)"),
    ]
    results = []
    for lengths, n, description in cases:
        expected = torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]
        guesses = [
            (
                ~expected,
                "this is inverted (nn.MultiheadAttention's key_padding_mask, True = pad): here True = may attend, "
                "so the real tokens are True and the pads False",
            ),
            (
                torch.arange(n)[None, :] <= torch.tensor(lengths)[:, None],
                "one pad too many is True: a sentence of length L has real tokens at positions 0..L−1 (use <)",
            ),
            (
                torch.arange(n)[None, :] >= n - torch.tensor(lengths)[:, None],
                "this is left padding (pads first); here the pads come after the words",
            ),
        ]
        result, error = call_learner(my_padding_mask, list(lengths), n)
        if error is not None:
            results.append((description, False, f"your function raised {error}"))
            continue
        problem = _mask_problem(result, expected, guesses)
        results.append((description, problem is None, problem or ""))
    return report(title, results)


# --------------------------------------------------------------------------- exercise 3


def _reference(q, k, v, mask):
    """Masked attention as the lesson defines it: -inf before softmax, a row with no key left gets zeros.

    Equal to torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask) (tests check it).
    """
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(~mask, float("-inf"))
    row_max = scores.amax(dim=-1, keepdim=True)
    exp = torch.exp(scores - torch.where(torch.isinf(row_max), torch.zeros_like(row_max), row_max))
    total = exp.sum(dim=-1, keepdim=True)
    weights = exp / torch.where(total == 0, torch.ones_like(total), total)
    return weights @ v, weights


def _attention_case(fn, q, k, v, mask, description, hint):
    hint = hint[0].upper() + hint[1:]  # it follows a sentence below
    expected_output, expected_weights = _reference(q, k, v, mask)
    result, error = call_learner(fn, q.clone(), k.clone(), v.clone(), mask.clone())
    if error is not None:
        return (description, False, f"your function raised {error}")
    if not (isinstance(result, tuple) and len(result) == 2 and all(isinstance(r, torch.Tensor) for r in result)):
        return (description, False, "return two tensors: (output, weights)")
    output, weights = result
    for name, got, want in (("weights", weights, expected_weights), ("output", output, expected_output)):
        if got.shape != want.shape:
            return (description, False, f"{name} has shape {tuple(got.shape)}, expected {tuple(want.shape)}")
        if torch.isnan(got).any():
            return (description, False, f"{name} holds NaN. {hint}")
        if not close(got.detach(), want, atol=1e-5, rtol=1e-4):
            worst = (got.detach() - want).abs().max().item()
            return (description, False, f"{name} differs from PyTorch's by up to {worst:.3g}. {hint}")
    return (description, True, "")


@checker
def check_masked_attention(my_masked_attention):
    """Exercise 3: my_masked_attention(q, k, v, mask) -> (output, weights), checked against PyTorch.

    q (..., n_q, d_k), k (..., n_k, d_k), v (..., n_k, d_v), mask bool broadcastable to (..., n_q, n_k),
    True = may attend. A query with no allowed key must get zero weights and a zero output, not NaN.
    """
    title = "Exercise 3: masked attention, fully masked rows included"
    q, k, v = (torch.randn(5, 4, generator=_gen(seed)) for seed in (1, 2, 3))
    qb, kb, vb = (torch.randn(3, 6, 4, generator=_gen(seed)) for seed in (4, 5, 6))
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    lengths = torch.tensor([6, 4, 2])
    keys = (torch.arange(6)[None, :] < lengths[:, None])[:, None, :]  # (3, 1, 6)
    left = torch.ones(5, 5, dtype=torch.bool).tril() & (torch.arange(5) >= 2)[None, :]  # rows 0 and 1: no key left
    placeholder = not_written(my_masked_attention, q.clone(), k.clone(), v.clone(), causal.clone())
    if placeholder:
        return report(title, placeholder)
    where = "fill the masked scores with -inf *before* the softmax (scores.masked_fill(~mask, float('-inf')))"
    results = [
        _attention_case(
            my_masked_attention,
            q,
            k,
            v,
            torch.ones(5, 5, dtype=torch.bool),
            "nothing masked: plain attention",
            "scores = q·kᵀ/√d_k, weights = softmax(scores) over the keys (the last dim), output = weights·v",
        ),
        _attention_case(my_masked_attention, q, k, v, causal, "a causal mask (5, 5)", where),
        _attention_case(
            my_masked_attention,
            qb,
            kb,
            vb,
            keys,
            "a padded batch: mask (3, 1, 6) broadcast over the queries",
            where + "; let the mask broadcast (no loops, no reshaping needed)",
        ),
        _attention_case(
            my_masked_attention,
            q,
            k,
            v,
            left,
            "queries 0 and 1 have every key masked: zero weights and zero output, not NaN",
            "softmax of a row of -inf is 0/0 = NaN; replace a -inf row maximum by 0 before exp "
            "and divide by 1 where the sum is 0 (or torch.nan_to_num the weights)",
        ),
    ]
    return report(title, results)


# --------------------------------------------------------------------------- exercise 4

# The question's four ways of applying a padding mask
# (keys of helpers.lessons.l04_masking.mask_placements.MASK_PLACEMENTS).
PLACEMENT_QUESTIONS = ("0 before softmax", "0 after softmax", "0 after, renormalised", "-1e9 before softmax")
_QUESTION_TOKENS = SENTENCES["cat"]
_QUESTION_PADS = 4
_HINTS = {
    "0 before softmax": "a score of 0 is an ordinary score: what is exp(0), and what weight does a pad get?",
    "0 after softmax": "softmax divided every exp(score) by a sum before the pads were zeroed: "
    "whose exp(score) is in that sum?",
    "0 after, renormalised": "after dividing by the new sum, does any pad's score appear in a real key's weight?",
    "-1e9 before softmax": "what is exp(-1e9 - max) in float32? Compare with exp(-inf)",
}


def _measured_change(placement):
    """Max |change| of the real tokens' outputs of SENTENCES['cat'] when 4 pads are appended, under `placement`."""
    n_real = len(_QUESTION_TOKENS)
    alone, _ = attend(_QUESTION_TOKENS)
    padded = pad(_QUESTION_TOKENS, n_real + _QUESTION_PADS)
    mask = sentence_mask("padding", len(padded), n_real)
    output, _ = attend(padded, mask=mask, placement=placement)
    return (output[:n_real] - alone).abs().max().item()


@checker
def check_where_the_mask_goes(answers):
    """Exercise 4: for each way of applying a padding mask, does padding still change the real tokens' outputs?

    answers: a dict {placement: True or False} for the four PLACEMENT_QUESTIONS, True = "the outputs change".
    The checker measures each on "the cat sat on the mat" + 4 [PAD] with the lesson's toy head.
    """
    title = "Exercise 4: where the mask goes"
    if not isinstance(answers, dict):
        return report(title, [("answers is a dict", False, "write answers = {'0 before softmax': True, ...}")])
    if all(answers.get(placement) is None for placement in PLACEMENT_QUESTIONS):
        hint = "replace each None with True (the words' outputs change) or False (they do not)"
        return report(title, [("answers are filled in", False, hint)])
    results = []
    for placement in PLACEMENT_QUESTIONS:
        value = answers.get(placement)
        if not isinstance(value, bool):
            results.append(
                (f"'{placement}': answered True or False", False, f"set answers['{placement}'] = True or False")
            )
            continue
        change = _measured_change(placement)
        truth = change > 1e-5
        results.append(
            (
                f"'{placement}': the real tokens' outputs {'change' if value else 'do not change'}"
                + (f" (measured: max change {change:.4f})" if value == truth else ""),
                value == truth,
                _HINTS[placement],
            )
        )
    return report(title, results)
