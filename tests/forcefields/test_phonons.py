"""Γ phonons by finite differences (phonopy): units, symmetry labels and the audit table on
analytic bond springs."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from ionraman.forcefields import audit
from ionraman.forcefields.phonons import gamma_displacements, gamma_modes

from .conftest import BondSprings, labelled_by

pytest.importorskip("phonopy")


def _forces(structures: list[Atoms], calc) -> list[np.ndarray]:
    return [a.get_forces() for a in labelled_by(structures, calc)]


def test_gamma_modes_of_bond_springs(t16: Atoms) -> None:
    """Springs on the Sb–S bonds only: the breathing of each SbS4 (Sb at rest) is an exact mode
    at √(k/m_S); with Na–S springs too, phonopy's symmetry-reduced modes equal a brute-force
    Hessian's and the most breathing-like mode is the A1 one."""
    k = 15.0
    displaced = gamma_displacements(t16, 0.01)
    assert len(displaced) == 14  # P-42_1c, 4 inequivalent atoms, ± displacements
    modes = gamma_modes("springs", t16, _forces(displaced, BondSprings(t16, k)), 0.01)
    m_s = t16.get_masses()[t16.numbers == 16][0]
    assert modes.a1_stretch_cm1 == pytest.approx(
        np.sqrt(k / m_s) * audit.CM1_PER_SQRT_EV_A2_AMU, rel=1e-4)

    calc = BondSprings(t16, k, k_na=1.0)
    modes = gamma_modes("springs", t16, _forces(displaced, calc), 0.01)
    best = int(np.argmax(modes.breathing_overlap))
    assert modes.irreps[best] == "A1" and modes.breathing_overlap[best] > 0.95
    assert modes.a1_stretch_cm1 == modes.frequencies_cm1[best]
    assert {"A1", "A2", "B1", "B2", "E"} <= set(modes.irreps)
    n = len(t16)
    hessian = np.zeros((3 * n, 3 * n))
    for c in range(3 * n):
        pair = []
        for sign in (1, -1):
            a = t16.copy()
            a.positions[c // 3, c % 3] += sign * 0.01
            a.calc = calc
            pair.append(a.get_forces().ravel())
        hessian[:, c] = -(pair[0] - pair[1]) / 0.02
    inv_sqrt_m = 1 / np.sqrt(np.repeat(t16.get_masses(), 3))
    values = np.linalg.eigvalsh(0.5 * (hessian + hessian.T) * np.outer(inv_sqrt_m, inv_sqrt_m))
    brute = np.sign(values) * np.sqrt(np.abs(values)) * audit.CM1_PER_SQRT_EV_A2_AMU
    np.testing.assert_allclose(sorted(modes.frequencies_cm1), sorted(brute), atol=0.5)


def test_audit_compares_gamma_modes_with_dft(t16: Atoms, springs: str) -> None:
    displaced = gamma_displacements(t16, 0.01)
    stiffer = _forces(displaced, BondSprings(t16, 15.0 * 1.1))  # "DFT": 10 % stiffer
    result = audit.audit_force_fields([springs], phonon_structures={"t16": t16},
                                      dft_phonons={"t16": stiffer}, relax=False)
    table = result.phonon_table().set_index("source")
    assert table.loc[springs, "A1_stretch_dev_pct"] == pytest.approx(
        100 * (1 / np.sqrt(1.1) - 1), rel=1e-3)
    assert table.loc[springs, "stretch_max_abs_dev_pct"] == pytest.approx(
        100 * (1 - 1 / np.sqrt(1.1)), rel=1e-3)
    assert table.loc["DFT", "A1_stretch_dev_pct"] == pytest.approx(0.0)
    assert "phonons" in result.to_json()
