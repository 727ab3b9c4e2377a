"""04_masking's cheating experiment: a next-token model trained without the causal mask copies the answer.

On uniformly random tokens the best honest accuracy is 1/vocab. Without the mask, position t sees token
t+1 and copies it; step by step, as in generation, that token is absent and the model is back at chance.

    NextTokenModel(vocab, n, d_model, causal, seed)   tokens (B, m) ints -> (logits (B, m, vocab),
                                                      weights (B, m, m)); one head, learned positions
    train_next_token_model(causal, steps, ...)        Adam on fresh random batches (B, n): (model, losses)
    next_token_accuracy(model, tokens, step_by_step)  the fraction of positions t whose top score is token t+1
    weight_on_next_token(model, tokens)               the mean weight of position t on position t+1
    CHEATING_SEEDS, COPIES, NEAR_CHANCE               the seeds, and the verdicts' thresholds
    copies_the_answer(...), stays_honest(...)         the verdicts for one seed's model
    cheating_experiment(steps, vocab, n, seeds)       one pair of models (no mask, causal) per seed, measured
    Adam                                              helpers.library.optim's, re-exported
"""

import math

import torch
from torch import nn

from helpers.library.attention import causal_mask, scaled_dot_product_attention
from helpers.library.checks import require_int, require_int_list, require_tensor
from helpers.library.optim import Adam
from helpers.machinery.threads import one_thread

__all__ = [
    "NextTokenModel",
    "Adam",
    "train_next_token_model",
    "CHEATING_SEEDS",
    "COPIES",
    "NEAR_CHANCE",
    "copies_the_answer",
    "stays_honest",
    "next_token_accuracy",
    "weight_on_next_token",
    "cheating_experiment",
]


class NextTokenModel(nn.Module):
    """The smallest next-token predictor: embedding + learned positions, one attention head, a read-out.

    tokens (B, n) ints in [0, vocab) -> logits (B, n, vocab): at position t, scores for token t+1.
    causal: True applies the causal mask (position t sees tokens 0..t), False lets it see all n.
    """

    def __init__(self, vocab=16, n=12, d_model=32, causal=True, seed=0):
        super().__init__()
        self.vocab = require_int("vocab", vocab, minimum=2)
        self.n = require_int("n", n, minimum=2)
        d_model = require_int("d_model", d_model, minimum=1)
        if not isinstance(causal, bool):
            raise TypeError(f"causal must be True or False, got {causal!r}")
        self.causal = causal
        generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
        self.token_embedding = nn.Parameter(torch.randn(self.vocab, d_model, generator=generator))
        self.position_embedding = nn.Parameter(torch.randn(self.n, d_model, generator=generator) * 0.5)
        self.w_q, self.w_k, self.w_v = (
            nn.Parameter(torch.randn(d_model, d_model, generator=generator) / math.sqrt(d_model)) for _ in range(3)
        )
        self.readout = nn.Parameter(torch.randn(d_model, self.vocab, generator=generator) / math.sqrt(d_model))

    def forward(self, tokens):
        """tokens (B, m) with m <= n. Returns (logits (B, m, vocab), weights (B, m, m))."""
        require_tensor("tokens", tokens)
        if tokens.dtype not in (torch.int64, torch.int32) or tokens.ndim != 2:
            raise TypeError(f"tokens must be an integer tensor (B, m), got {tokens.dtype} {tuple(tokens.shape)}")
        m = tokens.shape[1]
        if not 1 <= m <= self.n:
            raise ValueError(f"tokens has {m} positions; this model reads 1 to {self.n}")
        if tokens.min() < 0 or tokens.max() >= self.vocab:
            raise ValueError(f"tokens must lie in [0, {self.vocab}), got {tokens.min().item()}..{tokens.max().item()}")
        x = self.token_embedding[tokens] + self.position_embedding[:m]  # (B, m, d_model)
        mask = causal_mask(m) if self.causal else None
        output, weights = scaled_dot_product_attention(x @ self.w_q, x @ self.w_k, x @ self.w_v, mask=mask)
        return output @ self.readout, weights


def _next_token_loss(model, tokens):
    logits, _ = model(tokens)  # (B, n, vocab)
    return nn.functional.cross_entropy(logits[:, :-1].reshape(-1, model.vocab), tokens[:, 1:].reshape(-1))


def train_next_token_model(causal, steps=60, batch=64, vocab=16, n=12, lr=0.01, seed=0):
    """Train a NextTokenModel to predict token t+1 at each position t, on uniformly random tokens.

    Random tokens cannot be predicted: the best honest accuracy is 1/vocab. Each step draws a fresh
    batch (B, n), so nothing can be memorised. Returns (model, losses: list of `steps` floats).
    """
    steps = require_int("steps", steps, minimum=1)
    batch = require_int("batch", batch, minimum=1)
    model = NextTokenModel(vocab=vocab, n=n, causal=causal, seed=seed)
    optimizer = Adam(model.parameters(), lr=lr, recipe="textbook")
    generator = torch.Generator().manual_seed(seed + 1)
    losses = []
    with one_thread():
        for _ in range(steps):
            tokens = torch.randint(model.vocab, (batch, model.n), generator=generator)
            loss = _next_token_loss(model, tokens)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return model, losses


@torch.no_grad()
def next_token_accuracy(model, tokens, step_by_step=False):
    """The fraction of positions t < n−1 where the model's top score is token t+1.

    tokens: (B, n) ints.   step_by_step=False: one pass over the whole sequence, as in training.
    step_by_step=True: as in generation, position t is read from a pass over tokens 0..t only.
    """
    if not isinstance(step_by_step, bool):
        raise TypeError(f"step_by_step must be True or False, got {step_by_step!r}")
    logits, _ = model(tokens)
    n = tokens.shape[1]
    if step_by_step:
        predictions = torch.stack([model(tokens[:, : t + 1])[0][:, -1].argmax(-1) for t in range(n - 1)], dim=1)
    else:
        predictions = logits[:, :-1].argmax(-1)  # (B, n−1)
    return (predictions == tokens[:, 1:]).double().mean().item()


@torch.no_grad()
def weight_on_next_token(model, tokens):
    """Mean attention weight that position t puts on position t+1 (the answer), over t < n−1 and the batch."""
    _, weights = model(tokens)  # (B, n, n)
    return weights.diagonal(offset=1, dim1=-2, dim2=-1).mean().item()


CHEATING_SEEDS = tuple(range(5))  # the copying experiment trains one pair of models (no mask, causal) per seed
COPIES = 0.9  # "copies the answer": right at 90 % of the positions or more with the future visible ...
NEAR_CHANCE = 0.05  # ... and within 5 points of chance step by step, where the answer is absent


def copies_the_answer(training_accuracy, generation_accuracy, chance, copies=COPIES, near=NEAR_CHANCE):
    """True if a model reads the answer: right at `copies` or more with the future visible, and within
    `near` of chance step by step, where the answer is absent."""
    return training_accuracy >= copies and abs(generation_accuracy - chance) <= near


def stays_honest(training_accuracy, generation_accuracy, chance, near=NEAR_CHANCE):
    """True if a model scores the same both ways and within `near` of chance: it cannot read the answer."""
    return training_accuracy == generation_accuracy and abs(training_accuracy - chance) <= near


def cheating_experiment(steps=40, vocab=16, n=12, seeds=CHEATING_SEEDS, test_batch=256):
    """Train the same next-token model without and with the causal mask on random tokens, one pair per
    seed, and measure every model on the same test sequences.

    Returns a dict: chance = 1/vocab, seeds, and per mask ("no mask", "causal mask") a dict of lists with
    one entry per seed: models, losses, final_loss, training_accuracy (one pass, the future visible if
    unmasked), generation_accuracy (step by step, the future absent), next_weight (weight_on_next_token);
    and model, the first seed's model (for a figure). Also copies (how many unmasked models copy the
    answer, copies_the_answer) and honest (how many masked models stay honest, stays_honest).
    """
    seeds = require_int_list("seeds", seeds, minimum=0, what="seed")
    test = torch.randint(
        vocab, (require_int("test_batch", test_batch, 1), n), generator=torch.Generator().manual_seed(99)
    )
    results = {"chance": 1.0 / vocab, "seeds": seeds}
    for name, causal in (("no mask", False), ("causal mask", True)):
        entry = {key: [] for key in ("models", "losses", "final_loss", "training_accuracy", "generation_accuracy")}
        entry["next_weight"] = []
        for seed in seeds:  # a model this small trains in a tenth of a second; stacking them would not be faster
            model, losses = train_next_token_model(causal, steps=steps, vocab=vocab, n=n, seed=seed)
            with one_thread():
                entry["models"].append(model)
                entry["losses"].append(losses)
                entry["final_loss"].append(losses[-1])
                entry["training_accuracy"].append(next_token_accuracy(model, test))
                entry["generation_accuracy"].append(next_token_accuracy(model, test, step_by_step=True))
                entry["next_weight"].append(weight_on_next_token(model, test))
        entry["model"] = entry["models"][0]
        results[name] = entry
    chance, unmasked, masked = results["chance"], results["no mask"], results["causal mask"]
    results["copies"] = sum(
        copies_the_answer(training, generation, chance)
        for training, generation in zip(unmasked["training_accuracy"], unmasked["generation_accuracy"], strict=True)
    )
    results["honest"] = sum(
        stays_honest(training, generation, chance)
        for training, generation in zip(masked["training_accuracy"], masked["generation_accuracy"], strict=True)
    )
    return results
