"""07_complexity: n and d sliders over the measured and predicted time of self-attention, a GRU and a Conv1d.

Everything shown comes from the cached measurements (notebooks/07_complexity_measurements.json) and a
cost model fitted to them once, so moving a slider only looks numbers up: no layer runs.
"""

import html

import ipywidgets as widgets
import numpy as np

from helpers.lessons.l07_complexity.cached_measurements import layer_series, load_measurements
from helpers.lessons.l07_complexity.cost_model import fit_cost_model
from helpers.lessons.l07_complexity.figures import STYLES
from helpers.lessons.l07_complexity.layer_kinds import LABELS, LAYER_KINDS
from helpers.lessons.l07_complexity.theory import flop_crossover_n, layer_flops
from helpers.lessons.l07_complexity.verdicts import between_text
from helpers.machinery.explorer import Explorer
from helpers.machinery.power_laws import crossover_between

__all__ = ["complexity_state", "readout_html", "ComplexityExplorer", "complexity_explorer", "EXPLORERS"]

CURVE_POINTS = 60  # points of each predicted curve


def complexity_state(layers, model, n, d_model):
    """Measured and predicted seconds of each layer kind at d_model, against n, and at the chosen n.

    layers: measure_layers' result (with "seconds" for LAYER_KINDS); model: a fitted CostModel;
    n, d_model: one of the measured sizes. Returns a dict: n, d_model, ns (measured sizes),
    curve_n (CURVE_POINTS sizes), measured {kind: [seconds per ns]}, predicted {kind: [seconds per curve_n]},
    measured_at, predicted_at, flops_at {kind: number at n}, cheapest (kind, measured),
    crossover (the two measured n between which attention's time reaches the GRU's: crossover_between),
    flop_crossover (n = d).
    """
    ns, d_models = layers["n"], layers["d_model"]
    if isinstance(n, bool) or n not in ns:
        raise ValueError(f"n must be one of the measured sizes {ns}, got {n!r}")
    if isinstance(d_model, bool) or d_model not in d_models:
        raise ValueError(f"d_model must be one of the measured widths {d_models}, got {d_model!r}")
    at = ns.index(n)
    curve_n = np.geomspace(ns[0], ns[-1], CURVE_POINTS)
    measured = {kind: layer_series(layers, "seconds", kind, d_model) for kind in LAYER_KINDS}
    predicted = {kind: model.predict(kind, curve_n, d_model).tolist() for kind in LAYER_KINDS}
    measured_at = {kind: measured[kind][at] for kind in LAYER_KINDS}
    return {
        "n": n,
        "d_model": d_model,
        "ns": list(ns),
        "curve_n": curve_n.tolist(),
        "measured": measured,
        "predicted": predicted,
        "measured_at": measured_at,
        "predicted_at": {kind: float(model.predict(kind, n, d_model)) for kind in LAYER_KINDS},
        "flops_at": {kind: layer_flops(kind, n, d_model) for kind in LAYER_KINDS},
        "cheapest": min(measured_at, key=measured_at.get),
        "crossover": crossover_between(ns, measured["attention"], measured["gru"]),
        "flop_crossover": flop_crossover_n(d_model),
    }


def _ms(seconds):
    return f"{seconds * 1000:.3g} ms"


def readout_html(state):
    """The state's numbers as HTML, shown above the figure (text drawn by matplotlib is slow to redraw)."""
    parts = [
        f"{html.escape(LABELS[kind])} {_ms(state['measured_at'][kind])} measured, "
        f"{_ms(state['predicted_at'][kind])} predicted ({state['flops_at'][kind] / 1e9:.2g} GFLOP)"
        for kind in LAYER_KINDS
    ]
    measured = between_text(state["crossover"], state["ns"])
    return (
        f"<b>n = {state['n']}, d = {state['d_model']}:</b> {' &nbsp;·&nbsp; '.join(parts)}<br>"
        f"Fastest here: <b>{html.escape(LABELS[state['cheapest']])}</b>. Self-attention reaches the GRU's time "
        f"{measured} (measured sizes); counting FLOPs alone it would at n = d = {state['flop_crossover']:.0f}."
    )


class ComplexityExplorer(Explorer):
    """Sliders for n and d over the three layers' times: measured points, the fitted cost model's curves,
    and bars comparing measured with predicted at the chosen (n, d).
    """

    figsize = (9.0, 3.6)
    has_readout = True  # what the figure shows, as a line of text above it

    def __init__(self, measurements=None):
        data = load_measurements() if measurements is None else measurements
        self.layers = data["layers"]
        self.model = fit_cost_model(self.layers)
        # every (n, d) state computed once: a slider move is a lookup
        self._states = {}
        super().__init__()

    def make_controls(self):
        wide = {"description_width": "initial"}
        return {
            "n": widgets.SelectionSlider(
                options=self.layers["n"], value=1024, description="sequence length n", continuous_update=True,
                style=wide,
            ),
            "d_model": widgets.SelectionSlider(
                options=self.layers["d_model"], value=64, description="model width d", continuous_update=True,
                style=wide,
            ),
        }  # fmt: skip

    def update(self, n, d_model):
        key = (n, d_model)
        if key not in self._states:
            self._states[key] = complexity_state(self.layers, self.model, n, d_model)
        return self._states[key]

    def _limits(self):
        values = [v for kind in LAYER_KINDS for row in self.layers["seconds"][kind].values() for v in row]
        return min(values) / 2, max(values) * 2

    def setup(self, live):
        curve_ax, bar_ax = live.figure.subplots(1, 2, width_ratios=[1.4, 1])
        low, high = self._limits()
        ns = self.layers["n"]
        self.points, self.curves = {}, {}
        for kind in LAYER_KINDS:
            style = STYLES[kind]
            (self.points[kind],) = curve_ax.plot(
                ns, ns, linestyle="none", marker=style["marker"], color=style["color"], label=f"{LABELS[kind]}"
            )
            (self.curves[kind],) = curve_ax.plot(ns, ns, linestyle=style["linestyle"], color=style["color"])
        self.n_line = curve_ax.axvline(ns[0], color="#7f7f7f", linewidth=1.5)
        curve_ax.set_xscale("log", base=2)
        curve_ax.set_xticks(ns, labels=[str(n) for n in ns])
        curve_ax.minorticks_off()
        curve_ax.set_yscale("log")
        curve_ax.set_xlim(ns[0] / 1.3, ns[-1] * 1.3)
        curve_ax.set_ylim(low, high)
        curve_ax.set_xlabel("sequence length n")
        curve_ax.set_ylabel("forward time (s), one thread")
        curve_ax.set_title("Points: measured · lines: fitted model", fontsize=10)
        curve_ax.legend(fontsize="small", loc="upper left")
        curve_ax.grid(True, which="major", alpha=0.3)

        x = np.arange(len(LAYER_KINDS))
        self.measured_bars = list(bar_ax.bar(x - 0.2, [high] * 3, width=0.4, bottom=low,
                                             color=[STYLES[k]["color"] for k in LAYER_KINDS]).patches)  # fmt: skip
        self.predicted_bars = list(bar_ax.bar(x + 0.2, [high] * 3, width=0.4, bottom=low,
                                              color="white", edgecolor=[STYLES[k]["color"] for k in LAYER_KINDS],
                                              hatch="//", linewidth=1.5).patches)  # fmt: skip
        bar_ax.set_yscale("log")
        bar_ax.set_ylim(low, high)
        bar_ax.set_xticks(x, labels=["attention", "GRU", "Conv1d"])
        bar_ax.set_ylabel("forward time (s)")
        bar_ax.set_title("At n, d: measured | predicted (hatched)", fontsize=10)
        self.low = low
        live.animate(*self.points.values(), *self.curves.values(), self.n_line, *self.measured_bars,
                     *self.predicted_bars)  # fmt: skip

    def draw(self, state):
        for kind in LAYER_KINDS:
            self.points[kind].set_data(state["ns"], state["measured"][kind])
            self.curves[kind].set_data(state["curve_n"], state["predicted"][kind])
        self.n_line.set_xdata([state["n"], state["n"]])
        for i, kind in enumerate(LAYER_KINDS):
            self.measured_bars[i].set_height(state["measured_at"][kind] - self.low)
            self.predicted_bars[i].set_height(max(state["predicted_at"][kind], self.low) - self.low)
        self.readout.value = readout_html(state)
        return False


def complexity_explorer(measurements=None):
    """A widget: pick n and d, see each layer's measured time beside what the fitted cost model predicts."""
    return ComplexityExplorer(measurements)


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"complexity": complexity_explorer}
