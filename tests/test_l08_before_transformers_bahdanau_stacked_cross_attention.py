"""The stack of cross-attention transformers computes what each model computes, and gives the weights back."""

import pytest
import torch

from helpers.lessons.l08_before_transformers_bahdanau.cross_attention import CrossAttentionSeq2Seq
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import reversal_batch
from helpers.lessons.l08_before_transformers_bahdanau.stacked_cross_attention import StackedCrossAttention

SIZES = {"d_model": 8, "n_heads": 2, "d_ff": 12, "n_encoder_blocks": 2, "n_decoder_blocks": 2}


def _models(count=3, **overrides):
    models = []
    for seed in range(count):
        torch.manual_seed(seed)
        models.append(CrossAttentionSeq2Seq(**{**SIZES, **overrides}))
    return models


def _batches(count, batch_size=4, n=6):
    generator = torch.Generator().manual_seed(0)
    batches = [reversal_batch(batch_size, n, generator) for _ in range(count)]
    return torch.stack([b[0] for b in batches]), torch.stack([b[1] for b in batches])


@pytest.mark.parametrize("source_positions", ["from_end", "from_start"])
def test_every_model_of_the_stack_computes_its_logits_and_gradients(source_positions):
    models = _models(source_positions=source_positions)
    stacked = StackedCrossAttention(models)
    source, target = _batches(len(models))
    logits = stacked(source, target)
    assert logits.shape == (3, 4, 6, 26)
    weights = torch.randn_like(logits)  # a different gradient for every logit
    (logits * weights).sum().backward()
    for m, model in enumerate(models):
        theirs, _ = model(source[m], target[m])
        torch.testing.assert_close(logits[m], theirs, atol=2e-6, rtol=1e-5)
        (theirs * weights[m]).sum().backward()
        for name in stacked.names:
            torch.testing.assert_close(stacked._p(name).grad[m], model.get_parameter(name).grad, atol=2e-5, rtol=1e-4)


def test_a_model_without_encoder_blocks_is_stacked_too():
    models = _models(2, n_encoder_blocks=0)
    stacked = StackedCrossAttention(models)
    source, target = _batches(2, n=3)
    for m, model in enumerate(models):
        torch.testing.assert_close(stacked(source, target)[m], model(source[m], target[m])[0], atol=2e-6, rtol=1e-5)


def test_copy_into_writes_each_models_weights_back():
    models = _models(2)
    stacked = StackedCrossAttention(models)
    with torch.no_grad():
        for parameter in stacked.parameters():
            parameter.add_(1.0)
    fresh = _models(2)
    stacked.copy_into(fresh)
    for m, model in enumerate(fresh):
        for name, parameter in model.named_parameters():
            assert torch.equal(parameter, models[m].get_parameter(name) + 1.0)
    with pytest.raises(ValueError, match="expected 2 models, got 1"):
        stacked.copy_into(fresh[:1])


def test_bad_models_and_inputs_are_refused_with_their_shapes():
    with pytest.raises(TypeError, match="non-empty list of CrossAttentionSeq2Seq"):
        StackedCrossAttention([])
    with pytest.raises(TypeError, match="non-empty list of CrossAttentionSeq2Seq"):
        StackedCrossAttention(_models(1)[0])
    with pytest.raises(ValueError, match="same sizes and source_positions"):
        StackedCrossAttention(_models(1) + _models(1, d_ff=4))
    with pytest.raises(ValueError, match="same sizes and source_positions"):
        StackedCrossAttention(_models(1) + _models(1, source_positions="from_start"))
    stacked = StackedCrossAttention(_models(2))
    source, target = _batches(2)
    with pytest.raises(ValueError, match=r"source must be a non-empty \(M=2, B, n\) long tensor, got .* \(4, 6\)"):
        stacked(source[0], target)
    with pytest.raises(ValueError, match="target must be"):
        stacked(source, target.float())
    with pytest.raises(ValueError, match=r"must agree on \(M, B\)"):
        stacked(source, target[:, :2])
    with pytest.raises(ValueError, match=r"each in \[0, 26\)"):
        stacked(source + 26, target)
    with pytest.raises(TypeError):
        stacked(source.tolist(), target)
