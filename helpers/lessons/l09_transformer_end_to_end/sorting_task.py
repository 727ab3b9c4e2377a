"""09: the digit-sorting task: its tokens, its examples, and the split into training and held-out sequences.

The task: sort a short sequence of digits. Each example is written "input = output",
    3 1 4 1 5 = 1 1 3 4 5
with 1 to MAX_DIGITS digits. The model reads the sequence left to right and learns to predict each
next token; the loss counts only the output digits (the input is random: nothing to learn there).
Sorting needs attention: the next output digit is somewhere in the input, at a position that
depends on the digits, not on a fixed offset.

Vocabulary (TOKENS): the digits 0-9, SEP "=" and PAD "_" (filler after the end; never predicted).

    parse_digits(text)                 check typed input: only digits, 1 to MAX_DIGITS of them
    encode(text) / decode(ids)         between strings of tokens and integer ids
    is_held_out(digits, lengths)       bool (B,): the one sequence in ten set aside for testing
    make_examples(digits, lengths)     "input = sorted input", padded: tokens (B, n), targets (B, n)
    sample_batch(generator, B)         training tokens (B, n) and targets (B, n), −100 where not scored
    held_out_set(size)                 different held-out sequences: never seen in training
    input_lengths(tokens)              the number of input digits L of each sequence: (B, n) -> (B,)

Shapes: B sequences, n = N_POSITIONS = 2·MAX_DIGITS positions (the model never reads the last token), L digits.
"""

import torch

from helpers.library.checks import require_int, require_tensor

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
    "TEST_SIZE",
    "TEST_SEED",
    "parse_digits",
    "encode",
    "decode",
    "is_held_out",
    "make_examples",
    "sample_batch",
    "held_out_set",
    "input_lengths",
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
TEST_SIZE, TEST_SEED = 2000, 1


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
