"""Instrument model: Voigt broadening, frequency scaling, filter cutoff, scale-factor fit."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.errors import InputError
from ionraman.spectra.compare import find_peak_table
from ionraman.spectra.instrument import (
    InstrumentModel,
    apply_instrument,
    broaden,
    fit_scale_factor,
    scale_frequencies,
    simulated_curve,
)
from ionraman.spectra.result import RamanSpectrum

NU = np.arange(0.0, 1000.0001, 0.5)


def _lines(centres, fwhm=2.0, nu=NU):
    hw = fwhm / 2
    return sum(hw / np.pi / ((nu - c) ** 2 + hw**2) for c in centres)


def _fwhm(nu, y):
    table = find_peak_table(nu, y)
    return float(table["fwhm_cm1"].iloc[0])


def test_gaussian_broadening_of_a_narrow_line_gives_the_instrument_width():
    y = np.zeros_like(NU)
    y[NU == 400.0] = 1.0 / 0.5  # unit-area single-bin line
    out = broaden(NU, y, gaussian_fwhm_cm1=8.0)
    assert np.trapezoid(out, NU) == pytest.approx(1.0, rel=1e-9)
    assert _fwhm(NU, out) == pytest.approx(8.0, rel=0.02)
    assert NU[np.argmax(out)] == 400.0


def test_voigt_width_and_area():
    y = _lines([300.0], fwhm=4.0)
    out = broaden(NU, y, gaussian_fwhm_cm1=6.0, lorentzian_fwhm_cm1=2.0)
    # Lorentzian widths add; the Voigt FWHM (Olivero-Longbothum) of fL = 6, fG = 6 is ~9.7
    fl, fg = 6.0, 6.0
    expected = 0.5346 * fl + np.sqrt(0.2166 * fl**2 + fg**2)
    assert _fwhm(NU, out) == pytest.approx(expected, rel=0.03)
    assert np.trapezoid(out, NU) == pytest.approx(np.trapezoid(y, NU), rel=2e-3)


def test_parity_at_zero_even_for_stokes_odd_for_reduced():
    even = np.exp(-((NU / 30.0) ** 2))  # central-peak-like, smooth at 0
    b_even = broaden(NU, even, gaussian_fwhm_cm1=10.0, parity="even")
    # mirrored: the exact convolution gives (1 + 2 sigma^2 / 30^2)^-1/2 at 0; no edge loss (~0.5)
    sigma = 10.0 / (2 * np.sqrt(2 * np.log(2)))
    assert b_even[0] == pytest.approx((1 + 2 * sigma**2 / 900) ** -0.5, rel=2e-3)
    odd = NU * np.exp(-NU / 20.0)  # reduced-like: zero at 0
    b_odd = broaden(NU, odd, gaussian_fwhm_cm1=10.0, parity="odd")
    assert abs(b_odd[0]) < 1e-12
    with pytest.raises(InputError, match="parity"):
        broaden(NU, odd, 1.0, parity="weird")


def test_broaden_checks_its_grid():
    with pytest.raises(InputError, match="uniform"):
        broaden(np.array([0.0, 1.0, 3.0, 4.0]), np.ones(4), 1.0)
    y = _lines([100.0])
    np.testing.assert_array_equal(broaden(NU, y), y)  # no width: a copy


def test_scale_frequencies_moves_lines_and_keeps_area():
    y = _lines([200.0, 500.0], fwhm=6.0)
    out = scale_frequencies(NU, y, 1.03)
    peaks = find_peak_table(NU, out)["position_cm1"].to_numpy()
    np.testing.assert_allclose(peaks, [206.0, 515.0], atol=0.05)
    assert np.trapezoid(out, NU) == pytest.approx(np.trapezoid(y, NU), rel=1e-3)
    with pytest.raises(InputError):
        scale_frequencies(NU, y, -1.0)


def test_apply_instrument_cutoff_and_model_validation():
    y = _lines([50.0, 300.0])
    nu, out = apply_instrument(NU, y, InstrumentModel(gaussian_fwhm_cm1=3.0, cutoff_cm1=20.0))
    assert nu[0] >= 20.0 and nu.size == out.size
    model = InstrumentModel(gaussian_fwhm_cm1=1.0, cutoff_cm1=5.0, scale_factor=1.02)
    assert model.to_dict()["scale_factor"] == 1.02
    assert model.with_scale(0.98).scale_factor == 0.98
    for bad in (
        {"gaussian_fwhm_cm1": -1.0},
        {"lorentzian_fwhm_cm1": float("nan")},
        {"cutoff_cm1": -5.0},
        {"scale_factor": 0.0},
    ):
        with pytest.raises(InputError):
            InstrumentModel(**bad)
    with pytest.raises(InputError, match="fewer than 3"):
        apply_instrument(NU, y, InstrumentModel(cutoff_cm1=5000.0))


def test_simulated_curve_of_a_raman_spectrum():
    s = _lines([100.0, 400.0], fwhm=4.0)
    spec = RamanSpectrum(NU, {"total": s}, {"total": 0 * s}, 300.0, "harmonic", None, 0.5)
    nu, red = simulated_curve(spec, "total", "reduced", InstrumentModel(gaussian_fwhm_cm1=5.0))
    assert nu.size == NU.size
    assert red[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.isfinite(red))


@pytest.mark.parametrize("true_scale", [0.96, 1.0, 1.035])
def test_fit_scale_factor_recovers_a_known_softening(true_scale):
    centres = [120.0, 210.0, 365.0, 410.0]
    sim = _lines(centres, fwhm=5.0)
    x = np.arange(30.0, 800.0, 0.7)
    target = _lines([true_scale * c for c in centres], fwhm=5.0, nu=x)
    model = InstrumentModel(gaussian_fwhm_cm1=3.0)
    target_b = np.interp(x, NU, broaden(NU, np.interp(NU, x, target), 3.0))
    fit = fit_scale_factor(x, target_b, NU, sim, model=model, bounds=(0.9, 1.1))
    assert fit.scale_factor == pytest.approx(true_scale, abs=1e-3)
    assert fit.pearson > 0.99
    assert not fit.at_bound
    if true_scale != 1.0:
        assert fit.pearson > fit.pearson_unscaled
    with pytest.raises(InputError, match="bounds"):
        fit_scale_factor(x, target, NU, sim, bounds=(1.05, 1.1))
