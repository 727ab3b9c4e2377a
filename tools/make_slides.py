"""Export every lesson as reveal.js slides that open offline, from the notebook as it is stored.

    python tools/make_slides.py [notebooks/NN_name.ipynb ...] [--out slides]

Each lesson becomes slides/NN_name.slides.html: every # or ## heading starts a slide, every ###
a sub-slide under it (down arrow), as tools/make_outputs.py writes in the cell metadata. The stored
outputs are shown as they are: figures as images, widgets as their placeholder line.

Nothing is fetched from the internet when the slides open. reveal.js comes from the installed
sphinx-revealjs package and MathJax from jupyter-server-mathjax; both are copied next to the HTML
files at build time, so the folder opens by double-click or with `python -m http.server`.
nbconvert's reveal template would load require.js, jQuery, Mermaid, MathJax and reveal.js from CDNs;
TEMPLATE below keeps its layout and replaces each of those with a local file or with nothing.
Without jupyter-server-mathjax the formulas stay as TeX source ($...$) and a note says so.
"""

import argparse
import importlib.util
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "slides"
REVEAL_DIR = "reveal.js"  # folder of reveal.js beside the HTML files
MATHJAX_DIR = "mathjax"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"  # the configs jupyter-server-mathjax ships
# What the slides need of the package's reveal.js: the script, its CSS, the themes with their
# bundled fonts, and the speaker-notes plugin ("s" opens the speaker view).
REVEAL_FILES = ("LICENSE", "dist/reveal.js", "dist/reveal.css", "dist/reset.css", "dist/theme", "plugin/notes/notes.js")
SLIDE_DEFAULTS = {"theme": "white", "transition": "slide", "scroll": True}
# The first lines of a code cell that tell nbval to ignore its output, and why: for the tests, not the class.
NBVAL_LINES = ("# NBVAL_IGNORE_OUTPUT", "# Why:")

TEMPLATE = """{%- extends 'index.html.j2' -%}
{#- No require.js, jQuery or Mermaid: the stored outputs need none of them, and the base template
    loads each from a CDN. reveal.js is loaded below with plain script tags instead of require. -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}
{%- if resources.mathjax_url -%}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {
    inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]],
    displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  // jupyter-server-mathjax ships the STIX-Web fonts only (as the classic notebook used them).
  // MathJax_Blank is only a stand-in that never loads; its default source, url('about:blank'),
  // fails with a CORS error in the console, local() fails silently.
  "HTML-CSS": {
    availableFonts: [],
    preferredFont: null,
    webFont: "STIX-Web",
    imageFont: null,
    styles: {"@font-face": {"font-family": "MathJax_Blank", src: "local('MathJax_Blank')"}},
  },
  TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
  displayAlign: "center",
  messageStyle: "none",
});
</script>
<script src="{{ resources.mathjax_url }}"></script>
{%- endif -%}
{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}
<style type="text/css">
.reveal .slides section .jp-RenderedImage img { max-height: 520px; width: auto; }
/* Code lines are at most 120 characters (ruff's limit): at 16px they fit the 1280px slide. */
:root { --jp-code-font-size: 16px; }
.reveal .slides h1, .reveal .slides h2, .reveal .slides h3 { text-transform: none; }  /* d_k, not D_K */
.reveal .jp-InputArea pre { white-space: pre-wrap; }  /* a longer line wraps instead of being cut off */
.reveal div.jp-OutputArea-output > pre { width: 100%; overflow-x: auto; }  /* a wide table scrolls */
</style>
{%- endblock html_head_css -%}
{% block footer_js %}
{%- set prefix = resources.reveal.url_prefix -%}
<script src="{{ prefix }}/dist/reveal.js"></script>
<script src="{{ prefix }}/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({
  controls: true,
  progress: true,
  history: true,
  transition: "{{ resources.reveal.transition }}",
  slideNumber: "c/t",
  plugins: [RevealNotes],
  width: {{ resources.reveal.width }},
  height: {{ resources.reveal.height }},
});
// A section taller than the slide scrolls instead of being cut off (the "scroll" setting).
function setScrollingSlide() {
  if (!{{ resources.reveal.scroll | json_dumps }}) return;
  var limit = document.querySelector(".reveal").clientHeight * 0.95;
  document.querySelectorAll("section.present section, section.present:not(.stack)").forEach(function (s) {
    if (s.scrollHeight > limit) {
      s.style.height = "95vh";
      s.style.overflowY = "auto";
    }
  });
}
Reveal.on("ready", setScrollingSlide);
Reveal.on("slidechanged", setScrollingSlide);
Reveal.on("slidechanged", function (event) {
  if (window.MathJax && MathJax.Hub) MathJax.Hub.Queue(["Rerender", MathJax.Hub, event.currentSlide]);
});
</script>
{% endblock footer_js %}
"""


def package_dir(name, *parts):
    """A folder inside an installed package, found without importing it; None if it is not installed."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def reveal_source():
    source = package_dir("sphinx_revealjs", "_static", "revealjs")
    if source is None or not (source / "dist" / "reveal.js").is_file():
        sys.exit("reveal.js not found: install the pinned sphinx-revealjs (pip install -r requirements-dev.txt).")
    return source


def mathjax_source():
    """MathJax 2.7 as jupyter-server-mathjax ships it, or None."""
    source = package_dir("jupyter_server_mathjax", "static")
    return source if source is not None and (source / "MathJax.js").is_file() else None


def copy_assets(out):
    """Copy reveal.js (and MathJax if installed) into out/; returns True if MathJax was copied."""
    out.mkdir(parents=True, exist_ok=True)
    reveal = reveal_source()
    shutil.rmtree(out / REVEAL_DIR, ignore_errors=True)
    for name in REVEAL_FILES:
        source, target = reveal / name, out / REVEAL_DIR / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    mathjax = mathjax_source()
    shutil.rmtree(out / MATHJAX_DIR, ignore_errors=True)
    if mathjax is not None:
        shutil.copytree(mathjax, out / MATHJAX_DIR)
    return mathjax is not None


def strip_nbval_lines(source):
    """The code without its leading '# NBVAL_IGNORE_OUTPUT' and '# Why: ...' lines."""
    lines = source.split("\n")
    while lines and lines[0].strip().startswith(NBVAL_LINES):
        lines.pop(0)
    return "\n".join(lines)


def exporter(notebook, with_mathjax):
    settings = {**SLIDE_DEFAULTS, **notebook.metadata.get("rise", {})}
    return SlidesExporter(
        raw_template=TEMPLATE,
        reveal_url_prefix=REVEAL_DIR,
        reveal_theme=settings["theme"],
        reveal_transition=settings["transition"],
        reveal_scroll=bool(settings["scroll"]),
        reveal_width="1280",
        reveal_height="800",
        mathjax_url=f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}" if with_mathjax else "",
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def export(path, out, with_mathjax):
    """Write out/<name>.slides.html for one notebook; returns its path."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = strip_nbval_lines(cell.source)
    html, _ = exporter(notebook, with_mathjax).from_notebook_node(notebook, resources={"metadata": {"name": path.stem}})
    target = out / f"{path.stem}.slides.html"
    target.write_text(html, encoding="utf-8")
    return target


def build(paths, out=OUT):
    """Export the given notebooks (every lesson if none) and copy the assets beside them.

    Returns the HTML files written, and whether MathJax was found (without it formulas stay as TeX).
    """
    paths = [Path(p) for p in paths] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    with_mathjax = copy_assets(Path(out))
    return [export(path, Path(out), with_mathjax) for path in paths], with_mathjax


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="lessons to export (default: every lesson)")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: slides/)")
    args = parser.parse_args(argv)
    written, with_mathjax = build(args.notebooks, args.out)
    for path in written:
        print(f"wrote {path}")
    if not with_mathjax:
        print("note: jupyter-server-mathjax is not installed, so formulas show as TeX source ($...$).")
    first = written[0] if written else args.out
    print(
        f"\nOpen a lesson's slides in a browser: {first.resolve().as_uri()}\n"
        f"or serve the folder: python -m http.server --bind 127.0.0.1 -d {args.out} 8000,"
        f" then open http://127.0.0.1:8000/{first.name}\n"
        "Arrows move between slides (down: a ### sub-slide), Esc shows them all, s opens the speaker view."
    )


if __name__ == "__main__":
    main()
