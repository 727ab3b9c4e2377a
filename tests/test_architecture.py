"""The shape of helpers/, read from the source with ast: the library, the machinery, one room per lesson.

    helpers/library/     what the course teaches; imports nothing else of ours
    helpers/machinery/   what the lessons stand on; imports the library, never a lesson
    helpers/lessons/lNN_<notebook>/   one lesson's experiments, explorers and checkers; imports the
                         library and the machinery, never another lesson

Also: every notebook has its room and imports only from it, the library and the machinery; no module
is over about 400 lines unless its docstring says why; and one idea has one name across the course.
"""

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ROOT / "helpers"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MODULES = sorted(HELPERS.rglob("*.py"))
ROOMS = sorted(path.name for path in (HELPERS / "lessons").iterdir() if (path / "__init__.py").exists())
MAX_LINES = 400
# Words that carry no idea of their own when two names are compared ("add_and_norm" is "add", "norm").
GLUE_WORDS = {"and", "by", "of", "the", "to", "a", "before", "end"}


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree, name, is_package=False):
    """Every module of ours a source imports (at the top, inside functions, relative or absolute)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module
            for (
                alias
            ) in node.names:  # `from helpers.lessons import l04_masking` imports the room, not only the registry
                found.add(f"{base}.{alias.name}" if is_module(f"{base}.{alias.name}") else base)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return {module for module in found if module == "helpers" or module.startswith("helpers.")}


def imports_of(path):
    return imported_modules(ast.parse(path.read_text(encoding="utf-8")), module_name(path), path.name == "__init__.py")


def part_of(module):
    """ "library", "machinery", "lessons.<room>", "lessons" (the registry) or "helpers" (the package itself)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "helpers"
    if parts[1] == "lessons":
        return "lessons" if len(parts) == 2 else f"lessons.{parts[2]}"
    return parts[1]


def is_module(name):
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def real_modules(modules):
    """Drop names that are not modules of ours (a misspelt import fails on its own, when it runs)."""
    return {module for module in modules if is_module(module)}


def test_the_tree_has_the_three_parts_and_nothing_else():
    entries = {path.name for path in HELPERS.iterdir() if path.name != "__pycache__"}
    assert entries == {"__init__.py", "library", "machinery", "lessons"}


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(HELPERS)))
def test_each_part_imports_only_what_it_may(path):
    own = part_of(module_name(path))
    imported = {part_of(module) for module in real_modules(imports_of(path))}
    if own == "library":
        allowed = {"library"}
    elif own == "machinery":
        allowed = {"library", "machinery"}
    elif own.startswith("lessons."):
        allowed = {"library", "machinery", own}
    else:  # helpers/__init__.py (set_seed, lazily) and helpers/lessons/__init__.py (the explorer registry)
        allowed = {"machinery", "lessons"} | {f"lessons.{room}" for room in ROOMS}
    assert imported <= allowed, f"{path.relative_to(ROOT)} ({own}) imports {sorted(imported - allowed)}"


def test_the_import_check_catches_what_it_is_for():
    """A lesson importing another lesson, relatively or through importlib, is seen (the check can fail)."""
    source = (
        "import importlib\n"
        "from helpers.lessons.l03_softmax.variants import sparsemax\n"
        "from ..l02_scaling_by_sqrt_dk import variance\n"
        "def later():\n"
        "    from helpers.lessons import l01_queries_keys_values\n"
        "    return importlib.import_module('helpers.lessons.l00_start_here.explorer')\n"
    )
    found = imported_modules(ast.parse(source), "helpers.lessons.l04_masking.padding")
    parts = {part_of(module) for module in found}
    assert {"lessons.l03_softmax", "lessons.l02_scaling_by_sqrt_dk", "lessons.l01_queries_keys_values"} <= parts
    assert "lessons.l00_start_here" in parts


def test_every_notebook_has_its_room_and_every_room_its_notebook():
    assert ROOMS == [f"l{path.stem}" for path in NOTEBOOKS]


def notebook_code(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            yield "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_imports_only_its_room_the_library_and_the_machinery(path):
    allowed = {"helpers", "library", "machinery", f"lessons.l{path.stem}"}
    imported = set()
    for source in notebook_code(path):
        imported |= {part_of(module) for module in real_modules(imported_modules(ast.parse(source), "__main__"))}
    assert imported, f"{path.name} imports nothing from helpers"
    assert imported <= allowed, f"{path.name} imports {sorted(imported - allowed)}"


def docstring(path):
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(HELPERS)))
def test_a_module_is_short_enough_to_read_in_one_sitting(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines > MAX_LINES:
        assert "over 400 lines" in docstring(path), (
            f"{path.relative_to(ROOT)} has {lines} lines: split it by idea, or say in its docstring which one idea "
            "needs it and why ('... over 400 lines because ...')"
        )


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(HELPERS)))
def test_every_module_says_what_it_holds(path):
    assert docstring(path).strip(), f"{path.relative_to(ROOT)} has no docstring"


def words(name):
    return [word for word in name.lower().split("_") if word]


def content_words(name):
    return frozenset(words(name)) - GLUE_WORDS


def initials(name):
    return "".join(word[0] for word in words(name))


def same_idea_other_spelling(a, b):
    """'add_norm' and 'add_and_norm', 'qkv' and 'queries_keys_values': two names for one idea."""
    if a == b:
        return False
    if content_words(a) == content_words(b):
        return True
    return len(words(b)) >= 3 and a == initials(b) or len(words(a)) >= 3 and b == initials(a)


def course_names():
    """(name, where) for every module, package and room topic of helpers/, and every notebook alias of a room."""
    names = []
    for path in MODULES:
        stem = path.parent.name if path.name == "__init__.py" else path.stem
        names.append((re.sub(r"^l\d\d_", "", stem), str(path.relative_to(ROOT))))
    for path in NOTEBOOKS:
        for source in notebook_code(path):
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names += [(alias.asname, path.name) for alias in node.names if alias.asname]
    return names


def test_one_idea_has_one_name_across_the_course():
    names = course_names()
    clashes = sorted(
        {(a, where_a, b, where_b) for a, where_a in names for b, where_b in names if same_idea_other_spelling(a, b)}
    )
    assert not clashes, "two names for one idea: " + "; ".join(f"{a} ({wa}) vs {b} ({wb})" for a, wa, b, wb in clashes)


@pytest.mark.parametrize(
    ("a", "b"),
    [("add_norm", "add_and_norm"), ("qkv", "queries_keys_values"), ("norm_add", "add_and_norm")],
)
def test_the_name_check_sees_another_spelling(a, b):
    assert same_idea_other_spelling(a, b)


@pytest.mark.parametrize(
    ("a", "b"), [("masking", "masking"), ("scaling", "scaling_by_sqrt_dk"), ("exercises", "explorer")]
)
def test_the_name_check_leaves_different_ideas_alone(a, b):
    assert not same_idea_other_spelling(a, b)


@pytest.mark.parametrize("room", ROOMS)
def test_a_room_offers_everything_its_modules_offer(room):
    """The notebook imports from the room: each module's __all__ (but EXPLORERS) is there, as the same object."""
    package = importlib.import_module(f"helpers.lessons.{room}")
    for path in sorted((HELPERS / "lessons" / room).glob("*.py")):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module(f"{package.__name__}.{path.stem}")
        assert hasattr(module, "__all__"), f"{path.relative_to(ROOT)} has no __all__"
        for name in module.__all__:
            if name == "EXPLORERS":
                continue
            assert name in package.__all__, f"{room} does not offer {path.stem}.{name}"
            assert getattr(package, name) is getattr(module, name), f"{room}.{name} is not {path.stem}.{name}"


def test_explorers_live_in_modules_named_explorer():
    """helpers.lessons.EXPLORERS finds a room's explorers by module name: an EXPLORERS elsewhere would be missed."""
    for path in (HELPERS / "lessons").glob("*/*.py"):
        if "EXPLORERS = {" in path.read_text(encoding="utf-8"):
            assert path.stem.endswith("explorer"), f"{path.relative_to(ROOT)} lists explorers but is not an explorer"
