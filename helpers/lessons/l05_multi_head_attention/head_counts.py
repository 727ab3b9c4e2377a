"""One head, two heads, four heads of the same width: trained over seeds, compared, and the verdicts.

What the lesson concludes rests on ten seeds (SEEDS; five for four heads), summarised so that no conclusion
hangs on one run, with every threshold a named constant here:

    compare_head_counts(...)              train for several head counts and seeds, one row each
    learns_the_task(result)               both letters right at LEARNED (99 %) of the test positions or more
    summarise_head_counts(rows)           per head count: how many seeds learn the task
    one_head_verdict(summary)             "one head of the same width can do the same": supported or not
    head_count_markdown(rows)             what the one-head and two-head maps do, seed by seed, in words
    twin_heads(results)                   four heads for two jobs: shared jobs, and switching one twin off
    twins_back_up(twins)                  does switching off a twin cost less than switching off a lone head?
    describe_spread(values)               "median 88%, 51% to 100%, over 30 heads"
    LEARNED, RELIABLY, RARELY, BACKUP_MARGIN   the thresholds
"""

import statistics

from helpers.lessons.l05_multi_head_attention.head_roles import _roles, head_role, head_weight_on, splits_the_jobs
from helpers.lessons.l05_multi_head_attention.letter_task_model import evaluate
from helpers.lessons.l05_multi_head_attention.training import train_head_models, train_side_by_side
from helpers.library.checks import require_int_list

__all__ = [
    "LEARNED",
    "RELIABLY",
    "RARELY",
    "BACKUP_MARGIN",
    "compare_head_counts",
    "learns_the_task",
    "summarise_head_counts",
    "one_head_verdict",
    "head_count_markdown",
    "twin_heads",
    "twins_back_up",
    "describe_spread",
]

LEARNED = 0.99  # a model "learns the task" if it gets both letters right at 99 % of the test positions or more
RELIABLY, RARELY = 0.9, 0.5  # "reliably": with at least 90 % of the seeds; "rarely": with at most half of them
BACKUP_MARGIN = 0.2  # a twin "backs up" its job if, switched off, it costs 20 points less than a head alone in its job


def compare_head_counts(head_counts=(1, 2, 4), seeds=(0, 1, 2), progress=False):
    """Train one model per (n_heads, seed) with the same width, and summarise each.

    The models not trained yet train side by side (train_side_by_side); the others come from the cache.
    Returns a list of dicts, head count by head count and seed by seed: n_heads, seed, accuracy,
    first_accuracy, previous_accuracy, and per head its weight on the first and on the previous token
    (lists of floats) and its role.
    """
    train_side_by_side(
        [
            (n_heads, seed)
            for n_heads in head_counts
            for seed in require_int_list("seeds", seeds, 0, distinct=True, what="seed")
        ],
        progress=progress,
    )
    rows = []
    for n_heads in head_counts:
        for result in train_head_models(n_heads, seeds):  # from the cache
            first, previous = (values.tolist() for values in head_weight_on(result["weights"]))
            rows.append(
                {
                    "n_heads": n_heads,
                    "seed": result["seed"],
                    "accuracy": result["accuracy"],
                    "first_accuracy": result["first_accuracy"],
                    "previous_accuracy": result["previous_accuracy"],
                    "first": first,
                    "previous": previous,
                    "roles": [head_role(f, p) for f, p in zip(first, previous, strict=True)],
                }
            )
    return rows


def learns_the_task(result, threshold=LEARNED):
    """True if the model gets both letters right at `threshold` of the test positions or more.

    result: a dict with "accuracy" (train_head_models' results, compare_head_counts' rows)."""
    return result["accuracy"] >= threshold


def summarise_head_counts(rows, threshold=LEARNED):
    """Per head count, over its seeds: how many models learn the task.

    rows: compare_head_counts' rows. Returns {n_heads: {"seeds": n, "learned": k, "median": median
    accuracy, "lowest": ..., "highest": ...}}, head counts in the order they first appear.
    """
    summary = {}
    for n_heads in dict.fromkeys(row["n_heads"] for row in rows):
        accuracies = [row["accuracy"] for row in rows if row["n_heads"] == n_heads]
        summary[n_heads] = {
            "seeds": len(accuracies),
            "learned": sum(accuracy >= threshold for accuracy in accuracies),
            "median": statistics.median(accuracies),
            "lowest": min(accuracies),
            "highest": max(accuracies),
        }
    return summary


def one_head_verdict(summary, reliably=RELIABLY, rarely=RARELY):
    """Is "one head of the same width can do the same as two" supported by the seeds?

    summary: summarise_head_counts' result with head counts 1 and 2. "supported" if one head learns the
    task with at least `reliably` of its seeds; "not supported" if it does with at most `rarely` of them
    while two heads learn it with at least `reliably`; "partly" otherwise.
    """
    if 1 not in summary or 2 not in summary:
        raise ValueError("the summary needs head counts 1 and 2")
    one, two = (summary[count]["learned"] / summary[count]["seeds"] for count in (1, 2))
    if one >= reliably:
        return "supported"
    if one <= rarely and two >= reliably:
        return "not supported"
    return "partly"


def _count(k, n):
    return f"{k} of {n}"


def head_count_markdown(rows, threshold=LEARNED):
    """What the one-head and the two-head models do with their weight, in words, from compare_head_counts'
    rows. A head has a job when more than 0.8 of its weight goes to one token (head_role); a model that
    locks onto one token "gets that letter" if it is right at 95 % of the positions or more and wrong at
    more than half of them for the other letter. Returns Markdown text."""
    one = [row for row in rows if row["n_heads"] == 1]
    two = [row for row in rows if row["n_heads"] == 2]
    if not one or not two:
        raise ValueError("rows must hold models with one head and with two heads")
    learners = [row for row in one if learns_the_task(row, threshold)]
    others = [row for row in one if not learns_the_task(row, threshold)]
    blending = [row for row in learners if row["roles"] == ["mixed"]]
    locked = [row for row in others if row["roles"] != ["mixed"]]
    one_letter = [
        row
        for row in locked
        if max(row["first_accuracy"], row["previous_accuracy"]) >= 0.95
        and min(row["first_accuracy"], row["previous_accuracy"]) < 0.5
    ]
    split = [row for row in two if splits_the_jobs(row)]
    two_learned = sum(learns_the_task(row, threshold) for row in two)

    one_head = [f"**One head.** {_count(len(learners), len(one))} models learn the task."]
    if learners:
        one_head.append(
            f"Of those, {_count(len(blending), len(learners))} blend: their one head puts no more than 0.8 of its "
            "weight on either token, the uneven split of the first section, and the readout untangles the blend."
        )
    if others:
        one_head.append(
            f"Of the {len(others)} that do not, {_count(len(locked), len(others))} lock onto one token (more than "
            f"0.8 of the weight), and {len(one_letter)} of these {len(locked)} get that letter right (95 % "
            "or more) and the other wrong more often than right; the rest blend too, and their readout has not "
            "untangled the blend in 200 steps."
        )
    two_heads = [f"**Two heads.** {_count(two_learned, len(two))} models learn the task."]
    two_heads.append(f"In {len(split)} of the {len(two)} each head takes one job.")
    if len(split) < len(two):
        other = "the other" if len(two) - len(split) == 1 else "the others"
        two_heads.append(
            f"In {other} the two heads both mix the two tokens, each in its own proportions, and two different "
            "blends of the same two letters are enough to tell them apart."
        )
    return " ".join(one_head) + "\n\n" + " ".join(two_heads)


def twin_heads(results):
    """Four heads for two jobs, over seeds: do heads double up, and what does switching one off cost?

    results: train_head_models' results (any head count >= 2). A job is "shared" when two or more heads
    have it (head_role). Switching off one head of a shared job keeps all the other heads; so does
    switching off a head that is alone in its job.
    Returns a dict: seeds, sharing (how many seeds have a shared job), twin_off (accuracies, both letters,
    with one twin off: one per head in a shared job), alone_off (the same for heads alone in their job).
    """
    sharing, twin_off, alone_off = 0, [], []
    for result in results:
        roles = _roles(result)
        n_heads = len(roles)
        shared = {role for role in roles if role != "mixed" and roles.count(role) >= 2}
        sharing += bool(shared)
        for head, role in enumerate(roles):
            if role == "mixed":
                continue
            kept = [h for h in range(n_heads) if h != head]
            accuracy = evaluate(result["model"], keep_heads=kept)["accuracy"]
            (twin_off if role in shared else alone_off).append(accuracy)
    return {"seeds": len(results), "sharing": sharing, "twin_off": twin_off, "alone_off": alone_off}


def twins_back_up(twins, margin=BACKUP_MARGIN):
    """True if switching off one twin leaves a median accuracy at least `margin` above switching off a head
    that is alone in its job: the twin still carries the job. twins: twin_heads' result."""
    if not twins["twin_off"] or not twins["alone_off"]:
        raise ValueError("twins_back_up needs heads that share a job and heads alone in their job")
    return statistics.median(twins["twin_off"]) - statistics.median(twins["alone_off"]) >= margin


def describe_spread(values, percent=True, what="heads"):
    """The median and the range of a list of numbers: "median 88%, 51% to 100%, over 30 heads", as
    whole percentages (percent=True) or with two decimals; "no heads" (or "no " + what) for an empty list."""
    values = list(values)
    if not values:
        return f"no {what}"
    show = "{:.0%}".format if percent else "{:.2f}".format
    return (
        f"median {show(statistics.median(values))}, {show(min(values))} to {show(max(values))}, "
        f"over {len(values)} {what}"
    )
