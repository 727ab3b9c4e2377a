"""helpers.library.positions: the positional encodings, against the paper's formula and each other."""

import math

import pytest
import torch

from helpers.library.positions import LearnedPositions, SinusoidalPositions, sinusoidal_encoding


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
