"""Tests of structure validation and nearest-neighbour distances."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from ionraman.errors import InputError
from ionraman.structures import shortest_distances, validate_structure


def _rocksalt() -> Atoms:
    return bulk("NaCl", "rocksalt", a=5.64, cubic=True)


def test_valid_structure_passes() -> None:
    validate_structure(_rocksalt(), supported_elements={"Na", "Cl"}, source="nacl")


@pytest.mark.parametrize(
    ("atoms", "fragment"),
    [
        (Atoms(cell=np.eye(3) * 5, pbc=True), "no atoms"),
        (Atoms("Na2", positions=[[0, 0, 0], [3, 0, 0]]), "non-periodic"),
        (Atoms("Na", positions=[[0, 0, 0]], pbc=True), "degenerate cell"),
        (Atoms("Na", positions=[[np.nan, 0, 0]], cell=np.eye(3) * 5, pbc=True), "NaN"),
    ],
)
def test_bad_structures_raise_one_line_errors(atoms: Atoms, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment) as info:
        validate_structure(atoms, source="test.xyz")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("test.xyz:")


def test_close_atoms_are_reported_with_indices_and_distance() -> None:
    atoms = _rocksalt()
    atoms.positions[3] = atoms.positions[0] + [0.3, 0.0, 0.0]
    with pytest.raises(InputError, match=r"atoms 0 \(Na\) and 3 \(\w+\) are 0\.300 Å apart"):
        validate_structure(atoms)
    validate_structure(atoms, min_distance_A=0.25)  # threshold is respected


def test_periodic_self_image_counts_as_too_close() -> None:
    atoms = Atoms("Na", cell=np.diag([0.4, 5.0, 5.0]), pbc=True)
    with pytest.raises(InputError, match=r"0\.400 Å apart"):
        validate_structure(atoms)


def test_unsupported_elements_named() -> None:
    with pytest.raises(InputError, match=r"element\(s\) Cl not covered"):
        validate_structure(_rocksalt(), supported_elements={"Na", "S"})
    validate_structure(_rocksalt(), supported_elements={11, 17})  # atomic numbers accepted


def test_shortest_distances_rocksalt_analytic() -> None:
    atoms = _rocksalt()
    d = shortest_distances(atoms, "Na", "Cl")
    assert d.shape == (4,)
    np.testing.assert_allclose(d, 5.64 / 2, rtol=1e-12)
    # like atoms: fcc nearest neighbour a/sqrt(2), never the atom itself
    np.testing.assert_allclose(shortest_distances(atoms, "Na", "Na"), 5.64 / np.sqrt(2), rtol=1e-12)
    assert np.isnan(shortest_distances(atoms, "Na", "Cl", cutoff_A=2.0)).all()
