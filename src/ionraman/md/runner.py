"""MD driver: equilibration, production, frames into the trajectory store, checkpoints, guards.

One run = thermalised start (seeded) → equilibration (fixed cell with Bussi, or MTK NPT; not
stored) → production (Bussi / Nosé–Hoover NVT, or NVE) with frames (positions, cell, velocities)
appended to the store every ``sample_every_fs``. Frame ``i`` is production time ``i ×
sample_every_fs`` (frame 0 is the state at the end of equilibration). Positions are stored as
integrated, i.e. continuous (never wrapped into the cell).

Kill-and-resume: a checkpoint (:mod:`ionraman.md.checkpoint`) is written atomically every
``checkpoint_every_steps`` steps, at the equilibration/production boundary and at the end; the
store is flushed first, so the store always holds at least the checkpoint's frames. Calling
:func:`run_md` again with the same ``out`` and settings resumes from the last checkpoint: the
store is truncated to the checkpoint's frame count and the run continues; with the same seed
the frames are identical (bit for bit on the same machine and thread count) to those of an
uninterrupted run. A longer ``time_ps`` extends a finished run.

Energy conservation: the thermodynamic log (``run.thermo.csv``, one row per frame plus
equilibration rows) holds the conserved quantity of the integrator; its linear drift over the
production is stored in the metadata as ``energy_drift_meV_per_atom_per_ps`` (for NVE this is the
plain total-energy drift). :func:`ionraman.md.conservation.check_energy_conservation` measures it
for a time step before a long run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units

from ionraman._io import atomic_path, provenance
from ionraman._progress import ProgressDisplay
from ionraman.conventions import FS_PER_PS, UNITS
from ionraman.errors import InputError, SimulationError
from ionraman.forcefields.registry import (
    DEFAULT_FORCE_FIELD,
    ForceFieldSpec,
    LoadedForceField,
    check_elements,
    get_force_field,
    list_force_fields,
    load_force_field,
)
from ionraman.md.checkpoint import THERMO_COLUMNS, Checkpoint, checkpoint_path
from ionraman.md.guards import GuardMonitor, GuardViolation
from ionraman.md.settings import GuardSettings, MDSettings
from ionraman.md.thermostat import (
    Integrator,
    build_integrator,
    conserved_energy,
    integrator_state,
    internal_dof,
    internal_temperature,
    restore_integrator_state,
    thermalize,
)
from ionraman.validate import check_output_file

log = logging.getLogger("ionraman.md")

EQUILIBRATION = "equilibration"
PRODUCTION = "production"


def thermo_path(out: str | os.PathLike[str]) -> Path:
    """Thermodynamic log belonging to the store ``out`` (``run.h5`` → ``run.thermo.csv``)."""
    out = Path(out)
    return out.with_name(out.stem + ".thermo.csv")


def failed_structure_path(out: str | os.PathLike[str]) -> Path:
    """Where the configuration that tripped a guard is written (extxyz)."""
    out = Path(out)
    return out.with_name(out.stem + ".failed.extxyz")


def run_md(
    structure: Atoms | str | os.PathLike[str],
    *,
    temperature_k: float,
    time_ps: float,
    force_field: str | LoadedForceField = DEFAULT_FORCE_FIELD,
    timestep_fs: float = 2.0,
    sample_every_fs: float = 10.0,
    equilibration_ps: float = 2.0,
    equilibration_ensemble: str = "nvt",
    ensemble: str = "nvt",
    thermostat: str = "bussi",
    seed: int = 0,
    out: str | os.PathLike[str] = "run.h5",
    checkpoint_every_steps: int = 500,
    threads: int | None = None,
    device: str = "auto",
    quiet: bool = False,
    overwrite: bool = False,
    thermostat_time_fs: float = 1000.0,
    equilibration_thermostat_time_fs: float = 100.0,
    barostat_time_fs: float = 1000.0,
    pressure_gpa: float = 0.0,
    guards: GuardSettings | None = None,
    force_field_options: dict[str, Any] | None = None,
    deterministic: bool = True,
) -> Path:
    """Run (or resume) an MD simulation and stream its frames into a trajectory store.

    Parameters
    ----------
    structure
        ``ase.Atoms``, a built-in structure name (``"t-Na3SbS4"``) or a structure file path.
    temperature_k
        Target temperature, K.
    time_ps
        Production length, ps (use :func:`parse_time_ps` for "20ps"-style text).
    force_field
        Registry name, ``FAMILY:/path/to/weights``, ``module:factory``, or an already loaded
        :class:`~ionraman.forcefields.LoadedForceField` (reused across runs without reloading).
    timestep_fs
        MD time step, fs.
    sample_every_fs
        Frame interval, fs (multiple of the time step).
    equilibration_ps
        Equilibration before production, ps.
    equilibration_ensemble
        ``"nvt"`` (fixed cell), ``"npt"`` (cell lengths fluctuate) or ``"npt-iso"``.
    ensemble
        Production ensemble: ``"nvt"`` or ``"nve"``.
    thermostat
        NVT thermostat: ``"bussi"`` (CSVR) or ``"nose-hoover"`` (chain of 3).
    seed
        Seed of velocities and the stochastic thermostat.
    out
        Trajectory store (HDF5). Beside it: ``<out>.ckpt.npz`` (checkpoint) and
        ``<stem>.thermo.csv`` (thermodynamic log).
    checkpoint_every_steps
        Checkpoint interval in MD steps.
    threads
        torch CPU threads (``None``: the force field's default).
    device
        ``"cpu"``, ``"cuda"`` or ``"auto"``.
    quiet
        No progress bar and no log messages above warnings.
    overwrite
        Start afresh even if ``out`` or its checkpoint exists (deletes them).
    thermostat_time_fs, equilibration_thermostat_time_fs, barostat_time_fs, pressure_gpa
        See :class:`MDSettings`.
    guards
        :class:`GuardSettings` (default bounds when ``None``).
    force_field_options
        Extra options for the force-field factory.
    deterministic
        Deterministic torch kernels during the run (see :class:`MDSettings`).

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    InputError
        Bad settings (one line), unknown force field, ``out`` exists without a checkpoint (and not
        ``overwrite``), or a checkpoint made with different settings.
    SimulationError
        A guard fired; frames written so far are kept and the metadata says why.
    """
    loaded = force_field if isinstance(force_field, LoadedForceField) else None
    settings = MDSettings(
        temperature_k=temperature_k,
        time_ps=time_ps,
        force_field=loaded.name if loaded else str(force_field),
        timestep_fs=timestep_fs,
        sample_every_fs=sample_every_fs,
        equilibration_ps=equilibration_ps,
        equilibration_ensemble=equilibration_ensemble,
        ensemble=ensemble,
        thermostat=thermostat,
        thermostat_time_fs=thermostat_time_fs,
        equilibration_thermostat_time_fs=equilibration_thermostat_time_fs,
        barostat_time_fs=barostat_time_fs,
        pressure_gpa=pressure_gpa,
        seed=seed,
        checkpoint_every_steps=checkpoint_every_steps,
        threads=threads,
        device=device,
        guards=guards if guards is not None else GuardSettings(),
        force_field_options=dict(force_field_options or {}),
        deterministic=deterministic,
    )
    return simulate(structure, settings, out=out, quiet=quiet, overwrite=overwrite, loaded=loaded)


def run_md_series(
    structure: Atoms | str | os.PathLike[str],
    *,
    temperatures_k: Sequence[float],
    seeds: Iterable[int] = (0,),
    out_dir: str | os.PathLike[str] = ".",
    force_field: str | LoadedForceField = DEFAULT_FORCE_FIELD,
    **kwargs: Any,
) -> list[Path]:
    """Run :func:`run_md` for every (temperature, seed), loading the force field once.

    Stores are named ``<out_dir>/T{temperature:g}K_seed{seed}.h5``; each resumes on its own.
    ``kwargs`` go to :func:`run_md` (``time_ps`` is required).

    Returns
    -------
    list of pathlib.Path
        Stores in loop order (temperatures outer, seeds inner).
    """
    if not temperatures_k:
        raise InputError("temperatures_k must list at least one temperature")
    seeds = list(seeds)
    if not seeds:
        raise InputError("seeds must list at least one seed")
    if "out" in kwargs or "temperature_k" in kwargs or "seed" in kwargs:
        raise InputError("run_md_series sets out, temperature_k and seed itself")
    if not isinstance(force_field, LoadedForceField):
        force_field = load_force_field(
            force_field,
            device=kwargs.get("device", "auto"),
            threads=kwargs.get("threads"),
            **(kwargs.get("force_field_options") or {}),
        )
    paths = []
    for t in temperatures_k:
        for s in seeds:
            out = Path(out_dir) / f"T{t:g}K_seed{s}.h5"
            paths.append(
                run_md(
                    structure, temperature_k=t, seed=s, out=out, force_field=force_field, **kwargs
                )
            )
    return paths


# ------------------------------------------------------------------------------------------------
def simulate(
    structure: Atoms | str | os.PathLike[str],
    settings: MDSettings,
    *,
    out: str | os.PathLike[str] = "run.h5",
    quiet: bool = False,
    overwrite: bool = False,
    loaded: LoadedForceField | None = None,
) -> Path:
    """Run or resume the MD described by ``settings`` (see :func:`run_md`)."""
    out = Path(out)
    ckpt_file = checkpoint_path(out)
    atoms = _as_atoms(structure)
    spec = _registered_spec(settings.force_field) if loaded is None else loaded.spec
    _validate(atoms, spec, _source_name(structure))
    check_output_file(out, "output store")
    fingerprint = _fingerprint(settings, atoms)

    ckpt: Checkpoint | None = None
    if overwrite:
        for p in (out, ckpt_file, thermo_path(out), failed_structure_path(out)):
            p.unlink(missing_ok=True)
    elif ckpt_file.exists():
        ckpt = Checkpoint.load(ckpt_file)
        _check_fingerprint(ckpt.fingerprint, fingerprint, ckpt_file)
        if ckpt.step > settings.total_steps:
            done_ps = (ckpt.step - settings.equilibration_steps) * settings.timestep_fs / FS_PER_PS
            raise InputError(
                f"{out} already holds {done_ps:g} ps of production, more than time_ps="
                f"{settings.time_ps:g}; ask for at least that much or use another --out"
            )
        if ckpt.n_frames > 0 and not out.exists():
            raise InputError(
                f"{out} is missing but its checkpoint {ckpt_file.name} says it held "
                f"{ckpt.n_frames} frames; delete the checkpoint (API: overwrite=True)"
            )
        if ckpt.n_frames == 0:
            out.unlink(missing_ok=True)  # a store cut off while being created
        elif ckpt.step == settings.total_steps and _finished(out, ckpt.n_frames):
            return out  # nothing to do: no force-field load, the store is left untouched
    elif out.exists():
        raise InputError(
            f"{out} exists and has no checkpoint ({ckpt_file.name}) to resume from; choose "
            "another --out or delete it (API: overwrite=True)"
        )

    if loaded is None:
        loaded = load_force_field(
            settings.force_field,
            device=settings.device,
            threads=settings.threads,
            **settings.force_field_options,
        )
        if spec is None:
            _validate(atoms, loaded.spec, _source_name(structure))
    atoms.calc = loaded.calculator
    runner = _Runner(settings, atoms, out, loaded, fingerprint, quiet=quiet)
    with _torch_determinism(settings.deterministic):
        return runner.run(ckpt)


def _finished(out: Path, n_frames: int) -> bool:
    """True when ``out`` is a completed run holding ``n_frames`` frames (later stages, such as
    a polarizability prediction, may have added fields to it)."""
    from ionraman.trajectory import open_trajectory

    with open_trajectory(out) as traj:
        return traj.metadata.get("status") == "complete" and len(traj) == n_frames


@contextlib.contextmanager
def _torch_determinism(enabled: bool) -> Iterator[None]:
    """Deterministic torch kernels inside the block (process-wide setting, restored after)."""
    if not enabled or "torch" not in sys.modules:
        yield
        return
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    before_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=before_warn)


class _Runner:
    """State of one run (kept as a small class because the loop shares a dozen variables)."""

    def __init__(
        self,
        settings: MDSettings,
        atoms: Atoms,
        out: Path,
        loaded: LoadedForceField,
        fingerprint: dict[str, Any],
        *,
        quiet: bool,
    ) -> None:
        self.s = settings
        self.atoms = atoms
        self.out = out
        self.loaded = loaded
        self.fingerprint = fingerprint
        self.quiet = quiet
        self.rng = np.random.default_rng(settings.seed)
        self.monitor = GuardMonitor(settings.guards, settings.temperature_k)
        self.n_eq = settings.equilibration_steps
        self.n_total = settings.total_steps
        self.k = settings.sample_every_steps
        self.step = 0
        self.phase = EQUILIBRATION
        self.n_frames = 0
        self.cell_sum = np.zeros((3, 3))
        self.cell_count = 0
        self.thermo_eq: list[list[float]] = []
        self.thermo_prod: list[list[float]] = []
        self.extra: dict[str, Any] = {"resumes": []}
        self.integ: Integrator | None = None
        self.writer: Any = None
        self.writer_open = False
        self._last_ckpt_step = -1
        self._steps_this_process = 0
        self._md_seconds = 0.0

    # ---- setup ---------------------------------------------------------------------------
    def _restore(self, ckpt: Checkpoint) -> None:
        a = self.atoms
        a.set_cell(ckpt.cell, scale_atoms=False)
        a.set_positions(ckpt.positions, apply_constraint=False)
        a.set_momenta(ckpt.momenta, apply_constraint=False)
        self.rng.bit_generator.state = ckpt.rng_state
        self.step, self.phase, self.n_frames = ckpt.step, ckpt.phase, ckpt.n_frames
        self.monitor.hot_steps = ckpt.hot_steps
        self.cell_sum, self.cell_count = np.array(ckpt.cell_sum), ckpt.cell_count
        self.thermo_eq = ckpt.thermo_eq.tolist()
        self.thermo_prod = ckpt.thermo_prod.tolist()
        self.extra = dict(ckpt.extra)
        self.extra.setdefault("resumes", []).append(
            {"step": ckpt.step, "utc": datetime.now(UTC).isoformat(timespec="seconds")}
        )
        if self.phase == PRODUCTION or self.step < self.n_eq:
            self.integ = self._build(self.phase)
            if ckpt.integrator_kind != self.integ.kind:
                raise InputError(
                    f"checkpoint integrator {ckpt.integrator_kind!r} does not match the settings "
                    f"({self.integ.kind!r})"
                )
            restore_integrator_state(self.integ, ckpt.integrator)
        self._last_ckpt_step = ckpt.step

    def _build(self, phase: str) -> Integrator:
        s = self.s
        if phase == EQUILIBRATION:
            kind = "bussi" if s.equilibration_ensemble == "nvt" else s.equilibration_ensemble
            tau = s.equilibration_thermostat_time_fs
        else:
            kind = "nve" if s.ensemble == "nve" else s.thermostat
            tau = s.thermostat_time_fs
        return build_integrator(
            self.atoms,
            kind,
            timestep_fs=s.timestep_fs,
            temperature_k=s.temperature_k,
            tau_fs=tau,
            rng=self.rng,
            barostat_fs=s.barostat_time_fs,
            pressure_gpa=s.pressure_gpa,
        )

    def _open_store(self, fresh: bool) -> None:
        from ionraman.trajectory import TrajectoryWriter

        self.writer_open = True
        if fresh:
            self.writer = TrajectoryWriter(
                self.out,
                self.atoms.numbers,
                metadata=self._metadata(),
                velocities=True,
                pbc=tuple(bool(p) for p in self.atoms.pbc),
            )
            return
        self.writer = TrajectoryWriter(self.out, self.atoms.numbers, append=True, velocities=True)
        if self.writer.n_frames < self.n_frames:
            self.writer.close()
            self.writer_open = False
            raise SimulationError(
                f"{self.out} holds {self.writer.n_frames} frames, fewer than the "
                f"{self.n_frames} its checkpoint recorded; the store was modified outside the run"
            )
        if self.writer.n_frames > self.n_frames:
            self.writer.truncate(self.n_frames)
        self.writer.update_metadata(status="running", md_resumes=self.extra.get("resumes", []))

    # ---- main loop -----------------------------------------------------------------------
    def run(self, ckpt: Checkpoint | None) -> Path:
        s = self.s
        fresh = ckpt is None
        if ckpt is None:
            thermalize(self.atoms, s.temperature_k, self.rng)
            if self.n_eq > 0:
                self.integ = self._build(EQUILIBRATION)
            self._save_checkpoint()  # before the store exists: a kill here restarts cleanly
        else:
            self._restore(ckpt)
            log.info("resuming %s from step %d (%s)", self.out, self.step, self.phase)
        self._open_store(fresh or not self.out.exists())
        if fresh:
            self._check_guards()  # a bad start (close contact, NaN force) stops at step 0
        total_ps = self.n_total * s.timestep_fs / FS_PER_PS
        t_start = time.perf_counter()
        try:
            with ProgressDisplay.md(total_ps, self._done_ps(), quiet=self.quiet) as bar:
                self.bar = bar
                if self.phase == EQUILIBRATION:
                    while self.step < self.n_eq:
                        self._advance()
                        if s.equilibration_ensemble != "nvt" and self.step > self.n_eq // 2:
                            self.cell_sum += self.atoms.cell.array
                            self.cell_count += 1
                        if self.step % self.k == 0:
                            self.thermo_eq.append(self._thermo_row())
                        if self.step % s.checkpoint_every_steps == 0 and self.step < self.n_eq:
                            self._save_checkpoint()
                    self._start_production()
                while self.step < self.n_total:
                    self._advance()
                    if (self.step - self.n_eq) % self.k == 0:
                        self._write_frame()
                    if self.step % s.checkpoint_every_steps == 0:
                        self._save_checkpoint()
                if self._last_ckpt_step != self.step:
                    self._save_checkpoint()
        except BaseException:
            # Keep what was written; the next call resumes from the last checkpoint (the state
            # after an interrupted step is not checkpointed: it may be half-updated).
            if self.writer is not None and self.writer_open:
                self.writer.flush()
                self.writer.close()
                self.writer_open = False
            raise
        finally:
            self._md_seconds = time.perf_counter() - t_start
        self._finish()
        return self.out

    def _advance(self) -> None:
        assert self.integ is not None
        self.integ.step()
        self.step += 1
        self._steps_this_process += 1
        self._check_guards()
        if self.bar.enabled:
            self.bar.update(self._done_ps(), self.phase)

    def _start_production(self) -> None:
        if self.s.equilibration_ensemble != "nvt" and self.cell_count > 0:
            mean_cell = self.cell_sum / self.cell_count
            self.atoms.set_cell(mean_cell, scale_atoms=True)
            self.extra["production_cell_A"] = mean_cell.tolist()
        self.phase = PRODUCTION
        self.integ = self._build(PRODUCTION)
        self._write_frame()
        self._save_checkpoint()

    def _write_frame(self) -> None:
        a = self.atoms
        p = self.step - self.n_eq
        # ASE velocities are Å per ASE time unit; × units.fs gives Å/fs.
        self.writer.append(
            a.get_positions(),
            a.cell.array,
            p * self.s.timestep_fs,
            velocities=a.get_velocities() * units.fs,
        )
        self.n_frames += 1
        self.thermo_prod.append(self._thermo_row())

    def _thermo_row(self) -> list[float]:
        assert self.integ is not None
        a = self.atoms
        return [
            float(self.step),
            (self.step - self.n_eq) * self.s.timestep_fs,
            internal_temperature(a),
            float(a.get_potential_energy()),
            float(a.get_kinetic_energy()),
            conserved_energy(self.integ),
            float(a.get_volume()),
        ]

    def _check_guards(self) -> None:
        violation = self.monitor.check(self.atoms, self.step)
        if violation is not None:
            self._stop(violation)

    def _stop(self, v: GuardViolation) -> None:
        from ase.io import write

        t_ps = (self.step - self.n_eq) * self.s.timestep_fs / FS_PER_PS
        bad = failed_structure_path(self.out)
        try:
            write(bad, self.atoms, format="extxyz")
        except Exception:  # never mask the guard message
            bad = None
        if self.writer is not None and self.writer_open:
            self.writer.flush()
            self.writer.update_metadata(
                status="stopped",
                stop_reason=v.message,
                stop_guard=v.guard,
                stopped_at_step=self.step,
            )
            self.writer.flush()
            self.writer.close()
            self.writer_open = False
        self._write_thermo()
        where = f"; last configuration in {bad.name}" if bad else ""
        when = "the start" if self.step == 0 else f"{self.phase}, t = {t_ps:.3f} ps"
        raise SimulationError(
            f"{self.out.name}: {v.message} at step {self.step} ({when}); "
            f"run stopped, {self.n_frames} frames kept{where}"
        )

    def _save_checkpoint(self) -> None:
        if self.writer is not None and self.writer_open:
            self.writer.flush()
        Checkpoint(
            step=self.step,
            phase=self.phase,
            n_frames=self.n_frames,
            positions=self.atoms.get_positions(),
            momenta=self.atoms.get_momenta(),
            cell=self.atoms.cell.array.copy(),
            integrator_kind=self.integ.kind if self.integ else "none",
            integrator=integrator_state(self.integ) if self.integ else {},
            rng_state=self.rng.bit_generator.state,
            hot_steps=self.monitor.hot_steps,
            cell_sum=self.cell_sum,
            cell_count=self.cell_count,
            thermo_eq=np.array(self.thermo_eq).reshape(-1, len(THERMO_COLUMNS)),
            thermo_prod=np.array(self.thermo_prod).reshape(-1, len(THERMO_COLUMNS)),
            fingerprint=self.fingerprint,
            extra=self.extra,
        ).save(checkpoint_path(self.out))
        self._last_ckpt_step = self.step
        self._write_thermo()

    def _write_thermo(self) -> None:
        import pandas as pd

        rows = [(EQUILIBRATION, *r) for r in self.thermo_eq]
        rows += [(PRODUCTION, *r) for r in self.thermo_prod]
        df = pd.DataFrame(rows, columns=["phase", *THERMO_COLUMNS])
        df["step"] = df["step"].astype(int)
        df.insert(2, "time_ps", df.pop("time_fs") / FS_PER_PS)
        with atomic_path(thermo_path(self.out)) as tmp:
            df.to_csv(tmp, index=False, float_format="%.10g")

    def _done_ps(self) -> float:
        return self.step * self.s.timestep_fs / FS_PER_PS

    # ---- metadata ------------------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        s = self.s
        a = self.atoms
        params = s.to_dict()
        weights = self.loaded.weights_path
        eq_kind = "bussi" if s.equilibration_ensemble == "nvt" else s.equilibration_ensemble
        prod_kind = "nve" if s.ensemble == "nve" else s.thermostat
        return {
            "temperature_K": s.temperature_k,
            "timestep_fs": s.timestep_fs,
            "sampling_interval_fs": s.sample_every_fs,
            "units": dict(UNITS),
            "source": "ionraman.md.run_md",
            "status": "running",
            "md": {
                **params,
                "equilibration": {
                    "ensemble": s.equilibration_ensemble,
                    "cell": "fixed" if s.equilibration_ensemble == "nvt" else "fluctuating (MTK)",
                    "integrator": eq_kind,
                    "steps": self.n_eq,
                    "stored": False,
                },
                "production": {
                    "ensemble": s.ensemble,
                    "integrator": prod_kind,
                    "steps": s.production_steps,
                    "sample_every_steps": self.k,
                    "frame_times": "frame i at production time i * sampling_interval_fs",
                },
                "degrees_of_freedom": internal_dof(a),
                "temperature_definition": "2 E_kin / ((3N - 3) k_B), centre of mass at rest",
                "positions": "continuous (as integrated, not wrapped into the cell)",
                "velocities": "angstrom/fs",
            },
            "force_field": self.loaded.provenance(),
            "structure": {
                "formula": a.get_chemical_formula(),
                "n_atoms": len(a),
                "sha256": self.fingerprint["structure_sha256"],
                "info": _jsonable_info(a.info),
            },
            "provenance": provenance(
                parameters=params,
                model_files={self.loaded.name: weights} if weights is not None else None,
            ),
        }

    def _finish(self) -> None:
        summary = self._summary()
        self.writer.update_metadata(status="complete", **summary, md_resumes=self.extra["resumes"])
        if "production_cell_A" in self.extra:
            self.writer.update_metadata(production_cell_A=self.extra["production_cell_A"])
        self.writer.flush()
        self.writer.close()
        self.writer_open = False
        self._write_thermo()
        if not self.quiet:
            log.info(
                "%s: %d frames, T = %.1f ± %.1f K, conserved-energy drift %.3g meV/atom/ps",
                self.out,
                self.n_frames,
                summary["temperature_mean_K"],
                summary["temperature_std_K"],
                summary["energy_drift_meV_per_atom_per_ps"],
            )

    def _summary(self) -> dict[str, Any]:
        th = np.array(self.thermo_prod).reshape(-1, len(THERMO_COLUMNS))
        n_atoms = len(self.atoms)
        drift = float("nan")
        if len(th) >= 2:
            t_ps = th[:, 1] / FS_PER_PS
            slope = np.polyfit(t_ps, th[:, 5], 1)[0]
            drift = float(slope / n_atoms * 1e3)
        per_step_ms = (
            1e3 * self._md_seconds / self._steps_this_process if self._steps_this_process else None
        )
        return {
            "n_frames_written": self.n_frames,
            "steps_done": self.step,
            "temperature_mean_K": float(th[:, 2].mean()) if len(th) else float("nan"),
            "temperature_std_K": float(th[:, 2].std()) if len(th) else float("nan"),
            "potential_energy_mean_eV": float(th[:, 3].mean()) if len(th) else float("nan"),
            "energy_drift_meV_per_atom_per_ps": drift,
            "energy_drift_quantity": {
                "nve": "total energy",
                "bussi": "total energy minus thermostat work",
                "nose-hoover": "Nose-Hoover extended energy",
            }["nve" if self.s.ensemble == "nve" else self.s.thermostat],
            "ms_per_step_last_session": per_step_ms,
            "threads": self.loaded.threads,
        }


# ------------------------------------------------------------------------------------------------
def _as_atoms(structure: Atoms | str | os.PathLike[str]) -> Atoms:
    if isinstance(structure, Atoms):
        atoms = structure.copy()
        atoms.calc = None
        return atoms
    try:
        from ionraman.structures import load_structure
    except ImportError:  # pragma: no cover - structures module absent
        from ase.io import read

        path = Path(structure)
        if not path.exists():
            raise InputError(f"structure file {str(path)!r} not found") from None
        return read(path)
    return load_structure(structure)


def _source_name(structure: Atoms | str | os.PathLike[str]) -> str:
    if isinstance(structure, Atoms):
        return str(structure.info.get("structure_name", structure.get_chemical_formula()))
    return str(structure)


def _validate(atoms: Atoms, spec: ForceFieldSpec | None, source: str) -> None:
    from ionraman.structures import validate_structure

    if spec is not None:
        try:
            check_elements(spec, atoms.get_chemical_symbols())  # names the force field
        except InputError as exc:
            raise InputError(f"{source}: {exc}; choose another force field") from None
    # Close contacts are the distance guard's business; only overlapping atoms (closer than
    # conventions.MIN_INTERATOMIC_DISTANCE_A) and vacuum gaps are rejected here.
    elements = spec.elements if spec is not None else None
    validate_structure(atoms, supported_elements=elements, source=source)


def _registered_spec(name: str) -> ForceFieldSpec | None:
    if name in list_force_fields():
        return get_force_field(name)
    return None


def _structure_sha256(atoms: Atoms) -> str:
    h = hashlib.sha256()
    for arr in (atoms.numbers.astype(np.int64), atoms.positions, atoms.cell.array):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(np.asarray(atoms.pbc, dtype=np.int8).tobytes())
    return h.hexdigest()


def _fingerprint(settings: MDSettings, atoms: Atoms) -> dict[str, Any]:
    fp = {
        **settings.dynamics_fingerprint(),
        "structure_sha256": _structure_sha256(atoms),
        "n_atoms": len(atoms),
    }
    return json.loads(json.dumps(fp, default=str))


def _check_fingerprint(old: dict[str, Any], new: dict[str, Any], ckpt_file: Path) -> None:
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            raise InputError(
                f"{ckpt_file.name} was made with {key}={old.get(key)!r}, not {new.get(key)!r}; "
                "resume with the same settings or use another --out (API: overwrite=True starts "
                "afresh)"
            )


def _jsonable_info(info: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in info.items():
        try:
            json.dumps(v)
        except TypeError:
            v = v.tolist() if hasattr(v, "tolist") else str(v)
        out[str(k)] = v
    return out


__all__ = ["failed_structure_path", "run_md", "run_md_series", "simulate", "thermo_path"]
