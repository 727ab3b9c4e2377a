"""The self-checking exercises report, never raise, on a learner's mistake."""

import pytest

from helpers.lessons.l00_start_here.exercises import check_sharp_temperature
from helpers.machinery.exercise_checking import report


def test_report_lists_hints_only_for_failures(capsys):
    assert report("T", [("one", True, "h1"), ("two", True, "h2")]) is True
    out = capsys.readouterr().out
    assert "✓ one" in out and "h1" not in out and "all checks passed" in out
    assert report("T", [("one", True, "h1"), ("two", False, "h2")]) is False
    out = capsys.readouterr().out
    assert "✗ two" in out and "Hint: h2" in out and "Not yet" in out


def test_a_low_temperature_passes(capsys):
    assert check_sharp_temperature(0.2) is True


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "write a number"),
        ("0.2", "write a number"),
        (True, "write a number"),
        (0, "must be > 0"),
        (-1.0, "must be > 0"),
        (1.0, "smaller temperature"),
        (float("inf"), "temperature must be finite"),
    ],
)
def test_wrong_answers_get_a_hint(answer, hint, capsys):
    assert check_sharp_temperature(answer) is False
    assert hint in capsys.readouterr().out


def test_call_learner_reports_the_error_and_its_line():
    from helpers.machinery.exercise_checking import call_learner

    def unfinished():
        raise NotImplementedError

    value, error = call_learner(unfinished)
    assert value is None and error.startswith("NotImplementedError (line ")
    assert call_learner(lambda x: x + 1, 1) == (2, None)
    _, error = call_learner(lambda: 1 / 0)
    assert error.startswith("ZeroDivisionError: division by zero (line ")


# --------------------------------------------------------------------------- the learner's call and @checker


def test_an_endless_loop_ends_with_a_message_and_is_not_run_twice():
    import time

    from helpers.machinery.exercise_checking import call_learner

    def never_ends():
        out = []
        while len(out) < 3:  # a loop that never appends
            try:
                pass
            except Exception:  # the learner's own except cannot swallow the timeout
                pass
        return out

    start = time.perf_counter()
    value, error = call_learner(never_ends, seconds=0.3)
    assert value is None and "did not finish within 0.3 s" in error
    assert time.perf_counter() - start < 5
    start = time.perf_counter()
    assert call_learner(never_ends, seconds=0.3)[1] == error  # remembered: not run again
    assert time.perf_counter() - start < 0.1


def test_an_error_is_reported_with_the_line_of_the_learners_code():
    import torch

    from helpers.machinery.exercise_checking import call_learner

    def mine(x):
        y = x * 2
        return y @ torch.ones(5)  # a shape error raised inside torch

    _, error = call_learner(mine, torch.ones(3, 4))
    assert error.startswith("RuntimeError: ") and "of your code: `return y @ torch.ones(5)" in error
    assert call_learner("not a function")[1].startswith("a str is not a function")


def test_warnings_and_stderr_of_the_learners_code_stay_off_stderr(capsys):
    import sys
    import warnings

    from helpers.machinery.exercise_checking import call_learner

    def noisy():
        warnings.warn("careful", stacklevel=1)
        print("to stderr", file=sys.stderr)
        return 1

    assert call_learner(noisy) == (1, None)
    captured = capsys.readouterr()
    assert captured.err == "" and "to stderr" in captured.out


def _checker_that(body):
    from helpers.machinery.exercise_checking import checker

    @checker
    def check_something(answer):
        return body(answer)

    return check_something


def test_checker_leaves_the_global_state_as_it_found_it():
    import random

    import numpy as np
    import torch

    def meddle(answer):
        torch.manual_seed(1), np.random.seed(1), random.seed(1)
        torch.set_num_threads(1), torch.set_grad_enabled(False), torch.set_default_dtype(torch.float64)
        torch.rand(3)
        return report("T", [("ok", True, "")])

    threads = torch.get_num_threads()
    torch.manual_seed(123), np.random.seed(123), random.seed(123)
    expected = (torch.rand(2), np.random.rand(2), random.random())
    torch.manual_seed(123), np.random.seed(123), random.seed(123)
    assert _checker_that(meddle)(None) is True
    got = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(got[0], expected[0]) and (got[1] == expected[1]).all() and got[2] == expected[2]
    assert torch.get_num_threads() == threads and torch.is_grad_enabled()
    assert torch.get_default_dtype() == torch.float32


def test_a_bug_of_the_checker_is_reported_never_raised(capsys):
    check = _checker_that(lambda answer: 1 / 0)
    assert check(None) is False
    out = capsys.readouterr().out
    assert "The checker itself failed (ZeroDivisionError" in out and "Your answer may well be right" in out


def test_a_wrong_call_of_a_checker_is_reported(capsys):
    check = _checker_that(lambda answer: True)
    assert check() is False and check(1, 2) is False
    assert "Call it as the exercise cell does" in capsys.readouterr().out


def test_raising_mode_raises_with_the_hints_only_on_failure():
    def fails(answer):
        return report("Exercise 9", [("the sum is right", False, "add them up")])

    assert _checker_that(lambda answer: report("T", [("ok", True, "")]))(None, raising=True) is True
    with pytest.raises(AssertionError, match="Exercise 9: ✗ the sum is right \\(hint: add them up\\)"):
        _checker_that(fails)(None, raising=True)
    with pytest.raises(AssertionError, match="checker itself|ZeroDivisionError"):
        _checker_that(lambda answer: 1 / 0)(None, raising=True)
