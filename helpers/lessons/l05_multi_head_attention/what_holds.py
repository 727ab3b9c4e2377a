"""Testing the notes' claim "multi-head attention is multiple attempts to answer the questions": what holds.

The toy model's two heads are measured before and after training, each time against chance at the same sharpness
(helpers.lessons.l05_multi_head_attention.chance_distances); the verdict combines them with the twins of the
four-head models (head_counts), with MiniLM's heads and with what more heads cost (head_costs).

    distance_before_after(results)        how far apart two heads attend, before and after training
    chance_before_after(results)          the same heads' rows shuffled over the keys: chance for heads that sharp
    what_holds_markdown(toy, minilm, memory)   the lesson's conclusions about the notes' claim, from the numbers
"""

import functools
import statistics

from helpers.lessons.l05_multi_head_attention.chance_distances import (
    CHANCE_SHARE,
    SHUFFLES,
    chance_distances,
    more_alike_than_chance,
)
from helpers.lessons.l05_multi_head_attention.head_costs import head_distances, memory_growth
from helpers.lessons.l05_multi_head_attention.head_counts import RARELY
from helpers.lessons.l05_multi_head_attention.letter_task_model import evaluate, initial_model

__all__ = [
    "distance_before_after",
    "chance_before_after",
    "what_holds_markdown",
]


def _require_two_heads(results):
    if any(result["n_heads"] != 2 for result in results):
        raise ValueError("distance_before_after and chance_before_after need two-head models")


@functools.cache
def _untrained_weights(seed):
    """The weights (1000, 2, n, n) of the untrained two-head model of `seed` on the test sequences."""
    return evaluate(initial_model(2, seed))["weights"]


def distance_before_after(results):
    """How far apart the two heads of each two-head model attend, before and after training.

    results: train_head_models' results with 2 heads. Returns (before, after): lists of floats, one per
    seed, each helpers.lessons.l05_multi_head_attention.head_costs.head_distances between head 0 and head 1
    on the test sequences.
    """
    _require_two_heads(results)
    before = [float(head_distances(_untrained_weights(result["seed"]))[0, 1]) for result in results]
    after = [float(head_distances(result["weights"])[0, 1]) for result in results]
    return before, after


def chance_before_after(results, shuffles=SHUFFLES):
    """Chance at the same sharpness for the two heads of each two-head model, before and after training.

    results: train_head_models' results with 2 heads. Returns (before, after): lists of floats, one per seed,
    each the median over `shuffles` of chance_distances between head 0 and head 1 on the test sequences: how
    far apart two heads exactly as sharp would attend if their weights fell on random keys.
    """
    _require_two_heads(results)

    def chance(weights):
        return statistics.median(chance_distances(weights, shuffles)[:, 0, 1].tolist())

    before = [chance(_untrained_weights(result["seed"])) for result in results]
    after = [chance(result["weights"]) for result in results]
    return before, after


def what_holds_markdown(toy, minilm, memory, most=RARELY):
    """The lesson's verdict on "multi-head attention is multiple attempts to answer the questions", as
    Markdown bullets built from the measurements.

    toy: dict with before, after (distance_before_after), chance_before, chance_after (chance_before_after),
    halves (how many seeds' heads each answer one half), seeds, shuffles (how many), and twins (twin_heads of
    the four-head models).
    minilm: dict with medians and chance_medians (per layer, minilm_distances), largest (the largest distance
    between two heads of a layer), closest_low, closest_high (the range of each layer's smallest distance).
    memory: attention_memory's rows for two head counts or more (memory_growth compares them).
    The first heading says "not repeated attempts" only if the trained heads are not more alike than chance
    (more_alike_than_chance, on the medians over seeds) and each head answers one half in more than `most` of
    the seeds; the last says "where the notes are right" only if more than `most` of the four-head models
    share a job.
    """
    before, after = statistics.median(toy["before"]), statistics.median(toy["after"])
    chance_before, chance_after = statistics.median(toy["chance_before"]), statistics.median(toy["chance_after"])
    alike_after = more_alike_than_chance(after, chance_after)
    halves = toy["halves"] > most * toy["seeds"]  # each head answers one half in most seeds
    separate = not alike_after and halves
    twins = toy["twins"]
    repeat = twins["sharing"] > most * twins["seeds"]
    first = "Not repeated attempts at one question." if separate else "Not clearly different questions."
    last = "Where the notes are right." if repeat else "Where the notes are sometimes right."
    twin_off = statistics.median(twins["twin_off"]) if twins["twin_off"] else float("nan")
    alone_off = statistics.median(twins["alone_off"]) if twins["alone_off"] else float("nan")
    after_words = "more alike than chance" if alike_after else "no more alike than chance"
    if more_alike_than_chance(before, chance_before):
        before_words = "closer than chance puts heads that flat"
    elif after > before:
        before_words = "which is chance for heads that flat: the distance grew because the heads got sharp"
    else:
        before_words = "which is chance for heads that flat"
    training = ", and training makes the heads ask different questions" if separate else ""
    answers = "shows that they got different" if halves else "does not show that they got different"
    medians, chances = minilm["medians"], minilm["chance_medians"]
    alike = sum(more_alike_than_chance(m, c) for m, c in zip(medians, chances, strict=True))
    growth = memory_growth(memory)
    return "\n".join(
        [
            f"- **{first}** Each head has its own projections into its own d_k-dimensional space{training}. "
            f"In {toy['halves']} of the {toy['seeds']} toy models each "
            "head alone answers its own half of the task and not the other. Their maps end up "
            f"{after:.2f} apart, where two heads as sharp on random keys would be {chance_after:.2f} apart "
            f"(medians over {toy['seeds']} seeds, {toy['shuffles']} shuffles each): {after_words}. Before training "
            f"they are {before:.2f} apart, {before_words}; what each answers alone {answers}. "
            f"In MiniLM some heads of a layer attend as differently as heads can, up to {minilm['largest']:.2f} apart.",
            "- **Not a vote or an average.** The heads' outputs are concatenated, and W_o adds up each head's own "
            "contribution; no answer is picked and none is averaged with another.",
            "- **Not more attempts for more operations.** n heads of d_model / n cost the same parameters and the "
            "same FLOPs as one head of d_model: the same budget, cut into independent pieces. Memory is the "
            f"exception: each head keeps its own n × n map, so at {growth['n']} tokens {growth['many']} heads store "
            f"{growth['weights_ratio']:.0f} times the attention weights of {growth['few']} and reach "
            f"{growth['peak_ratio']:.1f} times its peak memory.",
            f"- **{last}** Heads *can* repeat each other: with four heads for two jobs, {twins['sharing']} of the "
            f"{twins['seeds']} toy models have a job done by two heads or more, and switching off one twin leaves "
            f"a median {twin_off:.0%} of the answers right, where switching off a head alone in its job leaves "
            f"{alone_off:.0%}. In MiniLM two heads of a layer are typically {min(medians):.1f} to "
            f"{max(medians):.1f} apart, where chance at the same sharpness is {min(chances):.1f} to "
            f"{max(chances):.1f}: in {alike} of the {len(medians)} layers they attend more alike than chance "
            f"(below {CHANCE_SHARE:.0%} of it), and every layer has close pairs ({minilm['closest_low']:.2f} to "
            f"{minilm['closest_high']:.2f}), many of them heads that park on `[CLS]`. Clark et al. (2019) saw "
            "the same in BERT, heads of one layer often attending alike, and pruning finds such heads spare: "
            "Michel, Levy and Neubig (2019) removed a large share of the heads of trained transformers at test "
            "time without a significant loss, some layers down to one head, and Voita et al. (2019) pruned 38 of "
            "the 48 encoder heads of an English–Russian translation model for a loss of 0.15 BLEU.",
        ]
    )
