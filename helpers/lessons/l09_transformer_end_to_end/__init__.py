"""Lesson 09_transformer_end_to_end (notebooks/09_transformer_end_to_end.ipynb): a tiny transformer that sorts digits.

    position_probes   self-attention is blind to order until positions are added: similarities, permutation gap
    sorting_task      the digit-sorting task: tokens, examples, training batches and the held-out set
    tiny_transformer  the model: embedding + positions, Pre-LN blocks with a causal mask, output projection
    training          seeded training on one thread, with warm-up and a cosine learning rate
    evaluation        exact match per sequence, accuracy per input length
    sampling          the next token drawn with a temperature and top-k, from an explicit torch.Generator
    generation        greedy or sampled decoding with every step's attention rows and probabilities
    head_analysis     attention maps, what each head attends to, and ablating one head (zero or mean)
    checkpoint        saving, loading and writing the committed notebooks/09_checkpoint.pt
    figures           loss curves, mistakes by length, every head's map, the ablation bars
    explorer          a live training monitor, and generation step by step
    exercises         the notebook's self-checking exercises

Notebooks import from this facade; the modules import each other by their full module paths.
"""

from helpers.lessons.l09_transformer_end_to_end.checkpoint import (
    CHECKPOINT_NAME,
    CHECKPOINT_PATH,
    STATED_ACCURACY,
    load_checkpoint,
    save_checkpoint,
    write_checkpoint,
)
from helpers.lessons.l09_transformer_end_to_end.evaluation import accuracy_by_length, exact_match
from helpers.lessons.l09_transformer_end_to_end.exercises import (
    check_block_parameters,
    check_failing_input,
    check_greedy_decoding,
    check_position_shift,
    check_temperature_sampling,
)
from helpers.lessons.l09_transformer_end_to_end.explorer import (
    DEFAULT_DIGITS,
    SAMPLING_SEED,
    GenerationExplorer,
    TrainingMonitor,
    generation_explorer,
    generation_state,
)
from helpers.lessons.l09_transformer_end_to_end.figures import (
    plot_ablation,
    plot_heads,
    plot_losses,
    plot_mistakes_by_length,
    plot_sampling_sweep,
)
from helpers.lessons.l09_transformer_end_to_end.generation import generate, sampled_exact_match, sampling_sweep
from helpers.lessons.l09_transformer_end_to_end.head_analysis import (
    ABLATIONS,
    PATTERNS,
    ablate_head,
    attention_maps,
    head_ablation,
    head_means,
    head_patterns,
    name_heads,
)
from helpers.lessons.l09_transformer_end_to_end.position_probes import (
    permutation_gap,
    plot_encoding,
    plot_similarity_by_distance,
    position_similarity,
)
from helpers.lessons.l09_transformer_end_to_end.sampling import (
    entropy_bits,
    sample_next_token,
    sampling_distribution,
    sampling_margin,
)
from helpers.lessons.l09_transformer_end_to_end.sorting_task import (
    DIGITS,
    IGNORE,
    MAX_DIGITS,
    MIN_DIGITS,
    N_POSITIONS,
    PAD,
    PAD_ID,
    SEP,
    SEP_ID,
    TEST_SEED,
    TEST_SIZE,
    TOKENS,
    decode,
    encode,
    held_out_set,
    input_lengths,
    is_held_out,
    make_examples,
    parse_digits,
    sample_batch,
)
from helpers.lessons.l09_transformer_end_to_end.tiny_transformer import CONFIG, TinyTransformer, count_parameters
from helpers.lessons.l09_transformer_end_to_end.training import (
    TRAINING,
    Adam,
    learning_rate,
    one_thread,
    one_thread_context,
    train,
)

__all__ = [
    "STATED_ACCURACY",
    "CHECKPOINT_NAME",
    "CHECKPOINT_PATH",
    "save_checkpoint",
    "write_checkpoint",
    "load_checkpoint",
    "exact_match",
    "accuracy_by_length",
    "check_position_shift",
    "check_block_parameters",
    "check_greedy_decoding",
    "check_temperature_sampling",
    "check_failing_input",
    "DEFAULT_DIGITS",
    "SAMPLING_SEED",
    "TrainingMonitor",
    "generation_state",
    "GenerationExplorer",
    "generation_explorer",
    "plot_losses",
    "plot_mistakes_by_length",
    "plot_heads",
    "plot_ablation",
    "plot_sampling_sweep",
    "sampling_distribution",
    "sample_next_token",
    "sampling_margin",
    "entropy_bits",
    "generate",
    "sampled_exact_match",
    "sampling_sweep",
    "attention_maps",
    "PATTERNS",
    "head_patterns",
    "name_heads",
    "head_means",
    "ablate_head",
    "ABLATIONS",
    "head_ablation",
    "position_similarity",
    "permutation_gap",
    "plot_encoding",
    "plot_similarity_by_distance",
    "DIGITS",
    "SEP",
    "PAD",
    "TOKENS",
    "SEP_ID",
    "PAD_ID",
    "IGNORE",
    "MIN_DIGITS",
    "MAX_DIGITS",
    "N_POSITIONS",
    "TEST_SIZE",
    "TEST_SEED",
    "parse_digits",
    "encode",
    "decode",
    "is_held_out",
    "make_examples",
    "sample_batch",
    "held_out_set",
    "input_lengths",
    "CONFIG",
    "TinyTransformer",
    "count_parameters",
    "TRAINING",
    "one_thread",
    "one_thread_context",
    "learning_rate",
    "Adam",
    "train",
]
