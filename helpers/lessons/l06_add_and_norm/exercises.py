"""06_add_and_norm's exercises: RMSNorm by hand, Pre-LN wiring, the residual stream's growth, a probe, and the
feed-forward sublayer."""

import math

import torch

from helpers.lessons.l06_add_and_norm.blocks import VARIANTS, AddNormBlock, add_and_norm, layer_norm
from helpers.machinery.answers import close
from helpers.machinery.exercise_checking import call_learner, checker, error_hint, report

__all__ = ["check_rms_norm", "check_pre_ln", "check_residual_rms", "check_output_is_normalised", "check_feed_forward"]


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- exercise 1


RMS_NORM_HINT = "divide each token by the root of the mean of its squared features: x / sqrt(mean(x², dim=-1) + eps)"


def _rms_norm_mistake(x, answer, eps):
    """A hint naming the likely mistake, by comparing with common wrong versions."""
    mean_square = x.pow(2).mean(dim=-1, keepdim=True)
    wrong = {
        "that is LayerNorm: RMSNorm does not subtract the mean": layer_norm(x, eps=eps),
        "eps goes inside the square root: sqrt(mean(x²) + eps)": x / (mean_square.sqrt() + eps),
        "take the square root of the mean square: x / sqrt(mean(x²) + eps)": x / (mean_square + eps),
        "take the mean over each token's features (dim=-1), not over the whole tensor": x
        / torch.sqrt(x.pow(2).mean() + eps),
    }
    for hint, value in wrong.items():
        if answer.shape == value.shape and close(answer, value, atol=1e-4, rtol=1e-4):
            return hint
    return RMS_NORM_HINT


@checker
def check_rms_norm(fn):
    """Exercise 1: fn(x, eps) is RMSNorm: each token of x (..., d_model) divided by its root mean square."""
    title = "Exercise 1: RMSNorm, LayerNorm without the mean"
    cases = [
        ("x of shape (2, 5, 16), features of very different scales", _randn(2, 5, 16) * torch.linspace(0.1, 9, 16) + 3),
        ("one token (16,)", _randn(16, seed=1)),
        ("tokens with a tiny size (mean square 1e-6, close to eps)", _randn(3, 8, seed=3) * 1e-3),
        ("a token of zeros (eps keeps it finite)", torch.zeros(2, 6)),
    ]
    results = []
    for description, x in cases:
        answer, error = call_learner(fn, x.clone(), 1e-6)
        if error is not None:
            results.append((description, False, error_hint(error, RMS_NORM_HINT)))
            return report(title, results)
        if not isinstance(answer, torch.Tensor) or answer.shape != x.shape:
            shape = tuple(answer.shape) if isinstance(answer, torch.Tensor) else type(answer).__name__
            results.append((f"{description}: returns a tensor of shape {tuple(x.shape)}", False,
                            f"got {shape}; keep the shape: take the mean with keepdim=True"))  # fmt: skip
            return report(title, results)
        expected = torch.nn.functional.rms_norm(x, x.shape[-1:], eps=1e-6)
        finite = bool(torch.isfinite(answer).all())
        matches = finite and close(answer, expected, atol=1e-4, rtol=1e-4)
        hint = _rms_norm_mistake(x, answer, 1e-6) if finite else "a NaN or inf: did you forget eps?"
        results.append((f"{description}: matches torch.nn.functional.rms_norm", matches, hint))
    return report(title, results)


# --------------------------------------------------------------------------- exercise 2


@checker
def check_pre_ln(fn):
    """Exercise 2: fn(x, sublayer, norm) wraps a sublayer the Pre-LN way: x + sublayer(norm(x))."""
    title = "Exercise 2: the Pre-LN wiring"
    torch.manual_seed(0)
    block = AddNormBlock(8, 2, 16, variant="pre_ln")
    with torch.no_grad():
        block.norm1.weight.mul_(2.0)
    x = _randn(2, 4, 8, seed=3) * 3 + 1
    cases = [
        ("with a feed-forward sublayer and a LayerNorm", block.ff, block.norm1),
        ("with attention as the sublayer", lambda u: block.attn(u)[0], block.norm1),
        ("with sublayer = 2·u and norm = u / 10 (easy to follow by hand)", lambda u: 2 * u, lambda u: u / 10),
    ]
    results = []
    with torch.no_grad():
        for description, sublayer, norm in cases:
            answer, error = call_learner(fn, x.clone(), sublayer, norm)
            if error is not None:
                results.append((description, False, error_hint(error, "return x + sublayer(norm(x))")))
                break
            expected = add_and_norm(x, sublayer, norm, "pre_ln")
            ok = isinstance(answer, torch.Tensor) and answer.shape == x.shape and close(answer, expected)
            hint = "Pre-LN normalises the sublayer's input and adds the untouched x: x + sublayer(norm(x))"
            if isinstance(answer, torch.Tensor) and answer.shape == x.shape and not ok:
                for variant, advice in (
                    ("post_ln", "that is Post-LN, norm(x + sublayer(x)); Pre-LN moves the norm inside the branch"),
                    ("residual", "the norm is missing: the sublayer should see norm(x)"),
                ):
                    if close(answer, add_and_norm(x, sublayer, norm, variant)):
                        hint = advice
                if close(answer, sublayer(norm(x))):
                    hint = "the residual path is missing: add x to the sublayer's output"
                if close(answer, norm(x) + sublayer(norm(x))):
                    hint = "add the original x, not norm(x): the residual stream itself is never normalised"
            results.append((f"{description}: equals x + sublayer(norm(x))", ok, hint))
    return report(title, results)


# --------------------------------------------------------------------------- exercise 3


def simulate_residual_rms(rms0, c, depth, d=256, seed=0):
    """The RMS of x after `depth` steps x ← x + f, where f is fresh noise of variance c·Var(x): uncorrelated with x."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(64, d, generator=generator, dtype=torch.float64)
    x = x * rms0 / x.pow(2).mean().sqrt()
    for _ in range(depth):
        x = x + math.sqrt(c) * x.pow(2).mean().sqrt() * torch.randn(64, d, generator=generator, dtype=torch.float64)
    return float(x.pow(2).mean().sqrt())


@checker
def check_residual_rms(fn):
    """Exercise 3: fn(rms0, c, depth) predicts the RMS of the stream after `depth` residual blocks.

    Each block adds f(x), uncorrelated with x, with Var(f(x)) = c·Var(x): the answer is rms0·(1 + c)^(depth/2).
    """
    title = "Exercise 3: how fast does the residual stream grow?"
    results = []
    cases = [(1.0, 0.16, 48), (2.0, 1.0, 3), (0.5, 0.0, 10), (1.0, 0.3, 0)]
    for rms0, c, depth in cases:
        answer, error = call_learner(fn, rms0, c, depth)
        description = f"residual_rms({rms0}, {c}, {depth})"
        if error is not None:
            results.append((f"{description} runs", False, error_hint(error, "use rms0 * (1 + c) ** (depth / 2)")))
            return report(title, results)
        expected = rms0 * (1 + c) ** (depth / 2)
        is_number = isinstance(answer, (int, float)) and not isinstance(answer, bool) and math.isfinite(answer)
        ok = is_number and math.isclose(answer, expected, rel_tol=1e-3)
        hint = "variances of uncorrelated terms add: Var(x + f(x)) = (1 + c)·Var(x) per block; the RMS is its root"
        if is_number and math.isclose(answer, rms0 * (1 + c) ** depth, rel_tol=1e-3) and depth and c:
            hint = "(1 + c) multiplies the variance; the RMS is the square root of the variance"
        elif is_number and math.isclose(answer, rms0 * (1 + depth * c) ** 0.5, rel_tol=1e-3) and depth > 1 and c:
            hint = "each block multiplies the variance by (1 + c): the growth compounds, it does not add up"
        if not is_number:
            hint = "return a number (a float)"
        if ok and (rms0, c, depth) == cases[0]:
            measured = simulate_residual_rms(rms0, c, depth)
            description += f" = {answer:.2f}; a simulation with d = 256 measures {measured:.2f}"
        results.append((description, ok, hint))
    return report(title, results)


# --------------------------------------------------------------------------- exercise 4


def _probe_blocks():
    """(description, block) pairs: the five variants at initialisation, and two LayerNorm-like traps."""
    blocks = []
    for i, variant in enumerate(VARIANTS):
        torch.manual_seed(10 + i)
        blocks.append((variant, AddNormBlock(16, 2, 32, variant=variant).eval()))
    blocks.append(("LayerNorm with γ = 2 (every token mean 0, variance 4)", lambda x: 2 * layer_norm(x)))
    blocks.append(("a plain LayerNorm", lambda x: layer_norm(x)))
    return blocks


def _says_unbiased_is_normalised(fn, x, d):
    """True if fn calls a stream normalised whose unbiased variance (÷ (d − 1)) is 1, i.e. whose variance is not."""

    def unbiased_one(u):
        return layer_norm(u) * math.sqrt((d - 1) / d)  # population variance (d − 1)/d, unbiased variance 1

    answer, error = call_learner(fn, unbiased_one, x.clone())
    if error is not None:
        return False
    return answer is True or (isinstance(answer, torch.Tensor) and answer.numel() == 1 and bool(answer))


@checker
def check_output_is_normalised(fn):
    """Exercise 4: fn(block, x) returns True if every token of block(x) has mean ≈ 0 and variance ≈ 1."""
    title = "Exercise 4: which blocks hand on a normalised stream?"
    x = _randn(2, 6, 16, seed=4) * 2 + 0.5
    results = []
    for description, block in _probe_blocks():
        answer, error = call_learner(fn, block, x.clone())
        if error is not None:
            advice = "compute y = block(x), then y.mean(dim=-1) and y.var(dim=-1, unbiased=False) per token"
            results.append((f"{description}: runs", False, error_hint(error, advice)))
            return report(title, results)
        with torch.no_grad():
            y = block(x)
        expected = bool(close(y, layer_norm(y), atol=1e-3))  # already what LayerNorm (γ = 1, β = 0) gives
        if isinstance(answer, torch.Tensor) and answer.numel() == 1 and answer.dtype == torch.bool:
            answer = bool(answer)
        if not isinstance(answer, bool):
            results.append((f"{description}: returns True or False", False, f"got {answer!r}; return a bool"))
            return report(title, results)
        hint = (
            "a LayerNorm output has, per token, mean 0 and variance 1: test both, per token, with a tolerance "
            "(close(..., atol=1e-3))"
        )
        if description == "pre_ln" and answer:
            hint = "Pre-LN normalises what goes into the sublayers; the stream x + f(norm(x)) it hands on is not"
        d = y.shape[-1]
        if expected and not answer and _says_unbiased_is_normalised(fn, x, d):
            hint = (
                f"use the population variance, y.var(dim=-1, unbiased=False), which divides by d = {d}: the unbiased "
                f"one (torch's default) divides by d − 1 and gives {d / (d - 1):.3f} for a normalised token"
            )
        verdict = "normalised" if expected else "not normalised"
        results.append((f"{description}: its output is {verdict} (you said {answer})", answer == expected, hint))
    return report(title, results)


# --------------------------------------------------------------------------- exercise 5 (the feed-forward sublayer)


FEED_FORWARD_HINT = (
    "hidden = torch.relu(x @ w_1.T + b_1), then return hidden @ w_2.T + b_2 (nn.Linear stores w_1 as (d_ff, d_model): "
    "multiply by its transpose)"
)


def _feed_forward_mistake(x, answer, w_1, b_1, w_2, b_2):
    """A hint naming the likely mistake, by comparing with common wrong versions."""
    wrong = {
        "the ReLU is missing: without it the two layers are one linear map": (x @ w_1.T + b_1) @ w_2.T + b_2,
        "the ReLU goes between the two layers, not after the second": torch.relu((x @ w_1.T + b_1) @ w_2.T + b_2),
        "a bias is missing: add b_1 after the first layer and b_2 after the second": torch.relu(x @ w_1.T) @ w_2.T,
    }
    if x.ndim >= 2:  # a mean over the tokens: the FFN would then mix them
        mixed = (torch.relu(x.mean(dim=-2, keepdim=True) @ w_1.T + b_1) @ w_2.T + b_2).expand_as(x)
        wrong["the FFN sees one token at a time: nothing may mix the tokens (no mean or sum over the token axis)"] = (
            mixed
        )
    for hint, value in wrong.items():
        if answer.shape == value.shape and close(answer, value, atol=1e-4, rtol=1e-4):
            return hint
    return FEED_FORWARD_HINT


@checker
def check_feed_forward(fn):
    """Exercise 5: fn(x, w_1, b_1, w_2, b_2) is the position-wise FFN, relu(x·W_1ᵀ + b_1)·W_2ᵀ + b_2, with
    nn.Linear's layout: w_1 (d_ff, d_model), b_1 (d_ff,), w_2 (d_model, d_ff), b_2 (d_model,)."""
    title = "Exercise 5: the feed-forward sublayer"
    torch.manual_seed(5)
    layer = torch.nn.TransformerEncoderLayer(8, 2, 32, dropout=0.0, batch_first=True).eval()  # d_ff = 4 · d_model
    weights = (layer.linear1.weight, layer.linear1.bias, layer.linear2.weight, layer.linear2.bias)
    x = _randn(2, 5, 8, seed=6)
    cases = [
        ("a batch (2, 5, 8), d_ff = 32: matches nn.TransformerEncoderLayer's linear2(relu(linear1(x)))", x),
        ("one token (8,)", _randn(8, seed=7)),
        ("a sequence (5, 8) with its tokens in reverse order: the outputs come in reverse order", x[0].flip(0)),
    ]
    results = []
    with torch.no_grad():
        for description, tokens in cases:
            answer, error = call_learner(fn, tokens.clone(), *weights)
            if error is not None:
                results.append((description, False, error_hint(error, FEED_FORWARD_HINT)))
                return report(title, results)
            if not isinstance(answer, torch.Tensor) or answer.shape != tokens.shape:
                shape = tuple(answer.shape) if isinstance(answer, torch.Tensor) else type(answer).__name__
                results.append((f"{description}: returns a tensor of shape {tuple(tokens.shape)}", False,
                                f"got {shape}; the FFN maps each token of d_model = 8 back to 8 numbers"))  # fmt: skip
                return report(title, results)
            expected = layer.linear2(torch.relu(layer.linear1(tokens)))
            ok = bool(close(answer, expected, atol=1e-5))
            results.append((description, ok, "" if ok else _feed_forward_mistake(tokens, answer, *weights)))
    return report(title, results)
