"""Tests for helpers.set_seed: one call makes Python's, NumPy's and PyTorch's draws repeatable."""

import random

import numpy as np
import pytest
import torch

from helpers import set_seed


@pytest.fixture(autouse=True)
def _restore_global_rngs():
    """set_seed changes global state; put it back so other tests are not affected."""
    python_state, numpy_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    yield
    random.setstate(python_state)
    np.random.set_state(numpy_state)
    torch.set_rng_state(torch_state)


def _draw():
    return torch.randn(5), np.random.rand(5), [random.random() for _ in range(5)]


@pytest.mark.parametrize("seed", [0, 1, 1234, 2**32 + 7])
def test_same_seed_gives_same_draws(seed):
    set_seed(seed)
    first = _draw()
    _draw()  # move every generator on, so the second call really has to reset them
    set_seed(seed)
    second = _draw()
    torch.testing.assert_close(first[0], second[0], rtol=0, atol=0)
    np.testing.assert_array_equal(first[1], second[1])
    assert first[2] == second[2]


def test_different_seeds_give_different_draws():
    set_seed(0)
    first = _draw()
    set_seed(1)
    second = _draw()
    assert not torch.equal(first[0], second[0])
    assert not np.array_equal(first[1], second[1])
    assert first[2] != second[2]


def test_set_seed_matches_each_library_seeded_directly():
    set_seed(42)
    ours = _draw()
    torch.manual_seed(42)
    np.random.seed(42)
    random.seed(42)
    theirs = _draw()
    torch.testing.assert_close(ours[0], theirs[0], rtol=0, atol=0)
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[2] == theirs[2]


def test_set_seed_returns_a_generator_seeded_the_same_way():
    generator = set_seed(7)
    assert isinstance(generator, torch.Generator)
    assert generator.initial_seed() == 7
    expected = torch.randn(4, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(torch.randn(4, generator=generator), expected, rtol=0, atol=0)
    # The generator is separate from the global stream: drawing from it does not move torch's global state.
    set_seed(7)
    global_draw = torch.randn(4)
    generator = set_seed(7)
    torch.randn(100, generator=generator)
    torch.testing.assert_close(torch.randn(4), global_draw, rtol=0, atol=0)


def test_default_seed_is_0():
    set_seed()
    first = _draw()
    set_seed(0)
    second = _draw()
    torch.testing.assert_close(first[0], second[0], rtol=0, atol=0)
    assert first[2] == second[2]


def test_numpy_integer_seed_is_accepted():
    set_seed(np.int64(3))
    first = torch.randn(3)
    set_seed(3)
    torch.testing.assert_close(first, torch.randn(3), rtol=0, atol=0)


@pytest.mark.parametrize("seed", [-1, -100])
def test_negative_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="seed must be >= 0"):
        set_seed(seed)


@pytest.mark.parametrize("seed", [1.5, 2.0, "3", None, True, [1]])
def test_non_int_seed_is_rejected(seed):
    with pytest.raises(TypeError, match="seed must be an int"):
        set_seed(seed)
