"""Low-frequency (central-peak) Raman metrics: spectral-weight fractions and band ratios.

Liquid-like ion motion shows up in Raman spectra as a *central peak*: quasi-elastic intensity
centred at ν̃ = 0 that, in the reduced representation χ''(ν̃), is a broad relaxational (Debye)
band. This module turns a spectrum into numbers that can be compared across materials and
temperatures:

* :func:`lowfreq_fraction`: ``∫_{ω1}^{ωc} I dν̃ / ∫_{ω1}^{ωmax} I dν̃``.
* :func:`band_ratio`: ``∫_{ω1}^{ωc} I dν̃ / ∫_band I dν̃`` with an internal-standard band
  (:data:`INTERNAL_STANDARD_BANDS_CM1`).
* the central-peak fit (Debye relaxator + damped oscillators on χ''(ν̃)) is in
  :mod:`ionraman.screening.central_peak`.

Every function takes plain arrays ``(wavenumber_cm1 [F], intensity [F], stderr [F] | None)``;
the ``*_from_spectrum`` wrappers take a :class:`ionraman.spectra.RamanSpectrum` (anything with
``wavenumber_cm1``, ``intensity(channel, variant)`` and ``stderr(channel, variant)``).

Integration
-----------
Integrals use the trapezoid rule on the (uniform) wavenumber grid, i.e. the exact integral of the
piecewise-linear interpolant of the binned intensity. A window edge that falls inside a bin is
handled by integrating the linear interpolant over the covered part of that bin only (so results
do not jump when an edge crosses a bin). The ν̃ = 0 bin is the value of the continuous one-sided
density at 0 (spectrum contract) and enters with the trapezoid half weight when ω1 = 0. It is
finite for the ``"classical"`` variant and for ``"stokes"`` with the ``"none"``/``"harmonic"``
corrections, exactly 0 for ``"reduced"`` (χ'' = βħω S), and NaN for ``"stokes"`` with the
``"bose"`` correction: any window that needs a NaN bin (ω1 = 0, or ω1 inside the first bin)
raises :class:`~ionraman.errors.InputError`.

Units: wavenumbers in cm⁻¹; intensities in whatever unit the spectrum uses (Å⁶/cm⁻¹ for
``RamanSpectrum``); fractions and ratios are dimensionless.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from ionraman.conventions import SPEED_OF_LIGHT_CM_S
from ionraman.errors import InputError

__all__ = [
    "DEFAULT_CHANNEL",
    "DEFAULT_LOWFREQ_WINDOW_CM1",
    "DEFAULT_REFERENCE_MAX_CM1",
    "DEFAULT_VARIANT",
    "INTERNAL_STANDARD_BANDS_CM1",
    "INTERNAL_STANDARD_BAND_SOURCES",
    "LowFreqMetric",
    "band_ratio",
    "band_ratio_from_spectrum",
    "integration_weights",
    "lowfreq_fraction",
    "lowfreq_fraction_from_spectrum",
]

DEFAULT_VARIANT = "reduced"
"""Default spectrum variant of the metrics (see :func:`lowfreq_fraction` for the reasons)."""
DEFAULT_CHANNEL = "total"
"""Default channel: the unpolarised powder spectrum, what an unpolarised measurement sees."""
DEFAULT_LOWFREQ_WINDOW_CM1: tuple[float, float] = (0.0, 50.0)
"""Default low-frequency window (ω1, ωc) in cm⁻¹: the central-peak / rattling region below the
lowest internal modes of thio-anion frameworks. A choice, not a universal constant: state it."""
DEFAULT_REFERENCE_MAX_CM1 = 800.0
"""Default upper limit ωmax (cm⁻¹) of the reference integral: above the highest fundamentals of
thiophosphates / thioantimonates (PS4 asymmetric stretch ≈ 550–600 cm⁻¹), below overtones."""

INTERNAL_STANDARD_BANDS_CM1: dict[str, tuple[float, float]] = {
    "SbS4": (340.0, 420.0),
    "PS4": (380.0, 450.0),
    "SnS4": (320.0, 400.0),
}
"""Internal-standard bands (cm⁻¹) for :func:`band_ratio`: the tetrahedral-anion stretching region.

All are **estimates** (see :data:`INTERNAL_STANDARD_BAND_SOURCES`), wide enough to hold the
band at 300–600 K and the few-% softening typical of ML force fields. Check them against your
own spectrum and pass an explicit ``(lo, hi)`` tuple where they do not fit."""

INTERNAL_STANDARD_BAND_SOURCES: dict[str, str] = {
    "SbS4": "estimate: SbS4(3-) symmetric (nu1, ~365 cm-1) and asymmetric (nu3, ~380-410 cm-1) "
    "stretches as commonly reported for Na3SbS4; not checked against a specific reference",
    "PS4": "estimate: PS4(3-) symmetric stretch nu1 ~415-425 cm-1 in Na3PS4/Li3PS4 (the brief "
    "suggested ~380-430); window widened to hold the whole band; not checked against a reference",
    "SnS4": "estimate: SnS4(4-) symmetric stretch ~340-360 cm-1 in Na4SnS4-type sulfides; "
    "not checked against a specific reference",
}
"""Where each entry of :data:`INTERNAL_STANDARD_BANDS_CM1` comes from (honestly labelled)."""

_C_CM_PS = SPEED_OF_LIGHT_CM_S * 1e-12
"""Speed of light in cm ps⁻¹: ω [rad ps⁻¹] = 2π · _C_CM_PS · ν̃ [cm⁻¹]."""


class _SpectrumLike(Protocol):
    wavenumber_cm1: np.ndarray

    def intensity(self, channel: str = ..., variant: str = ...) -> np.ndarray: ...

    def stderr(self, channel: str = ..., variant: str = ...) -> np.ndarray: ...


# ------------------------------------------------------------------------------------------------
# Result containers
# ------------------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


@dataclass(frozen=True)
class LowFreqMetric:
    """A low-frequency spectral-weight metric and how it was obtained.

    Attributes
    ----------
    value
        Dimensionless ratio of two integrals of the same spectrum variant/channel.
    stderr
        Standard error of ``value`` (None when no uncertainty was available).
    window_cm1
        Numerator window (ω1, ωc) in cm⁻¹.
    reference_window_cm1
        Denominator window in cm⁻¹: (ω1, ωmax) for a fraction, the band for a band ratio.
    channel, variant
        Which channel (``"total"``, ``"crossed"``, ...) and variant (``"classical"``,
        ``"stokes"``, ``"reduced"``) was integrated.
    metric
        ``"lowfreq_fraction"`` or ``"band_ratio"``.
    reference_band
        Name of the internal-standard band (band ratios given by name), else None.
    stderr_method
        How ``stderr`` was obtained (time-block bootstrap / independent runs / independent
        bins / none).
    """

    value: float
    stderr: float | None
    window_cm1: tuple[float, float]
    reference_window_cm1: tuple[float, float]
    channel: str
    variant: str
    metric: str = "lowfreq_fraction"
    reference_band: str | None = None
    stderr_method: str = "none"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists, NaN becomes None)."""
        return _jsonable(asdict(self))


# ------------------------------------------------------------------------------------------------
# Validation and integration helpers
# ------------------------------------------------------------------------------------------------
def _grid(wavenumber_cm1: np.ndarray) -> np.ndarray:
    nu = np.asarray(wavenumber_cm1, dtype=float)
    if nu.ndim != 1 or nu.size < 2:
        raise InputError(
            f"wavenumber_cm1 must be a 1-D array with at least 2 bins, got shape {nu.shape}"
        )
    if not np.isfinite(nu).all() or not (np.diff(nu) > 0).all():
        raise InputError("wavenumber_cm1 must be finite and strictly increasing")
    if nu[0] < 0:
        raise InputError(f"wavenumber_cm1 must start at >= 0 cm^-1, got {nu[0]:g}")
    return nu


def _check_window(nu: np.ndarray, window: Sequence[float], name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(w) for w in window)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair (lo, hi) in cm^-1, got {window!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise InputError(f"{name} must satisfy lo < hi (cm^-1), got ({lo:g}, {hi:g})")
    tol = 1e-9 * max(1.0, abs(nu[-1]))
    if lo < nu[0] - tol or hi > nu[-1] + tol:
        raise InputError(
            f"{name} ({lo:g}, {hi:g}) cm^-1 lies outside the spectrum range "
            f"({nu[0]:g}, {nu[-1]:g}) cm^-1"
        )
    return lo, hi


def integration_weights(wavenumber_cm1: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Weights ``w`` [F] with ``Σ_k w_k I_k = ∫_lo^hi I_lin(ν̃) dν̃`` (cm⁻¹).

    ``I_lin`` is the piecewise-linear interpolant of the binned intensity, so for a window whose
    edges lie on bin centres this is exactly the trapezoid rule (end bins get half weight, the
    ν̃ = 0 bin included); a partly covered bin interval contributes the integral of the linear
    interpolant over the covered part only. Works on any strictly increasing grid.

    Parameters
    ----------
    wavenumber_cm1
        Bin wavenumbers [F] in cm⁻¹, strictly increasing.
    lo, hi
        Integration limits in cm⁻¹, ``wavenumber_cm1[0] <= lo < hi <= wavenumber_cm1[-1]``.

    Returns
    -------
    numpy.ndarray
        Shape [F], units cm⁻¹; nonzero only for the bins the integral needs.
    """
    nu = np.asarray(wavenumber_cm1, dtype=float)
    left, right = nu[:-1], nu[1:]
    width = right - left
    a = np.clip(np.maximum(lo, left), left, right)
    b = np.clip(np.minimum(hi, right), left, right)
    ta = (a - left) / width
    tb = (b - left) / width
    used = tb > ta
    # ∫ [(1 − t) I_k + t I_{k+1}] Δ dt from ta to tb, split into the two bin weights.
    w_left = width * ((tb - 0.5 * tb**2) - (ta - 0.5 * ta**2))
    w_right = width * 0.5 * (tb**2 - ta**2)
    weights = np.zeros_like(nu)
    idx = np.nonzero(used)[0]
    np.add.at(weights, idx, w_left[idx])
    np.add.at(weights, idx + 1, w_right[idx])
    return weights


N_BOOTSTRAP = 2000
"""Resamples of the time-block bootstrap (seeded, so a metric and its error are reproducible)."""


def _block_bootstrap_se(num: np.ndarray, den: np.ndarray, seed: int = 0) -> float:
    """Standard error of ``Σ num / Σ den`` from a bootstrap over time blocks.

    ``num``, ``den`` [B]: the two integrals of each block. Blocks are resampled with replacement
    :data:`N_BOOTSTRAP` times; the standard deviation of the resampled ratios is scaled by
    √(B/(B−1)), the usual correction of the bootstrap's (biased, ∝ (B−1)/B) variance of a mean
    for few blocks.
    """
    b = num.size
    idx = np.random.default_rng(seed).integers(0, b, size=(N_BOOTSTRAP, b))
    ratios = num[idx].sum(axis=1) / den[idx].sum(axis=1)
    return float(np.std(ratios, ddof=1) * math.sqrt(b / (b - 1)))


def _intensity_rows(
    nu: np.ndarray, intensity: np.ndarray, stderr: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    y = np.asarray(intensity, dtype=float)
    if y.ndim not in (1, 2) or y.shape[-1] != nu.size:
        raise InputError(
            f"intensity must have shape [F] or [R, F] with F = {nu.size} wavenumber bins, "
            f"got {y.shape}"
        )
    if y.ndim == 2 and y.shape[0] < 2:
        raise InputError(f"intensity of shape [R, F] needs R >= 2 independent runs, got {y.shape}")
    err = None
    if stderr is not None:
        if y.ndim == 2:
            raise InputError(
                "give either per-run intensities [R, F] or one intensity [F] with stderr, not both"
            )
        err = np.asarray(stderr, dtype=float)
        if err.shape != y.shape:
            raise InputError(f"stderr must have the shape of intensity {y.shape}, got {err.shape}")
    return y, err


def _check_finite_used(
    nu: np.ndarray, y: np.ndarray, weights: np.ndarray, window: tuple[float, float], what: str
) -> None:
    finite = np.isfinite(y).all(axis=0) if y.ndim == 2 else np.isfinite(y)
    bad = (weights > 0) & ~finite
    if bad.any():
        hint = ""
        if not finite[0] and finite[1:].any():
            # The 'bose' correction Q = n + 1 diverges at ν̃ = 0: that bin is NaN by convention.
            hint = (
                f"; the 0 cm^-1 bin is undefined (e.g. 'bose' quantum correction): start the "
                f"window at >= {nu[1:][finite[1:]][0]:g} cm^-1"
            )
        raise InputError(
            f"{what} window ({window[0]:g}, {window[1]:g}) cm^-1 needs bins that are NaN/inf "
            f"(first at {nu[bad][0]:g} cm^-1){hint}"
        )


def _check_blocks(nu: np.ndarray, y: np.ndarray, blocks: np.ndarray | None) -> np.ndarray | None:
    if blocks is None:
        return None
    if y.ndim == 2:
        raise InputError("give either per-run intensities [R, F] or time blocks, not both")
    b = np.asarray(blocks, dtype=float)
    if b.ndim != 2 or b.shape[1] != nu.size or b.shape[0] < 2:
        raise InputError(
            f"blocks must have shape [B, F] with B >= 2 and F = {nu.size} bins, got {b.shape}"
        )
    return b


def _ratio(
    nu: np.ndarray,
    y: np.ndarray,
    err: np.ndarray | None,
    num: tuple[float, float],
    den: tuple[float, float],
    den_name: str,
    blocks: np.ndarray | None = None,
) -> tuple[float, float | None, str]:
    wn = integration_weights(nu, *num)
    wd = integration_weights(nu, *den)
    _check_finite_used(nu, y, wn, num, "low-frequency")
    _check_finite_used(nu, y, wd, den, den_name)
    un, ud = wn > 0, wd > 0

    def integrals(row: np.ndarray) -> tuple[float, float]:
        return float(wn[un] @ row[un]), float(wd[ud] @ row[ud])

    if y.ndim == 2:
        # Independent runs: value from the mean spectrum, error from the scatter of the
        # per-run ratios (no assumption about correlations between bins).
        lnum, lden = integrals(y.mean(axis=0))
        per_run = []
        for row in y:
            a, b = integrals(row)
            per_run.append(a / b if b > 0 else math.nan)
        runs = np.asarray(per_run)
        se = float(np.std(runs, ddof=1) / math.sqrt(runs.size))
        method = f"scatter of {runs.size} independent runs (std/sqrt(R))"
    else:
        lnum, lden = integrals(y)
        se, method = None, "none"
    if not lden > 0:
        raise InputError(
            f"{den_name} integral over ({den[0]:g}, {den[1]:g}) cm^-1 is {lden:g}; it must be "
            "positive to normalise by it"
        )
    value = lnum / lden
    mask = un | ud
    if blocks is not None:
        _check_finite_used(nu, blocks, wn, num, "low-frequency (blocks)")
        _check_finite_used(nu, blocks, wd, den, f"{den_name} (blocks)")
        bn, bd = blocks[:, un] @ wn[un], blocks[:, ud] @ wd[ud]
        if not (bd > 0).all():
            se, method = None, "none (a time block has no positive reference integral)"
        else:
            se = _block_bootstrap_se(bn, bd)
            method = f"bootstrap over {bd.size} time blocks"
    elif err is not None and not np.isfinite(err[mask]).all():
        # e.g. a single-segment spectrum, whose stderr is NaN: keep the value, report no error.
        se, method = None, "none (per-bin stderr not finite in the windows)"
    elif err is not None:
        if (err[mask] < 0).any():
            raise InputError("stderr must be >= 0 in the integration windows")
        # Linear error propagation, treating the bins as statistically independent:
        # ∂(N/D)/∂I_k = w_num,k / D − N w_den,k / D². Neighbouring Welch bins are in fact
        # correlated (window leakage, overlapping segments), so this underestimates the error
        # (by ~1.5-2x for a Hann-window Welch spectrum in our OU tests); per-run intensities
        # [R, F] avoid that assumption.
        grad = np.where(un, wn, 0.0) / lden - lnum * np.where(ud, wd, 0.0) / lden**2
        se = float(math.sqrt(np.sum((grad[mask] * err[mask]) ** 2)))
        method = "per-bin stderr propagated linearly, bins assumed independent"
    return value, se, method


# ------------------------------------------------------------------------------------------------
# Low-frequency fraction and band ratio
# ------------------------------------------------------------------------------------------------
def lowfreq_fraction(
    wavenumber_cm1: np.ndarray,
    intensity: np.ndarray,
    stderr: np.ndarray | None = None,
    *,
    window_cm1: Sequence[float] = DEFAULT_LOWFREQ_WINDOW_CM1,
    reference_max_cm1: float = DEFAULT_REFERENCE_MAX_CM1,
    channel: str = DEFAULT_CHANNEL,
    variant: str = DEFAULT_VARIANT,
    blocks: np.ndarray | None = None,
) -> LowFreqMetric:
    """Fraction of the spectral weight in a low-frequency window.

    ``value = ∫_{ω1}^{ωc} I dν̃ / ∫_{ω1}^{ωmax} I dν̃`` with trapezoid integration on the grid
    (partial bins at the window edges interpolated linearly; see the module docstring for the
    ν̃ = 0 bin).

    The default variant is ``"reduced"`` (χ'' = βħω S) because (i) it does not depend on the
    quantum-correction choice or the laser factor, which change the Stokes intensity at low
    frequency by large factors ("bose" even diverges at ν̃ → 0), so the number measures the
    dynamics, not a convention; (ii) it is what experimentalists compare after dividing a
    measured spectrum by n + 1, so simulated and measured fractions compare directly; (iii) it
    is finite (zero) at ν̃ = 0, so ω1 = 0 is valid for every correction. Its drawback: χ'' ∝ ν̃
    at low ν̃ weights very slow relaxations (1/(2πcτ) below the resolution) weakly; use
    ``variant="stokes"`` or ``"classical"`` (which keep the ν̃ = 0 intensity) to emphasise them.
    ``channel`` and ``variant`` only label the result here: the arrays are used as given.

    Parameters
    ----------
    wavenumber_cm1
        Bin wavenumbers [F] in cm⁻¹, strictly increasing (uniform in a RamanSpectrum).
    intensity
        Spectrum [F], or per-run spectra [R, F] (R ≥ 2 independent runs: the value is taken from
        their mean and the stderr from the run-to-run scatter of the fraction).
    stderr
        Standard error per bin [F] (only with a 1-D ``intensity``), propagated linearly assuming
        independent bins (neighbouring Welch bins are correlated, so this is a lower estimate);
        None, or non-finite values in the windows, give ``stderr=None``. Ignored when
        ``blocks`` are given.
    window_cm1
        (ω1, ωc) in cm⁻¹, ω1 < ωc. ω1 may be 0 except where the intensity is NaN at 0
        ("stokes" with the "bose" correction).
    reference_max_cm1
        ωmax in cm⁻¹ (≥ ωc, inside the spectrum).
    channel, variant
        Labels recorded in the result.
    blocks
        Spectra of B ≥ 2 contiguous time blocks of the same run(s) [B, F] (same variant as
        ``intensity``; :meth:`RamanSpectrum.block_intensity`): the stderr is then a bootstrap over
        the blocks, which keeps the correlations between bins (the per-bin propagation does not;
        on 10-ps runs of Na3SbS4 it underestimates the seed-to-seed scatter).

    Returns
    -------
    LowFreqMetric

    Raises
    ------
    InputError
        Bad shapes, a window outside the spectrum or with ω1 ≥ ωc, ωc > ωmax, a window that needs a
        NaN bin, or a non-positive reference integral.
    """
    nu = _grid(wavenumber_cm1)
    lo, hi = _check_window(nu, window_cm1, "window_cm1")
    if not float(reference_max_cm1) >= hi:
        raise InputError(
            f"reference_max_cm1 = {reference_max_cm1:g} cm^-1 must be >= the window end "
            f"{hi:g} cm^-1"
        )
    ref = _check_window(nu, (lo, float(reference_max_cm1)), "reference window")
    y, err = _intensity_rows(nu, intensity, stderr)
    value, se, method = _ratio(
        nu, y, err, (lo, hi), ref, "reference", _check_blocks(nu, y, blocks)
    )
    return LowFreqMetric(
        value=value,
        stderr=se,
        window_cm1=(lo, hi),
        reference_window_cm1=ref,
        channel=channel,
        variant=variant,
        metric="lowfreq_fraction",
        stderr_method=method,
    )


def band_ratio(
    wavenumber_cm1: np.ndarray,
    intensity: np.ndarray,
    stderr: np.ndarray | None = None,
    *,
    band: str | Sequence[float] = "SbS4",
    window_cm1: Sequence[float] = DEFAULT_LOWFREQ_WINDOW_CM1,
    channel: str = DEFAULT_CHANNEL,
    variant: str = DEFAULT_VARIANT,
    blocks: np.ndarray | None = None,
) -> LowFreqMetric:
    """Low-frequency integral over the integral of an internal-standard band.

    ``value = ∫_{ω1}^{ωc} I dν̃ / ∫_band I dν̃``: normalising by a stiff internal mode (e.g. the
    SbS4 stretching band) makes the low-frequency weight comparable between runs whose absolute
    polarizability scale differs (models, cell sizes). Same integration, ν̃ = 0 handling, shapes
    and error propagation as :func:`lowfreq_fraction` (independent bins; the numerator and band
    windows must not overlap, so their errors are independent).

    Parameters
    ----------
    band
        A key of :data:`INTERNAL_STANDARD_BANDS_CM1` (``"SbS4"``, ``"PS4"``, ``"SnS4"``) or an
        explicit ``(lo, hi)`` in cm⁻¹.
    window_cm1
        Low-frequency window (ω1, ωc) in cm⁻¹; must end at or below the band start.
    Other parameters
        As :func:`lowfreq_fraction` (``blocks``: time-block bootstrap error).

    Returns
    -------
    LowFreqMetric
        With ``metric="band_ratio"``, ``reference_window_cm1`` the band, ``reference_band`` its
        name (None for an explicit tuple).
    """
    nu = _grid(wavenumber_cm1)
    if isinstance(band, str):
        if band not in INTERNAL_STANDARD_BANDS_CM1:
            known = ", ".join(INTERNAL_STANDARD_BANDS_CM1)
            raise InputError(f"unknown internal-standard band {band!r}; expected one of: {known}")
        band_name: str | None = band
        band_window: Sequence[float] = INTERNAL_STANDARD_BANDS_CM1[band]
    else:
        band_name, band_window = None, band
    lo, hi = _check_window(nu, window_cm1, "window_cm1")
    blo, bhi = _check_window(nu, band_window, "band")
    if hi > blo:
        raise InputError(
            f"low-frequency window ({lo:g}, {hi:g}) cm^-1 overlaps the band ({blo:g}, {bhi:g}) "
            "cm^-1; it must end at or below the band start"
        )
    y, err = _intensity_rows(nu, intensity, stderr)
    value, se, method = _ratio(
        nu, y, err, (lo, hi), (blo, bhi), "band", _check_blocks(nu, y, blocks)
    )
    return LowFreqMetric(
        value=value,
        stderr=se,
        window_cm1=(lo, hi),
        reference_window_cm1=(blo, bhi),
        channel=channel,
        variant=variant,
        metric="band_ratio",
        reference_band=band_name,
        stderr_method=method,
    )


def lowfreq_fraction_from_spectrum(
    spectrum: _SpectrumLike,
    channel: str = DEFAULT_CHANNEL,
    variant: str = DEFAULT_VARIANT,
    *,
    window_cm1: Sequence[float] = DEFAULT_LOWFREQ_WINDOW_CM1,
    reference_max_cm1: float = DEFAULT_REFERENCE_MAX_CM1,
    use_stderr: bool = True,
) -> LowFreqMetric:
    """:func:`lowfreq_fraction` of ``spectrum.intensity(channel, variant)`` (a RamanSpectrum).

    With ``use_stderr`` the error is a bootstrap over the spectrum's time blocks when it has
    them, else its per-bin standard error propagated (bins assumed independent; see
    :func:`lowfreq_fraction`).
    """
    err, blocks = _errors_of(spectrum, channel, variant, use_stderr)
    return lowfreq_fraction(
        spectrum.wavenumber_cm1,
        spectrum.intensity(channel, variant),
        err,
        window_cm1=window_cm1,
        reference_max_cm1=reference_max_cm1,
        channel=channel,
        variant=variant,
        blocks=blocks,
    )


def band_ratio_from_spectrum(
    spectrum: _SpectrumLike,
    band: str | Sequence[float] = "SbS4",
    channel: str = DEFAULT_CHANNEL,
    variant: str = DEFAULT_VARIANT,
    *,
    window_cm1: Sequence[float] = DEFAULT_LOWFREQ_WINDOW_CM1,
    use_stderr: bool = True,
) -> LowFreqMetric:
    """:func:`band_ratio` of ``spectrum.intensity(channel, variant)`` (a RamanSpectrum); errors
    as :func:`lowfreq_fraction_from_spectrum`."""
    err, blocks = _errors_of(spectrum, channel, variant, use_stderr)
    return band_ratio(
        spectrum.wavenumber_cm1,
        spectrum.intensity(channel, variant),
        err,
        band=band,
        window_cm1=window_cm1,
        channel=channel,
        variant=variant,
        blocks=blocks,
    )


def _errors_of(
    spectrum: _SpectrumLike, channel: str, variant: str, use_stderr: bool
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(per-bin stderr, time blocks) of a spectrum for the metric error; blocks preferred."""
    if not use_stderr:
        return None, None
    get_blocks = getattr(spectrum, "block_intensity", None)
    blocks = get_blocks(channel, variant) if get_blocks is not None else None
    if blocks is not None:
        return None, blocks
    return spectrum.stderr(channel, variant), None
