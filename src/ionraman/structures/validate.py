"""Checks that a structure is fit for a periodic force-field simulation.

Every failure raises :class:`~ionraman.errors.InputError` with a one-line message that names the
source (file or built-in name), what is wrong and what is expected.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.neighborlist import neighbor_list

from ionraman.errors import InputError

_MIN_VOLUME_A3 = 1e-6


def validate_structure(
    atoms: Atoms,
    *,
    supported_elements: Iterable[str | int] | None = None,
    min_distance_A: float = 0.5,
    source: str = "structure",
) -> None:
    """Raise :class:`InputError` unless ``atoms`` is a usable periodic structure.

    Checks, in order: at least one atom; finite positions; periodic in all three directions; a
    cell of non-zero volume; every element covered by the force field; no two atoms (periodic
    images included) closer than ``min_distance_A``.

    Parameters
    ----------
    atoms
        Structure to check (not modified).
    supported_elements
        Chemical symbols (or atomic numbers) the chosen force field covers; ``None`` skips it.
    min_distance_A
        Smallest allowed interatomic distance, Å.
    source
        Name of the file or built-in structure, used in the error message.
    """
    if len(atoms) == 0:
        raise InputError(f"{source}: the structure has no atoms; expected at least one atom")
    if not np.all(np.isfinite(atoms.positions)):
        raise InputError(f"{source}: atomic positions contain NaN or infinite values")
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if not pbc.all():
        raise InputError(
            f"{source}: non-periodic input (pbc={pbc.tolist()}); a periodic 3D cell is required "
            "(for extxyz give a Lattice= entry, or set pbc=True with a cell)"
        )
    volume = abs(float(np.linalg.det(atoms.cell.array)))
    if not np.isfinite(volume) or volume < _MIN_VOLUME_A3:
        raise InputError(
            f"{source}: empty or degenerate cell (volume {volume:.3g} Å^3); "
            "three linearly independent cell vectors are required"
        )
    if supported_elements is not None:
        allowed = {_as_symbol(e) for e in supported_elements}
        missing = sorted(set(atoms.get_chemical_symbols()) - allowed)
        if missing:
            raise InputError(
                f"{source}: element(s) {', '.join(missing)} not covered by the chosen force field "
                f"({len(allowed)} elements supported); choose another force field or structure"
            )
    if min_distance_A > 0:
        i, j, d = neighbor_list("ijd", atoms, cutoff=float(min_distance_A), self_interaction=False)
        if len(d):
            k = int(np.argmin(d))
            a, b = int(i[k]), int(j[k])
            raise InputError(
                f"{source}: atoms {a} ({atoms[a].symbol}) and {b} ({atoms[b].symbol}) are "
                f"{d[k]:.3f} Å apart, closer than the {min_distance_A:g} Å minimum "
                "(overlapping or duplicated sites?)"
            )


def shortest_distances(
    atoms: Atoms, center: str, neighbour: str, *, cutoff_A: float = 6.0
) -> np.ndarray:
    """Distance from each ``center`` atom to its nearest ``neighbour`` atom (images included).

    Parameters
    ----------
    atoms
        Periodic structure.
    center, neighbour
        Chemical symbols, e.g. ``"Sb"`` and ``"S"``; the same symbol gives like-atom distances
        (an atom is never its own neighbour, but its periodic images are).
    cutoff_A
        Search radius, Å; centres with no neighbour within it get ``nan``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_center,)``, Å, in the order the ``center`` atoms appear in ``atoms``.
    """
    symbols = np.asarray(atoms.get_chemical_symbols())
    centers = np.flatnonzero(symbols == center)
    i, j, d = neighbor_list("ijd", atoms, cutoff=float(cutoff_A), self_interaction=False)
    keep = symbols[j] == neighbour
    i, d = i[keep], d[keep]
    out = np.full(len(atoms), np.inf)
    np.minimum.at(out, i, d)
    result = out[centers]
    result[~np.isfinite(result)] = np.nan
    return result


def _as_symbol(element: str | int) -> str:
    if isinstance(element, (int, np.integer)):
        return chemical_symbols[int(element)]
    return str(element)
