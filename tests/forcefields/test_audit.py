"""Force-field audit against DFT: error definitions and stretching modes on analytic models."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from ionraman.errors import InputError
from ionraman.forcefields import audit

from .conftest import BondSprings, labelled_by


def test_stretch_coordinates_of_t_na3sbs4(t16: Atoms) -> None:
    coords, masses, bonds = audit.stretch_coordinates(t16)
    assert coords.shape == (8, 16, 3)  # two SbS4 units, four S each
    np.testing.assert_allclose(np.linalg.norm(coords.reshape(8, -1), axis=1), 1.0)
    assert set(np.array(t16.get_chemical_symbols())[[b for _, b in bonds]]) == {"S"}
    np.testing.assert_allclose(masses, t16.get_masses()[t16.numbers == 16][0])
    broken = t16.copy()
    broken.positions[bonds[0][1]] += 1.5 * coords[0, bonds[0][1]]  # pull one S away
    with pytest.raises(InputError, match="four"):
        audit.stretch_coordinates(broken)
    with pytest.raises(InputError, match="no tetrahedral"):
        audit.stretch_coordinates(Atoms("Na2", positions=[[0, 0, 0], [2, 0, 0]], cell=[5] * 3,
                                        pbc=True))


def test_stretch_frequencies_of_bond_springs_are_analytic(t16: Atoms) -> None:
    """Springs of k on each Sb–S bond, Sb clamped: every radial stretch has ω = √(k/m_S)."""
    k = 15.0
    calc = BondSprings(t16, k)
    coords, masses, _ = audit.stretch_coordinates(t16)
    displaced = audit.displaced_structures(t16, coords, 0.01)
    assert len(displaced) == 16 and displaced[1].info["sign"] == -1
    forces = []
    for a in displaced:
        a.calc = calc
        forces.append(a.get_forces())
    modes = audit.stretch_modes("springs", coords, masses, forces, 0.01)
    expected = np.sqrt(k / masses[0]) * audit.CM1_PER_SQRT_EV_A2_AMU
    np.testing.assert_allclose(modes.frequencies_cm1, expected, rtol=1e-4)
    assert audit.CM1_PER_SQRT_EV_A2_AMU == pytest.approx(521.47, abs=0.01)
    # the measured DFT breathing curvature of this cell (15.11 eV/Å², facts) is 358 cm⁻¹
    assert np.sqrt(15.11 / 32.06) * audit.CM1_PER_SQRT_EV_A2_AMU == pytest.approx(358, abs=0.5)
    with pytest.raises(InputError, match="expected 16"):
        audit.stretch_modes("x", coords, masses, forces[:-1], 0.01)


def test_audit_against_a_known_reference(t16: Atoms, springs: str) -> None:
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(3):
        a = t16.copy()
        a.positions += rng.normal(0, 0.05, a.positions.shape)
        frames.append(a)
    # "DFT" = the springs with every force component shifted by 0.1 eV/Å and energy by 5 eV:
    # the force RMSE is exactly 100 meV/Å, the composition-centred energy error zero
    reference = labelled_by(frames, BondSprings(t16, 15.0), force_shift=0.1, energy_shift=5.0)
    coords, masses, _ = audit.stretch_coordinates(t16)
    stiffer = [labelled_by([a], BondSprings(t16, 15.0 * 1.1))[0].get_forces()
               for a in audit.displaced_structures(t16, coords, 0.01)]
    result = audit.audit_force_fields(
        [springs, "no-such-model"], reference, {"t16": t16}, dft_stretch={"t16": stiffer},
        dft_pressure_GPa={"t16": 1.0}, relax=False,
    )
    errors = result.errors_table().set_index("model").loc[springs]
    assert errors["force_rmse_meV_A"] == pytest.approx(100.0)
    assert errors["force_mae_meV_A"] == pytest.approx(100.0)
    for species in ("Na", "S", "Sb"):
        assert errors[f"force_rmse_{species}_meV_A"] == pytest.approx(100.0)
    assert errors["energy_rmse_centred_meV_atom"] == pytest.approx(0.0, abs=1e-9)
    assert errors["stress_rmse_GPa"] == pytest.approx(0.0)
    stretch = result.stretch_table().set_index("source")
    # "DFT" is 10 % stiffer: every frequency √1.1 higher, the model 4.65 % below it
    assert stretch.loc[springs, "max_abs_dev_pct"] == pytest.approx(
        100 * (1 - 1 / np.sqrt(1.1)), rel=1e-3)
    assert stretch.loc["DFT", "breathing_cm1"] == pytest.approx(
        np.sqrt(1.1 * 15.0 / masses[0]) * audit.CM1_PER_SQRT_EV_A2_AMU, rel=1e-4)
    assert "no-such-model" in result.failures
    assert result.cell[0]["dft_pressure_GPa"] == 1.0
    assert springs in result.recommendation()
    assert set(result.to_json()) >= {"frames", "stretch", "cell", "recommendation"}


def test_reference_values_need_labels(t16: Atoms) -> None:
    with pytest.raises(InputError, match="frame 0"):
        audit.reference_values([t16])


def test_run_audit_refuses_an_unknown_model_before_any_work(tmp_path) -> None:
    heldout = audit.shipped_scf_dir() / "heldout" / "labelled.extxyz"
    with pytest.raises(InputError, match="unknown force field 'nope'"):
        audit.run_audit([heldout], ["nope"], out=tmp_path / "audit")
    assert not (tmp_path / "audit").exists()
