"""One call to make a notebook's randomness repeatable."""

import random

import numpy as np
import torch

from helpers.library.checks import require_int


def set_seed(seed=0):
    """Seed Python's, NumPy's and PyTorch's random generators with `seed` (an int >= 0).

    Returns a torch.Generator seeded the same way, for code that wants its own stream.
    """
    seed = require_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
