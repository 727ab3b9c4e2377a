"""08_before_transformers_bahdanau: Bahdanau's alignment beside a transformer's cross-attention, one step at a time.

The lesson's alignment explorer (explorer.AlignmentExplorer) with other models behind its "model" control:
Bahdanau's additive RNN attention and the cross-attention transformer (cross_attention.CrossAttentionSeq2Seq).
Pick a held-out source, a model and a decoder step: the map shows where every step written so far read, the
bars the chosen step's weights over the source positions, the star the position it should read (n - i).
Everything is decoded once when the explorer is built; moving a control only looks it up (alignment_state).
"""

import functools

import ipywidgets as widgets

from helpers.lessons.l08_before_transformers_bahdanau.cross_attention import CrossAttentionSeq2Seq
from helpers.lessons.l08_before_transformers_bahdanau.cross_attention_training import train_cross_attention
from helpers.lessons.l08_before_transformers_bahdanau.explorer import (
    EXAMPLE_LENGTHS,
    AlignmentExplorer,
    greedy_decode_each,
    quick_results,
)
from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import to_tokens
from helpers.lessons.l08_before_transformers_bahdanau.seq2seq import Seq2Seq

__all__ = [
    "MODEL_LABELS",
    "decode_with_models",
    "quick_cross_attention",
    "CrossAttentionExplorer",
    "cross_attention_explorer",
    "EXPLORERS",
]

MODEL_LABELS = {
    "additive": "Bahdanau (additive, RNN)",
    "dot": "dot-product RNN",
    "cross": "cross-attention (transformer)",
}


def decode_with_models(models, lengths=EXAMPLE_LENGTHS, seed=2024):
    """Greedy-decode one held-out sequence of each length with each model, once.

    models: {kind: model}, kind one of MODEL_LABELS; a Seq2Seq with attention or a CrossAttentionSeq2Seq.
    Returns {"examples": [source ids (n,) ...], "decoded": {kind: [(output ids (n,), weights (n, n)), ...]}},
    the record explorer.alignment_state reads; the examples are those of the lesson's alignment explorer.
    """
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a non-empty dict {kind: model}, e.g. {'additive': Seq2Seq, ...}")
    for kind, model in models.items():
        if kind not in MODEL_LABELS:
            raise ValueError(f"models holds {kind!r}; the kinds are {list(MODEL_LABELS)}")
        wanted = CrossAttentionSeq2Seq if kind == "cross" else Seq2Seq
        if not isinstance(model, wanted) or getattr(model, "attention", True) is None:
            raise TypeError(f"models[{kind!r}] must be a {wanted.__name__} with attention, got {type(model).__name__}")
    return greedy_decode_each(models, lengths, seed)


@functools.lru_cache(maxsize=1)
def quick_cross_attention(steps=60):
    """A cross-attention model trained briefly (seed 0), for the explorer's default; cached, built once per process.

    Under a second, and only half-trained: the lesson passes its own, fully trained models instead.
    """
    return train_cross_attention(seeds=[0], steps=steps).models[0]


class CrossAttentionExplorer(AlignmentExplorer):
    """A source, a model (Bahdanau's or cross-attention) and a decoder step over the models' alignments.

    State: see explorer.alignment_state (the control "scoring" picks the model).
    """

    def __init__(self, models=None):
        if models is None:
            models = {"additive": quick_results()["additive"], "cross": quick_cross_attention()}
        self.record = decode_with_models(models)
        self.n_max = max(len(source) for source in self.record["examples"])
        super(AlignmentExplorer, self).__init__()  # Explorer.__init__: AlignmentExplorer's would decode again

    def make_controls(self):
        options = [(f"{''.join(to_tokens(s))} ({len(s)})", i) for i, s in enumerate(self.record["examples"])]
        return {
            "example": widgets.Dropdown(options=options, value=0, description="source"),
            "scoring": widgets.Dropdown(
                options=[(MODEL_LABELS[kind], kind) for kind in self.record["decoded"]],
                value=next(iter(self.record["decoded"])),
                description="model",
            ),
            "step": widgets.IntSlider(value=1, min=1, max=self.n_max, description="decoder step"),
        }


def cross_attention_explorer(models=None):
    """A widget: pick a held-out source, Bahdanau's model or the cross-attention one, and a decoder step.

    models: {"additive": Seq2Seq, "cross": CrossAttentionSeq2Seq} trained models (any kinds of
    MODEL_LABELS); default: small ones trained on the spot.
    """
    return CrossAttentionExplorer(models=models)


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"cross_attention_alignment": cross_attention_explorer}
