"""Tests of the supercell builder."""

import numpy as np
import pytest
from ase.build import bulk

from ionraman.errors import InputError
from ionraman.structures import (
    get_structure,
    make_supercell,
    perpendicular_widths,
    supercell_repeat,
)


def test_perpendicular_widths_analytic() -> None:
    np.testing.assert_allclose(perpendicular_widths(np.diag([3.0, 4.0, 5.0])), [3, 4, 5])
    a, c = 4.59, 7.51
    hexagonal = get_structure("beta-AgI").cell.array
    np.testing.assert_allclose(perpendicular_widths(hexagonal), [a * np.sqrt(3) / 2] * 2 + [c])
    # fcc primitive cell: face spacing is the (111) spacing a/sqrt(3)
    prim = bulk("Cu", "fcc", a=3.6).cell.array
    np.testing.assert_allclose(perpendicular_widths(prim), 3.6 / np.sqrt(3))


@pytest.mark.parametrize("name", ["t-Na3SbS4", "beta-AgI", "c-Na3PS4"])
@pytest.mark.parametrize("length", [10.0, 15.0, 21.7])
def test_min_length_gives_smallest_sufficient_repeat(name: str, length: float) -> None:
    atoms = get_structure(name)
    big = make_supercell(atoms, min_length_A=length)
    n = np.array(big.info["supercell_repeat"])
    assert len(big) == len(atoms) * n.prod()
    assert perpendicular_widths(big.cell.array).min() >= length
    # one repeat fewer along any direction would be too thin
    widths = perpendicular_widths(atoms.cell.array)
    assert np.all((n - 1) * widths < length)


def test_known_repeats() -> None:
    assert supercell_repeat(get_structure("t-Na3SbS4"), min_length_A=20.0) == (3, 3, 3)
    assert supercell_repeat(get_structure("beta-AgI"), min_length_A=15.0) == (4, 4, 2)
    # 16 atoms; greedy growth of the thinnest direction: 32, 64, 128 atoms
    assert supercell_repeat(get_structure("t-Na3SbS4"), min_atoms=100) == (2, 2, 2)
    assert supercell_repeat(get_structure("t-Na3SbS4"), min_atoms=16) == (1, 1, 1)


def test_min_atoms_and_length_combined() -> None:
    atoms = get_structure("beta-AgI")  # 4 atoms
    n = supercell_repeat(atoms, min_length_A=10.0, min_atoms=200)
    assert len(atoms) * np.prod(n) >= 200
    assert perpendicular_widths(atoms.cell.array * np.array(n)[:, None]).min() >= 10.0


def test_explicit_repeat() -> None:
    atoms = get_structure("c-Na3SbS4")
    assert len(make_supercell(atoms, repeat=2)) == 128
    big = make_supercell(atoms, repeat=(1, 2, 3))
    assert len(big) == 96
    np.testing.assert_allclose(big.cell.lengths(), 7.17 * np.array([1, 2, 3]))
    assert big.info["supercell_repeat"] == (1, 2, 3)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"repeat": 2, "min_atoms": 10}, {"repeat": (1, 2)}, {"repeat": 0}, {"min_length_A": -1.0}],
)
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(InputError):
        make_supercell(get_structure("c-Na3SbS4"), **kwargs)
