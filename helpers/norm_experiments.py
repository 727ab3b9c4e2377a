"""Lesson 06's experiments: the study notes' claims about Add & Norm, each measured on small transformers.

Every experiment is seeded, runs on the CPU in a few seconds at most, and returns plain numbers
(dicts of NumPy arrays) that the notebook prints and plots. The models are
helpers.stacked_models.StackedModels: many small transformers computed side by side.

The task, "above the average": a sequence of n = 8 tokens, each an id from 0 to 7; label a token 1 if its
id is above the average id of its sequence, else 0. The model sees ids only through an embedding, so it
must learn their order, and it must look at the other tokens (attention) to know the average.

    above_average_task     a batch of the task: tokens and labels
    token_only_baseline    the best loss and accuracy of a model that sees only its own token
    recoverability         R² of recovering the input x_0 from a layer's x_l by a linear map, on held-out sequences
    token_similarity       mean cosine similarity between the tokens of a sequence (1: all the same vector)
    layer_profiles         experiments 1, 3, 4 at initialisation: gradient, activation scale, information per layer
    training_grid          experiment 2: loss curves for (variant, depth, learning rate, warm-up) over seeds
    overfit_runs           experiment 5: training and validation loss and accuracy on 16 training sequences
    plot_*                 figures; each draws on the Axes it is given and returns it

What the numbers say, judged by thresholds stated once below (AT_CHANCE, TRAINED, RELIABLE, SAME_WITHIN, ...), so
that a summary or a verdict reads the same on any CPU even where single trained seeds do not:
    seed_outcome           how a setting's seeds ended: trained reliably, diverged, failed or unreliable
    per_seed_table         experiment 4 seed by seed (chaotic: the notebook shows it but does not compare it)
    moderate_rate_summary  experiment 4 at lr 0.003, in Markdown: medians over seeds and what they say
    high_rate_summary      experiment 4 at lr 0.03, in Markdown: how the seeds of each setting ended
    overfit_table          experiment 5: medians over seeds;  overfit_summary: what they say, in Markdown
    claim_verdicts         the verdict table's rows: each claim's findings, and its verdict from them
"""

import contextlib

import numpy as np
import torch
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator

from helpers._checks import require_float_tensor, require_int, require_number
from helpers.add_norm import VARIANT_LABELS, VARIANTS, require_variant
from helpers.scaling import log10_y_axis
from helpers.stacked_models import BLOCK_PARAMETERS, StackedAdam, StackedModels, per_model_loss, warmup_lrs
from helpers.threads import one_thread

__all__ = [
    "VOCAB",
    "N_TOKENS",
    "MODEL",
    "DIVERGED_LOSS",
    "STYLES",
    "above_average_task",
    "token_only_baseline",
    "recoverability",
    "token_similarity",
    "layer_profiles",
    "training_grid",
    "overfit_runs",
    "smooth",
    "setting_label",
    "verdict_table",
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
    "per_seed_table",
    "moderate_rate_summary",
    "high_rate_summary",
    "overfit_table",
    "overfit_summary",
    "claim_verdicts",
    "plot_layer_profile",
    "plot_training_curves",
    "plot_generalisation",
]

VOCAB, N_TOKENS = 8, 8  # token ids 0..7, sequences of 8 tokens
MODEL = {"d_model": 16, "n_heads": 2, "d_ff": 32}  # small enough to train dozens of models in seconds
DIVERGED_LOSS = 10.0  # a run whose loss is not finite or above this has diverged (chance is ln 2 ≈ 0.69)
EVAL_SEED, DATA_SEED, TRAIN_SET_SEED = 12_345, 10_000, 20_000
GRADIENT_FLOOR = 1e-30  # plotted instead of a gradient that is 0 (underflow) or smaller

# Okabe-Ito colours (readable with colour-vision deficiencies), each with its own marker and line style.
STYLES = {
    "plain": {"color": "#000000", "marker": "x", "linestyle": ":"},
    "residual": {"color": "#E69F00", "marker": "s", "linestyle": "--"},
    "layernorm": {"color": "#56B4E9", "marker": "^", "linestyle": "-."},
    "post_ln": {"color": "#009E73", "marker": "o", "linestyle": "-"},
    "pre_ln": {"color": "#D55E00", "marker": "D", "linestyle": "-"},
}


# --------------------------------------------------------------------------- checks and small tools


def _require_list(name, values, minimum):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list of ints, got {type(values).__name__} {values!r}")
    values = [require_int(f"each of {name}", value, minimum=minimum) for value in values]
    if not values:
        raise ValueError(f"{name} is empty")
    return values


def _require_variants(variants):
    if isinstance(variants, str):
        variants = [variants]
    variants = [require_variant(variant) for variant in variants]
    if not variants:
        raise ValueError(f"variants is empty: give some of {VARIANTS}")
    return variants


def _progress(total, description, enabled):
    """A tqdm.auto progress bar (a widget in a notebook), or a silent stand-in."""
    if not enabled:
        return contextlib.nullcontext(_Silent())
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=True)


class _Silent:
    def update(self, count=1):
        pass


# --------------------------------------------------------------------------- the task


def above_average_task(n_sequences, generator, vocab=VOCAB, n=N_TOKENS):
    """n_sequences random sequences and their labels.

    tokens: int64 (n_sequences, n), ids uniform in [0, vocab). labels: int64 (n_sequences, n),
    1 where a token's id is above the mean id of its sequence, else 0 (a tie is 0).
    """
    n_sequences = require_int("n_sequences", n_sequences, minimum=1)
    vocab = require_int("vocab", vocab, minimum=2)
    n = require_int("n", n, minimum=2)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    tokens = torch.randint(0, vocab, (n_sequences, n), generator=generator)
    labels = (tokens.double() > tokens.double().mean(dim=-1, keepdim=True)).long()
    return tokens, labels


def token_only_baseline(n_sequences=4_000, seed=0, vocab=VOCAB, n=N_TOKENS):
    """The best a model can do that sees only its own token, not the others: no attention.

    It predicts P(label = 1 | token id), measured on n_sequences random sequences.
    Returns {"loss": its cross-entropy (nats), "accuracy": its accuracy, "p_above": (vocab,) the probabilities}.
    """
    tokens, labels = above_average_task(n_sequences, torch.Generator().manual_seed(seed), vocab, n)
    counts = torch.bincount(tokens.flatten(), minlength=vocab).double()
    above = torch.bincount(tokens.flatten(), weights=labels.flatten().double(), minlength=vocab)
    p_above = (above / counts.clamp(min=1)).clamp(1e-12, 1 - 1e-12)  # (vocab,)
    p = p_above[tokens]  # (n_sequences, n): the predicted probability of label 1
    loss = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    accuracy = ((p > 0.5).long() == labels).double().mean()
    return {"loss": float(loss), "accuracy": float(accuracy), "p_above": p_above.numpy()}


# --------------------------------------------------------------------------- measurements of a layer


def recoverability(x0, x, ridge=1e-6):
    """How much of the input x0 a linear map recovers from a layer's output x, on held-out sequences.

    x0, x: (..., B, n, d) with B >= 4 sequences. A linear map x ↦ x0 (with an intercept) is fitted by
    ridge regression on the first half of the sequences and scored on the second half:
    R² = 1 − Σ‖x0 − prediction‖² / Σ‖x0 − mean‖², clipped at 0. 1: x0 is fully recoverable;
    0: nothing is (predicting the mean does as well or better). The ridge is `ridge` times the sum of
    squares of x (not centred): differences between tokens far smaller than x itself (float32 rounding
    in a stack whose tokens have collapsed onto one vector) are not fitted.
    Returns (...,), float64.
    """
    for name, tensor in (("x0", x0), ("x", x)):
        require_float_tensor(name, tensor)
    if x0.shape[:-1] != x.shape[:-1] or x.ndim < 3 or x.shape[-3] < 4:
        raise ValueError(
            f"x0 and x must be (..., B, n, d) with the same B >= 4 and n, got {tuple(x0.shape)} and {tuple(x.shape)}"
        )
    ridge = require_number("ridge", ridge, positive=True)
    x0, x = x0.double(), x.double()
    half = x.shape[-3] // 2
    x_fit, x_test = x[..., :half, :, :].flatten(-3, -2), x[..., half:, :, :].flatten(-3, -2)  # (..., tokens, d)
    y_fit, y_test = x0[..., :half, :, :].flatten(-3, -2), x0[..., half:, :, :].flatten(-3, -2)
    x_mean, y_mean = x_fit.mean(dim=-2, keepdim=True), y_fit.mean(dim=-2, keepdim=True)
    centred = x_fit - x_mean
    size = x_fit.pow(2).sum(dim=(-2, -1), keepdim=True)  # (..., 1, 1)
    gram = centred.transpose(-2, -1) @ centred + ridge * size * torch.eye(x.shape[-1], dtype=x.dtype)
    weights = torch.linalg.solve(gram, centred.transpose(-2, -1) @ (y_fit - y_mean))  # (..., d, d0)
    prediction = (x_test - x_mean) @ weights + y_mean
    error = (y_test - prediction).pow(2).sum(dim=(-2, -1))
    spread = (y_test - y_mean).pow(2).sum(dim=(-2, -1))
    return (1 - error / spread).clamp(min=0.0)


def token_similarity(x):
    """The mean cosine similarity between two different tokens of the same sequence.

    x: (..., n, d) with n >= 2. Returns (...,): near 0 for unrelated vectors, 1 if every token of a
    sequence carries the same vector (the sequence has collapsed to one point).
    """
    require_float_tensor("x", x)
    if x.ndim < 2 or x.shape[-2] < 2:
        raise ValueError(f"x must be (..., n, d) with n >= 2 tokens, got {tuple(x.shape)}")
    unit = x / x.norm(dim=-1, keepdim=True).clamp(min=1e-30)
    cosines = unit @ unit.transpose(-2, -1)  # (..., n, n)
    n = x.shape[-2]
    return (cosines.sum(dim=(-2, -1)) - cosines.diagonal(dim1=-2, dim2=-1).sum(dim=-1)) / (n * (n - 1))


# --------------------------------------------------------------------------- experiments 1, 3, 4: at initialisation


def layer_profiles(variants=VARIANTS, depths=(48,), seeds=(0, 1, 2), batch=16, information=True, model=None):
    """One forward and one backward pass of the task's loss, at initialisation, for each variant.

    For every variant, seed and depth D: a stack of D blocks (the first D of one deep stack with that
    seed: the same weights for every variant), a classifier head, and a batch of `batch` sequences
    drawn with that seed. All of them are computed side by side in one StackedModels. Returns
    {variant: {"depths": [...], "seeds": [...],
               "grad": {D: (S, D)}         ‖∂loss/∂(weights of block l)‖ for l = 1..D
               "input_grad": {D: (S, D+1)} ‖∂loss/∂x_l‖ for l = 0..D (x_0: the input of block 1)
               "rms": (S, L+1)             root-mean-square of the entries of x_l, l = 0..L = max depth
               "r2": (S, L+1)              recoverability(x_0, x_l)
               "similarity": (S, L+1)      token_similarity(x_l), averaged over the sequences}}
    with S seeds; arrays are NumPy float64. information=False leaves out r2 and similarity (faster).
    """
    variants = _require_variants(variants)
    depths = _require_list("depths", depths, minimum=1)
    seeds = _require_list("seeds", seeds, minimum=0)
    batch = require_int("batch", batch, minimum=4)
    model = dict(MODEL if model is None else model)
    runs = [(variant, seed, depth) for variant in variants for seed in seeds for depth in depths]
    data = {seed: above_average_task(batch, torch.Generator().manual_seed(DATA_SEED + seed)) for seed in seeds}
    tokens = torch.stack([data[seed][0] for _, seed, _ in runs])  # (M, B, n)
    labels = torch.stack([data[seed][1] for _, seed, _ in runs])
    with one_thread():
        stack = StackedModels(
            [v for v, _, _ in runs], max(depths), [s for _, s, _ in runs], vocab=VOCAB, n_classes=2, **model
        )
        _, hidden = stack(tokens=tokens, return_hidden=True)  # [x_0, ..., x_L], each (M, B, n, d)
        top = torch.stack([hidden[depth][m] for m, (_, _, depth) in enumerate(runs)])  # each model's own x_D
        logits = stack.readout(top.flatten(1, 2)).view(*labels.shape, -1)
        loss = per_model_loss(logits, labels).sum()  # the models are independent: one backward serves all
        parameters = [getattr(stack, name) for name in BLOCK_PARAMETERS]
        grads = torch.autograd.grad(loss, parameters + hidden, allow_unused=True)
        block_grads = stack.layer_gradient_norms(dict(zip(BLOCK_PARAMETERS, grads[: len(parameters)], strict=True)))
        input_grads = torch.stack(
            [torch.zeros(len(runs)) if g is None else g.flatten(1).norm(dim=1) for g in grads[len(parameters) :]],
            dim=1,
        )  # (M, L+1)
        with torch.no_grad():
            states = torch.stack(hidden, dim=1)  # (M, L+1, B, n, d)
            rms = states.pow(2).mean(dim=(-3, -2, -1)).sqrt()  # (M, L+1)
            if information:
                r2 = recoverability(states[:, :1].expand_as(states), states)
                similarity = token_similarity(states).mean(dim=-1)
    results = {}
    for variant in variants:
        rows = {(seed, depth): runs.index((variant, seed, depth)) for seed in seeds for depth in depths}
        first = [rows[seed, depths[0]] for seed in seeds]  # x_l does not depend on where the stack stops
        results[variant] = {
            "depths": depths,
            "seeds": seeds,
            "grad": {d: np.stack([block_grads[rows[s, d], :d].double().numpy() for s in seeds]) for d in depths},
            "input_grad": {
                d: np.stack([input_grads[rows[s, d], : d + 1].double().numpy() for s in seeds]) for d in depths
            },
            "rms": rms[first].double().numpy(),
        }
        if information:
            results[variant]["r2"] = r2[first].numpy()
            results[variant]["similarity"] = similarity[first].double().numpy()
    return results


# --------------------------------------------------------------------------- experiment 2: training


def _require_setting(setting):
    if not isinstance(setting, tuple) or len(setting) != 4:
        raise TypeError(f"a setting is a tuple (variant, depth, lr, warmup), got {setting!r}")
    variant, depth, lr, warmup = setting
    require_variant(variant)
    require_int("depth", depth, minimum=1)
    require_number("lr", lr, positive=True)
    require_int("warmup", warmup, minimum=0)
    return setting


def _train_group(depth, runs, steps, batch, eval_tokens, eval_labels, model, bar):
    """Train len(runs) models of one depth side by side; runs: [(variant, lr, warmup, seed)]."""
    seeds = [seed for _, _, _, seed in runs]
    stack = StackedModels([variant for variant, _, _, _ in runs], depth, seeds, vocab=VOCAB, n_classes=2, **model)
    optimiser = StackedAdam(stack.parameters())
    base_lrs = torch.tensor([lr for _, lr, _, _ in runs], dtype=torch.float32)
    warmups = torch.tensor([warmup for _, _, warmup, _ in runs])
    streams = {}
    for seed in sorted(set(seeds)):
        tokens, labels = above_average_task(steps * batch, torch.Generator().manual_seed(DATA_SEED + seed))
        streams[seed] = (tokens.view(steps, batch, -1), labels.view(steps, batch, -1))
    tokens = torch.stack([streams[seed][0] for seed in seeds], dim=1)  # (steps, M, B, n)
    labels = torch.stack([streams[seed][1] for seed in seeds], dim=1)
    history = torch.empty(steps, len(runs))
    for step in range(steps):
        losses = per_model_loss(stack(tokens=tokens[step]), labels[step])  # (M,)
        history[step] = losses.detach()
        # A diverged model's NaN stays in its own slice (no operation mixes models); it adds 0 to the sum.
        total = torch.where(torch.isfinite(losses), losses, torch.zeros(())).sum()
        optimiser.zero_grad()
        total.backward()
        optimiser.step(warmup_lrs(step, base_lrs, warmups))
        bar.update(1)
    with torch.no_grad():
        logits = stack(tokens=eval_tokens)
        eval_loss = per_model_loss(logits, eval_labels)
        eval_accuracy = (logits.argmax(dim=-1) == eval_labels).double().mean(dim=(1, 2))
    bad = ~torch.isfinite(history) | (history > DIVERGED_LOSS)  # (steps, M)
    diverged_at = torch.where(bad.any(dim=0), bad.double().argmax(dim=0), torch.full((len(runs),), -1.0))
    return history, eval_loss, eval_accuracy, diverged_at


def training_grid(settings, seeds=(0, 1, 2), steps=120, batch=8, eval_sequences=256, model=None, progress=False):
    """Experiment 2: train every setting (variant, depth, lr, warmup) once per seed, with Adam.

    seeds: a list of seeds for every setting, or a dict {setting: its own list of seeds}, so that a setting
    whose outcome varies from seed to seed can have more of them. warmup: 0, or the number of steps over
    which the learning rate rises linearly to lr. Models of the same depth train side by side (one
    StackedModels); seed s fixes the initial weights and the batches, so two settings with the same seed
    start from the same weights and see the same data. After training, each model is scored on the same
    `eval_sequences` held-out sequences.
    Returns {setting: {"seeds": [...], "loss": (S, steps) training loss per step, "eval_loss": (S,),
    "eval_accuracy": (S,), "diverged_at": (S,) first step whose loss was not finite or above
    DIVERGED_LOSS, −1 if none}}, S the setting's number of seeds. progress=True shows a tqdm.auto progress bar.
    """
    if isinstance(settings, tuple) or not hasattr(settings, "__iter__"):
        raise TypeError(f"settings must be a list of (variant, depth, lr, warmup) tuples, got {settings!r}")
    settings = [_require_setting(setting) for setting in settings]
    if not settings or len(set(settings)) != len(settings):
        raise ValueError(f"settings must be a non-empty list without repeats, got {settings!r}")
    if isinstance(seeds, dict):
        missing = [setting for setting in settings if setting not in seeds]
        if missing:
            raise ValueError(f"seeds is a dict without an entry for {missing}")
        seeds_of = {setting: _require_list(f"seeds of {setting}", seeds[setting], minimum=0) for setting in settings}
    else:
        seeds = _require_list("seeds", seeds, minimum=0)
        seeds_of = dict.fromkeys(settings, seeds)
    steps = require_int("steps", steps, minimum=1)
    batch = require_int("batch", batch, minimum=1)
    model = dict(MODEL if model is None else model)
    eval_tokens, eval_labels = above_average_task(
        require_int("eval_sequences", eval_sequences, minimum=1), torch.Generator().manual_seed(EVAL_SEED)
    )
    groups = {}
    for setting in sorted(settings, key=lambda s: VARIANTS.index(s[0])):  # a variant's models side by side: faster
        groups.setdefault(setting[1], []).append(setting)
    results = {}
    with one_thread(), _progress(len(groups) * steps, "training", progress) as bar:
        for depth, members in groups.items():
            runs = [
                (variant, lr, warmup, seed)
                for (variant, _, lr, warmup) in members
                for seed in seeds_of[variant, depth, lr, warmup]
            ]
            history, eval_loss, eval_accuracy, diverged_at = _train_group(
                depth, runs, steps, batch, eval_tokens, eval_labels, model, bar
            )
            start = 0
            for setting in members:
                columns = slice(start, start + len(seeds_of[setting]))
                start = columns.stop
                results[setting] = {
                    "seeds": seeds_of[setting],
                    "loss": history[:, columns].T.double().numpy(),
                    "eval_loss": eval_loss[columns].double().numpy(),
                    "eval_accuracy": eval_accuracy[columns].numpy(),
                    "diverged_at": diverged_at[columns].numpy().astype(int),
                }
    return {setting: results[setting] for setting in settings}


# --------------------------------------------------------------------------- experiment 5: overfitting


def overfit_runs(
    variants=("residual", "post_ln", "pre_ln"),
    seeds=(0, 1, 2),
    n_train=16,
    steps=150,
    lr=3e-3,
    depth=2,
    val_sequences=256,
    model=None,
    progress=False,
):
    """Experiment 5: train on only n_train sequences (full batch) until the models know them by heart.

    One model per (variant, seed), trained side by side; seed s fixes the initial weights and the
    training set (the same for every variant). Every model is scored on the same val_sequences
    held-out sequences. Returns {variant: {"train_loss", "val_loss", "train_accuracy", "val_accuracy",
    "logit_scale": mean |logit| on the validation set; each (S,)}}.
    """
    variants = _require_variants(variants)
    seeds = _require_list("seeds", seeds, minimum=0)
    n_train = require_int("n_train", n_train, minimum=1)
    steps = require_int("steps", steps, minimum=1)
    lr = require_number("lr", lr, positive=True)
    depth = require_int("depth", depth, minimum=1)
    model = dict(MODEL if model is None else model)
    val_tokens, val_labels = above_average_task(
        require_int("val_sequences", val_sequences, minimum=1), torch.Generator().manual_seed(EVAL_SEED)
    )
    runs = [(variant, seed) for variant in variants for seed in seeds]
    train = {seed: above_average_task(n_train, torch.Generator().manual_seed(TRAIN_SET_SEED + seed)) for seed in seeds}
    train_tokens = torch.stack([train[seed][0] for _, seed in runs])  # (M, n_train, n)
    train_labels = torch.stack([train[seed][1] for _, seed in runs])
    with one_thread(), _progress(steps, "overfitting", progress) as bar:
        stack = StackedModels([v for v, _ in runs], depth, [s for _, s in runs], vocab=VOCAB, n_classes=2, **model)
        optimiser = StackedAdam(stack.parameters())
        lrs = torch.full((len(runs),), lr)
        for _ in range(steps):
            losses = per_model_loss(stack(tokens=train_tokens), train_labels)
            optimiser.zero_grad()
            losses.sum().backward()
            optimiser.step(lrs)
            bar.update(1)
        with torch.no_grad():
            train_logits, val_logits = stack(tokens=train_tokens), stack(tokens=val_tokens)
            measures = {
                "train_loss": per_model_loss(train_logits, train_labels),
                "val_loss": per_model_loss(val_logits, val_labels),
                "train_accuracy": (train_logits.argmax(-1) == train_labels).double().mean(dim=(1, 2)),
                "val_accuracy": (val_logits.argmax(-1) == val_labels).double().mean(dim=(1, 2)),
                "logit_scale": val_logits.abs().mean(dim=(1, 2, 3)),
            }
    return {
        variant: {
            name: values[i * len(seeds) : (i + 1) * len(seeds)].double().numpy() for name, values in measures.items()
        }
        for i, variant in enumerate(variants)
    }


# --------------------------------------------------------------------------- figures


def smooth(values, window=10):
    """Running mean over the last `window` entries of the last axis (shorter at the start). (..., T) -> (..., T)."""
    values = np.asarray(values, dtype=float)
    window = require_int("window", window, minimum=1)
    if values.ndim == 0 or values.shape[-1] == 0:
        raise ValueError(f"values must have at least one entry on the last axis, got shape {values.shape}")
    length = values.shape[-1]
    sums = np.cumsum(values, axis=-1)
    padded = np.concatenate([np.zeros(values.shape[:-1] + (window,)), sums], axis=-1)
    counts = np.minimum(np.arange(1, length + 1), window)
    return (sums - padded[..., :length]) / counts  # (sum up to t) − (sum up to t − window)


PROFILE_KEYS = {
    "grad": ("‖∂loss/∂weights of block l‖ (log scale)", True, 1),
    "input_grad": ("‖∂loss/∂x_l‖ (log scale)", True, 0),
    "rms": ("RMS of x_l (log scale)", True, 0),
    "r2": ("R² recovering x_0 from x_l", False, 0),
    "similarity": ("mean cosine between tokens", False, 0),
}


def plot_layer_profile(profiles, ax, key="grad", depth=None, variants=None, title=None):
    """One line per variant: the median over seeds of profiles[variant][key] against the layer, min–max shaded.

    profiles: layer_profiles(...)'s dict. key: "grad", "input_grad", "rms", "r2" or "similarity".
    depth: which depth's gradients (default: the largest). A gradient of 0 (it underflowed) or below
    1e-30 is drawn at 1e-30. Returns ax.
    """
    if key not in PROFILE_KEYS:
        raise ValueError(f"key must be one of {tuple(PROFILE_KEYS)}, got {key!r}")
    variants = _require_variants(list(profiles) if variants is None else variants)
    ylabel, log, first_layer = PROFILE_KEYS[key]
    for variant in variants:
        profile = profiles[variant]
        if key in ("grad", "input_grad"):
            chosen = max(profile["depths"]) if depth is None else depth
            if chosen not in profile[key]:
                raise ValueError(f"depth {chosen} was not measured; measured depths: {profile['depths']}")
            values = profile[key][chosen]
        else:
            values = profile[key] if depth is None else profile[key][:, : depth + 1]
        values = np.maximum(values, GRADIENT_FLOOR) if log else values
        layers = np.arange(first_layer, first_layer + values.shape[1])
        style = STYLES[variant]
        ax.plot(
            layers, np.median(values, axis=0), label=VARIANT_LABELS[variant], markersize=4,
            markevery=max(1, len(layers) // 12), **style,
        )  # fmt: skip
        if values.shape[0] > 1:
            ax.fill_between(layers, values.min(axis=0), values.max(axis=0), color=style["color"], alpha=0.15)
    if log:
        log10_y_axis(ax)  # ticks at powers of ten, labelled 10⁻³ in plain text (mathtext is slow to draw)
        ax.yaxis.set_minor_locator(NullLocator())  # and no minor ticks: dozens of decades would make hundreds
    ax.set_xlabel("layer l (block l's output; 0 = input)" if first_layer == 0 else "block l")
    ax.set_ylabel(ylabel)
    ax.set_title(title or ylabel.replace(" (log scale)", ""), fontsize=10)
    return ax


def setting_label(setting):
    """'Pre-LN, depth 6, lr 0.03, warm-up 25' for the setting ("pre_ln", 6, 0.03, 25)."""
    variant, depth, lr, warmup = _require_setting(setting)
    label = f"{VARIANT_LABELS[variant].split(':')[0]}, depth {depth}, lr {lr:g}"
    return label + (f", warm-up {warmup}" if warmup else "")


def plot_training_curves(grid, ax, settings=None, window=10, ymax=1.0, title="Training loss"):
    """Training loss against step: for each setting the median over seeds (running mean over `window` steps),
    min–max over seeds shaded. A seed that diverged is marked ✕ at the top, at the step it diverged.

    grid: training_grid(...)'s dict. Settings with a warm-up are drawn with hollow markers. Returns ax.
    """
    settings = list(grid) if settings is None else [_require_setting(s) for s in settings]
    for setting in settings:
        result = grid[setting]
        variant, warmup = setting[0], setting[3]
        losses = np.where(np.isfinite(result["loss"]), result["loss"], np.inf)
        curves = np.minimum(smooth(np.minimum(losses, 1e6), window), 10 * ymax)  # (S, steps)
        steps = np.arange(1, curves.shape[1] + 1)
        style = dict(STYLES[variant])
        if warmup:
            style.update(linestyle=(0, (1, 1)), markerfacecolor="white")
        ax.plot(
            steps, np.median(curves, axis=0), label=setting_label(setting), markersize=5,
            markevery=max(1, len(steps) // 6), **style,
        )  # fmt: skip
        ax.fill_between(steps, curves.min(axis=0), curves.max(axis=0), color=style["color"], alpha=0.12)
        diverged = result["diverged_at"][result["diverged_at"] >= 0]
        if len(diverged):
            ax.plot(diverged + 1, np.full(len(diverged), ymax * 0.97), linestyle="none", marker="X",
                    markersize=9, color=style["color"], markeredgecolor="black")  # fmt: skip
    ax.set_ylim(0.0, ymax)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"loss (running mean of {window} steps)")
    ax.set_title(title, fontsize=10)
    return ax


def plot_generalisation(results, ax, metric="loss", title=None):
    """Grouped bars per variant: training and held-out loss (metric="loss") or accuracy ("accuracy").

    results: overfit_runs(...)'s dict; bars show the median over seeds, dots each seed. Returns ax.
    """
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
    variants = list(results)
    width = 0.38
    for offset, split, hatch in ((-width / 2, "train", ""), (width / 2, "val", "//")):
        key = f"{split}_{metric}"
        values = [results[v][key] for v in variants]
        positions = np.arange(len(variants)) + offset
        ax.bar(
            positions, [np.median(v) for v in values], width, hatch=hatch, edgecolor="black",
            color=[STYLES[v]["color"] for v in variants], alpha=0.85 if split == "train" else 0.45,
        )  # fmt: skip
        for position, seed_values in zip(positions, values, strict=True):
            ax.plot(np.full(len(seed_values), position), seed_values, "k.", markersize=4)
    ax.set_xticks(range(len(variants)), labels=[VARIANT_LABELS[v].split(":")[0] for v in variants])
    ax.set_ylabel("cross-entropy loss" if metric == "loss" else "accuracy")
    if metric == "accuracy":
        ax.set_ylim(0.5, 1.02)
    ax.set_title(title or f"{metric.capitalize()} after training", fontsize=10)
    handles = [
        Patch(facecolor="white", edgecolor="black", label="training set (solid)"),
        Patch(facecolor="white", edgecolor="black", hatch="//", label="held-out set (hatched)"),
    ]
    ax.legend(handles=handles, fontsize="small", loc="upper right" if metric == "loss" else "lower left")
    return ax


def verdict_table(rows):
    """A Markdown table of the verdicts: rows of (claim, experiment, verdict, numbers), each a string."""
    lines = ["| claim | tested by | verdict | the numbers |", "|---|---|---|---|"]
    for row in rows:
        if len(row) != 4 or not all(isinstance(cell, str) for cell in row):
            raise ValueError(f"each row must be 4 strings (claim, experiment, verdict, numbers), got {row!r}")
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- what the numbers say

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

# Experiment 4's settings that the summaries and verdicts read: (variant, depth, learning rate, warm-up steps).
MODERATE_LR, HIGH_LR, DEEP, SHALLOW, WARMUP = 3e-3, 3e-2, 6, 2, 25
WITH_RESIDUAL, WITHOUT_RESIDUAL = ("residual", "post_ln", "pre_ln"), ("plain", "layernorm")


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


def per_seed_table(grid):
    """Experiment 4 seed by seed: each seed's held-out accuracy, and the steps at which seeds diverged.

    grid: training_grid(...)'s dict. Returns the table as text, one line per setting.
    """
    lines = [f"{'setting':38s}| seeds | held-out accuracy of each seed | diverged at step"]
    for setting, result in grid.items():
        diverged = result["diverged_at"] >= 0
        accuracies = " ".join(f"{accuracy:4.0%}" for accuracy in result["eval_accuracy"])
        steps = ", ".join(str(step) for step in result["diverged_at"][diverged]) or "-"
        lines.append(f"{setting_label(setting):38s}| {len(result['seeds']):5d} | {accuracies} | {steps}")
    return "\n".join(lines)


def _moderate(grid):
    """Medians of experiment 4 at MODERATE_LR: {"deep": {variant: seed_outcome}, "shallow": {variant: median},
    "mean_loss": {variant: median over seeds of the mean training loss over the steps, at depth DEEP}}."""
    deep = {v: _lookup(grid, (v, DEEP, MODERATE_LR, 0), "the grid") for v in VARIANTS}
    return {
        "deep": {v: seed_outcome(result) for v, result in deep.items()},
        "shallow": {
            v: _median(_lookup(grid, (v, SHALLOW, MODERATE_LR, 0), "the grid")["eval_accuracy"])
            for v in WITHOUT_RESIDUAL
        },
        "mean_loss": {v: _median(np.asarray(result["loss"]).mean(axis=1)) for v, result in deep.items()},
    }


def _high(grid):
    """seed_outcome of experiment 4's settings at HIGH_LR: {(variant, warm-up steps): outcome}."""
    keys = [("residual", 0), ("post_ln", 0), ("post_ln", WARMUP), ("pre_ln", 0), ("pre_ln", WARMUP)]
    return {(v, w): seed_outcome(_lookup(grid, (v, DEEP, HIGH_LR, w), "the grid")) for v, w in keys}


def moderate_rate_summary(grid, baseline_accuracy):
    """Experiment 4 at the moderate learning rate in Markdown: medians over the seeds, and what they say.

    grid: training_grid(...)'s dict, with the five wirings at depth DEEP and plain and LayerNorm only at
    depth SHALLOW, all at MODERATE_LR without warm-up. baseline_accuracy: what a model that sees only its
    own token reaches (token_only_baseline). Every judging word comes from the thresholds above.
    """
    measured = _moderate(grid)
    deep, shallow, mean_loss = measured["deep"], measured["shallow"], measured["mean_loss"]
    lines = ["| setting | seeds | median held-out accuracy | median of the mean training loss |", "|---|---|---|---|"]
    for setting, result in grid.items():
        if setting[2] == MODERATE_LR and setting[3] == 0:
            accuracy, loss = _median(result["eval_accuracy"]), _median(np.asarray(result["loss"]).mean(axis=1))
            lines.append(f"| {setting_label(setting)} | {len(result['seeds'])} | {_percent(accuracy)} | {loss:.2f} |")
    baseline = _baseline(baseline_accuracy)
    where = {"higher": "above", "lower": "below", "the same": "at"}
    above = {_name(v): where[compare(deep[v]["median"], baseline_accuracy, 0.0)] for v in WITH_RESIDUAL}
    shallow_above = {_name(v): where[compare(shallow[v], baseline_accuracy, 0.0)] for v in WITHOUT_RESIDUAL}
    shallow_chance = {_name(v): where[compare(shallow[v], AT_CHANCE, 0.0)] for v in WITHOUT_RESIDUAL}
    accuracy = {
        _name(v): compare(deep[v]["median"], deep["residual"]["median"], SAME_WITHIN) for v in ("post_ln", "pre_ln")
    }
    speed = {_name(v): convergence(mean_loss[v], mean_loss["residual"]) for v in ("post_ln", "pre_ln")}
    steps = np.asarray(next(iter(grid.values()))["loss"]).shape[1]
    lines += [
        "",
        f"(Trained: held-out accuracy at least {_percent(TRAINED)}; at chance: below {_percent(AT_CHANCE)}. The mean "
        f"training loss is the average over the {steps} steps: the sooner the loss falls, the lower it is.)",
        "",
        "- **With the residual path**, 6 blocks deep: "
        + _each({_name(v): describe_outcome(deep[v]) for v in WITH_RESIDUAL})
        + f", with medians of {_listed(_percent(deep[v]['median']) for v in WITH_RESIDUAL)}: {_judged(above)} "
        f"the {baseline} of a model that sees only its own token.",
        "- **Without it**, 6 blocks deep: "
        + _each({_name(v): describe_outcome(deep[v]) for v in WITHOUT_RESIDUAL})
        + f", with medians of {_listed(_percent(deep[v]['median']) for v in WITHOUT_RESIDUAL)}.",
        "- **At 2 blocks** the same two reach medians of "
        f"{_listed(_percent(shallow[v]) for v in WITHOUT_RESIDUAL)}: {_judged(shallow_chance)} chance, but "
        f"{_judged(shallow_above)} the {baseline} that needs no attention at all.",
        "- **The Norm** at this learning rate: Post-LN's and Pre-LN's median accuracies against residual only's: "
        f"{_judged(accuracy)} (the same: within {_points(SAME_WITHIN)}); their convergence: {_judged(speed)} (median "
        f"mean training loss {mean_loss['post_ln']:.2f} and {mean_loss['pre_ln']:.2f} against "
        f"{mean_loss['residual']:.2f}; faster would be at most {FASTER:g} times as large).",
    ]
    return "\n".join(lines)


def high_rate_summary(grid):
    """Experiment 4 at the high learning rate in Markdown: how the seeds of each setting ended, and what that says.

    grid: training_grid(...)'s dict with residual only, Post-LN and Pre-LN at depth DEEP and HIGH_LR,
    Post-LN and Pre-LN also with a WARMUP-step warm-up. A median accuracy is given only for a setting that
    trained reliably: the median of seeds that split into two groups describes neither group.
    """
    outcome = _high(grid)
    lines = ["| setting | seeds | how the seeds ended | median held-out accuracy |", "|---|---|---|---|"]
    for (variant, warmup), o in outcome.items():
        median = _percent(o["median"]) if o["outcome"] == "trained" else "–"
        label = setting_label((variant, DEEP, HIGH_LR, warmup))
        lines.append(f"| {label} | {o['seeds']} | {describe_outcome(o)} | {median} |")
    post, post_warm = outcome["post_ln", 0]["outcome"], outcome["post_ln", WARMUP]["outcome"]
    if post == "trained":
        warm_up = "was not needed"
    else:
        warm_up = "made it reliable" if post_warm == "trained" else "did not make it reliable"
    lines += [
        "",
        f"(Trained: held-out accuracy at least {_percent(TRAINED)}, the training loss never above "
        f"{DIVERGED_LOSS:g}; diverged: it went above. A setting trains reliably if at least {_percent(RELIABLE)} of "
        "its seeds train, and diverges if at least half of them diverge. A median is given only where the seeds "
        "trained reliably: the median of seeds that split into two groups describes neither.)",
        "",
        f"- **Residual only**: {describe_outcome(outcome['residual', 0])}.",
        f"- **Pre-LN** without warm-up: {describe_outcome(outcome['pre_ln', 0])}; with warm-up: "
        f"{describe_outcome(outcome['pre_ln', WARMUP])}.",
        f"- **Post-LN** without warm-up: {describe_outcome(outcome['post_ln', 0])}; with warm-up: "
        f"{describe_outcome(outcome['post_ln', WARMUP])}. A warm-up {warm_up} at this learning rate.",
    ]
    return "\n".join(lines)


def _overfit_medians(overfit):
    """{variant: {measure: median over seeds}} with "gap": the median of training − held-out accuracy."""
    medians = {}
    for variant, result in overfit.items():
        medians[variant] = {name: _median(values) for name, values in result.items()}
        medians[variant]["gap"] = _median(np.asarray(result["train_accuracy"]) - np.asarray(result["val_accuracy"]))
    return medians


def overfit_table(overfit):
    """Experiment 5 as a text table: the median over seeds of each measure, one line per variant.

    overfit: overfit_runs(...)'s dict. Columns: training and held-out loss and accuracy, the accuracy gap
    (training − held-out, in points) and the mean absolute logit on the held-out set.
    """
    n = len(next(iter(overfit.values()))["val_accuracy"])
    lines = [
        f"median over {n} seeds | training loss | held-out loss | training acc. | held-out acc. | gap (acc.) "
        "| mean |logit|"
    ]
    for variant, m in _overfit_medians(overfit).items():
        lines.append(
            f"{_name(variant):20s}| {m['train_loss']:13.3f} | {m['val_loss']:13.2f} "
            f"| {_percent(m['train_accuracy']):>13s} | {_percent(m['val_accuracy']):>13s} "
            f"| {_points(m['gap']):>10s} | {m['logit_scale']:8.1f}"
        )
    return "\n".join(lines)


def overfit_summary(overfit):
    """Experiment 5 in Markdown: did LayerNorm narrow the gap between training and held-out accuracy?

    overfit: overfit_runs(...)'s dict with "residual" and at least one of "post_ln" and "pre_ln". Compares
    medians over seeds; two gaps are the same if they differ by less than SAME_WITHIN.
    """
    _lookup(overfit, "residual", "overfit")
    normed = [v for v in ("post_ln", "pre_ln") if v in overfit]
    if not normed:
        raise ValueError("overfit needs 'post_ln' or 'pre_ln' to compare with 'residual'")
    m = _overfit_medians(overfit)
    everyone = ["residual", *normed]
    width = {"higher": "wider", "lower": "narrower", "the same": "the same"}
    gaps = {_name(v): width[compare(m[v]["gap"], m["residual"]["gap"], SAME_WITHIN)] for v in normed}
    ratio = m["residual"]["logit_scale"] / max(m[v]["logit_scale"] for v in normed)  # the smaller ratio
    n = len(overfit["residual"]["val_accuracy"])
    return "\n".join([
        f"Medians over {n} seeds, in the order {_listed(_name(v) for v in everyone)}:",
        "",
        f"- **Training accuracy**: {_same_or_listed(_percent(m[v]['train_accuracy']) for v in everyone)}.",
        f"- **Held-out accuracy**: {_same_or_listed(_percent(m[v]['val_accuracy']) for v in everyone)}; the gap "
        f"between the two: {_same_or_listed(_points(m[v]['gap']) for v in everyone)}. Against the gap without "
        f"LayerNorm, the gaps with it are {_judged(gaps)} (the same: within {_points(SAME_WITHIN)}).",
        f"- **Held-out loss**: {m['residual']['val_loss']:.2f} without LayerNorm, "
        f"{_listed(format(m[v]['val_loss'], '.2f') for v in normed)} with it. **Mean absolute logit**: "
        f"{m['residual']['logit_scale']:.1f} without, {_listed(format(m[v]['logit_scale'], '.1f') for v in normed)} "
        f"with it: without LayerNorm the logits are about {ratio:.0f} times as large.",
    ])  # fmt: skip


def _ratio(value):
    """A gradient ratio as printed in the verdicts: '0 (underflow)', '1e-08', '0.62', '3.3'."""
    return "0 (underflow)" if value == 0 else f"{value:.2g}" if value >= 0.01 else f"{value:.0e}"


def claim_verdicts(
    *, grad_ratio, chain_size, profiles, invariance, ln_change, feature_mean, grid, overfit, baseline_accuracy
):
    """The verdict table's rows: each claim, what tested it, its verdict and the findings behind it.

    Each claim is split into findings: statements with a threshold (the constants above) that hold or not;
    verdict(...) turns them into supported / partly / not supported. From the notebook: grad_ratio
    {variant: block 1's / block 48's gradient, medians over seeds}; chain_size {False: the size of the
    derivative of 24 sublayers without the residual path, True: with it}; profiles: layer_profiles(...) at
    depth 48; invariance: the largest |LN(c·x + b) − LN(x)| measured; ln_change: how much a sequence's
    LayerNorm output changed when the rest of its batch changed; feature_mean: the per-feature means of the
    stream after 8 Post-LN blocks; grid: training_grid(...) with the lesson's settings; overfit:
    overfit_runs(...); baseline_accuracy: token_only_baseline(...)["accuracy"].
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
        ("5. regularises by adding noise (Norm)", "exp. 5: 16 training sequences", [
            (f"LayerNorm adds noise: a sequence's output changed by {ln_change:.2f} when the rest of the batch changed "
             f"(noise: at least {NO_NOISE:g})", ln_change >= NO_NOISE),
            (f"a narrower gap between training and held-out accuracy with LayerNorm (by at least "
             f"{_points(SAME_WITHIN)}): {_points(fit['residual']['gap'])} without, {gap_words} with it; its lower "
             f"held-out loss ({fit['residual']['val_loss']:.2f} → {fit[normed[0]]['val_loss']:.2f}) comes with "
             f"smaller logits ({fit['residual']['logit_scale']:.1f} → {fit[normed[0]]['logit_scale']:.1f})",
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
    return rows
