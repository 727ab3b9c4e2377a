"""Helpers for the course Attention, hands on."""

from helpers.seeding import set_seed

__all__ = ["set_seed"]
