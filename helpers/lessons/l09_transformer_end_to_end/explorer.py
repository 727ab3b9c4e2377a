"""09_transformer_end_to_end: a live view of training, and generation step by step.

    TrainingMonitor(steps)     a progress bar and a loss curve that update while train() runs
                               (pass the monitor as train's callback)
    generation_state(g, step)  the pure lookup behind the explorer: one step of a generate() result
    GenerationExplorer         type digits (a text box, validated), drag the step slider: each
                               generated token with the attention rows of every layer and head
                               that produced it, and the model's next-token probabilities

The text box runs generate() once per typed input (one model run per generated token, a few
milliseconds each); the slider only looks up a step of that result, so moving it stays fast.
"""

import html
import time

import ipywidgets as widgets
import matplotlib
import numpy as np
from matplotlib.patches import Rectangle

from helpers.lessons.l09_transformer_end_to_end.checkpoint import CHECKPOINT_PATH, load_checkpoint
from helpers.lessons.l09_transformer_end_to_end.generation import generate
from helpers.lessons.l09_transformer_end_to_end.sorting_task import MAX_DIGITS, MIN_DIGITS, TOKENS, parse_digits
from helpers.library.checks import require_int
from helpers.machinery.explorer import Explorer, LiveFigure
from helpers.machinery.plotting import ATTENTION_CMAP, MASKED_COLOR

__all__ = [
    "DEFAULT_DIGITS",
    "TrainingMonitor",
    "generation_state",
    "GenerationExplorer",
    "generation_explorer",
    "EXPLORERS",
]

DEFAULT_DIGITS = "314159"
HIGHLIGHT = "#e69f00"  # Okabe-Ito orange: the query's column and the chosen token
BAR_COLOR = "#440154"  # viridis' darkest


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
    """One line on the whole output: right, or what it should have been."""
    if generation["correct"]:
        return f"The model wrote {generation['output']}: sorted correctly."
    return f"The model wrote {generation['output']}: wrong, sorted it is {generation['expected']}."


def _row_labels(n_layers, n_heads):
    return [f"layer {layer} head {head}" for layer in range(n_layers) for head in range(n_heads)]


def generation_state(generation, step):
    """One step of a generate() result, as the explorer shows it.

    generation: generate()'s dict.  step: 1 .. L, the generated token to show (1 = the first).
    Returns a dict: digits, tokens (2L str), step, query (the position that read and predicted:
    L + step − 1), read (its token), written (the token it generated), output_so_far (str),
    rows (n_layers · n_heads, 2L): that step's attention rows, one per layer and head,
    allowed (2L,) bool: the keys that existed at that step (0 .. query), row_labels,
    probabilities (vocab_size,), correct (bool: the whole output is the sorted input).
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
        "probabilities": generation["probabilities"][step - 1],
        "correct": generation["correct"],
    }


class GenerationExplorer(Explorer):
    """Type digits and press Enter; drag the step slider through the generated tokens.

    Left: the attention rows of the query that produced the chosen token, one row per layer and
    head, over every token (grey: not generated yet at that step, the causal mask's view).
    Right: the model's probabilities for the next token; the orange bar is the one it wrote.
    text: the Text box (outside `controls`, whose values tests and the benchmark step through).
    generation: generate()'s result for the current input. typed_error: the last refused input, or None.
    """

    figsize = (7.6, 3.0)

    def __init__(self, model=None, digits=DEFAULT_DIGITS):
        self.model = load_checkpoint(CHECKPOINT_PATH)[0] if model is None else model
        self.generation = generate(self.model, digits)
        self.typed_error = None
        self._drawn_digits = None
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

    def make_controls(self):
        length = len(self.generation["digits"])
        return {
            "step": widgets.IntSlider(
                value=1, min=1, max=length, step=1, description="generated token", continuous_update=True
            )
        }

    def update(self, step):
        return generation_state(self.generation, step)

    def setup(self, live):
        config = self.model.config
        n_rows, n_keys = config["n_layers"] * config["n_heads"], 2 * len(self.generation["digits"])
        map_ax, bar_ax = live.figure.subplots(1, 2, width_ratios=[1.7, 1])
        cmap = matplotlib.colormaps[ATTENTION_CMAP].with_extremes(bad=MASKED_COLOR)
        self.image = map_ax.imshow(
            np.zeros((n_rows, n_keys)), cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest"
        )
        live.figure.colorbar(self.image, ax=map_ax, fraction=0.05, pad=0.02, label="attention weight")
        map_ax.set_yticks(range(n_rows), labels=_row_labels(config["n_layers"], config["n_heads"]))
        map_ax.set_xlabel("key: the tokens so far")
        self.map_ax = map_ax
        self.query_box = Rectangle((-0.5, -0.5), 1, n_rows, fill=False, edgecolor=HIGHLIGHT, linewidth=2.5)
        map_ax.add_patch(self.query_box)
        self.bars = list(bar_ax.bar(range(len(TOKENS)), np.zeros(len(TOKENS)), color=BAR_COLOR))
        self._highlighted = 0  # the bar drawn orange: the token written at the step shown
        self.bars[0].set_color(HIGHLIGHT)
        bar_ax.set_xticks(range(len(TOKENS)), labels=TOKENS)
        bar_ax.set_ylim(0, 1)
        bar_ax.set_xlabel("next token")
        bar_ax.set_ylabel("probability")
        bar_ax.set_title("prediction")
        self.title = live.figure.suptitle("")
        live.animate(self.image, self.query_box, *self.bars)

    def _set_tokens(self, state):
        n_keys = len(state["tokens"])
        self.image.set_extent((-0.5, n_keys - 0.5, len(state["row_labels"]) - 0.5, -0.5))
        self.map_ax.set_xlim(-0.5, n_keys - 0.5)
        self.map_ax.set_xticks(range(n_keys), labels=state["tokens"])
        self.title.set_text(f"{state['digits']}  →  the model writes {self.generation['output']}, one digit per step")
        self._drawn_digits = state["digits"]

    def draw(self, state):
        full = state["digits"] != self._drawn_digits
        if full:
            self._set_tokens(state)
        rows = state["rows"].numpy()
        self.image.set_data(np.ma.masked_array(rows, mask=np.broadcast_to(~state["allowed"], rows.shape)))
        self.query_box.set_x(state["query"] - 0.5)
        written = TOKENS.index(state["written"])
        for bar, height in zip(self.bars, state["probabilities"].tolist(), strict=True):
            bar.set_height(height)
        if written != self._highlighted:
            self.bars[self._highlighted].set_color(BAR_COLOR)
            self.bars[written].set_color(HIGHLIGHT)
            self._highlighted = written
        # Text in the figure is slow to draw (a long line ≈ 20 ms here): the step's words go in an HTML line.
        probability = float(state["probabilities"][written])
        self.step_line.value = (
            f"Step {state['step']} of {len(state['digits'])}: so far <b>{html.escape(state['digits'])} = "
            f"{html.escape(state['output_so_far'])}</b>. The query is the token '{html.escape(state['read'])}' "
            f"(orange box); it writes '{html.escape(state['written'])}' with probability {probability:.2f}."
        )
        return full

    def _on_typed(self, change):
        """Generate for the typed digits; refuse bad input with a message and keep the last result."""
        try:
            generation = generate(self.model, change["new"])
        except (ValueError, TypeError) as error:
            self.typed_error = str(error)
            shown = html.escape(self.generation["digits"])
            self.typed_message.value = (
                f"<span style='color:#b00020'>Cannot sort this: {html.escape(self.typed_error)}.</span> "
                f"Still showing {shown}."
            )
            return
        self.typed_error = None
        verdict = (
            "sorted correctly" if generation["correct"] else f"wrong: the sorted digits are {generation['expected']}"
        )
        self.typed_message.value = f"The model wrote {generation['output']}: {html.escape(verdict)}."
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
