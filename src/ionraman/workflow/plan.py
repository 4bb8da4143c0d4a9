"""The plan of a screening run: typed tasks, built once from the configuration.

:func:`plan_run` turns a validated :class:`~ionraman.workflow.config.WorkflowConfig` and its
prepared candidates into

* one :class:`SeedTask` per candidate × temperature × seed — the per-seed stages
  (:mod:`.stages`) read everything they need from it: the MD settings as the
  :class:`~ionraman.md.MDSettings` the MD engine runs (temperature, seed and force field
  included, validated once here), the α-model choice, and the analysis settings;
* one :class:`PointTask` per candidate × temperature (combining the seeds) and one
  :class:`CandidateTask` per candidate (Arrhenius fits).

The analysis stages do not take the temperature or the time step from the plan: they read them
from the data they analyse (the MD store's metadata, carried into ``alpha.npz``), so there is one
source of truth for each physical input.

Every settings object has ``record()``: the plain dict that enters its stage's hashed inputs
(:mod:`.records`), with the same keys and values as the configuration always gave, so that
completed stages of a run stay reusable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ionraman.md.settings import MDSettings
from ionraman.spectra.raman import DEFAULT_MAX_BLOCKS
from ionraman.workflow.records import task_id

__all__ = [
    "AlphaSettings",
    "CandidateInfo",
    "CandidateTask",
    "MetricSettings",
    "PointTask",
    "RunPlan",
    "SeedTask",
    "SpectrumSettings",
    "TransportSettings",
    "md_record",
    "metric_settings",
    "plan_run",
    "spectrum_settings",
]

EXTRAPOLATE_K = 300.0
"""Temperature the Arrhenius fits extrapolate D* and σ to, K."""


# ----------------------------------------------------------------------------------------------
# settings of the stages
# ----------------------------------------------------------------------------------------------
_MD_RECORD = (
    "temperature_k",
    "time_ps",
    "equilibration_ps",
    "timestep_fs",
    "sample_every_fs",
    "ensemble",
    "thermostat",
    "equilibration_ensemble",
    "thermostat_time_fs",
    "checkpoint_every_steps",
    "seed",
)


def md_record(md: MDSettings) -> dict[str, Any]:
    """The MD settings that enter the ``md`` stage's hashed inputs (the force field, its
    options and weights hash enter beside them)."""
    return {name: getattr(md, name) for name in _MD_RECORD}


@dataclass(frozen=True)
class AlphaSettings:
    """The ``alpha`` stage: which polarizability model, and how to run it.

    Attributes
    ----------
    model
        Absolute path of the model file, or ``None`` (the Raman stages are skipped).
    model_sha256
        SHA-256 of the model file (``None`` without a model).
    note
        Why this model (or why none): shown in the results and the report.
    batch_frames
        Frames per prediction batch.
    dtype
        ``"float32"`` or ``"float64"``.
    """

    model: str | None
    model_sha256: str | None
    note: str
    batch_frames: int = 256
    dtype: str = "float32"


@dataclass(frozen=True)
class SpectrumSettings:
    """The ``spectrum`` stage (:func:`ionraman.spectra.compute_raman_spectrum`).

    Attributes
    ----------
    resolution_cm1
        Spectral resolution, cm⁻¹ (``None``: a quarter of the run).
    quantum_correction
        ``"none"``, ``"harmonic"`` or ``"bose"``.
    variant
        Spectrum variant written to ``spectrum.csv`` (``reduced``, ``stokes``, ``classical``).
    max_blocks
        Time blocks kept for the metrics' bootstrap errors.
    """

    resolution_cm1: float | None
    quantum_correction: str
    variant: str
    max_blocks: int = DEFAULT_MAX_BLOCKS

    def options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~ionraman.spectra.compute_raman_spectrum` (recorded)."""
        return {
            "resolution_cm1": self.resolution_cm1,
            "quantum_correction": self.quantum_correction,
            "max_blocks": self.max_blocks,
        }


@dataclass(frozen=True)
class MetricSettings:
    """The ``lowfreq`` stage and the seed combination (:mod:`ionraman.screening`).

    Attributes
    ----------
    channel, variant
        Scattering channel and spectrum variant of the metrics.
    window_cm1
        Low-frequency window (ω1, ωc), cm⁻¹.
    reference_max_cm1
        Upper edge of the fraction's denominator, cm⁻¹.
    band
        Band of the band ratio (``"SbS4"``, ``"PS4"``, ``(lo, hi)``) or ``None``.
    central_peak
        Fit the central peak (Debye relaxation + damped oscillators).
    central_peak_window_cm1
        Window of that fit, cm⁻¹.
    """

    channel: str
    variant: str
    window_cm1: tuple[float, float]
    reference_max_cm1: float
    band: str | tuple[float, float] | None
    central_peak: bool
    central_peak_window_cm1: tuple[float, float]

    def record(self) -> dict[str, Any]:
        """JSON-ready settings (lists for the windows), as recorded in the stage inputs."""
        return {
            "channel": self.channel,
            "variant": self.variant,
            "window_cm1": list(self.window_cm1),
            "reference_max_cm1": self.reference_max_cm1,
            "band": list(self.band) if isinstance(self.band, tuple) else self.band,
            "central_peak": self.central_peak,
            "central_peak_window_cm1": list(self.central_peak_window_cm1),
        }


@dataclass(frozen=True)
class TransportSettings:
    """The ``transport`` stage (:func:`ionraman.transport.analyse_diffusion`).

    Attributes
    ----------
    species
        Mobile species.
    charge
        Its charge, e.
    start_fraction, end_fraction
        MSD fit window as fractions of the run.
    """

    species: str
    charge: float
    start_fraction: float
    end_fraction: float

    def record(self) -> dict[str, Any]:
        return {
            "species": self.species,
            "charge": self.charge,
            "start_fraction": self.start_fraction,
            "end_fraction": self.end_fraction,
        }


# ----------------------------------------------------------------------------------------------
# tasks
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeedTask:
    """One candidate × temperature × seed: the per-seed stages' input.

    Attributes
    ----------
    run_dir, run_id
        The run directory (absolute) and this invocation's id.
    candidate, candidate_dir
        Candidate label and its directory name.
    structure_source
        ``"builtin:<name>"`` or the absolute structure file.
    n_atoms
        Atoms of the MD cell.
    md
        The MD run: temperature, seed, force field, time grid, thermostat, threads, device.
    force_field_sha256
        SHA-256 of the force field's weights (``None`` when there is no file).
    alpha, spectrum, metrics, transport
        Settings of the analysis stages.
    atoms
        The MD start structure (``ase.Atoms``); dropped by :meth:`light` before the task is
        sent to a worker, which reads the ``structure`` stage's file instead.
    """

    run_dir: Path
    run_id: str
    candidate: str
    candidate_dir: str
    structure_source: str
    n_atoms: int
    md: MDSettings
    force_field_sha256: str | None
    alpha: AlphaSettings
    spectrum: SpectrumSettings
    metrics: MetricSettings
    transport: TransportSettings
    atoms: Any = None

    @property
    def temperature_K(self) -> float:
        return self.md.temperature_k

    @property
    def seed(self) -> int:
        return self.md.seed

    @property
    def task_id(self) -> str:
        """``<candidate>/<T>K/seed<s>``: the task's folder below ``tasks/``."""
        return task_id(self.candidate_dir, self.temperature_K, self.seed)

    @property
    def cost(self) -> float:
        """Atoms × simulated ps: the relative cost of the MD (largest first)."""
        return self.n_atoms * (self.md.time_ps + self.md.equilibration_ps)

    def light(self) -> SeedTask:
        """The task without its structure (what workers get)."""
        return replace(self, atoms=None)


@dataclass(frozen=True)
class PointTask:
    """One candidate × temperature: combine its seeds (``points/<candidate>/<T>K/``).

    Attributes
    ----------
    run_dir, run_id, candidate, candidate_dir
        As in :class:`SeedTask`.
    temperature_K
        The point's temperature (labels the point; the spectrum's temperature comes from the
        α series), K.
    seeds
        Seeds of its tasks.
    spectrum, metrics
        Settings of the combined spectrum and its metrics.
    """

    run_dir: Path
    run_id: str
    candidate: str
    candidate_dir: str
    temperature_K: float
    seeds: tuple[int, ...]
    spectrum: SpectrumSettings
    metrics: MetricSettings

    @property
    def task_id(self) -> str:
        return task_id(self.candidate_dir, self.temperature_K)


@dataclass(frozen=True)
class CandidateTask:
    """One candidate: Arrhenius fits of its points (``candidates/<candidate>/``).

    Attributes
    ----------
    run_dir, run_id, candidate, candidate_dir
        As in :class:`SeedTask`.
    extrapolate_K
        Temperature of the extrapolated D* and σ, K.
    """

    run_dir: Path
    run_id: str
    candidate: str
    candidate_dir: str
    extrapolate_K: float = EXTRAPOLATE_K


@dataclass(frozen=True)
class CandidateInfo:
    """What the run records about a candidate: the results tables, the ranking, the report and
    ``run.json`` all read it from here.

    Attributes
    ----------
    candidate, dirname
        Label and directory name (``tasks/``, ``points/``, ``candidates/``).
    structure, composition
        Structure as configured, and the composition used to match measured data.
    n_atoms, n_seeds, elements, temperatures_K
        Atoms of the MD cell, seeds, elements, temperatures (K).
    force_field, force_field_note, force_field_sha256
        Force field, why it was chosen, SHA-256 of its weights.
    polarizability_model, polarizability_model_path, polarizability_model_sha256
        α model file name (``""`` without one), its path and SHA-256.
    polarizability_note
        Why this α model (or why none).
    lowfreq_fraction_sys_rel, lowfreq_fraction_sys_basis
        The α model's systematic error in the low-frequency fraction (model / DFT − 1 on its
        validation record; ``None`` without one) and what it rests on.
    """

    candidate: str
    dirname: str
    structure: str
    composition: str
    n_atoms: int
    n_seeds: int
    elements: list[str]
    force_field: str
    force_field_note: str
    force_field_sha256: str | None
    polarizability_model: str
    polarizability_model_path: str
    polarizability_model_sha256: str
    polarizability_note: str
    lowfreq_fraction_sys_rel: float | None
    lowfreq_fraction_sys_basis: str
    temperatures_K: list[float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``run.json`` and the ``results`` stage's inputs)."""
        return asdict(self)


@dataclass(frozen=True)
class RunPlan:
    """All tasks of a run, in configuration order.

    Attributes
    ----------
    seeds
        Per-seed tasks (candidates outer, temperatures, then seeds).
    points
        (point task, the seed tasks it combines), candidates outer.
    candidates
        (candidate task, its point tasks).
    """

    seeds: tuple[SeedTask, ...]
    points: tuple[tuple[PointTask, tuple[SeedTask, ...]], ...]
    candidates: tuple[tuple[CandidateTask, tuple[PointTask, ...]], ...]


def spectrum_settings(analysis: Any) -> SpectrumSettings:
    """:class:`SpectrumSettings` of an ``[analysis]`` table."""
    return SpectrumSettings(
        resolution_cm1=analysis.resolution_cm1,
        quantum_correction=analysis.quantum_correction,
        variant=analysis.variant,
    )


def metric_settings(analysis: Any) -> MetricSettings:
    """:class:`MetricSettings` of an ``[analysis]`` table."""
    return MetricSettings(
        channel=analysis.channel,
        variant=analysis.variant,
        window_cm1=(float(analysis.window_cm1[0]), float(analysis.window_cm1[1])),
        reference_max_cm1=analysis.reference_max_cm1,
        band=analysis.band,
        central_peak=analysis.central_peak,
        central_peak_window_cm1=(
            float(analysis.central_peak_window_cm1[0]),
            float(analysis.central_peak_window_cm1[1]),
        ),
    )


def plan_run(
    cfg: Any,
    prepared: list[Any],
    run_dir: Path,
    run_id: str,
    *,
    force_field_sha256: dict[str, str | None],
    model_sha256: dict[str, str | None],
) -> RunPlan:
    """Every task of a run.

    Parameters
    ----------
    cfg
        The validated :class:`~ionraman.workflow.config.WorkflowConfig`.
    prepared
        Its :class:`~ionraman.workflow.preparation.PreparedCandidate` list.
    run_dir, run_id
        Run directory and invocation id.
    force_field_sha256, model_sha256
        Weights hash per force-field name and per polarizability-model path.

    Raises
    ------
    InputError
        MD settings the engine refuses (one line), before anything runs.
    """
    run_dir = Path(run_dir).resolve()
    a = cfg.analysis
    spectrum, metrics = spectrum_settings(a), metric_settings(a)
    transport = TransportSettings(
        species=a.species,
        charge=a.charge,
        start_fraction=a.fit_start_fraction,
        end_fraction=a.fit_end_fraction,
    )
    m, pol = cfg.md, cfg.polarizability
    seeds: list[SeedTask] = []
    points: list[tuple[PointTask, tuple[SeedTask, ...]]] = []
    candidates: list[tuple[CandidateTask, tuple[PointTask, ...]]] = []
    for c in prepared:
        common = {
            "run_dir": run_dir,
            "run_id": run_id,
            "candidate": c.label,
            "candidate_dir": c.dirname,
        }
        alpha = AlphaSettings(
            model=c.polarizability_model,
            model_sha256=model_sha256.get(c.polarizability_model or ""),
            note=c.polarizability_note,
            batch_frames=pol.batch_frames,
            dtype=pol.dtype,
        )
        cand_points = []
        for t in c.temperatures_K:
            point_seeds = []
            for s in c.seeds:
                md = MDSettings(
                    temperature_k=float(t),
                    time_ps=float(m.production),
                    force_field=c.force_field,
                    timestep_fs=float(m.timestep_fs),
                    sample_every_fs=float(m.sample_every_fs),
                    equilibration_ps=float(m.equilibration),
                    equilibration_ensemble=m.equilibration_ensemble,
                    ensemble=m.ensemble,
                    thermostat=m.thermostat,
                    thermostat_time_fs=float(m.thermostat_time_fs),
                    seed=int(s),
                    checkpoint_every_steps=int(m.checkpoint_every_steps),
                    threads=int(m.threads),
                    device=m.device,
                    force_field_options=dict(m.force_field_options),
                )
                point_seeds.append(
                    SeedTask(
                        **common,
                        structure_source=c.structure_source,
                        n_atoms=len(c.structures[s]),
                        md=md,
                        force_field_sha256=force_field_sha256.get(c.force_field),
                        alpha=alpha,
                        spectrum=spectrum,
                        metrics=metrics,
                        transport=transport,
                        atoms=c.structures[s],
                    )
                )
            point = PointTask(
                **common,
                temperature_K=float(t),
                seeds=tuple(int(s) for s in c.seeds),
                spectrum=spectrum,
                metrics=metrics,
            )
            seeds += point_seeds
            points.append((point, tuple(point_seeds)))
            cand_points.append(point)
        candidates.append((CandidateTask(**common), tuple(cand_points)))
    return RunPlan(tuple(seeds), tuple(points), tuple(candidates))
