"""Fingerprints of the floating-point results the lessons depend on, to compare two machines bit for bit.

    python tools/numerics_fingerprint.py            # with this process's numerics (pinned on x86-64)
    ATTENTION_NUMERICS=native python tools/numerics_fingerprint.py

Prints one line per computation, `name sha1-of-its-bytes`, for matrix products, softmax, LayerNorm, a GRU
and a Conv1d (forward and backward), attention, numpy's OpenBLAS and SIMD loops, and 30 steps of training a
transformer block with the course's Adam. Run it on two machines (or under an emulated CPU:
tests/test_machinery_numerics.py uses `qemu-x86_64 -cpu Haswell-v4`) and diff the outputs: with pinned numerics
every line must match.
"""

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from helpers.machinery.numerics import apply_numerics  # noqa: E402  (before torch and numpy: they read it once)

MODE = apply_numerics()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from helpers.library.optim import Adam  # noqa: E402


def digest(values):
    array = values.detach().contiguous().numpy() if isinstance(values, torch.Tensor) else np.ascontiguousarray(values)
    return hashlib.sha1(array.tobytes()).hexdigest()[:16]


def fingerprints():
    """{name: digest} for every computation listed in the module's docstring."""
    torch.manual_seed(0)
    results = {}
    for dtype in (torch.float32, torch.float64):
        for n in (7, 64, 513):
            a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, 33, dtype=dtype)
            name = f"{str(dtype)[6:]} n={n}"
            results[f"matmul {name}"] = digest(a @ b)
            results[f"softmax {name}"] = digest(torch.softmax(a, dim=-1))
            results[f"exp, tanh {name}"] = digest(torch.stack([a.exp(), a.tanh()]))
            results[f"sum, var {name}"] = digest(torch.cat([a.sum(0), a.var(-1)]))
            results[f"layer_norm {name}"] = digest(torch.nn.functional.layer_norm(a, (n,)))
    x = torch.randn(4, 30, 16, requires_grad=True)
    gru = torch.nn.GRU(16, 32, batch_first=True, bidirectional=True)
    states, _ = gru(x)
    states.sum().backward()
    results["GRU forward, backward"] = digest(torch.cat([states.flatten(), x.grad.flatten()]))
    conv = torch.nn.Conv1d(16, 64, 3, padding=1)
    features = conv(x.detach().transpose(1, 2))
    features.square().sum().backward()
    results["Conv1d forward, backward"] = digest(torch.cat([features.flatten(), conv.weight.grad.flatten()]))
    q = torch.randn(1, 4, 128, 32)
    results["scaled_dot_product_attention"] = digest(torch.nn.functional.scaled_dot_product_attention(q, q, q))
    block = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
    optimizer = Adam(block.parameters(), lr=3e-2)
    data = torch.randn(16, 10, 32)
    for _ in range(30):
        optimizer.zero_grad()
        block(data).square().mean().backward()
        optimizer.step()
    results["30 Adam steps of a transformer block"] = digest(
        torch.cat([p.detach().flatten() for p in block.parameters()])
    )
    from helpers.lessons.l09_transformer_end_to_end.training import train

    model, losses = train(steps=25, batch_size=32)
    results["25 steps of lesson 09's transformer"] = digest(
        torch.cat([p.detach().flatten() for p in model.parameters()])
    )
    from helpers.lessons.l06_add_and_norm.training import training_grid

    settings = [("post_ln", 2, 0.03, 0), ("pre_ln", 2, 0.03, 0)]
    grid = training_grid(settings, seeds=[0, 1], steps=20, eval_sequences=32)
    results["20 steps of lesson 06's stacked blocks"] = digest(
        np.concatenate([np.asarray(run["loss"]).ravel() for run in grid.values()])
    )
    from helpers.lessons.l08_before_transformers_bahdanau.training import train_seeds

    results["20 steps of lesson 08's stacked seq2seq"] = digest(train_seeds(seeds=(0, 1), steps=20).losses)
    array = np.random.default_rng(0).standard_normal((300, 300))
    results["numpy matmul"] = digest(array @ array)
    results["numpy exp, log, tanh"] = digest(np.stack([np.exp(array), np.log(np.abs(array)), np.tanh(array)]))
    results["numpy float32 exp, sin"] = digest(
        np.stack([np.exp(array.astype(np.float32)), np.sin(array.astype(np.float32))])
    )
    return results


if __name__ == "__main__":
    print(f"numerics {MODE}")
    for name, value in fingerprints().items():
        print(f"{name}: {value}")
