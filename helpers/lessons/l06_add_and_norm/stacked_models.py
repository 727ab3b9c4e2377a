"""Many small transformers computed side by side, so that lesson 06 can train dozens of them in seconds.

A model this small spends its time in the overhead of each tensor operation, not in arithmetic. Stacking
M models along a leading "model" axis lets one batched matrix product (torch.bmm) do the work of M. Each
model keeps its own weights, drawn from its own seed, and its own learning rate; no operation mixes two
models, so model m computes exactly what it would compute alone (tests/test_l06_add_and_norm_stacked_models.py checks
every model against helpers.lessons.l06_add_and_norm.blocks.AddNormBlock, and Post-LN and Pre-LN against
PyTorch's own layer).

    StackedModels   M stacks of `depth` blocks, each of its own variant, with an optional embedding and head
    StackedAdam     Adam with one learning rate per model (from helpers.library.optim, re-exported)
    warmup_lrs      the learning rate of every model at a step, with or without a linear warm-up
    per_model_loss  cross-entropy of each model, (M,)

Shapes: M models, B sequences, n tokens per sequence, d_model features, L = depth blocks.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from helpers.lessons.l06_add_and_norm.blocks import AddNormBlock, add_and_norm, require_variant
from helpers.library.checks import (
    require_float_tensor,
    require_int,
    require_int_list,
    require_number,
    require_tensor,
)
from helpers.library.optim import StackedAdam

__all__ = ["StackedModels", "StackedAdam", "warmup_lrs", "per_model_loss", "fused_layer_norm", "BLOCK_PARAMETERS"]

# Per-block parameters, each (M, L, ...); weights are stored (in, out), so a layer computes x @ w + b.
BLOCK_PARAMETERS = (
    "w_qkv", "b_qkv", "w_o", "b_o", "w_1", "b_1", "w_2", "b_2", "norm1_w", "norm1_b", "norm2_w", "norm2_b",
)  # fmt: skip


def _uniform(generator, fan_in, *shape):
    """nn.Linear's default initialisation: U(−1/√fan_in, 1/√fan_in) for weights and biases."""
    bound = 1.0 / math.sqrt(fan_in)
    return (torch.rand(*shape, generator=generator) * 2 - 1) * bound


class StackedModels(nn.Module):
    """M independent transformers computed side by side.

    variants: one variant for all models, or a list with one per model (then every model computes
    every variant's operations and keeps its own: fewer, larger operations, which is faster here).
    Model m: [embedding (vocab, d_model)] → L blocks → [final LayerNorm, pre_ln only] → [head (d_model, n_classes)].
    A block is helpers.lessons.l06_add_and_norm.blocks.AddNormBlock: attention then feed-forward (Linear, ReLU,
    Linear), each wrapped by add_and_norm(…, variant of model m). Model m's weights come from
    torch.Generator().manual_seed(seeds[m]) with nn.Linear's and nn.Embedding's default initialisation, drawn
    embedding and head first, then block by block: models with the same seed start with the same weights whatever
    their variant, and a depth-D model is the first D blocks of a deeper one with the same seed.
    No dropout: with it off, PyTorch's TransformerEncoderLayer computes the same (tested).
    """

    def __init__(self, variants, depth, seeds, d_model=32, n_heads=4, d_ff=64, vocab=None, n_classes=None, eps=1e-5):
        super().__init__()
        self.seeds = require_int_list("seeds", seeds, 0, what="seed")  # repeats share one draw
        self.variants = self._require_variants(variants, len(self.seeds))
        self.variant = self.variants[0] if len(set(self.variants)) == 1 else None  # None: mixed variants
        self.depth = require_int("depth", depth, minimum=1)
        self.d_model = require_int("d_model", d_model, minimum=1)
        self.n_heads = require_int("n_heads", n_heads, minimum=1)
        self.d_ff = require_int("d_ff", d_ff, minimum=1)
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.vocab = None if vocab is None else require_int("vocab", vocab, minimum=1)
        self.n_classes = None if n_classes is None else require_int("n_classes", n_classes, minimum=1)
        self.eps = require_number("eps", eps, positive=True)
        self.n_models, self.d_k = len(self.seeds), d_model // n_heads

        drawn = {seed: self._draw(seed) for seed in sorted(set(self.seeds))}  # models with one seed share a draw
        for name in BLOCK_PARAMETERS:
            setattr(self, name, nn.Parameter(torch.stack([drawn[seed][name] for seed in self.seeds])))  # (M, L, ...)
        for name in ("embedding", "head_w", "head_b"):  # (M, vocab, d), (M, d, n_classes), (M, 1, n_classes)
            values = [drawn[seed].get(name) for seed in self.seeds]
            setattr(self, name, None if values[0] is None else nn.Parameter(torch.stack(values)))
        # The mixed path's switches: which models add x back (M, 1, 1), and the runs of consecutive models
        # that normalise before the sublayer (Pre-LN) or after the sum (LayerNorm only, Post-LN).
        self._residual = torch.tensor([[[float(v in ("residual", "post_ln", "pre_ln"))]] for v in self.variants])
        self._pre_runs = _runs([v == "pre_ln" for v in self.variants])
        self._post_runs = _runs([v in ("layernorm", "post_ln") for v in self.variants])
        has_final = bool(self._pre_runs)
        self.final_w = nn.Parameter(torch.ones(self.n_models, 1, d_model)) if has_final else None  # (M, 1, d)
        self.final_b = nn.Parameter(torch.zeros(self.n_models, 1, d_model)) if has_final else None

    def _draw(self, seed):
        """One model's initial weights: {name: tensor} with block parameters (L, ...), from its own generator."""
        generator = torch.Generator().manual_seed(seed)
        d, f = self.d_model, self.d_ff
        weights = {}
        if self.vocab is not None:
            weights["embedding"] = torch.randn(self.vocab, d, generator=generator)
        if self.n_classes is not None:
            weights["head_w"] = _uniform(generator, d, d, self.n_classes)
            weights["head_b"] = _uniform(generator, d, 1, self.n_classes)
        shapes = {
            "w_qkv": (d, (d, 3 * d)), "b_qkv": (d, (1, 3 * d)), "w_o": (d, (d, d)), "b_o": (d, (1, d)),
            "w_1": (d, (d, f)), "b_1": (d, (1, f)), "w_2": (f, (f, d)), "b_2": (f, (1, d)),
        }  # fmt: skip
        layers = {name: [] for name in shapes}
        for _ in range(self.depth):  # block by block, so the first D blocks do not depend on the depth
            for name, (fan_in, shape) in shapes.items():
                layers[name].append(_uniform(generator, fan_in, *shape))
        weights.update({name: torch.stack(values) for name, values in layers.items()})
        for name in ("norm1_w", "norm2_w"):
            weights[name] = torch.ones(self.depth, 1, d)
        for name in ("norm1_b", "norm2_b"):
            weights[name] = torch.zeros(self.depth, 1, d)
        return weights

    @staticmethod
    def _require_variants(variants, n_models):
        if isinstance(variants, str):
            return [require_variant(variants)] * n_models
        if not isinstance(variants, (list, tuple)) or len(variants) != n_models:
            raise ValueError(f"variants must be one variant or a list of {n_models} (one per seed), got {variants!r}")
        return [require_variant(variant) for variant in variants]

    def _normalise_runs(self, x, runs, norm):
        """x (M, T, d) with the models in `runs` (a list of (start, stop)) replaced by their norm."""
        if runs == [(0, self.n_models)]:
            return norm(x)
        pieces, start = [], 0
        for run_start, run_stop in runs:
            pieces += [x[start:run_start], norm(x[run_start:run_stop], slice(run_start, run_stop))]
            start = run_stop
        return torch.cat([*pieces, x[start:]]) if runs else x

    def _mixed_add_and_norm(self, x, sublayer, norm):
        """add_and_norm for models of different variants, each taking its own path.

        The sublayer runs once for all models; the norms run on the models that need them. Bit for bit
        what add_and_norm computes for each model alone (1·x and +0·x are exact). Faster when the
        models of one variant are next to each other (fewer runs).
        """
        s = sublayer(self._normalise_runs(x, self._pre_runs, norm))
        if self._residual.any():
            s = s + x if self._residual.all() else s + self._residual * x
        return self._normalise_runs(s, self._post_runs, norm)

    def _add_and_norm(self, x, sublayer, norm):
        if self.variant is None:
            return self._mixed_add_and_norm(x, sublayer, norm)
        return add_and_norm(x, sublayer, norm, self.variant)

    # ----------------------------------------------------------------------------------- forward

    def _inputs(self, tokens, x):
        """(M, B·n, d_model) input vectors, and (B, n)."""
        if (tokens is None) == (x is None):
            raise ValueError("give exactly one of tokens (int ids) or x (input vectors)")
        if tokens is not None:
            require_tensor("tokens", tokens)
            if self.embedding is None:
                raise ValueError("these models have no embedding (vocab=None): pass input vectors x instead")
            if tokens.dtype != torch.long or tokens.ndim not in (2, 3):
                raise ValueError(f"tokens must be int64 (B, n) or (M, B, n), got {tokens.dtype} {tuple(tokens.shape)}")
            if tokens.ndim == 3 and tokens.shape[0] != self.n_models:
                raise ValueError(f"tokens (M, B, n) must have M={self.n_models}, got {tuple(tokens.shape)}")
            if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.vocab):
                raise ValueError(f"token ids must be in [0, {self.vocab}), got {tokens.min()}..{tokens.max()}")
            ids = tokens.expand(self.n_models, *tokens.shape[-2:]) if tokens.ndim == 2 else tokens
            batch, n = ids.shape[1:]
            index = ids.reshape(self.n_models, batch * n, 1).expand(-1, -1, self.d_model)
            return torch.gather(self.embedding, 1, index), (batch, n)  # (M, B·n, d)
        require_float_tensor("x", x)
        if x.ndim not in (3, 4) or x.shape[-1] != self.d_model or (x.ndim == 4 and x.shape[0] != self.n_models):
            raise ValueError(
                f"x must be (B, n, d_model={self.d_model}) or (M={self.n_models}, B, n, d_model), got {tuple(x.shape)}"
            )
        batch, n = x.shape[-3:-1]
        return x.expand(self.n_models, batch, n, self.d_model).reshape(self.n_models, batch * n, self.d_model), (
            batch,
            n,
        )

    def _attention(self, u, weights, batch, n):
        """Multi-head self-attention of every model at once. u: (M, B·n, d) -> (M, B·n, d)."""
        w_qkv, b_qkv, w_o, b_o = weights
        qkv = torch.baddbmm(b_qkv, u, w_qkv)  # (M, B·n, 3d)
        q, k, v = qkv.view(self.n_models, batch, n, 3, self.n_heads, self.d_k).permute(3, 0, 1, 4, 2, 5)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)  # (M, B, n_heads, n, n)
        heads = torch.softmax(scores, dim=-1) @ v  # (M, B, n_heads, n, d_k)
        concatenated = heads.transpose(2, 3).reshape(self.n_models, batch * n, self.d_model)
        return torch.baddbmm(b_o, concatenated, w_o)

    def blocks(self, x, batch, n, return_hidden=False):
        """Run the L blocks. x: (M, B·n, d) -> (M, B·n, d), and [x_0, ..., x_L], each (M, B, n, d), if return_hidden.

        Each block reads its input from the (M, B, n, d) view of the hidden list, so autograd can
        give the gradient with respect to every x_l (torch.autograd.grad(loss, hidden)).
        """
        per_layer = [p.unbind(1) for p in (getattr(self, name) for name in BLOCK_PARAMETERS)]  # each (M, ...)
        hidden = [x.view(self.n_models, batch, n, self.d_model)]
        for layer in range(self.depth):
            x = hidden[-1].view(self.n_models, batch * n, self.d_model)
            w = {name: values[layer] for name, values in zip(BLOCK_PARAMETERS, per_layer, strict=True)}
            attention_weights = (w["w_qkv"], w["b_qkv"], w["w_o"], w["b_o"])

            def attend(u, attention_weights=attention_weights):
                return self._attention(u, attention_weights, batch, n)

            def feed_forward(u, w=w):
                return torch.baddbmm(w["b_2"], torch.relu(torch.baddbmm(w["b_1"], u, w["w_1"])), w["w_2"])

            def norm1(u, rows=slice(None), w=w):  # rows: which models u holds
                return fused_layer_norm(u, w["norm1_w"][rows], w["norm1_b"][rows], self.eps)

            def norm2(u, rows=slice(None), w=w):
                return fused_layer_norm(u, w["norm2_w"][rows], w["norm2_b"][rows], self.eps)

            x = self._add_and_norm(x, attend, norm1)
            x = self._add_and_norm(x, feed_forward, norm2)
            hidden.append(x.view(self.n_models, batch, n, self.d_model))
        x = hidden[-1].view(self.n_models, batch * n, self.d_model)
        return (x, hidden) if return_hidden else x

    def readout(self, x):
        """The final LayerNorm (pre_ln only) and the head. x: (M, B·n, d) -> (M, B·n, n_classes)."""
        if self.head_w is None:
            raise ValueError("these models have no head (n_classes=None)")
        if self.final_w is not None:

            def final(u, rows=slice(None)):
                return fused_layer_norm(u, self.final_w[rows], self.final_b[rows], self.eps)

            x = self._normalise_runs(x, self._pre_runs, final)
        return torch.baddbmm(self.head_b, x, self.head_w)

    def forward(self, tokens=None, x=None, return_hidden=False):
        """Run the models. tokens: int64 (B, n) shared by all models, or (M, B, n);
        or x: input vectors (B, n, d_model) shared, or (M, B, n, d_model).

        Returns the logits (M, B, n, n_classes), or the last block's output (M, B, n, d_model) if the
        models have no head; with return_hidden=True also [x_0, ..., x_L], each (M, B, n, d_model):
        x_l is what flows between block l and block l+1 (x_0 the input).
        """
        inputs, (batch, n) = self._inputs(tokens, x)
        output, hidden = self.blocks(inputs, batch, n, return_hidden=True)
        if self.head_w is not None:
            output = self.readout(output)
        output = output.view(self.n_models, batch, n, -1)
        return (output, hidden) if return_hidden else output

    # ----------------------------------------------------------------------------------- one model as a block

    def block(self, model, layer):
        """Model `model`'s block `layer` as a helpers.lessons.l06_add_and_norm.blocks.AddNormBlock, same weights."""
        model, layer = self._require_index(model, layer)
        block = AddNormBlock(self.d_model, self.n_heads, self.d_ff, variant=self.variants[model], eps=self.eps)
        d = self.d_model
        with torch.no_grad():
            w_qkv, b_qkv = self.w_qkv[model, layer], self.b_qkv[model, layer, 0]  # (d, 3d), (3d,)
            for i, linear in enumerate((block.attn.w_q, block.attn.w_k, block.attn.w_v)):
                linear.weight.copy_(w_qkv[:, i * d : (i + 1) * d].T)
                linear.bias.copy_(b_qkv[i * d : (i + 1) * d])
            pairs = ((block.attn.w_o, "w_o", "b_o"), (block.ff[0], "w_1", "b_1"), (block.ff[2], "w_2", "b_2"))
            for linear, weight, bias in pairs:
                linear.weight.copy_(getattr(self, weight)[model, layer].T)
                linear.bias.copy_(getattr(self, bias)[model, layer, 0])
            for norm, prefix in ((block.norm1, "norm1"), (block.norm2, "norm2")):
                norm.weight.copy_(getattr(self, f"{prefix}_w")[model, layer, 0])
                norm.bias.copy_(getattr(self, f"{prefix}_b")[model, layer, 0])
        return block

    def load_block(self, model, layer, block):
        """Copy an AddNormBlock's weights into model `model`'s block `layer` (the model keeps its variant)."""
        model, layer = self._require_index(model, layer)
        if not isinstance(block, AddNormBlock):
            raise TypeError(
                f"expected a helpers.lessons.l06_add_and_norm.blocks.AddNormBlock, got {type(block).__name__}"
            )
        theirs = (block.attn.d_model, block.attn.n_heads, block.ff[0].out_features)
        if theirs != (self.d_model, self.n_heads, self.d_ff):
            raise ValueError(
                "block has d_model={}, n_heads={}, d_ff={}; ".format(*theirs)
                + f"these models have {self.d_model}, {self.n_heads}, {self.d_ff}"
            )
        with torch.no_grad():
            attn = block.attn
            self.w_qkv[model, layer] = torch.cat([attn.w_q.weight.T, attn.w_k.weight.T, attn.w_v.weight.T], dim=1)
            self.b_qkv[model, layer, 0] = torch.cat([attn.w_q.bias, attn.w_k.bias, attn.w_v.bias])
            pairs = ((attn.w_o, "w_o", "b_o"), (block.ff[0], "w_1", "b_1"), (block.ff[2], "w_2", "b_2"))
            for linear, weight, bias in pairs:
                getattr(self, weight)[model, layer] = linear.weight.T
                getattr(self, bias)[model, layer, 0] = linear.bias
            for norm, prefix in ((block.norm1, "norm1"), (block.norm2, "norm2")):
                getattr(self, f"{prefix}_w")[model, layer, 0] = norm.weight
                getattr(self, f"{prefix}_b")[model, layer, 0] = norm.bias

    def _require_index(self, model, layer):
        model = require_int("model", model, minimum=0)
        layer = require_int("layer", layer, minimum=0)
        if model >= self.n_models or layer >= self.depth:
            raise ValueError(
                f"model must be < {self.n_models} and layer < {self.depth}, got model={model}, layer={layer}"
            )
        return model, layer

    def layer_gradient_norms(self, grads=None):
        """‖gradient‖ of each block's parameters (all twelve tensors together), per model and layer: (M, L).

        grads: {name: gradient (M, L, ...)} for the names in BLOCK_PARAMETERS, e.g. from
        torch.autograd.grad; default: the parameters' .grad, after loss.backward().
        """
        squares = torch.zeros(self.n_models, self.depth)
        for name in BLOCK_PARAMETERS:
            grad = getattr(self, name).grad if grads is None else grads.get(name)
            if grad is not None:
                squares += grad.detach().pow(2).flatten(2).sum(dim=-1)
        return squares.sqrt()


def _runs(flags):
    """[(start, stop)] of the runs of consecutive True in a list of bools."""
    runs, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    return runs


def fused_layer_norm(x, weight, bias, eps=1e-5):
    """helpers.lessons.l06_add_and_norm.blocks.layer_norm with PyTorch's fused kernel for the normalisation
    (faster to train).

    x: (M, T, d)   weight, bias: (M, 1, d), one per model. Returns (M, T, d).
    """
    return torch.addcmul(bias, F.layer_norm(x, x.shape[-1:], eps=eps), weight)


def per_model_loss(logits, labels):
    """Mean cross-entropy of each model.

    logits: (M, B, n, n_classes)   labels: int64 (B, n) or (M, B, n). Returns (M,).
    """
    require_float_tensor("logits", logits)
    require_tensor("labels", labels)
    if logits.ndim != 4 or labels.dtype != torch.long or labels.shape[-2:] != logits.shape[1:3]:
        raise ValueError(
            f"expected logits (M, B, n, n_classes) and int64 labels (B, n) or (M, B, n), "
            f"got logits {tuple(logits.shape)}, labels {labels.dtype} {tuple(labels.shape)}"
        )
    n_models, n_classes = logits.shape[0], logits.shape[-1]
    labels = labels.expand(n_models, *logits.shape[1:3])
    losses = F.cross_entropy(logits.reshape(-1, n_classes), labels.reshape(-1), reduction="none")
    return losses.view(n_models, -1).mean(dim=1)


def warmup_lrs(step, base_lrs, warmup_steps):
    """The learning rate of each model at `step` (0-based): base · min(1, (step + 1) / warmup), or base if warmup is 0.

    base_lrs: (M,) float tensor   warmup_steps: (M,) int tensor (0 = no warm-up). Returns (M,).
    """
    step = require_int("step", step, minimum=0)
    require_float_tensor("base_lrs", base_lrs)
    require_tensor("warmup_steps", warmup_steps)
    if base_lrs.ndim != 1 or warmup_steps.shape != base_lrs.shape:
        raise ValueError(
            f"base_lrs and warmup_steps must both be (M,), got {tuple(base_lrs.shape)} and {tuple(warmup_steps.shape)}"
        )
    fraction = torch.where(warmup_steps > 0, (step + 1) / warmup_steps.clamp(min=1).to(base_lrs.dtype), 1.0)
    return base_lrs * fraction.clamp(max=1.0)
