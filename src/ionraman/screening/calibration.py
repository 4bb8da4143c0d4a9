"""Calibration of a low-frequency metric against measured conductivities or diffusivities.

The user gives a CSV with one measurement per row::

    composition,T,value,unit
    Na3SbS4,300,1.0e-3,S/cm
    Na2.88Sb0.88W0.12S4,300,3.2e-2,S/cm

``composition`` matches a candidate (its ``composition`` setting, default its name), ``T`` is in K
(also accepted: ``T_K``, ``temperature_K``, ``temperature``), ``unit`` one of :data:`UNITS`
(conductivities S/cm, mS/cm, µS/cm, S/m; diffusivities cm2/s, m2/s).

:func:`calibrate` labels every matched measurement *fast* when it reaches the threshold of its
quantity (``fast_sigma_S_cm`` or ``fast_D_cm2_s``), takes the candidate's simulated metric at the
measurement temperature (linear in 1/T between the simulated temperatures; outside their range the
nearest simulated temperature, recorded as ``"nearest"``), and fits a logistic model
P(fast) = 1 / (1 + exp(−(b0 + b1 x))). The threshold is the metric where P = 1/2
(x* = −b0 / b1). A small L2 penalty on b1 (in units of the metric's spread) keeps the fit finite
when the classes separate perfectly, the usual case with few materials; the threshold then lies
between the classes. The ROC AUC (Mann–Whitney) of the metric and Youden's optimal cut are
reported as well. :meth:`CalibrationResult.flag` applies the threshold to new metric values.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from ionraman.errors import InputError

__all__ = [
    "BUILTIN_MEASUREMENTS",
    "UNITS",
    "CalibrationResult",
    "calibrate",
    "read_measurements",
    "roc_auc",
]

UNITS: dict[str, tuple[str, float]] = {
    "s/cm": ("sigma", 1.0),
    "s cm-1": ("sigma", 1.0),
    "s/cm^1": ("sigma", 1.0),
    "ms/cm": ("sigma", 1e-3),
    "ms cm-1": ("sigma", 1e-3),
    "us/cm": ("sigma", 1e-6),
    "µs/cm": ("sigma", 1e-6),
    "s/m": ("sigma", 1e-2),
    "cm2/s": ("D", 1.0),
    "cm^2/s": ("D", 1.0),
    "cm2 s-1": ("D", 1.0),
    "m2/s": ("D", 1e4),
    "m^2/s": ("D", 1e4),
}
"""Accepted units (case-insensitive) → (quantity, factor to S/cm or cm²/s)."""

_T_COLUMNS = ("T", "T_K", "temperature_K", "temperature")

BUILTIN_MEASUREMENTS = Path(__file__).resolve().parents[1] / "data" / "measurements" / (
    "na_conductors.csv"
)
"""The shipped table of measured Na⁺ conductivities with their DOIs (``data = "builtin"``): room
temperature t-Na3SbS4, Na2.88Sb0.88W0.12S4, cubic Na3PS4, cubic Na3PSe4 and Na11Sn2PS12, each
checked against its paper's abstract."""


def read_measurements(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the calibration CSV.

    Returns
    -------
    pandas.DataFrame
        ``composition``, ``temperature_K``, ``value``, ``unit``, ``quantity`` (``"sigma"`` or
        ``"D"``) and ``value_std_units`` (S/cm or cm²/s).

    Raises
    ------
    InputError
        Missing file or column, unknown unit, non-positive value or temperature (one line
        naming the row).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: calibration file not found")
    try:
        df = pd.read_csv(p, comment="#", skipinitialspace=True)
    except Exception as exc:
        raise InputError(f"{p}: cannot read as CSV ({str(exc).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    tcol = next((c for c in _T_COLUMNS if c in df.columns), None)
    missing = [c for c in ("composition", "value", "unit") if c not in df.columns]
    if tcol is None:
        missing.append("T")
    if missing:
        raise InputError(
            f"{p}: missing column(s) {', '.join(missing)}; expected composition,T,value,unit"
        )
    if df.empty:
        raise InputError(f"{p}: no measurements")
    rows = []
    for k, r in df.iterrows():
        line = int(k) + 2  # header is line 1
        unit = str(r["unit"]).strip()
        key = unit.lower()
        if key not in UNITS:
            raise InputError(
                f"{p}: line {line}: unknown unit {unit!r}; use S/cm, mS/cm, uS/cm, S/m, cm2/s or "
                "m2/s"
            )
        quantity, factor = UNITS[key]
        try:
            t = float(r[tcol])
            v = float(r["value"])
        except (TypeError, ValueError):
            raise InputError(f"{p}: line {line}: T and value must be numbers") from None
        if not (math.isfinite(t) and t > 0 and math.isfinite(v) and v > 0):
            raise InputError(f"{p}: line {line}: T and value must be positive, got {t}, {v}")
        rows.append(
            {
                "composition": str(r["composition"]).strip(),
                "temperature_K": t,
                "value": v,
                "unit": unit,
                "quantity": quantity,
                "value_std_units": v * factor,
            }
        )
    return pd.DataFrame(rows)


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (Mann–Whitney, ties ½)."""
    s = np.asarray(scores, float)
    y = np.asarray(labels, bool)
    pos, neg = s[y], s[~y]
    if pos.size == 0 or neg.size == 0:
        return math.nan
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def _youden(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Cut maximising TPR − FPR for "fast if score ≥ cut" (midpoints between sorted scores)."""
    u = np.unique(scores)
    cuts = np.concatenate([[u[0] - 1.0], 0.5 * (u[1:] + u[:-1]), [u[-1] + 1.0]])
    best, best_j = cuts[0], -np.inf
    for c in cuts:
        pred = scores >= c
        tpr = (pred & labels).sum() / max(labels.sum(), 1)
        fpr = (pred & ~labels).sum() / max((~labels).sum(), 1)
        if tpr - fpr > best_j:
            best, best_j = c, tpr - fpr
    return float(best), float(best_j)


def _logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[float, float, bool]:
    """b0, b1 (in the units of x) of a logistic fit with an L2 penalty on the slope."""
    mu, sd = float(x.mean()), float(x.std()) or 1.0
    z = (x - mu) / sd

    def nll(b: np.ndarray) -> tuple[float, np.ndarray]:
        eta = b[0] + b[1] * z
        # log(1 + e^eta) − y eta, stable
        loss = np.logaddexp(0.0, eta) - y * eta
        p = 1.0 / (1.0 + np.exp(-eta))
        g0 = float((p - y).sum())
        g1 = float(((p - y) * z).sum()) + 2 * l2 * b[1]
        return float(loss.sum()) + l2 * b[1] ** 2, np.array([g0, g1])

    opt = minimize(nll, np.zeros(2), jac=True, method="BFGS")
    c0, c1 = opt.x
    return float(c0 - c1 * mu / sd), float(c1 / sd), bool(opt.success)


@dataclass
class CalibrationResult:
    """Threshold on a metric separating fast from slow conductors.

    Attributes
    ----------
    metric
        The metric calibrated.
    status
        ``"done"`` or ``"skipped: <reason>"``.
    threshold
        Metric value at P(fast) = 1/2 (None when skipped or the slope is 0).
    direction
        ``"higher is faster"`` or ``"lower is faster"`` (sign of the logistic slope).
    b0, b1
        Logistic coefficients (P = σ(b0 + b1 x)).
    roc_auc
        ROC AUC of the metric for the fast/slow labels (oriented: "higher is faster").
    youden_threshold, youden_j
        Youden's optimal cut for "fast if metric ≥ cut" and its J.
    n, n_fast
        Matched measurements and how many are fast.
    fast_sigma_S_cm, fast_D_cm2_s
        Thresholds that define *fast*.
    points
        The matched measurements with their metric and label.
    unmatched
        Compositions of the CSV that match no candidate.
    """

    metric: str
    status: str
    threshold: float | None = None
    direction: str | None = None
    b0: float | None = None
    b1: float | None = None
    roc_auc: float | None = None
    youden_threshold: float | None = None
    youden_j: float | None = None
    n: int = 0
    n_fast: int = 0
    fast_sigma_S_cm: float = 1e-4
    fast_D_cm2_s: float = 1e-8
    converged: bool = True
    points: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    def probability(self, x: float | np.ndarray) -> np.ndarray:
        """P(fast) for metric values ``x``."""
        if self.b0 is None or self.b1 is None:
            raise InputError(f"calibration {self.status}: no model to apply")
        return 1.0 / (1.0 + np.exp(-(self.b0 + self.b1 * np.asarray(x, float))))

    def flag(self, x: float | None) -> tuple[bool | None, float | None]:
        """(fast?, P(fast)) for one metric value (None when not calibrated or x missing)."""
        if self.b0 is None or x is None or not math.isfinite(float(x)):
            return None, None
        p = float(self.probability(float(x)))
        return p >= 0.5, p

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()
        }

    def summary(self) -> str:
        if self.status != "done":
            return f"calibration of {self.metric}: {self.status}"
        return (
            f"calibration of {self.metric} on {self.n} measurements ({self.n_fast} fast): "
            f"threshold {self.threshold:.4g} ({self.direction}), ROC AUC {self.roc_auc:.2f}"
        )


def _metric_at(temps: np.ndarray, values: np.ndarray, t: float) -> tuple[float, str]:
    ok = np.isfinite(values)
    temps, values = temps[ok], values[ok]
    if temps.size == 0:
        return math.nan, "none"
    order = np.argsort(temps)
    temps, values = temps[order], values[order]
    if t <= temps[0]:
        return float(values[0]), "exact" if t == temps[0] else "nearest"
    if t >= temps[-1]:
        return float(values[-1]), "exact" if t == temps[-1] else "nearest"
    x = 1.0 / t
    return float(np.interp(-x, -1.0 / temps, values)), "interpolated (1/T)"


def calibrate(
    metric_table: pd.DataFrame,
    measurements: pd.DataFrame,
    *,
    metric: str,
    fast_sigma_S_cm: float = 1e-4,
    fast_D_cm2_s: float = 1e-8,
    composition_of: Mapping[str, str] | None = None,
    l2: float = 0.05,
) -> CalibrationResult:
    """Fit the fast/slow threshold of ``metric``.

    Parameters
    ----------
    metric_table
        Simulated values: columns ``candidate``, ``temperature_K`` and ``metric``.
    measurements
        From :func:`read_measurements`.
    metric
        Column of ``metric_table`` to calibrate.
    fast_sigma_S_cm, fast_D_cm2_s
        What counts as fast.
    composition_of
        candidate → composition string used in the CSV (default: the candidate name).
    l2
        Penalty on the standardised slope (keeps separable data finite).
    """
    res = CalibrationResult(
        metric=metric, status="", fast_sigma_S_cm=fast_sigma_S_cm, fast_D_cm2_s=fast_D_cm2_s
    )
    if metric not in metric_table.columns:
        res.status = f"skipped: no {metric} values"
        return res
    comp = dict(composition_of or {})
    by_comp: dict[str, str] = {}
    for cand in metric_table["candidate"].unique():
        by_comp[comp.get(cand, cand)] = cand
    pts = []
    unmatched = []
    for _, m in measurements.iterrows():
        cand = by_comp.get(m["composition"])
        if cand is None:
            unmatched.append(m["composition"])
            continue
        sub = metric_table[metric_table["candidate"] == cand]
        temps = sub["temperature_K"].to_numpy(float)
        vals = pd.to_numeric(sub[metric], errors="coerce").to_numpy(float)
        x, how = _metric_at(temps, vals, float(m["temperature_K"]))
        if not math.isfinite(x):
            continue
        thr = fast_sigma_S_cm if m["quantity"] == "sigma" else fast_D_cm2_s
        pts.append(
            {
                "composition": m["composition"],
                "candidate": cand,
                "temperature_K": float(m["temperature_K"]),
                "quantity": m["quantity"],
                "value": float(m["value_std_units"]),
                "unit": "S/cm" if m["quantity"] == "sigma" else "cm2/s",
                "fast": bool(m["value_std_units"] >= thr),
                "metric": x,
                "metric_at": how,
            }
        )
    res.points = pts
    res.unmatched = sorted(set(unmatched))
    res.n = len(pts)
    res.n_fast = sum(p["fast"] for p in pts)
    if res.n == 0:
        res.status = f"skipped: no measurement matches a candidate with a {metric} value"
        return res
    if res.n_fast in (0, res.n):
        kind = "fast" if res.n_fast else "slow"
        res.status = f"skipped: all {res.n} matched measurements are {kind}; need both classes"
        return res
    x = np.array([p["metric"] for p in pts])
    y = np.array([p["fast"] for p in pts], float)
    if np.ptp(x) == 0:
        res.status = "skipped: the metric is the same for every measurement"
        return res
    b0, b1, ok = _logistic(x, y, l2)
    res.b0, res.b1, res.converged = b0, b1, ok
    res.threshold = -b0 / b1 if b1 != 0 else None
    res.direction = "higher is faster" if b1 > 0 else "lower is faster"
    res.roc_auc = roc_auc(x, y.astype(bool))
    res.youden_threshold, res.youden_j = _youden(x, y.astype(bool))
    res.status = "done"
    return res
