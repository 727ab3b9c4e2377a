"""09: decoding one token at a time, greedily or by sampling, recording what each step attended to.

    generate(model, digits)            sort typed digits; the output, the verdict, every step's attention rows
                                       (L, n_layers, n_heads, 2L), logits and next-token probabilities (L, vocab_size)
    generate(model, digits, generator, temperature=T, top_k=k)   the same, drawing each token (sampling.py)
    sampled_exact_match(model, tokens, temperature, top_k, seeds)   (n_seeds,): the share of the questions in
                                       `tokens` sorted exactly when every answer token is sampled, one
                                       generator per seed, all seeds run as one batch
    sampling_sweep(model, tokens, targets, temperatures, top_k)   per temperature, with no sampling at all: the
                                       mean entropy of the next-token distribution at the answer positions, and
                                       the expected exact match (the chance that sampling writes every digit right)

digits: a str of L = 1 .. MAX_DIGITS digits (checked by the sorting task's parse_digits).
"""

import torch

from helpers.lessons.l09_transformer_end_to_end.evaluation import _check_pair
from helpers.lessons.l09_transformer_end_to_end.sampling import entropy_bits, sampling_distribution, sampling_margin
from helpers.lessons.l09_transformer_end_to_end.sorting_task import (
    IGNORE,
    MAX_DIGITS,
    MIN_DIGITS,
    SEP,
    decode,
    encode,
    input_lengths,
    parse_digits,
)
from helpers.library.checks import require_int_list, require_number, require_tensor
from helpers.machinery.threads import one_thread

__all__ = ["generate", "sampled_exact_match", "sampling_sweep"]


@one_thread()
def generate(model, digits, generator=None, temperature=None, top_k=None):
    """Sort typed digits one token at a time, recording what each step attended to.

    digits: str of MIN_DIGITS .. MAX_DIGITS digits (checked by parse_digits).
    Greedy (the default, temperature and top_k None): each step appends the most likely next token.
    Sampling (temperature and/or top_k given; generator: a torch.Generator, required): each step draws the
    next token from sampling_distribution(logits, temperature or 1, top_k), using only that generator.
    Step s (0 .. L−1) feeds the L digits, "=" and the s tokens generated so far (L + 1 + s tokens).
    Returns a dict:
      digits (str), tokens (list of 2L str: the input, "=", the first L − 1 generated tokens:
      every token some step read), output (str of L generated tokens), expected (str: the sorted
      digits), correct (bool), temperature, top_k (None when greedy),
      weights (L, n_layers, n_heads, 2L): step s's attention row, its last query over keys
      0 .. L + s (zero beyond: those tokens did not exist yet),
      logits (L, vocab_size): step s's scores for the next token,
      probabilities (L, vocab_size): what step s chose from (greedy: the softmax of its logits),
      margins (L,) float64 when sampling, else None: how far each draw was from flipping (sampling_margin).
    """
    digits = parse_digits(digits)
    sampling = temperature is not None or top_k is not None
    if sampling:
        temperature = 1.0 if temperature is None else temperature
        sampling_distribution(torch.zeros(model.config["vocab_size"]), temperature, top_k)  # checks T and k
        if not isinstance(generator, torch.Generator):
            raise TypeError(
                "sampling needs an explicit generator=torch.Generator().manual_seed(seed), "
                f"got {type(generator).__name__}"
            )
    length = len(digits)
    sequence = encode(digits + SEP)
    n_layers, n_heads, vocab_size = model.config["n_layers"], model.config["n_heads"], model.config["vocab_size"]
    weights = torch.zeros(length, n_layers, n_heads, 2 * length)
    logits_per_step = torch.zeros(length, vocab_size)
    probabilities = torch.zeros(length, vocab_size)
    margins = torch.zeros(length, dtype=torch.float64) if sampling else None
    with torch.no_grad():
        for step in range(length):
            logits, step_weights = model(sequence[None], return_weights=True)
            n = len(sequence)
            weights[step, :, :, :n] = step_weights[0, :, :, -1, :]  # the last query's row, every layer and head
            logits_per_step[step] = logits[0, -1]
            if sampling:
                probabilities[step] = sampling_distribution(logits[0, -1], temperature, top_k).float()
                next_token, margins[step] = sampling_margin(logits[0, -1], generator, temperature, top_k)
            else:
                probabilities[step] = torch.softmax(logits[0, -1], dim=-1)
                next_token = logits[0, -1].argmax()
            sequence = torch.cat([sequence, next_token.reshape(1)])
    output = decode(sequence[length + 1 :])
    expected = "".join(sorted(digits))
    tokens = list(digits) + [SEP] + list(output[:-1])
    return {
        "digits": digits,
        "tokens": tokens,
        "output": output,
        "expected": expected,
        "correct": output == expected,
        "temperature": temperature if sampling else None,
        "top_k": top_k,
        "weights": weights,
        "logits": logits_per_step,
        "probabilities": probabilities,
        "margins": margins,
    }


@one_thread()
def sampled_exact_match(model, tokens, temperature=1.0, top_k=None, seeds=(0, 1, 2, 3, 4)):
    """The share of questions sorted exactly when the answer is sampled: float64 (n_seeds,), one per seed.

    tokens: int64 (B, n) as held_out_set makes them (only the question and "=" are read). Each seed's
    torch.Generator(seed) draws every answer token of every question; all seeds are one batch per length.
    """
    require_tensor("tokens", tokens)
    if tokens.ndim != 2:
        raise ValueError(f"tokens must be (B, n), got shape {tuple(tokens.shape)}")
    seeds = require_int_list("seeds", seeds, minimum=0, distinct=True, what="seed")
    sampling_distribution(torch.zeros(model.config["vocab_size"]), temperature, top_k)  # checks T and k
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    lengths = input_lengths(tokens)
    right = torch.zeros(len(seeds), dtype=torch.float64)
    with torch.no_grad():
        for length in range(MIN_DIGITS, MAX_DIGITS + 1):
            questions = tokens[lengths == length, : length + 1]  # (b, L + 1): the digits and "="
            if not len(questions):
                continue
            expected = questions[:, :length].sort(dim=-1).values  # (b, L)
            sequence = questions.repeat(len(seeds), 1)  # (n_seeds · b, L + 1): seed-major
            for _ in range(length):
                last = model(sequence)[:, -1]  # (n_seeds · b, vocab_size)
                drawn = [
                    sampling_margin(chunk, generator, temperature, top_k)[0]
                    for chunk, generator in zip(last.split(len(questions)), generators, strict=True)
                ]
                sequence = torch.cat([sequence, torch.cat(drawn)[:, None]], dim=1)
            answers = sequence[:, length + 1 :].reshape(len(seeds), len(questions), length)
            right += (answers == expected).all(dim=-1).sum(dim=-1).double()
    return right / len(tokens)


@one_thread()
def sampling_sweep(model, tokens, targets, temperatures, top_k=None):
    """What sampling at each temperature does on these sequences, computed from one forward pass, no draws.

    tokens, targets: int64 (B, n) (held_out_set). temperatures: a sequence of numbers > 0.
    Returns {"temperatures": float64 (n_T,), "entropy_bits": (n_T,) the mean entropy of
    sampling_distribution(logits, T, top_k) over the scored (answer) positions, "exact_match": (n_T,) the mean
    over sequences of the product of the probabilities of the right answer digits}. The product is the chance
    that sampling writes the whole answer right: it is right only if every draw is right, and given a right
    prefix each draw sees the logits of this forward pass (the causal mask). As T -> 0 it becomes greedy's
    exact match.
    """
    _check_pair(tokens, targets)
    temperatures = [require_number("temperature", t, positive=True) for t in temperatures]
    if not temperatures:
        raise ValueError("temperatures must hold at least one temperature")
    scored = targets != IGNORE  # (B, n)
    with torch.no_grad():
        logits = model(tokens)  # (B, n, vocab_size)
    entropy, exact = [], []
    for temperature in temperatures:
        probabilities = sampling_distribution(logits, temperature, top_k)  # (B, n, vocab_size) float64
        entropy.append(entropy_bits(probabilities)[scored].mean())
        right = probabilities.gather(-1, targets.clamp(min=0)[..., None])[..., 0]  # (B, n)
        exact.append(torch.where(scored, right, torch.ones_like(right)).prod(dim=-1).mean())
    return {
        "temperatures": torch.tensor(temperatures, dtype=torch.float64),
        "entropy_bits": torch.stack(entropy),
        "exact_match": torch.stack(exact),
    }
