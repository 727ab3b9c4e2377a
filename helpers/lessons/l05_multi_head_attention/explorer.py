"""05_multi_head_attention: compare two of MiniLM's heads, and see how different all heads of a layer are.

Pick a sentence, a layer and two heads: the left map is one head's attention, the middle map the other's,
and the right matrix holds the distance between every two heads of that layer (mean total variation:
0 = they attend identically, 1 = never to the same token), with the chosen pair outlined. MiniLM's
attention (helpers.machinery.minilm_model) is computed once per sentence; a change only picks from it.
"""

import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Rectangle

from helpers.lessons.l05_multi_head_attention.head_costs import head_distances
from helpers.library.checks import require_int
from helpers.machinery.explorer import PerSentenceExplorer
from helpers.machinery.minilm import N_HEADS
from helpers.machinery.plotting import ATTENTION_CMAP

__all__ = ["HEAD_SENTENCES", "heads_state", "HeadsExplorer", "heads_explorer", "plot_head_grid", "EXPLORERS"]

HEAD_SENTENCES = (
    "The animal didn't cross the street because it was too tired",
    "The animal didn't cross the street because it was too wide",
    "She sat by the river bank and watched the boats",
)
N_LAYERS = 6
DISTANCE_CMAP = "cividis"
HIGHLIGHT = "#e69f00"


def _check_index(name, value, size):
    value = require_int(name, value, minimum=0)
    if value >= size:
        raise ValueError(f"{name} must be between 0 and {size - 1}, got {value}")
    return value


def heads_state(sentence, layer=0, head=0, other=1, attention=None):
    """Two heads of one MiniLM layer on a sentence, and the distances between all heads of that layer.

    sentence: str.   layer: 0..5.   head, other: 0..11.
    attention: optional (tokens, attention (6, 12, n, n)) already computed for the sentence.
    Returns a dict: sentence, tokens (n str), layer, head, other, weights (n, n) of `head`,
    other_weights (n, n) of `other`, distances (12, 12) = head_distances of the layer, and
    distance = distances[head, other] (a float).
    """
    if attention is None:
        from helpers.machinery.minilm_model import minilm_attention  # reads the weights file: only when first needed

        attention = minilm_attention(sentence)
    tokens, weights = attention
    layer = _check_index("layer", layer, weights.shape[0])
    head = _check_index("head", head, weights.shape[1])
    other = _check_index("other", other, weights.shape[1])
    distances = head_distances(weights[layer])  # (12, 12)
    return {
        "sentence": sentence,
        "tokens": list(tokens),
        "layer": layer,
        "head": head,
        "other": other,
        "weights": weights[layer, head],
        "other_weights": weights[layer, other],
        "distances": distances,
        "distance": float(distances[head, other]),
    }


def _draw_map(ax, tokens):
    """An empty attention heatmap with the tokens as tick labels; returns its image."""
    n = len(tokens)
    image = ax.imshow(np.zeros((n, n)), cmap=ATTENTION_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks(range(n), labels=tokens, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels=tokens, fontsize=7)
    ax.set_xlabel("key (attended to)", fontsize=8)
    return image


class HeadsExplorer(PerSentenceExplorer):
    """Sentence, layer and two head pickers over MiniLM's attention, with the layer's head-distance matrix.

    Each sentence gets its own pair of maps (its tokens are the tick labels), built when first shown; a
    later sentence change only swaps which pair is visible. State: heads_state's dict.
    """

    figsize = (9.0, 3.7)

    def __init__(self, sentences=HEAD_SENTENCES):
        if not sentences or not all(isinstance(s, str) for s in sentences):
            raise TypeError(f"sentences must be a non-empty sequence of str, got {sentences!r}")
        from helpers.machinery.minilm_model import minilm_attention

        self.sentences = list(sentences)
        self.attention = {s: minilm_attention(s) for s in self.sentences}  # computed once per sentence
        self._backgrounds = {}
        super().__init__()

    def make_controls(self):
        return {
            "sentence": self._sentence_dropdown(),
            "layer": widgets.Dropdown(
                options=[(f"layer {i}", i) for i in range(N_LAYERS)], value=3, description="layer"
            ),
            "head": widgets.Dropdown(options=[(f"head {h}", h) for h in range(N_HEADS)], value=1, description="head"),
            "other": widgets.Dropdown(
                options=[(f"head {h}", h) for h in range(N_HEADS)], value=11, description="compare with"
            ),
        }

    def update(self, sentence, layer, head, other):
        if sentence not in self.attention:
            raise ValueError(f"sentence must be one of the explorer's sentences, got {sentence!r}")
        return heads_state(sentence, layer, head, other, attention=self.attention[sentence])

    def setup(self, live):
        # Fixed margins: every sentence's maps sit at the same place, and only one pair is visible.
        live.figure.set_layout_engine("none")
        matrix_ax = live.figure.add_axes((0.755, 0.22, 0.19, 0.6))
        self.matrix = matrix_ax.imshow(
            np.zeros((N_HEADS, N_HEADS)), cmap=DISTANCE_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest"
        )
        matrix_ax.set_xticks(range(0, N_HEADS, 2))
        matrix_ax.set_yticks(range(0, N_HEADS, 2))
        matrix_ax.tick_params(labelsize=7)
        matrix_ax.set_xlabel("head", fontsize=8)
        matrix_ax.set_ylabel("head", fontsize=8)
        live.figure.colorbar(self.matrix, ax=matrix_ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
        matrix_ax.set_title("distance between heads", fontsize=9)
        self.pair_box = Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor=HIGHLIGHT, linewidth=2.0)
        matrix_ax.add_patch(self.pair_box)
        self.matrix_ax = matrix_ax
        # One line of text for everything that changes: each text drawn costs several milliseconds.
        self.caption = live.figure.text(0.5, 0.965, "", ha="center", va="top", fontsize=10)
        live.animate(self.matrix, self.pair_box, self.caption)
        self._start_parts(live)

    def _build_part(self, sentence):
        tokens = self.attention[sentence][0]
        left = self.live.figure.add_axes((0.09, 0.22, 0.25, 0.6))
        middle = self.live.figure.add_axes((0.44, 0.22, 0.25, 0.6))
        images = (_draw_map(left, tokens), _draw_map(middle, tokens))
        middle.set_yticklabels([])
        left.set_ylabel("query (attending)", fontsize=8)
        left.set_title("head", fontsize=9)
        middle.set_title("compared with", fontsize=9)
        animated = images
        self.live.animate(*animated)
        self.parts[sentence] = {"axes": (left, middle), "animated": animated, "images": images}

    def draw(self, state):
        full_redraw = self._swap_to(state["sentence"])
        part = self.parts[state["sentence"]]
        part["images"][0].set_data(state["weights"].numpy())
        part["images"][1].set_data(state["other_weights"].numpy())
        self.matrix.set_data(state["distances"].numpy())
        self.pair_box.set_xy((state["other"] - 0.5, state["head"] - 0.5))
        self.caption.set_text(
            f"layer {state['layer']}: head {state['head']} (left) and head {state['other']} (middle), "
            f"distance {state['distance']:.2f}"
        )
        return full_redraw


def heads_explorer():
    """A widget: pick a sentence, a layer of MiniLM and two heads; compare their maps and their distance."""
    return HeadsExplorer()


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"heads": heads_explorer}


def plot_head_grid(values, ax, title, vmax=1.0, label="weight"):
    """One number per head of every layer, as a (layers × heads) heatmap. values: (n_layers, n_heads). Returns ax."""
    values = values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"values must have shape (n_layers, n_heads), got {values.shape}")
    image = ax.imshow(values, cmap=ATTENTION_CMAP, vmin=0.0, vmax=vmax, interpolation="nearest")
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=label)
    return ax
