"""Lesson 09's sampling: temperature and top-k draws from an explicit generator, sampled generation, the sweep."""

import math

import pytest
import torch

from helpers.lessons.l09_transformer_end_to_end.checkpoint import CHECKPOINT_PATH, load_checkpoint
from helpers.lessons.l09_transformer_end_to_end.evaluation import exact_match
from helpers.lessons.l09_transformer_end_to_end.generation import generate, sampled_exact_match, sampling_sweep
from helpers.lessons.l09_transformer_end_to_end.sampling import (
    entropy_bits,
    sample_next_token,
    sampling_distribution,
    sampling_margin,
)
from helpers.lessons.l09_transformer_end_to_end.sorting_task import held_out_set
from helpers.lessons.l09_transformer_end_to_end.training import one_thread_context

DRAWS = 20_000


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with one_thread_context():
        yield


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(CHECKPOINT_PATH)[0]


@pytest.fixture(scope="module")
def held_out():
    tokens, targets = held_out_set()
    return tokens[:300], targets[:300]


def random_logits(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 3


def shares(tokens, vocab_size):
    return torch.bincount(tokens.flatten(), minlength=vocab_size).double() / tokens.numel()


def test_the_distribution_is_softmax_of_logits_over_t_against_torch():
    logits = random_logits(4, 12)
    for temperature in (0.3, 1.0, 2.5):
        expected = torch.softmax(logits.double() / temperature, dim=-1)
        torch.testing.assert_close(sampling_distribution(logits, temperature), expected)


def test_top_k_keeps_the_k_most_likely_and_renormalises_against_torch_topk():
    logits = random_logits(5, 12, seed=1)
    probabilities = sampling_distribution(logits, 1.5, top_k=4)
    values, indices = torch.topk(logits.double() / 1.5, 4, dim=-1)
    expected = torch.zeros_like(probabilities).scatter(-1, indices, torch.softmax(values, dim=-1))
    torch.testing.assert_close(probabilities, expected)
    assert ((probabilities > 0).sum(dim=-1) == 4).all()
    torch.testing.assert_close(sampling_distribution(logits, 1.5, top_k=12), sampling_distribution(logits, 1.5))


def test_a_temperature_near_zero_is_greedy():
    logits = random_logits(500, 12, seed=2)
    drawn = sample_next_token(logits, torch.Generator().manual_seed(0), temperature=1e-4)
    assert torch.equal(drawn, logits.argmax(dim=-1))


def test_top_k_1_is_greedy_at_any_temperature():
    logits = random_logits(500, 12, seed=3)
    for temperature in (0.5, 1.0, 10.0):
        drawn = sample_next_token(logits, torch.Generator().manual_seed(1), temperature, top_k=1)
        assert torch.equal(drawn, logits.argmax(dim=-1))


def test_top_k_never_draws_outside_the_k_most_likely():
    logits = random_logits(12, seed=4)
    drawn = sample_next_token(logits.expand(DRAWS, 12), torch.Generator().manual_seed(2), temperature=5.0, top_k=3)
    allowed = set(logits.topk(3).indices.tolist())
    assert set(drawn.tolist()) == allowed  # each of the three is drawn, nothing else


@pytest.mark.parametrize(("temperature", "top_k"), [(1.0, None), (0.5, None), (3.0, None), (2.0, 5)])
def test_draw_frequencies_match_the_distribution(temperature, top_k):
    """Within 4 standard errors of a share of DRAWS draws (plus 1e-3): a wrong distribution misses by far more."""
    logits = random_logits(8, seed=5)
    drawn = sample_next_token(logits.expand(DRAWS, 8), torch.Generator().manual_seed(3), temperature, top_k)
    wanted = sampling_distribution(logits, temperature, top_k)
    tolerance = 4 * torch.sqrt(wanted * (1 - wanted) / DRAWS) + 1e-3
    assert (shares(drawn, 8) - wanted).abs().le(tolerance).all()
    # the test can fail: the same draws do not match the untempered softmax
    if temperature != 1.0:
        assert not (shares(drawn, 8) - torch.softmax(logits.double(), -1)).abs().le(tolerance).all()


def test_draws_come_from_the_generator_only():
    logits = random_logits(100, 12, seed=6)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = sample_next_token(logits, torch.Generator().manual_seed(7), 2.0)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global state is untouched
    assert torch.equal(first, sample_next_token(logits, torch.Generator().manual_seed(7), 2.0))
    assert not torch.equal(first, sample_next_token(logits, torch.Generator().manual_seed(8), 2.0))


def test_the_margin_is_the_distance_to_the_nearest_cdf_boundary():
    logits = torch.log(torch.tensor([0.5, 0.25, 0.25]))
    tokens, margins = sampling_margin(logits.expand(1000, 3), torch.Generator().manual_seed(9))
    u = torch.rand(1000, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    assert torch.equal(tokens, (u >= 0.5).long() + (u >= 0.75).long())
    torch.testing.assert_close(margins, torch.minimum((u - 0.5).abs(), (u - 0.75).abs()))
    same = sample_next_token(logits.expand(1000, 3), torch.Generator().manual_seed(9))
    assert torch.equal(tokens, same)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"temperature": 0.0}, ValueError, "temperature must be > 0"),
        ({"temperature": -1.0}, ValueError, "temperature must be > 0"),
        ({"temperature": float("nan")}, ValueError, "temperature must be finite"),
        ({"temperature": 1e-310}, ValueError, "too small"),
        ({"top_k": 0}, ValueError, "top_k must be >= 1"),
        ({"top_k": 13}, ValueError, "from 1 to vocab_size = 12"),
        ({"top_k": 2.0}, TypeError, "top_k must be an int"),
    ],
)
def test_bad_arguments_say_what_is_wrong(kwargs, error, match):
    with pytest.raises(error, match=match):
        sample_next_token(random_logits(12), torch.Generator(), **kwargs)


def test_bad_logits_and_generators_are_refused():
    with pytest.raises(TypeError, match="torch.Generator"):
        sample_next_token(random_logits(12), None)
    with pytest.raises(TypeError, match="floating dtype"):
        sampling_distribution(torch.arange(12))
    with pytest.raises(ValueError, match=r"shape \(\)"):
        sampling_distribution(torch.tensor(1.0))
    with pytest.raises(ValueError, match="NaN"):
        sampling_distribution(torch.tensor([0.0, float("nan")]))


def test_entropy_runs_from_zero_to_log2_vocab():
    assert float(entropy_bits(torch.tensor([1.0, 0.0, 0.0]))) == 0.0
    assert float(entropy_bits(torch.full((12,), 1 / 12))) == pytest.approx(math.log2(12))
    logits = random_logits(12, seed=10)
    values = [float(entropy_bits(sampling_distribution(logits, t))) for t in (0.1, 0.5, 1, 2, 10)]
    assert values == sorted(values)  # a higher temperature, a flatter distribution


def test_sampled_generation_with_top_k_1_is_greedy(model):
    for digits in ("31415", "987", "000111"):
        greedy = generate(model, digits)
        sampled = generate(model, digits, torch.Generator().manual_seed(0), temperature=3.0, top_k=1)
        assert sampled["output"] == greedy["output"] and sampled["top_k"] == 1 and greedy["temperature"] is None
        torch.testing.assert_close(sampled["weights"], greedy["weights"])
        torch.testing.assert_close(sampled["logits"].softmax(-1), greedy["probabilities"])


def test_sampled_generation_is_seeded_records_its_distribution_and_margins(model):
    first = generate(model, "830828", torch.Generator().manual_seed(4), temperature=4.0)
    again = generate(model, "830828", torch.Generator().manual_seed(4), temperature=4.0)
    assert first["output"] == again["output"] and first["temperature"] == 4.0
    torch.testing.assert_close(first["probabilities"], sampling_distribution(first["logits"], 4.0).float())
    assert first["margins"].shape == (6,) and (first["margins"] >= 0).all()
    outputs = {generate(model, "830828", torch.Generator().manual_seed(s), temperature=4.0)["output"] for s in range(8)}
    assert len(outputs) > 1  # at T = 4 the answers differ from draw to draw


def test_sampled_generation_needs_a_generator_and_good_settings(model):
    with pytest.raises(TypeError, match="explicit generator"):
        generate(model, "123", temperature=1.0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        generate(model, "123", torch.Generator(), temperature=0)
    with pytest.raises(ValueError, match="from 1 to vocab_size"):
        generate(model, "123", torch.Generator(), top_k=20)


def test_the_sweep_tends_to_greedy_and_matches_sampling(model, held_out):
    tokens, targets = held_out
    sweep = sampling_sweep(model, tokens, targets, [0.02, 1.0, 3.0])
    greedy = exact_match(model, tokens, targets).double().mean()
    assert float(sweep["exact_match"][0]) == pytest.approx(float(greedy), abs=1 / len(tokens))
    assert sweep["entropy_bits"].tolist() == sorted(sweep["entropy_bits"].tolist())
    assert sweep["exact_match"].tolist() == sorted(sweep["exact_match"].tolist(), reverse=True)
    sampled = sampled_exact_match(model, tokens, 3.0, seeds=range(8))  # (8,)
    # 8 × 300 sampled answers: the mean is within 4 standard errors of the computed chance
    p = float(sweep["exact_match"][2])
    assert abs(float(sampled.mean()) - p) <= 4 * math.sqrt(p * (1 - p) / (8 * len(tokens)))
    assert sampled.std() > 0  # different seeds, different draws


def test_sampled_exact_match_with_top_k_1_is_greedy_for_every_seed(model, held_out):
    tokens, targets = held_out
    greedy = exact_match(model, tokens, targets).double().mean()
    assert torch.equal(sampled_exact_match(model, tokens, 5.0, top_k=1, seeds=[0, 1]), greedy.repeat(2))


def test_sweep_and_sampled_exact_match_refuse_bad_settings(model, held_out):
    tokens, targets = held_out
    with pytest.raises(ValueError, match="at least one"):
        sampling_sweep(model, tokens, targets, [])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sampling_sweep(model, tokens, targets, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"\(B, n\)"):
        sampled_exact_match(model, tokens[0], 1.0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        sampled_exact_match(model, tokens, 1.0, top_k=0)
