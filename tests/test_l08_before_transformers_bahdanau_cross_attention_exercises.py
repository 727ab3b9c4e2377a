"""08_before_transformers_bahdanau's cross-attention exercise: the reference passes, the placeholder fails politely,
typical wrong answers fail with a hint that names the mistake, and the checker never raises."""

import math

import pytest
import torch

from helpers.lessons.l08_before_transformers_bahdanau.exercises import check_cross_attention
from helpers.machinery.progress import lesson_checkers


def my_cross_attention(s, h, w_q, w_k, w_v):
    q, k, v = s @ w_q.T, h @ w_k.T, h @ w_v.T  # queries from the decoder, keys and values from the encoder
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)  # (m, n)
    return weights @ v, weights


def placeholder(s, h, w_q, w_k, w_v):
    raise NotImplementedError  # your code here


def unscaled(s, h, w_q, w_k, w_v):
    q, k, v = s @ w_q.T, h @ w_k.T, h @ w_v.T
    weights = torch.softmax(q @ k.T, dim=-1)
    return weights @ v, weights


def softmax_over_the_queries(s, h, w_q, w_k, w_v):
    q, k, v = s @ w_q.T, h @ w_k.T, h @ w_v.T
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=0)
    return weights @ v, weights


def scores_not_weights(s, h, w_q, w_k, w_v):
    q, k, v = s @ w_q.T, h @ w_k.T, h @ w_v.T
    scores = q @ k.T / math.sqrt(q.shape[-1])
    return scores @ v, scores


def keys_from_the_decoder(s, h, w_q, w_k, w_v):
    q, k, v = s @ w_q.T, s @ w_k.T, s @ w_v.T  # self-attention over the decoder: w_k does not fit s
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


def queries_and_keys_swapped(s, h, w_q, w_k, w_v):
    q, k, v = s @ w_q.T, h @ w_k.T, h @ w_v.T
    weights = torch.softmax(k @ q.T / math.sqrt(q.shape[-1]), dim=-1)  # (n, m)
    return weights @ torch.zeros(weights.shape[-1], v.shape[-1], dtype=v.dtype), weights


def only_the_output(s, h, w_q, w_k, w_v):
    return my_cross_attention(s, h, w_q, w_k, w_v)[0]


def test_the_reference_passes(capsys):
    assert check_cross_attention(my_cross_attention) is True
    out = capsys.readouterr().out
    assert out.count("✓") == 3 and "Well done" in out


def test_float32_answers_pass():
    def in_float32(s, h, w_q, w_k, w_v):
        output, weights = my_cross_attention(s.float(), h.float(), w_q.float(), w_k.float(), w_v.float())
        return output, weights

    assert check_cross_attention(in_float32) is True


def test_the_placeholder_fails_politely(capsys):
    assert check_cross_attention(placeholder) is False
    out = capsys.readouterr().out
    assert "placeholder is written" in out and "raise NotImplementedError" in out and "Traceback" not in out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (unscaled, "divide the scores by √d_k"),
        (softmax_over_the_queries, "softmax over the source positions (dim=-1)"),
        (scores_not_weights, "these are the scores"),
        (keys_from_the_decoder, "w_k and w_v (·, d_enc) read the encoder's h"),
        (queries_and_keys_swapped, "the queries come from the decoder's states s"),
        (only_the_output, "return two tensors: output, weights"),
        (lambda *args: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_typical_mistakes_fail_with_a_hint(capsys, answer, hint):
    assert check_cross_attention(answer) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out


def test_it_is_listed_with_the_lessons_exercises():
    names = [checker.__name__ for checker in lesson_checkers("08_before_transformers_bahdanau")]
    assert names[-1] == "check_cross_attention"
