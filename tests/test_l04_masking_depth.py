"""Tests for helpers.lessons.l04_masking.decoding's stack of heads: in one layer the newest token's output needs no
causal mask; in two or more it does. The stack is checked against PyTorch's scaled_dot_product_attention."""

import pytest
import torch
import torch.nn.functional as F

from helpers.lessons.l04_masking import (
    D_K,
    D_MODEL,
    SAME_BELOW,
    SENTENCES,
    attend,
    decoder_weights,
    embed,
    format_depth_table,
    newest_output_by_depth,
    stacked_heads,
)
from helpers.library.attention import causal_mask

ANIMAL = list(SENTENCES["animal"])


def _torch_stack(tokens, n_layers, mask):
    """The same stack written with F.scaled_dot_product_attention (its bool mask: True = may attend)."""
    x = embed(tokens)
    outputs = []
    for w_q, w_k, w_v in decoder_weights(n_layers):
        x = F.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, attn_mask=mask)
        outputs.append(x)
    return outputs


@pytest.mark.parametrize("mask", [None, causal_mask(10)], ids=["no mask", "causal"])
def test_stacked_heads_match_torch(mask):
    mine = stacked_heads(ANIMAL, 3, mask=mask)
    theirs = _torch_stack(ANIMAL, 3, mask)
    assert len(mine) == 3
    for layer_mine, layer_theirs in zip(mine, theirs, strict=True):
        assert layer_mine.shape == (10, D_K)
        torch.testing.assert_close(layer_mine, layer_theirs)


def test_one_layer_is_the_toy_head():
    (only,) = stacked_heads(ANIMAL, 1, mask=causal_mask(10))
    assert torch.equal(only, attend(ANIMAL, mask=causal_mask(10))[0])


def test_decoder_weights_shapes_and_copies():
    weights = decoder_weights(3)
    assert [tuple(w.shape) for w in weights[0]] == [(D_MODEL, D_K)] * 3
    assert all(tuple(w.shape) == (D_K, D_K) for triple in weights[1:] for w in triple)
    assert not torch.equal(weights[1][0], weights[2][0])  # each layer its own projections
    weights[1][0].zero_()
    assert decoder_weights(3)[1][0].abs().sum() > 0  # copies: changing them changes nothing


def test_one_layer_newest_output_needs_no_mask_two_layers_do():
    rows = newest_output_by_depth(ANIMAL, depths=(1, 2, 3))
    assert [row["layers"] for row in rows] == [1, 2, 3]
    assert rows[0]["newest_same"] and rows[0]["newest"] < SAME_BELOW
    for row in rows[1:]:
        assert not row["newest_same"] and row["newest"] > 0.1  # far above the threshold, on any CPU
    assert all(row["causal_same"] and row["causal_vs_full"] < SAME_BELOW for row in rows)


def test_two_layer_difference_comes_from_earlier_layer_one_states():
    """The newest token's layer-1 output is the same either way; only the earlier positions' ones differ."""
    none = stacked_heads(ANIMAL, 2)
    causal = stacked_heads(ANIMAL, 2, mask=causal_mask(10))
    assert (none[0][-1] - causal[0][-1]).abs().max() < SAME_BELOW
    assert (none[0][:-1] - causal[0][:-1]).abs().amax(dim=-1).min() > SAME_BELOW
    assert (none[1][-1] - causal[1][-1]).abs().max() > 0.1


def test_newest_output_by_depth_rejects_bad_depths():
    with pytest.raises(TypeError, match="depths"):
        newest_output_by_depth(ANIMAL, depths=2)
    with pytest.raises(TypeError, match="depths"):
        newest_output_by_depth(ANIMAL, depths=())
    with pytest.raises(ValueError, match="depth"):
        newest_output_by_depth(ANIMAL, depths=(0,))


def test_stacked_heads_rejects_bad_input():
    with pytest.raises(ValueError, match="n_layers"):
        stacked_heads(ANIMAL, 0)
    with pytest.raises(ValueError, match="vocabulary"):
        stacked_heads(["the", "zebra"], 2)
    with pytest.raises(ValueError, match="shape"):
        stacked_heads(ANIMAL, 2, mask=causal_mask(4))


def test_format_depth_table_prints_bounds_and_verdicts():
    text = format_depth_table(newest_output_by_depth(ANIMAL, depths=(1, 2)))
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[1].split("|")[1].strip() == "< 1e-5" and "same" in lines[1].split("|")[2]
    assert "differs" in lines[2].split("|")[2]
    assert lines[-1].endswith("'same' when it is below 1e-5")


def test_each_depth_gives_the_same_row_alone_or_among_others():
    """newest_output_by_depth reads every depth off the deepest stack: the rows must equal those computed alone."""
    together = newest_output_by_depth(ANIMAL, depths=(1, 2, 3))
    for row in together:
        (alone,) = newest_output_by_depth(ANIMAL, depths=(row["layers"],))
        assert alone == row
