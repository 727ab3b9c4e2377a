"""helpers.lessons.l06_add_and_norm.feed_forward: the FFN against PyTorch's, its per-token nature measured, and the
parameter counts against the real lesson-09 model and the real MiniLM."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.lessons.l06_add_and_norm import feed_forward as ffn
from helpers.lessons.l09_transformer_end_to_end.tiny_transformer import CONFIG, TinyTransformer, count_parameters
from helpers.library.layers import MultiHeadAttention, TransformerBlock


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _torch_layer(d_model=8, n_heads=2, d_ff=32, seed=0, **kwargs):
    torch.manual_seed(seed)
    return nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=0.0, batch_first=True, **kwargs).eval()


def _weights(layer):
    return layer.linear1.weight, layer.linear1.bias, layer.linear2.weight, layer.linear2.bias


# --------------------------------------------------------------------------- the FFN against PyTorch's


@pytest.mark.parametrize("shape", [(2, 5, 8), (5, 8), (8,), (3, 2, 4, 8)])
def test_feed_forward_matches_torch_encoder_layers_linear1_and_linear2(shape):
    layer = _torch_layer()
    x = _randn(*shape, seed=1)
    with torch.no_grad():
        expected = layer.linear2(layer.dropout(layer.activation(layer.linear1(x))))
        assert torch.allclose(ffn.position_wise_feed_forward(x, *_weights(layer)), expected, atol=1e-6)


def test_feed_forward_with_gelu_matches_torch_gelu_layer():
    layer = _torch_layer(activation="gelu")
    x = _randn(2, 5, 8, seed=2)
    with torch.no_grad():
        expected = layer.linear2(F.gelu(layer.linear1(x)))
        assert torch.allclose(
            ffn.position_wise_feed_forward(x, *_weights(layer), activation="gelu"), expected, atol=1e-6
        )
        relu = ffn.position_wise_feed_forward(x, *_weights(layer), activation="relu")
        assert not torch.allclose(relu, expected, atol=1e-3)  # the activation is really used


def test_feed_forward_is_the_library_blocks_ff():
    torch.manual_seed(3)
    block = TransformerBlock(16, 4, 64)
    x = _randn(2, 6, 16, seed=3)
    linear_1, linear_2 = block.ff[0], block.ff[2]
    with torch.no_grad():
        ours = ffn.position_wise_feed_forward(x, linear_1.weight, linear_1.bias, linear_2.weight, linear_2.bias)
        assert torch.allclose(ours, block.ff(x), atol=1e-6)


def test_the_paper_order_is_torchs_encoder_layer_and_the_notes_order_is_not():
    findings = ffn.encoder_order_findings()
    assert findings["paper"] < 1e-6
    assert findings["notes"] > 0.1


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"x": _randn(2, 5, 7)}, ValueError, "d_model=8"),
        ({"w_2": _randn(32, 8)}, ValueError, "expected b_1 (32,), w_2 (8, 32)"),
        ({"b_1": _randn(8)}, ValueError, "b_1 (32,)"),
        ({"x": torch.ones(2, 8, dtype=torch.long)}, TypeError, "floating dtype"),
        ({"activation": "tanh"}, ValueError, "activation must be one of"),
    ],
)
def test_feed_forward_names_the_shapes_on_bad_input(change, error, words):
    layer = _torch_layer()
    arguments = dict(zip(("w_1", "b_1", "w_2", "b_2"), _weights(layer), strict=True))
    arguments = {"x": _randn(2, 5, 8)} | arguments | change
    activation = arguments.pop("activation", "relu")
    with torch.no_grad(), pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        ffn.position_wise_feed_forward(**arguments, activation=activation)


# --------------------------------------------------------------------------- "the same MLP on every token", measured


def _block_ff(seed=4):
    torch.manual_seed(seed)
    return TransformerBlock(16, 2, 32).ff


def _attention(seed=4):
    torch.manual_seed(seed)
    attention = MultiHeadAttention(16, 2)
    return lambda u: attention(u)[0]


def test_the_ffns_output_for_one_token_ignores_every_other_token():
    influence = ffn.token_influence(_block_ff(), _randn(6, 16, seed=5))
    assert influence.shape == (6, 6)
    off_diagonal = influence[~torch.eye(6, dtype=torch.bool)]
    assert torch.equal(off_diagonal, torch.zeros_like(off_diagonal))
    assert (influence.diagonal() > 0.1).all()


def test_attention_mixes_the_tokens():
    influence = ffn.token_influence(_attention(), _randn(6, 16, seed=5))
    assert (influence[~torch.eye(6, dtype=torch.bool)] > 1e-3).all()


def test_token_influence_of_known_maps():
    a = _randn(4, 4, seed=6)
    x = _randn(5, 4, seed=7)
    per_token = ffn.token_influence(lambda u: u @ a, x)
    assert torch.allclose(per_token.diagonal(), torch.linalg.matrix_norm(a.T, ord=2).expand(5), atol=1e-5)
    assert torch.allclose(ffn.token_influence(lambda u: u.mean(dim=1, keepdim=True).expand_as(u), x),
                          torch.full((5, 5), 1 / 5), atol=1e-6)  # fmt: skip


def test_shuffling_the_tokens_shuffles_the_outputs_of_the_ffn_and_of_attention_but_not_of_a_running_sum():
    x, order = _randn(6, 16, seed=8), [3, 0, 5, 1, 4, 2]
    assert ffn.permutation_error(_block_ff(), x, order) < 1e-6
    assert ffn.permutation_error(_attention(), x, order) < 1e-6  # without positions attention is equivariant too
    assert ffn.permutation_error(lambda u: u.cumsum(dim=1), x, order) > 0.1


@pytest.mark.parametrize("order", [[0, 1, 2], [0, 0, 1, 2, 3, 4], [1, 2, 3, 4, 5, 6]])
def test_permutation_error_refuses_what_is_not_a_permutation(order):
    with pytest.raises(ValueError, match="permutation of 0 .. 5"):
        ffn.permutation_error(_block_ff(), _randn(6, 16), order)


def test_token_influence_wants_one_sequence():
    with pytest.raises(ValueError, match=r"one sequence of shape \(n, d_model\)"):
        ffn.token_influence(_block_ff(), _randn(2, 6, 16))


# --------------------------------------------------------------------------- parameter counts


@pytest.mark.parametrize(("d_model", "n_heads", "d_ff"), [(16, 2, 32), (32, 4, 64), (384, 12, 1536), (1, 1, 1)])
def test_block_parameter_counts_are_the_library_blocks_and_torchs(d_model, n_heads, d_ff):
    counts = ffn.block_parameter_counts(d_model, d_ff)
    block = TransformerBlock(d_model, n_heads, d_ff)
    assert counts["block"] == sum(p.numel() for p in block.parameters())
    assert counts["feed-forward"] == sum(p.numel() for p in block.ff.parameters())
    assert counts["attention"] == sum(p.numel() for p in block.attn.parameters())
    assert counts["LayerNorms"] == sum(p.numel() for p in (*block.norm1.parameters(), *block.norm2.parameters()))
    layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff)
    assert counts["block"] == sum(p.numel() for p in layer.parameters())


def test_block_parameter_counts_without_biases():
    assert ffn.block_parameter_counts(8, 32, bias=False)["feed-forward"] == 2 * 8 * 32
    with pytest.raises(ValueError, match="d_ff must be >= 1"):
        ffn.block_parameter_counts(8, 0)


def test_the_lesson_09_configuration_written_out_in_lesson_06_is_lesson_09s():
    assert ffn.TINY_TRANSFORMER_CONFIG == {name: value for name, value in CONFIG.items() if name != "positions"}
    assert CONFIG["positions"] == "learned"  # the formula counts learned positions


def test_the_formula_counts_the_real_lesson_09_model():
    counts = ffn.tiny_transformer_parameter_counts()
    real = count_parameters(TinyTransformer(**CONFIG))
    assert counts["total"] == real["total"]
    model = TinyTransformer(**CONFIG)
    assert counts["feed-forward"] == sum(p.numel() for block in model.blocks for p in block.ff.parameters())
    assert counts["embeddings"] == real["token embedding"] + real["positions"]
    assert counts["rest"] == real["final LayerNorm"] + real["output projection"]
    assert counts["d_ff / d_model"] == 2.0
    assert 0.45 < counts["feed-forward share of a block"] < 0.5


def test_minilm_counts_match_the_loaded_model():
    from helpers.machinery.minilm_model import minilm_model

    model = minilm_model()
    counts = ffn.minilm_parameter_counts()
    assert counts["total"] == counts["formula total"] == sum(p.numel() for p in model.parameters())
    layers = model.encoder.layer
    assert counts["feed-forward"] == sum(
        p.numel() for layer in layers for part in (layer.intermediate, layer.output.dense) for p in part.parameters()
    )
    assert counts["attention"] == sum(
        p.numel() for layer in layers for part in (layer.attention.self, layer.attention.output.dense)
        for p in part.parameters()
    )  # fmt: skip
    assert counts["embeddings"] == sum(p.numel() for p in model.embeddings.parameters())
    assert counts["d_ff / d_model"] == 4.0
    assert 0.66 < counts["feed-forward share of a block"] < 0.67


def test_minilms_ffn_is_feed_forward_with_gelu():
    """MiniLM's layer 0: intermediate (W_1, then GELU) and output.dense (W_2) are the FFN with "gelu"."""
    from helpers.machinery.minilm_model import minilm_model

    layer = minilm_model().encoder.layer[0]
    x = _randn(1, 4, 384, seed=9)
    with torch.no_grad():
        expected = layer.output.dense(layer.intermediate(x))
        w = (layer.intermediate.dense.weight, layer.intermediate.dense.bias, layer.output.dense.weight,
             layer.output.dense.bias)  # fmt: skip
        assert torch.allclose(ffn.position_wise_feed_forward(x, *w, activation="gelu"), expected, atol=1e-5)


# --------------------------------------------------------------------------- tables, words, verdict, figure


def _models():
    return {"tiny": ffn.tiny_transformer_parameter_counts(), "MiniLM": ffn.minilm_parameter_counts()}


def test_the_parameter_table_and_summary_say_what_the_counts_say():
    table = ffn.parameter_table(_models())
    assert "| tiny | 2 | 768 | 8,448 | 8,384 | 256 | 460 | 18,316 | 49 % | 46 % |" in table
    assert "| MiniLM | 4 | 11,918,592 | 3,548,160 | 7,089,408 | 9,216 | 147,840 | 22,713,216 | 67 % | 31 % |" in table
    summary = ffn.parameter_summary(_models())
    assert "the FFN holds about half of a block's parameters (49 %" in summary
    assert "the FFN holds most of a block's parameters (67 %" in summary
    assert "the embeddings (52 %) hold more than all the blocks together" in summary


def test_the_notes_sentence_is_partly_right():
    influence = ffn.token_influence(_block_ff(), _randn(6, 16, seed=5))
    text = ffn.encoder_sentence_verdict(ffn.encoder_order_findings(), influence)
    assert text.count("**yes**") == 2 and text.count("**no**") == 1
    assert text.endswith("Verdict on the notes' sentence: **partly**.")
    mixing = ffn.token_influence(_attention(), _randn(6, 16, seed=5))
    assert "**not supported**" in ffn.encoder_sentence_verdict({"paper": 1.0, "notes": 1.0}, mixing)


def test_plot_token_influence_draws_the_scaled_map():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    influence = ffn.token_influence(_block_ff(), _randn(6, 16, seed=5))
    ax = ffn.plot_token_influence(influence, ax)
    shown = ax.images[-1].get_array()
    assert shown.shape == (6, 6) and shown.max() == 1.0 and shown[0, 1] == 0.0
    with pytest.raises(ValueError, match=r"\(n, n\)"):
        ffn.plot_token_influence(torch.ones(2, 3), ax)
    plt.close(fig)
