"""Right answers written differently pass: other dtypes, float-near values, other formulas, in-place steps.

Each case is a class of valid answer a checker once rejected or crashed on (issue 16): a float64 answer to a
float32 question, the solution plus 1e-6, softmax as exp(x − logsumexp(x)), an in-place update of the
learner's own copy of the inputs.
"""

import torch

from helpers.lessons.l02_scaling_by_sqrt_dk.exercises import check_scaled_scores
from helpers.lessons.l03_softmax.exercises import check_softmax
from helpers.lessons.l04_masking.exercises import check_masked_attention
from helpers.lessons.l05_multi_head_attention.exercises import check_multi_head, check_split_heads
from helpers.lessons.l06_add_and_norm.exercises import check_pre_ln, check_rms_norm
from helpers.lessons.l07_complexity.exercises import check_online_softmax_step
from tests.test_l02_scaling_by_sqrt_dk_exercises import scaled_scores
from tests.test_l04_masking_exercises import my_masked_attention
from tests.test_l05_multi_head_attention_exercises import multi_head, split_heads
from tests.test_l06_add_and_norm_exercises import my_pre_ln, my_rms_norm
from tests.test_l07_complexity_exercises import online_softmax_step


def in_float64(fn):
    def answer(*args, **kwargs):
        out = fn(*args, **kwargs)
        return tuple(o.double() for o in out) if isinstance(out, tuple) else out.double()

    return answer


def plus_a_millionth(fn):
    def answer(*args, **kwargs):
        return fn(*args, **kwargs) + 1e-6

    return answer


def test_float64_answers_pass(capsys):
    assert check_scaled_scores(in_float64(scaled_scores))
    assert check_masked_attention(in_float64(my_masked_attention))
    assert check_rms_norm(in_float64(my_rms_norm))
    assert check_pre_ln(in_float64(my_pre_ln))
    assert check_split_heads(in_float64(split_heads))
    assert check_multi_head(in_float64(multi_head))
    assert "The checker itself failed" not in capsys.readouterr().out


def test_answers_within_a_millionth_pass():
    assert check_pre_ln(plus_a_millionth(my_pre_ln))
    assert check_rms_norm(plus_a_millionth(my_rms_norm))
    assert check_scaled_scores(plus_a_millionth(scaled_scores))


def test_softmax_through_logsumexp_passes():
    def via_logsumexp(x, dim=-1):
        return torch.exp(x - torch.logsumexp(x, dim=dim, keepdim=True))

    assert check_softmax(via_logsumexp)


def test_an_online_step_that_works_in_place_on_its_inputs_passes():
    def in_place(running_max, running_sum, acc, scores, values):
        new_max = torch.maximum(running_max, scores.amax(dim=-1, keepdim=True))
        scores -= new_max  # the learner's own copy
        correction = torch.exp(running_max - new_max)
        p = scores.exp_()
        return new_max, running_sum * correction + p.sum(dim=-1, keepdim=True), acc * correction + p @ values

    assert check_online_softmax_step(in_place)
    assert check_online_softmax_step(in_float64(online_softmax_step))

    def float32(*args):
        return tuple(t.float() for t in online_softmax_step(*args))

    assert check_online_softmax_step(float32)
