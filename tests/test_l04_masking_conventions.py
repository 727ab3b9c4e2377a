"""Tests for helpers.lessons.l04_masking.mask_conventions: a bool mask's two meanings in PyTorch.

F.scaled_dot_product_attention reads True as "may attend"; nn.MultiheadAttention and nn.Transformer* read True as
"hidden". The conversions are checked against both APIs directly, and the lesson's table against its verdicts.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.lessons.l04_masking import (
    SAME_BELOW,
    SENTENCES,
    additive_mask,
    allowed_key_mask,
    embed,
    format_convention_table,
    hidden_key_mask,
    mask_convention_table,
    mask_conventions,
    project,
)
from helpers.library.attention import causal_mask, padding_mask, scaled_dot_product_attention
from helpers.library.layers import MultiHeadAttention, TransformerBlock

CAT = list(SENTENCES["cat"])


def _randn(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _mha(seed):
    torch.manual_seed(seed)
    return nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64).eval()


def test_conversions_invert_and_round_trip():
    mask = causal_mask(4)
    hidden = hidden_key_mask(mask)
    assert torch.equal(hidden, ~mask) and hidden.dtype == torch.bool
    assert torch.equal(allowed_key_mask(hidden), mask)
    assert hidden[0, 1] and not hidden[1, 0]  # query 0 may not read key 1; query 1 may read key 0


def test_additive_mask_is_zero_where_allowed_and_minus_inf_where_hidden():
    mask = causal_mask(5)
    added = additive_mask(mask, torch.float64)
    assert added.dtype == torch.float64 and added.shape == (5, 5)
    assert (added[mask] == 0).all() and torch.isneginf(added[~mask]).all()
    assert torch.equal(additive_mask(mask), nn.Transformer.generate_square_subsequent_mask(5))


@pytest.mark.parametrize("bad", [torch.ones(3, 3), torch.ones(3, 3, dtype=torch.int64), [[True]]])
def test_conversions_reject_masks_that_are_not_bool(bad):
    for convert in (hidden_key_mask, allowed_key_mask, additive_mask):
        with pytest.raises(TypeError, match="bool"):
            convert(bad)


def test_additive_mask_rejects_a_dtype_that_is_not_floating():
    with pytest.raises(TypeError, match="floating"):
        additive_mask(causal_mask(3), torch.int64)


def test_sdpa_takes_the_course_mask_and_mha_takes_the_hidden_one():
    """The same q, k, v and causal mask: F.sdpa(mask) == nn.MultiheadAttention(hidden_key_mask(mask))."""
    theirs = _mha(seed=0)
    mine = MultiHeadAttention.from_torch(theirs)
    x = _randn(2, 5, 8, seed=1)
    mask = causal_mask(5)
    reference, _ = mine(x, mask=mask)
    converted, _ = theirs(x, x, x, attn_mask=hidden_key_mask(mask))
    torch.testing.assert_close(converted, reference)
    added, _ = theirs(x, x, x, attn_mask=additive_mask(mask, torch.float64))
    torch.testing.assert_close(added, reference)
    unconverted, _ = theirs(x, x, x, attn_mask=mask)  # the course's mask as it is: the wrong keys
    assert not torch.allclose(unconverted.nan_to_num(), reference)
    q, k, v = (_randn(2, 5, 4, seed=s) for s in (2, 3, 4))
    torch.testing.assert_close(
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask), scaled_dot_product_attention(q, k, v, mask)[0]
    )
    torch.testing.assert_close(
        F.scaled_dot_product_attention(q, k, v, attn_mask=allowed_key_mask(hidden_key_mask(mask))),
        scaled_dot_product_attention(q, k, v, mask)[0],
    )


def test_hidden_key_mask_fits_key_padding_mask():
    theirs = _mha(seed=5)
    mine = MultiHeadAttention.from_torch(theirs)
    x = _randn(3, 5, 8, seed=6)
    keep = padding_mask([5, 2, 3], 5)  # (B, n), True = real token
    expected, _ = theirs(x, x, x, key_padding_mask=hidden_key_mask(keep))
    torch.testing.assert_close(mine(x, mask=keep[:, None, :])[0], expected)


def test_transformer_encoder_layer_takes_the_hidden_mask():
    torch.manual_seed(7)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, dtype=torch.float64).eval()
    block = TransformerBlock.from_torch(layer)
    x = _randn(1, 4, 8, seed=8)
    mask = causal_mask(4)
    with torch.no_grad():
        torch.testing.assert_close(layer(x, src_mask=hidden_key_mask(mask)), block(x, mask=mask))
        torch.testing.assert_close(layer(x, src_mask=additive_mask(mask, torch.float64)), block(x, mask=mask))


def test_mask_convention_table_gives_each_api_its_verdict():
    rows = mask_convention_table(CAT)
    verdicts = {(row["api"], row["given"]): row["same"] for row in rows}
    assert verdicts == {
        ("F.scaled_dot_product_attention", "mask"): True,
        ("F.scaled_dot_product_attention", "~mask"): False,
        ("F.scaled_dot_product_attention", "float mask"): True,
        ("nn.MultiheadAttention", "mask"): False,
        ("nn.MultiheadAttention", "~mask"): True,
        ("nn.MultiheadAttention", "float mask"): True,
        ("nn.TransformerEncoderLayer", "mask"): False,
        ("nn.TransformerEncoderLayer", "~mask"): True,
        ("nn.TransformerEncoderLayer", "float mask"): True,
    }
    for row in rows:
        assert row["n"] == len(CAT)
        if row["same"]:
            assert row["rows_differ"] == 0 and row["largest"] < 1e-12  # float64: far below SAME_BELOW
        else:
            assert row["rows_differ"] == len(CAT) and row["largest"] > 100 * SAME_BELOW  # every row, clearly


def test_mask_convention_table_uses_the_toy_heads_q_k_v():
    rows = mask_convention_table(CAT)
    q, k, v = (t.double() for t in project(embed(CAT)))
    inverted = F.scaled_dot_product_attention(q, k, v, attn_mask=~causal_mask(len(CAT)))
    causal = scaled_dot_product_attention(q, k, v, causal_mask(len(CAT)))[0]
    expected = (inverted - causal).abs().max().item()
    (row,) = [r for r in rows if r["api"] == "F.scaled_dot_product_attention" and r["given"] == "~mask"]
    assert row["largest"] == pytest.approx(expected)


def test_mask_convention_table_leaves_the_global_random_state_alone():
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    mask_conventions._modules.cache_clear()  # build the modules again, as in a fresh kernel
    mask_convention_table(CAT)
    assert torch.equal(torch.rand(3), expected)


def test_mask_convention_table_rejects_unknown_words():
    with pytest.raises(ValueError, match="vocabulary"):
        mask_convention_table(["the", "zebra"])


def test_format_convention_table_states_verdicts_and_threshold():
    text = format_convention_table(mask_convention_table(CAT))
    lines = text.splitlines()
    assert len(lines) == 11
    assert "nn.MultiheadAttention          | mask (True = may attend) | no: 6 of 6 rows differ" in text
    assert "nn.MultiheadAttention          | ~mask (True = hidden)    | yes" in text
    assert lines[-1] == "'yes' when no entry of any row differs by 1e-5 or more (float64)"
