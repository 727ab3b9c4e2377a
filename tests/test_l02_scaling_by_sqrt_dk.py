"""helpers.lessons.l02_scaling_by_sqrt_dk.variance: the experiments of lesson 02, checked against theory and PyTorch."""

import math

import matplotlib
import pytest
import torch
from matplotlib.figure import Figure

from helpers.lessons.l02_scaling_by_sqrt_dk.variance import (
    compute_scores,
    dot_product_variance,
    entropy,
    plot_gradient_vs_dk,
    plot_saturation_vs_dk,
    plot_variance_vs_dk,
    power_of_ten_label,
    projection_score_variance,
    sample_dot_products,
    saturation_sweep,
    score_gradient,
    softmax_jacobian,
    variance_sweep,
)

matplotlib.use("agg")


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _randn(*shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, generator=_gen(seed), dtype=dtype)


def _axes():
    return Figure().subplots()


# --------------------------------------------------------------------------- variance of q·k


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_sample_dot_products_are_dot_products_of_unit_variance_vectors(distribution):
    dots = sample_dot_products(8, 5, _gen(1), distribution)
    assert dots.shape == (5,)
    generator = _gen(1)
    if distribution == "normal":
        q, k = torch.randn(5, 8, generator=generator), torch.randn(5, 8, generator=generator)
    else:
        q = (torch.rand(5, 8, generator=generator) * 2 - 1) * math.sqrt(3)
        k = (torch.rand(5, 8, generator=generator) * 2 - 1) * math.sqrt(3)
        assert q.abs().max() <= math.sqrt(3)
    torch.testing.assert_close(dots, torch.einsum("sd,sd->s", q, k))


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
@pytest.mark.parametrize("d_k", [1, 16, 256])
def test_dot_product_variance_is_d_k_and_one_when_scaled(d_k, distribution):
    unscaled = dot_product_variance(d_k, 10_000, _gen(d_k), distribution=distribution)
    scaled = dot_product_variance(d_k, 10_000, _gen(d_k), scaled=True, distribution=distribution)
    assert isinstance(unscaled, float) and isinstance(scaled, float)
    assert unscaled == pytest.approx(d_k, rel=0.08)
    assert scaled == pytest.approx(1.0, rel=0.08)
    assert scaled == pytest.approx(unscaled / d_k)  # same samples, divided by √d_k


def test_dot_product_variance_is_repeatable_with_a_seeded_generator():
    assert dot_product_variance(32, 500, _gen(5)) == dot_product_variance(32, 500, _gen(5))
    assert dot_product_variance(32, 500, _gen(5)) != dot_product_variance(32, 500, _gen(6))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"d_k": 0}, ValueError, "d_k must be >= 1"),
        ({"d_k": 4.0}, TypeError, "d_k must be an int"),
        ({"n_samples": 1}, ValueError, "n_samples must be >= 2"),
        ({"generator": 0}, TypeError, "generator must be a torch.Generator"),
        ({"distribution": "cauchy"}, ValueError, "distribution must be one of"),
        ({"scaled": "yes"}, TypeError, "scaled must be True or False"),
    ],
)
def test_dot_product_variance_rejects_bad_input(kwargs, error, match):
    arguments = {"d_k": 4, "n_samples": 10, **kwargs}
    with pytest.raises(error, match=match):
        dot_product_variance(**arguments)


def test_variance_sweep_follows_d_k_and_one():
    sweep = variance_sweep([4, 64, 256], n_samples=10_000, seed=0)
    assert sweep["d_k"] == [4, 64, 256] and sweep["n_samples"] == 10_000
    for d_k, unscaled, scaled in zip(sweep["d_k"], sweep["unscaled"], sweep["scaled"], strict=True):
        assert unscaled == pytest.approx(d_k, rel=0.1)
        assert scaled == pytest.approx(1.0, rel=0.1)
    assert variance_sweep([4, 64], 1000, seed=3) == variance_sweep([4, 64], 1000, seed=3)


def test_variance_sweep_uses_the_first_d_k_entries_of_one_draw():
    # A single d_k draws exactly what dot_product_variance draws.
    assert variance_sweep([8], 500, seed=4)["unscaled"] == pytest.approx([dot_product_variance(8, 500, _gen(4))])
    generator = _gen(4)
    q, k = torch.randn(500, 32, generator=generator), torch.randn(500, 32, generator=generator)
    expected = float((q[:, :8] * k[:, :8]).sum(dim=-1).var())
    assert variance_sweep([8, 32], 500, seed=4)["unscaled"][0] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("d_ks", "error", "match"),
    [([], ValueError, "d_ks is empty"), (64, TypeError, "d_ks must be a list"), ([4, 0], ValueError, "each d_k")],
)
def test_sweeps_reject_bad_d_ks(d_ks, error, match):
    with pytest.raises(error, match=match):
        variance_sweep(d_ks, 10)
    with pytest.raises(error, match=match):
        saturation_sweep(d_ks, 10)


# --------------------------------------------------------------------------- scores


@pytest.mark.parametrize(
    ("q_shape", "k_shape"),
    [((3, 4), (5, 4)), ((2, 3, 8), (2, 6, 8)), ((2, 2, 3, 1), (2, 2, 4, 1)), ((2, 1, 3, 4), (5, 4))],
)
def test_compute_scores_matches_the_scores_inside_torch_attention(q_shape, k_shape):
    q, k = _randn(*q_shape, seed=1), _randn(*k_shape, seed=2)
    scores = compute_scores(q, k)
    d_k = q.shape[-1]
    torch.testing.assert_close(scores, q @ k.transpose(-2, -1) / math.sqrt(d_k))
    # PyTorch's attention with identity values returns exactly softmax(scores).
    n_k = k.shape[-2]
    eye = torch.eye(n_k).expand(*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), n_k, n_k)
    batch = scores.shape[:-2]
    torch_weights = torch.nn.functional.scaled_dot_product_attention(
        q.expand(*batch, *q.shape[-2:]), k.expand(*batch, *k.shape[-2:]), eye
    )
    torch.testing.assert_close(torch.softmax(scores, dim=-1), torch_weights)


def test_compute_scores_with_an_explicit_scale():
    q, k = _randn(3, 4), _randn(5, 4, seed=1)
    torch.testing.assert_close(compute_scores(q, k, scale=1.0), q @ k.T)
    torch.testing.assert_close(compute_scores(q, k, scale=0.0), torch.zeros(3, 5))


@pytest.mark.parametrize(
    ("q", "k", "error", "match"),
    [
        (torch.ones(3, 4), torch.ones(5, 3), ValueError, r"share the last dimension d_k: q \(3, 4\), k \(5, 3\)"),
        (torch.ones(4), torch.ones(5, 4), ValueError, r"q must have at least 2 dimensions .* \(4,\)"),
        (torch.ones(3, 4, dtype=torch.int64), torch.ones(5, 4), TypeError, "q must have a floating dtype"),
        (torch.ones(3, 4), torch.ones(5, 4, dtype=torch.float64), TypeError, "share a dtype"),
        (torch.ones(2, 3, 4), torch.ones(3, 5, 4), ValueError, "batch dimensions"),
        (torch.ones(3, 0), torch.ones(5, 0), ValueError, "d_k must be >= 1"),
        ([[1.0]], torch.ones(1, 1), TypeError, "q must be a torch.Tensor"),
    ],
)
def test_compute_scores_rejects_bad_input(q, k, error, match):
    with pytest.raises(error, match=match):
        compute_scores(q, k)


def test_compute_scores_rejects_a_negative_scale():
    with pytest.raises(ValueError, match="scale must be >= 0"):
        compute_scores(torch.ones(2, 3), torch.ones(2, 3), scale=-1.0)


# --------------------------------------------------------------------------- entropy and the softmax Jacobian


def test_entropy_of_uniform_one_hot_and_partly_zero_rows():
    weights = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    result = entropy(weights)
    assert not torch.isnan(result).any()
    torch.testing.assert_close(result, torch.tensor([math.log(4), 0.0, math.log(2)]))


def test_entropy_of_a_one_hot_row_is_plus_zero():
    assert not torch.signbit(entropy(torch.tensor([0.0, 1.0])))  # prints as 0.000, not -0.000


def test_entropy_matches_torch_distributions_and_dim():
    weights = torch.softmax(_randn(2, 3, 5) * 3, dim=-1)
    expected = torch.distributions.Categorical(probs=weights).entropy()
    torch.testing.assert_close(entropy(weights), expected)
    torch.testing.assert_close(entropy(weights.transpose(-1, -2), dim=-2), expected)


@pytest.mark.parametrize(
    ("weights", "error", "match"),
    [
        (torch.tensor([0.5, 0.7]), ValueError, "must sum to 1; one is off by 0.2"),
        (torch.tensor([1.5, -0.5]), ValueError, "negative entries"),
        (torch.tensor([float("nan"), 1.0]), ValueError, "contains NaN"),
        (torch.tensor([1, 0]), TypeError, "floating dtype"),
        (torch.zeros(3, 0), ValueError, r"at least one entry .* \(3, 0\)"),
    ],
)
def test_entropy_rejects_non_probabilities(weights, error, match):
    with pytest.raises(error, match=match):
        entropy(weights)


def test_softmax_jacobian_matches_autograd():
    scores = _randn(2, 5, dtype=torch.float64) * 3
    weights = torch.softmax(scores, dim=-1)
    jacobian = softmax_jacobian(weights)
    assert jacobian.shape == (2, 5, 5)
    for row in range(2):
        expected = torch.autograd.functional.jacobian(lambda s: torch.softmax(s, dim=-1), scores[row])
        torch.testing.assert_close(jacobian[row], expected)
    torch.testing.assert_close(jacobian.sum(dim=-1), torch.zeros(2, 5, dtype=torch.float64))


def test_softmax_jacobian_vanishes_for_a_saturated_row():
    saturated = torch.softmax(torch.tensor([30.0, 0.0, -5.0]), dim=-1)
    spread = torch.softmax(torch.tensor([0.3, 0.0, -0.5]), dim=-1)
    assert softmax_jacobian(saturated).abs().max() < 1e-12
    assert softmax_jacobian(spread).abs().max() > 0.1


# --------------------------------------------------------------------------- gradients


def test_score_gradient_matches_torch_softmax_and_the_jacobian():
    scores = _randn(4, 6, dtype=torch.float64, seed=1) * 2
    v, target = _randn(4, 6, 3, dtype=torch.float64, seed=2), _randn(4, 3, dtype=torch.float64, seed=3)
    weights, grad = score_gradient(scores, v, target)
    # The same loss, differentiated through PyTorch's own softmax.
    reference = scores.clone().requires_grad_(True)
    output = torch.einsum("rn,rnd->rd", torch.softmax(reference, dim=-1), v)
    (0.5 * ((output - target) ** 2).sum()).backward()
    torch.testing.assert_close(grad, reference.grad)
    torch.testing.assert_close(weights, torch.softmax(scores, dim=-1))
    # Chain rule by hand: ∂loss/∂scores = Jᵀ·∂loss/∂weights, with ∂loss/∂weights = v·(output − target).
    d_weights = torch.einsum("rnd,rd->rn", v, output.detach() - target)
    by_hand = torch.einsum("rij,ri->rj", softmax_jacobian(weights), d_weights)
    torch.testing.assert_close(grad, by_hand)
    assert not scores.requires_grad  # the input is left alone


def test_score_gradient_broadcasts_values_and_targets_over_batch_dims():
    scores = _randn(3, 4, 6, seed=1)  # e.g. 3 settings of the same 4 rows
    v, target = _randn(4, 6, 2, seed=2), _randn(4, 2, seed=3)
    weights, grad = score_gradient(scores, v, target)
    assert weights.shape == grad.shape == (3, 4, 6)
    for setting in range(3):
        _, expected = score_gradient(scores[setting], v, target)
        torch.testing.assert_close(grad[setting], expected)


def test_score_gradient_works_under_no_grad():
    with torch.no_grad():
        _, grad = score_gradient(_randn(5), _randn(5, 2, seed=1), _randn(2, seed=2))
    assert grad.shape == (5,) and grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (((4, 6), (4, 5, 3), (4, 3)), r"expected scores \(\.\.\., n\), v \(\.\.\., n, d_v\)"),
        (((4, 6), (4, 6, 3), (4, 2)), r"target \(4, 2\)"),
        (((4, 6), (3, 6, 3), (4, 3)), r"v \(3, 6, 3\)"),
        (((6,), (6,), (3,)), r"v \(6,\)"),
    ],
)
def test_score_gradient_rejects_mismatched_shapes(shapes, match):
    with pytest.raises(ValueError, match=match):
        score_gradient(*(torch.ones(shape) for shape in shapes))


def test_score_gradient_rejects_non_finite_scores():
    with pytest.raises(ValueError, match="scores .* contains an infinity"):
        score_gradient(torch.tensor([1.0, float("inf")]), torch.ones(2, 1), torch.ones(1))


def test_saturation_sweep_unscaled_rows_saturate_and_lose_their_gradient():
    sweep = saturation_sweep([4, 256], n_rows=300, n=8, d_v=4, seed=0)
    assert sweep["d_k"] == [4, 256] and sweep["n"] == 8 and sweep["n_rows"] == 300
    unscaled, scaled = sweep["unscaled"], sweep["scaled"]
    for stats in (unscaled, scaled):
        assert all(0 <= h <= math.log(8) for h in stats["entropy"])
        assert all(1 / 8 <= w <= 1 for w in stats["max_weight"])
        assert all(
            a <= b <= c for a, b, c in zip(stats["grad_q25"], stats["grad_median"], stats["grad_q75"], strict=True)
        )
    assert unscaled["entropy"][1] < 0.3 < scaled["entropy"][1]
    assert unscaled["max_weight"][1] > 0.85 > scaled["max_weight"][1]
    assert unscaled["grad_median"][1] < 0.1 * scaled["grad_median"][1]
    assert unscaled["dead_fraction"][1] > 0.1 and scaled["dead_fraction"] == [0.0, 0.0]
    # With scaling, nothing depends on d_k: the statistics at 4 and 256 agree.
    assert scaled["entropy"][0] == pytest.approx(scaled["entropy"][1], abs=0.1)


def test_saturation_sweep_is_repeatable():
    assert saturation_sweep([8], 50, seed=2) == saturation_sweep([8], 50, seed=2)


# --------------------------------------------------------------------------- nn.Linear projections


def test_projection_score_variance_is_a_ninth_of_d_k_after_nn_linear():
    before = torch.random.get_rng_state()
    result = projection_score_variance(256, [16, 128], n_samples=2000, n_draws=3, seed=0)
    assert torch.equal(torch.random.get_rng_state(), before), "the global random state must be left alone"
    assert result["var_x"] == pytest.approx(1.0, rel=0.05)
    fan_in_third = 1 / 3 + 1 / (3 * 256)  # weights and bias ~ U(±1/√256): variance 1/(3·256) each
    for var_q, var_k in zip(result["var_q"], result["var_k"], strict=True):
        assert var_q == pytest.approx(fan_in_third, rel=0.05)
        assert var_k == pytest.approx(fan_in_third, rel=0.05)
    for d_k, unscaled, scaled in zip(result["d_k"], result["unscaled"], result["scaled"], strict=True):
        assert unscaled == pytest.approx(d_k / 9, rel=0.15)
        assert scaled == pytest.approx(unscaled / d_k)
    assert result == projection_score_variance(256, [16, 128], n_samples=2000, n_draws=3, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"d_model": 0}, "d_model must be >= 1"), ({"n_draws": 0}, "n_draws must be >= 1")]
)
def test_projection_score_variance_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        projection_score_variance(**{"d_model": 8, "d_ks": [4], **kwargs})


# --------------------------------------------------------------------------- figures


def test_plot_variance_vs_dk_draws_theory_and_measurements():
    sweep = {"d_k": [4, 16], "unscaled": [4.1, 15.8], "scaled": [1.02, 0.99], "n_samples": 100}
    ax = plot_variance_vs_dk(sweep, _axes())
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["measured Var(q·k)"].get_ydata()) == [4.1, 15.8]
    assert list(lines["theory: y = d_k"].get_ydata()) == [4, 16]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


@pytest.mark.parametrize("stat", ["entropy", "max_weight"])
def test_plot_saturation_and_gradient_draw_both_settings(stat):
    sweep = saturation_sweep([4, 16], n_rows=20, n=4)
    ax = plot_saturation_vs_dk(sweep, _axes(), stat=stat)
    ydata = [list(line.get_ydata()) for line in ax.get_lines()]
    assert sweep["unscaled"][stat] in ydata and sweep["scaled"][stat] in ydata
    assert ax.get_title() and ax.get_ylabel()
    ax = plot_gradient_vs_dk(sweep, _axes())
    ydata = [list(line.get_ydata()) for line in ax.get_lines()]
    assert sweep["unscaled"]["grad_median"] in ydata and ax.get_yscale() == "log"
    markers = {line.get_marker() for line in ax.get_lines() if len(line.get_xdata()) == 2}
    assert {"s", "o"} <= markers, "the two settings differ by marker, not only by colour"


@pytest.mark.parametrize(("value", "label"), [(1.0, "1"), (1e-3, "10⁻³"), (1e-12, "10⁻¹²"), (100.0, "10²")])
def test_power_of_ten_labels_are_plain_text(value, label):
    assert power_of_ten_label(value) == label


def test_plots_reject_the_wrong_dict():
    with pytest.raises(TypeError, match="expected the dict returned by the sweep"):
        plot_variance_vs_dk({"d_k": [4]}, _axes())
    with pytest.raises(ValueError, match="stat must be one of"):
        plot_saturation_vs_dk(saturation_sweep([4], 5), _axes(), stat="variance")
