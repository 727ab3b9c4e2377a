"""Tests for helpers.lessons.l06_add_and_norm.stacked_models: each stacked model computes what it would compute alone.

Every model is compared with a chain of helpers.lessons.l06_add_and_norm.blocks.AddNormBlock copies of its weights;
Post-LN and Pre-LN with PyTorch's nn.TransformerEncoderLayer; StackedAdam with torch.optim.Adam (in
tests/test_library_optim.py).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.lessons.l06_add_and_norm.blocks import VARIANTS, AddNormBlock, layer_norm
from helpers.lessons.l06_add_and_norm.stacked_models import BLOCK_PARAMETERS, StackedModels, per_model_loss, warmup_lrs

SMALL = {"d_model": 8, "n_heads": 2, "d_ff": 12}


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _alone(stack, model, x):
    """Model `model` of the stack, run block by block as AddNormBlocks. x: (B, n, d) -> [x_0, ..., x_L]."""
    hidden = [x]
    for layer in range(stack.depth):
        hidden.append(stack.block(model, layer)(hidden[-1]))
    return hidden


def _perturb_norms(stack, seed=0):
    """LayerNorm weights other than 1 and 0, so that a missing or misplaced norm is caught."""
    with torch.no_grad():
        for i, name in enumerate(("norm1_w", "norm1_b", "norm2_w", "norm2_b")):
            param = getattr(stack, name)
            param.add_(0.3 * _randn(*param.shape, seed=seed + i))
    return stack


@pytest.mark.parametrize("variants", [*VARIANTS, list(VARIANTS)])
def test_each_model_computes_what_its_blocks_compute_alone(variants):
    stack = _perturb_norms(StackedModels(variants, 3, [0, 1, 2, 3, 4], **SMALL))
    x = _randn(2, 5, 8, seed=7)
    with torch.no_grad():
        output, hidden = stack(x=x, return_hidden=True)
        assert output.shape == (5, 2, 5, 8) and len(hidden) == 4
        for model in range(5):
            expected = _alone(stack, model, x)
            for layer, state in enumerate(expected):
                torch.testing.assert_close(hidden[layer][model], state, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(output[model], expected[-1], atol=1e-5, rtol=1e-5)


def test_mixed_variants_are_bit_for_bit_the_single_variant_stacks():
    variants = list(VARIANTS)
    mixed = StackedModels(variants, 2, [3] * 5, vocab=5, n_classes=3, **SMALL)
    tokens = torch.randint(0, 5, (4, 6), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        together = mixed(tokens=tokens)
        for m, variant in enumerate(variants):
            alone = StackedModels(variant, 2, [3], vocab=5, n_classes=3, **SMALL)(tokens=tokens)
            assert torch.equal(together[m], alone[0]), variant


@pytest.mark.parametrize(("norm_first", "variant"), [(False, "post_ln"), (True, "pre_ln")])
def test_post_ln_and_pre_ln_match_torch_transformer_encoder_with_copied_weights(norm_first, variant):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, batch_first=True, norm_first=norm_first)
    encoder = nn.TransformerEncoder(layer, num_layers=3, enable_nested_tensor=False).eval()
    with torch.no_grad():  # every layer different, LayerNorms included
        for parameter in encoder.parameters():
            parameter.add_(0.2 * torch.randn(parameter.shape))
    stack = StackedModels(variant, 3, [0, 1], **SMALL)
    for model in range(2):
        for i, torch_layer in enumerate(encoder.layers):
            stack.load_block(model, i, AddNormBlock.from_torch(torch_layer))
    x = _randn(3, 5, 8, seed=1)
    with torch.no_grad():
        expected = encoder(x)
        output = stack(x=x)
    for model in range(2):
        torch.testing.assert_close(output[model], expected, atol=1e-5, rtol=1e-5)


def test_block_and_load_block_round_trip():
    source = _perturb_norms(StackedModels("post_ln", 2, [0, 1], **SMALL))
    target = StackedModels("post_ln", 2, [5, 6], **SMALL)
    target.load_block(1, 0, source.block(0, 1))
    for name in BLOCK_PARAMETERS:
        assert torch.equal(getattr(target, name)[1, 0], getattr(source, name)[0, 1]), name
    assert not torch.equal(target.w_qkv[0, 0], source.w_qkv[0, 1])  # other slots untouched


def test_same_seed_same_start_whatever_the_variant_and_depth():
    shallow = StackedModels("plain", 2, [4], vocab=6, n_classes=2, **SMALL)
    deep = StackedModels("pre_ln", 5, [4], vocab=6, n_classes=2, **SMALL)
    for name in BLOCK_PARAMETERS:
        assert torch.equal(getattr(shallow, name)[0], getattr(deep, name)[0, :2]), name
    for name in ("embedding", "head_w", "head_b"):
        assert torch.equal(getattr(shallow, name), getattr(deep, name)), name
    other = StackedModels("plain", 2, [5], **SMALL)
    assert not torch.equal(other.w_qkv, shallow.w_qkv)


def test_initialisation_follows_nn_linear_and_nn_embedding():
    stack = StackedModels("post_ln", 30, [0], vocab=50, n_classes=4, d_model=16, n_heads=2, d_ff=64)
    bound = 1 / math.sqrt(16)
    assert stack.w_qkv.abs().max() <= bound and stack.w_qkv.abs().max() > 0.95 * bound
    assert stack.w_2.abs().max() <= 1 / math.sqrt(64)
    assert abs(stack.w_qkv.var().item() - bound**2 / 3) < 0.1 * bound**2 / 3  # U(−a, a) has variance a²/3
    assert abs(stack.embedding.std().item() - 1) < 0.1
    assert torch.equal(stack.norm1_w, torch.ones_like(stack.norm1_w))
    assert torch.equal(stack.norm2_b, torch.zeros_like(stack.norm2_b))


def test_tokens_embedding_and_head():
    stack = StackedModels(["residual", "pre_ln"], 1, [0, 1], vocab=5, n_classes=3, **SMALL)
    tokens = torch.tensor([[0, 4, 2], [1, 1, 3]])
    logits, hidden = stack(tokens=tokens, return_hidden=True)
    assert logits.shape == (2, 2, 3, 3)
    torch.testing.assert_close(hidden[0][1], stack.embedding[1][tokens])
    with torch.no_grad():
        final = layer_norm(hidden[-1][1], stack.final_w[1], stack.final_b[1])  # Pre-LN: a last LayerNorm
        torch.testing.assert_close(logits[1], final @ stack.head_w[1] + stack.head_b[1])
        torch.testing.assert_close(logits[0], hidden[-1][0] @ stack.head_w[0] + stack.head_b[0])  # no final norm
    per_model = torch.stack([tokens, tokens.flip(0)])  # (M, B, n): each model its own batch
    assert torch.equal(stack(tokens=per_model)[0], logits[0])


def test_models_do_not_mix_even_when_one_diverges():
    stack = StackedModels("post_ln", 2, [0, 1, 2], **SMALL)
    x = _randn(3, 2, 4, 8, seed=3)
    before = stack(x=x)
    with torch.no_grad():
        stack.w_1[1] = float("nan")
    after = stack(x=x)
    assert torch.isnan(after[1]).all()
    assert torch.equal(after[0], before[0]) and torch.equal(after[2], before[2])


def test_layer_gradient_norms_match_the_parameters_gradients():
    stack = StackedModels("pre_ln", 3, [0, 1], vocab=4, n_classes=2, **SMALL)
    tokens = torch.randint(0, 4, (2, 5), generator=torch.Generator().manual_seed(1))
    labels = torch.randint(0, 2, (2, 5), generator=torch.Generator().manual_seed(2))
    per_model_loss(stack(tokens=tokens), labels).sum().backward()
    norms = stack.layer_gradient_norms()
    assert norms.shape == (2, 3)
    by_hand = torch.cat([getattr(stack, name).grad[1, 2].flatten() for name in BLOCK_PARAMETERS]).norm()
    torch.testing.assert_close(norms[1, 2], by_hand)
    grads = {name: torch.ones_like(getattr(stack, name)) for name in BLOCK_PARAMETERS}
    size = sum(getattr(stack, name)[0, 0].numel() for name in BLOCK_PARAMETERS)
    torch.testing.assert_close(stack.layer_gradient_norms(grads), torch.full((2, 3), math.sqrt(size)))


def test_per_model_loss_matches_cross_entropy_per_model():
    logits = _randn(3, 2, 4, 5)
    labels = torch.randint(0, 5, (2, 4), generator=torch.Generator().manual_seed(0))
    losses = per_model_loss(logits, labels)
    for m in range(3):
        torch.testing.assert_close(losses[m], F.cross_entropy(logits[m].reshape(8, 5), labels.reshape(8)))
    per_model_labels = torch.stack([labels, labels.flip(1), labels])
    torch.testing.assert_close(
        per_model_loss(logits, per_model_labels)[1], F.cross_entropy(logits[1].reshape(8, 5), labels.flip(1).reshape(8))
    )


def test_warmup_lrs_rise_linearly_then_stay():
    base = torch.tensor([0.1, 0.1, 0.02])
    warmup = torch.tensor([0, 4, 2])
    torch.testing.assert_close(warmup_lrs(0, base, warmup), torch.tensor([0.1, 0.025, 0.01]))
    torch.testing.assert_close(warmup_lrs(1, base, warmup), torch.tensor([0.1, 0.05, 0.02]))
    torch.testing.assert_close(warmup_lrs(9, base, warmup), base)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: StackedModels("both", 2, [0]), ValueError, "variant must be one of"),
        (lambda: StackedModels(["plain"], 2, [0, 1]), ValueError, "one per seed"),
        (lambda: StackedModels("plain", 2, []), ValueError, "seeds is empty"),
        (lambda: StackedModels("plain", 2, 3), TypeError, "seeds must be a list"),
        (lambda: StackedModels("plain", 0, [0]), ValueError, "depth must be >= 1"),
        (lambda: StackedModels("plain", 1, [0], d_model=6, n_heads=4), ValueError, "divisible"),
        (lambda: StackedModels("plain", 1, [0], **SMALL)(tokens=torch.zeros(2, 3, dtype=torch.long)), ValueError,
         "no embedding"),
        (lambda: StackedModels("plain", 1, [0], vocab=4, **SMALL)(tokens=torch.full((2, 3), 4)), ValueError,
         r"token ids must be in \[0, 4\)"),
        (lambda: StackedModels("plain", 1, [0], vocab=4, **SMALL)(tokens=torch.zeros(2, 3)), ValueError, "int64"),
        (lambda: StackedModels("plain", 1, [0, 1], **SMALL)(x=torch.ones(3, 2, 4, 8)), ValueError, r"M=2"),
        (lambda: StackedModels("plain", 1, [0], **SMALL)(x=torch.ones(2, 4, 6)), ValueError, "d_model=8"),
        (lambda: StackedModels("plain", 1, [0], **SMALL)(), ValueError, "exactly one of tokens"),
        (lambda: StackedModels("plain", 1, [0], **SMALL).readout(torch.ones(1, 2, 8)), ValueError, "no head"),
        (lambda: StackedModels("plain", 1, [0], **SMALL).block(1, 0), ValueError, "model must be < 1"),
        (lambda: StackedModels("plain", 1, [0], **SMALL).load_block(0, 0, nn.Linear(2, 2)), TypeError,
         "AddNormBlock"),
        (lambda: StackedModels("plain", 1, [0], **SMALL).load_block(0, 0, AddNormBlock(16, 2, 12)), ValueError,
         "d_model=16"),
        (lambda: per_model_loss(torch.ones(2, 3, 4), torch.zeros(3, 4, dtype=torch.long)), ValueError,
         r"logits \(M, B, n, n_classes\)"),
        (lambda: warmup_lrs(0, torch.ones(2), torch.zeros(3)), ValueError, r"\(2,\) and \(3,\)"),
    ],
)  # fmt: skip
def test_bad_input_is_rejected_with_a_clear_message(call, error, match):
    with pytest.raises(error, match=match):
        call()
