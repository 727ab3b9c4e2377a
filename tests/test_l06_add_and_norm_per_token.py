"""Lesson 06: LayerNorm per token and without noise (per_token), and Adam's first steps (warmup)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.lessons.l06_add_and_norm.per_token import batch_dependence, per_token_verdict, stream_normalisation
from helpers.lessons.l06_add_and_norm.warmup import adam_first_steps

TINY = {"d_model": 8, "n_heads": 2, "d_ff": 8}


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- batch_dependence


def test_batch_dependence_matches_torchs_layer_norm_and_batch_norm():
    sequence, companions = randn(4, 8), randn(3, 5, 4, 8, seed=1) * 3 + 1
    measured = batch_dependence(sequence, companions)
    ln, bn = [], []
    for others in companions:
        batch = torch.cat([sequence[None], others])  # (6, 4, 8)
        ln.append(F.layer_norm(batch, (8,))[0])
        flat = batch.reshape(-1, 8)  # BatchNorm1d over (B·n, d): one mean and variance per feature
        bn.append(F.batch_norm(flat, None, None, training=True).reshape(batch.shape)[0])
    expected_bn = max((b - bn[0]).abs().max().item() for b in bn)
    assert measured["layer_norm"] < 1e-6
    assert measured["batch_norm"] == pytest.approx(expected_bn, abs=1e-5) and expected_bn > 0.1


def test_batch_dependence_is_zero_when_the_companions_do_not_change():
    sequence, others = randn(4, 8), randn(1, 5, 4, 8, seed=2)
    measured = batch_dependence(sequence, others.expand(3, -1, -1, -1))
    assert measured == {"layer_norm": 0.0, "batch_norm": 0.0}


@pytest.mark.parametrize(
    ("sequence", "companions", "match"),
    [
        (randn(4, 8), randn(3, 5, 4, 7), r"\(n, d\) and companions \(K, C, n, d\).*\(4, 8\) and \(3, 5, 4, 7\)"),
        (randn(2, 4, 8), randn(3, 5, 4, 8), r"got \(2, 4, 8\)"),
        (randn(4, 8), randn(1, 5, 4, 8), "K >= 2"),
    ],
)
def test_batch_dependence_rejects_bad_shapes(sequence, companions, match):
    with pytest.raises(ValueError, match=match):
        batch_dependence(sequence, companions)


# --------------------------------------------------------------------------- stream_normalisation and its verdict


@pytest.fixture(scope="module")
def stats():
    return stream_normalisation(depth=3, seed=0, sequences=8, model=TINY)


def test_post_ln_hands_on_normalised_tokens_pre_ln_does_not(stats):
    assert stats["depth"] == 3
    for key in ("post_ln", "pre_ln_read"):
        assert stats[key]["token_mean"] < 1e-5
        low, high = stats[key]["token_variance"]
        assert abs(low - 1) < 1e-3 and abs(high - 1) < 1e-3
    low, high = stats["pre_ln"]["token_variance"]
    assert high - low > 0.1  # the Pre-LN stream's tokens have variances of their own
    low, high = stats["post_ln"]["feature_mean"]
    assert high - low > 0.2  # features are not centred across tokens


def test_stream_normalisation_matches_one_model_alone():
    from helpers.lessons.l06_add_and_norm.blocks import feature_stats
    from helpers.lessons.l06_add_and_norm.stacked_models import StackedModels
    from helpers.lessons.l06_add_and_norm.task import above_average_task

    stats = stream_normalisation(depth=2, seed=1, sequences=4, model=TINY)
    tokens, _ = above_average_task(4, torch.Generator().manual_seed(1))
    with torch.no_grad():
        _, hidden = StackedModels("post_ln", 2, [1], vocab=8, n_classes=2, **TINY)(tokens=tokens, return_hidden=True)
    feature_mean, _ = feature_stats(hidden[2][0])
    assert stats["post_ln"]["feature_mean"] == pytest.approx(
        (feature_mean.min().item(), feature_mean.max().item()), abs=1e-5
    )


def test_per_token_verdict_is_partly_and_follows_the_numbers(stats):
    claim, tested_by, word, numbers = per_token_verdict(stats)
    assert word == "**partly**" and "3 blocks" in tested_by and "per token" in claim
    assert numbers.count("**yes**") == 2 and numbers.endswith("**no**")
    normalised = {"token_mean": 0.0, "token_variance": (1.0, 1.0), "feature_mean": (-1.0, 1.0)}
    everywhere = {"depth": 3, "post_ln": normalised, "pre_ln": normalised, "pre_ln_read": normalised}
    assert per_token_verdict(everywhere)[2] == "**supported**"
    centred = {**normalised, "feature_mean": (-0.01, 0.02)}
    assert per_token_verdict({**everywhere, "post_ln": centred})[3].count("**no**") == 1
    with pytest.raises(ValueError, match="pre_ln_read"):
        per_token_verdict({"depth": 3, "post_ln": normalised, "pre_ln": normalised})


def test_stream_normalisation_rejects_bad_arguments():
    with pytest.raises(ValueError, match="depth must be >= 1"):
        stream_normalisation(depth=0, model=TINY)
    with pytest.raises(ValueError, match="sequences must be >= 2"):
        stream_normalisation(sequences=1, model=TINY)


# --------------------------------------------------------------------------- adam_first_steps


def test_adams_first_step_moves_every_weight_by_the_learning_rate():
    plain = adam_first_steps("post_ln", depth=2, lr=0.01, seeds=(0, 1), steps=3, model=TINY)
    assert set(plain) == {"lrs", "move", "full", "grad_orders"} and plain["move"].shape == (3,)
    assert plain["move"][0] == pytest.approx(1.0, abs=1e-3)  # g / sqrt(g²) = ±1: the full learning rate
    assert plain["full"][0] > 0.9 and plain["grad_orders"][0] > 0.5  # though the gradients differ a lot
    np.testing.assert_allclose(plain["lrs"], 0.01)
    warm = adam_first_steps("post_ln", depth=2, lr=0.01, warmup=10, seeds=(0, 1), steps=3, model=TINY)
    np.testing.assert_allclose(warm["lrs"], [0.001, 0.002, 0.003], rtol=1e-6)
    assert warm["move"][0] == pytest.approx(0.1, abs=1e-3)  # a tenth of the rate at the first of 10 steps
    np.testing.assert_allclose(warm["grad_orders"][0], plain["grad_orders"][0])  # the same first gradient


def test_adams_first_step_agrees_with_torch_optim_adam():
    from helpers.lessons.l06_add_and_norm.stacked_models import BLOCK_PARAMETERS, StackedModels, per_model_loss
    from helpers.lessons.l06_add_and_norm.task import DATA_SEED, above_average_task

    stack = StackedModels("pre_ln", 1, [3], vocab=8, n_classes=2, **TINY)
    weights = [getattr(stack, name) for name in BLOCK_PARAMETERS]
    before = torch.cat([w.detach().flatten() for w in weights])
    optimiser = torch.optim.Adam(stack.parameters(), lr=0.02)
    tokens, labels = above_average_task(4, torch.Generator().manual_seed(DATA_SEED + 3))
    per_model_loss(stack(tokens=tokens[None]), labels[None]).sum().backward()
    optimiser.step()
    moved = (torch.cat([w.detach().flatten() for w in weights]) - before).abs()
    ours = adam_first_steps("pre_ln", depth=1, lr=0.02, seeds=(3,), steps=1, batch=4, model=TINY)
    assert ours["move"][0] == pytest.approx(float(moved.median()) / 0.02, rel=1e-4)


def test_adam_first_steps_rejects_bad_arguments():
    with pytest.raises(ValueError, match="variant must be one of"):
        adam_first_steps("deep", model=TINY)
    with pytest.raises(ValueError, match="lr must be > 0"):
        adam_first_steps(lr=0.0, model=TINY)


def test_first_steps_table_has_one_line_per_warmup_and_step():
    from helpers.lessons.l06_add_and_norm.warmup import first_steps_table

    one = {"lrs": np.array([0.03, 0.03]), "move": np.array([1.0, 0.67]), "full": np.array([0.98, 0.76]),
           "grad_orders": np.array([1.84, 2.37])}  # fmt: skip
    lines = first_steps_table({0: one, 25: {**one, "lrs": np.array([0.0012, 0.0024])}}).splitlines()
    assert len(lines) == 5 and lines[0].startswith("warm-up  | step | learning rate")
    assert lines[1].split("|") == ["none     ", "    1 ", "        0.0300 ", "              1.00 ",
                                   "                        98 % ", " 10^1.8"]  # fmt: skip
    assert lines[3].startswith("25 steps |    1 |        0.0012")
    with pytest.raises(TypeError, match="non-empty dict"):
        first_steps_table({})
