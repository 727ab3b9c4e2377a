"""helpers.lessons.l07_complexity: the qualifications of the notes' claims (multi-head memory, linear recurrences,
the CNN half of "higher cost for long sequences", fresh memory counted) and the GRU / Conv1d primer."""

import pytest
import torch
from torch import nn

from helpers.lessons import l07_complexity as cx
from helpers.machinery.threads import one_thread


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with one_thread():
        yield


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- the multi-head layer


@pytest.mark.parametrize("n_heads", [1, 2, 4])
def test_multi_head_layer_equals_torchs_multihead_attention(n_heads):
    layer = cx.SelfAttentionLayer(16, n_heads=n_heads)
    reference = nn.MultiheadAttention(16, n_heads, batch_first=True)
    with torch.no_grad():  # copy ours into torch's: its in_proj_weight stacks W_q, W_k, W_v like our w_qkv
        reference.in_proj_weight.copy_(layer.w_qkv.weight)
        reference.in_proj_bias.copy_(layer.w_qkv.bias)
        reference.out_proj.weight.copy_(layer.w_o.weight)
        reference.out_proj.bias.copy_(layer.w_o.bias)
    x = _randn(2, 9, 16)
    expected, _ = reference(x, x, x, need_weights=False)
    torch.testing.assert_close(layer(x), expected, atol=1e-6, rtol=1e-5)


def test_one_head_layer_is_unchanged_by_the_heads_option():
    x = _randn(1, 12, 8)
    torch.testing.assert_close(cx.make_layer("attention", 8, n_heads=1)(x), cx.make_layer("attention", 8)(x))
    layer = cx.make_layer("attention", 8)
    assert cx.count_ops(lambda: layer(x))[0] == 24  # the lesson's printed count


def test_heads_must_divide_the_width():
    with pytest.raises(ValueError, match="divisible by n_heads=3"):
        cx.SelfAttentionLayer(16, n_heads=3)


def test_multi_head_memory_is_eight_bytes_per_head_and_n_squared_plus_the_n_d_tensors():
    memory = cx.multi_head_memory(ns=(16, 32), d_models=(8, 16, 32), d_k=8)
    assert memory["n_heads"] == [1, 2, 4]
    for i, d in enumerate(memory["d_model"]):
        h = memory["n_heads"][i]
        for n, counted in zip(memory["n"], memory["peak_bytes"]["multi_head"][str(d)], strict=True):
            assert counted == 8 * h * n * n + 16 * n * d  # scores and weights per head, float32, + (n, d) tensors
        for n, counted in zip(memory["n"], memory["peak_bytes"]["one_head"][str(d)], strict=True):
            assert counted == 8 * n * n + 16 * n * d
    fit = cx.fit_memory_terms(memory, "multi_head", terms=("n²·d", "n·d"))
    assert fit["coefficients"]["n²·d"] == pytest.approx(8 / 8) and fit["max_relative_error"] < 1e-9


def test_multi_head_slopes_tell_n_squared_d_from_n_squared():
    slopes = cx.multi_head_slopes(cx.multi_head_memory(ns=(64, 128, 256), d_models=(16, 32, 64), d_k=16))
    assert slopes["multi_head"]["like_n2_d"] and not slopes["one_head"]["like_n2_d"]
    assert slopes["multi_head"]["in_d"] == pytest.approx(1.0, abs=1e-6)
    assert slopes["one_head"]["in_d"] < 0.5 and slopes["n"] == 256 and slopes["d_model"] == 64
    # the verdict follows the data: bytes that do not grow with d fail it
    flat = cx.multi_head_memory(ns=(64, 128), d_models=(16, 32), d_k=16)
    flat["peak_bytes"]["multi_head"] = {"16": [1000, 4000], "32": [1000, 4000]}
    assert not cx.multi_head_slopes(flat)["multi_head"]["like_n2_d"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"d_models": (8, 12), "d_k": 8}, ValueError, "multiple of d_k=8"),
        ({"ns": (16, 16)}, ValueError, "differ"),
        ({"ns": (32, 16)}, ValueError, "increasing"),
        ({"d_k": 0}, ValueError, "d_k"),
        ({"ns": "16"}, TypeError, "list of ints"),
    ],
)
def test_multi_head_memory_names_bad_sizes(kwargs, error, match):
    with pytest.raises(error, match=match):
        cx.multi_head_memory(**kwargs)


def test_multi_head_slopes_need_two_sizes():
    with pytest.raises(ValueError, match="at least 2"):
        cx.multi_head_slopes({"n": [16], "d_model": [8, 16], "peak_bytes": {}})


# --------------------------------------------------------------------------- linear recurrences


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 100])
def test_scan_equals_loop_and_a_matrix_reference(n):
    a, x = cx.seeded_recurrence(n, d=3, seed=n)
    looped, steps = cx.linear_recurrence_loop(a, x)
    scanned, rounds = cx.linear_recurrence_scan(a, x)
    assert steps == n and rounds == (n - 1).bit_length()  # ⌈log₂ n⌉
    # independent reference: h_t = Σ_{s<=t} (Π_{r=s+1..t} a_r) x_s, built as a lower-triangular matrix
    reference = torch.zeros_like(x)
    for t in range(n):
        for s in range(t + 1):
            reference[t] += a[s + 1 : t + 1].prod(dim=0) * x[s]
    torch.testing.assert_close(looped, reference, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(scanned, reference, atol=1e-12, rtol=1e-12)


def test_scan_with_a_constant_decay_is_an_exponential_moving_sum():
    x = torch.ones(5, 1, dtype=torch.float64)
    scanned, _ = cx.linear_recurrence_scan(torch.full_like(x, 0.5), x)
    assert scanned.squeeze().tolist() == [1.0, 1.5, 1.75, 1.875, 1.9375]


@pytest.mark.parametrize(
    ("a", "x", "error", "match"),
    [
        (torch.ones(3, 2), torch.ones(4, 2), ValueError, r"same shape .* a \(3, 2\), x \(4, 2\)"),
        (torch.ones(0), torch.ones(0), ValueError, "n >= 1"),
        ([1.0], torch.ones(1), TypeError, "a"),
        (torch.ones(2), torch.ones(2, dtype=torch.int64), TypeError, "x"),
    ],
)
def test_linear_recurrences_name_bad_input(a, x, error, match):
    for fn in (cx.linear_recurrence_loop, cx.linear_recurrence_scan):
        with pytest.raises(error, match=match):
            fn(a, x)


# --------------------------------------------------------------------------- the primer


@pytest.mark.parametrize("batch", [1, 3])
def test_gru_by_hand_equals_torchs_gru(batch):
    layer = cx.make_layer("gru", 6)
    x = _randn(batch, 7, 6)
    with torch.no_grad():
        torch.testing.assert_close(cx.gru_by_hand(layer, x), layer(x))
        torch.testing.assert_close(cx.gru_by_hand(layer.gru, x), layer.gru(x)[0])


@pytest.mark.parametrize("kernel_size", [1, 3, 7])
def test_conv_by_hand_equals_torchs_conv1d(kernel_size):
    layer = cx.make_layer("conv", 6, kernel_size=kernel_size)
    x = _randn(2, 9, 6)
    with torch.no_grad():
        torch.testing.assert_close(cx.conv_by_hand(layer, x), layer(x))
        unbiased = nn.Conv1d(6, 6, kernel_size, padding=kernel_size // 2, bias=False)
        expected = unbiased(x.transpose(1, 2)).transpose(1, 2)
        torch.testing.assert_close(cx.conv_by_hand(unbiased, x), expected)


def test_primer_names_bad_layers_and_shapes():
    with pytest.raises(TypeError, match="RecurrentLayer"):
        cx.gru_by_hand(nn.GRU(4, 4), _randn(1, 3, 4))  # not batch_first
    with pytest.raises(TypeError, match="ConvLayer"):
        cx.conv_by_hand(nn.Conv1d(4, 4, 3), _randn(1, 3, 4))  # no padding: the length would shrink
    with pytest.raises(ValueError, match=r"d_model=4\), got \(3, 4\)"):
        cx.gru_by_hand(cx.make_layer("gru", 4), _randn(3, 4))
    with pytest.raises(ValueError, match=r"d_model=4\), got \(1, 3, 5\)"):
        cx.conv_by_hand(cx.make_layer("conv", 4), _randn(1, 3, 5))


# --------------------------------------------------------------------------- against the convolution


def _layers(attention, conv, ns=(64, 128, 256), d=64):
    return {"n": list(ns), "d_model": [d], "seconds": {"attention": {str(d): attention}, "conv": {str(d): conv}}}


def test_attention_against_conv_of_synthetic_times():
    found = cx.attention_against_conv(_layers([2.0, 4.0, 16.0], [1.0, 1.0, 1.0]))
    row = found["by_d"][64]
    assert row["time_ratio"] == [2.0, 4.0, 16.0] and row["time_crossover"] == (None, 64)
    assert row["flop_ratio"][0] == pytest.approx((8 + 4) / 6)  # (8·n·d² + 4·n²·d) / 6·n·d² at n = d
    assert found["flops_above"] and found["above_at_longest"] and found["excess_grows"]
    level = cx.attention_against_conv(_layers([1.1, 1.1, 1.1], [1.0, 1.0, 1.0]))
    assert not level["above_at_longest"] and not level["excess_grows"]


def test_attention_against_conv_of_the_cached_data(measurements):
    found = cx.attention_against_conv(measurements["layers"])
    assert found["flops_above"] and found["above_at_longest"] and found["excess_grows"]


def test_wide_kernels_can_cost_more_flops_than_attention():
    assert cx.flop_crossover_n(64, "conv", kernel_size=3) is None
    assert cx.flop_crossover_n(64, "conv", kernel_size=8) == 128  # (2·8 − 8)·64 / 4


# --------------------------------------------------------------------------- fresh memory, counted


def test_fresh_bytes_per_call_counts_the_two_matrices_and_no_more_when_reused():
    counted = cx.fresh_bytes_per_call(128, d_k=16)
    assert counted["matrices"] == 2 * 4 * 128 * 128
    assert counted["fresh"] == counted["matrices"] + 4 * 128 * 16  # + q/√d_k
    assert counted["reused"] == 4 * 128 * 16  # only q/√d_k: the n×n matrices were made before the call


def test_naive_attention_into_equals_naive_attention_and_checks_its_buffers():
    q, k, v = (_randn(20, 8, seed=s) for s in range(3))
    buffers = cx.reused_buffers(20, 8)
    torch.testing.assert_close(cx.naive_attention_into(q, k, v, *buffers), cx.naive_attention(q, k, v))
    expected = torch.nn.functional.scaled_dot_product_attention(q[None], k[None], v[None])[0]
    torch.testing.assert_close(cx.naive_attention_into(q, k, v, *buffers), expected)
    with pytest.raises(ValueError, match=r"got \(10, 10\)"):
        cx.naive_attention_into(q, k, v, *cx.reused_buffers(10, 8))


@pytest.fixture(scope="module")
def measurements():
    return cx.load_measurements()


def test_the_claims_table_qualifies_memory_and_answers_the_cnn_half(measurements):
    table = cx.claims_table(measurements, multi_head=cx.multi_head_memory(ns=(64, 128), d_models=(16, 32), d_k=16))
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1] for line in table.splitlines()[2:] if " | " in line}
    assert rows["Memory: self-attention O(n²·d)"] == "partly"  # one head no, h = d/d_k heads yes
    assert rows["Self-attention costs more than a CNN (k = 3), more so for long sequences"] == "yes"
    assert "h = d/16 heads (d = 16 to 32): fitted exponent 1.00 in d" in table
    assert "as a loop, 10 as a scan (largest difference < 1e-12)" in table
