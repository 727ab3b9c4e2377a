"""helpers.lessons.l06_add_and_norm.feed_forward_training: the tasks' labels, the best one-cut and band rules, the
runs without the FFN (its weights stay exactly 0, so each block is attention alone), and the words of the summary."""

import itertools

import numpy as np
import pytest
import torch

from helpers.lessons.l06_add_and_norm import feed_forward_training as training
from helpers.lessons.l06_add_and_norm.blocks import AddNormBlock
from helpers.lessons.l06_add_and_norm.task import MODEL, above_average_task

FULL, TWO, FOUR = training.FEED_FORWARD_ARMS


def test_above_is_the_lessons_task_and_near_is_a_band():
    tokens, labels = above_average_task(50, torch.Generator().manual_seed(0))
    assert torch.equal(training.task_labels(tokens, "above"), labels)
    tokens = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7]])  # average 3.5
    assert training.task_labels(tokens, "near").tolist() == [[0, 0, 0, 1, 1, 0, 0, 0]]  # |t| <= 1: ids 3 and 4


@pytest.mark.parametrize(("tokens", "error"), [(torch.ones(2, 8), ValueError), ([[1, 2]], TypeError)])
def test_task_labels_refuses_what_is_not_ids(tokens, error):
    with pytest.raises(error):
        training.task_labels(tokens, "above")


def test_an_unknown_task_is_refused():
    with pytest.raises(ValueError, match="task must be one of"):
        training.task_labels(torch.zeros(1, 8, dtype=torch.long), "parity")


def _brute_force(task, n_sequences, seed):
    """The best one-cut and band rules on t, by trying every cut."""
    tokens, _ = above_average_task(n_sequences, torch.Generator().manual_seed(seed))
    labels = training.task_labels(tokens, task).flatten().numpy()
    t = (tokens.double() - tokens.double().mean(dim=-1, keepdim=True)).flatten().numpy()
    cuts = [-np.inf, *np.unique(t), np.inf]
    one_cut = max(max(((t >= c) == labels).mean(), ((t < c) == labels).mean()) for c in cuts)
    band = max(
        max((((t >= a) & (t < b)) == labels).mean(), (~((t >= a) & (t < b)) == labels).mean())
        for a, b in itertools.combinations(cuts, 2)
    )
    return one_cut, band


@pytest.mark.parametrize("task", ["above", "near"])
def test_best_rule_accuracy_is_the_best_of_every_cut(task):
    found = training.best_rule_accuracy(task, n_sequences=60, seed=3)
    one_cut, band = _brute_force(task, 60, 3)
    assert found["one cut"] == pytest.approx(one_cut)
    assert found["band"] == pytest.approx(band)


def test_one_cut_decides_the_lessons_task_but_not_the_band():
    assert training.best_rule_accuracy("above") == {"one cut": 1.0, "band": 1.0}
    near = training.best_rule_accuracy("near")
    assert near["band"] == 1.0 and near["one cut"] < 0.8


@pytest.fixture(scope="module")
def small_runs():
    return training.feed_forward_runs(seeds=[0, 1], steps=3, eval_sequences=16, return_stacks=True)


def test_the_runs_hold_every_task_and_arm(small_runs):
    runs, _ = small_runs
    assert list(runs) == ["above", "near"]
    for arms in runs.values():
        assert list(arms) == list(training.FEED_FORWARD_ARMS)
        for result in arms.values():
            assert result["seeds"] == [0, 1]
            assert result["eval_accuracy"].shape == result["eval_loss"].shape == (2,)
            assert ((0 <= result["eval_accuracy"]) & (result["eval_accuracy"] <= 1)).all()


def test_without_the_ffn_its_weights_stay_zero_and_with_it_they_train(small_runs):
    _, stacks = small_runs
    two = stacks[2]  # models: (above, near) × (with, without) × seeds 0, 1
    with_ffn = [0, 1, 4, 5]
    without = [2, 3, 6, 7]
    for name in training.FEED_FORWARD_PARAMETERS:
        values = getattr(two, name).detach()
        assert torch.equal(values[without], torch.zeros_like(values[without]))
        assert (values[with_ffn].flatten(1).abs().amax(dim=1) > 0).all()
        four = getattr(stacks[4], name).detach()
        assert torch.equal(four, torch.zeros_like(four))


def test_a_block_without_the_ffn_is_attention_alone(small_runs):
    _, stacks = small_runs
    block = stacks[2].block(2, 0)  # a model without the FFN, its first block (Pre-LN)
    x = torch.randn(2, 8, MODEL["d_model"], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(block(x), x + block.attn(block.norm1(x))[0], atol=1e-6)
    assert isinstance(block, AddNormBlock)


def test_parameter_counts_are_the_stacks_own(small_runs):
    runs, stacks = small_runs
    for arm, (depth, with_ffn) in training.FEED_FORWARD_ARMS.items():
        stack = stacks[depth]
        per_model = sum(p.numel() for p in stack.parameters()) // stack.n_models
        if not with_ffn:
            per_model -= (
                sum(getattr(stack, name).numel() for name in training.FEED_FORWARD_PARAMETERS) // stack.n_models
            )
        assert runs["above"][arm]["parameters"] == per_model
    assert (
        abs(runs["above"][FOUR]["parameters"] - runs["above"][FULL]["parameters"])
        < 0.05 * runs["above"][FULL]["parameters"]
    )


def _fake(accuracies):
    """runs for one task from {arm: accuracies}."""
    return {
        "near": {
            arm: {
                "seeds": list(range(len(a))),
                "eval_accuracy": np.array(a),
                "eval_loss": np.array(a) * 0 + 0.3,
                "parameters": 100,
            }  # fmt: skip
            for arm, a in accuracies.items()
        }
    }


def test_the_summary_says_lost_only_past_the_threshold():
    runs = _fake({FULL: [0.90, 0.89, 0.92, 0.91, 0.86], TWO: [0.86, 0.86, 0.88, 0.86, 0.86],
                  FOUR: [0.90, 0.88, 0.93, 0.90, 0.89]})  # fmt: skip
    text = training.feed_forward_summary(runs)
    assert "2 attention-only blocks lower: something is lost (4 points below at the median" in text
    assert "4 of 5 seeds" in text
    assert "4 attention-only blocks the same: nothing is lost (0 points above at the median" in text
    table = training.feed_forward_table(runs)
    assert "| within 1 of the average | 2 attention-only blocks | 100 | 86 % (86–88 %) | 0.30 | 4 of 5 |" in table


def test_the_summary_refuses_incomplete_runs():
    with pytest.raises(ValueError, match="has no"):
        training.feed_forward_summary(_fake({FULL: [0.9]}))
    with pytest.raises(TypeError):
        training.feed_forward_table([])


@pytest.mark.parametrize(
    ("arguments", "error"),
    [({"tasks": ["above", "above"]}, ValueError), ({"seeds": [0, 0]}, ValueError), ({"steps": 0}, ValueError),
     ({"lr": -1.0}, ValueError), ({"tasks": ["parity"]}, ValueError)],
)  # fmt: skip
def test_feed_forward_runs_refuses_bad_arguments(arguments, error):
    with pytest.raises(error):
        training.feed_forward_runs(**arguments)
