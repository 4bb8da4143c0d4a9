"""Physics of compute_raman_spectrum checked against analytic results.

Processes are generated exactly (no integration error): the Ornstein–Uhlenbeck process as its exact
discrete AR(1) update and the Langevin-driven harmonic oscillator from the exact transition of the
linear SDE for (x, v). Tolerances are the ones of the specification; the sample sizes were chosen so
that they sit at ≥ 5 standard deviations of the estimator scatter, measured over independent seeds
(numbers in each test).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import linalg, optimize, signal

from ionraman.conventions import SPEED_OF_LIGHT_CM_S
from ionraman.errors import InputError
from ionraman.spectra import (
    compute_raman_spectrum,
    polarizability_invariants,
    random_rotations,
    rotate_tensors,
)
from ionraman.spectra.psd import segment_length_for_resolution


# ------------------------------------------------------------------------------------------------
# exact generators
# ------------------------------------------------------------------------------------------------
def ou_series(n: int, tau_fs: float, variance: float, dt_fs: float, rng) -> np.ndarray:
    """Stationary OU process ⟨x(0)x(t)⟩ = σ² e^{-|t|/τ}, sampled exactly: x_{k+1} = φ x_k + η_k,
    φ = e^{-dt/τ}, η ~ N(0, σ²(1 − φ²)); x_0 ~ N(0, σ²)."""
    phi = np.exp(-dt_fs / tau_fs)
    u = rng.standard_normal(n) * np.sqrt(variance * (1.0 - phi**2))
    u[0] = rng.standard_normal() * np.sqrt(variance)
    return signal.lfilter([1.0], [1.0, -phi], u)


def damped_oscillator_series(
    n: int, nu0_cm1: float, gamma_cm1: float, variance: float, dt_fs: float, rng, burn: int = 20_000
) -> np.ndarray:
    """x(t) of ẍ = −ω0² x − γ ẋ + ξ(t) (white ξ), stationary ⟨x²⟩ = variance, sampled exactly.

    s = (x, v) obeys ds = A s dt + noise, A = [[0, 1], [−ω0², −γ]]; the exact update over dt is
    s_k = M s_{k−1} + w_k with M = exp(A dt) and cov(w) = Σ − M Σ Mᵀ, Σ = diag(σ², ω0² σ²)
    (equipartition). By Cayley–Hamilton, x_k − tr(M) x_{k−1} + det(M) x_{k−2}
    = w_k,x − [(tr M · I − M) w_{k−1}]_x, an ARMA(2, 1) filter run with scipy.signal.lfilter.
    """
    w0 = 2 * np.pi * SPEED_OF_LIGHT_CM_S * nu0_cm1 * 1e-15  # rad/fs
    g = 2 * np.pi * SPEED_OF_LIGHT_CM_S * gamma_cm1 * 1e-15
    m = linalg.expm(np.array([[0.0, 1.0], [-(w0**2), -g]]) * dt_fs)
    sig = np.diag([variance, variance * w0**2])
    q = sig - m @ sig @ m.T
    w = rng.standard_normal((n + burn, 2)) @ np.linalg.cholesky(q).T
    tr, det = np.trace(m), np.linalg.det(m)
    u = w[:, 0].copy()
    u[1:] -= w[:-1] @ (tr * np.eye(2) - m)[0]
    return signal.lfilter([1.0], [1.0, -tr, det], u)[burn:]


def isotropic_alpha(x: np.ndarray, mean: float = 40.0) -> np.ndarray:
    """α(t) = (ᾱ + x(t)) I as a read-only broadcast view [S, 3, 3] (no 9× memory)."""
    return (mean + x)[:, None, None] * np.eye(3)[None]


def lorentzian(nu, area, hwhm):
    """One-sided Lorentzian with ∫_0^∞ = area."""
    return (2 * area / np.pi) * hwhm / (hwhm**2 + nu**2)


def oscillator_shape(nu, area, nu0, gamma):
    """One-sided DHO line shape with ∫_0^∞ = area (see test_damped_oscillator_peak)."""
    return (2 * area / np.pi) * gamma * nu0**2 / ((nu0**2 - nu**2) ** 2 + gamma**2 * nu**2)


def weighted_fit(model, nu, s, p0):
    """Least squares with σ ∝ model (periodogram noise is multiplicative), iterated."""
    p, _ = optimize.curve_fit(model, nu, s, p0=p0)
    for _ in range(4):
        p, _ = optimize.curve_fit(model, nu, s, p0=p, sigma=model(nu, *p))
    return p


def smooth_random_alpha(n: int, rng, dt_fs: float = 2.0, time_scale: float = 1.0) -> np.ndarray:
    """A generic correlated, anisotropic α(t) [n, 3, 3]: each of the 6 components is an OU process
    with its own τ and σ² plus a damped oscillation mixed in, on a fixed anisotropic mean.
    ``time_scale`` multiplies every correlation time (the τ and the oscillator damping time)."""
    taus = [time_scale * t for t in (40.0, 90.0, 150.0, 60.0, 25.0, 300.0)]
    vars_ = [1.0, 0.5, 2.0, 0.3, 0.8, 0.6]
    comps = np.stack([ou_series(n, t, v, dt_fs, rng) for t, v in zip(taus, vars_, strict=True)], 1)
    comps[:, 0] += damped_oscillator_series(n, 300.0, 30.0 / time_scale, 0.5, dt_fs, rng, burn=2000)
    comps[:, 1] += 0.7 * comps[:, 0]  # correlated components (cross-spectra are non-zero)
    alpha = np.empty((n, 3, 3))
    idx = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
    base = np.array([[30.0, 1.0, 0.5], [1.0, 32.0, -0.7], [0.5, -0.7, 35.0]])
    for k, (i, j) in enumerate(idx):
        alpha[:, i, j] = base[i, j] + comps[:, k]
        alpha[:, j, i] = alpha[:, i, j]
    return alpha


# ------------------------------------------------------------------------------------------------
# line shapes
# ------------------------------------------------------------------------------------------------
def test_ornstein_uhlenbeck_central_peak_is_lorentzian():
    """S(ν̃) = 2∫ e^{i2πcν̃t} σ² e^{-|t|/τ} dt = 4σ²τc / (1 + (2πcτν̃)²): Lorentzian, HWHM = 1/(2πcτ),
    area σ². τ = 200 fs (HWHM 26.54 cm⁻¹), dt = τ/20 (the discrete AR(1) spectrum departs from the
    Lorentzian by < 0.5 % up to the fit limit 5 HWHM), Δν̃ ≈ 1 cm⁻¹ (Hann smearing ≪ width),
    1.2 M frames = 60 000 τ. Measured over 20 seeds: width error +0.1 ± 0.66 % (max 1.9 %), area
    +0.3 ± 0.56 % (max 1.3 %), single bin S(0) +0.4 ± 3.1 % (max 6.3 %)."""
    tau, var, dt = 200.0, 2.0, 10.0
    hwhm = 1.0 / (2 * np.pi * SPEED_OF_LIGHT_CM_S * tau * 1e-15)
    x = ou_series(1_200_000, tau, var, dt, np.random.default_rng(11))
    spec = compute_raman_spectrum(isotropic_alpha(x), dt, resolution_cm1=1.0)
    nu, s = spec.wavenumber_cm1, spec.density["isotropic"]
    assert nu[0] == 0.0
    sel = nu <= 5 * hwhm
    area, width = weighted_fit(lorentzian, nu[sel], s[sel], p0=[1.0, 10.0])
    assert width == pytest.approx(hwhm, rel=0.05)
    assert area == pytest.approx(var, rel=0.05)
    # the central bin is the peak top 2σ²/(π HWHM), not half of it (scipy.welch's DC convention)
    assert s[0] == pytest.approx(lorentzian(0.0, var, hwhm), rel=0.15)
    # no anisotropy in (ᾱ + x) I: anisotropic channel is zero to rounding
    assert np.max(spec.density["anisotropic"]) < 1e-20 * np.max(s)


def test_damped_oscillator_peak():
    """For ẍ + γẋ + ω0²x = ξ, x̂(ω) = ξ̂/(ω0² − ω² − iγω), so S(ω) ∝ 1/((ω0² − ω²)² + γ²ω²).
    With ∫_0^∞ γω0² dω / ((ω0²−ω²)² + γ²ω²) = π/2, the one-sided density in wavenumbers (ν̃0, Γ̃ =
    γ/2πc in cm⁻¹) is S(ν̃) = (2σ²/π) Γ̃ν̃0² / ((ν̃0²−ν̃²)² + Γ̃²ν̃²), σ² = kT/mω0², maximal at
    √(ν̃0² − Γ̃²/2) with FWHM ≈ Γ̃. ν̃0 = 150, Γ̃ = 40 cm⁻¹, dt = 10 fs, Δν̃ ≈ 1 cm⁻¹, 2 M frames
    (Hann smearing broadens a line of FWHM 40 by ~0.1 %). Measured over 10 seeds: ν̃0 error
    −0.004 ± 0.06 % (max 0.12 %), Γ̃ error +0.14 ± 0.27 % (max 0.53 %), area −0.04 ± 0.24 %."""
    nu0, gam, var, dt = 150.0, 40.0, 1.5, 10.0
    x = damped_oscillator_series(2_000_000, nu0, gam, var, dt, np.random.default_rng(5))
    spec = compute_raman_spectrum(isotropic_alpha(x), dt, resolution_cm1=1.0)
    nu, s = spec.wavenumber_cm1, spec.density["isotropic"]
    sel = nu <= nu0 + 5 * gam
    guess = [1.0, float(nu[np.argmax(s)]), 20.0]
    area, fit_nu0, fit_gam = weighted_fit(oscillator_shape, nu[sel], s[sel], p0=guess)
    assert fit_nu0 == pytest.approx(nu0, rel=0.02)
    assert fit_gam == pytest.approx(gam, rel=0.02)
    # position of the maximum of the fitted line vs the analytic one
    grid = np.linspace(50, 250, 20001)
    peak = grid[np.argmax(oscillator_shape(grid, area, fit_nu0, fit_gam))]
    assert peak == pytest.approx(np.sqrt(nu0**2 - gam**2 / 2), rel=0.02)
    assert area == pytest.approx(var, rel=0.05)


# ------------------------------------------------------------------------------------------------
# sum rules and channel algebra
# ------------------------------------------------------------------------------------------------
def _channel_variances(alpha: np.ndarray, mean_square=None) -> dict[str, float]:
    """Variance of each channel's signal; ``mean_square(x)`` replaces ``x.var()`` if given."""
    ms = mean_square or (lambda x: x.var())
    a, beta = polarizability_invariants(alpha)
    var_a = ms(a - a.mean())
    var_g = 1.5 * sum(ms(beta[:, i, j] - beta[:, i, j].mean()) for i in range(3) for j in range(3))
    return {
        "isotropic": var_a,
        "anisotropic": var_g,
        "parallel": var_a + 4 * var_g / 45,
        "crossed": 3 * var_g / 45,
        "total": var_a + 7 * var_g / 45,
        "z(xx)z̄": ms(alpha[:, 0, 0] - alpha[:, 0, 0].mean()),
        "z(xy)-z": ms(alpha[:, 0, 1] - alpha[:, 0, 1].mean()),
    }


def test_parseval_hann_welch():
    """∫S dν̃ (trapezoid) of every channel.

    (1) Exactly (1e-10) the mean over Welch segments of the window-weighted mean square
    Σ_t w_t² x_t² / Σ_t w_t² (Parseval per segment): pins the Hz → cm⁻¹ conversion, the window
    normalisation and the one-sided bin convention.
    (2) The sample variance of the channel within 1 %. This agreement is statistical (Hann² weights
    and the frames after the last full segment), scaling as √(τ/T): with correlation times ≤ 15 fs
    and T = 800 ps the measured scatter over 12 seeds is 0.06–0.2 % (max 0.35 %)."""
    alpha = smooth_random_alpha(400_000, np.random.default_rng(3), time_scale=0.05)
    spec = compute_raman_spectrum(alpha, 2.0, resolution_cm1=2.0, geometries=["z(xx)z̄", "z(xy)-z"])
    n, k = spec.metadata["segment_length"], spec.metadata["n_segments"]
    w2 = signal.get_window("hann", n) ** 2
    starts = np.arange(k) * (n // 2)

    def welch_mean_square(x):
        return np.mean([np.sum(w2 * x[p : p + n] ** 2) for p in starts]) / w2.sum()

    exact = _channel_variances(alpha, welch_mean_square)
    for name, var in _channel_variances(alpha).items():
        integral = np.trapezoid(spec.density[name], spec.wavenumber_cm1)
        assert integral == pytest.approx(exact[name], rel=1e-10), name
        assert integral == pytest.approx(var, rel=0.01), name


def test_parseval_exact_for_boxcar_without_overlap():
    """Rectangular, non-overlapping segments tiling the run: the trapezoid integral equals the
    sample variance exactly (discrete Parseval), which pins the ν̃ = 0 / Nyquist bin convention."""
    alpha = smooth_random_alpha(8192, np.random.default_rng(4))
    spec = compute_raman_spectrum(alpha, 2.0, segment_length=1024, window="boxcar", overlap=0.0)
    assert spec.metadata["n_segments"] == 8
    for name in ("isotropic", "anisotropic", "parallel", "crossed", "total"):
        integral = np.trapezoid(spec.density[name], spec.wavenumber_cm1)
        assert integral == pytest.approx(_channel_variances(alpha)[name], rel=1e-10), name


def test_trace_only_fluctuations_are_isotropic():
    rng = np.random.default_rng(8)
    x = ou_series(50_000, 80.0, 1.0, 2.0, rng)
    mean = np.array([[30.0, 2.0, 0.0], [2.0, 31.0, 1.0], [0.0, 1.0, 40.0]])
    alpha = mean + x[:, None, None] * np.eye(3)
    spec = compute_raman_spectrum(alpha, 2.0, resolution_cm1=5.0)
    p_iso = np.trapezoid(spec.density["isotropic"], spec.wavenumber_cm1)
    p_tot = np.trapezoid(spec.density["total"], spec.wavenumber_cm1)
    assert p_iso / p_tot > 0.999
    assert np.all(spec.density["crossed"] <= 1e-20 * spec.density["isotropic"].max())


def test_traceless_fluctuations_have_no_isotropic_part():
    rng = np.random.default_rng(9)
    x, y = ou_series(50_000, 80.0, 1.0, 2.0, rng), ou_series(50_000, 30.0, 0.4, 2.0, rng)
    dbeta = np.zeros((x.size, 3, 3))
    dbeta[:, 0, 0], dbeta[:, 1, 1] = x, -x  # traceless diagonal
    dbeta[:, 1, 2] = dbeta[:, 2, 1] = y  # off-diagonal
    spec = compute_raman_spectrum(35.0 * np.eye(3) + dbeta, 2.0, resolution_cm1=5.0)
    p_iso = np.trapezoid(spec.density["isotropic"], spec.wavenumber_cm1)
    p_ani = np.trapezoid(spec.density["anisotropic"], spec.wavenumber_cm1)
    assert p_iso < 1e-20 * p_ani
    # Σ_ij S[δβ_ij] = S_x + S_x + 2 S_y, so S_γ = (3/2)(2 S_x + 2 S_y) bin by bin
    s_x = compute_raman_spectrum(isotropic_alpha(x), 2.0, resolution_cm1=5.0).density["isotropic"]
    s_y = compute_raman_spectrum(isotropic_alpha(y), 2.0, resolution_cm1=5.0).density["isotropic"]
    np.testing.assert_allclose(spec.density["anisotropic"], 1.5 * (2 * s_x + 2 * s_y), rtol=1e-10)
    # depolarisation ratio crossed/parallel = 3/4 for purely anisotropic scattering
    ratio = spec.density["crossed"][1:] / spec.density["parallel"][1:]
    np.testing.assert_allclose(ratio, 0.75, rtol=1e-12)


def test_orientation_average_of_single_crystal_spectra():
    """⟨S[x̂·RδαRᵀ·x̂]⟩_R = S_a + (4/45) S_γ (parallel), ⟨S[x̂·RδαRᵀ·ŷ]⟩_R = (3/45) S_γ (crossed),
    exactly for every bin (Haar average of a quadratic form in δα̂(ν̃)). Part 1: for explicit
    rotations of the δα series the powder channels are invariant and the single-crystal channel
    of Rδα Rᵀ equals that of δα seen with rotated polarisations Rᵀê. Part 2 (using that identity
    for speed): with N = 1000 random rotations the average is a sample mean, so per bin
    |mean − expected| ≤ 5 standard errors over rotations (P(any of 129 bins > 5σ) ≈ 1e-4 for
    Gaussian scatter) and the band integral within 4 standard errors and 5 %."""
    rng = np.random.default_rng(21)
    alpha = smooth_random_alpha(16_384, rng)
    ex, ey = np.eye(3)[0], np.eye(3)[1]
    rots = random_rotations(1000, seed=22)
    geoms = [(r.T @ ex, r.T @ ex) for r in rots] + [(r.T @ ex, r.T @ ey) for r in rots]
    ref = compute_raman_spectrum(alpha, 2.0, segment_length=256, geometries=geoms)
    rotated_channels = ref.channels[5:]
    nu = ref.wavenumber_cm1
    # part 1: explicit rotations of the tensor series
    for k, rot in enumerate(rots[:8]):
        spec = compute_raman_spectrum(
            rotate_tensors(alpha, rot), 2.0, segment_length=256, geometries=["z(xx)z̄", "z(xy)z̄"]
        )
        for name in ("isotropic", "anisotropic", "parallel", "crossed", "total"):
            np.testing.assert_allclose(spec.density[name], ref.density[name], rtol=1e-9)
        np.testing.assert_allclose(
            spec.density["z(xx)z̄"], ref.density[rotated_channels[k]], rtol=1e-9
        )
        np.testing.assert_allclose(
            spec.density["z(xy)z̄"], ref.density[rotated_channels[1000 + k]], rtol=1e-9
        )
    # part 2: orientation average over 1000 random rotations
    samples_xx = np.array([ref.density[c] for c in rotated_channels[:1000]])
    samples_xy = np.array([ref.density[c] for c in rotated_channels[1000:]])
    for samples, name in ((samples_xx, "parallel"), (samples_xy, "crossed")):
        mean = samples.mean(axis=0)
        sem = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
        z = (mean - ref.density[name]) / sem
        assert np.max(np.abs(z)) < 5.0, name
        integ = np.trapezoid(samples, nu, axis=1)
        expected = np.trapezoid(ref.density[name], nu)
        assert abs(integ.mean() - expected) < 4 * integ.std(ddof=1) / np.sqrt(len(integ)), name
        assert integ.mean() == pytest.approx(expected, rel=0.05), name


# ------------------------------------------------------------------------------------------------
# runs, errors, resolution
# ------------------------------------------------------------------------------------------------
def test_resolution_and_grid():
    alpha = smooth_random_alpha(40_000, np.random.default_rng(1))
    spec = compute_raman_spectrum(alpha, 2.0, resolution_cm1=3.0)
    n = spec.metadata["segment_length"]
    assert n % 2 == 0
    assert spec.resolution_cm1 == pytest.approx(1 / (SPEED_OF_LIGHT_CM_S * n * 2e-15))
    assert spec.resolution_cm1 <= 3.0
    np.testing.assert_allclose(np.diff(spec.wavenumber_cm1), spec.resolution_cm1)
    assert spec.wavenumber_cm1[0] == 0.0
    assert spec.wavenumber_cm1[-1] == pytest.approx(1 / (2 * SPEED_OF_LIGHT_CM_S * 2e-15))
    assert spec.metadata["n_segments"] == (40_000 - n // 2) // (n // 2)


def test_default_segment_length():
    alpha = smooth_random_alpha(200_000, np.random.default_rng(1))
    # 1 cm⁻¹ at 2 fs needs ~16 700 frames: fits 7+ times into 200 000 frames
    assert compute_raman_spectrum(alpha, 2.0).resolution_cm1 == pytest.approx(1.0, rel=0.03)
    # a short run falls back to a quarter of its length
    short = compute_raman_spectrum(alpha[:10_000], 2.0)
    assert short.metadata["segment_length"] == 2500
    assert short.metadata["n_segments"] == 7


def test_several_runs_average_and_stderr():
    rng = np.random.default_rng(2)
    runs = [smooth_random_alpha(20_000, rng) for _ in range(4)]
    multi = compute_raman_spectrum(runs, 2.0, segment_length=512)
    singles = [compute_raman_spectrum(r, 2.0, segment_length=512) for r in runs]
    stack = np.array([s.density["total"] for s in singles])
    np.testing.assert_allclose(multi.density["total"], stack.mean(0), rtol=1e-12)
    np.testing.assert_allclose(multi.density_stderr["total"], stack.std(0, ddof=1) / 2, rtol=1e-12)
    assert multi.metadata["n_runs"] == 4
    stacked = compute_raman_spectrum(np.array(runs), 2.0, segment_length=512)
    np.testing.assert_allclose(stacked.density["total"], multi.density["total"])


def test_single_run_stderr_matches_scatter_between_runs():
    """The segment-scatter error of one run should match the actual run-to-run scatter: compare
    the average segment-based stderr with the std of 8 independent run spectra, per bin averaged
    over the band (ratio within 25 %; overlap correlation predicts ≈ 3 % underestimate)."""
    rng = np.random.default_rng(6)
    specs = [
        compute_raman_spectrum(
            isotropic_alpha(ou_series(20_000, 50.0, 1.0, 2.0, rng)), 2.0, segment_length=256
        )
        for _ in range(8)
    ]
    dens = np.array([s.density["isotropic"] for s in specs])[:, 1:-1]
    err = np.array([s.density_stderr["isotropic"] for s in specs])[:, 1:-1]
    ratio = np.mean(err.mean(0) / dens.std(0, ddof=1))
    assert ratio == pytest.approx(1.0, rel=0.25)


def test_too_short_for_resolution_names_the_numbers():
    alpha = smooth_random_alpha(1000, np.random.default_rng(0))
    with pytest.raises(InputError) as exc:
        compute_raman_spectrum(alpha, 2.0, resolution_cm1=1.0)
    msg = str(exc.value)
    assert "\n" not in msg
    needed = segment_length_for_resolution(1.0, 2.0)
    assert "1000 frames" in msg and f"{needed} frames" in msg and "1 cm^-1" in msg
    # the suggested coarsest-possible resolution is accepted
    suggested = float(re.search(r"at least ([0-9.e+-]+) cm\^-1", msg).group(1))
    assert compute_raman_spectrum(alpha, 2.0, resolution_cm1=suggested).resolution_cm1 <= suggested


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input(bad):
    alpha = smooth_random_alpha(2000, np.random.default_rng(0))
    alpha[1234, 1, 2] = bad
    with pytest.raises(InputError, match="frame 1234"):
        compute_raman_spectrum(alpha, 2.0)


@pytest.mark.parametrize("dt", [-1.0, 0.0, np.nan])
def test_bad_timestep(dt):
    with pytest.raises(InputError, match="timestep_fs"):
        compute_raman_spectrum(np.ones((100, 3, 3)), dt)


def test_too_short_series_and_too_coarse_segments_are_refused():
    a = smooth_random_alpha(2000, np.random.default_rng(0))
    with pytest.raises(InputError, match="series of 2 frames is too short"):
        compute_raman_spectrum(a[:2], 2.0)
    with pytest.raises(InputError, match="series of 63 frames is too short"):
        compute_raman_spectrum(a[:63], 2.0)
    assert compute_raman_spectrum(a[:64], 2.0).density["total"].size == 9  # the shortest
    with pytest.raises(InputError, match=r"resolution 2000 cm\^-1 at 2 fs gives segments of 10"):
        compute_raman_spectrum(a, 2.0, resolution_cm1=2000.0)
    with pytest.raises(InputError, match="segment_length must be an integer >= 16"):
        compute_raman_spectrum(a, 2.0, segment_length=8)
    with pytest.raises(InputError, match="0 < T <= 5000 K"):
        compute_raman_spectrum(a, 2.0, temperature_k=1e6)
    with pytest.raises(InputError, match=r"timestep_fs = 1e\+09: .* at most 2085 fs apart"):
        compute_raman_spectrum(a, 1e9)
    with pytest.raises(InputError, match="laser wavelength must be a positive number of nm"):
        compute_raman_spectrum(a, 2.0, temperature_k=300.0, laser_wavelength_nm=np.nan)


def test_input_errors():
    rng = np.random.default_rng(0)
    a = smooth_random_alpha(2000, rng)
    with pytest.raises(InputError, match="same shape"):
        compute_raman_spectrum([a, a[:1500]], 2.0)
    with pytest.raises(InputError, match=r"\[S, 3, 3\]"):
        compute_raman_spectrum(a.reshape(-1, 9), 2.0)
    with pytest.raises(InputError, match="not both"):
        compute_raman_spectrum(a, 2.0, resolution_cm1=10.0, segment_length=100)
    with pytest.raises(InputError, match="window"):
        compute_raman_spectrum(a, 2.0, window="nonsense")
    with pytest.raises(InputError, match="overlap"):
        compute_raman_spectrum(a, 2.0, overlap=1.0)
    with pytest.raises(InputError, match="quantum correction"):
        compute_raman_spectrum(a, 2.0, quantum_correction="qm")
    with pytest.raises(InputError, match="temperature"):
        compute_raman_spectrum(a, 2.0, temperature_k=-5.0)
    with pytest.raises(InputError, match="smoothing"):
        compute_raman_spectrum(a, 2.0, smoothing=("boxcar", 3.0))
    with pytest.raises(InputError, match="geometry"):
        compute_raman_spectrum(a, 2.0, geometries=["z(zz)z̄"])
    with pytest.raises(InputError, match="exceeds"):
        compute_raman_spectrum(a, 2.0, segment_length=4000)


def test_remove_mean_only_changes_zero_bin_region():
    alpha = smooth_random_alpha(8192, np.random.default_rng(3))
    centred = alpha - alpha.mean(axis=0)
    a = compute_raman_spectrum(alpha, 2.0, segment_length=1024)
    b = compute_raman_spectrum(centred, 2.0, segment_length=1024, remove_mean=False)
    np.testing.assert_allclose(a.density["total"], b.density["total"], rtol=1e-9, atol=1e-12)
    c = compute_raman_spectrum(alpha, 2.0, segment_length=1024, remove_mean=False)
    assert c.density["isotropic"][0] > 100 * a.density["isotropic"][0]
