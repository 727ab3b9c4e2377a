"""helpers.machinery.measurement: the operation meter (peak memory, FLOPs, operations) and the timers."""

import functools

import pytest
import torch

from helpers.machinery import measurement
from helpers.machinery.threads import one_thread


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Many small operations: on a busy machine, a second thread mostly waits for its share of a core."""
    with one_thread():
        yield


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- OpMeter


def test_meter_counts_a_new_tensor_and_frees_it():
    x = _randn(100, 100)
    assert measurement.peak_memory(lambda: x + 1) == 4 * 100 * 100
    assert measurement.peak_memory(lambda: x.to(torch.float64) * 2) == 2 * 8 * 100 * 100  # both alive at the multiply


def test_meter_ignores_views_in_place_operations_and_existing_tensors():
    x = _randn(64, 64)
    assert measurement.peak_memory(lambda: x.transpose(0, 1)[1:].reshape(-1, 64)) == 0  # views of an input
    assert measurement.peak_memory(lambda: x.transpose(0, 1).reshape(-1)) == 4 * 64 * 64  # a copy: not contiguous
    assert measurement.peak_memory(lambda: x.mul_(1.0)) == 0  # in place

    def temporary_then_result():
        y = x * 2  # freed when the function returns its view
        return y[:1].clone()

    assert measurement.peak_memory(temporary_then_result) == 4 * 64 * 64 + 4 * 64


def test_meter_sees_memory_freed_before_the_peak():
    x = _randn(256)

    def one_after_another():
        for _ in range(5):
            y = x.repeat(100)  # 100 KB, freed before the next
            del y
        return None

    assert measurement.peak_memory(one_after_another) == 4 * 256 * 100


def test_meter_counts_matmul_flops_and_operations():
    a, b = _randn(3, 5, 7), _randn(3, 7, 2)
    ops, flops = measurement.count_ops(lambda: torch.bmm(a, b))
    assert (ops, flops) == (1, 2 * 3 * 5 * 7 * 2)
    layer = torch.nn.Linear(7, 4)
    _, flops = measurement.count_ops(lambda: layer(_randn(6, 7)))
    assert flops == 2 * 6 * 7 * 4


def test_meter_rejects_non_callables():
    with pytest.raises(TypeError, match="fn must be a function"):
        measurement.peak_memory(3)
    with pytest.raises(TypeError, match="fn must be a function"):
        measurement.count_ops("x")


def test_meter_is_not_wrapped_for_torch_compile():
    """TorchDispatchMode wraps __torch_dispatch__ to skip torch.compile, which imports it: seconds in a fresh kernel."""
    assert measurement.OpMeter._should_skip_dynamo() is False
    assert "__wrapped__" not in vars(measurement.OpMeter.__dict__["__torch_dispatch__"])


def test_counted_flops_agree_with_the_meter():
    layer, x = torch.nn.Linear(7, 4), _randn(6, 7)
    assert measurement.counted_flops(layer, x) == measurement.count_ops(lambda: layer(x))[1] == 2 * 6 * 7 * 4
    with pytest.raises(TypeError, match="module must be an nn.Module"):
        measurement.counted_flops(lambda x: x, x)


@pytest.mark.parametrize(
    "module, shape",
    [
        (torch.nn.Linear(7, 4), (6, 7)),
        (torch.nn.MultiheadAttention(8, 2, batch_first=True), (3, 5, 8)),
        (torch.nn.Conv1d(4, 6, 3), (2, 4, 9)),
        (torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), (2, 5, 8)),
    ],
)
def test_counted_flops_are_flop_counter_modes_count(module, shape):
    from torch.utils.flop_counter import FlopCounterMode

    class Call(torch.nn.Module):  # nn.MultiheadAttention needs (query, key, value)
        def forward(self, x):
            out = module(x, x, x) if isinstance(module, torch.nn.MultiheadAttention) else module(x)
            return out[0] if isinstance(out, tuple) else out

    x = _randn(*shape)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        Call()(x)
    assert measurement.counted_flops(Call(), x) == counter.get_total_flops() > 0


def test_flop_count_is_not_wrapped_for_torch_compile():
    assert "__wrapped__" not in vars(measurement._PyTorchFlopCount.__dict__["__torch_dispatch__"])


# --------------------------------------------------------------------------- timers


def test_time_call_returns_a_median():
    assert measurement.time_call(lambda: None, repeats=3) >= 0
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        measurement.time_call(lambda: None, repeats=0)


def test_interleaved_timings_time_every_function_on_one_thread():
    threads, updates = [], []

    class Bar:
        def update(self):
            updates.append(1)

    def record():
        threads.append(torch.get_num_threads())

    timings = measurement.interleaved_timings({"a": record, "b": functools.partial(sum, [1, 2])}, repeats=2, bar=Bar())
    assert set(timings) == {"a", "b"} and all(seconds >= 0 for seconds in timings.values())
    assert set(threads) == {1} and len(updates) == 2 * (2 + 1)  # one warm-up round, then 2 timed rounds
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        measurement.interleaved_timings({"a": record}, repeats=0)


def test_median_call_seconds_runs_each_call_once_in_order_and_takes_the_median(monkeypatch):
    clock = iter([0.0, 1.0, 1.0, 4.0, 4.0, 6.0])  # three calls lasting 1 s, 3 s and 2 s
    monkeypatch.setattr(measurement.time, "perf_counter", lambda: next(clock))
    ran = []
    calls = [functools.partial(ran.append, i) for i in range(3)]
    assert measurement.median_call_seconds(calls) == 2.0
    assert ran == [0, 1, 2]


def test_median_call_seconds_takes_each_call_from_a_generator_just_before_it_runs():
    state = {"value": 0}

    def changes():
        for value in (1, 1, 2):
            if state["value"] != value:  # decided from what the last call left
                yield functools.partial(state.update, value=value)

    assert measurement.median_call_seconds(changes()) >= 0
    assert state["value"] == 2


@pytest.mark.parametrize(("calls", "error"), [([], ValueError), (iter(()), ValueError), ([1], TypeError)])
def test_median_call_seconds_refuses_nothing_to_time(calls, error):
    with pytest.raises(error):
        measurement.median_call_seconds(calls)
