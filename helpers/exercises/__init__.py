"""Self-checking exercises: a checker prints what passed, what did not, and a hint.

A checker never raises on the learner's mistake: it reports it, so the notebook keeps running.
One module per lesson holds that lesson's `check_...` functions; this module holds what they share.
Every verdict is also noted in the learner's local progress record (helpers.progress).
"""

import sys
import traceback

from helpers import progress

__all__ = ["report", "call_learner"]


def report(title, results):
    """Print a ✓/✗ line per (description, passed, hint) and a verdict. Returns True if all passed."""
    print(title)
    for description, passed, hint in results:
        print(("  ✓ " if passed else "  ✗ ") + description + ("" if passed else f"\n      Hint: {hint}"))
    passed = all(result[1] for result in results)
    print("Well done: all checks passed." if passed else "Not yet: read the hints above and try again.")
    key = _calling_checker()
    if key:
        progress.record(key, title, passed)
    return passed


def _calling_checker():
    """ "<module>.<check_name>" of the outermost check_... function of helpers.exercises on the stack, or None."""
    found, frame = None, sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith(__name__ + ".") and frame.f_code.co_name.startswith("check_"):
            found = f"{module.rsplit('.', 1)[1]}.{frame.f_code.co_name}"
        frame = frame.f_back
    return found


def call_learner(fn, *args, **kwargs):
    """Run the learner's code: (value, None), or (None, "the error it raised, and where")."""
    try:
        return fn(*args, **kwargs), None
    except Exception as error:  # the learner's code may raise anything; we report it
        last = traceback.extract_tb(error.__traceback__)[-1]
        message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return None, f"{message} (line {last.lineno})"
