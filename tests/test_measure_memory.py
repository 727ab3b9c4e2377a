"""tools/measure_memory.py reads a kernel's real peak memory, not an estimate."""

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import measure_memory  # noqa: E402


def test_a_kernel_that_held_300_mib_more_reports_about_300_mib_more(tmp_path):
    def notebook(source):
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]), path)
        return path

    # The process that starts the kernels holds a lot, as pytest does after many tests. Linux carries a
    # process's peak across exec (getrusage's ru_maxrss), so a careless reading reports this parent's peak.
    ballast = bytearray(500 * 2**20)
    ballast[::4096] = b"\1" * len(range(0, len(ballast), 4096))  # touch every page: resident
    quiet = measure_memory.kernel_peak_mib(notebook("x = 1"))
    hungry = measure_memory.kernel_peak_mib(notebook("x = bytearray(300 * 2**20)\ndel x"))  # touched, then freed
    assert 200 < hungry - quiet < 450  # the rest of a kernel varies by tens of MiB between starts
    assert quiet < 300, f"a kernel running `x = 1` reported {quiet:.0f} MiB: its parent's peak, not its own"
    del ballast
