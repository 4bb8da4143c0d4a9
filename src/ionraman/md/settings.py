"""MD settings: one frozen dataclass, validated once, plus the time parser the CLI uses."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ionraman.conventions import FS_PER_PS
from ionraman.errors import InputError
from ionraman.forcefields.registry import DEFAULT_FORCE_FIELD
from ionraman.validate import check_temperature

ENSEMBLES = ("nvt", "nve")
"""Production ensembles. NVT uses a gentle global thermostat; Langevin is deliberately absent:
its per-atom friction damps exactly the low-frequency dynamics the Raman central peak measures."""
THERMOSTATS = ("bussi", "nose-hoover")
"""Production thermostats: Bussi CSVR (``ase.md.bussi``) or a Nosé–Hoover chain
(``ase.md.nose_hoover_chain``)."""
EQUILIBRATION_ENSEMBLES = ("nvt", "npt", "npt-iso")
"""``nvt``: fixed cell, Bussi thermostat. ``npt``: MTK barostat with the three cell-vector
lengths fluctuating independently and cell angles fixed (``MaskedMTKNPT``, right for tetragonal
and cubic cells). ``npt-iso``: isotropic MTK (``IsotropicMTKNPT``). After NPT the production cell is
the mean cell of the second half of equilibration."""

_TIME_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-zA-Zµ]*)\s*$")
_TIME_UNITS_PS = {"": 1.0, "ps": 1.0, "fs": 1e-3, "ns": 1e3, "us": 1e6, "µs": 1e6}


def parse_time_ps(text: str | float | int) -> float:
    """Parse a duration into picoseconds.

    Parameters
    ----------
    text
        ``"20ps"``, ``"500fs"``, ``"2 ns"``, ``"1.5e3 fs"``, or a bare number (taken as ps).

    Returns
    -------
    float
        Duration in ps (≥ 0).

    Raises
    ------
    InputError
        Unparseable text, unknown unit, negative or non-finite value.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        m = _TIME_RE.match(str(text))
        if not m:
            raise InputError(
                f"time {text!r} not understood; expected e.g. '20ps', '500fs', '2 ns' or '20'"
            )
        value, unit = float(m.group(1)), m.group(2).lower()
        if unit not in _TIME_UNITS_PS:
            raise InputError(f"time {text!r}: unknown unit {unit!r}; use fs, ps or ns")
    if not math.isfinite(value) or value < 0:
        raise InputError(f"time {text!r} must be a finite, non-negative duration")
    return value * _TIME_UNITS_PS[unit]


@dataclass(frozen=True)
class GuardSettings:
    """Bounds that stop a run with :class:`~ionraman.errors.SimulationError` (``None`` disables).

    Attributes
    ----------
    max_temperature_factor
        Runaway when the instantaneous temperature exceeds this × the target …
    runaway_steps
        … for this many consecutive MD steps.
    max_force_eV_A
        Largest allowed force component norm on any atom, eV/Å.
    min_distance_factor
        Atoms i, j closer than this × (r_cov,i + r_cov,j) (ASE covalent radii) stop the run.
    distance_check_every_steps
        Check distances every this many steps. The neighbour search costs a few ms (ASE's
        pure-numpy ``neighbor_list``), which would be a noticeable share of a 16-atom ML step;
        forces, NaN and temperature are checked every step, so violent events are caught anyway.
    """

    max_temperature_factor: float | None = 3.0
    runaway_steps: int = 20
    max_force_eV_A: float | None = 50.0
    min_distance_factor: float | None = 0.5
    distance_check_every_steps: int = 10

    def __post_init__(self) -> None:
        if self.max_temperature_factor is not None and not self.max_temperature_factor > 1:
            raise InputError(
                f"max_temperature_factor must be > 1, got {self.max_temperature_factor}"
            )
        if self.runaway_steps < 1:
            raise InputError(f"runaway_steps must be >= 1, got {self.runaway_steps}")
        if self.max_force_eV_A is not None and not self.max_force_eV_A > 0:
            raise InputError(f"max_force_eV_A must be positive, got {self.max_force_eV_A}")
        if self.min_distance_factor is not None and not 0 < self.min_distance_factor < 1.5:
            raise InputError(
                f"min_distance_factor must be in (0, 1.5), got {self.min_distance_factor}"
            )
        if self.distance_check_every_steps < 1:
            raise InputError(
                f"distance_check_every_steps must be >= 1, got {self.distance_check_every_steps}"
            )


@dataclass(frozen=True)
class MDSettings:
    """Everything that defines an MD run (all times in fs unless the name says ps).

    Attributes
    ----------
    temperature_k
        Target temperature, K (> 0). For NVE it sets the initial velocities.
    time_ps
        Production length, ps (> 0).
    force_field
        Registry name, ``FAMILY:/path`` or ``module:factory`` (see :mod:`ionraman.forcefields`).
    timestep_fs
        MD time step, fs. 2 fs is the default; see :func:`ionraman.md.check_energy_conservation`
        for the NVE drift it gives.
    sample_every_fs
        Interval between stored frames, fs (a multiple of ``timestep_fs``).
    equilibration_ps
        Equilibration length before production, ps (≥ 0; not stored as frames).
    equilibration_ensemble
        One of :data:`EQUILIBRATION_ENSEMBLES`.
    ensemble
        Production ensemble, one of :data:`ENSEMBLES`.
    thermostat
        Production thermostat for NVT, one of :data:`THERMOSTATS`.
    thermostat_time_fs
        Production thermostat time constant (Bussi τ_T or NHC damping time), fs. Long (1 ps)
        so that the thermostat barely touches the dynamics.
    equilibration_thermostat_time_fs
        Equilibration thermostat time constant, fs (short: fast thermalisation).
    barostat_time_fs
        MTK barostat damping time for NPT equilibration, fs.
    pressure_gpa
        External pressure for NPT equilibration, GPa.
    seed
        Seed of the initial velocities and of the stochastic thermostat.
    checkpoint_every_steps
        Write a checkpoint every this many MD steps (also at the equilibration/production
        boundary and at the end).
    threads
        torch CPU threads; ``None``: the force field's default.
    device
        ``"cpu"``, ``"cuda"`` or ``"auto"``.
    guards
        :class:`GuardSettings`.
    force_field_options
        Extra keyword arguments for the force-field factory.
    deterministic
        Run torch with ``torch.use_deterministic_algorithms(True, warn_only=True)`` during the
        MD. Needed for bit-identical resumes with SevenNet on more than one CPU thread: its
        multi-threaded scatter sums otherwise change order between calls (forces differ by
        ~1e-6 eV/Å, float32 round-off, and trajectories then diverge chaotically). Measured cost
        on 2 threads: none beyond noise (see benchmarks/md.py).
    """

    temperature_k: float
    time_ps: float
    force_field: str = DEFAULT_FORCE_FIELD
    timestep_fs: float = 2.0
    sample_every_fs: float = 10.0
    equilibration_ps: float = 2.0
    equilibration_ensemble: str = "nvt"
    ensemble: str = "nvt"
    thermostat: str = "bussi"
    thermostat_time_fs: float = 1000.0
    equilibration_thermostat_time_fs: float = 100.0
    barostat_time_fs: float = 1000.0
    pressure_gpa: float = 0.0
    seed: int = 0
    checkpoint_every_steps: int = 500
    threads: int | None = None
    device: str = "auto"
    guards: GuardSettings = field(default_factory=GuardSettings)
    force_field_options: dict[str, Any] = field(default_factory=dict)
    deterministic: bool = True

    def __post_init__(self) -> None:
        def positive(name: str) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise InputError(f"{name} must be a finite number, got {v!r}")
            if not v > 0:
                raise InputError(f"{name} must be positive, got {v!r}")

        for name in (
            "temperature_k",
            "time_ps",
            "timestep_fs",
            "sample_every_fs",
            "thermostat_time_fs",
            "equilibration_thermostat_time_fs",
            "barostat_time_fs",
        ):
            positive(name)
        check_temperature(self.temperature_k, "temperature_k")
        if not isinstance(self.equilibration_ps, int | float) or not (
            math.isfinite(self.equilibration_ps) and self.equilibration_ps >= 0
        ):
            raise InputError(f"equilibration_ps must be >= 0, got {self.equilibration_ps!r}")
        if self.timestep_fs > 10:
            raise InputError(f"timestep_fs={self.timestep_fs} is too large (> 10 fs)")
        for name, allowed in (
            ("ensemble", ENSEMBLES),
            ("thermostat", THERMOSTATS),
            ("equilibration_ensemble", EQUILIBRATION_ENSEMBLES),
        ):
            value = getattr(self, name)
            if value not in allowed:
                hint = ""
                if str(value).lower() == "langevin":
                    hint = " (Langevin is not offered: its friction damps the slow dynamics)"
                raise InputError(
                    f"{name} {value!r} unknown; expected one of {', '.join(allowed)}{hint}"
                )
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.checkpoint_every_steps, int) or self.checkpoint_every_steps < 1:
            raise InputError(
                f"checkpoint_every_steps must be a positive integer, got "
                f"{self.checkpoint_every_steps!r}"
            )
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise InputError(f"threads must be a positive integer, got {self.threads!r}")
        if not math.isfinite(self.pressure_gpa):
            raise InputError(f"pressure_gpa must be finite, got {self.pressure_gpa!r}")
        # derived step counts validate the time grid
        self.sample_every_steps  # noqa: B018
        if self.production_steps < 1:
            raise InputError(
                f"time_ps={self.time_ps} is shorter than one time step ({self.timestep_fs} fs)"
            )

    # ---- derived step counts ------------------------------------------------------------
    @property
    def sample_every_steps(self) -> int:
        """Frames are stored every this many MD steps."""
        k = round(self.sample_every_fs / self.timestep_fs)
        if k < 1 or abs(k * self.timestep_fs - self.sample_every_fs) > 1e-6 * self.sample_every_fs:
            raise InputError(
                f"sample_every_fs={self.sample_every_fs} must be a positive multiple of "
                f"timestep_fs={self.timestep_fs}"
            )
        return k

    @property
    def equilibration_steps(self) -> int:
        """MD steps of equilibration (rounded to whole steps)."""
        return round(self.equilibration_ps * FS_PER_PS / self.timestep_fs)

    @property
    def production_steps(self) -> int:
        """MD steps of production (rounded to whole steps)."""
        return round(self.time_ps * FS_PER_PS / self.timestep_fs)

    @property
    def total_steps(self) -> int:
        return self.equilibration_steps + self.production_steps

    @property
    def n_frames_expected(self) -> int:
        """Frames of a complete run (production steps 0, k, 2k, …)."""
        return self.production_steps // self.sample_every_steps + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict of all settings."""
        return asdict(self)

    def dynamics_fingerprint(self) -> dict[str, Any]:
        """Settings that determine the trajectory (a resume must match them; length, threads and
        checkpoint interval may change)."""
        skip = {"time_ps", "threads", "checkpoint_every_steps", "device", "deterministic"}
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        out["guards"] = asdict(self.guards)
        return out
