"""helpers.machinery.bertviz_offline: bertviz views that need no network and cannot be broken out of by a token.

What the browser does with the HTML (draws, redraws, runs nothing hostile, fetches nothing)
is tested in tests/browser/test_bertviz_offline_in_browser.py; here: the HTML itself and the input checks.
"""

import json
import re
from importlib import resources

import numpy as np
import pytest
import torch

from helpers.machinery import bertviz_offline as viz

HOSTILE = '</script><img src=x onerror="window.__pwned = 1">'
TOKENS = ["[CLS]", "the", "cat", HOSTILE, "sat", "[SEP]"]


def weights(n_layers=2, n_heads=3, n=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(n_layers, n_heads, n, n, generator=generator), dim=-1)


def embedded_params(view_html):
    """The parameters bertviz's code receives, parsed back from the page's script."""
    match = re.search(r"const params = (\{.*?\}); // HACK", view_html)
    assert match, "the params line of bertviz's code is not in the page"
    return json.loads(match.group(1))


def without_libraries(view_html):
    for name in ("d3", "jquery"):
        view_html = view_html.replace(viz.library_source(name), "")
    return view_html


def test_libraries_come_unchanged_from_installed_packages():
    d3 = resources.files("mpld3").joinpath("js/d3.v5.min.js").read_text(encoding="utf-8")
    jquery = resources.files("sphinxcontrib.jquery").joinpath("jquery.js").read_text(encoding="utf-8")
    assert viz.library_source("d3") == d3
    assert viz.library_source("jquery") == jquery
    assert "d3js.org v5." in d3 and "jQuery v3." in jquery  # the versions bertviz's code works with


def test_bertviz_code_keeps_everything_but_its_cdn_configuration():
    for kind in ("head_view", "model_view"):
        original = resources.files("bertviz").joinpath(f"{kind}.js").read_text(encoding="utf-8")
        code = viz.bertviz_source(kind)
        assert "cdnjs" in original and "cdnjs" not in code
        assert "require.config" not in code
        assert len(original) - len(code) < 300  # only the config block went
        assert "requirejs(['jquery', 'd3']" in code


@pytest.mark.parametrize("make_view", [viz.head_view, viz.model_view], ids=["head_view", "model_view"])
def test_html_loads_nothing_from_the_network(make_view):
    page = make_view(weights(), TOKENS).html
    ours = without_libraries(page)  # jQuery's own code mentions "<script" and "<link" in strings
    assert len(re.findall(r"<script\b", ours)) == 1
    assert not re.search(r"<script[^>]*\bsrc\s*=", ours)
    assert not re.search(r"<(link|iframe|img|object|embed)\b", ours, re.IGNORECASE)
    code = re.sub(r"/\*.*?\*/", "", ours, flags=re.DOTALL)  # bertviz's header comment credits a repository
    assert not re.search(r"https?://", code), "an address outside the libraries' own code"
    assert "@import" not in page and "url(" not in without_libraries(page)


@pytest.mark.parametrize("make_view", [viz.head_view, viz.model_view], ids=["head_view", "model_view"])
def test_a_hostile_token_cannot_end_the_script_and_still_reads_as_itself(make_view):
    page = make_view(weights(), TOKENS).html
    assert HOSTILE not in page
    assert page.lower().count("</script") == 1 and page.rstrip().endswith("</script>")
    assert "<img" not in page.lower()
    params = embedded_params(page)
    assert params["attention"][0]["left_text"] == TOKENS  # the escapes decode to the token itself


def test_script_safe_json_escapes_what_a_script_element_or_javascript_would_misread():
    text = viz.script_safe_json({"t": "</script><!-- & \u2028\u2029 >"})
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in text
    assert json.loads(text) == {"t": "</script><!-- & \u2028\u2029 >"}


def test_weights_reach_the_page_rounded_and_in_layer_head_order():
    attention = weights()
    params = embedded_params(viz.head_view(attention, TOKENS, layer=1, heads=[0, 2]).html)
    sent = np.array(params["attention"][0]["attn"])
    assert sent.shape == (2, 3, 6, 6)
    np.testing.assert_allclose(sent, attention.numpy(), atol=0.5e-4 + 1e-9)
    assert params["layer"] == 1 and params["heads"] == [0, 2] and params["include_layers"] == [0, 1]


def test_model_view_tells_bertviz_every_layer_and_head():
    params = embedded_params(viz.model_view(weights(n_layers=3, n_heads=4), TOKENS).html)
    assert params["include_layers"] == [0, 1, 2]
    assert params["include_heads"] == [0, 1, 2, 3]
    assert params["total_heads"] == 4


def test_the_accepted_forms_of_attention_give_the_same_view():
    attention = weights()
    reference = embedded_params(viz.head_view(attention, TOKENS).html)["attention"]
    transformers_tuple = tuple(layer[None] for layer in attention)  # (1, n_heads, n, n) per layer
    for form in (attention.numpy(), transformers_tuple, list(attention), attention.to(torch.float64)):
        assert embedded_params(viz.head_view(form, TOKENS).html)["attention"] == reference
    one_layer = embedded_params(viz.head_view(attention[0], TOKENS).html)["attention"][0]["attn"]
    assert one_layer == reference[0]["attn"][:1]


def test_each_view_gets_its_own_root_element():
    first, second = viz.head_view(weights(), TOKENS), viz.head_view(weights(), TOKENS)
    ids = [re.search(r'<div id="([^"]+)"', view.html).group(1) for view in (first, second)]
    assert ids[0] != ids[1]
    for view, root in zip((first, second), ids, strict=True):
        assert embedded_params(view.html)["root_div_id"] == root
        assert re.fullmatch(r"[a-z0-9-]+", root)


def test_long_inputs_are_cut_with_a_warning_and_a_note_in_the_view():
    n = viz.MAX_VIEW_TOKENS + 10
    tokens = [f"t{i}" for i in range(n)]
    with pytest.warns(UserWarning, match=f"first {viz.MAX_VIEW_TOKENS} of {n} tokens"):
        view = viz.model_view(weights(n=n), tokens)
    assert view.tokens == tokens[: viz.MAX_VIEW_TOKENS] and view.truncated_from == n
    assert f"Showing the first {viz.MAX_VIEW_TOKENS} of {n} tokens" in view.html
    assert np.array(embedded_params(view.html)["attention"][0]["attn"]).shape[-1] == viz.MAX_VIEW_TOKENS
    assert f"first {viz.MAX_VIEW_TOKENS} of {n}" in repr(view)


def test_a_view_shows_as_html_with_a_plain_text_summary():
    bundle = viz.head_view(weights(), TOKENS)._repr_mimebundle_()
    assert viz.VIEW_MARKER in bundle["text/html"]
    assert bundle["text/plain"] == "<head_view of 6 tokens>"


@pytest.mark.parametrize(
    ("attention", "tokens", "error", "match"),
    [
        (weights()[0, 0, 0], TOKENS, ValueError, r"\(n_layers, n_heads, n, n\).*got shape \(6,\)"),
        (torch.ones(1, 2, 6, 5) / 5, TOKENS, ValueError, r"square.*\(\.\.\., 6, 5\)"),
        (weights(), TOKENS[:-1], ValueError, "covers 6 tokens but 5 tokens"),
        (weights(), "the cat sat", TypeError, "list of str, got str"),
        (weights(), TOKENS[:-1] + [7], TypeError, "found int"),
        (torch.ones(1, 2, 6, 6, dtype=torch.long), TOKENS, TypeError, "must hold floats"),
        (weights().masked_fill(torch.eye(6, dtype=torch.bool), float("nan")), TOKENS, ValueError, "NaN"),
        (-weights(), TOKENS, ValueError, ">= 0"),
        ([weights()[0], weights(n_heads=2)[0]], TOKENS, ValueError, "same shape"),
        ([], TOKENS, ValueError, "empty sequence"),
        ([[0.5, 0.5]], TOKENS, TypeError, r"attention\[0\] must be a torch.Tensor"),
        ("weights", TOKENS, TypeError, "got str"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(attention, tokens, error, match):
    with pytest.raises(error, match=match):
        viz.head_view(attention, tokens)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layer": 2}, "layer must hold layer numbers from 0 to 1, got 2"),
        ({"heads": [0, 3]}, "from 0 to 2, got 3"),
        ({"heads": []}, "heads is empty"),
        ({"layer": True}, "got True"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_bad_layer_heads_or_cap_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.head_view(weights(), TOKENS, **kwargs)
