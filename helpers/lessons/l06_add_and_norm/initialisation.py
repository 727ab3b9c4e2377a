"""Experiments 1, 3 and 4 of lesson 06: deep stacks at initialisation, measured layer by layer.

One forward and one backward pass of the task's loss through stacks of each variant: how large the gradient
of each block is, how large the stream x_l between blocks is, and how much of the input x_0 it still carries.
Shapes: B sequences, n tokens, d features, S seeds, L the deepest stack's number of blocks.

    recoverability(x0, x)   R² of recovering x0 (..., B, n, d) from x (..., B, n, d) by a linear map, held out; (...,)
    token_similarity(x)     mean cosine similarity between the tokens of a sequence, x (..., n, d) -> (...,)
    layer_profiles(...)     gradient, activation scale and information per layer: {variant: arrays (S, L+1)...}
"""

import numpy as np
import torch

from helpers.lessons.l06_add_and_norm.blocks import VARIANTS, require_variants
from helpers.lessons.l06_add_and_norm.stacked_models import BLOCK_PARAMETERS, StackedModels, per_model_loss
from helpers.lessons.l06_add_and_norm.task import DATA_SEED, MODEL, VOCAB, above_average_task
from helpers.library.checks import require_float_tensor, require_int, require_int_list, require_number
from helpers.machinery.threads import one_thread

__all__ = ["recoverability", "token_similarity", "layer_profiles"]


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
               "similarity": (S, L+1)      token_similarity(x_l), averaged over the sequences
               "change": (S, L+1)          how much block l changes the stream, ‖x_l − x_(l−1)‖ / ‖x_(l−1)‖
                                           over the whole batch (0 for l = 0)}}
    with S seeds; arrays are NumPy float64. information=False leaves out r2, similarity and change (faster).
    """
    variants = require_variants(variants)
    depths = require_int_list("depths", depths, 1, what="depth")
    seeds = require_int_list("seeds", seeds, 0, what="seed")
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
                steps = (states[:, 1:] - states[:, :-1]).flatten(2).norm(dim=-1)  # (M, L): ‖x_l − x_(l−1)‖
                change = torch.cat([torch.zeros(len(runs), 1), steps / states[:, :-1].flatten(2).norm(dim=-1)], 1)
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
            results[variant]["change"] = change[first].double().numpy()
    return results
