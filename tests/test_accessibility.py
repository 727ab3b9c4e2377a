"""Accessibility, in the spirit of jupyterlab-a11y-checker, over every notebook and every helpers module.

Everything is discovered (notebooks/*.ipynb, helpers/**/*.py), nothing is listed by hand:

1. Markdown: every image has alt text; each notebook has exactly one level-1 heading, its first line;
   no empty headings; link text says where it goes. (That headings never skip a level is
   tests/test_notebooks.py::test_headings_do_not_skip_levels.)
2. Colormaps: every colormap named anywhere in the code is colour-blind safe (ALLOWED_COLORMAPS).
3. Figure titles. A stored figure is a PNG whose text cannot be read back, and re-executing every
   notebook here would take minutes, so titles are checked where they are made:
   - statically, every helpers function that draws sets a title that cannot be empty, itself or
     through a function of its module that it calls;
   - statically, every notebook cell with a stored figure sets a title or calls such a helper;
   - by running them, the cheap plotting helpers with their default titles, and the live figures of
     lesson 09's generation explorer and training monitor: every Axes (colour bars aside) has a
     title, or the figure has one. (Building every registered explorer again here would cost tens
     of seconds; tests/test_machinery_explorer.py already builds them all.)
   What this cannot see: a cell or helper that titles one of its Axes and leaves another bare.
4. Widgets: every ipywidgets control built in helpers has a non-empty description (screen readers
   read it as the control's label), checked in the source for every call, and by walking the widget
   trees of lesson 09's generation explorer and training monitor, whose text box and progress bar are
   outside the `controls` that tests/test_machinery_explorer.py checks for every registered explorer.
"""

import ast
import functools
import json
import re
from pathlib import Path

import ipywidgets
import matplotlib
import matplotlib.style
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from ipywidgets.widgets.widget_description import DescriptionWidget
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_PATHS = sorted((ROOT / "notebooks").glob("*.ipynb"))
HELPER_PATHS = sorted((ROOT / "helpers").rglob("*.py"))


def markdown_cells(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"]


def code_cells(path):
    """(source as plain Python, cell) for each code cell; IPython syntax (%magics) is translated."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    translate = TransformerManager().transform_cell
    return [(translate("".join(cell["source"])), cell) for cell in notebook["cells"] if cell["cell_type"] == "code"]


@functools.cache
def helper_tree(path):
    return ast.parse(path.read_text(encoding="utf-8"))


def python_sources():
    """(name, Python source) of every helpers module and every notebook code cell."""
    for path in HELPER_PATHS:
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    for path in NOTEBOOK_PATHS:
        for index, (source, _) in enumerate(code_cells(path)):
            yield f"{path.name}, code cell {index + 1}", source


# --------------------------------------------------------------------------- 1. markdown

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`\n]*`")
MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\s*[(\[][^)\]]*[)\]]")
HTML_IMAGE = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
HTML_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t#]*$")
HTML_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1>", re.IGNORECASE | re.DOTALL)
LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)]*)\)")
VAGUE_LINK_TEXT = {"", "here", "click here", "this", "link", "this link", "more", "read more", "see here"}


def prose_lines(markdown, blank_code=True):
    """The lines of a markdown cell outside fenced code blocks, with inline code blanked out (unless not)."""
    in_fence = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield INLINE_CODE.sub("``", line) if blank_code else line


def image_problems(markdown):
    """Images without alt text: markdown ![](...) and HTML <img> without a non-empty alt."""
    text = "\n".join(prose_lines(markdown))
    problems = [f"image without alt text: {m.group(0)}" for m in MARKDOWN_IMAGE.finditer(text) if not m[1].strip()]
    for tag in HTML_IMAGE.findall(text):
        alt = HTML_ALT.search(tag)
        if alt is None or not "".join(part or "" for part in alt.groups()).strip():
            problems.append(f"<img> without alt text: {tag}")
    return problems


def headings(markdown):
    """(level, text) of each heading, markdown (# ...) and HTML (<h2>...</h2>), in order."""
    found = []
    for line in prose_lines(markdown):
        match = ATX_HEADING.match(line)
        if match:
            found.append((len(match.group(1)), (match.group(2) or "").strip()))
        found += [(int(level), re.sub(r"<[^>]+>", "", text).strip()) for level, text in HTML_HEADING.findall(line)]
    return found


def link_problems(markdown):
    text = "\n".join(prose_lines(markdown, blank_code=False))  # [`01_queries_keys_values`](...) names its target
    return [
        f"link text does not say where it goes: {m.group(0)}"
        for m in LINK.finditer(text)
        if m[1].strip().strip("`*_").lower() in VAGUE_LINK_TEXT or m[1].strip() == m[2].strip()
    ]


@pytest.mark.parametrize(
    ("markdown", "problems"),
    [
        ("![a heatmap of the weights](map.png)", 0),
        ("![](map.png) and ![ ](other.png)", 2),
        ('<img src="map.png" alt="attention map">', 0),
        ('<img src="map.png"> <img alt="" src="x.png">', 2),
        ("```\n![](inside a code block)\n```\nand `![](inline code)`", 0),
    ],
)
def test_the_image_check_finds_missing_alt_text(markdown, problems):
    assert len(image_problems(markdown)) == problems


def test_the_heading_and_link_checks_read_markdown_and_html():
    markdown = "# Title\n```\n# a comment in code\n```\n## \n<h3>Sub</h3>\n[here](x.ipynb) [`01_a`](01_a.ipynb)"
    assert headings(markdown) == [(1, "Title"), (2, ""), (3, "Sub")]
    assert link_problems(markdown) == ["link text does not say where it goes: [here](x.ipynb)"]


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_every_image_in_markdown_has_alt_text(path):
    problems = [problem for cell in markdown_cells(path) for problem in image_problems(cell)]
    assert not problems, f"{path.name}: {problems}"


def test_html_written_by_the_helpers_gives_images_alt_text():
    problems = [f"{path.name}: {p}" for path in HELPER_PATHS for p in image_problems(path.read_text(encoding="utf-8"))]
    assert not problems


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_one_title_opens_the_notebook_and_every_heading_has_text(path):
    cells = markdown_cells(path)
    first_cell = json.loads(path.read_text(encoding="utf-8"))["cells"][0]
    found = [heading for cell in cells for heading in headings(cell)]
    assert first_cell["cell_type"] == "markdown" and found, f"{path.name} must open with its title"
    assert headings("".join(first_cell["source"]))[0] == found[0] and found[0][0] == 1, (
        "the first heading is the # title"
    )
    titles = [text for level, text in found if level == 1]
    assert len(titles) == 1, f"{path.name}: one level-1 heading (the title), found {titles}"
    assert all(text for _, text in found), f"{path.name}: an empty heading"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_link_text_says_where_it_goes(path):
    problems = [problem for cell in markdown_cells(path) for problem in link_problems(cell)]
    assert not problems, f"{path.name}: {problems}"


# --------------------------------------------------------------------------- 2. colormaps

# Accepted, because their information is carried by lightness or stays apart under the common
# colour-vision deficiencies (deuteranopia, protanopia, tritanopia):
# - viridis, cividis, magma, inferno, plasma: perceptually uniform, monotonic in lightness, designed to
#   be read with colour-vision deficiencies and in greyscale (cividis is optimised for them);
# - greys (gray, grey, Greys, binary, gist_yarg, ...) and single-hue ColorBrewer sequential maps
#   (Blues, Oranges, Purples, ...): lightness only;
# - twilight, twilight_shifted: perceptually uniform cyclic maps;
# - diverging maps whose two ends are blue/purple against red/orange/brown, which stay distinct under
#   red-green deficiencies: coolwarm, RdBu, PuOr, BrBG, RdYlBu (ColorBrewer's colour-blind-safe list);
#   berlin, managua, vanimo (Crameri's perceptually uniform, colour-vision-deficiency-friendly maps);
# - okabe_ito: the Okabe-Ito qualitative palette, made for colour-blind readers.
# Refused, among others: jet, rainbow, gist_rainbow, hsv, nipy_spectral, turbo (hue rainbows whose
# lightness goes up and down), Spectral, RdYlGn, PiYG, PRGn (red against green ends), tab10/Set1
# (qualitative palettes with red and green), and styles such as "classic", whose image.cmap is jet.
ALLOWED_COLORMAPS = {
    *("viridis", "cividis", "magma", "inferno", "plasma"),
    *("gray", "grey", "Grays", "Greys", "binary", "gist_gray", "gist_grey", "gist_yarg", "gist_yerg"),
    *("Blues", "Oranges", "Purples"),
    *("twilight", "twilight_shifted"),
    *("coolwarm", "RdBu", "PuOr", "BrBG", "RdYlBu", "berlin", "managua", "vanimo"),
    "okabe_ito",
}


def colormap_uses(source):
    """(line, name) for every string in the code that names a colormap (or a style that sets one).

    Any string literal equal to a registered colormap name counts (e.g. cmap="jet",
    colormaps["jet"], plt.get_cmap("jet"), CMAP = "jet", rcParams["image.cmap"] = "jet"), with
    its reversed form "_r"; a style name counts as the colormap the style sets ("classic" → jet).
    """
    colormaps = set(matplotlib.colormaps)
    uses = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in colormaps:
                uses.append((node.lineno, node.value.removesuffix("_r")))
            elif node.value in matplotlib.style.library and "image.cmap" in matplotlib.style.library[node.value]:
                uses.append((node.lineno, matplotlib.style.library[node.value]["image.cmap"]))
    return uses


def test_every_accepted_colormap_exists():
    assert ALLOWED_COLORMAPS <= set(matplotlib.colormaps)


@pytest.mark.parametrize(
    ("source", "refused"),
    [
        ('ax.imshow(x, cmap="jet")', ["jet"]),
        ('CMAP = "rainbow_r"\nim = ax.imshow(x, cmap=CMAP)', ["rainbow"]),
        ('c = matplotlib.colormaps["RdYlGn"]; d = plt.get_cmap("Spectral")', ["RdYlGn", "Spectral"]),
        ('plt.rcParams["image.cmap"] = "nipy_spectral"', ["nipy_spectral"]),
        ('plt.style.use("classic")', ["jet"]),
        ('ax.imshow(x, cmap="viridis_r"); ax.set_title("heatmap")', []),
    ],
)
def test_the_colormap_scan_finds_unsafe_colormaps(source, refused):
    assert [name for _, name in colormap_uses(source) if name not in ALLOWED_COLORMAPS] == refused


def test_every_colormap_used_is_colour_blind_safe():
    uses = [(where, line, name) for where, source in python_sources() for line, name in colormap_uses(source)]
    assert {"viridis", "cividis"} <= {name for *_, name in uses}, "the scan no longer finds the course's colormaps"
    refused = [f"{where}, line {line}: {name}" for where, line, name in uses if name not in ALLOWED_COLORMAPS]
    assert not refused, f"colormaps that are not colour-blind safe (see ALLOWED_COLORMAPS): {refused}"


# --------------------------------------------------------------------------- 3. figure titles

DRAWING = {
    *("imshow", "matshow", "pcolormesh", "pcolor", "contour", "contourf", "hexbin", "hist", "hist2d"),
    *("plot", "semilogx", "semilogy", "loglog", "errorbar", "fill_between", "stairs", "stem"),
    *("bar", "barh", "scatter", "pie", "boxplot", "violinplot", "quiver"),
}
TITLE_CALLS = {"set_title", "suptitle"}
AXES_NAME = re.compile(r"(^|_)(ax|axes|plt)$")  # the course's names for Axes: ax, map_ax, axes[0], ...


def called_name(call):
    """f for f(...), and the attribute for x.f(...) (self.f, ax.set_title, module.plot_...)."""
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)


def calls(node):
    return [n for n in ast.walk(node) if isinstance(n, ast.Call)]


def draws(call):
    """True for ax.plot(...), map_ax.imshow(...), axes[0].bar(...): a drawing method called on an Axes
    (not torch's x.scatter(...) or optimizer.step())."""
    if called_name(call) not in DRAWING or not isinstance(call.func, ast.Attribute):
        return False
    target = call.func.value.value if isinstance(call.func.value, ast.Subscript) else call.func.value
    name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
    return bool(AXES_NAME.search(name))


def empty_defaults(function):
    """Parameters of `function` whose default is None or '' (a title taken from them may be empty)."""
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    pairs = list(zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults, strict=True))
    pairs += [(a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d is not None]
    return {arg.arg for arg, default in pairs if isinstance(default, ast.Constant) and not default.value}


def may_be_empty(value, function):
    """True if a title expression may be empty: missing, '' or a parameter that defaults to None or ''."""
    if value is None or (isinstance(value, ast.Constant) and not value.value):
        return True
    return isinstance(value, ast.Name) and function is not None and value.id in empty_defaults(function)


def title_argument(call):
    keywords = {keyword.arg: keyword.value for keyword in call.keywords}
    return call.args[0] if call.args else keywords.get("label", keywords.get("t"))


def module_functions(tree):
    """name -> function nodes (functions and methods) defined in a module."""
    functions = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.setdefault(node.name, []).append(node)
    return functions


def sets_title(function, functions, seen=frozenset()):
    """True if `function`, or a function of its module it calls (f(...) or self.f(...)), sets a title
    that cannot be empty."""
    for call in calls(function):
        name = called_name(call)
        if name in TITLE_CALLS and not may_be_empty(title_argument(call), function):
            return True
        if name in functions and name not in seen:
            if any(sets_title(callee, functions, seen | {name}) for callee in functions[name]):
                return True
    return False


def untitled_drawings(source):
    """Names of public functions that draw on Axes without setting a title that cannot be empty."""
    functions = module_functions(ast.parse(source))
    return sorted(
        name
        for name, nodes in functions.items()
        for node in nodes
        if not name.startswith("_") and any(draws(call) for call in calls(node)) and not sets_title(node, functions)
    )


@functools.cache
def titled_helpers():
    """Names of the helpers' plot_ functions, which always set a title (a notebook cell may rely on them)."""
    names = set()
    for path in HELPER_PATHS:
        functions = module_functions(helper_tree(path))
        names |= {name for name, nodes in functions.items() if all(sets_title(n, functions) for n in nodes)}
    return {name for name in names if name.startswith("plot_")}


@pytest.mark.parametrize(
    ("source", "untitled"),
    [
        ("def plot_a(x, ax):\n    ax.plot(x)\n    return ax", ["plot_a"]),
        ("def plot_a(x, ax, title=''):\n    ax.plot(x)\n    ax.set_title(title)", ["plot_a"]),
        ("def plot_a(x, ax, title=None):\n    ax.bar(x, x)\n    ax.set_title(title)", ["plot_a"]),
        ("def plot_a(x, ax, title=None):\n    ax.bar(x, x)\n    ax.set_title(title or 'Bars')", []),
        ("def plot_a(x, ax, title):\n    ax.imshow(x)\n    ax.set_title(title)", []),
        (
            "def _t(ax):\n    ax.set_title('T')\n"
            "class E:\n    def setup(self, ax):\n        ax.plot([1])\n        _t(ax)",
            [],
        ),
        ("def train(model, optimizer):\n    optimizer.step()", []),
        ("def hard(x, index):\n    return x.scatter(-1, index, 1.0)", []),
        ("def plot_b(x, axes):\n    axes[0].bar(x, x)", ["plot_b"]),
    ],
)
def test_the_title_scan_finds_figures_without_titles(source, untitled):
    assert untitled_drawings(source) == untitled


@pytest.mark.parametrize("path", HELPER_PATHS, ids=lambda p: str(p.relative_to(ROOT / "helpers")))
def test_every_helper_that_draws_sets_a_title(path):
    untitled = untitled_drawings(path.read_text(encoding="utf-8"))
    assert not untitled, f"{path.name}: these draw a figure without a title that is sure to be non-empty: {untitled}"


def figure_cells(path):
    return [
        source for source, cell in code_cells(path) if any("image/png" in o.get("data", {}) for o in cell["outputs"])
    ]


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_every_stored_figure_comes_from_a_cell_that_titles_it(path):
    titled = titled_helpers()
    assert {"plot_attention", "plot_loglog", "plot_head_grid"} <= titled, "the helpers scan found too little"
    for source in figure_cells(path):
        found = calls(ast.parse(source))
        empty = [c for c in found for k in c.keywords if k.arg == "title" and may_be_empty(k.value, None)]
        assert not empty, f"{path.name}: an empty title= in:\n{source}"
        assert any(
            called_name(c) in titled or (called_name(c) in TITLE_CALLS and not may_be_empty(title_argument(c), None))
            for c in found
        ), f"{path.name}: a figure without a title (call set_title, suptitle or a helpers plot_ function):\n{source}"


def untitled_axes(figure):
    """Axes without a title in a figure without a suptitle; colour bars do not need one."""
    if figure._suptitle is not None and figure._suptitle.get_text().strip():
        return []
    return [ax for ax in figure.axes if ax.get_label() != "<colorbar>" and not ax.get_title().strip()]


def draw_each_plot_helper():
    """name -> function drawing a small figure with one of the helpers, every title argument left to its default."""
    import torch

    from helpers.lessons import l02_scaling_by_sqrt_dk as scaling
    from helpers.lessons import l03_softmax as softmax_variants
    from helpers.lessons import l04_masking as masking
    from helpers.lessons import l07_complexity as complexity
    from helpers.lessons import l08_before_transformers_bahdanau as bahdanau
    from helpers.lessons import l09_transformer_end_to_end as end_to_end
    from helpers.library import positions
    from helpers.machinery.plotting import plot_attention, plot_weight_bars

    ns, weights = [256, 512, 1024, 2048], torch.softmax(torch.randn(4, 4), dim=-1)
    accuracy = {n: {"token_accuracy": 0.9, "sequence_accuracy": 0.5} for n in (3, 5)}
    return {
        "plot_attention": lambda ax: plot_attention(weights, ax),
        "plot_weight_bars": lambda ax: plot_weight_bars(weights[0], ax),
        "plot_encoding": lambda ax: end_to_end.plot_encoding(positions.sinusoidal_encoding(8, 4), ax),
        "plot_similarity_by_distance": lambda ax: end_to_end.plot_similarity_by_distance(
            positions.sinusoidal_encoding(12, 4), ax, starts=(0,), max_distance=5
        ),
        "plot_influence": lambda ax: masking.plot_influence(weights, list("abcd"), ax),
        "plot_loglog": lambda ax: complexity.plot_loglog(ax, ns, {"attention": [n**2 for n in ns]}),
        "plot_memory_claim": lambda ax: complexity.plot_memory_claim(ax, ns, [n**2 for n in ns]),
        "plot_bytes_per_n2": lambda ax: complexity.plot_bytes_per_n2(ax, ns, [n**2 for n in ns]),
        "plot_notes_curve": complexity.plot_notes_curve,
        "plot_variance_vs_dk": lambda ax: scaling.plot_variance_vs_dk(
            {"d_k": [4, 16], "unscaled": [4.1, 15.8], "scaled": [1.02, 0.99], "n_samples": 100}, ax
        ),
        "plot_weights_by_method": lambda ax: softmax_variants.plot_weights_by_method(
            list("abcd"), {"s": weights[0]}, ax
        ),
        "plot_losses (09)": lambda ax: end_to_end.plot_losses({"run": [2.0, 1.0, 0.5]}, ax),
        "plot_mistakes_by_length": lambda ax: end_to_end.plot_mistakes_by_length(
            {"all": 0.9, 1: 1.0, 2: 0.75}, {1: 10, 2: 4}, ax
        ),
        "plot_ablation": lambda ax: end_to_end.plot_ablation(weights[:2, :2], 0.9, ax),
        "plot_accuracy_by_length": lambda ax: bahdanau.plot_accuracy_by_length({"additive": accuracy}, ax),
    }


def test_plot_helpers_draw_figures_with_titles():
    untitled = []
    for name, draw in draw_each_plot_helper().items():
        figure = Figure()  # no pyplot: no backend and no global figure state
        draw(figure.subplots())
        if untitled_axes(figure):
            untitled.append(name)
    assert not untitled, f"figures drawn without a title: {untitled}"


def test_the_runtime_title_check_sees_a_missing_title():
    figure = Figure()
    left, right = figure.subplots(1, 2)
    left.set_title("left")
    figure.colorbar(left.imshow([[0, 1]]), ax=left)
    assert untitled_axes(figure) == [right]
    figure.suptitle("both")
    assert untitled_axes(figure) == []


# --------------------------------------------------------------------------- 4. widget descriptions

# Controls a learner operates: each needs a description, the label a screen reader reads. HTML and
# Label widgets are text themselves (their value is read out), so they need none.
TEXT_WIDGETS = (ipywidgets.HTML, ipywidgets.HTMLMath, ipywidgets.Label)
CONTROLS = {
    name
    for name, cls in vars(ipywidgets).items()
    if isinstance(cls, type)
    and issubclass(cls, (DescriptionWidget, ipywidgets.Button))
    and issubclass(cls, (ipywidgets.ValueWidget, ipywidgets.Button))
    and not issubclass(cls, TEXT_WIDGETS)
}


def description_factories():
    """Helpers functions that build a control from a `description` parameter (e.g. log_slider): name -> index."""
    factories = {}
    for path in HELPER_PATHS:
        for node in ast.walk(helper_tree(path)):
            if isinstance(node, ast.FunctionDef):
                names = [arg.arg for arg in node.args.posonlyargs + node.args.args]
                if "description" in names:
                    factories[node.name] = names.index("description")
    return factories


def undescribed_controls(source, factories):
    """(line, call) of each ipywidgets control built without a non-empty description."""
    tree = ast.parse(source)
    modules, classes = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.asname or alias.name for alias in node.names if alias.name == "ipywidgets"}
        elif isinstance(node, ast.ImportFrom) and node.module == "ipywidgets":
            classes |= {alias.asname or alias.name for alias in node.names if alias.name in CONTROLS}
    problems = []
    for call in calls(tree):
        func = call.func
        is_control = (isinstance(func, ast.Name) and func.id in classes) or (
            isinstance(func, ast.Attribute)
            and func.attr in CONTROLS
            and isinstance(func.value, ast.Name)
            and func.value.id in modules
        )
        index = factories.get(called_name(call)) if isinstance(func, ast.Name) else None
        if not is_control and index is None:
            continue
        keywords = {keyword.arg: keyword.value for keyword in call.keywords}
        if None in keywords:  # **options: cannot be read here
            continue
        description = keywords.get("description")
        if description is None and index is not None and len(call.args) > index:
            description = call.args[index]
        if may_be_empty(description, None):
            problems.append((call.lineno, ast.unparse(call)[:80]))
    return problems


@pytest.mark.parametrize(
    ("source", "undescribed"),
    [
        ("import ipywidgets as widgets\nw = widgets.IntSlider(min=0, max=3)", 1),
        ("import ipywidgets as w\na = w.Dropdown(options=[1], description='')\nb = w.Text(description='name')", 1),
        ("from ipywidgets import Checkbox\nc = Checkbox(value=True)", 1),
        ("import ipywidgets as widgets\nm = widgets.HTML(value='a message')", 0),
        (
            "from helpers.machinery.explorer import log_slider\n"
            "s = log_slider('temperature', -1, 1)\nt = log_slider('', 0, 1)",
            1,
        ),
    ],
)
def test_the_widget_scan_finds_controls_without_a_description(source, undescribed):
    assert len(undescribed_controls(source, {"log_slider": 0})) == undescribed


def test_every_control_built_in_the_helpers_has_a_description():
    factories = description_factories()
    assert factories.get("log_slider") == 0
    problems = [
        f"{path.relative_to(ROOT)}, line {line}: {call}"
        for path in HELPER_PATHS
        for line, call in undescribed_controls(path.read_text(encoding="utf-8"), factories)
    ]
    assert not problems, f"controls without a description (screen readers announce it as their label): {problems}"


def controls_in(widget):
    """Every control in a widget tree (Box children, recursively)."""
    found = [widget] if isinstance(widget, ipywidgets.Widget) and type(widget).__name__ in CONTROLS else []
    for child in getattr(widget, "children", ()):
        found += controls_in(child)
    return found


@pytest.fixture(scope="module")
def generation_widgets():
    from helpers.lessons.l09_transformer_end_to_end.explorer import TrainingMonitor, generation_explorer

    return {"generation explorer": generation_explorer(), "training monitor": TrainingMonitor(steps=10)}


def test_lesson_09s_widgets_describe_every_control_in_them(generation_widgets):
    explorer = generation_widgets["generation explorer"]
    shown = controls_in(explorer.widget)
    assert explorer.text in shown and set(explorer.controls.values()) <= set(shown)
    assert generation_widgets["training monitor"].progress in controls_in(generation_widgets["training monitor"].widget)
    for name, built in generation_widgets.items():
        for control in controls_in(built.widget):
            assert control.description.strip(), f"{name}: a {type(control).__name__} without a description"


def test_lesson_09s_live_figures_have_titles(generation_widgets):
    for name, built in generation_widgets.items():
        assert not untitled_axes(built.live.figure), f"{name}: an Axes without a title"
