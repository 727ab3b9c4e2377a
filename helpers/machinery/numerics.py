"""Pinned numerics: the same floating-point results on every x86-64 CPU, for stored outputs and their tests.

torch and numpy pick their CPU kernels when they start, by what the processor can do: ATen's vectorised
loops (AVX2 or AVX-512), MKL's BLAS (one code branch per Intel generation, another for AMD), oneDNN's JIT
(up to AVX-512 and AMX), OpenBLAS's kernels and numpy's SIMD loops. Each choice rounds the last bits of a
result differently, and a training run turns those bits into a different trajectory. So the notebooks'
stored outputs are made, and compared, with every such choice fixed to one that any x86-64 CPU with AVX2
can run (`PINNED`). A learner's `make lab` sets none of this and runs at the machine's own speed.

    numerics_mode(environ)   "pinned" or "native": ATTENTION_NUMERICS if set, else pinned on x86-64 only
    numerics_environment(mode)  the variables a process needs, set before torch or numpy is imported
    apply_numerics(environ)  sets them in this process (and so in every kernel it starts); returns the mode
    describe(mode)           one line saying what the mode does

No setting can make Apple Silicon (Accelerate, NEON) round like an x86 CPU: there only "native" exists,
and the tests compare notebook outputs within a stated tolerance instead (tests/tolerant_outputs.py).

This module imports neither torch nor numpy: it must run before them.
"""

import os
import platform

__all__ = ["PINNED", "MODES", "numerics_mode", "numerics_environment", "apply_numerics", "describe"]

MODES = ("pinned", "native")
MODE_VARIABLE = "ATTENTION_NUMERICS"
THREADS = "2"  # fixed, not "as many as there are cores": a parallel sum adds in an order set by the thread count

PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",  # ATen's vectorised loops: the AVX2 build, also on AVX-512 CPUs
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (convolutions): no AVX-512, no AMX
    "MKL_CBWR": "COMPATIBLE",  # MKL: the one code branch that is the same on Intel and AMD
    "MKL_DYNAMIC": "FALSE",  # ...with the thread count fixed, not chosen per call
    "OMP_DYNAMIC": "FALSE",
    "OMP_NUM_THREADS": THREADS,
    "MKL_NUM_THREADS": THREADS,
    "OPENBLAS_NUM_THREADS": THREADS,
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's OpenBLAS: its AVX2 kernels whatever the CPU
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy's own loops: no AVX-512
}


def _x86_64():
    return platform.machine().lower() in ("x86_64", "amd64")


def numerics_mode(environ=None):
    """'pinned' or 'native': the value of ATTENTION_NUMERICS if set, else 'pinned' on x86-64 and 'native'
    elsewhere (the pinned settings are x86 settings). Raises ValueError for any other value, or for 'pinned'
    on a machine that is not x86-64."""
    environ = os.environ if environ is None else environ
    mode = environ.get(MODE_VARIABLE, "").strip().lower()
    if not mode:
        return "pinned" if _x86_64() else "native"
    if mode not in MODES:
        raise ValueError(f"{MODE_VARIABLE} must be one of {MODES} or empty, got {mode!r}")
    if mode == "pinned" and not _x86_64():
        raise ValueError(f"{MODE_VARIABLE}=pinned needs an x86-64 CPU; this one is {platform.machine()}: use native")
    return mode


def numerics_environment(mode):
    """The environment variables for a mode: PINNED and ATTENTION_NUMERICS=pinned, or only
    ATTENTION_NUMERICS=native (every kernel as the machine picks it)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return {**(PINNED if mode == "pinned" else {}), MODE_VARIABLE: mode}


def apply_numerics(environ=None):
    """Set the mode's variables in environ (default os.environ: this process and every process it starts).

    In native mode the pinning variables are removed, so a pinned parent cannot leak them. Call it before
    torch or numpy is imported: they read these variables once, when they load. Returns the mode.
    """
    environ = os.environ if environ is None else environ
    mode = numerics_mode(environ)
    if mode == "native":
        for name in PINNED:
            environ.pop(name, None)
    environ.update(numerics_environment(mode))
    return mode


def describe(mode):
    """One line for a test run's header: which kernels run and how notebook outputs are compared."""
    if mode == "pinned":
        settings = " ".join(f"{name}={value}" for name, value in PINNED.items() if not name.endswith("THREADS"))
        return f"numerics: pinned ({settings}, {THREADS} threads); notebook outputs compared exactly"
    return (
        "numerics: native (the machine's own kernels); notebook outputs compared within "
        "tests/tolerant_outputs.py's tolerance (2 units in the last printed digit)"
    )
