"""Lesson 05's letter task (helpers.lessons.l05_multi_head_attention): the task and its data (letter_task), its model
(letter_task_model), training side by side (side_by_side, training), and the measurements of its heads (head_roles,
head_counts, what_holds)."""

import subprocess
import sys

import pytest
import torch

from helpers.lessons.l05_multi_head_attention import letter_task_model, training
from helpers.lessons.l05_multi_head_attention.chance_distances import shuffled_keys
from helpers.lessons.l05_multi_head_attention.head_costs import head_distances
from helpers.lessons.l05_multi_head_attention.head_counts import (
    LEARNED,
    compare_head_counts,
    describe_spread,
    head_count_markdown,
    learns_the_task,
    one_head_verdict,
    summarise_head_counts,
    twin_heads,
    twins_back_up,
)
from helpers.lessons.l05_multi_head_attention.head_roles import (
    answers_one_half,
    head_role,
    head_weight_on,
    splits_the_jobs,
)
from helpers.lessons.l05_multi_head_attention.letter_task import (
    LETTERS,
    NO_TARGET,
    N,
    V,
    example_letters,
    pair_name,
    sample_batch,
)
from helpers.lessons.l05_multi_head_attention.letter_task_model import LetterTaskModel, evaluate, initial_model
from helpers.lessons.l05_multi_head_attention.side_by_side import StackedLetterTaskModels
from helpers.lessons.l05_multi_head_attention.training import train_head_model, train_head_models, train_side_by_side
from helpers.lessons.l05_multi_head_attention.what_holds import (
    chance_before_after,
    distance_before_after,
    what_holds_markdown,
)


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
    assert isinstance(model, LetterTaskModel) and model.n_heads == 4


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
    training._TRAINED.clear()
    first = train_head_model(2, seed=3, steps=5)
    training._TRAINED.clear()  # train again for real, not from the cache
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
    with pytest.raises(TypeError, match="model must be a LetterTaskModel"):
        evaluate(torch.nn.Linear(2, 2))


# ----------------------------------------------------------------------------------- models side by side


def test_stacked_models_compute_what_each_model_computes():
    models = [initial_model(h, seed) for h, seed in ((2, 0), (2, 1), (1, 0), (4, 2))]  # three groups of heads
    stack = StackedLetterTaskModels(models)
    assert stack.groups == [(0, 2, 2), (2, 3, 1), (3, 4, 4)]
    letters = torch.stack([sample_batch(torch.Generator().manual_seed(s), 5)[0] for s in range(4)])  # (4, 5, n)
    with torch.no_grad():
        logits, weights = stack(letters)
        per_model = [w for group in weights for w in group]  # each (B, n_heads, n, n)
        for m, model in enumerate(models):
            alone_logits, alone_weights = model(letters[m])
            torch.testing.assert_close(logits[m], alone_logits, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(per_model[m], alone_weights, atol=1e-6, rtol=1e-5)
    assert logits.shape == (4, 5, N, V * V) and [w.shape for w in weights] == [
        (2, 5, 2, N, N),
        (1, 5, 1, N, N),
        (1, 5, 4, N, N),
    ]


def test_copy_into_writes_each_models_weights_back():
    models = [initial_model(4, seed) for seed in (5, 6)]
    stack = StackedLetterTaskModels(models)
    with torch.no_grad():
        for p in stack.parameters():
            p.add_(1.0)
    fresh = [initial_model(4, seed) for seed in (7, 8)]
    stack.copy_into(fresh)
    for model, original in zip(fresh, models, strict=True):
        for p, q in zip(model.parameters(), original.parameters(), strict=True):
            assert torch.equal(p, q + 1.0)


def test_stacked_models_reject_bad_input():
    with pytest.raises(ValueError, match=r"must agree on \(d_model, n\)"):
        StackedLetterTaskModels([initial_model(1), LetterTaskModel(2, d_model=16)])
    with pytest.raises(TypeError, match="non-empty list of LetterTaskModel"):
        StackedLetterTaskModels([])
    stack = StackedLetterTaskModels([initial_model(2, 0), initial_model(2, 1)])
    with pytest.raises(ValueError, match=r"letters must be int64 \(M=2, B, n\)"):
        stack(torch.zeros(1, 3, N, dtype=torch.int64))
    with pytest.raises(ValueError, match="expected 2 models"):
        stack.copy_into([initial_model(2, 0)])


def test_side_by_side_training_matches_training_alone_with_torch_adam():
    """Two seeds trained side by side with helpers.library.optim.Adam move as each model alone would with
    torch.optim.Adam (the same update; helpers.library.optim's square roots are correctly rounded on any CPU)."""
    training._TRAINED.clear()
    together = train_head_models(2, seeds=[3, 4], steps=4)
    for result in together:
        model = initial_model(2, result["seed"])
        optimizer = torch.optim.Adam(model.parameters(), lr=training.LEARNING_RATE)
        generator = torch.Generator().manual_seed(result["seed"])
        losses = []
        for _ in range(4):
            letters, targets = sample_batch(generator, training.BATCH_SIZE)
            loss = letter_task_model._loss(model(letters)[0], targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert result["losses"] == pytest.approx(losses, rel=1e-4)
        ours, theirs = dict(result["model"].named_parameters()), dict(model.named_parameters())
        # W_k's bias adds the same number to every score of a query, which the softmax ignores: its gradient is
        # 0 up to rounding, and Adam turns that rounding into steps of full size. Every other weight agrees to a
        # tenth of one step (lr): a gradient near the rounding level moves its weight by a fraction of a step.
        for name in ours.keys() - {"attention.w_k.bias"}:
            torch.testing.assert_close(ours[name], theirs[name], atol=training.LEARNING_RATE / 10, rtol=0, msg=name)
        assert (ours["readout.weight"] - theirs["readout.weight"]).abs().max() < 1e-4
    training._TRAINED.clear()


def test_cached_seeds_are_not_trained_again():
    training._TRAINED.clear()
    first = train_head_models(1, seeds=[0, 1], steps=3)
    again = train_head_models(1, seeds=[1, 2], steps=3)
    assert again[0] is first[1] and again[1]["seed"] == 2 and len(again[1]["losses"]) == 3
    assert train_head_model(1, seed=2, steps=3) is again[1]
    mixed = train_side_by_side([(1, 0), (4, 0), (4, 1)], steps=3)  # two new models, trained together
    assert mixed[0] is first[0] and [r["n_heads"] for r in mixed] == [1, 4, 4] and mixed[2]["seed"] == 1
    training._TRAINED.clear()


@pytest.mark.parametrize(
    ("seeds", "error", "match"),
    [([], ValueError, "seeds is empty"), ([1, 1], ValueError, "must differ"), (3, TypeError, "list of ints")],
)
def test_train_head_models_rejects_bad_seeds(seeds, error, match):
    with pytest.raises(error, match=match):
        train_head_models(2, seeds=seeds)


def test_train_side_by_side_rejects_bad_runs():
    with pytest.raises(ValueError, match="runs is empty"):
        train_side_by_side([])
    with pytest.raises(ValueError, match="runs must differ"):
        train_side_by_side([(2, 0), (2, 0)])
    with pytest.raises(ValueError, match="n_heads must divide d_model=32"):
        train_side_by_side([(3, 0)])


def test_training_does_not_import_torch_dynamo():
    """helpers.library.optim.Adam, not torch.optim.Adam: a fresh kernel does not pay torch._dynamo's import."""
    code = (
        "import sys; from helpers.lessons.l05_multi_head_attention.training import train_head_models; "
        "train_head_models(2, [0], steps=2); "
        "print('torch._dynamo' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert shown == ["False"]


# ----------------------------------------------------------------------------------- conclusions over seeds


def _row(n_heads, seed, accuracy, roles, first=1.0, previous=1.0):
    return {
        "n_heads": n_heads, "seed": seed, "accuracy": accuracy, "first_accuracy": first,
        "previous_accuracy": previous, "roles": roles,
    }  # fmt: skip


def test_learns_the_task_and_splits_the_jobs():
    assert learns_the_task({"accuracy": LEARNED}) and not learns_the_task({"accuracy": 0.98})
    assert splits_the_jobs({"roles": ["previous token", "first token"]})
    assert not splits_the_jobs({"roles": ["first token", "mixed"]})
    assert not splits_the_jobs({"roles": ["first token", "first token"]})
    assert splits_the_jobs({"roles": ["first token", "first token", "previous token", "previous token"]})


def test_answers_one_half(trained):
    first, _ = head_weight_on(trained["weights"])
    assert answers_one_half(trained["model"], int(first.argmax()))
    assert not answers_one_half(initial_model(2, 0), 0)  # untrained: neither letter


def test_summarise_head_counts_and_the_verdict():
    rows = [_row(1, s, a, ["mixed"]) for s, a in enumerate([1.0, 0.5, 0.13, 1.0])]
    rows += [_row(2, s, 1.0, ["first token", "previous token"]) for s in range(4)]
    summary = summarise_head_counts(rows)
    assert list(summary) == [1, 2]
    assert summary[1] == {"seeds": 4, "learned": 2, "median": 0.75, "lowest": 0.13, "highest": 1.0}
    assert summary[2]["learned"] == 4
    assert one_head_verdict(summary) == "not supported"  # one head: 2 of 4, two heads: 4 of 4
    summary[1]["learned"] = 4
    assert one_head_verdict(summary) == "supported"
    summary[1]["learned"] = 3
    assert one_head_verdict(summary) == "partly"
    summary[1]["learned"], summary[2]["learned"] = 1, 2
    assert one_head_verdict(summary) == "partly"  # two heads not reliable either
    with pytest.raises(ValueError, match="head counts 1 and 2"):
        one_head_verdict({2: summary[2]})


def test_head_count_markdown_counts_the_kinds_of_models():
    rows = [
        _row(1, 0, 1.0, ["mixed"]),
        _row(1, 1, 0.13, ["first token"], first=1.0, previous=0.13),
        _row(1, 2, 0.85, ["mixed"], first=0.98, previous=0.85),
        _row(2, 0, 1.0, ["first token", "previous token"]),
        _row(2, 1, 1.0, ["mixed", "mixed"]),
    ]
    text = head_count_markdown(rows)
    assert "**One head.** 1 of 3 models learn the task. Of those, 1 of 1 blend" in text
    assert "Of the 2 that do not, 1 of 2 lock onto one token" in text and "1 of these 1 get that letter" in text
    assert "**Two heads.** 2 of 2 models learn the task. In 1 of the 2 each head takes one job. In the other " in text
    with pytest.raises(ValueError, match="one head and with two heads"):
        head_count_markdown(rows[:3])


def test_twin_heads_sorts_heads_by_whether_their_job_is_shared():
    model = initial_model(4, 0)
    result = {"model": model, "roles": ["first token", "first token", "previous token", "mixed"]}
    twins = twin_heads([result, {"model": model, "roles": ["first token", "previous token", "mixed", "mixed"]}])
    assert twins["seeds"] == 2 and twins["sharing"] == 1
    assert len(twins["twin_off"]) == 2 and len(twins["alone_off"]) == 3
    assert twins["twin_off"][0] == evaluate(model, keep_heads=[1, 2, 3])["accuracy"]
    assert twins_back_up({"twin_off": [0.9, 0.8], "alone_off": [0.2, 0.1]})
    assert not twins_back_up({"twin_off": [0.3], "alone_off": [0.2]})
    with pytest.raises(ValueError, match="heads alone in their job"):
        twins_back_up({"twin_off": [0.9], "alone_off": []})


def test_distance_before_after(trained):
    before, after = distance_before_after([trained])
    assert before == [pytest.approx(float(head_distances(evaluate(initial_model(2, 0))["weights"])[0, 1]))]
    assert after[0] > 0.9 > 0.5 > before[0]
    with pytest.raises(ValueError, match="two-head models"):
        distance_before_after([{"n_heads": 4}])


def test_describe_spread():
    assert describe_spread([0.5, 1.0, 0.89]) == "median 89%, 50% to 100%, over 3 heads"
    assert describe_spread([0.3, 0.25], percent=False, what="seeds") == "median 0.28, 0.25 to 0.30, over 2 seeds"
    assert describe_spread([]) == "no heads"


def test_chance_before_after(trained):
    before, after = chance_before_after([trained], shuffles=(0, 1, 2))
    untrained = evaluate(initial_model(2, 0))["weights"]
    expected = sorted(float(head_distances(shuffled_keys(untrained, seed))[0, 1]) for seed in (0, 1, 2))[1]
    assert before == [pytest.approx(expected)]
    # untrained heads are flat: chance for them is as close as they are; trained ones are sharp, chance far
    assert before[0] < 0.5 < 0.8 < after[0] < 1
    assert after == chance_before_after([trained], shuffles=(0, 1, 2))[1]  # seeded
    with pytest.raises(ValueError, match="two-head models"):
        chance_before_after([{"n_heads": 1}])


def _what_holds_inputs():
    twins = {"seeds": 10, "sharing": 9, "twin_off": [0.9, 0.8], "alone_off": [0.2]}
    toy = {
        "before": [0.3] * 10, "after": [0.95] * 10, "chance_before": [0.31] * 10, "chance_after": [0.9] * 10,
        "halves": 9, "seeds": 10, "shuffles": 5, "twins": twins,
    }  # fmt: skip
    minilm = dict(medians=[0.41, 0.46, 0.44, 0.35, 0.29, 0.37], chance_medians=[0.51, 0.84, 0.82, 0.72, 0.75, 0.62],
                  largest=0.94, closest_low=0.14, closest_high=0.21)  # fmt: skip
    memory = [
        {"n": 256, "n_heads": 1, "weights": 65536, "peak_bytes": 2_000_000, "flops": 10},
        {"n": 256, "n_heads": 12, "weights": 786432, "peak_bytes": 10_000_000, "flops": 10},
    ]
    return toy, minilm, memory


def test_what_holds_markdown_computes_its_headings():
    toy, minilm, memory = _what_holds_inputs()
    text = what_holds_markdown(toy, minilm, memory)
    assert "**Not repeated attempts at one question.**" in text and "**Where the notes are right.**" in text
    assert "end up 0.95 apart, where two heads as sharp on random keys would be 0.90 apart" in text
    assert "(medians over 10 seeds, 5 shuffles each): no more alike than chance" in text
    assert "0.30 apart, which is chance for heads that flat" in text
    assert "typically 0.3 to 0.5 apart, where chance at the same sharpness is 0.5 to 0.8" in text
    assert "in 5 of the 6 layers they attend more alike than chance (below 70% of it)" in text
    assert "12 heads store 12 times the attention weights of 1 and reach 5.0 times its peak memory" in text
    assert "a median 85% of the answers right" in text and "leaves 20%." in text
    assert "Clark et al. (2019)" in text and "Michel, Levy and Neubig (2019)" in text and "Voita et al. (2019)" in text
    weak = dict(toy, halves=3, twins=dict(toy["twins"], sharing=2))
    text = what_holds_markdown(weak, minilm, memory)
    assert "**Not clearly different questions.**" in text and "**Where the notes are sometimes right.**" in text
    alike = dict(toy, after=[0.5] * 10, before=[0.1] * 10)  # trained heads closer than chance: not "different"
    text = what_holds_markdown(alike, minilm, memory)
    assert "**Not clearly different questions.**" in text and "more alike than chance. Before" in text
    assert "closer than chance puts heads that flat" in text
