"""M cross-attention transformers computed side by side, so that lesson 08 trains its five seeds at once.

A model this small (d_model 32, sequences of 3 to 10 letters) spends its time on the cost of launching each
operation, not on arithmetic: five models one after another cost five times the launches. The stack holds
every parameter of M CrossAttentionSeq2Seq models on a leading model axis and runs each operation once for
all of them (a batched matrix product, torch.bmm, for each linear layer). No operation mixes two models, so
model m computes what its CrossAttentionSeq2Seq computes, up to rounding.

    StackedCrossAttention(models)   forward(source (M, B, n), target (M, B, m)) -> logits (M, B, m, 26)
                                    (teacher forcing); copy_into(models) writes the weights back

Names: M models, B sequences, n source positions, m target steps, d model width, h heads.
"""

import math

import torch
from torch import nn

from helpers.lessons.l08_before_transformers_bahdanau.cross_attention import CrossAttentionSeq2Seq
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import BOS, SYMBOLS
from helpers.library.attention import causal_mask
from helpers.library.checks import require_tensor

__all__ = ["StackedCrossAttention"]


def _linear(x, weight, bias):
    """x (M, ..., in) times weight (M, out, in) transposed, plus bias (M, out): (M, ..., out), one baddbmm."""
    M, shape = x.shape[0], x.shape[1:-1]
    flat = x.reshape(M, math.prod(shape), x.shape[-1])
    return torch.baddbmm(bias[:, None, :], flat, weight.transpose(-1, -2)).view(M, *shape, weight.shape[-2])


class StackedCrossAttention(nn.Module):
    """M CrossAttentionSeq2Seq models of the same sizes, every parameter stacked on a leading model axis.

    models: a non-empty list of CrossAttentionSeq2Seq with the same sizes and source_positions; their weights
    are copied, so model m starts where models[m] is. Parameters keep the models' names with "." written "__"
    (e.g. decoder_blocks__0__cross_attn__w_q__weight, (M, d, d)).
    forward(source, target): teacher forcing, as CrossAttentionSeq2Seq.forward for each model; source and
    target are (M, B, n) and (M, B, m) long, one batch per model. Returns logits (M, B, m, len(SYMBOLS)).
    copy_into(models) writes model m's weights into models[m].
    """

    def __init__(self, models):
        super().__init__()
        models = list(models) if isinstance(models, (list, tuple)) else None
        if not models or not all(isinstance(model, CrossAttentionSeq2Seq) for model in models):
            raise TypeError("models must be a non-empty list of CrossAttentionSeq2Seq")
        first = models[0]
        layouts = {
            (tuple((name, tuple(p.shape)) for name, p in model.named_parameters()), model.source_positions)
            for model in models
        }
        if len(layouts) != 1:
            raise ValueError("the models must have the same sizes and source_positions")
        self.n_models, self.source_positions = len(models), first.source_positions
        self.n_heads = first.decoder_blocks[0].self_attn.n_heads  # every block of a CrossAttentionSeq2Seq has as many
        self.n_encoder_blocks, self.n_decoder_blocks = len(first.encoder_blocks), len(first.decoder_blocks)
        self.eps = first.encoder_norm.eps
        self.names = [name for name, _ in first.named_parameters()]
        stacked = {name: torch.stack([model.get_parameter(name).detach() for model in models]) for name in self.names}
        self.stacked = nn.ParameterDict({name.replace(".", "__"): nn.Parameter(p) for name, p in stacked.items()})
        self.register_buffer("positions", first.positions.clone())

    def _p(self, name):
        return self.stacked[name.replace(".", "__")]

    def _lookup(self, table, ids):
        """Each model's own embedding of its ids: table (M, vocab, d), ids (M, B, n) -> (M, B, n, d)."""
        return table[torch.arange(table.shape[0]).view(-1, 1, 1), ids]

    def _norm(self, prefix, x):
        """The library's LayerNorm over the last axis, with each model's own weight and bias (M, d)."""
        mean = x.mean(dim=-1, keepdim=True)
        variance = x.var(dim=-1, keepdim=True, unbiased=False)
        weight, bias = self._p(f"{prefix}.weight"), self._p(f"{prefix}.bias")
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],)
        return (x - mean) * torch.rsqrt(variance + self.eps) * weight.view(shape) + bias.view(shape)

    def _dense(self, prefix, x):
        return _linear(x, self._p(f"{prefix}.weight"), self._p(f"{prefix}.bias"))

    def _attention(self, prefix, query, memory, allowed=None):
        """helpers.library.layers.MultiHeadAttention for every model: query (M, B, n_q, d), memory (M, B, n_k, d),
        allowed: bool (n_q, n_k), True = may attend, or None. Returns (M, B, n_q, d)."""
        M, B, n_q, d = query.shape
        n_k, h = memory.shape[2], self.n_heads
        d_k = d // h

        def heads(x, n):  # (M, B, n, d) -> (M·B·h, n, d_k)
            return x.view(M, B, n, h, d_k).transpose(2, 3).reshape(M * B * h, n, d_k)

        q = heads(self._dense(f"{prefix}.w_q", query), n_q)
        k = heads(self._dense(f"{prefix}.w_k", memory), n_k)
        v = heads(self._dense(f"{prefix}.w_v", memory), n_k)
        scores = torch.bmm(q * (1 / math.sqrt(d_k)), k.transpose(1, 2))  # (M·B·h, n_q, n_k)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        out = torch.bmm(torch.softmax(scores, dim=-1), v)  # (M·B·h, n_q, d_k)
        out = out.view(M, B, h, n_q, d_k).transpose(2, 3).reshape(M, B, n_q, d)
        return self._dense(f"{prefix}.w_o", out)

    def _feed_forward(self, prefix, x):
        return self._dense(f"{prefix}.ff.2", torch.relu(self._dense(f"{prefix}.ff.0", x)))

    def _check(self, name, ids, vocabulary):
        require_tensor(name, ids)
        if ids.dtype != torch.long or ids.ndim != 3 or ids.shape[0] != self.n_models or 0 in ids.shape:
            raise ValueError(
                f"{name} must be a non-empty (M={self.n_models}, B, n) long tensor, got {ids.dtype} {tuple(ids.shape)}"
            )
        if ids.shape[2] > self.positions.shape[0] or ids.min() < 0 or ids.max() >= vocabulary:
            raise ValueError(
                f"{name} must hold at most {self.positions.shape[0]} ids per sequence, each in [0, {vocabulary})"
            )

    def forward(self, source, target):
        """Teacher forcing for every model: source (M, B, n), target (M, B, m) long -> logits (M, B, m, 26)."""
        self._check("source", source, len(SYMBOLS))
        self._check("target", target, len(SYMBOLS))
        if target.shape[:2] != source.shape[:2]:
            raise ValueError(f"source {tuple(source.shape)} and target {tuple(target.shape)} must agree on (M, B)")
        n, m = source.shape[2], target.shape[2]
        positions = self.positions[:n]
        x = self._lookup(self._p("source_embedding.weight"), source)
        x = x + (positions.flip(0) if self.source_positions == "from_end" else positions)
        for i in range(self.n_encoder_blocks):  # Post-LN TransformerBlocks
            block = f"encoder_blocks.{i}"
            x = self._norm(f"{block}.norm1", x + self._attention(f"{block}.attn", x, x))
            x = self._norm(f"{block}.norm2", x + self._feed_forward(block, x))
        memory = self._norm("encoder_norm", x)
        previous = torch.cat([torch.full_like(target[..., :1], BOS), target[..., :-1]], dim=-1)  # (M, B, m)
        y = self._lookup(self._p("target_embedding.weight"), previous) + self.positions[:m]
        allowed = causal_mask(m)
        for i in range(self.n_decoder_blocks):  # DecoderBlocks
            block = f"decoder_blocks.{i}"
            y = self._norm(f"{block}.norm1", y + self._attention(f"{block}.self_attn", y, y, allowed))
            y = self._norm(f"{block}.norm2", y + self._attention(f"{block}.cross_attn", y, memory))
            y = self._norm(f"{block}.norm3", y + self._feed_forward(block, y))
        return self._dense("output", self._norm("decoder_norm", y))

    @torch.no_grad()
    def copy_into(self, models):
        """Write model m's weights into models[m], a CrossAttentionSeq2Seq of the stack's sizes."""
        models = list(models)
        if len(models) != self.n_models:
            raise ValueError(f"expected {self.n_models} models, got {len(models)}")
        for m, model in enumerate(models):
            for name in self.names:
                model.get_parameter(name).copy_(self._p(name)[m])
