"""What the GRU and the Conv1d compute, written out from their weights (lesson 08 comes back to RNNs).

    gru_by_hand(layer, x)    a GRU's equations, one step per position: h_t from x_t and h_(t−1)
    conv_by_hand(layer, x)   a Conv1d with kernel k: each output a weighted sum of k neighbouring inputs

layer: the lesson's RecurrentLayer / ConvLayer (make_layer("gru" / "conv", d_model)) or a bare nn.GRU
(batch_first, one layer) / nn.Conv1d (padding k // 2). x: (B, n, d_model). Returns (B, n, d_model), equal to
the layer's own output to rounding.
"""

import torch
from torch import nn

from helpers.library.checks import require_float_tensor

__all__ = ["gru_by_hand", "conv_by_hand"]


def _check_x(x, d_model):
    require_float_tensor("x", x)
    if x.ndim != 3 or x.shape[-1] != d_model:
        raise ValueError(f"x must have shape (B, n, d_model={d_model}), got {tuple(x.shape)}")


def gru_by_hand(layer, x):
    """nn.GRU's equations step by step (PyTorch's gate order r, z, n in weight_ih_l0 and weight_hh_l0):

        r = σ(W_ir·x_t + b_ir + W_hr·h + b_hr)          reset gate
        z = σ(W_iz·x_t + b_iz + W_hz·h + b_hz)          update gate
        c = tanh(W_ic·x_t + b_ic + r ⊙ (W_hc·h + b_hc))  candidate
        h_t = (1 − z) ⊙ c + z ⊙ h                         with h = h_(t−1), h_(−1) = 0

    layer: RecurrentLayer or nn.GRU (batch_first, one layer, unidirectional). x (B, n, d) -> outputs (B, n, d).
    """
    gru = getattr(layer, "gru", layer)
    if not isinstance(gru, nn.GRU) or gru.num_layers != 1 or gru.bidirectional or not gru.batch_first:
        raise TypeError(f"layer must be a RecurrentLayer or a one-layer batch_first nn.GRU, got {layer!r}")
    _check_x(x, gru.input_size)
    w_ih, w_hh, b_ih, b_hh = gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0
    h, outputs = x.new_zeros(x.shape[0], gru.hidden_size), []  # (B, d)
    for t in range(x.shape[1]):  # step t needs h from step t − 1
        from_x = x[:, t] @ w_ih.T + b_ih  # (B, 3d): the three gates' input parts
        from_h = h @ w_hh.T + b_hh  # (B, 3d): their hidden parts
        r_x, z_x, c_x = from_x.chunk(3, dim=-1)
        r_h, z_h, c_h = from_h.chunk(3, dim=-1)
        r, z = torch.sigmoid(r_x + r_h), torch.sigmoid(z_x + z_h)
        candidate = torch.tanh(c_x + r * c_h)
        h = (1 - z) * candidate + z * h
        outputs.append(h)
    return torch.stack(outputs, dim=1)


def conv_by_hand(layer, x):
    """A Conv1d with kernel k and zero padding k // 2: output_t = b + Σ_j W_j · x_(t + j − k//2), j = 0 … k − 1.

    W_j: the (d_out, d_in) slice weight[:, :, j]; inputs beyond either end count as 0, so n is kept.
    layer: ConvLayer or nn.Conv1d (stride 1, padding k // 2, no dilation or groups). x (B, n, d) -> (B, n, d).
    """
    conv = getattr(layer, "conv", layer)
    k = conv.kernel_size[0] if isinstance(conv, nn.Conv1d) else None
    if k is None or conv.stride != (1,) or conv.padding != (k // 2,) or conv.dilation != (1,) or conv.groups != 1:
        raise TypeError(f"layer must be a ConvLayer or an nn.Conv1d with stride 1 and padding k // 2, got {layer!r}")
    _check_x(x, conv.in_channels)
    n, half = x.shape[1], k // 2
    padded = torch.nn.functional.pad(x, (0, 0, half, half))  # (B, n + 2·half, d): zeros beyond both ends
    output = conv.bias if conv.bias is not None else x.new_zeros(conv.out_channels)
    for j in range(k):  # every position at once: the j-th neighbour of each output position
        output = output + padded[:, j : j + n] @ conv.weight[:, :, j].T  # (B, n, d_out)
    return output
