"""04_masking: one sentence of a padded batch under no mask, a padding mask or a causal mask, decoded step by step.

Pick a sentence (padded with [PAD] to the batch's length), a mask, a query token and a decoding step.
The heatmap shows the weights of the tokens that exist at that step: masked cells are grey with a ×
(their weight is forced to 0, not merely small), cells of tokens not generated yet are white. The bars
are the chosen query's row. The line above the figure counts the earlier outputs that changed at this step:
none under the causal mask, all of them without it.
"""

import ipywidgets as widgets
import matplotlib
import numpy as np
import torch
from matplotlib.colors import Normalize, to_rgba
from matplotlib.patches import Patch, Rectangle

from helpers.lessons.l04_masking.padding import MASK_KINDS, pad, sentence_mask
from helpers.lessons.l04_masking.toy_head import SENTENCES, attend
from helpers.machinery.explorer import Explorer
from helpers.machinery.plotting import ATTENTION_CMAP, MASKED_COLOR
from helpers.machinery.threads import one_thread

__all__ = [
    "N",
    "MASK_LABELS",
    "masking_map_state",
    "MaskingExplorer",
    "masking_explorer",
    "EXPLORERS",
]

N = max(len(tokens) for tokens in SENTENCES.values())  # every sentence is padded to the batch's length
MASK_LABELS = {"none": "no mask", "padding": "padding", "causal": "causal"}
HEADLINES = {
    "none": "no mask: every query reads every key, [PAD] included",
    "padding": "padding mask: no query reads a [PAD] key",
    "causal": "causal mask (+ padding): query i reads keys 0..i, no [PAD]",
}
HIGHLIGHT = "#e69f00"
BAR_COLOR = "#440154"
MARK_COLOR = "#6e6e6e"
NOT_YET = (1.0, 1.0, 1.0, 1.0)  # white: the token does not exist yet at this step
CHANGED_ATOL = 1e-6


def _sentence_options():
    return [
        (f"{' '.join(tokens)} ({len(tokens)} + {N - len(tokens)} [PAD])", name) for name, tokens in SENTENCES.items()
    ]


def _query_options(tokens):
    return [(f"{i}: {token}", i) for i, token in enumerate(tokens)]


def _check_position(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an int between {low} and {high}, got {value!r}")
    return int(value)


@one_thread()  # tiny tensors: a second thread only adds waiting on a busy laptop
def masking_map_state(sentence="cat", mask="causal", query=0, step=N):
    """One padded sentence's attention map under a mask, as it stands after `step` decoding steps.

    sentence: a key of helpers.lessons.l04_masking.toy_head.SENTENCES (padded with [PAD] to N tokens).
    mask: "none", "padding" or "causal" (causal includes the padding mask).
    query: 0 <= query < N.   step: 1 <= step <= N; tokens 0..step−1 exist, the rest are not generated yet.
    Returns a dict: sentence, tokens (N), length (real tokens), mask, step, query,
    allowed (N, N) bool (True = may attend; all True for "none"), revealed (N, N) bool (both tokens exist),
    weights (N, N): the prefix's attention weights, 0 outside the revealed block; output (step, D_K);
    row (N,) = weights[query] (all 0 if the query is not generated yet), query_revealed (bool),
    changed (how many of the step−1 earlier outputs changed at this step), max_change (float).
    """
    if sentence not in SENTENCES:
        raise ValueError(f"sentence must be one of {list(SENTENCES)}, got {sentence!r}")
    if mask not in MASK_KINDS:
        raise ValueError(f"mask must be one of {list(MASK_KINDS)}, got {mask!r}")
    query = _check_position("query", query, 0, N - 1)
    step = _check_position("step", step, 1, N)
    length = len(SENTENCES[sentence])
    tokens = pad(SENTENCES[sentence], N)
    allowed = sentence_mask(mask, N, length)
    allowed = torch.ones(N, N, dtype=torch.bool) if allowed is None else allowed
    output, prefix_weights = attend(tokens[:step], mask=allowed[:step, :step])  # (step, D_K), (step, step)
    changed, max_change = 0, 0.0
    if step > 1:
        previous, _ = attend(tokens[: step - 1], mask=allowed[: step - 1, : step - 1])
        change = (output[: step - 1] - previous).abs().amax(dim=-1)  # (step − 1,)
        changed, max_change = int((change > CHANGED_ATOL).sum()), change.max().item()
    weights = torch.zeros(N, N)
    weights[:step, :step] = prefix_weights
    exists = torch.arange(N) < step
    return {
        "sentence": sentence,
        "tokens": tokens,
        "length": length,
        "mask": mask,
        "step": step,
        "query": query,
        "allowed": allowed,
        "revealed": exists[:, None] & exists[None, :],
        "weights": weights,
        "output": output,
        "row": weights[query],
        "query_revealed": query < step,
        "changed": changed,
        "max_change": max_change,
    }


def _rgba_bytes(color):
    return np.round(np.array(to_rgba(color)) * 255).astype(np.uint8)


def map_colors(state):
    """The heatmap's RGBA image, (N, N, 4) uint8: weight colours (viridis, 0..1), grey where masked,
    white where a token is not generated yet. (uint8 draws about 3x faster than floats.)"""
    rgba = matplotlib.colormaps[ATTENTION_CMAP](Normalize(0.0, 1.0)(state["weights"].numpy()), bytes=True)
    allowed, revealed = state["allowed"].numpy(), state["revealed"].numpy()
    rgba[revealed & ~allowed] = _rgba_bytes(MASKED_COLOR)
    rgba[~revealed] = _rgba_bytes(NOT_YET)
    return rgba


class MaskingExplorer(Explorer):
    """Sentence, mask, query-token and decoding-step controls over one padded sentence's attention map.

    State: masking_map_state's dict. The map is an RGBA image (map_colors) redrawn in place; masked
    cells also carry a × marker, so they differ from a small weight in shape as well as colour.
    """

    figsize = (9.0, 3.7)
    has_readout = True  # what the figure shows, as a line of text above it

    def __init__(self):
        self._relabelling = False
        self.shown_sentence = None
        super().__init__()
        # The first draw placed the axes; keep them there. Constrained layout would recompute the
        # layout on every full redraw (a sentence or mask change), about 40 % of its time.
        self.live.figure.set_layout_engine("none")

    def make_controls(self):
        return {
            "sentence": widgets.Dropdown(
                options=_sentence_options(), value="cat", description="sentence", layout=widgets.Layout(width="32em")
            ),
            "mask": widgets.ToggleButtons(
                options=[(MASK_LABELS[kind], kind) for kind in MASK_KINDS], value="causal", description="mask"
            ),
            "query": widgets.Dropdown(
                options=_query_options(pad(SENTENCES["cat"], N)), value=2, description="query token"
            ),
            "step": widgets.IntSlider(value=N, min=1, max=N, step=1, description="decoding step"),
        }

    def _on_change(self, change):
        if self._relabelling:
            return
        if change["owner"] is self.controls["sentence"]:
            query = self.controls["query"]
            keep = query.value
            self._relabelling = True  # new labels reset the value: put it back without a second refresh
            try:
                query.options = _query_options(pad(SENTENCES[change["new"]], N))
                query.value = keep
            finally:
                self._relabelling = False
        self.refresh()

    def update(self, sentence, mask, query, step):
        return masking_map_state(sentence, mask, query, step)

    def setup(self, live):
        live.figure.get_layout_engine().set(wspace=0.1)  # keeps the colorbar's label clear of the bars
        map_ax, bar_ax = live.figure.subplots(1, 2, width_ratios=[1.15, 1])
        self.map_ax, self.bar_ax = map_ax, bar_ax
        blank = np.full((N, N, 4), 255, dtype=np.uint8)
        self.image = map_ax.imshow(blank, interpolation="nearest")
        mappable = matplotlib.cm.ScalarMappable(Normalize(0.0, 1.0), ATTENTION_CMAP)
        live.figure.colorbar(mappable, ax=map_ax, fraction=0.046, pad=0.03, label="weight")
        (self.crosses,) = map_ax.plot([], [], linestyle="none", marker="x", markersize=5, color=MARK_COLOR)
        self.row_box = Rectangle((-0.5, -0.5), N, 1, fill=False, edgecolor=HIGHLIGHT, linewidth=2.5)
        map_ax.add_patch(self.row_box)
        map_ax.set_xlabel("key (attended to)")
        map_ax.set_ylabel("query (attending)")
        self.map_title = map_ax.set_title(" ", fontsize=9)

        self.bars = list(bar_ax.bar(range(N), np.zeros(N), color=BAR_COLOR).patches)
        (self.bar_crosses,) = bar_ax.plot([], [], linestyle="none", marker="x", markersize=7, color=MARK_COLOR)
        bar_ax.set_ylim(0.0, 1.3)  # the band above 1.05 holds the legend, clear of the bars
        bar_ax.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
        bar_ax.set_ylabel("weight of each key")
        self.bar_title = bar_ax.set_title(" ", fontsize=9)
        bar_ax.legend(
            handles=[
                Patch(facecolor=MASKED_COLOR, edgecolor=MARK_COLOR, label="× masked: weight forced to 0"),
                Patch(facecolor="white", edgecolor=MARK_COLOR, label="not generated yet"),
            ],
            loc="upper right",
            fontsize=8,
            ncols=2,
        )
        self.shown_mask = None
        live.animate(
            self.image,
            self.crosses,
            self.row_box,
            self.bar_title,
            self.bar_crosses,
            *self.bars,
        )

    def _set_tokens(self, tokens):
        for ax, rotation in ((self.map_ax, 60), (self.bar_ax, 60)):
            ax.set_xticks(range(N), labels=tokens, rotation=rotation, ha="right", fontsize=8)
        self.map_ax.set_yticks(range(N), labels=tokens, fontsize=8)

    def draw(self, state):
        full_redraw = False
        if state["sentence"] != self.shown_sentence:
            self._set_tokens(state["tokens"])
            self.shown_sentence = state["sentence"]
            full_redraw = True
        allowed, revealed = state["allowed"], state["revealed"]
        self.image.set_data(map_colors(state))
        rows, cols = torch.nonzero(revealed & ~allowed, as_tuple=True)
        self.crosses.set_data(cols.numpy(), rows.numpy())
        query, step, tokens = state["query"], state["step"], state["tokens"]
        self.row_box.set_y(query - 0.5)
        if state["mask"] != self.shown_mask:  # the headline is not animated: redraw the figure once
            self.map_title.set_text(HEADLINES[state["mask"]])
            self.shown_mask = state["mask"]
            full_redraw = True
        heights = state["row"].tolist()
        for bar, height in zip(self.bars, heights, strict=True):
            bar.set_height(height)
        if state["query_revealed"]:
            hidden = [key for key in range(step) if not allowed[query, key]]
            self.bar_title.set_text(f"query {query}: '{tokens[query]}'")
        else:
            hidden = []
            self.bar_title.set_text(f"query {query}: '{tokens[query]}', not generated yet")
        self.bar_crosses.set_data(hidden, [0.03] * len(hidden))
        self.readout.value = _readout(state)
        return full_redraw


def _readout(state):
    """The line above the figure: how many earlier outputs this step changed."""
    step = state["step"]
    if step == 1:
        return "step 1: the first token"
    changed = f"step {step}: {state['changed']} of {step - 1} earlier outputs changed"
    return changed + (f" (≤ {state['max_change']:.2f})" if state["changed"] else "")


def masking_explorer():
    """A widget: pick a sentence, a mask, a query token and a decoding step; masked cells are grey with ×."""
    return MaskingExplorer()


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"masking": masking_explorer}
