"""Short ligand–ligand contacts (S–S in thioantimonates) against DFT.

A soft framework shows up at high temperature as transient contacts between the ligands of
neighbouring anions (two S closer than an S–S single bond allows in these solids, < 2.6 Å).
Whether such a contact is physics or an artefact of the force field is decided by DFT on the
frames where it occurs: if the model pushes the pair apart less than DFT does, its contacts are
too easy. This module measures that on DFT-labelled frames (``ionraman reference forces``):

* the force RMSE over all atoms and over the ligands in a contact (meV/Å), and
* per contact the relative force along the contact axis, F_rel = (F_i − F_j) · r̂_ij (eV/Å,
  positive pushes the pair apart), model and DFT, and the mean model − DFT difference with its
  standard error over contacts (negative: the model's contacts are softer than DFT's).

``scripts/student_stability.py`` finds the frames, ``scripts/contact_forces.py`` prints the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator

from ionraman.errors import InputError

CONTACT_A = 2.6
"""Ligand–ligand distance below which two S count as in contact (Å)."""


@dataclass(frozen=True)
class Contact:
    """One ligand pair closer than the cutoff: atoms ``i`` < ``j``, unit vector from j to i,
    distance (Å), minimum image."""

    i: int
    j: int
    axis: np.ndarray
    distance_A: float

    def pair_force(self, forces: np.ndarray) -> float:
        """Relative force along the contact axis (eV/Å; ``forces`` [n, 3] eV/Å), positive when
        it separates the pair."""
        return float(np.dot(forces[self.i] - forces[self.j], self.axis))


def ligand_contacts(atoms: Atoms, species: str = "S", cutoff_A: float = CONTACT_A
                    ) -> list[Contact]:
    """Pairs of ``species`` atoms closer than ``cutoff_A`` (Å), minimum image."""
    from ase.neighborlist import neighbor_list

    sym = np.asarray(atoms.get_chemical_symbols())
    i, j, d, vec = neighbor_list("ijdD", atoms, cutoff_A, self_interaction=False)
    keep = (sym[i] == species) & (sym[j] == species) & (i < j)
    # D is r_j − r_i; the axis from j to i is its negative
    return [Contact(int(a), int(b), -v / n, float(n))
            for a, b, v, n in zip(i[keep], j[keep], vec[keep], d[keep], strict=True)]


@dataclass(frozen=True)
class ContactErrors:
    """One model against DFT on frames with ligand contacts.

    Attributes
    ----------
    model : str
        Force-field name.
    n_frames, n_contacts : int
        Frames, and contacts in them.
    force_rmse_meV_A : float
        Over all atoms of the frames (meV/Å).
    contact_force_rmse_meV_A : float
        Over the ligands in a contact (meV/Å).
    pair_force_dft_eV_A, pair_force_model_eV_A : float
        Mean relative force along the contact axes (eV/Å; positive: repulsive).
    pair_force_diff_eV_A, pair_force_diff_sem_eV_A : float
        Mean model − DFT relative force over contacts and its standard error (eV/Å).
    """

    model: str
    n_frames: int
    n_contacts: int
    force_rmse_meV_A: float
    contact_force_rmse_meV_A: float
    pair_force_dft_eV_A: float
    pair_force_model_eV_A: float
    pair_force_diff_eV_A: float
    pair_force_diff_sem_eV_A: float


def contact_errors(name: str, calc: BaseCalculator, frames: Sequence[Atoms],
                   species: str = "S", cutoff_A: float = CONTACT_A) -> ContactErrors:
    """Compare ``calc`` with the DFT forces of ``frames`` (calculator results) on their
    ``species`` contacts; InputError with fewer than two contacts in all."""
    from ionraman.forcefields.audit import predict, reference_values

    pairs = [ligand_contacts(a, species, cutoff_A) for a in frames]
    if sum(map(len, pairs)) < 2:
        raise InputError(f"{len(frames)} frames hold fewer than two {species}–{species} "
                         f"contacts below {cutoff_A} Å: nothing to compare")
    ref = reference_values(frames)
    pred, _ = predict(calc, frames, stress=False)
    dft = np.array([c.pair_force(r["forces"]) for r, cs in zip(ref, pairs, strict=True)
                    for c in cs])
    model = np.array([c.pair_force(p["forces"]) for p, cs in zip(pred, pairs, strict=True)
                      for c in cs])
    d_all = np.concatenate([p["forces"] - r["forces"] for p, r in zip(pred, ref, strict=True)])
    members = [sorted({k for c in cs for k in (c.i, c.j)}) for cs in pairs]
    d_con = np.concatenate([(p["forces"] - r["forces"])[m]
                            for p, r, m in zip(pred, ref, members, strict=True)])
    diff = model - dft
    return ContactErrors(
        model=name, n_frames=len(frames), n_contacts=len(diff),
        force_rmse_meV_A=1e3 * float(np.sqrt(np.mean(d_all**2))),
        contact_force_rmse_meV_A=1e3 * float(np.sqrt(np.mean(d_con**2))),
        pair_force_dft_eV_A=float(dft.mean()), pair_force_model_eV_A=float(model.mean()),
        pair_force_diff_eV_A=float(diff.mean()),
        pair_force_diff_sem_eV_A=float(diff.std(ddof=1) / np.sqrt(len(diff))),
    )
