"""Adam written out, for the lessons that train a model (04, 06, 08, 09).

Why not torch.optim.Adam: `import torch.optim` (or its first step) loads torch._dynamo, 2 to 3 s in a fresh
kernel, and every lesson that trains would pay it. This module needs only torch; tests/test_library_optim.py checks,
step by step, that it moves the parameters as torch.optim.Adam does.

    Adam         Adam over a list of parameters, with optional gradient clipping by the global norm
    StackedAdam  Adam over M models stacked on a first axis, one learning rate per model (lesson 06's stacked_models)

Each parameter p keeps running means of its gradient g (m) and of g² (v); a step moves p by
lr · m̂ / (√v̂ + eps), where m̂ = m / (1 − β1ᵗ) and v̂ = v / (1 − β2ᵗ) correct the means' start at 0.
Floats are rounded after every operation, so the order of the operations changes the last bits. The lessons'
stored results were made with three orders, kept here as `recipe` so that none of them changes:

    "torch"             torch.optim.Adam's own order (lessons 06 and 08):
                        m.lerp_(g, 1 − β1); p += −lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)
    "textbook"          Kingma & Ba's Algorithm 1 as printed (lesson 04):
                        m = β1·m + (1 − β1)·g; p −= lr · m̂ / (√v̂ + eps)
    "textbook_addcdiv"  the textbook means, then torch's last line (lesson 09):
                        m = β1·m + (1 − β1)·g; p += −lr/(1 − β1ᵗ) · m / (√v̂ + eps)

All three update v the same way: v = β2·v + (1 − β2)·g².

The square roots are taken by `sqrt_on_any_cpu`: torch's float32 `sqrt` goes through MKL's vector maths
library, whose last bit differs from one processor to another (measured: 182 of 1,000 results not correctly
rounded on this AMD CPU, another count under an emulated Intel one), and Adam takes a square root of every
parameter's v at every step, so a training run would drift apart between machines from its first step.
"""

import math

import torch

from helpers.library.checks import require_float_tensor, require_number

__all__ = ["Adam", "StackedAdam", "RECIPES", "sqrt_on_any_cpu"]

RECIPES = ("torch", "textbook", "textbook_addcdiv")


def sqrt_on_any_cpu(x):
    """√x, correctly rounded to x's dtype on every CPU: computed in float64 (error ≤ 1 ulp of float64), then
    rounded once to float32, which lands on the correctly rounded float32 square root unless the true value
    lies within 2⁻²⁹ of a float32 rounding boundary. x: float32 tensor of any shape; returns the same shape."""
    return x.double().sqrt_().to(x.dtype)


class Adam:
    """Adam (Kingma & Ba, 2015) without weight decay or amsgrad, as torch.optim.Adam with its defaults.

    params: tensors; those that require a gradient are optimised.   lr: the learning rate of step(),
    unless a step is given its own (lesson 09's schedule).   recipe: the order of the arithmetic (see
    the module's docstring).   step(lr) with lr an (M,) tensor gives each model m of a stack its own
    rate (StackedAdam checks the shapes).
    """

    def __init__(self, params, lr=None, betas=(0.9, 0.999), eps=1e-8, recipe="torch"):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("no parameters to optimise")
        self.lr = None if lr is None else require_number("lr", lr, positive=True)
        self.beta1, self.beta2 = (require_number("beta", beta, non_negative=True) for beta in betas)
        self.eps = require_number("eps", eps, positive=True)
        if recipe not in RECIPES:
            raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
        self.recipe = recipe
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def clip_grad_norm(self, max_norm):
        """Scale all gradients down so that their global L2 norm is at most max_norm, as
        nn.utils.clip_grad_norm_ does. Returns the norm before clipping."""
        grads = [p.grad for p in self.params if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        factor = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
        for g in grads:
            g.mul_(factor)
        return norm

    @torch.no_grad()
    def step(self, lr=None):
        """One update from the gradients in each p.grad; lr: a float, an (M,) tensor, or None for self.lr."""
        if lr is None:
            if self.lr is None:
                raise ValueError("no learning rate: give Adam(..., lr=) or step(lr)")
            lr = self.lr
        elif not isinstance(lr, torch.Tensor):
            lr = require_number("lr", lr, non_negative=True)
        elif self.recipe != "torch":
            raise ValueError(f"one learning rate per model needs recipe='torch', not {self.recipe!r}")
        self.t += 1
        correction1, correction2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if p.grad is None:
                continue
            g = p.grad
            if self.recipe == "torch":
                m.lerp_(g, 1 - self.beta1)
            else:
                m.mul_(self.beta1).add_(g, alpha=1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            if self.recipe == "textbook":
                p.sub_(lr * (m / correction1) / (sqrt_on_any_cpu(v / correction2) + self.eps))
                continue
            if self.recipe == "torch":
                denominator = (sqrt_on_any_cpu(v) / math.sqrt(correction2)).add_(self.eps)
            else:
                denominator = sqrt_on_any_cpu(v / correction2).add_(self.eps)
            if isinstance(lr, torch.Tensor):  # (M,): one rate per model, along p's first axis
                p.sub_((lr / correction1).view(-1, *[1] * (p.ndim - 1)) * m / denominator)
            else:
                p.addcdiv_(m, denominator, value=-(lr / correction1))


class StackedAdam(Adam):
    """Adam with one learning rate per model: torch.optim.Adam's update for M models stacked on a first axis.

    params: tensors with the model axis first, (M, ...). step(lrs) with lrs (M,) updates every
    parameter that has a gradient; model m moves exactly as a torch.optim.Adam with lr=lrs[m] would move it.
    """

    def __init__(self, params, betas=(0.9, 0.999), eps=1e-8):
        super().__init__([p for p in params if p is not None], betas=betas, eps=eps)
        self.n_models = self.params[0].shape[0]
        if any(p.ndim == 0 or p.shape[0] != self.n_models for p in self.params):
            raise ValueError(f"every parameter needs the model axis first with M={self.n_models}")

    def step(self, lrs):
        """One Adam step; lrs: (M,) learning rates (0 freezes a model)."""
        require_float_tensor("lrs", lrs)
        if lrs.shape != (self.n_models,):
            raise ValueError(f"lrs must have shape (M={self.n_models},), got {tuple(lrs.shape)}")
        super().step(lrs)
