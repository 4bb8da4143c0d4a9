"""Instrument model for simulated spectra: frequency scaling, Voigt broadening, filter cutoff.

A simulated spectrum compared with a measurement should see what the spectrometer does to the
sample's spectrum:

* **frequency scale factor** s: ν̃ → s ν̃ (ML force fields typically soften modes by a few %, so a
  fitted s slightly above 1 is common). Area-preserving: ``I_s(ν̃) = I(ν̃/s) / s``.
* **instrument line shape**: convolution with a unit-area Voigt profile (Gaussian FWHM from the
  slit/grating, Lorentzian FWHM e.g. from the laser line), either part may be zero.
* **filter cutoff**: bins below the edge/notch filter cutoff are dropped, as for the measurement.

Broadening acts on a uniform grid from ν̃ = 0 (what :class:`~ionraman.spectra.RamanSpectrum`
holds). The spectrum is continued to negative ν̃ before convolving: even for the Stokes/classical
variants, odd for the reduced spectrum χ'' (odd in ν̃), so the low-frequency end is broadened
without an artificial edge. Above the last bin the spectrum is taken as zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.signal import fftconvolve
from scipy.special import voigt_profile

from ionraman.errors import InputError

__all__ = [
    "InstrumentModel",
    "ScaleFit",
    "apply_instrument",
    "broaden",
    "fit_scale_factor",
    "scale_frequencies",
    "simulated_curve",
]

_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))


class _SpectrumLike(Protocol):
    wavenumber_cm1: np.ndarray

    def intensity(self, channel: str = ..., variant: str = ...) -> np.ndarray: ...


@dataclass(frozen=True)
class InstrumentModel:
    """What the spectrometer does to a spectrum (all optional).

    Attributes
    ----------
    gaussian_fwhm_cm1
        Gaussian FWHM of the instrument line shape, cm⁻¹ (≥ 0; 0 = none).
    lorentzian_fwhm_cm1
        Lorentzian FWHM, cm⁻¹ (≥ 0); with a Gaussian part the line shape is a Voigt profile.
    cutoff_cm1
        Edge/notch filter cutoff, cm⁻¹: bins below it are dropped. None = no filter.
    scale_factor
        Frequency scale factor s (> 0) applied to the simulated spectrum before broadening.
    """

    gaussian_fwhm_cm1: float = 0.0
    lorentzian_fwhm_cm1: float = 0.0
    cutoff_cm1: float | None = None
    scale_factor: float = 1.0

    def __post_init__(self) -> None:
        for name in ("gaussian_fwhm_cm1", "lorentzian_fwhm_cm1"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise InputError(f"{name} must be a number of cm^-1 >= 0, got {v}")
        if self.cutoff_cm1 is not None and not (
            math.isfinite(self.cutoff_cm1) and self.cutoff_cm1 >= 0
        ):
            raise InputError(f"cutoff_cm1 must be a number of cm^-1 >= 0, got {self.cutoff_cm1}")
        if not (math.isfinite(self.scale_factor) and self.scale_factor > 0):
            raise InputError(f"scale_factor must be a positive number, got {self.scale_factor}")

    @property
    def broadens(self) -> bool:
        """True when a line shape is applied."""
        return self.gaussian_fwhm_cm1 > 0 or self.lorentzian_fwhm_cm1 > 0

    def with_scale(self, scale_factor: float) -> InstrumentModel:
        """Copy with another frequency scale factor."""
        return replace(self, scale_factor=float(scale_factor))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON metadata)."""
        return asdict(self)


def _uniform_step(nu: np.ndarray) -> float:
    nu = np.asarray(nu, dtype=float)
    if nu.ndim != 1 or nu.size < 3:
        raise InputError(f"need a 1-D wavenumber grid with >= 3 bins, got shape {nu.shape}")
    d = np.diff(nu)
    step = float(np.mean(d))
    if not step > 0 or np.max(np.abs(d - step)) > 1e-6 * step + 1e-9:
        raise InputError("broadening needs a uniform, increasing wavenumber grid")
    return step


def _kernel(step: float, gaussian_fwhm: float, lorentzian_fwhm: float, n_max: int) -> np.ndarray:
    """Voigt kernel averaged over each bin (so line shapes narrower than a bin stay normalised)."""
    sigma = gaussian_fwhm * _FWHM_TO_SIGMA
    gamma = 0.5 * lorentzian_fwhm
    reach = 6.0 * sigma + 40.0 * gamma + 2.0 * step
    half = int(min(math.ceil(reach / step), n_max))
    sub = 11
    offsets = (np.arange(sub) - (sub - 1) / 2) / sub * step
    centres = np.arange(-half, half + 1) * step
    k = voigt_profile(centres[:, None] + offsets[None, :], sigma, gamma).mean(axis=1)
    total = k.sum()
    if not total > 0:  # pragma: no cover - guarded by broadens
        raise InputError("degenerate line shape")
    return k / total


def broaden(
    wavenumber_cm1: np.ndarray,
    intensity: np.ndarray,
    gaussian_fwhm_cm1: float = 0.0,
    lorentzian_fwhm_cm1: float = 0.0,
    *,
    parity: str = "even",
) -> np.ndarray:
    """Convolve a spectrum on a uniform grid with a unit-area Voigt line shape.

    Parameters
    ----------
    wavenumber_cm1
        ``[F]`` uniform grid (cm⁻¹). When it starts at 0 the spectrum is continued to negative
        ν̃ with the given ``parity`` before convolving; otherwise, and above the last bin, it is
        taken as zero outside the grid.
    intensity
        ``[F]`` spectrum (any unit; non-finite values are treated as 0).
    gaussian_fwhm_cm1, lorentzian_fwhm_cm1
        FWHM of the Gaussian and Lorentzian parts (cm⁻¹, ≥ 0); both 0 returns a copy.
    parity
        ``"even"`` (Stokes/classical) or ``"odd"`` (reduced spectrum).

    Returns
    -------
    numpy.ndarray
        ``[F]``; the area is preserved up to the tails leaving the grid.
    """
    step = _uniform_step(wavenumber_cm1)
    y = np.nan_to_num(np.asarray(intensity, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    if y.shape != np.shape(wavenumber_cm1):
        raise InputError(f"intensity shape {y.shape} differs from the grid's")
    if parity not in ("even", "odd"):
        raise InputError(f"parity must be 'even' or 'odd', got {parity!r}")
    if gaussian_fwhm_cm1 <= 0 and lorentzian_fwhm_cm1 <= 0:
        return y.copy()
    n = y.size
    kern = _kernel(step, gaussian_fwhm_cm1, lorentzian_fwhm_cm1, n)
    half = (kern.size - 1) // 2
    starts_at_zero = abs(float(wavenumber_cm1[0])) < 1e-9 * max(1.0, step)
    if starts_at_zero:
        mirror = y[1:][::-1] * (1.0 if parity == "even" else -1.0)
        ext = np.concatenate([mirror, y])
        offset = n - 1
    else:
        ext, offset = y, 0
    ext = np.concatenate([np.zeros(half), ext, np.zeros(half)])
    conv = fftconvolve(ext, kern, mode="same")
    return conv[half + offset : half + offset + n]


def scale_frequencies(
    wavenumber_cm1: np.ndarray, intensity: np.ndarray, scale_factor: float
) -> np.ndarray:
    """``I_s(ν̃) = I(ν̃ / s) / s`` on the same grid (linear interpolation; 0 beyond the data).

    Every feature moves from ν̃ to s ν̃ and keeps its area.
    """
    if not (math.isfinite(scale_factor) and scale_factor > 0):
        raise InputError(f"scale factor must be positive, got {scale_factor}")
    nu = np.asarray(wavenumber_cm1, dtype=float)
    y = np.nan_to_num(np.asarray(intensity, dtype=float))
    if scale_factor == 1.0:
        return y.copy()
    return np.interp(nu / scale_factor, nu, y, left=0.0, right=0.0) / scale_factor


def apply_instrument(
    wavenumber_cm1: np.ndarray,
    intensity: np.ndarray,
    model: InstrumentModel,
    *,
    parity: str = "even",
) -> tuple[np.ndarray, np.ndarray]:
    """Scale frequencies, broaden, then drop the bins below the filter cutoff.

    Returns
    -------
    (wavenumber_cm1, intensity)
        The grid from the cutoff on (the whole grid without a cutoff) and the spectrum on it.
    """
    nu = np.asarray(wavenumber_cm1, dtype=float)
    y = scale_frequencies(nu, intensity, model.scale_factor)
    if model.broadens:
        y = broaden(nu, y, model.gaussian_fwhm_cm1, model.lorentzian_fwhm_cm1, parity=parity)
    if model.cutoff_cm1 is not None:
        keep = nu >= model.cutoff_cm1
        if keep.sum() < 3:
            raise InputError(
                f"filter cutoff {model.cutoff_cm1:g} cm^-1 leaves fewer than 3 simulated bins"
            )
        return nu[keep], y[keep]
    return nu, y


def simulated_curve(
    spectrum: _SpectrumLike,
    channel: str = "total",
    variant: str = "reduced",
    model: InstrumentModel | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``spectrum.intensity(channel, variant)`` seen through ``model`` (default: none).

    The reduced spectrum is continued oddly below 0, the others evenly (see the module docstring);
    non-finite bins (the ν̃ = 0 bin of a "bose" Stokes spectrum) count as 0.
    """
    parity = "odd" if variant == "reduced" else "even"
    return apply_instrument(
        spectrum.wavenumber_cm1,
        spectrum.intensity(channel, variant),
        model or InstrumentModel(),
        parity=parity,
    )


@dataclass(frozen=True)
class ScaleFit:
    """Result of :func:`fit_scale_factor`.

    ``scale_factor`` s maximises the Pearson correlation ``pearson`` between the measured curve
    and the scaled, broadened simulation on ``n_points`` common points within ``window_cm1``;
    ``bounds`` is the search interval (a value at a bound means the optimum may lie beyond).
    """

    scale_factor: float
    pearson: float
    pearson_unscaled: float
    bounds: tuple[float, float]
    window_cm1: tuple[float, float]
    n_points: int
    at_bound: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON metadata)."""
        return asdict(self)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else float("nan")


def fit_scale_factor(
    target_cm1: np.ndarray,
    target: np.ndarray,
    wavenumber_cm1: np.ndarray,
    intensity: np.ndarray,
    *,
    model: InstrumentModel | None = None,
    parity: str = "even",
    bounds: Sequence[float] = (0.9, 1.1),
    window_cm1: Sequence[float] | None = None,
) -> ScaleFit:
    """Frequency scale factor s that best aligns a simulated spectrum with a measured one.

    The simulated spectrum (``wavenumber_cm1``, ``intensity``; uniform grid) is scaled by s,
    broadened with ``model``'s line shape and interpolated onto the measured points
    (``target_cm1``, ``target``) inside ``window_cm1`` (default: the measured range, from the
    model's cutoff on); s maximises the Pearson correlation. A coarse scan over ``bounds`` (201
    values) picks the best basin, then a bounded scalar search refines it.

    Returns
    -------
    ScaleFit
    """
    lo_b, hi_b = (float(v) for v in bounds)
    if not (0 < lo_b <= 1.0 <= hi_b) or lo_b >= hi_b:
        raise InputError(f"scale bounds must satisfy 0 < lo <= 1 <= hi, got ({lo_b}, {hi_b})")
    model = model or InstrumentModel()
    tx = np.asarray(target_cm1, dtype=float)
    ty = np.asarray(target, dtype=float)
    nu = np.asarray(wavenumber_cm1, dtype=float)
    lo = float(tx[0]) if window_cm1 is None else float(window_cm1[0])
    hi = float(tx[-1]) if window_cm1 is None else float(window_cm1[1])
    if model.cutoff_cm1 is not None:
        lo = max(lo, model.cutoff_cm1)
    lo, hi = max(lo, float(nu[0])), min(hi, float(nu[-1]))
    sel = (tx >= lo) & (tx <= hi) & np.isfinite(ty)
    if sel.sum() < 5:
        raise InputError(
            f"scale-factor fit: fewer than 5 measured points in ({lo:g}, {hi:g}) cm^-1"
        )
    x, y_t = tx[sel], ty[sel]

    def curve(s: float) -> np.ndarray:
        y = scale_frequencies(nu, intensity, s)
        if model.broadens:
            y = broaden(nu, y, model.gaussian_fwhm_cm1, model.lorentzian_fwhm_cm1, parity=parity)
        return np.interp(x, nu, y)

    def cost(s: float) -> float:
        r = _pearson(curve(s), y_t)
        return 2.0 if not math.isfinite(r) else -r

    grid = np.linspace(lo_b, hi_b, 201)
    costs = np.array([cost(s) for s in grid])
    k = int(np.argmin(costs))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    res = minimize_scalar(cost, bounds=(a, b), method="bounded", options={"xatol": 1e-6})
    best = float(res.x) if res.fun <= costs[k] else float(grid[k])
    step = grid[1] - grid[0]
    return ScaleFit(
        scale_factor=best,
        pearson=-cost(best),
        pearson_unscaled=-cost(1.0),
        bounds=(lo_b, hi_b),
        window_cm1=(lo, hi),
        n_points=int(sel.sum()),
        at_bound=bool(best - lo_b < step or hi_b - best < step),
    )
