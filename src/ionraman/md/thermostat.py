"""Integrators on ASE: NVE, Bussi CSVR, Nosé–Hoover chain, MTK NPT; their state for checkpoints.

All thermostats here are global (they act on the total kinetic energy or through one friction
variable shared by all atoms), which leaves the low-frequency dynamics intact. Langevin is not
offered on purpose: its per-atom friction damps the slow motions the Raman central peak measures.

Degrees of freedom: velocities start with zero centre-of-mass momentum, and all integrators keep
it zero (forces of translation-invariant models sum to zero), so the kinetic energy holds
``3N − 3`` degrees of freedom. The Bussi target uses ``3N − 3``; the Nosé–Hoover/MTK classes of ASE
count ``3N``, so their set-point is scaled by ``(3N − 3)/3N`` to give the requested internal
temperature. :func:`internal_temperature` reports T with ``3N − 3``.

The dynamical state beyond positions, momenta and cell (thermostat chain variables, barostat
momenta, Bussi's transferred energy) is read and written by :func:`integrator_state` /
:func:`restore_integrator_state` so a resumed run continues bit for bit. These touch private
attributes of ASE's classes; the kill-and-resume tests in ``tests/md`` guard against ASE changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.md.bussi import Bussi
from ase.md.md import MolecularDynamics
from ase.md.nose_hoover_chain import IsotropicMTKNPT, MaskedMTKNPT, NoseHooverChainNVT
from ase.md.verlet import VelocityVerlet

INTEGRATORS = ("nve", "bussi", "nose-hoover", "npt", "npt-iso")

# (sub-object attribute or "", attribute) pairs that hold each integrator's dynamical state.
_STATE_ATTRS: dict[str, tuple[tuple[str, str], ...]] = {
    "nve": (),
    "bussi": (("", "transferred_energy"),),
    "nose-hoover": (("_thermostat", "_eta"), ("_thermostat", "_p_eta")),
    "npt": (
        ("_thermostat", "_eta"),
        ("_thermostat", "_p_eta"),
        ("_barostat", "_xi"),
        ("_barostat", "_p_xi"),
        ("", "_p_c"),
        ("", "_h0_basis"),
    ),
    "npt-iso": (
        ("_thermostat", "_eta"),
        ("_thermostat", "_p_eta"),
        ("_barostat", "_xi"),
        ("_barostat", "_p_xi"),
        ("", "_eps"),
        ("", "_p_eps"),
        ("", "_volume0"),
        ("", "_cell0"),
    ),
}


@dataclass
class Integrator:
    """An ASE dynamics object and the name of its scheme (one of :data:`INTEGRATORS`)."""

    kind: str
    dyn: MolecularDynamics
    temperature_k: float

    def step(self) -> None:
        """Advance one MD step."""
        self.dyn.step()


def internal_dof(atoms: Atoms) -> int:
    """Kinetic degrees of freedom with the centre of mass fixed: ``3N − 3`` (3 for N = 1)."""
    n = len(atoms)
    return 3 * n - 3 if n > 1 else 3


def internal_temperature(atoms: Atoms) -> float:
    """Instantaneous temperature in K from the kinetic energy over ``3N − 3`` degrees of freedom."""
    return 2.0 * atoms.get_kinetic_energy() / (internal_dof(atoms) * units.kB)


def thermalize(atoms: Atoms, temperature_k: float, rng: np.random.Generator) -> None:
    """Maxwell–Boltzmann momenta at ``temperature_k`` (K), zero total momentum, rescaled so that
    :func:`internal_temperature` equals ``temperature_k`` exactly."""
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    thermalize_momenta(atoms, temperature_k, rng=rng)
    Stationary(atoms, preserve_temperature=False)
    t_now = internal_temperature(atoms)
    if t_now > 0:
        atoms.set_momenta(atoms.get_momenta() * np.sqrt(temperature_k / t_now))


def build_integrator(
    atoms: Atoms,
    kind: str,
    *,
    timestep_fs: float,
    temperature_k: float,
    tau_fs: float,
    rng: np.random.Generator,
    barostat_fs: float = 1000.0,
    pressure_gpa: float = 0.0,
) -> Integrator:
    """Create an ASE dynamics object for ``atoms`` (which must carry momenta already).

    Parameters
    ----------
    atoms
        Structure with calculator and momenta.
    kind
        One of :data:`INTEGRATORS`.
    timestep_fs
        Time step, fs.
    temperature_k
        Target internal temperature, K.
    tau_fs
        Thermostat time constant (Bussi τ_T, Nosé–Hoover ``tdamp``), fs.
    rng
        Random generator of the Bussi thermostat (its state is checkpointed by the caller).
    barostat_fs
        MTK barostat ``pdamp``, fs.
    pressure_gpa
        External pressure, GPa.
    """
    dt = timestep_fs * units.fs
    dof = internal_dof(atoms)
    # ASE's NHC/MTK count 3N degrees of freedom: scale the set-point so the internal T is right.
    t_nhc = temperature_k * dof / (3 * len(atoms))
    if kind == "nve":
        dyn: MolecularDynamics = VelocityVerlet(atoms, timestep=dt)
    elif kind == "bussi":
        dyn = Bussi(
            atoms, timestep=dt, temperature_K=temperature_k, taut=tau_fs * units.fs, rng=rng
        )
        dyn.ndof = dof
        dyn.target_kinetic_energy = 0.5 * units.kB * temperature_k * dof
    elif kind == "nose-hoover":
        dyn = NoseHooverChainNVT(
            atoms, timestep=dt, temperature_K=t_nhc, tdamp=tau_fs * units.fs, tchain=3
        )
    elif kind == "npt":
        dyn = MaskedMTKNPT(
            atoms,
            timestep=dt,
            temperature_K=t_nhc,
            pressure_au=pressure_gpa * units.GPa,
            tdamp=tau_fs * units.fs,
            pdamp=barostat_fs * units.fs,
            mask=(True, True, True),
        )
    elif kind == "npt-iso":
        dyn = IsotropicMTKNPT(
            atoms,
            timestep=dt,
            temperature_K=t_nhc,
            pressure_au=pressure_gpa * units.GPa,
            tdamp=tau_fs * units.fs,
            pdamp=barostat_fs * units.fs,
        )
    else:  # pragma: no cover - guarded by MDSettings
        raise ValueError(f"unknown integrator {kind!r}")
    return Integrator(kind=kind, dyn=dyn, temperature_k=temperature_k)


def conserved_energy(integ: Integrator) -> float:
    """Conserved quantity of the scheme, eV: total energy (NVE); total energy minus the energy
    the Bussi thermostat put in; the extended-system energy of Nosé–Hoover / MTK."""
    atoms = integ.dyn.atoms
    if integ.kind == "nve":
        return float(atoms.get_potential_energy() + atoms.get_kinetic_energy())
    if integ.kind == "bussi":
        dyn: Any = integ.dyn
        etot = atoms.get_potential_energy() + atoms.get_kinetic_energy()
        return float(etot - dyn.transferred_energy)
    return float(integ.dyn.get_conserved_energy())


def integrator_state(integ: Integrator) -> dict[str, np.ndarray]:
    """Copy of the integrator's own dynamical variables (arrays; scalars as 0-d arrays)."""
    out = {}
    for sub, attr in _STATE_ATTRS[integ.kind]:
        obj = getattr(integ.dyn, sub) if sub else integ.dyn
        out[f"{sub}.{attr}" if sub else attr] = np.array(getattr(obj, attr), dtype=float)
    return out


def restore_integrator_state(integ: Integrator, state: dict[str, np.ndarray]) -> None:
    """Write back variables from :func:`integrator_state` (after building on restored atoms)."""
    for sub, attr in _STATE_ATTRS[integ.kind]:
        obj = getattr(integ.dyn, sub) if sub else integ.dyn
        value = np.array(state[f"{sub}.{attr}" if sub else attr], dtype=float)
        current = getattr(obj, attr)
        setattr(obj, attr, float(value) if np.ndim(current) == 0 else value.copy())
    # NHC/MTK keep private copies of positions and momenta taken at construction; the atoms were
    # restored before building, so those copies already match.
