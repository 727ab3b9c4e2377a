"""Training lesson 08's cross-attention transformer with every seed, evaluating it, and the verdicts printed of it."""

import pytest
import torch

from helpers.lessons.l08_before_transformers_bahdanau.cross_attention import CrossAttentionSeq2Seq
from helpers.lessons.l08_before_transformers_bahdanau.cross_attention_training import (
    ANTI_DIAGONAL,
    CROSS_TRAINING,
    SHARPER_THAN_RNN_BY,
    SOLVES,
    CrossAttentionRuns,
    cross_attention_summary,
    evaluate_cross_attention,
    train_cross_attention,
)
from helpers.lessons.l08_before_transformers_bahdanau.evaluation import METRICS, SeedEvaluation, evaluate
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import held_out_set
from helpers.lessons.l08_before_transformers_bahdanau.seed_summaries import LONG

TINY = {"steps": 3, "batch_size": 4, "d_model": 8, "d_ff": 8}


def test_training_records_every_step_of_every_seed():
    runs = train_cross_attention(seeds=[0, 1], **TINY)
    assert isinstance(runs, CrossAttentionRuns) and runs.seeds == (0, 1)
    assert runs.losses.shape == (3, 2) and len(runs.models) == 2
    assert all(isinstance(model, CrossAttentionSeq2Seq) and not model.training for model in runs.models)
    assert runs.settings["steps"] == 3 and runs.settings["d_model"] == 8 and runs.seconds > 0


def test_training_is_deterministic_and_each_seed_trains_as_alone():
    both = train_cross_attention(seeds=[0, 1], **TINY)
    again = train_cross_attention(seeds=[0, 1], **TINY)
    alone = train_cross_attention(seeds=[1], **TINY)
    assert torch.equal(both.losses, again.losses)
    assert torch.equal(both.losses[:, 1], alone.losses[:, 0])
    for a, b in zip(both.models[1].parameters(), alone.models[0].parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(both.losses[:, 0], both.losses[:, 1])  # the seeds differ


def test_training_restores_the_global_rng_and_threads():
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_cross_attention(seeds=[0], **TINY)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_a_short_training_learns():
    runs = train_cross_attention(seeds=[0], steps=40)
    losses = runs.losses[:, 0]
    assert losses[-10:].mean() < losses[:10].mean() - 0.5


def test_source_positions_reach_the_models():
    runs = train_cross_attention(seeds=[0], source_positions="from_start", **TINY)
    assert runs.models[0].source_positions == "from_start"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"steps": 0}, ValueError, "steps must be >= 1"),
        ({"lengths": (5, 3)}, ValueError, "min_n <= max_n"),
        ({"lengths": 5}, TypeError, "pair"),
        ({"lr": -1.0}, ValueError, "lr must be > 0"),
        ({"seeds": [0, 0]}, ValueError, "differ"),
        ({"source_positions": "middle"}, ValueError, "source_positions"),
    ],
)
def test_training_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        train_cross_attention(**{"seeds": [0], **TINY, **kwargs})


def test_default_settings_are_the_lessons():
    assert CROSS_TRAINING == {"steps": 100, "batch_size": 64, "lengths": (3, 10), "lr": 0.01}


# --------------------------------------------------------------------------- evaluation


@pytest.fixture(scope="module")
def small_runs():
    return train_cross_attention(seeds=[0, 1, 2], steps=5, batch_size=8)


def test_evaluation_measures_each_model_as_evaluate_measures_one(small_runs):
    test_set = held_out_set([3, 5], per_length=20)
    evaluation = evaluate_cross_attention(small_runs, test_set)
    assert isinstance(evaluation, SeedEvaluation) and evaluation.lengths == [3, 5] and evaluation.seeds == [0, 1, 2]
    for metric in METRICS:
        values = evaluation.of("cross", metric)
        assert values.shape == (3, 2) and ((values >= 0) & (values <= 1)).all()
    # measured by hand for seed 1 at n = 5
    source, target = test_set[5]
    tokens, weights = small_runs.models[1].greedy_decode(source)
    right = (tokens == target).float().mean()
    assert evaluation.at("cross", "token_accuracy", 5)[1] == pytest.approx(float(right))
    mirrored = weights[:, torch.arange(5), torch.arange(4, -1, -1)].mean()
    assert evaluation.at("cross", "aligned_weight", 5)[1] == pytest.approx(float(mirrored), abs=1e-6)


def test_evaluation_rejects_bad_input(small_runs):
    with pytest.raises(TypeError, match="CrossAttentionRuns"):
        evaluate_cross_attention("runs", held_out_set([3]))
    with pytest.raises(TypeError, match="non-empty dict"):
        evaluate_cross_attention(small_runs, {})


def test_evaluate_is_not_for_this_model(small_runs):
    with pytest.raises(TypeError, match="Seq2Seq"):
        evaluate(small_runs.models[0], held_out_set([3]))


# --------------------------------------------------------------------------- the summary and its verdicts


def _evaluation(results, seeds=(0, 1, 2, 3, 4), lengths=(3, LONG)):
    return SeedEvaluation(lengths=list(lengths), seeds=list(seeds), results=results)


def _metrics(letters, weight):
    """(S, 2) tensors: the values at 3 letters are 1, at LONG those given."""
    letters, weight = torch.tensor(letters, dtype=torch.float), torch.tensor(weight, dtype=torch.float)
    ones = torch.ones_like(letters)
    return {
        "token_accuracy": torch.stack([ones, letters], dim=1),
        "aligned_weight": torch.stack([ones, weight], dim=1),
    }


def test_summary_counts_seeds_against_the_thresholds():
    high, low = SOLVES / 100 + 0.05, SOLVES / 100 - 0.05
    cross = _evaluation({"cross": _metrics([high, high, high, high, low], [0.8, 0.8, 0.8, 0.8, 0.3])})
    bahdanau = _evaluation(
        {
            "additive": _metrics([0.9] * 5, [0.4, 0.4, 0.4, 0.4, 0.7]),  # 0.4 below in 4 seeds: sharper
            "dot": _metrics([0.9] * 5, [0.95, 0.75, 0.8, 0.8, 0.9]),  # within 0.1 in most: no difference
        }
    )
    text = cross_attention_summary(cross, bahdanau)
    assert f"at least {SOLVES} % of the letters right" in text and f"at least {ANTI_DIAGONAL} of each" in text
    assert "letters right in 4 of 5 seeds" in text and "anti-diagonal in 4 of 5 seeds" in text
    assert f"cross-attention reverses {LONG} letters: supported" in text
    assert "its alignment is the anti-diagonal: supported" in text
    assert "cross-attention against additive (Bahdanau): sharper" in text
    assert "cross-attention against dot-product RNN: no clear difference" in text
    assert f"at least {SHARPER_THAN_RNN_BY} more / less weight" in text


def test_summary_says_not_supported_and_less_sharp():
    cross = _evaluation({"cross": _metrics([0.5] * 5, [0.3] * 5)})
    bahdanau = _evaluation({"additive": _metrics([0.9] * 5, [0.9] * 5), "dot": _metrics([0.9] * 5, [0.35] * 5)})
    text = cross_attention_summary(cross, bahdanau)
    assert "letters right in 0 of 5 seeds" in text and f"reverses {LONG} letters: not supported" in text
    assert "its alignment is the anti-diagonal: not supported" in text
    assert "against additive (Bahdanau): less sharp" in text
    assert "against dot-product RNN: no clear difference" in text
    assert "median 0.3, range 0.3 to 0.3" in text and "50" not in text  # letters right are counted, not printed


def test_summary_rejects_mismatched_evaluations():
    cross = _evaluation({"cross": _metrics([0.9] * 5, [0.9] * 5)})
    both = {"additive": _metrics([0.9] * 5, [0.9] * 5), "dot": _metrics([0.9] * 5, [0.9] * 5)}
    with pytest.raises(TypeError, match="SeedEvaluation"):
        cross_attention_summary("cross", _evaluation(both))
    with pytest.raises(ValueError, match="additive and the dot-product"):
        cross_attention_summary(cross, _evaluation({"additive": both["additive"]}))
    with pytest.raises(ValueError, match="evaluate_cross_attention"):
        cross_attention_summary(_evaluation(both), _evaluation(both))
    with pytest.raises(ValueError, match="same seeds"):
        three = {kind: {m: v[:3] for m, v in metrics.items()} for kind, metrics in both.items()}
        cross_attention_summary(cross, _evaluation(three, seeds=(0, 1, 2)))
