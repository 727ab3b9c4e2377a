"""What lesson 08's decoder costs: its sequential steps, counted, and timings against self-attention.

    count_decoder_steps(model, source, m=None, teacher_forcing=False)   how often the decoder's GRU cell runs
                                     (counted with a forward hook); source (B, n) long
    time_decoder_loop(n, d_model, batch_size, repeats, seed)     median seconds of n decoder steps with
                                     additive attention over n positions, one after another
    time_self_attention(n, d_model, batch_size, repeats, seed)   median seconds of one self-attention over n
                                     positions, all n queries at once
    time_scoring_all_pairs(n, d_a, scoring, repeats, seed)       (median seconds, bytes of the largest tensor)
                                     to score all n × n pairs: additive builds (n, n, d_a), dot one (n, n) product

Timings are medians of `repeats` calls after one warm-up call, on one thread.
"""

import math
import time

import torch
from torch import nn

from helpers.lessons.l08_before_transformers_bahdanau.alignment_model import BahdanauAttention
from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import Seq2Seq
from helpers.library.checks import require_int
from helpers.machinery.threads import one_thread

__all__ = [
    "count_decoder_steps",
    "time_decoder_loop",
    "time_self_attention",
    "time_scoring_all_pairs",
]


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
