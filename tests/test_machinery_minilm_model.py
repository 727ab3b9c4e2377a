"""helpers.machinery.minilm_model: MiniLM's attention, computed from its weights file, checked against transformers."""

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.machinery.minilm import D_K, minilm_layer0_qkv, minilm_token_vectors, minilm_tokens
from helpers.machinery.minilm_model import N_LAYERS, minilm_attention, minilm_model

SENTENCE = "The animal didn't cross the street because it was too tired"
REPO_ROOT = Path(__file__).resolve().parent.parent


def test_every_layer_and_head_with_rows_that_sum_to_one():
    tokens, attention = minilm_attention(SENTENCE)
    n = len(tokens)
    assert tokens == minilm_tokens(SENTENCE) and tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert attention.shape == (N_LAYERS, 12, n, n) and attention.dtype == torch.float32
    torch.testing.assert_close(attention.sum(-1), torch.ones(N_LAYERS, 12, n), atol=1e-5, rtol=0)
    assert (attention >= 0).all()


@pytest.mark.parametrize("sentence", [SENTENCE, "it", "Attention is all you need, or is it? Read the paper: 2017."])
def test_every_weight_is_transformers_berts(sentence):
    """The course's six layers against transformers' BertModel (eager attention) on the same weights."""
    from helpers.machinery.minilm import minilm_token_ids

    with torch.no_grad():
        theirs = minilm_model()(input_ids=torch.tensor([minilm_token_ids(sentence)]), output_attentions=True)
    _, ours = minilm_attention(sentence)
    torch.testing.assert_close(ours, torch.cat(theirs.attentions), atol=2e-6, rtol=1e-5)


def test_computing_the_attention_does_not_import_transformers():
    code = (
        "import sys\n"
        "from helpers.machinery.minilm_model import minilm_attention\n"
        "minilm_attention('it was too tired')\n"
        "print('transformers' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "False"


def test_layer_0_equals_softmax_of_the_course_own_queries_and_keys():
    """Layer 0's weights = softmax(q·kᵀ/√d_k) from the projections lesson 01 reads itself."""
    tokens, attention = minilm_attention(SENTENCE)
    _, x = minilm_token_vectors(SENTENCE)
    for head in (0, 5, 11):
        q, k, _ = minilm_layer0_qkv(x, head)
        ours = torch.softmax(q @ k.T / math.sqrt(D_K), dim=-1)
        torch.testing.assert_close(attention[0, head], ours, atol=1e-5, rtol=1e-4)


def test_heads_differ_and_the_result_is_a_copy():
    _, attention = minilm_attention(SENTENCE)
    assert (attention[0, 0] - attention[0, 1]).abs().max() > 0.1  # real heads, not one map repeated
    attention.zero_()
    assert minilm_attention(SENTENCE)[1].sum() > 0  # the cached result was not touched


@pytest.mark.parametrize(("sentence", "error", "match"), [("", ValueError, "empty"), (3, TypeError, "str")])
def test_bad_sentences_are_refused(sentence, error, match):
    with pytest.raises(error, match=match):
        minilm_attention(sentence)


def _network_off_available():
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


NO_UNSHARE = "needs `unshare -rn` (Linux user namespaces) to cut the network"


@pytest.mark.skipif(not _network_off_available(), reason=NO_UNSHARE)
def test_loads_with_networking_disabled():
    """In a process with no network interface at all (only a down loopback), MiniLM still loads."""
    code = (
        "from helpers.machinery.minilm_model import minilm_attention\n"
        "tokens, attention = minilm_attention('it was too tired')\n"
        "print(tuple(attention.shape))\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "TRANSFORMERS_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["HF_HOME"] = "/nonexistent-hf-home"  # no cached hub files to fall back on
    result = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "(6, 12, 6, 6)"  # [CLS] it was too tired [SEP]
