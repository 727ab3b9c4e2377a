"""09_transformer_end_to_end's exercises: positions, parameters, generation, sampling, and a failure of the model."""

import torch

from helpers.lessons.l09_transformer_end_to_end.checkpoint import CHECKPOINT_PATH, load_checkpoint
from helpers.lessons.l09_transformer_end_to_end.generation import generate
from helpers.lessons.l09_transformer_end_to_end.sorting_task import parse_digits
from helpers.lessons.l09_transformer_end_to_end.training import one_thread_context
from helpers.library.layers import TransformerBlock
from helpers.library.positions import sinusoidal_encoding
from helpers.machinery.answers import close
from helpers.machinery.exercise_checking import call_learner, checker, not_written, report

__all__ = [
    "check_position_shift",
    "check_block_parameters",
    "check_greedy_decoding",
    "check_temperature_sampling",
    "check_failing_input",
]


@checker
def check_position_shift(fn):
    """Exercise: fn(k, d_model) returns the (d_model, d_model) matrix M with M @ PE[p] = PE[p + k] for every p.

    PE is helpers.library.positions.sinusoidal_encoding. Such an M exists, the same for every p: each
    (sine, cosine) pair is turned by the angle k·ω_i, a rotation.
    """
    results = []
    for k, d_model in [(1, 4), (3, 8), (0, 2), (7, 32)]:
        value, error = call_learner(fn, k, d_model)
        label = f"shift_matrix({k}, {d_model})"
        if error is not None:
            results.append((f"{label} runs", False, error))
            break
        if not isinstance(value, torch.Tensor):
            results.append((f"{label} returns a tensor", False, f"got {type(value).__name__}: return a torch.Tensor"))
            break
        if tuple(value.shape) != (d_model, d_model):
            hint = "M maps a position's vector (d_model,) to another: it is (d_model, d_model)"
            results.append((f"{label} has shape ({d_model}, {d_model}), not {tuple(value.shape)}", False, hint))
            break
        matrix = value.detach().double()
        encoding = sinusoidal_encoding(60, d_model).double()  # (60, d_model), positions 0 .. 59
        moved = encoding[: 60 - k] @ matrix.T  # row p: M @ PE[p]
        right = bool(torch.isfinite(matrix).all()) and close(moved, encoding[k:], atol=1e-4)
        hint = (
            "M is block diagonal: one 2×2 rotation per (sine, cosine) pair, by the angle k·ω_i with "
            "ω_i = 1 / 10000^(2i / d_model); use sin(a + b) = sin a cos b + cos a sin b and "
            "cos(a + b) = cos a cos b − sin a sin b"
        )
        if k and close(encoding[: 60 - k] @ matrix, encoding[k:], atol=1e-4):
            hint = "the two sines in each 2×2 block have the wrong signs: you built M transposed"
        elif k and close(matrix, torch.eye(d_model, dtype=torch.float64)):
            hint = "the identity leaves PE[p] where it is: M must turn each pair by the angle k·ω_i"
        results.append((f"{label} @ PE[p] = PE[p + {k}] for p = 0 .. {59 - k}", right, hint))
    return report("Exercise: moving along the positions is a rotation", results)


def _block_parameters(d_model, n_heads, d_ff):
    block = TransformerBlock(d_model, n_heads, d_ff)
    return sum(p.numel() for p in block.parameters())


@checker
def check_block_parameters(fn):
    """Exercise: fn(d_model, d_ff) returns the number of parameters of one TransformerBlock."""
    results = []
    for d_model, n_heads, d_ff in [(32, 4, 64), (64, 2, 256), (8, 8, 8), (1, 1, 1)]:
        value, error = call_learner(fn, d_model, d_ff)
        label = f"block_parameters({d_model}, {d_ff})"
        if error is not None:
            results.append((f"{label} runs", False, error))
            break
        if isinstance(value, bool) or not isinstance(value, int):
            results.append((f"{label} returns an int", False, f"got {type(value).__name__}: return an int"))
            break
        right = _block_parameters(d_model, n_heads, d_ff)
        no_bias = 4 * d_model * d_model + 2 * d_model * d_ff + 4 * d_model
        no_norm = right - 4 * d_model
        hint = "attention has 4 nn.Linear(d_model, d_model), the feed-forward 2 more, plus two LayerNorms"
        if value == no_bias:
            hint = "every nn.Linear has a bias too: d_out numbers beside its d_in × d_out weight"
        elif value == no_norm:
            hint = "the two LayerNorms learn a weight (γ) and a bias (β) of d_model numbers each"
        elif value == right - 2 * (d_model * d_model + d_model):
            hint = "attention has four projections: w_q, w_k, w_v and the output projection w_o"
        results.append((f"{label} = {right} (you said {value})", value == right, hint))
    if all(passed for _, passed, _ in results):
        same = len({_block_parameters(32, heads, 64) for heads in (1, 2, 4, 8, 16)}) == 1
        results.append(("and the count is the same for 1, 2, 4, 8 or 16 heads", same, ""))
    return report("Exercise: counting a block's parameters", results)


class _RecordingModel:
    """Wraps a model; remembers the length of every sequence it was given."""

    def __init__(self, model):
        self.model, self.config, self.lengths = model, model.config, []

    def __getattr__(self, name):  # model.eval(), model.config, ... reach the model
        return getattr(self.model, name)

    def __call__(self, tokens, *args, **kwargs):
        self.lengths.append(tokens.shape[-1] if isinstance(tokens, torch.Tensor) else None)
        return self.model(tokens, *args, **kwargs)


@checker
def check_greedy_decoding(fn, model=None):
    """Exercise: fn(model, digits) sorts the digits string by greedy decoding and returns the output string."""
    model = load_checkpoint(CHECKPOINT_PATH)[0] if model is None else model
    results = []
    for digits in ["31415", "7", "000000", "965321", "2718"]:
        recorder = _RecordingModel(model)
        with torch.no_grad(), one_thread_context():
            value, error = call_learner(fn, recorder, digits)
        label = f"greedy_sort(model, {digits!r})"
        if error is not None:
            results.append((f"{label} runs", False, error))
            break
        if not recorder.lengths:
            results.append((f"{label} runs the model", False, "call model(tokens) to get the logits"))
            break
        if not isinstance(value, str):
            hint = f"got {type(value).__name__}: return a str such as '11345', e.g. decode(ids)"
            results.append((f"{label} returns a str", False, hint))
            break
        expected = generate(model, digits)["output"]
        hint = "at each step take the argmax of logits[0, -1] (the last position), append it, run again"
        if len(value) != len(digits):
            hint = f"generate exactly as many tokens as there are digits ({len(digits)}), after the '='"
        elif len(digits) > 1 and len(set(value)) == 1 and len(set(expected)) > 1:
            hint = (
                "every step wrote the same token: append each new token to the sequence before the next "
                "step, and read the prediction of the last position, logits[0, -1]"
            )
        elif len(recorder.lengths) == 1 and len(digits) > 1:
            hint = "one model run gives one new token: run the model once per generated digit"
        results.append((f"{label} = {expected!r} (you returned {value!r})", value == expected, hint))
    return report("Exercise: greedy decoding, one token at a time", results)


SAMPLING_LOGITS = torch.tensor([2.0, 1.0, 0.0, -1.0])  # the checker's distribution: four tokens
SAMPLING_DRAWS = 2000
SAMPLING_TOLERANCE = 0.04  # |share of draws − probability| allowed: about 3.5 standard errors for 2000 draws


def _draws(fn, temperature, seed, count):
    """count draws of fn(logits, temperature, generator) from one generator: (list of ints, or None, error)."""
    generator = torch.Generator().manual_seed(seed)
    draws = []
    for _ in range(count):
        value, error = call_learner(fn, SAMPLING_LOGITS.clone(), temperature, generator)
        if error is not None:
            return None, error
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
            value = int(value.item())
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(SAMPLING_LOGITS):
            return None, f"returned {value!r}: return one token id, an int from 0 to {len(SAMPLING_LOGITS) - 1}"
        draws.append(value)
    return draws, None


def _shares(draws):
    return torch.bincount(torch.tensor(draws), minlength=len(SAMPLING_LOGITS)).double() / len(draws)


@checker
def check_temperature_sampling(fn):
    """Exercise: fn(logits, temperature, generator) draws one token id from softmax(logits / temperature).

    logits: (vocab_size,). The draw must use `generator` only (not torch's global random state), so the same
    seed gives the same draws. Checked on SAMPLING_LOGITS at three temperatures with SAMPLING_DRAWS draws each.
    """
    title = "Exercise: sampling with a temperature"
    placeholder = not_written(fn, SAMPLING_LOGITS.clone(), 1.0, torch.Generator().manual_seed(0))
    if placeholder:
        return report(title, placeholder)
    results = []
    global_state = torch.random.get_rng_state()
    first, error = _draws(fn, 1.0, seed=0, count=20)
    if error is not None:
        return report(title, [("sample_with_temperature(logits, 1.0, generator) runs", False, error)])
    untouched = torch.equal(torch.random.get_rng_state(), global_state)
    results.append(
        (
            "it leaves torch's global random state alone",
            untouched,
            "pass the generator to the function that draws: torch.multinomial(p, 1, generator=generator) "
            "or torch.rand(1, generator=generator)",
        )
    )
    again, _ = _draws(fn, 1.0, seed=0, count=20)
    results.append(("the same seed gives the same 20 draws", first == again, "draw with the generator you are given"))
    for temperature in (1.0, 0.5, 3.0):
        draws, error = _draws(fn, temperature, seed=1, count=SAMPLING_DRAWS)
        if error is not None:
            results.append((f"temperature {temperature} runs", False, error))
            break
        shares = _shares(draws)
        wanted = torch.softmax(SAMPLING_LOGITS.double() / temperature, dim=-1)
        gap = float((shares - wanted).abs().max())
        hint = "draw token i with probability softmax(logits / temperature)[i], e.g. with torch.multinomial"
        if len(set(draws)) == 1:
            hint = "every draw is the same token: draw at random from the probabilities instead of taking the argmax"
        elif float((shares - torch.softmax(SAMPLING_LOGITS.double(), dim=-1)).abs().max()) < SAMPLING_TOLERANCE:
            hint = "the shares follow softmax(logits), whatever the temperature: divide the logits by it first"
        elif float((shares - torch.softmax(SAMPLING_LOGITS.double() * temperature, dim=-1)).abs().max()) < 0.04:
            hint = "you multiplied by the temperature: divide, so that T > 1 flattens and T < 1 sharpens"
        shown = ", ".join(f"{share:.0%}" for share in shares.tolist())
        expected = ", ".join(f"{p:.0%}" for p in wanted.tolist())
        results.append(
            (
                f"T = {temperature}: shares of {SAMPLING_DRAWS} draws {shown} (softmax(logits / T): {expected})",
                gap <= SAMPLING_TOLERANCE,
                hint,
            )
        )
    if all(passed for _, passed, _ in results):
        draws, _ = _draws(fn, 0.01, seed=2, count=50)
        hint = "at T = 0.01 softmax(logits / T) is almost one-hot on the largest logit"
        results.append(("T = 0.01 draws the most likely token every time", set(draws or []) == {0}, hint))
    return report(title, results)


@checker
def check_failing_input(answer, model=None):
    """Exercise: answer is a string of digits that the model sorts wrongly."""
    model = load_checkpoint(CHECKPOINT_PATH)[0] if model is None else model
    results = [("answer is a string of digits", isinstance(answer, str), "write it in quotes, e.g. answer = '9912'")]
    if isinstance(answer, str):
        try:
            digits = parse_digits(answer)
        except ValueError as error:
            results.append(("the model can read it", False, str(error)))
            return report("Exercise: catch the model out", results)
        generation = generate(model, digits)
        output, expected = generation["output"], generation["expected"]
        results.append(
            (
                f"the model writes {output!r}; sorted, it is {expected!r}",
                not generation["correct"],
                "the model sorts this one right: try long inputs with repeated digits, where the accuracy "
                "by length is lowest, and use the generation widget to search quickly",
            )
        )
        if not generation["correct"]:
            first = next(i for i, (a, b) in enumerate(zip(output, expected, strict=True)) if a != b)
            mistake = f"its first mistake is output digit {first + 1}: {output[first]!r} instead of {expected[first]!r}"
            results.append((mistake, True, ""))
    return report("Exercise: catch the model out", results)
