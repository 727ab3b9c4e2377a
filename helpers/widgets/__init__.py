"""The course's interactive figures: one module per lesson, one explorer per interactive cell.

Each explorer is built by a function (e.g. `attention_map_explorer()`) and shown by making it
the last expression of a cell. Each module lists its explorers in a module-level dict
`EXPLORERS = {name: factory}`; `EXPLORERS` here collects them all (for the benchmark and tests),
so adding a lesson's module needs no edit in this file. It is collected on first use only, so a
lesson that imports its own explorer does not pay for importing every other lesson's.
"""

import importlib
import pkgutil

from helpers.widgets.attention_map import AttentionMapExplorer, attention_map_explorer, attention_map_state


def _collect_explorers():
    explorers = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
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


__all__ = ["EXPLORERS", "AttentionMapExplorer", "attention_map_explorer", "attention_map_state"]
