"""Tetrahedral anions (SbS4, PS4, WS4, ...): which atoms form them and their stretching coordinates.

Used by the force-field audit (finite-difference stretching frequencies) and the Γ-phonon
analysis (the breathing mode's overlap with each phonon).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from ionraman.errors import InputError

__all__ = ["BOND_CUTOFF_A", "LIGANDS", "TETRAHEDRAL_CENTRES", "stretch_coordinates"]

TETRAHEDRAL_CENTRES = ("Sb", "P", "W", "Ge", "Sn", "Si", "As", "Mo")
"""Centres of the tetrahedral anions whose stretching modes are audited."""
LIGANDS = ("S", "Se", "O")
BOND_CUTOFF_A = 3.0
"""X–Y distance below which a ligand belongs to a centre (Å), as in :mod:`ionraman.md.sanity`."""


def stretch_coordinates(atoms: Atoms) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Radial ligand displacements of every tetrahedral anion of ``atoms``.

    Returns
    -------
    coords : ndarray, shape (n_coords, n_atoms, 3)
        Unit displacement patterns: ligand j moved along the unit vector from its centre i.
    masses : ndarray, shape (n_coords,)
        Mass of the moved ligand (amu).
    bonds : list of (int, int)
        (centre, ligand) atom indices of each coordinate.

    Raises
    ------
    InputError
        If a centre does not have exactly four ligands within :data:`BOND_CUTOFF_A`.
    """
    symbols = np.asarray(atoms.get_chemical_symbols())
    i, j, d = neighbor_list("ijD", atoms, BOND_CUTOFF_A)
    keep = np.isin(symbols[i], TETRAHEDRAL_CENTRES) & np.isin(symbols[j], LIGANDS)
    i, j, d = i[keep], j[keep], d[keep]
    order = np.lexsort((j, i))
    i, j, d = i[order], j[order], d[order]
    if len(i) == 0:
        raise InputError(f"{atoms.get_chemical_formula()}: no tetrahedral anion "
                         f"({'/'.join(TETRAHEDRAL_CENTRES)} bonded to {'/'.join(LIGANDS)})")
    counts = np.bincount(i, minlength=len(atoms))
    bad = [int(c) for c in np.flatnonzero((counts != 4) & np.isin(symbols, TETRAHEDRAL_CENTRES))]
    if bad:
        raise InputError(f"{atoms.get_chemical_formula()}: centres {bad} do not have four "
                         f"ligands within {BOND_CUTOFF_A} Å (not intact tetrahedra)")
    coords = np.zeros((len(i), len(atoms), 3))
    coords[np.arange(len(i)), j] = d / np.linalg.norm(d, axis=1)[:, None]
    masses = atoms.get_masses()[j]
    return coords, masses, [(int(a), int(b)) for a, b in zip(i, j, strict=True)]
