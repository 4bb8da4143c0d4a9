"""One-sided spectral densities in cm⁻¹ from Welch segments, and integral-preserving smoothing.

Conventions (see :mod:`ionraman.conventions`): for a real series x(t) sampled every ``dt`` fs the
classical one-sided spectral density ``S(ν̃)`` (units of x² per cm⁻¹) is returned on the grid
``ν̃_k = k Δν̃``, ``k = 0 … n/2`` with ``Δν̃ = 1/(c n dt)`` (n = segment length, always even). Every
bin, including ν̃ = 0 and the Nyquist bin, holds the value of the continuous one-sided density
``S(ν̃) = 2 P(ν̃)`` (P the even two-sided density), so that the **trapezoid rule** on this grid,
``np.trapezoid(S, ν̃)``, equals the mean square of the windowed segments (Parseval). This differs
from ``scipy.signal.welch`` only at the two end bins, which welch leaves undoubled (its rectangle
sum is the variance); keeping ``S(0) = 2 P(0)`` makes the central-peak height correct.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from ionraman.conventions import SPEED_OF_LIGHT_CM_S
from ionraman.errors import InputError

__all__ = [
    "SMOOTHING_KERNELS",
    "largest_fft_friendly_length",
    "resolution_of",
    "segment_densities",
    "segment_length_for_resolution",
    "smooth_density",
]

SMOOTHING_KERNELS = ("lorentzian", "gaussian")


def resolution_of(segment_length: int, timestep_fs: float) -> float:
    """Bin spacing Δν̃ = 1/(c n dt) in cm⁻¹ of segments of ``segment_length`` frames."""
    return 1.0 / (SPEED_OF_LIGHT_CM_S * segment_length * timestep_fs * 1e-15)


def _is_fft_friendly(n: int) -> bool:
    """True when ``n`` has no prime factor above 11 (pocketfft has fast radix-2…11 passes)."""
    for q in (2, 3, 5, 7, 11):
        while n % q == 0:
            n //= q
    return n == 1


def largest_fft_friendly_length(n_max: int) -> int:
    """Largest even length ≤ ``n_max`` (≥ 2) without prime factors above 11."""
    n = max(int(n_max) - int(n_max) % 2, 2)
    while n > 2 and not _is_fft_friendly(n):
        n -= 2
    return n


def segment_length_for_resolution(resolution_cm1: float, timestep_fs: float) -> int:
    """Segment length (frames) whose bin spacing is at most ``resolution_cm1``.

    The shortest length reaching the resolution is rounded up to the next even length without
    prime factors above 11: pocketfft falls back to the slower Bluestein algorithm for large prime
    factors (33358 = 2 × 16679 takes ~30× longer than 33600). These lengths are dense, so the
    spacing is only slightly finer than requested (≤ 3 % for segments above 1000 frames).
    """
    if not (np.isfinite(resolution_cm1) and resolution_cm1 > 0):
        raise InputError(f"resolution_cm1 must be a positive number of cm^-1, got {resolution_cm1}")
    with np.errstate(divide="ignore", over="ignore"):
        exact = 1.0 / (SPEED_OF_LIGHT_CM_S * timestep_fs * 1e-15 * np.float64(resolution_cm1))
    if not np.isfinite(exact):
        raise InputError(f"resolution_cm1 = {resolution_cm1}: too fine for any series")
    return next_fft_friendly_length(math.ceil(exact * (1.0 - 1e-12)))


def next_fft_friendly_length(n_min: int) -> int:
    """Smallest even length ≥ ``n_min`` (≥ 2) without prime factors above 11.

    The candidates are enumerated rather than searched in steps of 2: they thin out with size,
    and a stepwise search near 10¹³ frames (a resolution of 10⁻⁹ cm⁻¹) takes hours. Beyond 2⁶²
    frames (no real series) the next power of two is returned.
    """
    n_min = max(int(n_min), 2)
    best = 1 << (n_min - 1).bit_length()  # a power of two: always a candidate
    if n_min > 1 << 62:
        return best
    odd = [1]
    for p in (3, 5, 7, 11):
        grown = []
        for q in odd:
            while q <= best:
                grown.append(q)
                q *= p
        odd = grown
    for q in odd:
        m = 2 * q
        while m < n_min:
            m *= 2
        best = min(best, m)
    return best


def _window(window: str, n: int) -> np.ndarray:
    try:
        return signal.get_window(window, n, fftbins=True)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"unknown window {window!r} ({exc}); use a scipy.signal.get_window name such as "
            "'hann', 'hamming', 'blackman' or 'boxcar'"
        ) from None


def segment_densities(
    x: np.ndarray,
    timestep_fs: float,
    segment_length: int,
    *,
    window: str = "hann",
    overlap: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Windowed periodograms of the Welch segments of series, as one-sided densities in cm⁻¹.

    The average over segments is Welch's estimate (``scipy.signal.welch`` with ``detrend=False``,
    ``scaling="density"``), converted from Hz to cm⁻¹ (``S_cm = c · P_Hz``) and with the ν̃ = 0 and
    Nyquist bins doubled as described in the module docstring. The series is used as given: remove
    its mean beforehand (the caller removes the mean of the whole run, not of each segment).

    Parameters
    ----------
    x
        Real series, shape ``[..., S]`` (any unit u); leading axes are independent signals.
    timestep_fs
        Sampling interval in fs.
    segment_length
        Even number of frames per segment, ``2 ≤ segment_length ≤ S``.
    window
        Any window name accepted by :func:`scipy.signal.get_window`.
    overlap
        Fraction of a segment shared with the next one, ``0 ≤ overlap < 1``.

    Returns
    -------
    wavenumber_cm1 : numpy.ndarray
        ``[F]`` with ``F = segment_length/2 + 1``, from exactly 0 cm⁻¹ in steps Δν̃.
    densities : numpy.ndarray
        ``[..., n_segments, F]``, u² / cm⁻¹.
    """
    n = int(segment_length)
    x = np.asarray(x, dtype=float)
    if n < 2 or n % 2 or n > x.shape[-1]:
        raise ValueError(f"segment_length must be even and within [2, {x.shape[-1]}], got {n}")
    hop = min(max(n - round(overlap * n), 1), n)
    fs_hz = 1.0 / (timestep_fs * 1e-15)
    # ShortTimeFFT is scipy's current STFT engine; scipy.signal.welch/csd call it exactly like
    # this (p0=0, p1=(n_frames - noverlap)//hop, k_offset=n//2) and then average the slices. We
    # keep the slices to get the segment scatter (standard error) as well as the mean. It loops
    # over slices in Python, so callers stack many signals into one call (leading axes).
    sft = signal.ShortTimeFFT(
        _window(window, n),
        hop,
        fs_hz,
        fft_mode="onesided",
        mfft=n,
        scale_to="psd",
        phase_shift=None,
    )
    p1 = (x.shape[-1] - (n - hop)) // hop
    spec = sft.spectrogram(x, detr=None, p0=0, p1=p1, k_offset=n // 2)  # [..., F, n_seg], 1/Hz
    dens = np.ascontiguousarray(np.swapaxes(spec, -1, -2))
    dens *= 2.0 * SPEED_OF_LIGHT_CM_S  # one-sided (every bin, see module doc), Hz -> cm^-1
    nu = np.arange(n // 2 + 1) * resolution_of(n, timestep_fs)
    return nu, dens


def smooth_density(
    density: np.ndarray, resolution_cm1: float, kernel: str, fwhm_cm1: float
) -> np.ndarray:
    """Convolve one-sided densities with a unit-area line shape, preserving their integral.

    The one-sided density on ``ν̃ = 0 … ν̃_Nyq`` is the positive half of an even, periodic
    (period 2ν̃_Nyq, from sampling) two-sided density. The convolution is done on that full
    periodic grid (mirror at ν̃ = 0 and at Nyquist) with a kernel normalised to unit sum, so the
    ν̃ = 0 bin receives weight from both sides and the trapezoid integral is preserved exactly.
    Lorentzian tails that would leave the band are folded back (aliasing), as for the data.

    Parameters
    ----------
    density
        ``[..., F]`` one-sided densities on the uniform grid ``k · resolution_cm1``,
        ``F = n/2 + 1``.
    resolution_cm1
        Grid spacing Δν̃ in cm⁻¹.
    kernel
        ``"lorentzian"`` or ``"gaussian"``.
    fwhm_cm1
        Full width at half maximum of the kernel, cm⁻¹ (> 0).

    Returns
    -------
    numpy.ndarray
        Smoothed densities, same shape.
    """
    kernel = str(kernel).lower()
    if kernel not in SMOOTHING_KERNELS:
        raise InputError(
            f"unknown smoothing kernel {kernel!r}; expected one of: {', '.join(SMOOTHING_KERNELS)}"
        )
    if not (np.isfinite(fwhm_cm1) and fwhm_cm1 > 0):
        raise InputError(f"smoothing FWHM must be a positive number of cm^-1, got {fwhm_cm1}")
    dens = np.asarray(density, dtype=float)
    f = dens.shape[-1]
    n = 2 * (f - 1)
    k = np.arange(n)
    dist = np.minimum(k, n - k) * resolution_cm1
    if kernel == "lorentzian":
        hw = 0.5 * fwhm_cm1
        ker = hw / (dist**2 + hw**2)
    else:
        sigma = fwhm_cm1 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        ker = np.exp(-0.5 * (dist / sigma) ** 2)
    ker /= ker.sum()
    # even periodic extension [S_0, …, S_{F-1}, S_{F-2}, …, S_1] (halved: two-sided values)
    two = 0.5 * np.concatenate([dens, dens[..., -2:0:-1]], axis=-1)
    out = np.fft.irfft(np.fft.rfft(two, axis=-1) * np.fft.rfft(ker), n=n, axis=-1)
    return 2.0 * out[..., :f]
