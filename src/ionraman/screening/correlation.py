"""Correlation of a low-frequency Raman metric with transport across candidates and temperatures.

:func:`correlate` returns Pearson's r and Spearman's ρ of ``x`` (e.g. the low-frequency fraction)
against ``y`` (e.g. log10 D*), their p-values (scipy) and percentile bootstrap confidence
intervals: pairs are resampled with replacement ``n_bootstrap`` times (seeded), resamples in which
``x`` or ``y`` is constant are dropped (their coefficient is undefined), and the interval is the
(1 − confidence)/2 and (1 + confidence)/2 quantiles of the remaining coefficients. With fewer than
three points no coefficient is computed and the result says so. A least-squares line
``y = intercept + slope x`` is included for plotting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ionraman.errors import InputError

__all__ = ["CorrelationResult", "correlate"]


@dataclass
class CorrelationResult:
    """Pearson and Spearman correlation with bootstrap confidence intervals.

    Attributes
    ----------
    n
        Points used (finite x and y).
    pearson_r, pearson_p, pearson_ci
        Pearson coefficient, two-sided p-value, bootstrap interval (low, high).
    spearman_rho, spearman_p, spearman_ci
        The same for Spearman's rank coefficient.
    slope, intercept
        Least-squares line y = intercept + slope · x.
    confidence, n_bootstrap, n_bootstrap_valid, seed
        Interval level, resamples drawn, resamples with a defined coefficient, seed.
    x_name, y_name
        What x and y are.
    note
        Why something is missing (empty when everything was computed).
    labels
        Label of every point used (e.g. ``"t-Na3SbS4 @ 800 K"``).
    x, y
        The points used.
    """

    n: int
    pearson_r: float | None = None
    pearson_p: float | None = None
    pearson_ci: tuple[float, float] | None = None
    spearman_rho: float | None = None
    spearman_p: float | None = None
    spearman_ci: tuple[float, float] | None = None
    slope: float | None = None
    intercept: float | None = None
    confidence: float = 0.95
    n_bootstrap: int = 0
    n_bootstrap_valid: int = 0
    seed: int = 0
    x_name: str = "x"
    y_name: str = "y"
    note: str = ""
    labels: list[str] = field(default_factory=list)
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN → None)."""
        d = asdict(self)
        return {k: _clean(v) for k, v in d.items()}

    def summary(self) -> str:
        """One line: ρ and r with their intervals."""
        if self.spearman_rho is None:
            return f"correlation of {self.x_name} with {self.y_name}: {self.note}"
        lvl = f"{100 * self.confidence:.0f} %"
        sci = _fmt_ci(self.spearman_ci)
        pci = _fmt_ci(self.pearson_ci)
        return (
            f"{self.x_name} vs {self.y_name} (n = {self.n}): Spearman rho = "
            f"{self.spearman_rho:+.2f} [{sci}], Pearson r = {self.pearson_r:+.2f} [{pci}] "
            f"({lvl} bootstrap)"
        )


def _fmt_ci(ci: tuple[float, float] | None) -> str:
    if ci is None:
        return "n/a"
    return f"{ci[0]:+.2f}, {ci[1]:+.2f}"


def _clean(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, tuple | list):
        return [_clean(u) for u in v]
    return v


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    xc, yc = x - x.mean(), y - y.mean()
    den = math.sqrt(float(xc @ xc) * float(yc @ yc))
    return float(xc @ yc) / den if den > 0 else math.nan


def _rank(a: np.ndarray) -> np.ndarray:
    return stats.rankdata(a)


def correlate(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    labels: Sequence[str] | None = None,
    x_name: str = "x",
    y_name: str = "y",
) -> CorrelationResult:
    """Pearson and Spearman correlation of ``y`` with ``x`` with bootstrap intervals.

    Parameters
    ----------
    x, y
        Paired values [n]; pairs with a non-finite member are left out.
    n_bootstrap
        Bootstrap resamples (≥ 100).
    confidence
        Interval level in (0.5, 1).
    seed
        Seed of the resampling.
    labels
        Point labels [n] (kept for the points used).
    x_name, y_name
        Names recorded in the result.

    Returns
    -------
    CorrelationResult
    """
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    if xa.ndim != 1 or xa.shape != ya.shape:
        raise InputError(
            f"correlate: x and y must be 1-D of equal length, got {xa.shape}, {ya.shape}"
        )
    if n_bootstrap < 100:
        raise InputError(f"correlate: n_bootstrap must be >= 100, got {n_bootstrap}")
    if not 0.5 < confidence < 1:
        raise InputError(f"correlate: confidence must lie in (0.5, 1), got {confidence}")
    lab = list(labels) if labels is not None else [str(i) for i in range(xa.size)]
    if len(lab) != xa.size:
        raise InputError("correlate: labels must match x and y")
    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    lab = [s for s, k in zip(lab, keep, strict=True) if k]
    res = CorrelationResult(
        n=int(xa.size),
        confidence=confidence,
        n_bootstrap=n_bootstrap,
        seed=seed,
        x_name=x_name,
        y_name=y_name,
        labels=lab,
        x=xa.tolist(),
        y=ya.tolist(),
    )
    if xa.size < 3:
        res.note = f"needs at least 3 points with both values, got {xa.size}"
        return res
    if np.ptp(xa) == 0 or np.ptp(ya) == 0:
        res.note = "x or y is constant: correlation undefined"
        return res
    pr = stats.pearsonr(xa, ya)
    sr = stats.spearmanr(xa, ya)
    res.pearson_r, res.pearson_p = float(pr.statistic), float(pr.pvalue)
    res.spearman_rho, res.spearman_p = float(sr.statistic), float(sr.pvalue)
    slope, intercept = np.polyfit(xa, ya, 1)
    res.slope, res.intercept = float(slope), float(intercept)

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, xa.size, size=(n_bootstrap, xa.size))
    rs, rhos = [], []
    for row in idx:
        bx, by = xa[row], ya[row]
        if np.ptp(bx) == 0 or np.ptp(by) == 0:
            continue
        rs.append(_pearson(bx, by))
        rhos.append(_pearson(_rank(bx), _rank(by)))
    res.n_bootstrap_valid = len(rs)
    if len(rs) >= 0.5 * n_bootstrap:
        lo, hi = (1 - confidence) / 2, (1 + confidence) / 2
        res.pearson_ci = (float(np.quantile(rs, lo)), float(np.quantile(rs, hi)))
        res.spearman_ci = (float(np.quantile(rhos, lo)), float(np.quantile(rhos, hi)))
    else:
        res.note = (
            f"only {len(rs)} of {n_bootstrap} bootstrap resamples had varying x and y: no interval"
        )
    return res
