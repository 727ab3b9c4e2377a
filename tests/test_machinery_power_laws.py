"""helpers.machinery.power_laws: log-log slopes of measured series, and where one series reaches another."""

import numpy as np
import pytest

from helpers.machinery.power_laws import crossover_between, fit_power_law, require_positive_series


def test_fit_power_law_recovers_exact_power_laws():
    ns = [64, 128, 256, 512]
    fit = fit_power_law(ns, [3 * n**2 for n in ns])
    assert fit["slope"] == pytest.approx(2.0) and fit["coefficient"] == pytest.approx(3.0)
    assert fit_power_law(ns, [5.0] * 4)["slope"] == pytest.approx(0.0, abs=1e-12)
    partial = fit_power_law(ns, [1, 1, 256**2, 512**2], min_x=256)
    assert partial["slope"] == pytest.approx(2.0) and partial["points"] == 2


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([1], [1], "at least 2"),
        ([1, 2], [1, -1], "> 0"),
        ([1, 2, 3], [1, 2], "same length"),
        ([1, 2], [1, 2, 3], "same"),
    ],
)
def test_fit_power_law_rejects_bad_series(x, y, match):
    with pytest.raises(ValueError, match=match):
        fit_power_law(x, y)


def test_fit_power_law_needs_two_points_from_min_x():
    with pytest.raises(ValueError, match="fewer than 2 points with x >= 512"):
        fit_power_law([64, 128, 256, 512], [1, 2, 3, 4], min_x=512)


def test_positive_series_are_named_when_bad():
    assert require_positive_series("ns", [1, 2.5]).tolist() == [1.0, 2.5]
    with pytest.raises(ValueError, match=r"times must be finite and > 0 \(log-log axes\)"):
        require_positive_series("times", [1.0, float("inf")])


def test_crossover_is_given_as_the_two_sizes_it_lies_between():
    ns = [64, 128, 256, 512]
    assert crossover_between(ns, [1, 2, 8, 32], [4, 8, 16, 32]) == (256, 512)  # equal at 512 counts as reached
    assert crossover_between(ns, [1, 2, 9, 32], [4, 8, 8, 8]) == (128, 256)
    assert crossover_between(ns, [1, 2, 4, 8], [16, 16, 16, 16]) is None
    assert crossover_between(ns, [9, 9, 9, 9], [1, 1, 1, 1]) == (None, 64)
    assert crossover_between(np.asarray(ns, dtype=float), [1, 2, 8, 32], [4, 8, 16, 32]) == (256, 512)
    with pytest.raises(ValueError, match="one value per size"):
        crossover_between(ns, [1, 2], [1, 2])
