"""Idempotent stages of a screening run, with files in between in the run directory.

Per candidate × temperature × seed (a *task*, directory ``tasks/<candidate>/<T>K/seed<s>/``):

==============  ==========================================================  ===================
stage           does                                                        writes
==============  ==========================================================  ===================
``structure``   the MD start structure (supercell, dopants, vacancies)      ``structure.extxyz``
``md``          equilibration, then production MD (:func:`ionraman.md.      ``md.h5``,
                run_md`; checkpointed: a killed run resumes mid-stage)      ``md.thermo.csv``
``alpha``       α(t) of every frame from the polarizability model           ``alpha.npz``
``spectrum``    Raman spectra of α(t)                                       ``spectrum.h5/.csv``
``lowfreq``     low-frequency fraction, band ratio, central-peak fit        ``lowfreq.json``
``transport``   MSD, D*, σ, Haven ratio, mechanism (:func:`ionraman.        ``diffusion.json``...
                transport.analyse_diffusion`)
==============  ==========================================================  ===================

The seeds of a candidate × temperature are combined by ``point`` and its temperatures by
``arrhenius`` (:mod:`ionraman.workflow.combine`).

Bookkeeping (records, pending and failed markers, the journal): :mod:`ionraman.workflow.records`.

Every stage reads its settings from a typed task (:mod:`ionraman.workflow.plan`) and the physical
inputs of an analysis (temperature, frame interval) from the data it analyses. A stage function
never raises for a failure of the stage itself: it returns a
:class:`~ionraman.workflow.records.StageResult` with ``status`` ``"failed"`` (traceback in the
task's ``task.log``), and the stages that depend on it return ``"blocked"``. A stage that has
nothing to do (no polarizability model) completes with status ``"skipped"`` and a reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ionraman._io import atomic_path, write_json_atomic
from ionraman.errors import InputError
from ionraman.workflow.plan import (
    MetricSettings,
    SeedTask,
    SpectrumSettings,
    md_record,
)
from ionraman.workflow.records import (
    TASK_LOG,
    StageContext,
    StageResult,
    _canonical,
    execute,
)

__all__ = [
    "SEED_STAGES",
    "AlphaSeries",
    "PanelValue",
    "SeedMetrics",
    "run_seed_stage",
    "spectrum_metrics",
]

METRICS_VERSION = 3
"""Version of what the ``lowfreq``, ``point`` and ``results`` stages compute from a spectrum (2:
the metric panel and time-block bootstrap errors; 3: the metric comparison averages the points
tied as slowest); part of their inputs, so older records are recomputed."""
SEED_STAGES = ("structure", "md", "alpha", "spectrum", "lowfreq", "transport")

log = logging.getLogger("ionraman.workflow")


# ----------------------------------------------------------------------------------------------
# per-worker caches (force fields and polarizability models are loaded once per worker thread)
# ----------------------------------------------------------------------------------------------
_CACHE = threading.local()
_PLOT_LOCK = threading.Lock()
_LOAD_LOCK = threading.Lock()


def _cached(kind: str, key: Any, make: Callable[[], Any]) -> Any:
    store = getattr(_CACHE, kind, None)
    if store is None:
        store = {}
        setattr(_CACHE, kind, store)
    if key not in store:
        store.clear()  # one model of a kind at a time per thread (memory)
        store[key] = make()
    return store[key]


_MALLOC_TUNED = False


def tune_malloc() -> bool:
    """Undo the effect of Dask's ``MALLOC_TRIM_THRESHOLD_`` in this worker process (glibc).

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (to return memory to the
    OS). Setting any malloc threshold switches off glibc's dynamic mmap threshold, so every
    large torch tensor is mmap'ed and unmapped again: ML-force-field MD steps then cost 2-2.5x
    more CPU (0.15 vs 0.065 s per step for a 16-atom cell with SevenNet, measured here).
    Raising the mmap and trim thresholds restores the speed. Done once per process, only when
    the variable is set (Dask workers) and only on glibc; returns whether it was applied.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return _MALLOC_TUNED
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 64 << 20) and libc.mallopt(m_trim_threshold, 256 << 20)
        _MALLOC_TUNED = bool(ok)
    except (OSError, AttributeError):  # not glibc
        _MALLOC_TUNED = False
    return _MALLOC_TUNED


def _force_field(name: str, threads: int, device: str, options: dict[str, Any]):
    from ionraman.forcefields import load_force_field

    key = (name, threads, device, _canonical(options))

    def load():
        # one load at a time per process: importing a ``file.py:factory`` module is not
        # thread-safe (a second thread can see the half-executed module), and torch's thread
        # count is process-wide
        with _LOAD_LOCK:
            return load_force_field(name, threads=threads, device=device, **options)

    return _cached("force_field", key, load)


# ----------------------------------------------------------------------------------------------
# per-seed stages
# ----------------------------------------------------------------------------------------------
def run_seed_stage(stage: str, task: SeedTask, *upstream: StageResult) -> StageResult:
    """Run one per-seed stage of a task (the function Dask workers execute).

    Parameters
    ----------
    stage
        One of :data:`SEED_STAGES`.
    task
        The task (built by :func:`ionraman.workflow.plan.plan_run`).
    upstream
        Results of the stages this one depends on.
    """
    tune_malloc()
    task_dir = task.run_dir / "tasks" / task.task_id
    body, inputs = _SEED_BODIES[stage](task, upstream)
    ctx = StageContext(
        task.run_dir, task.task_id, stage, task_dir / stage, inputs, task_dir / TASK_LOG,
        task.run_id,
    )
    return execute(ctx, upstream, body)


def _structure(task: SeedTask, upstream: Sequence[StageResult]):
    import io

    import ase.io

    atoms = task.atoms
    buf = io.StringIO()
    ase.io.write(buf, atoms, format="extxyz")
    text = buf.getvalue()
    inputs = {
        "structure_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "source": task.structure_source,
    }

    def body(ctx: StageContext) -> dict[str, Any]:
        with atomic_path(ctx.dir / "structure.extxyz") as tmp:
            tmp.write_text(text)
        summary = {
            "n_atoms": len(atoms),
            "formula": atoms.get_chemical_formula(),
            "volume_A3": float(atoms.get_volume()),
            "elements": sorted(set(atoms.get_chemical_symbols())),
            "info": {k: v for k, v in atoms.info.items() if isinstance(v, str | int | float)},
        }
        return ctx.finish(["structure.extxyz"], summary)

    return body, inputs


def _md(task: SeedTask, upstream: Sequence[StageResult]):
    (structure,) = upstream
    md = task.md
    inputs = {
        "structure": structure.digest,
        "settings": md_record(md),
        "force_field": md.force_field,
        "force_field_sha256": task.force_field_sha256,
        "force_field_options": md.force_field_options,
    }

    def body(ctx: StageContext) -> dict[str, Any]:
        import ase.io

        from ionraman.md import checkpoint_path, simulate, thermo_path
        from ionraman.trajectory import open_trajectory

        atoms = ase.io.read(structure.dir / "structure.extxyz", format="extxyz")
        out = ctx.dir / "md.h5"
        fresh_partial = out.exists() and not checkpoint_path(out).exists()
        ff = _force_field(md.force_field, md.threads, md.device, md.force_field_options)
        t0 = time.time()
        simulate(
            atoms,
            md,
            out=out,
            quiet=True,
            overwrite=fresh_partial,  # our own store cut off before its first checkpoint
            loaded=ff,
        )
        with open_trajectory(out) as traj:
            meta = traj.metadata
            n_frames = len(traj)
        thermo = thermo_path(out)
        summary = {
            "n_frames": n_frames,
            "n_atoms": len(atoms),
            "seconds_this_process": round(time.time() - t0, 2),
            "energy_drift_meV_per_atom_per_ps": meta.get("energy_drift_meV_per_atom_per_ps"),
            "force_field": ff.provenance(),
            "resumes": len(meta.get("resumes", []) or []),
        }
        return ctx.finish(["md.h5", thermo.name], summary)

    return body, inputs


def _locked_load(path: str) -> Any:
    from ionraman.polarizability import load_model

    with _LOAD_LOCK:
        return load_model(path)


ALPHA_FORMAT = 2
"""Version of ``alpha.npz`` (2: carries the MD temperature read from the store, which the
spectra use)."""


def _alpha(task: SeedTask, upstream: Sequence[StageResult]):
    (md_res,) = upstream
    a = task.alpha
    inputs = {
        "md": md_res.digest,
        "model": a.model,
        "model_sha256": a.model_sha256,
        "note": a.note,
        "batch_frames": a.batch_frames,
        "dtype": a.dtype,
        "format": ALPHA_FORMAT,
    }

    def body(ctx: StageContext) -> dict[str, Any]:
        if a.model is None:
            return ctx.finish([], {"reason": a.note}, status="skipped")
        from ionraman.trajectory import open_trajectory

        store = md_res.dir / "md.h5"
        model = _cached("alpha_model", (a.model, a.model_sha256), lambda: _locked_load(a.model))
        meta: dict[str, Any] = {"model_path": a.model, "model_sha256": a.model_sha256}
        res = model.alpha_of_store(
            store, batch_frames=a.batch_frames, dtype=a.dtype, threads=task.md.threads
        )
        meta.update(res.diagnostics)
        with open_trajectory(store) as traj:
            times = np.asarray(traj.times_fs)
            temperature = float(traj.metadata["temperature_K"])
        with atomic_path(ctx.dir / "alpha.npz") as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh, alpha=np.asarray(res.alpha, float), times_fs=times, temperature_K=temperature
            )
        meta["n_frames"] = len(times)
        meta["frame_interval_fs"] = float(np.median(np.diff(times))) if len(times) > 1 else None
        return ctx.finish(["alpha.npz"], meta)

    return body, inputs


@dataclasses.dataclass(frozen=True)
class AlphaSeries:
    """An ``alpha.npz``: α(t) of one run with the physical inputs of its spectrum.

    Attributes
    ----------
    alpha : ndarray [S, 3, 3]
        Whole-cell polarizability, Å³.
    dt_fs : float
        Frame interval (median spacing of the frame times), fs.
    temperature_K : float
        MD temperature (from the trajectory store), K.
    """

    alpha: np.ndarray
    dt_fs: float
    temperature_K: float

    @classmethod
    def read(cls, alpha_dir: str | Path) -> AlphaSeries:
        with np.load(Path(alpha_dir) / "alpha.npz") as data:
            return cls(
                alpha=data["alpha"],
                dt_fs=float(np.median(np.diff(data["times_fs"]))),
                temperature_K=float(data["temperature_K"]),
            )


def _compute_spectrum(series: Sequence[AlphaSeries], settings: SpectrumSettings):
    """One spectrum of one or more α runs (same frame interval and temperature)."""
    from ionraman.spectra import compute_raman_spectrum

    first = series[0]
    for s in series[1:]:
        if s.dt_fs != first.dt_fs or s.temperature_K != first.temperature_K:
            raise InputError(
                f"α runs differ in frame interval ({s.dt_fs:g} vs {first.dt_fs:g} fs) or "
                f"temperature ({s.temperature_K:g} vs {first.temperature_K:g} K); they cannot "
                "share a spectrum"
            )
    runs = first.alpha if len(series) == 1 else [s.alpha for s in series]
    return compute_raman_spectrum(
        runs, first.dt_fs, temperature_k=first.temperature_K, **settings.options()
    )


def _write_spectrum(spectrum: Any, directory: Path, variant: str) -> list[str]:
    spectrum.save(directory / "spectrum.h5")
    with atomic_path(directory / "spectrum.csv") as tmp:
        spectrum.to_dataframe(variant).to_csv(tmp, index=False)
    return ["spectrum.h5", "spectrum.csv"]


def _spectrum(task: SeedTask, upstream: Sequence[StageResult]):
    (alpha_res,) = upstream
    settings = task.spectrum
    inputs = {
        "alpha": alpha_res.digest,
        "options": settings.options(),
        "variant": settings.variant,
    }

    def body(ctx: StageContext) -> dict[str, Any]:
        if alpha_res.status == "skipped":
            return ctx.finish([], alpha_res.summary, status="skipped")
        series = AlphaSeries.read(alpha_res.dir)
        spectrum = _compute_spectrum([series], settings)
        outputs = _write_spectrum(spectrum, ctx.dir, settings.variant)
        summary = {
            "resolution_cm1": spectrum.resolution_cm1,
            "n_bins": len(spectrum.wavenumber_cm1),
            "frame_interval_fs": series.dt_fs,
            "n_frames": int(series.alpha.shape[0]),
        }
        return ctx.finish(outputs, summary)

    return body, inputs


def spectrum_metrics(spectrum: Any, settings: MetricSettings) -> dict[str, Any]:
    """Low-frequency metrics of one spectrum (a dict of JSON-ready values): the configured
    fraction and band ratio, the panel of definitions compared with them
    (:mod:`ionraman.screening.panel`) and the central-peak fit."""
    from ionraman.screening import fit_central_peak_from_spectrum
    from ionraman.screening.panel import evaluate_panel, metric_panel

    panel = evaluate_panel(
        spectrum,
        metric_panel(
            settings.channel,
            settings.variant,
            list(settings.window_cm1),
            settings.reference_max_cm1,
            settings.record()["band"],
        ),
    )
    for name in ("fraction", "band_ratio"):  # the configured metrics: their failure is an error
        if panel.get(name, {}).get("error"):
            raise InputError(panel[name]["error"])
    out: dict[str, Any] = {"lowfreq_fraction": panel["fraction"]}
    if "band_ratio" in panel:
        out["band_ratio"] = panel["band_ratio"]
    out["panel"] = panel
    if settings.central_peak:
        try:
            fit = fit_central_peak_from_spectrum(
                spectrum, settings.channel, window_cm1=settings.central_peak_window_cm1
            )
            out["central_peak"] = fit.to_dict()
        except Exception as exc:  # the fit is a descriptor; its failure is recorded, not fatal
            out["central_peak"] = {"success": False, "message": f"{type(exc).__name__}: {exc}"}
    return out


def _lowfreq(task: SeedTask, upstream: Sequence[StageResult]):
    (spec_res,) = upstream
    settings = task.metrics
    inputs = {
        "spectrum": spec_res.digest,
        "settings": settings.record(),
        "metrics_version": METRICS_VERSION,
    }

    def body(ctx: StageContext) -> dict[str, Any]:
        if spec_res.status == "skipped":
            return ctx.finish([], spec_res.summary, status="skipped")
        from ionraman.spectra import RamanSpectrum

        spectrum = RamanSpectrum.load(spec_res.dir / "spectrum.h5")
        metrics = spectrum_metrics(spectrum, settings)
        write_json_atomic(ctx.dir / "lowfreq.json", metrics)
        return ctx.finish(["lowfreq.json"], SeedMetrics.of(metrics).to_dict())

    return body, inputs


@dataclasses.dataclass(frozen=True)
class PanelValue:
    """One metric definition of the panel on one spectrum.

    Attributes
    ----------
    value, stderr
        The metric and its time-block bootstrap error (``None`` when the spectrum cannot give it).
    description
        What the definition is (window, channel, representation).
    """

    value: float | None
    stderr: float | None
    description: str


@dataclasses.dataclass(frozen=True)
class SeedMetrics:
    """What the ``lowfreq`` stage measured on one run's spectrum (its record summary; the full
    metric objects are in ``lowfreq.json``).

    Attributes
    ----------
    lowfreq_fraction, lowfreq_fraction_stderr
        The configured low-frequency fraction and its error.
    band_ratio, band_ratio_stderr
        The configured band ratio and its error (``None`` without ``analysis.band``).
    panel
        Every definition of the metric panel (:mod:`ionraman.screening.panel`).
    central_peak_tau_ps, central_peak_tau_err_ps, central_peak_A
        Debye relaxation time (ps), its error and amplitude of the central-peak fit (``None``
        when the fit was not asked for or found no central peak).
    central_peak_fit
        The fit's message.
    """

    lowfreq_fraction: float | None = None
    lowfreq_fraction_stderr: float | None = None
    band_ratio: float | None = None
    band_ratio_stderr: float | None = None
    panel: dict[str, PanelValue] = dataclasses.field(default_factory=dict)
    central_peak_tau_ps: float | None = None
    central_peak_tau_err_ps: float | None = None
    central_peak_A: float | None = None
    central_peak_fit: str | None = None

    @classmethod
    def of(cls, metrics: dict[str, Any]) -> SeedMetrics:
        """From :func:`spectrum_metrics`."""
        values: dict[str, Any] = {}
        for name in ("lowfreq_fraction", "band_ratio"):
            m = metrics.get(name)
            if m:
                values[name] = m["value"]
                values[f"{name}_stderr"] = m.get("stderr")
        values["panel"] = {
            name: PanelValue(m.get("value"), m.get("stderr"), m["description"])
            for name, m in metrics.get("panel", {}).items()
        }
        cp = metrics.get("central_peak")
        if cp:
            ok = bool(cp.get("success"))
            values["central_peak_tau_ps"] = cp.get("tau_ps") if ok else None
            values["central_peak_tau_err_ps"] = cp.get("tau_err_ps") if ok else None
            values["central_peak_A"] = cp.get("A") if ok else None
            values["central_peak_fit"] = cp.get("message")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeedMetrics:
        """From :meth:`to_dict` (a stage record's summary)."""
        return cls(**{**d, "panel": {k: PanelValue(**v) for k, v in d.get("panel", {}).items()}})


def _transport(task: SeedTask, upstream: Sequence[StageResult]):
    (md_res,) = upstream
    settings = task.transport
    inputs = {
        "md": md_res.digest,
        "settings": settings.record(),  # the temperature is read from the store
        "framework_check": 1,
        "msd_linearity": 1,
    }

    def body(ctx: StageContext) -> dict[str, Any]:
        from ionraman.transport import analyse_diffusion

        store = md_res.dir / "md.h5"
        with _PLOT_LOCK:  # it draws msd.png with pyplot, which is not thread-safe
            res = analyse_diffusion(
                store,
                ctx.dir,
                species=settings.species,
                charge=settings.charge,
                start_fraction=settings.start_fraction,
                end_fraction=settings.end_fraction,
                seed=0,
                plot=True,
            )
        row = {k: _plain(v) for k, v in res.scalars().items()}
        row["alpha2_max"] = _plain(res.info.get("descriptors", {}).get("alpha2_max"))
        row["framework_intact_fraction"] = framework_intact_fraction(store)
        outputs = [Path(p).name for p in res.files.values()]
        return ctx.finish(sorted(outputs), row)

    return body, inputs


def framework_intact_fraction(store: Path, max_frames: int = 200) -> float | None:
    """Fraction of MD frames (up to ``max_frames`` evenly spaced) in which every SbS4 tetrahedron
    is intact and no S–S bond exists; ``None`` for compounds without Sb and S. A force field
    that decomposes the polyanion framework makes the run a sample of another material."""
    from ionraman.md.sanity import framework_summary

    summary = framework_summary(store, max_frames=max_frames)
    return None if summary is None else summary["intact_and_no_S_S"]


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


_SEED_BODIES = {
    "structure": _structure,
    "md": _md,
    "alpha": _alpha,
    "spectrum": _spectrum,
    "lowfreq": _lowfreq,
    "transport": _transport,
}
