"""Execute every notebook in a fresh kernel and store clean, reproducible outputs.

    python tools/make_outputs.py [notebooks/NN_name.ipynb ...]

Each notebook runs top to bottom in a new kernel with its folder as working directory.
Then everything that changes from run to run without meaning anything is removed: widget
state and widget views (replaced by a fixed line), attention views of helpers.machinery.bertviz_offline (their
hundreds of kB of inlined JavaScript also replaced by a fixed line), timings, kernel version details,
progress bars on stderr. Each cell also gets its slide type (see slide_type), so every lesson
can be presented as slides. Running it twice gives byte-identical files.
"""

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from helpers.machinery.numerics import apply_numerics, describe, numerics_mode  # noqa: E402  (imports no torch)

NOTEBOOKS = ROOT / "notebooks"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_PLACEHOLDER = "[interactive widget: run this cell in JupyterLab to use it]"
# helpers.machinery.bertviz_offline.VIEW_MARKER (not imported: keep this tool torch-free)
VIEW_MARKER = "data-attention-hands-on-view"
VIEW_PLACEHOLDER = "[interactive attention view: run this cell in JupyterLab to draw it]"
PROGRESS_PREFIX = "attention-progress-"  # each run's own empty progress record: a temporary folder
PROGRESS_TEMP = re.compile(r"/\S*?" + PROGRESS_PREFIX + r"[^/\s]+/progress\.json")
PROGRESS_SHOWN = "~/.attention_hands_on/progress.json"  # helpers.machinery.progress's default file, as it shows it
IGNORE_MARK = "NBVAL_IGNORE_OUTPUT"  # nbval matches it only alone on a comment line
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}
CELL_METADATA_DROPPED = ("execution", "collapsed", "scrolled", "jupyter")
# Slides (RISE, reveal.js): the "white" theme uses only bundled fonts (the default "simple" theme fetches
# Google Fonts), and long sections scroll instead of being cut off.
RISE_SETTINGS = {"theme": "white", "scroll": True}


def slide_type(cell):
    """Each # or ## heading starts a slide, each ### a sub-slide (reached with the down arrow); the rest follows."""
    first_line = cell.source.lstrip().split("\n", 1)[0] if cell.cell_type == "markdown" else ""
    if first_line.startswith(("# ", "## ")):
        return "slide"
    if first_line.startswith("### "):
        return "subslide"
    return "-"


def is_output_ignored(source):
    """True if nbval ignores the cell's output: a line that is exactly '# NBVAL_IGNORE_OUTPUT'."""
    return any(line.strip().lstrip("#").strip() == IGNORE_MARK for line in source.splitlines())


def shown_progress_path(text):
    """The text with this run's temporary progress file written as the learner's own file (see
    execution_environment): a stored summary says where a learner's record is kept, not where ours was."""
    return PROGRESS_TEMP.sub(PROGRESS_SHOWN, text)


def clean_output(output, volatile):
    """Return the output without run-dependent parts, or None to drop it."""
    if output.get("output_type") == "stream" and output.get("name") == "stderr" and volatile:
        return None  # progress bars and timing chatter in a cell already marked NBVAL_IGNORE_OUTPUT
    if output.get("output_type") == "stream":
        output["text"] = shown_progress_path(output["text"])
    data = output.get("data")
    if data is not None:
        if WIDGET_MIME in data:
            output["data"] = {"text/plain": WIDGET_PLACEHOLDER}
        elif VIEW_MARKER in data.get("text/html", ""):
            output["data"] = {"text/plain": VIEW_PLACEHOLDER}
        data = output["data"]
        if isinstance(data.get("text/plain"), str):
            data["text/plain"] = shown_progress_path(data["text/plain"])
        data.pop("application/vnd.jupyter.widget-state+json", None)
        output["metadata"] = {key: value for key, value in output.get("metadata", {}).items() if key != "transient"}
    return output


def coalesce_streams(outputs):
    """Merge consecutive stream outputs of the same name.

    The kernel flushes printed text on a timer, so how a cell's prints are split into outputs
    depends on the machine's load; merged, the stored file does not.
    """
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and output.get("output_type") == "stream"
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] += output["text"]
        else:
            merged.append(output)
    return merged


def clean_notebook(notebook):
    notebook.metadata.pop("widgets", None)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["language_info"] = dict(LANGUAGE_INFO)
    notebook.metadata["rise"] = dict(RISE_SETTINGS)
    for cell in notebook.cells:
        for key in CELL_METADATA_DROPPED:
            cell.metadata.pop(key, None)
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell)}
        if cell.cell_type != "code":
            continue
        volatile = is_output_ignored(cell.source)
        cleaned = (clean_output(output, volatile) for output in cell.outputs)
        cell.outputs = coalesce_streams([output for output in cleaned if output is not None])
    return notebook


def execution_environment(numerics=None):
    """The kernel's environment: fixed hash seed, inline figures, the numerics (helpers.machinery.numerics: pinned on
    x86-64 unless ATTENTION_NUMERICS or `numerics` says otherwise), and an empty progress record of its own
    (so stored progress summaries show a fresh learner, and no run touches a real learner's record)."""
    env = dict(os.environ)
    if numerics is not None:
        env["ATTENTION_NUMERICS"] = numerics
    apply_numerics(env)
    env.update({"PYTHONHASHSEED": "0", "MPLBACKEND": "module://matplotlib_inline.backend_inline"})
    env["ATTENTION_HANDS_ON_PROGRESS"] = str(Path(tempfile.mkdtemp(prefix=PROGRESS_PREFIX)) / "progress.json")
    return env


def run_notebook(path, timeout=600):
    """Execute one notebook in a fresh kernel; returns the seconds it took (kernel start included)."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    start = time.perf_counter()
    client.execute(env=execution_environment())
    seconds = time.perf_counter() - start
    nbformat.write(clean_notebook(notebook), path)
    return seconds


def main(paths):
    paths = [Path(p) for p in paths] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    print(describe(numerics_mode()))
    for path in paths:
        seconds = run_notebook(path)
        print(f"{path.name}: executed in {seconds:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
