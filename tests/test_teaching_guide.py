"""docs/teaching.md, the teacher's guide, keeps up with the notebooks.

Every lesson notebook found in notebooks/ has a section `## NN · Title` (the notebook's own title) with the
six subsections in order; the widgets it tells the teacher to show are the ones the notebook calls, and its
exercises are exactly the notebook's self-checks. Adding a lesson without a guide section fails here.
"""

import functools
import re
from pathlib import Path

import nbformat
import pytest
from tolerant_outputs import NUMBER  # a number as printed, the same rule nbval's tolerant mode uses

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "teaching.md"
NOTEBOOK_PATHS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SUBSECTIONS = [
    "Learning goals",
    "Time needed",
    "Misconceptions it addresses",
    "Questions for discussion",
    "Widgets to demonstrate live",
    "Exercises",
]
CHECK = re.compile(r"\bcheck_\w+")
CHECK_CALL = re.compile(r"\b(check_\w+)\s*\(")
NAMED_CALL = re.compile(r"`(\w+)\(")  # a function named in the guide as `name(...)`
WIDGET_CALL = re.compile(r"\b(\w+_explorer|\w+_view)\s*\(")  # the course's explorers and bertviz views


@functools.cache
def read(path):
    return nbformat.read(path, as_version=4)


def title(path):
    """'NN · Title', from the notebook's first cell '# NN · Title'."""
    first = read(path).cells[0].source.splitlines()[0]
    assert first.startswith("# "), f"{path.name}: the first cell starts with the title '# NN · Title'"
    return first[2:].strip()


def code_of(path):
    return "\n".join(cell.source for cell in read(path).cells if cell.cell_type == "code")


def split(text, marker):
    """{heading: body} for the headings starting with `marker` (e.g. '## '), in order; code blocks skipped."""
    sections, current, in_code = {}, None, False
    for line in text.splitlines():
        in_code ^= line.startswith("```")
        if not in_code and line.startswith(marker):
            current = line[len(marker) :].strip()
            assert current not in sections, f"the heading {marker}{current} appears twice"
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {heading: "\n".join(lines) for heading, lines in sections.items()}


@pytest.fixture(scope="module")
def lessons():
    assert GUIDE.exists(), "docs/teaching.md, the teacher's guide, is missing"
    return split(GUIDE.read_text(encoding="utf-8"), "## ")


def subsections(lessons, path):
    heading = title(path)
    assert heading in lessons, f"docs/teaching.md has no section '## {heading}' for {path.name}"
    return split(lessons[heading], "### ")


def subsection(lessons, path, name):
    found = subsections(lessons, path)
    assert name in found, f"'## {title(path)}' has no subsection '### {name}'"
    return found[name]


def test_notebooks_are_found():
    assert len(NOTEBOOK_PATHS) >= 10, "the lesson notebooks are notebooks/NN_*.ipynb"


def test_every_guide_section_is_a_lesson(lessons):
    titles = {title(path) for path in NOTEBOOK_PATHS}
    numbered = [heading for heading in lessons if re.match(r"\d\d · ", heading)]
    assert numbered == sorted(numbered), "lesson sections appear in the order of the lessons"
    stale = [heading for heading in numbered if heading not in titles]
    assert not stale, f"sections for no notebook (renamed or retitled?): {stale}"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_section_has_the_six_subsections_in_order(lessons, path):
    found = list(subsections(lessons, path))
    assert found == SUBSECTIONS, f"'## {title(path)}' has subsections {found}, expected {SUBSECTIONS}"
    for name, body in subsections(lessons, path).items():
        assert body.strip(), f"'## {title(path)}' › '{name}' is empty"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_time_gives_class_minutes_and_measured_run_time(lessons, path):
    time = subsection(lessons, path, "Time needed")
    assert re.search(r"\d+\s*min", time), "give the class time in minutes"
    assert re.search(r"\d+(\.\d+)?\s*s\b", time), "give the measured run time in seconds"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_three_or_four_questions_with_model_answers(lessons, path):
    answers = subsection(lessons, path, "Questions for discussion").count("Model answer")
    assert 3 <= answers <= 4, f"'## {title(path)}': {answers} model answers, expected 3 or 4 questions"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_widgets_named_are_the_ones_the_notebook_calls(lessons, path):
    text = subsection(lessons, path, "Widgets to demonstrate live")
    code = code_of(path)
    named = set(NAMED_CALL.findall(text))
    assert named, f"'## {title(path)}': name each widget by its factory, e.g. `attention_map_explorer()`"
    not_called = sorted(name for name in named if not re.search(rf"\b{name}\s*\(", code))
    assert not not_called, f"{path.name} never calls {not_called}"
    left_out = sorted(set(WIDGET_CALL.findall(code)) - named)
    assert not left_out, f"{path.name} shows widgets the guide leaves out: {left_out}"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_exercises_are_exactly_the_notebooks_checkers(lessons, path):
    named = set(CHECK.findall(subsection(lessons, path, "Exercises")))
    called = set(CHECK_CALL.findall(code_of(path)))
    assert named - called == set(), f"{path.name} has no exercise {sorted(named - called)}"
    assert called - named == set(), f"the guide leaves out {path.name}'s exercises {sorted(called - named)}"


# A number the guide quotes as a result: one with decimals, or a percentage. It must be one the notebook prints in
# a compared cell (or one of the notebook's own settings, in its source), so a guide cannot drift from the data
# or quote digits that only one CPU produces. Run times (### Time needed) are make bench's, on the stated machine.
QUOTED = re.compile(r"(?<![\w.])\d[\d,]*\.\d+(?![\w.])|(?<![\w.])\d[\d,]*(?:\.\d+)?(?=\s?%)")
TEXT_KINDS = ("text/plain", "text/markdown", "text/html")


def numbers_printed_or_set(path):
    """The numbers in the notebook's compared outputs and in its cells' sources, as printed."""
    texts = []
    for cell in read(path).cells:
        texts.append(cell.source)
        if cell.cell_type != "code" or "NBVAL_IGNORE_OUTPUT" in cell.source:
            continue
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.extend(output.get("data", {}).get(kind, "") for kind in TEXT_KINDS)
    return {number.lstrip("-−") for text in texts for number in NUMBER.findall(str(text))}


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_numbers_quoted_are_the_ones_the_notebook_prints(lessons, path):
    quoted = {
        number
        for name, text in subsections(lessons, path).items()
        if name != "Time needed"
        for number in QUOTED.findall(text)
    }
    missing = sorted(quoted - numbers_printed_or_set(path))
    assert not missing, (
        f"'## {title(path)}' quotes {missing}, which {path.name} does not print in a compared cell: quote what the "
        "notebook prints (after make outputs), or a range that holds on any CPU"
    )
