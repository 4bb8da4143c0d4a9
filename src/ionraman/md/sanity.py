"""Coordination sanity checks after (or during) a run: are the SbS4 tetrahedra still intact?

A universal force field can break the polyanion framework at high temperature (CHGNet made
SbS3/SbS5 units within 1 ps at 600 K in t-Na3SbS4); such a run is not a Raman/transport sample
of the intended material. These functions count ligands around each centre with ASE's
neighbour list (periodic images included).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from ase import Atoms
from ase.neighborlist import neighbor_list

from ionraman.conventions import FS_PER_PS
from ionraman.errors import InputError


def coordination_numbers(
    atoms: Atoms, center: str = "Sb", ligand: str = "S", cutoff: float = 3.0
) -> np.ndarray:
    """Number of ``ligand`` atoms within ``cutoff`` (Å) of each ``center`` atom.

    Returns
    -------
    numpy.ndarray
        Shape ``[n_center]`` int, in the order the centres appear in ``atoms``.
    """
    symbols = np.asarray(atoms.get_chemical_symbols())
    centers = np.flatnonzero(symbols == center)
    if len(centers) == 0:
        raise InputError(f"no {center!r} atoms in {atoms.get_chemical_formula()}")
    if not np.any(symbols == ligand):
        raise InputError(f"no {ligand!r} atoms in {atoms.get_chemical_formula()}")
    if not cutoff > 0:
        raise InputError(f"cutoff must be positive, got {cutoff} Å")
    i, j = neighbor_list("ij", atoms, cutoff, self_interaction=False)
    keep = (symbols[i] == center) & (symbols[j] == ligand)
    counts = np.bincount(i[keep], minlength=len(atoms))
    return counts[centers]


def tetrahedra_intact(
    atoms: Atoms,
    center: str = "Sb",
    ligand: str = "S",
    cutoff: float = 3.0,
    coordination: int = 4,
) -> float:
    """Fraction of ``center`` atoms with exactly ``coordination`` ligands within ``cutoff`` Å.

    1.0 means every SbS4 tetrahedron (default arguments) is intact; compare with ``== 1.0`` for a
    yes/no answer. The 3.0 Å default sits between the Sb–S bond (≈2.33 Å) and the next S shell.
    """
    cn = coordination_numbers(atoms, center, ligand, cutoff)
    return float(np.mean(cn == coordination))


def trajectory_tetrahedra_intact(
    path: str | os.PathLike[str],
    *,
    center: str = "Sb",
    ligand: str = "S",
    cutoff: float = 3.0,
    coordination: int = 4,
    every: int = 1,
    ligand_bond_A: float = 2.6,
) -> pd.DataFrame:
    """:func:`tetrahedra_intact` for every ``every``-th frame of a trajectory store.

    Also counts ligand–ligand bonds (pairs of ``ligand`` atoms closer than ``ligand_bond_A``:
    S–S bonds are 2.0–2.1 Å, non-bonded S–S contacts in thioantimonates > 3.3 Å), the signature
    of a framework decomposing into polysulfides.

    Returns
    -------
    pandas.DataFrame
        Columns ``frame``, ``time_ps``, ``intact_fraction``, ``n_defective``,
        ``n_ligand_bonds``.
    """
    from ionraman.trajectory import open_trajectory

    if every < 1:
        raise InputError(f"every must be >= 1, got {every}")
    rows = []
    with open_trajectory(path) as traj:
        times = traj.times_fs
        for idx in range(0, traj.n_frames, every):
            atoms = traj.get_atoms(idx)
            cn = coordination_numbers(atoms, center, ligand, cutoff)
            ok = cn == coordination
            sym = np.asarray(atoms.get_chemical_symbols())
            i, j = neighbor_list("ij", atoms, ligand_bond_A, self_interaction=False)
            n_ll = int(np.sum((sym[i] == ligand) & (sym[j] == ligand)) // 2)
            rows.append((idx, times[idx] / FS_PER_PS, float(ok.mean()), int((~ok).sum()), n_ll))
    return pd.DataFrame(
        rows, columns=["frame", "time_ps", "intact_fraction", "n_defective", "n_ligand_bonds"]
    )


def framework_summary(
    path: str | os.PathLike[str], *, max_frames: int | None = None
) -> dict[str, float] | None:
    """How intact the SbS4 framework stays along a trajectory store.

    Parameters
    ----------
    path
        Trajectory store.
    max_frames
        Look at about this many evenly spaced frames (``None``: every frame).

    Returns
    -------
    dict or None
        Fractions of the frames examined: ``all_SbS4_intact`` (every Sb with four S within
        3.0 Å), ``no_S_S_bond`` (no S–S pair closer than 2.6 Å) and ``intact_and_no_S_S`` (both);
        ``None`` for a compound without Sb and S, or an empty store.
    """
    from ionraman.trajectory import open_trajectory

    with open_trajectory(path) as traj:
        n = len(traj)
        symbols = set(traj.get_atoms(0).get_chemical_symbols()) if n else set()
    if not {"Sb", "S"} <= symbols:
        return None
    every = max(1, n // max_frames) if max_frames else 1
    tab = trajectory_tetrahedra_intact(path, every=every)
    intact = tab["intact_fraction"].to_numpy() == 1.0
    no_ss = tab["n_ligand_bonds"].to_numpy() == 0
    return {
        "all_SbS4_intact": float(np.mean(intact)),
        "no_S_S_bond": float(np.mean(no_ss)),
        "intact_and_no_S_S": float(np.mean(intact & no_ss)),
    }

