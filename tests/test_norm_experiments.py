"""Tests for helpers.norm_experiments: the task, the measurements, the experiments (small and fast) and the figures."""

import math

import matplotlib
import numpy as np
import pytest
import torch

from helpers.add_norm import VARIANTS
from helpers.norm_experiments import (
    DIVERGED_LOSS,
    STYLES,
    above_average_task,
    layer_profiles,
    overfit_runs,
    plot_generalisation,
    plot_layer_profile,
    plot_training_curves,
    recoverability,
    setting_label,
    smooth,
    token_only_baseline,
    token_similarity,
    training_grid,
    verdict_table,
)
from helpers.stacked_models import StackedModels, per_model_loss

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402

TINY = {"d_model": 8, "n_heads": 2, "d_ff": 8}


def _randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --------------------------------------------------------------------------- the task


def test_above_average_task_labels_tokens_above_their_sequences_mean():
    tokens, labels = above_average_task(50, torch.Generator().manual_seed(0))
    assert tokens.shape == labels.shape == (50, 8) and tokens.dtype == labels.dtype == torch.long
    assert tokens.min() >= 0 and tokens.max() <= 7
    for row, row_labels in zip(tokens.tolist(), labels.tolist(), strict=True):
        mean = sum(row) / len(row)
        assert row_labels == [int(token > mean) for token in row]
    again, _ = above_average_task(50, torch.Generator().manual_seed(0))
    assert torch.equal(tokens, again)
    tokens, labels = above_average_task(1, torch.Generator().manual_seed(1), vocab=3, n=4)
    assert tokens.shape == (1, 4) and tokens.max() <= 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_sequences": 0}, ValueError, "n_sequences must be >= 1"),
        ({"vocab": 1}, ValueError, "vocab must be >= 2"),
        ({"n": 1}, ValueError, "n must be >= 2"),
        ({"generator": 0}, TypeError, "generator must be a torch.Generator"),
    ],
)
def test_above_average_task_rejects_bad_arguments(kwargs, error, match):
    arguments = {"n_sequences": 2, "generator": torch.Generator(), **kwargs}
    with pytest.raises(error, match=match):
        above_average_task(**arguments)


def test_token_only_baseline_is_the_best_guess_from_one_token():
    baseline = token_only_baseline(n_sequences=2000, seed=0)
    p = baseline["p_above"]
    assert p.shape == (8,) and np.all(np.diff(p) >= 0)  # a larger id is more often above the average
    assert p[0] < 1e-6 and p[-1] > 1 - 1e-6  # 0 is never above the average, 7 never below... except all-7 rows
    assert 0.85 < baseline["accuracy"] < 0.95 and 0.1 < baseline["loss"] < math.log(2)
    tokens, labels = above_average_task(2000, torch.Generator().manual_seed(0))
    assert baseline["accuracy"] == pytest.approx(((torch.tensor(p)[tokens] > 0.5).long() == labels).double().mean())


# --------------------------------------------------------------------------- recoverability and similarity


def test_recoverability_is_one_for_an_invertible_linear_map():
    x0 = _randn(3, 16, 8, 6)
    mixing = _randn(6, 6, seed=1) + 3 * torch.eye(6)
    r2 = recoverability(x0, x0 @ mixing + 5.0)
    assert r2.shape == (3,) and r2.dtype == torch.float64
    assert torch.all(r2 > 0.999)


def test_recoverability_is_zero_for_noise_or_a_collapsed_stack():
    x0 = _randn(2, 16, 8, 6)
    assert torch.all(recoverability(x0, _randn(2, 16, 8, 6, seed=5)) < 0.05)  # unrelated: nothing to recover
    collapsed = torch.ones(2, 16, 8, 6) * 3 + 1e-7 * x0  # every token the same vector, up to rounding
    assert torch.all(recoverability(x0, collapsed) < 1e-4)
    half = x0.clone()
    half[..., 3:] = _randn(2, 16, 8, 3, seed=6)  # keeps the first 3 of 6 features
    assert torch.all((recoverability(x0, half) > 0.3) & (recoverability(x0, half) < 0.7))


def test_recoverability_rejects_bad_shapes():
    with pytest.raises(ValueError, match="B >= 4"):
        recoverability(torch.ones(2, 8, 4), torch.ones(2, 8, 4))
    with pytest.raises(ValueError, match="same B"):
        recoverability(torch.ones(4, 8, 4), torch.ones(5, 8, 4))
    with pytest.raises(TypeError, match="x0 must be a torch.Tensor"):
        recoverability([1.0], torch.ones(4, 8, 4))
    with pytest.raises(ValueError, match="ridge must be > 0"):
        recoverability(torch.ones(4, 8, 4), torch.ones(4, 8, 4), ridge=0.0)


def test_token_similarity_is_the_mean_cosine_between_different_tokens():
    x = _randn(5, 4, seed=2)
    unit = x / x.norm(dim=-1, keepdim=True)
    cosines = unit @ unit.T
    expected = (cosines.sum() - cosines.trace()) / 20
    torch.testing.assert_close(token_similarity(x), expected)
    same = torch.ones(2, 3, 6, 4) * _randn(4, seed=3)
    torch.testing.assert_close(token_similarity(same), torch.ones(2, 3))
    torch.testing.assert_close(token_similarity(torch.eye(4)), torch.tensor(0.0))
    with pytest.raises(ValueError, match="n >= 2"):
        token_similarity(torch.ones(1, 4))


# --------------------------------------------------------------------------- experiments 1, 3, 4


@pytest.fixture(scope="module")
def profiles():
    return layer_profiles(VARIANTS, depths=(2, 5), seeds=(0, 1), batch=4, model=TINY)


def test_layer_profiles_shapes(profiles):
    assert set(profiles) == set(VARIANTS)
    for profile in profiles.values():
        assert profile["depths"] == [2, 5] and profile["seeds"] == [0, 1]
        assert profile["grad"][2].shape == (2, 2) and profile["grad"][5].shape == (2, 5)
        assert profile["input_grad"][5].shape == (2, 6)
        for key in ("rms", "r2", "similarity"):
            assert profile[key].shape == (2, 6), key
        assert np.all(profile["r2"][:, 0] > 0.9)  # x_0 recovers itself (not exactly: 2 fitting sequences)
        assert np.all(np.isfinite(profile["grad"][5])) and np.all(profile["grad"][5] >= 0)


def test_layer_profiles_match_one_model_computed_alone(profiles):
    from helpers.norm_experiments import DATA_SEED

    for variant in ("plain", "pre_ln"):
        stack = StackedModels(variant, 2, [1], vocab=8, n_classes=2, **TINY)
        tokens, labels = above_average_task(4, torch.Generator().manual_seed(DATA_SEED + 1))
        logits, hidden = stack(tokens=tokens, return_hidden=True)
        per_model_loss(logits, labels).sum().backward()
        np.testing.assert_allclose(profiles[variant]["grad"][2][1], stack.layer_gradient_norms()[0], rtol=1e-4)
        rms = [h.pow(2).mean().sqrt().item() for h in hidden]
        np.testing.assert_allclose(profiles[variant]["rms"][1, :3], rms, rtol=1e-5)


def test_layernorm_keeps_every_layers_rms_at_one(profiles):
    for variant in ("layernorm", "post_ln"):
        np.testing.assert_allclose(profiles[variant]["rms"][:, 1:], 1.0, atol=1e-3)


def test_layer_profiles_without_information_and_bad_arguments():
    quick = layer_profiles(["residual"], depths=(1,), seeds=(0,), batch=4, information=False, model=TINY)
    assert "r2" not in quick["residual"] and quick["residual"]["rms"].shape == (1, 2)
    with pytest.raises(ValueError, match="variant must be one of"):
        layer_profiles(["deep"], model=TINY)
    with pytest.raises(ValueError, match="depths is empty"):
        layer_profiles(depths=(), model=TINY)
    with pytest.raises(ValueError, match="batch must be >= 4"):
        layer_profiles(batch=2, model=TINY)


# --------------------------------------------------------------------------- experiment 2


def test_training_grid_is_seeded_and_each_model_trains_alone():
    settings = [("residual", 2, 3e-3, 0), ("pre_ln", 2, 3e-3, 2), ("plain", 1, 1e-2, 0)]
    grid = training_grid(settings, seeds=(0, 1), steps=6, batch=4, eval_sequences=16, model=TINY)
    assert list(grid) == settings
    result = grid[settings[1]]
    assert result["loss"].shape == (2, 6) and result["eval_loss"].shape == result["eval_accuracy"].shape == (2,)
    assert result["seeds"] == [0, 1] and list(result["diverged_at"]) == [-1, -1]
    assert np.all((result["eval_accuracy"] >= 0) & (result["eval_accuracy"] <= 1))
    alone = training_grid([settings[1]], seeds=(1,), steps=6, batch=4, eval_sequences=16, model=TINY)
    np.testing.assert_allclose(alone[settings[1]]["loss"][0], result["loss"][1], rtol=1e-5)  # side by side = alone
    again = training_grid(settings, seeds=(0, 1), steps=6, batch=4, eval_sequences=16, model=TINY)
    for setting in settings:
        assert np.array_equal(again[setting]["loss"], grid[setting]["loss"])


def test_training_grid_marks_a_diverging_run():
    grid = training_grid([("residual", 2, 1.0, 0), ("residual", 2, 1e-3, 0)], seeds=(0,), steps=10, model=TINY)
    bad, good = grid.values()
    assert bad["diverged_at"][0] >= 0 and bad["loss"][0, bad["diverged_at"][0]] > DIVERGED_LOSS
    assert good["diverged_at"][0] == -1


@pytest.mark.parametrize(
    ("settings", "kwargs", "error", "match"),
    [
        ([("plain", 2, 1e-3)], {}, TypeError, "a setting is a tuple"),
        ([("plain", 2, 0.0, 0)], {}, ValueError, "lr must be > 0"),
        ([("plain", 2, 1e-3, 0)] * 2, {}, ValueError, "without repeats"),
        (("plain", 2, 1e-3, 0), {}, TypeError, "settings must be a list"),
        ([("plain", 2, 1e-3, 0)], {"steps": 0}, ValueError, "steps must be >= 1"),
    ],
)
def test_training_grid_rejects_bad_settings(settings, kwargs, error, match):
    with pytest.raises(error, match=match):
        training_grid(settings, model=TINY, **kwargs)


# --------------------------------------------------------------------------- experiment 5


def test_overfit_runs_learn_the_training_set():
    results = overfit_runs(("residual", "post_ln"), seeds=(0, 1), n_train=4, steps=60, lr=1e-2, val_sequences=32,
                           model=TINY)  # fmt: skip
    assert list(results) == ["residual", "post_ln"]
    for measures in results.values():
        assert set(measures) == {"train_loss", "val_loss", "train_accuracy", "val_accuracy", "logit_scale"}
        assert all(values.shape == (2,) for values in measures.values())
        assert np.all(measures["train_accuracy"] > 0.9)  # 4 sequences learned by heart
        assert np.all(measures["train_loss"] < measures["val_loss"])
    with pytest.raises(ValueError, match="variant must be one of"):
        overfit_runs(("nothing",), model=TINY)


# --------------------------------------------------------------------------- figures


def test_smooth_is_a_running_mean():
    np.testing.assert_allclose(smooth([0.0, 1, 2, 3, 4, 5], window=3), [0, 0.5, 1, 2, 3, 4])
    np.testing.assert_allclose(smooth(np.ones((2, 4)), window=10), np.ones((2, 4)))
    with pytest.raises(ValueError, match="at least one entry"):
        smooth([])


def test_plot_layer_profile_draws_one_line_per_variant(profiles):
    fig, ax = plt.subplots()
    assert plot_layer_profile(profiles, ax, key="grad", depth=5) is ax
    assert len(ax.lines) == len(VARIANTS) and ax.get_yscale() == "log"
    assert [line.get_color() for line in ax.lines] == [STYLES[v]["color"] for v in VARIANTS]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(1, 6))
    ax = plot_layer_profile(profiles, plt.subplots()[1], key="r2", variants=["residual"])
    assert ax.get_yscale() == "linear" and len(ax.lines) == 1
    with pytest.raises(ValueError, match="depth 3 was not measured"):
        plot_layer_profile(profiles, ax, key="grad", depth=3)
    with pytest.raises(ValueError, match="key must be one of"):
        plot_layer_profile(profiles, ax, key="loss")
    plt.close("all")


def test_plot_training_curves_marks_diverged_runs():
    grid = training_grid([("residual", 2, 1.0, 0), ("pre_ln", 2, 1e-3, 3)], seeds=(0,), steps=8, model=TINY)
    fig, ax = plt.subplots()
    assert plot_training_curves(grid, ax, window=2) is ax
    assert ax.get_ylim() == (0.0, 1.0)
    labels = [line.get_label() for line in ax.lines]
    assert "residual only, depth 2, lr 1" in labels and "Pre-LN, depth 2, lr 0.001, warm-up 3" in labels
    assert any(line.get_marker() == "X" for line in ax.lines)  # the diverged run's mark
    plt.close(fig)


def test_plot_generalisation_draws_train_and_validation_bars():
    results = {
        "residual": {"train_loss": np.array([0.0, 0.1]), "val_loss": np.array([1.0, 2.0]),
                     "train_accuracy": np.array([1.0, 1.0]), "val_accuracy": np.array([0.9, 0.92])},
        "pre_ln": {"train_loss": np.array([0.0, 0.0]), "val_loss": np.array([0.3, 0.5]),
                   "train_accuracy": np.array([1.0, 1.0]), "val_accuracy": np.array([0.91, 0.93])},
    }  # fmt: skip
    fig, ax = plt.subplots()
    assert plot_generalisation(results, ax, metric="loss") is ax
    heights = sorted(round(patch.get_height(), 3) for patch in ax.patches)
    assert heights == [0.0, 0.05, 0.4, 1.5]
    ax = plot_generalisation(results, plt.subplots()[1], metric="accuracy")
    assert ax.get_ylim()[0] == 0.5
    with pytest.raises(ValueError, match="metric must be"):
        plot_generalisation(results, ax, metric="gap")
    plt.close("all")


def test_setting_label_and_verdict_table():
    assert setting_label(("post_ln", 6, 0.03, 25)) == "Post-LN, depth 6, lr 0.03, warm-up 25"
    assert setting_label(("plain", 2, 0.003, 0)) == "plain, depth 2, lr 0.003"
    table = verdict_table([("1. a | b", "exp 1", "supported", "x = 1")])
    lines = table.splitlines()
    assert lines[0] == "| claim | tested by | verdict | the numbers |" and len(lines) == 3
    assert lines[2] == "| 1. a \\| b | exp 1 | supported | x = 1 |"
    with pytest.raises(ValueError, match="4 strings"):
        verdict_table([("only", "three", "cells")])


def test_progress_bars_count_the_steps(capsys):
    training_grid([("pre_ln", 1, 1e-3, 0)], seeds=(0,), steps=3, batch=2, eval_sequences=4, model=TINY, progress=True)
    overfit_runs(("plain",), seeds=(0,), n_train=2, steps=2, val_sequences=4, model=TINY, progress=True)
    err = capsys.readouterr().err
    assert "training" in err and "3/3" in err
    assert "overfitting" in err and "2/2" in err
