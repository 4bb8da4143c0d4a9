"""Which low-frequency metric tracks diffusion, and how much MD each needs.

:func:`compare_metrics` takes the long table of metric values (one row per candidate ×
temperature × metric definition, :data:`METRIC_TABLE_COLUMNS`) and returns one row per
definition with

* the Spearman rank correlation with log10 D* over candidates × temperatures and its percentile
  bootstrap interval (:func:`ionraman.screening.correlation.correlate`). Points whose MSD is not
  diffusive (a plateau: D* below what the run resolves) are kept as *slower than every diffusive
  point*, tied among themselves: the contrast between conductors and non-conductors is the signal
  the metric is for, and a rank correlation needs only that order;
* the separation of the fastest and the slowest point (by D*; the non-diffusive points, tied as
  slowest, averaged) in combined standard errors, and the production time a point needs to
  separate them by ``n_sigma`` standard errors (:func:`production_needed_ps`: errors ∝ 1/√time);
* ``seed_scatter_over_err``: the RMS seed-to-seed standard deviation over the RMS within-run error
  (≈ 1 when the per-run errors are honest; > 1 when they underestimate).

:func:`production_needed_ps` is also the workflow's run-length rule per point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ionraman.errors import InputError
from ionraman.screening.correlation import correlate

__all__ = [
    "COMPARISON_COLUMNS",
    "METRIC_TABLE_COLUMNS",
    "compare_metrics",
    "production_needed_ps",
    "rank_key_log10_D",
]

METRIC_TABLE_COLUMNS = [
    "candidate",
    "temperature_K",
    "metric",
    "description",
    "value",
    "err",
    "run_err",
    "std_seeds",
    "n_seeds",
    "production_ps",
    "log10_D",
    "diffusive",
]
"""Columns of the long metric table: ``err`` the standard error of the seed mean, ``run_err`` the
RMS within-run (time-block) error of one seed, ``std_seeds`` the sample standard deviation over
seeds, ``production_ps`` the production time of all seeds together (ps)."""

COMPARISON_COLUMNS = [
    "metric",
    "description",
    "n_points",
    "spearman_rho",
    "spearman_ci_low",
    "spearman_ci_high",
    "top_bottom_difference",
    "top_bottom_n_sigma",
    "production_ps_to_resolve",
    "median_relative_err",
    "seed_scatter_over_err",
]


def production_needed_ps(production_ps: float, stderr: float, target_stderr: float) -> float:
    """Production time for a standard error to fall to ``target_stderr``.

    Time averages of a stationary run have errors ∝ 1/√T (T ≫ correlation time; the
    time-block errors of the metrics scale so on our runs), so
    T_needed = T · (stderr / target)². Same time unit as ``production_ps``; NaN when an input is
    missing or the target is not positive.
    """
    vals = (production_ps, stderr, target_stderr)
    if not all(v is not None and math.isfinite(v) for v in vals) or target_stderr <= 0:
        return math.nan
    return float(production_ps) * (float(stderr) / float(target_stderr)) ** 2


def rank_key_log10_D(log10_D: np.ndarray, diffusive: np.ndarray) -> np.ndarray:
    """log10 D* with non-diffusive points placed below every diffusive one (tied).

    For rank statistics only: the value given to non-diffusive points (one below the smallest
    finite log10 D*) has no physical meaning.
    """
    y = np.asarray(log10_D, dtype=float).copy()
    slow = np.asarray([d is False or d == 0 for d in diffusive], dtype=bool)
    finite = np.isfinite(y) & ~slow
    floor = (y[finite].min() if finite.any() else 0.0) - 1.0
    y[slow] = floor
    return y


def compare_metrics(
    table: pd.DataFrame,
    *,
    n_sigma: float = 3.0,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per metric definition: rank correlation with log D and the MD it needs.

    Parameters
    ----------
    table
        Long metric table (:data:`METRIC_TABLE_COLUMNS`).
    n_sigma
        Separation asked of the fastest vs the slowest point (combined standard errors).
    n_bootstrap, confidence, seed
        Bootstrap of the Spearman interval.

    Returns
    -------
    pandas.DataFrame
        :data:`COMPARISON_COLUMNS`, sorted by the lower end of the Spearman interval (best
        first). ``production_ps_to_resolve`` is per point (all seeds together), NaN where the
        metric is not higher at the fastest point than at the slowest.
    """
    missing = [c for c in METRIC_TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"metric table lacks columns: {', '.join(missing)}")
    if not n_sigma > 0:
        raise InputError(f"n_sigma must be positive, got {n_sigma}")
    rows = []
    for name, g in table.groupby("metric", sort=False):
        g = g[np.isfinite(g["value"].to_numpy(float))]
        key = rank_key_log10_D(g["log10_D"].to_numpy(float), g["diffusive"].to_numpy())
        ok = np.isfinite(key)
        g, key = g[ok], key[ok]
        row: dict[str, object] = {
            "metric": name,
            "description": g["description"].iloc[0] if len(g) else "",
            "n_points": len(g),
        }
        if len(g) >= 3:
            corr = correlate(
                g["value"].to_numpy(float),
                key,
                n_bootstrap=n_bootstrap,
                confidence=confidence,
                seed=seed,
            )
            row["spearman_rho"] = corr.spearman_rho
            lo, hi = corr.spearman_ci if corr.spearman_ci else (math.nan, math.nan)
            row["spearman_ci_low"], row["spearman_ci_high"] = lo, hi
        if len(g) >= 2 and key.min() < key.max():
            # fastest point vs the slowest; points tied as slowest (non-diffusive) are averaged
            top = g.iloc[int(np.argmax(key))]
            slow = g[key == key.min()]
            bot_value = float(slow["value"].mean())
            bot_err = math.sqrt(float((slow["err"] ** 2).sum())) / len(slow)
            diff = float(top["value"]) - bot_value
            se = math.hypot(float(top["err"]), bot_err)
            row["top_bottom_difference"] = diff
            row["top_bottom_n_sigma"] = diff / se if se > 0 else math.nan
            ps = float(np.nanmean(g["production_ps"].to_numpy(float)))
            row["production_ps_to_resolve"] = (
                production_needed_ps(ps, se, diff / n_sigma) if diff > 0 else math.nan
            )
        rel = (g["err"] / g["value"].abs()).to_numpy(float)
        row["median_relative_err"] = float(np.nanmedian(rel)) if np.isfinite(rel).any() else None
        row["seed_scatter_over_err"] = _scatter_ratio(g["std_seeds"], g["run_err"])
        rows.append(row)
    out = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    return out.sort_values("spearman_ci_low", ascending=False, na_position="last").reset_index(
        drop=True
    )


def _scatter_ratio(std_seeds: Sequence[float], run_err: Sequence[float]) -> float:
    s = np.asarray(std_seeds, dtype=float)
    e = np.asarray(run_err, dtype=float)
    ok = np.isfinite(s) & np.isfinite(e)
    if not ok.any() or not (e[ok] > 0).any():
        return math.nan
    return float(math.sqrt(np.mean(s[ok] ** 2)) / math.sqrt(np.mean(e[ok] ** 2)))
