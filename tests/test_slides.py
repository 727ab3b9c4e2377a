"""`make slides`: a reveal.js section per slide and sub-slide, nothing loaded from the internet, every file at hand."""

import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
from nbconvert import SlidesExporter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import make_outputs  # noqa: E402
import make_slides  # noqa: E402

LESSON = make_slides.NOTEBOOKS / "03_softmax.ipynb"  # headings of all three levels, formulas, figures, widgets
# Attributes through which a page loads something. <a href> is only a link the reader may follow.
LOADING_ATTRIBUTES = {"src", "href", "data", "poster", "srcset", "action", "formaction"}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")
SCRIPT_IMPORT = re.compile(r"""\bimport\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]""")
QUOTED_URL = re.compile(r"""['"]((?:https?:)?//[^'"\s]+)['"]""")


class Page(HTMLParser):
    """What an exported page loads, and the structure of its reveal.js slides."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.loads = []  # (tag, URL) of every resource the page itself loads
        self.slides = []  # per slide: per sub-slide, the first heading in it
        self.scripts, self.styles = [], []
        self._stack, self._text, self._capturing = [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name in LOADING_ATTRIBUTES and value is not None and not (tag == "a" and name == "href"):
                self.loads.append((tag, value))
        if tag == "section":
            depth = sum(1 for t in self._stack if t == "section")
            if depth == 0:
                self.slides.append([])
            elif depth == 1:
                self.slides[-1].append(None)
            else:
                raise AssertionError("sections nested three deep")
        if tag in ("script", "style"):
            self._text, self._capturing = [], tag
        if re.fullmatch(r"h[1-6]", tag) and self.slides and self.slides[-1] and self.slides[-1][-1] is None:
            self._text, self._capturing = [], tag
        if tag not in ("img", "br", "hr", "meta", "link", "input"):
            self._stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("img", "br", "hr", "meta", "link", "input"):
            return
        if tag == self._capturing:
            text = "".join(self._text)
            if tag == "script":
                self.scripts.append(text)
            elif tag == "style":
                self.styles.append(text)
            elif re.fullmatch(r"h[1-6]", tag):
                self.slides[-1][-1] = text.replace("¶", "").strip()
            self._text = self._capturing = None
        while self._stack and self._stack.pop() != tag:
            pass

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def parse(html):
    page = Page()
    page.feed(html)
    page.close()
    return page


def all_loads(page):
    """Every URL the page loads: attributes, CSS url() and @import, module imports, quoted URLs in scripts."""
    loads = [url for _, url in page.loads]
    for css in page.styles:
        loads += [a or b for a, b in CSS_URL.findall(css)]
    for script in page.scripts:
        loads += [a or b for a, b in SCRIPT_IMPORT.findall(script)]
        loads += QUOTED_URL.findall(script)  # require([...]) paths, fetch(), dynamically added tags
    return loads


def external(urls):
    """The URLs that would go to the network: http(s) and protocol-relative; data: URIs stay in the page."""
    return [url for url in urls if urlsplit(url.strip()).scheme in ("http", "https") or url.strip().startswith("//")]


def local_file(base, url):
    return base / urlsplit(url).path


def expected_slides(notebook):
    """From the cells' metadata: per slide, the heading of each of its sub-slides."""
    slides = []
    for cell in notebook.cells:
        kind = cell.metadata.get("slideshow", {}).get("slide_type", "-")
        heading = cell.source.lstrip().split("\n", 1)[0].lstrip("#").strip()
        if kind == "slide" or not slides:
            slides.append([heading])
        elif kind == "subslide":
            slides[-1].append(heading)
    return slides


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    """Lesson 03 exported as slides into a fresh folder, from a copy taken once (others may rewrite it)."""
    work = tmp_path_factory.mktemp("lesson")
    copy = shutil.copy(LESSON, work / LESSON.name)
    out = work / "slides"
    written, with_mathjax = make_slides.build([copy], out)
    html = written[0].read_text(encoding="utf-8")
    return {"notebook": nbformat.read(copy, as_version=4), "out": out, "html": html, "mathjax": with_mathjax}


def tiny_notebook():
    cells = [
        nbformat.v4.new_markdown_cell("# 99 · Tiny\n\n**Goal:** see the slides."),
        nbformat.v4.new_markdown_cell("## First section"),
        nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\n# Why: a widget\nexplorer", execution_count=1),
        nbformat.v4.new_markdown_cell("### A sub-slide\n\nWith $e^{x_i}$ and a [link](https://example.org/)."),
        nbformat.v4.new_markdown_cell("## Second section"),
    ]
    cells[2].outputs = [nbformat.v4.new_output("display_data", data={"text/plain": make_outputs.WIDGET_PLACEHOLDER})]
    notebook = nbformat.v4.new_notebook(cells=cells)
    return make_outputs.clean_notebook(notebook)  # slide metadata exactly as make outputs writes it


def test_each_heading_is_a_section_as_the_metadata_says(tmp_path):
    path = tmp_path / "99_tiny.ipynb"
    nbformat.write(tiny_notebook(), path)
    page = parse(make_slides.export(path, tmp_path, with_mathjax=False).read_text(encoding="utf-8"))
    assert page.slides == [["99 · Tiny"], ["First section", "A sub-slide"], ["Second section"]]


def test_the_lesson_has_one_section_per_slide_and_sub_slide(lesson):
    page = parse(lesson["html"])
    expected = expected_slides(lesson["notebook"])
    assert page.slides == expected
    assert len(expected) >= 5 and any(len(slide) > 1 for slide in expected)  # ## slides and ### sub-slides


def test_the_checker_finds_what_nbconvert_loads_from_cdns_by_default():
    html, _ = SlidesExporter().from_notebook_node(tiny_notebook())
    found = " ".join(external(all_loads(parse(html))))
    for cdn_file in ("reveal.js", "require", "jquery", "mathjax"):
        assert cdn_file in found.lower(), found


def test_nothing_is_loaded_from_the_internet(lesson):
    page = parse(lesson["html"])
    loads = all_loads(page)
    assert external(loads) == []
    assert any(url.startswith(f"{make_slides.REVEAL_DIR}/") for url in loads)
    assert not any("require" in url or "jquery" in url.lower() for url in loads)
    figures = [url for tag, url in page.loads if tag == "img" and url.startswith("data:image/png;base64,")]
    outputs = [output for cell in lesson["notebook"].cells if cell.cell_type == "code" for output in cell.outputs]
    assert len(figures) == sum("image/png" in output.get("data", {}) for output in outputs) > 0  # inside the page


def test_a_link_in_the_prose_is_not_a_load(tmp_path):
    path = tmp_path / "99_tiny.ipynb"
    nbformat.write(tiny_notebook(), path)
    html = make_slides.export(path, tmp_path, with_mathjax=False).read_text(encoding="utf-8")
    assert 'href="https://example.org/"' in html
    assert external(all_loads(parse(html))) == []


def test_every_local_file_the_slides_load_is_in_the_folder(lesson):
    out, missing, checked = lesson["out"], [], []
    todo = [(out, url) for url in all_loads(parse(lesson["html"])) if not url.startswith(("data:", "#"))]
    while todo:  # the page's files, then what their CSS imports (theme, fonts)
        base, url = todo.pop()
        path = local_file(base, url)
        checked.append(path)
        if not path.is_file():
            missing.append(str(path))
        elif path.suffix == ".css":
            css = path.read_text(encoding="utf-8")
            todo += [(path.parent, a or b) for a, b in CSS_URL.findall(css) if not (a or b).startswith("data:")]
    assert missing == []
    assert out / make_slides.REVEAL_DIR / "dist" / "reveal.js" in checked
    assert any(path.suffix == ".woff" for path in checked)  # the theme's fonts
    version = re.search(r'const \w+="(\d+)\.(\d+)\.(\d+)"', (out / "reveal.js/dist/reveal.js").read_text())
    assert version and version.group(1) in ("4", "5")  # the API the template calls (Reveal.on, plugins)


def test_formulas_use_the_local_mathjax_or_stay_as_tex(lesson):
    page = parse(lesson["html"])
    mathjax = [url for url in all_loads(page) if "MathJax.js" in url]
    if lesson["mathjax"]:
        assert mathjax == [f"{make_slides.MATHJAX_DIR}/MathJax.js?config={make_slides.MATHJAX_CONFIG}"]
        for config in make_slides.MATHJAX_CONFIG.split(","):
            assert (lesson["out"] / make_slides.MATHJAX_DIR / "config" / f"{config}.js").is_file()
    else:
        assert mathjax == [] and "MathJax.Hub.Config" not in "".join(page.scripts)
    assert "$p_i = " in lesson["html"]  # the TeX is in the page; MathJax typesets it in the browser


def test_widgets_show_their_placeholder_and_nbval_marks_are_left_out(lesson):
    assert make_outputs.WIDGET_PLACEHOLDER in lesson["html"]
    assert any(make_outputs.IGNORE_MARK in cell.source for cell in lesson["notebook"].cells)
    assert make_outputs.IGNORE_MARK not in lesson["html"] and "# Why:" not in lesson["html"]


def test_nbval_lines_are_stripped_only_at_the_top():
    source = "# NBVAL_IGNORE_OUTPUT\n# Why: a widget\nx = 1  # Why: not a mark here"
    assert make_slides.strip_nbval_lines(source) == "x = 1  # Why: not a mark here"
    assert make_slides.strip_nbval_lines("x = 1") == "x = 1"
