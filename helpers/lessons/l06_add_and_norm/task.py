"""Lesson 06's task, "above the average", and what a model reaches on it without attention.

A sequence of n = 8 tokens, each an id from 0 to 7; label a token 1 if its id is above the average id of its
sequence, else 0. The model sees ids only through an embedding, so it must learn their order, and it must look
at the other tokens (attention) to know the average. The experiments' models are
helpers.lessons.l06_add_and_norm.stacked_models.StackedModels of size MODEL, and the seeds below fix the data
that each experiment draws.

    above_average_task(n_sequences, generator)   tokens and labels, each int64 (n_sequences, n)
    token_only_baseline(n_sequences, seed)        the best loss and accuracy of a model that sees only its own token
"""

import torch

from helpers.library.checks import require_int

__all__ = ["VOCAB", "N_TOKENS", "MODEL", "above_average_task", "token_only_baseline"]

VOCAB, N_TOKENS = 8, 8  # token ids 0..7, sequences of 8 tokens
MODEL = {"d_model": 16, "n_heads": 2, "d_ff": 32}  # small enough to train dozens of models in seconds
EVAL_SEED, DATA_SEED, TRAIN_SET_SEED = 12_345, 10_000, 20_000


def above_average_task(n_sequences, generator, vocab=VOCAB, n=N_TOKENS):
    """n_sequences random sequences and their labels.

    tokens: int64 (n_sequences, n), ids uniform in [0, vocab). labels: int64 (n_sequences, n),
    1 where a token's id is above the mean id of its sequence, else 0 (a tie is 0).
    """
    n_sequences = require_int("n_sequences", n_sequences, minimum=1)
    vocab = require_int("vocab", vocab, minimum=2)
    n = require_int("n", n, minimum=2)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    tokens = torch.randint(0, vocab, (n_sequences, n), generator=generator)
    labels = (tokens.double() > tokens.double().mean(dim=-1, keepdim=True)).long()
    return tokens, labels


def token_only_baseline(n_sequences=4_000, seed=0, vocab=VOCAB, n=N_TOKENS):
    """The best a model can do that sees only its own token, not the others: no attention.

    It predicts P(label = 1 | token id), measured on n_sequences random sequences.
    Returns {"loss": its cross-entropy (nats), "accuracy": its accuracy, "p_above": (vocab,) the probabilities}.
    """
    tokens, labels = above_average_task(n_sequences, torch.Generator().manual_seed(seed), vocab, n)
    counts = torch.bincount(tokens.flatten(), minlength=vocab).double()
    above = torch.bincount(tokens.flatten(), weights=labels.flatten().double(), minlength=vocab)
    p_above = (above / counts.clamp(min=1)).clamp(1e-12, 1 - 1e-12)  # (vocab,)
    p = p_above[tokens]  # (n_sequences, n): the predicted probability of label 1
    loss = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    accuracy = ((p > 0.5).long() == labels).double().mean()
    return {"loss": float(loss), "accuracy": float(accuracy), "p_above": p_above.numpy()}
