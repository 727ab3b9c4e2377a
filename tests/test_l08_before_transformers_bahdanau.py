"""helpers.lessons.l08_before_transformers_bahdanau, module by module: the toy task (reversal_task), the
alignment model (alignment_model) against hand-written references and PyTorch's own layers, the encoder
(seq2seq) against nn.GRUCell loops with copied weights, the decoder, the stacked models (stacked_seq2seq),
training, evaluation, the seed summaries, the costs and the figures."""

import math

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.lessons.l08_before_transformers_bahdanau.alignment_model import (
    BahdanauAttention,
    additive_scores,
    context_vector,
    dot_product_scores,
)
from helpers.lessons.l08_before_transformers_bahdanau.costs import (
    count_decoder_steps,
    time_decoder_loop,
    time_scoring_all_pairs,
    time_self_attention,
)
from helpers.lessons.l08_before_transformers_bahdanau.evaluation import (
    SeedEvaluation,
    aligned_weight,
    evaluate,
    evaluate_seeds,
)
from helpers.lessons.l08_before_transformers_bahdanau.figures import plot_accuracy_by_length, plot_losses
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import (
    BOS,
    SYMBOLS,
    held_out_set,
    is_held_out,
    reversal_batch,
    to_ids,
    to_tokens,
)
from helpers.lessons.l08_before_transformers_bahdanau.seed_summaries import (
    ABOVE_BY,
    ALIGNS,
    FALLS_BY,
    LONG,
    SHARPER_BY,
    SHORT,
    accuracy_table,
    alignment_table,
    alignment_verdict,
    bottleneck_summary,
    example_summary,
    loss_summary,
    scoring_comparison,
)
from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import Encoder, Seq2Seq, count_parameters
from helpers.lessons.l08_before_transformers_bahdanau.stacked_seq2seq import StackedSeq2Seq, fast_tanh, gru_update
from helpers.lessons.l08_before_transformers_bahdanau.training import clip_per_model, train_model, train_seeds
from helpers.library.attention import scaled_dot_product_attention, softmax

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402

TINY = {"d_embed": 8, "d_hidden": 8, "d_a": 8}


def random_alignment_inputs(seed=0, batch=(), n=5, d_dec=3, d_enc=4, d_a=6, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    s = torch.randn(*batch, d_dec, generator=generator, dtype=dtype)
    h = torch.randn(*batch, n, d_enc, generator=generator, dtype=dtype)
    W = torch.randn(d_a, d_dec, generator=generator, dtype=dtype)
    U = torch.randn(d_a, d_enc, generator=generator, dtype=dtype)
    v = torch.randn(d_a, generator=generator, dtype=dtype)
    return s, h, W, U, v


def additive_reference(s, h, W, U, v):
    """vᵀ tanh(W s + U h_j), one position at a time, with plain Python sums over floats (no matrix products)."""
    s, h, W, U, v = (t.tolist() for t in (s, h, W, U, v))
    scores = []
    for h_j in h:
        hidden = [
            math.tanh(
                sum(w * x for w, x in zip(W[a], s, strict=True)) + sum(u * x for u, x in zip(U[a], h_j, strict=True))
            )
            for a in range(len(W))
        ]
        scores.append(sum(v_a * hidden_a for v_a, hidden_a in zip(v, hidden, strict=True)))
    return torch.tensor(scores, dtype=torch.float64)


# --------------------------------------------------------------------------- the toy task


def test_tokens_and_ids_round_trip():
    assert to_tokens(to_ids("hello"[:4] + "z")) == list("hellz")
    assert to_tokens([0, BOS]) == ["a", "<s>"]
    with pytest.raises(ValueError, match="outside"):
        to_ids("ab1")
    with pytest.raises(TypeError, match="non-empty string"):
        to_ids("")
    with pytest.raises(ValueError, match="ids must be ints between 0 and 26"):
        to_tokens([27])


def test_reversal_batch_reverses_distinct_letters_and_is_seeded():
    source, target = reversal_batch(50, 7, torch.Generator().manual_seed(0))
    assert source.shape == target.shape == (50, 7) and source.dtype == torch.long
    assert torch.equal(target, source.flip(-1))
    assert all(len(set(row.tolist())) == 7 for row in source), "no letter repeats in a sequence"
    again, _ = reversal_batch(50, 7, torch.Generator().manual_seed(0))
    assert torch.equal(source, again)
    assert not torch.equal(source, reversal_batch(50, 7, torch.Generator().manual_seed(1))[0])


def test_training_and_held_out_sequences_are_disjoint():
    generator = torch.Generator().manual_seed(0)
    training, _ = reversal_batch(2000, 4, generator)
    held_out, _ = reversal_batch(500, 4, generator, held_out=True)
    assert not is_held_out(training).any() and is_held_out(held_out).all()
    assert not {tuple(r) for r in training.tolist()} & {tuple(r) for r in held_out.tolist()}
    fraction = is_held_out(torch.rand(5000, 26, generator=generator).argsort(-1)[:, :6]).float().mean()
    assert 0.15 < fraction < 0.25  # about one sequence in five is held out
    test_set = held_out_set([3, 5], per_length=10)
    assert list(test_set) == [3, 5] and test_set[5][0].shape == (10, 5)
    assert all(is_held_out(source).all() for source, _ in test_set.values())


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: reversal_batch(4, 27, torch.Generator()), ValueError, "longer than the 26 letters"),
        (lambda: reversal_batch(4, 0, torch.Generator()), ValueError, "n must be >= 1"),
        (lambda: reversal_batch(4, 3, 0), TypeError, "generator must be a torch.Generator"),
        (lambda: held_out_set([]), ValueError, "lengths is empty"),
        (lambda: held_out_set("abc"), TypeError, "lengths must be a list"),
    ],
)
def test_task_rejects_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------- the alignment model


def test_additive_scores_match_a_hand_written_reference():
    s, h, W, U, v = random_alignment_inputs()
    torch.testing.assert_close(additive_scores(s, h, W, U, v), additive_reference(s, h, W, U, v))


def test_additive_scores_are_a_one_hidden_layer_network_on_the_concatenation():
    s, h, W, U, v = random_alignment_inputs(seed=1, n=4)
    network = nn.Sequential(nn.Linear(7, 6, bias=False), nn.Tanh(), nn.Linear(6, 1, bias=False)).double()
    with torch.no_grad():
        network[0].weight.copy_(torch.cat([W, U], dim=1))
        network[2].weight.copy_(v[None])
        expected = network(torch.cat([s.expand(4, 3), h], dim=1))[:, 0]
    torch.testing.assert_close(additive_scores(s, h, W, U, v), expected)


def test_additive_scores_batch_like_one_state_at_a_time():
    s, h, W, U, v = random_alignment_inputs(seed=2, batch=(2, 3))
    scores = additive_scores(s, h, W, U, v)
    assert scores.shape == (2, 3, 5)
    torch.testing.assert_close(scores[1, 2], additive_reference(s[1, 2], h[1, 2], W, U, v))


def test_dot_product_scores_give_scaled_dot_product_attention_weights():
    s, h, W, U, _ = random_alignment_inputs(seed=3)
    scores = dot_product_scores(s, h, W, U)
    q, k = W @ s, h @ U.T
    torch.testing.assert_close(scores, torch.stack([q @ k[j] for j in range(5)]) / math.sqrt(6))
    _, weights = scaled_dot_product_attention(q[None], k, h)
    torch.testing.assert_close(torch.softmax(scores, -1), weights[0])


def test_context_vector_is_the_weighted_sum_of_the_annotations():
    _, h, *_ = random_alignment_inputs(seed=4)
    weights = softmax(torch.randn(5, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    torch.testing.assert_close(context_vector(weights, h), sum(weights[j] * h[j] for j in range(5)))
    one_hot = torch.zeros(5, dtype=torch.float64)
    one_hot[2] = 1
    torch.testing.assert_close(context_vector(one_hot, h), h[2])
    batched = context_vector(weights.expand(3, 5), h.expand(3, 5, 4))
    assert batched.shape == (3, 4)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"W": torch.zeros(6, 4, dtype=torch.float64)}, "d_dec = s.shape"),
        ({"U": torch.zeros(6, 3, dtype=torch.float64)}, "d_enc = h.shape"),
        ({"U": torch.zeros(5, 4, dtype=torch.float64)}, "share d_a"),
        ({"v": torch.zeros(5, dtype=torch.float64)}, "v must be"),
        ({"h": torch.zeros(0, 4, dtype=torch.float64)}, "at least one source position"),
        ({"s": torch.zeros(2, 3, dtype=torch.float64)}, "batch dimensions"),
        ({"h": torch.zeros(5, 4, dtype=torch.long)}, "floating dtype"),
        ({"s": [1.0, 2.0, 3.0]}, "must be a torch.Tensor"),
    ],
)
def test_additive_scores_name_bad_shapes(change, match):
    s, h, W, U, v = random_alignment_inputs()
    arguments = {"s": s, "h": h, "W": W, "U": U, "v": v, **change}
    with pytest.raises((ValueError, TypeError), match=match):
        additive_scores(**arguments)


def test_context_vector_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same n"):
        context_vector(torch.ones(4) / 4, torch.zeros(5, 3))


def test_attention_module_matches_the_pure_functions_and_torch():
    torch.manual_seed(0)
    s, h = torch.randn(3, 8), torch.randn(3, 5, 12)
    for scoring in ("additive", "dot"):
        attention = BahdanauAttention(8, 12, 6, scoring)
        context, weights = attention(s, h)
        W, U = attention.W.weight, attention.U.weight
        h_biased = h  # U has a bias: U h_j + b is the same as [U b]·[h_j; 1]
        U_full = torch.cat([U, attention.U.bias[:, None]], dim=1)
        h_full = torch.cat([h_biased, torch.ones(3, 5, 1)], dim=-1)
        if scoring == "additive":
            scores = additive_scores(s, h_full, W, U_full, attention.v.weight[0])
        else:
            scores = dot_product_scores(s, h_full, W, U_full)
            expected_context = F.scaled_dot_product_attention(
                attention.W(s)[:, None, :], attention.U(h), h
            )  # PyTorch's own attention, one query per sequence
            torch.testing.assert_close(context, expected_context[:, 0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(weights, torch.softmax(scores, dim=-1), atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(context, context_vector(weights, h))
        torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    with pytest.raises(ValueError, match="scoring must be"):
        BahdanauAttention(8, 12, 6, "cosine")


# --------------------------------------------------------------------------- the encoder


def test_encoder_is_a_forward_and_a_backward_gru_cell_loop():
    torch.manual_seed(0)
    encoder = Encoder(len(SYMBOLS), 5, 7)
    tokens = reversal_batch(2, 6, torch.Generator().manual_seed(0))[0]
    forward_cell, backward_cell = nn.GRUCell(5, 7), nn.GRUCell(5, 7)
    gru = encoder.gru
    with torch.no_grad():
        for cell, suffix in ((forward_cell, ""), (backward_cell, "_reverse")):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(gru, f"{name}_l0{suffix}"))
        x = encoder.embedding(tokens)  # (2, 6, 5)
        forward, backward = [], []
        state = torch.zeros(2, 7)
        for j in range(6):
            state = forward_cell(x[:, j], state)
            forward.append(state)
        state = torch.zeros(2, 7)
        for j in reversed(range(6)):
            state = backward_cell(x[:, j], state)
            backward.insert(0, state)
        expected = torch.cat([torch.stack(forward, 1), torch.stack(backward, 1)], dim=-1)
        torch.testing.assert_close(encoder(tokens), expected, atol=1e-6, rtol=1e-5)


# --------------------------------------------------------------------------- the decoder


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {kind: Seq2Seq(kind, **TINY) for kind in ("additive", "dot", "none")}


def test_teacher_forcing_forward_equals_step_by_step(models):
    source, target = reversal_batch(3, 5, torch.Generator().manual_seed(0))
    for kind, model in models.items():
        with torch.no_grad():
            logits, weights = model(source, target)
            h, keys, summary, state = model.start(source)
            previous = torch.full((3,), BOS)
            for i in range(5):
                step_logits, state, step_weights = model.step(previous, state, h, keys, summary)
                torch.testing.assert_close(logits[:, i], step_logits, atol=1e-6, rtol=1e-5)
                if kind == "none":
                    assert step_weights is None and weights is None
                else:
                    torch.testing.assert_close(weights[:, i], step_weights)
                previous = target[:, i]
        assert logits.shape == (3, 5, len(SYMBOLS))


def test_first_state_and_summary_come_from_the_right_ends(models):
    model = models["none"]
    source, _ = reversal_batch(2, 4, torch.Generator().manual_seed(1))
    with torch.no_grad():
        h, keys, summary, state = model.start(source)
        d = model.d_hidden
        torch.testing.assert_close(summary, torch.cat([h[:, -1, :d], h[:, 0, d:]], dim=-1))
        torch.testing.assert_close(state, torch.tanh(model.init(h[:, 0, d:])))
    assert keys is None


def test_greedy_decode_feeds_back_its_own_argmax(models):
    model = models["additive"]
    source, _ = reversal_batch(2, 4, torch.Generator().manual_seed(2))
    tokens, weights = model.greedy_decode(source, m=6)
    assert tokens.shape == (2, 6) and weights.shape == (2, 6, 4)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 6))
    with torch.no_grad():
        logits, _ = model(source, tokens)  # teacher-forced on its own output: same choices
    assert torch.equal(logits.argmax(-1), tokens)
    _, none_weights = models["none"].greedy_decode(source)
    assert torch.equal(none_weights, torch.zeros(2, 4, 4))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: m(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long)), "long tensor"),
        (lambda m: m(torch.full((2, 3), 26), torch.zeros(2, 3, dtype=torch.long)), "between 0 and 25"),
        (lambda m: m(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 3, dtype=torch.long)), "B = 2"),
        (lambda m: m.greedy_decode(torch.zeros(2, 3, dtype=torch.long), m=0), "m must be >= 1"),
    ],
)
def test_seq2seq_rejects_bad_input(models, call, match):
    with pytest.raises(ValueError, match=match):
        call(models["additive"])


def test_seq2seq_rejects_an_unknown_attention():
    with pytest.raises(ValueError, match="attention must be one of"):
        Seq2Seq("multiplicative")


def test_parameter_counts_differ_by_v_only(models):
    additive, dot, none = (count_parameters(models[k]) for k in ("additive", "dot", "none"))
    assert additive - dot == TINY["d_a"]
    assert count_parameters(models["additive"], prefix="attention.") == additive - none
    with pytest.raises(TypeError, match="nn.Module"):
        count_parameters("model")


# --------------------------------------------------------------------------- training


def test_training_is_deterministic_and_leaves_global_state_alone():
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = train_model("additive", steps=4, batch_size=8, lengths=(3, 4), **TINY)
    assert torch.rand(1) == before, "training must not consume the global random stream"
    assert torch.get_num_threads() == threads
    second = train_model("additive", steps=4, batch_size=8, lengths=(3, 4), **TINY)
    other = train_model("additive", steps=4, batch_size=8, lengths=(3, 4), seed=1, **TINY)
    assert first.losses == second.losses and len(first.losses) == 4
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert first.losses != other.losses
    assert not first.model.training and first.seconds > 0 and first.lengths == (3, 4)


def test_training_lowers_the_loss():
    result = train_model("dot", steps=40, batch_size=32, lengths=(3, 3), lr=0.01, d_hidden=16, d_a=16)
    assert sum(result.losses[-5:]) / 5 < 0.6 * result.losses[0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"steps": 0}, ValueError, "steps must be >= 1"),
        ({"lengths": (5, 3)}, ValueError, "min_n <= max_n"),
        ({"lengths": 5}, TypeError, "pair"),
        ({"lr": -1.0}, ValueError, "lr must be > 0"),
        ({"attention": "bilinear"}, ValueError, "attention must be one of"),
    ],
)
def test_train_model_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        train_model(**{"steps": 1, "batch_size": 2, **TINY, **kwargs})


# --------------------------------------------------------------------------- evaluation


def test_aligned_weight_of_perfect_uniform_and_shifted_alignments():
    perfect = torch.eye(5).flip(-1)  # step i reads position 4 - i
    assert aligned_weight(perfect).item() == pytest.approx(1.0)
    assert aligned_weight(torch.full((5, 5), 0.2)).item() == pytest.approx(0.2)
    shifted = torch.roll(perfect, shifts=1, dims=0)  # every step reads a neighbour (or wraps around)
    assert aligned_weight(shifted).item() == pytest.approx(0.0)
    assert aligned_weight(shifted, within=1).item() == pytest.approx(0.8)
    assert aligned_weight(perfect.expand(3, 5, 5)).shape == (3,)
    with pytest.raises(ValueError, match="expected must be"):
        aligned_weight(perfect, torch.tensor([0, 1, 2, 3, 9]))
    with pytest.raises(ValueError, match=r"\(\.\.\., m, n\)"):
        aligned_weight(torch.ones(5))


def test_evaluate_counts_letters_and_sequences(models):
    test_set = held_out_set([3, 4], per_length=20)
    results = evaluate(models["dot"], test_set)
    source, target = test_set[4]
    tokens, weights = models["dot"].greedy_decode(source)
    assert results[4]["token_accuracy"] == pytest.approx((tokens == target).float().mean().item())
    assert results[4]["sequence_accuracy"] == pytest.approx((tokens == target).all(-1).float().mean().item())
    assert results[4]["aligned_weight"] == pytest.approx(aligned_weight(weights).mean().item())
    assert 0 <= results[3]["aligned_near"] <= 1 and 0 <= results[3]["aligned_argmax"] <= 1
    none = evaluate(models["none"], test_set)
    assert none[3]["aligned_weight"] is None and none[3]["aligned_argmax"] is None
    with pytest.raises(TypeError, match="Seq2Seq"):
        evaluate(nn.Linear(2, 2), test_set)


# --------------------------------------------------------------------------- several seeds at once


def test_fast_tanh_is_tanh_with_its_gradient():
    x = torch.linspace(-12, 12, 2001, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(fast_tanh(x), torch.tanh(x), atol=1e-15, rtol=0)
    assert torch.autograd.gradcheck(fast_tanh, (x[::50].detach().clone().requires_grad_(),))
    x32 = torch.randn(10_000, generator=torch.Generator().manual_seed(0)) * 4
    assert (fast_tanh(x32) - torch.tanh(x32)).abs().max() < 3e-7
    with pytest.raises(TypeError, match="float"):
        fast_tanh(torch.arange(3))


def test_gru_update_is_a_gru_cell():
    torch.manual_seed(0)
    cell = nn.GRUCell(5, 4)
    x, h = torch.randn(3, 5), torch.randn(3, 4)
    gi, gh = x @ cell.weight_ih.T + cell.bias_ih, h @ cell.weight_hh.T + cell.bias_hh
    torch.testing.assert_close(gru_update(gi, gh, h), cell(x, h), atol=1e-6, rtol=1e-5)


KINDS = ["additive", "additive", "dot", "none"]


@pytest.fixture(scope="module")
def stack():
    torch.manual_seed(0)
    models = [Seq2Seq(kind, **TINY) for kind in KINDS]
    return models, StackedSeq2Seq(models)


def test_stacked_models_compute_what_each_model_computes(stack):
    models, stacked = stack
    source, target = reversal_batch(3, 5, torch.Generator().manual_seed(0))
    logits, weights = stacked(source.expand(4, 3, 5), target.expand(4, 3, 5))
    assert logits.shape == (4, 3, 5, len(SYMBOLS)) and weights.shape == (3, 3, 5, 5)  # 3 attending models
    losses = []
    for m, model in enumerate(models):
        own_logits, own_weights = model(source, target)
        torch.testing.assert_close(logits[m], own_logits, atol=1e-5, rtol=1e-5)
        if own_weights is not None:
            torch.testing.assert_close(weights[m], own_weights, atol=1e-6, rtol=1e-5)
        losses.append(F.cross_entropy(own_logits.flatten(0, 1), target.flatten()))
        model.zero_grad()
        losses[-1].backward()
    stacked.zero_grad()
    sum(F.cross_entropy(logits[m].flatten(0, 1), target.flatten()) for m in range(4)).backward()
    for m, model in enumerate(models):  # each model's gradients, through every stacked parameter
        torch.testing.assert_close(stacked.cell_w_ih.grad[m], model.cell.weight_ih.grad, atol=1e-6, rtol=1e-4)
        reverse = model.encoder.gru.weight_hh_l0_reverse.grad
        torch.testing.assert_close(stacked.encoder_w_hh.grad[m, 1], reverse, atol=1e-6, rtol=1e-4)
        torch.testing.assert_close(stacked.embedding.grad[m], model.encoder.embedding.weight.grad, atol=1e-6, rtol=1e-4)
        if m < 3:
            torch.testing.assert_close(stacked.attention_W.grad[m], model.attention.W.weight.grad, atol=1e-6, rtol=1e-4)
        if m < 2:
            torch.testing.assert_close(stacked.attention_v.grad[m], model.attention.v.weight.grad, atol=1e-6, rtol=1e-4)
    assert stacked.attention_W.shape[0] == 3 and stacked.attention_v.shape[0] == 2


def test_stacked_greedy_decoding_and_unstack_give_back_each_model(stack):
    models, stacked = stack
    source, _ = reversal_batch(4, 6, torch.Generator().manual_seed(3))
    tokens, weights = stacked.greedy_decode(source, m=7)
    assert tokens.shape == (4, 4, 7) and weights.shape == (4, 4, 7, 6)
    for m, model in enumerate(models):
        own_tokens, own_weights = model.greedy_decode(source, m=7)
        assert torch.equal(tokens[m], own_tokens)
        torch.testing.assert_close(weights[m], own_weights, atol=1e-6, rtol=1e-5)
    for model, back in zip(models, stacked.unstack(), strict=True):
        assert back.attention_kind == model.attention_kind and not back.training
        for (name, p), (back_name, q) in zip(model.named_parameters(), back.named_parameters(), strict=True):
            assert name == back_name and torch.equal(p, q), name


def test_stacked_models_reject_what_they_cannot_stack(stack):
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="grouped by attention kind"):
        StackedSeq2Seq([Seq2Seq("dot", **TINY), Seq2Seq("additive", **TINY)])
    with pytest.raises(ValueError, match="share d_embed"):
        StackedSeq2Seq([Seq2Seq("dot", **TINY), Seq2Seq("dot", d_embed=8, d_hidden=4, d_a=8)])
    with pytest.raises(TypeError, match="list of Seq2Seq"):
        StackedSeq2Seq([nn.Linear(2, 2)])
    _, stacked = stack
    with pytest.raises(ValueError, match=r"\(M=4, B, n\)"):
        stacked.greedy_decode(torch.zeros(3, 2, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="between 0 and 25"):
        stacked.greedy_decode(torch.full((2, 5), 26))
    only_attention = StackedSeq2Seq([Seq2Seq("additive", **TINY), Seq2Seq("dot", **TINY)])  # no model without
    assert only_attention.greedy_decode(torch.zeros(2, 3, dtype=torch.long))[0].shape == (2, 2, 3)
    only_none = StackedSeq2Seq([Seq2Seq("none", **TINY)])
    assert (
        only_none.attention_W is None
        and only_none(torch.zeros(1, 2, 3, dtype=torch.long), torch.zeros(1, 2, 3, dtype=torch.long))[1] is None
    )


def test_each_model_is_clipped_as_if_alone():
    grads = [torch.tensor([[3.0, 4.0], [0.3, 0.4]]), torch.tensor([[12.0]])]  # model 1 has no second parameter
    parameters = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(parameters, grads, strict=True):
        p.grad = g.clone()
    norms = clip_per_model(parameters, 2, max_norm=1.0)
    torch.testing.assert_close(norms, torch.tensor([13.0, 0.5]))
    torch.testing.assert_close(
        parameters[0].grad, torch.tensor([[3.0, 4.0], [0.3, 0.4]]) / torch.tensor([[13.0], [1.0]]), atol=1e-6, rtol=1e-5
    )
    torch.testing.assert_close(parameters[1].grad, torch.tensor([[12.0 / 13]]), atol=1e-6, rtol=1e-5)


SEED_SETTINGS = {"steps": 6, "batch_size": 8, "lengths": (3, 5), **TINY}


@pytest.fixture(scope="module")
def runs():
    return train_seeds(seeds=[0, 1], **SEED_SETTINGS)


def test_train_seeds_trains_each_kind_with_each_seed(runs):
    assert runs.kinds == ("additive", "additive", "dot", "dot", "none", "none")
    assert runs.seeds == (0, 1, 0, 1, 0, 1) and runs.losses.shape == (6, 6)
    assert runs.seeds_of("dot") == [0, 1] and runs.losses_of("none").shape == (6, 2)
    assert [model.attention_kind for model in runs.models("dot")] == ["dot", "dot"]
    assert runs.lengths == (3, 5) and runs.seconds > 0 and not runs.stacked.training
    torch.manual_seed(0)
    untrained = Seq2Seq("dot", **TINY)  # seed 0 starts from torch.manual_seed(0), as train_model's does
    assert not torch.equal(runs.models("dot")[0].readout.weight, untrained.readout.weight)  # it trained
    torch.testing.assert_close(
        runs.models("dot")[0].encoder.embedding.weight.shape, untrained.encoder.embedding.weight.shape
    )
    with pytest.raises(ValueError, match="no models of kind"):
        runs.models("lstm")


def test_a_seed_trains_the_same_model_whatever_the_other_models_of_the_stack(runs):
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    alone = train_seeds(seeds=[1], kinds=["dot"], **SEED_SETTINGS)
    assert torch.rand(1) == before, "training must not consume the global random stream"
    assert torch.get_num_threads() == threads
    torch.testing.assert_close(alone.losses[:, 0], runs.losses_of("dot")[:, 1], atol=1e-5, rtol=1e-5)
    for p, q in zip(alone.models("dot")[0].parameters(), runs.models("dot")[1].parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)
    again = train_seeds(seeds=[0, 1], **SEED_SETTINGS)
    assert torch.equal(again.losses, runs.losses)
    assert not torch.equal(runs.losses_of("dot")[:, 0], runs.losses_of("dot")[:, 1])


def test_training_several_seeds_lowers_the_loss():
    settings = {"steps": 40, "batch_size": 32, "lengths": (3, 3), "lr": 0.01, "d_hidden": 16, "d_a": 16}
    runs = train_seeds(seeds=[0, 1], kinds=["dot"], **settings)
    assert (runs.losses[-5:].mean(0) < 0.6 * runs.losses[0]).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"seeds": [0, 0]}, ValueError, "seeds must differ from each other"),
        ({"seeds": []}, ValueError, "seeds is empty"),
        ({"seeds": "01"}, TypeError, "seeds must be a list"),
        ({"kinds": ["lstm"]}, ValueError, "kinds must be"),
        ({"kinds": "dot"}, TypeError, "kinds must be a list"),
        ({"steps": 0}, ValueError, "steps must be >= 1"),
        ({"lengths": (5, 3)}, ValueError, "min_n <= max_n"),
        ({"lr": 0}, ValueError, "lr must be > 0"),
    ],
)
def test_train_seeds_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        train_seeds(**{**SEED_SETTINGS, "steps": 1, **kwargs})


def test_evaluate_seeds_measures_what_evaluate_measures(runs):
    test_set = held_out_set([3, 5], per_length=20)
    evaluation = evaluate_seeds(runs, test_set)
    assert evaluation.lengths == [3, 5] and evaluation.seeds == [0, 1]
    assert set(evaluation.results["none"]) == {"token_accuracy", "sequence_accuracy"}
    for kind in ("additive", "dot", "none"):
        for s, model in enumerate(runs.models(kind)):
            alone = evaluate(model, test_set)
            for metric, values in evaluation.results[kind].items():
                for column, n in enumerate(evaluation.lengths):
                    assert values[s, column].item() == pytest.approx(alone[n][metric], abs=1e-6), (kind, metric)
    assert evaluation.at("dot", "aligned_weight", 5).shape == (2,)
    with pytest.raises(ValueError, match="have no 'aligned_weight'"):
        evaluation.of("none", "aligned_weight")
    with pytest.raises(ValueError, match="was not evaluated"):
        evaluation.at("dot", "token_accuracy", 4)
    with pytest.raises(TypeError, match="SeedRuns"):
        evaluate_seeds({"dot": runs}, test_set)


def synthetic_evaluation(none_short=0.9, none_long=0.25, additive_long=0.85, dot_long=0.92, dot_weight=0.9):
    """A SeedEvaluation of 5 seeds and the lengths SHORT..LONG, with chosen accuracies at SHORT and LONG."""
    lengths = list(range(SHORT, LONG + 1))
    spread = torch.tensor([-0.02, -0.01, 0.0, 0.01, 0.02])[:, None]

    def line(short, long):  # (5, L): a straight line from short to long, seeds spread around it
        return (torch.linspace(short, long, len(lengths))[None, :] + spread).clamp(0, 1)

    def attending(long, weight):
        return {
            "token_accuracy": line(1.0, long),
            "sequence_accuracy": line(1.0, long - 0.3),
            "aligned_weight": line(0.95, weight),
            "aligned_near": line(1.0, 0.95),
            "aligned_argmax": line(1.0, weight),
        }

    results = {
        "additive": attending(additive_long, 0.44),
        "dot": attending(dot_long, dot_weight),
        "none": {"token_accuracy": line(none_short, none_long), "sequence_accuracy": line(none_short - 0.1, 0.0)},
    }
    return SeedEvaluation(lengths=lengths, seeds=[0, 1, 2, 3, 4], results=results)


def test_bottleneck_summary_counts_seeds_and_its_verdicts_follow_the_thresholds():
    text = bottleneck_summary(synthetic_evaluation())
    assert f"at least {FALLS_BY} points" in text and f"at least {ABOVE_BY} points" in text
    assert "none    : falls with length in 5 of 5 seeds" in text
    assert "additive: falls with length in 0 of 5 seeds; far above in 5 of 5 seeds" in text
    assert text.endswith(
        "with length): supported\nthe fix (every attention model far above it at 10 letters): supported"
    )
    flat = bottleneck_summary(synthetic_evaluation(none_short=0.5, none_long=0.4))  # no fall without attention
    assert "the bottleneck (only the model without attention falls with length): not supported" in flat
    close = bottleneck_summary(synthetic_evaluation(additive_long=0.5))  # additive only 23 points above
    assert "additive: falls with length in 5 of 5 seeds; far above in 0 of 5 seeds" in close
    assert "the fix (every attention model far above it at 10 letters): not supported" in close
    with pytest.raises(ValueError, match="needs the models without attention"):
        bottleneck_summary(SeedEvaluation([3, 10], [0], {"dot": {}}))
    with pytest.raises(TypeError, match="SeedEvaluation"):
        bottleneck_summary({})


def test_scoring_comparison_pairs_the_seeds_and_can_find_no_difference():
    text = scoring_comparison(synthetic_evaluation())
    assert "dot     : more accurate in 5 of 5 seeds, sharper in 5 of 5 seeds" in text
    assert "accuracy: dot-product scoring more accurate\nalignment: dot-product scoring sharper" in text
    assert f"at least {SHARPER_BY} more weight" in text
    tie = scoring_comparison(synthetic_evaluation(dot_long=0.85, dot_weight=0.44 + SHARPER_BY / 2))
    assert "accuracy: no clear difference\nalignment: no clear difference" in tie
    with pytest.raises(ValueError, match="both the additive and the dot-product"):
        scoring_comparison(SeedEvaluation([3], [0], {"dot": {}}))


def test_alignment_verdict_counts_the_seeds_that_read_near_the_letter():
    evaluation = synthetic_evaluation()  # aligned_near 0.93 to 0.97 at 10 letters
    text = alignment_verdict(evaluation)
    assert f"at least {ALIGNS} of the weight within one position" in text and "uniform weights: 0.3" in text
    assert "additive: aligns in 5 of 5 seeds\ndot     : aligns in 5 of 5 seeds" in text
    assert text.endswith("(one training, the letters alone): supported")
    evaluation.results["additive"]["aligned_near"][:2, -1] = ALIGNS - 0.01  # two seeds read elsewhere
    text = alignment_verdict(evaluation)
    assert "additive: aligns in 3 of 5 seeds" in text and text.endswith("letters alone): not supported")
    evaluation.results["additive"]["aligned_near"][1, -1] = ALIGNS  # the threshold itself counts
    assert "additive: aligns in 4 of 5 seeds" in alignment_verdict(evaluation)
    with pytest.raises(ValueError, match="at least one attention model"):
        alignment_verdict(SeedEvaluation([3, 10], [0], {"none": {}}))
    with pytest.raises(TypeError, match="SeedEvaluation"):
        alignment_verdict({})


def test_tables_print_medians_with_the_digits_that_hold():
    evaluation = synthetic_evaluation()
    table = accuracy_table(evaluation)
    assert "letters right (%), median of 5 seeds [lowest–highest]" in table
    assert " 100 [ 98–100]" in table and "  25 [ 23– 27]" in table  # none at 10 letters: 0.25 ± 0.02
    alignment = alignment_table(evaluation).splitlines()
    assert alignment[0].startswith("median of 5 seeds") and len(alignment) == 1 + 2 * 3 + 1
    assert alignment[1].split()[-1] == "0.4" and alignment[-1].endswith("0.10")  # one decimal; 1/n exact


def test_loss_and_example_summaries(runs):
    text = loss_summary(runs)
    assert text.splitlines()[0] == "chance (uniform over 26 letters): loss ln 26 = 3.26"
    assert len(text.splitlines()) == 4 and "over 2 seeds" in text
    source = held_out_set([4], per_length=1)[4][0]
    summary = example_summary(runs, source)
    tokens, _ = runs.stacked.greedy_decode(source)
    right = int((tokens[:2, 0] == source[0].flip(-1)).all(-1).sum())
    assert summary.startswith(f"source: {''.join(to_tokens(source[0]))}, its reversal: ")
    assert summary.endswith(
        f"additive {right} of 2 seeds, dot {int((tokens[2:4, 0] == source[0].flip(-1)).all(-1).sum())} of 2 seeds"
    )
    with pytest.raises(TypeError, match="SeedRuns"):
        loss_summary(runs.stacked)


# --------------------------------------------------------------------------- sequential steps and timing


def test_the_decoder_runs_once_per_target_letter_whatever_the_batch(models):
    model = models["additive"]
    source, _ = reversal_batch(16, 5, torch.Generator().manual_seed(0))
    assert count_decoder_steps(model, source) == 5
    assert count_decoder_steps(model, source[:1]) == 5
    assert count_decoder_steps(model, source, m=9) == 9
    assert count_decoder_steps(model, source, m=7, teacher_forcing=True) == 7
    assert not model.cell._forward_hooks, "the counting hook is removed"


def test_timings_are_positive_and_the_additive_intermediate_is_d_a_times_larger():
    assert time_decoder_loop(4, d_model=8, repeats=1) > 0
    assert time_self_attention(4, d_model=8, repeats=1) > 0
    additive_s, additive_bytes = time_scoring_all_pairs(16, d_a=8, scoring="additive", repeats=1)
    dot_s, dot_bytes = time_scoring_all_pairs(16, d_a=8, scoring="dot", repeats=1)
    assert additive_s > 0 and dot_s > 0
    assert (additive_bytes, dot_bytes) == (16 * 16 * 8 * 4, 16 * 16 * 4)
    with pytest.raises(ValueError, match="scoring must be"):
        time_scoring_all_pairs(4, scoring="none")


# --------------------------------------------------------------------------- figures


def test_plots_draw_one_line_per_model_and_return_the_axes():
    evaluations = {
        "additive": {
            3: {"token_accuracy": 1.0, "sequence_accuracy": 1.0},
            5: {"token_accuracy": 0.9, "sequence_accuracy": 0.5},
        },
        "none": {
            3: {"token_accuracy": 0.8, "sequence_accuracy": 0.4},
            5: {"token_accuracy": 0.4, "sequence_accuracy": 0.0},
        },
    }
    fig, ax = plt.subplots()
    assert plot_accuracy_by_length(evaluations, ax) is ax
    assert [line.get_ydata().tolist() for line in ax.lines] == [[100.0, 90.0], [80.0, 40.0]]
    assert ax.get_legend() is not None and ax.get_title()
    with pytest.raises(ValueError, match="metric must be"):
        plot_accuracy_by_length(evaluations, ax, metric="loss")
    with pytest.raises(ValueError, match="unknown model"):
        plot_accuracy_by_length({"lstm": evaluations["none"]}, ax)
    result = train_model("none", steps=3, batch_size=4, lengths=(3, 3), **TINY)
    fig, ax = plt.subplots()
    assert plot_losses([result], ax, window=2) is ax and len(ax.lines) == 1
    assert len(ax.lines[0].get_ydata()) == 2  # running means over 2 of 3 steps
    plt.close("all")


def test_plots_of_several_seeds_draw_the_median_and_the_range(runs):
    evaluation = synthetic_evaluation()
    fig, ax = plt.subplots()
    assert plot_accuracy_by_length(evaluation, ax, "sequence_accuracy") is ax
    assert len(ax.lines) == 3 and len(ax.collections) == 3  # one median line and one band per kind
    medians = evaluation.of("none", "sequence_accuracy").median(0).values
    torch.testing.assert_close(torch.tensor(ax.lines[2].get_ydata(), dtype=torch.float32), 100 * medians)
    fig, ax = plt.subplots()
    assert plot_losses(runs, ax, window=3) is ax and len(ax.lines) == 3 and len(ax.collections) == 3
    assert len(ax.lines[0].get_ydata()) == 4  # running means over 3 of 6 steps
    plt.close("all")
