"""Welch densities in cm⁻¹ and integral-preserving smoothing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from ionraman.conventions import SPEED_OF_LIGHT_CM_S
from ionraman.errors import InputError
from ionraman.spectra import compute_raman_spectrum, smooth_density
from ionraman.spectra.psd import (
    _is_fft_friendly,
    next_fft_friendly_length,
    resolution_of,
    segment_densities,
    segment_length_for_resolution,
)


@pytest.mark.parametrize(("window", "overlap", "n"), [("hann", 0.5, 256), ("hamming", 0.75, 300)])
def test_mean_of_segments_is_scipy_welch_in_cm1(window, overlap, n):
    rng = np.random.default_rng(0)
    x = signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(20_001))
    x -= x.mean()
    dt = 2.0
    nu, dens = segment_densities(x, dt, n, window=window, overlap=overlap)
    f, p = signal.welch(
        x,
        fs=1 / (dt * 1e-15),
        window=window,
        nperseg=n,
        noverlap=round(overlap * n),
        detrend=False,
        scaling="density",
    )
    mean = dens.mean(axis=0)
    np.testing.assert_allclose(nu, f / SPEED_OF_LIGHT_CM_S, rtol=1e-12)
    # interior bins: identical to welch (Hz → cm⁻¹: × c); end bins doubled (one-sided value)
    np.testing.assert_allclose(mean[1:-1], p[1:-1] * SPEED_OF_LIGHT_CM_S, rtol=1e-10)
    np.testing.assert_allclose(mean[[0, -1]], 2 * p[[0, -1]] * SPEED_OF_LIGHT_CM_S, rtol=1e-10)
    # welch's rectangle sum and our trapezoid integral are the same number
    assert np.trapezoid(mean, nu) == pytest.approx(p.sum() * (f[1] - f[0]), rel=1e-12)


def test_stacked_signals_equal_separate_calls():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5000))
    _, both = segment_densities(x, 1.0, 200)
    for k in range(3):
        np.testing.assert_allclose(both[k], segment_densities(x[k], 1.0, 200)[1], rtol=1e-12)


def test_segment_length_for_resolution():
    n = segment_length_for_resolution(1.0, 1.0)  # 1/(c·1 fs·1 cm⁻¹) = 33356.4 frames
    assert n == 33600 and n % 2 == 0  # 2^6·3·5^2·7; 33358 = 2·16679 (prime) would be slow
    assert 0.97 < resolution_of(n, 1.0) <= 1.0

    def largest_prime_factor(m: int) -> int:
        p, last = 2, 1
        while p * p <= m:
            while m % p == 0:
                m, last = m // p, p
            p += 1
        return max(last, m)

    assert largest_prime_factor(n) <= 11
    for m in range(33358, n, 2):  # every shorter even candidate has a prime factor above 11
        assert largest_prime_factor(m) > 11
    with pytest.raises(InputError):
        segment_length_for_resolution(-1.0, 1.0)


def _grid(n=8000, d=0.5):
    return np.arange(n // 2 + 1) * d, d


def test_lorentzian_smoothing_of_lorentzian_adds_widths():
    """Lorentzian(HWHM h) * Lorentzian(FWHM f) = Lorentzian(HWHM h + f/2) (analytic convolution);
    the half-line at ν̃ ≥ 0 must come out right at ν̃ = 0 thanks to the mirror."""
    nu, d = _grid()
    h, fwhm = 5.0, 6.0
    lor = (2 / np.pi) * h / (h**2 + nu**2)
    out = smooth_density(lor, d, "lorentzian", fwhm)
    hh = h + fwhm / 2
    expect = (2 / np.pi) * hh / (hh**2 + nu**2)
    sel = nu < 60
    np.testing.assert_allclose(out[sel], expect[sel], rtol=5e-3)
    assert np.trapezoid(out, nu) == pytest.approx(np.trapezoid(lor, nu), rel=1e-12)


def test_gaussian_smoothing_of_half_gaussian_peak():
    nu, d = _grid()
    s1, fwhm = 4.0, 10.0
    s2 = fwhm / (2 * np.sqrt(2 * np.log(2)))
    g = 2 * np.exp(-0.5 * (nu / s1) ** 2) / np.sqrt(2 * np.pi * s1**2)
    out = smooth_density(g, d, "gaussian", fwhm)
    st = np.hypot(s1, s2)
    expect = 2 * np.exp(-0.5 * (nu / st) ** 2) / np.sqrt(2 * np.pi * st**2)
    np.testing.assert_allclose(out[:60], expect[:60], rtol=1e-6)
    assert np.trapezoid(out, nu) == pytest.approx(1.0, rel=1e-9)


def test_smoothing_keeps_flat_spectrum_flat_and_rejects_bad_input():
    nu, d = _grid(1000, 1.0)
    flat = np.full(nu.size, 3.0)
    for kind in ("lorentzian", "gaussian"):
        np.testing.assert_allclose(smooth_density(flat, d, kind, 25.0), 3.0, rtol=1e-12)
    with pytest.raises(InputError):
        smooth_density(flat, d, "triangle", 2.0)
    with pytest.raises(InputError):
        smooth_density(flat, d, "gaussian", 0.0)


def test_smoothing_in_compute_preserves_integrals_and_smooths_errors():
    rng = np.random.default_rng(3)
    x = signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(40_000))
    alpha = (40 + x)[:, None, None] * np.eye(3) + 0.1 * rng.standard_normal((40_000, 3, 3))
    raw = compute_raman_spectrum(alpha, 2.0, segment_length=1000)
    sm = compute_raman_spectrum(alpha, 2.0, segment_length=1000, smoothing=("lorentzian", 100.0))
    nu = raw.wavenumber_cm1
    for name in raw.channels:
        assert np.trapezoid(sm.density[name], nu) == pytest.approx(
            np.trapezoid(raw.density[name], nu), rel=1e-10
        )
        np.testing.assert_allclose(
            sm.density[name],
            smooth_density(raw.density[name], raw.resolution_cm1, "lorentzian", 100.0),
            rtol=1e-9,
            atol=1e-300,
        )
    # averaging neighbouring bins lowers the relative error
    rel_raw = np.median(raw.density_stderr["total"] / raw.density["total"])
    rel_sm = np.median(sm.density_stderr["total"] / sm.density["total"])
    assert rel_sm < 0.5 * rel_raw
    assert sm.metadata["smoothing"] == ["lorentzian", 100.0]


def test_next_fft_friendly_length_is_the_stepwise_search_and_fast_for_huge_lengths():
    def stepwise(n: int) -> int:
        n = max(n, 2)
        n += n % 2
        while not _is_fft_friendly(n):
            n += 2
        return n

    for n in (*range(0, 3000), 16679, 33358, 999_983, 123_456_789):
        assert next_fft_friendly_length(n) == stepwise(n)
    assert next_fft_friendly_length(8_343_364_829_000) == 8_343_364_829_184  # in milliseconds
    assert next_fft_friendly_length(3 << 70) == 1 << 72  # beyond 2^62: the next power of two


def test_absurdly_fine_resolution_is_refused_at_once():
    alpha = np.ones((1000, 3, 3)) + np.random.default_rng(0).normal(size=(1000, 3, 3))
    for resolution, needs in ((1e-9, "8.34e+12 frames"), (1e-300, "1.1e+304 frames")):
        with pytest.raises(InputError, match="shorter than one segment") as info:
            compute_raman_spectrum(alpha, 4.0, resolution_cm1=resolution)
        assert needs in str(info.value)
    with pytest.raises(InputError, match="too fine for any series"):
        segment_length_for_resolution(1e-320, 4.0)
