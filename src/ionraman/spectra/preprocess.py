"""Preprocessing of measured Raman spectra; every step optional and recorded in the metadata.

Steps (each returns a new :class:`~ionraman.spectra.measured.MeasuredSpectrum` and appends a dict
``{"step": name, ...parameters and results}`` to ``metadata["preprocessing"]``):

* :func:`crop`: keep a Raman-shift range.
* :func:`apply_filter_cutoff`: drop everything below the edge/notch filter cutoff (the Rayleigh
  line, its stray-light wing and the attenuated region are not sample signal).
* :func:`remove_spikes`: cosmic-ray spikes (narrow positive outliers against a running median).
* :func:`remove_baseline`: fluorescence/instrument baseline through ``pybaselines``
  (``asls``, ``arpls`` or ``snip``).
* :func:`to_reduced`: divide by the Bose factor n + 1 (and the laser factor) to obtain the
  reduced spectrum χ'' of :mod:`ionraman.conventions`, comparable to
  ``RamanSpectrum.intensity(..., "reduced")``.
* :func:`normalise`: divide by the area of an internal-standard band (or the maximum).

:func:`preprocess` runs the chosen steps in the physically sensible order (crop → cutoff →
despike → baseline → reduce → normalise: the baseline is additive to the *measured* intensity, so
it must go before the Bose division) from a :class:`PreprocessSettings`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import median_filter, minimum_filter

from ionraman.conventions import beta_hbar_omega, laser_factor, laser_wavelength_nm_to_cm1
from ionraman.errors import InputError
from ionraman.screening.lowfreq import INTERNAL_STANDARD_BANDS_CM1, integration_weights
from ionraman.spectra.measured import MeasuredSpectrum

__all__ = [
    "BASELINE_METHODS",
    "PreprocessSettings",
    "apply_filter_cutoff",
    "crop",
    "normalise",
    "preprocess",
    "remove_baseline",
    "remove_spikes",
    "to_reduced",
]

BASELINE_METHODS: dict[str, dict[str, Any]] = {
    "arpls": {"smoothness_cm1": 100.0},
    "asls": {"smoothness_cm1": 100.0, "p": 0.01},
    "snip": {"max_half_window_cm1": 100.0, "decreasing": True, "smooth_half_window": 3},
}
"""Baseline methods and their default parameters (other keywords go to pybaselines as is).

Grid-independent widths in cm⁻¹ replace pybaselines' point counts: for the Whittaker methods
``asls``/``arpls`` ``smoothness_cm1`` = L sets ``lam = (L / Δν̃)^4`` (Δν̃ the median point
spacing; the baseline then bends on scales of roughly L), unless ``lam`` is given; for ``snip``
``max_half_window_cm1`` sets ``max_half_window``.

``arpls`` is the default: ``asls`` and ``snip`` put the baseline at the lower envelope of the
noise (1–2 noise σ low), an offset that the wide reference integral of
:func:`~ionraman.screening.lowfreq.lowfreq_fraction` accumulates (about −17 % (asls) and −35 %
(snip) on the fraction in the synthetic tests at 0.5 % noise, against ±2 % with ``arpls``)."""


def _check_range(lo: float | None, hi: float | None, what: str) -> None:
    for v in (lo, hi):
        if v is not None and not math.isfinite(v):
            raise InputError(f"{what} limits must be finite numbers of cm^-1, got ({lo}, {hi})")
    if lo is not None and hi is not None and lo >= hi:
        raise InputError(f"{what} needs lo < hi, got ({lo:g}, {hi:g}) cm^-1")


def _keep(spec: MeasuredSpectrum, mask: np.ndarray, step: dict[str, Any]) -> MeasuredSpectrum:
    if int(mask.sum()) < 3:
        raise InputError(
            f"{step['step']} leaves {int(mask.sum())} points of spectrum {spec.label!r} "
            f"(range {spec.raman_shift_cm1[0]:g}–{spec.raman_shift_cm1[-1]:g} cm^-1); need >= 3"
        )
    step["n_points"] = int(mask.sum())
    return spec.derive(spec.raman_shift_cm1[mask], spec.intensity[mask], step)


def crop(
    spec: MeasuredSpectrum, lo_cm1: float | None = None, hi_cm1: float | None = None
) -> MeasuredSpectrum:
    """Keep ``lo_cm1 ≤ ν̃ ≤ hi_cm1`` (cm⁻¹; None = open end)."""
    _check_range(lo_cm1, hi_cm1, "crop")
    nu = spec.raman_shift_cm1
    mask = np.ones(nu.size, bool)
    if lo_cm1 is not None:
        mask &= nu >= lo_cm1
    if hi_cm1 is not None:
        mask &= nu <= hi_cm1
    return _keep(spec, mask, {"step": "crop", "range_cm1": [lo_cm1, hi_cm1]})


def apply_filter_cutoff(spec: MeasuredSpectrum, cutoff_cm1: float) -> MeasuredSpectrum:
    """Drop all points below the filter cutoff (cm⁻¹), anti-Stokes side and Rayleigh line included.

    Edge and notch filters attenuate (and stray light contaminates) the region below their
    cutoff, so no comparison or metric should use it; :func:`ionraman.spectra.compare.
    compare_spectra` applies the same cutoff to the simulated spectrum.
    """
    if not (math.isfinite(cutoff_cm1) and cutoff_cm1 >= 0):
        raise InputError(f"filter cutoff must be a number of cm^-1 >= 0, got {cutoff_cm1}")
    mask = spec.raman_shift_cm1 >= cutoff_cm1
    return _keep(spec, mask, {"step": "filter_cutoff", "cutoff_cm1": float(cutoff_cm1)})


def remove_spikes(
    spec: MeasuredSpectrum,
    *,
    threshold: float = 6.0,
    half_width: int = 3,
    shape_fraction: float = 0.5,
) -> MeasuredSpectrum:
    """Replace cosmic-ray spikes by linear interpolation between their neighbours.

    A point is a spike when its excess over the running median of ``2·half_width + 1`` points,
    ``r = y − median``, is (i) above ``threshold`` robust noise levels (1.4826 × the median
    absolute deviation of r over the spectrum) and (ii) more than ``shape_fraction`` of its
    height above the local minimum: a spike stands on its own, while a Raman band wider than
    about ``half_width`` points is mostly followed by the median (its top excess is ≈ 0.2–0.3 of
    its height). Bands sampled by fewer than ~2·half_width points per FWHM may be taken for
    spikes: lower ``half_width`` for coarse grids. Flagged points and their direct neighbours
    are replaced by a parabola through the nearest ``half_width + 1`` unflagged points on each
    side (so a spike on a band top does not flatten the band).

    Parameters
    ----------
    threshold
        Noise levels (> 0) a spike must exceed.
    half_width
        Half width (points, ≥ 1) of the running median; spikes up to this many points wide are
        caught.
    shape_fraction
        Fraction in (0, 1] of the local height that the excess must reach.
    """
    if not (threshold > 0 and half_width >= 1 and 0 < shape_fraction <= 1):
        raise InputError(
            "remove_spikes needs threshold > 0, half_width >= 1 and 0 < shape_fraction <= 1"
        )
    y = spec.intensity
    size = 2 * int(half_width) + 1
    med = median_filter(y, size=size, mode="nearest")
    resid = y - med
    mad = float(np.median(np.abs(resid - np.median(resid))))
    scale = max(1.4826 * mad, 1e-12 * float(np.ptp(y) or 1.0))
    local_min = minimum_filter(y, size=2 * size + 1, mode="nearest")
    height = np.maximum(y - local_min, 1e-300)
    spikes = (resid > threshold * scale) & (resid > shape_fraction * height)
    flagged = spikes.copy()
    flagged[1:] |= spikes[:-1]
    flagged[:-1] |= spikes[1:]
    n_spikes = int(spikes.sum())
    if n_spikes and (~flagged).sum() < 6:
        raise InputError(f"spectrum {spec.label!r}: nearly every point looks like a spike")
    out = _bridge(spec.raman_shift_cm1, y, flagged, int(half_width) + 1) if n_spikes else y.copy()
    step = {
        "step": "despike",
        "method": "running-median excess (threshold x robust noise, narrow-shape test)",
        "threshold": float(threshold),
        "half_width_points": int(half_width),
        "shape_fraction": float(shape_fraction),
        "n_spikes": n_spikes,
        "spike_positions_cm1": [round(float(v), 3) for v in spec.raman_shift_cm1[spikes][:50]],
    }
    return spec.derive(spec.raman_shift_cm1, out, step)


def _bridge(nu: np.ndarray, y: np.ndarray, flagged: np.ndarray, n_side: int) -> np.ndarray:
    """Replace each run of flagged points by a parabola (a line with < 4 anchors) through the
    ``n_side`` nearest unflagged points on each side."""
    out = y.copy()
    good = np.flatnonzero(~flagged)
    idx = np.flatnonzero(flagged)
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    for run in runs:
        left = good[good < run[0]][-n_side:]
        right = good[good > run[-1]][:n_side]
        anchors = np.concatenate([left, right])
        x0 = nu[run[0]]
        deg = 2 if left.size >= 2 and right.size >= 2 else 1
        coef = np.polyfit(nu[anchors] - x0, y[anchors], deg)
        out[run] = np.polyval(coef, nu[run] - x0)
    return out


def remove_baseline(
    spec: MeasuredSpectrum,
    method: str = "arpls",
    *,
    protect_below_cm1: float | None = None,
    extrapolation_degree: int = 1,
    extrapolation_span_cm1: float = 200.0,
    **params: Any,
) -> MeasuredSpectrum:
    """Subtract a baseline fitted with pybaselines.

    Parameters
    ----------
    method
        ``"arpls"`` (asymmetrically reweighted penalised least squares), ``"asls"`` (asymmetric
        least squares) or ``"snip"`` (statistics-sensitive non-linear iterative peak clipping).
    protect_below_cm1
        Fit the baseline only to the points at and above this Raman shift (cm⁻¹) and continue
        it below with a polynomial of ``extrapolation_degree`` fitted to the baseline over the
        next ``extrapolation_span_cm1``. Use it for the low-frequency region: all three methods
        take a steep central-peak / quasi-elastic wing at the start of the data for baseline
        (the penalised fits bend up freely at a boundary), which removes exactly the
        low-frequency intensity the screening metric measures. None fits everything.
    **params
        Override the defaults of :data:`BASELINE_METHODS`: pybaselines keywords, plus
        ``smoothness_cm1`` (asls/arpls, instead of ``lam``) and ``max_half_window_cm1`` (snip,
        instead of ``max_half_window``) in cm⁻¹.

    The baseline is fitted to the measured (Stokes) intensity, where it is additive; do this
    before :func:`to_reduced`. Check the result on a figure: broad bands can still be taken for
    baseline when ``smoothness_cm1`` / the SNIP window are small compared with them, and a too
    stiff baseline cannot follow a curved fluorescence background.
    """
    if method not in BASELINE_METHODS:
        known = ", ".join(BASELINE_METHODS)
        raise InputError(f"unknown baseline method {method!r}; expected one of: {known}")
    try:
        from pybaselines import Baseline
    except ImportError:  # pragma: no cover - a declared dependency
        raise InputError("baseline removal needs pybaselines: pip install pybaselines") from None
    kw = {**BASELINE_METHODS[method], **params}
    nu, y = spec.raman_shift_cm1, spec.intensity
    fit = np.ones(nu.size, bool)
    if protect_below_cm1 is not None:
        if not math.isfinite(protect_below_cm1):
            raise InputError(f"protect_below_cm1 must be a number, got {protect_below_cm1}")
        if extrapolation_degree not in (0, 1, 2, 3) or not extrapolation_span_cm1 > 0:
            raise InputError("extrapolation_degree must be 0-3 and extrapolation_span_cm1 > 0")
        fit = nu >= protect_below_cm1
        if fit.sum() < 10:
            raise InputError(
                f"baseline: fewer than 10 points of {spec.label!r} above protect_below_cm1 = "
                f"{protect_below_cm1:g} cm^-1"
            )
    call_kw = dict(kw)
    widths_cm1 = {k: float(v) for k, v in kw.items() if k.endswith("_cm1")}
    step_cm1 = float(np.median(np.diff(nu[fit])))
    if method == "snip":
        half_cm1 = float(call_kw.pop("max_half_window_cm1"))
        n_fit = int(fit.sum())
        call_kw["max_half_window"] = max(1, min(round(half_cm1 / step_cm1), (n_fit - 1) // 2))
    else:
        smooth_cm1 = call_kw.pop("smoothness_cm1", None)
        if "lam" not in params and smooth_cm1 is not None:
            if not float(smooth_cm1) > 0:
                raise InputError(f"smoothness_cm1 must be > 0 cm^-1, got {smooth_cm1}")
            call_kw["lam"] = (float(smooth_cm1) / step_cm1) ** 4
    try:
        fitted, _ = getattr(Baseline(x_data=nu[fit]), method)(y[fit], **call_kw)
    except (TypeError, ValueError) as exc:
        raise InputError(f"baseline {method!r} failed with {kw} ({exc})") from None
    baseline = np.empty_like(y)
    baseline[fit] = fitted
    if not fit.all():
        x_fit = nu[fit]
        near = x_fit <= x_fit[0] + extrapolation_span_cm1
        deg = min(extrapolation_degree, int(near.sum()) - 1)
        coef = np.polyfit(x_fit[near] - x_fit[0], fitted[near], deg)
        below = nu[~fit] - x_fit[0]
        # continuous at the first fitted point
        baseline[~fit] = np.polyval(coef, below) - np.polyval(coef, 0.0) + fitted[0]
    step = {
        "step": "baseline",
        "method": method,
        "package": "pybaselines",
        "params": {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in call_kw.items()},
        "widths_cm1": widths_cm1,
        "protect_below_cm1": None if protect_below_cm1 is None else float(protect_below_cm1),
        "extrapolation": (
            None
            if protect_below_cm1 is None
            else {"degree": extrapolation_degree, "span_cm1": float(extrapolation_span_cm1)}
        ),
        "baseline_mean": float(np.mean(baseline)),
    }
    return spec.derive(nu, y - baseline, step)


def to_reduced(
    spec: MeasuredSpectrum,
    temperature_k: float | None = None,
    laser_wavelength_nm: float | None = None,
    *,
    laser_exponent: int = 4,
) -> MeasuredSpectrum:
    """Bose (and laser-factor) de-correction of a Stokes spectrum to the reduced spectrum.

    ``χ''(ν̃) ∝ I(ν̃) / [(n(ν̃) + 1) · ((ν̃_L − ν̃)/ν̃_L)^k]`` with ``n + 1 = 1/(1 − e^{−βħω})``,
    the same factors as :mod:`ionraman.conventions` (``k = 4``; use ``k = 3`` for
    photon-counting detectors whose intensity scale already carries one power). The result is 0
    at ν̃ = 0 and odd in ν̃ (anti-Stokes points map to −χ''(|ν̃|)), like the simulated reduced
    spectrum.

    Parameters
    ----------
    temperature_k
        Sample temperature in K; default ``spec.temperature_k``.
    laser_wavelength_nm
        Laser wavelength in nm; default ``spec.laser_wavelength_nm``; None skips the laser
        factor (recorded).
    laser_exponent
        3 or 4.
    """
    if spec.variant != "stokes":
        raise InputError(f"spectrum {spec.label!r} is already {spec.variant!r}, not 'stokes'")
    t = temperature_k if temperature_k is not None else spec.temperature_k
    if t is None:
        raise InputError(
            f"the reduced spectrum of {spec.label!r} needs the sample temperature; give "
            "temperature_k (or a temperature in the file)"
        )
    if laser_exponent not in (3, 4):
        raise InputError(f"laser_exponent must be 3 or 4, got {laser_exponent}")
    nu = spec.raman_shift_cm1
    x = beta_hbar_omega(nu, float(t))
    inv_bose = -np.expm1(-x)  # 1/(n + 1) = 1 − e^{−x}; 0 at ν̃ = 0, negative on the anti-Stokes side
    laser = spec.laser_wavelength_nm if laser_wavelength_nm is None else laser_wavelength_nm
    factor = inv_bose
    if laser is not None:
        nu_l = laser_wavelength_nm_to_cm1(float(laser))
        if nu.max() >= nu_l:
            raise InputError(f"Raman shifts reach the laser wavenumber {nu_l:.1f} cm^-1")
        factor = factor / laser_factor(nu, nu_l) ** (laser_exponent / 4)
    step = {
        "step": "reduce",
        "temperature_k": float(t),
        "laser_wavelength_nm": None if laser is None else float(laser),
        "laser_exponent": laser_exponent if laser is not None else None,
        "definition": "I (1 - exp(-h c nu / kT)) / ((nu_L - nu)/nu_L)^k",
    }
    return spec.derive(
        nu,
        spec.intensity * factor,
        step,
        variant="reduced",
        temperature_k=float(t),
        laser_wavelength_nm=None if laser is None else float(laser),
    )


def _band(band: str | Sequence[float]) -> tuple[str | None, tuple[float, float]]:
    if isinstance(band, str):
        if band not in INTERNAL_STANDARD_BANDS_CM1:
            known = ", ".join(INTERNAL_STANDARD_BANDS_CM1)
            raise InputError(
                f"unknown internal-standard band {band!r}; expected 'max', one of {known}, or "
                "(lo, hi) in cm^-1"
            )
        return band, INTERNAL_STANDARD_BANDS_CM1[band]
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise InputError(f"band must be a name or (lo, hi) in cm^-1, got {band!r}") from None
    _check_range(lo, hi, "band")
    return None, (lo, hi)


def normalise(spec: MeasuredSpectrum, band: str | Sequence[float] = "max") -> MeasuredSpectrum:
    """Divide by the area of an internal-standard band (cm⁻¹ · intensity) or by the maximum.

    ``band``: ``"max"``, a key of :data:`~ionraman.screening.INTERNAL_STANDARD_BANDS_CM1`
    (``"SbS4"``, ``"PS4"``, ``"SnS4"``) or ``(lo, hi)`` in cm⁻¹ inside the spectrum. The band area
    uses the trapezoid rule with partial edge bins, as the screening metrics do.
    """
    nu, y = spec.raman_shift_cm1, spec.intensity
    if isinstance(band, str) and band == "max":
        norm = float(np.max(y))
        step: dict[str, Any] = {"step": "normalise", "by": "max", "factor": norm}
    else:
        name, (lo, hi) = _band(band)
        if lo < nu[0] or hi > nu[-1]:
            raise InputError(
                f"normalisation band ({lo:g}, {hi:g}) cm^-1 lies outside spectrum {spec.label!r} "
                f"({nu[0]:g}–{nu[-1]:g} cm^-1)"
            )
        norm = float(integration_weights(nu, lo, hi) @ y)
        step = {"step": "normalise", "by": "band area", "band": name, "band_cm1": [lo, hi]}
        step["factor"] = norm
    if not norm > 0:
        raise InputError(f"cannot normalise {spec.label!r}: the normaliser is {norm:g} (not > 0)")
    return spec.derive(nu, y / norm, step)


@dataclass
class PreprocessSettings:
    """Which preprocessing steps to run, with their parameters (None / False = skip).

    Attributes
    ----------
    crop_cm1
        (lo, hi) in cm⁻¹ (either may be None) or None.
    cutoff_cm1
        Filter cutoff in cm⁻¹ or None.
    despike
        Run :func:`remove_spikes` (with ``spike_threshold``).
    baseline
        ``"arpls"``, ``"asls"``, ``"snip"`` or None; ``baseline_params`` override the defaults
        of :data:`BASELINE_METHODS`.
    baseline_protect_below_cm1
        ``protect_below_cm1`` of :func:`remove_baseline` (default 100 cm⁻¹: the baseline is
        fitted above it and extrapolated linearly below, so that the central-peak wing is not
        taken for baseline); None fits the whole range.
    reduce
        Run :func:`to_reduced` (needs a temperature: ``temperature_k`` or the file's).
    temperature_k, laser_wavelength_nm, laser_exponent
        For :func:`to_reduced` (None = the spectrum's own values).
    normalise_band
        For :func:`normalise` (``"max"``, a band name or (lo, hi)), or None.
    """

    crop_cm1: tuple[float | None, float | None] | None = None
    cutoff_cm1: float | None = None
    despike: bool = True
    spike_threshold: float = 6.0
    baseline: str | None = "arpls"
    baseline_params: dict[str, Any] = field(default_factory=dict)
    baseline_protect_below_cm1: float | None = 100.0
    reduce: bool = True
    temperature_k: float | None = None
    laser_wavelength_nm: float | None = None
    laser_exponent: int = 4
    normalise_band: str | tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON metadata)."""
        return asdict(self)


def preprocess(
    spec: MeasuredSpectrum, settings: PreprocessSettings | None = None
) -> MeasuredSpectrum:
    """Run the steps selected in ``settings`` in the order crop → cutoff → despike → baseline →
    reduce → normalise (see the module docstring). Default settings: despike, arpls baseline
    protected below 100 cm⁻¹, and the reduced spectrum."""
    s = settings or PreprocessSettings()
    out = spec
    if s.crop_cm1 is not None:
        out = crop(out, *s.crop_cm1)
    if s.cutoff_cm1 is not None:
        out = apply_filter_cutoff(out, s.cutoff_cm1)
    if s.despike:
        out = remove_spikes(out, threshold=s.spike_threshold)
    if s.baseline is not None:
        params = {"protect_below_cm1": s.baseline_protect_below_cm1, **s.baseline_params}
        if params["protect_below_cm1"] is not None and params["protect_below_cm1"] <= float(
            out.raman_shift_cm1[0]
        ):
            params["protect_below_cm1"] = None  # nothing below it: fit everything
        out = remove_baseline(out, s.baseline, **params)
    if s.reduce:
        out = to_reduced(
            out, s.temperature_k, s.laser_wavelength_nm, laser_exponent=s.laser_exponent
        )
    if s.normalise_band is not None:
        out = normalise(out, s.normalise_band)
    return out
