"""A toy task two heads share: "which letter came first, and which came just before me?"

Sequences of N = 10 letters drawn from a to h (V = 8). At every position t >= 2 the answer is the
pair (first letter, letter at t − 1), one of V² = 64 classes, written as two letters: "cf".
Positions 0 and 1 have no answer (there, the first and the previous letter are the same token).

The model is one multi-head attention layer (helpers.layers.MultiHeadAttention) between learned
token + position embeddings and a linear readout, with a residual connection:

    x = embed(letters) + position          (B, n, d_model)
    logits = readout(x + attention(x))     (B, n, 64)

Attention is the only part that moves information between positions, so what each head looks at
is all the model can use. Training is seeded and runs on one CPU thread, so it is repeatable.

    sample_batch(generator, batch_size)   letters (B, n) and targets (B, n), −100 where there is no answer
    train_head_model(n_heads, seed)       a trained model with its losses and test accuracy (cached)
    evaluate(model)                       accuracy on a fixed test set: both letters, each letter
    head_weight_on(weights)               per head: the mean weight on the first and on the previous token
    compare_head_counts(...)              train for several head counts and seeds, one row each
"""

import functools

import torch
from torch import nn

from helpers._checks import require_int, require_number, require_tensor
from helpers.layers import MultiHeadAttention
from helpers.multi_head import multi_head_attention, projections_of
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
    "initial_model",
    "train_head_model",
    "evaluate",
    "head_weight_on",
    "head_role",
    "example_letters",
    "compare_head_counts",
]

LETTERS = "abcdefgh"
V = len(LETTERS)  # vocabulary size
N = 10  # sequence length
D_MODEL = 32
NO_TARGET = -100  # cross_entropy's ignore_index: positions 0 and 1 have no answer
TEST_SEED = 1234
STEPS, BATCH_SIZE, LEARNING_RATE = 200, 64, 5e-3


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
    """The model on 1,000 fixed test sequences (positions t >= 2).

    Returns a dict: loss, accuracy (both letters right), first_accuracy, previous_accuracy (each letter
    right on its own) as floats, and weights (1000, n_heads, n, n).
    """
    if not isinstance(model, HeadTaskModel):
        raise TypeError(f"model must be a HeadTaskModel, got {type(model).__name__}")
    letters, targets = _test_set()
    with torch.no_grad():
        logits, weights = model(letters, keep_heads=keep_heads)
    predicted, answer = logits[:, 2:].argmax(dim=-1), targets[:, 2:]  # (1000, n − 2)
    return {
        "loss": float(_loss(logits, targets)),
        "accuracy": float((predicted == answer).float().mean()),
        "first_accuracy": float((predicted // V == answer // V).float().mean()),
        "previous_accuracy": float((predicted % V == answer % V).float().mean()),
        "weights": weights,
    }


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


def train_head_model(n_heads=2, seed=0, steps=STEPS, batch_size=BATCH_SIZE, lr=LEARNING_RATE, progress=False):
    """Train a HeadTaskModel with Adam on fresh random batches; the same settings give the same model.

    n_heads: divides D_MODEL = 32.   seed: model initialisation and batches.   progress: show a tqdm bar.
    Runs on one CPU thread (restored afterwards) so that the result does not depend on the thread count,
    and leaves torch's global random state as it was. Cached: asking again with the same settings returns
    the stored result (do not train its model further).
    Returns a dict: model, n_heads, seed, losses (list of steps floats), and evaluate(model)'s entries.
    """
    n_heads, seed = _check_heads_and_seed(n_heads, seed)
    steps = require_int("steps", steps, minimum=1)
    batch_size = require_int("batch_size", batch_size, minimum=1)
    lr = require_number("lr", lr, positive=True)
    key = (n_heads, seed, steps, batch_size, lr)
    if key not in _TRAINED:
        _TRAINED[key] = _train(*key, progress=progress)
    return _TRAINED[key]


def _train(n_heads, seed, steps, batch_size, lr, progress):
    with one_thread():
        model = initial_model(n_heads, seed)
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
        losses = []
        bar = _progress_bar(steps, f"{n_heads} head{'s' * (n_heads > 1)}, seed {seed}") if progress else None
        for _ in range(steps):
            letters, targets = sample_batch(generator, batch_size)
            logits, _ = model(letters)
            loss = _loss(logits, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    model.eval()
    return {"model": model, "n_heads": n_heads, "seed": seed, "losses": losses} | evaluate(model)


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

    Returns a list of dicts: n_heads, seed, accuracy, first_accuracy, previous_accuracy, and per head
    its weight on the first and on the previous token (lists of floats) and its role.
    """
    runs = [(h, s) for h in head_counts for s in seeds]
    bar = _progress_bar(len(runs), "models") if progress else None
    rows = []
    for n_heads, seed in runs:
        result = train_head_model(n_heads, seed)
        first, previous = head_weight_on(result["weights"])
        rows.append(
            {
                "n_heads": n_heads,
                "seed": seed,
                "accuracy": result["accuracy"],
                "first_accuracy": result["first_accuracy"],
                "previous_accuracy": result["previous_accuracy"],
                "first": first.tolist(),
                "previous": previous.tolist(),
                "roles": [head_role(f, p) for f, p in zip(first.tolist(), previous.tolist(), strict=True)],
            }
        )
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return rows
