"""Labelled polarizability data: structures with a reference α in ``atoms.info``, checked.

Every α model (bond and Cartesian tensor) is trained and scored on frames read here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from ionraman.conventions import POLARIZABILITY_KEY
from ionraman.errors import InputError
from ionraman.structures.validate import check_min_distance

__all__ = ["load_labelled"]


def load_labelled(
    data: str | os.PathLike[str] | Sequence[Atoms], key: str = POLARIZABILITY_KEY
) -> list[Atoms]:
    """Labelled structures from an extended XYZ file or a list of Atoms (``info[key]``, 3×3 or 9
    components, Å³); raises :class:`InputError` naming the structure that lacks a label."""
    if isinstance(data, str | os.PathLike):
        from ionraman.polarizability.reference.importers.extxyz import read_extxyz_reference

        path = Path(data)
        if not path.is_file():
            raise InputError(f"training data not found: {path}")
        frames = read_extxyz_reference(path, key=key)
        key = POLARIZABILITY_KEY
        source = str(path)
    else:
        frames = list(data)
        source = "structure list"
    if not frames:
        raise InputError(f"{source}: no structures")
    for n, atoms in enumerate(frames):
        if not isinstance(atoms, Atoms):
            raise InputError(f"{source}: item {n} is not an ase.Atoms")
        if key not in atoms.info:
            raise InputError(f"{source}: structure {n} has no atoms.info[{key!r}] (3x3 α, Å³)")
        value = np.asarray(atoms.info[key], dtype=float)
        if value.size != 9:
            raise InputError(f"{source}: structure {n}: {key} must have 9 components")
        if not np.all(np.isfinite(value)):
            raise InputError(f"{source}: structure {n}: {key} is not finite")
        if atoms.cell.rank != 3:
            raise InputError(f"{source}: structure {n} has no 3D cell")
        check_min_distance(atoms, source=f"{source}: structure {n}")
    return frames
