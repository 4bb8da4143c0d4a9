"""Tests of structure validation and nearest-neighbour distances."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from ionraman.errors import InputError
from ionraman.structures import shortest_distances, validate_structure
from ionraman.structures.validate import check_min_distance, check_vacuum_gap, vacuum_gaps


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


def test_overlap_check_works_without_periodicity() -> None:
    molecule = Atoms("Na2", positions=[[0, 0, 0], [0.2, 0, 0]])
    with pytest.raises(InputError, match=r"mol\.xyz: atoms 0 \(Na\) and 1 \(Na\) are 0\.200"):
        check_min_distance(molecule, source="mol.xyz")
    check_min_distance(molecule, 0.0)  # 0 turns the check off


def test_vacuum_gap_is_measured_between_atomic_planes() -> None:
    atoms = _rocksalt()
    np.testing.assert_allclose(vacuum_gaps(atoms), [2.82] * 3)
    slab = atoms.copy()
    slab.set_cell(np.diag([5.64, 5.64, 5.64 + 15.0]), scale_atoms=False)
    np.testing.assert_allclose(vacuum_gaps(slab), [2.82, 2.82, 2.82 + 15.0])
    with pytest.raises(InputError, match=r"slab\.cif: vacuum gap of 17\.8 Å along cell axis c"):
        validate_structure(slab, source="slab.cif")
    validate_structure(slab, max_vacuum_gap_A=None)  # opt-out for deliberate slabs
    check_vacuum_gap(slab, 20.0)


def test_vacuum_gap_in_a_sheared_cell_uses_the_plane_spacing() -> None:
    """Along c of a sheared cell the gap is the spacing of the ab planes, not |c|."""
    atoms = Atoms("Na", cell=[[4, 0, 0], [0, 4, 0], [3, 0, 4]], pbc=True)
    np.testing.assert_allclose(vacuum_gaps(atoms)[2], 4.0)


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
