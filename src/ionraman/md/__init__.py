"""Molecular dynamics on ASE with ML force fields, streamed into the trajectory store.

>>> from ionraman.md import run_md, parse_time_ps
>>> run_md("t-Na3SbS4", temperature_k=600, time_ps=parse_time_ps("20ps"))  # doctest: +SKIP

* :func:`run_md` / :class:`MDSettings`: equilibration (fixed cell or NPT) then production NVT
  (Bussi CSVR or Nosé–Hoover chain; never Langevin) or NVE, frames every ``sample_every_fs``,
  atomic checkpoints and exact kill-and-resume, guards (:class:`GuardSettings`).
* :func:`run_md_series`: several temperatures/seeds with one force-field load.
* :func:`check_energy_conservation`: NVE drift for a force field and time step.
* :func:`tetrahedra_intact`: coordination sanity check (SbS4 units) after a run.
"""

from ionraman.md.checkpoint import Checkpoint, checkpoint_path
from ionraman.md.conservation import EnergyConservation, check_energy_conservation
from ionraman.md.runner import failed_structure_path, run_md, run_md_series, simulate, thermo_path
from ionraman.md.sanity import coordination_numbers, tetrahedra_intact, trajectory_tetrahedra_intact
from ionraman.md.settings import (
    ENSEMBLES,
    EQUILIBRATION_ENSEMBLES,
    THERMOSTATS,
    GuardSettings,
    MDSettings,
    parse_time_ps,
)

__all__ = [
    "ENSEMBLES",
    "EQUILIBRATION_ENSEMBLES",
    "THERMOSTATS",
    "Checkpoint",
    "EnergyConservation",
    "GuardSettings",
    "MDSettings",
    "check_energy_conservation",
    "checkpoint_path",
    "coordination_numbers",
    "failed_structure_path",
    "parse_time_ps",
    "run_md",
    "run_md_series",
    "simulate",
    "tetrahedra_intact",
    "thermo_path",
    "trajectory_tetrahedra_intact",
]
