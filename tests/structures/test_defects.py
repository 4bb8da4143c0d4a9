"""Tests of dopant substitution with charge-balancing vacancies, and random vacancies."""

from collections import Counter

import numpy as np
import pytest

from ionraman.errors import InputError
from ionraman.structures import (
    formal_charge,
    get_structure,
    make_supercell,
    make_vacancies,
    substitute_dopant,
)


@pytest.fixture
def host():
    return make_supercell(get_structure("c-Na3SbS4"), repeat=2)  # Na48 Sb16 S64


def test_host_is_charge_neutral(host) -> None:
    assert formal_charge(host) == 0


def test_w_on_sb_removes_one_na_per_w(host) -> None:
    doped = substitute_dopant(host, "Sb", "W", fraction=0.125, seed=3)
    counts = Counter(doped.get_chemical_symbols())
    assert counts == {"Na": 46, "Sb": 14, "W": 2, "S": 64}
    assert formal_charge(doped) == 0
    assert doped.info["dopant"]["vacancies"] == 2
    # W sits exactly on former Sb positions
    sb_sites = host.positions[np.array(host.get_chemical_symbols()) == "Sb"]
    for w in doped.positions[np.array(doped.get_chemical_symbols()) == "W"]:
        assert np.min(np.linalg.norm(sb_sites - w, axis=1)) < 1e-12


def test_seed_reproducible_and_different_seeds_differ(host) -> None:
    a = substitute_dopant(host, "Sb", "W", count=2, seed=1)
    b = substitute_dopant(host, "Sb", "W", count=2, seed=1)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert a.get_chemical_symbols() == b.get_chemical_symbols()
    configs = {
        tuple(
            np.flatnonzero(
                np.array(substitute_dopant(host, "Sb", "W", count=2, seed=s).get_chemical_symbols())
                == "W"
            )
        )
        for s in range(10)
    }
    assert len(configs) > 1


def test_anion_dopant_and_anion_vacancies(host) -> None:
    # Cl- on S2-: cell charge +1 per Cl, removed as one Na+ vacancy each
    doped = substitute_dopant(host, "S", "Cl", count=4, seed=0)
    assert Counter(doped.get_chemical_symbols())["Na"] == 44
    assert formal_charge(doped) == 0
    # Ge4+ on Sb5+: -1 per Ge, compensated by S2- vacancies: 2 Ge -> 1 S vacancy
    doped = substitute_dopant(host, "Sb", "Ge", count=2, compensating_species="S", seed=0)
    assert Counter(doped.get_chemical_symbols())["S"] == 63
    assert formal_charge(doped) == 0


def test_isovalent_dopant_needs_no_vacancy(host) -> None:
    doped = substitute_dopant(host, "Sb", "P", count=3, seed=0)
    assert len(doped) == len(host)
    assert doped.info["dopant"]["vacancies"] == 0


def test_charge_balance_errors(host) -> None:
    with pytest.raises(InputError, match="interstitials"):
        substitute_dopant(host, "Sb", "Sn", count=1)
    uncompensated = substitute_dopant(host, "Sb", "Sn", count=1, charge_compensation="none")
    assert formal_charge(uncompensated) == -1
    with pytest.raises(InputError, match="not an integer"):
        substitute_dopant(host, "Sb", "Ge", count=1, compensating_species="S")
    with pytest.raises(InputError, match="not an integer"):
        substitute_dopant(host, "Sb", "W", fraction=0.1)
    with pytest.raises(InputError, match="exactly one"):
        substitute_dopant(host, "Sb", "W", fraction=0.125, count=2)
    with pytest.raises(InputError, match="not in the structure"):
        substitute_dopant(host, "P", "W", count=1)
    with pytest.raises(InputError, match="oxidation state for Xe"):
        substitute_dopant(host, "Sb", "Xe", count=1)
    # override: Mo given as 5+ is isovalent with Sb5+
    doped = substitute_dopant(host, "Sb", "Mo", count=2, oxidation_states={"Mo": 5})
    assert len(doped) == len(host)


def test_make_vacancies(host) -> None:
    out = make_vacancies(host, "Na", 5, seed=7)
    assert Counter(out.get_chemical_symbols())["Na"] == 43
    assert formal_charge(out) == -5
    again = make_vacancies(host, "Na", 5, seed=7)
    np.testing.assert_array_equal(out.positions, again.positions)
    assert out.info["vacancies"] == [{"species": "Na", "count": 5, "seed": 7}]
    with pytest.raises(InputError, match="cannot remove 49 Na"):
        make_vacancies(host, "Na", 49)
