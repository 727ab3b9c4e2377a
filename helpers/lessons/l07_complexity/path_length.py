"""How far information travels in one layer, and how many stacked convolutions connect the first token to the last.

    gradient_reach(kind, n, d_model, kernel_size)     how many input positions one layer's last output depends on
    conv_layers_to_connect(n, kernel_size, d_model)   stacked Conv1d layers until the first token reaches the last

Both are measured on seeded layers: autograd through one layer; one convolution's weights applied again and again.
"""

import torch

from helpers.lessons.l07_complexity.layer_kinds import make_layer, seeded_sequence
from helpers.library.checks import require_int

__all__ = ["gradient_reach", "conv_layers_to_connect"]


def gradient_reach(kind, n=32, d_model=8, kernel_size=3):
    """How many input positions one layer's last output depends on (its gradient is not zero there).

    kind: one of LAYER_KINDS. attention and gru: all n; conv: kernel_size // 2 + 1 (itself and the
    positions before it that the kernel covers). Measured with autograd on a seeded layer.
    """
    layer = make_layer(kind, d_model, kernel_size)
    x = seeded_sequence(require_int("n", n, minimum=2), d_model).requires_grad_(True)
    layer(x)[0, -1].sum().backward()
    return int((x.grad[0].abs().sum(dim=-1) > 0).sum())


def conv_layers_to_connect(n, kernel_size=3, d_model=4):
    """How many stacked Conv1d layers it takes until the first token reaches the last output.

    Measured: one seeded layer, bias set to zero, applied again and again (a stack sharing its weights) to a
    sequence that is zero except its first token; the first token has reached position t once the output there
    is not exactly zero.
    (Comparing two runs instead would lose the change in rounding: it shrinks at every layer.)
    Each centred layer reaches k // 2 positions further, so theory says ceil((n − 1) / (k // 2)) layers: O(n / k).
    """
    n = require_int("n", n, minimum=2)
    kernel_size = require_int("kernel_size", kernel_size, minimum=3)
    h = torch.zeros(1, n, d_model)
    h[0, 0] = 1.0  # only the first token is not zero
    layer = make_layer("conv", d_model, kernel_size)
    with torch.no_grad():
        layer.conv.bias.zero_()
        for depth in range(1, n + 1):
            h = layer(h)
            if h[0, -1].abs().sum() > 0:
                return depth
    return None
