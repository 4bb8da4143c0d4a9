"""Configuration of a screening run: a TOML file validated by pydantic, one-line errors.

A run is described by one TOML file (``examples/na-thioantimonates.toml`` is the embedded default)::

    temperatures_K = [600, 800, 1000]
    seeds = [0]
    supercell = 1                      # repeat (int or [a, b, c]) or {min_atoms = 128}

    [[candidates]]
    structure = "t-Na3SbS4"            # built-in name or structure file (relative to this file)

    [[candidates]]
    name = "c-Na3SbS4+W"
    structure = "c-Na3SbS4"
    supercell = 2
    dopant = { host = "Sb", element = "W", fraction = 0.125 }   # Na vacancies compensate

    [md]
    production = "1.5ps"
    equilibration = "0.5ps"

    [analysis]
    window_cm1 = [0, 50]

Sections: top level (candidates, temperatures, seeds, supercell), ``[md]`` (:class:`MDConfig`),
``[polarizability]`` (:class:`PolarizabilityConfig`), ``[analysis]`` (:class:`AnalysisConfig`),
``[ranking]``, ``[correlation]``, ``[calibration]``, ``[report]`` and ``[cluster]``
(:class:`ClusterConfig`, with ``[cluster.slurm]``). Unknown keys are errors. Every error is one
line naming the file and the field, e.g.
``run.toml: md.timestep_fs: Input should be greater than 0 (got -1)``.

:func:`load_config` validates the file; :func:`ionraman.workflow.preparation.prepare` then builds
every candidate's structures in memory, so an unknown candidate or a structure file that does not
parse is reported before anything is written to the run directory.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ionraman.errors import InputError
from ionraman.validate import check_temperature

__all__ = [
    "AnalysisConfig",
    "CalibrationConfig",
    "CandidateConfig",
    "ClusterConfig",
    "CorrelationConfig",
    "DopantConfig",
    "MDConfig",
    "MeasuredSpectrumConfig",
    "PolarizabilityConfig",
    "RankingConfig",
    "ReportConfig",
    "SlurmConfig",
    "SupercellConfig",
    "VacancyConfig",
    "WorkflowConfig",
    "load_config",
    "slug",
]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+()=-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _parse_ps(value: Any, what: str) -> float:
    from ionraman.md.settings import parse_time_ps

    try:
        return parse_time_ps(value)
    except InputError as exc:
        raise ValueError(str(exc)) from None


# ----------------------------------------------------------------------------------------------
# candidates
# ----------------------------------------------------------------------------------------------
class SupercellConfig(_Strict):
    """Supercell: explicit ``repeat`` or a size target (``min_atoms`` / ``min_length_A``).

    In the TOML file: ``supercell = 2``, ``supercell = [2, 2, 1]`` or
    ``supercell = { min_atoms = 128 }``. Random elements (dopants, vacancies) are drawn over the
    whole supercell.
    """

    repeat: tuple[int, int, int] | None = None
    min_atoms: int | None = Field(default=None, ge=1)
    min_length_A: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, bool):
            raise ValueError("expected a repeat (int or 3 ints) or {min_atoms|min_length_A = ...}")
        if isinstance(data, int):
            return {"repeat": (data, data, data)}
        if isinstance(data, list | tuple):
            return {"repeat": tuple(data)}
        return data

    @field_validator("repeat")
    @classmethod
    def _positive(cls, v: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        if v is not None and min(v) < 1:
            raise ValueError(f"repeats must be >= 1, got {list(v)}")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> SupercellConfig:
        if self.repeat is not None and (self.min_atoms or self.min_length_A):
            raise ValueError("give either a repeat or min_atoms/min_length_A, not both")
        return self

    def describe(self) -> str:
        if self.repeat is not None:
            return "x".join(str(r) for r in self.repeat)
        parts = []
        if self.min_length_A:
            parts.append(f">= {self.min_length_A:g} A wide")
        if self.min_atoms:
            parts.append(f">= {self.min_atoms} atoms")
        return ", ".join(parts) or "default"


class DopantConfig(_Strict):
    """Aliovalent substitution (:func:`ionraman.structures.substitute_dopant`)."""

    host: str
    element: str
    fraction: float | None = Field(default=None, gt=0, le=1)
    count: int | None = Field(default=None, ge=1)
    charge_compensation: Literal["vacancy", "none"] = "vacancy"
    compensating_species: str = "Na"

    @model_validator(mode="after")
    def _exactly_one(self) -> DopantConfig:
        if (self.fraction is None) == (self.count is None):
            raise ValueError("give exactly one of fraction or count")
        return self


class VacancyConfig(_Strict):
    """Random vacancies (:func:`ionraman.structures.make_vacancies`)."""

    species: str
    count: int = Field(ge=1)


class CandidateConfig(_Strict):
    """One candidate material.

    Attributes
    ----------
    structure
        Built-in structure name (``ionraman structures``) or a structure file (CIF, POSCAR,
        extxyz), relative to the config file.
    name
        Label used in tables, plots and directory names (default: the structure name or file
        stem). Unique within a run.
    supercell
        Overrides the run's ``supercell``.
    dopant, vacancies
        Optional defects applied after the supercell (seeded by ``structure_seed``).
    structure_seed
        Seed of random orderings (dopants, vacancies, partial occupancies). Default: the MD seed,
        so that each seed is an independent realisation of the disorder.
    temperatures_K
        Overrides the run's temperatures for this candidate.
    force_field, polarizability_model
        Override the ``[md]`` / ``[polarizability]`` choices for this candidate.
    composition
        Name of this candidate in the calibration CSV (default: ``name``).
    """

    structure: str
    name: str | None = None
    supercell: SupercellConfig | None = None
    dopant: DopantConfig | None = None
    vacancies: list[VacancyConfig] = Field(default_factory=list)
    structure_seed: int | None = Field(default=None, ge=0)
    temperatures_K: list[float] | None = None
    force_field: str | None = None
    polarizability_model: str | None = None
    composition: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"structure": data}
        if isinstance(data, Mapping) and isinstance(data.get("vacancies"), Mapping):
            return {**data, "vacancies": [data["vacancies"]]}
        return data

    @field_validator("name")
    @classmethod
    def _safe(cls, v: str | None) -> str | None:
        if v is not None and not _SAFE_NAME.match(v):
            raise ValueError(
                f"{v!r}: use letters, digits and . _ : + ( ) = - (no spaces or slashes)"
            )
        return v

    @field_validator("temperatures_K")
    @classmethod
    def _temps(cls, v: list[float] | None) -> list[float] | None:
        return None if v is None else _check_temperatures(v)

    @model_validator(mode="after")
    def _safe_label(self) -> CandidateConfig:
        """A name taken from the structure's file name follows the rule of ``name`` too."""
        if self.name is None and not _SAFE_NAME.match(self.label):
            raise ValueError(
                f"the name {self.label!r} taken from the file name does not fit the name rule "
                "(letters, digits and . _ : + ( ) = -); give the candidate a name"
            )
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return Path(self.structure).stem if _looks_like_path(self.structure) else self.structure


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or Path(text).suffix.lower() in _STRUCTURE_SUFFIXES


_STRUCTURE_SUFFIXES = {".cif", ".vasp", ".poscar", ".xyz", ".extxyz", ".json", ".traj", ".res"}


def _check_temperatures(v: Sequence[float]) -> list[float]:
    temps = [float(t) for t in v]
    if not temps:
        raise ValueError("give at least one temperature")
    for t in temps:
        check_temperature(t, "temperature")
    if len(set(temps)) != len(temps):
        raise ValueError(f"temperatures must be unique, got {temps}")
    return sorted(temps)


# ----------------------------------------------------------------------------------------------
# stages
# ----------------------------------------------------------------------------------------------
class MDConfig(_Strict):
    """Molecular dynamics (:func:`ionraman.md.run_md`); times as ``"20ps"``, ``"500fs"`` or ps.

    ``force_field = "auto"`` (default): a registered distilled student model (registry kind
    ``"student"``) whose elements cover the candidate, else the universal
    :data:`ionraman.forcefields.DEFAULT_FORCE_FIELD`. ``threads``: torch CPU threads per MD
    task (the local cluster runs ``cores // threads`` workers).
    """

    force_field: str = "auto"
    production: float = Field(default=10.0, gt=0, description="ps")
    equilibration: float = Field(default=2.0, ge=0, description="ps")
    timestep_fs: float = Field(default=2.0, gt=0, le=10)
    sample_every_fs: float = Field(default=10.0, gt=0)
    ensemble: Literal["nvt", "nve"] = "nvt"
    thermostat: Literal["bussi", "nose-hoover"] = "bussi"
    equilibration_ensemble: Literal["nvt", "npt", "npt-iso"] = "nvt"
    thermostat_time_fs: float = Field(default=1000.0, gt=0)
    checkpoint_every_steps: int = Field(default=500, ge=1)
    threads: int = Field(default=1, ge=1)
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    force_field_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("production", "equilibration", mode="before")
    @classmethod
    def _time(cls, v: Any) -> float:
        return _parse_ps(v, "time")

    @model_validator(mode="after")
    def _sampling(self) -> MDConfig:
        ratio = self.sample_every_fs / self.timestep_fs
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(
                f"sample_every_fs ({self.sample_every_fs:g}) must be a multiple of timestep_fs "
                f"({self.timestep_fs:g})"
            )
        frames = self.production * 1000.0 / self.sample_every_fs
        if frames < 8:
            raise ValueError(
                f"production ({self.production:g} ps) gives {frames:.0f} frames every "
                f"{self.sample_every_fs:g} fs; need at least 8"
            )
        return self


class PolarizabilityConfig(_Strict):
    """Polarizability model for α(t) along the trajectory.

    ``model``: ``"auto"`` (default: the shipped model in ``ionraman/data/models`` that covers the
    candidate's elements, if one ships), ``"none"`` (skip the Raman stages), or a model file:
    a Cartesian tensor model (``.pt``, :class:`~ionraman.polarizability.models.
    CartesianTensorModel`) or a bond-polarizability model (``.json``). Without a model the
    spectrum and low-frequency stages are reported as ``skipped: no polarizability model``;
    α is never invented.
    """

    model: str = "auto"
    batch_frames: int = Field(default=256, ge=1)
    dtype: Literal["float32", "float64"] = "float32"


class AnalysisConfig(_Strict):
    """Spectra, low-frequency metrics and transport settings.

    Spectra: ``channel`` (``total``, ``isotropic``, ``anisotropic``, ``parallel``, ``crossed``),
    ``variant`` of the metrics (``reduced`` χ'', ``stokes``, ``classical``),
    ``resolution_cm1`` (default: a quarter of the run), ``quantum_correction``.
    Metrics: the low-frequency ``window_cm1`` (ω1, ωc), ``reference_max_cm1`` (ωmax of the
    fraction's denominator), optional ``band`` for a band ratio (``"SbS4"``, ``"PS4"``, or
    ``[lo, hi]``), ``central_peak`` (Debye + oscillator fit of χ'' in
    ``central_peak_window_cm1``). Transport: mobile ``species`` and its ``charge``, the MSD fit
    window as fractions of the run. Run length: ``target_relative_error`` of the metric and of
    D* (the results' ``*_ps_needed`` columns give the production for it) and
    ``resolve_sigmas``, the separation in standard errors asked of the fastest vs the slowest
    point by the metric comparison (``metric_comparison.production_ps_to_resolve``).
    """

    species: str = "Na"
    charge: float = 1.0
    channel: str = "total"
    variant: Literal["reduced", "stokes", "classical"] = "reduced"
    window_cm1: tuple[float, float] = (0.0, 50.0)
    reference_max_cm1: float = Field(default=800.0, gt=0)
    band: str | tuple[float, float] | None = None
    resolution_cm1: float | None = Field(default=None, gt=0)
    quantum_correction: Literal["none", "harmonic", "bose"] = "harmonic"
    central_peak: bool = True
    central_peak_window_cm1: tuple[float, float] = (0.0, 150.0)
    fit_start_fraction: float = Field(default=0.1, ge=0, lt=1)
    fit_end_fraction: float = Field(default=0.5, gt=0, le=1)
    target_relative_error: float = Field(default=0.1, gt=0, lt=1)
    resolve_sigmas: float = Field(default=3.0, gt=0)

    @field_validator("window_cm1", "central_peak_window_cm1")
    @classmethod
    def _window(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = float(v[0]), float(v[1])
        if not (0 <= lo < hi):
            raise ValueError(f"expected [lo, hi] with 0 <= lo < hi (cm^-1), got {[lo, hi]}")
        return (lo, hi)

    @model_validator(mode="after")
    def _consistent(self) -> AnalysisConfig:
        if self.window_cm1[1] >= self.reference_max_cm1:
            raise ValueError(
                f"window_cm1 upper edge ({self.window_cm1[1]:g}) must lie below "
                f"reference_max_cm1 ({self.reference_max_cm1:g})"
            )
        if self.fit_start_fraction >= self.fit_end_fraction:
            raise ValueError("fit_start_fraction must be below fit_end_fraction")
        return self


METRICS = ("lowfreq_fraction", "band_ratio")
"""Low-frequency metrics the workflow computes (the band ratio needs ``analysis.band``)."""


class RankingConfig(_Strict):
    """Candidate ranking.

    ``by``: ``"auto"`` (the low-frequency metric when every candidate has one, else the tracer
    D), ``"lowfreq_fraction"``, ``"band_ratio"``, ``"D"`` or ``"sigma"`` (higher ranks first),
    or ``"Ea"`` (lower first). ``temperature_K``: temperature of the comparison (default the
    highest temperature common to all candidates: in MD-length-limited screening the
    best-converged D* and the strongest central peak; E_a and the 300 K extrapolations of D* and
    σ are in the candidate table as well).
    """

    by: Literal["auto", "lowfreq_fraction", "band_ratio", "D", "sigma", "Ea"] = "auto"
    temperature_K: float | None = Field(default=None, gt=0)


class CorrelationConfig(_Strict):
    """Correlation of the low-frequency metric with log10 D (Spearman, Pearson, bootstrap CI)."""

    metric: Literal["lowfreq_fraction", "band_ratio"] = "lowfreq_fraction"
    n_bootstrap: int = Field(default=2000, ge=100)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    seed: int = 0


class CalibrationConfig(_Strict):
    """Calibration against measured transport (optional).

    ``data``: CSV with columns ``composition``, ``T`` (K), ``value``, ``unit`` (``S/cm``,
    ``mS/cm``, ``S/m`` for conductivities; ``cm2/s``, ``m2/s`` for diffusivities), or
    ``"builtin"``: the shipped table of measured conductivities with DOIs
    (:data:`ionraman.screening.calibration.BUILTIN_MEASUREMENTS`). Rows are matched to
    candidates by their ``composition`` (default: the candidate name).
    A measurement counts as *fast* when it reaches ``fast_sigma_S_cm`` (conductivities) or
    ``fast_D_cm2_s`` (diffusivities). A logistic fit of fast/slow on the metric gives the
    threshold (probability 1/2) and ROC AUC; candidates above the threshold are flagged fast.
    """

    data: str | None = None
    metric: Literal["lowfreq_fraction", "band_ratio", "log10_D"] = "lowfreq_fraction"
    fast_sigma_S_cm: float = Field(default=1e-4, gt=0)
    fast_D_cm2_s: float = Field(default=1e-8, gt=0)


class MeasuredSpectrumConfig(_Strict):
    """A measured Raman spectrum file overlaid on a candidate's simulated spectra in the report.

    ``column`` selects one spectrum of a multi-spectrum file (default: all, e.g. a temperature
    series); ``temperature_K`` is the sample temperature when the file does not give it.
    """

    candidate: str
    path: str
    column: str | None = None
    temperature_K: float | None = Field(default=None, gt=0)
    laser_nm: float | None = Field(default=None, gt=0)


class ReportConfig(_Strict):
    """HTML report (``report/report.html`` plus PNGs)."""

    enabled: bool = True
    title: str | None = None
    max_wavenumber_cm1: float | None = Field(default=None, gt=0)
    measured_spectra: list[MeasuredSpectrumConfig] = Field(default_factory=list)


MIN_WALLTIME_S = 60


def walltime_seconds(walltime: str) -> int:
    """Seconds of a Slurm time limit: ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``."""
    days, _, rest = walltime.rpartition("-")
    parts = [int(x) for x in rest.split(":")]
    if days:
        scale = (3600, 60, 1)[: len(parts)]
        return int(days) * 86400 + sum(p * f for p, f in zip(parts, scale, strict=True))
    scale = {1: (60,), 2: (60, 1), 3: (3600, 60, 1)}[len(parts)]
    return sum(p * f for p, f in zip(parts, scale, strict=True))


class SlurmConfig(_Strict):
    """Slurm cluster through dask-jobqueue (``SLURMCluster``): one Slurm job runs
    ``processes`` Dask workers, each with ``cores // processes`` cores.

    ``jobs``: jobs started at once (``maximum_jobs`` > ``jobs`` lets the cluster adapt).
    ``job_extra_directives``: further ``#SBATCH`` lines (e.g. ``"--constraint=cpu"``);
    ``job_script_prologue``: shell lines run before the worker (module loads, venv activate).
    ``max_walltimes``: how many walltime ends one stage may span. Workers retire on their own
    shortly before the walltime (:meth:`worker_lifetime_s`), a new job replaces theirs and the
    stage resumes from its checkpoint; each such hand-over counts against this, not against
    ``cluster.retries`` (the worker deaths of node failures).
    ``log_directory``, ``local_directory`` and a ``python`` path are relative to the config
    file's folder like every path here (a value with ``$``, e.g. ``"$TMPDIR"``, is left to the
    job's shell; a bare ``python`` name is looked up on the worker's PATH).
    """

    queue: str | None = None
    account: str | None = None
    cores: int = Field(default=16, ge=1)
    processes: int = Field(default=4, ge=1)
    memory: str = "32GB"
    walltime: str = "04:00:00"
    jobs: int = Field(default=1, ge=1)
    maximum_jobs: int | None = Field(default=None, ge=1)
    job_name: str = "ionraman"
    job_extra_directives: list[str] = Field(default_factory=list)
    job_script_prologue: list[str] = Field(default_factory=list)
    local_directory: str | None = None
    log_directory: str | None = None
    python: str | None = None
    interface: str | None = None
    max_walltimes: int = Field(default=5, ge=0)

    @field_validator("walltime")
    @classmethod
    def _walltime(cls, v: str) -> str:
        if not re.match(r"^(\d+-)?\d{1,3}(:\d{2}){0,2}$", v):
            raise ValueError(f"{v!r}: expected HH:MM:SS or D-HH:MM:SS")
        if walltime_seconds(v) < MIN_WALLTIME_S:
            raise ValueError(f"{v!r}: at least {MIN_WALLTIME_S} s (workers retire before it ends)")
        return v

    def worker_lifetime_s(self) -> int:
        """Seconds after which a worker retires on its own, before Slurm's walltime kill:
        its running stage is handed to another worker without counting as a failure (MD
        resumes from its checkpoint; dask ``--lifetime``). The margin is 10 % of the walltime,
        between 20 s and 5 min."""
        wall = walltime_seconds(self.walltime)
        return wall - int(min(300, max(20, 0.1 * wall)))

    @model_validator(mode="after")
    def _fits(self) -> SlurmConfig:
        if self.processes > self.cores:
            raise ValueError(f"processes ({self.processes}) must not exceed cores ({self.cores})")
        return self


class ClusterConfig(_Strict):
    """Where the tasks run.

    ``kind``: ``"local"`` (default; a Dask ``LocalCluster`` of ``n_workers`` processes, default
    ``cores // md.threads``, each running one task at a time), ``"address"`` (an existing
    scheduler at ``address``), or ``"slurm"`` (``[cluster.slurm]``). ``processes = false`` runs
    local workers as threads of this process. ``retries``: how often a task whose worker died
    (killed, out of memory, node lost) is started again (``distributed.scheduler.
    allowed-failures``); the MD stage resumes from its checkpoint. With ``kind = "address"``
    the scheduler's own ``allowed-failures`` setting applies (it was started elsewhere).
    ``dashboard = true`` serves the Dask dashboard on port 8787 (needs ``bokeh``).
    """

    kind: Literal["local", "address", "slurm"] = "local"
    n_workers: int | None = Field(default=None, ge=1)
    processes: bool = True
    memory_limit: str | None = None
    address: str | None = None
    retries: int = Field(default=3, ge=0)
    dashboard: bool = False
    slurm: SlurmConfig = Field(default_factory=SlurmConfig)

    @model_validator(mode="after")
    def _address(self) -> ClusterConfig:
        if self.kind == "address" and not self.address:
            raise ValueError("kind = 'address' needs address = 'tcp://host:port'")
        return self


def allowed_worker_deaths(cc: ClusterConfig) -> int:
    """Times one task may lose its worker before it fails: ``retries`` plus, on Slurm,
    ``max_walltimes`` (Dask's ``distributed.scheduler.allowed-failures``)."""
    return cc.retries + (cc.slurm.max_walltimes if cc.kind == "slurm" else 0)


class WorkflowConfig(_Strict):
    """The whole run (see the module docstring for the file layout).

    ``base_dir`` (set by :func:`load_config`) is the folder relative paths are resolved against;
    ``out`` is the run directory (default ``out/<config stem>`` beside the working directory;
    ``ionraman run --out`` overrides it).
    """

    candidates: list[CandidateConfig] = Field(min_length=1)
    temperatures_K: list[float]
    seeds: list[int] = Field(default_factory=lambda: [0])
    supercell: SupercellConfig | None = None
    name: str | None = None
    out: str | None = None
    md: MDConfig = Field(default_factory=MDConfig)
    polarizability: PolarizabilityConfig = Field(default_factory=PolarizabilityConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    ranking: RankingConfig = Field(default_factory=RankingConfig)
    correlation: CorrelationConfig = Field(default_factory=CorrelationConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    base_dir: str = "."

    @field_validator("temperatures_K")
    @classmethod
    def _temps(cls, v: list[float]) -> list[float]:
        return _check_temperatures(v)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("give at least one seed")
        if any(s < 0 for s in v) or len(set(v)) != len(v):
            raise ValueError(f"seeds must be unique non-negative integers, got {v}")
        return list(v)

    @model_validator(mode="after")
    def _unique_names(self) -> WorkflowConfig:
        labels = [c.label for c in self.candidates]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(
                f"candidate names must be unique; {', '.join(dup)} appear(s) twice (set name=)"
            )
        slugs = [slug(x) for x in labels]
        if len(set(slugs)) != len(slugs):
            raise ValueError("candidate names must stay unique once ':' becomes '_'")
        names = set(labels)
        for k, m in enumerate(self.report.measured_spectra):
            if m.candidate not in names:
                raise ValueError(
                    f"report.measured_spectra[{k}].candidate {m.candidate!r} is not a candidate "
                    f"({', '.join(labels)})"
                )
        sl = self.cluster.slurm
        if self.cluster.kind == "slurm" and sl.cores < sl.processes * self.md.threads:
            raise ValueError(
                f"cluster.slurm: {sl.processes} worker processes x md.threads = {self.md.threads} "
                f"need {sl.processes * self.md.threads} cores per job, cores = {sl.cores}"
            )
        if self.analysis.band is None and (
            self.ranking.by == "band_ratio"
            or self.correlation.metric == "band_ratio"
            or self.calibration.metric == "band_ratio"
        ):
            raise ValueError("the band_ratio metric needs analysis.band (e.g. band = 'SbS4')")
        return self

    # ------------------------------------------------------------------------------------------
    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    def calibration_path(self) -> Path | None:
        """The calibration CSV (``calibration.data``; ``"builtin"``: the shipped table), or None."""
        data = self.calibration.data
        if data is None:
            return None
        if data == "builtin":
            from ionraman.screening.calibration import BUILTIN_MEASUREMENTS

            return BUILTIN_MEASUREMENTS
        return self.resolve(data)

    def temperatures_for(self, cand: CandidateConfig) -> list[float]:
        return cand.temperatures_K or list(self.temperatures_K)

    def run_name(self) -> str:
        return self.name or "ionraman-run"


def slug(name: str) -> str:
    """Directory name of a candidate label (``:`` → ``_``)."""
    return name.replace(":", "_")


def temperature_dir(t: float) -> str:
    return f"{t:g}K"


# ----------------------------------------------------------------------------------------------
# loading and error messages
# ----------------------------------------------------------------------------------------------
def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "int", "float", "list[...]", "dict[str,any]", "SupercellConfig"):
            continue  # union branch names pydantic adds to locations
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _one_line(exc: ValidationError, source: str) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    where = _loc(tuple(first.get("loc", ())))
    got = ""
    if first.get("type") not in ("missing", "extra_forbidden") and "input" in first:
        val = first["input"]
        if not isinstance(val, dict | list) and f"{val!r}" not in msg and str(val) not in msg:
            text = repr(val)
            got = f" (got {text[:60]})"
    more = (
        f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
        if (len(errors) > 1)
        else ""
    )
    return f"{source}: {where}: {msg}{got}{more}".replace("\n", " ")


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any] | WorkflowConfig,
    *,
    base_dir: str | os.PathLike[str] | None = None,
) -> WorkflowConfig:
    """Read and validate a configuration.

    Parameters
    ----------
    source
        TOML file, a dict with the same content, or an already validated
        :class:`WorkflowConfig` (returned as is).
    base_dir
        Folder relative paths are resolved against (default: the TOML file's folder, or the
        working directory for a dict).

    Raises
    ------
    InputError
        Missing/unreadable file, invalid TOML, or a validation error (one line naming the
        field).
    """
    if isinstance(source, WorkflowConfig):
        return source
    if isinstance(source, Mapping):
        data = dict(source)
        where = "config"
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise InputError(f"{path}: config file not found")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: invalid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: not a UTF-8 text file") from None
        base = Path(base_dir) if base_dir is not None else path.resolve().parent
        data.setdefault("name", path.stem)
    if "base_dir" in data:
        raise InputError(f"{where}: base_dir: set by the loader, not in the file")
    data["base_dir"] = str(base)
    try:
        return WorkflowConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(_one_line(exc, where)) from None
