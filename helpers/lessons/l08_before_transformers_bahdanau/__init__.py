"""Lesson 08_before_transformers_bahdanau (notebooks/08_before_transformers_bahdanau.ipynb): Bahdanau's RNN attention.

A bidirectional GRU encoder, a GRU decoder that scores every source annotation at every step, trained on a
toy task (reversing letters) with five seeds at once; the notebook imports everything from this facade.

    reversal_task     the toy task: reversing a sequence of distinct letters, and its held-out split
    alignment_model   vᵀ tanh(W s + U h_j), dot-product scoring and the context vector; BahdanauAttention
    seq2seq           Encoder (bidirectional GRU) and Seq2Seq (attention "additive", "dot" or "none")
    stacked_seq2seq   StackedSeq2Seq: M Seq2Seq models side by side on a leading model axis
    training          train_model (one model) and train_seeds (every kind with every seed, at once)
    evaluation        greedy decoding of held-out sequences: accuracy and alignment per length
    seed_summaries    what the lesson prints from the seeds: medians, ranges, "k of S seeds", verdicts
    long_range        the notes' "long-range dependencies", tested: letters right by their path into the summary
    costs             the decoder's sequential steps, counted, and timings against self-attention
    figures           accuracy against length and the training loss, one line per kind of model
    exercises         the checkers of the lesson's five exercises
    explorer          a trained model's alignment, one decoder step at a time
    cross_attention   the transformer's way: cross-attention (queries from the decoder, keys and values from the
                      encoder), a decoder block, and an encoder-decoder transformer laid out as nn.Transformer
    stacked_cross_attention    StackedCrossAttention: M of those transformers side by side on a leading model axis
    cross_attention_training   that transformer trained with every seed, evaluated, and set against Bahdanau's
    cross_attention_explorer   Bahdanau's alignment beside the cross-attention's, one decoder step at a time
"""

from helpers.lessons.l08_before_transformers_bahdanau.alignment_model import (
    BahdanauAttention,
    additive_scores,
    context_vector,
    dot_product_scores,
)
from helpers.lessons.l08_before_transformers_bahdanau.costs import (
    count_decoder_steps,
    time_decoder_loop,
    time_scoring_all_pairs,
    time_self_attention,
)
from helpers.lessons.l08_before_transformers_bahdanau.cross_attention import (
    SIZES,
    SOURCE_POSITIONS,
    CrossAttentionSeq2Seq,
    DecoderBlock,
    cross_attention,
    difference_from_nn_transformer,
)
from helpers.lessons.l08_before_transformers_bahdanau.cross_attention_explorer import (
    MODEL_LABELS,
    CrossAttentionExplorer,
    cross_attention_explorer,
    decode_with_models,
    quick_cross_attention,
)
from helpers.lessons.l08_before_transformers_bahdanau.cross_attention_training import (
    ANTI_DIAGONAL,
    CROSS_TRAINING,
    SHARPER_THAN_RNN_BY,
    SOLVES,
    CrossAttentionRuns,
    cross_attention_summary,
    evaluate_cross_attention,
    train_cross_attention,
)
from helpers.lessons.l08_before_transformers_bahdanau.evaluation import (
    METRICS,
    SeedEvaluation,
    aligned_weight,
    evaluate,
    evaluate_seeds,
)
from helpers.lessons.l08_before_transformers_bahdanau.exercises import (
    check_additive_score,
    check_all_pairs,
    check_context,
    check_cross_attention,
    check_sequential_steps,
)
from helpers.lessons.l08_before_transformers_bahdanau.explorer import (
    EXAMPLE_LENGTHS,
    AlignmentExplorer,
    alignment_explorer,
    alignment_over_seeds,
    alignment_state,
    decode_examples,
    quick_results,
)
from helpers.lessons.l08_before_transformers_bahdanau.figures import plot_accuracy_by_length, plot_losses
from helpers.lessons.l08_before_transformers_bahdanau.long_range import (
    FAR_PATH,
    LOSES_BY,
    NEAR_PATH,
    accuracy_by_position,
    long_range_summary,
    long_range_table,
    path_lengths,
)
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import (
    BOS,
    SYMBOLS,
    held_out_set,
    is_held_out,
    reversal_batch,
    to_ids,
    to_tokens,
)
from helpers.lessons.l08_before_transformers_bahdanau.seed_summaries import (
    ABOVE_BY,
    AHEAD_BY,
    ALIGNS,
    FALLS_BY,
    LONG,
    MOST,
    SHARPER_BY,
    SHORT,
    accuracy_table,
    alignment_table,
    alignment_verdict,
    bottleneck_summary,
    example_summary,
    loss_summary,
    scoring_comparison,
)
from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import SCORINGS, Encoder, Seq2Seq, count_parameters
from helpers.lessons.l08_before_transformers_bahdanau.stacked_cross_attention import StackedCrossAttention
from helpers.lessons.l08_before_transformers_bahdanau.stacked_seq2seq import StackedSeq2Seq, fast_tanh, gru_update
from helpers.lessons.l08_before_transformers_bahdanau.training import (
    SEEDS,
    TRAINING,
    Adam,
    SeedRuns,
    TrainResult,
    clip_per_model,
    one_thread,
    reversal_step,
    stacked_reversal_step,
    train_model,
    train_seeds,
)

__all__ = [
    "additive_scores",
    "dot_product_scores",
    "context_vector",
    "BahdanauAttention",
    "count_decoder_steps",
    "time_decoder_loop",
    "time_self_attention",
    "time_scoring_all_pairs",
    "aligned_weight",
    "evaluate",
    "METRICS",
    "SeedEvaluation",
    "evaluate_seeds",
    "check_additive_score",
    "check_context",
    "check_all_pairs",
    "check_sequential_steps",
    "check_cross_attention",
    "EXAMPLE_LENGTHS",
    "decode_examples",
    "quick_results",
    "alignment_state",
    "alignment_over_seeds",
    "AlignmentExplorer",
    "alignment_explorer",
    "plot_accuracy_by_length",
    "plot_losses",
    "NEAR_PATH",
    "FAR_PATH",
    "LOSES_BY",
    "path_lengths",
    "accuracy_by_position",
    "long_range_table",
    "long_range_summary",
    "SYMBOLS",
    "BOS",
    "to_tokens",
    "to_ids",
    "is_held_out",
    "reversal_batch",
    "held_out_set",
    "SHORT",
    "LONG",
    "FALLS_BY",
    "ABOVE_BY",
    "AHEAD_BY",
    "SHARPER_BY",
    "MOST",
    "loss_summary",
    "accuracy_table",
    "bottleneck_summary",
    "alignment_table",
    "scoring_comparison",
    "ALIGNS",
    "alignment_verdict",
    "example_summary",
    "SCORINGS",
    "Encoder",
    "Seq2Seq",
    "count_parameters",
    "fast_tanh",
    "gru_update",
    "StackedSeq2Seq",
    "StackedCrossAttention",
    "SEEDS",
    "TRAINING",
    "TrainResult",
    "reversal_step",
    "train_model",
    "clip_per_model",
    "stacked_reversal_step",
    "SeedRuns",
    "train_seeds",
    "Adam",
    "one_thread",
    "SIZES",
    "SOURCE_POSITIONS",
    "cross_attention",
    "DecoderBlock",
    "CrossAttentionSeq2Seq",
    "difference_from_nn_transformer",
    "CROSS_TRAINING",
    "CrossAttentionRuns",
    "train_cross_attention",
    "evaluate_cross_attention",
    "SOLVES",
    "ANTI_DIAGONAL",
    "SHARPER_THAN_RNN_BY",
    "cross_attention_summary",
    "MODEL_LABELS",
    "decode_with_models",
    "quick_cross_attention",
    "CrossAttentionExplorer",
    "cross_attention_explorer",
]
