"""helpers.machinery.bertviz_offline in a real browser, network cut off: the views draw, redraw, run nothing hostile.

Two settings: a bare page holding a head view and a model view (every request the page would
make is blocked and recorded), and JupyterLab running a notebook with both views and the
typed-sentence widget, as a learner would.
"""

import re

import nbformat
import pytest
import torch
from test_notebooks_in_browser import NotebookSession

from helpers.machinery.bertviz_offline import head_view, model_view

HOSTILE = '</script><img src=x onerror="window.__pwned = 1"><b id="injected">bold</b>'
TOKENS = ["[CLS]", "the", "animal", HOSTILE, "it", "was", "tired", "[SEP]"]

VIEW_STATE = """(root) => {
  const el = document.getElementById(root);
  const texts = Array.from(el.querySelectorAll('svg text')).map((t) => t.textContent);
  const drawing = Array.from(el.querySelectorAll('svg')).map((svg) => svg.outerHTML).join('');
  return {texts: texts, drawing: drawing, waiting: !!el.querySelector('.attention-view-waiting')};
}"""

HOSTILE_RAN = """() => ({
  pwned: window.__pwned === 1,
  injected: !!document.getElementById('injected'),
  images: Array.from(document.images).map((img) => img.getAttribute('src')),
})"""


def attention_for(tokens, n_layers=3, n_heads=4):
    generator = torch.Generator().manual_seed(0)
    n = len(tokens)
    return torch.softmax(3 * torch.randn(n_layers, n_heads, n, n, generator=generator), dim=-1)


def root_of(view):
    return re.search(r'<div id="([^"]+)"', view.html).group(1)


@pytest.fixture
def offline_page(browser):
    """A page whose every network request is blocked and recorded."""
    context = browser.new_context()
    requests, errors = [], []

    def block(route):
        requests.append(route.request.url)
        route.abort("internetdisconnected")

    context.route("**/*", block)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(f"uncaught exception: {error}"))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        yield page, requests, errors
    finally:
        context.close()


def test_views_draw_redraw_and_stay_safe_with_no_network(offline_page):
    page, requests, errors = offline_page
    attention = attention_for(TOKENS)
    heads, model = head_view(attention, TOKENS, layer=0), model_view(attention, TOKENS)
    own_globals = "<script>window.$ = 'the page own $'; window.jQuery = 'the page own jQuery';</script>"
    page.set_content(f"<html><body>{own_globals}{heads.html}{model.html}</body></html>")
    page.wait_for_timeout(300)

    head_root, model_root = root_of(heads), root_of(model)
    before = page.evaluate(VIEW_STATE, head_root)
    assert before["texts"].count(HOSTILE) == 2, before["texts"]  # left and right columns, as plain text
    assert [t for t in before["texts"] if t in TOKENS] == TOKENS + TOKENS
    assert not before["waiting"]
    model_state = page.evaluate(VIEW_STATE, model_root)
    assert len(model_state["drawing"]) > 0 and not model_state["waiting"]

    page.select_option(f"#{head_root} #layer", "2")
    page.wait_for_timeout(300)
    after = page.evaluate(VIEW_STATE, head_root)
    assert after["texts"] == before["texts"] and after["drawing"] != before["drawing"], "layer 2 did not redraw"

    assert page.evaluate(HOSTILE_RAN) == {"pwned": False, "injected": False, "images": []}
    assert page.evaluate("[window.$, window.jQuery]") == ["the page own $", "the page own jQuery"]
    assert requests == [], f"the views asked the network for {requests}"
    assert errors == []


def test_views_and_the_typed_sentence_widget_work_in_jupyterlab(jupyter_lab, lab_page):
    name = "viz_in_browser_check.ipynb"
    cells = [
        "from helpers.machinery.minilm_model import minilm_attention\n"
        "from helpers.machinery.bertviz_offline import head_view, model_view\n"
        'tokens, attention = minilm_attention("The animal didn\'t cross the street because it was too tired")\n'
        f"tokens[3] = {HOSTILE!r}",
        "head_view(attention, tokens, layer=2)",
        "model_view(attention, tokens)",
        "from helpers.lessons.l05_multi_head_attention import typed_attention_view\n"
        "view = typed_attention_view()\nview",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(notebook, jupyter_lab.root / "notebooks" / name)

    session = NotebookSession(lab_page, jupyter_lab, name)
    session.open()
    session.run_all()
    problems = session.check_run()
    assert not problems, problems
    page = session.page
    roots = page.evaluate(
        "() => Array.from(document.querySelectorAll('[data-attention-hands-on-view]')).map((el) => el.id)"
    )
    assert len(roots) == 3, f"expected a head view, a model view and the widget's view, found {roots}"
    head_root, model_root, typed_root = roots

    state = page.evaluate(VIEW_STATE, head_root)
    assert HOSTILE in state["texts"] and "animal" in state["texts"] and not state["waiting"]
    assert page.evaluate(VIEW_STATE, model_root)["drawing"]
    page.select_option(f"#{head_root} #layer", "4")
    page.wait_for_timeout(500)
    assert page.evaluate(VIEW_STATE, head_root)["drawing"] != state["drawing"], "changing the layer did not redraw"
    assert page.evaluate(HOSTILE_RAN)["pwned"] is False and page.evaluate(HOSTILE_RAN)["injected"] is False

    typed = page.evaluate(VIEW_STATE, typed_root)
    assert "animal" in typed["texts"]
    box = page.locator(".jp-Cell").nth(3).locator("input[type='text']")
    box.fill("A dog barked.")
    box.press("Enter")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('[data-attention-hands-on-view] svg text'))"
        ".some((t) => t.textContent === 'barked')",
        timeout=30_000,
    )
    box.fill("word " * 60)
    box.press("Enter")
    message = page.locator(".jp-Cell").nth(3).get_by_text("Cannot show this")
    message.wait_for(timeout=30_000)
    assert "type at most 200" in message.inner_text()
    session.screenshot("viz-in-jupyterlab")

    problems = session.check_kernel_messages() + session.check_console()
    assert not problems, problems
    assert lab_page.external_requests == []
