"""M Seq2Seq models computed side by side, so that lesson 08 trains 15 of them in the time of a few.

Every parameter is stacked on a leading model axis and one batched matrix product (torch.bmm) does the work of
M; no operation mixes two models, so model m computes what its Seq2Seq computes, up to rounding.

    fast_tanh(x)         tanh(x) as 2·sigmoid(2x) − 1, with its gradient (ATen's float32 tanh is slower here)
    gru_update(gi, gh, h)   a GRU cell's new state (..., d) from gi, gh (..., 3·d), as nn.GRUCell computes it
    StackedSeq2Seq       the stack: forward(source (M, B, n), target (M, B, m)) -> (logits (M, B, m, 26),
                         weights (A, B, m, n)); greedy_decode, unstack() -> the M Seq2Seq models

Names: M models in the stack, A of them attending (additive, then dot), B sequences, n source positions,
m target steps.
"""

import math

import torch
from torch import nn

from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import BOS, SYMBOLS
from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import SCORINGS, Seq2Seq
from helpers.library.checks import require_float_tensor, require_int, require_tensor
from helpers.machinery.threads import one_thread

__all__ = [
    "fast_tanh",
    "gru_update",
    "StackedSeq2Seq",
]


class _Tanh(torch.autograd.Function):
    """tanh(x) computed as 2·sigmoid(2x) − 1: the same function, within 2e-7 of torch.tanh in float32.

    Why: ATen's float32 tanh is 3 to 6 times slower than its sigmoid here (measured on (5, 24, 10, 128)
    tensors), and the stacked models take a tanh at every step. Backward: 1 − tanh², from the saved output.
    """

    @staticmethod
    def forward(ctx, x):
        y = torch.sigmoid(x * 2).mul_(2).sub_(1)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


def fast_tanh(x):
    """tanh(x) as 2·sigmoid(2x) − 1, with its gradient (see _Tanh). x: a float tensor of any shape."""
    require_float_tensor("x", x)
    return _Tanh.apply(x)


def gru_update(gi, gh, h):
    """A GRU cell's new state, from gi = W_ih x + b_ih and gh = W_hh h + b_hh, as nn.GRUCell computes it.

    gi, gh: (..., 3·d) in PyTorch's order: reset r, update z, new n.   h: the state (..., d).
    r, z = σ(gi_r + gh_r), σ(gi_z + gh_z);  n = tanh(gi_n + r·gh_n);  h' = (1 − z)·n + z·h.
    """
    d = h.shape[-1]
    gi_rz, gi_n = gi.split([2 * d, d], dim=-1)  # split, not slices: one backward node each, not two
    gh_rz, gh_n = gh.split([2 * d, d], dim=-1)
    r, z = torch.sigmoid(gi_rz + gh_rz).chunk(2, dim=-1)
    n = _Tanh.apply(gi_n + r * gh_n)
    return n + z * (h - n)


# stacked name: (Seq2Seq parameter names, the models that have it). Two names are stacked on a second axis
# (the encoder's forward and backward GRU); "attending" means the additive and the dot-product models.
_STACKED = {
    "embedding": (("encoder.embedding.weight",), "all"),
    "encoder_w_ih": (("encoder.gru.weight_ih_l0", "encoder.gru.weight_ih_l0_reverse"), "all"),
    "encoder_w_hh": (("encoder.gru.weight_hh_l0", "encoder.gru.weight_hh_l0_reverse"), "all"),
    "encoder_b_ih": (("encoder.gru.bias_ih_l0", "encoder.gru.bias_ih_l0_reverse"), "all"),
    "encoder_b_hh": (("encoder.gru.bias_hh_l0", "encoder.gru.bias_hh_l0_reverse"), "all"),
    "init_w": (("init.weight",), "all"),
    "init_b": (("init.bias",), "all"),
    "attention_W": (("attention.W.weight",), "attending"),
    "attention_U": (("attention.U.weight",), "attending"),
    "attention_U_b": (("attention.U.bias",), "attending"),
    "attention_v": (("attention.v.weight",), "additive"),
    "target_embedding": (("target_embedding.weight",), "all"),
    "cell_w_ih": (("cell.weight_ih",), "all"),
    "cell_w_hh": (("cell.weight_hh",), "all"),
    "cell_b_ih": (("cell.bias_ih",), "all"),
    "cell_b_hh": (("cell.bias_hh",), "all"),
    "readout_w": (("readout.weight",), "all"),
    "readout_b": (("readout.bias",), "all"),
}


def _bmm_linear(x, weight, bias=None):
    """x (M, ..., in) times weight (M, out, in) transposed, plus bias (M, out): (M, ..., out), one bmm."""
    M, shape = x.shape[0], x.shape[1:-1]
    flat = x.reshape(M, math.prod(shape), x.shape[-1])  # not -1: M may be 0 (no model of a kind)
    if bias is None:
        out = torch.bmm(flat, weight.transpose(-1, -2))
    else:
        out = torch.baddbmm(bias[:, None, :], flat, weight.transpose(-1, -2))
    return out.view(M, *shape, weight.shape[-2])


class StackedSeq2Seq(nn.Module):
    """M Seq2Seq models computed side by side, so that the lesson trains 15 of them in the time of a few.

    models: a list of Seq2Seq of the same sizes, grouped by attention kind in the order of SCORINGS (the
    additive ones first, then dot, then none). Their weights are copied, each parameter stacked on a leading
    model axis; unstack() gives Seq2Seq models back. One batched matrix product (torch.bmm) does the work of
    M, and no operation mixes two models: model m computes what models[m] computes, up to rounding
    (tests/test_l08_before_transformers_bahdanau.py checks logits, gradients and greedy decoding against each
    model). The attention parameters have only the A attending models on their model axis (the v of the
    additive ones).
    Shapes carry the model axis first: source (M, B, n) (or (B, n), the same for every model), target (M, B, m).
    """

    def __init__(self, models):
        super().__init__()
        if not isinstance(models, (list, tuple)) or not models or not all(isinstance(m, Seq2Seq) for m in models):
            raise TypeError("models must be a non-empty list of Seq2Seq")
        kinds = [model.attention_kind for model in models]
        if kinds != sorted(kinds, key=SCORINGS.index):
            raise ValueError(f"models must be grouped by attention kind in the order {SCORINGS}, got {kinds}")
        sizes = {(model.d_embed, model.d_hidden, model.d_a) for model in models}
        if len(sizes) > 1:
            raise ValueError(f"models must share d_embed, d_hidden and d_a, got {sorted(sizes)}")
        (self.d_embed, self.d_hidden, self.d_a), self.kinds = sizes.pop(), tuple(kinds)
        self.n_models, self.n_additive = len(kinds), kinds.count("additive")
        self.n_attending = self.n_additive + kinds.count("dot")
        owners = {"all": models, "attending": models[: self.n_attending], "additive": models[: self.n_additive]}
        for name, (sources, owner) in _STACKED.items():
            if owners[owner]:
                stacked = [self._gather(model, sources) for model in owners[owner]]
                setattr(self, name, nn.Parameter(torch.stack(stacked)))
            else:
                setattr(self, name, None)

    @staticmethod
    def _gather(model, sources):
        tensors = [model.get_parameter(source).detach().clone() for source in sources]
        return tensors[0] if len(tensors) == 1 else torch.stack(tensors)

    def unstack(self):
        """The M models as Seq2Seq modules (eval mode) with the stack's current weights, in the stack's order."""
        models = []
        for m, kind in enumerate(self.kinds):
            model = Seq2Seq(kind, d_embed=self.d_embed, d_hidden=self.d_hidden, d_a=self.d_a)
            with torch.no_grad():
                for name, (sources, _) in _STACKED.items():
                    stacked = getattr(self, name)
                    if stacked is None or m >= stacked.shape[0]:
                        continue
                    for k, source in enumerate(sources):
                        value = stacked[m] if len(sources) == 1 else stacked[m, k]
                        model.get_parameter(source).copy_(value)
            models.append(model.eval())
        return models

    def _check_source(self, source):
        require_tensor("source", source)
        if source.ndim == 2:
            source = source.expand(self.n_models, *source.shape)
        if source.dtype != torch.long or source.ndim != 3 or source.shape[0] != self.n_models or 0 in source.shape:
            raise ValueError(
                f"source must be a non-empty (M={self.n_models}, B, n) or (B, n) long tensor, "
                f"got {source.dtype} {tuple(source.shape)}"
            )
        if source.min() < 0 or source.max() >= len(SYMBOLS):
            raise ValueError(f"source ids must be between 0 and {len(SYMBOLS) - 1}")
        return source

    def _lookup(self, table, ids):
        """Each model's own embedding of its ids: table (M, vocab, d), ids (M, ...) -> (M, ..., d)."""
        index = torch.arange(table.shape[0]).view(-1, *[1] * (ids.ndim - 1))
        return table[index, ids]

    def encode(self, source):
        """Annotations h (M, B, n, 2·d_hidden): both directions of every model's GRU in one loop of n steps."""
        M, B, n = source.shape
        d = self.d_hidden
        x = self._lookup(self.embedding, source)  # (M, B, n, d_embed)
        both = torch.stack([x, x.flip(2)], dim=1).view(2 * M, B, n, -1)  # the backward GRU reads it reversed
        w_ih, w_hh = self.encoder_w_ih.flatten(0, 1), self.encoder_w_hh.flatten(0, 1)  # (2M, 3d, ...)
        b_ih, b_hh = self.encoder_b_ih.flatten(0, 1), self.encoder_b_hh.flatten(0, 1)
        gi = _bmm_linear(both, w_ih, b_ih)  # (2M, B, n, 3d): the input part of every step at once
        state, states = torch.zeros(2 * M, B, d), []
        for gi_step in gi.unbind(2):
            state = gru_update(gi_step, _bmm_linear(state, w_hh, b_hh), state)
            states.append(state)
        out = torch.stack(states, 2).view(M, 2, B, n, d)
        return torch.cat([out[:, 0], out[:, 1].flip(2)], dim=-1)

    def start(self, source):
        """As Seq2Seq.start, for every model: h (M, B, n, d_enc), keys U h (A, B, n, d_a) or None,
        summary (M, B, d_enc), s_0 (M, B, d_hidden)."""
        source = self._check_source(source)
        h = self.encode(source)
        d, A = self.d_hidden, self.n_attending
        backward_first = h[:, :, 0, d:]
        summary = torch.cat([h[:, :, -1, :d], backward_first], dim=-1)
        keys = _bmm_linear(h[:A], self.attention_U, self.attention_U_b) if A else None
        return h, keys, summary, _Tanh.apply(_bmm_linear(backward_first, self.init_w, self.init_b))

    def attend(self, state, h, keys):
        """The attending models' context vectors (A, B, d_enc) and weights (A, B, n).

        state: their s_{i-1} (A, B, d_hidden)   h: their annotations (A, B, n, d_enc)   keys: U h (A, B, n, d_a).
        The additive models score vᵀ tanh(W s + U h_j), the dot models (W s)·(U h_j)/√d_a.
        """
        n_add = self.n_additive
        query = _bmm_linear(state, self.attention_W)  # (A, B, d_a)
        query_add, query_dot = query.split([n_add, len(query) - n_add])
        keys_add, keys_dot = keys.split([n_add, len(keys) - n_add])
        scores = []
        if n_add:
            hidden = _Tanh.apply(query_add[:, :, None, :] + keys_add)  # (n_add, B, n, d_a)
            scores.append((hidden * self.attention_v[:, None, :, :]).sum(-1))
        if len(query_dot):
            scores.append((keys_dot * query_dot[:, :, None, :]).sum(-1) / math.sqrt(self.d_a))
        weights = torch.softmax(torch.cat(scores), dim=-1)  # (A, B, n)
        A, B, n, d_enc = h.shape
        context = torch.bmm(weights.reshape(A * B, 1, n), h.reshape(A * B, n, d_enc)).view(A, B, d_enc)
        return context, weights

    def _decoder(self, h, keys, summary):
        """What every decoder step needs, computed once per pass: the split weights (a slice in every step
        would cost a full-size gradient per step), the attending models' annotations, and the GRU input of
        the models without attention, whose context is the same summary at every step."""
        A, M = self.n_attending, self.n_models
        w_embedded, w_context = self.cell_w_ih.split([self.d_embed, 2 * self.d_hidden], dim=-1)
        w_attending, w_fixed = w_context.split([A, M - A])
        fixed = summary[A:]
        return {
            "w_embedded": w_embedded,
            "w_attending": w_attending,
            "h": h[:A],
            "keys": keys,
            "fixed": fixed,
            "fixed_input": _bmm_linear(fixed, w_fixed),
        }

    def _step(self, gi_embedded, state, decoder):
        """One decoder step of every model: (s_i (M, B, d_hidden), c_i (M, B, d_enc), weights (A, B, n) or None)."""
        A = self.n_attending
        inputs, contexts, weights = [], [], None
        if A:
            attended, weights = self.attend(state[:A], decoder["h"], decoder["keys"])
            inputs.append(_bmm_linear(attended, decoder["w_attending"]))
            contexts.append(attended)
        gi = gi_embedded + torch.cat(inputs + [decoder["fixed_input"]])
        state = gru_update(gi, _bmm_linear(state, self.cell_w_hh, self.cell_b_hh), state)
        return state, torch.cat(contexts + [decoder["fixed"]]), weights

    def forward(self, source, target):
        """Teacher forcing, as Seq2Seq.forward. target: (M, B, m) long.

        Returns (logits (M, B, m, len(SYMBOLS)), weights (A, B, m, n) of the attending models, or None).
        """
        h, keys, summary, state = self.start(source)
        require_tensor("target", target)
        if target.dtype != torch.long or target.ndim != 3 or target.shape[:2] != h.shape[:2]:
            raise ValueError(
                f"target must be (M, B, m) long with (M, B) = {tuple(h.shape[:2])}, got {tuple(target.shape)}"
            )
        previous = torch.cat([torch.full_like(target[..., :1], BOS), target[..., :-1]], dim=-1)
        embedded = self._lookup(self.target_embedding, previous)  # (M, B, m, d_embed)
        decoder = self._decoder(h, keys, summary)
        states, contexts, weights = [], [], []
        for gi_step in _bmm_linear(embedded, decoder["w_embedded"], self.cell_b_ih).unbind(2):  # the loop
            state, context, step_weights = self._step(gi_step, state, decoder)
            states.append(state)
            contexts.append(context)
            weights.append(step_weights)
        features = torch.cat([torch.stack(states, 2), torch.stack(contexts, 2), embedded], dim=-1)
        logits = _bmm_linear(features, self.readout_w, self.readout_b)
        return logits, (torch.stack(weights, 2) if self.n_attending else None)

    @torch.no_grad()
    def greedy_decode(self, source, m=None):
        """Every model writes m tokens (default n), feeding back its most likely token, as Seq2Seq.greedy_decode.

        source: (B, n) for all models, or (M, B, n). Returns (tokens (M, B, m), weights (M, B, m, n), zeros
        for the models without attention).
        """
        source = self._check_source(source)
        m = source.shape[-1] if m is None else require_int("m", m, minimum=1)
        with one_thread():
            h, keys, summary, state = self.start(source)
            decoder = self._decoder(h, keys, summary)
            M, B, n = source.shape
            previous = torch.full((M, B), BOS, dtype=torch.long)
            tokens, weights = [], []
            for _ in range(m):
                embedded = self._lookup(self.target_embedding, previous)  # (M, B, d_embed)
                gi_embedded = _bmm_linear(embedded, decoder["w_embedded"], self.cell_b_ih)
                state, context, step_weights = self._step(gi_embedded, state, decoder)
                logits = _bmm_linear(torch.cat([state, context, embedded], dim=-1), self.readout_w, self.readout_b)
                previous = logits.argmax(dim=-1)
                tokens.append(previous)
                all_weights = torch.zeros(M, B, n)
                if step_weights is not None:
                    all_weights[: self.n_attending] = step_weights
                weights.append(all_weights)
        return torch.stack(tokens, 2), torch.stack(weights, 2)
