"""Tests of structure reading: CIF/POSCAR/extxyz round trips, partial occupancies, errors."""

from collections import Counter
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms

from ionraman.errors import InputError
from ionraman.structures import load_structure, read_structure, shortest_distances

_CIF_HEAD = """data_test
_symmetry_space_group_name_H-M '{hm}'
_symmetry_Int_Tables_number {number}
_cell_length_a {a}
_cell_length_b {a}
_cell_length_c {a}
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
"""


def _cif(tmp_path: Path, rows: str, *, hm: str, number: int, a: float, name="x.cif") -> Path:
    path = tmp_path / name
    path.write_text(_CIF_HEAD.format(hm=hm, number=number, a=a) + rows)
    return path


def _alpha_agi_cif(tmp_path: Path) -> Path:
    # Ag+ spread over the 12 tetrahedral 12d sites of bcc I-, occupancy 2/12
    rows = "I1 I 0 0 0 1.0\nAg1 Ag 0.25 0 0.5 0.1667\n"
    return _cif(tmp_path, rows, hm="I m -3 m", number=229, a=5.063)


@pytest.mark.parametrize("filename", ["t.cif", "POSCAR", "t.vasp", "t.extxyz", "t.xyz"])
def test_round_trip(tmp_path: Path, filename: str) -> None:
    ref = load_structure("t-Na3PS4")
    path = tmp_path / filename
    fmt = {"t.cif": "cif", "POSCAR": "vasp", "t.vasp": "vasp"}.get(filename, "extxyz")
    ase.io.write(path, ref, format=fmt)
    got = read_structure(path)
    assert got.get_chemical_formula() == ref.get_chemical_formula()
    np.testing.assert_allclose(got.cell.array, ref.cell.array, atol=1e-5)
    # same atoms up to order: match each reference atom to its nearest read atom
    for symbol in set(ref.get_chemical_symbols()):
        a = np.sort(shortest_distances(ref, symbol, "S"))
        b = np.sort(shortest_distances(got, symbol, "S"))
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert got.info["source_file"] == str(path)
    assert "spacegroup_kinds" not in got.arrays


def test_partial_occupancy_alpha_agi_ordered_with_separation(tmp_path: Path) -> None:
    path = _alpha_agi_cif(tmp_path)
    atoms = read_structure(path, seed=4, supercell=2)
    assert Counter(atoms.get_chemical_symbols()) == {"I": 16, "Ag": 16}
    assert shortest_distances(atoms, "Ag", "Ag").min() >= 2.0
    np.testing.assert_allclose(shortest_distances(atoms, "Ag", "I"), np.sqrt(5) / 4 * 5.063)
    assert atoms.info["ordering"]["seed"] == 4
    again = read_structure(path, seed=4, supercell=2)
    np.testing.assert_array_equal(atoms.positions, again.positions)
    other = read_structure(path, seed=5, supercell=2)
    assert not np.array_equal(np.sort(atoms.positions, axis=0), np.sort(other.positions, axis=0))


def test_mixed_and_vacant_sites(tmp_path: Path) -> None:
    # c-Na3SbS4 with Sb/W mixing on 2a and half-occupied Na on 6b (multiplicities 2 and 6)
    rows = "Sb1 Sb 0 0 0 0.5\nW1 W 0 0 0 0.5\nNa1 Na 0 0.5 0.5 0.5\nS1 S 0.187 0.187 0.187 1.0\n"
    path = _cif(tmp_path, rows, hm="I -4 3 m", number=217, a=7.17)
    atoms = read_structure(path, seed=0, min_separation_A=0.0)
    assert Counter(atoms.get_chemical_symbols()) == {"Sb": 1, "W": 1, "Na": 3, "S": 8}


def test_non_integral_occupancy_asks_for_supercell(tmp_path: Path) -> None:
    rows = "Na1 Na 0 0.5 0.5 0.25\nSb1 Sb 0 0 0 1.0\nS1 S 0.187 0.187 0.187 1.0\n"
    path = _cif(tmp_path, rows, hm="I -4 3 m", number=217, a=7.17)
    with pytest.raises(InputError, match="not an integer; pass a supercell"):
        read_structure(path)
    atoms = read_structure(path, supercell=2)  # 48 positions x 0.25 = 12 Na
    assert Counter(atoms.get_chemical_symbols())["Na"] == 12


def test_p1_cif_pools_equal_occupancies(tmp_path: Path) -> None:
    # P1: every position is its own kind; four half-occupied Na positions -> 2 Na
    rows = (
        "Cl1 Cl 0 0 0 1.0\n"
        "Na1 Na 0.5 0.5 0.5 0.5\nNa2 Na 0.5 0 0 0.5\nNa3 Na 0 0.5 0 0.5\nNa4 Na 0 0 0.5 0.5\n"
    )
    path = _cif(tmp_path, rows, hm="P 1", number=1, a=5.64)
    atoms = read_structure(path, seed=1)
    assert Counter(atoms.get_chemical_symbols()) == {"Cl": 1, "Na": 2}


def test_split_site_partners_never_both_filled(tmp_path: Path) -> None:
    # P1 cell with three Na split pairs (partners 0.6 Å apart, occupancy 0.5 each): one per pair
    rows = "S1 S 0 0 0 1.0\n" + "".join(
        f"Na{i}a Na {x - 0.05:.3f} {y} {z} 0.5\nNa{i}b Na {x + 0.05:.3f} {y} {z} 0.5\n"
        for i, (x, y, z) in enumerate([(0.5, 0.5, 0.5), (0.5, 0.0, 0.0), (0.0, 0.5, 0.0)])
    )
    path = _cif(tmp_path, rows, hm="P 1", number=1, a=6.0)
    for seed in range(5):
        atoms = read_structure(path, seed=seed)
        assert Counter(atoms.get_chemical_symbols())["Na"] == 3
        assert shortest_distances(atoms, "Na", "Na").min() > 2.0


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_structure(tmp_path / "missing.cif")
    bad = tmp_path / "bad.cif"
    bad.write_text("this is not a cif\n")
    with pytest.raises(InputError, match=r"bad\.cif: cannot read as cif"):
        read_structure(bad)
    molecule = tmp_path / "mol.xyz"
    ase.io.write(molecule, Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]))
    with pytest.raises(InputError, match="non-periodic"):
        read_structure(molecule)


def test_load_structure_name_file_or_error(tmp_path: Path) -> None:
    assert load_structure("t-Na3SbS4").info["structure_name"] == "t-Na3SbS4"
    path = tmp_path / "POSCAR"
    ase.io.write(path, load_structure("beta-AgI"), format="vasp")
    assert len(load_structure(path)) == 4
    assert len(load_structure(str(path), supercell=2)) == 32
    with pytest.raises(InputError, match="neither a built-in structure"):
        load_structure(tmp_path / "nothing_here.cif")
