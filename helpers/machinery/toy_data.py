"""Small, seeded inputs for the course's examples: sentences and their token vectors."""

import torch

from helpers.library.checks import require_int

__all__ = ["SENTENCES", "toy_embeddings", "toy_queries_and_keys"]

SENTENCES = {
    "cat": ["the", "cat", "sat", "on", "the", "mat"],
    "animal": ["the", "animal", "didn't", "cross", "the", "street", "because", "it", "was", "tired"],
    "bank": ["she", "sat", "by", "the", "river", "bank"],
}


def toy_embeddings(tokens, d_model=16, seed=0):
    """One random vector per distinct token, the same vector wherever a token repeats.

    tokens: list of n strings. Returns (n, d_model) float32, entries ~ N(0, 1).
    """
    if not isinstance(tokens, (list, tuple)) or not tokens or not all(isinstance(t, str) for t in tokens):
        raise TypeError(f"tokens must be a non-empty list of strings, got {tokens!r}")
    d_model = require_int("d_model", d_model, minimum=1)
    vocabulary = sorted(set(tokens))
    generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
    table = torch.randn(len(vocabulary), d_model, generator=generator)
    return table[[vocabulary.index(token) for token in tokens]]


def toy_queries_and_keys(tokens, d_k=8, d_model=16, seed=0):
    """q = x·W_q and k = x·W_k for random projections of the tokens' vectors x.

    Returns q, k, each (n, d_k); W_q, W_k have entries ~ N(0, 1/d_model) so q, k have unit variance.
    """
    x = toy_embeddings(tokens, d_model=d_model, seed=seed)  # (n, d_model)
    generator = torch.Generator().manual_seed(seed + 1)
    w_q, w_k = torch.randn(2, d_model, d_k, generator=generator) / d_model**0.5
    return x @ w_q, x @ w_k
