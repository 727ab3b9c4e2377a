"""Testing the notes' claim "multi-head attention is multiple attempts to answer the questions": what holds.

The toy model's two heads are measured before and after training; the verdict combines them with the twins of
the four-head models (helpers.lessons.l05_multi_head_attention.head_counts) and with MiniLM's heads.

    distance_before_after(results)        how far apart two heads attend, before and after training
    what_holds_markdown(toy, minilm)      the lesson's conclusions about the notes' claim, from the numbers
"""

import statistics

from helpers.lessons.l05_multi_head_attention.head_costs import head_distances
from helpers.lessons.l05_multi_head_attention.head_counts import RARELY
from helpers.lessons.l05_multi_head_attention.letter_task_model import evaluate, initial_model

__all__ = [
    "distance_before_after",
    "what_holds_markdown",
]


def distance_before_after(results):
    """How far apart the two heads of each two-head model attend, before and after training.

    results: train_head_models' results with 2 heads. Returns (before, after): lists of floats, one per
    seed, each helpers.lessons.l05_multi_head_attention.head_costs.head_distances between head 0 and head 1
    on the test sequences.
    """
    if any(result["n_heads"] != 2 for result in results):
        raise ValueError("distance_before_after needs two-head models")
    before = [float(head_distances(evaluate(initial_model(2, r["seed"]))["weights"])[0, 1]) for r in results]
    after = [float(head_distances(result["weights"])[0, 1]) for result in results]
    return before, after


def what_holds_markdown(toy, minilm, apart=0.3, most=RARELY):
    """The lesson's verdict on "multi-head attention is multiple attempts to answer the questions", as
    Markdown bullets built from the measurements.

    toy: dict with before, after (distance_before_after), halves (how many seeds' heads each answer one
    half), seeds, and twins (twin_heads of the four-head models).
    minilm: dict with median_low, median_high (the range of the layers' median distances between two
    heads), largest, untrained_largest, closest_low, closest_high (the range of each layer's smallest
    distance).
    The first heading says "not repeated attempts" only if training moves the two heads' median distance
    apart by `apart` or more and each head answers one half in more than `most` of the seeds; the last
    says "where the notes are right" only if more than `most` of the four-head models share a job.
    """
    before, after = statistics.median(toy["before"]), statistics.median(toy["after"])
    separate = after - before >= apart and toy["halves"] > most * toy["seeds"]
    twins = toy["twins"]
    repeat = twins["sharing"] > most * twins["seeds"]
    first = "Not repeated attempts at one question." if separate else "Not clearly different questions."
    last = "Where the notes are right." if repeat else "Where the notes are sometimes right."
    twin_off = statistics.median(twins["twin_off"]) if twins["twin_off"] else float("nan")
    alone_off = statistics.median(twins["alone_off"]) if twins["alone_off"] else float("nan")
    return "\n".join(
        [
            f"- **{first}** Each head has its own projections into its own d_k-dimensional space, and training "
            f"makes the heads ask different questions. In the toy model the two heads end up {after:.2f} apart "
            f"({before:.2f} before training; medians over {toy['seeds']} seeds), and in {toy['halves']} of the "
            f"{toy['seeds']} models each head alone answers its own half of the task and not the other. In MiniLM, "
            f"two heads of the same layer are typically {minilm['median_low']:.1f} to {minilm['median_high']:.1f} "
            f"apart, up to {minilm['largest']:.2f}, where an untrained layer's heads are all within "
            f"{minilm['untrained_largest']:.2f} of each other: an untrained layer this wide attends almost "
            "uniformly, so its heads all look alike.",
            "- **Not a vote or an average.** The heads' outputs are concatenated, and W_o adds up each head's own "
            "contribution; no answer is picked and none is averaged with another.",
            "- **Not more attempts for more cost.** n heads of d_model / n cost the same parameters and the same "
            "multiply-adds as one head of d_model: the same budget, cut into independent pieces.",
            f"- **{last}** Heads *can* repeat each other: with four heads for two jobs, {twins['sharing']} of the "
            f"{twins['seeds']} toy models have a job done by two heads or more, and MiniLM has close pairs too "
            f"({minilm['closest_low']:.2f} to {minilm['closest_high']:.2f} in each layer, many of them heads that "
            "park on `[CLS]`). Such heads are repeated attempts at the same thing: switching off one twin leaves "
            f"a median {twin_off:.0%} of the answers right, where switching off a head alone in its job leaves "
            f"{alone_off:.0%}.",
        ]
    )
