"""A toy task two heads share: "which letter came first, and which came just before me?"

Sequences of N = 10 letters drawn from a to h (V = 8). At every position t >= 2 the answer is the
pair (first letter, letter at t − 1), one of V² = 64 classes, written as two letters: "cf".
Positions 0 and 1 have no answer (there, the first and the previous letter are the same token).

The model is one multi-head attention layer (helpers.layers.MultiHeadAttention) between learned
token + position embeddings and a linear readout, with a residual connection:

    x = embed(letters) + position          (B, n, d_model)
    logits = readout(x + attention(x))     (B, n, 64)

Attention is the only part that moves information between positions, so what each head looks at
is all the model can use. Training is seeded and runs on one CPU thread, so it is repeatable; its Adam is
helpers.optim.Adam, whose square roots are correctly rounded on any CPU (torch.optim.Adam's are not, and
importing it costs a fresh kernel 2 to 3 s).

The models train side by side: StackedHeadTaskModels stacks M models along a first axis, so that one
batched product (torch.bmm) does the work of M small ones (two to three times as fast as one model after
another, measured here for the lesson's 25). No operation mixes two models.

    sample_batch(generator, batch_size)   letters (B, n) and targets (B, n), −100 where there is no answer
    train_side_by_side(runs)              one trained model per (n_heads, seed), all side by side (cached)
    train_head_models(n_heads, seeds)     the same for one number of heads
    train_head_model(n_heads, seed)       one of them
    evaluate(model)                       accuracy on a fixed test set: both letters, each letter
    head_weight_on(weights)               per head: the mean weight on the first and on the previous token
    compare_head_counts(...)              train for several head counts and seeds, one row each

What the lesson concludes rests on ten seeds (SEEDS; five for four heads), summarised so that no conclusion
hangs on one run, with every threshold a named constant here:

    learns_the_task(result)               both letters right at LEARNED (99 %) of the test positions or more
    splits_the_jobs(result)               one head does "first token", another "previous token" (head_role)
    answers_one_half(model, head)         the head alone gets one letter right (>= 85 %), the other not (<= 30 %)
    summarise_head_counts(rows)           per head count: how many seeds learn the task
    one_head_verdict(summary)             "one head of the same width can do the same": supported or not
    head_count_markdown(rows)             what the one-head and two-head maps do, seed by seed, in words
    twin_heads(results)                   four heads for two jobs: shared jobs, and switching one twin off
    twins_back_up(twins)                  does switching off a twin cost less than switching off a lone head?
    distance_before_after(results)        how far apart two heads attend, before and after training
    describe_spread(values)               "median 88%, 51% to 100%, over 30 heads"
    what_holds_markdown(toy, minilm)      the lesson's conclusions about the notes' claim, from the numbers
"""

import functools
import math
import statistics

import torch
from torch import nn

from helpers._checks import require_int, require_number, require_tensor
from helpers.layers import MultiHeadAttention
from helpers.multi_head import head_distances, multi_head_attention, projections_of
from helpers.optim import Adam
from helpers.threads import one_thread

__all__ = [
    "LETTERS",
    "V",
    "N",
    "D_MODEL",
    "NO_TARGET",
    "sample_batch",
    "pair_name",
    "HeadTaskModel",
    "StackedHeadTaskModels",
    "initial_model",
    "train_side_by_side",
    "train_head_models",
    "train_head_model",
    "evaluate",
    "head_weight_on",
    "head_role",
    "example_letters",
    "compare_head_counts",
    "SEEDS",
    "FOUR_HEAD_SEEDS",
    "LEARNED",
    "CHANCE",
    "learns_the_task",
    "splits_the_jobs",
    "answers_one_half",
    "summarise_head_counts",
    "one_head_verdict",
    "head_count_markdown",
    "twin_heads",
    "twins_back_up",
    "BACKUP_MARGIN",
    "distance_before_after",
    "describe_spread",
    "what_holds_markdown",
]

LETTERS = "abcdefgh"
V = len(LETTERS)  # vocabulary size
N = 10  # sequence length
D_MODEL = 32
NO_TARGET = -100  # cross_entropy's ignore_index: positions 0 and 1 have no answer
TEST_SEED = 1234
STEPS, BATCH_SIZE, LEARNING_RATE = 200, 64, 5e-3
SEEDS = tuple(range(10))  # lesson 05 trains one model per seed with one head and with two heads ...
FOUR_HEAD_SEEDS = SEEDS[:5]  # ... and with four heads on the first five (the lesson's time budget)
LEARNED = 0.99  # a model "learns the task" if it gets both letters right at 99 % of the test positions or more
CHANCE = 1 / V  # a guessed letter is right 1 time in 8
OWN_HALF, OTHER_HALF = 0.85, 0.3  # a head alone "answers one half": one letter >= 85 % right, the other <= 30 %
RELIABLY, RARELY = 0.9, 0.5  # "reliably": with at least 90 % of the seeds; "rarely": with at most half of them
BACKUP_MARGIN = 0.2  # a twin "backs up" its job if, switched off, it costs 20 points less than a head alone in its job


def sample_batch(generator, batch_size, n=N):
    """Random letter sequences and their answers.

    generator: a seeded torch.Generator.   batch_size >= 1.   n >= 3.
    Returns letters (batch_size, n) int64 in [0, V) and targets (batch_size, n) int64:
    targets[:, t] = V·letters[:, 0] + letters[:, t − 1] for t >= 2, NO_TARGET for t < 2.
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    batch_size = require_int("batch_size", batch_size, minimum=1)
    n = require_int("n", n, minimum=3)
    letters = torch.randint(0, V, (batch_size, n), generator=generator)
    targets = torch.full_like(letters, NO_TARGET)
    targets[:, 2:] = V * letters[:, :1] + letters[:, 1:-1]  # (first, previous) as one class
    return letters, targets


def pair_name(label):
    """A class number 0..63 as its two letters, e.g. 21 -> "cf" (first letter c, previous letter f)."""
    label = require_int("label", label, minimum=0)
    if label >= V * V:
        raise ValueError(f"label must be below {V * V}, got {label}")
    return LETTERS[label // V] + LETTERS[label % V]


class HeadTaskModel(nn.Module):
    """Embeddings, one multi-head attention layer with a residual connection, a linear readout.

    letters (B, n) int64 -> logits (B, n, V²), weights (B, n_heads, n, n).
    """

    def __init__(self, n_heads, d_model=D_MODEL, n=N):
        super().__init__()
        self.n_heads, self.d_model, self.n = n_heads, d_model, n
        self.embed = nn.Embedding(V, d_model)
        self.position = nn.Parameter(torch.randn(n, d_model))  # one learned vector per position
        self.attention = MultiHeadAttention(d_model, n_heads)
        self.readout = nn.Linear(d_model, V * V)

    def forward(self, letters, keep_heads=None):
        """keep_heads: None, or the heads to keep; the others' outputs are zeroed (an ablation)."""
        require_tensor("letters", letters)
        if letters.dtype != torch.int64 or letters.ndim != 2 or not 1 <= letters.shape[1] <= self.n:
            raise ValueError(
                f"letters must be int64 (B, n) with 1 <= n <= {self.n}, got {letters.dtype} {tuple(letters.shape)}"
            )
        if letters.numel() and not ((letters >= 0) & (letters < V)).all():
            raise ValueError(f"letters must lie in [0, {V})")
        x = self.embed(letters) + self.position[: letters.shape[1]]  # (B, n, d_model)
        if keep_heads is None:
            attended, weights = self.attention(x)
        else:  # the same layer, computed one head at a time so that heads can be left out
            attended, weights = multi_head_attention(
                x, projections_of(self.attention), self.n_heads, keep_heads=keep_heads
            )
        return self.readout(x + attended), weights


def _loss(logits, targets):
    return nn.functional.cross_entropy(logits.reshape(-1, V * V), targets.reshape(-1), ignore_index=NO_TARGET)


@functools.cache
def _test_set(n_sequences=1000):
    return sample_batch(torch.Generator().manual_seed(TEST_SEED), n_sequences)


def evaluate(model, keep_heads=None):
    """The model on 1,000 fixed test sequences (positions t >= 2), on one CPU thread.

    Returns a dict: loss, accuracy (both letters right), first_accuracy, previous_accuracy (each letter
    right on its own) as floats, and weights (1000, n_heads, n, n).
    """
    if not isinstance(model, HeadTaskModel):
        raise TypeError(f"model must be a HeadTaskModel, got {type(model).__name__}")
    letters, targets = _test_set()
    with one_thread(), torch.no_grad():
        logits, weights = model(letters, keep_heads=keep_heads)
    predicted, answer = logits[:, 2:].argmax(dim=-1), targets[:, 2:]  # (1000, n − 2)
    return {
        "loss": float(_loss(logits, targets)),
        "accuracy": float((predicted == answer).float().mean()),
        "first_accuracy": float((predicted // V == answer // V).float().mean()),
        "previous_accuracy": float((predicted % V == answer % V).float().mean()),
        "weights": weights,
    }


class StackedHeadTaskModels(nn.Module):
    """M HeadTaskModels computed side by side along a first "model" axis, in as few operations as possible.

    models: a list of HeadTaskModel with the same d_model and n, and any numbers of heads; their weights are
    copied in, so model m starts where models[m] is. The embeddings, projections and readout of all M models
    run as one batched product each; attention runs once per group of consecutive models with the same
    number of heads (`groups`: a list of (start, stop, n_heads)). Weights keep nn.Linear's (out, in) layout,
    stacked: w_q (M, d_model, d_model), b_q (M, 1, d_model), and so on.
    forward: letters (M, B, n) int64, one batch per model -> logits (M, B, n, V²), and the weights of each
    group, a list of (stop − start, B, n_heads, n, n) tensors.
    copy_into(models) writes the weights back into the M models.
    """

    def __init__(self, models):
        super().__init__()
        models = list(models)
        if not models or not all(isinstance(model, HeadTaskModel) for model in models):
            raise TypeError("models must be a non-empty list of HeadTaskModel")
        shapes = {(model.d_model, model.n) for model in models}
        if len(shapes) != 1:
            raise ValueError(f"the models must agree on (d_model, n), got {sorted(shapes)}")
        (self.d_model, self.n), self.n_models = shapes.pop(), len(models)
        self.groups = []
        for m, model in enumerate(models):
            if self.groups and self.groups[-1][2] == model.n_heads:
                self.groups[-1] = (self.groups[-1][0], m + 1, model.n_heads)
            else:
                self.groups.append((m, m + 1, model.n_heads))

        def stacked(tensors):
            return nn.Parameter(torch.stack([t.detach() for t in tensors]).clone())

        attentions = [model.attention for model in models]
        self.embed = stacked(model.embed.weight for model in models)  # (M, V, d_model)
        self.position = stacked(model.position for model in models)  # (M, n, d_model)
        for name in ("q", "k", "v", "o"):
            setattr(self, f"w_{name}", stacked(getattr(a, f"w_{name}").weight for a in attentions))  # (M, d, d)
            setattr(self, f"b_{name}", stacked(getattr(a, f"w_{name}").bias[None] for a in attentions))  # (M, 1, d)
        self.w_readout = stacked(model.readout.weight for model in models)  # (M, V², d_model)
        self.b_readout = stacked(model.readout.bias[None] for model in models)  # (M, 1, V²)

    def forward(self, letters):
        require_tensor("letters", letters)
        if letters.dtype != torch.int64 or letters.ndim != 3 or letters.shape[0] != self.n_models:
            raise ValueError(
                f"letters must be int64 (M={self.n_models}, B, n), got {letters.dtype} {tuple(letters.shape)}"
            )
        if not 1 <= letters.shape[2] <= self.n or not ((letters >= 0) & (letters < V)).all():
            raise ValueError(f"letters must have 1 <= n <= {self.n} and lie in [0, {V})")
        models, batch, n = letters.shape
        d = self.d_model
        one_hot = nn.functional.one_hot(letters.reshape(models, batch * n), V).to(self.embed.dtype)  # (M, B·n, V)
        x = (one_hot @ self.embed).view(models, batch, n, d) + self.position[:, None, :n]  # (M, B, n, d)
        x = x.view(models, batch * n, d)
        q, k, v = (torch.baddbmm(getattr(self, f"b_{c}"), x, getattr(self, f"w_{c}").transpose(1, 2)) for c in "qkv")
        heads, weights = [], []
        for start, stop, h in self.groups:  # (M, B·n, d) -> (models of the group, B, h, n, d_k)
            d_k = d // h
            q_g, k_g, v_g = (t[start:stop].view(stop - start, batch, n, h, d_k).transpose(2, 3) for t in (q, k, v))
            # The scores as (..., key, query), normalised over the keys: the same softmax, and a faster one than
            # along a last axis of only n = 10 numbers.
            w = torch.softmax(k_g @ q_g.transpose(-2, -1) / math.sqrt(d_k), dim=-2).transpose(-2, -1)
            heads.append((w @ v_g).transpose(2, 3).reshape(stop - start, batch * n, d))  # heads side by side
            weights.append(w)
        heads = heads[0] if len(heads) == 1 else torch.cat(heads)  # (M, B·n, d)
        attended = torch.baddbmm(self.b_o, heads, self.w_o.transpose(1, 2))
        logits = torch.baddbmm(self.b_readout, x + attended, self.w_readout.transpose(1, 2))
        return logits.view(models, batch, n, V * V), weights

    @torch.no_grad()
    def copy_into(self, models):
        """Write model m's weights into models[m], a HeadTaskModel of the same shape."""
        models = list(models)
        if len(models) != self.n_models:
            raise ValueError(f"expected {self.n_models} models, got {len(models)}")
        for m, model in enumerate(models):
            model.embed.weight.copy_(self.embed[m])
            model.position.copy_(self.position[m])
            for name in ("q", "k", "v", "o"):
                linear = getattr(model.attention, f"w_{name}")
                linear.weight.copy_(getattr(self, f"w_{name}")[m])
                linear.bias.copy_(getattr(self, f"b_{name}")[m, 0])
            model.readout.weight.copy_(self.w_readout[m])
            model.readout.bias.copy_(self.b_readout[m, 0])


def _stacked_losses(logits, targets):
    """Each model's mean cross-entropy over the positions with an answer. logits (M, B, n, V²), targets (M, B, n)."""
    models = logits.shape[0]
    losses = nn.functional.cross_entropy(
        logits.reshape(-1, V * V), targets.reshape(-1), ignore_index=NO_TARGET, reduction="none"
    )  # 0 where there is no answer
    counted = (targets != NO_TARGET).reshape(models, -1).sum(dim=1)  # (M,)
    return losses.view(models, -1).sum(dim=1) / counted


_TRAINED = {}


def initial_model(n_heads=2, seed=0):
    """The untrained HeadTaskModel that train_head_model(n_heads, seed) starts from.

    Seeds its own copy of torch's random state, leaving the global one as it was.
    """
    n_heads, seed = _check_heads_and_seed(n_heads, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return HeadTaskModel(n_heads)


def _check_heads_and_seed(n_heads, seed):
    n_heads = require_int("n_heads", n_heads, minimum=1)
    if D_MODEL % n_heads:
        raise ValueError(f"n_heads must divide d_model={D_MODEL}, got {n_heads}")
    return n_heads, require_int("seed", seed, minimum=0)


def _check_seeds(seeds):
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a list of ints, got {type(seeds).__name__} {seeds!r}")
    seeds = [require_int("each seed", seed, minimum=0) for seed in seeds]
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must differ from each other, got {seeds}")
    return seeds


def train_side_by_side(runs, steps=STEPS, batch_size=BATCH_SIZE, lr=LEARNING_RATE, progress=False):
    """Train one HeadTaskModel per run with Adam on fresh random batches, all side by side in one stack.

    runs: a list of distinct (n_heads, seed) pairs: n_heads divides D_MODEL = 32; seed sets the model's
    initial weights (initial_model(n_heads, seed)) and its own stream of batches. Models with the same
    n_heads next to each other share their attention operations (StackedHeadTaskModels), so list them so.
    progress: show a tqdm bar. Runs on one CPU thread (restored afterwards) so that the result does not
    depend on the thread count, and leaves torch's global random state as it was. Cached: a run trained
    before with the same settings is not trained again (do not train its model further); the others
    train together.
    Returns a list, one dict per run: model, n_heads, seed, losses (list of steps floats), and
    evaluate(model)'s entries.
    """
    if isinstance(runs, (str, bytes)) or not hasattr(runs, "__iter__"):
        raise TypeError(f"runs must be a list of (n_heads, seed) pairs, got {type(runs).__name__}")
    runs = [_check_heads_and_seed(*run) for run in runs]
    if not runs:
        raise ValueError("runs is empty: give at least one (n_heads, seed)")
    if len(set(runs)) != len(runs):
        raise ValueError(f"runs must differ from each other, got {runs}")
    steps = require_int("steps", steps, minimum=1)
    batch_size = require_int("batch_size", batch_size, minimum=1)
    lr = require_number("lr", lr, positive=True)
    missing = [run for run in runs if (*run, steps, batch_size, lr) not in _TRAINED]
    if missing:
        for result in _train(missing, steps, batch_size, lr, progress):
            _TRAINED[(result["n_heads"], result["seed"], steps, batch_size, lr)] = result
    return [_TRAINED[(*run, steps, batch_size, lr)] for run in runs]


def train_head_models(n_heads=2, seeds=(0,), steps=STEPS, batch_size=BATCH_SIZE, lr=LEARNING_RATE, progress=False):
    """train_side_by_side for one number of heads: one dict per seed (distinct ints)."""
    n_heads = _check_heads_and_seed(n_heads, 0)[0]
    return train_side_by_side([(n_heads, seed) for seed in _check_seeds(seeds)], steps, batch_size, lr, progress)


def train_head_model(n_heads=2, seed=0, steps=STEPS, batch_size=BATCH_SIZE, lr=LEARNING_RATE, progress=False):
    """One model of train_side_by_side: the dict for (n_heads, seed), trained now if it was not before."""
    return train_side_by_side([(n_heads, seed)], steps, batch_size, lr, progress)[0]


def _train(runs, steps, batch_size, lr, progress):
    with one_thread():
        models = [initial_model(n_heads, seed) for n_heads, seed in runs]
        stack = StackedHeadTaskModels(models)
        generators = [torch.Generator().manual_seed(seed) for _, seed in runs]
        optimizer = Adam(stack.parameters(), lr=lr, recipe="torch")
        losses = []
        bar = _progress_bar(steps, _describe(runs)) if progress else None
        for _ in range(steps):
            batches = [sample_batch(generator, batch_size) for generator in generators]
            letters = torch.stack([letters for letters, _ in batches])  # (M, B, n)
            targets = torch.stack([targets for _, targets in batches])
            logits, _ = stack(letters)
            loss = _stacked_losses(logits, targets)  # (M,)
            optimizer.zero_grad()
            loss.sum().backward()  # the sum's gradient for model m is model m's own
            optimizer.step()
            losses.append(loss.tolist())
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        stack.copy_into(models)
    results = []
    for m, (model, (n_heads, seed)) in enumerate(zip(models, runs, strict=True)):
        model.eval()
        own_losses = [step_losses[m] for step_losses in losses]
        results.append({"model": model, "n_heads": n_heads, "seed": seed, "losses": own_losses} | evaluate(model))
    return results


def _describe(runs):
    if len(runs) == 1:
        n_heads, seed = runs[0]
        return f"{n_heads} head{'s' * (n_heads > 1)}, seed {seed}"
    return f"{len(runs)} models"


def _progress_bar(total, description):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="step")


def head_weight_on(weights):
    """Per head, the mean weight a token t >= 2 puts on the first token and on the token before it.

    weights: (..., n_heads, n, n) with n >= 3. Returns (first (n_heads,), previous (n_heads,)).
    """
    require_tensor("weights", weights)
    if weights.ndim < 3 or weights.shape[-1] != weights.shape[-2] or weights.shape[-1] < 3:
        raise ValueError(f"weights must have shape (..., n_heads, n, n) with n >= 3, got {tuple(weights.shape)}")
    n = weights.shape[-1]
    rows = weights.reshape(-1, *weights.shape[-3:])[..., 2:, :]  # (batch, n_heads, n − 2, n): queries t >= 2
    first = rows[..., 0].mean(dim=(0, 2))
    t = torch.arange(2, n)
    previous = rows[..., torch.arange(n - 2), t - 1].mean(dim=(0, 2))
    return first, previous


def head_role(first, previous, threshold=0.8):
    """A head's job in words: "first token", "previous token", or "mixed" (neither above threshold)."""
    if first > threshold:
        return "first token"
    if previous > threshold:
        return "previous token"
    return "mixed"


def example_letters(seed=7, n=N):
    """One random sequence as a list of letters, e.g. ['c', 'f', ...], and as a (1, n) int64 tensor."""
    letters, _ = sample_batch(torch.Generator().manual_seed(seed), 1, n=n)
    return [LETTERS[i] for i in letters[0].tolist()], letters


def compare_head_counts(head_counts=(1, 2, 4), seeds=(0, 1, 2), progress=False):
    """Train one model per (n_heads, seed) with the same width, and summarise each.

    The models not trained yet train side by side (train_side_by_side); the others come from the cache.
    Returns a list of dicts, head count by head count and seed by seed: n_heads, seed, accuracy,
    first_accuracy, previous_accuracy, and per head its weight on the first and on the previous token
    (lists of floats) and its role.
    """
    train_side_by_side([(n_heads, seed) for n_heads in head_counts for seed in _check_seeds(seeds)], progress=progress)
    rows = []
    for n_heads in head_counts:
        for result in train_head_models(n_heads, seeds):  # from the cache
            first, previous = (values.tolist() for values in head_weight_on(result["weights"]))
            rows.append(
                {
                    "n_heads": n_heads,
                    "seed": result["seed"],
                    "accuracy": result["accuracy"],
                    "first_accuracy": result["first_accuracy"],
                    "previous_accuracy": result["previous_accuracy"],
                    "first": first,
                    "previous": previous,
                    "roles": [head_role(f, p) for f, p in zip(first, previous, strict=True)],
                }
            )
    return rows


# ----------------------------------------------------------------------------------- conclusions over seeds


def learns_the_task(result, threshold=LEARNED):
    """True if the model gets both letters right at `threshold` of the test positions or more.

    result: a dict with "accuracy" (train_head_models' results, compare_head_counts' rows)."""
    return result["accuracy"] >= threshold


def _roles(result):
    if "roles" in result:
        return list(result["roles"])
    first, previous = head_weight_on(result["weights"])
    return [head_role(f, p) for f, p in zip(first.tolist(), previous.tolist(), strict=True)]


def splits_the_jobs(result):
    """True if one head is a "first token" head and another a "previous token" head, and no head is mixed."""
    roles = _roles(result)
    return "mixed" not in roles and {"first token", "previous token"} <= set(roles)


def answers_one_half(model, head, own=OWN_HALF, other=OTHER_HALF):
    """True if `head` kept alone (the others switched off) gets one letter right at `own` of the test
    positions or more and the other letter at `other` or less: it answers one half of the question."""
    alone = evaluate(model, keep_heads=[head])
    letters = sorted((alone["first_accuracy"], alone["previous_accuracy"]))
    return letters[1] >= own and letters[0] <= other


def summarise_head_counts(rows, threshold=LEARNED):
    """Per head count, over its seeds: how many models learn the task.

    rows: compare_head_counts' rows. Returns {n_heads: {"seeds": n, "learned": k, "median": median
    accuracy, "lowest": ..., "highest": ...}}, head counts in the order they first appear.
    """
    summary = {}
    for n_heads in dict.fromkeys(row["n_heads"] for row in rows):
        accuracies = [row["accuracy"] for row in rows if row["n_heads"] == n_heads]
        summary[n_heads] = {
            "seeds": len(accuracies),
            "learned": sum(accuracy >= threshold for accuracy in accuracies),
            "median": statistics.median(accuracies),
            "lowest": min(accuracies),
            "highest": max(accuracies),
        }
    return summary


def one_head_verdict(summary, reliably=RELIABLY, rarely=RARELY):
    """Is "one head of the same width can do the same as two" supported by the seeds?

    summary: summarise_head_counts' result with head counts 1 and 2. "supported" if one head learns the
    task with at least `reliably` of its seeds; "not supported" if it does with at most `rarely` of them
    while two heads learn it with at least `reliably`; "partly" otherwise.
    """
    if 1 not in summary or 2 not in summary:
        raise ValueError("the summary needs head counts 1 and 2")
    one, two = (summary[count]["learned"] / summary[count]["seeds"] for count in (1, 2))
    if one >= reliably:
        return "supported"
    if one <= rarely and two >= reliably:
        return "not supported"
    return "partly"


def _count(k, n):
    return f"{k} of {n}"


def head_count_markdown(rows, threshold=LEARNED):
    """What the one-head and the two-head models do with their weight, in words, from compare_head_counts'
    rows. A head has a job when more than 0.8 of its weight goes to one token (head_role); a model that
    locks onto one token "gets that letter" if it is right at 95 % of the positions or more and wrong at
    more than half of them for the other letter. Returns Markdown text."""
    one = [row for row in rows if row["n_heads"] == 1]
    two = [row for row in rows if row["n_heads"] == 2]
    if not one or not two:
        raise ValueError("rows must hold models with one head and with two heads")
    learners = [row for row in one if learns_the_task(row, threshold)]
    others = [row for row in one if not learns_the_task(row, threshold)]
    blending = [row for row in learners if row["roles"] == ["mixed"]]
    locked = [row for row in others if row["roles"] != ["mixed"]]
    one_letter = [
        row
        for row in locked
        if max(row["first_accuracy"], row["previous_accuracy"]) >= 0.95
        and min(row["first_accuracy"], row["previous_accuracy"]) < 0.5
    ]
    split = [row for row in two if splits_the_jobs(row)]
    two_learned = sum(learns_the_task(row, threshold) for row in two)

    one_head = [f"**One head.** {_count(len(learners), len(one))} models learn the task."]
    if learners:
        one_head.append(
            f"Of those, {_count(len(blending), len(learners))} blend: their one head puts no more than 0.8 of its "
            "weight on either token, the uneven split of the first section, and the readout untangles the blend."
        )
    if others:
        one_head.append(
            f"Of the {len(others)} that do not, {_count(len(locked), len(others))} lock onto one token (more than "
            f"0.8 of the weight), and {len(one_letter)} of these {len(locked)} get that letter right (95 % "
            "or more) and the other wrong more often than right; the rest blend too, and their readout has not "
            "untangled the blend in 200 steps."
        )
    two_heads = [f"**Two heads.** {_count(two_learned, len(two))} models learn the task."]
    two_heads.append(f"In {len(split)} of the {len(two)} each head takes one job.")
    if len(split) < len(two):
        other = "the other" if len(two) - len(split) == 1 else "the others"
        two_heads.append(
            f"In {other} the two heads both mix the two tokens, each in its own proportions, and two different "
            "blends of the same two letters are enough to tell them apart."
        )
    return " ".join(one_head) + "\n\n" + " ".join(two_heads)


def twin_heads(results):
    """Four heads for two jobs, over seeds: do heads double up, and what does switching one off cost?

    results: train_head_models' results (any head count >= 2). A job is "shared" when two or more heads
    have it (head_role). Switching off one head of a shared job keeps all the other heads; so does
    switching off a head that is alone in its job.
    Returns a dict: seeds, sharing (how many seeds have a shared job), twin_off (accuracies, both letters,
    with one twin off: one per head in a shared job), alone_off (the same for heads alone in their job).
    """
    sharing, twin_off, alone_off = 0, [], []
    for result in results:
        roles = _roles(result)
        n_heads = len(roles)
        shared = {role for role in roles if role != "mixed" and roles.count(role) >= 2}
        sharing += bool(shared)
        for head, role in enumerate(roles):
            if role == "mixed":
                continue
            kept = [h for h in range(n_heads) if h != head]
            accuracy = evaluate(result["model"], keep_heads=kept)["accuracy"]
            (twin_off if role in shared else alone_off).append(accuracy)
    return {"seeds": len(results), "sharing": sharing, "twin_off": twin_off, "alone_off": alone_off}


def twins_back_up(twins, margin=BACKUP_MARGIN):
    """True if switching off one twin leaves a median accuracy at least `margin` above switching off a head
    that is alone in its job: the twin still carries the job. twins: twin_heads' result."""
    if not twins["twin_off"] or not twins["alone_off"]:
        raise ValueError("twins_back_up needs heads that share a job and heads alone in their job")
    return statistics.median(twins["twin_off"]) - statistics.median(twins["alone_off"]) >= margin


def distance_before_after(results):
    """How far apart the two heads of each two-head model attend, before and after training.

    results: train_head_models' results with 2 heads. Returns (before, after): lists of floats, one per
    seed, each helpers.multi_head.head_distances between head 0 and head 1 on the test sequences.
    """
    if any(result["n_heads"] != 2 for result in results):
        raise ValueError("distance_before_after needs two-head models")
    before = [float(head_distances(evaluate(initial_model(2, r["seed"]))["weights"])[0, 1]) for r in results]
    after = [float(head_distances(result["weights"])[0, 1]) for result in results]
    return before, after


def describe_spread(values, percent=True, what="heads"):
    """The median and the range of a list of numbers: "median 88%, 51% to 100%, over 30 heads", as
    whole percentages (percent=True) or with two decimals; "no heads" (or "no " + what) for an empty list."""
    values = list(values)
    if not values:
        return f"no {what}"
    show = "{:.0%}".format if percent else "{:.2f}".format
    return (
        f"median {show(statistics.median(values))}, {show(min(values))} to {show(max(values))}, "
        f"over {len(values)} {what}"
    )


def what_holds_markdown(toy, minilm, apart=0.3, most=RARELY):
    """The lesson's verdict on "multi-head attention is multiple attempts to answer the questions", as
    Markdown bullets built from the measurements.

    toy: dict with before, after (distance_before_after), halves (how many seeds' heads each answer one
    half), seeds, and twins (twin_heads of the four-head models).
    minilm: dict with median_low, median_high (the range of the layers' median distances between two
    heads), largest, untrained_largest, closest_low, closest_high (the range of each layer's smallest
    distance).
    The first heading says "not repeated attempts" only if training moves the two heads' median distance
    apart by `apart` or more and each head answers one half in more than `most` of the seeds; the last
    says "where the notes are right" only if more than `most` of the four-head models share a job.
    """
    before, after = statistics.median(toy["before"]), statistics.median(toy["after"])
    separate = after - before >= apart and toy["halves"] > most * toy["seeds"]
    twins = toy["twins"]
    repeat = twins["sharing"] > most * twins["seeds"]
    first = "Not repeated attempts at one question." if separate else "Not clearly different questions."
    last = "Where the notes are right." if repeat else "Where the notes are sometimes right."
    twin_off = statistics.median(twins["twin_off"]) if twins["twin_off"] else float("nan")
    alone_off = statistics.median(twins["alone_off"]) if twins["alone_off"] else float("nan")
    return "\n".join(
        [
            f"- **{first}** Each head has its own projections into its own d_k-dimensional space, and training "
            f"makes the heads ask different questions. In the toy model the two heads end up {after:.2f} apart "
            f"({before:.2f} before training; medians over {toy['seeds']} seeds), and in {toy['halves']} of the "
            f"{toy['seeds']} models each head alone answers its own half of the task and not the other. In MiniLM, "
            f"two heads of the same layer are typically {minilm['median_low']:.1f} to {minilm['median_high']:.1f} "
            f"apart, up to {minilm['largest']:.2f}, where an untrained layer's heads are all within "
            f"{minilm['untrained_largest']:.2f} of each other: an untrained layer this wide attends almost "
            "uniformly, so its heads all look alike.",
            "- **Not a vote or an average.** The heads' outputs are concatenated, and W_o adds up each head's own "
            "contribution; no answer is picked and none is averaged with another.",
            "- **Not more attempts for more cost.** n heads of d_model / n cost the same parameters and the same "
            "multiply-adds as one head of d_model: the same budget, cut into independent pieces.",
            f"- **{last}** Heads *can* repeat each other: with four heads for two jobs, {twins['sharing']} of the "
            f"{twins['seeds']} toy models have a job done by two heads or more, and MiniLM has close pairs too "
            f"({minilm['closest_low']:.2f} to {minilm['closest_high']:.2f} in each layer, many of them heads that "
            "park on `[CLS]`). Such heads are repeated attempts at the same thing: switching off one twin leaves "
            f"a median {twin_off:.0%} of the answers right, where switching off a head alone in its job leaves "
            f"{alone_off:.0%}.",
        ]
    )
