"""03_softmax's exercises: predictions, a stable softmax, log-sum-exp, softmax's backward pass, temperature.

Each checker runs the learner's answer on several cases, edge cases included, and reports
what is wrong with a hint; it never raises on the learner's mistake.
"""

import math
import numbers

import torch

from helpers.machinery.answers import describe, same_values
from helpers.machinery.exercise_checking import call_learner, checker, not_written, report

__all__ = [
    "check_predictions",
    "check_softmax",
    "check_logsumexp",
    "check_softmax_backward",
    "check_largest_temperature",
]

INF = float("inf")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _compare(result, expected, scale=None):
    """(True, "") if `result` holds `expected`'s values in its dtype (NaN and ±inf included), else (False, why).

    scale: the size of the inputs, when their float32 rounding is larger than the outputs' (logits of 1e4 are
    held to about 1e-3, and so are the weights computed from them by any right method)."""
    if not isinstance(result, torch.Tensor):
        return False, f"it returned {describe(result)}, not a torch.Tensor"
    verdict = same_values(result, expected, scale=scale, keep_dtype=True)
    return verdict.ok, verdict.why


def _show(tensor):
    values = tensor.detach().flatten()[:6].tolist()
    shown = ", ".join("nan" if math.isnan(v) else f"{v:.4g}" for v in values)
    return f"[{shown}{', …' if tensor.numel() > 6 else ''}]"


def _case(fn, args, expected, description, hint, scale=None, **kwargs):
    """Run fn(*args) on copies of the inputs; (description, passed, hint or what went wrong)."""
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    result, error = call_learner(fn, *copies, **kwargs)
    if error is not None:
        return (description, False, f"your function raised {error}. {hint}")
    passed, why = _compare(result, expected, scale)
    return (description, passed, f"{why}. {hint}" if not passed else "")


def _unchanged(fn, x, description, **kwargs):
    """The learner's function must not change its input in place."""
    copy = x.clone()
    _, error = call_learner(fn, copy, **kwargs)
    same = error is None and torch.equal(copy, x)
    hint = (
        f"your function raised {error}"
        if error
        else "it changed its input: write y = x - m, not x -= m (in-place operations change the caller's tensor)"
    )
    return (description, same, hint)


# --------------------------------------------------------------------------- exercise 1


def _is_number(value):
    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and value.is_floating_point()
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@checker
def check_predictions(difference, sharper):
    """Exercise 1: predict softmax([1, 2, 3]) - softmax([101, 102, 103]), and whether softmax([2, 4, 6]) is sharper.

    difference: three numbers (a list, tuple or tensor).   sharper: True or False.
    """
    results = []
    values = difference.tolist() if isinstance(difference, torch.Tensor) else difference
    is_three = isinstance(values, (list, tuple)) and len(values) == 3 and all(_is_number(v) for v in values)
    results.append(("difference is three numbers", is_three, "write a list of three numbers, e.g. [0.1, 0.2, 0.3]"))
    if is_three:
        close = all(abs(float(v)) < 1e-3 for v in values)
        results.append(
            (
                "softmax([1, 2, 3]) - softmax([101, 102, 103]) is right",
                close,
                "adding 100 to every score multiplies every exp(score) by the same e^100, "
                "and the division cancels it: what is left of the difference?",
            )
        )
    is_bool = isinstance(sharper, bool)
    results.append(("sharper is True or False", is_bool, "write sharper = True or sharper = False"))
    if is_bool:
        results.append(
            (
                "doubling the scores makes the largest weight larger",
                sharper is True,
                "softmax(2·x) = softmax(x / 0.5): doubling the scores is the same as halving the temperature",
            )
        )
    return report("Exercise 1: predict before you compute", results)


# --------------------------------------------------------------------------- exercise 2


@checker
def check_softmax(my_softmax):
    """Exercise 2: my_softmax(x, dim=-1), numerically stable, any dim, -inf entries allowed."""
    x = torch.randn(4, 6, generator=_gen(3)) * 3
    cube = torch.randn(2, 3, 4, generator=_gen(4))
    huge = torch.tensor([[1e4, -1e4, 0.0], [1e4, 1e4 - 1.0, 1e4 - 2.0]])
    tiny = torch.tensor([-1000.0, -1000.0, -1001.0])
    apart = torch.tensor([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.0]])
    masked = torch.tensor([[0.5, -INF, 1.5, -INF], [-INF, 2.0, 0.0, 1.0]])
    wide = torch.randn(3, 5, generator=_gen(5), dtype=torch.float64)
    title = "Exercise 2: a softmax that does not overflow"
    placeholder = not_written(my_softmax, x.clone())
    if placeholder:
        return report(title, placeholder)
    results = [
        _case(
            my_softmax,
            (x,),
            torch.softmax(x, dim=-1),
            "random scores (4, 6) along the last dim match torch.softmax",
            "exponentiate, then divide by the sum along dim (keepdim=True so it broadcasts)",
        ),
        _case(
            my_softmax,
            (x,),
            torch.softmax(x, dim=0),
            "along dim=0, each column sums to 1",
            "use `dim` in every max and sum, not a fixed -1",
            dim=0,
        ),
        _case(
            my_softmax,
            (cube,),
            torch.softmax(cube, dim=1),
            "a (2, 3, 4) tensor along dim=1",
            "use keepdim=True in max and sum so the result broadcasts against x",
            dim=1,
        ),
        _case(
            my_softmax,
            (huge,),
            torch.softmax(huge, dim=-1),
            "logits of ±1e4: no overflow, no NaN",
            "subtract each row's maximum before exp: softmax(x - c) = softmax(x), and exp(≤ 0) cannot overflow",
            scale=100.0,  # float32 holds 1e4 to 1e-3: so are the weights of exp(x - logsumexp(x)), a right method
        ),
        _case(
            my_softmax,
            (tiny,),
            torch.softmax(tiny, dim=-1),
            "logits of -1000: no 0/0",
            "subtracting the maximum also fixes this: the largest entry becomes exp(0) = 1, so the sum is >= 1",
        ),
        _case(
            my_softmax,
            (apart,),
            torch.softmax(apart, dim=-1),
            "one row near +1000, the next near -1000: each row is fine",
            "subtract each row's own maximum (x.amax(dim=dim, keepdim=True)), not one maximum for the whole tensor",
        ),
        _case(
            my_softmax,
            (masked,),
            torch.softmax(masked, dim=-1),
            "-inf entries (masked keys) get weight 0",
            "exp(-inf) = 0 already; take the maximum over the whole row, it is finite if one entry is",
        ),
        _case(
            my_softmax,
            (wide,),
            torch.softmax(wide, dim=-1),
            "float64 input gives float64 output",
            "build everything from x itself (no torch.tensor(...) with a default dtype)",
        ),
        _unchanged(my_softmax, huge, "the input tensor is left unchanged"),
    ]
    return report(title, results)


# --------------------------------------------------------------------------- exercise 3


@checker
def check_logsumexp(my_logsumexp):
    """Exercise 3: my_logsumexp(x, dim=-1) = log(sum(exp(x))) along dim, stably; the dim is removed."""
    x = torch.randn(3, 5, generator=_gen(6)) * 2
    big = torch.tensor([1000.0, 1000.0])
    small = torch.tensor([-1000.0, -1001.0])
    some_masked = torch.tensor([[0.0, -INF, 0.0], [-INF, -INF, 3.0]])
    all_masked = torch.tensor([[1.0, 2.0, 3.0], [-INF, -INF, -INF]])
    hint_shift = "use log(sum(exp(x))) = m + log(sum(exp(x - m))) with m the maximum along dim"
    title = "Exercise 3: log-sum-exp without overflow"
    placeholder = not_written(my_logsumexp, x.clone())
    if placeholder:
        return report(title, placeholder)
    results = [
        _case(my_logsumexp, (x,), torch.logsumexp(x, dim=-1), "random (3, 5) along the last dim", hint_shift),
        _case(
            my_logsumexp,
            (x,),
            torch.logsumexp(x, dim=0),
            "along dim=0",
            "use `dim` everywhere; the result has that dimension removed (squeeze it after keepdim=True)",
            dim=0,
        ),
        _case(
            my_logsumexp, (big,), torch.logsumexp(big, dim=-1), "[1000, 1000] gives 1000 + log 2, not inf", hint_shift
        ),
        _case(
            my_logsumexp, (small,), torch.logsumexp(small, dim=-1), "[-1000, -1001] gives a finite number", hint_shift
        ),
        _case(
            my_logsumexp,
            (some_masked,),
            torch.logsumexp(some_masked, dim=-1),
            "-inf entries contribute nothing",
            "exp(-inf - m) = 0 when m is finite: nothing special is needed here",
        ),
        _case(
            my_logsumexp,
            (all_masked,),
            torch.logsumexp(all_masked, dim=-1),
            "a row that is entirely -inf gives -inf (log of an empty sum), not NaN",
            "there m = -inf and x - m = -inf - (-inf) = NaN: where m is -inf, shift by 0 instead "
            "(torch.where(torch.isinf(m), 0, m))",
        ),
        _unchanged(my_logsumexp, big, "the input tensor is left unchanged"),
    ]
    return report(title, results)


# --------------------------------------------------------------------------- exercise 4


def _autograd_backward(x, grad_output):
    x = x.clone().requires_grad_()
    torch.softmax(x, dim=-1).backward(grad_output)
    return x.grad


@checker
def check_softmax_backward(my_softmax_backward):
    """Exercise 4: my_softmax_backward(p, grad_output) = Jᵀ·grad_output along the last dim, J = diag(p) - p·pᵀ.

    p, grad_output: (..., n). Returns the gradient with respect to the logits, (..., n).
    """
    x = torch.randn(5, generator=_gen(7), dtype=torch.float64)
    g = torch.randn(5, generator=_gen(8), dtype=torch.float64)
    xs = torch.randn(3, 4, generator=_gen(9), dtype=torch.float64) * 2
    gs = torch.randn(3, 4, generator=_gen(10), dtype=torch.float64)
    ones = torch.ones(5, dtype=torch.float64)
    one_hot = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    p, ps = torch.softmax(x, dim=-1), torch.softmax(xs, dim=-1)
    hint = "J = diag(p) - p·pᵀ is symmetric, so J·g = p·g - p·(p·g summed over the last dim)"
    title = "Exercise 4: softmax's backward pass without the n × n Jacobian"
    placeholder = not_written(my_softmax_backward, p.clone(), g.clone())
    if placeholder:
        return report(title, placeholder)
    results = [
        _case(
            my_softmax_backward,
            (p, g),
            _autograd_backward(x, g),
            "one row (5,) matches autograd",
            hint,
        ),
        _case(
            my_softmax_backward,
            (ps, gs),
            _autograd_backward(xs, gs),
            "a batch (3, 4): each row on its own",
            "sum along the last dim with keepdim=True, not over the whole tensor",
        ),
        _case(
            my_softmax_backward,
            (p, ones),
            torch.zeros(5, dtype=torch.float64),
            "an upstream gradient of all ones gives 0 (J's rows sum to 0)",
            "adding the same amount to every logit changes nothing, so that direction has gradient 0; " + hint,
        ),
        _case(
            my_softmax_backward,
            (one_hot, torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)),
            torch.zeros(4, dtype=torch.float64),
            "a one-hot p passes no gradient at all (saturation)",
            "with p one-hot, diag(p) = p·pᵀ, so J = 0: " + hint,
        ),
    ]
    return report(title, results)


# --------------------------------------------------------------------------- exercise 5


def _max_weight(scores, temperature):
    return float(torch.softmax(scores.double() / temperature, dim=-1).max())


@checker
def check_largest_temperature(largest_temperature):
    """Exercise 5: largest_temperature(scores, target) -> the largest T with max softmax(scores / T) >= target.

    Passes if the weight at T reaches the target (within 1e-6) and at 1.01·T it no longer does.
    """
    cases = [
        (torch.tensor([2.0, 0.0], dtype=torch.float64), 0.99),
        (torch.tensor([1.0, 0.5, 0.5, 0.5], dtype=torch.float64), 0.9),
        (torch.tensor([-0.30, 2.40, -4.25, 1.15, -0.30, 3.26], dtype=torch.float64), 0.9),
        (torch.tensor([3.0, 0.0, 0.0], dtype=torch.float64), 0.5),
    ]
    title = "Exercise 5: the temperature that makes one key win"
    placeholder = not_written(largest_temperature, cases[0][0].clone(), cases[0][1])
    if placeholder:
        return report(title, placeholder)
    results = []
    for scores, target in cases:
        shown = "[" + ", ".join(f"{s:g}" for s in scores.tolist()) + "]"
        description = f"scores {shown}, target {target}"
        value, error = call_learner(largest_temperature, scores.clone(), target)
        if error is not None:
            results.append((description, False, f"your function raised {error}"))
            continue
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if not _is_number(value) or not math.isfinite(float(value)) or float(value) <= 0:
            results.append((description, False, f"return one number > 0 (a temperature), got {value!r}"))
            continue
        temperature = float(value)
        reached = _max_weight(scores, temperature) >= target - 1e-6
        largest = _max_weight(scores, temperature * 1.01) < target
        if reached and largest:
            results.append((description + f": T = {temperature:.4g}", True, ""))
        elif not reached:
            results.append(
                (
                    description,
                    False,
                    f"at T = {temperature:.4g} the largest weight is only {_max_weight(scores, temperature):.4f}; "
                    "a smaller T makes it larger",
                )
            )
        else:
            results.append(
                (
                    description,
                    False,
                    f"T = {temperature:.4g} reaches the target, but 1 % more still does: find the largest T. "
                    "The largest weight falls as T grows, so bisect (on log T) between a T that reaches it "
                    "and one that does not",
                )
            )
    return report(title, results)
