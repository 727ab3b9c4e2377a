"""helpers.machinery.progress: the local record of passed exercises, and the summaries built from it."""

import ast
import importlib
import json
import re
from pathlib import Path

import pytest
import torch

from helpers.lessons.l03_softmax.exercises import check_softmax
from helpers.machinery import progress

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture
def record_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv(progress.ENVIRONMENT_VARIABLE, str(path))
    return path


def good_softmax(x, dim=-1):
    shifted = x - x.amax(dim=dim, keepdim=True)
    return torch.exp(shifted) / torch.exp(shifted).sum(dim=dim, keepdim=True)


def bad_softmax(x, dim=-1):
    return torch.exp(x) / torch.exp(x).sum(dim=dim, keepdim=True)  # overflows


def test_a_check_records_its_verdict_and_a_later_failure_does_not_undo_a_pass(record_file, capsys):
    assert check_softmax(bad_softmax) is False
    entry = progress.load_progress()["03_softmax.check_softmax"]
    assert entry["passed"] is False and entry["attempts"] == 1 and entry["title"].startswith("Exercise")
    assert check_softmax(good_softmax) is True
    assert check_softmax(bad_softmax) is False
    entry = json.loads(record_file.read_text())["exercises"]["03_softmax.check_softmax"]
    assert entry["passed"] is True and entry["attempts"] == 3


def test_the_summary_marks_passed_tried_and_untried_exercises_in_lesson_order(record_file, capsys):
    check_softmax(good_softmax)
    progress.record("03_softmax.check_logsumexp", "Exercise 3: log-sum-exp", False)
    lines = repr(progress.progress_summary("03_softmax")).splitlines()
    names = [checker.__name__ for checker in progress.lesson_checkers("03_softmax")]
    assert lines[0] == f"03_softmax: 1 of {len(names)} exercises passed"
    assert names.index("check_softmax") < names.index("check_logsumexp")
    marks = {line.split()[0] for line in lines[1 : 1 + len(names)]}
    assert marks == {"✓", "✗", "·"}
    assert any(line.startswith("  ✓ Exercise 2") and "(passed)" in line for line in lines)
    assert any(line.startswith("  ✗ Exercise 3") and "not passed yet" in line for line in lines)
    assert str(record_file) in lines[-1]  # where the record is, as the environment variable says
    untried = next(line for line in lines if line.startswith("  ·"))
    assert re.match(r"  · Exercise \d: check_\w+ \(not tried yet\)$", untried), untried


def test_the_full_summary_covers_every_lesson(record_file):
    text = repr(progress.progress_summary())
    for lesson in progress.LESSON_EXERCISES:
        assert re.search(rf"^{lesson}: 0 of \d+ exercises passed$", text, re.MULTILINE)


def test_a_damaged_or_unwritable_record_never_breaks_a_check(tmp_path, monkeypatch, capsys):
    damaged = tmp_path / "progress.json"
    damaged.write_text("{not json")
    monkeypatch.setenv(progress.ENVIRONMENT_VARIABLE, str(damaged))
    assert progress.load_progress() == {}
    assert check_softmax(good_softmax) is True
    assert progress.load_progress()["03_softmax.check_softmax"]["passed"] is True
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(progress.ENVIRONMENT_VARIABLE, str(blocker / "progress.json"))  # its folder is a file
    assert progress.record("03_softmax.check_softmax", "t", True) is False
    assert check_softmax(good_softmax) is True


def test_the_default_place_is_in_the_home_folder(monkeypatch):
    monkeypatch.delenv(progress.ENVIRONMENT_VARIABLE, raising=False)
    assert progress.progress_path() == Path.home() / ".attention_hands_on" / "progress.json"


def test_an_unknown_lesson_is_refused():
    with pytest.raises(ValueError, match="no lesson named '99_nothing'"):
        progress.progress_summary("99_nothing")


def test_every_lesson_with_exercises_is_registered_with_its_module():
    """A notebook's checkers come from its own room's exercises module, and that pair is in LESSON_EXERCISES."""
    used = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        modules = set()
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            lines = "".join(cell["source"]).splitlines()
            python = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(python)):
                if isinstance(node, ast.ImportFrom) and any(alias.name.startswith("check_") for alias in node.names):
                    checker = next(alias.name for alias in node.names if alias.name.startswith("check_"))
                    modules.add(importlib.import_module(node.module).__dict__[checker].__module__)
        if modules:
            assert len(modules) == 1, f"{path.name} uses checkers from several modules: {modules}"
            used[path.stem] = modules.pop()
    assert used == progress.LESSON_EXERCISES


def placeholder(*args):
    raise NotImplementedError  # your code here


def test_running_an_untouched_exercise_cell_is_not_counted_as_trying(record_file, capsys):
    from helpers.lessons.l04_masking.exercises import check_where_the_mask_goes
    from helpers.lessons.l05_multi_head_attention.exercises import check_parameter_count
    from helpers.lessons.l08_before_transformers_bahdanau.exercises import check_sequential_steps

    assert check_softmax(placeholder) is False  # the cell as the notebook ships it
    assert check_parameter_count(None) is False
    assert check_where_the_mask_goes({"0 after softmax": None, "-1e9 before softmax": None}) is False
    assert check_sequential_steps(None, None) is False
    assert progress.load_progress() == {}
    assert "Not yet" in capsys.readouterr().out  # the learner still sees the checker's verdict

    check_sequential_steps(15, None)  # one of two answers given: that is an attempt
    check_parameter_count(12)
    check_softmax(bad_softmax)
    tried = progress.load_progress()
    assert set(tried) == {
        "08_before_transformers_bahdanau.check_sequential_steps",
        "05_multi_head_attention.check_parameter_count",
        "03_softmax.check_softmax",
    }
    assert not any(entry["passed"] for entry in tried.values())


def test_every_lesson_run_top_to_bottom_stores_a_summary_with_nothing_tried(record_file):
    """make_outputs runs the exercise cells with their placeholders: the stored summaries must show a
    fresh learner (· for every exercise) and the learner's own file, not the run's temporary one."""
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        summaries = [
            "".join(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
            for cell in notebook["cells"]
            if cell["cell_type"] == "code" and "progress_summary(" in "".join(cell["source"])
            for output in cell["outputs"]
        ]
        assert summaries, f"{path.name}: no stored progress summary"
        for text in summaries:
            text = "".join(text)
            assert "✗" not in text and "✓" not in text and "·" in text, f"{path.name}: {text}"
            assert "(Kept only on this computer, in ~/.attention_hands_on/progress.json;" in text, text


def test_a_record_written_before_the_lessons_had_rooms_still_counts(record_file):
    """Old keys ("softmax.check_softmax") are read as their lesson's; a pass under either key is a pass."""
    record_file.write_text(
        json.dumps(
            {
                "exercises": {
                    "softmax.check_softmax": {"title": "Exercise 2: softmax", "passed": True, "attempts": 2},
                    "03_softmax.check_softmax": {"title": "Exercise 2: softmax", "passed": False, "attempts": 1},
                    "masking.check_causal_mask": {"title": "Exercise 1: causal mask", "passed": False, "attempts": 1},
                }
            }
        )
    )
    record = progress.load_progress()
    assert set(record) == {"03_softmax.check_softmax", "04_masking.check_causal_mask"}
    assert record["03_softmax.check_softmax"]["passed"] is True
    assert record["03_softmax.check_softmax"]["attempts"] == 3
    assert "✓ Exercise 2: softmax (passed)" in repr(progress.progress_summary("03_softmax"))
