"""Tests for helpers.lessons.l04_masking's modules (toy_head, padding, causal_leakage, fully_masked_rows, decoding,
cheating, tables, figures): lesson 04's masks and measurements, checked against PyTorch and theory."""

import math

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from helpers.lessons.l04_masking.causal_leakage import (
    REPLACEMENT,
    influence_matrix,
    leakage_table,
    mask_placement_table,
)
from helpers.lessons.l04_masking.cheating import (
    NextTokenModel,
    cheating_experiment,
    copies_the_answer,
    next_token_accuracy,
    stays_honest,
    train_next_token_model,
    weight_on_next_token,
)
from helpers.lessons.l04_masking.decoding import decoding_steps, decoding_table
from helpers.lessons.l04_masking.figures import plot_influence
from helpers.lessons.l04_masking.fully_masked_rows import fully_masked_example, naive_masked_attention
from helpers.lessons.l04_masking.mask_placements import MASK_PLACEMENTS
from helpers.lessons.l04_masking.padding import (
    batch_vs_alone,
    left_pad,
    pad,
    pad_content_change,
    padded_batch,
    padding_experiment,
    sentence_mask,
)
from helpers.lessons.l04_masking.tables import (
    format_cheating_table,
    format_decoding_table,
    format_leakage_table,
    format_padding_table,
    format_placement_table,
)
from helpers.lessons.l04_masking.toy_head import (
    D_K,
    D_MODEL,
    PAD,
    SENTENCES,
    VOCABULARY,
    attend,
    embed,
    head_weights,
    project,
)
from helpers.library.attention import causal_mask, padding_mask, scaled_dot_product_attention
from helpers.machinery.plotting import MASKED_COLOR

matplotlib.use("agg")

CAT = list(SENTENCES["cat"])
ANIMAL = list(SENTENCES["animal"])


def _axes():
    return Figure().subplots()


# --------------------------------------------------------------------------- the toy head


def test_embed_gives_a_word_the_same_vector_in_every_sentence():
    x = embed(CAT)
    assert x.shape == (6, D_MODEL) and x.dtype == torch.float32
    torch.testing.assert_close(x[0], x[4])  # "the" twice
    torch.testing.assert_close(embed(["cat"])[0], x[1])
    torch.testing.assert_close(embed(ANIMAL)[1], embed(["animal"])[0])
    assert not torch.allclose(x[0], x[1])


def test_embed_a_batch_stacks_the_sentences():
    batch = embed([pad(CAT, 10), ANIMAL])
    assert batch.shape == (2, 10, D_MODEL)
    torch.testing.assert_close(batch[0, :6], embed(CAT))
    torch.testing.assert_close(batch[0, 6:], embed([PAD] * 4))


@pytest.mark.parametrize(
    ("tokens", "error", "match"),
    [
        (["the", "zebra"], ValueError, "outside the lesson's vocabulary: \\['zebra'\\]"),
        ("the cat", TypeError, "non-empty list of words"),
        ([], TypeError, "non-empty list of words"),
        (["the", 3], TypeError, "must hold strings"),
        ([["the", "cat"], ["the"]], ValueError, "sentences of one length"),
    ],
)
def test_embed_rejects_bad_tokens(tokens, error, match):
    with pytest.raises(error, match=match):
        embed(tokens)


def test_head_weights_are_copies_and_project_uses_them():
    w_q, w_k, w_v = head_weights()
    assert w_q.shape == w_k.shape == w_v.shape == (D_MODEL, D_K)
    x = embed(CAT)
    q, k, v = project(x)
    torch.testing.assert_close(q, x @ w_q)
    torch.testing.assert_close(v, x @ w_v)
    w_q.zero_()
    assert not torch.equal(project(x)[0], torch.zeros(6, D_K))  # the module's own weights are untouched
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., n, 16\), got \(6, 8\)"):
        project(torch.zeros(6, 8))


def test_attend_matches_torch_scaled_dot_product_attention():
    q, k, v = project(embed(ANIMAL))
    mask = causal_mask(10)
    output, weights = attend(ANIMAL, mask=mask)
    torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    torch.testing.assert_close(attend(ANIMAL)[0], F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(10))


def test_attend_on_a_padded_batch_matches_torch_with_a_key_mask():
    batch = padded_batch(SENTENCES)
    q, k, v = project(batch["x"])
    output, _ = attend(batch["x"], mask=batch["key_mask"])
    torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v, attn_mask=batch["key_mask"]))


def test_attend_rejects_an_unknown_placement_and_a_float_mask():
    with pytest.raises(ValueError, match="placement must be one of"):
        attend(CAT, mask=causal_mask(6), placement="-inf after softmax")
    with pytest.raises(TypeError, match="mask must be a bool tensor"):
        attend(CAT, mask=torch.ones(6, 6), placement="0 after softmax")
    with pytest.raises(ValueError, match=r"mask of shape \(5, 5\) does not broadcast to the scores' shape \(6, 6\)"):
        attend(CAT, mask=causal_mask(5), placement="0 after softmax")
    with pytest.raises(ValueError, match=r"mask of shape \(5, 5\) does not broadcast"):
        attend(CAT, mask=causal_mask(5))


# --------------------------------------------------------------------------- padding


def test_pad_and_left_pad():
    assert pad(["the", "cat"], 4) == ["the", "cat", PAD, PAD]
    assert left_pad(["the", "cat"], 4) == [PAD, PAD, "the", "cat"]
    assert pad(CAT, 6) == CAT
    with pytest.raises(ValueError, match="cannot pad 6 tokens to n=4"):
        pad(CAT, 4)
    with pytest.raises(ValueError, match="cannot pad 6 tokens to n=5"):
        left_pad(CAT, 5)


def test_padded_batch_pads_to_the_longest_and_builds_the_mask():
    batch = padded_batch(SENTENCES)
    assert batch["names"] == ["short", "cat", "animal"]
    assert batch["lengths"] == [3, 6, 10]
    assert all(len(row) == 10 for row in batch["tokens"])
    assert batch["tokens"][0][3:] == [PAD] * 7
    assert torch.equal(batch["mask"], padding_mask([3, 6, 10], 10))
    assert batch["key_mask"].shape == (3, 1, 10)
    assert batch["x"].shape == (3, 10, D_MODEL)
    as_list = padded_batch([SENTENCES["short"], SENTENCES["cat"]], n=8)
    assert as_list["names"] == [0, 1] and as_list["x"].shape == (2, 8, D_MODEL)


@pytest.mark.parametrize(
    ("sentences", "kwargs", "error", "match"),
    [
        ({}, {}, ValueError, "sentences is empty"),
        ("the cat", {}, TypeError, "sentences must be a dict"),
        (SENTENCES, {"n": 5}, ValueError, "cannot pad 6 tokens to n=5"),
    ],
)
def test_padded_batch_rejects_bad_input(sentences, kwargs, error, match):
    with pytest.raises(error, match=match):
        padded_batch(sentences, **kwargs)


def test_sentence_mask_kinds():
    assert sentence_mask("none", 5, 3) is None
    padding = sentence_mask("padding", 5, 3)
    assert torch.equal(padding, torch.tensor([[True, True, True, False, False]]).expand(5, 5))
    causal = sentence_mask("causal", 5, 3)
    assert torch.equal(causal, padding & causal_mask(5))
    assert torch.equal(sentence_mask("causal", 4), causal_mask(4))  # no padding: the plain causal mask
    with pytest.raises(ValueError, match="kind must be one of"):
        sentence_mask("future", 5, 3)
    with pytest.raises(ValueError, match="length=6 must be <= n=5"):
        sentence_mask("padding", 5, 6)


def test_padding_experiment_no_mask_moves_masked_does_not():
    result = padding_experiment(SENTENCES["short"], [0, 1, 4, 16])
    assert result["pads"] == [0, 1, 4, 16]
    assert result["no_mask"][0] == 0 and result["pad_share"][0] == 0
    assert (result["no_mask"][1:] > 0.5).all()
    assert (result["padding_mask"] < 1e-5).all()
    assert (result["pad_share"].diff() > 0).all()  # every pad takes more weight


def test_pad_share_follows_the_closed_form():
    """m identical pads take m·e^s_pad / (Σ_real e^s_j + m·e^s_pad) of each real query's weight."""
    tokens = list(SENTENCES["short"])
    q, k, _ = project(embed(pad(tokens, 4)))
    scores = q[:3] @ k.T / math.sqrt(D_K)  # (3 real queries, 3 real keys + 1 pad)
    real, pad_score = torch.exp(scores[:, :3]).sum(dim=-1), torch.exp(scores[:, 3])
    for m in (1, 5):
        expected = (m * pad_score / (real + m * pad_score)).mean()
        share = padding_experiment(tokens, [m])["pad_share"][0]
        assert share == pytest.approx(expected.item(), rel=1e-5)


def test_padding_experiment_rejects_bad_counts():
    with pytest.raises(ValueError, match="pad_counts is empty"):
        padding_experiment(CAT, [])
    with pytest.raises(ValueError, match="each pad count must be >= 0"):
        padding_experiment(CAT, [-1])
    with pytest.raises(TypeError, match="pad_counts must be a list of ints"):
        padding_experiment(CAT, 4)


def test_pad_content_does_not_matter_once_masked():
    no_mask, masked = pad_content_change(SENTENCES["short"], pads=4)
    assert no_mask > 0.1
    assert masked == 0.0


def test_a_masked_batch_equals_each_sentence_alone():
    rows = {row["name"]: row for row in batch_vs_alone(SENTENCES)}
    for row in rows.values():
        assert row["padding_mask"] < 1e-5
    assert rows["short"]["no_mask"] > 0.1 and rows["cat"]["no_mask"] > 0.1
    assert rows["animal"]["pads"] == 0 and rows["animal"]["no_mask"] < 1e-5  # no pad, nothing to hide


# --------------------------------------------------------------------------- causal masks and leakage


def test_influence_matrix_entry_is_the_change_of_one_output():
    influence = influence_matrix(CAT)
    altered = list(CAT)
    altered[3] = REPLACEMENT
    expected = (attend(altered)[0][1] - attend(CAT)[0][1]).abs().max().item()
    assert influence[1, 3].item() == pytest.approx(expected)
    assert influence.dtype == torch.float64 and influence.shape == (6, 6)


def test_causal_mask_stops_every_leak_exactly():
    influence_none = influence_matrix(ANIMAL)
    influence_causal = influence_matrix(ANIMAL, mask=causal_mask(10))
    later = torch.ones(10, 10, dtype=torch.bool).triu(diagonal=1)
    assert (influence_none[later] > 1e-3).all()
    assert (influence_causal[later] == 0).all()
    assert (influence_causal.diagonal() > 0).all()  # a token still changes its own output


def test_influence_matrix_replaces_a_word_by_another_one_when_it_is_the_replacement():
    influence = influence_matrix(["the", "dog", "sat"])
    assert (influence[:, 1] > 0).all()
    with pytest.raises(ValueError, match=r"mask must have shape \(3, 3\)"):
        influence_matrix(["the", "dog", "sat"], mask=causal_mask(4))


def test_leakage_table_rows():
    rows = leakage_table(ANIMAL)
    assert [row["later"] for row in rows] == list(range(9, -1, -1))
    assert rows[-1]["no_mask"] is None and rows[-1]["causal"] is None
    assert all(row["causal"] == 0.0 for row in rows[:-1])
    assert all(row["no_mask"] > 0.1 for row in rows[:-1])
    text = format_leakage_table(rows)
    assert "9 | tired" in text and "—" in text and text.count("\n") == 10


# --------------------------------------------------------------------------- where the mask goes


def _scores_and_mask():
    q, k, _ = project(embed(ANIMAL))
    return q @ k.T / math.sqrt(D_K), causal_mask(10)


def test_minus_inf_before_softmax_matches_torch():
    scores, mask = _scores_and_mask()
    expected = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    torch.testing.assert_close(MASK_PLACEMENTS["-inf before softmax"](scores, mask), expected)
    torch.testing.assert_close(MASK_PLACEMENTS["-1e9 before softmax"](scores, mask), expected)
    torch.testing.assert_close(MASK_PLACEMENTS["0 after, renormalised"](scores, mask), expected)


def test_zero_after_softmax_breaks_the_sums_and_zero_before_leaks_weight():
    scores, mask = _scores_and_mask()
    after = MASK_PLACEMENTS["0 after softmax"](scores, mask)
    assert (after[~mask] == 0).all()
    assert after.sum(dim=-1)[0] < 1 and after.sum(dim=-1)[-1] == pytest.approx(1.0)
    torch.testing.assert_close(after, torch.softmax(scores, dim=-1) * mask)
    before = MASK_PLACEMENTS["0 before softmax"](scores, mask)
    assert (before[~mask] > 0).all()


def test_mask_placement_table_measures_each_way():
    rows = {row["placement"]: row for row in mask_placement_table(ANIMAL)}
    assert list(rows) == list(MASK_PLACEMENTS)
    for name in ("-inf before softmax", "-1e9 before softmax", "0 after, renormalised"):
        assert rows[name]["leak"] == pytest.approx(0.0, abs=1e-6), name
        assert rows[name]["difference"] < 1e-5 and rows[name]["min_row_sum"] == pytest.approx(1.0)
    assert rows["0 before softmax"]["hidden_weight"] > 0.01 and rows["0 before softmax"]["leak"] > 0.1
    assert rows["0 after softmax"]["hidden_weight"] == 0 and rows["0 after softmax"]["leak"] > 0.1
    assert rows["0 after softmax"]["min_row_sum"] < 0.5
    text = format_placement_table(list(rows.values()))
    assert "0 after softmax" in text and "0.080..1.000" in text


# --------------------------------------------------------------------------- fully masked rows


def test_fully_masked_example_and_what_each_implementation_gives():
    example = fully_masked_example(SENTENCES["short"], 6)
    assert example["tokens"] == [PAD] * 3 + ["the", "cat", "sat"]
    assert example["fully_masked"] == [0, 1, 2]
    q, k, v, mask = example["q"], example["k"], example["v"], example["mask"]
    naive_output, naive_weights = naive_masked_attention(q, k, v, mask)
    assert torch.isnan(naive_weights[:3]).all() and not torch.isnan(naive_weights[3:]).any()
    assert torch.isnan(naive_output).any(dim=-1).tolist() == [True] * 3 + [False] * 3
    helpers_output, helpers_weights = scaled_dot_product_attention(q, k, v, mask)
    assert (helpers_weights[:3] == 0).all() and (helpers_output[:3] == 0).all()
    torch.testing.assert_close(naive_output[3:], helpers_output[3:])
    torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v, attn_mask=mask), helpers_output)
    _, uniform = attend(example["tokens"], mask=mask, placement="-1e9 before softmax")
    torch.testing.assert_close(uniform[:3], torch.full((3, 6), 1 / 6))


def test_naive_masked_attention_rejects_bad_input():
    q = torch.zeros(3, 4)
    with pytest.raises(TypeError, match="mask must be a bool tensor"):
        naive_masked_attention(q, q, q, torch.ones(3, 3))
    with pytest.raises(TypeError, match="q must have a floating dtype"):
        naive_masked_attention(q.long(), q, q, torch.ones(3, 3, dtype=torch.bool))


# --------------------------------------------------------------------------- decoding


def test_causal_decoding_step_by_step_equals_one_pass():
    full, _ = attend(ANIMAL, mask=causal_mask(10))
    steps = decoding_steps(ANIMAL, "causal")
    assert len(steps) == 10 and steps[3][1].shape == (4, 4)
    for t, (output, _) in enumerate(steps, start=1):
        torch.testing.assert_close(output, full[:t])
    none = decoding_steps(ANIMAL, "none")
    assert not torch.allclose(none[4][0][:4], none[3][0])  # earlier outputs rewritten
    torch.testing.assert_close(none[4][0][-1], full[4])  # the newest one has no future: same as causal
    with pytest.raises(ValueError, match="mask must be 'causal' or 'none'"):
        decoding_steps(ANIMAL, "padding")


def test_decoding_table_counts_changed_outputs():
    rows = decoding_table(ANIMAL)
    assert [row["changed_causal"] for row in rows] == [0] * 10
    assert [row["changed_none"] for row in rows] == list(range(10))
    assert all(row["causal_vs_full"] < 1e-6 and row["newest_none_vs_causal"] < 1e-6 for row in rows)
    text = format_decoding_table(rows)
    assert "9 of 9" in text and "largest difference over all steps 0.0000" in text


# --------------------------------------------------------------------------- a model that copies the answer


def test_next_token_model_shapes_and_mask():
    model = NextTokenModel(vocab=8, n=6, d_model=4, causal=True)
    tokens = torch.randint(8, (2, 6), generator=torch.Generator().manual_seed(0))
    logits, weights = model(tokens)
    assert logits.shape == (2, 6, 8) and weights.shape == (2, 6, 6)
    later = torch.ones(6, 6, dtype=torch.bool).triu(diagonal=1)
    assert (weights[:, later] == 0).all()
    open_model = NextTokenModel(vocab=8, n=6, d_model=4, causal=False)
    assert (open_model(tokens)[1][:, later] > 0).all()


def test_next_token_model_matches_a_direct_computation():
    model = NextTokenModel(vocab=8, n=6, d_model=4, causal=True)
    tokens = torch.randint(8, (3, 5), generator=torch.Generator().manual_seed(1))
    x = model.token_embedding[tokens] + model.position_embedding[:5]
    output = F.scaled_dot_product_attention(x @ model.w_q, x @ model.w_k, x @ model.w_v, is_causal=True)
    torch.testing.assert_close(model(tokens)[0], output @ model.readout)


@pytest.mark.parametrize(
    ("tokens", "error", "match"),
    [
        (torch.zeros(2, 7, dtype=torch.long), ValueError, "reads 1 to 6"),
        (torch.full((2, 3), 8), ValueError, r"tokens must lie in \[0, 8\)"),
        (torch.zeros(2, 3), TypeError, "integer tensor"),
        (torch.zeros(3, dtype=torch.long), TypeError, r"integer tensor \(B, m\)"),
    ],
)
def test_next_token_model_rejects_bad_tokens(tokens, error, match):
    with pytest.raises(error, match=match):
        NextTokenModel(vocab=8, n=6, d_model=4)(tokens)


@pytest.fixture(scope="module")
def cheating():
    return cheating_experiment(steps=40, seeds=(0, 1), test_batch=128)


def test_one_model_per_seed_and_mask(cheating):
    assert cheating["seeds"] == [0, 1]
    for name in ("no mask", "causal mask"):
        entry = cheating[name]
        for key in ("models", "losses", "final_loss", "training_accuracy", "generation_accuracy", "next_weight"):
            assert len(entry[key]) == 2, (name, key)
        assert entry["model"] is entry["models"][0]
        assert entry["final_loss"] == [losses[-1] for losses in entry["losses"]]
    assert [m.causal for m in cheating["no mask"]["models"]] == [False, False]
    assert [m.causal for m in cheating["causal mask"]["models"]] == [True, True]
    # seed s of the experiment is train_next_token_model(..., seed=s): the same losses
    _, alone = train_next_token_model(False, steps=40, seed=1)
    assert cheating["no mask"]["losses"][1] == alone
    assert not torch.equal(cheating["no mask"]["models"][0].w_q, cheating["no mask"]["models"][1].w_q)


def test_unmasked_model_copies_the_answer_and_fails_step_by_step(cheating):
    open_model = cheating["no mask"]
    for final_loss, training, generation, weight in zip(
        open_model["final_loss"],
        open_model["training_accuracy"],
        open_model["generation_accuracy"],
        open_model["next_weight"],
        strict=True,
    ):
        assert final_loss < 0.1 and training > 0.95 and generation < 0.2 and weight > 0.8
    assert cheating["copies"] == 2


def test_masked_model_stays_honest(cheating):
    masked = cheating["causal mask"]
    for final_loss, training, generation, weight in zip(
        masked["final_loss"], masked["training_accuracy"], masked["generation_accuracy"], masked["next_weight"],
        strict=True,
    ):  # fmt: skip
        assert final_loss > 0.9 * math.log(16) and training < 0.2 and weight == 0.0
        assert training == generation  # one pass = step by step, exactly
    assert cheating["honest"] == 2
    assert cheating["chance"] == 1 / 16
    text = format_cheating_table(cheating)
    assert "chance (1/vocab): 6%; 2 seeds" in text and "no mask" in text and "causal mask" in text
    assert "copies the answer" in text and ": 2 of 2 seeds" in text


def test_the_verdicts_and_their_thresholds():
    chance = 1 / 16
    assert copies_the_answer(1.0, 0.07, chance)
    assert not copies_the_answer(0.85, 0.07, chance)  # below COPIES with the future visible
    assert not copies_the_answer(1.0, 0.5, chance)  # step by step far above chance: it predicts, not copies
    assert stays_honest(0.06, 0.06, chance)
    assert not stays_honest(0.06, 0.07, chance)  # one pass and step by step must agree exactly
    assert not stays_honest(0.3, 0.3, chance)  # far above chance


def test_format_cheating_table_gives_median_and_range():
    results = {"chance": 0.0625, "seeds": [0, 1, 2], "copies": 3, "honest": 2}
    for name, values in (("no mask", (0.0, 1.0, 0.07, 0.95)), ("causal mask", (2.79, 0.06, 0.06, 0.0))):
        loss, training, generation, weight = values
        results[name] = {
            "final_loss": [loss, loss + 0.01, loss + 0.02],
            "training_accuracy": [training] * 3,
            "generation_accuracy": [generation - 0.01, generation, generation + 0.01],
            "next_weight": [weight] * 3,
        }
    lines = format_cheating_table(results).splitlines()
    assert lines[0] == "chance (1/vocab): 6%; 3 seeds, each number the median (lowest–highest)"
    assert "| 0.01 (0.00–0.02) |" in lines[2] and "7% (6%–8%)" in lines[2] and "0.95 (0.95–0.95)" in lines[2]
    assert lines[-2].endswith("3 of 3 seeds") and lines[-1].endswith("2 of 3 seeds")


def test_training_is_repeatable():
    _, first = train_next_token_model(True, steps=3, batch=8)
    _, second = train_next_token_model(True, steps=3, batch=8)
    assert first == second and len(first) == 3


def test_accuracy_helpers_check_their_input(cheating):
    model = cheating["causal mask"]["model"]
    tokens = torch.randint(16, (4, 12), generator=torch.Generator().manual_seed(3))
    with pytest.raises(TypeError, match="step_by_step must be True or False"):
        next_token_accuracy(model, tokens, step_by_step="yes")
    assert 0.0 <= weight_on_next_token(cheating["no mask"]["model"], tokens) <= 1.0


# --------------------------------------------------------------------------- tables and figures


def test_format_padding_table():
    text = format_padding_table(padding_experiment(CAT, [0, 2]))
    lines = text.splitlines()
    assert lines[0].startswith("pads | weight on pads") and len(lines) == 3
    assert lines[1].split("|")[0].strip() == "0" and lines[2].split("|")[0].strip() == "2"


def test_plot_influence_draws_exact_zeros_grey():
    influence = influence_matrix(CAT, mask=causal_mask(6))
    ax = plot_influence(influence, CAT, _axes(), vmax=5.0)
    image = ax.images[0]
    assert image.get_array().mask.sum() == 15  # the 15 cells above the diagonal of a 6 × 6 map
    assert image.get_clim() == (0.0, 5.0)
    assert image.get_cmap().get_bad() == pytest.approx(matplotlib.colors.to_rgba(MASKED_COLOR))
    with pytest.raises(ValueError, match="influence must be"):
        plot_influence(influence, CAT[:5], _axes())


def test_vocabulary_holds_every_sentence_and_the_replacement():
    for tokens in SENTENCES.values():
        assert set(tokens) <= set(VOCABULARY)
    assert REPLACEMENT in VOCABULARY and PAD == VOCABULARY[0]
