"""The feed-forward sublayer: the same small MLP on every token, and where a block's parameters live.

Each block of a transformer has two sublayers: attention, which mixes the tokens, then a feed-forward network,
which transforms each token on its own: FFN(x) = activation(x·W_1ᵀ + b_1)·W_2ᵀ + b_2, with W_1 (d_ff, d_model)
and W_2 (d_model, d_ff) laid out as nn.Linear's weights (PyTorch's nn.TransformerEncoderLayer calls them
linear1 and linear2). The library's TransformerBlock holds it as `ff`.

    position_wise_feed_forward(x, w_1, b_1, w_2, b_2)   the position-wise FFN, x (..., n, d_model) -> (..., n, d_model)
    token_influence(fn, x)                (n, n): how much output token i moves when input token j moves
    permutation_error(fn, x, order)       largest |fn(x permuted) − fn(x) permuted|: 0 for a per-token map
    block_parameter_counts(d_model, d_ff) parameters of one block: attention, feed-forward, LayerNorms
    tiny_transformer_parameter_counts()   lesson 09's model, counted by the formula from its configuration
    minilm_parameter_counts()             all-MiniLM-L6-v2, counted from the shapes stored in its weights file
    encoder_order_findings()              the notes' encoder sentence against PyTorch's encoder layer
    encoder_sentence_verdict(order, influence)   that sentence judged, in Markdown
    parameter_table(models), parameter_summary(models)   the counts as a table, and what they say
    plot_token_influence(influence, ax)   token_influence as a heatmap

Shapes: n tokens, d_model features, d_ff the FFN's hidden width.
"""

import json
import math

import torch
import torch.nn.functional as F
from torch import nn

from helpers.library.checks import require_float_tensor, require_int
from helpers.machinery.minilm import minilm_dir

__all__ = [
    "ACTIVATIONS",
    "TINY_TRANSFORMER_CONFIG",
    "position_wise_feed_forward",
    "token_influence",
    "permutation_error",
    "block_parameter_counts",
    "tiny_transformer_parameter_counts",
    "minilm_config",
    "minilm_parameter_counts",
    "encoder_order_findings",
    "parameter_table",
    "parameter_summary",
    "encoder_sentence_verdict",
    "plot_token_influence",
]

# "relu": the original transformer's and PyTorch's default; "gelu": BERT's and MiniLM's (the exact, erf form).
ACTIVATIONS = {"relu": torch.relu, "gelu": F.gelu}

# Lesson 09's model (helpers.lessons.l09_transformer_end_to_end.tiny_transformer.CONFIG), written out here
# because a room does not import another; tests/test_l06_add_and_norm_feed_forward.py checks it is the same.
TINY_TRANSFORMER_CONFIG = {"vocab_size": 12, "n_positions": 12, "d_model": 32, "n_heads": 4, "n_layers": 2, "d_ff": 64}


def position_wise_feed_forward(x, w_1, b_1, w_2, b_2, activation="relu"):
    """The position-wise feed-forward network: activation(x·W_1ᵀ + b_1)·W_2ᵀ + b_2, token by token.

    x: (..., d_model), any number of leading axes (tokens, sequences)   w_1: (d_ff, d_model)   b_1: (d_ff,)
    w_2: (d_model, d_ff)   b_2: (d_model,)   activation: "relu" or "gelu".
    Returns (..., d_model). Only the last axis is ever mixed, so each token is transformed on its own.
    """
    for name, value in (("x", x), ("w_1", w_1), ("b_1", b_1), ("w_2", w_2), ("b_2", b_2)):
        require_float_tensor(name, value)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
    if w_1.ndim != 2 or w_2.ndim != 2:
        raise ValueError(f"w_1 and w_2 must be matrices, got {tuple(w_1.shape)} and {tuple(w_2.shape)}")
    d_ff, d_model = w_1.shape
    if x.ndim == 0 or x.shape[-1] != d_model:
        raise ValueError(
            f"x must have shape (..., d_model={d_model}) to match w_1 {tuple(w_1.shape)}, got {tuple(x.shape)}"
        )
    if b_1.shape != (d_ff,) or w_2.shape != (d_model, d_ff) or b_2.shape != (d_model,):
        raise ValueError(
            f"with w_1 (d_ff={d_ff}, d_model={d_model}) expected b_1 ({d_ff},), w_2 ({d_model}, {d_ff}), "
            f"b_2 ({d_model},); got {tuple(b_1.shape)}, {tuple(w_2.shape)}, {tuple(b_2.shape)}"
        )
    hidden = ACTIVATIONS[activation](x @ w_1.T + b_1)  # (..., d_ff): d_ff numbers per token
    return hidden @ w_2.T + b_2  # (..., d_model)


def _require_tokens(x):
    require_float_tensor("x", x)
    if x.ndim != 2:
        raise ValueError(f"x must be one sequence of shape (n, d_model), got {tuple(x.shape)}")


def token_influence(fn, x):
    """How much each output token depends on each input token: ‖∂ fn(x)[i] / ∂ x[j]‖ for all i, j.

    fn: a function of a batch (1, n, d_model) -> (1, n, d_model), e.g. a sublayer.   x: one sequence (n, d_model).
    Returns (n, n), entry (i, j) the spectral norm of the (d_model, d_model) Jacobian block: 0 off the
    diagonal means output token i ignores every other token.
    """
    _require_tokens(x)
    n, d = x.shape
    jacobian = torch.autograd.functional.jacobian(lambda v: fn(v.unsqueeze(0)).squeeze(0), x)  # (n, d, n, d)
    blocks = jacobian.permute(0, 2, 1, 3)  # (n, n, d, d): block (i, j) is ∂ output i / ∂ input j
    return torch.linalg.matrix_norm(blocks, ord=2)


def permutation_error(fn, x, order):
    """Largest |fn(x[order]) − fn(x)[order]|: 0 if shuffling the tokens only shuffles the outputs.

    fn: (1, n, d_model) -> (1, n, d_model)   x: (n, d_model)   order: a permutation of range(n) (list or int tensor).
    """
    _require_tokens(x)
    order = torch.as_tensor(order)
    if order.dtype != torch.long or sorted(order.tolist()) != list(range(x.shape[0])):
        raise ValueError(f"order must be a permutation of 0 .. {x.shape[0] - 1}, got {order.tolist()}")
    with torch.no_grad():
        return float((fn(x[order].unsqueeze(0)) - fn(x.unsqueeze(0))[:, order]).abs().max())


def block_parameter_counts(d_model, d_ff, bias=True):
    """Parameters of one transformer block, by part (the heads split d_model, so their number does not matter).

    attention: W_q, W_k, W_v, W_o, each d_model × d_model (+ d_model biases); feed-forward: W_1 d_ff × d_model
    (+ d_ff), W_2 d_model × d_ff (+ d_model); LayerNorms: two, each γ and β of d_model.
    Returns {"attention", "feed-forward", "LayerNorms", "block"}: ints.
    """
    d_model = require_int("d_model", d_model, minimum=1)
    d_ff = require_int("d_ff", d_ff, minimum=1)
    attention = 4 * d_model * d_model + (4 * d_model if bias else 0)
    ffn = 2 * d_model * d_ff + (d_ff + d_model if bias else 0)
    norms = 4 * d_model
    return {"attention": attention, "feed-forward": ffn, "LayerNorms": norms, "block": attention + ffn + norms}


def _model_counts(block, n_layers, embeddings, rest):
    """{part: count} for a model of n_layers identical blocks, with the FFN's share of a block and of the model."""
    ffn = n_layers * block["feed-forward"]
    counts = {
        "embeddings": embeddings,
        "attention": n_layers * block["attention"],
        "feed-forward": ffn,
        "LayerNorms": n_layers * block["LayerNorms"],
        "rest": rest,
    }
    counts["total"] = sum(counts.values())
    counts["feed-forward share of a block"] = block["feed-forward"] / block["block"]
    counts["feed-forward share of the model"] = ffn / counts["total"]
    return counts


def tiny_transformer_parameter_counts(config=None):
    """Lesson 09's TinyTransformer (learned positions), counted from its configuration by formula.

    config: {"vocab_size", "n_positions", "d_model", "n_layers", "d_ff", ...}; default TINY_TRANSFORMER_CONFIG.
    Returns {"embeddings": token embedding + positions, "attention", "feed-forward", "LayerNorms": all blocks',
    "rest": final LayerNorm + output projection, "total", "d_ff / d_model", and the FFN's share of a block and
    of the model (fractions)}.
    """
    c = dict(TINY_TRANSFORMER_CONFIG if config is None else config)
    d, vocab = c["d_model"], c["vocab_size"]
    counts = _model_counts(
        block_parameter_counts(d, c["d_ff"]), c["n_layers"], (vocab + c["n_positions"]) * d, 2 * d + d * vocab + vocab
    )
    return counts | {"d_ff / d_model": c["d_ff"] / d}


def minilm_config():
    """all-MiniLM-L6-v2's config.json (a dict), read from the installed package: d_model is "hidden_size",
    d_ff "intermediate_size", the layers "num_hidden_layers"."""
    return json.loads((minilm_dir() / "config.json").read_text(encoding="utf-8"))


def _stored_shapes():
    """{name: shape} of every tensor in MiniLM's model.safetensors, read from the file's header (no weights loaded)."""
    from safetensors import safe_open

    with safe_open(str(minilm_dir() / "model.safetensors"), "pt") as weights:
        return {name: tuple(weights.get_slice(name).get_shape()) for name in weights.keys()}  # noqa: SIM118


def _minilm_part(name):
    """Which part of the model a stored tensor belongs to, from its name (BERT's naming)."""
    if name.startswith("embeddings."):
        return "embeddings"
    if ".attention." in name:  # the attention's projections, and the LayerNorm of its Add & Norm
        return "LayerNorms" if "LayerNorm" in name else "attention"
    if ".intermediate." in name or ".output.dense." in name:  # W_1 and W_2
        return "feed-forward"
    if ".output.LayerNorm." in name:
        return "LayerNorms"
    return "rest"  # the pooler, a d_model × d_model layer on [CLS] for sentence classification


def minilm_parameter_counts():
    """all-MiniLM-L6-v2's parameters by part, counted from the shapes in its weights file, and by formula.

    Returns {"embeddings": words, positions, token types and their LayerNorm, "attention", "feed-forward",
    "LayerNorms": all six blocks', "rest": the pooler, "total", "formula total": the same total from
    config.json and block_parameter_counts, "d_ff / d_model", and the FFN's share of a block and of the model}.
    The stored `embeddings.position_ids` is a buffer of indices, not a parameter, and is left out.
    """
    counts = dict.fromkeys(("embeddings", "attention", "feed-forward", "LayerNorms", "rest"), 0)
    for name, shape in _stored_shapes().items():
        if name != "embeddings.position_ids":
            counts[_minilm_part(name)] += math.prod(shape)
    c = minilm_config()
    d, d_ff, n_layers = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    block = block_parameter_counts(d, d_ff)
    embeddings = (c["vocab_size"] + c["max_position_embeddings"] + c["type_vocab_size"] + 2) * d
    formula = _model_counts(block, n_layers, embeddings, d * d + d)
    counts["total"] = sum(counts.values())
    return counts | {
        "formula total": formula["total"],
        "d_ff / d_model": d_ff / d,
        "feed-forward share of a block": block["feed-forward"] / block["block"],
        "feed-forward share of the model": counts["feed-forward"] / counts["total"],
    }


def encoder_order_findings(d_model=16, n_heads=2, d_ff=32, seed=0):
    """The notes: "linearly projected, then Add & Norm, then fed to a feed forward network". Two readings,
    each computed with the weights of one nn.TransformerEncoderLayer (Post-LN, dropout off):

      notes: FFN(LayerNorm(x + attention(x))), the FFN's output as the block's output;
      paper: LayerNorm(h + FFN(h)) with h = LayerNorm(x + attention(x)), the FFN wrapped in its own Add & Norm.
    Returns {reading: largest |difference| from PyTorch's layer's output} on a random (2, 8, d_model) input.
    """
    require_int("seed", seed, minimum=0)
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=0.0, batch_first=True).eval()
    x = torch.randn(2, 8, d_model, generator=torch.Generator().manual_seed(seed))
    w = (layer.linear1.weight, layer.linear1.bias, layer.linear2.weight, layer.linear2.bias)
    with torch.no_grad():
        attended = layer.self_attn(x, x, x, need_weights=False)[0]
        h = layer.norm1(x + attended)  # attention (projections, then W_o), then Add & Norm
        readings = {
            "notes": position_wise_feed_forward(h, *w),
            "paper": layer.norm2(h + position_wise_feed_forward(h, *w)),
        }
        reference = layer(x)
        return {name: float((value - reference).abs().max()) for name, value in readings.items()}


def _share(value):
    return f"{100 * float(value):.0f} %"


def parameter_table(models):
    """Markdown: one row per model of {name: *_parameter_counts()}, its parameters by part and the FFN's shares."""
    parts = ("embeddings", "attention", "feed-forward", "LayerNorms", "rest", "total")
    lines = [
        "| model | d_ff / d_model | " + " | ".join(parts) + " | FFN's share of a block | FFN's share of the model |",
        "|---|" + "---|" * (len(parts) + 3),
    ]
    for name, counts in models.items():
        cells = " | ".join(f"{counts[part]:,}" for part in parts)
        lines.append(
            f"| {name} | {counts['d_ff / d_model']:g} | {cells} | {_share(counts['feed-forward share of a block'])} "
            f"| {_share(counts['feed-forward share of the model'])} |"
        )
    return "\n".join(lines)


def parameter_summary(models):
    """What the counts say, in Markdown, one line per model of {name: *_parameter_counts()}: where most of a
    block's parameters live, and whether that is also most of the model's."""
    lines = []
    for name, c in models.items():
        block = c["attention"] + c["feed-forward"] + c["LayerNorms"]
        ffn, attention = c["feed-forward"] / block, c["attention"] / block
        most = "most" if ffn > 0.5 else "about half" if ffn > 0.45 else "less than half"
        blocks = block / c["total"]
        larger = "more than" if c["embeddings"] > block else "less than"
        lines.append(
            f"- **{name}** (d_ff = {c['d_ff / d_model']:g} × d_model): the FFN holds {most} of a block's parameters "
            f"({_share(ffn)}; attention {_share(attention)}). Of the whole model the blocks hold {_share(blocks)} and "
            f"the FFNs {_share(c['feed-forward share of the model'])}: the embeddings "
            f"({_share(c['embeddings'] / c['total'])}) hold {larger} all the blocks together."
        )
    return "\n".join(lines)


def encoder_sentence_verdict(order, influence, below=1e-6):
    """The notes' encoder sentence, judged: Markdown with each finding (yes/no) and the verdict.

    order: encoder_order_findings()   influence: token_influence(an FFN, x), (n, n)   below: a difference below this
    is "the same". Supported if every finding holds, partly if some do (judging.verdict).
    """
    from helpers.lessons.l06_add_and_norm.judging import verdict

    off_diagonal = influence[~torch.eye(influence.shape[0], dtype=torch.bool)]
    mixing = float(off_diagonal.abs().max())
    findings = [
        ("the FFN reads LayerNorm(x + attention(x)), the output of the first Add & Norm, as in PyTorch's "
         f"nn.TransformerEncoderLayer (difference {_bound(order['paper'], below)})", order["paper"] < below),
        ("and its output is what the block hands on (difference from PyTorch's layer "
         f"{_bound(order['notes'], below)}: the FFN has its own Add & Norm)", order["notes"] < below),
        ("a feed-forward neural network: one small MLP applied to each token alone (largest influence of one token "
         f"on another's output {_bound(mixing, below)})", mixing < below),
    ]  # fmt: skip
    lines = [f"- {text}: **{'yes' if holds else 'no'}**" for text, holds in findings]
    return "\n".join([*lines, "", f"Verdict on the notes' sentence: **{verdict(findings)}**."])


def _bound(value, below):
    return f"< {below:.0e}".replace("e-0", "e-") if value < below else f"{value:.2f}"


def plot_token_influence(influence, ax, title="How much output i moves with input j"):
    """Heatmap of token_influence(...) (n, n), each scaled by its largest entry. Returns ax."""
    values = torch.as_tensor(influence, dtype=torch.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise ValueError(f"influence must be (n, n), got {tuple(values.shape)}")
    image = ax.imshow((values / values.max().clamp(min=1e-30)).numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set_xlabel("input token j")
    ax.set_ylabel("output token i")
    ax.set_title(title, fontsize="medium")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the largest")
    return ax
