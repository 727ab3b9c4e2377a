"""bertviz's head view and model view, drawn with no network access and safe with any token.

Stock bertviz loads require.js, d3 and jQuery from a CDN, so without internet its views stay
blank; and it places the attention data as raw JSON inside a <script> element, so a token
holding `</script>` ends the script early and whatever follows runs as HTML. Here:

- bertviz's own drawing code (head_view.js, model_view.js from the installed bertviz) runs
  unchanged, minus its `require.config` block of CDN paths;
- d3 v5 comes from the installed `mpld3` package and jQuery from `sphinxcontrib-jquery`,
  inlined into the output (nothing is fetched, nothing third-party is committed here);
- the data is JSON with every `<`, `>` and `&` written as a \\uXXXX escape, so no token can
  close the script; bertviz writes tokens with d3's `.text`, so they render as text.

    head_view(attention, tokens)    lines from each token to the tokens it attends to
    model_view(attention, tokens)   a grid of every layer's and head's attention

attention: (n_layers, n_heads, n, n), (n_heads, n, n) for one layer, or the tuple of
(1, n_heads, n, n) tensors that transformers returns with output_attentions=True.
Views longer than MAX_VIEW_TOKENS tokens show the first MAX_VIEW_TOKENS and say so.
"""

import functools
import hashlib
import html
import importlib.util
import itertools
import json
import re
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import torch

__all__ = ["MAX_VIEW_TOKENS", "AttentionView", "head_view", "model_view", "view_html"]

MAX_VIEW_TOKENS = 40  # beyond this the lines and thumbnails are too dense to read
VIEW_MARKER = "data-attention-hands-on-view"  # tools/make_outputs.py finds views by this attribute
_DECIMALS = 4  # weights are rounded in the page: 4 decimals are beyond what a line's opacity shows
_view_numbers = itertools.count(1)

# The libraries bertviz's code asks require.js for, by the name it asks with: (package, file).
_LIBRARIES = {
    "jquery": ("sphinxcontrib.jquery", "jquery.js"),
    "d3": ("mpld3", "js/d3.v5.min.js"),
}
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.DOTALL)


def package_file(package, file):
    """The Path of a file inside an installed package, found without importing the package: sphinxcontrib.jquery
    imports Sphinx, which the learner's install leaves out (requirements-files.txt)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the package {package} is not installed (`make install` installs it)")
    return Path(next(iter(spec.submodule_search_locations))) / file


@functools.cache
def library_source(name):
    """The JavaScript source of a library bertviz needs ("d3" or "jquery"), read from its installed package."""
    package, file = _LIBRARIES[name]
    source = package_file(package, file).read_text(encoding="utf-8")
    if re.search(r"</script|<!--", source, re.IGNORECASE):  # would end or confuse the <script> element
        raise RuntimeError(f"{package}/{file} contains '</script' or '<!--' and cannot be inlined safely")
    return source


@functools.cache
def bertviz_source(kind):
    """bertviz's drawing code for "head_view" or "model_view", with its CDN require.config removed."""
    source = resources.files("bertviz").joinpath(f"{kind}.js").read_text(encoding="utf-8")
    source, removed = _REQUIRE_CONFIG.subn("", source, count=1)
    if removed != 1 or "PYTHON_PARAMS" not in source or re.search(r"https?://\S+\.min['\"]", source):
        raise RuntimeError(
            f"bertviz's {kind}.js is not the version helpers.machinery.bertviz_offline was written for (bertviz 1.4.1)"
        )
    return source


def script_safe_json(value):
    """JSON text that is safe inside a <script> element: no `<`, `>`, `&`, U+2028 or U+2029 appear raw."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(raw, f"\\u{ord(raw):04x}")
    return text


def _attention_array(attention):
    """attention in any accepted form → float64 array (n_layers, n_heads, n_q, n_k)."""
    if isinstance(attention, (list, tuple)):
        if not attention:
            raise ValueError("attention is an empty sequence: give one tensor per layer")
        layers = [_one_layer(layer, i) for i, layer in enumerate(attention)]
        shapes = {layer.shape for layer in layers}
        if len(shapes) > 1:
            raise ValueError(f"every layer's attention must have the same shape, got {sorted(shapes)}")
        array = np.stack(layers)
    else:
        array = _as_array(attention, "attention")
        if array.ndim == 3:
            array = array[None]  # one layer
        elif array.ndim != 4:
            raise ValueError(f"attention must be (n_layers, n_heads, n, n) or (n_heads, n, n), got shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"attention has an empty dimension: shape {array.shape}")
    if array.shape[-1] != array.shape[-2]:
        n_q, n_k = array.shape[-2:]
        raise ValueError(f"self-attention weights must be square (n, n), got (..., {n_q}, {n_k})")
    if not np.isfinite(array).all():
        raise ValueError("attention contains NaN or infinity")
    if (array < 0).any():
        raise ValueError(f"attention weights must be >= 0, found {array.min():.3g}")
    return array


def _one_layer(layer, index):
    array = _as_array(layer, f"attention[{index}]")
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]  # transformers' (batch = 1, n_heads, n, n)
    if array.ndim != 3:
        raise ValueError(f"attention[{index}] must be (n_heads, n, n) or (1, n_heads, n, n), got shape {array.shape}")
    return array


def _as_array(value, name):
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():
            raise TypeError(f"{name} must hold floats, got {value.dtype}")
        return value.detach().to(torch.float64).cpu().numpy()
    if isinstance(value, np.ndarray):
        if not np.issubdtype(value.dtype, np.floating):
            raise TypeError(f"{name} must hold floats, got {value.dtype}")
        return value.astype(np.float64)
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(value).__name__}")


def _check_tokens(tokens, n):
    if isinstance(tokens, str) or not isinstance(tokens, (list, tuple)):
        raise TypeError(f"tokens must be a list of str, got {type(tokens).__name__}")
    bad = [type(token).__name__ for token in tokens if not isinstance(token, str)]
    if bad:
        raise TypeError(f"tokens must be a list of str, found {bad[0]}")
    if len(tokens) != n:
        raise ValueError(f"attention covers {n} tokens but {len(tokens)} tokens were given")
    return list(tokens)


def _check_indices(name, values, size, what):
    if values is None:
        return list(range(size))
    if not isinstance(values, (list, tuple, range, np.ndarray)):
        values = [values]  # one index; the check below refuses anything but an int in range
    values = list(values)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < size:
            raise ValueError(f"{name} must hold {what} numbers from 0 to {size - 1}, got {value!r}")
    if not values:
        raise ValueError(f"{name} is empty: give at least one {what}")
    return [int(value) for value in values]


class AttentionView:
    """A bertviz view as a self-contained piece of HTML; Jupyter shows it when it is a cell's last value.

    html: the HTML (a <div> and one <script>).  kind: "head_view" or "model_view".
    tokens: the tokens shown.  truncated_from: the original number of tokens if the view was cut, else None.
    """

    def __init__(self, html_text, kind, tokens, truncated_from=None):
        self.html = html_text
        self.kind = kind
        self.tokens = tokens
        self.truncated_from = truncated_from

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html, "text/plain": repr(self)}

    def __repr__(self):
        cut = f", first {len(self.tokens)} of {self.truncated_from} tokens" if self.truncated_from else ""
        return f"<{self.kind} of {len(self.tokens)} tokens{cut}>"


def _prepare(attention, tokens, max_tokens):
    array = _attention_array(attention)
    tokens = _check_tokens(tokens, array.shape[-1])
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
    truncated_from = None
    if len(tokens) > max_tokens:
        truncated_from = len(tokens)
        warnings.warn(
            f"the view shows the first {max_tokens} of {truncated_from} tokens: more would be unreadable",
            stacklevel=3,
        )
        array = array[..., :max_tokens, :max_tokens]
        tokens = tokens[:max_tokens]
    return np.round(array, _DECIMALS), tokens, truncated_from


def view_html(kind, params, note=""):
    """The view's HTML: the container bertviz's code expects, then one script that draws into it.

    kind: "head_view" or "model_view".  params: bertviz's parameters (root_div_id included).
    note: plain text shown above the view (escaped here).
    """
    root = params["root_div_id"]
    layer_picker = '<span style="user-select:none">Layer: <select id="layer"></select></span>'
    controls = layer_picker if kind == "head_view" else ""
    note_html = f'<p style="margin:0 0 4px 0">{html.escape(note)}</p>' if note else ""
    libraries = "\n".join(
        f"(function (define, module, exports) {{\n{library_source(name)}\n}}).call(loaded);"
        for name in ("d3", "jquery")
    )
    script = f"""
(function () {{
  var libs = window.__attentionHandsOnLibs;
  if (!libs) {{
    var loaded = {{}};
    var previous = {{jQuery: window.jQuery, $: window.$}};
{libraries}
    // jQuery sets window.jQuery and window.$: take it back out, so nothing else on the page changes.
    libs = {{d3: loaded.d3, jquery: window.jQuery}};
    window.jQuery = previous.jQuery;
    window.$ = previous.$;
    window.__attentionHandsOnLibs = libs;
  }}
  // bertviz's code asks require.js for its libraries: answer with the ones loaded above.
  var require = {{config: function () {{}}}};
  var requirejs = function (names, draw) {{
    draw.apply(null, names.map(function (name) {{ return libs[name]; }}));
  }};
{bertviz_source(kind).replace("PYTHON_PARAMS", script_safe_json(params))}
  // Drawn: the line saying where the view will appear can go.
  var waiting = document.querySelector("#{root} .attention-view-waiting");
  if (waiting) {{ waiting.remove(); }}
}})();
"""
    font = "font-family:'Helvetica Neue', Helvetica, Arial, sans-serif;"
    return f"""<div id="{root}" {VIEW_MARKER}="{kind}" style="{font}">
{note_html}<p class="attention-view-waiting">The attention view draws here when this cell runs in JupyterLab.</p>
{controls}<div id="vis"></div>
</div>
<script type="text/javascript">{script}</script>
"""


def _root_id(kind, params):
    digest = hashlib.sha1(script_safe_json(params).encode()).hexdigest()[:10]
    return f"attention-{kind.replace('_', '-')}-{next(_view_numbers)}-{digest}"


def _note(tokens, truncated_from):
    if truncated_from is None:
        return ""
    return f"Showing the first {len(tokens)} of {truncated_from} tokens: a longer view is too dense to read."


def head_view(attention, tokens, *, layer=0, heads=None, max_tokens=MAX_VIEW_TOKENS):
    """bertviz's head view: pick a layer, hover a token to see where each head sends its attention.

    attention: (n_layers, n_heads, n, n), (n_heads, n, n), or transformers' tuple of (1, n_heads, n, n).
    tokens: n str.  layer: the layer shown first.  heads: the heads selected first (default all).
    Returns an AttentionView; inputs over max_tokens tokens are cut to the first max_tokens, with a warning.
    """
    array, tokens, truncated_from = _prepare(attention, tokens, max_tokens)
    n_layers, n_heads = array.shape[:2]
    layers = list(range(n_layers))
    (layer,) = _check_indices("layer", layer, n_layers, "layer")
    params = {
        "attention": [{"name": None, "attn": array.tolist(), "left_text": tokens, "right_text": tokens}],
        "default_filter": "0",
        "layer": layer,
        "heads": _check_indices("heads", heads, n_heads, "head"),
        "include_layers": layers,
    }
    params["root_div_id"] = _root_id("head_view", params)
    html_text = view_html("head_view", params, _note(tokens, truncated_from))
    return AttentionView(html_text, "head_view", tokens, truncated_from)


def model_view(attention, tokens, *, max_tokens=MAX_VIEW_TOKENS):
    """bertviz's model view: one thumbnail per layer (rows) and head (columns); click one to enlarge it.

    attention: (n_layers, n_heads, n, n), (n_heads, n, n), or transformers' tuple of (1, n_heads, n, n).
    tokens: n str. Returns an AttentionView; inputs over max_tokens tokens are cut, with a warning.
    """
    array, tokens, truncated_from = _prepare(attention, tokens, max_tokens)
    n_layers, n_heads = array.shape[:2]
    params = {
        "attention": [{"name": None, "attn": array.tolist(), "left_text": tokens, "right_text": tokens}],
        "default_filter": "0",
        "display_mode": "light",
        "include_layers": list(range(n_layers)),
        "include_heads": list(range(n_heads)),
        "total_heads": n_heads,
    }
    params["root_div_id"] = _root_id("model_view", params)
    html_text = view_html("model_view", params, _note(tokens, truncated_from))
    return AttentionView(html_text, "model_view", tokens, truncated_from)
