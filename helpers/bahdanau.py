"""Lesson 08: Bahdanau, Cho & Bengio's RNN attention (2014), on a toy task: reversing a sequence.

The model reads a source sequence with a bidirectional GRU, then writes the target one token at a time
with a GRU decoder. At each target step i it scores every source position j with the alignment model
a(s_{i-1}, h_j) = vᵀ tanh(W s_{i-1} + U h_j), turns the scores into weights with a softmax over the
source positions, and reads the context vector c_i = Σ_j weights_ij h_j. Without attention (Cho et al.,
2014) the decoder gets one fixed summary of the source at every step instead.

    additive_scores      vᵀ tanh(W s + U h_j) for every source position j (pure function)
    dot_product_scores   (W s)·(U h_j) / √d_a, the transformer's scoring with the same projections
    context_vector       Σ_j weights_j h_j
    BahdanauAttention    the alignment model as an nn.Module: scoring "additive" or "dot"
    Encoder              embedding + bidirectional nn.GRU: annotations h_j = [→h_j; ←h_j]
    Seq2Seq              encoder, attention ("additive", "dot" or "none") and GRU decoder
    reversal_batch       a batch of the toy task from a seeded generator (held_out_set: the test sequences)
    Adam                 helpers.optim's Adam (torch.optim.Adam's update, gradient clipping), re-exported
    train_model          teacher forcing, Adam, deterministic under a seed, on one thread
    evaluate             greedy decoding of held-out sequences: accuracy per length, weight on the aligned position
    count_decoder_steps  how often the decoder's GRU cell runs, counted with a hook
    time_decoder_loop, time_self_attention, time_scoring_all_pairs   the cost measurements of the lesson

Names: B sequences in a batch, n source positions, m target steps, d_hidden the GRUs' size,
d_enc = 2·d_hidden the annotations' size, d_a the alignment model's size. The decoder's state s plays
the part of the query, the annotations h the part of the keys and the values.
"""

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import require_float_tensor, require_int, require_number, require_tensor
from helpers.optim import Adam
from helpers.threads import one_thread

__all__ = [
    "SYMBOLS",
    "BOS",
    "SCORINGS",
    "to_tokens",
    "to_ids",
    "is_held_out",
    "reversal_batch",
    "held_out_set",
    "additive_scores",
    "dot_product_scores",
    "context_vector",
    "BahdanauAttention",
    "Encoder",
    "Seq2Seq",
    "count_parameters",
    "Adam",
    "TrainResult",
    "train_model",
    "evaluate",
    "aligned_weight",
    "count_decoder_steps",
    "one_thread",
    "time_decoder_loop",
    "time_self_attention",
    "time_scoring_all_pairs",
    "plot_accuracy_by_length",
    "plot_losses",
]

SYMBOLS = list("abcdefghijklmnopqrstuvwxyz")  # the source and target vocabulary: 26 letters, ids 0..25
BOS = len(SYMBOLS)  # id 26: "start of sequence", the decoder's input at step 0 (target vocabulary only)
SCORINGS = ("additive", "dot", "none")
HELD_OUT_EVERY = 5  # a sequence whose ids sum to a multiple of 5 is held out: never in a training batch


# --------------------------------------------------------------------------- the toy task


def to_tokens(ids):
    """Letters of a 1-D sequence of ids (a list or tensor); BOS shows as '<s>'."""
    ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i <= BOS:
            raise ValueError(f"ids must be ints between 0 and {BOS}, got {ids!r}")
    return [SYMBOLS[i] if i < BOS else "<s>" for i in ids]


def to_ids(text):
    """A string of letters from SYMBOLS ('cab') as a 1-D long tensor of ids (n,)."""
    if not isinstance(text, str) or not text:
        raise TypeError(f"text must be a non-empty string of the letters {''.join(SYMBOLS)}, got {text!r}")
    unknown = sorted(set(text) - set(SYMBOLS))
    if unknown:
        raise ValueError(f"text {text!r} holds letters outside {''.join(SYMBOLS)}: {unknown}")
    return torch.tensor([SYMBOLS.index(letter) for letter in text])


def is_held_out(source):
    """True for the sequences kept out of training: ids summing to a multiple of HELD_OUT_EVERY.

    source: (..., n) long. Returns a bool tensor (...,). About one sequence in five is held out.
    """
    require_tensor("source", source)
    return source.sum(dim=-1) % HELD_OUT_EVERY == 0


def _require_generator(generator):
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")


def reversal_batch(batch_size, n, generator, held_out=False):
    """A batch of the toy task: random sequences of n letters and their reversals.

    batch_size, n: ints >= 1.   generator: a torch.Generator (the batch depends only on its state).
    held_out: False draws only training sequences, True only held-out ones (see is_held_out).
    Returns (source (batch_size, n) long, target (batch_size, n) long) with target = source reversed.
    """
    batch_size = require_int("batch_size", batch_size, minimum=1)
    n = require_int("n", n, minimum=1)
    _require_generator(generator)
    if n > len(SYMBOLS):
        raise ValueError(f"n={n} is longer than the {len(SYMBOLS)} letters: a sequence never repeats a letter")
    source = _distinct_letters(batch_size, n, generator)
    wrong = is_held_out(source) != held_out
    while wrong.any():  # redraw the rows on the wrong side of the split
        source[wrong] = _distinct_letters(int(wrong.sum()), n, generator)
        wrong = is_held_out(source) != held_out
    return source, source.flip(-1)


def _distinct_letters(batch_size, n, generator):
    """(batch_size, n) ids, each row n different letters in random order."""
    return torch.rand(batch_size, len(SYMBOLS), generator=generator).argsort(dim=-1)[:, :n]


def held_out_set(lengths, per_length=200, seed=1234):
    """A fixed evaluation set of held-out sequences: {n: (source (per_length, n), target (per_length, n))}."""
    lengths = _require_lengths(lengths)
    per_length = require_int("per_length", per_length, minimum=1)
    generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
    return {n: reversal_batch(per_length, n, generator, held_out=True) for n in lengths}


def _require_lengths(lengths):
    if isinstance(lengths, (str, bytes)) or not hasattr(lengths, "__iter__"):
        raise TypeError(f"lengths must be a list of ints, got {type(lengths).__name__} {lengths!r}")
    lengths = [require_int("each length", n, minimum=1) for n in lengths]
    if not lengths:
        raise ValueError("lengths is empty: give at least one sequence length")
    return lengths


# --------------------------------------------------------------------------- the alignment model, as pure functions


def _check_alignment_inputs(s, h, W, U):
    for name, tensor in (("s", s), ("h", h), ("W", W), ("U", U)):
        require_float_tensor(name, tensor)
    shapes = f"s {tuple(s.shape)}, h {tuple(h.shape)}, W {tuple(W.shape)}, U {tuple(U.shape)}"
    if s.ndim < 1 or h.ndim < 2 or W.ndim != 2 or U.ndim != 2:
        raise ValueError(f"expected s (..., d_dec), h (..., n, d_enc), W (d_a, d_dec), U (d_a, d_enc): {shapes}")
    if W.shape[1] != s.shape[-1]:
        raise ValueError(f"W must be (d_a, d_dec) with d_dec = s.shape[-1]: {shapes}")
    if U.shape[1] != h.shape[-1]:
        raise ValueError(f"U must be (d_a, d_enc) with d_enc = h.shape[-1]: {shapes}")
    if W.shape[0] != U.shape[0]:
        raise ValueError(f"W and U must share d_a (their first dimension): {shapes}")
    if h.shape[-2] == 0:
        raise ValueError(f"h needs at least one source position: {shapes}")
    if s.shape[:-1] != h.shape[:-2]:
        raise ValueError(f"s and h must share their batch dimensions (one decoder state per source): {shapes}")


def additive_scores(s, h, W, U, v):
    """Bahdanau's alignment model: scores_j = vᵀ tanh(W s + U h_j) for every source position j.

    s: (..., d_dec) decoder state(s)   h: (..., n, d_enc) annotations   W: (d_a, d_dec)   U: (d_a, d_enc)
    v: (d_a,). Returns scores (..., n). A one-hidden-layer network (d_a tanh units) on [s; h_j].
    """
    _check_alignment_inputs(s, h, W, U)
    require_float_tensor("v", v)
    if v.shape != (W.shape[0],):
        raise ValueError(f"v must be (d_a,) = ({W.shape[0]},), got shape {tuple(v.shape)}")
    hidden = torch.tanh((s @ W.T)[..., None, :] + h @ U.T)  # (..., n, d_a)
    return hidden @ v  # (..., n)


def dot_product_scores(s, h, W, U):
    """The transformer's scoring with the same projections: scores_j = (W s)·(U h_j) / √d_a.

    s: (..., d_dec)   h: (..., n, d_enc)   W: (d_a, d_dec)   U: (d_a, d_enc). Returns scores (..., n).
    """
    _check_alignment_inputs(s, h, W, U)
    q = s @ W.T  # (..., d_a): the query
    k = h @ U.T  # (..., n, d_a): one key per source position
    return (k @ q[..., None])[..., 0] / math.sqrt(W.shape[0])


def context_vector(weights, h):
    """c = Σ_j weights_j h_j: the annotations averaged with the alignment weights.

    weights: (..., n), each row summing to 1   h: (..., n, d_enc). Returns (..., d_enc).
    """
    require_float_tensor("weights", weights)
    require_float_tensor("h", h)
    if h.ndim < 2 or weights.shape != h.shape[:-1]:
        raise ValueError(
            f"weights must be (..., n) and h (..., n, d_enc) with the same n and batch dimensions, "
            f"got weights {tuple(weights.shape)}, h {tuple(h.shape)}"
        )
    return (weights[..., None, :] @ h)[..., 0, :]


# --------------------------------------------------------------------------- the modules


class BahdanauAttention(nn.Module):
    """The alignment model and the context vector, for one decoder step of a batch.

    scoring "additive": scores_j = vᵀ tanh(W s + U h_j) (Bahdanau et al.);
    scoring "dot": scores_j = (W s)·(U h_j) / √d_a (the same W and U, no v and no tanh).
    W: nn.Linear(d_dec, d_a, bias=False)   U: nn.Linear(d_enc, d_a)   v: nn.Linear(d_a, 1, bias=False).
    """

    def __init__(self, d_dec, d_enc, d_a, scoring="additive"):
        super().__init__()
        if scoring not in ("additive", "dot"):
            raise ValueError(f"scoring must be 'additive' or 'dot', got {scoring!r}")
        self.scoring = scoring
        self.d_a = require_int("d_a", d_a, minimum=1)
        self.W = nn.Linear(require_int("d_dec", d_dec, minimum=1), d_a, bias=False)
        self.U = nn.Linear(require_int("d_enc", d_enc, minimum=1), d_a)
        self.v = nn.Linear(d_a, 1, bias=False) if scoring == "additive" else None

    def keys(self, h):
        """U h_j for every position, computed once per source sentence: (B, n, d_enc) -> (B, n, d_a)."""
        return self.U(h)

    def forward(self, s, h, keys=None):
        """s: (B, d_dec)   h: (B, n, d_enc)   keys: U h (B, n, d_a), or None to compute it.

        Returns (context (B, d_enc), weights (B, n)).
        """
        keys = self.keys(h) if keys is None else keys
        query = self.W(s)  # (B, d_a)
        if self.scoring == "additive":
            scores = torch.tanh(query[:, None, :] + keys) @ self.v.weight[0]  # (B, n)
        else:
            scores = (keys @ query[:, :, None])[:, :, 0] / math.sqrt(self.d_a)  # (B, n)
        weights = torch.softmax(scores, dim=-1)
        return (weights[:, None, :] @ h)[:, 0, :], weights


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

    def __init__(self, attention="additive", d_embed=16, d_hidden=64, d_a=64):
        super().__init__()
        if attention not in SCORINGS:
            raise ValueError(f"attention must be one of {SCORINGS}, got {attention!r}")
        self.attention_kind = attention
        d_embed = require_int("d_embed", d_embed, minimum=1)
        self.d_hidden = require_int("d_hidden", d_hidden, minimum=1)
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


# --------------------------------------------------------------------------- training and evaluation


@dataclass
class TrainResult:
    """A trained model and its record: the loss of every step, the lengths trained on, the seconds taken."""

    model: Seq2Seq
    attention: str
    losses: list = field(default_factory=list)
    lengths: tuple = (3, 10)
    seconds: float = 0.0


def train_model(
    attention="additive",
    steps=200,
    batch_size=96,
    lengths=(3, 10),
    lr=0.005,
    seed=0,
    progress=False,
    **sizes,
):
    """Train a Seq2Seq on reversal with teacher forcing, Adam and gradient clipping at norm 1.

    Each step draws one length n uniformly from lengths = (min_n, max_n) and a batch of training
    sequences of that length. The weights come from torch.manual_seed(seed), the batches from their
    own generator seeded with seed + 1; the global RNG state is restored afterwards. Training runs on one
    thread (restored afterwards), so a seed gives the same model on every run on this CPU.
    progress: True shows a tqdm progress bar. sizes: d_embed, d_hidden, d_a for Seq2Seq.
    Returns a TrainResult.
    """
    steps = require_int("steps", steps, minimum=1)
    batch_size = require_int("batch_size", batch_size, minimum=1)
    min_n, max_n = _require_length_range(lengths)
    lr = require_number("lr", lr, positive=True)
    seed = require_int("seed", seed, minimum=0)
    start = time.perf_counter()
    with one_thread():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = Seq2Seq(attention, **sizes)
        generator = torch.Generator().manual_seed(seed + 1)
        optimizer = Adam(model.parameters(), lr=lr)
        result = TrainResult(model=model, attention=attention, lengths=(min_n, max_n))
        bar = _progress_bar(steps, f"training, attention: {attention}") if progress else None
        model.train()
        for _ in range(steps):
            n = int(torch.randint(min_n, max_n + 1, (1,), generator=generator))
            source, target = reversal_batch(batch_size, n, generator)
            logits, _ = model(source, target)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.clip_grad_norm(1.0)
            optimizer.step()
            result.losses.append(loss.item())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        if bar is not None:
            bar.close()
        model.eval()
    result.seconds = time.perf_counter() - start
    return result


def _progress_bar(total, description):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description)


def _require_length_range(lengths):
    if not isinstance(lengths, (tuple, list)) or len(lengths) != 2:
        raise TypeError(f"lengths must be a pair (min_n, max_n), got {lengths!r}")
    min_n = require_int("min_n", lengths[0], minimum=1)
    max_n = require_int("max_n", lengths[1], minimum=1)
    if max_n < min_n:
        raise ValueError(f"lengths must be (min_n, max_n) with min_n <= max_n, got {lengths!r}")
    return min_n, max_n


def aligned_weight(weights, expected=None, within=0):
    """Mean weight on the aligned source position: for reversal, step i should read position n-1-i.

    weights: (..., m, n)   expected: (m,) long source positions, default n-1, n-2, ..., n-m.
    within: also count the positions at most `within` away from the expected one (0: that position only).
    Returns a float tensor (...,): 1 for a perfect alignment, about (2·within + 1)/n for uniform weights.
    """
    require_float_tensor("weights", weights)
    if weights.ndim < 2 or 0 in weights.shape[-2:]:
        raise ValueError(f"weights must be (..., m, n) with m, n >= 1, got shape {tuple(weights.shape)}")
    within = require_int("within", within, minimum=0)
    m, n = weights.shape[-2:]
    expected = torch.arange(n - 1, n - 1 - m, -1) if expected is None else expected
    require_tensor("expected", expected)
    if expected.shape != (m,) or expected.is_floating_point() or expected.min() < 0 or expected.max() >= n:
        raise ValueError(f"expected must be (m,) = ({m},) integer positions between 0 and {n - 1}")
    near = (torch.arange(n)[None, :] - expected[:, None]).abs() <= within  # (m, n)
    return (weights * near).sum(dim=-1).mean(dim=-1)


def evaluate(model, test_set):
    """Greedy-decode every held-out sequence; measure per length.

    model: a Seq2Seq   test_set: {n: (source (N, n), target (N, n))}, e.g. from held_out_set.
    Returns {n: {"token_accuracy", "sequence_accuracy", "aligned_weight", "aligned_near", "aligned_argmax"}}
    as floats: aligned_weight is the mean weight on the aligned position n-1-i (see aligned_weight),
    aligned_near the mean weight within one position of it, aligned_argmax the fraction of steps whose
    largest weight is there; all three None without attention.
    """
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"model must be a Seq2Seq, got {type(model).__name__}")
    if not isinstance(test_set, dict) or not test_set:
        raise TypeError("test_set must be a non-empty dict {n: (source, target)}, as held_out_set returns")
    results = {}
    with one_thread():
        for n, (source, target) in test_set.items():
            tokens, weights = model.greedy_decode(source, target.shape[-1])
            correct = tokens == target
            results[n] = {
                "token_accuracy": correct.float().mean().item(),
                "sequence_accuracy": correct.all(dim=-1).float().mean().item(),
                "aligned_weight": None,
                "aligned_near": None,
                "aligned_argmax": None,
            }
            if model.attention is not None:
                expected = torch.arange(n - 1, -1, -1)
                results[n]["aligned_weight"] = aligned_weight(weights).mean().item()
                results[n]["aligned_near"] = aligned_weight(weights, within=1).mean().item()
                results[n]["aligned_argmax"] = (weights.argmax(dim=-1) == expected).float().mean().item()
    return results


# --------------------------------------------------------------------------- sequential steps and timing


def count_decoder_steps(model, source, m=None, teacher_forcing=False):
    """How many times the decoder's GRU cell runs: counted with a forward hook, not computed.

    model: a Seq2Seq   source: (B, n) long   m: target length (default n).
    teacher_forcing: False counts greedy decoding (generation); True counts the training forward pass,
    which is given the whole target of m tokens in advance.
    """
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"model must be a Seq2Seq, got {type(model).__name__}")
    m = source.shape[-1] if m is None else require_int("m", m, minimum=1)
    calls = []
    handle = model.cell.register_forward_hook(lambda module, inputs, output: calls.append(1))
    try:
        if teacher_forcing:
            target = torch.zeros(source.shape[0], m, dtype=torch.long)
            with torch.no_grad(), one_thread():
                model(source, target)
        else:
            model.greedy_decode(source, m)
    finally:
        handle.remove()
    return len(calls)


def _median_seconds(fn, repeats):
    """Median wall-clock seconds of fn() over `repeats` calls, after one warm-up call, on one thread."""
    timings = []
    with one_thread():
        fn()
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            timings.append(time.perf_counter() - start)
    return sorted(timings)[len(timings) // 2]


@torch.no_grad()
def time_decoder_loop(n, d_model=64, batch_size=1, repeats=5, seed=0):
    """Median seconds of n steps of a GRU cell with additive attention over n positions (one sequence).

    Every step needs the previous step's state, so the n steps run one after another.
    """
    n = require_int("n", n, minimum=1)
    d_model = require_int("d_model", d_model, minimum=1)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        attention = BahdanauAttention(d_model, d_model, d_model)
        cell = nn.GRUCell(2 * d_model, d_model)
    h = torch.randn(batch_size, n, d_model, generator=generator)
    inputs = torch.randn(batch_size, n, d_model, generator=generator)

    def loop():
        keys, state = attention.keys(h), torch.zeros(batch_size, d_model)
        for i in range(n):
            context, _ = attention(state, h, keys)
            state = cell(torch.cat([inputs[:, i], context], dim=-1), state)

    return _median_seconds(loop, require_int("repeats", repeats, minimum=1))


@torch.no_grad()
def time_self_attention(n, d_model=64, batch_size=1, repeats=5, seed=0):
    """Median seconds of one self-attention over n positions: softmax(q·kᵀ/√d)·v for all n queries at once."""
    n = require_int("n", n, minimum=1)
    d_model = require_int("d_model", d_model, minimum=1)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, n, d_model, generator=generator)
    w_q, w_k, w_v = torch.randn(3, d_model, d_model, generator=generator) / math.sqrt(d_model)

    def attend():
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_model), dim=-1) @ v

    return _median_seconds(attend, require_int("repeats", repeats, minimum=1))


@torch.no_grad()
def time_scoring_all_pairs(n, d_a=64, scoring="additive", repeats=5, seed=0):
    """Median seconds to score all n × n query–key pairs, given projected q (n, d_a) and k (n, d_a).

    "additive": vᵀ tanh(q_i + k_j), which builds an (n, n, d_a) tensor; "dot": q·kᵀ/√d_a, one matrix product.
    Returns (seconds, bytes of the largest tensor it builds, read from that tensor).
    """
    n = require_int("n", n, minimum=1)
    d_a = require_int("d_a", d_a, minimum=1)
    if scoring not in ("additive", "dot"):
        raise ValueError(f"scoring must be 'additive' or 'dot', got {scoring!r}")
    generator = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, n, d_a, generator=generator)
    v = torch.randn(d_a, generator=generator)
    if scoring == "additive":

        def score():
            hidden = torch.tanh(q[:, None, :] + k[None, :, :])  # (n, n, d_a): every query beside every key
            return hidden @ v, hidden  # scores (n, n)

    else:

        def score():
            scores = q @ k.T / math.sqrt(d_a)  # (n, n), one matrix product
            return scores, scores

    largest = score()[1]
    return _median_seconds(score, require_int("repeats", repeats, minimum=1)), largest.numel() * largest.element_size()


# --------------------------------------------------------------------------- figures

MODEL_STYLES = {
    "additive": {"color": "#440154", "marker": "o", "linestyle": "-", "label": "additive attention (Bahdanau)"},
    "dot": {"color": "#21918c", "marker": "s", "linestyle": "--", "label": "dot-product attention"},
    "none": {"color": "#e69f00", "marker": "^", "linestyle": ":", "label": "no attention (one fixed vector)"},
}


def plot_accuracy_by_length(evaluations, ax, metric="token_accuracy", title=None, legend="lower left"):
    """Accuracy against source length, one line per model.

    evaluations: {attention kind: evaluate(...) result}. metric: "token_accuracy" or "sequence_accuracy".
    legend: where to put the legend (a matplotlib location), or None for no legend. Returns ax.
    """
    if metric not in ("token_accuracy", "sequence_accuracy"):
        raise ValueError(f"metric must be 'token_accuracy' or 'sequence_accuracy', got {metric!r}")
    for kind, results in evaluations.items():
        if kind not in MODEL_STYLES:
            raise ValueError(f"unknown model {kind!r}; expected one of {sorted(MODEL_STYLES)}")
        lengths = sorted(results)
        ax.plot(lengths, [100 * results[n][metric] for n in lengths], **MODEL_STYLES[kind])
    ax.set_ylim(0, 105)
    ax.set_xlabel("source length n")
    ax.set_ylabel("letters right (%)" if metric == "token_accuracy" else "sequences entirely right (%)")
    ax.set_title(title or "Held-out accuracy against length")
    if legend is not None:
        ax.legend(loc=legend, fontsize="small")
    return ax


def plot_losses(results, ax, window=20):
    """Training loss against step (a running mean over `window` steps), one line per TrainResult. Returns ax."""
    window = require_int("window", window, minimum=1)
    for result in results:
        losses = torch.tensor(result.losses)
        smooth = losses.unfold(0, window, 1).mean(dim=-1) if len(losses) >= window else losses
        style = {key: value for key, value in MODEL_STYLES[result.attention].items() if key != "marker"}
        ax.plot(range(len(losses) - len(smooth) + 1, len(losses) + 1), smooth.tolist(), **style)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"cross-entropy (mean of {window} steps)")
    ax.set_title("Training loss")
    ax.legend(loc="upper right", fontsize="small")
    return ax
