"""09: looking inside the trained model: what each attention head attends to, and what it is needed for.

    attention_maps(model, digits)      the tokens and every layer's and head's map (n_layers, n_heads, 2L, 2L)
    PATTERNS                           the names of the key patterns head_patterns measures
    head_patterns(model, tokens, targets)   {pattern: (n_layers, n_heads) mean weight on the keys that fit}
    name_heads(patterns)               each head's strongest pattern: {(layer, head): (pattern, mean weight)}
    head_means(model, tokens)          (n_layers, n_heads, d_k): each head's output averaged over every position
                                       that holds a digit or "=", in every sequence of `tokens`
    ablate_head(model, layer, head)    a copy of the model with one head's output zeroed (zero-ablation), or with
                                       mean=...: replaced by that constant vector (mean-ablation)
    head_ablation(model, tokens, targets, mode)   (n_layers, n_heads): exact match with each head ablated in
                                       turn, mode "zero" or "mean" (the means from head_means(model, tokens))

tokens, targets: int64 (B, n), as the sorting task's held_out_set makes them. L: the number of input digits.
"""

import copy

import torch

from helpers.lessons.l09_transformer_end_to_end.evaluation import _check_pair, exact_match
from helpers.lessons.l09_transformer_end_to_end.generation import generate
from helpers.lessons.l09_transformer_end_to_end.sorting_task import IGNORE, PAD_ID, encode, input_lengths
from helpers.library.checks import require_int
from helpers.machinery.threads import one_thread

__all__ = [
    "attention_maps",
    "PATTERNS",
    "head_patterns",
    "name_heads",
    "head_means",
    "ablate_head",
    "ABLATIONS",
    "head_ablation",
]

ABLATIONS = ("zero", "mean")  # head_ablation's modes


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


@one_thread()
def head_means(model, tokens):
    """Each head's mean output: (n_layers, n_heads, d_k), over every position of `tokens` (B, n) not padding.

    A head's output is its d_k slice of the concatenated heads, the input of the output projection w_o.
    """
    if not isinstance(tokens, torch.Tensor) or tokens.ndim != 2:
        raise ValueError(f"tokens must be an int64 tensor (B, n), got {getattr(tokens, 'shape', type(tokens))}")
    real = (tokens != PAD_ID).reshape(-1)  # (B · n,)
    captured = []
    hooks = [
        block.attn.w_o.register_forward_pre_hook(lambda module, inputs: captured.append(inputs[0].detach()))
        for block in model.blocks
    ]
    try:
        with torch.no_grad():
            model(tokens)
    finally:
        for hook in hooks:
            hook.remove()
    n_heads, d_k = model.config["n_heads"], model.blocks[0].attn.d_k
    means = [heads.reshape(-1, n_heads, d_k)[real].mean(dim=0) for heads in captured]  # (n_heads, d_k) each
    return torch.stack(means)


def ablate_head(model, layer, head, mean=None):
    """A copy of the model in which one head's output is replaced: by zeros, or by the constant vector `mean`.

    A head's output enters the rest of the model only through its d_k columns of the output projection w_o,
    so zeroing those columns computes exactly the model without that head (w_o's bias stays): zero-ablation.
    mean: None, or a (d_k,) vector (head_means(model, tokens)[layer, head]): the head then outputs that
    vector at every position whatever it reads, folded into w_o's bias as w_o[:, head's columns] @ mean:
    mean-ablation, which removes what the head says about this input but keeps its average contribution.
    """
    n_layers, n_heads = model.config["n_layers"], model.config["n_heads"]
    layer = require_int("layer", layer, minimum=0)
    head = require_int("head", head, minimum=0)
    if layer >= n_layers or head >= n_heads:
        raise ValueError(f"layer must be < {n_layers} and head < {n_heads}, got layer={layer}, head={head}")
    ablated = copy.deepcopy(model)
    attention = ablated.blocks[layer].attn
    columns = slice(head * attention.d_k, (head + 1) * attention.d_k)
    if mean is not None and (not isinstance(mean, torch.Tensor) or tuple(mean.shape) != (attention.d_k,)):
        raise ValueError(f"mean must be a tensor of shape ({attention.d_k},) (d_k), got {getattr(mean, 'shape', mean)}")
    if mean is not None and attention.w_o.bias is None:
        raise ValueError("mean-ablation folds the mean into w_o's bias: this model's w_o has no bias")
    with torch.no_grad():
        if mean is not None:
            attention.w_o.bias += attention.w_o.weight[:, columns] @ mean.to(attention.w_o.weight.dtype)
        attention.w_o.weight[:, columns] = 0.0
    return ablated


@one_thread()
def head_ablation(model, tokens, targets, mode="zero"):
    """Exact-match accuracy with each head ablated in turn: (n_layers, n_heads) tensor.

    mode: "zero" (the head's output set to 0) or "mean" (set to its mean over `tokens`, head_means).
    """
    if mode not in ABLATIONS:
        raise ValueError(f"mode must be one of {ABLATIONS}, got {mode!r}")
    means = head_means(model, tokens) if mode == "mean" else None
    n_layers, n_heads = model.config["n_layers"], model.config["n_heads"]
    result = torch.zeros(n_layers, n_heads)
    for layer in range(n_layers):
        for head in range(n_heads):
            ablated = ablate_head(model, layer, head, None if means is None else means[layer, head])
            result[layer, head] = exact_match(ablated, tokens, targets).float().mean()
    return result
