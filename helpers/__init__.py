"""Helpers for the course Attention, hands on.

`from helpers import set_seed` works as before, but importing `helpers` itself loads nothing: helpers.machinery.numerics
must be importable before torch and numpy are (they read its settings once, when they load).
"""

__all__ = ["set_seed"]


def __getattr__(name):
    if name == "set_seed":
        from helpers.machinery.seeding import set_seed

        return set_seed
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
