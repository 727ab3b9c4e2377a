"""Tests for helpers.lessons.l03_softmax.variants, checked against PyTorch's own functions and autograd."""

import itertools
import math
import re

import matplotlib
import pytest
import torch
from matplotlib.figure import Figure

from helpers.lessons.l03_softmax.variants import (
    entropy,
    exp_overflow_threshold,
    exp_underflow_threshold,
    hard_attention,
    log_softmax,
    logsumexp,
    naive_softmax,
    plot_temperature_curves,
    plot_weights_by_method,
    relu_normalize,
    softmax_jacobian,
    sparsemax,
    sum_normalize,
    temperature_sweep,
)
from helpers.library.attention import softmax

matplotlib.use("agg")
INF = float("inf")
DIM_CASES = [((7,), 0), ((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1)]


def _randn(*shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --------------------------------------------------------------------------- naive softmax


@pytest.mark.parametrize(("shape", "dim"), DIM_CASES)
def test_naive_softmax_matches_torch_on_small_logits(shape, dim):
    x = _randn(*shape, seed=1) * 3
    torch.testing.assert_close(naive_softmax(x, dim=dim), torch.softmax(x, dim=dim))


def test_naive_softmax_overflows_where_exp_does():
    limit = exp_overflow_threshold(torch.float32)
    below = naive_softmax(torch.tensor([0.0, limit]))
    assert torch.isfinite(below).all()
    above = naive_softmax(torch.tensor([0.0, limit + 0.01]))
    assert above[0] == 0 and torch.isnan(above[1])  # 1/inf and inf/inf


def test_naive_softmax_gives_zeros_when_only_the_sum_overflows():
    weights = naive_softmax(torch.tensor([88.0, 88.0, 88.0]))  # each exp is finite, their sum is not
    assert torch.equal(weights, torch.zeros(3))


def test_naive_softmax_gives_nan_when_every_exp_underflows():
    for dtype in (torch.float32, torch.float64):
        assert torch.isnan(naive_softmax(torch.full((3,), -1000.0, dtype=dtype))).all()
        torch.testing.assert_close(
            softmax(torch.full((3,), -1000.0, dtype=dtype)), torch.full((3,), 1 / 3, dtype=dtype)
        )


def test_naive_softmax_works_in_float64_where_float32_overflows():
    x = torch.tensor([0.0, 100.0, 200.0])
    assert torch.isnan(naive_softmax(x)).any()
    torch.testing.assert_close(naive_softmax(x.double()), torch.softmax(x.double(), dim=-1))


# --------------------------------------------------------------------------- sum and relu normalisation


def test_sum_normalize_of_positive_scores_is_a_distribution():
    weights = sum_normalize(torch.tensor([[1.0, 3.0], [2.0, 2.0]]))
    torch.testing.assert_close(weights, torch.tensor([[0.25, 0.75], [0.5, 0.5]]))


def test_sum_normalize_breaks_on_negative_and_zero_sums():
    torch.testing.assert_close(sum_normalize(torch.tensor([2.0, -1.0])), torch.tensor([2.0, -1.0]))
    assert torch.isinf(sum_normalize(torch.tensor([1.0, -1.0]))).all()
    assert torch.isnan(sum_normalize(torch.tensor([0.0, 0.0]))).all()


def test_sum_normalize_along_dim_0():
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    torch.testing.assert_close(sum_normalize(x, dim=0), torch.tensor([[0.25, 0.25], [0.75, 0.75]]))


def test_relu_normalize_zeroes_negative_scores_and_gives_nan_without_positives():
    torch.testing.assert_close(relu_normalize(torch.tensor([3.0, -1.0, 1.0])), torch.tensor([0.75, 0.0, 0.25]))
    assert torch.isnan(relu_normalize(torch.tensor([-1.0, -2.0]))).all()


def test_relu_normalize_passes_no_gradient_to_negative_scores():
    x = torch.tensor([3.0, -1.0, 1.0], requires_grad=True)
    (relu_normalize(x) * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad[1] == 0 and x.grad[0] != 0


# --------------------------------------------------------------------------- hard attention


@pytest.mark.parametrize(("shape", "dim"), DIM_CASES)
def test_hard_attention_is_one_hot_at_the_argmax(shape, dim):
    x = _randn(*shape, seed=2)
    weights = hard_attention(x, dim=dim)
    expected = torch.nn.functional.one_hot(x.argmax(dim=dim), x.shape[dim]).movedim(-1, dim).to(x.dtype)
    assert torch.equal(weights, expected)


def test_hard_attention_picks_the_first_of_a_tie_and_keeps_the_dtype():
    weights = hard_attention(torch.tensor([1.0, 3.0, 3.0], dtype=torch.float64))
    assert weights.dtype == torch.float64
    assert weights.tolist() == [0.0, 1.0, 0.0]


def test_hard_attention_has_zero_gradient():
    x = torch.tensor([0.5, 2.0, 1.0])
    jacobian = torch.autograd.functional.jacobian(hard_attention, x)
    assert torch.equal(jacobian, torch.zeros(3, 3))
    assert torch.equal(hard_attention(x + torch.tensor([0.1, -0.1, 0.1])), hard_attention(x))


def test_hard_attention_treats_negative_inf_as_masked():
    assert hard_attention(torch.tensor([-INF, -1.0, -INF])).tolist() == [0.0, 1.0, 0.0]


# --------------------------------------------------------------------------- sparsemax


def _sparsemax_by_bisection(z):
    """Reference: the threshold τ with Σ max(z - τ, 0) = 1, found by bisection in float64. z: (n,)."""
    z = z.double()
    lo, hi = z.max().item() - 1.0, z.max().item()
    for _ in range(200):
        tau = (lo + hi) / 2
        if torch.clamp(z - tau, min=0).sum() > 1:
            lo = tau
        else:
            hi = tau
    return torch.clamp(z - (lo + hi) / 2, min=0)


@pytest.mark.parametrize("seed", range(6))
def test_sparsemax_matches_the_projection_found_by_bisection(seed):
    z = _randn(8, dtype=torch.float64, seed=seed) * (seed + 1) / 2
    torch.testing.assert_close(sparsemax(z), _sparsemax_by_bisection(z))


@pytest.mark.parametrize(("shape", "dim"), DIM_CASES)
def test_sparsemax_is_a_distribution_along_any_dim(shape, dim):
    x = _randn(*shape, seed=3) * 2
    p = sparsemax(x, dim=dim)
    assert p.shape == x.shape
    assert (p >= 0).all()
    torch.testing.assert_close(p.sum(dim=dim), torch.ones_like(p.sum(dim=dim)))
    flat = x.movedim(dim, -1).reshape(-1, x.shape[dim])
    for row, expected in zip(flat, p.movedim(dim, -1).reshape(-1, x.shape[dim]), strict=True):
        torch.testing.assert_close(expected.double(), _sparsemax_by_bisection(row), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("t", [-3.0, -1.0, -0.5, 0.0, 0.4, 1.0, 2.5])
def test_sparsemax_of_two_scores_has_the_closed_form(t):
    # Martins & Astudillo (2016), section 2.2: sparsemax([t, 0])_1 = clip((t + 1) / 2, 0, 1).
    first = min(max((t + 1) / 2, 0.0), 1.0)
    torch.testing.assert_close(sparsemax(torch.tensor([t, 0.0])), torch.tensor([first, 1 - first]))


def test_sparsemax_gives_exact_zeros_where_softmax_does_not():
    x = torch.tensor([1.5, -0.5, 0.3, -2.0, 0.9, -0.2])
    p = sparsemax(x)
    torch.testing.assert_close(p, torch.tensor([0.8, 0.0, 0.0, 0.0, 0.2, 0.0]))
    assert (softmax(x) > 0).all()


def test_sparsemax_is_invariant_to_adding_a_constant():
    x = _randn(6, seed=4)
    torch.testing.assert_close(sparsemax(x + 100.0), sparsemax(x), atol=1e-5, rtol=0)


def test_sparsemax_handles_negative_inf_and_fully_masked_rows():
    x = torch.tensor([[0.0, -INF, 0.0], [-INF, -INF, -INF], [1e4, -1e4, 0.0]])
    p = sparsemax(x)
    torch.testing.assert_close(p, torch.tensor([[0.5, 0.0, 0.5], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))


def test_sparsemax_gradient_matches_finite_differences():
    x = torch.tensor([0.9, 0.5, 0.1, -1.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(sparsemax, (x,))


# --------------------------------------------------------------------------- logsumexp and log_softmax


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("shape", "dim"), DIM_CASES)
def test_logsumexp_matches_torch(shape, dim, dtype):
    x = _randn(*shape, dtype=dtype, seed=5) * 4
    torch.testing.assert_close(logsumexp(x, dim=dim), torch.logsumexp(x, dim=dim))
    torch.testing.assert_close(logsumexp(x, dim=dim, keepdim=True), torch.logsumexp(x, dim=dim, keepdim=True))


def test_logsumexp_of_huge_tiny_and_masked_values():
    x = torch.tensor([[1e4, 1e4, -1e4], [-1e3, -1e3, -INF], [-INF, -INF, -INF], [0.0, -INF, 0.0]])
    result = logsumexp(x)
    torch.testing.assert_close(result, torch.logsumexp(x, dim=-1))
    torch.testing.assert_close(result[0], torch.tensor(1e4 + math.log(2)))
    assert torch.isneginf(result[2])
    assert torch.isinf(torch.log(torch.exp(x[0]).sum()))  # the naive formula really overflows here


@pytest.mark.parametrize(("shape", "dim"), DIM_CASES)
def test_log_softmax_matches_torch(shape, dim):
    x = _randn(*shape, dtype=torch.float64, seed=6) * 4
    torch.testing.assert_close(log_softmax(x, dim=dim), torch.log_softmax(x, dim=dim))


def test_log_softmax_stays_finite_where_log_of_softmax_is_minus_inf():
    x = torch.tensor([0.0, -1000.0])
    assert torch.isneginf(torch.log(softmax(x))[1])
    torch.testing.assert_close(log_softmax(x), torch.tensor([0.0, -1000.0]))


def test_log_softmax_of_a_fully_masked_row_is_minus_inf_not_nan():
    result = log_softmax(torch.tensor([[-INF, -INF], [0.0, -INF]]))
    assert torch.isneginf(result[0]).all()
    assert result[1].tolist() == [0.0, -INF]


def test_log_softmax_gradient_matches_torch():
    x = _randn(3, 4, dtype=torch.float64, seed=7)
    upstream = _randn(3, 4, dtype=torch.float64, seed=8)
    ours, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    (log_softmax(ours) * upstream).sum().backward()
    (torch.log_softmax(theirs, dim=-1) * upstream).sum().backward()
    torch.testing.assert_close(ours.grad, theirs.grad)


# --------------------------------------------------------------------------- Jacobian and entropy


@pytest.mark.parametrize("n", [1, 2, 5])
def test_softmax_jacobian_matches_autograd(n):
    x = _randn(n, dtype=torch.float64, seed=n)
    expected = torch.autograd.functional.jacobian(lambda z: torch.softmax(z, dim=-1), x)
    jacobian = softmax_jacobian(softmax(x))
    torch.testing.assert_close(jacobian, expected)
    torch.testing.assert_close(jacobian, jacobian.T)
    torch.testing.assert_close(jacobian.sum(dim=-1), torch.zeros(n, dtype=torch.float64))


def test_softmax_jacobian_is_batched_and_zero_at_one_hot():
    x = _randn(2, 3, 4, dtype=torch.float64, seed=9)
    jacobian = softmax_jacobian(softmax(x))
    assert jacobian.shape == (2, 3, 4, 4)
    expected = torch.autograd.functional.jacobian(lambda z: torch.softmax(z, dim=-1), x[1, 2])
    torch.testing.assert_close(jacobian[1, 2], expected)
    assert torch.equal(softmax_jacobian(torch.tensor([0.0, 1.0, 0.0])), torch.zeros(3, 3))


def test_entropy_of_one_hot_uniform_and_a_known_row():
    zero = entropy(torch.tensor([0.0, 1.0, 0.0])).item()
    assert zero == 0.0 and math.copysign(1.0, zero) == 1.0  # 0.0, not -0.0 (which prints as "-0.0000")
    torch.testing.assert_close(entropy(torch.full((8,), 1 / 8)), torch.tensor(math.log(8)))
    p = torch.tensor([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25]])
    expected = -(p * p.log()).sum(dim=-1)
    torch.testing.assert_close(entropy(p), expected)
    torch.testing.assert_close(entropy(p.T, dim=0), expected)


# --------------------------------------------------------------------------- thresholds and sweeps


@pytest.mark.parametrize(("dtype", "approx"), [(torch.float32, 88.7228), (torch.float64, 709.7827)])
def test_exp_overflow_threshold_is_the_last_finite_exp(dtype, approx):
    x = exp_overflow_threshold(dtype)
    assert x == pytest.approx(approx, abs=1e-4)
    assert x == pytest.approx(math.log(torch.finfo(dtype).max), abs=1e-4)
    value = torch.tensor(x, dtype=dtype)
    assert torch.isfinite(torch.exp(value))
    assert torch.isinf(torch.exp(torch.nextafter(value, torch.tensor(INF, dtype=dtype))))


@pytest.mark.parametrize(("dtype", "approx"), [(torch.float32, -103.972), (torch.float64, -745.133)])
def test_exp_underflow_threshold_is_the_last_positive_exp(dtype, approx):
    x = exp_underflow_threshold(dtype)
    assert x == pytest.approx(approx, abs=1e-3)
    value = torch.tensor(x, dtype=dtype)
    assert torch.exp(value) > 0
    assert torch.exp(torch.nextafter(value, torch.tensor(-INF, dtype=dtype))) == 0


def test_thresholds_reject_a_non_float_dtype():
    for function in (exp_overflow_threshold, exp_underflow_threshold):
        with pytest.raises(TypeError, match="floating dtype"):
            function(torch.int32)


def test_temperature_sweep_goes_from_argmax_to_uniform():
    x = torch.tensor([1.5, -0.5, 0.3, -2.0, 0.9, -0.2])
    sweep = temperature_sweep(x, [0.01, 0.1, 1.0, 10.0, 100.0])
    assert sweep["to_argmax"][0] < 1e-12 and sweep["to_uniform"][-1] < 0.01
    assert (sweep["max_weight"].diff() < 0).all()
    assert (sweep["entropy"].diff() > 0).all()
    assert sweep["entropy"][-1] == pytest.approx(math.log(6), abs=1e-3)
    torch.testing.assert_close(sweep["max_weight"][2], torch.softmax(x.double(), dim=-1).max())


def test_temperature_sweep_with_sparsemax_reaches_one_hot_at_a_finite_temperature():
    x = torch.tensor([1.5, -0.5, 0.25, -2.0, 1.0, -0.25])
    sweep = temperature_sweep(x, [0.25, 0.5, 1.0], function=sparsemax)
    assert sweep["to_argmax"][:2].tolist() == [0.0, 0.0]  # one-hot once T <= the gap between the top two, 0.5
    assert sweep["entropy"][:2].tolist() == [0.0, 0.0]
    assert sweep["max_weight"][2] == pytest.approx(0.75)


# --------------------------------------------------------------------------- bad input


ALL_ALONG_DIM = [naive_softmax, sum_normalize, relu_normalize, hard_attention, sparsemax, logsumexp, log_softmax]


@pytest.mark.parametrize("function", ALL_ALONG_DIM)
def test_functions_reject_non_float_input(function):
    with pytest.raises(TypeError, match="x must"):
        function(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        function([1.0, 2.0])


@pytest.mark.parametrize("function", ALL_ALONG_DIM)
def test_functions_reject_bad_dims_and_empty_input(function):
    with pytest.raises(ValueError, match="out of range"):
        function(_randn(2, 3), dim=2)
    with pytest.raises(ValueError, match="0-d"):
        function(torch.tensor(1.0))
    with pytest.raises(ValueError, match=re.escape("shape (2, 0)")):
        function(torch.zeros(2, 0))


@pytest.mark.parametrize("function", [hard_attention, sparsemax, logsumexp, log_softmax])
@pytest.mark.parametrize(("bad", "match"), [(float("nan"), "contains NaN"), (INF, r"contains \+inf")])
def test_guarded_functions_reject_nan_and_positive_inf(function, bad, match):
    x = _randn(2, 3)
    x[1, 1] = bad
    with pytest.raises(ValueError, match=match):
        function(x)


@pytest.mark.parametrize(
    ("p", "match"),
    [
        (torch.tensor([0.5, 0.6]), "must sum to 1, got a sum of 1.1"),
        (torch.tensor([1.5, -0.5]), "must be >= 0"),
        (torch.tensor([0.5, float("nan")]), "NaN"),
        (torch.tensor([1, 0]), "floating dtype"),
    ],
)
def test_jacobian_and_entropy_reject_what_is_not_a_distribution(p, match):
    for function in (softmax_jacobian, entropy):
        with pytest.raises((ValueError, TypeError), match=match):
            function(p)


@pytest.mark.parametrize(
    ("x", "temperatures", "match"),
    [
        (torch.tensor([1.0, 2.0]), [0.0], "temperature must be > 0"),
        (torch.tensor([1.0, 2.0]), [], "temperatures is empty"),
        (torch.ones(2, 2), [1.0], re.escape("one row of scores (n,), got shape (2, 2)")),
        (torch.tensor([-INF, -INF]), [1.0], "entirely -inf"),
    ],
)
def test_temperature_sweep_rejects_bad_input(x, temperatures, match):
    with pytest.raises(ValueError, match=match):
        temperature_sweep(x, temperatures)


def test_temperature_sweep_rejects_a_function_that_is_not_callable():
    with pytest.raises(TypeError, match="function must be callable"):
        temperature_sweep(torch.tensor([1.0, 2.0]), [1.0], function="softmax")


# --------------------------------------------------------------------------- figures


def test_plot_weights_by_method_draws_one_bar_per_key_and_method_and_marks_nan():
    tokens = ["a", "b", "c"]
    methods = {"softmax": softmax(torch.tensor([1.0, 0.0, -1.0])), "relu": torch.tensor([1.0, float("nan"), 0.0])}
    ax = Figure().subplots()
    assert plot_weights_by_method(tokens, methods, ax) is ax
    assert len(ax.patches) == 6
    assert [text.get_text() for text in ax.texts] == ["NaN"]
    assert ax.get_title() and ax.get_ylabel() == "weight"
    assert len({patch.get_hatch() for patch in ax.patches}) == 2  # each method has its own hatch


def test_plot_weights_by_method_rejects_bad_input():
    ax = Figure().subplots()
    with pytest.raises(ValueError, match="methods is empty"):
        plot_weights_by_method(["a"], {}, ax)
    with pytest.raises(ValueError, match=re.escape("expected (2,) for 2 tokens")):
        plot_weights_by_method(["a", "b"], {"x": torch.ones(3)}, ax)


def test_plot_temperature_curves_uses_distinct_markers_and_a_log_axis():
    ax = Figure().subplots()
    temps = [0.09999999776482582, 1.0, 10.0]  # 0.1 as float32 gives it: still the decade of 0.1
    result = plot_temperature_curves(temps, {"a": [1, 2, 3], "b": [3, 2, 1]}, ax, "y", "t", {"log n": 2.0})
    assert result is ax and ax.get_xscale() == "log"
    assert [label.get_text() for label in ax.get_xticklabels()] == ["0.1", "1", "10"]
    markers = [line.get_marker() for line in ax.lines[:2]]
    styles = [line.get_linestyle() for line in ax.lines[:2]]
    assert len(set(markers)) == 2 and len(set(styles)) == 2
    assert any(text.get_text() == "log n" for text in ax.texts)
    with pytest.raises(ValueError, match="curve 'a' has shape"):
        plot_temperature_curves(temps, {"a": [1, 2]}, ax, "y", "t")


def test_every_pair_of_methods_disagrees_on_the_example_row():
    """The lesson's comparison is only worth drawing if the five methods really give different weights."""
    x = torch.tensor([1.5, -0.5, 0.25, -2.0, 1.0, -0.25])
    rows = [softmax(x), sum_normalize(x), relu_normalize(x), hard_attention(x), sparsemax(x)]
    for a, b in itertools.combinations(rows, 2):
        assert not torch.allclose(a, b)
