"""Self-checking exercises: a checker prints what passed, what did not, and a hint.

A checker never raises on the learner's mistake: it reports it, so the notebook keeps running.

    @checker              wraps every lesson's check_... function: no traceback ever escapes it (a bug of the
                          checker itself is reported as such), it leaves the global random states, the thread
                          count, grad mode and the default dtype as it found them, and with raising=True
                          (nbgrader's graded cells) a failed check raises AssertionError with its hints
    report(title, results)   prints ✓/✗ per (description, passed, hint) and a verdict; returns True/False
    call_learner(fn, ...)    runs the learner's code: (value, None) or (None, the error and the line of the
                             learner's own code), within a time budget (an endless loop ends with a message)
    not_written, error_hint, PLACEHOLDER_ADVICE   the untouched placeholder's friendly message
Each lesson's room holds its `check_...` functions in a module `exercises` (helpers.lessons.l03_softmax.exercises);
this module holds what they share.
Every verdict is also noted in the learner's local progress record (helpers.machinery.progress), except when the
exercise is untouched: every answer the checker got is still the notebook's placeholder (None, or a
function that raises NotImplementedError). Running a lesson top to bottom does not count as trying.
"""

import contextlib
import functools
import inspect
import linecache
import random
import sys
import sysconfig
import time
import traceback
import warnings
from pathlib import Path

from helpers.machinery import progress
from helpers.machinery.answers import describe

__all__ = [
    "checker",
    "report",
    "call_learner",
    "not_written",
    "error_hint",
    "PLACEHOLDER_ADVICE",
    "CALL_SECONDS",
    "LearnerTimeout",
]

CALL_SECONDS = 10.0  # the time budget of one call of the learner's code


def report(title, results):
    """Print a ✓/✗ line per (description, passed, hint) and a verdict. Returns True if all passed.

    If a learner function is still the placeholder (it raised NotImplementedError during this check) and a
    check failed, one line says so instead of a hint per case.
    """
    results = list(results)
    if _placeholders and not all(result[1] for result in results):
        names = ", ".join(sorted(set(_placeholders.values())))
        results = [(f"{names} is written", False, PLACEHOLDER_ADVICE)]
    print(title)
    for description, passed, hint in results:
        print(("  ✓ " if passed else "  ✗ ") + description + ("" if passed else f"\n      Hint: {hint}"))
    passed = all(result[1] for result in results)
    print("Well done: all checks passed." if passed else "Not yet: read the hints above and try again.")
    _last_failures[:] = [f"{title}: ✗ {d} (hint: {h})" for d, ok, h in results if not ok]
    key, answers = _calling_checker()
    if key and not _untouched(answers):
        progress.record(key, title, passed)
    _placeholders.clear()
    return passed


_placeholders = {}  # id -> name of learner functions that raised NotImplementedError since the last report
_timed_out = {}  # id of a learner function -> its timeout message, since the last checker started
_last_failures = []  # the failed lines of the last report, for raising=True


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
            checker = inspect.unwrap(frame.f_globals.get(code.co_name))
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


class LearnerTimeout(BaseException):
    """Raised inside the learner's code when a call outlives its budget (a BaseException, so that the
    learner's own `except Exception` cannot swallow it)."""


_HELPERS = str(Path(__file__).resolve().parent.parent)
_LIBRARY_DIRS = tuple({str(Path(sysconfig.get_paths()[key]).resolve()) for key in ("stdlib", "platstdlib")})


def _is_learner_code(filename):
    """True for code the learner wrote: a notebook cell or a file of theirs, not helpers/, site-packages or Python."""
    if not filename or filename.startswith("<frozen") or filename.startswith(_HELPERS):
        return False
    if "site-packages" in filename or "dist-packages" in filename:
        return False
    return not filename.startswith(_LIBRARY_DIRS)


def _learner_line(tb):
    """'line N of your cell: `code`' for the last frame of the learner's own code in a traceback, or None."""
    found = None
    for frame in traceback.extract_tb(tb):
        if _is_learner_code(frame.filename):
            found = frame
    if found is None:
        return None
    code = (found.line or linecache.getline(found.filename, found.lineno)).strip()
    where = "your cell" if "ipykernel" in found.filename or found.filename.startswith("<ipython") else "your code"
    return f"line {found.lineno} of {where}" + (f": `{code}`" if code else "")


@contextlib.contextmanager
def _deadline(seconds):
    """Raise LearnerTimeout in the learner's code once `seconds` have passed (checked on each of its lines)."""
    end = time.perf_counter() + seconds

    def local(frame, event, arg):
        if event == "line" and time.perf_counter() > end:
            raise LearnerTimeout
        return local

    def call(frame, event, arg):
        if time.perf_counter() > end:
            raise LearnerTimeout
        return local if _is_learner_code(frame.f_code.co_filename) else None

    previous = sys.gettrace()
    sys.settrace(call)
    try:
        yield
    finally:
        sys.settrace(previous)


def call_learner(fn, *args, seconds=None, **kwargs):
    """Run the learner's code: (value, None), or (None, "the error it raised, and where").

    Where is the line of the learner's own code (their cell), not of helpers or torch. The call has a budget of
    `seconds` (default CALL_SECONDS): an endless loop ends with a message, and the same function is not run
    again until the next checker. Warnings and prints to stderr during the call go to stdout, so a graded
    cell never writes to stderr.
    """
    if not callable(fn):
        return None, f"{getattr(fn, '__name__', describe(fn))} is not a function: define it with def"
    if id(fn) in _timed_out:
        return None, _timed_out[id(fn)]
    seconds = CALL_SECONDS if seconds is None else seconds
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(sys.stdout), _deadline(seconds):
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs), None
    except LearnerTimeout:
        name = getattr(fn, "__name__", "your function")
        message = (
            f"{name} did not finish within {seconds:g} s: is there a loop that never ends "
            "(a while whose condition never becomes False, a list that never grows)?"
        )
        _timed_out[id(fn)] = message
        return None, message
    except Exception as error:  # the learner's code may raise anything; we report it
        if isinstance(error, NotImplementedError):
            _placeholders[id(fn)] = getattr(fn, "__name__", "your function")
        message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        where = _learner_line(error.__traceback__)
        if where is None:
            where = f"line {traceback.extract_tb(error.__traceback__)[-1].lineno}"
        return None, f"{message} ({where})"


@contextlib.contextmanager
def _state_kept():
    """Restore torch's, numpy's and Python's random states, torch's threads, grad mode and default dtype."""
    import numpy as np
    import torch

    saved = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    threads, grad, dtype = torch.get_num_threads(), torch.is_grad_enabled(), torch.get_default_dtype()
    try:
        yield
    finally:
        torch.set_rng_state(saved[0])
        np.random.set_state(saved[1])
        random.setstate(saved[2])
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        torch.set_grad_enabled(grad)
        torch.set_default_dtype(dtype)


def checker(check):
    """Decorate a lesson's check_... function: no traceback escapes, no side effect, and a raising mode.

    The wrapped checker takes the same arguments, plus raising=False. It prints what it always printed and
    returns True/False; with raising=True a failed check also raises AssertionError carrying the failed lines
    and their hints (what nbgrader's graded cells need: an error is what scores zero).
    """
    signature = inspect.signature(check)

    @functools.wraps(check)
    def wrapper(*args, raising=False, **kwargs):
        _timed_out.clear()
        _last_failures.clear()
        _placeholders.clear()
        try:
            signature.bind(*args, **kwargs)
        except TypeError as error:
            print(f"{check.__name__}{signature}: {error}. Call it as the exercise cell does.")
            passed = False
            _last_failures[:] = [f"{check.__name__}: {error}"]
        else:
            with _state_kept():
                try:
                    passed = bool(check(*args, **kwargs))
                except Exception as error:  # a bug of the checker, never the learner's: say so, do not raise
                    where = traceback.extract_tb(error.__traceback__)[-1]
                    print(
                        f"The checker itself failed ({type(error).__name__}: {error}, {Path(where.filename).name} "
                        f"line {where.lineno}). Your answer may well be right: tell your teacher or the course's "
                        "authors, with this message."
                    )
                    passed = False
                    _last_failures[:] = [f"{check.__name__} failed: {type(error).__name__}: {error}"]
                finally:
                    _timed_out.clear()
        if raising and not passed:
            raise AssertionError("\n".join(_last_failures) or f"{check.__name__}: not all checks passed")
        return passed

    wrapper.is_checker = True
    return wrapper


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
        return PLACEHOLDER_ADVICE
    return f"{error}; {advice}"
