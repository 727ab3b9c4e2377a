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
    StackedSeq2Seq       M Seq2Seq models side by side (a leading model axis, batched matrix products)
    train_seeds          every kind of model with every seed, trained at once: a SeedRuns
    evaluate_seeds       evaluate for every model of a SeedRuns at once: a SeedEvaluation of (seeds, lengths) tensors
    loss_summary, accuracy_table, bottleneck_summary, alignment_table, scoring_comparison, example_summary
                         what the lesson prints from the seeds: medians, ranges, "k of S seeds" and verdicts
                         against the thresholds FALLS_BY, ABOVE_BY, AHEAD_BY, SHARPER_BY and MOST
    count_decoder_steps  how often the decoder's GRU cell runs, counted with a hook
    time_decoder_loop, time_self_attention, time_scoring_all_pairs   the cost measurements of the lesson

Names: B sequences in a batch, n source positions, m target steps, d_hidden the GRUs' size,
d_enc = 2·d_hidden the annotations' size, d_a the alignment model's size. The decoder's state s plays
the part of the query, the annotations h the part of the keys and the values.

One training run is one draw: its last bits differ from one CPU to another and training amplifies them, so
one seed's accuracy at 10 letters moves by several points between machines. The lesson trains each kind
with SEEDS (five) at once and states only what the seeds agree on, counted against stated thresholds.
"""

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import require_float_tensor, require_int, require_number, require_tensor
from helpers.optim import Adam, sqrt_on_any_cpu
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
    "SEEDS",
    "TRAINING",
    "fast_tanh",
    "gru_update",
    "StackedSeq2Seq",
    "clip_per_model",
    "SeedRuns",
    "train_seeds",
    "METRICS",
    "SeedEvaluation",
    "evaluate_seeds",
    "SHORT",
    "LONG",
    "FALLS_BY",
    "ABOVE_BY",
    "AHEAD_BY",
    "SHARPER_BY",
    "MOST",
    "loss_summary",
    "accuracy_table",
    "bottleneck_summary",
    "alignment_table",
    "scoring_comparison",
    "example_summary",
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


# --------------------------------------------------------------------------- several seeds at once

SEEDS = (0, 1, 2, 3, 4)  # the lesson trains every kind of model with each of these seeds
TRAINING = {"steps": 400, "batch_size": 20, "lengths": (3, 10), "lr": 0.005}  # the lesson's training, per model


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
    (tests/test_bahdanau.py checks logits, gradients and greedy decoding against each model). The attention
    parameters have only the A attending models on their model axis (the v of the additive ones).
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


def clip_per_model(parameters, n_models, max_norm):
    """Scale each model's gradients so that their L2 norm over all its parameters is at most max_norm.

    parameters: stacked tensors (k, ...) whose first k ≤ n_models rows belong to models 0..k-1 (see
    StackedSeq2Seq). Model m is clipped as nn.utils.clip_grad_norm_ would clip it alone. Returns the norms (n_models,).
    """
    squares = torch.zeros(n_models)
    grads = [p.grad for p in parameters if p.grad is not None]
    for g in grads:
        squares[: g.shape[0]] += g.pow(2).reshape(g.shape[0], -1).sum(-1)
    norms = sqrt_on_any_cpu(squares)
    factor = torch.clamp(max_norm / (norms + 1e-6), max=1.0)
    for g in grads:
        g.mul_(factor[: g.shape[0]].view(-1, *[1] * (g.ndim - 1)))
    return norms


@dataclass
class SeedRuns:
    """Models of every kind trained with every seed, side by side: the stack, its record and the models.

    kinds, seeds: the kind and the seed of each model of the stack (M,).   losses: (steps, M) tensor,
    each model's loss at every step.   models(kind): that kind's models as Seq2Seq, one per seed.
    """

    stacked: StackedSeq2Seq
    kinds: tuple
    seeds: tuple
    losses: torch.Tensor
    lengths: tuple = (3, 10)
    seconds: float = 0.0
    _unstacked: list = field(default=None, repr=False)

    def seeds_of(self, kind):
        """The seeds of `kind`'s models, in the order models(kind) returns them."""
        self._require_kind(kind)
        return [seed for k, seed in zip(self.kinds, self.seeds, strict=True) if k == kind]

    def models(self, kind):
        """`kind`'s trained models, one Seq2Seq per seed (built once from the stack)."""
        self._require_kind(kind)
        if self._unstacked is None:
            self._unstacked = self.stacked.unstack()
        return [model for k, model in zip(self.kinds, self._unstacked, strict=True) if k == kind]

    def losses_of(self, kind):
        """(steps, S): the loss of each of `kind`'s models at every step."""
        self._require_kind(kind)
        return self.losses[:, [i for i, k in enumerate(self.kinds) if k == kind]]

    def _require_kind(self, kind):
        if kind not in self.kinds:
            raise ValueError(f"no models of kind {kind!r}; trained: {sorted(set(self.kinds), key=SCORINGS.index)}")


def train_seeds(seeds=SEEDS, kinds=SCORINGS, progress=False, schedule_seed=0, **settings):
    """Train one Seq2Seq of each kind with each seed, all at once in a StackedSeq2Seq. Returns a SeedRuns.

    The model of seed s starts from torch.manual_seed(s) (the weights train_model would draw) and reads the
    batches of its own generator, seeded with s + 1, so the kinds trained with one seed read the same
    batches. Every step draws one length n for all models (from a generator seeded with schedule_seed) and
    a batch of n-letter training sequences per seed. Teacher forcing, each model's own mean cross-entropy,
    its gradients clipped at norm 1 (clip_per_model), Adam (torch.optim.Adam's update, per element, so each
    model moves as it would alone). On one thread; the global RNG state is restored.
    settings: steps, batch_size, lengths, lr (default TRAINING) and d_embed, d_hidden, d_a for Seq2Seq.
    progress: True shows a tqdm progress bar.
    """
    settings = {**TRAINING, **settings}
    steps = require_int("steps", settings.pop("steps"), minimum=1)
    batch_size = require_int("batch_size", settings.pop("batch_size"), minimum=1)
    min_n, max_n = _require_length_range(settings.pop("lengths"))
    lr = require_number("lr", settings.pop("lr"), positive=True)
    seeds = _require_seeds(seeds)
    kinds = _require_kinds(kinds)
    start = time.perf_counter()
    order = [(kind, seed) for kind in kinds for seed in seeds]
    with one_thread():
        models = []
        with torch.random.fork_rng(devices=[]):
            for kind, seed in order:
                torch.manual_seed(seed)
                models.append(Seq2Seq(kind, **settings))
        stacked = StackedSeq2Seq(models)
        parameters = [p for p in stacked.parameters()]
        optimizer = Adam(parameters, lr=lr)
        schedule = torch.Generator().manual_seed(require_int("schedule_seed", schedule_seed, minimum=0))
        generators = {seed: torch.Generator().manual_seed(seed + 1) for seed in seeds}
        rows = [seeds.index(seed) for _, seed in order]  # model -> its seed's batch
        bar = _progress_bar(steps, f"training {len(order)} models") if progress else None
        losses = []
        for _ in range(steps):
            n = int(torch.randint(min_n, max_n + 1, (1,), generator=schedule))
            batches = [reversal_batch(batch_size, n, generators[seed]) for seed in seeds]
            source = torch.stack([batch[0] for batch in batches])[rows]  # (M, B, n)
            target = torch.stack([batch[1] for batch in batches])[rows]
            logits, _ = stacked(source, target)
            loss = F.cross_entropy(logits.flatten(1, 2).transpose(1, 2), target.flatten(1, 2), reduction="none")
            loss = loss.mean(dim=-1)  # (M,): each model's own mean over its batch
            optimizer.zero_grad()
            loss.sum().backward()  # a sum: each model's gradients are those of its own loss
            clip_per_model(parameters, len(order), 1.0)
            optimizer.step()
            losses.append(loss.detach())
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        stacked.eval()
    return SeedRuns(
        stacked=stacked,
        kinds=tuple(kind for kind, _ in order),
        seeds=tuple(seed for _, seed in order),
        losses=torch.stack(losses),
        lengths=(min_n, max_n),
        seconds=time.perf_counter() - start,
    )


def _require_seeds(seeds):
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a list of ints, got {type(seeds).__name__} {seeds!r}")
    seeds = [require_int("each seed", seed, minimum=0) for seed in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of different ints, got {seeds}")
    return seeds


def _require_kinds(kinds):
    if isinstance(kinds, str) or not hasattr(kinds, "__iter__"):
        raise TypeError(f"kinds must be a list drawn from {SCORINGS}, got {kinds!r}")
    kinds = list(kinds)
    if not kinds or any(kind not in SCORINGS for kind in kinds) or len(set(kinds)) != len(kinds):
        raise ValueError(f"kinds must be different values from {SCORINGS}, got {kinds}")
    return sorted(kinds, key=SCORINGS.index)


METRICS = ("token_accuracy", "sequence_accuracy", "aligned_weight", "aligned_near", "aligned_argmax")


@dataclass
class SeedEvaluation:
    """evaluate_seeds's measurements: results[kind][metric] is a (S, L) tensor, one row per seed (in `seeds`
    order), one column per length (in `lengths` order). The aligned_* metrics exist for attention models only."""

    lengths: list
    seeds: list
    results: dict

    def of(self, kind, metric):
        """(S, L) values of one metric for one kind of model."""
        if kind not in self.results:
            raise ValueError(f"no models of kind {kind!r}; evaluated: {list(self.results)}")
        if metric not in self.results[kind]:
            raise ValueError(f"{kind!r} models have no {metric!r}; they have {list(self.results[kind])}")
        return self.results[kind][metric]

    def at(self, kind, metric, n):
        """(S,) values of one metric for one kind at source length n."""
        if n not in self.lengths:
            raise ValueError(f"length {n} was not evaluated; lengths: {self.lengths}")
        return self.of(kind, metric)[:, self.lengths.index(n)]


def evaluate_seeds(runs, test_set):
    """Greedy-decode every held-out sequence with every model of the stack at once; measure as evaluate does.

    runs: a SeedRuns   test_set: {n: (source (N, n), target (N, n))}, e.g. from held_out_set.
    Returns a SeedEvaluation: per kind, per metric, (S seeds, L lengths) tensors of floats in [0, 1].
    """
    if not isinstance(runs, SeedRuns):
        raise TypeError(f"runs must be a SeedRuns (from train_seeds), got {type(runs).__name__}")
    if not isinstance(test_set, dict) or not test_set:
        raise TypeError("test_set must be a non-empty dict {n: (source, target)}, as held_out_set returns")
    columns = {metric: [] for metric in METRICS}
    for n, (source, target) in test_set.items():
        tokens, weights = runs.stacked.greedy_decode(source, target.shape[-1])  # (M, N, n), (M, N, n, n)
        correct = tokens == target
        columns["token_accuracy"].append(correct.float().mean(dim=(1, 2)))
        columns["sequence_accuracy"].append(correct.all(dim=-1).float().mean(dim=1))
        columns["aligned_weight"].append(aligned_weight(weights).mean(dim=1))
        columns["aligned_near"].append(aligned_weight(weights, within=1).mean(dim=1))
        expected = torch.arange(n - 1, -1, -1)
        columns["aligned_argmax"].append((weights.argmax(dim=-1) == expected).float().mean(dim=(1, 2)))
    table = {metric: torch.stack(values, dim=1) for metric, values in columns.items()}  # (M, L) each
    results = {}
    for kind in sorted(set(runs.kinds), key=SCORINGS.index):
        rows = [i for i, k in enumerate(runs.kinds) if k == kind]
        metrics = METRICS if kind != "none" else METRICS[:2]
        results[kind] = {metric: table[metric][rows] for metric in metrics}
    seeds = runs.seeds_of(runs.kinds[0])
    return SeedEvaluation(lengths=list(test_set), seeds=seeds, results=results)


# --------------------------------------------------------------------------- what the seeds determine
# Each training run turns the last bits of its arithmetic into its own trajectory, so one seed's accuracy at
# 10 letters moves by several points from one CPU to another. The lesson's claims are therefore counted over
# seeds against thresholds stated here, with a margin to the measured values, and printed as "k of S seeds".

SHORT, LONG = 3, 10  # the shortest and the longest source length of the claims
FALLS_BY = 40  # points of letters right lost from 3 to 10 letters: "falls with length"
ABOVE_BY = 30  # points above the best seed without attention, at 10 letters: "attention fixes it"
AHEAD_BY = 1  # points of letters right (mean over the lengths), same seed: "more accurate"
SHARPER_BY = 0.2  # weight on the position to read at 10 letters, same seed: "sharper alignment"
MOST = 0.8  # a claim holds when at least this share of the seeds meets it (4 of 5)


def _needed(n_seeds):
    return math.ceil(MOST * n_seeds)


def _count(flags):
    """'k of S seeds' for a (S,) bool tensor."""
    return f"{int(flags.sum())} of {len(flags)} seeds"


def _holds(flags):
    return int(flags.sum()) >= _needed(len(flags))


def _percent(x):
    return 100 * x


def loss_summary(runs):
    """Text: each kind's loss at the first step and over the last 50 steps, median and range over the seeds.

    One decimal for the trained loss (it moves in the second decimal from one CPU to another), two for the
    first step's (the untrained models, the same on any CPU up to rounding); chance is ln 26 = 3.26.
    """
    if not isinstance(runs, SeedRuns):
        raise TypeError(f"runs must be a SeedRuns (from train_seeds), got {type(runs).__name__}")
    lines = [f"chance (uniform over {len(SYMBOLS)} letters): loss ln {len(SYMBOLS)} = {math.log(len(SYMBOLS)):.2f}"]
    for kind in sorted(set(runs.kinds), key=SCORINGS.index):
        losses = runs.losses_of(kind)  # (steps, S)
        first, last = losses[0], losses[-50:].mean(dim=0)
        lines.append(
            f"{kind:8s}: loss {first.median():.2f} at the first step; over the last 50 steps median {last.median():.1f}"
            f" ({last.min():.1f} to {last.max():.1f}) over {losses.shape[1]} seeds"
        )
    return "\n".join(lines)


def _require_evaluation(evaluation):
    if not isinstance(evaluation, SeedEvaluation):
        raise TypeError(f"evaluation must be a SeedEvaluation (from evaluate_seeds), got {type(evaluation).__name__}")


def accuracy_table(evaluation):
    """Text: letters and sequences right (%) per length and kind: the median of the seeds [lowest–highest]."""
    _require_evaluation(evaluation)
    lines = []
    for metric, label in [("token_accuracy", "letters right"), ("sequence_accuracy", "sequences right")]:
        header = f"{label} (%), median of {len(evaluation.seeds)} seeds [lowest–highest]"
        lines.append(f"{header}\n{'n:':9s}" + "".join(f"{n:>13d}" for n in evaluation.lengths))
        for kind in evaluation.results:
            values = _percent(evaluation.of(kind, metric))  # (S, L)
            cells = [
                f"{median:4.0f} [{low:3.0f}–{high:3.0f}]"
                for median, low, high in zip(
                    values.median(0).values.tolist(),
                    values.min(0).values.tolist(),
                    values.max(0).values.tolist(),
                    strict=True,
                )
            ]
            lines.append(f"{kind:9s}" + "".join(f"{cell:>13s}" for cell in cells))
    return "\n".join(lines)


def bottleneck_summary(evaluation):
    """Text: the bottleneck and its fix, counted over the seeds against the thresholds above, with verdicts.

    "falls with length": letters right at LONG at least FALLS_BY points below those at SHORT.
    "far above": at LONG, at least ABOVE_BY points above the best seed without attention.
    Needs the kinds "none" and at least one attention kind.
    """
    _require_evaluation(evaluation)
    if "none" not in evaluation.results or len(evaluation.results) < 2:
        raise ValueError("bottleneck_summary needs the models without attention and at least one with it")
    short = {kind: _percent(evaluation.at(kind, "token_accuracy", SHORT)) for kind in evaluation.results}
    long = {kind: _percent(evaluation.at(kind, "token_accuracy", LONG)) for kind in evaluation.results}
    best_none = long["none"].max()
    lines = [
        f"thresholds: 'falls with length' = at least {FALLS_BY} points fewer letters right at {LONG} letters than at"
        f" {SHORT};",
        f"'far above' = at {LONG} letters, at least {ABOVE_BY} points above the best seed without attention;",
        f"a claim holds when at least {_needed(len(evaluation.seeds))} of the {len(evaluation.seeds)} seeds meet it.",
    ]
    falls = {kind: short[kind] - long[kind] >= FALLS_BY for kind in evaluation.results}
    above = {kind: long[kind] - best_none >= ABOVE_BY for kind in evaluation.results if kind != "none"}
    for kind in evaluation.results:
        line = f"{kind:8s}: falls with length in {_count(falls[kind])}"
        if kind != "none":
            line += f"; far above in {_count(above[kind])}"
        lines.append(line)
    bottleneck = _holds(falls["none"]) and not any(_holds(falls[kind]) for kind in above)
    fix = all(_holds(flags) for flags in above.values())
    lines.append(f"the bottleneck (only the model without attention falls with length): {_verdict(bottleneck)}")
    lines.append(f"the fix (every attention model far above it at {LONG} letters): {_verdict(fix)}")
    return "\n".join(lines)


def _verdict(holds):
    return "supported" if holds else "not supported"


def alignment_table(evaluation):
    """Text: weight on the position to read, share of steps whose largest weight is there, and weight within
    one position, per length: the median of the seeds, to one decimal (the second moves from CPU to CPU)."""
    _require_evaluation(evaluation)
    lines = [f"median of {len(evaluation.seeds)} seeds   n:" + "".join(f"{n:5d}" for n in evaluation.lengths)]
    for kind in [kind for kind in evaluation.results if kind != "none"]:
        for metric, label in [
            ("aligned_weight", "weight there"),
            ("aligned_argmax", "largest there"),
            ("aligned_near", "within 1 of it"),
        ]:
            medians = evaluation.of(kind, metric).median(0).values.tolist()
            lines.append(f"{kind:8s} {label:16s}" + "".join(f"{value:5.1f}" for value in medians))
    lines.append(f"{'uniform weights: 1/n':25s}" + "".join(f"{1 / n:5.2f}" for n in evaluation.lengths))
    return "\n".join(lines)


def scoring_comparison(evaluation):
    """Text: additive against dot-product scoring, seed by seed (same seed: same batches), with verdicts.

    "more accurate": letters right, averaged over the lengths, at least AHEAD_BY points higher.
    "sharper": weight on the position to read at LONG letters at least SHARPER_BY higher.
    """
    _require_evaluation(evaluation)
    if not {"additive", "dot"} <= set(evaluation.results):
        raise ValueError("scoring_comparison needs both the additive and the dot-product models")
    letters = {kind: _percent(evaluation.of(kind, "token_accuracy")).mean(dim=1) for kind in ("additive", "dot")}
    weight = {kind: evaluation.at(kind, "aligned_weight", LONG) for kind in ("additive", "dot")}
    S = len(evaluation.seeds)
    lines = [
        f"thresholds: 'more accurate' = at least {AHEAD_BY} {'point' if AHEAD_BY == 1 else 'points'} more letters"
        " right (mean over the lengths);",
        f"'sharper' = at least {SHARPER_BY} more weight on the position to read at {LONG} letters;",
        f"compared seed by seed; a claim holds in at least {_needed(S)} of the {S} seeds.",
    ]
    verdicts = {}
    for a, b in [("dot", "additive"), ("additive", "dot")]:
        ahead = letters[a] - letters[b] >= AHEAD_BY
        sharper = weight[a] - weight[b] >= SHARPER_BY
        lines.append(f"{a:8s}: more accurate in {_count(ahead)}, sharper in {_count(sharper)}")
        verdicts[a] = (_holds(ahead), _holds(sharper))
    names = {"additive": "additive scoring", "dot": "dot-product scoring"}
    for index, (what, word) in enumerate([("accuracy", "more accurate"), ("alignment", "sharper")]):
        winners = [kind for kind, held in verdicts.items() if held[index]]
        lines.append(f"{what}: " + (f"{names[winners[0]]} {word}" if len(winners) == 1 else "no clear difference"))
    return "\n".join(lines)


def example_summary(runs, source):
    """Text: one source, its reversal, and how many seeds of each attention kind write it exactly.

    source: (1, n) or (n,) long. The figure beside it shows one seed; this line counts all of them.
    """
    if not isinstance(runs, SeedRuns):
        raise TypeError(f"runs must be a SeedRuns (from train_seeds), got {type(runs).__name__}")
    source = source.reshape(1, -1)
    tokens, _ = runs.stacked.greedy_decode(source)  # (M, 1, n)
    right = (tokens[:, 0] == source[0].flip(-1)).all(dim=-1)  # (M,)
    line = f"source: {''.join(to_tokens(source[0]))}, its reversal: {''.join(to_tokens(source[0].flip(-1)))}"
    counts = []
    for kind in sorted(set(runs.kinds), key=SCORINGS.index):
        if kind != "none":
            flags = right[[i for i, k in enumerate(runs.kinds) if k == kind]]
            counts.append(f"{kind} {_count(flags)}")
    return line + "\nwritten exactly by: " + ", ".join(counts)


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
    """Accuracy against source length, one line per kind of model.

    evaluations: a SeedEvaluation (from evaluate_seeds: the line is the median of the seeds, the band their
    range), or {attention kind: evaluate(...) result} (one model per kind). metric: "token_accuracy" or
    "sequence_accuracy". legend: where to put the legend (a matplotlib location), or None for none. Returns ax.
    """
    if metric not in ("token_accuracy", "sequence_accuracy"):
        raise ValueError(f"metric must be 'token_accuracy' or 'sequence_accuracy', got {metric!r}")
    if isinstance(evaluations, SeedEvaluation):
        curves = {kind: _percent(evaluations.of(kind, metric)) for kind in evaluations.results}  # (S, L) each
        lengths = evaluations.lengths
    else:
        curves, lengths = {}, None
        for kind, results in evaluations.items():
            lengths = sorted(results)
            curves[kind] = torch.tensor([[100 * results[n][metric] for n in lengths]], dtype=torch.float64)
    for kind, values in curves.items():
        if kind not in MODEL_STYLES:
            raise ValueError(f"unknown model {kind!r}; expected one of {sorted(MODEL_STYLES)}")
        style = MODEL_STYLES[kind]
        ax.plot(lengths, values.median(0).values.tolist(), **style)
        if len(values) > 1:
            low, high = values.min(0).values.tolist(), values.max(0).values.tolist()
            ax.fill_between(lengths, low, high, color=style["color"], alpha=0.2, linewidth=0)
    ax.set_ylim(0, 105)
    ax.set_xlabel("source length n")
    ax.set_ylabel("letters right (%)" if metric == "token_accuracy" else "sequences entirely right (%)")
    ax.set_title(title or "Held-out accuracy against length")
    if legend is not None:
        ax.legend(loc=legend, fontsize="small")
    return ax


def plot_losses(results, ax, window=20):
    """Training loss against step (a running mean over `window` steps), one line per kind of model.

    results: a SeedRuns (the line is the median of the seeds, the band their range) or a list of
    TrainResult (one line each). Returns ax.
    """
    window = require_int("window", window, minimum=1)
    if isinstance(results, SeedRuns):
        curves = [(kind, results.losses_of(kind)) for kind in sorted(set(results.kinds), key=SCORINGS.index)]
    else:
        curves = [(result.attention, torch.tensor(result.losses)[:, None]) for result in results]
    for kind, losses in curves:  # (steps, S)
        steps = len(losses)
        smooth = losses.unfold(0, window, 1).mean(dim=-1) if steps >= window else losses  # (steps', S)
        x = list(range(steps - len(smooth) + 1, steps + 1))
        style = {key: value for key, value in MODEL_STYLES[kind].items() if key != "marker"}
        ax.plot(x, smooth.median(dim=1).values.tolist(), **style)
        if smooth.shape[1] > 1:
            low, high = smooth.min(dim=1).values.tolist(), smooth.max(dim=1).values.tolist()
            ax.fill_between(x, low, high, color=style["color"], alpha=0.2, linewidth=0)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"cross-entropy (mean of {window} steps)")
    ax.set_title("Training loss")
    ax.legend(loc="upper right", fontsize="small")
    return ax
