"""The tolerant comparison of native-numerics runs: a last-digit change passes; a word, a verdict, a layout or
a number beyond the tolerance fails. Also end to end: nbval itself, with and without the hook."""

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat
import pytest
from tolerant_outputs import LAST_DIGIT_UNITS, NUMBER, TolerantText, numbers_agree, outputs_agree

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    ("stored", "new"),
    [
        ("weight 0.626\n", "weight 0.625\n"),
        ("85.0 % / 97.6 %", "84.9 % / 97.5 %"),
        ("1,977 of 2,000 sorted", "1,976 of 2,000 sorted"),
        ("median 93 % (range 91-95 %)", "median 94 % (range 90-95 %)"),
        ("loss -0.001", "loss 0.001"),
        ("error 3.6e-07", "error 3.5e-07"),
        ("| Post-LN | 0.35 | supported |", "| Post-LN | 0.37 | supported |"),
        ("same text", "same text"),
    ],
)
def test_a_change_within_the_last_digits_passes(stored, new):
    assert outputs_agree(stored, new)
    assert TolerantText(stored) == new and not TolerantText(stored) != new


@pytest.mark.parametrize(
    ("stored", "new", "what"),
    [
        ("claim 3: supported (4 of 5 seeds)", "claim 3: not supported (4 of 5 seeds)", "a verdict"),
        ("attention is faster", "attention is slower", "a word"),
        ("weight 0.626", "weight 0.622", "a number beyond the tolerance"),
        ("85 %", "80 %", "an accuracy beyond the tolerance"),
        ("error 3.6e-07", "error 3.3e-07", "an exponent's mantissa beyond the tolerance"),
        ("weight 0.626", "weight 0.63", "the number of decimals"),
        ("| a | 0.35 |", "| a |  0.35 |", "the table layout"),
        ("values 1 2", "values 1 2 3", "one more number"),
        ("head x1", "head x2", "a digit inside a word"),
        ("error 1e-07", "error 1.0", "an exponent dropped"),
    ],
)
def test_anything_else_fails(stored, new, what):
    assert not outputs_agree(stored, new), what
    assert TolerantText(stored) != new


def test_the_tolerance_is_the_stated_number_of_units_in_the_last_digit():
    assert LAST_DIGIT_UNITS == 2
    assert numbers_agree("0.50", "0.52") and not numbers_agree("0.50", "0.53")
    assert numbers_agree("12", "10") and not numbers_agree("12", "9")
    assert numbers_agree("2.5e-15", "2.7e-15") and not numbers_agree("2.5e-15", "2.8e-15")
    assert numbers_agree("0.626", "0.622", units=4)


def test_numbers_are_found_whole_and_not_inside_words():
    assert NUMBER.findall("d_k2 = 64, 1,977 of 2,000, x1, 2.5e-15, −3 and 3rd") == [
        "64",
        "1,977",
        "2,000",
        "2.5e-15",
        "−3",
    ]


def _notebook(path, source, stored):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored)]
    cell.execution_count = 1
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)


def _nbval_outcomes(folder, tolerant):
    """Run nbval on every notebook in folder; {notebook stem: passed?}."""
    hook = f"import sys; sys.path.insert(0, {str(TESTS)!r})\nimport tolerant_outputs\ntolerant_outputs.install()\n"
    (folder / "conftest.py").write_text(hook if tolerant else "")
    report = folder / "report.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider", "-q",
         f"--junitxml={report}", "--rootdir", str(folder), str(folder)],
        capture_output=True, text=True, timeout=300, cwd=folder,
    )  # fmt: skip
    cases = ElementTree.parse(report).getroot().iter("testcase")
    return {case.get("classname").removesuffix(".ipynb"): not list(case) for case in cases}


def test_nbval_with_the_hook_passes_a_last_digit_change_and_fails_a_verdict_or_a_larger_change(tmp_path):
    _notebook(tmp_path / "last_digit.ipynb", 'print("weight 0.625, supported")', "weight 0.626, supported\n")
    _notebook(tmp_path / "verdict.ipynb", 'print("weight 0.626, not supported")', "weight 0.626, supported\n")
    _notebook(tmp_path / "beyond.ipynb", 'print("weight 0.620, supported")', "weight 0.626, supported\n")
    assert _nbval_outcomes(tmp_path, tolerant=True) == {"last_digit": True, "verdict": False, "beyond": False}
    assert _nbval_outcomes(tmp_path, tolerant=False) == {"last_digit": False, "verdict": False, "beyond": False}
