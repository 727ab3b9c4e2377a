"""Measure the memory one learner needs: peak RSS of a kernel running each lesson, and of the server.

    python tools/measure_memory.py [--out memory.json] [notebooks/NN_name.ipynb ...]

Kernel: each notebook runs top to bottom in a fresh kernel (as make_outputs runs it); a last cell
reads the kernel's peak resident set size (VmHWM in /proc/self/status: the most physical memory the
process ever held). Server: a JupyterLab server started as `make lab` starts it, its RSS after it
has answered and served the lab page once. On a class server (JupyterHub), one learner needs about
one server plus the kernels of the lessons they keep open; the README's teaching section gives
the figures this prints.
"""

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_outputs import NOTEBOOKS, ROOT, execution_environment  # noqa: E402

# VmHWM: the most physical memory this process image ever held (KiB). Not getrusage's ru_maxrss: Linux
# carries that across exec, so a kernel started by a big process (pytest after many tests) reports its parent's peak.
PEAK_CELL = (
    "from pathlib import Path\n"
    "print(next(line for line in Path('/proc/self/status').read_text().splitlines() if line.startswith('VmHWM:')))"
)


def kernel_peak_mib(path):
    """Peak RSS (MiB) of a fresh kernel that ran the notebook at `path` to the end."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(Path(path).parent)}}
    )
    client.execute(env=execution_environment())
    printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    return int(printed.split()[-2]) / 1024  # "VmHWM:  123456 kB"


def _rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def server_rss_mib():
    """RSS (MiB) of a JupyterLab server on 127.0.0.1 after it served /api/status and the lab page."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={NOTEBOOKS}",
        "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as runtime:
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=runtime)
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            deadline = time.monotonic() + 90
            while True:
                try:
                    opener.open(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("JupyterLab did not start") from None
                    time.sleep(0.5)
            opener.open(f"http://127.0.0.1:{port}/lab?token={token}", timeout=30).read()
            return _rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "memory.json"))
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    results = {"server_mib": round(server_rss_mib()), "kernels_mib": {}}
    print(f"{'JupyterLab server (one per learner)':44s} {results['server_mib']:6d} MiB")
    for path in paths:
        peak = kernel_peak_mib(path)
        results["kernels_mib"][path.stem] = round(peak)
        print(f"{'kernel peak: ' + path.stem:44s} {peak:6.0f} MiB")
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
