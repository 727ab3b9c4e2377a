"""helpers.lessons.l08_before_transformers_bahdanau.long_range: the path lengths into the fixed summary, the
teacher-forced accuracy per source position (against each unstacked Seq2Seq's own forward pass), and the
long-range verdict against its threshold."""

import pytest
import torch

from helpers.lessons.l08_before_transformers_bahdanau.long_range import (
    FAR_PATH,
    LOSES_BY,
    NEAR_PATH,
    accuracy_by_position,
    long_range_summary,
    long_range_table,
    path_lengths,
)
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import held_out_set
from helpers.lessons.l08_before_transformers_bahdanau.training import train_seeds

TINY = {"d_embed": 8, "d_hidden": 8, "d_a": 8}


def test_path_lengths_count_the_steps_from_either_end():
    assert path_lengths(10).tolist() == [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]
    assert path_lengths(5).tolist() == [0, 1, 2, 1, 0]
    assert path_lengths(1).tolist() == [0]
    with pytest.raises(ValueError, match="n"):
        path_lengths(0)


def test_path_lengths_match_what_the_summary_has_read():
    # the forward half of the summary reads x_j, then n-1-j more letters; the backward half j more
    n = 7
    forward_after, backward_after = [n - 1 - j for j in range(n)], list(range(n))
    expected = [min(a, b) for a, b in zip(forward_after, backward_after, strict=True)]
    assert path_lengths(n).tolist() == expected


@pytest.fixture(scope="module")
def runs():
    return train_seeds(seeds=[0, 1], steps=6, batch_size=8, lengths=(3, 5), **TINY)


def test_accuracy_by_position_is_each_models_teacher_forced_accuracy(runs):
    source, target = held_out_set([6], per_length=20)[6]
    by_position = accuracy_by_position(runs, source, target)
    assert list(by_position) == ["additive", "dot", "none"]
    for kind, values in by_position.items():
        assert values.shape == (2, 6)
        for row, model in zip(values, runs.models(kind), strict=True):
            with torch.no_grad():
                logits, _ = model(source, target)  # (N, m, 26), step i writes x_{n-1-i}
            per_step = (logits.argmax(-1) == target).float().mean(0)  # (m,)
            torch.testing.assert_close(row, per_step.flip(-1))


def test_accuracy_by_position_rejects_bad_input(runs):
    source, target = held_out_set([4], per_length=5)[4]
    with pytest.raises(TypeError, match="SeedRuns"):
        accuracy_by_position({}, source, target)
    with pytest.raises(ValueError, match="reversal"):
        accuracy_by_position(runs, source, source)
    with pytest.raises(ValueError, match=r"\(5, 4\) and \(5, 3\)"):
        accuracy_by_position(runs, source, target[:, :3])


def _synthetic(none_middle, attention_middle=0.95, ends=0.97, seeds=5, n=10):
    """{kind: (S, n)}: letters right at the ends `ends`, at the middle (path >= FAR_PATH) the given values."""
    far = path_lengths(n) >= FAR_PATH

    def rows(middle):
        values = torch.full((seeds, n), ends)
        values[:, far] = torch.as_tensor(middle, dtype=torch.float32).reshape(-1, 1).expand(seeds, int(far.sum()))
        return values

    return {"additive": rows(attention_middle), "dot": rows(attention_middle), "none": rows(none_middle)}


def test_long_range_summary_counts_seeds_against_the_threshold():
    text = long_range_summary(_synthetic(none_middle=0.3))
    assert f"at least {LOSES_BY} points" in text and f"{FAR_PATH} or more" in text and f"{NEAR_PATH} or fewer" in text
    assert "path into the summary      0   1   2   3   4   4   3   2   1   0" in text
    assert "none    : loses the far letters in 5 of 5 seeds" in text
    assert "additive: loses the far letters in 0 of 5 seeds" in text
    assert text.endswith("a direct path (attention) keeps them: supported on this task")
    # the model without attention loses them in only 3 of 5 seeds: not enough
    three = long_range_summary(_synthetic(none_middle=[0.3, 0.3, 0.3, 0.9, 0.9]))
    assert "none    : loses the far letters in 3 of 5 seeds" in three and three.endswith("not supported on this task")
    # an attention model that loses them too: the difference is not the path
    both = long_range_summary(_synthetic(none_middle=0.3, attention_middle=0.5))
    assert "dot     : loses the far letters in 5 of 5 seeds" in both and both.endswith("not supported on this task")
    # just under the threshold does not count
    edge = long_range_summary(_synthetic(none_middle=0.97 - (LOSES_BY - 1) / 100))
    assert "none    : loses the far letters in 0 of 5 seeds" in edge


def test_long_range_table_prints_the_medians_under_the_paths():
    values = _synthetic(none_middle=[0.3, 0.3, 0.4, 0.9, 0.9])
    table = long_range_table(values).splitlines()
    assert table[0] == "source position j       " + "".join(f"{j:4d}" for j in range(10))
    assert table[2] == "letters right (%), teacher-forced, median of 5 seeds:"
    assert table[3] == "  additive              " + "  97  97  97  95  95  95  95  97  97  97"
    assert table[5] == "  none                  " + "  97  97  97  40  40  40  40  97  97  97"  # the median seed


def test_long_range_summary_rejects_what_it_cannot_judge():
    with pytest.raises(ValueError, match="'none'"):
        long_range_table({"dot": torch.ones(5, 10)})
    with pytest.raises(ValueError, match="'none'"):
        long_range_summary({"dot": torch.ones(5, 10)})
    with pytest.raises(ValueError, match="one shape"):
        long_range_summary({"dot": torch.ones(5, 10), "none": torch.ones(5, 9)})
    with pytest.raises(ValueError, match="no letter"):
        long_range_summary({"dot": torch.ones(5, 4), "none": torch.ones(5, 4)})
