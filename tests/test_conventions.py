"""Tests of the conventions module: component orders and spectrum factors."""

import numpy as np
import pytest

from ionraman import conventions as cv
from ionraman.errors import InputError


def _random_symmetric(rng: np.random.Generator, n: int = 5) -> np.ndarray:
    a = rng.normal(size=(n, 3, 3))
    return a + np.swapaxes(a, -1, -2)


@pytest.mark.parametrize("order", list(cv.COMPONENT_ORDERS))
def test_component_order_round_trip(order: str) -> None:
    rng = np.random.default_rng(1)
    m = _random_symmetric(rng)
    comps = cv.from_matrix(m, order)
    assert comps.shape == (5, len(cv.COMPONENT_ORDERS[order]))
    np.testing.assert_allclose(cv.to_matrix(comps, order), m, rtol=0, atol=1e-14)
    np.testing.assert_allclose(cv.from_matrix(cv.to_matrix(comps, order), order), comps, atol=1e-14)


def test_component_orders_match_documented_layouts() -> None:
    m = np.array([[1.0, 6.0, 5.0], [6.0, 2.0, 4.0], [5.0, 4.0, 3.0]])
    # ASE Voigt: xx, yy, zz, yz, xz, xy
    np.testing.assert_array_equal(cv.from_matrix(m, "ase-voigt"), [1, 2, 3, 4, 5, 6])
    # GPUMD polarizability.out: xx, yy, zz, xy, yz, zx
    np.testing.assert_array_equal(cv.from_matrix(m, "gpumd"), [1, 2, 3, 6, 4, 5])
    np.testing.assert_array_equal(cv.from_matrix(m, "vasp"), [1, 2, 3, 6, 4, 5])
    # NEP pol=: 9 components row by row
    np.testing.assert_array_equal(cv.from_matrix(m, "nep-9"), m.ravel())


def test_cross_order_conversion() -> None:
    rng = np.random.default_rng(2)
    m = _random_symmetric(rng, 3)
    voigt = cv.from_matrix(m, "ase-voigt")
    gpumd = cv.from_matrix(cv.to_matrix(voigt, "ase-voigt"), "gpumd")
    np.testing.assert_allclose(cv.to_matrix(gpumd, "gpumd"), m, atol=1e-14)


def test_bad_orders_and_shapes_raise_one_line_errors() -> None:
    with pytest.raises(InputError, match="unknown component order 'abc'"):
        cv.to_matrix(np.zeros(6), "abc")
    with pytest.raises(InputError, match="needs 6 components per row, got 5"):
        cv.to_matrix(np.zeros((2, 5)), "ase-voigt")
    with pytest.raises(InputError, match=r"\[\.\.\., 3, 3\]"):
        cv.from_matrix(np.zeros((2, 3)), "ase-voigt")


def test_quantum_corrections() -> None:
    nu = np.array([0.0, 1.0, 50.0, 500.0])
    t = 300.0
    x = cv.HC_EV_CM * nu / (cv.KB_EV_K * t)
    q_h = cv.quantum_correction_factor(nu, t, "harmonic")
    assert q_h[0] == 1.0
    np.testing.assert_allclose(q_h[1:], x[1:] / (1 - np.exp(-x[1:])), rtol=1e-12)
    q_b = cv.quantum_correction_factor(nu, t, "bose")
    assert np.isnan(q_b[0])
    np.testing.assert_allclose(q_b[1:], 1 / (1 - np.exp(-x[1:])), rtol=1e-12)
    # harmonic = (n + 1) * beta hbar omega
    np.testing.assert_allclose(q_h[1:], q_b[1:] * x[1:], rtol=1e-12)
    np.testing.assert_array_equal(cv.quantum_correction_factor(nu, t, "none"), 1.0)
    # 208.5 cm^-1 is k_B T at 300 K
    assert cv.beta_hbar_omega(np.array([208.5]), 300.0)[0] == pytest.approx(1.0, rel=1e-3)
    with pytest.raises(InputError, match="unknown quantum correction"):
        cv.quantum_correction_factor(nu, t, "classical")
    with pytest.raises(InputError, match="temperature must be positive"):
        cv.quantum_correction_factor(nu, -5.0, "harmonic")


def test_laser_factor_and_units() -> None:
    laser = cv.laser_wavelength_nm_to_cm1(532.0)
    assert laser == pytest.approx(18796.99, rel=1e-6)
    f = cv.laser_factor(np.array([0.0, 100.0]), laser)
    assert f[0] == 1.0
    assert f[1] == pytest.approx(((laser - 100.0) / laser) ** 4)
    # 1 fs sampling: Nyquist 16678.2 cm^-1
    assert cv.timestep_fs_to_nyquist_cm1(1.0) == pytest.approx(16678.2, rel=1e-5)
    meta = cv.conventions_metadata(quantum_correction="harmonic", temperature_K=600.0)
    assert meta["units"]["polarizability"] == "angstrom^3"
    assert "beta hbar omega" in meta["quantum_correction_definition"]
