"""Tests of the built-in structures: composition, space group, distances, seeds, data files."""

from collections import Counter

import numpy as np
import pytest

from ionraman.errors import InputError
from ionraman.structures import (
    formal_charge,
    get_structure,
    list_structures,
    shortest_distances,
    structure_entry,
    structure_names,
)

spglib = pytest.importorskip("spglib")

EXPECTED = {
    # name: (composition of the default cell, space group number or None for random orderings)
    "t-Na3PS4": ({"Na": 6, "P": 2, "S": 8}, 114),
    "c-Na3PS4": ({"Na": 6, "P": 2, "S": 8}, 217),
    "t-Na3SbS4": ({"Na": 6, "Sb": 2, "S": 8}, 114),
    "c-Na3SbS4": ({"Na": 6, "Sb": 2, "S": 8}, 217),
    "c-Na3SbS4:W0.125": ({"Na": 46, "Sb": 14, "W": 2, "S": 64}, None),
    "c-Na3SbSe4": ({"Na": 6, "Sb": 2, "Se": 8}, 217),
    "c-Na3PSe4": ({"Na": 6, "P": 2, "Se": 8}, 217),
    "beta-AgI": ({"Ag": 2, "I": 2}, 186),
    "alpha-AgI": ({"Ag": 2, "I": 2}, None),
}

# Physical nearest-neighbour windows (Å): tetrahedral X-S / X-Se bonds, Na-anion contacts, Ag-I.
# c-Na3SbS4 (Graf & Schäfer: x = 0.187, a = 7.17 Å) gives Sb-S = sqrt(3) x a = 2.322 Å, just below
# the 2.33 Å often quoted for SbS4 tetrahedra, hence 2.30 as the lower Sb-S bound.
WINDOWS = {
    ("P", "S"): (2.02, 2.07),
    ("Sb", "S"): (2.30, 2.40),
    ("P", "Se"): (2.15, 2.25),
    ("Sb", "Se"): (2.40, 2.55),
    ("Na", "S"): (2.80, 3.10),
    ("Na", "Se"): (2.90, 3.25),
    ("Ag", "I"): (2.78, 2.86),
}


def _spacegroup(atoms) -> int:
    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    return spglib.get_symmetry_dataset(cell, symprec=1e-3).number


def test_names_and_table() -> None:
    assert set(structure_names()) == set(EXPECTED)
    table = list_structures()
    assert set(table["name"]) == set(EXPECTED)
    for col in ("spacegroup_number", "a_A", "c_A", "n_atoms", "reference", "coordinates"):
        assert col in table.columns
    row = table.set_index("name").loc["c-Na3SbS4:W0.125"]
    assert row["n_atoms"] == 126
    assert row["random"]
    assert table["reference"].str.len().min() > 20  # every phase cites a source


@pytest.mark.parametrize("name", list(EXPECTED))
def test_composition_symmetry_charge(name: str) -> None:
    composition, sg = EXPECTED[name]
    atoms = get_structure(name)
    assert Counter(atoms.get_chemical_symbols()) == composition
    assert atoms.pbc.all()
    assert formal_charge(atoms) == 0
    if sg is not None:
        assert _spacegroup(atoms) == sg
    # species are contiguous (one block per element, VASP-friendly)
    symbols = atoms.get_chemical_symbols()
    blocks = [s for i, s in enumerate(symbols) if i == 0 or symbols[i - 1] != s]
    assert len(blocks) == len(set(symbols))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_nearest_neighbour_distances_physical(name: str) -> None:
    atoms = get_structure(name, supercell=2 if name == "alpha-AgI" else None)
    symbols = set(atoms.get_chemical_symbols())
    checked = 0
    for (a, b), (lo, hi) in WINDOWS.items():
        if a in symbols and b in symbols:
            d = shortest_distances(atoms, a, b)
            assert lo <= d.min() and d.max() <= hi, (a, b, d.min(), d.max())
            checked += 1
    assert checked >= 1


def test_analytic_distances() -> None:
    c = get_structure("c-Na3SbS4")
    np.testing.assert_allclose(shortest_distances(c, "Sb", "S"), np.sqrt(3) * 0.187 * 7.17)
    np.testing.assert_allclose(shortest_distances(c, "Na", "Sb"), 7.17 / 2)
    beta = get_structure("beta-AgI")
    # ideal wurtzite: Ag-I along c = 3/8 c; the basal bonds sqrt(a^2/3 + c^2/64)
    d_basal = np.sqrt(4.59**2 / 3 + 7.51**2 / 64)
    np.testing.assert_allclose(shortest_distances(beta, "Ag", "I"), min(d_basal, 0.375 * 7.51))
    alpha = get_structure("alpha-AgI", supercell=3, seed=2)
    np.testing.assert_allclose(shortest_distances(alpha, "Ag", "I"), np.sqrt(5) / 4 * 5.063)


def test_tetragonal_cation_on_2b_not_2a() -> None:
    """With the Na3PS4 S coordinates the tetrahedral cation belongs on 2b (0, 0, 1/2)."""
    t = get_structure("t-Na3PS4")
    np.testing.assert_allclose(shortest_distances(t, "P", "S"), 2.046, atol=1e-3)
    # the same S positions seen from 2a (0,0,0), where Na2 sits, are > 2.8 Å away
    assert shortest_distances(t, "Na", "S").min() > 2.8


def test_relaxed_t_na3sbs4_record() -> None:
    entry = structure_entry("t-Na3SbS4")
    relax = entry["relaxation"]
    assert relax["model"] == "7net-mf-0" and relax["modal"] == "R2SCAN"
    assert relax["final_max_force_eV_A"] < relax["fmax_eV_A"] == 0.01
    assert relax["spacegroup_after"] == 114
    # cell stays experimental; coordinates differ from the t-Na3PS4 start
    atoms = get_structure("t-Na3SbS4")
    np.testing.assert_allclose(atoms.cell.cellpar()[:3], [7.1708, 7.1708, 7.2376])
    assert relax["before"]["Sb_S_A"] < 2.2 < 2.33 < relax["after"]["Sb_S_A"] < 2.40
    np.testing.assert_allclose(
        shortest_distances(atoms, "Sb", "S"), relax["after"]["Sb_S_A"], atol=1e-4
    )


@pytest.mark.parametrize("name", ["c-Na3SbSe4", "c-Na3PSe4"])
def test_selenide_records(name: str) -> None:
    relax = structure_entry(name)["relaxation"]
    assert relax["final_max_force_eV_A"] < 0.01
    assert abs(relax["final_pressure_GPa"]) < 0.1
    assert abs(relax["calibration_on_parent"]["relative_error"]) < 0.02


def test_w_doped_seeded_and_supercell() -> None:
    a = get_structure("c-Na3SbS4:W0.125", seed=11)
    b = get_structure("c-Na3SbS4:W0.125", seed=11)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_allclose(a.cell.lengths(), 2 * 7.192)
    w_sites = set()
    for seed in range(8):
        doped = get_structure("c-Na3SbS4:W0.125", seed=seed)
        is_w = np.array(doped.get_chemical_symbols()) == "W"
        w_sites.add(tuple(doped.positions[is_w].round(6).ravel()))
    assert len(w_sites) > 1  # placement depends on the seed
    big = get_structure("c-Na3SbS4:W0.125", supercell=4)  # 128 Sb sites -> 16 W, 16 vacancies
    assert Counter(big.get_chemical_symbols()) == {"Na": 368, "Sb": 112, "W": 16, "S": 512}
    with pytest.raises(InputError, match="not an integer"):
        get_structure("c-Na3SbS4:W0.125", supercell=1)


def test_generic_dopant_name() -> None:
    atoms = get_structure("c-Na3SbS4:W0.0625")  # smallest cube with an integer count: 2x2x2
    assert Counter(atoms.get_chemical_symbols()) == {"Na": 47, "Sb": 15, "W": 1, "S": 64}
    with pytest.raises(InputError, match="does not define a dopant host"):
        get_structure("beta-AgI:Cu0.5")


def test_alpha_agi_random_ordering() -> None:
    atoms = get_structure("alpha-AgI", supercell=3, seed=5)
    assert Counter(atoms.get_chemical_symbols()) == {"Ag": 54, "I": 54}
    assert shortest_distances(atoms, "Ag", "Ag").min() >= 2.0
    same = get_structure("alpha-AgI", supercell=3, seed=5)
    np.testing.assert_array_equal(atoms.positions, same.positions)
    other = get_structure("alpha-AgI", supercell=3, seed=6)
    assert not np.array_equal(atoms.positions, other.positions)


def test_supercell_and_names() -> None:
    atoms = get_structure("T-NA3SBS4", supercell=(1, 2, 3))
    assert len(atoms) == 16 * 6
    assert atoms.info["structure_name"] == "t-Na3SbS4"
    assert atoms.info["supercell_repeat"] == (1, 2, 3)
    with pytest.raises(InputError, match="unknown structure; built-in names are"):
        get_structure("Na3SbS4")
