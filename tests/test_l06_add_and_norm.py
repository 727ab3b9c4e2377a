"""Tests for lesson 06's experiments, small and fast: helpers.lessons.l06_add_and_norm's task, initialisation,
training, overfitting, judging, training_summaries, claims and figures."""

import math

import matplotlib
import numpy as np
import pytest
import torch

from helpers.lessons.l06_add_and_norm.blocks import VARIANTS
from helpers.lessons.l06_add_and_norm.claims import claim_verdicts, verdict_table
from helpers.lessons.l06_add_and_norm.figures import (
    STYLES,
    plot_generalisation,
    plot_layer_profile,
    plot_training_curves,
    smooth,
)
from helpers.lessons.l06_add_and_norm.initialisation import layer_profiles, recoverability, token_similarity
from helpers.lessons.l06_add_and_norm.judging import compare, convergence, describe_outcome, seed_outcome, verdict
from helpers.lessons.l06_add_and_norm.overfitting import overfit_runs, overfit_summary, overfit_table
from helpers.lessons.l06_add_and_norm.stacked_models import StackedModels, per_model_loss
from helpers.lessons.l06_add_and_norm.task import above_average_task, token_only_baseline
from helpers.lessons.l06_add_and_norm.training import DIVERGED_LOSS, setting_label, training_grid
from helpers.lessons.l06_add_and_norm.training_summaries import (
    high_rate_summary,
    moderate_rate_summary,
    per_seed_table,
    warmup_summary,
)

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
        for key in ("rms", "r2", "similarity", "change"):
            assert profile[key].shape == (2, 6), key
        assert np.all(profile["r2"][:, 0] > 0.9)  # x_0 recovers itself (not exactly: 2 fitting sequences)
        assert np.all(np.isfinite(profile["grad"][5])) and np.all(profile["grad"][5] >= 0)


def test_layer_profiles_match_one_model_computed_alone(profiles):
    from helpers.lessons.l06_add_and_norm.task import DATA_SEED

    for variant in ("plain", "pre_ln"):
        stack = StackedModels(variant, 2, [1], vocab=8, n_classes=2, **TINY)
        tokens, labels = above_average_task(4, torch.Generator().manual_seed(DATA_SEED + 1))
        logits, hidden = stack(tokens=tokens, return_hidden=True)
        per_model_loss(logits, labels).sum().backward()
        np.testing.assert_allclose(profiles[variant]["grad"][2][1], stack.layer_gradient_norms()[0], rtol=1e-4)
        rms = [h.pow(2).mean().sqrt().item() for h in hidden]
        np.testing.assert_allclose(profiles[variant]["rms"][1, :3], rms, rtol=1e-5)
        change = [0.0] + [((b - a).norm() / a.norm()).item() for a, b in zip(hidden[:-1], hidden[1:], strict=True)]
        np.testing.assert_allclose(profiles[variant]["change"][1, :3], change, rtol=1e-4, atol=1e-7)


def test_layernorm_keeps_every_layers_rms_at_one(profiles):
    for variant in ("layernorm", "post_ln"):
        np.testing.assert_allclose(profiles[variant]["rms"][:, 1:], 1.0, atol=1e-3)


def test_layer_profiles_without_information_and_bad_arguments():
    quick = layer_profiles(["residual"], depths=(1,), seeds=(0,), batch=4, information=False, model=TINY)
    assert (
        "r2" not in quick["residual"] and "change" not in quick["residual"] and quick["residual"]["rms"].shape == (1, 2)
    )
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


def test_training_grid_gives_each_setting_its_own_seeds():
    few, many = ("residual", 2, 3e-3, 0), ("pre_ln", 2, 3e-3, 2)
    grid = training_grid([few, many], seeds={few: [0], many: [0, 1, 2]}, steps=4, batch=4, eval_sequences=8,
                         model=TINY)  # fmt: skip
    assert grid[few]["seeds"] == [0] and grid[few]["loss"].shape == (1, 4)
    assert grid[many]["seeds"] == [0, 1, 2] and grid[many]["eval_accuracy"].shape == (3,)
    alone = training_grid([many], seeds=(2,), steps=4, batch=4, eval_sequences=8, model=TINY)
    np.testing.assert_allclose(alone[many]["loss"][0], grid[many]["loss"][2], rtol=1e-5)  # its own third seed
    with pytest.raises(ValueError, match="without an entry for"):
        training_grid([few, many], seeds={few: [0]}, steps=1, model=TINY)


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


# --------------------------------------------------------------------------- what the numbers say


def result(accuracies, diverged=(), loss=0.2, steps=4):
    """A training_grid entry: held-out accuracies per seed, the seeds (by index) that diverged, a flat loss."""
    n = len(accuracies)
    return {
        "seeds": list(range(n)),
        "loss": np.full((n, steps), loss),
        "eval_loss": np.full(n, loss),
        "eval_accuracy": np.asarray(accuracies, dtype=float),
        "diverged_at": np.array([3 if seed in diverged else -1 for seed in range(n)]),
    }


def lesson_grid(**changes):
    """The lesson's twelve settings with outcomes like the real ones; changes: {name: result} replaces one."""
    grid = {
        ("plain", 6, 3e-3, 0): result([0.51] * 5, loss=0.69),
        ("residual", 6, 3e-3, 0): result([0.98, 0.97, 0.96, 0.98, 0.97], loss=0.13),
        ("layernorm", 6, 3e-3, 0): result([0.49, 0.51, 0.49, 0.54, 0.49], loss=0.7),
        ("post_ln", 6, 3e-3, 0): result([0.98, 0.98, 0.94, 0.98, 0.97], loss=0.14),
        ("pre_ln", 6, 3e-3, 0): result([0.97, 0.98, 0.95, 0.97, 0.97], loss=0.15),
        ("plain", 2, 3e-3, 0): result([0.89, 0.87, 0.90, 0.92, 0.88], loss=0.55),
        ("layernorm", 2, 3e-3, 0): result([0.92, 0.86, 0.54, 0.86, 0.78], loss=0.65),
        ("residual", 6, 3e-2, 0): result([0.5, 0.49, 0.51, 0.74], diverged=(0, 1, 2)),
        ("post_ln", 6, 3e-2, 0): result([0.49, 0.86, 0.51, 0.8]),
        ("post_ln", 6, 3e-2, 25): result([0.92, 0.51, 0.49, 0.91]),
        ("pre_ln", 6, 3e-2, 0): result([0.91, 0.98, 0.89, 0.94]),
        ("pre_ln", 6, 3e-2, 25): result([0.92, 0.96, 0.92, 0.97]),
    }
    names = {
        "post_high": ("post_ln", 6, 3e-2, 0), "post_warm": ("post_ln", 6, 3e-2, 25), "pre_high": ("pre_ln", 6, 3e-2, 0),
        "residual_high": ("residual", 6, 3e-2, 0), "post_moderate": ("post_ln", 6, 3e-3, 0),
        "pre_moderate": ("pre_ln", 6, 3e-3, 0), "plain_shallow": ("plain", 2, 3e-3, 0),
    }  # fmt: skip
    for name, replacement in changes.items():
        grid[names[name]] = replacement
    return grid


@pytest.mark.parametrize(
    ("accuracies", "diverged", "outcome", "words"),
    [
        ([0.9] * 9 + [0.5], (), "trained", "trained in 9 of 10 seeds"),  # 90 %: reliable
        ([0.9] * 8 + [0.5] * 2, (), "unreliable", "unreliable (some seeds trained, others did not)"),
        ([0.9] * 10, (9,), "trained", "trained in 9 of 10 seeds"),  # a diverged seed did not train, whatever it scored
        ([0.5] * 4, (0, 1), "diverged", "diverged in 2 of 4 seeds"),
        ([0.5, 0.7, 0.55], (), "failed", "did not train (2 of 3 seeds at chance)"),  # 70 %: above chance, not trained
        ([0.75], (), "trained", "trained in 1 of 1 seeds"),  # the threshold itself counts
    ],
)
def test_seed_outcome_counts_the_seeds_by_the_stated_thresholds(accuracies, diverged, outcome, words):
    found = seed_outcome(result(accuracies, diverged))
    assert found["outcome"] == outcome and found["seeds"] == len(accuracies)
    assert found["median"] == pytest.approx(np.median(accuracies))
    assert describe_outcome(found) == words


def test_seed_outcome_rejects_a_result_without_seeds():
    with pytest.raises(ValueError, match="same shape"):
        seed_outcome({"eval_accuracy": np.array([0.5, 0.6]), "diverged_at": np.array([-1])})
    with pytest.raises(ValueError, match="S >= 1"):
        seed_outcome({"eval_accuracy": np.array([]), "diverged_at": np.array([])})


def test_compare_convergence_and_verdict_follow_their_thresholds():
    assert compare(0.95, 0.92, 0.02) == "higher" and compare(0.90, 0.92, 0.02) == "lower"
    assert compare(0.93, 0.92, 0.02) == "the same" and compare(0.92, 0.92, 0.0) == "the same"
    assert compare(0.921, 0.92, 0.0) == "higher"
    assert convergence(0.08, 0.1) == "faster" and convergence(0.125, 0.1) == "slower"
    assert convergence(0.11, 0.1) == "as fast"
    assert verdict([("a", True), ("b", True)]) == "supported"
    assert verdict([("a", True), ("b", False)]) == "partly"
    assert verdict([("a", False)]) == "not supported"
    with pytest.raises(ValueError, match="at least one finding"):
        verdict([])


def test_per_seed_table_shows_every_seed_and_the_steps_it_diverged_at():
    table = per_seed_table({("residual", 6, 3e-2, 0): result([0.5, 0.74], diverged=(0,)),
                            ("pre_ln", 2, 3e-3, 0): result([0.9, 0.95, 0.97])})  # fmt: skip
    lines = table.splitlines()
    assert len(lines) == 3 and lines[0].startswith("setting")
    assert "|     2 |  50%  74% | 3" in lines[1] and lines[1].startswith("residual only, depth 6, lr 0.03 ")
    assert "|     3 |  90%  95%  97% | -" in lines[2]


def test_moderate_rate_summary_says_what_the_medians_say():
    summary = moderate_rate_summary(lesson_grid(), baseline_accuracy=0.917)
    assert "| Post-LN, depth 6, lr 0.003 | 5 | 98 % | 0.14 |" in summary
    assert "| plain, depth 2, lr 0.003 | 5 | 89 % | 0.55 |" in summary
    assert "residual only, Post-LN and Pre-LN each trained in 5 of 5 seeds" in summary
    assert "all above the 91.7 %" in summary
    assert "plain and LayerNorm only each did not train (5 of 5 seeds at chance)" in summary
    assert "both above chance, but both below the 91.7 %" in summary
    assert "against residual only's: both the same" in summary and "their convergence: both as fast" in summary
    better = lesson_grid(pre_moderate=result([0.99] * 5, loss=0.09), plain_shallow=result([0.95] * 5))
    summary = moderate_rate_summary(better, baseline_accuracy=0.917)
    assert "Post-LN the same and Pre-LN higher" in summary and "Post-LN as fast and Pre-LN faster" in summary
    assert "plain above and LayerNorm only below the 91.7 %" in summary
    with pytest.raises(ValueError, match="has no"):
        moderate_rate_summary({("plain", 6, 3e-3, 0): result([0.5])}, 0.9)


def test_high_rate_summary_gives_a_median_only_where_the_seeds_agree():
    summary = high_rate_summary(lesson_grid())
    assert "| residual only, depth 6, lr 0.03 | 4 | diverged in 3 of 4 seeds | – |" in summary
    assert "| Post-LN, depth 6, lr 0.03 | 4 | unreliable (some seeds trained, others did not) | – |" in summary
    assert "| Pre-LN, depth 6, lr 0.03 | 4 | trained in 4 of 4 seeds | 92 % |" in summary
    assert "A warm-up did not make it reliable" in summary
    helped = high_rate_summary(lesson_grid(post_warm=result([0.9, 0.92, 0.95, 0.93])))
    assert "A warm-up made it reliable" in helped and "| Post-LN, depth 6, lr 0.03, warm-up 25 | 4 | trained" in helped
    assert "A warm-up was not needed" in high_rate_summary(lesson_grid(post_high=result([0.9] * 4)))


def test_warmup_summary_reports_each_wirings_seeds_and_spread():
    grid = lesson_grid()
    for key in [("post_ln", 6, 3e-2, 0), ("post_ln", 6, 3e-2, 25), ("pre_ln", 6, 3e-2, 0), ("pre_ln", 6, 3e-2, 25)]:
        loss = np.full((4, 100), 0.5)
        if key[3]:
            loss[:, :25] = [[0.2], [0.3], [0.4], [0.3]]  # the warm-up: lower early, the same later
        grid[key] = {**grid[key], "loss": loss}
    summary = warmup_summary(grid)
    lines = summary.splitlines()
    assert lines[0].startswith("| setting | seeds trained | held-out accuracy, range | mean loss, steps 1–25")
    assert "| Post-LN, depth 6, lr 0.03 | 2 of 4 | 49 % to 86 % | 0.50 (0.50–0.50) | 0.50 (0.50–0.50) |" in summary
    assert "| Post-LN, depth 6, lr 0.03, warm-up 25 | 2 of 4 | 49 % to 92 % | 0.30 (0.20–0.40) |" in summary
    assert "| Pre-LN, depth 6, lr 0.03 | 4 of 4 | 89 % to 98 % |" in summary
    assert (
        "**Post-LN**: with the warm-up the mean loss of the first 25 steps is lower, that of the last 25 steps "
        "about the same" in summary
    )
    assert warmup_summary(grid, words=False) == "\n".join(lines[:6])
    assert warmup_summary(grid, table=False) == "\n".join(lines[7:])
    with pytest.raises(ValueError, match="has no"):
        warmup_summary({("pre_ln", 6, 3e-2, 0): result([0.9])})


def overfit_results(residual_gap=0.07, normed_gap=0.07):
    def measures(gap, val_loss, logit):
        return {"train_loss": np.full(3, 0.001), "val_loss": np.full(3, val_loss), "train_accuracy": np.ones(3),
                "val_accuracy": np.full(3, 1 - gap), "logit_scale": np.full(3, logit)}  # fmt: skip

    return {"residual": measures(residual_gap, 0.96, 13.1), "post_ln": measures(normed_gap, 0.37, 3.0),
            "pre_ln": measures(normed_gap, 0.42, 3.0)}  # fmt: skip


def test_overfit_table_and_summary_compare_the_gaps():
    table = overfit_table(overfit_results()).splitlines()
    assert table[0].startswith("median over 3 seeds | training loss")
    assert table[1].split("|")[1:] == ["         0.001 ", "          0.96 ", "         100 % ", "          93 % ",
                                       "   7 points ", "     13.1"]  # fmt: skip
    summary = overfit_summary(overfit_results())
    assert "**Training accuracy**: 100 % for all three" in summary
    assert "the gaps with it are both the same" in summary and "about 4 times as large" in summary
    assert "both narrower" in overfit_summary(overfit_results(residual_gap=0.12))
    with pytest.raises(ValueError, match="'post_ln' or 'pre_ln'"):
        overfit_summary({"residual": overfit_results()["residual"]})


def per_token(pre_ln_normalised=False):
    """stream_normalisation-like statistics: Post-LN's stream normalised per token, Pre-LN's not (unless told)."""
    normalised = {"token_mean": 0.0, "token_variance": (1.0, 1.0), "feature_mean": (-1.1, 1.6)}
    pre = normalised if pre_ln_normalised else {"token_mean": 0.5, "token_variance": (0.74, 4.5)}
    return {"depth": 8, "post_ln": normalised, "pre_ln": pre, "pre_ln_read": normalised}


def verdict_inputs(**changes):
    layers = 49
    profiles = {}
    for variant in VARIANTS:
        kept = variant in ("residual", "post_ln", "pre_ln")
        r2 = np.full((3, layers), 0.95 if kept else 0.0)
        r2[:, 48] = {"residual": 0.0, "post_ln": 0.1, "pre_ln": 0.75}.get(variant, 0.0)
        rms = (
            np.ones((3, layers))
            if variant in ("layernorm", "post_ln")
            else np.linspace(1, 39, layers)[None].repeat(3, 0)
        )
        profiles[variant] = {"r2": r2, "rms": rms}
    inputs = {
        "grad_ratio": {"plain": 0.0, "residual": 0.62, "layernorm": 1e-8, "post_ln": 0.6, "pre_ln": 3.3},
        "chain_size": {False: 2.5e-15, True: 5.5}, "profiles": profiles, "invariance": 1e-4,
        "noise": {"layer_norm": 0.0, "batch_norm": 0.49}, "feature_mean": np.array([-1.1, 0.2, 1.5]),
        "grid": lesson_grid(), "overfit": overfit_results(), "baseline_accuracy": 0.917, "per_token": per_token(),
    }  # fmt: skip
    inputs.update(changes)
    return inputs


def test_claim_verdicts_follow_from_the_findings():
    rows = claim_verdicts(**verdict_inputs())
    expected = ["supported", "partly", "partly", "partly", "not supported", "partly", "supported", "supported",
                "partly", "partly"]  # fmt: skip
    assert [row[2] for row in rows] == [f"**{word}**" for word in expected]
    assert rows[4][0].startswith("5a.") and "changed by < 1e-6" in rows[4][3] and "BatchNorm's" in rows[4][3]
    assert "a lower held-out loss with LayerNorm (at most 0.8 times as large): 0.96 without, 0.37 / 0.42" in rows[5][3]
    assert rows[5][3].endswith("7 points / 7 points with it: **no**")
    assert rows[9][0].startswith("notes: normalises the data per token") and "0.74 to 4.50: **no**" in rows[9][3]
    assert all(len(row) == 4 and all(isinstance(cell, str) for cell in row) for row in rows)
    assert "0 (underflow) plain and 1e-08 LayerNorm only: **yes**" in rows[0][3]
    assert "Post-LN unreliable (some seeds trained, others did not)" in rows[2][3]
    assert "median 89 % → 51 % plain" in rows[6][3] and "both below the 91.7 %" in rows[6][3]
    assert "they range from -1.1 to 1.5: **no**" in rows[8][3]
    assert verdict_table(rows).count("\n") == 11


def test_claim_verdicts_change_when_the_numbers_do():
    def verdicts(**changes):
        return [row[2] for row in claim_verdicts(**verdict_inputs(**changes))]

    assert verdicts(feature_mean=np.array([0.05, -0.02]))[8] == "**supported**"  # centred hidden units
    noisy = {"layer_norm": 0.5, "batch_norm": 0.49}
    assert verdicts(noise=noisy)[4] == "**supported**"  # a LayerNorm that depends on the batch adds noise
    assert verdicts(overfit=overfit_results(residual_gap=0.12))[5] == "**supported**"  # a narrower gap too
    assert verdicts(per_token=per_token(pre_ln_normalised=True))[9] == "**supported**"
    assert verdicts(grad_ratio={"plain": 0.5, "residual": 0.62, "layernorm": 0.5, "post_ln": 0.6, "pre_ln": 3.3})[
        0
    ] == ("**partly**")
    assert verdicts(chain_size={False: 0.5, True: 5.5})[7] == "**partly**"
    assert verdicts(grid=lesson_grid(pre_high=result([0.5, 0.9, 0.5, 0.9])))[2] == "**not supported**"
    assert verdicts(grid=lesson_grid(pre_moderate=result([0.99] * 5)))[3] == "**supported**"
    assert verdicts(grid=lesson_grid(post_moderate=result([0.5] * 5)))[6] == "**partly**"
