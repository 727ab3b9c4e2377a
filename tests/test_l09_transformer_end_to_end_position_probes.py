"""Lesson 09's position probes (helpers.lessons.l09_transformer_end_to_end.position_probes): similarities and the
permutation test, against direct formulas and PyTorch's attention."""

import matplotlib
import pytest
import torch

from helpers.lessons.l09_transformer_end_to_end.position_probes import (
    permutation_gap,
    plot_encoding,
    plot_similarity_by_distance,
    position_similarity,
)
from helpers.library.layers import MultiHeadAttention
from helpers.library.positions import LearnedPositions, SinusoidalPositions, sinusoidal_encoding

matplotlib.use("agg")


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
