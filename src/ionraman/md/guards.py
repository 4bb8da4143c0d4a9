"""Guards that stop a run whose physics has gone wrong (the data written so far is kept).

Checked after every MD step (and once before the first): non-finite positions, momenta or forces;
a force above a bound; a temperature above a multiple of the target for many consecutive steps
(runaway); two atoms closer than a fraction of the sum of their covalent radii (every
``distance_check_every_steps``; a neighbour search with a short cutoff, cheap next to an ML force
call).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list

from ionraman.md.settings import GuardSettings
from ionraman.md.thermostat import internal_temperature


@dataclass
class GuardViolation:
    """What fired, as one line (the runner wraps it in a SimulationError)."""

    guard: str
    message: str


@dataclass
class GuardMonitor:
    """Stateful checker (it counts consecutive hot steps); ``hot_steps`` is checkpointed."""

    settings: GuardSettings
    target_temperature_k: float
    hot_steps: int = 0

    def check(self, atoms: Atoms, step: int) -> GuardViolation | None:
        """Return the first violated guard at MD step ``step``, or ``None``."""
        g = self.settings
        pos = atoms.get_positions()
        mom = atoms.get_momenta()
        if not (np.isfinite(pos).all() and np.isfinite(mom).all()):
            return GuardViolation("nan", "coordinates or velocities became NaN/inf")
        forces = atoms.get_forces()
        if not np.isfinite(forces).all():
            bad = int(np.flatnonzero(~np.isfinite(forces).all(axis=1))[0])
            return GuardViolation("nan", f"force on atom {bad} became NaN/inf")
        if g.max_force_eV_A is not None:
            fnorm = np.linalg.norm(forces, axis=1)
            i = int(np.argmax(fnorm))
            if fnorm[i] > g.max_force_eV_A:
                return GuardViolation(
                    "force",
                    f"force {fnorm[i]:.3g} eV/Å on atom {i} ({atoms[i].symbol}) exceeds "
                    f"max_force_eV_A={g.max_force_eV_A:g}",
                )
        if g.min_distance_factor is not None and step % g.distance_check_every_steps == 0:
            hit = closest_violation(atoms, g.min_distance_factor)
            if hit is not None:
                i, j, d, bound = hit
                return GuardViolation(
                    "distance",
                    f"atoms {i} ({atoms[i].symbol}) and {j} ({atoms[j].symbol}) are {d:.3f} Å "
                    f"apart, below {bound:.3f} Å (min_distance_factor={g.min_distance_factor:g} "
                    "× covalent radii)",
                )
        if g.max_temperature_factor is not None:
            t = internal_temperature(atoms)
            if t > g.max_temperature_factor * self.target_temperature_k:
                self.hot_steps += 1
            else:
                self.hot_steps = 0
            if self.hot_steps >= g.runaway_steps:
                return GuardViolation(
                    "temperature",
                    f"temperature runaway: {t:.0f} K, above {g.max_temperature_factor:g} × "
                    f"{self.target_temperature_k:g} K for {self.hot_steps} consecutive steps",
                )
        return None


def closest_violation(atoms: Atoms, factor: float) -> tuple[int, int, float, float] | None:
    """The pair (i, j, distance Å, bound Å) furthest below ``factor × (r_i + r_j)``, or ``None``.

    Uses ASE's neighbour list with per-atom cutoffs ``factor × r_cov`` (a pair is listed when its
    distance is below the sum of the two cutoffs), so the search is short-ranged and O(N).
    """
    radii = factor * covalent_radii[atoms.numbers]
    i, j, d = neighbor_list("ijd", atoms, radii.tolist(), self_interaction=False)
    if len(d) == 0:
        return None
    bound = radii[i] + radii[j]
    k = int(np.argmin(d / bound))
    return int(i[k]), int(j[k]), float(d[k]), float(bound[k])
