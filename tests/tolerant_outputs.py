"""Tolerant comparison of notebook outputs, for runs whose kernels are the machine's own (native numerics).

nbval compares a cell's new output with the stored one character for character. With native numerics
(another CPU, or Apple Silicon, or this machine without helpers.machinery.numerics' pinning) the last printed digit
of a measured number may move. In tolerant mode two outputs agree when

- everything but the numbers is identical: words, verdicts, table layout, spacing, signs of life;
- they hold the same numbers in the same places, each printed with the same number of digits;
- each pair of numbers differs by at most LAST_DIGIT_UNITS units in the stored number's last printed digit
  (0.626 against 0.625 passes, 0.626 against 0.622 fails; 85 % against 84 % passes, against 80 % fails).

A number here is a run of digits standing on its own (not inside a word such as `d_k2` or `x1`), with an
optional sign, thousands separators, decimals and exponent: `-3`, `1,977`, `0.626`, `2.5e-15`, `85`.

The hook is the smallest one nbval offers: every string nbval compares passes through its `sanitize`, and
in tolerant mode that returns the same string as a `TolerantText`, whose `==` and `!=` are the comparison
above. nbval's own checks (which outputs exist, how many of each kind, in which order) are untouched.
"""

import math
import re

__all__ = ["LAST_DIGIT_UNITS", "TolerantText", "numbers_agree", "outputs_agree", "install"]

LAST_DIGIT_UNITS = 2

NUMBER = re.compile(
    r"(?<![\w.])"  # not the tail of a word or of another number
    r"[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+−]?\d+)?"
    r"(?![\w])"  # not the head of a word (3rd, 64d)
)


def _value_and_unit(token):
    """(value, one unit in the last printed digit) of a number as printed: '0.626' -> (0.626, 0.001)."""
    text = token.replace(",", "").replace("−", "-")
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    power = int(exponent) if exponent else 0
    return float(text), 10.0 ** (power - decimals)


def _shape(token):
    """What must not change about a printed number: how many decimals, and whether it has an exponent."""
    mantissa, e, _ = token.lower().partition("e")
    return len(mantissa.partition(".")[2]), bool(e)


def numbers_agree(stored, new, units=LAST_DIGIT_UNITS):
    """True if two printed numbers have as many decimals (both or neither with an exponent) and differ by
    at most `units` in the stored number's last printed digit."""
    if _shape(stored) != _shape(new):
        return False
    (a, unit), (b, _) = _value_and_unit(stored), _value_and_unit(new)
    return math.isclose(a, b, rel_tol=0, abs_tol=units * unit * (1 + 1e-9))


def outputs_agree(stored, new, units=LAST_DIGIT_UNITS):
    """True if two output texts are the same but for numbers that agree (see the module's docstring)."""
    if stored == new:
        return True
    stored_words, new_words = NUMBER.split(stored), NUMBER.split(new)
    if stored_words != new_words:
        return False
    return all(numbers_agree(a, b, units) for a, b in zip(NUMBER.findall(stored), NUMBER.findall(new), strict=True))


class TolerantText(str):
    """A str whose == and != are outputs_agree: what nbval compares in tolerant mode."""

    def __eq__(self, other):
        return isinstance(other, str) and outputs_agree(str(self), str(other))

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__


def install():
    """Make nbval compare within the tolerance, for this pytest run."""
    from nbval.plugin import IPyNbCell

    plain_sanitize = IPyNbCell.sanitize

    def tolerant_sanitize(self, s):
        s = plain_sanitize(self, s)
        return TolerantText(s) if isinstance(s, str) else s

    IPyNbCell.sanitize = tolerant_sanitize
