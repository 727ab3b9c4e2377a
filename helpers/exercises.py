"""Self-checking exercises: a checker prints what passed, what did not, and a hint.

A checker never raises on the learner's mistake: it reports it, so the notebook keeps running.
"""

import traceback

__all__ = ["report", "check_sharp_temperature"]


def report(title, results):
    """Print a ✓/✗ line per (description, passed, hint) and a verdict. Returns True if all passed."""
    print(title)
    for description, passed, hint in results:
        print(("  ✓ " if passed else "  ✗ ") + description + ("" if passed else f"\n      Hint: {hint}"))
    passed = all(result[1] for result in results)
    print("Well done: all checks passed." if passed else "Not yet: read the hints above and try again.")
    return passed


def _call(fn, *args):
    """(value, None) or (None, 'the error the learner's code raised')."""
    try:
        return fn(*args), None
    except Exception as error:  # the learner's code may raise anything; we report it
        last = traceback.extract_tb(error.__traceback__)[-1]
        return None, f"{type(error).__name__}: {error} (line {last.lineno})"


def check_sharp_temperature(temperature, query=1, threshold=0.9):
    """Exercise of 00_start_here: a temperature at which query `query` puts > `threshold` on one key."""
    from helpers.toy_data import SENTENCES, toy_queries_and_keys
    from helpers.widgets import attention_map_state

    results = []
    is_number = isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
    results.append(("temperature is a number", is_number, "write a number, for example temperature = 2.0"))
    if is_number:
        positive = temperature > 0
        results.append(("temperature is above 0", positive, "softmax divides by the temperature: it must be > 0"))
        if positive:
            tokens = SENTENCES["cat"]
            q, k = toy_queries_and_keys(tokens)
            state, error = _call(attention_map_state, tokens, q, k, temperature, "none", query)
            top = float(state["row"].max()) if state else 0.0
            results.append(
                (
                    f"the largest weight of query {query} is above {threshold} (it is {top:.3f})",
                    top > threshold,
                    "a smaller temperature makes the weights sharper; try the slider" if error is None else error,
                )
            )
    return report("Exercise: a sharp attention row", results)
