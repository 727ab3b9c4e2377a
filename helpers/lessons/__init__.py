"""One room per lesson, named like its notebook: l06_add_and_norm holds 06_add_and_norm.ipynb's code.

A room holds its lesson's experiments, its explorers (modules ending in `explorer`, each listing its
explorers in `EXPLORERS = {name: factory}`) and its checkers (`exercises`). Its package re-exports what
the notebook uses, so a notebook imports `from helpers.lessons.l04_masking import padded_batch`.
Rooms import the library and the machinery, never another room (tests/test_architecture.py checks it).

`EXPLORERS` here collects every room's explorers, for the benchmark and the tests; it is collected on
first use only, so a lesson that imports its own room does not pay for importing every other one.
"""

import importlib
import pkgutil

__all__ = ["ROOMS", "EXPLORERS"]

ROOMS = sorted(module.name for module in pkgutil.iter_modules(__path__) if module.ispkg)


def _collect_explorers():
    explorers = {}
    for room in ROOMS:
        package = importlib.import_module(f"{__name__}.{room}")
        for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if not module_info.name.endswith("explorer"):
                continue
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            for name, factory in getattr(module, "EXPLORERS", {}).items():
                if name in explorers:
                    raise RuntimeError(f"two explorers are named {name!r}")
                explorers[name] = factory
    return explorers


def __getattr__(name):
    if name == "EXPLORERS":
        globals()["EXPLORERS"] = _collect_explorers()
        return globals()["EXPLORERS"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
