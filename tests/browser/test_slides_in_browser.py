"""A lesson's slides (`make slides`) opened from disk, as a teacher would by double-click, with the network cut off."""

import shutil
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import make_slides  # noqa: E402

LESSON = "03_softmax.ipynb"  # has ## slides, ### sub-slides, figures and formulas
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS_DIR = Path(__file__).resolve().parents[2] / ".browser-screenshots"

PRESENT = """() => {
  const slide = Reveal.getCurrentSlide();
  const heading = slide.querySelector('h1, h2, h3');
  const box = heading ? heading.getBoundingClientRect() : null;
  return {
    indices: Reveal.getIndices(),
    heading: heading ? heading.textContent.replace('¶', '').trim() : null,
    headingOnScreen: !!box && box.width > 0 && box.top >= 0 && box.bottom <= window.innerHeight,
    text: slide.innerText,
  };
}"""

# The position of the first slide with a figure, and the figure's size and place as drawn.
FIRST_FIGURE = """() => {
  for (const slide of Reveal.getSlides()) {
    const img = slide.querySelector('img[src^="data:image/png"]');
    if (img) return Reveal.getIndices(slide);
  }
  return null;
}"""
FIGURE_DRAWN = """() => {
  const img = Reveal.getCurrentSlide().querySelector('img[src^="data:image/png"]');
  const box = img.getBoundingClientRect();
  const onScreen = box.top >= 0 && box.bottom <= window.innerHeight && box.left >= 0 && box.right <= window.innerWidth;
  return {complete: img.complete, natural: img.naturalWidth, width: box.width, height: box.height, onScreen: onScreen};
}"""
# Text of the lesson's prose (outside code and MathJax's own script tags) that is still a TeX command.
TEX_LEFT = """() => {
  const left = [];
  document.querySelectorAll('.jp-RenderedMarkdown').forEach((cell) => {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('script, code, pre')) continue;
      const tex = node.textContent.match(/\\\\[a-zA-Z]+/);
      if (tex) left.push(tex[0]);
    }
  });
  return left;
}"""
MATH_DONE = "() => !window.MathJax || (MathJax.Hub && MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running)"


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    """The lesson's slides built into a fresh folder, from a copy of the notebook."""
    work = tmp_path_factory.mktemp("slides")
    copy = shutil.copy(make_slides.NOTEBOOKS / LESSON, work / LESSON)
    written, with_mathjax = make_slides.build([copy], work / "slides")
    return {"html": written[0], "notebook": nbformat.read(copy, as_version=4), "mathjax": with_mathjax}


@pytest.fixture
def offline_page(browser):
    """A page that may read files only: every other request is blocked and recorded, console errors too."""
    context = browser.new_context(viewport=VIEWPORT)
    requests, errors = [], []

    def guard(route):
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught exception: {error}"))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url} {request.failure}"))
    try:
        yield page, requests, errors
    finally:
        context.close()


def headings(notebook, kind):
    return [
        cell.source.lstrip().split("\n", 1)[0].lstrip("#").strip()
        for cell in notebook.cells
        if cell.metadata.get("slideshow", {}).get("slide_type") == kind
    ]


def test_slides_open_offline_move_on_and_show_a_figure(slides, offline_page):
    page, requests, errors = offline_page
    page.goto(slides["html"].as_uri())
    page.wait_for_function("() => window.Reveal && Reveal.isReady() && document.querySelector('.reveal.ready')")
    page.wait_for_function(MATH_DONE, timeout=30_000)
    title, *sections = headings(slides["notebook"], "slide")

    first = page.evaluate(PRESENT)
    assert (first["indices"]["h"], first["indices"]["v"]) == (0, 0)
    assert first["heading"] == title and title.startswith("03 · "), first
    assert first["headingOnScreen"]
    assert page.evaluate("Reveal.getHorizontalSlides().length") == len(sections) + 1

    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => Reveal.getIndices().h === 1")
    second = page.evaluate(PRESENT)
    assert second["heading"] == sections[0], second
    assert second["text"] != first["text"] and title not in second["text"]

    where = page.evaluate(FIRST_FIGURE)
    assert where is not None, "no slide holds a figure"
    page.evaluate("(at) => Reveal.slide(at.h, at.v)", where)
    page.wait_for_timeout(800)  # the slide transition
    figure = page.evaluate(FIGURE_DRAWN)
    for _ in range(10):  # a long slide scrolls: the mouse wheel brings the figure into view, as in class
        if figure["onScreen"]:
            break
        page.mouse.move(VIEWPORT["width"] / 2, VIEWPORT["height"] / 2)
        page.mouse.wheel(0, 150)
        page.wait_for_timeout(150)
        figure = page.evaluate(FIGURE_DRAWN)
    assert page.evaluate("Reveal.getIndices()") == where  # scrolling did not change the slide
    assert figure["complete"] and figure["natural"] > 0, figure
    assert figure["width"] > 300 and figure["height"] > 150 and figure["onScreen"], figure
    assert page.locator("section.present img[src^='data:image/png']").first.is_visible()
    SCREENSHOTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS_DIR / "slides-03-figure.png"))

    if slides["mathjax"]:  # formulas typeset by the local MathJax, none left as TeX
        assert page.evaluate(TEX_LEFT) == []
        assert page.evaluate("document.querySelectorAll('.MathJax').length") > 0
        assert page.evaluate("document.querySelectorAll('.MathJax .merror, .MathJax_Error').length") == 0
    assert requests == []
    assert errors == [], "\n".join(errors)
