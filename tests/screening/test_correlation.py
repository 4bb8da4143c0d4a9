"""Spearman/Pearson correlation with bootstrap confidence intervals."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.errors import InputError
from ionraman.screening.correlation import correlate


def test_monotonic_data_give_rank_one_and_a_tight_interval():
    x = np.linspace(0.01, 0.2, 12)
    y = -6 + 3 * np.sqrt(x)  # monotonic, not linear
    res = correlate(x, y, n_bootstrap=500, seed=1, x_name="f", y_name="log D")
    assert res.spearman_rho == pytest.approx(1.0)
    assert res.spearman_ci == pytest.approx((1.0, 1.0))
    assert 0.95 < res.pearson_r < 1.0 and res.pearson_ci[1] <= 1.0
    assert res.slope > 0 and res.n == 12 and res.n_bootstrap_valid == 500
    assert "Spearman rho = +1.00" in res.summary()


def test_independent_data_have_an_interval_containing_zero():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=40), rng.normal(size=40)
    res = correlate(x, y, n_bootstrap=1000, seed=0)
    assert res.spearman_ci[0] < 0 < res.spearman_ci[1]
    assert res.pearson_ci[0] < 0 < res.pearson_ci[1]
    assert res.pearson_p > 0.05
    # the bootstrap is reproducible with its seed
    again = correlate(x, y, n_bootstrap=1000, seed=0)
    assert again.spearman_ci == res.spearman_ci


def test_points_with_nan_are_dropped_and_too_few_points_are_reported():
    res = correlate([0.1, np.nan, 0.3, 0.2], [-5, -4, np.nan, -4.5], labels=["a", "b", "c", "d"])
    assert res.n == 2 and res.labels == ["a", "d"]
    assert res.spearman_rho is None and "at least 3 points" in res.note
    assert "at least 3 points" in res.summary()
    flat = correlate([1, 1, 1], [1, 2, 3])
    assert "constant" in flat.note
    d = res.to_dict()
    assert d["spearman_rho"] is None and d["x"] == [0.1, 0.2]


def test_bad_arguments():
    with pytest.raises(InputError, match="equal length"):
        correlate([1, 2], [1, 2, 3])
    with pytest.raises(InputError, match="n_bootstrap"):
        correlate([1, 2, 3], [1, 2, 3], n_bootstrap=10)
    with pytest.raises(InputError, match="confidence"):
        correlate([1, 2, 3], [1, 2, 3], confidence=1.2)
