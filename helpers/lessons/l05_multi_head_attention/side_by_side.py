"""M letter-task models computed side by side, so that the lesson trains its 25 models in seconds.

StackedLetterTaskModels stacks M models along a first axis, so that one batched product (torch.bmm) does the
work of M small ones (two to three times as fast as one model after another, measured here for the lesson's
25). No operation mixes two models.

    StackedLetterTaskModels(models)         letters (M, B, n) -> logits (M, B, n, V²), weights per group of heads
    .copy_into(models)                    write each stacked model's weights back into its LetterTaskModel
"""

import math

import torch
from torch import nn

from helpers.lessons.l05_multi_head_attention.letter_task import V
from helpers.lessons.l05_multi_head_attention.letter_task_model import LetterTaskModel
from helpers.library.checks import require_tensor

__all__ = [
    "StackedLetterTaskModels",
]


class StackedLetterTaskModels(nn.Module):
    """M LetterTaskModels computed side by side along a first "model" axis, in as few operations as possible.

    models: a list of LetterTaskModel with the same d_model and n, and any numbers of heads; their weights are
    copied in, so model m starts where models[m] is. The embeddings, projections and readout of all M models
    run as one batched product each; attention runs once per group of consecutive models with the same
    number of heads (`groups`: a list of (start, stop, n_heads)). Weights keep nn.Linear's (out, in) layout,
    stacked: w_q (M, d_model, d_model), b_q (M, 1, d_model), and so on.
    forward: letters (M, B, n) int64, one batch per model -> logits (M, B, n, V²), and the weights of each
    group, a list of (stop − start, B, n_heads, n, n) tensors.
    copy_into(models) writes the weights back into the M models.
    """

    def __init__(self, models):
        super().__init__()
        models = list(models)
        if not models or not all(isinstance(model, LetterTaskModel) for model in models):
            raise TypeError("models must be a non-empty list of LetterTaskModel")
        shapes = {(model.d_model, model.n) for model in models}
        if len(shapes) != 1:
            raise ValueError(f"the models must agree on (d_model, n), got {sorted(shapes)}")
        (self.d_model, self.n), self.n_models = shapes.pop(), len(models)
        self.groups = []
        for m, model in enumerate(models):
            if self.groups and self.groups[-1][2] == model.n_heads:
                self.groups[-1] = (self.groups[-1][0], m + 1, model.n_heads)
            else:
                self.groups.append((m, m + 1, model.n_heads))

        def stacked(tensors):
            return nn.Parameter(torch.stack([t.detach() for t in tensors]).clone())

        attentions = [model.attention for model in models]
        self.embed = stacked(model.embed.weight for model in models)  # (M, V, d_model)
        self.position = stacked(model.position for model in models)  # (M, n, d_model)
        for name in ("q", "k", "v", "o"):
            setattr(self, f"w_{name}", stacked(getattr(a, f"w_{name}").weight for a in attentions))  # (M, d, d)
            setattr(self, f"b_{name}", stacked(getattr(a, f"w_{name}").bias[None] for a in attentions))  # (M, 1, d)
        self.w_readout = stacked(model.readout.weight for model in models)  # (M, V², d_model)
        self.b_readout = stacked(model.readout.bias[None] for model in models)  # (M, 1, V²)

    def forward(self, letters):
        require_tensor("letters", letters)
        if letters.dtype != torch.int64 or letters.ndim != 3 or letters.shape[0] != self.n_models:
            raise ValueError(
                f"letters must be int64 (M={self.n_models}, B, n), got {letters.dtype} {tuple(letters.shape)}"
            )
        if not 1 <= letters.shape[2] <= self.n or not ((letters >= 0) & (letters < V)).all():
            raise ValueError(f"letters must have 1 <= n <= {self.n} and lie in [0, {V})")
        models, batch, n = letters.shape
        d = self.d_model
        one_hot = nn.functional.one_hot(letters.reshape(models, batch * n), V).to(self.embed.dtype)  # (M, B·n, V)
        x = (one_hot @ self.embed).view(models, batch, n, d) + self.position[:, None, :n]  # (M, B, n, d)
        x = x.view(models, batch * n, d)
        q, k, v = (torch.baddbmm(getattr(self, f"b_{c}"), x, getattr(self, f"w_{c}").transpose(1, 2)) for c in "qkv")
        heads, weights = [], []
        for start, stop, h in self.groups:  # (M, B·n, d) -> (models of the group, B, h, n, d_k)
            d_k = d // h
            q_g, k_g, v_g = (t[start:stop].view(stop - start, batch, n, h, d_k).transpose(2, 3) for t in (q, k, v))
            # The scores as (..., key, query), normalised over the keys: the same softmax, and a faster one than
            # along a last axis of only n = 10 numbers.
            w = torch.softmax(k_g @ q_g.transpose(-2, -1) / math.sqrt(d_k), dim=-2).transpose(-2, -1)
            heads.append((w @ v_g).transpose(2, 3).reshape(stop - start, batch * n, d))  # heads side by side
            weights.append(w)
        heads = heads[0] if len(heads) == 1 else torch.cat(heads)  # (M, B·n, d)
        attended = torch.baddbmm(self.b_o, heads, self.w_o.transpose(1, 2))
        logits = torch.baddbmm(self.b_readout, x + attended, self.w_readout.transpose(1, 2))
        return logits.view(models, batch, n, V * V), weights

    @torch.no_grad()
    def copy_into(self, models):
        """Write model m's weights into models[m], a LetterTaskModel of the same shape."""
        models = list(models)
        if len(models) != self.n_models:
            raise ValueError(f"expected {self.n_models} models, got {len(models)}")
        for m, model in enumerate(models):
            model.embed.weight.copy_(self.embed[m])
            model.position.copy_(self.position[m])
            for name in ("q", "k", "v", "o"):
                linear = getattr(model.attention, f"w_{name}")
                linear.weight.copy_(getattr(self, f"w_{name}")[m])
                linear.bias.copy_(getattr(self, f"b_{name}")[m, 0])
            model.readout.weight.copy_(self.w_readout[m])
            model.readout.bias.copy_(self.b_readout[m, 0])
