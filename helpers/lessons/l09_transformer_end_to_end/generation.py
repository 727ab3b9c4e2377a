"""09: greedy decoding, one token at a time, recording what each step attended to.

    generate(model, digits)            sort typed digits; the output, the verdict, every step's attention rows
                                       (L, n_layers, n_heads, 2L) and next-token probabilities (L, vocab_size)

digits: a str of L = 1 .. MAX_DIGITS digits (checked by the sorting task's parse_digits).
"""

import torch

from helpers.lessons.l09_transformer_end_to_end.sorting_task import SEP, decode, encode, parse_digits
from helpers.machinery.threads import one_thread

__all__ = ["generate"]


@one_thread()
def generate(model, digits):
    """Sort typed digits by greedy decoding, one token at a time, recording what each step attended to.

    digits: str of MIN_DIGITS .. MAX_DIGITS digits (checked by parse_digits).
    Step s (0 .. L−1) feeds the L digits, "=" and the s digits generated so far (L + 1 + s tokens),
    runs the model with its causal mask and appends the most likely next token.
    Returns a dict:
      digits (str), tokens (list of 2L str: the input, "=", the first L − 1 generated tokens:
      every token some step read), output (str of L generated tokens), expected (str: the sorted
      digits), correct (bool),
      weights (L, n_layers, n_heads, 2L): step s's attention row, its last query over keys
      0 .. L + s (zero beyond: those tokens did not exist yet),
      probabilities (L, vocab_size): the softmax of step s's logits.
    """
    digits = parse_digits(digits)
    length = len(digits)
    sequence = encode(digits + SEP)
    n_layers, n_heads = model.config["n_layers"], model.config["n_heads"]
    weights = torch.zeros(length, n_layers, n_heads, 2 * length)
    probabilities = torch.zeros(length, model.config["vocab_size"])
    with torch.no_grad():
        for step in range(length):
            logits, step_weights = model(sequence[None], return_weights=True)
            n = len(sequence)
            weights[step, :, :, :n] = step_weights[0, :, :, -1, :]  # the last query's row, every layer and head
            probabilities[step] = torch.softmax(logits[0, -1], dim=-1)
            sequence = torch.cat([sequence, logits[0, -1].argmax().reshape(1)])
    output = decode(sequence[length + 1 :])
    expected = "".join(sorted(digits))
    tokens = list(digits) + [SEP] + list(output[:-1])
    return {
        "digits": digits,
        "tokens": tokens,
        "output": output,
        "expected": expected,
        "correct": output == expected,
        "weights": weights,
        "probabilities": probabilities,
    }
