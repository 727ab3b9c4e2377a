"""helpers.library.optim against torch.optim.Adam, step by step (torch.optim is imported here, not in the lessons)."""

import numpy as np
import pytest
import torch
from torch import nn

from helpers.library.optim import RECIPES, Adam, StackedAdam, sqrt_on_any_cpu


def _pair(seed=0):
    torch.manual_seed(seed)
    ours, theirs = nn.Linear(4, 3), nn.Linear(4, 3)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def _backward(model, x, step):
    (model(x) ** 2).sum().mul(10.0 * (step + 1)).backward()


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_moves_the_parameters_as_torch_optim_adam_does_at_every_step(recipe):
    ours, theirs = _pair()
    optimizer = Adam(ours.parameters(), lr=0.1, recipe=recipe)
    reference = torch.optim.Adam(theirs.parameters(), lr=0.1, foreach=False)
    x = torch.randn(8, 4)
    for step in range(6):
        for model, opt in ((ours, optimizer), (theirs, reference)):
            opt.zero_grad()
            _backward(model, x, step)
        optimizer.step()
        reference.step()
        for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
            # The same to float32 rounding: torch.optim.Adam takes its square roots with torch.sqrt, whose last
            # bit depends on the CPU; ours are correctly rounded (sqrt_on_any_cpu).
            torch.testing.assert_close(a, b, rtol=2e-6, atol=1e-7)
    assert not torch.equal(ours.weight, _pair()[0].weight)  # it moved


def test_sqrt_on_any_cpu_is_the_correctly_rounded_square_root():
    """IEEE 754 makes float32 sqrt correctly rounded; numpy's float32 sqrt is (the sqrtps instruction).
    torch.sqrt on the CPU is not always (MKL's vector maths), which is why Adam uses sqrt_on_any_cpu."""
    generator = torch.Generator().manual_seed(0)
    x = torch.cat([torch.rand(20_000, generator=generator) * 10.0**k for k in range(-8, 4)])
    expected = torch.from_numpy(np.sqrt(x.numpy()))
    assert torch.equal(sqrt_on_any_cpu(x), expected)
    assert sqrt_on_any_cpu(x).dtype == torch.float32
    assert sqrt_on_any_cpu(torch.zeros(3, 2)).shape == (3, 2)


def test_the_recipes_differ_only_in_the_last_bits():
    """Why `recipe` exists: the lessons' stored results depend on the order of the arithmetic."""
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    weights = {}
    for recipe in RECIPES:
        model, _ = _pair()
        optimizer = Adam(model.parameters(), lr=0.1, recipe=recipe)
        for step in range(6):
            optimizer.zero_grad()
            _backward(model, x, step)
            optimizer.step()
        weights[recipe] = model.weight.detach()
    first, *others = weights.values()
    for other in others:
        torch.testing.assert_close(other, first)
    assert len({tuple(w.flatten().tolist()) for w in weights.values()}) > 1


def test_a_learning_rate_per_step_follows_a_schedule_as_torch_does():
    ours, theirs = _pair()
    optimizer = Adam(ours.parameters(), recipe="textbook_addcdiv")
    reference = torch.optim.Adam(theirs.parameters(), lr=0.1)
    x = torch.randn(8, 4)
    for step in range(6):
        lr = 0.1 / (step + 1)
        for model, opt in ((ours, optimizer), (theirs, reference)):
            opt.zero_grad()
            _backward(model, x, step)
        optimizer.step(lr)
        reference.param_groups[0]["lr"] = lr
        reference.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_clipping_scales_the_gradients_as_clip_grad_norm_does():
    ours, theirs = _pair()
    optimizer = Adam(ours.parameters(), lr=0.1)
    reference = torch.optim.Adam(theirs.parameters(), lr=0.1)
    x = torch.randn(8, 4)
    for step in range(5):
        for model, opt in ((ours, optimizer), (theirs, reference)):
            opt.zero_grad()
            _backward(model, x, step)
        norm = optimizer.clip_grad_norm(1.0)
        torch.testing.assert_close(norm, nn.utils.clip_grad_norm_(theirs.parameters(), 1.0))
        assert norm > 1.0  # the clipping did something
        optimizer.step()
        reference.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_parameters_without_a_gradient_are_left_alone():
    used, unused = nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(3))
    frozen = torch.ones(3)  # requires_grad=False: not optimised
    optimizer = Adam([used, unused, frozen], lr=0.1)
    assert len(optimizer.params) == 2
    (used**2).sum().backward()
    optimizer.step()
    assert not torch.equal(used.detach(), torch.ones(3)) and torch.equal(unused.detach(), torch.ones(3))


def test_stacked_adam_moves_each_model_as_torch_adam_would():
    lrs = torch.tensor([1e-2, 3e-3, 0.0])
    start = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0))
    mine = nn.Parameter(start.clone())
    theirs = [nn.Parameter(start[m].clone()) for m in range(3)]
    optimiser = StackedAdam([mine])
    references = [torch.optim.Adam([p], lr=float(lr)) for p, lr in zip(theirs, lrs, strict=True)]
    for step in range(5):
        target = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(10 + step))
        optimiser.zero_grad()
        ((mine - target) ** 3).sum().backward()
        optimiser.step(lrs)
        for m, (p, reference) in enumerate(zip(theirs, references, strict=True)):
            reference.zero_grad()
            ((p - target[m]) ** 3).sum().backward()
            reference.step()
    for m in range(3):
        torch.testing.assert_close(mine.data[m], theirs[m].data, atol=1e-6, rtol=1e-6)
    assert torch.equal(mine.data[2], start[2])  # lr 0: frozen


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: Adam([torch.ones(2)]), ValueError, "no parameters"),
        (lambda: Adam([nn.Parameter(torch.ones(2))], lr=0.0), ValueError, "lr must be > 0"),
        (lambda: Adam([nn.Parameter(torch.ones(2))], recipe="sgd"), ValueError, "recipe must be one of"),
        (lambda: Adam([nn.Parameter(torch.ones(2))]).step(), ValueError, "no learning rate"),
        (lambda: Adam([nn.Parameter(torch.ones(2))]).step(-1.0), ValueError, "lr must be >= 0"),
        (lambda: Adam([nn.Parameter(torch.ones(2, 3))], recipe="textbook").step(torch.ones(2)), ValueError,
         "recipe='torch'"),
        (lambda: StackedAdam([nn.Parameter(torch.ones(2, 3))]).step(torch.ones(3)), ValueError, r"\(M=2,\)"),
        (lambda: StackedAdam([nn.Parameter(torch.ones(2, 3)), nn.Parameter(torch.ones(3))]), ValueError,
         "model axis first"),
    ],
)  # fmt: skip
def test_bad_settings_are_rejected_with_a_clear_message(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_lessons_use_the_shared_adam():
    import helpers.lessons.l04_masking.cheating
    import helpers.lessons.l06_add_and_norm.stacked_models
    import helpers.lessons.l08_before_transformers_bahdanau.training
    import helpers.lessons.l09_transformer_end_to_end.training

    assert (
        helpers.lessons.l08_before_transformers_bahdanau.training.Adam
        is helpers.lessons.l04_masking.cheating.Adam
        is helpers.lessons.l09_transformer_end_to_end.training.Adam
        is Adam
    )
    assert helpers.lessons.l06_add_and_norm.stacked_models.StackedAdam is StackedAdam
