"""The tiny transformer of lesson 09: data, model (against PyTorch's own layers), training, generation,
looking inside, and the committed checkpoint."""

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.lessons.l09_transformer_end_to_end.checkpoint import (
    CHECKPOINT_PATH,
    STATED_ACCURACY,
    load_checkpoint,
    save_checkpoint,
    write_checkpoint,
)
from helpers.lessons.l09_transformer_end_to_end.evaluation import accuracy_by_length, exact_match
from helpers.lessons.l09_transformer_end_to_end.figures import (
    plot_ablation,
    plot_heads,
    plot_losses,
    plot_mistakes_by_length,
)
from helpers.lessons.l09_transformer_end_to_end.generation import generate
from helpers.lessons.l09_transformer_end_to_end.head_analysis import (
    ablate_head,
    attention_maps,
    head_ablation,
    head_means,
    head_patterns,
    name_heads,
)
from helpers.lessons.l09_transformer_end_to_end.sorting_task import (
    IGNORE,
    MAX_DIGITS,
    N_POSITIONS,
    PAD_ID,
    SEP_ID,
    TEST_SIZE,
    _sequence_keys,
    decode,
    encode,
    held_out_set,
    input_lengths,
    is_held_out,
    make_examples,
    parse_digits,
    sample_batch,
)
from helpers.lessons.l09_transformer_end_to_end.tiny_transformer import CONFIG, TinyTransformer, count_parameters
from helpers.lessons.l09_transformer_end_to_end.training import learning_rate, train
from helpers.library.positions import sinusoidal_encoding
from helpers.machinery.threads import one_thread

matplotlib.use("agg")

SMALL = {**CONFIG, "d_model": 16, "n_heads": 2, "d_ff": 24}


@pytest.fixture(scope="module", autouse=True)
def on_one_thread():
    """Tiny tensors: one thread is faster, and on a busy 2-core machine much faster (the helpers do the same)."""
    with one_thread():
        yield


@pytest.fixture(scope="module")
def checkpoint():
    return load_checkpoint(CHECKPOINT_PATH)


@pytest.fixture(scope="module")
def held_out():
    return held_out_set()


def random_model(positions="learned", seed=0):
    torch.manual_seed(seed)
    model = TinyTransformer(**{**SMALL, "positions": positions})
    with torch.no_grad():  # LayerNorms start at γ = 1, β = 0: make them random so a mix-up would show
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.add_(0.3 * torch.randn_like(parameter))
    return model.eval()


# ---------------------------------------------------------------- data


def test_make_examples_writes_input_separator_sorted_output_and_padding():
    digits = torch.tensor([[3, 1, 4, 1, 0, 0], [9, 0, 0, 0, 0, 0]])
    tokens, targets = make_examples(digits, torch.tensor([4, 1]))
    assert decode(tokens[0]) == "3141=1134___"  # only the last token of a full-length sequence is cut
    assert decode(tokens[1]) == "9=9_________"
    # targets[p] is the token at p + 1, scored only where that token is an output digit
    assert targets[0].tolist() == [IGNORE] * 4 + [1, 1, 3, 4] + [IGNORE] * 4
    assert targets[1].tolist() == [IGNORE, 9] + [IGNORE] * 10


def test_make_examples_refuses_bad_shapes_and_values():
    with pytest.raises(ValueError, match=r"digits must be \(B, 6\)"):
        make_examples(torch.zeros(2, 5, dtype=torch.long), torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="lengths must lie in 1 .. 6"):
        make_examples(torch.zeros(1, 6, dtype=torch.long), torch.tensor([0]))
    with pytest.raises(ValueError, match="digits in 0 .. 9"):
        make_examples(torch.full((1, 6), 10), torch.tensor([3]))


def test_sequence_keys_tell_every_length_and_digit_string_apart():
    digits = torch.tensor([[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [1, 2, 0, 0, 0, 0], [1, 2, 9, 9, 9, 9]])
    keys = _sequence_keys(digits, torch.tensor([1, 2, 2, 2]))
    assert keys.tolist() == [10, 100, 112, 112]  # digits beyond the length do not count


def test_training_batches_never_hold_a_test_sequence(held_out):
    tokens, _ = held_out
    generator = torch.Generator().manual_seed(0)
    training = torch.cat([sample_batch(generator, 512)[0] for _ in range(10)])
    test_strings, train_strings = {decode(row) for row in tokens}, {decode(row) for row in training}
    assert len(test_strings) == TEST_SIZE  # all different
    assert not test_strings & train_strings
    assert len(train_strings) > 3000  # short inputs repeat: there are only 9 training inputs of length 1


def test_about_one_sequence_in_ten_is_held_out():
    generator = torch.Generator().manual_seed(3)
    lengths = torch.randint(4, MAX_DIGITS + 1, (20000,), generator=generator)
    digits = torch.randint(0, 10, (20000, MAX_DIGITS), generator=generator)
    assert 0.09 < is_held_out(digits, lengths).float().mean().item() < 0.11


def test_test_set_is_seeded_and_scored_where_the_answer_is(held_out):
    tokens, targets = held_out
    again, _ = held_out_set()
    assert torch.equal(tokens, again) and tokens.shape == (TEST_SIZE, N_POSITIONS)
    lengths = input_lengths(tokens)
    assert ((targets != IGNORE).sum(dim=-1) == lengths).all()  # one scored position per output digit
    for row, target in zip(tokens[:50], targets[:50], strict=True):
        question = decode(row).split("=")[0]
        assert decode(target[target != IGNORE]) == "".join(sorted(question))  # the scored tokens: the answer


@pytest.mark.parametrize(("typed", "digits"), [("31415", "31415"), (" 3 1, 4 ", "314"), ("000000", "000000")])
def test_parse_digits_accepts_digits_with_spaces_and_commas(typed, digits):
    assert parse_digits(typed) == digits


@pytest.mark.parametrize(
    ("typed", "error", "match"),
    [
        ("", ValueError, "the box is empty"),
        ("   ", ValueError, "the box is empty"),
        ("12a4", ValueError, "only the digits 0-9 are allowed; found 'a'"),
        ("3.14", ValueError, "found '.'"),
        ("1234567", ValueError, "7 digits is too many: the model was trained on 1 to 6"),
        (1234, TypeError, "must be text"),
    ],
)
def test_parse_digits_says_what_is_wrong(typed, error, match):
    with pytest.raises(error, match=match):
        parse_digits(typed)


def test_encode_and_decode_round_trip_and_refuse_unknown_tokens():
    assert decode(encode("31=13_")) == "31=13_"
    assert encode("=").tolist() == [SEP_ID]
    with pytest.raises(ValueError, match="found"):
        encode("3+1")
    with pytest.raises(ValueError, match="ids must lie in"):
        decode([0, 12])
    with pytest.raises(ValueError, match="1-D"):
        decode(torch.zeros(2, 2, dtype=torch.long))


# ---------------------------------------------------------------- the model, against PyTorch's layers


def torch_reference(model):
    """The same model from torch.nn.TransformerEncoderLayer, nn.LayerNorm and nn.Linear, weights copied in."""
    config = model.config
    d_model, n_heads, d_ff = config["d_model"], config["n_heads"], config["d_ff"]
    layers = []
    for block in model.blocks:
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=0.0, batch_first=True, norm_first=True)
        attention = block.attn
        with torch.no_grad():
            layer.self_attn.in_proj_weight.copy_(
                torch.cat([attention.w_q.weight, attention.w_k.weight, attention.w_v.weight])
            )
            layer.self_attn.in_proj_bias.copy_(torch.cat([attention.w_q.bias, attention.w_k.bias, attention.w_v.bias]))
            layer.self_attn.out_proj.weight.copy_(attention.w_o.weight)
            layer.self_attn.out_proj.bias.copy_(attention.w_o.bias)
            for theirs, mine in [(layer.linear1, block.ff[0]), (layer.linear2, block.ff[2])]:
                theirs.weight.copy_(mine.weight)
                theirs.bias.copy_(mine.bias)
            for theirs, mine in [(layer.norm1, block.norm1), (layer.norm2, block.norm2)]:
                theirs.weight.copy_(mine.weight)
                theirs.bias.copy_(mine.bias)
        layers.append(layer.eval())
    final = nn.LayerNorm(d_model)
    output = nn.Linear(d_model, config["vocab_size"])
    final.load_state_dict(model.norm.state_dict())
    output.load_state_dict(model.output.state_dict())
    if config["positions"] == "learned":
        table = model.positions.weight.detach().clone()
    else:
        table = sinusoidal_encoding(config["n_positions"], d_model)
    embedding = model.embedding.weight.detach().clone()

    def forward(tokens):
        n = tokens.shape[1]
        x = F.embedding(tokens, embedding) + table[:n]
        mask = nn.Transformer.generate_square_subsequent_mask(n)  # -inf above the diagonal
        weights = []
        for layer in layers:
            normed = layer.norm1(x)
            weights.append(
                layer.self_attn(normed, normed, normed, attn_mask=mask, need_weights=True, average_attn_weights=False)[
                    1
                ]
            )
            x = layer(x, src_mask=mask, is_causal=True)
        return output(final(x)), torch.stack(weights, dim=1)

    return forward


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_forward_matches_a_model_built_from_torch_transformer_encoder_layers(positions):
    model = random_model(positions)
    reference = torch_reference(model)
    tokens = torch.randint(0, SMALL["vocab_size"], (4, N_POSITIONS), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits, weights = model(tokens, return_weights=True)
        expected_logits, expected_weights = reference(tokens)
        shorter, _ = reference(tokens[:, :5])
    assert logits.shape == (4, N_POSITIONS, SMALL["vocab_size"])
    assert weights.shape == (4, SMALL["n_layers"], SMALL["n_heads"], N_POSITIONS, N_POSITIONS)
    torch.testing.assert_close(logits, expected_logits, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(weights, expected_weights, atol=1e-6, rtol=1e-4)
    with torch.no_grad():
        torch.testing.assert_close(model(tokens[:, :5]), shorter, atol=1e-5, rtol=1e-4)


def test_the_causal_mask_keeps_later_tokens_from_changing_earlier_predictions():
    model = random_model()
    tokens = torch.randint(0, 10, (2, N_POSITIONS), generator=torch.Generator().manual_seed(2))
    changed = tokens.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 10
    with torch.no_grad():
        before, weights = model(tokens, return_weights=True)
        after = model(changed)
    torch.testing.assert_close(before[:, :7], after[:, :7])
    assert not torch.allclose(before[:, 7:], after[:, 7:])
    assert torch.all(weights.triu(diagonal=1) == 0)


def test_without_positions_the_model_cannot_see_order():
    torch.manual_seed(0)
    model = TinyTransformer(**{**SMALL, "positions": "none", "n_layers": 1}).eval()
    tokens = encode("3141=11")[None]
    swapped = encode("1341=11")[None]
    with torch.no_grad():  # the last position sees the same multiset of tokens, so predicts the same
        torch.testing.assert_close(model(tokens)[0, -1], model(swapped)[0, -1])


@pytest.mark.parametrize(
    ("tokens", "match"),
    [
        (torch.zeros(2, 3), "int64 of shape"),
        (torch.zeros(3, dtype=torch.long), "int64 of shape"),
        (torch.zeros(1, N_POSITIONS + 1, dtype=torch.long), "n must be 1 .. n_positions=12"),
        (torch.full((1, 3), 12), "token ids must lie in 0 .. 11"),
    ],
)
def test_forward_refuses_bad_tokens(tokens, match):
    with pytest.raises(ValueError, match=match):
        random_model()(tokens)


def test_constructor_refuses_unknown_positions():
    with pytest.raises(ValueError, match="positions must be one of"):
        TinyTransformer(**{**SMALL, "positions": "rotary"})


def test_count_parameters_adds_up_and_follows_the_formula():
    model = TinyTransformer(**CONFIG)
    counts = count_parameters(model)
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    d, d_ff, vocab = CONFIG["d_model"], CONFIG["d_ff"], CONFIG["vocab_size"]
    assert counts["block 0"] == 4 * (d * d + d) + (d * d_ff + d_ff) + (d_ff * d + d) + 4 * d
    assert counts["token embedding"] == vocab * d and counts["positions"] == N_POSITIONS * d
    assert counts["output projection"] == d * vocab + vocab
    assert count_parameters(TinyTransformer(**{**CONFIG, "positions": "sinusoidal"}))["positions"] == 0
    with pytest.raises(TypeError, match="TinyTransformer"):
        count_parameters(nn.Linear(2, 2))


# ---------------------------------------------------------------- training


def test_learning_rate_warms_up_then_decays_to_zero():
    rates = [learning_rate(step, 100, 1.0) for step in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:], strict=False))
    assert rates[-1] == pytest.approx(0.0, abs=1e-3)


def test_training_is_seeded_and_calls_back_every_step():
    seen = []
    threads = torch.get_num_threads()
    model, losses = train(config=SMALL, steps=4, batch_size=8, callback=lambda step, loss: seen.append(step))
    again, losses_again = train(config=SMALL, steps=4, batch_size=8)
    other, _ = train(config=SMALL, steps=4, batch_size=8, seed=1)
    assert seen == [0, 1, 2, 3] and len(losses) == 4 and losses == losses_again
    assert torch.get_num_threads() == threads and not model.training
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(model.output.weight, other.output.weight)


def test_a_short_training_lowers_the_loss():
    _, losses = train(config=SMALL, steps=30, batch_size=32, lr=1e-2)
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"steps": 0}, ValueError, "steps must be >= 1"),
        ({"lr": -1.0}, ValueError, "lr must be > 0"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
        ({"callback": 3}, TypeError, "callback must be callable"),
    ],
)
def test_train_refuses_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        train(config=SMALL, **kwargs)


# ---------------------------------------------------------------- evaluation and generation


def test_exact_match_equals_the_verdict_of_greedy_generation(checkpoint, held_out):
    model, _ = checkpoint
    tokens, targets = held_out
    verdicts = exact_match(model, tokens, targets)
    wrong = torch.nonzero(~verdicts).flatten()[:10].tolist()
    chosen = wrong + list(range(20))
    assert wrong, "the committed model should get a few held-out sequences wrong"
    for index in chosen:
        question = decode(tokens[index]).split("=")[0]
        assert generate(model, question)["correct"] == bool(verdicts[index]), question


def test_accuracy_by_length_averages_exact_match(checkpoint, held_out):
    model, _ = checkpoint
    tokens, targets = held_out
    result = accuracy_by_length(model, tokens, targets)
    assert result["all"] == pytest.approx(exact_match(model, tokens, targets).float().mean().item())
    lengths = input_lengths(tokens)
    six = exact_match(model, tokens[lengths == 6], targets[lengths == 6]).float().mean().item()
    assert result[6] == pytest.approx(six)


def test_generate_returns_each_steps_attention_row(checkpoint):
    model, _ = checkpoint
    result = generate(model, "3141")
    assert result["output"] == result["expected"] == "1134" and result["correct"]
    assert result["tokens"] == list("3141=113")
    n_layers, n_heads = model.config["n_layers"], model.config["n_heads"]
    assert result["weights"].shape == (4, n_layers, n_heads, 8)
    assert result["probabilities"].shape == (4, 12)
    torch.testing.assert_close(result["probabilities"].sum(dim=-1), torch.ones(4))
    for step in range(4):
        row = result["weights"][step]  # (n_layers, n_heads, 8)
        existing = 4 + 1 + step  # the tokens that existed at that step
        torch.testing.assert_close(row[..., :existing].sum(dim=-1), torch.ones(n_layers, n_heads))
        assert torch.all(row[..., existing:] == 0)
    # the causal mask makes each step's row equal the same row of one pass over the whole sequence
    with torch.no_grad():
        _, weights = model(encode("3141=113")[None], return_weights=True)
    torch.testing.assert_close(result["weights"].permute(1, 2, 0, 3), weights[0, :, :, 4:8, :], atol=1e-6, rtol=0)


def test_generate_refuses_bad_input(checkpoint):
    with pytest.raises(ValueError, match="only the digits"):
        generate(checkpoint[0], "12x")
    with pytest.raises(ValueError, match="too many"):
        generate(checkpoint[0], "1234567")


# ---------------------------------------------------------------- looking inside


def test_head_patterns_measure_weights_on_the_named_keys(checkpoint, held_out):
    model, _ = checkpoint
    tokens, targets = held_out[0][:200], held_out[1][:200]
    patterns = head_patterns(model, tokens, targets)
    shape = (model.config["n_layers"], model.config["n_heads"])
    for name, values in patterns.items():
        assert values.shape == shape, name
        assert torch.all((values >= 0) & (values <= 1 + 1e-6)), name
    # "itself" is the mean diagonal weight over the scored queries, computed directly
    with torch.no_grad():
        _, weights = model(tokens, return_weights=True)
    scored = targets != IGNORE
    diagonal = torch.diagonal(weights, dim1=-2, dim2=-1)  # (B, n_layers, n_heads, n)
    expected = diagonal.permute(1, 2, 0, 3)[:, :, scored].mean(dim=-1)
    torch.testing.assert_close(patterns["itself"], expected)
    names = name_heads(patterns)
    assert set(names) == {(layer, head) for layer in range(shape[0]) for head in range(shape[1])}
    for (layer, head), (pattern, value) in names.items():
        assert value == pytest.approx(max(patterns[name][layer, head].item() for name in patterns))
        assert patterns[pattern][layer, head].item() == pytest.approx(value)
    with pytest.raises(ValueError, match="head_patterns"):
        name_heads({"nonsense": torch.zeros(2, 2)})


def test_ablating_a_head_removes_exactly_its_output():
    model = random_model()
    ablated = ablate_head(model, 1, 0)
    d_k = model.blocks[1].attn.d_k
    assert torch.all(ablated.blocks[1].attn.w_o.weight[:, :d_k] == 0)
    assert torch.equal(ablated.blocks[1].attn.w_o.weight[:, d_k:], model.blocks[1].attn.w_o.weight[:, d_k:])
    assert not torch.all(model.blocks[1].attn.w_o.weight[:, :d_k] == 0)  # the original is untouched

    def zero_head_zero(module, inputs):  # the same, done to the concatenated heads before w_o
        concatenated = inputs[0].clone()
        concatenated[..., :d_k] = 0
        return (concatenated,)

    hook = model.blocks[1].attn.w_o.register_forward_pre_hook(zero_head_zero)
    tokens = torch.randint(0, 10, (3, N_POSITIONS), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = model(tokens)
    hook.remove()
    with torch.no_grad():
        torch.testing.assert_close(ablated(tokens), expected)
    with pytest.raises(ValueError, match="layer must be < 2 and head < 2"):
        ablate_head(model, 2, 0)


def test_head_ablation_lists_each_heads_accuracy(checkpoint, held_out):
    model, _ = checkpoint
    tokens, targets = held_out[0][:300], held_out[1][:300]
    table = head_ablation(model, tokens, targets)
    assert table.shape == (model.config["n_layers"], model.config["n_heads"])
    expected = exact_match(ablate_head(model, 0, 1), tokens, targets).float().mean()
    assert table[0, 1].item() == pytest.approx(expected.item())
    assert table.min() < exact_match(model, tokens, targets).float().mean()  # some head matters


def concatenated_heads(model, layer, tokens):
    """The input of block `layer`'s w_o, (B, n, d_model), captured by a hook of the test's own."""
    captured = []
    hook = model.blocks[layer].attn.w_o.register_forward_pre_hook(lambda module, inputs: captured.append(inputs[0]))
    with torch.no_grad():
        model(tokens)
    hook.remove()
    return captured[0]


def test_head_means_average_each_heads_output_over_the_real_tokens():
    model = random_model()
    tokens = torch.randint(0, 10, (4, N_POSITIONS), generator=torch.Generator().manual_seed(5))
    tokens[:, 8:] = PAD_ID
    means = head_means(model, tokens)
    d_k = model.blocks[0].attn.d_k
    assert means.shape == (2, 2, d_k)
    for layer in range(2):
        heads = concatenated_heads(model, layer, tokens)[:, :8]  # the positions that are not padding
        for head in range(2):
            expected = heads[..., head * d_k : (head + 1) * d_k].reshape(-1, d_k).mean(dim=0)
            torch.testing.assert_close(means[layer, head], expected)
    with pytest.raises(ValueError, match=r"\(B, n\)"):
        head_means(model, tokens[0])


def test_mean_ablation_replaces_a_heads_output_by_a_constant_vector():
    model = random_model()
    tokens = torch.randint(0, 10, (3, N_POSITIONS), generator=torch.Generator().manual_seed(6))
    mean = head_means(model, tokens)[1, 1]
    d_k = model.blocks[1].attn.d_k

    def constant_head_one(module, inputs):  # head 1's slice of the concatenated heads set to `mean` everywhere
        concatenated = inputs[0].clone()
        concatenated[..., d_k : 2 * d_k] = mean
        return (concatenated,)

    hook = model.blocks[1].attn.w_o.register_forward_pre_hook(constant_head_one)
    with torch.no_grad():
        expected = model(tokens)
    hook.remove()
    ablated = ablate_head(model, 1, 1, mean=mean)
    with torch.no_grad():
        torch.testing.assert_close(ablated(tokens), expected)
        assert not torch.allclose(ablate_head(model, 1, 1)(tokens), expected)  # zeroing is something else
    assert torch.equal(model.blocks[1].attn.w_o.bias, random_model().blocks[1].attn.w_o.bias)  # original untouched
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        ablate_head(model, 1, 1, mean=torch.zeros(3))


def test_head_ablation_by_the_mean_uses_the_means_of_the_tokens(checkpoint, held_out):
    model, _ = checkpoint
    tokens, targets = held_out[0][:300], held_out[1][:300]
    table = head_ablation(model, tokens, targets, mode="mean")
    means = head_means(model, tokens)
    expected = exact_match(ablate_head(model, 0, 2, mean=means[0, 2]), tokens, targets).float().mean()
    assert table[0, 2].item() == pytest.approx(expected.item())
    assert not torch.equal(table, head_ablation(model, tokens, targets, mode="zero"))
    with pytest.raises(ValueError, match="mode must be one of"):
        head_ablation(model, tokens, targets, mode="random")


# ---------------------------------------------------------------- checkpoints


def test_save_and_load_give_back_the_same_model(tmp_path):
    model = random_model("sinusoidal")
    path = tmp_path / "model.pt"
    save_checkpoint(model, path, losses=[1.0, 0.5], accuracy=0.25)
    loaded, extra = load_checkpoint(path)
    assert loaded.config == model.config and not loaded.training
    assert extra == {"losses": [1.0, 0.5], "accuracy": 0.25}
    tokens = torch.randint(0, 10, (2, 6), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(loaded(tokens), model(tokens))
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(TypeError, match="TinyTransformer"):
        save_checkpoint(nn.Linear(2, 2), path)


def test_write_checkpoint_trains_and_saves_losses_and_accuracy(tmp_path):
    path = tmp_path / "small.pt"
    model, losses, accuracy = write_checkpoint(path, config=SMALL, steps=3, batch_size=8)
    loaded, extra = load_checkpoint(path)
    assert extra == {"losses": losses, "accuracy": accuracy} and len(losses) == 3
    assert torch.equal(loaded.output.weight, model.output.weight)


def test_the_committed_checkpoint_reaches_the_stated_accuracy(checkpoint, held_out):
    model, extra = checkpoint
    assert CHECKPOINT_PATH.stat().st_size < 300_000
    assert model.config == CONFIG
    accuracy = accuracy_by_length(model, *held_out)["all"]
    assert accuracy >= STATED_ACCURACY
    assert accuracy == pytest.approx(extra["accuracy"], abs=1e-6)


# ---------------------------------------------------------------- the remaining helpers and the figures


def test_attention_maps_are_the_rows_generation_used(checkpoint):
    model, _ = checkpoint
    tokens, maps = attention_maps(model, "4321")
    result = generate(model, "4321")
    assert tokens == result["tokens"] == list("4321=123")
    assert maps.shape == (model.config["n_layers"], model.config["n_heads"], 8, 8)
    torch.testing.assert_close(maps[:, :, 4:8, :].permute(2, 0, 1, 3), result["weights"], atol=1e-6, rtol=0)


def test_plot_losses_draws_each_given_curve_and_skips_none():
    fig, ax = plt.subplots()
    ax = plot_losses({"a": [2.0, 1.0, 0.5], "b": None, "c": [1.5, 0.7, 0.2]}, ax)
    assert [line.get_label() for line in ax.lines] == ["a", "c"]
    assert ax.lines[0].get_linestyle() != ax.lines[1].get_linestyle() and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="no losses"):
        plot_losses({"a": None}, ax)
    plt.close(fig)


def test_plot_mistakes_by_length_shows_the_share_sorted_wrongly():
    fig, ax = plt.subplots()
    accuracy = {"all": 0.9, 1: 1.0, 2: 0.75}
    ax = plot_mistakes_by_length(accuracy, {1: 10, 2: 4}, ax)
    assert [bar.get_height() for bar in ax.patches] == pytest.approx([0.0, 25.0])
    assert [text.get_text() for text in ax.texts] == ["0 of 10", "1 of 4"]
    plt.close(fig)


def test_plot_heads_draws_every_map_with_the_future_greyed(checkpoint):
    model, _ = checkpoint
    tokens, maps = attention_maps(model, "21")
    fig, axes = plt.subplots(2, 4)
    axes = plot_heads(maps, tokens, axes)
    shown = axes[1, 2].images[0].get_array()
    assert (shown.data == maps[1, 2].numpy()).all()
    assert shown.mask.tolist() == [
        [False, True, True, True],
        [False, False, True, True],
        [False, False, False, True],
        [False, False, False, False],
    ]
    assert axes[1, 2].get_title() == "layer 1 head 2"
    assert [t.get_text() for t in axes[1, 0].get_xticklabels()] == tokens and not axes[0, 1].get_xticks().size
    with pytest.raises(ValueError, match="one Axes per map"):
        plot_heads(maps, tokens, axes[0])
    plt.close(fig)


def test_plot_ablation_draws_one_bar_per_head_and_the_baseline():
    fig, ax = plt.subplots()
    ax = plot_ablation(torch.tensor([[0.5, 0.75], [0.25, 1.0]]), 0.9, ax)
    assert [bar.get_height() for bar in ax.patches] == pytest.approx([0.5, 0.75, 0.25, 1.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["L0 H0", "L0 H1", "L1 H0", "L1 H1"]
    assert ax.lines[0].get_ydata()[0] == pytest.approx(0.9)
    plt.close(fig)
