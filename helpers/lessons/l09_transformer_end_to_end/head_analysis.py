"""09: looking inside the trained model: what each attention head attends to, and what it is needed for.

    attention_maps(model, digits)      the tokens and every layer's and head's map (n_layers, n_heads, 2L, 2L)
    PATTERNS                           the names of the key patterns head_patterns measures
    head_patterns(model, tokens, targets)   {pattern: (n_layers, n_heads) mean weight on the keys that fit}
    name_heads(patterns)               each head's strongest pattern: {(layer, head): (pattern, mean weight)}
    ablate_head(model, layer, head)    a copy of the model with one head's output zeroed
    head_ablation(model, tokens, targets)   (n_layers, n_heads): exact match with each head zeroed in turn

tokens, targets: int64 (B, n), as the sorting task's held_out_set makes them. L: the number of input digits.
"""

import copy

import torch

from helpers.lessons.l09_transformer_end_to_end.evaluation import _check_pair, exact_match
from helpers.lessons.l09_transformer_end_to_end.generation import generate
from helpers.lessons.l09_transformer_end_to_end.sorting_task import IGNORE, encode, input_lengths
from helpers.library.checks import require_int
from helpers.machinery.threads import one_thread

__all__ = ["attention_maps", "PATTERNS", "head_patterns", "name_heads", "ablate_head", "head_ablation"]


def attention_maps(model, digits):
    """What the model attends to while sorting `digits`: (tokens, weights (n_layers, n_heads, 2L, 2L)).

    tokens: the 2L tokens the model reads while generating (generate()'s "tokens"). One forward pass
    over them gives the same rows as the step-by-step generation, because of the causal mask.
    """
    tokens = generate(model, digits)["tokens"]
    with one_thread(), torch.no_grad():
        _, weights = model(encode("".join(tokens))[None], return_weights=True)
    return tokens, weights[0]


def _pattern_masks(tokens, targets):
    """For every query that predicts an output digit, which keys fit each pattern: bool (B, n, n) each."""
    _check_pair(tokens, targets)
    batch, n = tokens.shape
    lengths = input_lengths(tokens)[:, None, None]  # (B, 1, 1)
    query = torch.arange(n)[None, :, None]  # (1, n, 1)
    key = torch.arange(n)[None, None, :]  # (1, 1, n)
    key_token = tokens[:, None, :]  # (B, 1, n)
    is_input = key < lengths
    return {
        "the next answer digit, in the input": is_input & (key_token == targets[:, :, None]),
        "the digit it reads, in the input": is_input & (key_token == tokens[:, :, None]),
        "the separator '='": key == lengths,
        "itself": key == query,
        "the outputs before it": (key > lengths) & (key < query),
    }


PATTERNS = (
    "the next answer digit, in the input",
    "the digit it reads, in the input",
    "the separator '='",
    "itself",
    "the outputs before it",
)


@one_thread()
def head_patterns(model, tokens, targets):
    """What each head attends to from the positions that predict an output digit, measured.

    Returns {pattern: (n_layers, n_heads) mean total weight on the keys that fit the pattern},
    averaged over every scored query of every sequence. Patterns (PATTERNS):
      "the next answer digit, in the input": input positions holding the digit to be output next;
      "the digit it reads, in the input": input positions holding the query's own token;
      "the separator '='"; "itself"; "the outputs before it".
    The patterns overlap (when the next digit repeats the current one, both digit patterns fit).
    """
    masks = _pattern_masks(tokens, targets)
    scored = (targets != IGNORE).float()  # (B, n)
    with torch.no_grad():
        _, weights = model(tokens, return_weights=True)  # (B, n_layers, n_heads, n, n)
    result = {}
    for name in PATTERNS:
        on_pattern = (weights * masks[name][:, None, None].float()).sum(dim=-1)  # (B, n_layers, n_heads, n)
        result[name] = (on_pattern * scored[:, None, None]).sum(dim=(0, 3)) / scored.sum()
    return result


def name_heads(patterns):
    """Each head's strongest pattern: {(layer, head): (pattern, mean weight)}, from head_patterns."""
    if not patterns or set(patterns) - set(PATTERNS):
        raise ValueError(f"patterns must be head_patterns' dict with keys {PATTERNS}")
    table = torch.stack([patterns[name] for name in PATTERNS])  # (n_patterns, n_layers, n_heads)
    best_value, best = table.max(dim=0)
    n_layers, n_heads = best.shape
    return {
        (layer, head): (PATTERNS[int(best[layer, head])], float(best_value[layer, head]))
        for layer in range(n_layers)
        for head in range(n_heads)
    }


def ablate_head(model, layer, head):
    """A copy of the model in which one head's output is zeroed: its d_k columns of w_o are set to 0.

    A head's output enters the rest of the model only through those columns of the output
    projection, so the copy computes exactly the model without that head (w_o's bias stays).
    """
    n_layers, n_heads = model.config["n_layers"], model.config["n_heads"]
    layer = require_int("layer", layer, minimum=0)
    head = require_int("head", head, minimum=0)
    if layer >= n_layers or head >= n_heads:
        raise ValueError(f"layer must be < {n_layers} and head < {n_heads}, got layer={layer}, head={head}")
    ablated = copy.deepcopy(model)
    attention = ablated.blocks[layer].attn
    with torch.no_grad():
        attention.w_o.weight[:, head * attention.d_k : (head + 1) * attention.d_k] = 0.0
    return ablated


@one_thread()
def head_ablation(model, tokens, targets):
    """Exact-match accuracy with each head zeroed in turn: (n_layers, n_heads) tensor."""
    n_layers, n_heads = model.config["n_layers"], model.config["n_heads"]
    result = torch.zeros(n_layers, n_heads)
    for layer in range(n_layers):
        for head in range(n_heads):
            ablated = ablate_head(model, layer, head)
            result[layer, head] = exact_match(ablated, tokens, targets).float().mean()
    return result
