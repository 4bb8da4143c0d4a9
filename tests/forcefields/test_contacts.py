"""S–S contacts against DFT: geometry of a contact and the pair force on analytic cases (the
shipped student on DFT frames: test_shipped_student.py)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator

from ionraman.errors import InputError
from ionraman.forcefields.contacts import contact_errors, ligand_contacts


def _pair(distance: float, push: float) -> Atoms:
    """Two S across the periodic boundary at ``distance`` Å along x, a Na far away, DFT forces
    pushing the S apart with ``push`` eV/Å each."""
    atoms = Atoms("S2Na", positions=[[0.2, 1, 1], [10.0 - distance + 0.2, 1, 1], [5, 5, 5]],
                  cell=[10, 10, 10], pbc=True)
    forces = np.zeros((3, 3))
    forces[0, 0], forces[1, 0] = push, -push  # atom 0 sits at +x of atom 1 (through the image)
    atoms.calc = SinglePointCalculator(atoms, energy=0.0, forces=forces)
    return atoms


class Attract(Calculator):
    """Pulls every S–S contact together with 0.5 eV/Å on each atom."""

    implemented_properties = ("energy", "forces")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        forces = np.zeros((len(self.atoms), 3))
        for c in ligand_contacts(self.atoms):
            forces[c.i] -= 0.5 * c.axis
            forces[c.j] += 0.5 * c.axis
        self.results = {"energy": 0.0, "forces": forces}


def test_contact_axis_and_pair_force_across_the_boundary() -> None:
    atoms = _pair(2.3, 1.5)
    (c,) = ligand_contacts(atoms)
    assert (c.i, c.j) == (0, 1) and c.distance_A == pytest.approx(2.3)
    np.testing.assert_allclose(c.axis, [1.0, 0.0, 0.0], atol=1e-12)  # from j to i, minimum image
    assert c.pair_force(atoms.get_forces()) == pytest.approx(3.0)  # repulsive: positive
    assert ligand_contacts(_pair(2.7, 1.0)) == []
    assert ligand_contacts(atoms, species="Na") == []


def test_contact_errors_of_a_model_that_attracts_where_dft_repels() -> None:
    frames = [_pair(2.3, 1.5), _pair(2.4, 1.0)]
    e = contact_errors("soft", Attract(), frames)
    assert e.n_contacts == 2 and e.pair_force_dft_eV_A == pytest.approx(2.5)
    assert e.pair_force_model_eV_A == pytest.approx(-1.0)
    assert e.pair_force_diff_eV_A == pytest.approx(-3.5)
    assert e.pair_force_diff_sem_eV_A == pytest.approx(0.5)
    with pytest.raises(InputError, match="fewer than two"):
        contact_errors("soft", Attract(), [_pair(2.7, 1.0)])
