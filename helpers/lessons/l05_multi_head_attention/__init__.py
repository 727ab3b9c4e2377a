"""Lesson 05_multi_head_attention (notebooks/05_multi_head_attention.ipynb): heads built, costed, trained, compared.

    head_costs         what heads cost (parameters, FLOPs, memory) and how differently they attend
    chance_distances   chance at the same sharpness: heads' rows shuffled over the keys, the yardstick for distances
    letter_task        the toy task: the first letter and the previous one, its batches (B, n)
    letter_task_model  the task's model, one multi-head attention layer, and its score on a fixed test set
    side_by_side       M of those models stacked along a first axis, computed by batched products
    training           seeded, cached training of the models side by side; the lesson's seeds
    head_roles         what each trained head does: where its weight goes, its job, what it answers alone
    head_counts        one, two, four heads over seeds: the comparison, its thresholds, verdicts, Markdown
    what_holds         the notes' claim "multiple attempts": heads' distances before and after training, the verdict
    explorer           compare two of MiniLM's heads, and all the heads of a layer
    typed_attention    type a sentence, see MiniLM's attention in bertviz's views
    exercises          the checkers: split into heads, combine them, count parameters, a whole layer

The notebook imports every name from here; the modules import each other by their full module paths.
"""

from helpers.lessons.l05_multi_head_attention.chance_distances import (
    CHANCE_SHARE,
    SHUFFLES,
    chance_distances,
    entropy,
    minilm_distances,
    more_alike_than_chance,
    shuffled_keys,
)
from helpers.lessons.l05_multi_head_attention.exercises import (
    check_combine_heads,
    check_multi_head,
    check_parameter_count,
    check_split_heads,
)
from helpers.lessons.l05_multi_head_attention.explorer import (
    HEAD_SENTENCES,
    HeadsExplorer,
    heads_explorer,
    heads_state,
    plot_head_grid,
)
from helpers.lessons.l05_multi_head_attention.head_costs import (
    attention_flops,
    attention_memory,
    counted_flops,
    head_distances,
    memory_growth,
    memory_markdown,
    operations_markdown,
    parameter_count,
    pattern_weights,
)
from helpers.lessons.l05_multi_head_attention.head_counts import (
    BACKUP_MARGIN,
    LEARNED,
    RARELY,
    RELIABLY,
    compare_head_counts,
    describe_spread,
    head_count_markdown,
    learns_the_task,
    one_head_verdict,
    summarise_head_counts,
    twin_heads,
    twins_back_up,
)
from helpers.lessons.l05_multi_head_attention.head_roles import (
    answers_one_half,
    head_role,
    head_weight_on,
    splits_the_jobs,
)
from helpers.lessons.l05_multi_head_attention.letter_task import (
    CHANCE,
    LETTERS,
    NO_TARGET,
    N,
    V,
    example_letters,
    pair_name,
    sample_batch,
)
from helpers.lessons.l05_multi_head_attention.letter_task_model import D_MODEL, LetterTaskModel, evaluate, initial_model
from helpers.lessons.l05_multi_head_attention.side_by_side import StackedLetterTaskModels
from helpers.lessons.l05_multi_head_attention.training import (
    FOUR_HEAD_SEEDS,
    SEEDS,
    train_head_model,
    train_head_models,
    train_side_by_side,
)
from helpers.lessons.l05_multi_head_attention.typed_attention import (
    DEFAULT_SENTENCE,
    MAX_SENTENCE_CHARS,
    VIEWS,
    TypedAttentionView,
    typed_attention_state,
    typed_attention_view,
)
from helpers.lessons.l05_multi_head_attention.what_holds import (
    chance_before_after,
    distance_before_after,
    what_holds_markdown,
)

__all__ = [
    "SHUFFLES",
    "CHANCE_SHARE",
    "entropy",
    "shuffled_keys",
    "chance_distances",
    "more_alike_than_chance",
    "minilm_distances",
    "check_split_heads",
    "check_combine_heads",
    "check_parameter_count",
    "check_multi_head",
    "HEAD_SENTENCES",
    "heads_state",
    "HeadsExplorer",
    "heads_explorer",
    "plot_head_grid",
    "parameter_count",
    "attention_flops",
    "counted_flops",
    "operations_markdown",
    "attention_memory",
    "memory_growth",
    "memory_markdown",
    "head_distances",
    "pattern_weights",
    "LEARNED",
    "RELIABLY",
    "RARELY",
    "BACKUP_MARGIN",
    "compare_head_counts",
    "learns_the_task",
    "summarise_head_counts",
    "one_head_verdict",
    "head_count_markdown",
    "twin_heads",
    "twins_back_up",
    "describe_spread",
    "head_weight_on",
    "head_role",
    "splits_the_jobs",
    "answers_one_half",
    "LETTERS",
    "V",
    "N",
    "NO_TARGET",
    "CHANCE",
    "sample_batch",
    "pair_name",
    "example_letters",
    "D_MODEL",
    "LetterTaskModel",
    "initial_model",
    "evaluate",
    "StackedLetterTaskModels",
    "SEEDS",
    "FOUR_HEAD_SEEDS",
    "train_side_by_side",
    "train_head_models",
    "train_head_model",
    "MAX_SENTENCE_CHARS",
    "DEFAULT_SENTENCE",
    "VIEWS",
    "typed_attention_state",
    "TypedAttentionView",
    "typed_attention_view",
    "distance_before_after",
    "chance_before_after",
    "what_holds_markdown",
]
