"""helpers.library.checks: the argument checks every function of the course starts with."""

import numpy as np
import pytest
import torch

from helpers.library.checks import require_int, require_int_list


def test_an_int_list_comes_back_as_plain_ints():
    assert require_int_list("seeds", (0, np.int64(3), 5), minimum=0, what="seed") == [0, 3, 5]
    assert require_int_list("lengths", range(1, 4), minimum=1) == [1, 2, 3]


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ("012", TypeError, "seeds must be a list of ints, got str"),
        (3, TypeError, "seeds must be a list of ints, got int"),
        ([], ValueError, "seeds is empty: give at least one seed"),
        ([0, 1.5], TypeError, "each seed must be an int, got float"),
        ([True], TypeError, "each seed must be an int, got bool"),
        ([0, -1], ValueError, "each seed must be >= 0, got -1"),
        ([1, 1], ValueError, r"seeds must differ from each other, got \[1, 1\]"),
    ],
)
def test_a_bad_int_list_is_refused_with_a_message_naming_it(values, error, message):
    with pytest.raises(error, match=message):
        require_int_list("seeds", values, minimum=0, distinct=True, what="seed")


def test_repeats_are_allowed_unless_asked_for():
    assert require_int_list("pad_counts", [2, 2], minimum=0) == [2, 2]


def test_an_int_is_an_int_and_not_a_bool_or_a_tensor():
    assert require_int("n", np.int32(4), minimum=1) == 4
    with pytest.raises(TypeError, match="n must be an int, got bool"):
        require_int("n", True, minimum=0)
    with pytest.raises(TypeError, match="n must be an int, got Tensor"):
        require_int("n", torch.tensor(4), minimum=0)
