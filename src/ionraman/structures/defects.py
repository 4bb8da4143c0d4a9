"""Aliovalent dopants with charge-balancing vacancies, and random vacancies.

Charge balance uses formal oxidation states: substituting ``count`` host ions of charge ``q_host``
by dopant ions of charge ``q_dop`` changes the cell charge by ``count * (q_dop - q_host)``; with
``charge_compensation="vacancy"`` that charge is removed as vacancies of the compensating species
(charge ``q_comp``): ``n_vac = count * (q_dop - q_host) / q_comp``, which must be a non-negative
integer. Example: W⁶⁺ on Sb⁵⁺ removes one Na⁺ per W.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
from ase import Atoms

from ionraman.errors import InputError

#: Formal oxidation states used for charge balance (override per call with ``oxidation_states``).
#: Chosen for the thio-/seleno-phosphate, -antimonate and halide electrolytes ionraman targets;
#: elements with several common states (Sb, Sn, W, ...) get the one they take in those compounds.
# fmt: off
OXIDATION_STATES: dict[str, int] = {
    "H": 1, "Li": 1, "Na": 1, "K": 1, "Rb": 1, "Cs": 1, "Ag": 1, "Cu": 1,
    "Mg": 2, "Ca": 2, "Sr": 2, "Ba": 2, "Zn": 2, "Cd": 2,
    "B": 3, "Al": 3, "Ga": 3, "In": 3, "Sc": 3, "Y": 3, "La": 3,
    "Si": 4, "Ge": 4, "Sn": 4, "Ti": 4, "Zr": 4, "Hf": 4,
    "P": 5, "As": 5, "Sb": 5, "V": 5, "Nb": 5, "Ta": 5,
    "Mo": 6, "W": 6,
    "O": -2, "S": -2, "Se": -2, "Te": -2,
    "F": -1, "Cl": -1, "Br": -1, "I": -1,
}
# fmt: on


def formal_charge(atoms: Atoms, oxidation_states: Mapping[str, int] | None = None) -> int:
    """Sum of formal oxidation states over all atoms, in units of e (0 when charge-balanced)."""
    states = _states(oxidation_states)
    total = 0
    for symbol in atoms.get_chemical_symbols():
        total += _state(states, symbol)
    return total


def make_vacancies(atoms: Atoms, species: str, count: int, *, seed: int = 0) -> Atoms:
    """Remove ``count`` randomly chosen ``species`` atoms (seeded).

    Parameters
    ----------
    atoms
        Structure (not modified).
    species
        Chemical symbol of the atoms to remove.
    count
        Number of vacancies, ``0 <= count <= n_species``.
    seed
        Seed of the random choice.

    Returns
    -------
    ase.Atoms
        Copy without the chosen atoms; ``info["vacancies"]`` lists ``{species, count, seed}``.
    """
    return _remove_random(atoms, species, count, np.random.default_rng(seed), seed)


def substitute_dopant(
    atoms: Atoms,
    host: str,
    dopant: str,
    *,
    fraction: float | None = None,
    count: int | None = None,
    charge_compensation: Literal["vacancy", "none"] = "vacancy",
    compensating_species: str = "Na",
    oxidation_states: Mapping[str, int] | None = None,
    seed: int = 0,
) -> Atoms:
    """Replace host atoms by a dopant on randomly chosen sites; balance charge with vacancies.

    Parameters
    ----------
    atoms
        Structure (not modified).
    host, dopant
        Chemical symbols, e.g. ``"Sb"`` and ``"W"``.
    fraction, count
        Give exactly one: the fraction of host sites to substitute (``fraction * n_host`` must be
        an integer) or the number of sites.
    charge_compensation
        ``"vacancy"``: remove ``count * (q_dopant - q_host) / q_comp`` atoms of
        ``compensating_species`` at random; ``"none"``: leave the cell charged.
    compensating_species
        Species whose vacancies compensate the charge (``"Na"`` for Na⁺ conductors).
    oxidation_states
        Overrides of :data:`OXIDATION_STATES`, e.g. ``{"Sn": 4}``.
    seed
        Seed of both random choices (dopant sites, then vacancies).

    Returns
    -------
    ase.Atoms
        Doped copy; ``info["dopant"]`` records host, dopant, count, vacancies and seed.
    """
    symbols = np.asarray(atoms.get_chemical_symbols())
    host_idx = np.flatnonzero(symbols == host)
    if len(host_idx) == 0:
        raise InputError(f"dopant: host species {host!r} is not in the structure")
    n_dopant = _dopant_count(len(host_idx), host, fraction, count)
    states = _states(oxidation_states)
    delta = _state(states, dopant) - _state(states, host)
    n_vac = 0
    if charge_compensation == "vacancy" and delta != 0 and n_dopant > 0:
        q_comp = _state(states, compensating_species)
        n_vac_exact = n_dopant * delta / q_comp
        if n_vac_exact < 0:
            raise InputError(
                f"dopant: {dopant} on {host} (charge change {delta:+d} per site) cannot be "
                f"compensated by {compensating_species} vacancies (charge {q_comp:+d}); that needs "
                "interstitials, which are not supported; use charge_compensation='none' or "
                "another compensating species"
            )
        if abs(n_vac_exact - round(n_vac_exact)) > 1e-9:
            raise InputError(
                f"dopant: {n_dopant} {dopant} on {host} need {n_vac_exact:g} "
                f"{compensating_species} vacancies, not an integer; change the dopant count"
            )
        n_vac = round(n_vac_exact)
    elif charge_compensation not in ("vacancy", "none"):
        raise InputError(
            f"dopant: charge_compensation must be 'vacancy' or 'none', got {charge_compensation!r}"
        )
    rng = np.random.default_rng(seed)
    out = atoms.copy()
    chosen = rng.choice(host_idx, size=n_dopant, replace=False)
    new_symbols = symbols.copy()
    new_symbols[chosen] = dopant
    out.set_chemical_symbols(new_symbols.tolist())
    if n_vac:
        out = _remove_random(out, compensating_species, n_vac, rng, seed)
    out.info["dopant"] = {
        "host": host,
        "dopant": dopant,
        "count": int(n_dopant),
        "fraction": n_dopant / len(host_idx),
        "charge_compensation": charge_compensation,
        "compensating_species": compensating_species,
        "vacancies": int(n_vac),
        "seed": int(seed),
    }
    return out


def _dopant_count(n_host: int, host: str, fraction: float | None, count: int | None) -> int:
    if (fraction is None) == (count is None):
        raise InputError("dopant: give exactly one of fraction or count")
    if count is not None:
        if not 0 <= count <= n_host:
            raise InputError(
                f"dopant: count must be between 0 and {n_host} ({host} sites), got {count}"
            )
        return int(count)
    assert fraction is not None
    if not 0 <= fraction <= 1:
        raise InputError(f"dopant: fraction must be between 0 and 1, got {fraction}")
    exact = fraction * n_host
    if abs(exact - round(exact)) > 1e-6:
        raise InputError(
            f"dopant: fraction {fraction:g} of {n_host} {host} sites is {exact:g}, not an integer; "
            "use a larger supercell or give count"
        )
    return round(exact)


def _remove_random(
    atoms: Atoms, species: str, count: int, rng: np.random.Generator, seed: int
) -> Atoms:
    symbols = np.asarray(atoms.get_chemical_symbols())
    idx = np.flatnonzero(symbols == species)
    if not 0 <= count <= len(idx):
        raise InputError(
            f"vacancies: cannot remove {count} {species} atoms; the structure has {len(idx)}"
        )
    remove = rng.choice(idx, size=count, replace=False)
    keep = np.setdiff1d(np.arange(len(atoms)), remove)
    out = atoms[keep]
    out.info = dict(atoms.info)
    out.info["vacancies"] = [
        *atoms.info.get("vacancies", []),
        {"species": species, "count": int(count), "seed": int(seed)},
    ]
    return out


def _states(overrides: Mapping[str, int] | None) -> dict[str, int]:
    return {**OXIDATION_STATES, **(dict(overrides) if overrides else {})}


def _state(states: Mapping[str, int], symbol: str) -> int:
    if symbol not in states:
        raise InputError(
            f"dopant: no default oxidation state for {symbol}; "
            f"pass oxidation_states={{{symbol!r}: n}}"
        )
    return int(states[symbol])
