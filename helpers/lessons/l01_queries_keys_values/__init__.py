"""Lesson 01_queries_keys_values (notebooks/01_queries_keys_values.ipynb): attention as a soft lookup.

    lookups                 the lookup table, soft lookup, hand-built queries and keys, self-attention on features
    soft_lookup_explorer    one query against the table, by angle and length
    sentence_map_explorer   one head of MiniLM's first layer on a real sentence
    exercises               check_soft_lookup, check_inanimate_query, check_long_key, check_self_attention

The notebook imports every name from here; the modules import each other by their full module paths.
"""

from helpers.lessons.l01_queries_keys_values.exercises import (
    check_inanimate_query,
    check_long_key,
    check_self_attention,
    check_soft_lookup,
)
from helpers.lessons.l01_queries_keys_values.lookups import (
    FEATURES,
    KEY_FEATURES,
    LOOKUP_NAMES,
    WORD_FEATURES,
    describe_row,
    diagonal_argmax_fraction,
    feature_embeddings,
    format_matrix,
    hand_built_projections,
    lookup_table,
    self_attention,
    soft_lookup,
)
from helpers.lessons.l01_queries_keys_values.sentence_map_explorer import (
    SENTENCE_CHOICES,
    SentenceMapExplorer,
    sentence_map_explorer,
    sentence_map_state,
)
from helpers.lessons.l01_queries_keys_values.soft_lookup_explorer import (
    SoftLookupExplorer,
    plot_soft_lookup,
    soft_lookup_explorer,
    soft_lookup_state,
)

__all__ = [
    "check_soft_lookup",
    "check_inanimate_query",
    "check_long_key",
    "check_self_attention",
    "soft_lookup",
    "LOOKUP_NAMES",
    "lookup_table",
    "FEATURES",
    "KEY_FEATURES",
    "WORD_FEATURES",
    "feature_embeddings",
    "hand_built_projections",
    "self_attention",
    "format_matrix",
    "describe_row",
    "diagonal_argmax_fraction",
    "SENTENCE_CHOICES",
    "sentence_map_state",
    "SentenceMapExplorer",
    "sentence_map_explorer",
    "soft_lookup_state",
    "plot_soft_lookup",
    "SoftLookupExplorer",
    "soft_lookup_explorer",
]
