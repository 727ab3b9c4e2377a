"""Lesson 08's cross-attention transformer: the layer against nn.MultiheadAttention, the decoder block against
nn.TransformerDecoderLayer, the whole stack against nn.Transformer (weights copied), and the model's contract."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.lessons.l08_before_transformers_bahdanau.cross_attention import (
    N_POSITIONS,
    SIZES,
    CrossAttentionSeq2Seq,
    DecoderBlock,
    cross_attention,
    difference_from_nn_transformer,
)
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import BOS, reversal_batch
from helpers.library.layers import LayerNorm, MultiHeadAttention
from helpers.library.positions import sinusoidal_encoding


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- the layer


@pytest.mark.parametrize(("n_heads", "m", "n"), [(1, 3, 7), (2, 5, 2), (4, 1, 6)])
def test_cross_attention_matches_torch_multihead_attention(n_heads, m, n):
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(8, n_heads, batch_first=True).double()
    layer = MultiHeadAttention.from_torch(reference)
    decoder_states = torch.randn(2, m, 8, dtype=torch.float64, generator=_generator(1))  # queries: n_q = m
    encoder_states = torch.randn(2, n, 8, dtype=torch.float64, generator=_generator(2))  # keys, values: n_k = n
    output, weights = cross_attention(decoder_states, encoder_states, layer)
    expected, expected_weights = reference(
        decoder_states, encoder_states, encoder_states, need_weights=True, average_attn_weights=False
    )
    assert output.shape == (2, m, 8) and weights.shape == (2, n_heads, m, n)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(weights, expected_weights)


def test_cross_attention_reads_the_encoder_only_through_its_keys_and_values():
    torch.manual_seed(0)
    layer = MultiHeadAttention(8, 2).double()
    decoder_states = torch.randn(1, 3, 8, dtype=torch.float64, generator=_generator(1))
    encoder_states = torch.randn(1, 5, 8, dtype=torch.float64, generator=_generator(2))
    output, weights = cross_attention(decoder_states, encoder_states, layer)
    # permuting the source positions permutes the weights' columns and leaves the output unchanged
    order = torch.tensor([4, 2, 0, 1, 3])
    permuted, permuted_weights = cross_attention(decoder_states, encoder_states[:, order], layer)
    torch.testing.assert_close(permuted, output)
    torch.testing.assert_close(permuted_weights, weights[..., order])
    # each decoder state's output depends on that state alone (no mixing across the queries)
    changed = decoder_states.clone()
    changed[0, 1] += 1.0
    other, _ = cross_attention(changed, encoder_states, layer)
    torch.testing.assert_close(other[0, [0, 2]], output[0, [0, 2]])
    assert not torch.allclose(other[0, 1], output[0, 1])


def test_cross_attention_rejects_bad_input():
    layer = MultiHeadAttention(8, 2)
    with pytest.raises(TypeError, match="MultiHeadAttention"):
        cross_attention(torch.randn(1, 2, 8), torch.randn(1, 3, 8), nn.Linear(8, 8))
    with pytest.raises(ValueError, match=r"decoder_states must have shape \(B, n, d_model\)"):
        cross_attention(torch.randn(2, 8), torch.randn(1, 3, 8), layer)
    with pytest.raises(ValueError, match="same batch size"):
        cross_attention(torch.randn(2, 2, 8), torch.randn(3, 3, 8), layer)
    with pytest.raises(TypeError, match="floating dtype"):
        cross_attention(torch.ones(1, 2, 8, dtype=torch.long), torch.randn(1, 3, 8), layer)


# --------------------------------------------------------------------------- the decoder block


@pytest.mark.parametrize("n_heads", [1, 2])
def test_decoder_block_matches_torch_decoder_layer(n_heads):
    torch.manual_seed(0)
    reference = nn.TransformerDecoderLayer(8, n_heads, dim_feedforward=16, dropout=0.0, batch_first=True)
    reference = reference.double().eval()
    block = DecoderBlock.from_torch(reference)
    x = torch.randn(3, 4, 8, dtype=torch.float64, generator=_generator(1))  # m = 4 decoder steps
    memory = torch.randn(3, 6, 8, dtype=torch.float64, generator=_generator(2))  # n = 6 source positions
    mask = nn.Transformer.generate_square_subsequent_mask(4).double()
    output, weights = block(x, memory)
    torch.testing.assert_close(output, reference(x, memory, tgt_mask=mask))
    assert weights.shape == (3, n_heads, 4, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, n_heads, 4, dtype=torch.float64))


def test_decoder_block_is_causal():
    torch.manual_seed(0)
    block = DecoderBlock(8, 2, 16)
    x, memory = torch.randn(1, 5, 8, generator=_generator(1)), torch.randn(1, 3, 8, generator=_generator(2))
    changed = x.clone()
    changed[0, 3] += 1.0
    before, _ = block(x, memory)
    after, _ = block(changed, memory)
    torch.testing.assert_close(after[0, :3], before[0, :3])
    assert not torch.allclose(after[0, 3], before[0, 3])


def test_decoder_block_from_torch_rejects_what_it_cannot_copy():
    with pytest.raises(TypeError, match="TransformerDecoderLayer"):
        DecoderBlock.from_torch(nn.TransformerEncoderLayer(8, 2))
    with pytest.raises(ValueError, match="norm_first=False"):
        DecoderBlock.from_torch(nn.TransformerDecoderLayer(8, 2, norm_first=True))
    with pytest.raises(ValueError, match="activation='relu'"):
        DecoderBlock.from_torch(nn.TransformerDecoderLayer(8, 2, activation="gelu"))


# --------------------------------------------------------------------------- the whole stack against nn.Transformer


@pytest.mark.parametrize(
    "sizes",
    [{}, {"n_heads": 2, "n_encoder_blocks": 2, "n_decoder_blocks": 2}, {"d_model": 16, "d_ff": 8, "n_heads": 4}],
)
def test_stacks_match_nn_transformer(sizes):
    assert difference_from_nn_transformer(seed=3, **sizes) < 1e-12


def test_stacks_match_nn_transformer_on_float32_and_in_training_mode_without_dropout():
    torch.manual_seed(0)
    transformer = nn.Transformer(16, 2, 1, 1, 32, dropout=0.0, batch_first=True)
    model = CrossAttentionSeq2Seq.from_torch_transformer(transformer)
    source, target = torch.randn(2, 5, 16), torch.randn(2, 3, 16)
    expected = transformer(source, target, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3))
    ours, weights = model.decoder_stack(target, model.encoder_stack(source))
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
    assert weights.shape == (2, 2, 3, 5)


def test_from_torch_transformer_rejects_other_modules():
    with pytest.raises(TypeError, match="nn.Transformer"):
        CrossAttentionSeq2Seq.from_torch_transformer(nn.TransformerEncoderLayer(8, 2))


# --------------------------------------------------------------------------- the model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CrossAttentionSeq2Seq(**SIZES).eval()


def test_forward_shapes_and_weights(model):
    source, target = reversal_batch(4, 6, _generator())
    logits, weights = model(source, target)
    assert logits.shape == (4, 6, 26) and weights.shape == (4, 6, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 6))
    source7 = reversal_batch(4, 7, _generator())[0]
    logits, weights = model(source7, target)  # m = 6 steps over n = 7 positions
    assert weights.shape == (4, 6, 7)


def test_teacher_forcing_feeds_bos_then_the_target_shifted(model):
    source, target = reversal_batch(2, 5, _generator())
    logits, weights = model(source, target)
    previous = torch.cat([torch.full((2, 1), BOS), target[:, :-1]], dim=1)
    expected_logits, expected_weights = model.decode(model.encode(source), previous)
    torch.testing.assert_close(logits, expected_logits)
    torch.testing.assert_close(weights, expected_weights)
    changed = target.clone()
    changed[:, 2] = (changed[:, 2] + 1) % 26
    later, _ = model(source, changed)
    torch.testing.assert_close(later[:, :3], logits[:, :3])  # step i sees target[:, :i] only
    assert not torch.allclose(later[:, 3:], logits[:, 3:])


def test_greedy_decode_agrees_with_teacher_forcing_on_its_own_output(model):
    source = reversal_batch(3, 6, _generator())[0]
    tokens, weights = model.greedy_decode(source)
    assert tokens.shape == (3, 6) and weights.shape == (3, 6, 6)
    logits, forced_weights = model(source, tokens)
    assert torch.equal(logits.argmax(-1), tokens)
    torch.testing.assert_close(weights, forced_weights)
    tokens4, weights4 = model.greedy_decode(source, m=4)
    assert torch.equal(tokens4, tokens[:, :4]) and weights4.shape == (3, 4, 6)


@pytest.mark.parametrize("source_positions", ["from_end", "from_start"])
def test_source_positions_are_numbered_as_asked(source_positions):
    torch.manual_seed(0)
    model = CrossAttentionSeq2Seq(n_encoder_blocks=0, source_positions=source_positions)
    source = reversal_batch(2, 5, _generator())[0]
    positions = sinusoidal_encoding(N_POSITIONS, 32)[:5]
    positions = positions.flip(0) if source_positions == "from_end" else positions
    expected = model.encoder_norm(model.source_embedding(source) + positions)
    torch.testing.assert_close(model.encode(source), expected)


def test_a_trained_step_lowers_the_loss():
    torch.manual_seed(0)
    model = CrossAttentionSeq2Seq()
    source, target = reversal_batch(16, 5, _generator())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        logits, _ = model(source, target)
        loss = F.cross_entropy(logits.reshape(-1, 26), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m: m.encode(torch.randn(2, 3)), ValueError, "letter ids"),
        (lambda m: m.encode(torch.tensor([[0, 26]])), ValueError, "between 0 and 25"),
        (lambda m: m.encode(torch.zeros(1, N_POSITIONS + 1, dtype=torch.long)), ValueError, "at most"),
        (lambda m: m.encode([[1, 2]]), TypeError, "torch.Tensor"),
        (lambda m: m(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 3, dtype=torch.long)), ValueError, "batch"),
        (lambda m: m.greedy_decode(torch.zeros(1, 3, dtype=torch.long), m=0), ValueError, "m must be >= 1"),
    ],
)
def test_model_rejects_bad_input(model, call, error, match):
    with pytest.raises(error, match=match):
        call(model)


def test_model_rejects_bad_sizes():
    with pytest.raises(ValueError, match="source_positions must be one of"):
        CrossAttentionSeq2Seq(source_positions="middle")
    with pytest.raises(ValueError, match="divisible"):
        CrossAttentionSeq2Seq(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="n_decoder_blocks must be >= 1"):
        CrossAttentionSeq2Seq(n_decoder_blocks=0)


def test_the_library_pieces_are_reused(model):
    block = model.decoder_blocks[0]
    assert isinstance(block.self_attn, MultiHeadAttention) and isinstance(block.cross_attn, MultiHeadAttention)
    assert isinstance(block.norm2, LayerNorm) and isinstance(model.encoder_norm, LayerNorm)
