"""Training lesson 08's cross-attention transformer on reversal with every seed, and what the lesson prints of it.

    CROSS_TRAINING        the settings: 100 steps of 64 sequences, lengths 3 to 10, lr 0.01 (fewer, larger steps
                          than Bahdanau's 400 of 20: a step costs the same at either batch size, and the
                          lesson's budget is in seconds)
    CrossAttentionRuns    the trained models, one per seed, their losses (steps, S) and the seconds taken
    train_cross_attention(seeds, progress, schedule_seed, source_positions, **settings)
                          one CrossAttentionSeq2Seq per seed, all trained at once in a StackedCrossAttention
    evaluate_cross_attention(runs, test_set)
                          greedy decoding of the held-out sequences: a SeedEvaluation of kind "cross"
    SOLVES, ANTI_DIAGONAL, SHARPER_THAN_RNN_BY
                          the thresholds of the verdicts (letters right at 10 letters; weight on the mirrored
                          position at 10 letters; that weight against the RNN's), counted over the seeds with MOST
    cross_attention_summary(cross, bahdanau)
                          text: the cross-attention model's accuracy and alignment against Bahdanau's models of
                          the same seeds, with verdicts

Names: S seeds, L lengths; test_set is {n: (source (N, n), target (N, n))} (reversal_task.held_out_set).
"""

import math
import time
from dataclasses import dataclass, field

import torch

from helpers.lessons.l08_before_transformers_bahdanau.cross_attention import SIZES, CrossAttentionSeq2Seq
from helpers.lessons.l08_before_transformers_bahdanau.evaluation import METRICS, SeedEvaluation, aligned_weight
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import reversal_batch
from helpers.lessons.l08_before_transformers_bahdanau.seed_summaries import LONG, MOST
from helpers.lessons.l08_before_transformers_bahdanau.stacked_cross_attention import StackedCrossAttention
from helpers.lessons.l08_before_transformers_bahdanau.training import SEEDS, Adam, one_thread, stacked_reversal_step
from helpers.library.checks import require_int, require_int_list, require_number

__all__ = [
    "CROSS_TRAINING",
    "CrossAttentionRuns",
    "train_cross_attention",
    "evaluate_cross_attention",
    "SOLVES",
    "ANTI_DIAGONAL",
    "SHARPER_THAN_RNN_BY",
    "cross_attention_summary",
]

CROSS_TRAINING = {"steps": 100, "batch_size": 64, "lengths": (3, 10), "lr": 0.01}
KIND = "cross"
SOLVES = 80  # letters right (%) at LONG letters: "reverses 10 letters"
ANTI_DIAGONAL = 0.5  # mean weight on the mirrored position n-1-i at LONG letters (uniform: 1/n = 0.1)
# Weight on the mirrored position at LONG letters, against the RNN model of the same seed: "sharper" / "less sharp".
# Measured here (pinned numerics): 0.19 to 0.33 more than the additive model's, 0.10 to 0.22 less than the
# dot-product RNN's (seed_summaries' 0.2 would split the seeds). One seed sits at the threshold against the
# dot-product RNN, so its count may read 4 of 5 on another CPU; the verdict needs MOST of the seeds and stands.
SHARPER_THAN_RNN_BY = 0.1


@dataclass
class CrossAttentionRuns:
    """One trained CrossAttentionSeq2Seq per seed (in `seeds` order), each model's loss at every step (steps, S)."""

    models: list
    seeds: tuple
    losses: torch.Tensor
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0


def train_cross_attention(seeds=SEEDS, progress=False, schedule_seed=0, source_positions="from_end", **settings):
    """Train one CrossAttentionSeq2Seq per seed on reversal: teacher forcing, Adam, gradients clipped at norm 1.

    As train_seeds does for Bahdanau's models: the weights of seed s come from torch.manual_seed(s), its
    batches from a generator seeded with s + 1, the length of every step from one generator seeded with
    schedule_seed (with train_seeds's batch_size and steps, seed s would read the batches Bahdanau's models
    of seed s read). All seeds train at once in a StackedCrossAttention, each model with its own mean
    cross-entropy, its gradients clipped at norm 1 as if alone (clip_per_model) and Adam (per element, so each
    model moves as it would alone, up to rounding). On one thread; the global RNG state is restored.
    settings: steps, batch_size, lengths, lr (default CROSS_TRAINING) and the sizes of CrossAttentionSeq2Seq
    (default SIZES).
    Returns a CrossAttentionRuns.
    """
    settings = {**CROSS_TRAINING, **SIZES, **settings}
    steps = require_int("steps", settings["steps"], minimum=1)
    batch_size = require_int("batch_size", settings["batch_size"], minimum=1)
    lengths = settings["lengths"]
    if not isinstance(lengths, (tuple, list)) or len(lengths) != 2:
        raise TypeError(f"lengths must be a pair (min_n, max_n), got {lengths!r}")
    min_n, max_n = (require_int("length", n, minimum=1) for n in lengths)
    if max_n < min_n:
        raise ValueError(f"lengths must be (min_n, max_n) with min_n <= max_n, got {lengths!r}")
    lr = require_number("lr", settings["lr"], positive=True)
    seeds = require_int_list("seeds", seeds, minimum=0, distinct=True, what="seed")
    sizes = {name: settings[name] for name in SIZES}
    start = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"training {len(seeds)} cross-attention models")
    with one_thread():
        models = []
        for seed in seeds:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                models.append(CrossAttentionSeq2Seq(**sizes, source_positions=source_positions))
        stacked = StackedCrossAttention(models)
        optimizer = Adam(stacked.parameters(), lr=lr)
        schedule = torch.Generator().manual_seed(require_int("schedule_seed", schedule_seed, minimum=0))
        generators = [torch.Generator().manual_seed(seed + 1) for seed in seeds]
        losses = []
        for _ in range(steps):
            n = int(torch.randint(min_n, max_n + 1, (1,), generator=schedule))
            batches = [reversal_batch(batch_size, n, generator) for generator in generators]
            source = torch.stack([batch[0] for batch in batches])  # (S, B, n)
            target = torch.stack([batch[1] for batch in batches])
            losses.append(stacked_reversal_step(stacked, optimizer, source, target))
            if bar is not None:
                bar.update(1)
        stacked.copy_into(models)
        for model in models:
            model.eval()
    if bar is not None:
        bar.close()
    return CrossAttentionRuns(
        models=models,
        seeds=tuple(seeds),
        losses=torch.stack(losses),
        settings={"steps": steps, "batch_size": batch_size, "lengths": (min_n, max_n), "lr": lr, **sizes},
        seconds=time.perf_counter() - start,
    )


def evaluate_cross_attention(runs, test_set):
    """Greedy-decode every held-out sequence with every seed's model; measure as evaluate_seeds does.

    runs: a CrossAttentionRuns   test_set: {n: (source (N, n), target (N, n))}, e.g. from held_out_set.
    Returns a SeedEvaluation with one kind, "cross" (cross-attention): per metric of METRICS a (S, L) tensor.
    """
    if not isinstance(runs, CrossAttentionRuns):
        raise TypeError(f"runs must be a CrossAttentionRuns (from train_cross_attention), got {type(runs).__name__}")
    if not isinstance(test_set, dict) or not test_set:
        raise TypeError("test_set must be a non-empty dict {n: (source, target)}, as held_out_set returns")
    columns = {metric: [] for metric in METRICS}
    with one_thread():
        for n, (source, target) in test_set.items():
            expected = torch.arange(n - 1, -1, -1)
            per_model = {metric: [] for metric in METRICS}
            for model in runs.models:
                tokens, weights = model.greedy_decode(source, target.shape[-1])  # (N, n), (N, n, n)
                correct = tokens == target
                per_model["token_accuracy"].append(correct.float().mean())
                per_model["sequence_accuracy"].append(correct.all(dim=-1).float().mean())
                per_model["aligned_weight"].append(aligned_weight(weights).mean())
                per_model["aligned_near"].append(aligned_weight(weights, within=1).mean())
                per_model["aligned_argmax"].append((weights.argmax(dim=-1) == expected).float().mean())
            for metric in METRICS:
                columns[metric].append(torch.stack(per_model[metric]))  # (S,)
    results = {KIND: {metric: torch.stack(values, dim=1) for metric, values in columns.items()}}  # (S, L) each
    return SeedEvaluation(lengths=list(test_set), seeds=list(runs.seeds), results=results)


def _count(flags):
    return f"{int(flags.sum())} of {len(flags)} seeds"


def _holds(flags):
    return int(flags.sum()) >= math.ceil(MOST * len(flags))


def _spread(values, digits=0, scale=1.0):
    values = values * scale
    return f"median {values.median():.{digits}f}, range {values.min():.{digits}f} to {values.max():.{digits}f}"


def cross_attention_summary(cross, bahdanau):
    """Text: the cross-attention model against Bahdanau's, at LONG letters, seed by seed, with verdicts.

    cross: evaluate_cross_attention's SeedEvaluation.   bahdanau: evaluate_seeds's, with "additive" and "dot",
    the same seeds and lengths. Letters right to whole percent, weights to one decimal (medians and ranges of
    the seeds). Verdicts: "reverses 10 letters" (letters right >= SOLVES), "anti-diagonal" (weight on the
    mirrored position >= ANTI_DIAGONAL), and "sharper than" the RNN model of the same seed (weight at least
    SHARPER_THAN_RNN_BY higher) or "less sharp" (that much lower); each holds in >= MOST of the seeds. Letters
    right are counted against SOLVES, not printed (one seed's accuracy moves by points from CPU to CPU).
    """
    for name, evaluation in (("cross", cross), ("bahdanau", bahdanau)):
        if not isinstance(evaluation, SeedEvaluation):
            raise TypeError(f"{name} must be a SeedEvaluation, got {type(evaluation).__name__}")
    if KIND not in cross.results:
        raise ValueError("cross must come from evaluate_cross_attention")
    if not {"additive", "dot"} <= set(bahdanau.results):
        raise ValueError("bahdanau must hold the additive and the dot-product models (evaluate_seeds)")
    if list(cross.seeds) != list(bahdanau.seeds) or LONG not in cross.lengths or LONG not in bahdanau.lengths:
        raise ValueError(f"both evaluations need the same seeds and the length {LONG}")
    S = len(cross.seeds)
    letters = cross.at(KIND, "token_accuracy", LONG) * 100
    weight = cross.at(KIND, "aligned_weight", LONG)
    solves, diagonal = letters >= SOLVES, weight >= ANTI_DIAGONAL
    lines = [
        f"thresholds, at {LONG} letters: 'reverses' = at least {SOLVES} % of the letters right; 'anti-diagonal' ="
        f" at least {ANTI_DIAGONAL} of each step's weight on the mirrored position (uniform: {1 / LONG:.1f});",
        f"'sharper' / 'less sharp' = at least {SHARPER_THAN_RNN_BY} more / less weight there than the RNN model of"
        f" the same seed; a claim holds in at least {math.ceil(MOST * S)} of the {S} seeds.",
        f"cross-attention: at least {SOLVES} % of the letters right in {_count(solves)}",
        f"cross-attention: weight on the mirrored position {_spread(weight, 1)}; anti-diagonal in {_count(diagonal)}",
    ]
    verdicts = [
        f"cross-attention reverses {LONG} letters: {_verdict(_holds(solves))}",
        f"its alignment is the anti-diagonal: {_verdict(_holds(diagonal))}",
    ]
    for kind, label in (("additive", "additive (Bahdanau)"), ("dot", "dot-product RNN")):
        theirs = bahdanau.at(kind, "aligned_weight", LONG)
        sharper, blunter = weight - theirs >= SHARPER_THAN_RNN_BY, theirs - weight >= SHARPER_THAN_RNN_BY
        lines.append(
            f"against {label:19s}: its weight {_spread(theirs, 1)}; cross-attention sharper in"
            f" {_count(sharper)}, less sharp in {_count(blunter)}"
        )
        word = "sharper" if _holds(sharper) else ("less sharp" if _holds(blunter) else "no clear difference")
        verdicts.append(f"cross-attention against {label}: {word}")
    return "\n".join(lines + verdicts)


def _verdict(holds):
    return "supported" if holds else "not supported"
