"""helpers.lessons.l07_complexity: the layers, the FLOP theory, the runs, the cached data and the verdicts."""

import json
import math

import matplotlib
import numpy as np
import pytest
import torch

from helpers.lessons import l07_complexity as cx
from helpers.lessons.l07_complexity import cached_measurements, claims, summaries
from helpers.library.attention import blockwise_attention
from helpers.machinery import measurement, power_laws, threads
from helpers.machinery.threads import one_thread

matplotlib.use("agg")
from matplotlib.figure import Figure  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Many small operations: on a busy machine, a second thread mostly waits for its share of a core."""
    with one_thread():
        yield


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- layers and their theory


@pytest.mark.parametrize("kind", cx.LAYER_KINDS)
@pytest.mark.parametrize(("n", "d"), [(16, 8), (40, 12)])
def test_counted_flops_equal_the_formula(kind, n, d):
    layer = cx.make_layer(kind, d)
    x = _randn(1, n, d)
    _, flops = cx.count_ops(lambda: layer(x))
    assert flops == cx.layer_flops(kind, n, d)


def test_layers_keep_the_shape_and_are_seeded():
    x = _randn(2, 10, 8)
    for kind in cx.LAYER_KINDS:
        layer = cx.make_layer(kind, 8)
        assert layer(x).shape == (2, 10, 8)
        torch.testing.assert_close(cx.make_layer(kind, 8)(x), layer(x))
        assert not layer.training


def test_attention_layer_variants_agree():
    x = _randn(1, 50, 16)
    layers = {}
    for variant in cx.ATTENTION_VARIANTS:
        torch.manual_seed(0)
        layers[variant] = cx.SelfAttentionLayer(16, attention=variant)
    outputs = {variant: layer(x) for variant, layer in layers.items()}
    torch.testing.assert_close(outputs["blockwise"], outputs["naive"])
    torch.testing.assert_close(outputs["sdpa"], outputs["naive"])


def test_naive_attention_matches_torch():
    q, k, v = (_randn(2, 9, 4, seed=i) for i in range(3))
    torch.testing.assert_close(cx.naive_attention(q, k, v), torch.nn.functional.scaled_dot_product_attention(q, k, v))


def test_attend_variants_agree():
    q, k, v = (_randn(2, 100, 32, seed=i) for i in range(3))
    for variant in ("blockwise", "sdpa"):
        torch.testing.assert_close(cx.attend(variant, q, k, v), cx.attend("naive", q, k, v))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: cx.make_layer("lstm", 8), ValueError, "kind must be one of"),
        (lambda: cx.make_layer("conv", 8, kernel_size=4), ValueError, "kernel_size must be odd"),
        (lambda: cx.make_layer("gru", 0), ValueError, "d_model must be >= 1"),
        (lambda: cx.make_layer("attention", 8)(_randn(4, 8)), ValueError, r"\(B, n, d_model=8\), got \(4, 8\)"),
        (lambda: cx.make_layer("gru", 8)(_randn(1, 4, 6)), ValueError, r"got \(1, 4, 6\)"),
        (lambda: cx.make_layer("conv", 8)([[1.0]]), TypeError, "float tensor"),
        (lambda: cx.SelfAttentionLayer(8, attention="flash"), ValueError, "attention must be one of"),
        (lambda: cx.attend("flash", *[_randn(2, 3)] * 3), ValueError, "attention must be one of"),
        (lambda: cx.layer_flops("rnn", 4, 4), ValueError, "kind must be one of"),
        (lambda: cx.layer_flops("gru", 0, 4), ValueError, "n must be >= 1"),
        (lambda: cx.flop_crossover_n(64, other="rnn"), ValueError, "other must be"),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_flop_formulas():
    assert cx.layer_flops("attention", 1, 1) == 12
    assert cx.layer_flops("gru", 10, 4) == 12 * 10 * 16
    assert cx.layer_flops("conv", 10, 4, kernel_size=5) == 2 * 5 * 10 * 16
    parts = cx.attention_flop_breakdown(100, 8)
    assert sum(parts.values()) == cx.layer_flops("attention", 100, 8)
    assert parts["weights·v"] == 2 * 100 * 100 * 8  # n²·d, not n·d² as the study notes said


def test_flop_crossover_is_n_equals_d():
    for d in (16, 64, 512):
        n = cx.flop_crossover_n(d)
        assert n == d
        assert cx.layer_flops("attention", d, d) == cx.layer_flops("gru", d, d)
    assert cx.flop_crossover_n(64, other="conv") is None  # projections alone cost more than a k=3 conv
    assert cx.flop_crossover_n(64, other="conv", kernel_size=9) == 160


def test_gradient_reach_and_path_length():
    assert cx.gradient_reach("attention", n=20) == 20
    assert cx.gradient_reach("gru", n=20) == 20
    assert cx.gradient_reach("conv", n=20) == 2
    assert cx.gradient_reach("conv", n=20, kernel_size=5) == 3
    assert cx.conv_layers_to_connect(17) == 16
    assert cx.conv_layers_to_connect(17, kernel_size=5) == 8


# --------------------------------------------------------------------------- fits


def test_notes_curve_has_a_local_slope_above_two():
    ns = np.array([64, 128, 256, 512, 1024, 2048, 4096])
    slope = cx.fit_power_law(ns, cx.notes_memory_curve(ns))["slope"]
    assert 2.1 < slope < 2.3  # 2 + 1/ln n: the log factor shows on log-log axes


def test_crossover_in_words():
    ns = [64, 128, 256, 512]
    assert cx.between_text(cx.crossover_between(ns, [1, 2, 8, 32], [4, 8, 16, 32]), ns) == "between n = 256 and 512"
    assert cx.between_text((None, 64), ns) == "below n = 64"
    assert cx.between_text(None, np.asarray(ns, dtype=float)) == "beyond n = 512"


# --------------------------------------------------------------------------- experiments (tiny grids)


def test_measure_layers_small_grid():
    result = cx.measure_layers([8, 16], [4], repeats=1)
    assert result["n"] == [8, 16] and result["d_model"] == [4]
    for kind in cx.LAYER_KINDS:
        assert len(result["seconds"][kind]["4"]) == 2 and all(s > 0 for s in result["seconds"][kind]["4"])
    assert result["peak_bytes"]["conv"]["4"] == [4 * 8 * 4, 4 * 16 * 4]  # the output: n·d float32
    gru = result["peak_bytes"]["gru"]["4"]
    assert gru[1] - gru[0] == 5 * 4 * (16 - 8) * 4  # 5 float32 per position and width: linear in n
    with pytest.raises(ValueError, match="increasing"):
        cx.measure_layers([16, 8], [4])
    with pytest.raises(ValueError, match="kind must be one of"):
        cx.measure_layers([8], [4], kinds=("lstm",))


@pytest.mark.parametrize(
    ("ns", "d_models", "error", "match"),
    [
        ([], [4], ValueError, "ns is empty"),
        ([8, 8], [4], ValueError, "ns must be increasing without repeats"),
        ([0, 8], [4], ValueError, "each n must be >= 1"),
        ([8], [4.5], TypeError, "each d_model must be an int"),
        ("8", [4], TypeError, "ns must be a list of ints"),
    ],
)
def test_measured_sizes_are_increasing_ints(ns, d_models, error, match):
    with pytest.raises(error, match=match):
        cx.measure_layers(ns, d_models, repeats=1)


def test_the_room_re_exports_the_machinerys_measurement_kit():
    """The notebook calls complexity.peak_memory and the rest: the machinery's own objects, not copies."""
    for name in ("OpMeter", "peak_memory", "count_ops", "allocator_peak_bytes", "time_call", "interleaved_timings"):
        assert getattr(cx, name) is getattr(measurement, name)
    assert cx.fit_power_law is power_laws.fit_power_law and cx.crossover_between is power_laws.crossover_between
    assert cx.one_thread is threads.one_thread


def test_measure_attention_variants_small_grid():
    result = cx.measure_attention_variants([32, 64], d_k=8, repeats=1)
    assert set(result["seconds"]) == set(cx.ATTENTION_VARIANTS)
    assert result["peak_bytes"]["naive"][1] > result["peak_bytes"]["naive"][0] * 3  # n²


def test_measure_sequential_counts_steps():
    result = cx.measure_sequential([8, 16], d_model=4, repeats=1)
    gru_ops, attention_ops = result["ops"]["gru"], result["ops"]["attention"]
    assert attention_ops[0] == attention_ops[1]  # one call, whatever n
    assert gru_ops[1] - gru_ops[0] == 14 * 8  # 14 operations per step
    assert set(result["batch"]) == {"gru_1x4096", "gru_64x64", "attention_1x4096", "attention_64x64"}


# --------------------------------------------------------------------------- the cached data and the cost model


@pytest.fixture(scope="module")
def measurements():
    return cx.load_measurements()


def test_cached_data_records_where_it_was_measured(measurements):
    machine = measurements["machine"]
    assert machine["torch"] and machine["threads"] == 1 and machine["cpu_count"] >= 1
    assert "load_average_1_5_15_min_before" in machine and "load_average_1_5_15_min_after" in machine
    layers = measurements["layers"]
    assert layers["n"] == cached_measurements.LAYER_NS and layers["d_model"] == cached_measurements.LAYER_D_MODELS


def test_cached_data_show_the_theory(measurements):
    layers = measurements["layers"]
    ns = layers["n"]
    memory = cx.fit_power_law(ns, cx.layer_series(layers, "peak_bytes", "attention", 64), min_x=512)
    assert memory["slope"] == pytest.approx(2.0, abs=0.1)
    for kind in ("gru", "conv"):
        assert cx.fit_power_law(ns, cx.layer_series(layers, "peak_bytes", kind, 64))["slope"] == pytest.approx(
            1, abs=0.05
        )
    time_attention = cx.fit_power_law(ns, cx.layer_series(layers, "seconds", "attention", 64), min_x=512)
    assert 1.5 < time_attention["slope"] < 2.6
    variants = measurements["attention_variants"]
    assert cx.fit_power_law(variants["n"], variants["peak_bytes"]["naive"])["slope"] >= 1.7
    assert cx.fit_power_law(variants["n"], variants["peak_bytes"]["blockwise"])["slope"] <= 1.3


def test_cached_peak_bytes_are_reproduced_now(measurements):
    """Memory counts are exact: re-counting a small setting gives the cached number to the byte."""
    layers = measurements["layers"]
    for kind in cx.LAYER_KINDS:
        layer, x = cx.make_layer(kind, 64), cx.seeded_sequence(256, 64)
        assert (
            cx.peak_memory(lambda layer=layer, x=x: layer(x))
            == cx.layer_series(layers, "peak_bytes", kind, 64)[layers["n"].index(256)]
        )


def test_cost_model_fits_the_cached_times(measurements):
    layers = measurements["layers"]
    model = cx.fit_cost_model(layers)
    for kind in cx.LAYER_KINDS:
        assert all(c >= 0 for c in model.coefficients[kind].values())
        for d in layers["d_model"]:
            measured = np.array(cx.layer_series(layers, "seconds", kind, d))
            predicted = model.predict(kind, np.array(layers["n"]), d)
            assert np.median(np.abs(np.log(predicted / measured))) < math.log(1.6)
    with pytest.raises(ValueError, match="kind must be one of"):
        model.predict("lstm", 4, 4)


def test_layer_series_names_what_is_missing(measurements):
    with pytest.raises(ValueError, match="d_model=99"):
        cx.layer_series(measurements["layers"], "seconds", "gru", 99)
    with pytest.raises(ValueError, match="quantity must be"):
        cx.layer_series(measurements["layers"], "flops", "gru", 64)


def test_remeasure_quick_writes_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr(cached_measurements, "QUICK_NS", [16, 32])
    monkeypatch.setattr(cached_measurements, "measure_attention_variants", lambda *a, **k: {"n": [64], "seconds": {}})
    path = tmp_path / "m.json"
    data = cx.remeasure(path, quick=True, repeats=1, progress=False)
    assert json.loads(path.read_text()) == data
    assert data["layers"]["n"] == [16, 32] and data["machine"]["threads"] == 1
    assert cx.load_measurements(path)["layers"]["d_model"] == [64]


def test_load_measurements_says_how_to_make_them(tmp_path):
    with pytest.raises(ValueError, match="remeasure"):
        cx.load_measurements(tmp_path / "missing.json")


# --------------------------------------------------------------------------- figures


def test_plots_draw_and_label(measurements):
    layers = measurements["layers"]
    ax = Figure().subplots()
    series = {kind: cx.layer_series(layers, "seconds", kind, 64) for kind in cx.LAYER_KINDS}
    ax = cx.plot_loglog(ax, layers["n"], series, theory=cx.THEORY_SLOPE_N, fit_from=512, ylabel="s", title="t")
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert len(labels) == 3 and all("slope" in label and "theory" in label for label in labels)
    assert ax.get_xscale() == "log" and ax.get_title() == "t"
    memory = cx.layer_series(layers, "peak_bytes", "attention", 64)
    ax = cx.plot_memory_claim(Figure().subplots(), layers["n"], memory)
    assert len(ax.get_lines()) == 3 and "n² log n" in ax.get_legend().get_texts()[0].get_text()
    ax = cx.plot_bytes_per_n2(Figure().subplots(), layers["n"], memory)
    assert ax.get_ylabel() == "bytes per n²"
    with pytest.raises(ValueError, match="normalise_at=100"):
        cx.plot_memory_claim(Figure().subplots(), layers["n"], memory, normalise_at=100)


def test_blockwise_memory_is_linear_in_the_cached_variants(measurements):
    variants = measurements["attention_variants"]
    q, k, v = (_randn(1, 1, 256, 64, seed=i) for i in range(3))
    assert cx.peak_memory(lambda: blockwise_attention(q, k, v)) == variants["peak_bytes"]["blockwise"][0]


# --------------------------------------------------------------------------- summaries the lesson prints


def synthetic_layers(ns=(64, 128, 256, 512, 1024), d_models=(32, 64), rate=1e10):
    """A measure_layers-like result whose times are exactly FLOPs / rate."""
    seconds = {
        kind: {str(d): [cx.layer_flops(kind, n, d) / rate for n in ns] for d in d_models} for kind in cx.LAYER_KINDS
    }
    return {"n": list(ns), "d_model": list(d_models), "seconds": seconds, "peak_bytes": {}}


def test_attention_product_flops_names_each_product():
    products = cx.attention_product_flops(256, 32)
    assert list(products) == list(summaries.PRODUCT_NAMES)
    assert products["weights·v"] == products["scores q·kᵀ"] == 2 * 256 * 256 * 32
    assert products["q, k, v projections"] == 3 * products["output projection"] == 3 * 2 * 256 * 32 * 32


def test_slopes_of_times_proportional_to_flops_equal_the_flop_slopes():
    layers = synthetic_layers()
    for against, at, fit_from in (("n", 64, 256), ("d", 512, 32)):
        for slope in cx.slopes(layers, against, at=at, fit_from=fit_from).values():
            assert slope["measured"] == pytest.approx(slope["flops"])
    by_n = cx.slopes(layers, "n", at=32, fit_from=256)
    assert by_n["gru"]["measured"] == pytest.approx(1.0) and by_n["attention"]["table_1"] == "2 (n²·d)"
    with pytest.raises(ValueError, match="against must be"):
        cx.slopes(layers, "k", at=64, fit_from=1)
    with pytest.raises(ValueError, match="n=100 was not measured"):
        cx.slopes(layers, "d", at=100, fit_from=1)


def test_gflops_and_crossovers_of_synthetic_times():
    layers = synthetic_layers(rate=2e9)
    rates = cx.gflops_per_second(layers, 512)
    assert rates[64]["gru"] == pytest.approx(2.0) and set(rates) == {32, 64}
    crossovers = cx.measured_crossovers(layers)  # times proportional to FLOPs: they cross at n = d
    assert crossovers[64] == (None, 64) and crossovers[32] == (None, 64)  # reached at the first size measured
    later = cx.measured_crossovers(synthetic_layers(ns=(16, 32, 64, 128)))
    assert later[32] == (16, 32) and later[64] == (32, 64)  # equal FLOPs at n = d count as reached
    with pytest.raises(ValueError, match="n=100 was not measured"):
        cx.gflops_per_second(layers, 100)


def test_operation_counts_grow_with_n_for_the_gru_only():
    counts = cx.operation_counts([4, 8])
    assert counts["attention"][0] == counts["attention"][1]
    assert counts["gru"][1] - counts["gru"][0] == 14 * 4


def test_fit_memory_terms_finds_the_exact_formula(measurements):
    layers = measurements["layers"]
    fit = cx.fit_memory_terms(layers, "attention", min_n=256)
    assert fit["coefficients"]["n²"] == pytest.approx(8.0) and fit["coefficients"]["n·d"] == pytest.approx(16.0)
    assert fit["max_relative_error"] < 1e-9
    assert cx.fit_memory_terms(layers, "attention", terms=("n²·d",), min_n=256)["max_relative_error"] > 0.5
    assert cx.fit_memory_terms(layers, "conv", terms=("n·d",))["coefficients"]["n·d"] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="unknown term"):
        cx.fit_memory_terms(layers, "gru", terms=("n³",))
    with pytest.raises(ValueError, match="no measured n"):
        cx.fit_memory_terms(layers, "gru", min_n=10**6)


def test_measure_fresh_memory_small():
    result = cx.measure_fresh_memory([64, 128], d_k=8, repeats=1)
    assert result["n"] == [64, 128] and len(result["fresh"]) == len(result["reused"]) == 2
    assert all(s > 0 for s in result["fresh"] + result["reused"])


def test_crossover_and_notes_plots(measurements):
    ax = cx.plot_crossover(Figure().subplots(), measurements["layers"], 64)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "FLOPs equal: n = d = 64" in labels and "times equal between n = 2048 and 4096" in labels
    ax = cx.plot_notes_curve(Figure().subplots())
    assert ax.get_lines()[0].get_xdata()[-1] == 100 and ax.get_xlabel() == "Sequence Length n"


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((torch.ones(3, 4), torch.ones(5, 3), torch.ones(5, 2)), ValueError, r"q \(3, 4\), k \(5, 3\), v \(5, 2\)"),
        ((torch.ones(3, 4), torch.ones(5, 4), torch.ones(6, 2)), ValueError, r"v \(6, 2\)"),
        ((torch.ones(4), torch.ones(5, 4), torch.ones(5, 2)), ValueError, "at least 2 dimensions"),
        ((torch.ones(3, 4, dtype=torch.long), torch.ones(5, 4), torch.ones(5, 2)), TypeError, "q must be a float"),
    ],
)
def test_naive_attention_and_attend_name_bad_shapes(args, error, match):
    with pytest.raises(error, match=match):
        cx.naive_attention(*args)
    with pytest.raises(error, match=match):
        cx.attend("sdpa", *args)


# --------------------------------------------------------------------------- verdicts


def test_error_bound_prints_only_the_bound_of_rounding():
    assert cx.error_bound(torch.tensor([3.6e-7, -5e-7])) == "< 1e-6"
    assert cx.error_bound(torch.tensor([-2.8e-16], dtype=torch.float64)) == "< 1e-12"
    assert cx.error_bound(torch.tensor([], dtype=torch.float64)) == "< 1e-12"
    assert cx.error_bound(3e-6, torch.float32) == "3.0e-06 (not below 1e-6: more than rounding)"
    assert cx.error_bound(torch.tensor([1e-9], dtype=torch.float64)).startswith("1.0e-09 (not below 1e-12")
    assert "not below" in cx.error_bound(torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match="dtype must be one of"):
        cx.error_bound(torch.tensor([1], dtype=torch.float16))


def test_compare_times_needs_more_than_the_margin():
    margin = cx.TIME_MARGIN
    assert cx.compare_times(1.0, 1.0) == "level with"
    assert cx.compare_times(1 + margin * 0.99, 1.0) == "level with"
    assert cx.compare_times(1 + margin * 1.01, 1.0) == "above"
    assert cx.compare_times(1.0, 1 + margin * 0.99) == "level with"
    assert cx.compare_times(1.0, 1 + margin * 1.01) == "below"
    with pytest.raises(ValueError, match="finite and > 0"):
        cx.compare_times(0.0, 1.0)


def test_cache_bytes_reads_linux_sizes():
    assert cx.cache_bytes("32768K") == 32 * 2**20
    assert cx.cache_bytes("8M") == 8 * 2**20 and cx.cache_bytes("1024") == 1024 and cx.cache_bytes(None) is None
    with pytest.raises(ValueError, match="cache size must look like"):
        cx.cache_bytes("lots")


def synthetic_fresh_memory(fresh, reused, l3="32768K"):
    return {
        "machine": {"l3_cache": l3},
        "fresh_memory": {"n": [1024, 2048, 4096], "d_k": 64, "fresh": fresh, "reused": reused},
    }


def test_fresh_memory_table_compares_growth_with_the_work():
    table = cx.fresh_memory_table(synthetic_fresh_memory([1.0, 4.0, 32.0], [1.0, 4.0, 16.0]))
    assert table["cache_bytes"] == 32 * 2**20
    assert [row["fits"] for row in table["rows"]] == [True, True, False]  # 4, 16, 64 MB against 32 MB
    assert [row["costs"] for row in table["rows"]] == [False, False, True]
    assert table["rows"][2]["fresh_cost"] == pytest.approx(1.0)
    first, second = table["growth"]
    assert (first["work"], first["fresh_vs_work"], first["reused_vs_work"]) == (4, "level with", "level with")
    assert (second["fresh"], second["fresh_vs_work"], second["reused_vs_work"]) == (8, "above", "level with")
    unknown = cx.fresh_memory_table(synthetic_fresh_memory([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], l3=None))
    assert unknown["cache_bytes"] is None and all(row["fits"] is None for row in unknown["rows"])


def crossover_data(attention_4096, fresh, reused):
    """The d = 64 grid of synthetic_layers at n = 1024, 2048, 4096 with attention's time at 4096 chosen."""
    layers = synthetic_layers(ns=(1024, 2048, 4096), d_models=(64,), rate=1e9)
    layers["seconds"]["gru"]["64"] = [1.0, 2.0, 4.0]
    layers["seconds"]["attention"]["64"] = [0.25, 1.0, attention_4096]
    return {"layers": layers} | synthetic_fresh_memory(fresh, reused)


def test_crossover_causes_tie_the_crossover_to_the_cache_and_fresh_memory():
    causes = cx.crossover_causes(crossover_data(6.0, fresh=[0.2, 0.8, 6.0], reused=[0.2, 0.8, 3.0]))
    assert causes["interval"] == (2048, 4096) and causes["first_outgrown"] == 4096 and causes["first_costly"] == 4096
    assert causes["coincide"] is True
    assert (causes["n"], causes["gru"], causes["fresh_vs_gru"], causes["reused_vs_gru"]) == (
        4096,
        4.0,
        "above",
        "below",
    )
    lines = cx.crossover_report(crossover_data(6.0, fresh=[0.2, 0.8, 6.0], reused=[0.2, 0.8, 3.0]))
    assert "reaches the GRU's between n = 2048 and 4096" in lines[0] and lines[3].endswith("yes")
    assert "3000 ms with reused buffers (below the GRU)" in lines[-2] and lines[0].startswith("at d = 64, ")
    assert "counted (the same on any machine)" in lines[-3] and "128 MB of it the two n×n matrices" in lines[-3]
    # fresh allocation that never costs: the crossover does not coincide with it
    never = cx.crossover_causes(crossover_data(6.0, fresh=[0.2, 0.8, 3.6], reused=[0.2, 0.8, 3.5]))
    assert never["first_costly"] is None and never["coincide"] is False and never["reused_vs_gru"] == "level with"
    assert "at no measured n" in cx.crossover_report(crossover_data(6.0, [0.2, 0.8, 3.6], [0.2, 0.8, 3.5]))[2]
    # attention never reaches the GRU: nothing to compare at a crossover
    below = cx.crossover_causes(crossover_data(3.0, fresh=[0.2, 0.8, 6.0], reused=[0.2, 0.8, 3.0]))
    assert below["interval"] is None and below["coincide"] is False and "n" not in below


def test_crossover_report_of_the_cached_data(measurements):
    lines = cx.crossover_report(measurements)
    assert lines[0].endswith("between n = 2048 and 4096") and "at n = 4096" in lines[1]
    assert lines[3].endswith("yes") and "(above the GRU)" in lines[-2] and "(below the GRU)" in lines[-2]
    assert "129 MB of fresh memory, 128 MB of it the two n×n matrices; written into reused buffers, 1 MB" in lines[-3]


def test_slopes_say_whether_they_match_table_1():
    layers = synthetic_layers()  # times proportional to FLOPs
    by_n = cx.slopes(layers, "n", at=32, fit_from=512)  # n >= 512 > d: attention's n² term dominates
    assert by_n["attention"]["measured"] > 1.5 and by_n["attention"]["matches"] and by_n["gru"]["matches"]
    by_d = cx.slopes(layers, "d", at=64, fit_from=32)  # n = d = 64: attention's n·d² term is as large as its n²·d
    assert by_d["gru"]["matches"] and by_d["attention"]["measured"] > 1.5 and not by_d["attention"]["matches"]


def test_claims_table_computes_every_verdict(measurements):
    table = cx.claims_table(measurements)
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    verdicts = {row[0].lstrip("| "): row[1] for row in rows}
    assert len(verdicts) == 10 and set(verdicts.values()) <= {
        "yes",
        "partly",
        "no",
        "only with the weights materialised",
    }
    assert (
        verdicts["Memory O(n² log n)"] == "no"
        and verdicts["Attention is parallel, the RNN (a GRU) sequential"] == "yes"
    )
    assert verdicts["Self-attention cheaper than an RNN while n < d"] == "partly"
    assert "between n = 2048 and 4096 at every d" in table and "Off by more than 0.5: GRU in d" in table
    assert "Thresholds:" in table.splitlines()[-1] and "1e-6" in table.splitlines()[-1]
    # the verdicts follow the data: bytes per n² that rise like log n make the n² log n claim hold
    rising = json.loads(json.dumps(measurements))
    ns = rising["attention_variants"]["n"]
    rising["attention_variants"]["peak_bytes"]["naive"] = [int(n * n * math.log(n)) for n in ns]
    assert "| Memory O(n² log n) | yes |" in cx.claims_table(rising)


def test_verdict_words():
    assert claims._verdict([True, True]) == "yes" and claims._verdict([True, False]) == "partly"
    assert claims._verdict([False]) == "no"
