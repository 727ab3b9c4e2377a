"""Lesson 04_masking (notebooks/04_masking.ipynb): padding and causal masks, measured, and what goes wrong without.

The notebook imports every name from here; each module holds one idea:
    toy_head           the lesson's vocabulary, sentences and one fixed random head: embed, project, attend
    mask_placements    the ways of applying a mask to the scores: -inf before softmax, and the usual mistakes
    padding            [PAD], padded batches, each sentence's mask, and how far unmasked pads move the outputs
    causal_leakage     does output[t] change when a later token changes, per mask and per placement of the mask
    fully_masked_rows  a query with every key masked: NaN in a naive softmax, zeros in the library's attention
    mask_conventions   a bool mask's two meanings in PyTorch (True = may attend / True = hidden), converted
    decoding           one token at a time: with the causal mask, earlier outputs never change; in a stack of
                       layers the newest token's output needs the mask too
    cheating           a next-token model trained without the causal mask copies the answer, per seed
    tables             the experiments' results as text tables
    figures            plot_influence, the influence matrix as a heatmap
    explorer           the masking explorer: one padded sentence under each mask, decoded step by step
    exercises          the checkers of the lesson's four exercises
"""

from helpers.lessons.l04_masking.causal_leakage import (
    REPLACEMENT,
    influence_matrix,
    leakage_table,
    mask_placement_table,
)
from helpers.lessons.l04_masking.cheating import (
    CHEATING_SEEDS,
    COPIES,
    NEAR_CHANCE,
    Adam,
    NextTokenModel,
    cheating_experiment,
    copies_the_answer,
    next_token_accuracy,
    stays_honest,
    train_next_token_model,
    weight_on_next_token,
)
from helpers.lessons.l04_masking.decoding import (
    decoder_weights,
    decoding_steps,
    decoding_table,
    newest_output_by_depth,
    stacked_heads,
)
from helpers.lessons.l04_masking.exercises import (
    PLACEMENT_QUESTIONS,
    check_causal_mask,
    check_masked_attention,
    check_padding_mask,
    check_where_the_mask_goes,
)
from helpers.lessons.l04_masking.explorer import MASK_LABELS, MaskingExplorer, N, masking_explorer, masking_map_state
from helpers.lessons.l04_masking.figures import plot_influence
from helpers.lessons.l04_masking.fully_masked_rows import fully_masked_example, naive_masked_attention
from helpers.lessons.l04_masking.mask_conventions import (
    additive_mask,
    allowed_key_mask,
    hidden_key_mask,
    mask_convention_table,
)
from helpers.lessons.l04_masking.mask_placements import MASK_PLACEMENTS
from helpers.lessons.l04_masking.padding import (
    MASK_KINDS,
    batch_vs_alone,
    left_pad,
    pad,
    pad_content_change,
    padded_batch,
    padding_experiment,
    sentence_mask,
)
from helpers.lessons.l04_masking.tables import (
    format_cheating_table,
    format_convention_table,
    format_decoding_table,
    format_depth_table,
    format_leakage_table,
    format_padding_table,
    format_placement_table,
)
from helpers.lessons.l04_masking.toy_head import (
    D_K,
    D_MODEL,
    PAD,
    SAME_BELOW,
    SENTENCES,
    VOCABULARY,
    attend,
    embed,
    head_weights,
    one_thread,
    project,
)

__all__ = [
    "REPLACEMENT",
    "influence_matrix",
    "leakage_table",
    "mask_placement_table",
    "NextTokenModel",
    "Adam",
    "train_next_token_model",
    "CHEATING_SEEDS",
    "COPIES",
    "NEAR_CHANCE",
    "copies_the_answer",
    "stays_honest",
    "next_token_accuracy",
    "weight_on_next_token",
    "cheating_experiment",
    "decoding_steps",
    "decoding_table",
    "decoder_weights",
    "stacked_heads",
    "newest_output_by_depth",
    "hidden_key_mask",
    "allowed_key_mask",
    "additive_mask",
    "mask_convention_table",
    "check_causal_mask",
    "check_padding_mask",
    "check_masked_attention",
    "PLACEMENT_QUESTIONS",
    "check_where_the_mask_goes",
    "N",
    "MASK_LABELS",
    "masking_map_state",
    "MaskingExplorer",
    "masking_explorer",
    "plot_influence",
    "naive_masked_attention",
    "fully_masked_example",
    "MASK_PLACEMENTS",
    "MASK_KINDS",
    "pad",
    "left_pad",
    "padded_batch",
    "sentence_mask",
    "padding_experiment",
    "pad_content_change",
    "batch_vs_alone",
    "format_padding_table",
    "format_leakage_table",
    "format_placement_table",
    "format_decoding_table",
    "format_depth_table",
    "format_convention_table",
    "format_cheating_table",
    "D_MODEL",
    "D_K",
    "PAD",
    "VOCABULARY",
    "SENTENCES",
    "one_thread",
    "SAME_BELOW",
    "embed",
    "head_weights",
    "project",
    "attend",
]
