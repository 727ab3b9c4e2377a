"""06_add_and_norm: pick a depth and a way of wrapping the sublayers; see the gradient and the activations per layer.

Everything the explorer can show is measured once, when it is built
(helpers.lessons.l06_add_and_norm.initialisation.layer_profiles for every variant and every depth on the slider,
at initialisation); moving a control only looks it up.
"""

import html

import ipywidgets as widgets
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator

from helpers.lessons.l06_add_and_norm.blocks import VARIANT_LABELS, VARIANTS, require_variant
from helpers.lessons.l06_add_and_norm.figures import STYLES
from helpers.lessons.l06_add_and_norm.initialisation import layer_profiles
from helpers.machinery.explorer import Explorer
from helpers.machinery.plotting import log10_y_axis

__all__ = [
    "DEPTHS",
    "GRADIENT_FLOOR",
    "add_norm_profiles",
    "add_norm_state",
    "readout_html",
    "AddNormExplorer",
    "add_norm_explorer",
    "EXPLORERS",
]

DEPTHS = (2, 4, 8, 16, 32, 48)
GRADIENT_FLOOR = 1e-20  # gradients below this (down to an exact 0, when they underflow) are drawn here


def add_norm_profiles(depths=DEPTHS, seed=0, batch=8):
    """layer_profiles for every variant and every depth in `depths`, one seed, without the information measures."""
    return layer_profiles(VARIANTS, depths=depths, seeds=(seed,), batch=batch, information=False)


def add_norm_state(profiles, variant, depth):
    """What the explorer shows for one variant and depth: a lookup in add_norm_profiles(...)'s dict.

    Returns a dict: variant, depth, grad (depth,) = ‖∂loss/∂weights of block l‖ for l = 1..depth,
    rms (depth + 1,) = RMS of x_l for l = 0..depth, the same two for every variant in
    "all_grads" and "all_rms" ({variant: array}), and the numbers of the readout: grad_first,
    grad_last, grad_ratio = grad_first / grad_last, rms_first, rms_last.
    """
    require_variant(variant)
    if variant not in profiles:
        raise ValueError(f"variant {variant!r} was not measured; measured: {list(profiles)}")
    depths = profiles[variant]["depths"]
    if isinstance(depth, bool) or depth not in depths:
        raise ValueError(f"depth must be one of {list(depths)}, got {depth!r}")
    all_grads = {v: profiles[v]["grad"][depth][0] for v in profiles}
    all_rms = {v: profiles[v]["rms"][0, : depth + 1] for v in profiles}
    grad, rms = all_grads[variant], all_rms[variant]
    return {
        "variant": variant,
        "depth": depth,
        "grad": grad,
        "rms": rms,
        "all_grads": all_grads,
        "all_rms": all_rms,
        "grad_first": float(grad[0]),
        "grad_last": float(grad[-1]),
        "grad_ratio": float(grad[0] / grad[-1]),
        "rms_first": float(rms[0]),
        "rms_last": float(rms[-1]),
    }


def readout_html(state):
    """The state's numbers as one line of HTML above the figure (HTML is cheaper than matplotlib text)."""
    depth = state["depth"]
    return (
        f"<b>{html.escape(VARIANT_LABELS[state['variant']])}, {depth} blocks:</b> gradient of block 1 / block "
        f"{depth} = {state['grad_ratio']:.1e} &nbsp;·&nbsp; RMS of x: {state['rms_first']:.2f} at the input, "
        f"{state['rms_last']:.2f} after block {depth}"
    )


class AddNormExplorer(Explorer):
    """A variant picker and a depth slider over the per-layer gradient and activation size at initialisation.

    State: add_norm_state's dict. Figure: left, ‖∂loss/∂weights‖ per block; right, the RMS of x_l per
    layer; the chosen variant drawn bold, the other four faint, on fixed log axes.
    """

    figsize = (9.0, 3.6)
    has_readout = True  # what the figure shows, as a line of text above it

    def __init__(self, depths=DEPTHS, seed=0, batch=8):
        self.depths = tuple(depths)
        self.profiles = add_norm_profiles(self.depths, seed=seed, batch=batch)
        super().__init__()

    def make_controls(self):
        wide = {"description_width": "initial"}
        return {
            "variant": widgets.Dropdown(
                options=[(VARIANT_LABELS[v], v) for v in VARIANTS], value="plain", description="wrapping", style=wide
            ),
            "depth": widgets.SelectionSlider(
                options=list(self.depths),
                value=16 if 16 in self.depths else self.depths[len(self.depths) // 2],
                description="depth (blocks)",
                continuous_update=True,
                style=wide,
            ),
        }

    def update(self, variant, depth):
        return add_norm_state(self.profiles, variant, depth)

    def _limits(self):
        grads = np.concatenate([g.ravel() for p in self.profiles.values() for g in p["grad"].values()])
        rms = np.concatenate([p["rms"].ravel() for p in self.profiles.values()])
        grad_limits = (GRADIENT_FLOOR / 3, 3 * max(grads.max(), GRADIENT_FLOOR))
        return grad_limits, (rms.min() / 2, rms.max() * 2)

    def setup(self, live):
        grad_ax, rms_ax = live.figure.subplots(1, 2)
        (grad_low, grad_high), (rms_low, rms_high) = self._limits()
        max_depth = max(self.depths)
        self.grad_lines, self.rms_lines = {}, {}
        for variant in VARIANTS:
            style = STYLES[variant]
            (self.grad_lines[variant],) = grad_ax.plot([], [], color=style["color"], linestyle=style["linestyle"])
            (self.rms_lines[variant],) = rms_ax.plot([], [], color=style["color"], linestyle=style["linestyle"])
        grad_ax.axhline(GRADIENT_FLOOR, color="#7f7f7f", linestyle=":", linewidth=1)
        for ax, (low, high) in ((grad_ax, (grad_low, grad_high)), (rms_ax, (rms_low, rms_high))):
            log10_y_axis(ax, numticks=6)
            ax.yaxis.set_minor_locator(NullLocator())
            ax.set_ylim(low, high)
            ax.set_xlim(-0.5, max_depth + 0.5)
        grad_ax.set_xlabel("block l")
        grad_ax.set_ylabel("‖∂loss/∂weights of block l‖ (log)")
        grad_ax.set_title(f"Gradient per block (dotted: ≤ {GRADIENT_FLOOR:.0e})", fontsize=10)
        rms_ax.set_xlabel("layer l (0 = input)")
        rms_ax.set_ylabel("RMS of x_l (log)")
        rms_ax.set_title("Size of the stream x_l", fontsize=10)
        handles = [
            Line2D([], [], color=STYLES[v]["color"], linestyle=STYLES[v]["linestyle"], marker=STYLES[v]["marker"],
                   label=VARIANT_LABELS[v].split(":")[0])
            for v in VARIANTS
        ]  # fmt: skip
        rms_ax.legend(handles=handles, fontsize="small", loc="upper left")
        live.animate(*self.grad_lines.values(), *self.rms_lines.values())

    def draw(self, state):
        depth = state["depth"]
        for variant in VARIANTS:
            chosen = variant == state["variant"]
            grad = np.maximum(state["all_grads"][variant], GRADIENT_FLOOR)
            for line, x, y in (
                (self.grad_lines[variant], np.arange(1, depth + 1), grad),
                (self.rms_lines[variant], np.arange(0, depth + 1), state["all_rms"][variant]),
            ):
                line.set_data(x, y)
                line.set_linewidth(2.4 if chosen else 1.0)
                line.set_alpha(1.0 if chosen else 0.45)
                line.set_marker(STYLES[variant]["marker"] if chosen else "")
                line.set_markevery(max(1, depth // 12))
                line.set_zorder(3 if chosen else 2)
        self.readout.value = readout_html(state)
        return False


def add_norm_explorer(depths=DEPTHS, seed=0):
    """A widget: pick how the sublayers are wrapped and the depth; see the gradient and activation size per layer."""
    return AddNormExplorer(depths=depths, seed=seed)


# name -> factory, collected by helpers.lessons.EXPLORERS for the benchmark and tests.
EXPLORERS = {"add_norm": add_norm_explorer}
