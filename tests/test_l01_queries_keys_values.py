"""Lesson 01's lookups: the soft lookup, the lookup table, hand-built queries and keys, self-attention."""

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.lessons.l01_queries_keys_values.lookups import (
    FEATURES,
    KEY_FEATURES,
    WORD_FEATURES,
    describe_row,
    diagonal_argmax_fraction,
    feature_embeddings,
    format_matrix,
    hand_built_projections,
    lookup_table,
    self_attention,
    soft_lookup,
)
from helpers.library.attention import scaled_dot_product_attention
from helpers.machinery.toy_data import SENTENCES


def random_qkv(n=5, d_k=3, d_v=4, seed=0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(d_k, generator=generator, dtype=dtype)
    k = torch.randn(n, d_k, generator=generator, dtype=dtype)
    v = torch.randn(n, d_v, generator=generator, dtype=dtype)
    return q, k, v


# soft_lookup


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("sharpness", [0.0, 0.5, 1.0, 7.0])
def test_soft_lookup_matches_torch_sdpa(dtype, sharpness):
    q, k, v = random_qkv(dtype=dtype)
    output, weights = soft_lookup(q, k, v, sharpness=sharpness)
    expected = F.scaled_dot_product_attention(q[None, None], k[None], v[None], scale=sharpness)[0, 0]
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(weights, torch.softmax(k @ q * sharpness, dim=-1))
    assert output.shape == (4,) and weights.shape == (5,)


def test_soft_lookup_sharpness_zero_is_a_plain_average():
    q, k, v = random_qkv()
    output, weights = soft_lookup(q, k, v, sharpness=0)
    torch.testing.assert_close(weights, torch.full((5,), 0.2))
    torch.testing.assert_close(output, v.mean(dim=0))


def test_soft_lookup_sharp_enough_becomes_a_hard_lookup():
    names, k, v = lookup_table()
    output, weights = soft_lookup(torch.tensor([1.0, 0.0]), k, v, sharpness=100.0)
    assert weights[0] == pytest.approx(1.0, abs=1e-6)
    torch.testing.assert_close(output, v[0], atol=1e-5, rtol=0)


def test_soft_lookup_gradient_matches_torch():
    q, k, v = (t.double().requires_grad_() for t in random_qkv())
    soft_lookup(q, k, v)[0].sum().backward()
    ours = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    (torch.softmax(k @ q, dim=-1) @ v).sum().backward()
    for mine, reference in zip(ours, (q.grad, k.grad, v.grad), strict=True):
        torch.testing.assert_close(mine, reference)


@pytest.mark.parametrize(
    ("q", "k", "v", "error", "match"),
    [
        (torch.ones(2, 2), torch.ones(3, 2), torch.ones(3, 2), ValueError, r"q must have shape \(d_k,\), got \(2, 2\)"),
        (torch.ones(2), torch.ones(3), torch.ones(3, 2), ValueError, r"k must have shape \(n, d_k\), got \(3,\)"),
        (torch.ones(2), torch.ones(3, 2), torch.ones(3), ValueError, r"v must have shape \(n, d_v\)"),
        (torch.ones(3), torch.ones(4, 2), torch.ones(4, 2), ValueError, r"share d_k.*q \(3,\), k \(4, 2\)"),
        (torch.ones(2), torch.ones(4, 2), torch.ones(3, 2), ValueError, r"same number n.*v \(3, 2\)"),
        (torch.ones(2), torch.ones(0, 2), torch.ones(0, 2), ValueError, "at least one key"),
        (torch.ones(2, dtype=torch.int64), torch.ones(3, 2), torch.ones(3, 2), TypeError, "floating dtype"),
        ([1.0, 0.0], torch.ones(3, 2), torch.ones(3, 2), TypeError, "must be a torch.Tensor"),
        (torch.ones(2).double(), torch.ones(3, 2), torch.ones(3, 2), TypeError, "share a dtype"),
        (torch.tensor([float("nan"), 0.0]), torch.ones(3, 2), torch.ones(3, 2), ValueError, "q .* contains NaN"),
    ],
)
def test_soft_lookup_rejects_bad_input(q, k, v, error, match):
    with pytest.raises(error, match=match):
        soft_lookup(q, k, v)


@pytest.mark.parametrize(("sharpness", "match"), [(-1.0, "sharpness must be >= 0"), (float("inf"), "finite")])
def test_soft_lookup_rejects_bad_sharpness(sharpness, match):
    with pytest.raises(ValueError, match=match):
        soft_lookup(*random_qkv(), sharpness=sharpness)


def test_soft_lookup_reports_overflow_instead_of_nan():
    q, k, v = random_qkv()
    with pytest.raises(ValueError, match="overflow"):
        soft_lookup(q, k, v, sharpness=1e38)


# lookup_table


def test_lookup_table_keys_have_the_stated_angles_and_lengths():
    names, k, v = lookup_table("equal")
    assert names == ["A", "B", "C", "D"] and k.shape == (4, 2) and v.shape == (4, 2)
    angles = torch.rad2deg(torch.atan2(k[:, 1], k[:, 0])) % 360
    torch.testing.assert_close(angles, torch.tensor([0.0, 60.0, 150.0, 240.0]))
    torch.testing.assert_close(k.norm(dim=-1), torch.ones(4))
    _, k_long, v_long = lookup_table("long")
    torch.testing.assert_close(k_long.norm(dim=-1), torch.tensor([1.0, 2.5, 1.0, 1.0]))
    torch.testing.assert_close(k_long[1] / 2.5, k[1])
    assert torch.equal(v, v_long)


def test_lookup_table_rejects_unknown_key_set():
    with pytest.raises(ValueError, match="keys must be one of"):
        lookup_table("short")


# feature_embeddings and hand_built_projections


def test_feature_embeddings_marks_each_word_features():
    x = feature_embeddings(["animal", "it", "the"])
    assert x.shape == (3, len(FEATURES)) and x.dtype == torch.float32
    assert x[0, FEATURES.index("noun")] == 1 and x[0, FEATURES.index("animate")] == 1 and x[0].sum() == 2
    assert x[1, FEATURES.index("pronoun")] == 1 and x[1].sum() == 1
    assert x[2, FEATURES.index("function word")] == 1 and x[2].sum() == 1


def test_every_course_sentence_has_features():
    for tokens in SENTENCES.values():
        assert feature_embeddings(tokens).sum(dim=-1).min() >= 1
    for features in WORD_FEATURES.values():
        assert set(features) <= set(FEATURES)


@pytest.mark.parametrize(
    ("tokens", "error", "match"),
    [
        (["the", "zebra", "aardvark"], ValueError, r"no features for \['aardvark', 'zebra'\]"),
        ([], TypeError, "non-empty list"),
        ("the cat", TypeError, "list of strings"),
        (["the", 3], TypeError, "list of strings"),
    ],
)
def test_feature_embeddings_rejects_bad_tokens(tokens, error, match):
    with pytest.raises(error, match=match):
        feature_embeddings(tokens)


def test_hand_built_projections_ask_and_advertise_as_documented():
    w_q, w_k, w_v = hand_built_projections(strength=2.0)
    d_model, d_k = len(FEATURES), len(KEY_FEATURES)
    assert w_q.shape == (d_model, d_k) and w_k.shape == (d_model, d_k)
    assert torch.equal(w_v, torch.eye(d_model))
    x = feature_embeddings(["it", "cross", "the", "animal", "street"])
    q, k = x @ w_q, x @ w_k
    torch.testing.assert_close(q, torch.tensor([[2.0, 2.0], [2.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))
    torch.testing.assert_close(k, torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 0.0]]))


def test_hand_built_pronoun_attends_to_the_animal():
    tokens = SENTENCES["animal"]
    _, weights = self_attention(feature_embeddings(tokens), *hand_built_projections())
    it, animal, street = tokens.index("it"), tokens.index("animal"), tokens.index("street")
    assert int(weights[it].argmax()) == animal
    assert weights[it, animal] > 0.8 > weights[it, street]
    assert weights[animal, it] == pytest.approx(1 / len(tokens))  # a noun asks nothing: a plain average


def test_hand_built_projections_reject_negative_strength():
    with pytest.raises(ValueError, match="strength must be >= 0"):
        hand_built_projections(-1.0)


# self_attention


@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_self_attention_matches_torch(batch):
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(*batch, 5, 8, generator=generator)
    w_q, w_k = torch.randn(2, 8, 4, generator=generator)
    w_v = torch.randn(8, 6, generator=generator)
    output, weights = self_attention(x, w_q, w_k, w_v)
    expected = F.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)
    torch.testing.assert_close(output, expected)
    assert output.shape == (*batch, 5, 6) and weights.shape == (*batch, 5, 5)
    torch.testing.assert_close(weights, torch.softmax((x @ w_q) @ (x @ w_k).transpose(-2, -1) / 2.0, dim=-1))


@pytest.mark.parametrize(
    ("x", "w_q", "w_k", "w_v", "error", "match"),
    [
        (torch.ones(8), torch.ones(8, 4), torch.ones(8, 4), torch.ones(8, 3), ValueError, r"\(\.\.\., n, d_model\)"),
        (torch.ones(5, 8), torch.ones(7, 4), torch.ones(8, 4), torch.ones(8, 3), ValueError, r"w_q must have shape"),
        (torch.ones(5, 8), torch.ones(8, 4), torch.ones(8, 4), torch.ones(8), ValueError, r"w_v must have shape"),
        (torch.ones(5, 8), torch.ones(8, 4), torch.ones(8, 3), torch.ones(8, 3), ValueError, "same d_k"),
        (torch.ones(5, 8, dtype=torch.int64), torch.ones(8, 4), torch.ones(8, 4), torch.ones(8, 3), TypeError, "x "),
    ],
)
def test_self_attention_rejects_bad_shapes(x, w_q, w_k, w_v, error, match):
    with pytest.raises(error, match=match):
        self_attention(x, w_q, w_k, w_v)


def test_self_attention_is_the_soft_lookup_of_every_row():
    x = feature_embeddings(SENTENCES["animal"])
    w_q, w_k, w_v = hand_built_projections()
    output, weights = self_attention(x, w_q, w_k, w_v)
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    for i in range(len(x)):
        row_output, row_weights = soft_lookup(q[i], k, v, sharpness=1 / math.sqrt(2))
        torch.testing.assert_close(row_output, output[i])
        torch.testing.assert_close(row_weights, weights[i])


def test_self_attention_is_permutation_equivariant():
    x = feature_embeddings(SENTENCES["animal"])
    weights_args = hand_built_projections()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    output, weights = self_attention(x, *weights_args)
    shuffled_output, shuffled_weights = self_attention(x[order], *weights_args)
    torch.testing.assert_close(shuffled_output, output[order])
    torch.testing.assert_close(shuffled_weights, weights[order][:, order])
    torch.testing.assert_close(
        scaled_dot_product_attention(x, x, x)[0][order], scaled_dot_product_attention(*[x[order]] * 3)[0]
    )


# format_matrix, describe_row, diagonal_argmax_fraction


def test_format_matrix_aligns_and_rounds():
    text = format_matrix(torch.tensor([[1.0, -0.001], [0.123456, 10.0]]), ["a", "long row"], ["x", "column"])
    lines = text.splitlines()
    assert lines[0] == "             x  column"
    assert lines[1] == "a         1.00    0.00"
    assert lines[2] == "long row  0.12   10.00"
    assert "-0.00" not in text
    assert format_matrix(torch.tensor([[0.5]]), ["r"], ["c"], digits=3).splitlines()[1] == "r  0.500"


@pytest.mark.parametrize(
    ("matrix", "rows", "cols", "error", "match"),
    [
        (torch.ones(3), ["a"], ["b"], ValueError, "must be 2-D"),
        (torch.ones(2, 2), ["a"], ["b", "c"], ValueError, r"1 row labels and 2 column labels.*\(2, 2\)"),
        (torch.ones(2, 2, dtype=torch.int64), ["a", "b"], ["c", "d"], TypeError, "floating dtype"),
    ],
)
def test_format_matrix_rejects_bad_input(matrix, rows, cols, error, match):
    with pytest.raises(error, match=match):
        format_matrix(matrix, rows, cols)


def test_describe_row_lists_the_largest_weights_first():
    weights = torch.tensor([0.1, 0.6, 0.1, 0.2])
    assert describe_row(weights, ["a", "b", "c", "d"]) == "b 0.60, d 0.20, a 0.10"
    assert describe_row(weights, ["a", "b", "c", "d"], top=1) == "b 0.60"
    with pytest.raises(ValueError, match=r"one token per entry: weights \(4,\), 3 tokens"):
        describe_row(weights, ["a", "b", "c"])


def test_diagonal_argmax_fraction_counts_self_attending_queries():
    assert diagonal_argmax_fraction(torch.eye(4)) == 1.0
    weights = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.0, 0.4, 0.6]])
    assert diagonal_argmax_fraction(weights) == pytest.approx(2 / 3)
    assert diagonal_argmax_fraction(torch.eye(3).expand(2, 3, 3)) == 1.0
    with pytest.raises(ValueError, match=r"square .* got shape \(2, 3\)"):
        diagonal_argmax_fraction(torch.ones(2, 3))
