"""09: sampling the next token with a temperature and top-k, from an explicit torch.Generator.

    sampling_distribution(logits, temperature, top_k)   softmax(logits / T) over the k most likely tokens only,
                                                        renormalised: float64 (..., vocab_size)
    sample_next_token(logits, generator, temperature, top_k)   one draw per row: int64 (...,), by inverse CDF
    sampling_margin(logits, generator, temperature, top_k)     the same draws, and how far each uniform number
                                                        fell from the nearest boundary of its CDF: float64 (...,)
    entropy_bits(probabilities)                         −Σ p log2 p along the last dim: (...,)

logits: float (..., vocab_size), one row of scores per position. temperature: a number > 0 (lesson 03's
temperature: below 1 sharpens, above 1 flattens; as T → 0 the draw becomes the argmax). top_k: None (every
token) or an int 1 .. vocab_size; top_k = 1 is greedy decoding.

The draws use only the generator passed in, never torch's global random state. They are made by inverse CDF
in float64: a uniform u in [0, 1) picks the first token whose cumulative probability exceeds u. Another CPU
can round the logits' last bits differently (about 1e-6 here), which moves the CDF's boundaries by about as
much: a draw can change only if its u lies that close to a boundary, and sampling_margin measures that.
"""

import torch

from helpers.library.checks import require_float_tensor, require_int, require_number

__all__ = ["sampling_distribution", "sample_next_token", "sampling_margin", "entropy_bits"]


def _check_logits(logits):
    require_float_tensor("logits", logits)
    if logits.dim() < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits must be (..., vocab_size) with vocab_size >= 1, got shape {tuple(logits.shape)}")
    if torch.isnan(logits).any():
        raise ValueError(f"logits of shape {tuple(logits.shape)} hold a NaN")


def _check_top_k(top_k, vocab_size):
    if top_k is None:
        return vocab_size
    top_k = require_int("top_k", top_k, minimum=1)
    if top_k > vocab_size:
        raise ValueError(f"top_k must be from 1 to vocab_size = {vocab_size} (the logits' last dim), got {top_k}")
    return top_k


def sampling_distribution(logits, temperature=1.0, top_k=None):
    """The distribution a token is drawn from: softmax(logits / T) over the top_k most likely tokens, renormalised.

    logits: float (..., vocab_size). Returns float64 (..., vocab_size), each row summing to 1, zero outside the
    top k (ties at the k-th largest logit are broken as torch.topk breaks them).
    Raises ValueError for temperature <= 0, top_k < 1 or top_k > vocab_size, NaN logits; TypeError for
    non-tensor logits or a non-int top_k.
    """
    _check_logits(logits)
    temperature = require_number("temperature", temperature, positive=True)
    top_k = _check_top_k(top_k, logits.shape[-1])
    scaled = logits.double() / temperature  # (..., vocab_size)
    if torch.isinf(scaled[torch.isfinite(logits)]).any():
        raise ValueError(f"temperature={temperature} is too small for these logits: logits / temperature overflows")
    if top_k < logits.shape[-1]:
        kept = torch.zeros_like(scaled, dtype=torch.bool)
        kept.scatter_(-1, scaled.topk(top_k, dim=-1).indices, True)
        scaled = scaled.masked_fill(~kept, float("-inf"))
    return torch.softmax(scaled, dim=-1)


def _draw(probabilities, generator):
    """Inverse CDF: (tokens int64 (...,), margins float64 (...,)) for float64 probabilities (..., vocab_size)."""
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            "generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), "
            f"got {type(generator).__name__}"
        )
    cdf = probabilities.cumsum(dim=-1)  # (..., vocab_size)
    cdf = cdf / cdf[..., -1:]  # the last boundary exactly 1
    u = torch.rand(probabilities.shape[:-1], generator=generator, dtype=torch.float64)  # (...,) in [0, 1)
    tokens = torch.searchsorted(cdf.contiguous(), u[..., None].contiguous(), right=True)[..., 0]
    tokens = tokens.clamp(max=probabilities.shape[-1] - 1)  # first token whose cumulative probability > u
    inner = cdf[..., :-1]  # the boundaries between tokens
    margins = (inner - u[..., None]).abs().amin(dim=-1) if inner.shape[-1] else torch.full_like(u, float("inf"))
    return tokens, margins


def sample_next_token(logits, generator, temperature=1.0, top_k=None):
    """Draw one token per row of logits from sampling_distribution(logits, temperature, top_k).

    logits: float (..., vocab_size). generator: a torch.Generator, the only source of randomness used.
    Returns int64 (...,). top_k = 1, or a temperature near 0, gives the argmax.
    """
    return _draw(sampling_distribution(logits, temperature, top_k), generator)[0]


def sampling_margin(logits, generator, temperature=1.0, top_k=None):
    """sample_next_token's draws and their margins: (tokens int64 (...,), margins float64 (...,)).

    A margin is the distance from the draw's uniform number u to the nearest boundary of its CDF: a change of the
    probabilities smaller than it cannot change the draw. Consumes the generator exactly as sample_next_token does.
    """
    return _draw(sampling_distribution(logits, temperature, top_k), generator)


def entropy_bits(probabilities):
    """Shannon entropy in bits along the last dim: −Σ p log2 p, with 0 · log 0 = 0. (...,) from (..., vocab_size)."""
    require_float_tensor("probabilities", probabilities)
    logs = torch.where(probabilities > 0, probabilities.log2(), torch.zeros_like(probabilities))
    return -(probabilities * logs).sum(dim=-1)
