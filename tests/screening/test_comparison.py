"""Metric comparison: rank correlation with log D, separation, run length, seed check."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ionraman.errors import InputError
from ionraman.screening.comparison import (
    COMPARISON_COLUMNS,
    METRIC_TABLE_COLUMNS,
    compare_metrics,
    production_needed_ps,
    rank_key_log10_D,
)


def _table(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    log_d = [-7.0, -6.5, -6.0, -5.5, -5.0, math.nan, math.nan]
    diffusive = [True] * 5 + [False, False]
    for k, (ld, dif) in enumerate(zip(log_d, diffusive, strict=True)):
        good = 0.02 + (0.01 * (ld + 7.5) if dif else 0.0)  # rises with D; plateaus lowest
        for name, value, err in (
            ("good", good, 0.001),
            ("noise", rng.uniform(0.01, 0.05), 0.01),
        ):
            rows.append(
                {
                    "candidate": f"c{k}",
                    "temperature_K": 600.0,
                    "metric": name,
                    "description": name,
                    "value": value,
                    "err": err,
                    "run_err": err * 2.0,
                    "std_seeds": err * 2.0,
                    "n_seeds": 4,
                    "production_ps": 40.0,
                    "log10_D": ld,
                    "diffusive": dif,
                }
            )
    return pd.DataFrame(rows, columns=METRIC_TABLE_COLUMNS)


def test_production_needed_scales_as_inverse_square_of_the_error() -> None:
    assert production_needed_ps(10.0, 0.02, 0.01) == pytest.approx(40.0)
    assert production_needed_ps(10.0, 0.005, 0.01) == pytest.approx(2.5)
    assert math.isnan(production_needed_ps(10.0, math.nan, 0.01))
    assert math.isnan(production_needed_ps(10.0, 0.01, 0.0))


def test_non_diffusive_points_rank_below_every_diffusive_one() -> None:
    key = rank_key_log10_D(np.array([-6.0, math.nan, -5.0]), np.array([True, False, True]))
    assert key[1] < key[0] < key[2]
    assert math.isnan(rank_key_log10_D(np.array([math.nan]), np.array([None]))[0])


def test_comparison_ranks_the_metric_that_follows_log_d_first() -> None:
    out = compare_metrics(_table(np.random.default_rng(0)), n_bootstrap=500)
    assert list(out.columns) == COMPARISON_COLUMNS
    good = out.iloc[0]
    assert good["metric"] == "good" and good["n_points"] == 7
    # the two plateaus tie at the bottom: rho slightly below 1
    assert 0.95 < good["spearman_rho"] <= 1.0 and good["spearman_ci_low"] > 0.8
    # fastest (0.045) vs the two tied slowest (0.020, mean error 0.001/√2):
    # 0.025 / (0.001 √1.5) ≈ 20.4 σ; 3 σ needs (3/20.4)² of 40 ps
    assert good["top_bottom_difference"] == pytest.approx(0.025)
    n_sig = 0.025 / (0.001 * math.sqrt(1.5))
    assert good["top_bottom_n_sigma"] == pytest.approx(n_sig)
    assert good["production_ps_to_resolve"] == pytest.approx(40.0 * (3.0 / n_sig) ** 2)
    assert good["seed_scatter_over_err"] == pytest.approx(1.0)
    assert good["median_relative_err"] == pytest.approx(np.median(0.001 / np.array(
        [0.025, 0.03, 0.035, 0.04, 0.045, 0.02, 0.02])))


def test_comparison_needs_its_columns() -> None:
    with pytest.raises(InputError, match="lacks columns: log10_D"):
        compare_metrics(_table(np.random.default_rng(0)).drop(columns="log10_D"))
