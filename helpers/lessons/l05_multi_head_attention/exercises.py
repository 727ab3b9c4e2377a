"""05_multi_head_attention's exercises: split into heads, put them back together, count, build a whole layer."""

import torch

from helpers.lessons.l05_multi_head_attention.head_costs import parameter_count
from helpers.library.layers import MultiHeadAttention
from helpers.library.multi_head_attention import combine_heads, multi_head_attention, projections_of, split_heads
from helpers.machinery.answers import same_values
from helpers.machinery.exercise_checking import call_learner, checker, report

__all__ = ["check_split_heads", "check_combine_heads", "check_parameter_count", "check_multi_head"]


def _shape_of(value):
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


def _describe(value, expected, good):
    verdict = same_values(value, expected)
    if verdict:
        return good
    if isinstance(value, torch.Tensor) and value.shape == expected.shape:
        return f"right shape {tuple(expected.shape)}, wrong numbers ({verdict.why})"
    return f"expected shape {tuple(expected.shape)}, got {_shape_of(value)}"


def _equal(value, expected):
    """A tensor of the expected shape and values, in any floating dtype (a float64 answer is right)."""
    return isinstance(value, torch.Tensor) and bool(same_values(value, expected))


def _numbered(*shape):
    """A float tensor whose entries are 0, 1, 2, ...: a mixed-up element shows up as a wrong number."""
    return torch.arange(torch.Size(shape).numel(), dtype=torch.float32).reshape(shape)


_SPLIT_CASES = [
    ("x (B=1, n=4, d_model=6), 2 heads", (1, 4, 6), 2),
    ("x (B=2, n=5, d_model=12), 3 heads", (2, 5, 12), 3),
    ("one head: x (B=1, n=3, d_model=4)", (1, 3, 4), 1),
    ("as many heads as features: x (B=2, n=3, d_model=4), 4 heads", (2, 3, 4), 4),
]


def _split_hint(value, x, n_heads):
    batch, n, d_model = x.shape
    d_k = d_model // n_heads
    expected_shape = (batch, n_heads, n, d_k)
    if not isinstance(value, torch.Tensor):
        return f"return a tensor of shape (B, n_heads, n, d_k) = {expected_shape}"
    if value.shape == (batch, n, n_heads, d_k):
        return "you reshaped to (B, n, n_heads, d_k); now move the head axis forward with .transpose(1, 2)"
    if value.shape != expected_shape:
        return f"the result must have shape (B, n_heads, n, d_k) = {expected_shape}, got {tuple(value.shape)}"
    if _equal(value, x.reshape(batch, n_heads, n, d_k)):
        return (
            "viewing x directly as (B, n_heads, n, d_k) hands head 0 the features of several tokens: "
            "reshape to (B, n, n_heads, d_k) first, then .transpose(1, 2)"
        )
    return "head h must get features h·d_k ... (h+1)·d_k − 1 of every token: x.reshape(B, n, n_heads, d_k)"


@checker
def check_split_heads(fn):
    """Exercise 1: fn(x, n_heads) turns x (B, n, d_model) into (B, n_heads, n, d_k), head h getting its d_k features."""
    results = []
    for description, shape, n_heads in _SPLIT_CASES:
        x = _numbered(*shape)
        value, error = call_learner(fn, x.clone(), n_heads)
        if error is not None:
            results.append((f"{description}: runs", False, error))
            break
        expected = split_heads(x, n_heads)
        shown = _describe(value, expected, "matches helpers.library.multi_head_attention.split_heads")
        results.append((f"{description}: {shown}", _equal(value, expected), _split_hint(value, x, n_heads)))
        if not results[-1][1]:
            break  # one hint at a time
    return report("Exercise 1: split d_model into heads", results)


def _combine_hint(value, heads):
    batch, n_heads, n, d_k = heads.shape
    expected_shape = (batch, n, n_heads * d_k)
    if not isinstance(value, torch.Tensor):
        return f"return a tensor of shape (B, n, d_model) = {expected_shape}"
    if value.shape == (batch, n, n_heads, d_k):
        return "you have (B, n, n_heads, d_k): flatten the last two axes into d_model with .reshape(B, n, n_heads·d_k)"
    if value.shape != expected_shape:
        return f"the result must have shape (B, n, d_model) = {expected_shape}, got {tuple(value.shape)}"
    if _equal(value, heads.reshape(expected_shape)):
        return (
            "reshaping (B, n_heads, n, d_k) straight to (B, n, d_model) mixes tokens: "
            "first .transpose(1, 2) to (B, n, n_heads, d_k), then .reshape"
        )
    return "each token's row must hold head 0's d_k features, then head 1's, and so on"


@checker
def check_combine_heads(fn):
    """Exercise 2: fn(heads) turns heads (B, n_heads, n, d_k) back into (B, n, d_model): the inverse of split_heads."""
    results = []
    for description, shape, n_heads in _SPLIT_CASES:
        heads = split_heads(_numbered(*shape), n_heads)  # (B, n_heads, n, d_k)
        value, error = call_learner(fn, heads.clone())
        if error is not None:
            results.append((f"{description}, split: runs", False, error))
            break
        expected = combine_heads(heads)
        shown = _describe(value, expected, "gives x back")
        results.append(
            (f"{description}, split then combined: {shown}", _equal(value, expected), _combine_hint(value, heads))
        )
        if not results[-1][1]:
            break  # one hint at a time
    return report("Exercise 2: concatenate the heads", results)


@checker
def check_parameter_count(answer, d_model=64, n_heads=8):
    """Exercise 3: the number of parameters of MultiHeadAttention(d_model=64, n_heads=8), biases included."""
    results = []
    is_int = isinstance(answer, int) and not isinstance(answer, bool)
    results.append(("the answer is a whole number", is_int, "write an int, for example answer = 1000"))
    if is_int:
        expected = parameter_count(d_model, n_heads)["total"]
        measured = sum(p.numel() for p in MultiHeadAttention(d_model, n_heads).parameters())
        d_k = d_model // n_heads
        hints = {
            expected * n_heads: "each head does not get full d_model × d_model matrices: it owns d_k rows of them",
            4 * d_model * d_model: "count the biases too: each of the four nn.Linear layers has d_model of them",
            3 * (d_model * d_model + d_model): "there are four matrices: W_q, W_k, W_v and the output projection W_o",
            n_heads
            * 4
            * (d_k * d_k + d_k): "a head's W_q is d_k × d_model, not d_k × d_k: it reads all d_model features",
        }
        hint = hints.get(
            answer, "four nn.Linear(d_model, d_model) layers, each with d_model² weights and d_model biases"
        )
        description = f"{answer:,} parameters" + (" (as counted on the module)" if answer == measured else "")
        results.append((description, answer == measured, hint))
    return report(f"Exercise 3: parameters of MultiHeadAttention(d_model={d_model}, n_heads={n_heads})", results)


def _multi_head_cases():
    cases = []
    for seed, (batch, n, d_model, n_heads) in enumerate([(1, 4, 8, 2), (2, 5, 12, 3), (1, 3, 8, 1), (1, 6, 16, 4)]):
        generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):  # the notebook's own random state stays as it was
            torch.manual_seed(seed)
            mha = MultiHeadAttention(d_model, n_heads)
        x = torch.randn(batch, n, d_model, generator=generator)
        cases.append((f"x (B={batch}, n={n}, d_model={d_model}), {n_heads} head(s)", x, projections_of(mha), n_heads))
    return cases


def _multi_head_hint(value, x, projections, n_heads):
    expected, _ = multi_head_attention(x, projections, n_heads)
    if not isinstance(value, torch.Tensor) or value.shape != expected.shape:
        return f"return the output alone, of shape (B, n, d_model) = {tuple(expected.shape)}"
    concatenated = multi_head_attention(x, projections | {"w_o": torch.eye(x.shape[-1]), "b_o": None}, n_heads)[0]
    if _equal(value, concatenated):
        return "finish with the output projection: concatenated @ w_o.T + b_o"
    d_model = x.shape[-1]
    if n_heads > 1 and _equal(value, _scaled_by(x, projections, n_heads, d_model)):
        return "divide each head's scores by √d_k (its own width, d_model / n_heads), not by √d_model"
    return "for each head h take rows h·d_k ... (h+1)·d_k of W_q, W_k, W_v (and of the biases), attend, concatenate"


def _scaled_by(x, projections, n_heads, width):
    """The layer computed with scores divided by √width instead of √d_k (a common slip)."""
    d_k = x.shape[-1] // n_heads
    factor = (d_k / width) ** 0.5
    scaled = projections | {"w_q": projections["w_q"] * factor, "b_q": projections["b_q"] * factor}
    return multi_head_attention(x, scaled, n_heads)[0]


@checker
def check_multi_head(fn):
    """Exercise 4: fn(x, projections, n_heads) -> output (B, n, d_model), multi-head attention from single heads."""
    results = []
    for description, x, projections, n_heads in _multi_head_cases():
        value, error = call_learner(fn, x.clone(), dict(projections), n_heads)
        if error is not None:
            results.append((f"{description}: runs", False, error))
            break
        expected, _ = multi_head_attention(x, projections, n_heads)
        shown = _describe(value, expected, "matches helpers.library.layers.MultiHeadAttention")
        hint = _multi_head_hint(value, x, projections, n_heads)
        results.append((f"{description}: {shown}", _equal(value, expected), hint))
        if not results[-1][1]:
            break  # one hint at a time
    return report("Exercise 4: multi-head attention from single heads", results)
