"""What lesson 08 prints from its seeds: medians, ranges, "k of S seeds" and verdicts against stated thresholds.

    SHORT, LONG                      the shortest and the longest source length of the claims (3, 10)
    FALLS_BY, ABOVE_BY, AHEAD_BY, SHARPER_BY, MOST   the thresholds of the claims, and the share of seeds needed
    loss_summary(runs)               each kind's loss at the first step and over the last 50, over the seeds
    accuracy_table(evaluation)       letters and sequences right (%) per length: median [lowest–highest]
    bottleneck_summary(evaluation)   "falls with length" and "far above", counted over the seeds, with verdicts
    alignment_table(evaluation)      weight on the position to read, per length: the median of the seeds
    scoring_comparison(evaluation)   additive against dot-product scoring, seed by seed, with verdicts
    alignment_verdict(evaluation)    Bahdanau et al.'s "learns to align and translate jointly", counted over seeds
    example_summary(runs, source)    one source (n,), its reversal, and how many seeds write it exactly

runs: a SeedRuns (training.train_seeds); evaluation: a SeedEvaluation ((S, L) tensors, evaluation.evaluate_seeds).
"""

import math

from helpers.lessons.l08_before_transformers_bahdanau.evaluation import SeedEvaluation
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import SYMBOLS, to_tokens
from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import SCORINGS
from helpers.lessons.l08_before_transformers_bahdanau.training import SeedRuns

__all__ = [
    "SHORT",
    "LONG",
    "FALLS_BY",
    "ABOVE_BY",
    "AHEAD_BY",
    "SHARPER_BY",
    "MOST",
    "loss_summary",
    "accuracy_table",
    "bottleneck_summary",
    "alignment_table",
    "scoring_comparison",
    "ALIGNS",
    "alignment_verdict",
    "example_summary",
]

# Each training run turns the last bits of its arithmetic into its own trajectory, so one seed's accuracy at
# 10 letters moves by several points from one CPU to another. The lesson's claims are therefore counted over
# seeds against thresholds stated here, with a margin to the measured values, and printed as "k of S seeds".

SHORT, LONG = 3, 10  # the shortest and the longest source length of the claims
FALLS_BY = 40  # points of letters right lost from 3 to 10 letters: "falls with length"
ABOVE_BY = 30  # points above the best seed without attention, at 10 letters: "attention fixes it"
AHEAD_BY = 1  # points of letters right (mean over the lengths), same seed: "more accurate"
SHARPER_BY = 0.2  # weight on the position to read at 10 letters, same seed: "sharper alignment"
ALIGNS = 0.5  # weight within one position of the letter to read, at LONG letters: "learns to align"
MOST = 0.8  # a claim holds when at least this share of the seeds meets it (4 of 5)


def _needed(n_seeds):
    return math.ceil(MOST * n_seeds)


def _count(flags):
    """'k of S seeds' for a (S,) bool tensor."""
    return f"{int(flags.sum())} of {len(flags)} seeds"


def _holds(flags):
    return int(flags.sum()) >= _needed(len(flags))


def _percent(x):
    return 100 * x


def loss_summary(runs):
    """Text: each kind's loss at the first step and over the last 50 steps, median and range over the seeds.

    One decimal for the trained loss (it moves in the second decimal from one CPU to another), two for the
    first step's (the untrained models, the same on any CPU up to rounding); chance is ln 26 = 3.26.
    """
    if not isinstance(runs, SeedRuns):
        raise TypeError(f"runs must be a SeedRuns (from train_seeds), got {type(runs).__name__}")
    lines = [f"chance (uniform over {len(SYMBOLS)} letters): loss ln {len(SYMBOLS)} = {math.log(len(SYMBOLS)):.2f}"]
    for kind in sorted(set(runs.kinds), key=SCORINGS.index):
        losses = runs.losses_of(kind)  # (steps, S)
        first, last = losses[0], losses[-50:].mean(dim=0)
        lines.append(
            f"{kind:8s}: loss {first.median():.2f} at the first step; over the last 50 steps median {last.median():.1f}"
            f" ({last.min():.1f} to {last.max():.1f}) over {losses.shape[1]} seeds"
        )
    return "\n".join(lines)


def _require_evaluation(evaluation):
    if not isinstance(evaluation, SeedEvaluation):
        raise TypeError(f"evaluation must be a SeedEvaluation (from evaluate_seeds), got {type(evaluation).__name__}")


def accuracy_table(evaluation):
    """Text: letters and sequences right (%) per length and kind: the median of the seeds [lowest–highest]."""
    _require_evaluation(evaluation)
    lines = []
    for metric, label in [("token_accuracy", "letters right"), ("sequence_accuracy", "sequences right")]:
        header = f"{label} (%), median of {len(evaluation.seeds)} seeds [lowest–highest]"
        lines.append(f"{header}\n{'n:':9s}" + "".join(f"{n:>13d}" for n in evaluation.lengths))
        for kind in evaluation.results:
            values = _percent(evaluation.of(kind, metric))  # (S, L)
            cells = [
                f"{median:4.0f} [{low:3.0f}–{high:3.0f}]"
                for median, low, high in zip(
                    values.median(0).values.tolist(),
                    values.min(0).values.tolist(),
                    values.max(0).values.tolist(),
                    strict=True,
                )
            ]
            lines.append(f"{kind:9s}" + "".join(f"{cell:>13s}" for cell in cells))
    return "\n".join(lines)


def bottleneck_summary(evaluation):
    """Text: the bottleneck and its fix, counted over the seeds against the thresholds above, with verdicts.

    "falls with length": letters right at LONG at least FALLS_BY points below those at SHORT.
    "far above": at LONG, at least ABOVE_BY points above the best seed without attention.
    Needs the kinds "none" and at least one attention kind.
    """
    _require_evaluation(evaluation)
    if "none" not in evaluation.results or len(evaluation.results) < 2:
        raise ValueError("bottleneck_summary needs the models without attention and at least one with it")
    short = {kind: _percent(evaluation.at(kind, "token_accuracy", SHORT)) for kind in evaluation.results}
    long = {kind: _percent(evaluation.at(kind, "token_accuracy", LONG)) for kind in evaluation.results}
    best_none = long["none"].max()
    lines = [
        f"thresholds: 'falls with length' = at least {FALLS_BY} points fewer letters right at {LONG} letters than at"
        f" {SHORT};",
        f"'far above' = at {LONG} letters, at least {ABOVE_BY} points above the best seed without attention;",
        f"a claim holds when at least {_needed(len(evaluation.seeds))} of the {len(evaluation.seeds)} seeds meet it.",
    ]
    falls = {kind: short[kind] - long[kind] >= FALLS_BY for kind in evaluation.results}
    above = {kind: long[kind] - best_none >= ABOVE_BY for kind in evaluation.results if kind != "none"}
    for kind in evaluation.results:
        line = f"{kind:8s}: falls with length in {_count(falls[kind])}"
        if kind != "none":
            line += f"; far above in {_count(above[kind])}"
        lines.append(line)
    bottleneck = _holds(falls["none"]) and not any(_holds(falls[kind]) for kind in above)
    fix = all(_holds(flags) for flags in above.values())
    lines.append(f"the bottleneck (only the model without attention falls with length): {_verdict(bottleneck)}")
    lines.append(f"the fix (every attention model far above it at {LONG} letters): {_verdict(fix)}")
    return "\n".join(lines)


def _verdict(holds):
    return "supported" if holds else "not supported"


def alignment_table(evaluation):
    """Text: weight on the position to read, share of steps whose largest weight is there, and weight within
    one position, per length: the median of the seeds, to one decimal (the second moves from CPU to CPU)."""
    _require_evaluation(evaluation)
    lines = [f"median of {len(evaluation.seeds)} seeds   n:" + "".join(f"{n:5d}" for n in evaluation.lengths)]
    for kind in [kind for kind in evaluation.results if kind != "none"]:
        for metric, label in [
            ("aligned_weight", "weight there"),
            ("aligned_argmax", "largest there"),
            ("aligned_near", "within 1 of it"),
        ]:
            medians = evaluation.of(kind, metric).median(0).values.tolist()
            lines.append(f"{kind:8s} {label:16s}" + "".join(f"{value:5.1f}" for value in medians))
    lines.append(f"{'uniform weights: 1/n':25s}" + "".join(f"{1 / n:5.2f}" for n in evaluation.lengths))
    return "\n".join(lines)


def scoring_comparison(evaluation):
    """Text: additive against dot-product scoring, seed by seed (same seed: same batches), with verdicts.

    "more accurate": letters right, averaged over the lengths, at least AHEAD_BY points higher.
    "sharper": weight on the position to read at LONG letters at least SHARPER_BY higher.
    """
    _require_evaluation(evaluation)
    if not {"additive", "dot"} <= set(evaluation.results):
        raise ValueError("scoring_comparison needs both the additive and the dot-product models")
    letters = {kind: _percent(evaluation.of(kind, "token_accuracy")).mean(dim=1) for kind in ("additive", "dot")}
    weight = {kind: evaluation.at(kind, "aligned_weight", LONG) for kind in ("additive", "dot")}
    S = len(evaluation.seeds)
    lines = [
        f"thresholds: 'more accurate' = at least {AHEAD_BY} {'point' if AHEAD_BY == 1 else 'points'} more letters"
        " right (mean over the lengths);",
        f"'sharper' = at least {SHARPER_BY} more weight on the position to read at {LONG} letters;",
        f"compared seed by seed; a claim holds in at least {_needed(S)} of the {S} seeds.",
    ]
    verdicts = {}
    for a, b in [("dot", "additive"), ("additive", "dot")]:
        ahead = letters[a] - letters[b] >= AHEAD_BY
        sharper = weight[a] - weight[b] >= SHARPER_BY
        lines.append(f"{a:8s}: more accurate in {_count(ahead)}, sharper in {_count(sharper)}")
        verdicts[a] = (_holds(ahead), _holds(sharper))
    names = {"additive": "additive scoring", "dot": "dot-product scoring"}
    for index, (what, word) in enumerate([("accuracy", "more accurate"), ("alignment", "sharper")]):
        winners = [kind for kind, held in verdicts.items() if held[index]]
        lines.append(f"{what}: " + (f"{names[winners[0]]} {word}" if len(winners) == 1 else "no clear difference"))
    return "\n".join(lines)


def alignment_verdict(evaluation):
    """Text: "learns to align" counted over the seeds of each attention kind, and the verdict on the quotation.

    "aligns" (per seed): at LONG letters, at least ALIGNS of the weight within one position of the source letter
    to read (uniform weights put 3/LONG there). Training shows the models only the letters, never where to read,
    so an alignment that appears was learned together with the translation. Supported when every attention kind
    aligns in at least 4 of 5 seeds.
    """
    _require_evaluation(evaluation)
    attending = [kind for kind in evaluation.results if kind != "none"]
    if not attending:
        raise ValueError("alignment_verdict needs at least one attention model")
    S = len(evaluation.seeds)
    lines = [
        f"threshold: 'aligns' = at {LONG} letters, at least {ALIGNS} of the weight within one position of the letter"
        f" to read (uniform weights: {3 / LONG:.1f}); training never shows where to read;",
        f"a claim holds in at least {_needed(S)} of the {S} seeds.",
    ]
    aligns = {kind: evaluation.at(kind, "aligned_near", LONG) >= ALIGNS for kind in attending}
    lines += [f"{kind:8s}: aligns in {_count(flags)}" for kind, flags in aligns.items()]
    verdict = _verdict(all(_holds(flags) for flags in aligns.values()))
    lines.append(f"'learns to align and translate jointly' (one training, the letters alone): {verdict}")
    return "\n".join(lines)


def example_summary(runs, source):
    """Text: one source, its reversal, and how many seeds of each attention kind write it exactly.

    source: (1, n) or (n,) long. The figure beside it shows one seed; this line counts all of them.
    """
    if not isinstance(runs, SeedRuns):
        raise TypeError(f"runs must be a SeedRuns (from train_seeds), got {type(runs).__name__}")
    source = source.reshape(1, -1)
    tokens, _ = runs.stacked.greedy_decode(source)  # (M, 1, n)
    right = (tokens[:, 0] == source[0].flip(-1)).all(dim=-1)  # (M,)
    line = f"source: {''.join(to_tokens(source[0]))}, its reversal: {''.join(to_tokens(source[0].flip(-1)))}"
    counts = []
    for kind in sorted(set(runs.kinds), key=SCORINGS.index):
        if kind != "none":
            flags = right[[i for i, k in enumerate(runs.kinds) if k == kind]]
            counts.append(f"{kind} {_count(flags)}")
    return line + "\nwritten exactly by: " + ", ".join(counts)
