"""09_transformer_end_to_end: a live view of training, and generation step by step.

    TrainingMonitor(steps)     a progress bar and a loss curve that update while train() runs
                               (pass the monitor as train's callback)
    generation_state(g, step)  the pure lookup behind the explorer: one step of a generate() result
    GenerationExplorer         type digits (a text box, validated), drag the step slider: each
                               generated token with the attention rows of every layer and head
                               that produced it, and the model's next-token probabilities; the
                               temperature and top-k sliders switch from greedy decoding to sampling

The text box and the temperature and top-k sliders run generate() once per change (one model run per
generated token, a few milliseconds each), sampling from a generator seeded with SAMPLING_SEED each
time, so the same settings always show the same answer; the step slider only looks up a step of that
result, so moving it stays fast. Top-k = 1 (the start) is greedy decoding.
"""

import html
import time

import ipywidgets as widgets
import matplotlib
import numpy as np
import torch
from matplotlib.patches import Rectangle

from helpers.lessons.l09_transformer_end_to_end.checkpoint import CHECKPOINT_PATH, load_checkpoint
from helpers.lessons.l09_transformer_end_to_end.generation import generate
from helpers.lessons.l09_transformer_end_to_end.sampling import sampling_distribution
from helpers.lessons.l09_transformer_end_to_end.sorting_task import MAX_DIGITS, MIN_DIGITS, TOKENS, parse_digits
from helpers.library.checks import require_int, require_number
from helpers.machinery.explorer import Explorer, LiveFigure
from helpers.machinery.plotting import ATTENTION_CMAP, MASKED_COLOR

__all__ = [
    "DEFAULT_DIGITS",
    "SAMPLING_SEED",
    "TrainingMonitor",
    "generation_state",
    "GenerationExplorer",
    "generation_explorer",
    "EXPLORERS",
]

DEFAULT_DIGITS = "314159"
SAMPLING_SEED = 0  # the widget's generator seed: the same digits, temperature and top-k give the same answer
HIGHLIGHT = "#e69f00"  # Okabe-Ito orange: the query's column and the chosen token
BAR_COLOR = "#440154"  # viridis' darkest
DROPPED_COLOR = "#bbbbbb"  # light grey: a token top-k leaves out, at its probability before top-k
PROBABILITY_FLOOR = 1e-4  # the bottom of the probability axis (log scale)


class TrainingMonitor:
    """A progress bar, a line of numbers and a loss curve, updated while a model trains.

    Call it as train(callback=monitor): monitor(step, loss) records every step and redraws every
    `every` steps (about 40 redraws in all). losses: the recorded losses, a list of floats.
    """

    def __init__(self, steps, every=None, max_loss=3.0, min_loss=1e-3):
        self.steps = require_int("steps", steps, minimum=1)
        self.every = require_int("every", every, minimum=1) if every is not None else max(1, self.steps // 40)
        self.losses = []
        self.start = None
        self.progress = widgets.IntProgress(value=0, min=0, max=self.steps, description="training")
        self.label = widgets.HTML(value="waiting for the first step")
        self.live = LiveFigure(figsize=(6.0, 2.6))
        ax = self.live.figure.subplots()
        ax.set_xlim(0, self.steps)
        ax.set_ylim(min_loss, max_loss)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("loss (nats, log scale)")
        ax.set_title("Training loss, live")
        ax.grid(True, which="major", alpha=0.3)
        (self.line,) = ax.plot([], [], color=BAR_COLOR, linewidth=1.2)
        self.live.animate(self.line)
        self.widget = widgets.VBox([widgets.HBox([self.progress, self.label]), self.live.canvas])

    def __call__(self, step, loss):
        if self.start is None:
            self.start = time.perf_counter()
        self.losses.append(float(loss))
        if (step + 1) % self.every == 0 or step + 1 == self.steps:
            self.show(step + 1)

    def show(self, done):
        """Redraw: `done` steps finished."""
        self.progress.value = done
        seconds = time.perf_counter() - self.start
        self.label.value = f"step {done} / {self.steps} · loss {self.losses[-1]:.3f} · {seconds:.1f} s"
        self.line.set_data(np.arange(1, len(self.losses) + 1), np.clip(self.losses, 1e-6, None))
        self.live.redraw()

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "TrainingMonitor: a progress bar and a live loss curve; run this cell in JupyterLab."
        return bundle


def _verdict(generation):
    """One line on the whole output: right, or what it should have been (HTML-escaped)."""
    output = html.escape(generation["output"])
    if generation["correct"]:
        return f"The model wrote {output}: sorted correctly."
    return f"The model wrote {output}: wrong, sorted it is {generation['expected']}."


def _row_labels(n_layers, n_heads):
    return [f"layer {layer} head {head}" for layer in range(n_layers) for head in range(n_heads)]


def generation_state(generation, step):
    """One step of a generate() result, as the explorer shows it.

    generation: generate()'s dict.  step: 1 .. L, the generated token to show (1 = the first).
    Returns a dict: digits, tokens (2L str), step, query (the position that read and predicted:
    L + step − 1), read (its token), written (the token it generated), output_so_far (str),
    rows (n_layers · n_heads, 2L): that step's attention rows, one per layer and head,
    allowed (2L,) bool: the keys that existed at that step (0 .. query), row_labels,
    probabilities (vocab_size,): what the token was chosen from, correct (bool: the whole output is the
    sorted input), temperature and top_k (None: greedy), before_top_k (vocab_size,): softmax(logits / T),
    kept (vocab_size,) bool: the tokens top-k keeps (all of them when greedy or top_k is None).
    """
    if not isinstance(generation, dict) or "weights" not in generation:
        raise TypeError(
            "generation must be the dict returned by helpers.lessons.l09_transformer_end_to_end.generation.generate"
        )
    length = len(generation["digits"])
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 1 <= step <= length:
        raise ValueError(f"step must be an int from 1 to {length} (one per generated digit), got {step!r}")
    step = int(step)
    weights = generation["weights"][step - 1]  # (n_layers, n_heads, 2L)
    n_layers, n_heads, n_keys = weights.shape
    query = length + step - 1
    temperature, top_k = generation.get("temperature"), generation.get("top_k")
    probabilities = generation["probabilities"][step - 1]
    if temperature is None:  # greedy: nothing is scaled or left out
        before_top_k, kept = probabilities, np.ones(len(probabilities), dtype=bool)
    else:
        logits = generation["logits"][step - 1]
        before_top_k = sampling_distribution(logits, temperature).float()
        kept = np.zeros(len(logits), dtype=bool)
        kept[logits.double().topk(top_k or len(logits)).indices.numpy()] = True  # as sampling_distribution keeps
    return {
        "digits": generation["digits"],
        "tokens": generation["tokens"],
        "step": step,
        "query": query,
        "read": generation["tokens"][query],
        "written": generation["output"][step - 1],
        "output_so_far": generation["output"][:step],
        "rows": weights.reshape(n_layers * n_heads, n_keys),
        "allowed": np.arange(n_keys) <= query,
        "row_labels": _row_labels(n_layers, n_heads),
        "probabilities": probabilities,
        "correct": generation["correct"],
        "temperature": temperature,
        "top_k": top_k,
        "before_top_k": before_top_k,
        "kept": kept,
    }


class GenerationExplorer(Explorer):
    """Type digits and press Enter; drag the step slider through the generated tokens.

    Left: the attention rows of the query that produced the chosen token, one row per layer and
    head, over every token (grey: not generated yet at that step, the causal mask's view).
    Right: the probabilities the next token was drawn from (log scale); the orange bar is the one it
    wrote, light grey bars the tokens top-k left out (at their probability before top-k).
    Controls: step, temperature (log slider, 0.1 to 10) and top-k (1 = greedy decoding).
    text: the Text box (outside `controls`, whose values tests and the benchmark step through).
    generation: generate()'s result for the current input and settings. typed_error: the last refused input.
    """

    figsize = (7.6, 3.0)

    def __init__(self, model=None, digits=DEFAULT_DIGITS):
        self.model = load_checkpoint(CHECKPOINT_PATH)[0] if model is None else model
        self.generation = self._generate(digits, 1.0, 1)
        self.typed_error = None
        self._drawn_tokens = None
        self.text = widgets.Text(
            value=self.generation["digits"],
            description="Digits to sort (press Enter):",
            placeholder=f"{MIN_DIGITS} to {MAX_DIGITS} digits, e.g. {DEFAULT_DIGITS}",
            continuous_update=False,  # one generation per Enter, not one per key
        )
        self.text.style.description_width = "initial"
        self.typed_message = widgets.HTML(value=_verdict(self.generation))
        self.step_line = widgets.HTML(value="")
        super().__init__()
        self.text.observe(self._on_typed, names="value")
        top = widgets.HBox([self.text, self.typed_message])
        self.widget.children = (top, *self.widget.children[:-1], self.step_line, self.widget.children[-1])

    def _generate(self, digits, temperature, top_k):
        """generate() with these settings, from a generator seeded with SAMPLING_SEED."""
        generator = torch.Generator().manual_seed(SAMPLING_SEED)
        return generate(self.model, digits, generator, temperature=temperature, top_k=top_k)

    def make_controls(self):
        length = len(self.generation["digits"])
        vocab_size = self.model.config["vocab_size"]
        return {
            "step": widgets.IntSlider(
                value=1, min=1, max=length, step=1, description="generated token", continuous_update=True
            ),
            "temperature": widgets.FloatLogSlider(
                value=1.0, base=10, min=-1, max=1, step=0.1, description="temperature", continuous_update=False
            ),
            "top_k": widgets.IntSlider(
                value=1, min=1, max=vocab_size, step=1, description="top-k (1 = greedy)", continuous_update=False
            ),
        }

    def update(self, step, temperature, top_k):
        generation = self.generation
        if top_k == 1 and generation["top_k"] == 1 and generation["temperature"] != temperature:
            # Top-k = 1 writes the most likely token at any temperature: the same answer, no new model runs.
            generation = dict(generation, temperature=require_number("temperature", temperature, positive=True))
            self.generation = generation
        elif (generation["temperature"], generation["top_k"]) != (temperature, top_k):
            generation = self._generate(generation["digits"], temperature, top_k)  # raises on bad values
            self.generation = generation
            self.typed_message.value = _verdict(generation)
        return generation_state(generation, step)

    def setup(self, live):
        config = self.model.config
        n_rows = config["n_layers"] * config["n_heads"]
        map_ax, bar_ax = live.figure.subplots(1, 2, width_ratios=[1.7, 1])
        cmap = matplotlib.colormaps[ATTENTION_CMAP].with_extremes(bad=MASKED_COLOR)
        self.image = map_ax.imshow(
            np.zeros((n_rows, 2)), cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest"
        )
        live.figure.colorbar(self.image, ax=map_ax, fraction=0.05, pad=0.02, label="attention weight")
        map_ax.set_yticks(range(n_rows), labels=_row_labels(config["n_layers"], config["n_heads"]))
        map_ax.set_xlabel("key: the tokens so far")
        self.map_ax = map_ax
        self.query_box = Rectangle((-0.5, -0.5), 1, n_rows, fill=False, edgecolor=HIGHLIGHT, linewidth=2.5)
        map_ax.add_patch(self.query_box)
        self.bars = list(bar_ax.bar(range(len(TOKENS)), np.full(len(TOKENS), PROBABILITY_FLOOR), color=BAR_COLOR))
        bar_ax.set_xticks(range(len(TOKENS)), labels=TOKENS)
        bar_ax.set_yscale("log")
        bar_ax.set_ylim(PROBABILITY_FLOOR, 1.5)
        bar_ax.set_xlabel("next token")
        bar_ax.set_ylabel("probability (log scale)")
        bar_ax.set_title("drawn from")
        self.title = live.figure.suptitle("")
        live.animate(self.image, self.query_box, *self.bars)

    def _set_tokens(self, state):
        """The key labels and the title: drawn with the figure, so a change of the tokens redraws it all."""
        n_keys = len(state["tokens"])
        self.image.set_extent((-0.5, n_keys - 0.5, len(state["row_labels"]) - 0.5, -0.5))
        self.map_ax.set_xlim(-0.5, n_keys - 0.5)
        self.map_ax.set_xticks(range(n_keys), labels=state["tokens"])
        self.title.set_text(f"{state['digits']}: the model writes one token per step")
        self._drawn_tokens = state["tokens"]

    def draw(self, state):
        full = state["tokens"] != self._drawn_tokens  # new digits, or a new sampled answer
        if full:
            self._set_tokens(state)
        rows = state["rows"].numpy()
        self.image.set_data(np.ma.masked_array(rows, mask=np.broadcast_to(~state["allowed"], rows.shape)))
        self.query_box.set_x(state["query"] - 0.5)
        written = TOKENS.index(state["written"])
        shown = np.where(state["kept"], state["probabilities"].numpy(), state["before_top_k"].numpy())
        colors = [
            HIGHLIGHT if token == written else BAR_COLOR if kept else DROPPED_COLOR
            for token, kept in enumerate(state["kept"])
        ]
        for bar, height, color in zip(self.bars, shown.tolist(), colors, strict=True):
            bar.set_height(height)
            if bar.get_facecolor() != matplotlib.colors.to_rgba(color):
                bar.set_color(color)
        # Text in the figure is slow to draw (a long line ≈ 20 ms here): the step's words go in an HTML line.
        probability = float(state["probabilities"][written])
        if state["temperature"] is None or state["top_k"] == 1:
            how = "greedy decoding (top-k = 1): the most likely token"
        else:
            k = "every token" if state["top_k"] in (None, len(TOKENS)) else f"the {state['top_k']} most likely tokens"
            how = f"sampled at temperature {state['temperature']:.2g} from {k}"
        self.step_line.value = (
            f"Step {state['step']} of {len(state['digits'])}: so far <b>{html.escape(state['digits'])} = "
            f"{html.escape(state['output_so_far'])}</b>. The query is the token '{html.escape(state['read'])}' "
            f"(orange box); it writes '{html.escape(state['written'])}' with probability {probability:.2f}, "
            f"{how}."
        )
        return full

    def _on_typed(self, change):
        """Generate for the typed digits; refuse bad input with a message and keep the last result."""
        try:
            generation = self._generate(change["new"], self.generation["temperature"], self.generation["top_k"])
        except (ValueError, TypeError) as error:
            self.typed_error = str(error)
            shown = html.escape(self.generation["digits"])
            self.typed_message.value = (
                f"<span style='color:#b00020'>Cannot sort this: {html.escape(self.typed_error)}.</span> "
                f"Still showing {shown}."
            )
            return
        self.typed_error = None
        self.typed_message.value = _verdict(generation)
        self.generation = generation
        slider = self.controls["step"]
        with slider.hold_trait_notifications():
            slider.max = len(generation["digits"])
            slider.value = min(slider.value, slider.max)
        self.refresh()


def generation_explorer(model=None, digits=DEFAULT_DIGITS):
    """The widget: type digits, watch the model sort them one token at a time (default: the committed model)."""
    return GenerationExplorer(model=model, digits=parse_digits(digits))


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"generation": generation_explorer}
