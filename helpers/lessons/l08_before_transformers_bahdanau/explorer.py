"""08_before_transformers_bahdanau: a trained model's alignment, one decoder step at a time.

Pick a held-out source sequence, a scoring (additive or dot-product) and a decoder step: the map shows
the weights of every step written so far (later rows are grey), the bars the chosen step's weights over
the source positions, with the position it should read (reversal: n-1-i) starred.
Everything is decoded once when the explorer is built; moving a control only looks it up.
"""

import functools

import ipywidgets as widgets
import matplotlib
import numpy as np
from matplotlib.patches import Rectangle

from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import held_out_set, to_tokens
from helpers.lessons.l08_before_transformers_bahdanau.training import train_model
from helpers.machinery.explorer import Explorer
from helpers.machinery.plotting import ATTENTION_CMAP, MASKED_COLOR

__all__ = [
    "EXAMPLE_LENGTHS",
    "decode_examples",
    "quick_results",
    "alignment_state",
    "alignment_over_seeds",
    "AlignmentExplorer",
    "alignment_explorer",
    "EXPLORERS",
]

EXAMPLE_LENGTHS = (4, 6, 8, 10, 12)  # one held-out example of each length
HIGHLIGHT = "#e69f00"
BAR_COLOR = "#440154"
LABELS = {"additive": "additive", "dot": "dot-product"}


def decode_examples(models, lengths=EXAMPLE_LENGTHS, seed=2024):
    """Greedy-decode one held-out sequence of each length with each model, once.

    models: {"additive" or "dot": Seq2Seq}. Returns {"examples": [source ids (n,) ...],
    "decoded": {kind: [(output ids (n,), weights (n, n)), ...]}}, examples in the order of `lengths`.
    """
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a non-empty dict {'additive': model, 'dot': model}")
    for kind, model in models.items():
        if kind not in LABELS or getattr(model, "attention", None) is None:
            raise ValueError(f"models holds {kind!r}: only attention models ('additive', 'dot') have an alignment")
    return greedy_decode_each(models, lengths, seed)


def greedy_decode_each(models, lengths, seed):
    """decode_examples without its checks: models is {kind: any model with greedy_decode(source (1, n))}."""
    test_set = held_out_set(lengths, per_length=1, seed=seed)
    examples = [test_set[n][0][0] for n in lengths]
    decoded = {}
    for kind, model in models.items():
        decoded[kind] = []
        for source in examples:
            tokens, weights = model.greedy_decode(source[None, :])
            decoded[kind].append((tokens[0], weights[0]))
    return {"examples": examples, "decoded": decoded}


@functools.lru_cache(maxsize=1)
def quick_results(steps=60):
    """Two small models (additive and dot-product) trained briefly, for the explorer's default.

    About a second; cached, so built once per Python process. They are only half-trained: the lesson
    passes its own, fully trained models instead.
    """
    sizes = {"d_hidden": 32, "d_a": 32, "batch_size": 32, "lengths": (3, 6), "lr": 0.01}
    return {kind: train_model(kind, steps=steps, **sizes).model for kind in ("additive", "dot")}


def alignment_state(record, example=0, scoring="additive", step=1):
    """What the explorer shows for one example, scoring and decoder step: a lookup in `record`.

    record: from decode_examples.   example: index into record["examples"].   scoring: a key of
    record["decoded"].   step: decoder step, 1-based; a step beyond the example's length shows the last one.
    Returns a dict: source, output (token lists, length n), n, step (1..n), weights (n, n), shown
    (n_max, n_max) float with NaN outside the example and below the current step, row (n,) = the step's
    weights, expected (int, the position the step should read, n - step), row_on_expected (float),
    output_so_far (str), correct (int, how many of the tokens written so far are right).
    """
    examples = record["examples"]
    if isinstance(example, bool) or not isinstance(example, int) or not 0 <= example < len(examples):
        raise ValueError(f"example must be an int between 0 and {len(examples) - 1}, got {example!r}")
    if scoring not in record["decoded"]:
        raise ValueError(f"scoring must be one of {sorted(record['decoded'])}, got {scoring!r}")
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ValueError(f"step must be an int >= 1, got {step!r}")
    source = examples[example]
    output, weights = record["decoded"][scoring][example]
    n = len(source)
    step = min(step, n)
    n_max = max(len(s) for s in examples)
    shown = np.full((n_max, n_max), np.nan)
    shown[:step, :n] = weights[:step].numpy()
    source_tokens, output_tokens = to_tokens(source), to_tokens(output)
    expected = n - step  # reversal: step i (1-based) writes source position n - i
    row = weights[step - 1]
    target = source.flip(0)
    return {
        "source": source_tokens,
        "output": output_tokens,
        "n": n,
        "step": step,
        "weights": weights,
        "shown": shown,
        "row": row,
        "expected": expected,
        "row_on_expected": float(row[expected]),
        "output_so_far": " ".join(output_tokens[:step]),
        "correct": int((output[:step] == target[:step]).sum()),
    }


def alignment_over_seeds(models, example=0, step=1):
    """Text: what alignment_state gives for every seed's models, summed up over the seeds.

    models: {"additive" or "dot": [Seq2Seq, one per seed]}, the same number of seeds for each.
    example, step: as in alignment_state. For each scoring: the median over the seeds of the weight on the
    position the step should read, to one decimal (one weight of one trained model can move by 0.1 or more
    from one CPU to another; the median of the seeds moves less, and the lowest or highest seed is not
    printed), and how many seeds' models have written every letter right so far.
    """
    if not isinstance(models, dict) or not models or not all(isinstance(m, list) and m for m in models.values()):
        raise TypeError("models must be a non-empty dict {'additive': [model, ...], 'dot': [model, ...]}")
    if len({len(seeds) for seeds in models.values()}) != 1:
        raise ValueError("models must hold the same number of seeds for each scoring")
    lines = []
    for kind, seeds in models.items():
        states = [
            alignment_state(decode_examples({kind: model}), example=example, scoring=kind, step=step) for model in seeds
        ]
        weight = float(np.median([state["row_on_expected"] for state in states]))
        right = sum(state["correct"] == state["step"] for state in states)
        first = states[0]
        lines.append(
            f"{kind:8s} source {''.join(first['source'])}, step {first['step']}: weight on position"
            f" {first['expected']}, median of {len(states)} seeds {weight:.1f}; every letter so far right in"
            f" {right} of {len(states)} seeds"
        )
    return "\n".join(lines)


class AlignmentExplorer(Explorer):
    """An example, a scoring and a decoder step over a trained model's alignment matrix.

    State: see alignment_state.
    """

    figsize = (9.0, 3.8)

    def __init__(self, models=None):
        models = quick_results() if models is None else models
        self.record = decode_examples(models)
        self.n_max = max(len(source) for source in self.record["examples"])
        super().__init__()

    def make_controls(self):
        options = [(f"{''.join(to_tokens(s))} ({len(s)})", i) for i, s in enumerate(self.record["examples"])]
        return {
            "example": widgets.Dropdown(options=options, value=0, description="source"),
            "scoring": widgets.Dropdown(
                options=[(LABELS[kind], kind) for kind in self.record["decoded"]],
                value=next(iter(self.record["decoded"])),
                description="scoring",
            ),
            "step": widgets.IntSlider(value=1, min=1, max=self.n_max, description="decoder step"),
        }

    def update(self, example, scoring, step):
        return alignment_state(self.record, example, scoring, step)

    def setup(self, live):
        n_max = self.n_max
        live.figure.get_layout_engine().set(wspace=0.08)  # room between the colorbar and the bars' label
        map_ax, bar_ax = live.figure.subplots(1, 2, width_ratios=[1, 1.15])
        cmap = matplotlib.colormaps[ATTENTION_CMAP].with_extremes(bad=MASKED_COLOR)
        self.image = map_ax.imshow(
            np.full((n_max, n_max), np.nan), cmap=cmap, vmin=0, vmax=1, interpolation="nearest", aspect="auto"
        )
        live.figure.colorbar(self.image, ax=map_ax, fraction=0.046, pad=0.03, label="weight")
        map_ax.set_xticks(range(n_max))
        map_ax.set_yticks(range(n_max), labels=range(1, n_max + 1))
        map_ax.set_xlabel("source position j (key)")
        map_ax.set_ylabel("decoder step i (query)")
        map_ax.set_title("alignment: the steps written so far", fontsize=10)
        self.row_box = Rectangle((-0.5, -0.5), n_max, 1, fill=False, edgecolor=HIGHLIGHT, linewidth=2.5)
        map_ax.add_patch(self.row_box)
        self.bars = list(bar_ax.bar(range(n_max), np.zeros(n_max), color=BAR_COLOR).patches)
        (self.star,) = bar_ax.plot([0], [1.06], marker="*", markersize=12, linestyle="none", color=HIGHLIGHT)
        self.star.set_label("the position to read (n − i)")
        bar_ax.set_xticks(range(n_max))
        bar_ax.set_ylim(0, 1.25)
        bar_ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        bar_ax.set_xlabel("source position j")
        bar_ax.set_ylabel("weight")
        bar_ax.legend(loc="upper left", fontsize=8)
        bar_ax.set_title("the step's weights over the source", fontsize=10)
        # Text is slow to draw (each glyph, every frame): one short animated line, source and output so far.
        live.figure.text(0.01, 0.99, "source → written so far:", fontsize=10, ha="left", va="top")
        self.headline = live.figure.text(0.25, 0.99, " ", fontsize=11, family="monospace", ha="left", va="top")
        live.figure.get_layout_engine().set(h_pad=0.3)  # room above the axes for the two lines
        live.animate(self.image, self.row_box, self.star, self.headline, *self.bars)

    def draw(self, state):
        self.image.set_data(state["shown"])
        self.row_box.set_y(state["step"] - 1.5)
        self.row_box.set_width(state["n"])
        heights = state["row"].tolist() + [0.0] * (self.n_max - state["n"])
        for bar, height in zip(self.bars, heights, strict=True):
            bar.set_height(height)
        self.star.set_data([state["expected"]], [1.06])
        written = state["output_so_far"].replace(" ", "")
        self.headline.set_text(f"{''.join(state['source'])} → {written} ({state['correct']}/{state['step']} right)")
        return False


def alignment_explorer(models=None):
    """A widget: pick a held-out source, a scoring and a decoder step; watch the alignment, row by row.

    models: {"additive": Seq2Seq, "dot": Seq2Seq} trained models; default: small ones trained on the spot.
    """
    return AlignmentExplorer(models=models)


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"bahdanau_alignment": alignment_explorer}
