"""Measured versus simulated Raman spectra: peak matching, similarity and the low-frequency metric.

:func:`compare_spectra` puts a preprocessed :class:`~ionraman.spectra.measured.MeasuredSpectrum`
and a simulated :class:`~ionraman.spectra.RamanSpectrum` (seen through an
:class:`~ionraman.spectra.instrument.InstrumentModel`, optionally with a fitted frequency scale
factor) on one footing:

* **common range**: from the highest of the measured first point, the filter cutoff and the
  requested window start, to the lowest of the ends; both spectra are linearly interpolated onto
  one uniform grid whose step is the coarser of the two native steps, and each is normalised to
  unit area there (ν̃ in cm⁻¹, normalised intensities in cm).
* **similarity**: Pearson correlation of the two curves on the grid, and the normalised overlap
  integral ``∫ m s dν̃ / sqrt(∫ m² dν̃ ∫ s² dν̃)`` (1 for identical shapes; both insensitive to
  the overall intensity scale).
* **peaks**: maxima of each spectrum on its own grid (prominence ≥ a fraction of the largest,
  positions refined by a parabola through the top), paired one-to-one by minimum total distance
  within a tolerance; the table lists ``shift_cm1 = simulated − measured``.
* **low-frequency metric**: :func:`ionraman.screening.lowfreq.lowfreq_fraction` of both curves on
  the same grid, window, reference range and variant, the window starting no lower than the
  common range (the filter cutoff cuts the simulation too), so the two numbers differ only by
  the spectra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.signal import find_peaks, peak_widths

from ionraman.errors import InputError
from ionraman.screening.lowfreq import (
    DEFAULT_LOWFREQ_WINDOW_CM1,
    DEFAULT_REFERENCE_MAX_CM1,
    LowFreqMetric,
    lowfreq_fraction,
)
from ionraman.spectra.instrument import (
    InstrumentModel,
    ScaleFit,
    apply_instrument,
    fit_scale_factor,
)
from ionraman.spectra.measured import MeasuredSpectrum

__all__ = [
    "PEAK_TABLE_COLUMNS",
    "Comparison",
    "compare_spectra",
    "find_peak_table",
    "match_peaks",
    "overlap_integral",
    "pearson_similarity",
]

PEAK_TABLE_COLUMNS = (
    "measured_cm1",
    "simulated_cm1",
    "shift_cm1",
    "relative_shift_percent",
    "simulated_unscaled_cm1",
    "measured_rel_height",
    "simulated_rel_height",
    "measured_fwhm_cm1",
    "simulated_fwhm_cm1",
    "matched",
)
"""Columns of :func:`match_peaks` tables (positions and widths in cm⁻¹, heights relative to the
largest peak of each spectrum, shift = simulated − measured)."""


class _SpectrumLike(Protocol):
    wavenumber_cm1: np.ndarray
    temperature_k: float | None

    def intensity(self, channel: str = ..., variant: str = ...) -> np.ndarray: ...


# ------------------------------------------------------------------------------------------------
# Peaks
# ------------------------------------------------------------------------------------------------
def find_peak_table(
    wavenumber_cm1: np.ndarray,
    intensity: np.ndarray,
    *,
    min_rel_prominence: float = 0.05,
    max_fwhm_cm1: float | None = None,
) -> pd.DataFrame:
    """Peaks of a spectrum on any increasing grid.

    Parameters
    ----------
    wavenumber_cm1, intensity
        ``[N]`` grid (cm⁻¹, strictly increasing) and spectrum.
    min_rel_prominence
        Minimum prominence as a fraction of the largest intensity (0–1).
    max_fwhm_cm1
        Drop peaks broader than this (e.g. a broad central-peak band), or None.

    Returns
    -------
    pandas.DataFrame
        Columns ``position_cm1`` (refined by a parabola through the points within ~⅓ FWHM of the
        top), ``height``, ``rel_height`` (height / largest height), ``fwhm_cm1``,
        ``rel_prominence``; sorted by position.
    """
    nu = np.asarray(wavenumber_cm1, dtype=float)
    y = np.nan_to_num(np.asarray(intensity, dtype=float))
    cols = ["position_cm1", "height", "rel_height", "fwhm_cm1", "rel_prominence"]
    if nu.size < 3 or not np.max(y) > 0:
        return pd.DataFrame(columns=cols)
    ymax = float(np.max(y))
    idx, props = find_peaks(y, prominence=min_rel_prominence * ymax)
    if idx.size == 0:
        return pd.DataFrame(columns=cols)
    widths, _, left, right = peak_widths(y, idx, rel_height=0.5)
    index = np.arange(nu.size, dtype=float)
    fwhm = np.interp(right, index, nu) - np.interp(left, index, nu)
    rows = []
    for k, i in enumerate(idx):
        if max_fwhm_cm1 is not None and fwhm[k] > max_fwhm_cm1:
            continue
        half = max(1, round(0.35 * widths[k]))
        lo, hi = max(i - half, 0), min(i + half, nu.size - 1)
        pos = float(nu[i])
        if hi - lo >= 2:
            x0 = nu[i]
            a, b, _c = np.polyfit(nu[lo : hi + 1] - x0, y[lo : hi + 1], 2)
            if a < 0:
                vertex = -b / (2 * a)
                if abs(vertex) <= max(nu[hi] - x0, x0 - nu[lo]):
                    pos = float(x0 + vertex)
        rows.append(
            {
                "position_cm1": pos,
                "height": float(y[i]),
                "rel_height": float(y[i] / ymax),
                "fwhm_cm1": float(fwhm[k]),
                "rel_prominence": float(props["prominences"][k] / ymax),
            }
        )
    return pd.DataFrame(rows, columns=cols).sort_values("position_cm1", ignore_index=True)


def match_peaks(
    measured: pd.DataFrame,
    simulated: pd.DataFrame,
    *,
    tolerance_cm1: float = 20.0,
    scale_factor: float = 1.0,
) -> pd.DataFrame:
    """Pair measured and simulated peaks one-to-one (minimum total |Δν̃| within a tolerance).

    Parameters
    ----------
    measured, simulated
        Tables of :func:`find_peak_table` (simulated positions already scaled, if a scale factor
        was applied).
    tolerance_cm1
        Largest |shift| (cm⁻¹) that still counts as a match.
    scale_factor
        The frequency scale factor applied to the simulation (for ``simulated_unscaled_cm1``).

    Returns
    -------
    pandas.DataFrame
        :data:`PEAK_TABLE_COLUMNS`; matched pairs first (by measured position), then unmatched
        measured peaks, then unmatched simulated peaks (NaN where a side is missing).
    """
    if not tolerance_cm1 > 0:
        raise InputError(f"peak tolerance must be > 0 cm^-1, got {tolerance_cm1}")
    pm = measured["position_cm1"].to_numpy(float) if len(measured) else np.zeros(0)
    ps = simulated["position_cm1"].to_numpy(float) if len(simulated) else np.zeros(0)
    pairs: list[tuple[int, int]] = []
    if pm.size and ps.size:
        dist = np.abs(pm[:, None] - ps[None, :])
        big = 1e6 + dist.max()
        cost = np.where(dist <= tolerance_cm1, dist, big)
        rows, cols = linear_sum_assignment(cost)
        pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] < big]
    nan = math.nan

    def row(i: int | None, j: int | None) -> dict[str, Any]:
        m = measured.iloc[i] if i is not None else None
        s = simulated.iloc[j] if j is not None else None
        mpos = float(m["position_cm1"]) if m is not None else nan
        spos = float(s["position_cm1"]) if s is not None else nan
        return {
            "measured_cm1": mpos,
            "simulated_cm1": spos,
            "shift_cm1": spos - mpos,
            "relative_shift_percent": 100.0 * (spos - mpos) / mpos if mpos else nan,
            "simulated_unscaled_cm1": spos / scale_factor,
            "measured_rel_height": float(m["rel_height"]) if m is not None else nan,
            "simulated_rel_height": float(s["rel_height"]) if s is not None else nan,
            "measured_fwhm_cm1": float(m["fwhm_cm1"]) if m is not None else nan,
            "simulated_fwhm_cm1": float(s["fwhm_cm1"]) if s is not None else nan,
            "matched": m is not None and s is not None,
        }

    out = [row(i, j) for i, j in sorted(pairs)]
    used_m = {i for i, _ in pairs}
    used_s = {j for _, j in pairs}
    out += [row(i, None) for i in range(pm.size) if i not in used_m]
    out += [row(None, j) for j in range(ps.size) if j not in used_s]
    return pd.DataFrame(out, columns=list(PEAK_TABLE_COLUMNS))


# ------------------------------------------------------------------------------------------------
# Similarity
# ------------------------------------------------------------------------------------------------
def pearson_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation coefficient of two curves on one grid (NaN if either is constant)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or a.size < 3:
        raise InputError(f"curves must share a grid of >= 3 points, got {a.shape} and {b.shape}")
    da, db = a - a.mean(), b - b.mean()
    den = math.sqrt(float(da @ da) * float(db @ db))
    return float(da @ db) / den if den > 0 else math.nan


def overlap_integral(wavenumber_cm1: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Normalised overlap ``∫ a b dν̃ / sqrt(∫ a² dν̃ ∫ b² dν̃)`` (trapezoid rule); 1 for curves of
    identical shape, independent of their scales."""
    nu = np.asarray(wavenumber_cm1, dtype=float)
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    den = math.sqrt(float(np.trapezoid(a * a, nu)) * float(np.trapezoid(b * b, nu)))
    return float(np.trapezoid(a * b, nu)) / den if den > 0 else math.nan


# ------------------------------------------------------------------------------------------------
# Comparison
# ------------------------------------------------------------------------------------------------
@dataclass
class Comparison:
    """A measured and a simulated spectrum on one grid, with the numbers that compare them.

    Attributes
    ----------
    wavenumber_cm1
        ``[G]`` common uniform grid (cm⁻¹).
    measured, simulated
        ``[G]`` curves normalised to unit area on the grid (cm); the simulation after the
        instrument model.
    label
        The measured spectrum's label.
    channel, variant
        Simulated channel and the variant both curves are in (``"reduced"``, ``"stokes"``...).
    instrument
        The instrument model applied (its ``scale_factor`` is the fitted one with ``scale_fit``).
    scale_fit
        :class:`~ionraman.spectra.instrument.ScaleFit` when the scale factor was fitted.
    pearson, overlap
        Similarities (see the module docstring).
    peaks
        Peak table (:data:`PEAK_TABLE_COLUMNS`).
    lowfreq_measured, lowfreq_simulated
        The low-frequency metric of each curve (None when the window does not fit the common
        range; ``lowfreq_note`` says why).
    measured_raw, simulated_raw
        ``(wavenumber_cm1, intensity)`` on the native grids within the common range (simulated:
        after the instrument model), for plots.
    metadata
        Settings, the measured spectrum's source and preprocessing record, the simulation's
        temperature and conventions.
    """

    wavenumber_cm1: np.ndarray
    measured: np.ndarray
    simulated: np.ndarray
    label: str
    channel: str
    variant: str
    instrument: InstrumentModel
    scale_fit: ScaleFit | None
    pearson: float
    overlap: float
    peaks: pd.DataFrame
    lowfreq_measured: LowFreqMetric | None
    lowfreq_simulated: LowFreqMetric | None
    lowfreq_note: str = ""
    measured_raw: tuple[np.ndarray, np.ndarray] | None = None
    simulated_raw: tuple[np.ndarray, np.ndarray] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def range_cm1(self) -> tuple[float, float]:
        """Common range (cm⁻¹)."""
        return float(self.wavenumber_cm1[0]), float(self.wavenumber_cm1[-1])

    @property
    def lowfreq_relative_difference(self) -> float | None:
        """(measured − simulated) / simulated low-frequency metric, or None."""
        if self.lowfreq_measured is None or self.lowfreq_simulated is None:
            return None
        sim = self.lowfreq_simulated.value
        return (self.lowfreq_measured.value - sim) / sim if sim else None

    def curves_dataframe(self) -> pd.DataFrame:
        """``wavenumber_cm1``, ``measured_norm_cm``, ``simulated_norm_cm`` on the common grid."""
        return pd.DataFrame(
            {
                "wavenumber_cm1": self.wavenumber_cm1,
                "measured_norm_cm": self.measured,
                "simulated_norm_cm": self.simulated,
            }
        )

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: similarities, scale factor, low-frequency metrics, matched peaks."""
        matched = self.peaks[self.peaks["matched"]]
        shifts = matched["shift_cm1"].to_numpy(float)

        def num(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else float(v)

        return {
            "label": self.label,
            "channel": self.channel,
            "variant": self.variant,
            "range_cm1": list(self.range_cm1),
            "n_grid_points": int(self.wavenumber_cm1.size),
            "pearson": num(self.pearson),
            "overlap_integral": num(self.overlap),
            "scale_factor": float(self.instrument.scale_factor),
            "scale_fit": self.scale_fit.to_dict() if self.scale_fit else None,
            "instrument": self.instrument.to_dict(),
            "n_peaks_matched": len(matched),
            "n_peaks_measured": int(self.peaks["measured_cm1"].notna().sum()),
            "n_peaks_simulated": int(self.peaks["simulated_cm1"].notna().sum()),
            "mean_abs_shift_cm1": num(float(np.mean(np.abs(shifts)))) if shifts.size else None,
            "lowfreq_measured": self.lowfreq_measured.to_dict() if self.lowfreq_measured else None,
            "lowfreq_simulated": (
                self.lowfreq_simulated.to_dict() if self.lowfreq_simulated else None
            ),
            "lowfreq_relative_difference": num(self.lowfreq_relative_difference),
            "lowfreq_note": self.lowfreq_note,
        }


def _median_step(nu: np.ndarray) -> float:
    return float(np.median(np.diff(nu)))


def compare_spectra(
    measured: MeasuredSpectrum,
    simulated: _SpectrumLike,
    *,
    channel: str = "total",
    variant: str | None = None,
    instrument: InstrumentModel | None = None,
    fit_scale: bool = False,
    scale_bounds: Sequence[float] = (0.9, 1.1),
    window_cm1: Sequence[float | None] | None = None,
    lowfreq_window_cm1: Sequence[float] = DEFAULT_LOWFREQ_WINDOW_CM1,
    reference_max_cm1: float = DEFAULT_REFERENCE_MAX_CM1,
    peak_tolerance_cm1: float = 20.0,
    min_rel_prominence: float = 0.05,
    max_peak_fwhm_cm1: float | None = None,
) -> Comparison:
    """Compare a (preprocessed) measured spectrum with a simulated one.

    Parameters
    ----------
    measured
        Measured spectrum whose ``variant`` equals ``variant`` (run
        :func:`~ionraman.spectra.preprocess.preprocess` with ``reduce=True`` for "reduced").
    simulated
        A :class:`~ionraman.spectra.RamanSpectrum` (anything with ``wavenumber_cm1`` and
        ``intensity(channel, variant)``).
    channel
        Simulated channel (``"total"`` is the unpolarised powder spectrum).
    variant
        ``"reduced"``, ``"stokes"`` or ``"classical"``; default: the measured spectrum's.
    instrument
        Line shape, filter cutoff and scale factor for the simulation (default: none).
    fit_scale
        Fit the frequency scale factor within ``scale_bounds`` (replaces the model's).
    window_cm1
        ``(lo, hi)`` comparison range in cm⁻¹ (either may be None), intersected with both
        spectra and the cutoff.
    lowfreq_window_cm1, reference_max_cm1
        Low-frequency window and reference end for
        :func:`~ionraman.screening.lowfreq.lowfreq_fraction`; the window start is raised to the
        common range's start, the reference end lowered to its end.
    peak_tolerance_cm1, min_rel_prominence, max_peak_fwhm_cm1
        Peak matching tolerance and detection settings (:func:`find_peak_table`).

    Returns
    -------
    Comparison

    Raises
    ------
    InputError
        Variant mismatch, no overlap between the spectra, non-positive areas.
    """
    variant = variant or measured.variant
    if measured.variant != variant:
        hint = (
            " (preprocess it with reduce=True, which needs the sample temperature)"
            if variant == "reduced"
            else ""
        )
        raise InputError(
            f"measured spectrum {measured.label!r} is {measured.variant!r} but the comparison "
            f"uses the {variant!r} variant{hint}"
        )
    model = instrument or InstrumentModel()
    parity = "odd" if variant == "reduced" else "even"
    sim_nu = np.asarray(simulated.wavenumber_cm1, dtype=float)
    sim_y = np.nan_to_num(np.asarray(simulated.intensity(channel, variant), dtype=float))
    m_nu, m_y = measured.raman_shift_cm1, measured.intensity

    lo = max(float(m_nu[0]), float(sim_nu[0]), 0.0)
    hi = min(float(m_nu[-1]), float(sim_nu[-1]))
    if model.cutoff_cm1 is not None:
        lo = max(lo, model.cutoff_cm1)
    if window_cm1 is not None:
        w_lo, w_hi = window_cm1
        lo = max(lo, float(w_lo)) if w_lo is not None else lo
        hi = min(hi, float(w_hi)) if w_hi is not None else hi
    if not hi > lo:
        raise InputError(
            f"measured ({m_nu[0]:g}–{m_nu[-1]:g} cm^-1) and simulated ({sim_nu[0]:g}–"
            f"{sim_nu[-1]:g} cm^-1) spectra do not overlap after cutoff/window"
        )

    scale_fit = None
    if fit_scale:
        scale_fit = fit_scale_factor(
            m_nu,
            m_y,
            sim_nu,
            sim_y,
            model=model,
            parity=parity,
            bounds=scale_bounds,
            window_cm1=(lo, hi),
        )
        model = model.with_scale(scale_fit.scale_factor)
    s_nu, s_y = apply_instrument(sim_nu, sim_y, model, parity=parity)

    m_sel = (m_nu >= lo) & (m_nu <= hi)
    s_sel = (s_nu >= lo) & (s_nu <= hi)
    if m_sel.sum() < 3 or s_sel.sum() < 3:
        raise InputError(f"fewer than 3 points of a spectrum in the common range ({lo:g}, {hi:g})")
    step = max(_median_step(m_nu[m_sel]), _median_step(s_nu))
    n = math.floor((hi - lo) / step + 1e-9) + 1
    if n < 3:
        raise InputError(f"common range ({lo:g}, {hi:g}) cm^-1 holds fewer than 3 grid points")
    grid = lo + step * np.arange(n)
    m_g = np.interp(grid, m_nu, m_y)
    s_g = np.interp(grid, s_nu, s_y)
    areas = (float(np.trapezoid(m_g, grid)), float(np.trapezoid(s_g, grid)))
    if not (areas[0] > 0 and areas[1] > 0):
        raise InputError(
            f"the {variant} spectra must have positive area in ({lo:g}, {grid[-1]:g}) cm^-1, got "
            f"measured {areas[0]:g} and simulated {areas[1]:g}"
        )
    m_g, s_g = m_g / areas[0], s_g / areas[1]

    detect = {"min_rel_prominence": min_rel_prominence, "max_fwhm_cm1": max_peak_fwhm_cm1}
    m_peaks = find_peak_table(m_nu[m_sel], m_y[m_sel], **detect)
    s_peaks = find_peak_table(s_nu[s_sel], s_y[s_sel], **detect)
    peaks = match_peaks(
        m_peaks, s_peaks, tolerance_cm1=peak_tolerance_cm1, scale_factor=model.scale_factor
    )

    lf_m = lf_s = None
    w1, wc = (float(v) for v in lowfreq_window_cm1)
    w1 = max(w1, float(grid[0]))
    ref_max = min(float(reference_max_cm1), float(grid[-1]))
    note = ""
    if wc <= w1 + step:
        note = (
            f"low-frequency window ({lowfreq_window_cm1[0]:g}, {wc:g}) cm^-1 ends below the common "
            f"range start {grid[0]:g} cm^-1 (filter cutoff / first measured point)"
        )
    elif ref_max < wc:
        note = f"the common range ends at {grid[-1]:g} cm^-1, below the window end {wc:g} cm^-1"
    else:
        kw = {"window_cm1": (w1, wc), "reference_max_cm1": ref_max, "variant": variant}
        lf_m = lowfreq_fraction(grid, m_g, channel=f"measured:{measured.label}", **kw)
        lf_s = lowfreq_fraction(grid, s_g, channel=channel, **kw)
        if w1 > float(lowfreq_window_cm1[0]) or ref_max < float(reference_max_cm1):
            note = (
                f"window raised to ({w1:g}, {wc:g}) cm^-1 and reference end set to {ref_max:g} "
                "cm^-1 to stay inside the common range; identical for both spectra"
            )

    return Comparison(
        wavenumber_cm1=grid,
        measured=m_g,
        simulated=s_g,
        label=measured.label,
        channel=channel,
        variant=variant,
        instrument=model,
        scale_fit=scale_fit,
        pearson=pearson_similarity(m_g, s_g),
        overlap=overlap_integral(grid, m_g, s_g),
        peaks=peaks,
        lowfreq_measured=lf_m,
        lowfreq_simulated=lf_s,
        lowfreq_note=note,
        measured_raw=(m_nu[m_sel], m_y[m_sel] / areas[0]),
        simulated_raw=(s_nu[s_sel], s_y[s_sel] / areas[1]),
        metadata={
            "measured": {
                "label": measured.label,
                "temperature_k": measured.temperature_k,
                "laser_wavelength_nm": measured.laser_wavelength_nm,
                "source": measured.metadata.get("source"),
                "preprocessing": measured.metadata.get("preprocessing", []),
            },
            "simulated": {
                "temperature_k": getattr(simulated, "temperature_k", None),
                "quantum_correction": getattr(simulated, "quantum_correction", None),
                "resolution_cm1": getattr(simulated, "resolution_cm1", None),
            },
            "grid_step_cm1": step,
            "normalisation": "unit area on the common grid",
            "peak_detection": {
                "min_rel_prominence": min_rel_prominence,
                "max_fwhm_cm1": max_peak_fwhm_cm1,
                "tolerance_cm1": peak_tolerance_cm1,
            },
        },
    )
