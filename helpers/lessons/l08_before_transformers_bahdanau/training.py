"""Training lesson 08's models on reversal: teacher forcing, Adam, gradient clipping at norm 1, on one thread.

    SEEDS, TRAINING      the lesson's seeds (five) and its training settings, per model
    reversal_step(model, optimizer, batch_size, n, generator)   one teacher-forced step on a fresh batch: the loss
    train_model(attention, steps, batch_size, lengths, lr, seed, progress, **sizes)
                         one Seq2Seq, deterministic under a seed: a TrainResult (model, losses, seconds)
    clip_per_model(parameters, n_models, max_norm)   each model's gradients of a stack clipped as if alone: (M,)
    stacked_reversal_step(logits_of, optimizer, source, target)   one step of M stacked models: their losses (M,)
    train_seeds(seeds, kinds, progress, schedule_seed, **settings)
                         every kind of model with every seed, trained at once in a StackedSeq2Seq: a SeedRuns
                         (losses (steps, M), models(kind) -> one Seq2Seq per seed)
    Adam, one_thread     helpers.library.optim's Adam (torch.optim.Adam's update, gradient clipping) and
                         helpers.machinery.threads's one_thread, re-exported

One training run is one draw: its last bits differ from one CPU to another and training amplifies them, so
one seed's accuracy at 10 letters moves by several points between machines. The lesson trains each kind
with SEEDS (five) at once and states only what the seeds agree on (see seed_summaries).
"""

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import reversal_batch
from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import SCORINGS, Seq2Seq
from helpers.lessons.l08_before_transformers_bahdanau.stacked_seq2seq import StackedSeq2Seq
from helpers.library.checks import require_int, require_int_list, require_number
from helpers.library.optim import Adam, sqrt_on_any_cpu
from helpers.machinery.threads import one_thread

__all__ = [
    "SEEDS",
    "TRAINING",
    "TrainResult",
    "reversal_step",
    "train_model",
    "clip_per_model",
    "stacked_reversal_step",
    "SeedRuns",
    "train_seeds",
    "Adam",
    "one_thread",
]

SEEDS = (0, 1, 2, 3, 4)  # the lesson trains every kind of model with each of these seeds
TRAINING = {"steps": 400, "batch_size": 20, "lengths": (3, 10), "lr": 0.005}  # the lesson's training, per model


@dataclass
class TrainResult:
    """A trained model and its record: the loss of every step, the lengths trained on, the seconds taken."""

    model: Seq2Seq
    attention: str
    losses: list = field(default_factory=list)
    lengths: tuple = (3, 10)
    seconds: float = 0.0


def reversal_step(model, optimizer, batch_size, n, generator):
    """One teacher-forced step on a fresh batch of `batch_size` reversals of n letters (drawn with `generator`):
    cross-entropy of model(source, target), gradients clipped at norm 1, one Adam step. Returns the loss (0-d)."""
    source, target = reversal_batch(batch_size, n, generator)
    logits, _ = model(source, target)  # (B, n, vocab)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.clip_grad_norm(1.0)
    optimizer.step()
    return loss


def train_model(
    attention="additive",
    steps=200,
    batch_size=96,
    lengths=(3, 10),
    lr=0.005,
    seed=0,
    progress=False,
    **sizes,
):
    """Train a Seq2Seq on reversal with teacher forcing, Adam and gradient clipping at norm 1.

    Each step draws one length n uniformly from lengths = (min_n, max_n) and a batch of training
    sequences of that length. The weights come from torch.manual_seed(seed), the batches from their
    own generator seeded with seed + 1; the global RNG state is restored afterwards. Training runs on one
    thread (restored afterwards), so a seed gives the same model on every run on this CPU.
    progress: True shows a tqdm progress bar. sizes: d_embed, d_hidden, d_a for Seq2Seq.
    Returns a TrainResult.
    """
    steps = require_int("steps", steps, minimum=1)
    batch_size = require_int("batch_size", batch_size, minimum=1)
    min_n, max_n = _require_length_range(lengths)
    lr = require_number("lr", lr, positive=True)
    seed = require_int("seed", seed, minimum=0)
    start = time.perf_counter()
    with one_thread():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = Seq2Seq(attention, **sizes)
        generator = torch.Generator().manual_seed(seed + 1)
        optimizer = Adam(model.parameters(), lr=lr)
        result = TrainResult(model=model, attention=attention, lengths=(min_n, max_n))
        bar = _progress_bar(steps, f"training, attention: {attention}") if progress else None
        model.train()
        for _ in range(steps):
            n = int(torch.randint(min_n, max_n + 1, (1,), generator=generator))
            loss = reversal_step(model, optimizer, batch_size, n, generator)
            result.losses.append(loss.item())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        if bar is not None:
            bar.close()
        model.eval()
    result.seconds = time.perf_counter() - start
    return result


def _progress_bar(total, description):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description)


def _require_length_range(lengths):
    if not isinstance(lengths, (tuple, list)) or len(lengths) != 2:
        raise TypeError(f"lengths must be a pair (min_n, max_n), got {lengths!r}")
    min_n = require_int("min_n", lengths[0], minimum=1)
    max_n = require_int("max_n", lengths[1], minimum=1)
    if max_n < min_n:
        raise ValueError(f"lengths must be (min_n, max_n) with min_n <= max_n, got {lengths!r}")
    return min_n, max_n


def clip_per_model(parameters, n_models, max_norm):
    """Scale each model's gradients so that their L2 norm over all its parameters is at most max_norm.

    parameters: stacked tensors (k, ...) whose first k ≤ n_models rows belong to models 0..k-1 (see
    StackedSeq2Seq). Model m is clipped as nn.utils.clip_grad_norm_ would clip it alone. Returns the norms (n_models,).
    """
    squares = torch.zeros(n_models)
    grads = [p.grad for p in parameters if p.grad is not None]
    for g in grads:
        squares[: g.shape[0]] += g.pow(2).reshape(g.shape[0], -1).sum(-1)
    norms = sqrt_on_any_cpu(squares)
    factor = torch.clamp(max_norm / (norms + 1e-6), max=1.0)
    for g in grads:
        g.mul_(factor[: g.shape[0]].view(-1, *[1] * (g.ndim - 1)))
    return norms


def stacked_reversal_step(logits_of, optimizer, source, target):
    """One teacher-forced step of M stacked models, each as if alone: its own mean cross-entropy over its batch,
    its gradients clipped at norm 1 (clip_per_model), one Adam step (per element).

    logits_of(source, target) -> logits (M, B, m, vocab).   optimizer: an Adam over the stack's parameters,
    each with the model axis first.   source (M, B, n), target (M, B, m) long. Returns the losses (M,), detached.
    """
    logits = logits_of(source, target)
    loss = F.cross_entropy(logits.flatten(1, 2).transpose(1, 2), target.flatten(1, 2), reduction="none")
    loss = loss.mean(dim=-1)  # (M,): each model's own mean over its batch
    optimizer.zero_grad()
    loss.sum().backward()  # a sum: each model's gradients are those of its own loss
    clip_per_model(optimizer.params, target.shape[0], 1.0)
    optimizer.step()
    return loss.detach()


@dataclass
class SeedRuns:
    """Models of every kind trained with every seed, side by side: the stack, its record and the models.

    kinds, seeds: the kind and the seed of each model of the stack (M,).   losses: (steps, M) tensor,
    each model's loss at every step.   models(kind): that kind's models as Seq2Seq, one per seed.
    """

    stacked: StackedSeq2Seq
    kinds: tuple
    seeds: tuple
    losses: torch.Tensor
    lengths: tuple = (3, 10)
    seconds: float = 0.0
    _unstacked: list = field(default=None, repr=False)

    def seeds_of(self, kind):
        """The seeds of `kind`'s models, in the order models(kind) returns them."""
        self._require_kind(kind)
        return [seed for k, seed in zip(self.kinds, self.seeds, strict=True) if k == kind]

    def models(self, kind):
        """`kind`'s trained models, one Seq2Seq per seed (built once from the stack)."""
        self._require_kind(kind)
        if self._unstacked is None:
            self._unstacked = self.stacked.unstack()
        return [model for k, model in zip(self.kinds, self._unstacked, strict=True) if k == kind]

    def losses_of(self, kind):
        """(steps, S): the loss of each of `kind`'s models at every step."""
        self._require_kind(kind)
        return self.losses[:, [i for i, k in enumerate(self.kinds) if k == kind]]

    def _require_kind(self, kind):
        if kind not in self.kinds:
            raise ValueError(f"no models of kind {kind!r}; trained: {sorted(set(self.kinds), key=SCORINGS.index)}")


def train_seeds(seeds=SEEDS, kinds=SCORINGS, progress=False, schedule_seed=0, **settings):
    """Train one Seq2Seq of each kind with each seed, all at once in a StackedSeq2Seq. Returns a SeedRuns.

    The model of seed s starts from torch.manual_seed(s) (the weights train_model would draw) and reads the
    batches of its own generator, seeded with s + 1, so the kinds trained with one seed read the same
    batches. Every step draws one length n for all models (from a generator seeded with schedule_seed) and
    a batch of n-letter training sequences per seed. Teacher forcing, each model's own mean cross-entropy,
    its gradients clipped at norm 1 (clip_per_model), Adam (torch.optim.Adam's update, per element, so each
    model moves as it would alone). On one thread; the global RNG state is restored.
    settings: steps, batch_size, lengths, lr (default TRAINING) and d_embed, d_hidden, d_a for Seq2Seq.
    progress: True shows a tqdm progress bar.
    """
    settings = {**TRAINING, **settings}
    steps = require_int("steps", settings.pop("steps"), minimum=1)
    batch_size = require_int("batch_size", settings.pop("batch_size"), minimum=1)
    min_n, max_n = _require_length_range(settings.pop("lengths"))
    lr = require_number("lr", settings.pop("lr"), positive=True)
    seeds = require_int_list("seeds", seeds, minimum=0, distinct=True, what="seed")
    kinds = _require_kinds(kinds)
    start = time.perf_counter()
    order = [(kind, seed) for kind in kinds for seed in seeds]
    with one_thread():
        models = []
        with torch.random.fork_rng(devices=[]):
            for kind, seed in order:
                torch.manual_seed(seed)
                models.append(Seq2Seq(kind, **settings))
        stacked = StackedSeq2Seq(models)
        optimizer = Adam(stacked.parameters(), lr=lr)
        schedule = torch.Generator().manual_seed(require_int("schedule_seed", schedule_seed, minimum=0))
        generators = {seed: torch.Generator().manual_seed(seed + 1) for seed in seeds}
        rows = [seeds.index(seed) for _, seed in order]  # model -> its seed's batch
        bar = _progress_bar(steps, f"training {len(order)} models") if progress else None
        losses = []
        for _ in range(steps):
            n = int(torch.randint(min_n, max_n + 1, (1,), generator=schedule))
            batches = [reversal_batch(batch_size, n, generators[seed]) for seed in seeds]
            source = torch.stack([batch[0] for batch in batches])[rows]  # (M, B, n)
            target = torch.stack([batch[1] for batch in batches])[rows]
            losses.append(stacked_reversal_step(lambda s, t: stacked(s, t)[0], optimizer, source, target))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        stacked.eval()
    return SeedRuns(
        stacked=stacked,
        kinds=tuple(kind for kind, _ in order),
        seeds=tuple(seed for _, seed in order),
        losses=torch.stack(losses),
        lengths=(min_n, max_n),
        seconds=time.perf_counter() - start,
    )


def _require_kinds(kinds):
    if isinstance(kinds, str) or not hasattr(kinds, "__iter__"):
        raise TypeError(f"kinds must be a list drawn from {SCORINGS}, got {kinds!r}")
    kinds = list(kinds)
    if not kinds or any(kind not in SCORINGS for kind in kinds) or len(set(kinds)) != len(kinds):
        raise ValueError(f"kinds must be different values from {SCORINGS}, got {kinds}")
    return sorted(kinds, key=SCORINGS.index)
