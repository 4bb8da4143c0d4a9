"""Nernst–Einstein conductivity on a hand-computed case, and the Haven ratio."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.errors import InputError
from ionraman.transport.conductivity import (
    haven_ratio,
    nernst_einstein_conductivity,
    number_density_cm3,
)


def test_nernst_einstein_hand_computed():
    # 10 ions in 1000 Å³ = 1e-21 cm³ → n = 1e22 cm⁻³; D = 1e-6 cm²/s; T = 300 K; q = 1.
    # σ = n e² D / (k_B T) = 1e22 · (1.602176634e-19 C)² · 1e-6 / (1.380649e-23 J/K · 300 K)
    #   = 2.566969932e-22 / 4.141947e-21 = 0.0619750 S/cm
    assert number_density_cm3(10, 1000.0) == pytest.approx(1e22)
    sigma, std = nernst_einstein_conductivity(1e-6, 10, 1000.0, 300.0, 1.0, D_std_cm2_s=2e-7)
    assert sigma == pytest.approx(0.0619750, rel=1e-5)
    assert std == pytest.approx(0.2 * sigma)
    # q = 2 (e.g. Mg²⁺): four times larger; T doubled: half
    assert nernst_einstein_conductivity(1e-6, 10, 1000.0, 300.0, 2.0)[0] == pytest.approx(
        4 * sigma
    )
    assert nernst_einstein_conductivity(1e-6, 10, 1000.0, 600.0)[0] == pytest.approx(sigma / 2)
    assert nernst_einstein_conductivity(1e-6, 10, 1000.0, 300.0)[1] is None


def test_conductivity_rejects_unphysical_input():
    with pytest.raises(InputError):
        nernst_einstein_conductivity(1e-6, 10, 1000.0, 0.0)
    with pytest.raises(InputError):
        number_density_cm3(0, 1000.0)


def test_haven_ratio():
    h, s = haven_ratio(1e-6, 2e-6, 1e-7, 2e-7)
    assert h == pytest.approx(0.5)
    assert s == pytest.approx(0.5 * np.hypot(0.1, 0.1))
    assert haven_ratio(1e-6, 2e-6) == (pytest.approx(0.5), None)
    rng = np.random.default_rng(0)
    a = rng.normal(1e-6, 1e-8, 20000)
    b = rng.normal(2e-6, 2e-7, 20000)
    h, s = haven_ratio(a.mean(), b.mean(), samples_tracer=a, samples_sigma=b)
    assert h == pytest.approx(0.5, rel=1e-2)
    assert s == pytest.approx(0.5 * np.hypot(0.01, 0.1), rel=0.05)
