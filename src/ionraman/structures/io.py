"""Read CIF, POSCAR/CONTCAR and (ext)xyz files into ordered, periodic ASE structures.

Partial occupancies (CIF ``_atom_site_occupancy``) are turned into one ordered configuration by a
seeded random choice: on each crystallographic site (ASE ``spacegroup_kinds``) with ``N`` positions
and occupancies ``occ_s``, ``round(occ_s * N)`` positions get species ``s`` and the rest stay empty.
When ``occ_s * N`` is not (close to) an integer the reader asks for a supercell, which it applies
before ordering. Occupied positions of partially occupied sites are kept at least
``min_separation_A`` apart, so both halves of a split site are never filled at once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms

from ionraman.errors import InputError
from ionraman.structures.ordering import choose_separated_sites
from ionraman.structures.supercell import _as_repeat
from ionraman.structures.validate import validate_structure

#: Default minimum distance (Å) between atoms placed on partially occupied sites. Cation–cation
#: distances below 2 Å do not occur in the ionic solids ionraman targets; split-site partners are
#: typically 0.3–1.5 Å apart.
DEFAULT_MIN_SEPARATION_A = 2.0

_FORMATS = {
    ".cif": "cif",
    ".vasp": "vasp",
    ".poscar": "vasp",
    ".xyz": "extxyz",
    ".extxyz": "extxyz",
}


def guess_format(path: str | os.PathLike[str]) -> str | None:
    """ASE format name for ``path`` from its suffix or VASP file name; ``None`` lets ASE guess."""
    p = Path(path)
    name = p.name.upper()
    if name.startswith(("POSCAR", "CONTCAR")):
        return "vasp"
    return _FORMATS.get(p.suffix.lower())


def read_structure(
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    supercell: int | Sequence[int] | None = None,
    index: int = -1,
    min_separation_A: float = DEFAULT_MIN_SEPARATION_A,
) -> Atoms:
    """Read one periodic structure, ordering any partial occupancies.

    Parameters
    ----------
    path
        CIF, POSCAR/CONTCAR (``*.vasp``) or (ext)xyz file; other ASE-readable formats by guess.
    seed
        Seed of the random ordering of partially occupied sites.
    supercell
        Repeats (one int or three) applied *before* ordering, so that occupancy × multiplicity
        becomes an integer and the disorder is sampled over the whole supercell.
    index
        Frame to read from multi-frame files (default: the last one).
    min_separation_A
        Minimum distance between atoms placed on partially occupied sites, Å.

    Returns
    -------
    ase.Atoms
        Ordered, validated structure; ``info["source_file"]`` is the path and, when ordering was
        done, ``info["ordering"]`` records the seed and per-site counts.
    """
    p = Path(path)
    source = str(p)
    if not p.is_file():
        raise InputError(f"{source}: structure file not found")
    fmt = guess_format(p)
    try:
        atoms = ase.io.read(p, index=index, format=fmt)
    except Exception as exc:  # ASE raises many types for malformed files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{source}: cannot read as {fmt or 'any known format'}: {first}") from exc
    if not isinstance(atoms, Atoms):  # pragma: no cover - ase.io.read with int index
        raise InputError(f"{source}: expected one structure")
    if supercell is not None:
        n = _as_repeat(supercell)
        info = dict(atoms.info)
        atoms = atoms.repeat(n)
        atoms.info = info
        atoms.info["supercell_repeat"] = n
    if "occupancy" in atoms.info:
        atoms = order_partial_occupancies(
            atoms, seed=seed, min_separation_A=min_separation_A, source=source
        )
    atoms = _clean(atoms)
    atoms.info["source_file"] = source
    validate_structure(atoms, source=source)
    return atoms


def order_partial_occupancies(
    atoms: Atoms,
    *,
    seed: int = 0,
    min_separation_A: float = DEFAULT_MIN_SEPARATION_A,
    source: str = "structure",
) -> Atoms:
    """Turn ASE's CIF occupancy information into one ordered configuration.

    Parameters
    ----------
    atoms
        As returned by ``ase.io.read(cif)``: ``info["occupancy"]`` maps ``str(kind)`` to
        ``{symbol: occupancy}`` and ``arrays["spacegroup_kinds"]`` gives each atom's kind.
    seed
        Seed of the random choice.
    min_separation_A
        Minimum distance between atoms placed on partially occupied sites, Å.
    source
        Name used in error messages.

    Returns
    -------
    ase.Atoms
        Ordered copy without the occupancy information.
    """
    occupancy: dict[str, dict[str, float]] = atoms.info.get("occupancy", {})
    if "spacegroup_kinds" in atoms.arrays:
        kinds = np.asarray(atoms.arrays["spacegroup_kinds"], dtype=int)
    else:
        kinds = np.arange(len(atoms))
    occ_of_atom = [occupancy.get(str(k), {atoms[i].symbol: 1.0}) for i, k in enumerate(kinds)]
    if all(_fully_ordered(o) for o in occ_of_atom):
        return atoms.copy()

    # Group atoms by crystallographic kind; if that leaves fractional counts (e.g. a P1 CIF where
    # every atom is its own kind), pool the atoms that carry the same occupancy dict instead.
    groups = _group(kinds, occ_of_atom, by_kind=True)
    if not _all_integral(groups, occ_of_atom):
        groups = _group(kinds, occ_of_atom, by_kind=False)
    bad = _first_non_integral(groups, occ_of_atom)
    if bad is not None:
        symbol, occ, n_sites = bad
        raise InputError(
            f"{source}: site occupancy {symbol}={occ:g} on {n_sites} positions gives "
            f"{occ * n_sites:.3g} atoms, not an integer; pass a supercell (e.g. supercell=2) "
            "so the partial occupancies can be ordered"
        )

    rng = np.random.default_rng(seed)
    symbols = np.asarray(atoms.get_chemical_symbols(), dtype=object)
    keep = np.ones(len(atoms), dtype=bool)
    counts: dict[str, dict[str, int]] = {}
    vacancy_groups: list[tuple[np.ndarray, int]] = []
    species_plan: list[tuple[np.ndarray, dict[str, int], int | None]] = []
    for members in groups:
        occ = occ_of_atom[members[0]]
        n_sites = len(members)
        per_species = {s: round(o * n_sites) for s, o in occ.items()}
        n_occupied = sum(per_species.values())
        if n_occupied > n_sites:
            raise InputError(
                f"{source}: occupancies {occ} on {n_sites} positions add up to more than 1"
            )
        if _fully_ordered(occ):
            continue
        label = "+".join(f"{s}{o:g}" for s, o in occ.items())
        counts[label] = {**per_species, "vacant": n_sites - n_occupied}
        slot = None
        if n_occupied < n_sites:
            slot = len(vacancy_groups)
            vacancy_groups.append((members, n_occupied))
        species_plan.append((members, per_species, slot))

    picks = choose_separated_sites(
        atoms.positions,
        atoms.cell.array,
        vacancy_groups,
        rng,
        min_separation_A=min_separation_A,
        source=source,
    )
    for members, per_species, slot in species_plan:
        occupied = members if slot is None else picks[slot]
        keep[np.setdiff1d(members, occupied)] = False
        shuffled = rng.permutation(occupied)
        start = 0
        for symbol, n in per_species.items():
            symbols[shuffled[start : start + n]] = symbol
            start += n

    ordered = atoms.copy()
    ordered.set_chemical_symbols(symbols.tolist())
    ordered = ordered[keep]
    ordered.info = {k: v for k, v in atoms.info.items() if k != "occupancy"}
    ordered.info["ordering"] = {
        "seed": int(seed),
        "min_separation_A": float(min_separation_A),
        "sites": counts,
    }
    return ordered


def _fully_ordered(occ: dict[str, float]) -> bool:
    return len(occ) == 1 and abs(next(iter(occ.values())) - 1.0) < 1e-3


def _group(
    kinds: np.ndarray, occ_of_atom: list[dict[str, float]], *, by_kind: bool
) -> list[np.ndarray]:
    keys: dict[object, list[int]] = {}
    for i, (k, occ) in enumerate(zip(kinds, occ_of_atom, strict=True)):
        occ_key = tuple(sorted((s, round(o, 6)) for s, o in occ.items()))
        key = (int(k), occ_key) if by_kind else occ_key
        keys.setdefault(key, []).append(i)
    return [np.asarray(v, dtype=int) for v in keys.values()]


def _first_non_integral(
    groups: list[np.ndarray], occ_of_atom: list[dict[str, float]]
) -> tuple[str, float, int] | None:
    for members in groups:
        n_sites = len(members)
        # occupancies in CIFs are often rounded to 2-3 decimals: allow 0.01 per position
        tol = 0.05 + 0.01 * n_sites
        for symbol, occ in occ_of_atom[members[0]].items():
            if abs(occ * n_sites - round(occ * n_sites)) > tol:
                return symbol, occ, n_sites
    return None


def _all_integral(groups: list[np.ndarray], occ_of_atom: list[dict[str, float]]) -> bool:
    return _first_non_integral(groups, occ_of_atom) is None


def _clean(atoms: Atoms) -> Atoms:
    """Drop reader bookkeeping that later stages must not carry (calculators, CIF kinds)."""
    out = atoms.copy()
    out.calc = None
    for name in ("spacegroup_kinds",):
        if name in out.arrays:
            del out.arrays[name]
    out.info.pop("occupancy", None)
    out.info.pop("spacegroup", None)
    out.info.pop("unit_cell", None)
    return out
