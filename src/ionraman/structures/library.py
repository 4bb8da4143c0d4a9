"""Built-in crystal structures, expanded from published space group, cell and Wyckoff sites.

Each phase is one JSON file in ``ionraman/data/structures/`` (space group, cell, Wyckoff sites, the
source it comes from, notes; see ``README.md`` there). Structures are generated with
:func:`ase.spacegroup.crystal`; nothing calls a force field at import or build time (the relaxed
coordinates of t-Na3SbS4 and of the selenides were computed once by ``scripts/relax_builtin.py``
and stored in their data files).

Random elements (Ag⁺ over the tetrahedral sites of α-AgI, W dopants and Na vacancies) are drawn
with a seeded generator over the whole requested supercell, so ``get_structure(name, seed=s)`` is
reproducible and a supercell is not a periodic copy of one random cell.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase import Atoms
from ase.spacegroup import crystal

from ionraman.errors import InputError
from ionraman.structures.defects import substitute_dopant
from ionraman.structures.io import read_structure
from ionraman.structures.ordering import choose_separated_sites
from ionraman.structures.supercell import _as_repeat
from ionraman.structures.validate import validate_structure

_DOPANT_NAME = re.compile(r"^(?P<base>[^:]+):(?P<dopant>[A-Z][a-z]?)(?P<fraction>[0-9]*\.?[0-9]+)$")


def data_dir() -> Path:
    """Folder holding the built-in structure data files."""
    return Path(str(resources.files("ionraman").joinpath("data", "structures")))


@functools.cache
def _entries() -> dict[str, dict[str, Any]]:
    """All data files, keyed by structure name, with ``base`` entries merged in."""
    raw: dict[str, dict[str, Any]] = {}
    for path in sorted(data_dir().glob("*.json")):
        entry = json.loads(path.read_text())
        entry["_file"] = path.name
        raw[entry["name"]] = entry
    resolved = {}
    for name, entry in raw.items():
        if "base" in entry:
            base = {k: v for k, v in raw[entry["base"]].items() if k not in ("relaxation", "notes")}
            resolved[name] = {**base, **entry}
        else:
            resolved[name] = entry
    return resolved


def structure_names() -> list[str]:
    """Names accepted by :func:`get_structure` (besides ``"<base>:<Dopant><fraction>"``)."""
    return list(_entries())


def structure_entry(name: str) -> dict[str, Any]:
    """The data-file content of a built-in structure (a copy; base entries merged)."""
    return json.loads(json.dumps(_entries()[_canonical(name)]))


def list_structures() -> pd.DataFrame:
    """Table of the built-in structures.

    Returns
    -------
    pandas.DataFrame
        One row per structure: ``name``, ``formula`` (default cell), ``spacegroup_number`` and
        ``spacegroup_symbol`` (of the average crystal structure; random orderings break it),
        cell ``a_A``, ``b_A``, ``c_A`` (Å), ``alpha_deg``, ``beta_deg``, ``gamma_deg``, ``n_atoms``
        (default cell), ``temperature_K`` of the experimental cell (NaN if not applicable),
        ``random`` (whether the seed matters), ``coordinates`` (``"experimental"`` or how they
        were relaxed) and ``reference``.
    """
    rows = []
    for name, entry in _entries().items():
        a, b, c, alpha, beta, gamma = _cellpar(entry)
        atoms = get_structure(name)
        relax = entry.get("relaxation")
        rows.append(
            {
                "name": name,
                "formula": _formula(atoms),
                "spacegroup_number": entry["spacegroup"]["number"],
                "spacegroup_symbol": entry["spacegroup"]["symbol"],
                "a_A": a,
                "b_A": b,
                "c_A": c,
                "alpha_deg": alpha,
                "beta_deg": beta,
                "gamma_deg": gamma,
                "n_atoms": len(atoms),
                "temperature_K": entry.get("temperature_K") or np.nan,
                "random": bool(entry.get("random_sites") or entry.get("doping")),
                "coordinates": "experimental" if relax is None else relax["summary"],
                "reference": entry["source"]["reference"],
            }
        )
    return pd.DataFrame(rows)


def get_structure(
    name: str, *, supercell: int | Sequence[int] | None = None, seed: int = 0
) -> Atoms:
    """Build a built-in structure.

    Parameters
    ----------
    name
        A name from :func:`list_structures` (case-insensitive), e.g. ``"t-Na3SbS4"``,
        ``"c-Na3SbS4:W0.125"``, ``"alpha-AgI"``; or ``"<base>:<Dopant><fraction>"`` for a base whose
        data file names a ``dopant_host`` (e.g. ``"c-Na3SbS4:W0.0625"``: W on Sb at the base cell,
        one Na vacancy per W).
    supercell
        Repeats of the conventional cell (one int or three). Random elements (dopants, vacancies,
        Ag⁺ placement) are drawn over the whole supercell. Default: the entry's
        ``default_supercell`` (2×2×2 for the W-doped phase), else the conventional cell.
    seed
        Seed of the random elements; ignored by ordered phases.

    Returns
    -------
    ase.Atoms
        Periodic structure with species grouped in the data-file order; ``info`` holds
        ``structure_name``, ``reference``, ``supercell_repeat`` and ``seed``.
    """
    entry = _resolve(name)
    repeat = _as_repeat(supercell if supercell is not None else entry.get("default_supercell", 1))
    atoms = _expand(entry)
    n_cells = int(np.prod(repeat))
    atoms = atoms.repeat(repeat)
    if entry.get("random_sites"):
        atoms = _place_random_sites(atoms, entry, repeat, seed)
    doping = entry.get("doping")
    if doping:
        n_host = int(np.sum(np.asarray(atoms.get_chemical_symbols()) == doping["host"]))
        count = doping["fraction"] * n_host
        if abs(count - round(count)) > 1e-6:
            raise InputError(
                f"{entry['name']}: {doping['fraction']:g} of {n_host} {doping['host']} sites is "
                f"{count:g} dopants in a {repeat} supercell, not an integer; "
                "choose another supercell"
            )
        atoms = substitute_dopant(
            atoms,
            doping["host"],
            doping["dopant"],
            count=round(count),
            charge_compensation=doping.get("charge_compensation", "vacancy"),
            compensating_species=doping.get("compensating_species", "Na"),
            seed=seed,
        )
    order = [s["element"] for s in (*entry.get("random_sites", []), *entry["sites"])]
    if doping and doping["host"] in order:
        order.insert(order.index(doping["host"]) + 1, doping["dopant"])
    atoms = _group_species(atoms, order)
    dopant_info = atoms.info.get("dopant")
    atoms.info = {
        "structure_name": entry["name"],
        "reference": entry["source"]["reference"],
        "supercell_repeat": repeat,
        "seed": int(seed),
        "n_conventional_cells": n_cells,
    }
    if dopant_info:
        atoms.info["dopant"] = dopant_info
    validate_structure(atoms, source=entry["name"])
    return atoms


def load_structure(
    name_or_path: str | os.PathLike[str],
    *,
    seed: int = 0,
    supercell: int | Sequence[int] | None = None,
) -> Atoms:
    """A built-in structure by name, or a structure file (CIF, POSCAR, extxyz) by path.

    A string that is a built-in name wins over a file of the same name in the working directory.
    See :func:`get_structure` and :func:`ionraman.structures.read_structure` for the parameters.
    """
    text = os.fspath(name_or_path)
    if is_builtin(text):
        return get_structure(text, supercell=supercell, seed=seed)
    if Path(text).exists():
        return read_structure(text, seed=seed, supercell=supercell)
    raise InputError(
        f"{text}: neither a built-in structure ({', '.join(structure_names())}) "
        "nor an existing file"
    )


# --------------------------------------------------------------------------------------------------


def is_builtin(name: str) -> bool:
    """True if ``name`` is a built-in structure (with its supercell/dopant suffixes)."""
    try:
        _resolve(name)
    except InputError:
        return False
    return True


def _canonical(name: str) -> str:
    entries = _entries()
    if name in entries:
        return name
    lower = {k.lower(): k for k in entries}
    if name.lower() in lower:
        return lower[name.lower()]
    raise InputError(f"{name}: unknown structure; built-in names are {', '.join(entries)}")


def _resolve(name: str) -> dict[str, Any]:
    """Data entry for a registered name or a ``<base>:<Dopant><fraction>`` name."""
    try:
        return _entries()[_canonical(name)]
    except InputError:
        match = _DOPANT_NAME.match(name.strip())
        if match is None:
            raise
    base = _entries()[_canonical(match["base"])]
    host = base.get("dopant_host")
    if host is None:
        raise InputError(f"{name}: {base['name']} does not define a dopant host site")
    fraction = float(match["fraction"])
    n_host = sum(_multiplicity(s) for s in base["sites"] if s["element"] == host)
    for n in range(1, 7):  # smallest n×n×n supercell with an integer dopant count
        count = fraction * n_host * n**3
        if abs(count - round(count)) < 1e-6:
            break
    else:
        raise InputError(f"{name}: fraction {fraction:g} needs a supercell larger than 6×6×6")
    return {
        **{k: v for k, v in base.items() if k not in ("relaxation",)},
        "name": f"{base['name']}:{match['dopant']}{match['fraction']}",
        "doping": {
            "host": host,
            "dopant": match["dopant"],
            "fraction": fraction,
            "charge_compensation": "vacancy",
            "compensating_species": base.get("compensating_species", "Na"),
        },
        "default_supercell": [n, n, n],
    }


def _cellpar(entry: dict[str, Any]) -> list[float]:
    c = entry["cell"]
    a = float(c["a_A"])
    return [
        a,
        float(c.get("b_A", a)),
        float(c.get("c_A", a)),
        float(c.get("alpha_deg", 90.0)),
        float(c.get("beta_deg", 90.0)),
        float(c.get("gamma_deg", 90.0)),
    ]


def _multiplicity(site: dict[str, Any]) -> int:
    return int(re.match(r"\d+", site["wyckoff"]).group())  # type: ignore[union-attr]


def _crystal(entry: dict[str, Any], sites: list[dict[str, Any]]) -> Atoms:
    """Expand Wyckoff sites with ASE and check each site's multiplicity against the data file."""
    sg = entry["spacegroup"]
    atoms = crystal(
        [s["element"] for s in sites],
        basis=[s["frac"] for s in sites],
        spacegroup=sg["number"],
        setting=sg.get("setting", 1),
        cellpar=_cellpar(entry),
        primitive_cell=False,
    )
    kinds = np.asarray(atoms.arrays["spacegroup_kinds"])
    for k, site in enumerate(sites):
        n = int(np.sum(kinds == k))
        if n != _multiplicity(site):
            raise ValueError(  # a bug in a shipped data file, not a user error
                f"{entry['_file']}: site {site['label']} {site['wyckoff']} expands to {n} positions"
            )
    del atoms.arrays["spacegroup_kinds"]
    atoms.info = {}
    return atoms


def _expand(entry: dict[str, Any]) -> Atoms:
    return _crystal(entry, entry["sites"])


def _place_random_sites(
    atoms: Atoms, entry: dict[str, Any], repeat: tuple[int, int, int], seed: int
) -> Atoms:
    """Add atoms on randomly chosen positions of partially occupied Wyckoff sites."""
    n_cells = int(np.prod(repeat))
    rng = np.random.default_rng(seed)
    out = atoms.copy()
    for site in entry["random_sites"]:
        candidates = _crystal(entry, [site]).repeat(repeat)
        k = int(site["atoms_per_cell"]) * n_cells
        (picked,) = choose_separated_sites(
            candidates.positions,
            candidates.cell.array,
            [(np.arange(len(candidates)), k)],
            rng,
            min_separation_A=float(site.get("min_separation_A", 0.0)),
            source=entry["name"],
        )
        out += candidates[picked]
    return out


def _formula(atoms: Atoms) -> str:
    """Chemical formula with species in the order they appear (e.g. ``Na6Sb2S8``)."""
    counts: dict[str, int] = {}
    for symbol in atoms.get_chemical_symbols():
        counts[symbol] = counts.get(symbol, 0) + 1
    return "".join(f"{s}{n}" for s, n in counts.items())


def _group_species(atoms: Atoms, order: list[str]) -> Atoms:
    """Stable reorder so each species is contiguous (data-file order, then any others)."""
    symbols = atoms.get_chemical_symbols()
    rank = {s: i for i, s in enumerate(dict.fromkeys([*order, *symbols]))}
    idx = np.argsort([rank[s] for s in symbols], kind="stable")
    out = atoms[idx]
    out.info = dict(atoms.info)
    return out
