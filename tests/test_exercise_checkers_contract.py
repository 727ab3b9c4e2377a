"""Every lesson's checker keeps the contract of helpers.machinery.exercise_checking.checker.

For each check_... of every room: it is wrapped by @checker; untouched, nonsense and crashing answers get a
printed verdict (False), never a traceback and nothing on stderr; the global random state is as before; and
raising=True turns a failed check into an AssertionError (what nbgrader's graded cells need).
"""

import importlib
import inspect
import pkgutil

import pytest
import torch

import helpers.lessons

CHECKERS = []
for room in pkgutil.iter_modules(helpers.lessons.__path__):
    module = importlib.import_module(f"helpers.lessons.{room.name}.exercises")
    for name, fn in vars(module).items():
        if name.startswith("check_") and callable(fn) and fn.__module__ == module.__name__:
            CHECKERS.append(pytest.param(fn, id=f"{room.name}.{name}"))


def _required(fn):
    parameters = inspect.signature(inspect.unwrap(fn)).parameters.values()
    return [p for p in parameters if p.default is inspect.Parameter.empty and p.kind == p.POSITIONAL_OR_KEYWORD]


def placeholder(*args, **kwargs):
    raise NotImplementedError  # your code here


def crashes(*args, **kwargs):
    return {}["no such key"]


ANSWERS = {"untouched": None, "placeholder": placeholder, "crashes": crashes, "nonsense": "forty-two"}


def test_every_room_has_checkers():
    assert len(CHECKERS) >= 40


@pytest.mark.parametrize("check", CHECKERS)
def test_checker_is_wrapped(check):
    assert getattr(check, "is_checker", False), "decorate it with helpers.machinery.exercise_checking.checker"


@pytest.mark.parametrize("kind", list(ANSWERS))
@pytest.mark.parametrize("check", CHECKERS)
def test_bad_answers_get_a_verdict_never_a_traceback(check, kind, capsys):
    arguments = [ANSWERS[kind]] * len(_required(check))
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    assert check(*arguments) is False
    assert torch.equal(torch.rand(2), expected)
    captured = capsys.readouterr()
    assert captured.err == "" and "Not yet" in captured.out and "Traceback" not in captured.out
    assert "The checker itself failed" not in captured.out
    with pytest.raises(AssertionError):
        check(*arguments, raising=True)
