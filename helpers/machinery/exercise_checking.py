"""Self-checking exercises: a checker prints what passed, what did not, and a hint.

A checker never raises on the learner's mistake: it reports it, so the notebook keeps running.
Each lesson's room holds its `check_...` functions in a module `exercises` (helpers.lessons.l03_softmax.exercises);
this module holds what they share.
Every verdict is also noted in the learner's local progress record (helpers.machinery.progress), except when the
exercise is untouched: every answer the checker got is still the notebook's placeholder (None, or a
function that raises NotImplementedError). Running a lesson top to bottom does not count as trying.
"""

import sys
import traceback

from helpers.machinery import progress

__all__ = ["report", "call_learner", "not_written", "error_hint", "PLACEHOLDER_ADVICE"]


def report(title, results):
    """Print a ✓/✗ line per (description, passed, hint) and a verdict. Returns True if all passed."""
    print(title)
    for description, passed, hint in results:
        print(("  ✓ " if passed else "  ✗ ") + description + ("" if passed else f"\n      Hint: {hint}"))
    passed = all(result[1] for result in results)
    print("Well done: all checks passed." if passed else "Not yet: read the hints above and try again.")
    key, answers = _calling_checker()
    if key and not _untouched(answers):
        progress.record(key, title, passed)
    _placeholders.clear()
    return passed


_placeholders = set()  # ids of learner functions that raised NotImplementedError since the last report


def _calling_checker():
    """("<lesson>.<check_name>", the values of its required arguments) of the outermost check_... of a lesson's
    exercises module on the stack, or (None, []) when report() was not called from a checker."""
    found, answers, frame = None, [], sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        code = frame.f_code
        parts = module.split(".")
        if (
            len(parts) == 4
            and parts[:2] == ["helpers", "lessons"]
            and parts[3] == "exercises"
            and code.co_name.startswith("check_")
        ):
            found = f"{parts[2].removeprefix('l')}.{code.co_name}"
            checker = frame.f_globals.get(code.co_name)
            n_defaults = len(getattr(checker, "__defaults__", None) or ())
            required = code.co_varnames[: code.co_argcount - n_defaults]
            answers = [frame.f_locals.get(name) for name in required]
        frame = frame.f_back
    return found, answers


def _is_placeholder(answer):
    """None, a learner function that raised NotImplementedError, or a dict of such (e.g. {question: None})."""
    if answer is None or (callable(answer) and id(answer) in _placeholders):
        return True
    return isinstance(answer, dict) and bool(answer) and all(_is_placeholder(value) for value in answer.values())


def _untouched(answers):
    """True if every answer the learner had to give is still the notebook's placeholder."""
    return bool(answers) and all(_is_placeholder(answer) for answer in answers)


def call_learner(fn, *args, **kwargs):
    """Run the learner's code: (value, None), or (None, "the error it raised, and where")."""
    try:
        return fn(*args, **kwargs), None
    except Exception as error:  # the learner's code may raise anything; we report it
        if isinstance(error, NotImplementedError):
            _placeholders.add(id(fn))
        last = traceback.extract_tb(error.__traceback__)[-1]
        message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return None, f"{message} (line {last.lineno})"


PLACEHOLDER_ADVICE = "replace the line `raise NotImplementedError` with your code, then run the cell"


def not_written(fn, *args):
    """A one-line report if the learner's function is still the placeholder (raises NotImplementedError), else None."""
    _, error = call_learner(fn, *args)
    if error is None or not error.startswith("NotImplementedError"):
        return None
    return [(f"{getattr(fn, '__name__', 'your function')} is written", False, PLACEHOLDER_ADVICE)]


def error_hint(error, advice):
    """The learner's error, with advice; the untouched placeholder gets a plainer message."""
    if error.startswith("NotImplementedError"):
        return "replace `raise NotImplementedError` with your code, then run the cell again"
    return f"{error}; {advice}"
