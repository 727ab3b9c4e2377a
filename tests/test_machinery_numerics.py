"""helpers.machinery.numerics: which mode runs, what it sets, and that pinned results are the same bits elsewhere."""

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.machinery import numerics
from helpers.machinery.numerics import PINNED, apply_numerics, describe, numerics_environment, numerics_mode

ROOT = Path(__file__).resolve().parent.parent
FINGERPRINT = ROOT / "tools" / "numerics_fingerprint.py"
QEMU = shutil.which("qemu-x86_64")
X86_64 = platform.machine().lower() in ("x86_64", "amd64")


def test_pinned_by_default_on_x86_64_and_native_elsewhere(monkeypatch):
    monkeypatch.setattr(numerics.platform, "machine", lambda: "x86_64")
    assert numerics_mode({}) == "pinned"
    monkeypatch.setattr(numerics.platform, "machine", lambda: "arm64")
    assert numerics_mode({}) == "native"
    assert numerics_mode({"ATTENTION_NUMERICS": " Native "}) == "native"
    with pytest.raises(ValueError, match="needs an x86-64 CPU; this one is arm64"):
        numerics_mode({"ATTENTION_NUMERICS": "pinned"})


def test_an_unknown_mode_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"one of \('pinned', 'native'\) or empty, got 'fast'"):
        numerics_mode({"ATTENTION_NUMERICS": "fast"})
    with pytest.raises(ValueError, match="mode must be one of"):
        numerics_environment("fast")


@pytest.mark.skipif(not X86_64, reason="pinned numerics are x86 settings")
def test_apply_sets_every_pinned_variable_and_native_removes_them():
    environ = {"ATTENTION_NUMERICS": "pinned", "PATH": "/bin"}
    assert apply_numerics(environ) == "pinned"
    assert all(environ[name] == value for name, value in PINNED.items())
    environ["ATTENTION_NUMERICS"] = "native"
    assert apply_numerics(environ) == "native"
    assert not set(PINNED) & set(environ)
    assert environ == {"ATTENTION_NUMERICS": "native", "PATH": "/bin"}


def test_describe_says_the_mode_and_the_comparison_in_one_line():
    for mode in ("pinned", "native"):
        line = describe(mode)
        assert "\n" not in line and line.startswith(f"numerics: {mode}")
    assert "compared exactly" in describe("pinned") and "ATEN_CPU_CAPABILITY=avx2" in describe("pinned")
    assert "within" in describe("native")


def test_importing_helpers_numerics_imports_neither_torch_nor_numpy():
    code = "import sys, helpers.machinery.numerics; print('torch' in sys.modules, 'numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def _run(arguments, mode, prefix=()):
    """Run python with arguments (["-c", code] or [script]) in a fresh environment of the given mode."""
    env = {key: value for key, value in os.environ.items() if key not in PINNED}
    env["ATTENTION_NUMERICS"] = mode
    return subprocess.run([*prefix, sys.executable, *arguments], capture_output=True, text=True, env=env, check=True)


@pytest.mark.skipif(not X86_64, reason="pinned numerics are x86 settings")
def test_a_pinned_process_runs_avx2_kernels_on_two_threads():
    code = (
        "from helpers.machinery.numerics import apply_numerics; apply_numerics()\n"
        "import numpy, torch\n"
        "features = numpy._core._multiarray_umath.__cpu_features__\n"
        "print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads(), features.get('X86_V4', False))"
    )
    capability, threads, avx512 = _run(["-c", code], "pinned").stdout.split()
    assert capability in ("AVX2", "DEFAULT")  # DEFAULT only on a CPU without AVX2
    assert (threads, avx512) == ("2", "False")


@pytest.mark.skipif(not X86_64, reason="pinned numerics are x86 settings")
@pytest.mark.skipif(QEMU is None and os.environ.get("REQUIRE_QEMU") != "1", reason="qemu-user is not installed")
def test_pinned_results_are_the_same_bits_on_an_emulated_intel_cpu():
    """The fingerprints of tools/numerics_fingerprint.py, here and under qemu emulating an Intel Haswell (AVX2,
    no AVX-512, Intel's CPUID: MKL and OpenBLAS take their Intel paths). .ci/run installs qemu-user."""
    assert QEMU is not None, "qemu-x86_64 is missing (apt-get install qemu-user)"
    here = _run([str(FINGERPRINT)], "pinned").stdout
    emulated = _run([str(FINGERPRINT)], "pinned", prefix=(QEMU, "-cpu", "Haswell-v4")).stdout
    assert here.splitlines()[0] == "numerics pinned" and len(here.splitlines()) > 20
    assert emulated == here
