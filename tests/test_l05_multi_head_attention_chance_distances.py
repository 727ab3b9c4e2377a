"""helpers.lessons.l05_multi_head_attention.chance_distances: chance at the same sharpness, the yardstick for how far
apart heads attend: entropy against PyTorch's, shuffles that keep each row's weights, chance on hand-made maps, and
MiniLM's heads measured against it."""

import math

import pytest
import torch

from helpers.lessons.l05_multi_head_attention.chance_distances import (
    CHANCE_SHARE,
    SHUFFLES,
    chance_distances,
    entropy,
    minilm_distances,
    more_alike_than_chance,
    shuffled_keys,
)
from helpers.lessons.l05_multi_head_attention.head_costs import head_distances
from helpers.machinery.minilm_model import minilm_attention


def _weights(*shape, seed=0, sharpness=3.0):
    scores = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    return torch.softmax(sharpness * scores, dim=-1)


def test_entropy_matches_pytorchs_categorical():
    weights = _weights(3, 2, 5, 7)
    expected = torch.distributions.Categorical(probs=weights).entropy()
    torch.testing.assert_close(entropy(weights), expected)
    one_hot = torch.eye(4)
    assert torch.equal(entropy(one_hot), torch.zeros(4)) and not torch.signbit(entropy(one_hot)).any()
    torch.testing.assert_close(entropy(torch.full((2, 8), 1 / 8)), torch.full((2,), math.log(8)))


def test_shuffled_keys_keep_each_rows_weights_and_entropy():
    weights = _weights(4, 2, 6, 9)
    shuffled = shuffled_keys(weights, seed=3)
    assert shuffled.shape == weights.shape and not torch.equal(shuffled, weights)
    assert torch.equal(shuffled.sort(dim=-1).values, weights.sort(dim=-1).values)  # the same numbers in every row
    torch.testing.assert_close(entropy(shuffled), entropy(weights))
    assert torch.equal(shuffled_keys(weights, seed=3), shuffled)  # seeded
    assert not torch.equal(shuffled_keys(weights, seed=4), shuffled)


def test_chance_for_sharp_heads_is_far_and_for_flat_heads_zero():
    n = 4
    identical = torch.eye(n).expand(500, 2, n, n)  # (500 sequences, 2 heads, n, n): two identical one-hot heads
    assert head_distances(identical)[0, 1] == 0
    chance = chance_distances(identical)
    assert chance.shape == (len(SHUFFLES), 2, 2)
    # two one-hot rows on random keys share a key 1 time in n: chance is about 1 − 1/n
    assert torch.allclose(chance[:, 0, 1], torch.tensor(1 - 1 / n), atol=0.03)
    flat = torch.full((10, 3, n, n), 1 / n)
    assert torch.equal(chance_distances(flat, shuffles=(0, 1)), torch.zeros(2, 3, 3))  # flat maps: close by chance


def test_chance_sits_between_copies_and_strangers_for_partly_sharp_heads():
    weights = _weights(50, 3, 8, 8, sharpness=1.5)
    chance = chance_distances(weights, shuffles=(0, 1, 2))
    assert torch.all(chance[:, 0, 1] > 0.1) and torch.all(chance[:, 0, 1] < 0.9)
    assert torch.allclose(chance, chance.transpose(-2, -1)) and torch.all(chance.diagonal(dim1=-2, dim2=-1) == 0)


def test_more_alike_than_chance_uses_its_threshold():
    assert CHANCE_SHARE == 0.7
    assert more_alike_than_chance(0.3, 0.8) and not more_alike_than_chance(0.6, 0.8)
    assert more_alike_than_chance(0.6, 0.8, share=0.9)
    assert not more_alike_than_chance(0.0, 0.0)  # flat maps: 0 is chance, not "more alike"
    with pytest.raises(TypeError, match="distance must be a real number"):
        more_alike_than_chance("0.3", 0.8)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: shuffled_keys(torch.ones(3, 3)), ValueError, r"weights must have shape \(\.\.\., n_heads, n_q, n_k\)"),
        (lambda: shuffled_keys(-torch.ones(2, 3, 3)), ValueError, "must be finite and >= 0"),
        (lambda: shuffled_keys(torch.ones(2, 3, 3, dtype=torch.int64)), TypeError, "float"),
        (lambda: shuffled_keys(_weights(2, 3, 3), seed=-1), ValueError, "seed must be >= 0"),
        (lambda: chance_distances(_weights(2, 3, 3), shuffles=[1, 1]), ValueError, "must differ"),
        (lambda: entropy(torch.full((2, 3), float("nan"))), ValueError, r"shape \(2, 3\)"),
        (lambda: minilm_distances("The animal"), ValueError, "non-empty list of sentences"),
    ],
)
def test_bad_input_is_refused_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_minilm_distances_against_a_hand_computation():
    sentences = ["The cat sat on the mat", "Dogs bark"]
    measured = minilm_distances(sentences, shuffles=(0, 1))
    per_sentence = [minilm_attention(s)[1] for s in sentences]  # each (6, 12, n, n)
    expected = torch.stack([torch.stack([head_distances(layer) for layer in w]) for w in per_sentence]).mean(0)
    torch.testing.assert_close(measured["distances"], expected)
    assert measured["chance"].shape == (2, 6, 12, 12)
    pairs = ~torch.eye(12, dtype=torch.bool)
    assert measured["medians"] == [pytest.approx(float(layer[pairs].median())) for layer in expected]
    for (low, high), median in zip(measured["chance_ranges"], measured["chance_medians"], strict=True):
        assert low <= median <= high
    largest = math.log(max(len(minilm_attention(s)[0]) for s in sentences))
    assert all(0 < value < largest for value in measured["entropy"])
