"""Γ-point phonons by finite differences, with symmetry labels: DFT and force fields alike.

The force constants of a (small, periodic) cell come from the forces of the symmetry-reduced set
of ±``delta_A`` single-atom displacements that phonopy chooses; diagonalising the dynamical
matrix at Γ gives the 3N frequencies, their irreducible representations (Mulliken labels of the
crystal's point group) and the eigenvectors. The same displacements and the same code serve DFT
(forces from QE through the resumable labeller) and every model, so the comparison is like for
like. Each mode also gets its overlap with the in-phase breathing of all tetrahedral anions
(:func:`ionraman.forcefields.tetrahedra.stretch_coordinates`): the Raman-active A1 stretching
mode of a thiophosphate or thioantimonate is the A1 mode with the largest overlap.

Needs phonopy (BSD-3, ``pip install 'ionraman[phonons]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms

from ionraman.errors import InputError
from ionraman.forcefields.tetrahedra import stretch_coordinates

CM1_PER_THZ = 1e12 / 2.99792458e10
"""cm⁻¹ per THz (1 / c in cm/s × 10¹²)."""
DEGENERACY_THZ = 1e-3
"""Modes closer than this (THz; 0.03 cm⁻¹) form one degenerate set for the irrep labels. A
looser tolerance merges the near-degenerate stretching modes of t-Na3SbS4 (376.3/376.5 cm⁻¹ in
DFT) and loses their labels; sets phonopy cannot label are ``"?"``."""


def _phonopy(atoms: Atoms, delta_A: float) -> Any:
    try:
        from phonopy import Phonopy
        from phonopy.structure.atoms import PhonopyAtoms
    except ImportError:
        raise InputError("Γ phonons need phonopy: pip install 'ionraman[phonons]'") from None
    unit = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=np.asarray(atoms.cell),
                        scaled_positions=atoms.get_scaled_positions(),
                        masses=atoms.get_masses())
    ph = Phonopy(unit, supercell_matrix=np.eye(3, dtype=int), primitive_matrix=None)
    ph.generate_displacements(distance=delta_A, is_plusminus=True)
    return ph


def gamma_displacements(atoms: Atoms, delta_A: float = 0.01) -> list[Atoms]:
    """The displaced copies of ``atoms`` whose forces give its Γ force constants.

    phonopy's symmetry-reduced ±``delta_A`` (Å) displacements (14 for the 16-atom t-Na3SbS4
    cell), in phonopy's order; ``info`` names the structure and the displacement.
    """
    ph = _phonopy(atoms, delta_A)
    name = str(atoms.info.get("name", atoms.get_chemical_formula()))
    out = []
    for k, cell in enumerate(ph.supercells_with_displacements):
        a = Atoms(cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions,
                  pbc=True)
        a.info = {"audit": "phonon", "displacement": k, "delta_A": delta_A, "name": name}
        out.append(a)
    return out


@dataclass(frozen=True)
class GammaModes:
    """Γ-point modes of one structure from one source.

    Attributes
    ----------
    source : str
        ``"DFT"`` or a force-field name.
    frequencies_cm1 : list of float
        3N frequencies (cm⁻¹), ascending; imaginary ones negative.
    irreps : list of str
        Mulliken label of each mode (``"?"`` where phonopy gives none).
    breathing_overlap : list of float
        |⟨mode|in-phase breathing of all tetrahedra⟩| of each mode (mass-weighted, 0–1).
    """

    source: str
    frequencies_cm1: list[float]
    irreps: list[str]
    breathing_overlap: list[float]

    @property
    def a1_stretch_cm1(self) -> float:
        """Frequency of the A1 mode with the largest breathing overlap (the Raman-active
        symmetric stretch); of the most breathing-like mode if no mode is labelled A1."""
        idx = [i for i, s in enumerate(self.irreps) if s.upper() in ("A1", "A1G", "A")]
        idx = idx or list(range(len(self.irreps)))
        best = max(idx, key=lambda i: self.breathing_overlap[i])
        return self.frequencies_cm1[best]


def gamma_modes(
    source: str, atoms: Atoms, forces: Sequence[np.ndarray], delta_A: float = 0.01
) -> GammaModes:
    """Γ modes of ``atoms`` from the forces (eV/Å) of :func:`gamma_displacements` (same order)."""
    ph = _phonopy(atoms, delta_A)
    n_disp = len(ph.supercells_with_displacements)
    if len(forces) != n_disp:
        raise InputError(f"Γ phonons of {atoms.get_chemical_formula()}: {len(forces)} force "
                         f"sets for {n_disp} displacements")
    ph.forces = np.asarray(forces, dtype=float)
    ph.produce_force_constants()
    ph.symmetrize_force_constants()
    freqs_thz, vectors = ph.get_frequencies_with_eigenvectors([0.0, 0.0, 0.0])
    ph.run_irreps([0.0, 0.0, 0.0], degeneracy_tolerance=DEGENERACY_THZ)
    labels = ["?"] * len(freqs_thz)
    ir_labels = getattr(ph.irreps, "_ir_labels", None) or []
    for band_set, label in zip(ph.irreps.band_indices, ir_labels, strict=False):
        for b in band_set:
            labels[b] = str(label) if label else "?"
    coords, _, _ = stretch_coordinates(atoms)
    breathing = (coords.sum(axis=0) * np.sqrt(atoms.get_masses())[:, None]).ravel()
    breathing /= np.linalg.norm(breathing)
    overlap = np.abs(vectors.T.conj() @ breathing)
    return GammaModes(source, [float(f) * CM1_PER_THZ for f in freqs_thz], labels,
                      [float(o) for o in overlap])
