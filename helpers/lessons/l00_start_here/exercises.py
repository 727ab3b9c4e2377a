"""00_start_here's exercise: find a temperature that makes one attention row sharp."""

from helpers.lessons.l00_start_here.explorer import attention_map_state
from helpers.machinery.exercise_checking import call_learner, checker, report
from helpers.machinery.toy_data import SENTENCES, toy_queries_and_keys

__all__ = ["check_sharp_temperature"]


@checker
def check_sharp_temperature(temperature, query=1, threshold=0.9):
    """Exercise: a temperature at which query `query` puts > `threshold` on one key."""
    results = []
    is_number = isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
    results.append(("temperature is a number", is_number, "write a number, for example temperature = 2.0"))
    if is_number:
        positive = temperature > 0
        results.append(("temperature is above 0", positive, "softmax divides by the temperature: it must be > 0"))
        if positive:
            tokens = SENTENCES["cat"]
            q, k = toy_queries_and_keys(tokens)
            state, error = call_learner(attention_map_state, tokens, q, k, temperature, "none", query)
            top = float(state["row"].max()) if state else 0.0
            results.append(
                (
                    f"the largest weight of query {query} is above {threshold} (it is {top:.3f})",
                    top > threshold,
                    "a smaller temperature makes the weights sharper; try the slider" if error is None else error,
                )
            )
    return report("Exercise: a sharp attention row", results)
