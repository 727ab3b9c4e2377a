"""02_scaling_by_sqrt_dk: one row of attention as d_k grows, with and without dividing by √d_k."""

import math

import ipywidgets as widgets
import torch

from helpers.lessons.l02_scaling_by_sqrt_dk.variance import (
    DEAD_GRADIENT,
    SCALED_STYLE,
    UNSCALED_STYLE,
    entropy,
    log10_y_axis,
    power_of_ten_label,
    score_gradient,
)
from helpers.library.checks import require_float_tensor, require_int
from helpers.machinery.explorer import Explorer

__all__ = [
    "D_KS",
    "scaling_inputs",
    "scaling_state",
    "readout_html",
    "ScalingExplorer",
    "scaling_explorer",
    "EXPLORERS",
]

D_KS = [2**power for power in range(2, 11)]  # 4, 8, ..., 1024
GRADIENT_FLOOR = 1e-12  # the gradient panel's bottom; smaller values are drawn there
HIGHLIGHT = "#e69f00"  # Okabe-Ito orange, as in the attention map's row box
SCORE_COLOR, WEIGHT_COLOR = "#31688e", "#35b779"  # viridis blue and green, apart from the two line colours


def scaling_inputs(n_rows=50, n=8, d_v=4, max_d_k=1024, seed=0):
    """Seeded random rows for the explorer: every entry ~ N(0, 1).

    Returns q (n_rows, max_d_k), k (n_rows, n, max_d_k), v (n_rows, n, d_v), target (n_rows, d_v).
    Row r at a given d_k is q[r, :d_k] against k[r, :, :d_k]: a larger d_k adds dimensions to
    the same vectors, so moving the slider grows one row rather than drawing a new one.
    """
    n_rows = require_int("n_rows", n_rows, minimum=1)
    n = require_int("n", n, minimum=2)
    d_v = require_int("d_v", d_v, minimum=1)
    max_d_k = require_int("max_d_k", max_d_k, minimum=1)
    generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
    q = torch.randn(n_rows, max_d_k, generator=generator)
    k = torch.randn(n_rows, n, max_d_k, generator=generator)
    v = torch.randn(n_rows, n, d_v, generator=generator)
    target = torch.randn(n_rows, d_v, generator=generator)
    return q, k, v, target


def scaling_state(q, k, v, target, scaled):
    """One query's scores, weights, and the gradient that reaches its scores.

    q: (d_k,)   k: (n, d_k)   v: (n, d_v)   target: (d_v,)   scaled: bool, divide the scores by √d_k.
    The loss is helpers.lessons.l02_scaling_by_sqrt_dk.variance.score_gradient's: ½‖softmax(scores)·v − target‖².
    Returns a dict: d_k, scaled, scores (n,), weights (n,), grad (n,) = ∂loss/∂scores,
    grad_norm, entropy, max_weight (floats), expected_std (√d_k unscaled, 1 scaled: the scores' std in theory).
    """
    if not isinstance(scaled, bool):
        raise TypeError(f"scaled must be True or False, got {type(scaled).__name__} {scaled!r}")
    require_float_tensor("q", q)
    require_float_tensor("k", k)
    if q.ndim != 1 or k.ndim != 2 or k.shape[1] != q.shape[0] or q.shape[0] == 0:
        raise ValueError(f"expected q (d_k,) and k (n, d_k) with d_k >= 1, got q {tuple(q.shape)}, k {tuple(k.shape)}")
    d_k = q.shape[0]
    scale = 1.0 / math.sqrt(d_k) if scaled else 1.0
    scores = (k @ q) * scale  # (n,)
    weights, grad = score_gradient(scores, v, target)
    return {
        "d_k": d_k,
        "scaled": scaled,
        "scores": scores,
        "weights": weights,
        "grad": grad,
        "grad_norm": float(grad.norm()),
        "entropy": float(entropy(weights)),
        "max_weight": float(weights.max()),
        "expected_std": 1.0 if scaled else math.sqrt(d_k),
    }


def readout_html(state):
    """The state's numbers as one line of HTML, shown above the figure (text drawn by matplotlib is slow)."""
    how = "scaled by 1/√d_k" if state["scaled"] else "unscaled"
    return (
        f"<b>d_k = {state['d_k']}, {how}:</b> &nbsp; largest weight {state['max_weight']:.2f} &nbsp;·&nbsp; "
        f"entropy {state['entropy']:.2f} nats &nbsp;·&nbsp; ‖∂loss/∂scores‖ = {state['grad_norm']:.1e}"
    )


class ScalingExplorer(Explorer):
    """A d_k slider, a 'scale by √d_k' checkbox and a row picker over one query against n keys.

    State: scaling_state's dict for the chosen row, plus "row" (int).
    Figure: the scores (bars, symmetric log axis), the weights (bars), and the gradient norm
    against d_k: this row's value (a ring) over the median of all rows (lines, computed once).
    """

    figsize = (9.0, 3.5)
    has_readout = True  # what the figure shows, as a line of text above it

    def __init__(self, n_rows=50, n=8, d_v=4, seed=0):
        self.q_all, self.k_all, self.v_all, self.target_all = scaling_inputs(n_rows, n, d_v, max(D_KS), seed)
        self.n_rows, self.n = n_rows, n
        self._slices = {}  # (row, d_k) -> (q (d_k,), k (n, d_k)), cut once so an update only computes
        super().__init__()

    def make_controls(self):
        wide = {"description_width": "initial"}
        return {
            "d_k": widgets.SelectionSlider(
                options=D_KS, value=64, description="d_k", continuous_update=True, style=wide
            ),
            "scaled": widgets.Checkbox(value=True, description="scale the scores by 1/√d_k", style=wide),
            "row": widgets.IntSlider(
                value=0, min=0, max=self.n_rows - 1, description="random row", continuous_update=True, style=wide
            ),
        }

    def row_inputs(self, row, d_k):
        """q (d_k,), k (n, d_k) of one row, cached per (row, d_k)."""
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < self.n_rows:
            raise ValueError(f"row must be an int between 0 and {self.n_rows - 1}, got {row!r}")
        if d_k not in D_KS:
            raise ValueError(f"d_k must be one of {D_KS}, got {d_k!r}")
        if (row, d_k) not in self._slices:
            self._slices[row, d_k] = (self.q_all[row, :d_k].contiguous(), self.k_all[row, :, :d_k].contiguous())
        return self._slices[row, d_k]

    def update(self, d_k, scaled, row):
        q, k = self.row_inputs(row, d_k)
        state = scaling_state(q, k, self.v_all[row], self.target_all[row], scaled)
        state["row"] = row
        return state

    def median_gradient_norms(self):
        """{"unscaled": [...], "scaled": [...]}: the median over all rows of ‖∂loss/∂scores‖, per d_k in D_KS."""
        # Every d_k at once: (len(D_KS), n_rows, n) scores, one score_gradient call per setting.
        raw = torch.stack([(self.k_all[:, :, :d_k] @ self.q_all[:, :d_k, None]).squeeze(-1) for d_k in D_KS])
        root_d_ks = torch.tensor(D_KS, dtype=raw.dtype).sqrt()[:, None, None]
        medians = {}
        for name, scores in (("unscaled", raw), ("scaled", raw / root_d_ks)):
            _, grad = score_gradient(scores, self.v_all, self.target_all)  # (len(D_KS), n_rows, n)
            medians[name] = grad.norm(dim=-1).median(dim=-1).values.tolist()
        return medians

    def setup(self, live):
        figure = live.figure
        score_ax, weight_ax, grad_ax = figure.subplots(1, 3, width_ratios=[1, 1, 1.15])
        keys = range(self.n)
        labels = [f"k{j}" for j in keys]

        self.score_bars = list(score_ax.bar(keys, [0.0] * self.n, color=SCORE_COLOR).patches)
        score_ax.set_yscale("symlog", linthresh=1.0)
        score_ax.set_ylim(-150, 150)
        score_ax.set_yticks([-100, -10, -1, 0, 1, 10, 100], labels=["−100", "−10", "−1", "0", "1", "10", "100"])
        score_ax.axhline(0.0, color="black", linewidth=0.8)
        (self.std_up,) = score_ax.plot([-0.5, self.n - 0.5], [1, 1], color=HIGHLIGHT, linestyle="--")
        (self.std_down,) = score_ax.plot([-0.5, self.n - 0.5], [-1, -1], color=HIGHLIGHT, linestyle="--")
        score_ax.set_xticks(keys, labels=labels)
        score_ax.set_xlabel("key")
        score_ax.set_ylabel("score (symmetric log scale)")
        score_ax.set_title("Scores (dashed: ±1 std, theory)", fontsize=10)

        self.weight_bars = list(weight_ax.bar(keys, [0.0] * self.n, color=WEIGHT_COLOR).patches)
        weight_ax.axhline(1.0 / self.n, color="#7f7f7f", linestyle=":")
        weight_ax.set_ylim(0.0, 1.0)
        weight_ax.set_xticks(keys, labels=labels)
        weight_ax.set_xlabel("key")
        weight_ax.set_ylabel("weight")
        weight_ax.set_title(f"Weights (dotted: uniform, 1/{self.n})", fontsize=10)

        medians = self.median_gradient_norms()
        for name, style in (("unscaled", UNSCALED_STYLE), ("scaled", SCALED_STYLE)):
            label = f"{style['label'].split(':')[0]}: median of {self.n_rows} rows"
            values = [max(value, GRADIENT_FLOOR) for value in medians[name]]
            grad_ax.plot(D_KS, values, **{**style, "label": label, "markersize": 4})
        grad_ax.axhline(
            DEAD_GRADIENT,
            color="#7f7f7f",
            linestyle=":",
            linewidth=1.2,
            label=f"{power_of_ten_label(DEAD_GRADIENT)}: barely learns",
        )
        (self.marker,) = grad_ax.plot(
            [64], [1.0], linestyle="none", marker="o", markersize=13, markerfacecolor="none",
            markeredgecolor=HIGHLIGHT, markeredgewidth=2.5, label="this row",
        )  # fmt: skip
        grad_ax.set_xscale("log", base=2)
        grad_ax.set_xticks(D_KS[::2], labels=[str(d) for d in D_KS[::2]])
        grad_ax.minorticks_off()
        log10_y_axis(grad_ax)
        grad_ax.set_ylim(GRADIENT_FLOOR, 10.0)
        grad_ax.set_xlabel("d_k (log scale)")
        grad_ax.set_ylabel("‖∂loss/∂scores‖ (log scale)")
        grad_ax.set_title("Gradient reaching the scores", fontsize=10)
        grad_ax.legend(loc="lower left", fontsize="small")

        live.animate(*self.score_bars, *self.weight_bars, self.std_up, self.std_down, self.marker)

    def draw(self, state):
        for bar, score in zip(self.score_bars, state["scores"].tolist(), strict=True):
            bar.set_height(score)
        for bar, weight in zip(self.weight_bars, state["weights"].tolist(), strict=True):
            bar.set_height(weight)
        std = state["expected_std"]
        self.std_up.set_ydata([std, std])
        self.std_down.set_ydata([-std, -std])
        self.marker.set_data([state["d_k"]], [max(state["grad_norm"], GRADIENT_FLOOR)])
        self.readout.value = readout_html(state)
        return False


def scaling_explorer(n_rows=50, seed=0):
    """A widget: drag d_k, switch the 1/√d_k scaling on and off, and watch softmax saturate."""
    return ScalingExplorer(n_rows=n_rows, seed=seed)


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"scaling": scaling_explorer}
