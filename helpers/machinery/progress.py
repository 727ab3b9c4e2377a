"""Which exercises a learner has passed, kept in a small local file and never sent anywhere.

Every self-check records its verdict here (helpers.machinery.exercise_checking.report calls `record`); the summary
cell at the end of a lesson, and the one in 00_start_here, call `progress_summary`. A lesson's checkers are the
`check_...` functions of its room's `exercises` module: 04_masking's are in helpers.lessons.l04_masking.exercises.

The file is JSON: {"exercises": {"<lesson>.<checker>": {"title", "passed", "attempts"}}}, at
~/.attention_hands_on/progress.json, or wherever the environment variable
ATTENTION_HANDS_ON_PROGRESS points (the course's tests and output scripts point it at a
temporary file). Deleting it starts the record afresh. A failed attempt never undoes a pass.
"""

import importlib
import inspect
import json
import os
import tempfile
from pathlib import Path

__all__ = [
    "LESSONS",
    "LESSON_EXERCISES",
    "progress_path",
    "record",
    "load_progress",
    "lesson_checkers",
    "progress_summary",
]

ENVIRONMENT_VARIABLE = "ATTENTION_HANDS_ON_PROGRESS"
LESSONS = (
    "00_start_here",
    "01_queries_keys_values",
    "02_scaling_by_sqrt_dk",
    "03_softmax",
    "04_masking",
    "05_multi_head_attention",
    "06_add_and_norm",
    "07_complexity",
    "08_before_transformers_bahdanau",
    "09_transformer_end_to_end",
)
# Each lesson's notebook and the module that holds its checkers: the room named like the notebook.
LESSON_EXERCISES = {lesson: f"helpers.lessons.l{lesson}.exercises" for lesson in LESSONS}
# Records written before the lessons had rooms were keyed by the old module's name: read them as their lesson's.
_OLD_KEY_PREFIXES = dict(
    zip(
        (
            "start_here",
            "queries_keys_values",
            "scaling",
            "softmax",
            "masking",
            "multi_head",
            "add_and_norm",
            "complexity",
            "bahdanau",
            "transformer",
        ),
        LESSONS,
        strict=True,
    )
)


def progress_path():
    """Where the record is kept: $ATTENTION_HANDS_ON_PROGRESS, or ~/.attention_hands_on/progress.json."""
    chosen = os.environ.get(ENVIRONMENT_VARIABLE)
    return Path(chosen) if chosen else Path.home() / ".attention_hands_on" / "progress.json"


def load_progress():
    """The record as {key: {"title", "passed", "attempts"}}; empty if there is none or it is unreadable."""
    try:
        data = json.loads(progress_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    exercises = data.get("exercises") if isinstance(data, dict) else None
    return _with_current_keys(exercises) if isinstance(exercises, dict) else {}


def _with_current_keys(exercises):
    """The record with old keys ("softmax.check_softmax") read as their lesson's ("03_softmax.check_softmax")."""
    current = {}
    for key, entry in exercises.items():
        prefix, _, checker = str(key).partition(".")
        if prefix in _OLD_KEY_PREFIXES:
            key = f"{_OLD_KEY_PREFIXES[prefix]}.{checker}"
        earlier = current.get(key)
        if isinstance(earlier, dict) and isinstance(entry, dict):  # the same exercise under its old and new key
            entry = {
                "title": entry.get("title") or earlier.get("title"),
                "passed": bool(earlier.get("passed")) or bool(entry.get("passed")),
                "attempts": _attempts(earlier) + _attempts(entry),
            }
        current[key] = entry
    return current


def _attempts(entry):
    try:
        return int(entry.get("attempts", 0))
    except (TypeError, ValueError):
        return 0


def record(key, title, passed):
    """Note one attempt at the exercise `key` ("<lesson>.<checker>"). Returns False if the file cannot be written.

    A check must never fail because of its record: every file error is swallowed here.
    """
    exercises = load_progress()
    entry = exercises.get(key) if isinstance(exercises.get(key), dict) else {}
    exercises[key] = {
        "title": str(title),
        "passed": bool(passed) or bool(entry.get("passed")),
        "attempts": int(entry.get("attempts", 0)) + 1,
    }
    path = progress_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as file:
            json.dump({"exercises": exercises}, file, indent=1, sort_keys=True)
        os.replace(file.name, path)  # whole or not at all, even if the kernel dies mid-write
    except OSError:
        return False
    return True


def lesson_checkers(lesson):
    """The `check_...` functions of a lesson (e.g. "03_softmax"), in the order its exercises module defines them."""
    module = importlib.import_module(LESSON_EXERCISES[lesson])
    checkers = [
        function
        for name, function in vars(module).items()
        if name.startswith("check_") and inspect.isfunction(function) and function.__module__ == module.__name__
    ]
    return sorted(checkers, key=lambda function: function.__code__.co_firstlineno)


def _lesson_lines(lesson, exercises):
    checkers = lesson_checkers(lesson)
    entries = [exercises.get(f"{lesson}.{checker.__name__}", {}) for checker in checkers]
    passed = sum(bool(entry.get("passed")) for entry in entries)
    lines = [f"{lesson}: {passed} of {len(checkers)} exercises passed"]
    for checker, entry in zip(checkers, entries, strict=True):
        mark = "✓" if entry.get("passed") else ("✗" if entry else "·")
        state = "passed" if entry.get("passed") else ("tried, not passed yet" if entry else "not tried yet")
        name = entry.get("title") or _untried_name(checker)
        lines.append(f"  {mark} {name} ({state})")
    return lines


def _untried_name(checker):
    """ "Exercise 2: check_softmax": the label its docstring starts with, and the checker's name."""
    label = (checker.__doc__ or "").strip().split(":", 1)[0]
    return f"{label}: {checker.__name__}" if label.startswith("Exercise") and len(label) < 20 else checker.__name__


def _shown(path):
    """The path with the home folder written as ~."""
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except ValueError:
        return str(path)


class ProgressSummary:
    """The summary as text: `lines`, shown as plain text in a notebook."""

    def __init__(self, lines):
        self.lines = lines

    def __repr__(self):
        return "\n".join(self.lines)


def progress_summary(lesson=None):
    """Your exercises so far: one lesson (e.g. "03_softmax") or, with lesson=None, every lesson.

    ✓ passed, ✗ tried but not passed yet, · not tried. Returns a ProgressSummary (shown as text).
    """
    lessons = list(LESSON_EXERCISES) if lesson is None else [lesson]
    unknown = [name for name in lessons if name not in LESSON_EXERCISES]
    if unknown:
        raise ValueError(f"no lesson named {unknown[0]!r}; lessons: {', '.join(LESSON_EXERCISES)}")
    exercises = load_progress()
    lines = []
    for name in lessons:
        lines += _lesson_lines(name, exercises)
    lines.append(f"(Kept only on this computer, in {_shown(progress_path())}; delete it to start afresh.)")
    return ProgressSummary(lines)
