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

    warmup: 0, or the number of steps over which the learning rate rises linearly to lr. Models of the
    same depth train side by side (one StackedModels); seed s fixes the initial weights and
    the batches, so two settings with the same seed start from the same weights and see the same data.
    After training, each model is scored on the same `eval_sequences` held-out sequences.
    Returns {setting: {"seeds": [...], "loss": (S, steps) training loss per step, "eval_loss": (S,),
    "eval_accuracy": (S,), "diverged_at": (S,) first step whose loss was not finite or above
    DIVERGED_LOSS, −1 if none}}. progress=True shows a tqdm.auto progress bar.
    """
    if isinstance(settings, tuple) or not hasattr(settings, "__iter__"):
        raise TypeError(f"settings must be a list of (variant, depth, lr, warmup) tuples, got {settings!r}")
    settings = [_require_setting(setting) for setting in settings]
    if not settings or len(set(settings)) != len(settings):
        raise ValueError(f"settings must be a non-empty list without repeats, got {settings!r}")
    seeds = _require_list("seeds", seeds, minimum=0)
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
            runs = [(variant, lr, warmup, seed) for (variant, _, lr, warmup) in members for seed in seeds]
            history, eval_loss, eval_accuracy, diverged_at = _train_group(
                depth, runs, steps, batch, eval_tokens, eval_labels, model, bar
            )
            for i, setting in enumerate(members):
                columns = slice(i * len(seeds), (i + 1) * len(seeds))
                results[setting] = {
                    "seeds": seeds,
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

    results: overfit_runs(...)'s dict; bars show the mean over seeds, dots each seed. Returns ax.
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
            positions, [np.mean(v) for v in values], width, hatch=hatch, edgecolor="black",
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
