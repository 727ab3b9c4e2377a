"""04_masking's results as text tables, one line per row of the experiment.

Each formats the result of one experiment of this room, with the digits the computation determines:
    format_padding_table(result)     padding.padding_experiment's result, one line per number of pads
    format_leakage_table(rows)       causal_leakage.leakage_table's rows, one line per position t
    format_placement_table(rows)     causal_leakage.mask_placement_table's rows, one line per placement
    format_decoding_table(rows)      decoding.decoding_table's rows, one line per step, then the newest token
    format_depth_table(rows)         decoding.newest_output_by_depth's rows, one line per number of layers
    format_convention_table(rows)    mask_conventions.mask_convention_table's rows, one line per API and mask
    format_cheating_table(results)   cheating.cheating_experiment's result: per mask the median (lowest–highest)
                                     over the seeds, then the verdicts counted over the seeds
"""

import statistics

from helpers.lessons.l04_masking.cheating import COPIES, NEAR_CHANCE
from helpers.lessons.l04_masking.toy_head import SAME_BELOW

__all__ = [
    "format_padding_table",
    "format_leakage_table",
    "format_placement_table",
    "format_decoding_table",
    "format_depth_table",
    "format_convention_table",
    "format_cheating_table",
]


def _fmt(value, digits=4):
    return "—" if value is None else f"{value:.{digits}f}"


def format_padding_table(result):
    """padding_experiment's result as text: one line per number of pads."""
    lines = ["pads | weight on pads | max change, no mask | max change, padding mask"]
    for i, count in enumerate(result["pads"]):
        lines.append(
            f"{count:4d} | {result['pad_share'][i]:14.3f} | {result['no_mask'][i]:19.4f} | "
            f"{result['padding_mask'][i]:24.4f}"
        )
    return "\n".join(lines)


def format_leakage_table(rows):
    """leakage_table's rows as text."""
    width = max(len(row["token"]) for row in rows)
    lines = [f"t | {'token':{width}s} | later tokens | no mask: max change | causal mask: max change"]
    for row in rows:
        lines.append(
            f"{row['position']} | {row['token']:{width}s} | {row['later']:12d} | {_fmt(row['no_mask']):>19s} | "
            f"{_fmt(row['causal']):>23s}"
        )
    return "\n".join(lines)


def format_placement_table(rows):
    """mask_placement_table's rows as text."""
    width = max(len(row["placement"]) for row in rows)
    lines = [f"{'where the mask goes':{width}s} | max hidden weight | row sums      | leak   | vs -inf before"]
    for row in rows:
        sums = f"{row['min_row_sum']:.3f}..{row['max_row_sum']:.3f}"
        lines.append(
            f"{row['placement']:{width}s} | {row['hidden_weight']:17.4f} | {sums:13s} | {row['leak']:.4f} | "
            f"{row['difference']:.4f}"
        )
    return "\n".join(lines)


def format_decoding_table(rows):
    """decoding_table's rows as text."""
    width = max(len(row["token"]) for row in rows)
    lines = [
        f"step | {'new token':{max(width, 9)}s} | no mask: earlier outputs changed | causal: changed | "
        "causal vs one pass"
    ]
    for row in rows:
        changed = f"{row['changed_none']} of {row['earlier']}"
        if row["changed_none"]:
            changed += f" (by up to {row['max_change_none']:.3f})"
        lines.append(
            f"{row['step']:4d} | {row['token']:{max(width, 9)}s} | {changed:32s} | "
            f"{str(row['changed_causal']) + ' of ' + str(row['earlier']):15s} | {row['causal_vs_full']:.4f}"
        )
    newest = max(row["newest_none_vs_causal"] for row in rows)
    lines.append(f"the newest token's output, no mask vs causal mask: largest difference over all steps {newest:.4f}")
    return "\n".join(lines)


def _threshold():
    """SAME_BELOW as people write it: '1e-5'."""
    mantissa, exponent = f"{SAME_BELOW:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _difference(value):
    """'< 1e-5' under the threshold, else two decimals: the digits any CPU gives."""
    return f"< {_threshold()}" if value < SAME_BELOW else f"{value:.2f}"


def format_depth_table(rows):
    """newest_output_by_depth's rows as text, with the verdicts and the threshold they use."""
    lines = ["layers | newest token, no mask vs causal | verdict | causal step by step vs one pass"]
    for row in rows:
        verdict = "same" if row["newest_same"] else "differs"
        causal = _difference(row["causal_vs_full"]) + (" (same)" if row["causal_same"] else " (differs)")
        lines.append(f"{row['layers']:6d} | {_difference(row['newest']):>31s} | {verdict:7s} | {causal}")
    lines.append(f"largest difference over all decoding steps; 'same' when it is below {_threshold()}")
    return "\n".join(lines)


def format_convention_table(rows):
    """mask_convention_table's rows as text: does each API, given each mask, compute causal attention?"""
    width = max(len(row["api"]) for row in rows)
    lines = [f"{'PyTorch API':{width}s} | mask given               | same as helpers with the causal mask?"]
    meaning = {"mask": "mask (True = may attend)", "~mask": "~mask (True = hidden)", "float mask": "float: 0 or −∞"}
    for row in rows:
        verdict = "yes" if row["same"] else f"no: {row['rows_differ']} of {row['n']} rows differ"
        lines.append(f"{row['api']:{width}s} | {meaning[row['given']]:24s} | {verdict}")
    lines.append(f"'yes' when no entry of any row differs by {_threshold()} or more (float64)")
    return "\n".join(lines)


def _spread(values, show):
    """'0.95 (0.92–0.97)': the median and, in brackets, the lowest and the highest value."""
    return f"{show(statistics.median(values))} ({show(min(values))}–{show(max(values))})"


def format_cheating_table(results):
    """cheating_experiment's result as text: per mask, the median over the seeds and the range, then the
    verdicts counted over the seeds."""
    chance, count = results["chance"], len(results["seeds"])

    def percent(value):
        return f"{100 * value:.0f}%"

    def two(value):
        return f"{value:.2f}"

    lines = [
        f"chance (1/vocab): {percent(chance)}; {count} seeds, each number the median (lowest–highest)",
        "model       | final loss       | accuracy, future visible | accuracy, step by step | weight on t+1",
    ]
    for name in ("no mask", "causal mask"):
        r = results[name]
        lines.append(
            f"{name:11s} | {_spread(r['final_loss'], two):16s} | {_spread(r['training_accuracy'], percent):>24s} | "
            f"{_spread(r['generation_accuracy'], percent):>22s} | {_spread(r['next_weight'], two)}"
        )
    lines += [
        f"no mask, copies the answer ({percent(COPIES)} or more with the future visible, within "
        f"{100 * NEAR_CHANCE:.0f} points of chance step by step): {results['copies']} of {count} seeds",
        f"causal mask, stays honest (the same both ways, within {100 * NEAR_CHANCE:.0f} points of chance): "
        f"{results['honest']} of {count} seeds",
    ]
    return "\n".join(lines)
