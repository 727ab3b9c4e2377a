"""helpers.head_task: the toy task, its model, its training and the measurements of its heads."""

import pytest
import torch

from helpers import head_task
from helpers.head_task import (
    LETTERS,
    NO_TARGET,
    HeadTaskModel,
    N,
    V,
    compare_head_counts,
    evaluate,
    example_letters,
    head_role,
    head_weight_on,
    initial_model,
    pair_name,
    sample_batch,
    train_head_model,
)
from helpers.multi_head import head_distances


@pytest.fixture(scope="module")
def trained():
    """The lesson's model: two heads, seed 0, default settings (trained once, about a second)."""
    return train_head_model(2, 0)


def test_targets_are_the_first_and_the_previous_letter():
    letters, targets = sample_batch(torch.Generator().manual_seed(0), 16)
    assert letters.shape == targets.shape == (16, N) and letters.dtype == targets.dtype == torch.int64
    assert letters.min() >= 0 and letters.max() < V
    assert torch.all(targets[:, :2] == NO_TARGET)
    for b in range(16):
        for t in range(2, N):
            assert pair_name(int(targets[b, t])) == LETTERS[letters[b, 0]] + LETTERS[letters[b, t - 1]]


def test_batches_are_repeatable_and_vary_with_the_seed():
    a = sample_batch(torch.Generator().manual_seed(3), 4)
    b = sample_batch(torch.Generator().manual_seed(3), 4)
    c = sample_batch(torch.Generator().manual_seed(4), 4)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])


def test_pair_name():
    assert pair_name(0) == "aa" and pair_name(2 * V + 5) == "cf" and pair_name(V * V - 1) == "hh"
    with pytest.raises(ValueError, match="label must be below 64"):
        pair_name(64)
    with pytest.raises(TypeError, match="label must be an int"):
        pair_name(1.5)


def test_model_shapes_and_input_checks():
    model = initial_model(4, seed=1)
    letters, _ = sample_batch(torch.Generator().manual_seed(0), 3)
    logits, weights = model(letters)
    assert logits.shape == (3, N, V * V) and weights.shape == (3, 4, N, N)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, N))
    with pytest.raises(ValueError, match=r"letters must be int64 \(B, n\)"):
        model(letters[0])  # one sequence without its batch axis
    with pytest.raises(ValueError, match=r"letters must lie in \[0, 8\)"):
        model(letters + V)
    with pytest.raises(ValueError, match="n_heads must divide d_model=32"):
        initial_model(3)
    assert isinstance(model, HeadTaskModel) and model.n_heads == 4


def test_keep_all_heads_equals_the_normal_forward():
    model = initial_model(2, seed=2)
    letters, _ = sample_batch(torch.Generator().manual_seed(1), 5)
    with torch.no_grad():
        normal, weights = model(letters)
        head_by_head, weights_by_head = model(letters, keep_heads=[0, 1])
    torch.testing.assert_close(normal, head_by_head, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, weights_by_head)


def test_initial_model_is_repeatable_and_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    a, b = initial_model(2, 5), initial_model(2, 5)
    assert torch.equal(torch.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not torch.equal(a.position, initial_model(2, 6).position)


def test_training_is_repeatable_and_restores_the_thread_count():
    threads = torch.get_num_threads()
    head_task._TRAINED.clear()
    first = train_head_model(2, seed=3, steps=5)
    head_task._TRAINED.clear()  # train again for real, not from the cache
    second = train_head_model(2, seed=3, steps=5)
    assert first is not second and first["losses"] == second["losses"] and len(first["losses"]) == 5
    assert torch.get_num_threads() == threads
    assert train_head_model(2, seed=3, steps=5) is second  # cached


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_heads": 3}, ValueError, "n_heads must divide d_model=32"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"steps": 0}, ValueError, "steps must be >= 1"),
        ({"lr": 0.0}, ValueError, "lr must be > 0"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
    ],
)
def test_training_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        train_head_model(**kwargs)


def test_two_heads_learn_the_task_and_split_the_jobs(trained):
    assert trained["accuracy"] > 0.99 and trained["losses"][-1] < 0.05 < trained["losses"][0]
    first, previous = head_weight_on(trained["weights"])
    roles = sorted(head_role(f, p) for f, p in zip(first.tolist(), previous.tolist(), strict=True))
    assert roles == ["first token", "previous token"]
    assert head_distances(trained["weights"])[0, 1] > 0.9  # the two heads attend to different tokens
    before = evaluate(initial_model(2, 0))
    assert head_distances(before["weights"])[0, 1] < 0.5  # before training: random, far less apart
    assert before["accuracy"] < 0.05


def test_each_head_alone_answers_only_its_half(trained):
    model = trained["model"]
    first, _ = head_weight_on(trained["weights"])
    first_head = int(first.argmax())
    alone = evaluate(model, keep_heads=[first_head])
    assert alone["first_accuracy"] > 0.99 and alone["previous_accuracy"] < 0.2
    other = evaluate(model, keep_heads=[1 - first_head])
    assert other["previous_accuracy"] > 0.99 and other["first_accuracy"] < 0.2


def test_head_weight_on_a_hand_made_map():
    n = 5
    first_head = torch.zeros(n, n)
    first_head[:, 0] = 1.0
    previous_head = torch.zeros(n, n)
    previous_head[torch.arange(1, n), torch.arange(n - 1)] = 1.0
    previous_head[0, 0] = 1.0
    first, previous = head_weight_on(torch.stack([first_head, previous_head, torch.full((n, n), 1 / n)]))
    torch.testing.assert_close(first, torch.tensor([1.0, 0.0, 0.2]))
    torch.testing.assert_close(previous, torch.tensor([0.0, 1.0, 0.2]))
    assert [head_role(f, p) for f, p in zip(first.tolist(), previous.tolist(), strict=True)] == [
        "first token",
        "previous token",
        "mixed",
    ]
    with pytest.raises(ValueError, match=r"weights must have shape \(\.\.\., n_heads, n, n\) with n >= 3"):
        head_weight_on(torch.ones(2, 2, 2))


def test_example_letters():
    letters, tensor = example_letters(seed=7)
    assert len(letters) == N and tensor.shape == (1, N)
    assert letters == [LETTERS[i] for i in tensor[0].tolist()]


def test_compare_head_counts_reuses_the_cache(trained):
    rows = compare_head_counts(head_counts=(2,), seeds=(0,))
    assert len(rows) == 1 and rows[0]["n_heads"] == 2 and rows[0]["seed"] == 0
    assert rows[0]["accuracy"] == trained["accuracy"]
    assert sorted(rows[0]["roles"]) == ["first token", "previous token"]


def test_evaluate_rejects_other_models():
    with pytest.raises(TypeError, match="model must be a HeadTaskModel"):
        evaluate(torch.nn.Linear(2, 2))
