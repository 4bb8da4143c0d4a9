"""Energy-conservation check: NVE drift of a force field at a given time step.

A short NVE run from Maxwell–Boltzmann velocities (after a brief Bussi thermalisation) measures
how well the integrator conserves the total energy with this force field and time step:

* ``drift_meV_per_atom_per_ps``: slope of a straight-line fit of E_tot(t) per atom;
* ``rms_meV_per_atom``: RMS deviation of E_tot(t) from that line per atom (short-time noise);
* ``max_abs_meV_per_atom``: largest |E_tot(t) − E_tot(0)| per atom.

Rule of thumb: |drift| well below 1 meV/atom/ps is fine for a time step (a 20 ps production then
drifts < 20 meV/atom in NVE; with the Bussi thermostat such drift is removed anyway, but a large
NVE drift means a too large step or a non-smooth potential).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms

from ionraman.conventions import FS_PER_PS
from ionraman.errors import InputError, SimulationError
from ionraman.forcefields.registry import DEFAULT_FORCE_FIELD, LoadedForceField, load_force_field
from ionraman.md.thermostat import (
    build_integrator,
    conserved_energy,
    internal_temperature,
    thermalize,
)


@dataclass(frozen=True)
class EnergyConservation:
    """Result of :func:`check_energy_conservation` (energies per atom)."""

    force_field: str
    timestep_fs: float
    temperature_k: float
    time_ps: float
    n_atoms: int
    drift_meV_per_atom_per_ps: float
    rms_meV_per_atom: float
    max_abs_meV_per_atom: float
    temperature_mean_k: float

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def check_energy_conservation(
    atoms: Atoms,
    *,
    force_field: str | LoadedForceField = DEFAULT_FORCE_FIELD,
    temperature_k: float = 600.0,
    timestep_fs: float = 2.0,
    time_ps: float = 1.0,
    thermalize_ps: float = 0.2,
    seed: int = 0,
    threads: int | None = None,
    device: str = "auto",
) -> EnergyConservation:
    """Measure the NVE energy drift of ``force_field`` at ``timestep_fs`` (nothing is stored).

    Parameters
    ----------
    atoms
        Periodic structure (copied).
    force_field
        Name or loaded force field.
    temperature_k
        Temperature of the initial velocities and of the brief Bussi thermalisation, K.
    timestep_fs
        Time step to test, fs.
    time_ps
        NVE length, ps.
    thermalize_ps
        Bussi (τ = 50 fs) run before NVE, ps, so the NVE starts from a thermal state.
    seed, threads, device
        As in :func:`ionraman.md.run_md`.

    Returns
    -------
    EnergyConservation
    """
    if not temperature_k > 0 or not timestep_fs > 0 or not time_ps > 0 or thermalize_ps < 0:
        raise InputError("temperature_k, timestep_fs and time_ps must be positive")
    loaded = (
        force_field
        if isinstance(force_field, LoadedForceField)
        else load_force_field(force_field, device=device, threads=threads)
    )
    a = atoms.copy()
    a.calc = loaded.calculator
    rng = np.random.default_rng(seed)
    thermalize(a, temperature_k, rng)
    n_therm = round(thermalize_ps * FS_PER_PS / timestep_fs)
    if n_therm:
        eq = build_integrator(
            a, "bussi", timestep_fs=timestep_fs, temperature_k=temperature_k, tau_fs=50.0, rng=rng
        )
        for _ in range(n_therm):
            eq.step()
    nve = build_integrator(
        a, "nve", timestep_fs=timestep_fs, temperature_k=temperature_k, tau_fs=1.0, rng=rng
    )
    n = round(time_ps * FS_PER_PS / timestep_fs)
    e = np.empty(n + 1)
    temps = np.empty(n + 1)
    e[0] = conserved_energy(nve)
    temps[0] = internal_temperature(a)
    for i in range(1, n + 1):
        nve.step()
        e[i] = conserved_energy(nve)
        temps[i] = internal_temperature(a)
        if not np.isfinite(e[i]):
            raise SimulationError(f"NVE blew up at step {i} with timestep {timestep_fs} fs")
    t_ps = np.arange(n + 1) * timestep_fs / FS_PER_PS
    e_atom_mev = e / len(a) * 1e3
    slope, intercept = np.polyfit(t_ps, e_atom_mev, 1)
    resid = e_atom_mev - (slope * t_ps + intercept)
    return EnergyConservation(
        force_field=loaded.name,
        timestep_fs=timestep_fs,
        temperature_k=temperature_k,
        time_ps=n * timestep_fs / FS_PER_PS,
        n_atoms=len(a),
        drift_meV_per_atom_per_ps=float(slope),
        rms_meV_per_atom=float(np.sqrt(np.mean(resid**2))),
        max_abs_meV_per_atom=float(np.max(np.abs(e_atom_mev - e_atom_mev[0]))),
        temperature_mean_k=float(temps.mean()),
    )
