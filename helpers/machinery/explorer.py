"""The machinery behind every interactive figure of the course.

An explorer is: controls (ipywidgets) → update(**values) → state → draw(state) → figure.
`update` is pure computation and returns the state (a dict of tensors and labels), so
tests can drive the controls and check `explorer.state` without a browser. `draw` only
reads the state. The figure is an ipympl canvas that redraws just the parts that change
(blitting), which keeps an update well under 50 ms on a laptop CPU.
"""

import html

import ipywidgets as widgets
import matplotlib
from IPython import get_ipython
from matplotlib.figure import Figure

# Importing ipympl switches pyplot to the ipympl backend when matplotlib is already loaded. The
# course's explorers attach ipympl canvases to their own figures and need no global switch, and the
# lessons' static figures must stay inline PNGs (stored in the notebook, shown without a kernel).
_BACKEND_BEFORE_IPYMPL = matplotlib.rcParams._get_backend_or_none()
from ipympl.backend_nbagg import new_figure_manager_given_figure  # noqa: E402

if get_ipython() is not None and _BACKEND_BEFORE_IPYMPL in ("inline", "module://matplotlib_inline.backend_inline"):
    get_ipython().enable_matplotlib("inline")

__all__ = ["LiveFigure", "Explorer", "PerSentenceExplorer", "log_slider", "control_values"]


class LiveFigure:
    """A matplotlib Figure shown as a widget, redrawing only its animated artists.

    Artists registered with `animate` are left out of the full draw and painted over a
    cached background on each `redraw`. Call `redraw_all` when anything else changes
    (titles, tick labels).
    """

    def __init__(self, figsize=(6.0, 3.5), dpi=90):
        self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        new_figure_manager_given_figure(id(self.figure), self.figure)
        self.canvas = self.figure.canvas  # an ipympl Canvas: an ipywidgets DOMWidget
        self.canvas.header_visible = False
        self.canvas.footer_visible = False
        self.canvas.toolbar_visible = False
        self.canvas.resizable = False
        # ipympl re-encodes every frame a second time to keep a data URL for static export;
        # the course stores no widget state, so that second PNG would only cost time.
        self.canvas.syncing_data_url = False
        self._animated = []
        self._background = None
        self.canvas.mpl_connect("draw_event", self._on_full_draw)

    def animate(self, *artists):
        """Mark artists as the ones that change between updates."""
        for artist in artists:
            artist.set_animated(True)
            self._animated.append(artist)

    def _on_full_draw(self, event):
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        self._draw_animated()

    def _draw_animated(self):
        for artist in self._animated:
            self.figure.draw_artist(artist)

    def redraw(self):
        """Repaint the animated artists; a full draw the first time."""
        if self._background is None:
            self.redraw_all()
            return
        self.canvas.restore_region(self._background)
        self._draw_animated()
        self.canvas.blit(self.figure.bbox)

    def redraw_all(self):
        """Draw everything, and cache the new background."""
        self.canvas.draw()


class Explorer:
    """Base class of the course's widgets. Subclasses define:

    make_controls() -> dict name -> ipywidgets control (each with a `value`)
    update(**values) -> state dict (pure; raises ValueError/TypeError on bad values)
    setup(live: LiveFigure) -> create the figure's artists once
    draw(state) -> update the artists from the state; return True if non-animated
                   parts changed (then the whole figure is redrawn)
    """

    figsize = (6.0, 3.5)
    # True: a line of HTML between the controls and the figure, `self.readout`, which draw() fills. The
    # browser draws it (matplotlib text costs ~1.5 ms per word on every frame) and a screen reader reads it.
    has_readout = False

    def __init__(self):
        self.controls = self.make_controls()
        self.state = {}
        self.error = None
        readout = [widgets.HTML(value="")] if self.has_readout else []
        if readout:
            self.readout = readout[0]
        self.live = LiveFigure(figsize=self.figsize)
        self.setup(self.live)
        self.message = widgets.HTML(value="")
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
            if hasattr(control.style, "description_width"):
                control.style.description_width = "initial"  # show the whole description, never "temperat..."
        control_row = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([control_row, self.message, *readout, self.live.canvas])
        self.refresh()

    def make_controls(self):
        raise NotImplementedError

    def update(self, **values):
        raise NotImplementedError

    def setup(self, live):
        raise NotImplementedError

    def draw(self, state):
        raise NotImplementedError

    def values(self):
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self):
        """Recompute the state from the controls and redraw. Bad values show a message, not a traceback."""
        try:
            state = self.update(**self.values())
        except (ValueError, TypeError) as error:
            self.error = str(error)
            self.message.value = f"<span style='color:#b00020'>Cannot show this: {html.escape(self.error)}</span>"
            return
        self.error = None
        self.message.value = ""
        self.state = state
        if self.draw(state):
            self.live.redraw_all()
        else:
            self.live.redraw()

    def _on_change(self, change):
        self.refresh()

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"{type(self).__name__}: an interactive figure; run this cell in JupyterLab to use it."
        return bundle


class PerSentenceExplorer(Explorer):
    """An Explorer with one set of Axes per sentence, built when the sentence is first shown (lessons 01 and 05).

    A later sentence change only swaps which set is visible; each set's background is cached after its first
    full draw. A subclass sets self.sentences and self._backgrounds = {} before Explorer.__init__, picks the
    sentence with _sentence_dropdown(), calls _start_parts(live) in setup(), defines _build_part(sentence) to
    store self.parts[sentence] = {"axes": ..., "animated": ..., ...}, and starts draw(state) with
    `full_redraw = self._swap_to(state["sentence"])`.
    """

    def _sentence_dropdown(self):
        return widgets.Dropdown(
            options=self.sentences, value=self.sentences[0], description="sentence", layout=widgets.Layout(width="30em")
        )

    def _start_parts(self, live):
        self.parts = {}
        self._shown = self.sentences[0]
        self._build_part(self._shown)
        live.canvas.mpl_connect("draw_event", self._cache_background)  # after LiveFigure's own handler

    def _show(self, sentence):
        for name, part in self.parts.items():
            for artist in (*part["axes"], *part["animated"]):  # draw_artist ignores a hidden Axes: hide its artists
                artist.set_visible(name == sentence)
        self._shown = sentence

    def _background_key(self):
        return self._shown, tuple(self.live.figure.bbox.bounds)

    def _cache_background(self, event):
        self._backgrounds[self._background_key()] = self.live._background

    def _swap_to(self, sentence):
        """Show `sentence`'s set of Axes (built the first time); True if the whole figure must be drawn."""
        full_redraw = False
        if sentence != self._shown:
            if sentence not in self.parts:
                self._build_part(sentence)
            self._show(sentence)
            # Send the browser a whole frame, not a diff against the last one: a diff after swapping the
            # visible Axes left stale pixels in JupyterLab (seen in the browser test's screenshots).
            self.live.canvas._force_full = True
            background = self._backgrounds.get(self._background_key())
            if background is None:
                full_redraw = True  # the first time: draw everything; _cache_background keeps it
            else:
                self.live._background = background
        return full_redraw


def log_slider(description, min_exponent, max_exponent, value=1.0, readout_format=".2f"):
    """A slider over base-10 exponents, for quantities like a temperature: 10**min_exponent ... 10**max_exponent."""
    return widgets.FloatLogSlider(
        value=value,
        base=10,
        min=min_exponent,
        max=max_exponent,
        step=0.05,
        description=description,
        continuous_update=True,
        readout_format=readout_format,
    )


def control_values(control, count=5):
    """Values a control can take, for tests and the benchmark to step through.

    Dropdowns and toggle buttons: every option. Sliders: `count` values from min to max
    (log-spaced for FloatLogSlider). Checkboxes and toggles: both states.
    """
    if isinstance(control, widgets.FloatLogSlider):
        exponents = [control.min + (control.max - control.min) * i / (count - 1) for i in range(count)]
        return [control.base**exponent for exponent in exponents]
    if isinstance(control, (widgets.IntSlider, widgets.IntRangeSlider)):
        step = max(1, (control.max - control.min) // (count - 1))
        return list(range(control.min, control.max + 1, step))
    if isinstance(control, widgets.FloatSlider):
        return [control.min + (control.max - control.min) * i / (count - 1) for i in range(count)]
    if isinstance(control, (widgets.Checkbox, widgets.ToggleButton)):
        return [not control.value, control.value]
    if hasattr(control, "options"):  # Dropdown, RadioButtons, ToggleButtons, SelectionSlider
        return [option[1] if isinstance(option, tuple) else option for option in control.options]
    raise TypeError(f"no known values for a {type(control).__name__}")
