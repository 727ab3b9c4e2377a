"""helpers.bahdanau: the alignment model against hand-written references and PyTorch's own layers,
the encoder against nn.GRUCell loops with copied weights, the decoder, training and measurements."""

import math

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.attention import scaled_dot_product_attention, softmax
from helpers.bahdanau import (
    BOS,
    SYMBOLS,
    BahdanauAttention,
    Encoder,
    Seq2Seq,
    additive_scores,
    aligned_weight,
    context_vector,
    count_decoder_steps,
    count_parameters,
    dot_product_scores,
    evaluate,
    held_out_set,
    is_held_out,
    plot_accuracy_by_length,
    plot_losses,
    reversal_batch,
    time_decoder_loop,
    time_scoring_all_pairs,
    time_self_attention,
    to_ids,
    to_tokens,
    train_model,
)

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
