"""Lesson 06's exercise 5, the feed-forward sublayer: the reference passes, the untouched cell fails politely,
typical mistakes get their hint, and nothing raises."""

import pytest
import torch

from helpers.lessons.l06_add_and_norm.exercises import check_feed_forward
from helpers.machinery import progress


def my_feed_forward(x, w_1, b_1, w_2, b_2):
    return torch.relu(x @ w_1.T + b_1) @ w_2.T + b_2


def placeholder(x, w_1, b_1, w_2, b_2):
    raise NotImplementedError  # your code here


def test_the_reference_passes(capsys):
    assert check_feed_forward(my_feed_forward) is True
    out = capsys.readouterr().out
    assert "all checks passed" in out and out.count("✓") == 3


def test_nn_functional_linear_passes_too():
    def with_linear(x, w_1, b_1, w_2, b_2):
        return torch.nn.functional.linear(torch.relu(torch.nn.functional.linear(x, w_1, b_1)), w_2, b_2)

    assert check_feed_forward(with_linear) is True


@pytest.fixture
def fresh_record(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.ENVIRONMENT_VARIABLE, str(tmp_path / "progress.json"))


def test_the_untouched_cell_fails_politely_and_is_not_recorded(fresh_record, capsys):
    assert check_feed_forward(placeholder) is False
    out = capsys.readouterr().out
    assert "`raise NotImplementedError` with your code" in out and "Not yet" in out
    assert "06_add_and_norm.check_feed_forward" not in progress.load_progress()


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda x, w_1, b_1, w_2, b_2: (x @ w_1.T + b_1) @ w_2.T + b_2, "the ReLU is missing"),
        (lambda x, w_1, b_1, w_2, b_2: torch.relu((x @ w_1.T + b_1) @ w_2.T + b_2), "not after the second"),
        (lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1.T) @ w_2.T, "a bias is missing"),
        (lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1 + b_1) @ w_2 + b_2, "multiply by its transpose"),
        (lambda x, w_1, b_1, w_2, b_2: my_feed_forward(x.mean(dim=-2, keepdim=True), w_1, b_1, w_2, b_2).expand_as(x),
         "nothing may mix the tokens"),
        (lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1.T + b_1), "maps each token of d_model = 8 back to 8"),
        (lambda x, w_1, b_1, w_2, b_2: None, "got NoneType"),
        (lambda x, w_1, b_1, w_2, b_2: 1 / 0, "ZeroDivisionError"),
    ],
)  # fmt: skip
def test_typical_mistakes_fail_with_their_hint(answer, hint, capsys):
    assert check_feed_forward(answer) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out


def test_a_tried_answer_is_recorded(fresh_record):
    check_feed_forward(lambda x, w_1, b_1, w_2, b_2: x)
    assert progress.load_progress()["06_add_and_norm.check_feed_forward"]["passed"] is False
    check_feed_forward(my_feed_forward)
    assert progress.load_progress()["06_add_and_norm.check_feed_forward"]["passed"] is True
