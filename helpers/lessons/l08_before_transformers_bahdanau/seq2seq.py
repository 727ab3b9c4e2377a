"""Lesson 08's RNN encoder–decoder, with Bahdanau's attention, dot-product scoring, or no attention at all.

The model reads a source sequence with a bidirectional GRU, then writes the target one token at a time with a
GRU decoder. With attention the decoder reads a context vector weighted anew at every step (see
alignment_model); without it (Cho et al., 2014) the decoder gets one fixed summary of the source at every step.

    SCORINGS                        the kinds of model: ("additive", "dot", "none")
    Encoder                         embedding + bidirectional nn.GRU: tokens (B, n) -> annotations h (B, n, d_enc)
    Seq2Seq                         encoder, attention (one of SCORINGS) and GRU decoder:
                                    forward(source (B, n), target (B, m)) -> (logits (B, m, 26), weights (B, m, n))
                                    greedy_decode(source (B, n), m) -> (tokens (B, m), weights (B, m, n))
    count_parameters(module, prefix=None)   number of trainable parameters (those whose name starts with prefix)

Names: B sequences in a batch, n source positions, m target steps, d_hidden the GRUs' size,
d_enc = 2·d_hidden the annotations' size, d_a the alignment model's size.
"""

import torch
from torch import nn

from helpers.lessons.l08_before_transformers_bahdanau.alignment_model import BahdanauAttention
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import BOS, SYMBOLS
from helpers.library.checks import require_int, require_tensor
from helpers.machinery.threads import one_thread

__all__ = [
    "SCORINGS",
    "Encoder",
    "Seq2Seq",
    "count_parameters",
]

SCORINGS = ("additive", "dot", "none")


class Encoder(nn.Module):
    """Embedding and a bidirectional GRU: tokens (B, n) -> annotations h (B, n, 2·d_hidden).

    h_j = [→h_j; ←h_j]: the forward GRU has read x_0..x_j, the backward one x_j..x_{n-1}, so each
    annotation summarises the whole sentence with a focus around position j.
    """

    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_embed)
        self.gru = nn.GRU(d_embed, d_hidden, batch_first=True, bidirectional=True)

    def forward(self, tokens):
        annotations, _ = self.gru(self.embedding(tokens))
        return annotations


class Seq2Seq(nn.Module):
    """An RNN encoder–decoder, with Bahdanau's attention ("additive"), dot-product scoring ("dot"), or none.

    Encoder: bidirectional GRU, annotations h (B, n, d_enc = 2·d_hidden).
    Decoder state: s_0 = tanh(W_s ←h_0), then s_i = GRU([E y_{i-1}; c_i], s_{i-1}),
    output logits_i = Linear([s_i; c_i; E y_{i-1}]) over the SYMBOLS.
    Context c_i: with attention, Σ_j weights_ij h_j where the weights score s_{i-1} against every h_j;
    with "none", the fixed summary [→h_{n-1}; ←h_0] at every step (Cho et al., 2014).
    """

    def __init__(self, attention="additive", d_embed=16, d_hidden=32, d_a=128):
        super().__init__()
        if attention not in SCORINGS:
            raise ValueError(f"attention must be one of {SCORINGS}, got {attention!r}")
        self.attention_kind = attention
        self.d_embed = d_embed = require_int("d_embed", d_embed, minimum=1)
        self.d_hidden = require_int("d_hidden", d_hidden, minimum=1)
        self.d_a = require_int("d_a", d_a, minimum=1)
        d_enc = 2 * d_hidden
        self.encoder = Encoder(len(SYMBOLS), d_embed, d_hidden)
        self.init = nn.Linear(d_hidden, d_hidden)  # W_s: s_0 = tanh(W_s ←h_0)
        self.attention = None if attention == "none" else BahdanauAttention(d_hidden, d_enc, d_a, attention)
        self.target_embedding = nn.Embedding(len(SYMBOLS) + 1, d_embed)  # + BOS
        self.cell = nn.GRUCell(d_embed + d_enc, d_hidden)
        self.readout = nn.Linear(d_hidden + d_enc + d_embed, len(SYMBOLS))

    def _check_source(self, source):
        require_tensor("source", source)
        if source.dtype != torch.long or source.ndim != 2 or 0 in source.shape:
            raise ValueError(f"source must be a non-empty (B, n) long tensor, got {source.dtype} {tuple(source.shape)}")
        if source.min() < 0 or source.max() >= len(SYMBOLS):
            raise ValueError(f"source ids must be between 0 and {len(SYMBOLS) - 1}")

    def start(self, source):
        """Encode source (B, n). Returns annotations h (B, n, d_enc), keys U h (B, n, d_a) or None,
        the fixed summary (B, d_enc) and the first decoder state s_0 (B, d_hidden)."""
        self._check_source(source)
        h = self.encoder(source)
        forward_last, backward_first = h[:, -1, : self.d_hidden], h[:, 0, self.d_hidden :]
        summary = torch.cat([forward_last, backward_first], dim=-1)
        keys = None if self.attention is None else self.attention.keys(h)
        return h, keys, summary, torch.tanh(self.init(backward_first))

    def step(self, previous, state, h, keys, summary):
        """One decoder step. previous: (B,) ids of y_{i-1}   state: s_{i-1} (B, d_hidden).

        Returns (logits (B, len(SYMBOLS)), s_i (B, d_hidden), weights (B, n) or None).
        """
        embedded = self.target_embedding(previous)
        if self.attention is None:
            context, weights = summary, None
        else:
            context, weights = self.attention(state, h, keys)
        state = self.cell(torch.cat([embedded, context], dim=-1), state)
        return self.readout(torch.cat([state, context, embedded], dim=-1)), state, weights

    def forward(self, source, target):
        """Teacher forcing: the decoder reads the true previous token at every step.

        source: (B, n) long   target: (B, m) long. Returns (logits (B, m, len(SYMBOLS)), weights (B, m, n) or None).
        """
        h, keys, summary, state = self.start(source)
        require_tensor("target", target)
        if target.dtype != torch.long or target.ndim != 2 or target.shape[0] != source.shape[0]:
            raise ValueError(f"target must be (B, m) long with B = {source.shape[0]}, got {tuple(target.shape)}")
        previous = torch.cat([torch.full_like(target[:, :1], BOS), target[:, :-1]], dim=1)  # (B, m)
        embedded = self.target_embedding(previous)  # (B, m, d_embed), all steps at once
        states, contexts, weights = [], [], []
        for i in range(target.shape[1]):  # the sequential loop: s_i needs s_{i-1}
            if self.attention is None:
                context = summary
            else:
                context, step_weights = self.attention(state, h, keys)
                weights.append(step_weights)
            state = self.cell(torch.cat([embedded[:, i], context], dim=-1), state)
            states.append(state)
            contexts.append(context)
        features = torch.cat([torch.stack(states, 1), torch.stack(contexts, 1), embedded], dim=-1)
        return self.readout(features), (torch.stack(weights, 1) if weights else None)

    @torch.no_grad()
    def greedy_decode(self, source, m=None):
        """Write m tokens (default n), each step feeding back the most likely token.

        source: (B, n) long. Returns (tokens (B, m) long, weights (B, m, n); zeros for attention "none").
        """
        m = source.shape[-1] if m is None else require_int("m", m, minimum=1)
        with one_thread():  # many tiny steps: a second thread only adds waiting
            return self._greedy_decode(source, m)

    def _greedy_decode(self, source, m):
        h, keys, summary, state = self.start(source)
        previous = torch.full((source.shape[0],), BOS, dtype=torch.long)
        tokens, weights = [], []
        for _ in range(m):
            logits, state, step_weights = self.step(previous, state, h, keys, summary)
            previous = logits.argmax(dim=-1)
            tokens.append(previous)
            weights.append(torch.zeros(source.shape) if step_weights is None else step_weights)
        return torch.stack(tokens, 1), torch.stack(weights, 1)


def count_parameters(module, prefix=None):
    """Number of trainable parameters of `module` (only those whose name starts with `prefix`, if given)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    return sum(p.numel() for name, p in module.named_parameters() if prefix is None or name.startswith(prefix))
