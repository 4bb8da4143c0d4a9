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

from ionraman.conventions import MAX_VACUUM_GAP_A, MIN_INTERATOMIC_DISTANCE_A
from ionraman.errors import InputError

_MIN_VOLUME_A3 = 1e-6


def validate_structure(
    atoms: Atoms,
    *,
    supported_elements: Iterable[str | int] | None = None,
    min_distance_A: float = MIN_INTERATOMIC_DISTANCE_A,
    max_vacuum_gap_A: float | None = MAX_VACUUM_GAP_A,
    source: str = "structure",
) -> None:
    """Raise :class:`InputError` unless ``atoms`` is a usable periodic structure.

    Checks, in order: at least one atom; finite positions; periodic in all three directions; a
    cell of non-zero volume; every element covered by the force field; no two atoms (periodic
    images included) closer than ``min_distance_A`` (:func:`check_min_distance`); no atom-free
    slab wider than ``max_vacuum_gap_A`` (:func:`check_vacuum_gap`).

    Parameters
    ----------
    atoms
        Structure to check (not modified).
    supported_elements
        Chemical symbols (or atomic numbers) the chosen force field covers; ``None`` skips it.
    min_distance_A
        Smallest allowed interatomic distance, Å.
    max_vacuum_gap_A
        Widest allowed atom-free slab, Å; ``None`` skips it.
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
    check_min_distance(atoms, min_distance_A, source=source)
    if max_vacuum_gap_A is not None:
        check_vacuum_gap(atoms, max_vacuum_gap_A, source=source)


def check_min_distance(
    atoms: Atoms, min_distance_A: float = MIN_INTERATOMIC_DISTANCE_A, *, source: str = "structure"
) -> None:
    """Raise :class:`InputError` if two atoms (periodic images included) are closer than
    ``min_distance_A`` Å; the message names both atoms and their distance. 0 skips the check."""
    if not min_distance_A > 0:
        return
    i, j, d = neighbor_list("ijd", atoms, cutoff=float(min_distance_A), self_interaction=False)
    if len(d):
        k = int(np.argmin(d))
        a, b = int(i[k]), int(j[k])
        raise InputError(
            f"{source}: atoms {a} ({atoms[a].symbol}) and {b} ({atoms[b].symbol}) are "
            f"{d[k]:.3f} Å apart, closer than the {min_distance_A:g} Å minimum "
            "(overlapping or duplicated sites?)"
        )


def vacuum_gaps(atoms: Atoms) -> np.ndarray:
    """Widest atom-free slab along each cell axis, Å.

    Along axis i the atoms are projected on the normal of the plane of the other two cell
    vectors (fractional coordinate i times the interplanar spacing); the gap is the largest
    periodic distance between consecutive projections (atomic centres).

    Returns
    -------
    numpy.ndarray
        Shape ``(3,)``, Å.
    """
    cell = atoms.cell.array
    spacing = 1.0 / np.linalg.norm(np.linalg.inv(cell).T, axis=1)  # d of the (100)-type planes
    frac = np.sort(atoms.get_scaled_positions(wrap=True), axis=0)
    wrapped = np.vstack([frac, frac[:1] + 1.0])
    return np.diff(wrapped, axis=0).max(axis=0) * spacing


def check_vacuum_gap(
    atoms: Atoms, max_gap_A: float = MAX_VACUUM_GAP_A, *, source: str = "structure"
) -> None:
    """Raise :class:`InputError` if an atom-free slab wider than ``max_gap_A`` Å crosses the
    cell (:func:`vacuum_gaps`): a slab model or a misread cell, not a bulk crystal."""
    gaps = vacuum_gaps(atoms)
    axis = int(np.argmax(gaps))
    if gaps[axis] > max_gap_A:
        raise InputError(
            f"{source}: vacuum gap of {gaps[axis]:.1f} Å along cell axis {'abc'[axis]}, wider "
            f"than the {max_gap_A:g} Å allowed in a bulk structure (a slab or a misread cell?); "
            "expected a bulk periodic crystal"
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
