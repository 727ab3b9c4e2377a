"""Lesson 09's checkers pass the reference solutions and reject plausible mistakes, without raising."""

import math

import pytest
import torch

from helpers.lessons.l09_transformer_end_to_end.checkpoint import CHECKPOINT_PATH, load_checkpoint
from helpers.lessons.l09_transformer_end_to_end.evaluation import exact_match
from helpers.lessons.l09_transformer_end_to_end.exercises import (
    check_block_parameters,
    check_failing_input,
    check_greedy_decoding,
    check_position_shift,
    check_temperature_sampling,
)
from helpers.lessons.l09_transformer_end_to_end.sorting_task import SEP, decode, encode, held_out_set
from helpers.lessons.l09_transformer_end_to_end.training import one_thread_context


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with one_thread_context():
        yield


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(CHECKPOINT_PATH)[0]


# ---------------------------------------------------------------- reference solutions


def shift_matrix(k, d_model):
    omega = 1 / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d_model / 2,)
    matrix = torch.zeros(d_model, d_model, dtype=torch.float64)
    for i, angle in enumerate((k * omega).tolist()):
        c, s = math.cos(angle), math.sin(angle)
        # (sin a, cos a) -> (sin(a + b), cos(a + b)) = (sin a cos b + cos a sin b, cos a cos b − sin a sin b)
        matrix[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor([[c, s], [-s, c]])
    return matrix


def block_parameters(d_model, d_ff):
    attention = 4 * (d_model * d_model + d_model)  # w_q, w_k, w_v, w_o with their biases
    feed_forward = (d_model * d_ff + d_ff) + (d_ff * d_model + d_model)
    norms = 2 * 2 * d_model  # two LayerNorms, γ and β each
    return attention + feed_forward + norms


def greedy_sort(model, digits):
    tokens = encode(digits + SEP)
    for _ in range(len(digits)):
        logits = model(tokens[None])  # (1, n, vocab); the causal mask is inside the model
        tokens = torch.cat([tokens, logits[0, -1].argmax().reshape(1)])
    return decode(tokens[len(digits) + 1 :])


def a_failing_input(model):
    tokens, targets = held_out_set()
    wrong = torch.nonzero(~exact_match(model, tokens, targets)).flatten()
    assert len(wrong), "the committed model sorts every held-out sequence right"
    return decode(tokens[wrong[0]]).split("=")[0]


def unfinished(*args):
    raise NotImplementedError


# ---------------------------------------------------------------- the shift of positions


def test_shift_reference_passes(capsys):
    assert check_position_shift(shift_matrix) is True
    assert "Well done" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (unfinished, "NotImplementedError"),
        (lambda k, d: shift_matrix(k, d).T, "you built M transposed"),
        (lambda k, d: torch.eye(d), "the identity leaves PE[p] where it is"),
        (lambda k, d: shift_matrix(k + 1, d), "one 2×2 rotation per (sine, cosine) pair"),
        (lambda k, d: torch.eye(d // 2), "it is (d_model, d_model)"),
        (lambda k, d: shift_matrix(k, d).tolist(), "return a torch.Tensor"),
    ],
)
def test_shift_mistakes_get_a_hint(answer, hint, capsys):
    assert check_position_shift(answer) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out


# ---------------------------------------------------------------- counting parameters


def test_block_parameters_reference_passes(capsys):
    assert check_block_parameters(block_parameters) is True
    assert "the same for 1, 2, 4, 8 or 16 heads" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (unfinished, "NotImplementedError"),
        (lambda d, f: 4 * d * d + 2 * d * f + 4 * d, "every nn.Linear has a bias too"),
        (lambda d, f: block_parameters(d, f) - 4 * d, "the two LayerNorms learn"),
        (lambda d, f: block_parameters(d, f) - 2 * (d * d + d), "four projections"),
        (lambda d, f: float(block_parameters(d, f)), "return an int"),
    ],
)
def test_block_parameter_mistakes_get_a_hint(answer, hint, capsys):
    assert check_block_parameters(answer) is False
    assert hint in capsys.readouterr().out


# ---------------------------------------------------------------- greedy decoding


def test_greedy_reference_passes(model, capsys):
    assert check_greedy_decoding(greedy_sort, model) is True
    assert "Well done" in capsys.readouterr().out


def _first_position(model, digits):  # reads the prediction of the first position, not the last
    tokens = encode(digits + SEP)
    for _ in range(len(digits)):
        tokens = torch.cat([tokens, model(tokens[None])[0, 0].argmax().reshape(1)])
    return decode(tokens[len(digits) + 1 :])


def _never_appends(model, digits):  # every step sees the same prefix
    tokens = encode(digits + SEP)
    return "".join(decode(model(tokens[None])[0, -1].argmax().reshape(1)) for _ in digits)


def _one_pass(model, digits):  # one run, then the argmax at each position
    tokens = encode(digits + SEP)
    return decode(model(tokens[None])[0, len(digits) :].argmax(dim=-1))[: len(digits)]


def _cheat(model, digits):
    return "".join(sorted(digits))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (unfinished, "NotImplementedError"),
        (_never_appends, "append each new token to the sequence"),
        (_first_position, "the last position, logits[0, -1]"),
        (_one_pass, "generate exactly as many tokens"),
        (_cheat, "call model(tokens)"),
        (lambda model, digits: list(greedy_sort(model, digits)), "return a str such as"),
        (lambda model, digits: greedy_sort(model, digits) + "9", "generate exactly as many tokens"),
    ],
)
def test_greedy_mistakes_get_a_hint(model, answer, hint, capsys):
    assert check_greedy_decoding(answer, model) is False
    assert hint in capsys.readouterr().out


def test_greedy_checker_loads_the_committed_model_by_default(capsys):
    assert check_greedy_decoding(greedy_sort) is True


# ---------------------------------------------------------------- sampling with a temperature


def sample_with_temperature(logits, temperature, generator):
    probabilities = torch.softmax(logits / temperature, dim=-1)
    return int(torch.multinomial(probabilities, 1, generator=generator))


def sample_by_inverse_cdf(logits, temperature, generator):  # another right answer: returns a 0-d tensor
    cdf = torch.softmax(logits / temperature, dim=-1).cumsum(dim=-1)
    return torch.searchsorted(cdf, torch.rand(1, generator=generator) * cdf[-1])[0].clamp(max=len(logits) - 1)


@pytest.mark.parametrize("answer", [sample_with_temperature, sample_by_inverse_cdf])
def test_temperature_sampling_references_pass(answer, capsys):
    assert check_temperature_sampling(answer) is True
    assert "T = 0.01 draws the most likely token every time" in capsys.readouterr().out


def not_yet_written(logits, temperature, generator):
    raise NotImplementedError  # the placeholder a learner starts from


def global_random(logits, temperature, generator):
    return int(torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1))


def no_temperature(logits, temperature, generator):
    return int(torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator))


def times_temperature(logits, temperature, generator):
    return int(torch.multinomial(torch.softmax(logits * temperature, dim=-1), 1, generator=generator))


def argmax(logits, temperature, generator):
    return int((logits / temperature).argmax())


def probabilities_not_a_token(logits, temperature, generator):
    return torch.softmax(logits / temperature, dim=-1)


def uniform(logits, temperature, generator):
    return int(torch.randint(len(logits), (1,), generator=generator))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (not_yet_written, "replace the line `raise NotImplementedError`"),
        (global_random, "pass the generator to the function that draws"),
        (no_temperature, "divide the logits by it first"),
        (times_temperature, "divide, so that T > 1 flattens"),
        (argmax, "instead of taking the argmax"),
        (probabilities_not_a_token, "return one token id"),
        (uniform, "softmax(logits / temperature)[i]"),
    ],
)
def test_temperature_sampling_mistakes_get_a_hint(answer, hint, capsys):
    assert check_temperature_sampling(answer) is False
    out = capsys.readouterr().out
    assert hint in out and "Not yet" in out


def test_the_sampling_checker_leaves_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    check_temperature_sampling(sample_with_temperature)
    assert torch.equal(torch.random.get_rng_state(), state)


# ---------------------------------------------------------------- catching the model out


def test_a_failing_input_passes(model, capsys):
    question = a_failing_input(model)
    assert check_failing_input(question, model) is True
    assert "its first mistake is output digit" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "write it in quotes"),
        (31415, "write it in quotes"),
        ("3141", "the model sorts this one right"),
        ("12x", "only the digits 0-9"),
        ("1234567", "too many"),
        ("", "the box is empty"),
    ],
)
def test_inputs_the_model_gets_right_or_cannot_read_do_not_pass(model, answer, hint, capsys):
    assert check_failing_input(answer, model) is False
    assert hint in capsys.readouterr().out


def test_checkers_never_raise_on_strange_answers(model, capsys):
    assert check_position_shift(lambda k, d: torch.full((d, d), math.nan)) is False
    assert check_block_parameters(lambda d, f: "many") is False
    assert check_greedy_decoding(lambda model, digits: None, model) is False
    assert check_temperature_sampling(lambda logits, t, g: 1 / 0) is False
    assert "Not yet" in capsys.readouterr().out
