"""Lesson 07_complexity (notebooks/07_complexity.ipynb): time, memory and operations of attention, a GRU, a Conv1d.

    attention_variants   attention with and without the n×n matrix (naive, blockwise, query blocks, torch's SDPA)
    layer_kinds          the three layers compared, each (B, n, d_model) -> (B, n, d_model), and their printed names
    layer_primer         what the GRU and the Conv1d compute, written out from their weights
    theory               FLOPs counted by hand, Table 1's exponents, the study notes' n² log n
    measurement_runs     the experiments: time and peak memory over grids of n and d, operation counts
    cached_measurements  the data file notebooks/07_complexity_measurements.json: remeasure, load, read a series
    cost_model           time and bytes as fitted sums of the theory's terms
    summaries            fitted slopes, GFLOP/s, measured crossovers, FLOPs per product: the numbers printed
    verdicts             the thresholds behind every verdict word, and the numbers in words
    cache_effects        the cache and fresh memory, and where attention's time reaches the GRU's
    multi_head_memory    peak memory of h = d_model / d_k heads against one head: where O(n²·d) holds
    linear_recurrence    h_t = a_t·h_(t−1) + x_t by a loop and by a parallel scan along the sequence
    claims               the verdict table on the study notes' claims
    path_length          how far information travels in one layer, and through stacked convolutions
    figures              the lesson's figures, each on a given Axes
    exercises            the self-checking exercises
    explorer             the n and d sliders over measured and predicted times

The measurement kit lives in the machinery (helpers.machinery.measurement: OpMeter, peak_memory, count_ops,
allocator_peak_bytes, time_call, interleaved_timings; helpers.machinery.power_laws: fit_power_law,
crossover_between); measurement_runs and summaries re-export it, so the lesson calls it as its own.
"""

from helpers.lessons.l07_complexity.attention_variants import ATTENTION_VARIANTS, attend, naive_attention
from helpers.lessons.l07_complexity.cache_effects import (
    cache_bytes,
    crossover_causes,
    crossover_report,
    fresh_bytes_per_call,
    fresh_memory_table,
)
from helpers.lessons.l07_complexity.cached_measurements import DATA_PATH, layer_series, load_measurements, remeasure
from helpers.lessons.l07_complexity.claims import claims_table
from helpers.lessons.l07_complexity.cost_model import CostModel, fit_cost_model, fit_memory_terms
from helpers.lessons.l07_complexity.exercises import (
    check_attention_flops,
    check_crossover,
    check_fit_slope,
    check_online_softmax_step,
)
from helpers.lessons.l07_complexity.explorer import (
    ComplexityExplorer,
    complexity_explorer,
    complexity_state,
    readout_html,
)
from helpers.lessons.l07_complexity.figures import (
    plot_bytes_per_n2,
    plot_crossover,
    plot_loglog,
    plot_memory_claim,
    plot_notes_curve,
)
from helpers.lessons.l07_complexity.layer_kinds import (
    LABELS,
    LAYER_KINDS,
    ConvLayer,
    RecurrentLayer,
    SelfAttentionLayer,
    make_layer,
    seeded_sequence,
)
from helpers.lessons.l07_complexity.layer_primer import conv_by_hand, gru_by_hand
from helpers.lessons.l07_complexity.linear_recurrence import (
    linear_recurrence_loop,
    linear_recurrence_scan,
    seeded_recurrence,
)
from helpers.lessons.l07_complexity.measurement_runs import (
    OpMeter,
    allocator_peak_bytes,
    count_ops,
    interleaved_timings,
    measure_attention_variants,
    measure_fresh_memory,
    measure_layers,
    measure_sequential,
    naive_attention_into,
    one_thread,
    operation_counts,
    peak_memory,
    reused_buffers,
    time_call,
)
from helpers.lessons.l07_complexity.multi_head_memory import (
    MULTI_HEAD_D_K,
    MULTI_HEAD_D_MODELS,
    MULTI_HEAD_NS,
    multi_head_memory,
    multi_head_slopes,
)
from helpers.lessons.l07_complexity.path_length import conv_layers_to_connect, gradient_reach
from helpers.lessons.l07_complexity.summaries import (
    attention_against_conv,
    attention_product_flops,
    crossover_between,
    fit_power_law,
    gflops_per_second,
    measured_crossovers,
    slopes,
)
from helpers.lessons.l07_complexity.theory import (
    THEORY_SLOPE_D,
    THEORY_SLOPE_N,
    attention_flop_breakdown,
    flop_crossover_n,
    layer_flops,
    notes_memory_curve,
)
from helpers.lessons.l07_complexity.verdicts import (
    FLOAT_ERROR_BOUNDS,
    FRESH_COST_THRESHOLD,
    MEMORY_FIT_TOLERANCE,
    SLOPE_MATCH,
    TIME_MARGIN,
    between_text,
    compare_times,
    error_bound,
    power_of_ten,
)

__all__ = [
    "ATTENTION_VARIANTS",
    "naive_attention",
    "attend",
    "cache_bytes",
    "fresh_memory_table",
    "crossover_causes",
    "fresh_bytes_per_call",
    "crossover_report",
    "DATA_PATH",
    "remeasure",
    "load_measurements",
    "layer_series",
    "claims_table",
    "CostModel",
    "fit_cost_model",
    "fit_memory_terms",
    "check_attention_flops",
    "check_crossover",
    "check_fit_slope",
    "check_online_softmax_step",
    "complexity_state",
    "readout_html",
    "ComplexityExplorer",
    "complexity_explorer",
    "plot_loglog",
    "plot_memory_claim",
    "plot_bytes_per_n2",
    "plot_notes_curve",
    "plot_crossover",
    "LAYER_KINDS",
    "LABELS",
    "SelfAttentionLayer",
    "RecurrentLayer",
    "ConvLayer",
    "make_layer",
    "seeded_sequence",
    "gru_by_hand",
    "conv_by_hand",
    "OpMeter",
    "peak_memory",
    "count_ops",
    "allocator_peak_bytes",
    "time_call",
    "interleaved_timings",
    "one_thread",
    "measure_layers",
    "measure_attention_variants",
    "measure_sequential",
    "measure_fresh_memory",
    "reused_buffers",
    "naive_attention_into",
    "operation_counts",
    "linear_recurrence_loop",
    "linear_recurrence_scan",
    "seeded_recurrence",
    "MULTI_HEAD_D_K",
    "MULTI_HEAD_NS",
    "MULTI_HEAD_D_MODELS",
    "multi_head_memory",
    "multi_head_slopes",
    "gradient_reach",
    "conv_layers_to_connect",
    "fit_power_law",
    "crossover_between",
    "attention_product_flops",
    "slopes",
    "gflops_per_second",
    "measured_crossovers",
    "attention_against_conv",
    "THEORY_SLOPE_N",
    "THEORY_SLOPE_D",
    "layer_flops",
    "attention_flop_breakdown",
    "flop_crossover_n",
    "notes_memory_curve",
    "SLOPE_MATCH",
    "TIME_MARGIN",
    "FRESH_COST_THRESHOLD",
    "MEMORY_FIT_TOLERANCE",
    "FLOAT_ERROR_BOUNDS",
    "error_bound",
    "power_of_ten",
    "compare_times",
    "between_text",
]
