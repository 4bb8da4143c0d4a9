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

Per candidate × temperature (``points/<candidate>/<T>K/``): ``point`` combines the seeds (one
spectrum of all seeds with errors across runs, metric mean ± standard error over seeds, D
combined). Per candidate (``candidates/<candidate>/``): ``arrhenius`` (E_a from D(T), σ at
300 K).

Bookkeeping (records, pending and failed markers, the journal): :mod:`ionraman.workflow.records`.

A stage function never raises for a failure of the stage itself: it returns a result dict
with ``status`` ``"failed"`` (traceback in the task's ``task.log``), and the stages that depend
on it return ``"blocked"``. A stage that has nothing to do (no polarizability model) completes
with status ``"skipped"`` and a reason.
"""

from __future__ import annotations

import hashlib
import json
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
from ionraman.spectra.raman import DEFAULT_MAX_BLOCKS
from ionraman.workflow.records import (
    TASK_LOG,
    StageContext,
    _blocked,
    _canonical,
    execute,
    task_id,
)

__all__ = [
    "POINT_STAGES",
    "SEED_STAGES",
    "run_arrhenius",
    "run_point",
    "run_seed_stage",
]

METRICS_VERSION = 3
"""Version of what the ``lowfreq``, ``point`` and ``results`` stages compute from a spectrum (2:
the metric panel and time-block bootstrap errors; 3: the metric comparison averages the points
tied as slowest); part of their inputs, so older records are recomputed."""
SEED_STAGES = ("structure", "md", "alpha", "spectrum", "lowfreq", "transport")
POINT_STAGES = ("point",)
CANDIDATE_STAGES = ("arrhenius",)

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
def _paths(spec: dict[str, Any]) -> tuple[Path, str, Path, Path]:
    run_dir = Path(spec["run_dir"])
    tid = task_id(spec["candidate_dir"], spec["temperature_K"], spec["seed"])
    task_dir = run_dir / "tasks" / tid
    return run_dir, tid, task_dir, task_dir / TASK_LOG


def run_seed_stage(stage: str, spec: dict[str, Any], *upstream: dict[str, Any]) -> dict[str, Any]:
    """Run one per-seed stage of a task (the function Dask workers execute).

    Parameters
    ----------
    stage
        One of :data:`SEED_STAGES`.
    spec
        The task's settings (built by :mod:`ionraman.workflow.orchestrate`; plain data).
    upstream
        Results of the stages this one depends on.
    """
    tune_malloc()
    run_dir, tid, task_dir, log_path = _paths(spec)
    body, inputs = _SEED_BODIES[stage](spec, upstream)
    ctx = StageContext(
        run_dir, tid, stage, task_dir / stage, inputs, log_path, spec.get("run_id", "")
    )
    return execute(ctx, upstream, body)


def _structure(spec: dict[str, Any], upstream: Sequence[dict]):
    import io

    import ase.io

    atoms = spec["atoms"]
    buf = io.StringIO()
    ase.io.write(buf, atoms, format="extxyz")
    text = buf.getvalue()
    inputs = {
        "structure_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "source": spec["structure_source"],
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


def _md_settings(spec: dict[str, Any]) -> dict[str, Any]:
    md = spec["md"]
    return {
        "temperature_k": float(spec["temperature_K"]),
        "time_ps": float(md["production"]),
        "equilibration_ps": float(md["equilibration"]),
        "timestep_fs": float(md["timestep_fs"]),
        "sample_every_fs": float(md["sample_every_fs"]),
        "ensemble": md["ensemble"],
        "thermostat": md["thermostat"],
        "equilibration_ensemble": md["equilibration_ensemble"],
        "thermostat_time_fs": float(md["thermostat_time_fs"]),
        "checkpoint_every_steps": int(md["checkpoint_every_steps"]),
        "seed": int(spec["seed"]),
    }


def _md(spec: dict[str, Any], upstream: Sequence[dict]):
    (structure,) = upstream
    settings = _md_settings(spec)
    md = spec["md"]
    inputs = {
        "structure": (structure or {}).get("digest"),
        "settings": settings,
        "force_field": spec["force_field"],
        "force_field_sha256": spec.get("force_field_sha256"),
        "force_field_options": md.get("force_field_options", {}),
    }

    def body(ctx: StageContext) -> dict[str, Any]:
        import ase.io

        from ionraman.md import checkpoint_path, run_md, thermo_path
        from ionraman.trajectory import open_trajectory

        atoms = ase.io.read(Path(structure["dir"]) / "structure.extxyz", format="extxyz")
        out = ctx.dir / "md.h5"
        fresh_partial = out.exists() and not checkpoint_path(out).exists()
        ff = _force_field(
            spec["force_field"], int(md["threads"]), md["device"], md.get("force_field_options", {})
        )
        t0 = time.time()
        run_md(
            atoms,
            force_field=ff,
            out=out,
            quiet=True,
            threads=int(md["threads"]),
            device=md["device"],
            overwrite=fresh_partial,  # our own store cut off before its first checkpoint
            **settings,
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


def _alpha(spec: dict[str, Any], upstream: Sequence[dict]):
    (md_res,) = upstream
    model_path = spec.get("polarizability_model")
    pol = spec["polarizability"]
    inputs = {
        "md": (md_res or {}).get("digest"),
        "model": model_path,
        "model_sha256": spec.get("polarizability_model_sha256"),
        "note": spec.get("polarizability_note"),
        "batch_frames": pol["batch_frames"],
        "dtype": pol["dtype"],
    }

    def body(ctx: StageContext) -> dict[str, Any]:
        if model_path is None:
            return ctx.finish([], {"reason": spec["polarizability_note"]}, status="skipped")
        from ionraman.trajectory import open_trajectory

        store = Path(md_res["dir"]) / "md.h5"
        model = _cached(
            "alpha_model",
            (model_path, spec.get("polarizability_model_sha256")),
            lambda: _locked_load(model_path),
        )
        meta: dict[str, Any] = {
            "model_path": model_path,
            "model_sha256": spec.get("polarizability_model_sha256"),
        }
        res = model.alpha_of_store(
            store,
            batch_frames=int(pol["batch_frames"]),
            dtype=pol["dtype"],
            threads=int(spec.get("md", {}).get("threads", 1)),
        )
        alpha = res.alpha
        meta.update(res.diagnostics)
        with open_trajectory(store) as traj:
            times = np.asarray(traj.times_fs)
        with atomic_path(ctx.dir / "alpha.npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, alpha=np.asarray(alpha, float), times_fs=times)
        meta["n_frames"] = len(times)
        meta["frame_interval_fs"] = float(np.median(np.diff(times))) if len(times) > 1 else None
        return ctx.finish(["alpha.npz"], meta)

    return body, inputs


def _spectrum_options(spec: dict[str, Any]) -> dict[str, Any]:
    a = spec["analysis"]
    return {
        "resolution_cm1": a.get("resolution_cm1"),
        "quantum_correction": a["quantum_correction"],
        "max_blocks": DEFAULT_MAX_BLOCKS,  # time blocks for the metrics' bootstrap errors
    }


def _compute_spectrum(alpha_runs: list[np.ndarray], dt_fs: float, temperature_k: float, spec):
    from ionraman.spectra import compute_raman_spectrum

    opts = _spectrum_options(spec)
    runs = alpha_runs[0] if len(alpha_runs) == 1 else alpha_runs
    return compute_raman_spectrum(
        runs,
        dt_fs,
        temperature_k=temperature_k,
        resolution_cm1=opts["resolution_cm1"],
        quantum_correction=opts["quantum_correction"],
        max_blocks=opts["max_blocks"],
    )


def _read_alpha(alpha_dir: str | Path) -> tuple[np.ndarray, float]:
    with np.load(Path(alpha_dir) / "alpha.npz") as data:
        alpha = data["alpha"]
        times = data["times_fs"]
    return alpha, float(np.median(np.diff(times)))


def _spectrum(spec: dict[str, Any], upstream: Sequence[dict]):
    (alpha_res,) = upstream
    inputs = {
        "alpha": (alpha_res or {}).get("digest"),
        "options": _spectrum_options(spec),
        "variant": spec["analysis"]["variant"],
    }

    def body(ctx: StageContext) -> dict[str, Any]:
        if alpha_res["status"] == "skipped":
            return ctx.finish([], alpha_res["summary"], status="skipped")
        alpha, dt = _read_alpha(alpha_res["dir"])
        spectrum = _compute_spectrum([alpha], dt, float(spec["temperature_K"]), spec)
        spectrum.save(ctx.dir / "spectrum.h5")
        df = spectrum.to_dataframe(spec["analysis"]["variant"])
        with atomic_path(ctx.dir / "spectrum.csv") as tmp:
            df.to_csv(tmp, index=False)
        summary = {
            "resolution_cm1": spectrum.resolution_cm1,
            "n_bins": len(spectrum.wavenumber_cm1),
            "frame_interval_fs": dt,
            "n_frames": int(alpha.shape[0]),
        }
        return ctx.finish(["spectrum.h5", "spectrum.csv"], summary)

    return body, inputs


def _metric_settings(spec: dict[str, Any]) -> dict[str, Any]:
    a = spec["analysis"]
    return {
        "channel": a["channel"],
        "variant": a["variant"],
        "window_cm1": list(a["window_cm1"]),
        "reference_max_cm1": a["reference_max_cm1"],
        "band": a.get("band"),
        "central_peak": a["central_peak"],
        "central_peak_window_cm1": list(a["central_peak_window_cm1"]),
    }


def spectrum_metrics(spectrum: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """Low-frequency metrics of one spectrum (a dict of JSON-ready values): the configured
    fraction and band ratio, the panel of definitions compared with them
    (:mod:`ionraman.screening.panel`) and the central-peak fit."""
    from ionraman.screening import fit_central_peak_from_spectrum
    from ionraman.screening.panel import evaluate_panel, metric_panel

    panel = evaluate_panel(
        spectrum,
        metric_panel(
            settings["channel"],
            settings["variant"],
            settings["window_cm1"],
            settings["reference_max_cm1"],
            settings.get("band"),
        ),
    )
    for name in ("fraction", "band_ratio"):  # the configured metrics: their failure is an error
        if panel.get(name, {}).get("error"):
            raise InputError(panel[name]["error"])
    out: dict[str, Any] = {"lowfreq_fraction": panel["fraction"]}
    if "band_ratio" in panel:
        out["band_ratio"] = panel["band_ratio"]
    out["panel"] = panel
    if settings.get("central_peak"):
        try:
            fit = fit_central_peak_from_spectrum(
                spectrum, settings["channel"], window_cm1=tuple(settings["central_peak_window_cm1"])
            )
            out["central_peak"] = fit.to_dict()
        except Exception as exc:  # the fit is a descriptor; its failure is recorded, not fatal
            out["central_peak"] = {"success": False, "message": f"{type(exc).__name__}: {exc}"}
    return out


def _lowfreq(spec: dict[str, Any], upstream: Sequence[dict]):
    (spec_res,) = upstream
    settings = _metric_settings(spec)
    inputs = {
        "spectrum": (spec_res or {}).get("digest"),
        "settings": settings,
        "metrics_version": METRICS_VERSION,
    }

    def body(ctx: StageContext) -> dict[str, Any]:
        if spec_res["status"] == "skipped":
            return ctx.finish([], spec_res["summary"], status="skipped")
        from ionraman.spectra import RamanSpectrum

        spectrum = RamanSpectrum.load(Path(spec_res["dir"]) / "spectrum.h5")
        metrics = spectrum_metrics(spectrum, settings)
        write_json_atomic(ctx.dir / "lowfreq.json", metrics)
        return ctx.finish(["lowfreq.json"], _flat_metrics(metrics))

    return body, inputs


def _flat_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("lowfreq_fraction", "band_ratio"):
        m = metrics.get(name)
        if m:
            out[name] = m["value"]
            out[f"{name}_stderr"] = m.get("stderr")
    out["panel"] = {
        name: {"value": m.get("value"), "stderr": m.get("stderr"), "description": m["description"]}
        for name, m in metrics.get("panel", {}).items()
    }
    cp = metrics.get("central_peak")
    if cp:
        ok = bool(cp.get("success"))
        out["central_peak_tau_ps"] = cp.get("tau_ps") if ok else None
        out["central_peak_tau_err_ps"] = cp.get("tau_err_ps") if ok else None
        out["central_peak_A"] = cp.get("A") if ok else None
        out["central_peak_fit"] = cp.get("message")
    return out


def _transport_settings(spec: dict[str, Any]) -> dict[str, Any]:
    a = spec["analysis"]
    return {
        "species": a["species"],
        "charge": a["charge"],
        "start_fraction": a["fit_start_fraction"],
        "end_fraction": a["fit_end_fraction"],
        "temperature_k": float(spec["temperature_K"]),
    }


def _transport(spec: dict[str, Any], upstream: Sequence[dict]):
    (md_res,) = upstream
    settings = _transport_settings(spec)
    inputs = {
        "md": (md_res or {}).get("digest"),
        "settings": settings,
        "framework_check": 1,
        "msd_linearity": 1,
    }

    def body(ctx: StageContext) -> dict[str, Any]:
        from ionraman.transport import analyse_diffusion

        with _PLOT_LOCK:  # it draws msd.png with pyplot, which is not thread-safe
            res = analyse_diffusion(
                Path(md_res["dir"]) / "md.h5",
                ctx.dir,
                species=settings["species"],
                temperature_k=settings["temperature_k"],
                charge=settings["charge"],
                start_fraction=settings["start_fraction"],
                end_fraction=settings["end_fraction"],
                seed=0,
                plot=True,
            )
        row = res.to_dataframe().iloc[0].to_dict()
        row = {k: _plain(v) for k, v in row.items()}
        row["alpha2_max"] = _plain(res.info.get("descriptors", {}).get("alpha2_max"))
        row["framework_intact_fraction"] = framework_intact_fraction(Path(md_res["dir"]) / "md.h5")
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


# ----------------------------------------------------------------------------------------------
# per (candidate, temperature): combine the seeds
# ----------------------------------------------------------------------------------------------
def _mean_err(values: Sequence[float | None], errs: Sequence[float | None]) -> dict[str, Any]:
    """Mean over seeds, sample std over seeds, the within-run error and the error of the mean.

    ``run_err`` is the RMS of the seeds' own (time-block) errors σ_i. With one value the error
    of the mean is σ_1; with n ≥ 2 it is sqrt(max(s², run_err²)/n): the per-run variance is
    estimated both from the seed scatter s² and from the runs themselves, and the larger is used
    (with few seeds s² alone is often small by chance; where the within-run errors are honest the
    two agree, see ``seed_scatter_over_err`` of the metric comparison).
    """
    pairs = [
        (float(v), None if e is None else float(e))
        for v, e in zip(values, errs, strict=True)
        if v is not None and math.isfinite(float(v))
    ]
    if not pairs:
        return {"mean": None, "std_seeds": None, "err": None, "run_err": None, "n": 0}
    x = np.array([p[0] for p in pairs])
    e = np.array([np.nan if p[1] is None else p[1] for p in pairs])
    n = len(x)
    run_var = float(np.nanmean(e**2)) if np.isfinite(e).any() else None
    run_err = None if run_var is None else math.sqrt(run_var)
    if n == 1:
        return {"mean": float(x[0]), "std_seeds": None, "err": run_err, "run_err": run_err, "n": 1}
    s2 = float(np.var(x, ddof=1))
    return {
        "mean": float(x.mean()),
        "std_seeds": math.sqrt(s2),
        "err": math.sqrt(max(s2, run_var or 0.0) / n),
        "run_err": run_err,
        "n": n,
    }


def run_point(
    spec: dict[str, Any],
    alpha_results: Sequence[dict],
    lowfreq_results: Sequence[dict],
    transport_results: Sequence[dict],
) -> dict[str, Any]:
    """Combine the seeds of one candidate × temperature (``points/<candidate>/<T>K/``).

    Writes ``spectrum.h5`` / ``spectrum.csv`` (one spectrum of all seeds' α runs; errors across
    runs for ≥ 2 seeds) and ``point.json``: per-seed values, the metric mean ± error over seeds,
    the metrics of the combined spectrum, and D, σ, Haven ratio, descriptors combined over seeds.
    Seeds whose tasks failed are left out (and listed); with no seed left the point is blocked.
    """
    run_dir = Path(spec["run_dir"])
    tid = task_id(spec["candidate_dir"], spec["temperature_K"])
    pdir = run_dir / "points" / tid
    log_path = pdir / TASK_LOG
    seeds = list(spec["seeds"])
    ok_t = [r for r in transport_results if r and r.get("status") == "done"]
    ok_a = [r for r in alpha_results if r and r.get("status") in ("done", "skipped")]
    ok_l = [r for r in lowfreq_results if r and r.get("status") in ("done", "skipped")]
    failed = sorted(
        {
            r.get("task", "?")
            for r in (*alpha_results, *lowfreq_results, *transport_results)
            if r and r.get("status") in ("failed", "blocked")
        }
    )
    inputs = {
        "transport": [r["digest"] for r in ok_t],
        "alpha": [r["digest"] for r in ok_a],
        "lowfreq": [r["digest"] for r in ok_l],
        "settings": _metric_settings(spec),
        "spectrum_options": _spectrum_options(spec),
        "alpha_flags": 1,
        "metrics_version": METRICS_VERSION,
    }
    ctx = StageContext(run_dir, tid, "point", pdir, inputs, log_path, spec.get("run_id", ""))
    if not ok_t and not ok_l:
        return _blocked(ctx, [{"stage": "all seeds", "status": "failed"}])  # type: ignore[return-value]

    def body(ctx: StageContext) -> dict[str, Any]:
        point: dict[str, Any] = {
            "candidate": spec["candidate"],
            "temperature_K": float(spec["temperature_K"]),
            "seeds": seeds,
            "seeds_failed": failed,
        }
        # transport
        rows = [r["summary"] for r in ok_t]
        point["n_seeds_transport"] = len(rows)
        for key, err_key in (
            ("D_cm2_s", "D_std_cm2_s"),
            ("sigma_S_cm", "sigma_std_S_cm"),
            ("D_sigma_cm2_s", "D_sigma_std_cm2_s"),
            ("haven_ratio", "haven_ratio_std"),
        ):
            agg = _mean_err([r.get(key) for r in rows], [r.get(err_key) for r in rows])
            point[key] = agg["mean"]
            point[err_key] = agg["err"]
            point[f"{key}_std_seeds"] = agg["std_seeds"]
        for key in (
            "fraction_in_flight",
            "mean_residence_time_ps",
            "hop_rate_per_ps_per_ion",
            "alpha2_max",
            "framework_intact_fraction",
            "n_mobile",
            "volume_A3",
        ):
            vals = [r.get(key) for r in rows if r.get(key) is not None]
            point[key] = float(np.mean(vals)) if vals else None
        # is the MSD diffusive in the fit window (log-log rule or two-halves linearity)? A
        # plateau gives kinisi a spurious positive D: such points stay out of Arrhenius fits and
        # of the metric-vs-D correlation
        verdicts = [r.get("diffusive") for r in rows if r.get("diffusive") is not None]
        point["diffusive_fraction"] = float(np.mean(verdicts)) if verdicts else None
        point["diffusive"] = bool(all(verdicts)) if verdicts else None
        mech = [r.get("mechanism") for r in rows if r.get("mechanism")]
        point["mechanism"] = max(set(mech), key=mech.count) if mech else None
        point["mechanism_per_seed"] = mech
        point["per_seed_transport"] = rows
        # spectra and metrics
        outputs = []
        done_a = [r for r in ok_a if r["status"] == "done"]
        if not done_a:
            reason = (ok_a[0]["summary"].get("reason") if ok_a else None) or (
                "skipped: no polarizability model"
            )
            point["spectrum_status"] = reason
        else:
            from ionraman.spectra import RamanSpectrum  # noqa: F401 (load check)

            runs = [_read_alpha(r["dir"]) for r in done_a]
            flags = [r["summary"].get("flagged_fraction") for r in done_a]
            flags = [f for f in flags if f is not None]  # None: bond model, no flags
            point["alpha_flagged_fraction"] = float(np.mean(flags)) if flags else None
            # the species whose atoms lie outside the model's training domain most often
            by_species: dict[str, list[float]] = {}
            for r in done_a:
                for s, f in (r["summary"].get("outside_fraction_by_species") or {}).items():
                    by_species.setdefault(s, []).append(float(f))
            means = {s: float(np.mean(f)) for s, f in by_species.items()}
            most = max(means, key=means.__getitem__, default=None)
            point["alpha_outside_most_species"] = most
            point["alpha_outside_most_species_fraction"] = means.get(most)
            n_min = min(a.shape[0] for a, _ in runs)
            dt = runs[0][1]
            spectrum = _compute_spectrum(
                [a[:n_min] for a, _ in runs], dt, float(spec["temperature_K"]), spec
            )
            spectrum.metadata["seeds_combined"] = len(runs)
            spectrum.save(ctx.dir / "spectrum.h5")
            with atomic_path(ctx.dir / "spectrum.csv") as tmp:
                spectrum.to_dataframe(spec["analysis"]["variant"]).to_csv(tmp, index=False)
            outputs += ["spectrum.h5", "spectrum.csv"]
            pooled = spectrum_metrics(spectrum, _metric_settings(spec))
            point["pooled_metrics"] = pooled
            point["spectrum_status"] = "done"
            point["resolution_cm1"] = spectrum.resolution_cm1
            per_seed = [r["summary"] for r in ok_l if r["status"] == "done"]
            point["per_seed_metrics"] = per_seed
            for name in ("lowfreq_fraction", "band_ratio"):
                vals = [m.get(name) for m in per_seed]
                if all(v is None for v in vals):
                    continue
                agg = _mean_err(vals, [m.get(f"{name}_stderr") for m in per_seed])
                point[name] = agg["mean"]
                point[f"{name}_err"] = agg["err"]
                point[f"{name}_std_seeds"] = agg["std_seeds"]
                point[f"{name}_pooled"] = (pooled.get(name) or {}).get("value")
                point[f"{name}_n_seeds"] = agg["n"]
            point["panel"] = _combine_panel(per_seed)
            taus = [m.get("central_peak_tau_ps") for m in per_seed]
            agg = _mean_err(taus, [m.get("central_peak_tau_err_ps") for m in per_seed])
            point["central_peak_tau_ps"] = agg["mean"]
            point["central_peak_tau_err_ps"] = agg["err"]
        write_json_atomic(ctx.dir / "point.json", point)
        return ctx.finish([*outputs, "point.json"], {"spectrum_status": point["spectrum_status"]})

    return execute(ctx, [], body)


def _combine_panel(per_seed: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every panel metric (and the central-peak amplitude) combined over the seeds
    (:func:`_mean_err`)."""
    names: dict[str, str] = {}
    for m in per_seed:
        for name, v in (m.get("panel") or {}).items():
            names.setdefault(name, v.get("description", ""))
    out = {}
    for name, desc in names.items():
        vals = [(m.get("panel") or {}).get(name, {}) for m in per_seed]
        agg = _mean_err([v.get("value") for v in vals], [v.get("stderr") for v in vals])
        out[name] = {**agg, "description": desc}
    amps = [m.get("central_peak_A") for m in per_seed]
    if any(a is not None for a in amps):
        agg = _mean_err(amps, [None] * len(amps))
        out["central_peak_A"] = {**agg, "description": "Debye amplitude of the central-peak fit"}
    return out


# ----------------------------------------------------------------------------------------------
# per candidate: Arrhenius
# ----------------------------------------------------------------------------------------------
def run_arrhenius(spec: dict[str, Any], point_results: Sequence[dict]) -> dict[str, Any]:
    """Arrhenius fits of D*(T) and σ(T) of one candidate (``candidates/<candidate>/``).

    Needs at least two temperatures with positive D; otherwise the stage completes as
    ``skipped`` with the reason. Extrapolates D and σ to ``extrapolate_K`` (300 K).
    """
    run_dir = Path(spec["run_dir"])
    cdir = run_dir / "candidates" / spec["candidate_dir"]
    ok = [r for r in point_results if r and r.get("status") == "done"]
    inputs = {"points": [r["digest"] for r in ok], "extrapolate_K": spec["extrapolate_K"]}
    ctx = StageContext(
        run_dir,
        spec["candidate_dir"],
        "arrhenius",
        cdir,
        inputs,
        cdir / TASK_LOG,
        spec.get("run_id", ""),
    )
    if not ok:
        return _blocked(ctx, [{"stage": "point", "status": "failed"}])  # type: ignore[return-value]

    def body(ctx: StageContext) -> dict[str, Any]:
        from ionraman.transport import arrhenius_fit

        pts = [json.loads((Path(r["dir"]) / "point.json").read_text()) for r in ok]
        pts = sorted(pts, key=lambda p: p["temperature_K"])
        t = np.array([p["temperature_K"] for p in pts])
        out: dict[str, Any] = {"candidate": spec["candidate"], "temperatures_K": t.tolist()}
        t_ex = float(spec["extrapolate_K"])
        for kind, key, err_key in (
            ("D", "D_cm2_s", "D_std_cm2_s"),
            ("sigmaT", "sigma_S_cm", "sigma_std_S_cm"),
        ):
            vals = np.array([np.nan if p.get(key) is None else p[key] for p in pts], float)
            errs = np.array([np.nan if p.get(err_key) is None else p[err_key] for p in pts])
            diffusive = np.array([p.get("diffusive") is not False for p in pts])
            use = np.isfinite(vals) & (vals > 0) & diffusive
            name = "D" if kind == "D" else "sigma"
            if use.sum() < 2:
                out[name] = {
                    "status": f"skipped: {int(use.sum())} temperature(s) with positive {key} "
                    f"and a diffusive MSD ({int((~diffusive).sum())} not diffusive); need 2"
                }
                continue
            weights_ok = np.isfinite(errs[use]).all() and (errs[use] > 0).all()
            try:
                fit = arrhenius_fit(t[use], vals[use], errs[use] if weights_ok else None, kind=kind)
            except Exception as exc:  # e.g. 2 points without errors
                out[name] = {"status": f"skipped: {exc}"}
                continue
            ex = fit.extrapolate(t_ex)
            out[name] = {
                "status": "done",
                "temperatures_used_K": t[use].tolist(),
                "weighted": bool(weights_ok),
                **fit.to_dict(),
                "extrapolated": {k: _plain(v) for k, v in ex.items()},
            }
        write_json_atomic(ctx.dir / "arrhenius.json", out)
        d = out.get("D", {})
        return ctx.finish(
            ["arrhenius.json"],
            {"Ea_eV": d.get("Ea_eV"), "Ea_std_eV": d.get("Ea_std_eV"), "status": d.get("status")},
        )

    return execute(ctx, [], body)
