"""A cheap pair-potential calculator for workflow tests (``calculators.py:factory`` names).

Physics is not the point: Morse pairs with parameters that keep Na3SbS4-type cells (SbS4
tetrahedra, Na between them) intact for a few hundred femtoseconds at 600-1200 K, so the
workflow's MD, α, spectrum and transport stages get real, deterministic input in milliseconds.
A pure function of the positions (neighbour list rebuilt every call), so a resumed MD run is
bit-for-bit the uninterrupted one.
"""

from __future__ import annotations

import time

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from matscipy.neighbours import neighbour_list as neighbor_list

# (De eV, a 1/Å, r0 Å) per unordered pair; missing pairs: soft repulsion
_MORSE = {
    ("S", "Sb"): (2.0, 1.6, 2.40),
    ("S", "W"): (2.2, 1.6, 2.22),
    ("S", "P"): (2.4, 1.8, 2.05),
    ("Na", "S"): (0.12, 1.3, 2.95),
    ("S", "S"): (0.01, 1.2, 3.9),
}
_REPULSION = (0.3, 2.2)  # A exp(-(r - 3.0) / rho) ... (eV, 1/Å): A e^{-b (r - 3)}
_CUTOFF = 5.5


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


class MorsePairs(Calculator):
    """Morse pairs within 5.5 Å, energy shifted to zero at the cutoff."""

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, delay_s: float = 0.0, nan_after_calls: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.delay_s = delay_s
        self.nan_after_calls = nan_after_calls

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if self.delay_s:
            time.sleep(self.delay_s)
        # calls counted on the Atoms object, not the calculator: workers cache one calculator for
        # all their tasks, and a task must break at the same step whichever worker runs it
        calls = atoms._test_calls = getattr(atoms, "_test_calls", 0) + 1
        at = self.atoms
        i, j, d, vec = neighbor_list("ijdD", at, _CUTOFF)
        species = sorted(set(at.get_chemical_symbols()))
        idx = np.array([species.index(x) for x in at.get_chemical_symbols()])
        n = len(species)
        table = np.empty((n, n, 4))
        for p, sp in enumerate(species):
            for q, sq in enumerate(species):
                m = _MORSE.get(_pair(sp, sq))
                table[p, q] = (*_REPULSION, 3.0, 1.0) if m is None else (*m, 0.0)
        par = table[idx[i], idx[j]]
        de, a, r0, rep = par[:, 0], par[:, 1], par[:, 2], par[:, 3] > 0.5
        ex = np.exp(-a * (d - r0))
        exc = np.exp(-a * (_CUTOFF - r0))
        e_m = de * ((1 - ex) ** 2 - (1 - exc) ** 2)
        de_dr_m = 2 * de * a * (1 - ex) * ex
        e_r = de * (ex - exc)
        de_dr_r = -de * a * ex
        e = np.where(rep, e_r, e_m)
        dedr = np.where(rep, de_dr_r, de_dr_m)
        energy = 0.5 * float(e.sum())  # each pair appears twice
        fvec = (0.5 * dedr / d)[:, None] * vec  # dE/dr * r̂ on j, half per direction
        forces = np.zeros((len(at), 3))
        np.add.at(forces, i, fvec)
        np.add.at(forces, j, -fvec)
        stress = -np.einsum("pa,pb->ab", fvec, vec) / at.get_volume()
        if self.nan_after_calls is not None and calls > self.nan_after_calls:
            forces[0, 0] = np.nan  # a model that breaks down numerically
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": forces,
            "stress": stress.ravel()[[0, 4, 8, 5, 2, 1]],
        }


def morse() -> MorsePairs:
    return MorsePairs()


def slow_morse() -> MorsePairs:
    """25 ms per call: MD slow enough to kill a worker in the middle of it."""
    return MorsePairs(delay_s=0.025)


def broken_morse() -> MorsePairs:
    """Forces turn NaN after 20 calls on one Atoms: the MD guard stops the run (a failing task)."""
    return MorsePairs(nan_after_calls=20)
