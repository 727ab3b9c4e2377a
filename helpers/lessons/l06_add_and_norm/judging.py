"""How lesson 06 judges its numbers: thresholds stated once, and the words they give.

A summary or a verdict must read the same on any CPU, even where single trained seeds do not: every judging
word ("trained", "the same", "faster", "supported") comes from one of the thresholds below. The private
helpers (_percent, _listed, ...) print numbers and lists of words the same way in every summary.

    seed_outcome(result)                how a setting's seeds ended: trained reliably, diverged, failed or unreliable
    describe_outcome(outcome)           a few words for it: 'trained in 10 of 10 seeds'
    compare(value, reference, within)   'higher', 'lower' or 'the same'
    convergence(value, reference)       'faster', 'slower' or 'as fast', by FASTER
    verdict(findings)                   'supported', 'partly' or 'not supported', from [(text, bool)]
"""

import numpy as np

from helpers.lessons.l06_add_and_norm.blocks import VARIANT_LABELS

__all__ = [
    "AT_CHANCE",
    "TRAINED",
    "RELIABLE",
    "SAME_WITHIN",
    "FASTER",
    "seed_outcome",
    "describe_outcome",
    "compare",
    "convergence",
    "verdict",
]

# Thresholds: every verdict, and every judging word in the summaries ("trained", "the same", "faster"), comes
# from one of these. The numbers of a trained model move from one CPU to another; these judgements must not.
AT_CHANCE = 0.60  # held-out accuracy below this: the model learned nothing (always answering 0 scores 51 %)
TRAINED = 0.75  # at or above this, without diverging, a model trained (seeing only its own token gives 91.7 %)
RELIABLE = 0.9  # a setting trains reliably if this share of its seeds trained; it fails if at most 1 − this did
SAME_WITHIN = 0.02  # two median accuracies (or accuracy gaps) closer than 2 points are "the same" here
FASTER = 0.8  # converges faster: a median mean training loss at most 0.8 times the other's (slower: 1/0.8 times)
VANISHED = 1e-3  # block 1's gradient below 1e-3 of block 48's (or a chain's derivative below 1e-3): vanished
STEADY = 10.0  # kept within a factor of 10, either way
KEPT_R2, LOST_R2 = 0.9, 0.1  # R² recovering x_0: at least 0.9, x_0 is kept; at most 0.1, it is lost
FIXED_RMS = 0.05  # a stream whose RMS stays within 0.05 of 1 at every layer has a fixed size
CENTRED = 0.1  # hidden units have a consistent distribution if every feature's mean lies within 0.1 of 0
INVARIANT = 1e-3  # LN(c·x + b) = LN(x) holds if they differ by less than this (ε makes them differ a little)
NO_NOISE = 1e-6  # a LayerNorm output that changes by less than this when the batch changes adds no noise
NORMALISED = 1e-3  # a token is normalised if its mean is within this of 0 and its variance within this of 1
LOWER_LOSS = 0.8  # a held-out loss at most 0.8 times the other's is lower (the same ratio as FASTER)


def _percent(value):
    return f"{100 * float(value):.0f} %"


def _points(value):
    return f"{100 * float(value):.0f} points"


def _name(variant):
    return VARIANT_LABELS[variant].split(":")[0]


def _listed(words):
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _agreed(words):
    """The one word of {name: word} if every name has the same, else None."""
    values = set(words.values())
    return values.pop() if len(values) == 1 else None


def _each(words):
    """{name: phrase}: 'plain and LayerNorm only each did not train' if the phrases agree, else
    'Post-LN the same and Pre-LN higher'."""
    word = _agreed(words)
    if word is not None:
        return f"{_listed(words)} {'each ' if len(words) > 1 else ''}{word}"
    return _listed(f"{name} {phrase}" for name, phrase in words.items())


def _judged(words):
    """{name: word}: 'both the same' (or 'all above') if the words agree, else 'Post-LN the same and Pre-LN higher'."""
    word = _agreed(words)
    if word is not None:
        return word if len(words) == 1 else f"{'both' if len(words) == 2 else 'all'} {word}"
    return _listed(f"{name} {phrase}" for name, phrase in words.items())


def _both(n):
    return {1: "it", 2: "both", 3: "all three"}.get(n, f"all {n}")


def _same_or_listed(values):
    """'100 % for all three' if the printed values agree, else '93 %, 94 % and 93 %'."""
    values = list(values)
    if len(set(values)) == 1 and len(values) > 1:
        return f"{values[0]} for {_both(len(values))}"
    return _listed(values)


def _baseline(accuracy):
    return f"{100 * float(accuracy):.1f} %"


def _lookup(results, key, what):
    if key not in results:
        raise ValueError(f"{what} has no {key!r}; it holds {list(results)}")
    return results[key]


def _median(values):
    return float(np.median(np.asarray(values, dtype=float)))


def seed_outcome(result):
    """How the seeds of one setting ended, judged by TRAINED, AT_CHANCE and RELIABLE.

    result: one entry of training_grid(...). Returns {"seeds": n, "trained": seeds that reached TRAINED
    without diverging, "diverged": seeds that diverged, "at_chance": seeds below AT_CHANCE, "median": the
    median held-out accuracy, "outcome": one of
        "trained"     at least RELIABLE of the seeds trained;
        "diverged"    otherwise, if at least half of them diverged;
        "failed"      otherwise, if none trained;
        "unreliable"  otherwise: some seeds trained, others did not}.
    """
    accuracy = np.asarray(result["eval_accuracy"], dtype=float)
    diverged = np.asarray(result["diverged_at"]) >= 0
    if accuracy.ndim != 1 or accuracy.shape != diverged.shape or not len(accuracy):
        raise ValueError("a result needs eval_accuracy and diverged_at of the same shape (S,) with S >= 1")
    n, trained = len(accuracy), int(((accuracy >= TRAINED) & ~diverged).sum())
    if trained >= RELIABLE * n - 1e-9:
        outcome = "trained"
    elif 2 * diverged.sum() >= n:
        outcome = "diverged"
    else:
        outcome = "failed" if trained == 0 else "unreliable"
    return {
        "seeds": n,
        "trained": trained,
        "diverged": int(diverged.sum()),
        "at_chance": int((accuracy < AT_CHANCE).sum()),
        "median": float(np.median(accuracy)),
        "outcome": outcome,
    }


def describe_outcome(outcome):
    """A few words for a seed_outcome(...): 'trained in 10 of 10 seeds', 'diverged in 9 of 10 seeds', ..."""
    n = outcome["seeds"]
    return {
        "trained": f"trained in {outcome['trained']} of {n} seeds",
        "diverged": f"diverged in {outcome['diverged']} of {n} seeds",
        "failed": f"did not train ({outcome['at_chance']} of {n} seeds at chance)",
        "unreliable": "unreliable (some seeds trained, others did not)",
    }[outcome["outcome"]]


def compare(value, reference, within):
    """'higher', 'lower' or 'the same': value against reference; the same if they differ by less than `within`
    (within=0: 'the same' only if equal)."""
    if value >= reference + within and value != reference:
        return "higher"
    if value <= reference - within and value != reference:
        return "lower"
    return "the same"


def convergence(value, reference):
    """'faster', 'slower' or 'as fast': a median mean training loss `value` against `reference`, judged by FASTER."""
    if value <= FASTER * reference:
        return "faster"
    if value >= reference / FASTER:
        return "slower"
    return "as fast"


def verdict(findings):
    """'supported' if every finding holds, 'partly' if some do, 'not supported' if none. findings: [(text, bool)]."""
    holds = [bool(held) for _, held in findings]
    if not holds:
        raise ValueError("a verdict needs at least one finding")
    return "supported" if all(holds) else "partly" if any(holds) else "not supported"
