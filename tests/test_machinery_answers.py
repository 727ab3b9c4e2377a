"""helpers.machinery.answers: every natural form of a right answer passes, a wrong one fails and says why."""

import numpy as np
import pytest
import torch

from helpers.machinery.answers import (
    as_bool,
    as_count,
    as_int_tuple,
    as_number,
    as_tensor,
    matching,
    same_values,
)

EXPECTED = torch.tensor([[0.25, 0.75], [0.5, 0.5]])


@pytest.mark.parametrize(
    "answer",
    [
        EXPECTED.clone(),
        EXPECTED.double(),  # a float64 answer to a float32 question
        EXPECTED + 1e-6,  # float-near
        EXPECTED.numpy().copy(),
        EXPECTED.tolist(),
        [torch.tensor([0.25, 0.75]), torch.tensor([0.5, 0.5])],
        EXPECTED.t().contiguous().t(),  # another memory layout
        EXPECTED.clone().requires_grad_(),
    ],
)
def test_every_form_of_the_right_answer_passes(answer):
    verdict = same_values(answer, EXPECTED)
    assert verdict and verdict.why == ""


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (EXPECTED + 1e-3, "first difference at (0, 0)"),
        (EXPECTED.t(), "first difference at (0, 1)"),
        (EXPECTED[0], "shape (2,), expected (2, 2)"),
        ("0.25", "returned a str, not numbers"),
        (None, "returned None"),
        (EXPECTED > 0.3, "True/False values"),
        (torch.full((2, 2), float("nan")), "NaN at (0, 0)"),
    ],
)
def test_wrong_answers_fail_and_say_why(answer, why):
    verdict = same_values(answer, EXPECTED)
    assert not verdict and why in verdict.why


def test_the_tolerance_grows_with_the_scale_of_the_numbers():
    big = torch.tensor([1e4, -1e4])
    assert same_values(big + 0.05, big)  # float32 rounding at 1e4 is about 1e-3
    assert not same_values(big + 5.0, big)
    assert not same_values(torch.tensor([1e-3]), torch.tensor([2e-3]))
    assert same_values(torch.tensor([1e-3]), torch.tensor([2e-3]), scale=1000.0)  # the caller's scale


def test_infinities_and_nans_must_sit_where_expected():
    expected = torch.tensor([float("-inf"), 0.0, float("nan")])
    assert same_values(torch.tensor([float("-inf"), 0.0, float("nan")]), expected)
    assert not same_values(torch.tensor([float("inf"), 0.0, float("nan")]), expected)
    assert not same_values(torch.tensor([-1e30, 0.0, float("nan")]), expected)
    assert not same_values(torch.tensor([float("-inf"), 0.0, 1.0]), expected)


def test_dtype_is_checked_only_when_asked_and_then_named():
    x = torch.randn(3, dtype=torch.float64)
    assert same_values(x.float(), x)
    verdict = same_values(x.float(), x, keep_dtype=True)
    assert not verdict and "right values but dtype torch.float32" in verdict.why


def test_bool_answers_need_bools_or_zeros_and_ones():
    mask = torch.tensor([[True, False], [True, True]])
    assert same_values(mask.clone(), mask) and same_values(mask.int(), mask) and same_values(mask.numpy(), mask)
    assert not same_values(~mask, mask)
    assert not same_values(mask.float() * 2, mask)


def test_scalars_are_accepted_in_any_wrapping():
    for answer in (3.0, 3, np.float32(3), np.int64(3), torch.tensor(3.0), torch.tensor([3.0])):
        assert same_values(answer, torch.tensor(3.0)), answer


def test_matching_names_the_known_mistake():
    x = torch.tensor([1.0, 2.0])
    candidates = [(x * 2, "doubled"), (x + 1, "shifted")]
    assert matching(x + 1, candidates) == "shifted"
    assert matching(x, candidates) is None


@pytest.mark.parametrize(
    ("answer", "count"),
    [
        (16640, 16640),
        (16640.0, 16640),
        (np.int64(16640), 16640),
        (np.float64(16640.0), 16640),
        (torch.tensor(16640), 16640),
        (torch.tensor(16640.0), 16640),
        (16640.5, None),
        (True, None),
        ("16640", None),
        (float("inf"), None),
        (None, None),
    ],
)
def test_as_count(answer, count):
    assert as_count(answer) == count


def test_as_number_as_bool_as_int_tuple_and_as_tensor():
    assert as_number(np.float32(0.5)) == 0.5 and as_number(torch.tensor([0.5])) == 0.5
    assert as_number(True) is None and as_number(np.bool_(True)) is None and as_number("1") is None
    assert as_bool(np.bool_(True)) is True and as_bool(torch.tensor(False)) is False and as_bool(True) is True
    assert as_bool(1) is None and as_bool("True") is None
    assert as_int_tuple([2, 3.0]) == (2, 3) == as_int_tuple(torch.Size([2, 3])) == as_int_tuple(np.array([2, 3]))
    assert as_int_tuple([2, 3.5]) is None and as_int_tuple(5) is None
    assert as_tensor([[1, 2], [3]]) is None and as_tensor({"a": 1}) is None
    assert as_tensor([1.0, 2]).dtype == torch.float64
