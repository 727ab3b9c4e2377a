"""Lesson 00_start_here (notebooks/00_start_here.ipynb): the first attention map, before any theory.

    explorer    the attention-map explorer: temperature, causal mask and query on the toy sentences
    exercises   check_sharp_temperature

The notebook imports every name from here; the modules import each other by their full module paths.
"""

from helpers.lessons.l00_start_here.exercises import check_sharp_temperature
from helpers.lessons.l00_start_here.explorer import AttentionMapExplorer, attention_map_explorer, attention_map_state

__all__ = [
    "check_sharp_temperature",
    "attention_map_state",
    "AttentionMapExplorer",
    "attention_map_explorer",
]
