"""Weighted Arrhenius fits: exact recovery, honest error bars, extrapolation."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.conventions import KB_EV_K
from ionraman.errors import InputError
from ionraman.transport.arrhenius import arrhenius_fit

T = np.array([500.0, 600.0, 700.0, 800.0, 900.0, 1000.0])
EA, D0 = 0.25, 2e-3


def _d(temps):
    return D0 * np.exp(-EA / (KB_EV_K * temps))


def test_noiseless_exact_recovery_and_extrapolation():
    fit = arrhenius_fit(T, _d(T), 0.05 * _d(T))
    assert fit.Ea_eV == pytest.approx(EA, rel=1e-10)
    assert fit.prefactor == pytest.approx(D0, rel=1e-10)
    ext = fit.extrapolate(300.0)
    assert ext["value"] == pytest.approx(_d(300.0), rel=1e-10)
    assert ext["low"] < ext["value"] < ext["high"]
    assert ext["std"] > 0
    assert fit.covariance.shape == (2, 2)
    assert fit.to_dict()["prefactor_unit"] == "cm^2/s"
    assert list(fit.to_dataframe().columns)[:3] == ["kind", "Ea_eV", "Ea_std_eV"]


def test_noisy_recovery_within_error_bar_and_calibrated_sigma():
    rng = np.random.default_rng(42)
    rel = 0.08
    fits = []
    for _ in range(2000):
        d = _d(T) * np.exp(rng.normal(scale=rel, size=T.size))
        fits.append(arrhenius_fit(T, d, rel * d))
    one = fits[0]
    # the first realisation: truth within its 2σ error bars
    assert abs(one.Ea_eV - EA) <= 2 * one.Ea_std_eV
    assert abs(one.prefactor - D0) <= 2 * one.prefactor_std
    # the reported σ(Ea) matches the actual scatter of fitted Ea over realisations
    ea = np.array([f.Ea_eV for f in fits])
    assert np.std(ea) == pytest.approx(one.Ea_std_eV, rel=0.1)
    assert np.mean(ea) == pytest.approx(EA, abs=3 * one.Ea_std_eV / np.sqrt(len(fits)) + 1e-4)
    # extrapolated ln D(300 K): σ matches the scatter as well
    ln300 = np.array([np.log(f.extrapolate(300.0)["value"]) for f in fits])
    assert np.std(ln300) == pytest.approx(one.extrapolate(300.0)["ln_std"], rel=0.1)
    # coverage of the 1σ interval of Ea is close to 68 %
    cover = np.mean([abs(f.Ea_eV - EA) <= f.Ea_std_eV for f in fits])
    assert 0.64 < cover < 0.72


def test_sigma_t_form():
    ea, a = 0.3, 5e3  # σT = A exp(−Ea/kT), S K / cm
    sigma = a / T * np.exp(-ea / (KB_EV_K * T))
    fit = arrhenius_fit(T, sigma, 0.1 * sigma, kind="sigmaT")
    assert fit.Ea_eV == pytest.approx(ea, rel=1e-10)
    assert fit.prefactor == pytest.approx(a, rel=1e-10)
    assert fit.extrapolate(300.0)["value"] == pytest.approx(
        a / 300.0 * np.exp(-ea / (KB_EV_K * 300.0)), rel=1e-10
    )


def test_unweighted_and_errors():
    fit = arrhenius_fit(T, _d(T) * (1 + 0.01 * np.sin(T)))
    assert fit.Ea_eV == pytest.approx(EA, rel=0.05)
    with pytest.raises(InputError):
        arrhenius_fit(T[:2], _d(T[:2]))
    with pytest.raises(InputError):
        arrhenius_fit(T, -_d(T), 0.1 * _d(T))
    with pytest.raises(InputError):
        arrhenius_fit(T, _d(T), 0.1 * _d(T), kind="VTF")
