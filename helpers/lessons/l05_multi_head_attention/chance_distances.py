"""Chance at the same sharpness: how far apart heads would attend if they kept their weights but not their keys.

A distance between two heads' maps (head_costs.head_distances) needs a yardstick. Two heads that both spread
their weight evenly are close whatever they ask (an untrained head does that); two sharp heads on random keys
are far apart without asking different questions. So each row of each head's map is shuffled over the keys:
the row keeps its weights, and so its entropy, and loses where they go. The distance between the shuffled heads
is chance for heads that sharp; heads "attend more alike than chance" below CHANCE_SHARE of it.

Shapes: weights (..., n_heads, n_q, n_k), rows summing to 1.

    entropy(weights)                       each row's entropy in nats, 0·log 0 = 0 (lesson 02's measure)
    shuffled_keys(weights, seed)           each row's weights on random keys: the same weights, the same entropy
    chance_distances(weights, shuffles)    head_distances of the shuffled maps: (len(shuffles), n_heads, n_heads)
    more_alike_than_chance(distance, chance)   distance < CHANCE_SHARE · chance
    minilm_distances(sentences, shuffles)  MiniLM's heads: distances per layer and chance, averaged over sentences
    SHUFFLES, CHANCE_SHARE                 the five shuffles (seeds 0 to 4) and the threshold, 0.7
"""

import statistics

import torch

from helpers.lessons.l05_multi_head_attention.head_costs import head_distances
from helpers.library.checks import require_float_tensor, require_int, require_int_list, require_number
from helpers.machinery.minilm_model import minilm_attention

__all__ = [
    "SHUFFLES",
    "CHANCE_SHARE",
    "entropy",
    "shuffled_keys",
    "chance_distances",
    "more_alike_than_chance",
    "minilm_distances",
]

SHUFFLES = tuple(range(5))  # five shuffles, seeds 0 to 4: a chance distance is a median over them
CHANCE_SHARE = 0.7  # two heads attend "more alike than chance" if their distance is below 70 % of chance's


def _require_weights(weights):
    require_float_tensor("weights", weights)
    if weights.ndim < 3:
        raise ValueError(f"weights must have shape (..., n_heads, n_q, n_k), got {tuple(weights.shape)}")
    if not torch.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"weights (shape {tuple(weights.shape)}) must be finite and >= 0")


def entropy(weights):
    """−Σ p·log p of each row of `weights` (..., n_k), in nats, with 0·log 0 = 0: log n_k for a uniform row,
    0 for a one-hot row. Returns (...)."""
    require_float_tensor("weights", weights)
    if weights.ndim < 1 or not torch.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"weights (shape {tuple(weights.shape)}) must be rows of finite weights >= 0")
    return 0.0 - torch.special.xlogy(weights, weights).sum(dim=-1)  # 0.0 − x: a one-hot row gives 0, not −0


def _shuffled(weights, seed):
    generator = torch.Generator().manual_seed(seed)
    order = torch.rand(weights.shape, generator=generator).argsort(dim=-1)  # a random permutation per row
    return torch.gather(weights, -1, order)


def shuffled_keys(weights, seed=0):
    """Each row of `weights` with its numbers moved to keys drawn at random (one permutation per row).

    weights: (..., n_q, n_k). Returns a tensor of the same shape whose every row holds the same numbers,
    so the same sum and the same entropy, on other keys. Seeded: the same seed gives the same shuffle.
    """
    _require_weights(weights)
    return _shuffled(weights, require_int("seed", seed, minimum=0))


def chance_distances(weights, shuffles=SHUFFLES):
    """head_distances of the heads with their rows shuffled (shuffled_keys), once per seed in `shuffles`.

    weights: (..., n_heads, n_q, n_k); leading axes are averaged over, as head_distances does.
    Returns (len(shuffles), n_heads, n_heads): for each shuffle, how far apart heads this sharp attend by chance.
    """
    _require_weights(weights)
    shuffles = require_int_list("shuffles", shuffles, 0, distinct=True, what="seed")
    return torch.stack([head_distances(_shuffled(weights, seed)) for seed in shuffles])


def more_alike_than_chance(distance, chance, share=CHANCE_SHARE):
    """True if `distance` is below `share` of `chance` (both floats): the heads attend more alike than heads
    of the same sharpness on random keys."""
    distance, chance = require_number("distance", distance), require_number("chance", chance, non_negative=True)
    return distance < require_number("share", share, positive=True) * chance


def minilm_distances(sentences, shuffles=SHUFFLES):
    """How far apart MiniLM's 12 heads of each layer attend, and chance at the same sharpness.

    For each sentence, MiniLM's weights (6, 12, n, n) (helpers.machinery.minilm_model.minilm_attention); the
    distances are averaged over the sentences, each shuffle's chance distances likewise. Returns a dict:
    distances (6, 12, 12); chance (len(shuffles), 6, 12, 12); medians and chance_medians, per layer the median
    over the 66 pairs of different heads (chance's: the median over the shuffles of each shuffle's median);
    chance_ranges, per layer (lowest, highest) of the shuffles' medians; entropy, per layer the mean row entropy.
    """
    if isinstance(sentences, str) or not sentences:
        raise ValueError("sentences must be a non-empty list of sentences")
    distances, chance, entropies = [], [], []
    for sentence in sentences:
        weights = minilm_attention(sentence)[1]  # (6, 12, n, n)
        distances.append(torch.stack([head_distances(layer) for layer in weights]))  # (6, 12, 12)
        chance.append(torch.stack([chance_distances(layer, shuffles) for layer in weights], dim=1))  # (S, 6, 12, 12)
        entropies.append(entropy(weights).mean(dim=(-2, -1)))  # (6,)
    distances, chance = torch.stack(distances).mean(dim=0), torch.stack(chance).mean(dim=0)
    pairs = ~torch.eye(distances.shape[-1], dtype=torch.bool)
    per_shuffle = [[float(one[layer][pairs].median()) for one in chance] for layer in range(len(distances))]
    return {
        "distances": distances,
        "chance": chance,
        "medians": [float(layer[pairs].median()) for layer in distances],
        "chance_medians": [statistics.median(values) for values in per_shuffle],
        "chance_ranges": [(min(values), max(values)) for values in per_shuffle],
        "entropy": [float(value) for value in torch.stack(entropies).mean(dim=0)],
    }
