"""Diagonal supercells sized by a minimum perpendicular width and/or a minimum atom count."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from ionraman.errors import InputError


def perpendicular_widths(cell: np.ndarray) -> np.ndarray:
    """Distances between opposite faces of a cell.

    Parameters
    ----------
    cell
        Cell vectors as rows, shape ``(3, 3)``, Å.

    Returns
    -------
    numpy.ndarray
        Shape ``(3,)``, Å: width ``i`` is the cell volume divided by the area of the face spanned by
        the two other vectors. A sphere of radius ``min(widths) / 2`` fits in the cell without
        touching its periodic images (the usual force-field cutoff criterion).
    """
    cell = np.asarray(cell, dtype=float)
    volume = abs(float(np.linalg.det(cell)))
    areas = np.array(
        [np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3])) for k in range(3)]
    )
    return volume / areas


def supercell_repeat(
    atoms: Atoms, *, min_length_A: float | None = None, min_atoms: int | None = None
) -> tuple[int, int, int]:
    """Smallest diagonal repeat meeting a minimum width and then a minimum atom count.

    Each direction is first repeated until its perpendicular width reaches ``min_length_A``; then,
    while the cell holds fewer than ``min_atoms`` atoms, the direction with the currently smallest
    width is repeated once more (this keeps the supercell as close to isotropic as a diagonal
    repeat allows).

    Returns
    -------
    tuple of int
        Repeats along the three cell vectors.
    """
    if len(atoms) == 0:
        raise InputError("supercell: the structure has no atoms")
    widths = perpendicular_widths(atoms.cell.array)
    if not np.all(widths > 0):
        raise InputError("supercell: the cell is degenerate (zero volume); a 3D cell is required")
    n = np.ones(3, dtype=int)
    if min_length_A is not None:
        if not min_length_A > 0:
            raise InputError(f"supercell: min_length_A must be > 0, got {min_length_A}")
        n = np.maximum(1, np.ceil(min_length_A / widths - 1e-9).astype(int))
    if min_atoms is not None:
        if min_atoms < 1:
            raise InputError(f"supercell: min_atoms must be >= 1, got {min_atoms}")
        while len(atoms) * int(np.prod(n)) < min_atoms:
            n[int(np.argmin(n * widths))] += 1
    return (int(n[0]), int(n[1]), int(n[2]))


def make_supercell(
    atoms: Atoms,
    *,
    min_length_A: float | None = None,
    min_atoms: int | None = None,
    repeat: int | Sequence[int] | None = None,
) -> Atoms:
    """Repeat ``atoms`` diagonally: an explicit ``repeat`` or a size target.

    Parameters
    ----------
    atoms
        Periodic structure (not modified).
    min_length_A
        Minimum perpendicular width of the supercell in every direction, Å (e.g. twice the
        force-field cutoff).
    min_atoms
        Minimum number of atoms in the supercell.
    repeat
        Explicit repeats, one int for all three directions or three ints; excludes the targets.

    Returns
    -------
    ase.Atoms
        New supercell; ``info["supercell_repeat"]`` holds the repeats used.

    Notes
    -----
    Repeating a cell that carries a random ordering (dopants, vacancies, disordered Ag⁺) copies that
    ordering periodically; for such structures ask :func:`ionraman.structures.get_structure` for the
    supercell instead, which draws the random ordering over the whole supercell.
    """
    if repeat is not None:
        if min_length_A is not None or min_atoms is not None:
            raise InputError("supercell: give either repeat or min_length_A/min_atoms, not both")
        n = _as_repeat(repeat)
    elif min_length_A is None and min_atoms is None:
        raise InputError("supercell: give repeat, min_length_A or min_atoms")
    else:
        n = supercell_repeat(atoms, min_length_A=min_length_A, min_atoms=min_atoms)
    out = atoms.repeat(n)
    out.info = dict(atoms.info)
    previous = atoms.info.get("supercell_repeat", (1, 1, 1))
    out.info["supercell_repeat"] = tuple(int(a * b) for a, b in zip(previous, n, strict=True))
    return out


def _as_repeat(repeat: int | Sequence[int]) -> tuple[int, int, int]:
    """Validate and normalise a repeat specification to three positive ints."""
    values = [repeat] * 3 if isinstance(repeat, (int, np.integer)) else list(repeat)
    if len(values) != 3 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise InputError(
            f"supercell: repeat must be a positive int or three positive ints, got {repeat!r}"
        )
    return (int(values[0]), int(values[1]), int(values[2]))
