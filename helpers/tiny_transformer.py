"""09: a complete decoder-only transformer, small enough to train in the notebook in seconds.

The task: sort a short sequence of digits. Each example is written "input = output",
    3 1 4 1 5 = 1 1 3 4 5
with 1 to MAX_DIGITS digits. The model reads the sequence left to right and learns to predict each
next token; the loss counts only the output digits (the input is random: nothing to learn there).
Sorting needs attention: the next output digit is somewhere in the input, at a position that
depends on the digits, not on a fixed offset.

The model is built from the course's own pieces (helpers.layers):

    x = embedding(tokens) + position             (B, n, d_model)
    x = TransformerBlock(x, causal mask)         n_layers times (Pre-LN: norm_first=True)
    logits = output_projection(LayerNorm(x))     (B, n, vocab_size)

Vocabulary (TOKENS): the digits 0-9, SEP "=" and PAD "_" (filler after the end; never predicted).

    parse_digits(text)                 check typed input: only digits, 1 to MAX_DIGITS of them
    encode(text) / decode(ids)         between strings of tokens and integer ids
    sample_batch(generator, B)         training tokens (B, n) and targets (B, n), −100 where not scored
    held_out_set(size)                 different held-out sequences: never seen in training
    TinyTransformer(**CONFIG)          the model; forward(tokens, return_weights=True) gives the maps
    count_parameters(model)            parameters per part
    train(...)                         seeded training with helpers.optim's Adam; a callback sees every step's loss
    exact_match(model, tokens, targets), accuracy_by_length(...)
    generate(model, digits)            greedy decoding, one token at a time, with the attention rows
    attention_maps(model, digits)      the tokens and every layer's and head's map for one input
    head_patterns(model, tokens)       what each head attends to, measured
    ablate_head(model, layer, head), head_ablation(model, tokens, targets)
    save_checkpoint(model, path), load_checkpoint(path), write_checkpoint()   (the last makes the committed one)
    plot_losses, plot_mistakes_by_length, plot_heads, plot_ablation   figures, each on given Axes

Shapes: B sequences, n = 2·MAX_DIGITS positions (the model never reads the last token), L digits.
"""

import copy
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import require_int, require_number, require_tensor
from helpers.attention import causal_mask
from helpers.layers import LayerNorm, TransformerBlock
from helpers.optim import Adam
from helpers.positions import LearnedPositions, SinusoidalPositions
from helpers.threads import one_thread

__all__ = [
    "DIGITS",
    "SEP",
    "PAD",
    "TOKENS",
    "SEP_ID",
    "PAD_ID",
    "IGNORE",
    "MIN_DIGITS",
    "MAX_DIGITS",
    "N_POSITIONS",
    "CONFIG",
    "TRAINING",
    "TEST_SIZE",
    "TEST_SEED",
    "STATED_ACCURACY",
    "one_thread",
    "one_thread_context",
    "CHECKPOINT_NAME",
    "CHECKPOINT_PATH",
    "parse_digits",
    "encode",
    "decode",
    "is_held_out",
    "make_examples",
    "sample_batch",
    "held_out_set",
    "input_lengths",
    "TinyTransformer",
    "count_parameters",
    "learning_rate",
    "Adam",
    "train",
    "exact_match",
    "accuracy_by_length",
    "generate",
    "attention_maps",
    "PATTERNS",
    "head_patterns",
    "name_heads",
    "ablate_head",
    "head_ablation",
    "save_checkpoint",
    "write_checkpoint",
    "load_checkpoint",
    "plot_losses",
    "plot_mistakes_by_length",
    "plot_heads",
    "plot_ablation",
]

DIGITS = "0123456789"
SEP = "="
PAD = "_"
TOKENS = [*DIGITS, SEP, PAD]
SEP_ID = TOKENS.index(SEP)
PAD_ID = TOKENS.index(PAD)
IGNORE = -100  # target of a position whose prediction is not scored (F.cross_entropy's ignore_index)
MIN_DIGITS, MAX_DIGITS = 1, 6
N_POSITIONS = 2 * MAX_DIGITS  # input digits, "=", output digits, minus the last (never read)

CONFIG = {
    "vocab_size": len(TOKENS),
    "n_positions": N_POSITIONS,
    "d_model": 32,
    "n_heads": 4,
    "n_layers": 2,
    "d_ff": 64,
    "positions": "learned",
}
TRAINING = {"steps": 300, "batch_size": 128, "lr": 1e-2, "seed": 0}
TEST_SIZE, TEST_SEED = 2000, 1
STATED_ACCURACY = 0.95  # exact match on the held-out test set that the committed checkpoint must reach
CHECKPOINT_NAME = "09_checkpoint.pt"
CHECKPOINT_PATH = Path(__file__).resolve().parent.parent / "notebooks" / CHECKPOINT_NAME  # the committed one
one_thread_context = one_thread  # the name lesson 09's exercises import


# ---------------------------------------------------------------- the task and its data


def parse_digits(text, max_digits=MAX_DIGITS):
    """Typed input -> a string of 1 to max_digits digits. Spaces and commas between digits are dropped.

    Raises TypeError for a non-string, ValueError with a message a learner can act on otherwise.
    """
    if not isinstance(text, str):
        raise TypeError(f"the input must be text (str), got {type(text).__name__}")
    max_digits = require_int("max_digits", max_digits, minimum=1)
    digits = "".join(character for character in text if character not in " ,")
    if not digits:
        raise ValueError(f"type 1 to {max_digits} digits, for example 31415: the box is empty")
    bad = sorted({character for character in digits if character not in DIGITS})
    if bad:
        shown = ", ".join(repr(character) for character in bad[:5])
        raise ValueError(f"only the digits 0-9 are allowed; found {shown}")
    if len(digits) > max_digits:
        raise ValueError(f"{len(digits)} digits is too many: the model was trained on 1 to {max_digits}")
    return digits


def encode(text):
    """A string of tokens (digits, "=", "_") -> int64 ids (len(text),)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    bad = sorted({character for character in text if character not in TOKENS})
    if bad:
        raise ValueError(f"text may hold only {''.join(TOKENS)}; found {bad}")
    return torch.tensor([TOKENS.index(character) for character in text], dtype=torch.long)


def decode(ids):
    """Token ids (a 1-D integer tensor or a list) -> the string of their tokens."""
    ids = torch.as_tensor(ids)
    if ids.ndim != 1 or ids.is_floating_point():
        raise ValueError(f"ids must be a 1-D sequence of integers, got shape {tuple(ids.shape)}, {ids.dtype}")
    if ids.numel() and not (0 <= int(ids.min()) and int(ids.max()) < len(TOKENS)):
        raise ValueError(f"ids must lie in 0 .. {len(TOKENS) - 1}, got {ids.tolist()}")
    return "".join(TOKENS[i] for i in ids.tolist())


def _sequence_keys(digits, lengths):
    """One integer per sequence, different for every (length, digits): 10^L + the L digits read as a number."""
    place = 10 ** torch.arange(MAX_DIGITS - 1, -1, -1)  # (MAX_DIGITS,) 10^7 ... 1
    used = torch.arange(MAX_DIGITS)[None] < lengths[:, None]
    number = (digits * place * used).sum(-1) // 10 ** (MAX_DIGITS - lengths)
    return 10**lengths + number


def is_held_out(digits, lengths):
    """True for the sequences set aside for testing: one in ten, picked by a hash of the digits.

    digits: int64 (B, MAX_DIGITS), only the first lengths[b] used.  lengths: int64 (B,).
    Returns bool (B,). Training never sees a held-out sequence; held_out_set draws only from them.
    """
    keys = _sequence_keys(digits, lengths)
    return (keys * 2654435761 % 2**32) % 10 == 0  # Knuth's multiplicative hash, then 1 bucket in 10


def make_examples(digits, lengths):
    """Sequences "input = sorted input", padded, as the model's input and targets.

    digits: int64 (B, MAX_DIGITS), lengths: int64 (B,) in MIN_DIGITS .. MAX_DIGITS.
    Returns tokens (B, N_POSITIONS) and targets (B, N_POSITIONS): targets[b, p] is the token at
    p + 1 where that token is an output digit (positions L .. 2L − 1), IGNORE elsewhere.
    """
    require_tensor("digits", digits)
    require_tensor("lengths", lengths)
    if digits.ndim != 2 or digits.shape[1] != MAX_DIGITS or lengths.shape != digits.shape[:1]:
        raise ValueError(
            f"digits must be (B, {MAX_DIGITS}) and lengths (B,), got {tuple(digits.shape)}, {tuple(lengths.shape)}"
        )
    if ((lengths < MIN_DIGITS) | (lengths > MAX_DIGITS)).any() or ((digits < 0) | (digits > 9)).any():
        raise ValueError(f"lengths must lie in {MIN_DIGITS} .. {MAX_DIGITS} and digits in 0 .. 9")
    lengths = lengths[:, None]  # (B, 1)
    slot = torch.arange(MAX_DIGITS)[None]  # (1, MAX_DIGITS)
    answer = torch.where(slot < lengths, digits, 99).sort(dim=-1).values  # padding (99) sorts last
    position = torch.arange(N_POSITIONS + 1)[None]  # the whole sequence, last token included
    from_input = digits.gather(1, position.clamp(max=MAX_DIGITS - 1).expand(len(digits), -1))
    from_answer = answer.gather(1, (position - lengths - 1).clamp(0, MAX_DIGITS - 1))
    sequence = torch.where(
        position < lengths,
        from_input,
        torch.where(position == lengths, SEP_ID, torch.where(position <= 2 * lengths, from_answer, PAD_ID)),
    )
    predicted = (position > lengths) & (position <= 2 * lengths)
    targets = torch.where(predicted, sequence, IGNORE)
    return sequence[:, :-1], targets[:, 1:]


def _draw(generator, count, held_out):
    """`count` random sequences from one side of the split: digits (count, MAX_DIGITS), lengths (count,)."""
    kept_digits, kept_lengths, kept = [], [], 0
    while kept < count:
        # One sequence in ten is held out: draw enough that one round almost always suffices.
        draws = 12 * count + 16 if held_out else count + count // 4 + 16
        lengths = torch.randint(MIN_DIGITS, MAX_DIGITS + 1, (draws,), generator=generator)
        digits = torch.randint(0, 10, (draws, MAX_DIGITS), generator=generator)
        keep = is_held_out(digits, lengths) == held_out
        kept_digits.append(digits[keep])
        kept_lengths.append(lengths[keep])
        kept += int(keep.sum())
    return torch.cat(kept_digits)[:count], torch.cat(kept_lengths)[:count]


def sample_batch(generator, batch_size):
    """A random batch of training sequences: never a held-out one.

    Lengths are uniform in MIN_DIGITS .. MAX_DIGITS, digits uniform in 0-9 (repeats allowed).
    Returns tokens (B, N_POSITIONS), targets (B, N_POSITIONS), as make_examples.
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    batch_size = require_int("batch_size", batch_size, minimum=1)
    return make_examples(*_draw(generator, batch_size, held_out=False))


def held_out_set(size=TEST_SIZE, seed=TEST_SEED):
    """`size` different held-out sequences (training never sees any of them), drawn with `seed`.

    Short inputs have few held-out sequences (one of length 1, about ten of length 2), so they are
    rare in the test set; lengths 4 to MAX_DIGITS fill most of it. Returns tokens, targets as sample_batch.
    """
    size = require_int("size", size, minimum=1)
    generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
    digits = torch.empty(0, MAX_DIGITS, dtype=torch.long)
    lengths = torch.empty(0, dtype=torch.long)
    while len(digits) < size:
        new_digits, new_lengths = _draw(generator, size, held_out=True)
        digits, lengths = torch.cat([digits, new_digits]), torch.cat([lengths, new_lengths])
        keys = _sequence_keys(digits, lengths)
        _, inverse = torch.unique(keys, return_inverse=True)
        first = torch.full((int(inverse.max()) + 1,), len(keys)).scatter_reduce(
            0, inverse, torch.arange(len(keys)), reduce="amin"
        )
        keep = first.sort().values  # the first copy of each sequence, in the order drawn
        digits, lengths = digits[keep], lengths[keep]
    return make_examples(digits[:size], lengths[:size])


def input_lengths(tokens):
    """The number of input digits L of each sequence: where "=" is. tokens (B, n) -> (B,)."""
    is_sep = tokens == SEP_ID
    if not is_sep.any(dim=-1).all():
        raise ValueError("every sequence needs a separator '='")
    return is_sep.int().argmax(dim=-1)


# ---------------------------------------------------------------- the model


class TinyTransformer(nn.Module):
    """A decoder-only transformer: token embedding + positions, n_layers TransformerBlocks with a
    causal mask, a final LayerNorm and an output projection to the vocabulary.

    positions: "learned" (LearnedPositions), "sinusoidal" (SinusoidalPositions) or "none".
    `config` holds the arguments, so save_checkpoint can rebuild the same model.
    """

    def __init__(self, vocab_size, n_positions, d_model, n_heads, n_layers, d_ff, positions="learned"):
        super().__init__()
        vocab_size = require_int("vocab_size", vocab_size, minimum=1)
        n_positions = require_int("n_positions", n_positions, minimum=1)
        n_layers = require_int("n_layers", n_layers, minimum=1)
        kinds = {"learned": LearnedPositions, "sinusoidal": SinusoidalPositions, "none": None}
        if positions not in kinds:
            raise ValueError(f"positions must be one of {list(kinds)}, got {positions!r}")
        self.config = {
            "vocab_size": vocab_size,
            "n_positions": n_positions,
            "d_model": d_model,
            "n_heads": n_heads,
            "n_layers": n_layers,
            "d_ff": d_ff,
            "positions": positions,
        }
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.positions = kinds[positions](n_positions, d_model) if kinds[positions] else nn.Identity()
        self.blocks = nn.ModuleList(TransformerBlock(d_model, n_heads, d_ff, norm_first=True) for _ in range(n_layers))
        self.norm = LayerNorm(d_model)
        self.output = nn.Linear(d_model, vocab_size)

    def forward(self, tokens, return_weights=False):
        """tokens: int64 (B, n), n <= n_positions -> logits (B, n, vocab_size).

        With return_weights=True, returns (logits, weights (B, n_layers, n_heads, n, n)).
        Position i sees positions 0 .. i only (the causal mask), so logits[:, i] predicts token i + 1.
        """
        require_tensor("tokens", tokens)
        if tokens.dtype != torch.long or tokens.ndim != 2:
            raise ValueError(f"tokens must be int64 of shape (B, n), got {tokens.dtype} {tuple(tokens.shape)}")
        n = tokens.shape[1]
        if not 1 <= n <= self.config["n_positions"]:
            raise ValueError(f"n must be 1 .. n_positions={self.config['n_positions']}, got {n}")
        if tokens.min() < 0 or tokens.max() >= self.config["vocab_size"]:
            raise ValueError(f"token ids must lie in 0 .. {self.config['vocab_size'] - 1}")
        x = self.positions(self.embedding(tokens))  # (B, n, d_model)
        mask = causal_mask(n)  # (n, n), True on and below the diagonal
        weights = []
        for block in self.blocks:
            x, layer_weights = block(x, mask, return_weights=True)  # layer_weights (B, n_heads, n, n)
            weights.append(layer_weights)
        logits = self.output(self.norm(x))
        return (logits, torch.stack(weights, dim=1)) if return_weights else logits


def count_parameters(model):
    """Trainable parameters of a TinyTransformer, per part: {part: count, ..., "total": count}."""
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    parts = {"token embedding": model.embedding, "positions": model.positions}
    parts.update({f"block {i}": block for i, block in enumerate(model.blocks)})
    parts.update({"final LayerNorm": model.norm, "output projection": model.output})
    counts = {name: sum(p.numel() for p in part.parameters() if p.requires_grad) for name, part in parts.items()}
    counts["total"] = sum(counts.values())
    return counts


# ---------------------------------------------------------------- training


def learning_rate(step, steps, lr, warmup=0.1):
    """The learning rate at `step` of `steps`: linear warm-up over the first 10 %, then a cosine to 0."""
    warm = max(1, round(warmup * steps))
    if step < warm:
        return lr * (step + 1) / warm
    progress = (step - warm) / max(1, steps - warm)
    return lr * 0.5 * (1 + math.cos(math.pi * progress))


def train(config=None, steps=None, batch_size=None, lr=None, seed=None, callback=None):
    """Train a TinyTransformer from scratch on the sorting task; returns (model, losses).

    config: model arguments (default CONFIG); steps, batch_size, lr, seed: default TRAINING.
    callback(step, loss): called after every step (e.g. to draw a progress bar and a loss curve).
    Deterministic: the same seed gives the same weights, bit for bit, on the same machine (training
    runs on one CPU thread, restored afterwards). losses: list of `steps` floats (cross-entropy, nats).
    """
    config = dict(CONFIG if config is None else config)
    given = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}
    settings = {name: TRAINING[name] if value is None else value for name, value in given.items()}
    steps = require_int("steps", settings["steps"], minimum=1)
    batch_size = require_int("batch_size", settings["batch_size"], minimum=1)
    lr = require_number("lr", settings["lr"], positive=True)
    seed = require_int("seed", settings["seed"], minimum=0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    with one_thread():  # one thread: repeatable sums, and no fight with the other core's work
        torch.manual_seed(seed)
        model = TinyTransformer(**config)
        generator = torch.Generator().manual_seed(seed)
        optimizer = Adam(model.parameters(), recipe="textbook_addcdiv")
        losses = []
        model.train()
        for step in range(steps):
            tokens, targets = sample_batch(generator, batch_size)
            logits = model(tokens)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step(learning_rate(step, steps, lr))
            losses.append(loss.item())
            if callback is not None:
                callback(step, losses[-1])
    model.eval()
    return model, losses


# ---------------------------------------------------------------- evaluation


def _check_pair(tokens, targets):
    require_tensor("tokens", tokens)
    require_tensor("targets", targets)
    if tokens.shape != targets.shape or tokens.ndim != 2:
        raise ValueError(f"tokens and targets must both be (B, n), got {tuple(tokens.shape)}, {tuple(targets.shape)}")


@one_thread()
def exact_match(model, tokens, targets):
    """Per sequence: is every output digit predicted right? bool (B,).

    One forward pass with the true tokens as input (teacher forcing). Because of the causal mask,
    this equals greedy generation's verdict: if every prediction is right given a right prefix,
    generating token by token builds exactly that prefix; at the first wrong one, both fail.
    """
    _check_pair(tokens, targets)
    with torch.no_grad():
        predicted = model(tokens).argmax(dim=-1)  # (B, n)
    scored = targets != IGNORE
    return ((predicted == targets) | ~scored).all(dim=-1)


def accuracy_by_length(model, tokens, targets):
    """Exact-match accuracy overall and per input length: {"all": float, L: float, ...}."""
    correct = exact_match(model, tokens, targets).float()
    lengths = input_lengths(tokens)
    result = {"all": correct.mean().item()}
    for length in range(MIN_DIGITS, MAX_DIGITS + 1):
        chosen = lengths == length
        if chosen.any():
            result[length] = correct[chosen].mean().item()
    return result


# ---------------------------------------------------------------- generation


@one_thread()
def generate(model, digits):
    """Sort typed digits by greedy decoding, one token at a time, recording what each step attended to.

    digits: str of MIN_DIGITS .. MAX_DIGITS digits (checked by parse_digits).
    Step s (0 .. L−1) feeds the L digits, "=" and the s digits generated so far (L + 1 + s tokens),
    runs the model with its causal mask and appends the most likely next token.
    Returns a dict:
      digits (str), tokens (list of 2L str: the input, "=", the first L − 1 generated tokens:
      every token some step read), output (str of L generated tokens), expected (str: the sorted
      digits), correct (bool),
      weights (L, n_layers, n_heads, 2L): step s's attention row, its last query over keys
      0 .. L + s (zero beyond: those tokens did not exist yet),
      probabilities (L, vocab_size): the softmax of step s's logits.
    """
    digits = parse_digits(digits)
    length = len(digits)
    sequence = encode(digits + SEP)
    n_layers, n_heads = model.config["n_layers"], model.config["n_heads"]
    weights = torch.zeros(length, n_layers, n_heads, 2 * length)
    probabilities = torch.zeros(length, model.config["vocab_size"])
    with torch.no_grad():
        for step in range(length):
            logits, step_weights = model(sequence[None], return_weights=True)
            n = len(sequence)
            weights[step, :, :, :n] = step_weights[0, :, :, -1, :]  # the last query's row, every layer and head
            probabilities[step] = torch.softmax(logits[0, -1], dim=-1)
            sequence = torch.cat([sequence, logits[0, -1].argmax().reshape(1)])
    output = decode(sequence[length + 1 :])
    expected = "".join(sorted(digits))
    tokens = list(digits) + [SEP] + list(output[:-1])
    return {
        "digits": digits,
        "tokens": tokens,
        "output": output,
        "expected": expected,
        "correct": output == expected,
        "weights": weights,
        "probabilities": probabilities,
    }


def attention_maps(model, digits):
    """What the model attends to while sorting `digits`: (tokens, weights (n_layers, n_heads, 2L, 2L)).

    tokens: the 2L tokens the model reads while generating (generate()'s "tokens"). One forward pass
    over them gives the same rows as the step-by-step generation, because of the causal mask.
    """
    tokens = generate(model, digits)["tokens"]
    with one_thread(), torch.no_grad():
        _, weights = model(encode("".join(tokens))[None], return_weights=True)
    return tokens, weights[0]


# ---------------------------------------------------------------- looking inside


def _pattern_masks(tokens, targets):
    """For every query that predicts an output digit, which keys fit each pattern: bool (B, n, n) each."""
    _check_pair(tokens, targets)
    batch, n = tokens.shape
    lengths = input_lengths(tokens)[:, None, None]  # (B, 1, 1)
    query = torch.arange(n)[None, :, None]  # (1, n, 1)
    key = torch.arange(n)[None, None, :]  # (1, 1, n)
    key_token = tokens[:, None, :]  # (B, 1, n)
    is_input = key < lengths
    return {
        "the next answer digit, in the input": is_input & (key_token == targets[:, :, None]),
        "the digit it reads, in the input": is_input & (key_token == tokens[:, :, None]),
        "the separator '='": key == lengths,
        "itself": key == query,
        "the outputs before it": (key > lengths) & (key < query),
    }


PATTERNS = (
    "the next answer digit, in the input",
    "the digit it reads, in the input",
    "the separator '='",
    "itself",
    "the outputs before it",
)


@one_thread()
def head_patterns(model, tokens, targets):
    """What each head attends to from the positions that predict an output digit, measured.

    Returns {pattern: (n_layers, n_heads) mean total weight on the keys that fit the pattern},
    averaged over every scored query of every sequence. Patterns (PATTERNS):
      "the next answer digit, in the input": input positions holding the digit to be output next;
      "the digit it reads, in the input": input positions holding the query's own token;
      "the separator '='"; "itself"; "the outputs before it".
    The patterns overlap (when the next digit repeats the current one, both digit patterns fit).
    """
    masks = _pattern_masks(tokens, targets)
    scored = (targets != IGNORE).float()  # (B, n)
    with torch.no_grad():
        _, weights = model(tokens, return_weights=True)  # (B, n_layers, n_heads, n, n)
    result = {}
    for name in PATTERNS:
        on_pattern = (weights * masks[name][:, None, None].float()).sum(dim=-1)  # (B, n_layers, n_heads, n)
        result[name] = (on_pattern * scored[:, None, None]).sum(dim=(0, 3)) / scored.sum()
    return result


def name_heads(patterns):
    """Each head's strongest pattern: {(layer, head): (pattern, mean weight)}, from head_patterns."""
    if not patterns or set(patterns) - set(PATTERNS):
        raise ValueError(f"patterns must be head_patterns' dict with keys {PATTERNS}")
    table = torch.stack([patterns[name] for name in PATTERNS])  # (n_patterns, n_layers, n_heads)
    best_value, best = table.max(dim=0)
    n_layers, n_heads = best.shape
    return {
        (layer, head): (PATTERNS[int(best[layer, head])], float(best_value[layer, head]))
        for layer in range(n_layers)
        for head in range(n_heads)
    }


def ablate_head(model, layer, head):
    """A copy of the model in which one head's output is zeroed: its d_k columns of w_o are set to 0.

    A head's output enters the rest of the model only through those columns of the output
    projection, so the copy computes exactly the model without that head (w_o's bias stays).
    """
    n_layers, n_heads = model.config["n_layers"], model.config["n_heads"]
    layer = require_int("layer", layer, minimum=0)
    head = require_int("head", head, minimum=0)
    if layer >= n_layers or head >= n_heads:
        raise ValueError(f"layer must be < {n_layers} and head < {n_heads}, got layer={layer}, head={head}")
    ablated = copy.deepcopy(model)
    attention = ablated.blocks[layer].attn
    with torch.no_grad():
        attention.w_o.weight[:, head * attention.d_k : (head + 1) * attention.d_k] = 0.0
    return ablated


@one_thread()
def head_ablation(model, tokens, targets):
    """Exact-match accuracy with each head zeroed in turn: (n_layers, n_heads) tensor."""
    n_layers, n_heads = model.config["n_layers"], model.config["n_heads"]
    result = torch.zeros(n_layers, n_heads)
    for layer in range(n_layers):
        for head in range(n_heads):
            ablated = ablate_head(model, layer, head)
            result[layer, head] = exact_match(ablated, tokens, targets).float().mean()
    return result


# ---------------------------------------------------------------- saving and loading


def save_checkpoint(model, path, **extra):
    """Save the model's config and weights (a state_dict) with torch.save; `extra` holds plain numbers or text."""
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    torch.save({"config": dict(model.config), "state_dict": model.state_dict(), "extra": extra}, path)


def write_checkpoint(path=CHECKPOINT_PATH, **training):
    """Train with TRAINING's settings (or `training`'s overrides) and save the model with its losses and accuracy.

    This is how notebooks/09_checkpoint.pt is made:  python -c "from helpers.tiny_transformer import
    write_checkpoint; write_checkpoint()". Returns (model, losses, accuracy on held_out_set()).
    """
    model, losses = train(**training)
    accuracy = accuracy_by_length(model, *held_out_set())["all"]
    save_checkpoint(model, path, losses=losses, accuracy=accuracy)
    return model, losses, accuracy


def load_checkpoint(path):
    """Rebuild a TinyTransformer from save_checkpoint's file, in eval mode. Returns (model, extra).

    torch.load(weights_only=True) reads tensors and plain values only: a checkpoint cannot run code.
    """
    checkpoint = torch.load(path, weights_only=True)
    if not isinstance(checkpoint, dict) or {"config", "state_dict"} - set(checkpoint):
        raise ValueError(f"{path} is not a checkpoint written by save_checkpoint")
    model = TinyTransformer(**checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    return model, checkpoint.get("extra", {})


# ---------------------------------------------------------------- figures

STYLES = [("#440154", "-", None), ("#21918c", "--", None)]  # colour and dash: the two runs differ by more than colour


def plot_losses(curves, ax, title="Training loss"):
    """Loss curves against the step, log scale. curves: {label: list of floats, or None to skip}. Returns ax."""
    drawn = 0
    for label, losses in curves.items():
        if losses is None:
            continue
        color, dash, _ = STYLES[drawn % len(STYLES)]
        ax.plot(range(1, len(losses) + 1), losses, color=color, linestyle=dash, linewidth=1.5, label=label)
        drawn += 1
    if not drawn:
        raise ValueError("curves holds no losses to draw")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (nats, log scale)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def plot_mistakes_by_length(accuracy, counts, ax, title="Held-out sequences sorted wrongly"):
    """Bars: the share of sequences sorted wrongly, per input length, each labelled "wrong of total".

    accuracy: accuracy_by_length's dict; counts: {L: number of test sequences of length L}. Returns ax.
    """
    lengths = [length for length in range(MIN_DIGITS, MAX_DIGITS + 1) if length in accuracy]
    wrong = [round((1 - accuracy[length]) * counts[length]) for length in lengths]
    shares = [100 * w / counts[length] for w, length in zip(wrong, lengths, strict=True)]
    bars = ax.bar(lengths, shares, color="#21918c")
    top = max(max(shares), 100 * (1 - accuracy["all"])) * 1.3 + 0.5
    for bar, w, length in zip(bars, wrong, lengths, strict=True):
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            bar.get_height() + top * 0.02,
            f"{w} of {counts[length]}",
            ha="center",
            fontsize=8,
        )
    ax.axhline(
        100 * (1 - accuracy["all"]),
        color="#440154",
        linestyle="--",
        label=f"all lengths: {100 * (1 - accuracy['all']):.2f} %",
    )
    ax.set_ylim(0, top)
    ax.set_xticks(lengths)
    ax.set_xlabel("number of input digits L")
    ax.set_ylabel("sorted wrongly (%)")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return ax


def plot_heads(maps, tokens, axes):
    """Every head's attention map on a grid: maps (n_layers, n_heads, n, n), axes (n_layers, n_heads). Returns axes.

    Rows are queries, columns keys; grey above the diagonal: keys the causal mask hid. Token labels
    are written on the outer maps only (text is the slow part of drawing a figure).
    """
    import matplotlib
    import numpy as np

    maps = torch.as_tensor(maps).detach()
    axes = (
        np.asarray(axes).reshape(maps.shape[:2])
        if maps.ndim == 4 and np.size(axes) == maps.shape[0] * maps.shape[1]
        else None
    )
    if axes is None or maps.shape[-1] != maps.shape[-2] or maps.shape[-1] != len(tokens):
        raise ValueError(
            f"maps must be (n_layers, n_heads, n, n) with n = {len(tokens)} tokens and one Axes per map, "
            f"got {tuple(maps.shape)}"
        )
    n_layers, n_heads, n, _ = maps.shape
    hidden = np.triu(np.ones((n, n), dtype=bool), k=1)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#d9d9d9")
    for layer in range(n_layers):
        for head in range(n_heads):
            ax = axes[layer, head]
            shown = np.ma.masked_array(maps[layer, head].numpy(), hidden)
            image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"layer {layer} head {head}", fontsize=9)
            if layer == n_layers - 1:
                ax.set_xticks(range(n), labels=tokens, fontsize=8)
            else:
                ax.set_xticks([])  # no ticks at all: each one is two lines and a text to draw
            if head == 0:
                ax.set_yticks(range(n), labels=tokens, fontsize=8)
            else:
                ax.set_yticks([])
        axes[layer, 0].set_ylabel("query")
    for ax in axes[-1]:
        ax.set_xlabel("key")
    axes[0, 0].figure.colorbar(image, ax=axes.ravel().tolist(), fraction=0.02, pad=0.02, label="weight")
    return axes


def plot_ablation(table, baseline, ax, title="Accuracy with one head switched off"):
    """Bars: exact match with each head zeroed; a dashed line at the full model's. table: (n_layers, n_heads)."""
    table = torch.as_tensor(table)
    n_layers, n_heads = table.shape
    labels = [f"L{layer} H{head}" for layer in range(n_layers) for head in range(n_heads)]
    colors = ["#3b528b" if layer == 0 else "#5ec962" for layer in range(n_layers) for _ in range(n_heads)]
    hatches = ["" if layer == 0 else "//" for layer in range(n_layers) for _ in range(n_heads)]
    bars = ax.bar(range(len(labels)), table.flatten().tolist(), color=colors, hatch=hatches, edgecolor="white")
    for bar, value in zip(bars, table.flatten().tolist(), strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, value + 0.01, f"{value:.0%}", ha="center", fontsize=8)
    ax.axhline(baseline, color="#440154", linestyle="--", label=f"all heads: {baseline:.2%}")
    ax.set_xticks(range(len(labels)), labels=labels)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("head switched off (layer 0 plain, layer 1 hatched)")
    ax.set_ylabel("exact match")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return ax
