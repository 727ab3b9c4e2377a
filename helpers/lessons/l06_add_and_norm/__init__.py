"""Lesson 06_add_and_norm (notebooks/06_add_and_norm.ipynb): the study notes' claims about Add & Norm, measured.

Every experiment is seeded, runs on the CPU in a few seconds at most, and returns plain numbers (dicts of NumPy
arrays) that the notebook prints and plots.

    blocks              LayerNorm, BatchNorm, their statistics, the residual Jacobian and the five wirings
    stacked_models      many small transformers computed side by side, each with its own weights and learning rate
    task                the "above the average" task and the best a model does without attention
    initialisation      experiments 1, 3, 4: gradient, activation scale and information per layer at initialisation
    training            experiment 2: loss curves for (variant, depth, learning rate, warm-up) over seeds
    overfitting         experiment 5: 16 training sequences, the gap between training and held-out accuracy
    per_token           what LayerNorm normalises (per token), that it adds no noise, what an Add & Norm hands on
    warmup              Adam's first steps: why a learning-rate warm-up exists
    judging             the thresholds stated once, and the words they give (seed outcomes, comparisons, verdicts)
    training_summaries  experiment 4 in words: per-seed table, moderate and high learning rate summaries
    claims              each claim's findings and verdict, and the verdict table
    feed_forward        the feed-forward sublayer: the same MLP on every token, parameter counts, the notes' order
    feed_forward_training  lesson 06's models with and without the FFN, on the task and on a band variant
    figures             the plots: layer profiles, training curves, generalisation bars
    exercises           the self-checks of the lesson's exercises
    explorer            the variant-and-depth explorer
"""

from helpers.lessons.l06_add_and_norm.blocks import (
    VARIANT_LABELS,
    VARIANTS,
    AddNormBlock,
    add_and_norm,
    batch_norm,
    feature_stats,
    layer_norm,
    require_variant,
    require_variants,
    residual_jacobian,
    token_stats,
)
from helpers.lessons.l06_add_and_norm.claims import claim_verdicts, verdict_table
from helpers.lessons.l06_add_and_norm.exercises import (
    check_feed_forward,
    check_output_is_normalised,
    check_pre_ln,
    check_residual_rms,
    check_rms_norm,
)
from helpers.lessons.l06_add_and_norm.explorer import (
    DEPTHS,
    GRADIENT_FLOOR,
    AddNormExplorer,
    add_norm_explorer,
    add_norm_profiles,
    add_norm_state,
    readout_html,
)
from helpers.lessons.l06_add_and_norm.feed_forward import (
    ACTIVATIONS,
    TINY_TRANSFORMER_CONFIG,
    block_parameter_counts,
    encoder_order_findings,
    encoder_sentence_verdict,
    minilm_config,
    minilm_parameter_counts,
    parameter_summary,
    parameter_table,
    permutation_error,
    plot_token_influence,
    position_wise_feed_forward,
    tiny_transformer_parameter_counts,
    token_influence,
)
from helpers.lessons.l06_add_and_norm.feed_forward_training import (
    FEED_FORWARD_ARMS,
    FEED_FORWARD_PARAMETERS,
    FEED_FORWARD_TASKS,
    best_rule_accuracy,
    feed_forward_runs,
    feed_forward_summary,
    feed_forward_table,
    task_labels,
)
from helpers.lessons.l06_add_and_norm.figures import (
    STYLES,
    plot_generalisation,
    plot_layer_profile,
    plot_training_curves,
    smooth,
)
from helpers.lessons.l06_add_and_norm.initialisation import layer_profiles, recoverability, token_similarity
from helpers.lessons.l06_add_and_norm.judging import (
    AT_CHANCE,
    FASTER,
    RELIABLE,
    SAME_WITHIN,
    TRAINED,
    compare,
    convergence,
    describe_outcome,
    seed_outcome,
    verdict,
)
from helpers.lessons.l06_add_and_norm.overfitting import overfit_runs, overfit_summary, overfit_table
from helpers.lessons.l06_add_and_norm.per_token import batch_dependence, per_token_verdict, stream_normalisation
from helpers.lessons.l06_add_and_norm.stacked_models import (
    BLOCK_PARAMETERS,
    StackedAdam,
    StackedModels,
    fused_layer_norm,
    per_model_loss,
    warmup_lrs,
)
from helpers.lessons.l06_add_and_norm.task import MODEL, N_TOKENS, VOCAB, above_average_task, token_only_baseline
from helpers.lessons.l06_add_and_norm.training import DIVERGED_LOSS, setting_label, training_grid
from helpers.lessons.l06_add_and_norm.training_summaries import (
    high_rate_summary,
    moderate_rate_summary,
    per_seed_table,
    warmup_summary,
)
from helpers.lessons.l06_add_and_norm.warmup import adam_first_steps, first_steps_table

__all__ = [
    "VARIANTS",
    "VARIANT_LABELS",
    "require_variant",
    "require_variants",
    "layer_norm",
    "token_stats",
    "feature_stats",
    "batch_norm",
    "residual_jacobian",
    "add_and_norm",
    "AddNormBlock",
    "claim_verdicts",
    "verdict_table",
    "check_rms_norm",
    "check_pre_ln",
    "check_residual_rms",
    "check_output_is_normalised",
    "check_feed_forward",
    "ACTIVATIONS",
    "TINY_TRANSFORMER_CONFIG",
    "position_wise_feed_forward",
    "token_influence",
    "permutation_error",
    "block_parameter_counts",
    "tiny_transformer_parameter_counts",
    "minilm_config",
    "minilm_parameter_counts",
    "encoder_order_findings",
    "parameter_table",
    "parameter_summary",
    "encoder_sentence_verdict",
    "plot_token_influence",
    "FEED_FORWARD_TASKS",
    "FEED_FORWARD_ARMS",
    "FEED_FORWARD_PARAMETERS",
    "task_labels",
    "best_rule_accuracy",
    "feed_forward_runs",
    "feed_forward_table",
    "feed_forward_summary",
    "DEPTHS",
    "GRADIENT_FLOOR",
    "add_norm_profiles",
    "add_norm_state",
    "readout_html",
    "AddNormExplorer",
    "add_norm_explorer",
    "STYLES",
    "smooth",
    "plot_layer_profile",
    "plot_training_curves",
    "plot_generalisation",
    "recoverability",
    "token_similarity",
    "layer_profiles",
    "AT_CHANCE",
    "TRAINED",
    "RELIABLE",
    "SAME_WITHIN",
    "FASTER",
    "seed_outcome",
    "describe_outcome",
    "compare",
    "convergence",
    "verdict",
    "overfit_runs",
    "overfit_table",
    "overfit_summary",
    "batch_dependence",
    "stream_normalisation",
    "per_token_verdict",
    "StackedModels",
    "StackedAdam",
    "warmup_lrs",
    "per_model_loss",
    "fused_layer_norm",
    "BLOCK_PARAMETERS",
    "VOCAB",
    "N_TOKENS",
    "MODEL",
    "above_average_task",
    "token_only_baseline",
    "DIVERGED_LOSS",
    "training_grid",
    "setting_label",
    "per_seed_table",
    "moderate_rate_summary",
    "high_rate_summary",
    "warmup_summary",
    "adam_first_steps",
    "first_steps_table",
]
