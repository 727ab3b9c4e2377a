"""Positional encodings and the permutation test, against direct formulas and PyTorch's attention."""

import math

import matplotlib
import pytest
import torch

from helpers.layers import MultiHeadAttention
from helpers.positions import (
    LearnedPositions,
    SinusoidalPositions,
    permutation_gap,
    plot_encoding,
    plot_similarity_by_distance,
    position_similarity,
    sinusoidal_encoding,
)

matplotlib.use("agg")


def test_sinusoidal_encoding_matches_the_paper_formula_entry_by_entry():
    n, d_model = 7, 6
    encoding = sinusoidal_encoding(n, d_model)
    assert encoding.shape == (n, d_model) and encoding.dtype == torch.float32
    for pos in range(n):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            assert encoding[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert encoding[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_sinusoidal_encoding_position_zero_and_norm():
    encoding = sinusoidal_encoding(50, 16)
    assert torch.equal(encoding[0, 0::2], torch.zeros(8)) and torch.equal(encoding[0, 1::2], torch.ones(8))
    # sin² + cos² = 1 per pair: every position's vector has norm √(d_model / 2)
    torch.testing.assert_close(encoding.norm(dim=-1), torch.full((50,), math.sqrt(8)))


def test_sinusoidal_dot_products_depend_only_on_the_distance():
    similarity = position_similarity(sinusoidal_encoding(40, 32).double())
    # sin a sin b + cos a cos b = cos(a − b): the dot product of positions p and p + k is the same for every p
    for k in range(5):
        diagonal = torch.diagonal(similarity, offset=k)
        torch.testing.assert_close(diagonal, torch.full_like(diagonal, diagonal[0].item()), atol=1e-5, rtol=0)
    assert similarity[0, 1] > similarity[0, 5] > similarity[0, 20]  # falls off with the distance, at first


def test_position_similarity_normalized_is_the_cosine():
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    cosine = torch.nn.functional.cosine_similarity(x[:, None], x[None], dim=-1)
    torch.testing.assert_close(position_similarity(x, normalize=True), cosine)
    torch.testing.assert_close(position_similarity(x), x @ x.T)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((4, 5), ValueError, "d_model must be even"),
        ((0, 4), ValueError, "n must be >= 1"),
        ((4.0, 4), TypeError, "n must be an int"),
        ((4, 4, 0.0), ValueError, "base must be > 0"),
    ],
)
def test_sinusoidal_encoding_refuses_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        sinusoidal_encoding(*args)


@pytest.mark.parametrize("layer_class", [SinusoidalPositions, LearnedPositions])
def test_position_layers_add_one_vector_per_position(layer_class):
    torch.manual_seed(0)
    layer = layer_class(10, 8)
    x = torch.randn(3, 6, 8)
    table = layer.encoding if layer_class is SinusoidalPositions else layer.weight
    torch.testing.assert_close(layer(x), x + table[:6])
    with pytest.raises(ValueError, match="n=11 tokens, but there are encodings for 10 positions"):
        layer(torch.randn(1, 11, 8))
    with pytest.raises(ValueError, match=r"x must have shape \(B, n, d_model=8\)"):
        layer(torch.randn(6, 8))


def test_only_learned_positions_are_trained():
    assert [name for name, _ in SinusoidalPositions(4, 4).named_parameters()] == []
    assert "encoding" in SinusoidalPositions(4, 4).state_dict()
    assert [name for name, _ in LearnedPositions(4, 4).named_parameters()] == ["weight"]


def _attention(mha):
    return lambda x: mha(x)[0]


def test_self_attention_without_positions_is_permutation_equivariant_like_torch():
    torch.manual_seed(0)
    torch_mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    mha = MultiHeadAttention.from_torch(torch_mha)
    x = torch.randn(2, 6, 8)
    permutation = [3, 0, 5, 1, 4, 2]
    assert permutation_gap(_attention(mha), x, permutation) < 1e-5
    reference = permutation_gap(lambda t: torch_mha(t, t, t)[0], x, permutation)
    assert reference < 1e-5  # PyTorch's own layer is equivariant too


@pytest.mark.parametrize("layer_class", [SinusoidalPositions, LearnedPositions])
def test_positions_break_equivariance(layer_class):
    torch.manual_seed(0)
    mha, positions = MultiHeadAttention(8, 2), layer_class(6, 8)
    x = torch.randn(2, 6, 8)
    assert permutation_gap(lambda t: mha(positions(t))[0], x, torch.tensor([3, 0, 5, 1, 4, 2])) > 0.05
    assert permutation_gap(lambda t: mha(positions(t))[0], x, list(range(6))) == 0.0  # no shuffle, no gap


def test_a_position_wise_function_is_equivariant_and_a_cumulative_one_is_not():
    x = torch.randn(1, 5, 3, generator=torch.Generator().manual_seed(1))
    assert permutation_gap(torch.tanh, x, [4, 3, 2, 1, 0]) == 0.0
    assert permutation_gap(lambda t: t.cumsum(dim=1), x, [4, 3, 2, 1, 0]) > 0.1


@pytest.mark.parametrize(
    ("x", "permutation", "error", "match"),
    [
        (torch.randn(5, 3), [0, 1, 2, 3, 4], ValueError, r"x must have shape \(B, n, d\)"),
        (torch.randn(1, 3, 2), [0, 1, 1], ValueError, "each of 0 .. 2 once"),
        (torch.randn(1, 3, 2), [0, 1], ValueError, "each of 0 .. 2 once"),
        (torch.randn(1, 3, 2), [0.0, 1.0, 2.0], TypeError, "permutation must hold integers"),
        (torch.ones(1, 3, 2, dtype=torch.long), [0, 1, 2], TypeError, "floating dtype"),
    ],
)
def test_permutation_gap_refuses_bad_input(x, permutation, error, match):
    with pytest.raises(error, match=match):
        permutation_gap(torch.tanh, x, permutation)


def test_permutation_gap_refuses_nan_and_wrong_shapes():
    x = torch.randn(1, 3, 2)
    with pytest.raises(ValueError, match="NaN"):
        permutation_gap(lambda t: t * float("nan"), x, [2, 1, 0])
    with pytest.raises(ValueError, match=r"fn must return \(B, n, d_out\)"):
        permutation_gap(lambda t: t.sum(dim=1), x, [2, 1, 0])


def test_plot_encoding_draws_the_table_on_the_given_axes():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    encoding = sinusoidal_encoding(20, 8)
    assert plot_encoding(encoding, ax) is ax
    assert (ax.images[0].get_array() == encoding.numpy()).all()
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    with pytest.raises(ValueError, match=r"\(n, d_model\)"):
        plot_encoding(torch.zeros(2, 3, 4), ax)
    plt.close(fig)


def test_plot_similarity_by_distance_draws_one_line_per_start():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    encoding = sinusoidal_encoding(40, 8)
    ax = plot_similarity_by_distance(encoding, ax, starts=(0, 5), max_distance=10)
    assert len(ax.lines) == 2 and len({line.get_linestyle() for line in ax.lines}) == 2
    x, y = ax.lines[1].get_data()
    assert list(x) == list(range(11))
    assert y[3] == pytest.approx((encoding[5] @ encoding[8]).item(), abs=1e-5)
    with pytest.raises(ValueError, match="needs n > 41"):
        plot_similarity_by_distance(encoding, ax, starts=(0, 36), max_distance=5)
    plt.close(fig)
