"""Tests of the low-frequency Raman metrics against analytic line shapes.

Analytic facts used (see ionraman.screening.lowfreq.debye_dho_model):

* An Ornstein–Uhlenbeck signal x(t) of variance σ² and correlation time τ has the one-sided
  density S(ν̃) = 4σ²cτ / (1 + (2πcν̃τ)²) (a Lorentzian, ∫_0^∞ S = σ²), so
  ∫_{ω1}^{ω2} S dν̃ ∝ arctan(kω2) − arctan(kω1) with k = 2πcτ.
* Its reduced spectrum χ'' = βħω S is a Debye relaxator with the same τ and amplitude
  A = 4σ²cħ/(k_B T); ∫ χ'' dν̃ ∝ ln(1 + (kν̃)²).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.signal import lfilter

from ionraman.conventions import HBAR_EV_S, KB_EV_K, SPEED_OF_LIGHT_CM_S
from ionraman.errors import InputError
from ionraman.screening.central_peak import (
    debye_dho_model,
    debye_wavenumber_cm1,
    fit_central_peak,
    fit_central_peak_from_spectrum,
)
from ionraman.screening.lowfreq import (
    INTERNAL_STANDARD_BAND_SOURCES,
    INTERNAL_STANDARD_BANDS_CM1,
    band_ratio,
    band_ratio_from_spectrum,
    integration_weights,
    lowfreq_fraction,
    lowfreq_fraction_from_spectrum,
)
from ionraman.spectra import compute_raman_spectrum

C_CM_PS = SPEED_OF_LIGHT_CM_S * 1e-12

# OU parameters: 4.2 ns of 4 fs frames; τ = 0.25 ps puts the Debye peak at 21 cm^-1.
OU_DT_FS = 4.0
OU_TAU_PS = 0.25
OU_FRAMES = 2**20
OU_TEMPERATURE_K = 300.0


def _ou_series(seed: int, n: int = OU_FRAMES) -> np.ndarray:
    """Exact discrete OU (AR(1)) series of unit stationary variance."""
    a = math.exp(-OU_DT_FS / (OU_TAU_PS * 1000.0))
    rng = np.random.default_rng(seed)
    x = lfilter([1.0], [1.0, -a], rng.normal(size=n) * math.sqrt(1.0 - a * a))
    x[0] = rng.normal()  # stationary start (lfilter starts from 0)
    return x


@pytest.fixture(scope="module")
def ou_spectrum():
    """RamanSpectrum of an isotropic OU polarizability δα = x(t)·I (total = isotropic)."""
    x = _ou_series(seed=2024)
    alpha = np.zeros((x.size, 3, 3))
    for i in range(3):
        alpha[:, i, i] = x
    spec = compute_raman_spectrum(
        alpha, OU_DT_FS, resolution_cm1=1.0, temperature_k=OU_TEMPERATURE_K
    )
    return spec, float(np.var(x))


def _k() -> float:
    return 2.0 * math.pi * C_CM_PS * OU_TAU_PS


# ------------------------------------------------------------------------------------------------
# integration
# ------------------------------------------------------------------------------------------------
def test_integration_weights_are_trapezoid_on_grid_and_exact_for_linear_functions() -> None:
    nu = np.arange(0.0, 20.0, 0.5)
    y = np.cos(nu / 3.0) + 2.0
    w = integration_weights(nu, 0.0, 10.0)
    on = nu <= 10.0
    assert w @ y == pytest.approx(np.trapezoid(y[on], nu[on]), rel=1e-13)
    assert w[0] == pytest.approx(0.25)  # the ν = 0 bin enters with the trapezoid half weight
    # partial bins at both edges: linear interpolation is exact for a linear function
    lin = 3.0 + 2.0 * nu
    lo, hi = 0.3, 7.7
    w = integration_weights(nu, lo, hi)
    exact = 3.0 * (hi - lo) + (hi**2 - lo**2)
    assert w @ lin == pytest.approx(exact, rel=1e-13)
    assert w.sum() == pytest.approx(hi - lo, rel=1e-13)


# ------------------------------------------------------------------------------------------------
# low-frequency fraction on an OU (Lorentzian central peak) spectrum
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("window", "ref_max"), [((0.0, 50.0), 500.0), ((0.0, 100.0), 500.0), ((5.0, 60.0), 400.0)]
)
def test_ou_classical_fraction_matches_arctan(ou_spectrum, window, ref_max) -> None:
    spec, _ = ou_spectrum
    m = lowfreq_fraction_from_spectrum(
        spec, "total", "classical", window_cm1=window, reference_max_cm1=ref_max
    )
    k = _k()
    w1, wc = window
    expected = (math.atan(k * wc) - math.atan(k * w1)) / (
        math.atan(k * ref_max) - math.atan(k * w1)
    )
    assert m.value == pytest.approx(expected, rel=0.02)
    assert m.stderr is not None and 0 < m.stderr < 0.02 * m.value
    assert (m.window_cm1, m.reference_window_cm1) == (window, (w1, ref_max))
    assert (m.channel, m.variant, m.metric) == ("total", "classical", "lowfreq_fraction")


def test_ou_reduced_fraction_matches_log_formula(ou_spectrum) -> None:
    spec, _ = ou_spectrum
    m = lowfreq_fraction_from_spectrum(spec, window_cm1=(0.0, 100.0), reference_max_cm1=500.0)
    assert m.variant == "reduced"  # the documented default
    k = _k()
    expected = math.log1p((k * 100.0) ** 2) / math.log1p((k * 500.0) ** 2)
    assert m.value == pytest.approx(expected, rel=0.02)


def test_ou_debye_fit_recovers_tau_and_amplitude(ou_spectrum) -> None:
    spec, variance = ou_spectrum
    fit = fit_central_peak_from_spectrum(spec, "total")
    assert fit.success, fit.message
    assert fit.oscillators == []  # the automatic peak finder must not invent oscillators
    assert fit.tau_ps == pytest.approx(OU_TAU_PS, rel=0.05)
    amplitude = 4.0 * variance * SPEED_OF_LIGHT_CM_S * HBAR_EV_S / (KB_EV_K * OU_TEMPERATURE_K)
    assert fit.A == pytest.approx(amplitude, rel=0.05)
    assert 0.5 < fit.chi2_red < 2.0  # stderr of the Welch segments describes the scatter
    assert fit.relaxation_wavenumber_cm1 == pytest.approx(debye_wavenumber_cm1(fit.tau_ps))
    json.dumps(fit.to_dict())


def test_bose_stokes_needs_window_above_zero(ou_spectrum) -> None:
    spec, _ = ou_spectrum
    spec.quantum_correction = "bose"
    try:
        with pytest.raises(InputError) as err:
            lowfreq_fraction_from_spectrum(spec, "total", "stokes", window_cm1=(0.0, 50.0))
        assert "\n" not in str(err.value) and "bose" in str(err.value)
        with pytest.raises(InputError):  # ω1 inside the first bin still needs the NaN bin
            lowfreq_fraction_from_spectrum(spec, "total", "stokes", window_cm1=(0.5, 50.0))
        nu1 = float(spec.wavenumber_cm1[1])
        m = lowfreq_fraction_from_spectrum(spec, "total", "stokes", window_cm1=(nu1, 50.0))
        assert 0.0 < m.value < 1.0
    finally:
        spec.quantum_correction = "harmonic"


# ------------------------------------------------------------------------------------------------
# error propagation
# ------------------------------------------------------------------------------------------------
def _lorentzian(nu: np.ndarray, hwhm: float) -> np.ndarray:
    return hwhm / (hwhm**2 + nu**2)


def test_propagated_stderr_matches_monte_carlo_for_independent_bins() -> None:
    rng = np.random.default_rng(7)
    nu = np.arange(0.0, 900.0, 1.0)
    clean = _lorentzian(nu, 20.0)
    err = 0.05 * clean + 1e-4
    values = [
        lowfreq_fraction(nu, clean + err * rng.normal(size=nu.size), variant="classical").value
        for _ in range(2000)
    ]
    predicted = lowfreq_fraction(nu, clean, err, variant="classical").stderr
    assert np.std(values, ddof=1) == pytest.approx(predicted, rel=0.08)


def test_independent_runs_give_value_of_mean_and_scatter_error() -> None:
    rng = np.random.default_rng(3)
    nu = np.arange(0.0, 900.0, 1.0)
    runs = _lorentzian(nu, 20.0) * (1.0 + 0.1 * rng.normal(size=(5, nu.size)))
    m = lowfreq_fraction(nu, runs, variant="classical")
    assert m.value == pytest.approx(lowfreq_fraction(nu, runs.mean(axis=0)).value, rel=1e-12)
    per_run = [lowfreq_fraction(nu, r).value for r in runs]
    assert m.stderr == pytest.approx(np.std(per_run, ddof=1) / math.sqrt(5), rel=1e-12)
    assert "runs" in m.stderr_method
    d = m.to_dict()
    assert d["window_cm1"] == [0.0, 50.0] and d["reference_window_cm1"] == [0.0, 800.0]
    json.dumps(d)


def _short_run(rng: np.random.Generator, n: int = 1000, dt_fs: float = 10.0) -> np.ndarray:
    """A 10-ps α series: a Debye relaxation (τ = 0.5 ps) plus a damped 200 cm⁻¹ oscillator in
    each diagonal component and in xy (the central peak beside a band, like the MD runs)."""

    def channel() -> np.ndarray:
        a = math.exp(-dt_fs / 500.0)
        x = lfilter([1.0], [1.0, -a], rng.normal(size=n + 500) * math.sqrt(1 - a * a))[500:]
        w, r = 2 * math.pi * C_CM_PS * 1e-3 * 200.0 * dt_fs, math.exp(-dt_fs / 300.0)
        y = lfilter([1.0], [1.0, -2 * r * math.cos(w), r * r], rng.normal(size=n + 500))[500:]
        return 0.3 * x + y / y.std()

    alpha = np.zeros((n, 3, 3))
    for i in range(3):
        alpha[:, i, i] = channel()
    alpha[:, 0, 1] = alpha[:, 1, 0] = channel()
    return alpha


def test_time_block_bootstrap_error_matches_run_to_run_scatter() -> None:
    """150 independent 10-ps runs: the block-bootstrap error of each run describes the scatter of
    the metric between runs; the per-bin propagation (bins assumed independent) underestimates
    it (measured: 0.79x; block bootstrap 1.03-1.1x)."""
    values, block_se, bin_se = [], [], []
    for seed in range(150):
        spec = compute_raman_spectrum(
            _short_run(np.random.default_rng(seed)), 10.0, resolution_cm1=10.0, temperature_k=500.0
        )
        assert spec.metadata["n_blocks"] == spec.block_density["total"].shape[0] >= 3
        m = lowfreq_fraction_from_spectrum(spec)
        assert m.stderr_method.startswith("bootstrap over")
        per_bin = lowfreq_fraction(
            spec.wavenumber_cm1, spec.intensity("total", "reduced"), spec.stderr("total", "reduced")
        )
        assert per_bin.value == m.value  # the blocks change the error only
        values.append(m.value)
        block_se.append(m.stderr)
        bin_se.append(per_bin.stderr)
    scatter = np.std(values, ddof=1)
    rms = lambda e: math.sqrt(np.mean(np.square(e)))  # noqa: E731
    assert 0.85 < rms(block_se) / scatter < 1.3
    assert rms(bin_se) < 0.9 * scatter


def test_blocks_are_checked() -> None:
    nu = np.arange(0.0, 900.0, 1.0)
    y = _lorentzian(nu, 20.0)
    with pytest.raises(InputError, match="blocks must have shape"):
        lowfreq_fraction(nu, y, blocks=y[None, :])
    with pytest.raises(InputError, match="not both"):
        lowfreq_fraction(nu, np.stack([y, y]), blocks=np.stack([y, y]))
    m = band_ratio(nu, y, blocks=np.stack([y, 1.1 * y, 0.9 * y]), band=(300.0, 400.0))
    assert m.stderr == pytest.approx(0.0, abs=1e-12) and "3 time blocks" in m.stderr_method


def test_nan_stderr_gives_no_error_estimate() -> None:
    nu = np.arange(0.0, 900.0, 1.0)
    m = lowfreq_fraction(nu, _lorentzian(nu, 20.0), np.full(nu.size, np.nan))
    assert m.stderr is None and m.value > 0


# ------------------------------------------------------------------------------------------------
# band ratio
# ------------------------------------------------------------------------------------------------
def test_band_ratio_against_analytic_integrals() -> None:
    nu = np.arange(0.0, 800.0, 0.5)
    hwhm, band_area, centre, width = 15.0, 2.0, 366.0, 6.0
    gauss = band_area * np.exp(-0.5 * ((nu - centre) / width) ** 2) / (width * math.sqrt(2 * np.pi))
    spectrum = _lorentzian(nu, hwhm) + gauss
    lo, hi = INTERNAL_STANDARD_BANDS_CM1["SbS4"]
    num = math.atan(50.0 / hwhm)
    den = math.atan(hi / hwhm) - math.atan(lo / hwhm) + band_area  # Gaussian fully inside
    m = band_ratio(nu, spectrum, band="SbS4", variant="classical")
    assert m.value == pytest.approx(num / den, rel=1e-3)
    assert (m.metric, m.reference_band, m.reference_window_cm1) == ("band_ratio", "SbS4", (lo, hi))
    for name in INTERNAL_STANDARD_BANDS_CM1:
        assert "estimate" in INTERNAL_STANDARD_BAND_SOURCES[name]
    explicit = band_ratio(nu, spectrum, band=(lo, hi), variant="classical")
    assert explicit.value == pytest.approx(m.value) and explicit.reference_band is None


def test_band_ratio_from_spectrum_uses_stderr(ou_spectrum) -> None:
    spec, _ = ou_spectrum
    m = band_ratio_from_spectrum(spec, "PS4", "total", "classical", window_cm1=(0.0, 50.0))
    k = _k()
    lo, hi = INTERNAL_STANDARD_BANDS_CM1["PS4"]
    expected = math.atan(k * 50.0) / (math.atan(k * hi) - math.atan(k * lo))
    # the Lorentzian tail at 380-450 cm^-1 is 0.3 % of the peak: Welch noise dominates there
    assert m.value == pytest.approx(expected, rel=0.1)
    assert m.stderr is not None and m.stderr > 0


# ------------------------------------------------------------------------------------------------
# Debye + DHO fit on synthetic reduced spectra
# ------------------------------------------------------------------------------------------------
TRUE_A, TRUE_TAU = 2.0, 0.3
TRUE_OSC = [(0.5, 60.0, 10.0), (0.3, 110.0, 15.0)]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [True, False])
def test_debye_dho_fit_recovers_parameters(seed: int, weighted: bool) -> None:
    nu = np.arange(0.0, 400.0, 0.5)
    clean = debye_dho_model(nu, TRUE_A, TRUE_TAU, TRUE_OSC)
    err = 0.03 * clean
    noisy = clean + err * np.random.default_rng(seed).normal(size=nu.size)
    fit = fit_central_peak(nu, noisy, err if weighted else None)
    assert fit.success, fit.message
    assert fit.A == pytest.approx(TRUE_A, rel=0.05)
    assert fit.tau_ps == pytest.approx(TRUE_TAU, rel=0.05)
    assert len(fit.oscillators) == len(TRUE_OSC)
    for osc, (a, w, g) in zip(fit.oscillators, TRUE_OSC, strict=True):
        assert osc.amplitude == pytest.approx(a, rel=0.05)
        assert osc.omega_cm1 == pytest.approx(w, rel=0.05)
        assert osc.gamma_cm1 == pytest.approx(g, rel=0.05)
        assert osc.omega_err_cm1 > 0
    if weighted:
        assert 0.7 < fit.chi2_red < 1.4
    assert fit.to_dict()["oscillators"][0]["omega_cm1"] == pytest.approx(
        fit.oscillators[0].omega_cm1
    )


def test_poor_fits_return_failure_not_exceptions() -> None:
    nu = np.arange(0.0, 300.0, 1.0)
    with_osc = debye_dho_model(nu, 1.0, 0.3, [(0.5, 60.0, 10.0)])
    fit = fit_central_peak(nu, with_osc, 0.01 * with_osc, n_oscillators=0)
    assert not fit.success and "chi2_red" in fit.message
    fit = fit_central_peak(nu, with_osc, 0.01 * with_osc, n_oscillators=3)
    assert not fit.success and "find_peaks found 1" in fit.message
    fit = fit_central_peak(nu, np.zeros_like(nu))
    assert not fit.success and fit.message
    slow = debye_dho_model(nu, 1.0, 500.0)  # relaxation at 0.01 cm^-1, far below the grid
    fit = fit_central_peak(nu, slow, 0.01 * slow + 1e-9)
    assert not fit.success and "bound" in fit.message
    fit = fit_central_peak(nu, with_osc, oscillator_guesses_cm1=[(55.0, 20.0)])
    assert fit.success and fit.oscillators[0].omega_cm1 == pytest.approx(60.0, rel=1e-6)


# ------------------------------------------------------------------------------------------------
# bad input: one-line InputError
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"window_cm1": (0.0, 2000.0)}, "outside the spectrum"),
        ({"window_cm1": (-5.0, 50.0)}, "outside the spectrum"),
        ({"window_cm1": (0.0, 50.0), "reference_max_cm1": 5000.0}, "outside the spectrum"),
        ({"window_cm1": (50.0, 50.0)}, "lo < hi"),
        ({"window_cm1": (60.0, 50.0)}, "lo < hi"),
        ({"window_cm1": (0.0, 100.0), "reference_max_cm1": 80.0}, "reference_max_cm1"),
    ],
)
def test_bad_windows_raise_one_line_input_error(kwargs, fragment) -> None:
    nu = np.arange(0.0, 1000.0, 1.0)
    with pytest.raises(InputError) as err:
        lowfreq_fraction(nu, _lorentzian(nu, 20.0), **kwargs)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_bose_nan_bin_at_zero_raises_for_arrays() -> None:
    nu = np.arange(0.0, 1000.0, 1.0)
    y = _lorentzian(nu, 20.0)
    y[0] = np.nan
    with pytest.raises(InputError, match="start the window at >= 1 cm"):
        lowfreq_fraction(nu, y, window_cm1=(0.0, 50.0), variant="stokes")
    assert lowfreq_fraction(nu, y, window_cm1=(1.0, 50.0)).value > 0


def test_other_bad_inputs() -> None:
    nu = np.arange(0.0, 1000.0, 1.0)
    y = _lorentzian(nu, 20.0)
    with pytest.raises(InputError, match="shape"):
        lowfreq_fraction(nu, y[:-1])
    with pytest.raises(InputError, match="overlaps the band"):
        band_ratio(nu, y, band="SbS4", window_cm1=(0.0, 360.0))
    with pytest.raises(InputError, match="unknown internal-standard band"):
        band_ratio(nu, y, band="XyZ4")
    with pytest.raises(InputError, match="fit window"):
        fit_central_peak(nu, y, window_cm1=(0.0, 2.5))
    with pytest.raises(InputError, match="outside the spectrum"):
        fit_central_peak(nu, y, window_cm1=(0.0, 5000.0))
    bad = y.copy()
    bad[10] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fit_central_peak(nu, bad)
    with pytest.raises(InputError, match="positive"):
        lowfreq_fraction(nu, np.zeros_like(y))
