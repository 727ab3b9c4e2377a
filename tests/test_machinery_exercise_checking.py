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
