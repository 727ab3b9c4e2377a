"""Lesson 06's verdicts: each claim of the study notes about Add & Norm, split into findings, and judged.

claim_verdicts(...)   the verdict table's rows: [(claim, tested by, verdict, numbers)], all strings
verdict_table(rows)   those rows as a Markdown table
"""

import numpy as np

from helpers.lessons.l06_add_and_norm.blocks import VARIANTS
from helpers.lessons.l06_add_and_norm.judging import (
    CENTRED,
    FASTER,
    FIXED_RMS,
    INVARIANT,
    KEPT_R2,
    LOST_R2,
    LOWER_LOSS,
    NO_NOISE,
    SAME_WITHIN,
    STEADY,
    VANISHED,
    _baseline,
    _judged,
    _listed,
    _name,
    _percent,
    _points,
    compare,
    convergence,
    describe_outcome,
    verdict,
)
from helpers.lessons.l06_add_and_norm.overfitting import _overfit_medians
from helpers.lessons.l06_add_and_norm.per_token import per_token_verdict
from helpers.lessons.l06_add_and_norm.training_summaries import (
    HIGH_LR,
    MODERATE_LR,
    WARMUP,
    WITH_RESIDUAL,
    WITHOUT_RESIDUAL,
    _high,
    _moderate,
)

__all__ = ["claim_verdicts", "verdict_table"]


def _ratio(value):
    """A gradient ratio as printed in the verdicts: '0 (underflow)', '1e-08', '0.62', '3.3'."""
    return "0 (underflow)" if value == 0 else f"{value:.2g}" if value >= 0.01 else f"{value:.0e}"


def claim_verdicts(
    *, grad_ratio, chain_size, profiles, invariance, noise, feature_mean, grid, overfit, baseline_accuracy, per_token
):
    """The verdict table's rows: each claim, what tested it, its verdict and the findings behind it.

    Each claim is split into findings: statements with a threshold (the constants of judging) that hold or not;
    verdict(...) turns them into supported / partly / not supported. From the notebook: grad_ratio
    {variant: block 1's / block 48's gradient, medians over seeds}; chain_size {False: the size of the
    derivative of 24 sublayers without the residual path, True: with it}; profiles: layer_profiles(...) at
    depth 48; invariance: the largest |LN(c·x + b) − LN(x)| measured; noise: batch_dependence(...), how
    much one sequence's LayerNorm and BatchNorm outputs changed from batch to batch; feature_mean: the
    per-feature means of the stream after 8 Post-LN blocks; grid: training_grid(...) with the lesson's
    settings; overfit: overfit_runs(...); baseline_accuracy: token_only_baseline(...)["accuracy"]; per_token:
    stream_normalisation(...), for one more line of the notes ("normalizes the data … per token"), judged
    last. Claim 5 gets two rows: whether there is noise, and what LayerNorm does to held-out performance.
    Returns [(claim, tested by, verdict, numbers)], all strings, for verdict_table.
    """
    r2 = {v: np.median(np.asarray(profiles[v]["r2"]), axis=0) for v in VARIANTS}  # (L+1,): x_0 .. x_L
    rms = {v: np.median(np.asarray(profiles[v]["rms"]), axis=0) for v in VARIANTS}
    moderate, high, fit = _moderate(grid), _high(grid), _overfit_medians(overfit)
    deep, shallow, mean_loss = moderate["deep"], moderate["shallow"], moderate["mean_loss"]
    normed = [v for v in ("post_ln", "pre_ln") if v in overfit]
    feature_mean = np.asarray(feature_mean, dtype=float)
    baseline = _baseline(baseline_accuracy)
    norms = ("post_ln", "pre_ln")

    def steady(variant):
        return 1 / STEADY <= grad_ratio[variant] <= STEADY

    def each(values, variants):  # '0.62 residual only, 0.6 Post-LN and 3.3 Pre-LN'
        return _listed(f"{value} {_name(v)}" for value, v in zip(values, variants, strict=True))

    accuracy = each([_percent(deep[v]["median"]) for v in WITH_RESIDUAL], WITH_RESIDUAL)
    better = any(compare(deep[v]["median"], deep["residual"]["median"], SAME_WITHIN) == "higher" for v in norms)
    faster = any(convergence(mean_loss[v], mean_loss["residual"]) == "faster" for v in norms)
    ratios = each([_ratio(grad_ratio[v]) for v in WITH_RESIDUAL], WITH_RESIDUAL)
    drift = {v: float(np.abs(rms[v][1:] - 1).max()) for v in ("layernorm", "post_ln")}
    worse_deeper = all(
        deep[v]["outcome"] == "failed" and compare(deep[v]["median"], shallow[v], SAME_WITHIN) == "lower"
        for v in WITHOUT_RESIDUAL
    )
    where = {"higher": "above", "lower": "below", "the same": "at"}
    shallow_words = {_name(v): where[compare(shallow[v], baseline_accuracy, 0.0)] for v in WITHOUT_RESIDUAL}
    gap_words = " / ".join(_points(fit[v]["gap"]) for v in normed)
    claims = [
        ("1. mitigates vanishing gradients (Add)", "exp. 1: gradient per block, 48 blocks", [
            (f"without the residual path block 1's gradient vanishes (below {VANISHED:g} of block 48's): "
             + each([_ratio(grad_ratio[v]) for v in WITHOUT_RESIDUAL], WITHOUT_RESIDUAL),
             all(grad_ratio[v] < VANISHED for v in WITHOUT_RESIDUAL)),
            (f"with it, block 1's stays within a factor of {STEADY:g} of block 48's: {ratios}",
             all(steady(v) for v in WITH_RESIDUAL)),
        ]),
        ("2. preserves information (Add)", "exp. 3: R² recovering x_0 from x_l", [
            (f"after 8 blocks x_0 is kept with the residual path (R² at least {KEPT_R2:g}): "
             + each([f"{r2[v][8]:.2f}" for v in WITH_RESIDUAL], WITH_RESIDUAL)
             + f"; and lost without it (at most {LOST_R2:g}): "
             + each([f"{r2[v][8]:.2f}" for v in WITHOUT_RESIDUAL], WITHOUT_RESIDUAL),
             all(r2[v][8] >= KEPT_R2 for v in WITH_RESIDUAL) and all(r2[v][8] <= LOST_R2 for v in WITHOUT_RESIDUAL)),
            ("after 48 blocks it is still kept with the residual path: "
             + each([f"{r2[v][48]:.2f}" for v in WITH_RESIDUAL], WITH_RESIDUAL),
             all(r2[v][48] >= KEPT_R2 for v in WITH_RESIDUAL)),
        ]),
        ("3. stabilises training (Norm)", f"exp. 4: training at lr {MODERATE_LR:g} and {HIGH_LR:g}", [
            (f"at lr {HIGH_LR:g} the Norm before the sublayer keeps training stable: Pre-LN "
             f"{describe_outcome(high['pre_ln', 0])}, residual only {describe_outcome(high['residual', 0])}",
             high["pre_ln", 0]["outcome"] == "trained" and high["residual", 0]["outcome"] != "trained"),
            (f"the Norm after the sum does too: Post-LN {describe_outcome(high['post_ln', 0])}, and with a "
             f"warm-up {describe_outcome(high['post_ln', WARMUP])}",
             "trained" in (high["post_ln", 0]["outcome"], high["post_ln", WARMUP]["outcome"])),
            (f"at lr {MODERATE_LR:g} a Norm gives a better median accuracy (by at least {_points(SAME_WITHIN)}) or "
             f"faster convergence (a mean training loss at most {FASTER:g} times as large): {accuracy}; mean loss "
             + " / ".join(f"{mean_loss[v]:.2f}" for v in WITH_RESIDUAL),
             better or faster),
        ]),
        ("4. enhances feature representation (Norm)", "LayerNorm's invariances; exp. 4", [
            (f"relative, not absolute, scale: LN(c·x + b) = LN(x) by construction (they differ by less than "
             f"{INVARIANT:g}), so a token's size and mean are dropped",
             invariance < INVARIANT),
            (f"more expressive: a better median accuracy with LayerNorm (by at least {_points(SAME_WITHIN)}): "
             f"{accuracy}", better),
        ]),
        ("5a. adds a slight noise (Norm)", "one sequence in 5 batches; exp. 5", [
            (f"LayerNorm adds noise: the same sequence, put in other batches, comes out changed by "
             f"{'< 1e-6' if noise['layer_norm'] < 1e-6 else format(noise['layer_norm'], '.2f')} (noise: at least "
             f"{NO_NOISE:g}; BatchNorm's batch statistics change it by "
             f"{noise['batch_norm']:.2f})", noise["layer_norm"] >= NO_NOISE),
        ]),
        ("5b. regularises: held-out performance (Norm)", "exp. 5: 16 training sequences", [
            (f"a lower held-out loss with LayerNorm (at most {LOWER_LOSS:g} times as large): "
             f"{fit['residual']['val_loss']:.2f} without, "
             + " / ".join(f"{fit[v]['val_loss']:.2f}" for v in normed)
             + f" with it, with smaller logits ({fit['residual']['logit_scale']:.1f} → "
             + " / ".join(f"{fit[v]['logit_scale']:.1f}" for v in normed) + ")",
             all(fit[v]["val_loss"] <= LOWER_LOSS * fit["residual"]["val_loss"] for v in normed)),
            (f"a narrower gap between training and held-out accuracy with LayerNorm (by at least "
             f"{_points(SAME_WITHIN)}): {_points(fit['residual']['gap'])} without, {gap_words} with it",
             any(compare(fit[v]["gap"], fit["residual"]["gap"], SAME_WITHIN) == "lower" for v in normed)),
        ]),
        ("6. enables deeper architectures (Add & Norm)", "exp. 4 at 2 and 6 blocks", [
            ("without the residual path 6 blocks do worse than 2, down to chance: median "
             + each([f"{_percent(shallow[v])} → {_percent(deep[v]['median'])}" for v in WITHOUT_RESIDUAL],
                    WITHOUT_RESIDUAL)
             + f" (at 2 blocks {_judged(shallow_words)} the {baseline} of a model that sees only its own token)",
             worse_deeper),
            (f"with it 6 blocks train reliably, past {baseline}: {accuracy} (whether more depth gives better "
             "results was not tested here)",
             all(deep[v]["outcome"] == "trained" and deep[v]["median"] > baseline_accuracy for v in WITH_RESIDUAL)),
        ]),
        ("7. improves gradient flow (Add)", "∂(x + f(x))/∂x = I + ∂f/∂x; exp. 1", [
            (f"through 24 sublayers the derivative vanishes without the identity path (below {VANISHED:g}) and not "
             f"with it: {chain_size[False]:.0e} without, {chain_size[True]:.1f} with it",
             chain_size[False] < VANISHED <= chain_size[True]),
            (f"over 48 blocks block 1 gets {_ratio(grad_ratio['post_ln'])}× (Post-LN) to "
             f"{_ratio(grad_ratio['pre_ln'])}× (Pre-LN) the gradient of block 48, within a factor of {STEADY:g}",
             steady("post_ln") and steady("pre_ln")),
        ]),
        ("8. consistent input distribution (Norm)", "exp. 2; feature statistics", [
            (f"per token: with LayerNorm the stream has RMS 1 at every depth (within {FIXED_RMS:g}; off by at most "
             + each([f"{drift[v]:.2f}" for v in drift], list(drift))
             + f"), while residual only's grows from {rms['residual'][0]:.1f} to {rms['residual'][-1]:.1f}",
             all(value <= FIXED_RMS for value in drift.values())),
            (f"across hidden units: after 8 Post-LN blocks every feature's mean lies within {CENTRED:g} of 0; they "
             f"range from {feature_mean.min():.1f} to {feature_mean.max():.1f}",
             np.abs(feature_mean).max() <= CENTRED),
        ]),
    ]  # fmt: skip
    rows = []
    for claim, tested_by, findings in claims:
        numbers = "; ".join(f"{text}: **{'yes' if holds else 'no'}**" for text, holds in findings)
        rows.append((claim, tested_by, f"**{verdict(findings)}**", numbers))
    return [*rows, per_token_verdict(per_token)]


def verdict_table(rows):
    """A Markdown table of the verdicts: rows of (claim, experiment, verdict, numbers), each a string."""
    lines = ["| claim | tested by | verdict | the numbers |", "|---|---|---|---|"]
    for row in rows:
        if len(row) != 4 or not all(isinstance(cell, str) for cell in row):
            raise ValueError(f"each row must be 4 strings (claim, experiment, verdict, numbers), got {row!r}")
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |")
    return "\n".join(lines)
