"""Run a screening workflow with Dask: plan, submit, follow, collect, tabulate, report.

:func:`run` (``ionraman.run`` / ``ionraman run CONFIG.toml``):

1. validate the configuration and build every structure in memory (:mod:`.config`); a config
   error stops here, before anything is written;
2. lock the run directory (one run at a time per directory) and record the invocation;
3. start the Dask cluster (:func:`make_client`): a ``LocalCluster`` sized to the machine by
   default, an existing scheduler, or Slurm jobs through dask-jobqueue;
4. submit the per-seed stages of every candidate × temperature × seed (:mod:`.stages`) as
   futures with their dependencies (structure → md → alpha → spectrum → lowfreq, md →
   transport); MD tasks of large cells first; a worker that dies is replaced and its task is
   started again (``cluster.retries`` times; MD resumes from its checkpoint);
5. follow progress in one display (:class:`~.tally.StageTally`, counted from the journal);
6. combine the seeds per candidate × temperature and fit Arrhenius laws per candidate (in this
   process), then the run-level ``results`` stage (tables, ranking, correlation, calibration;
   :mod:`.results`) and the ``report`` stage (:mod:`ionraman.report`).

Every stage is idempotent (inputs hashed, see :mod:`.stages`): running the same config again
reuses all completed stages, a killed run resumes where it stopped, and a failed task is listed
with its log without stopping the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ionraman._io import file_sha256, package_versions, write_json_atomic
from ionraman.errors import InputError, Interrupted
from ionraman.validate import check_output_dir
from ionraman.workflow.cluster import _quiet_dask_logs, make_client
from ionraman.workflow.combine import PointResult, run_arrhenius, run_point
from ionraman.workflow.config import WorkflowConfig, load_config
from ionraman.workflow.outcome import RunResult
from ionraman.workflow.plan import CandidateInfo, RunPlan, SeedTask, plan_run
from ionraman.workflow.preparation import PreparedCandidate, prepare
from ionraman.workflow.records import StageResult, journal_event, run_local_stage, sha256_json
from ionraman.workflow.signals import import_cluster_backends, stop_on_signals
from ionraman.workflow.stages import METRICS_VERSION, SEED_STAGES, SeedMetrics, run_seed_stage

__all__ = ["run"]

log = logging.getLogger("ionraman.workflow")

_DEPENDS = {
    "structure": (),
    "md": ("structure",),
    "alpha": ("md",),
    "spectrum": ("alpha",),
    "lowfreq": ("spectrum",),
    "transport": ("md",),
}
_ANALYSIS_PRIORITY = 10**15  # analysis stages run as soon as their MD is done


# ----------------------------------------------------------------------------------------------
# run directory
# ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / ".ionraman.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(
                f"{run_dir}: another ionraman run is using this run directory"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {platform.node()}\n".encode())
        yield
    finally:
        os.close(fd)


def _run_dir(cfg: WorkflowConfig, out: str | os.PathLike[str] | None) -> Path:
    if out is not None:
        return Path(out)
    if cfg.out:
        return Path(cfg.out).expanduser()
    return Path("out") / cfg.run_name()


def _run_dir_notes(run_dir: Path, cfg: WorkflowConfig) -> list[str]:
    """Say where the results go when that may surprise: outside the working directory, or into a
    run directory that holds results of a different configuration (its stages whose inputs
    change keep their old files as ``<stage>.superseded-<hash>``)."""
    notes = []
    where = run_dir.resolve()
    if not where.is_relative_to(Path.cwd().resolve()):
        notes.append(f"note: the run directory {where} is outside the working directory")
    previous = run_dir / "run.json"
    if previous.is_file():
        try:
            old = json.loads(previous.read_text()).get("config")
        except (OSError, ValueError):
            old = None
        if old is not None and old != json.loads(json.dumps(cfg.model_dump(mode="json"))):
            notes.append(
                f"note: {run_dir} held results of a different configuration; stages whose inputs "
                "changed keep the earlier files as <stage>.superseded-<hash> next to the new ones"
            )
    return notes


def _save_config(run_dir: Path, source: Any, cfg: WorkflowConfig) -> str:
    """Copy the config into the run directory without overwriting an earlier, different one."""
    if isinstance(source, str | os.PathLike) and Path(source).is_file():
        text = Path(source).read_text(encoding="utf-8")
        suffix = ".toml"
    else:
        text = json.dumps(cfg.model_dump(mode="json"), indent=2, sort_keys=True)
        suffix = ".json"
    sha = sha256_json(text)
    target = run_dir / f"config{suffix}"
    if target.exists() and target.read_text(encoding="utf-8") != text:
        target = run_dir / f"config.{sha[:12]}{suffix}"
    if not target.exists():
        target.write_text(text, encoding="utf-8")
    return target.name


def _ff_fingerprint(name: str) -> str | None:
    """SHA-256 of the force field's weights (or factory source file), None when there is none."""
    from ionraman.forcefields import get_force_field, list_force_fields

    if name in list_force_fields():
        p = get_force_field(name).weights_path()
        return file_sha256(p) if p is not None and p.is_file() else None
    _target, _, rest = name.partition(":")
    for candidate in (Path(rest), Path(name.rpartition(":")[0])):
        if str(candidate) and candidate.is_file():
            return file_sha256(candidate)
    return None


# ----------------------------------------------------------------------------------------------
# planning
# ----------------------------------------------------------------------------------------------
def _plan(
    cfg: WorkflowConfig, prepared: list[PreparedCandidate], run_dir: Path, run_id: str
) -> tuple[RunPlan, dict[tuple[str, str], float]]:
    """The run's tasks and the progress weight of every stage (MD cost ∝ atoms × steps)."""
    # each weights file hashed once, however many candidates share it
    ff_sha = {name: _ff_fingerprint(name) for name in {c.force_field for c in prepared}}
    models = {c.polarizability_model for c in prepared if c.polarizability_model}
    model_sha = {path: file_sha256(path) for path in models}
    plan = plan_run(
        cfg, prepared, run_dir, run_id, force_field_sha256=ff_sha, model_sha256=model_sha
    )
    weights: dict[tuple[str, str], float] = {}
    for point, seed_tasks in plan.points:
        for t in seed_tasks:
            md_cost = t.n_atoms * t.md.total_steps
            for stage in SEED_STAGES:
                weights[(t.task_id, stage)] = md_cost if stage == "md" else 0.02 * md_cost
        first = seed_tasks[0]
        weights[(point.task_id, "point")] = 0.01 * first.n_atoms * first.md.total_steps
    for cand, _points in plan.candidates:
        weights[(cand.candidate_dir, "arrhenius")] = 1.0
    weights[("run", "results")] = 1.0
    if cfg.report.enabled:
        weights[("run", "report")] = 1.0
    return plan, weights


def _submit(client: Any, tasks: Sequence[SeedTask]) -> dict[tuple[str, str], Any]:
    """Futures of the per-seed stages. The (instant) structure stage runs here first, so every
    MD task is ready at once and the scheduler can start the most expensive ones first."""
    futures: dict[tuple[str, str], Any] = {}
    # submitted most expensive first: idle workers take tasks as they arrive, so the order of
    # submission decides as much as the priority does
    for task in sorted(tasks, key=lambda t: t.cost, reverse=True):
        tid = task.task_id
        light = task.light()
        futures[(tid, "structure")] = run_seed_stage("structure", task)  # a plain result
        for stage in SEED_STAGES[1:]:
            args = [futures[(tid, dep)] for dep in _DEPENDS[stage]]
            futures[(tid, stage)] = client.submit(
                run_seed_stage,
                stage,
                light,
                *args,
                key=f"{stage}/{tid}/{task.run_id}",
                pure=False,
                priority=int(task.cost * 1000) if stage == "md" else _ANALYSIS_PRIORITY,
            )
    return futures


def _collect(
    futures: dict[tuple[str, str], Any], run_dir: Path, run_id: str
) -> dict[tuple[str, str], StageResult]:
    """Results of all futures; a future that raised (worker lost too often) becomes a failure."""
    out: dict[tuple[str, str], StageResult] = {}
    for (tid, stage), fut in futures.items():
        if isinstance(fut, StageResult):
            out[(tid, stage)] = fut
            continue
        try:
            out[(tid, stage)] = fut.result()
            continue
        except Exception as exc:
            upstream_bad = any(
                (tid, d) in out and out[(tid, d)].bad for d in _DEPENDS[stage]
            )
            status = "blocked" if upstream_bad else "failed"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            msg = f"{type(exc).__name__}: {first}"
            if "KilledWorker" in type(exc).__name__:
                msg = f"the worker running it died too often ({msg})"
        log_path = run_dir / "tasks" / tid / "task.log"
        journal_event(
            run_dir, status, task=tid, stage=stage, run_id=run_id, error=msg, log=str(log_path)
        )
        out[(tid, stage)] = StageResult(
            task=tid,
            stage=stage,
            status=status,
            dir=run_dir / "tasks" / tid / stage,
            log=str(log_path),
            error=msg if status == "failed" else f"blocked: {msg}",
        )
    return out


def _wait(futures: dict[tuple[str, str], Any], progress: Any) -> None:
    from distributed import wait

    pending = {f for f in futures.values() if not isinstance(f, StageResult)}
    while pending:
        try:
            _done, pending = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
        except TimeoutError:
            pass
        except Exception:  # distributed raises its own TimeoutError subclass in some versions
            pending = {f for f in pending if not f.done()}
        if progress is not None:
            progress.poll()


# ----------------------------------------------------------------------------------------------
# run-level stages
# ----------------------------------------------------------------------------------------------
def _candidate_info(c: PreparedCandidate, plan: RunPlan) -> CandidateInfo:
    from ionraman.polarizability.systematic import load_validation

    task = next(t for t in plan.seeds if t.candidate == c.label)
    model_sha = task.alpha.model_sha256 or ""
    bias, basis = None, "no validation of the α model against DFT on record"
    if c.polarizability_model:
        record = load_validation(c.polarizability_model, model_sha)
        if record is not None:
            bias, basis = record.lowfreq_bias(c.config.structure)
    return CandidateInfo(
        candidate=c.label,
        dirname=c.dirname,
        structure=c.config.structure,
        composition=c.config.composition or c.label,
        n_atoms=c.n_atoms,
        n_seeds=len(c.seeds),
        elements=c.elements,
        force_field=c.force_field,
        force_field_note=c.force_field_note,
        force_field_sha256=task.force_field_sha256,
        polarizability_model=Path(c.polarizability_model).name if c.polarizability_model else "",
        polarizability_model_path=c.polarizability_model or "",
        polarizability_model_sha256=model_sha,
        polarizability_note=c.polarizability_note,
        lowfreq_fraction_sys_rel=bias,
        lowfreq_fraction_sys_basis=basis if c.polarizability_model else "",
        temperatures_K=c.temperatures_K,
    )


def _seed_rows(
    seed_results: dict[tuple[str, str], StageResult], tasks: Sequence[SeedTask]
) -> list[dict]:
    rows = []
    for task in tasks:
        tid = task.task_id
        tr, lf = seed_results[(tid, "transport")], seed_results[(tid, "lowfreq")]
        md, al = seed_results[(tid, "md")], seed_results[(tid, "alpha")]
        row: dict[str, Any] = {
            "candidate": task.candidate,
            "temperature_K": task.temperature_K,
            "seed": task.seed,
            "md_status": md.status,
            "transport_status": tr.status,
            "lowfreq_status": lf.status,
            "n_frames": md.summary.get("n_frames"),
        }
        ts = tr.summary
        for key in (
            "D_cm2_s",
            "D_std_cm2_s",
            "sigma_S_cm",
            "sigma_std_S_cm",
            "D_sigma_cm2_s",
            "haven_ratio",
            "fraction_in_flight",
            "mean_residence_time_ps",
            "hop_rate_per_ps_per_ion",
            "alpha2_max",
            "mechanism",
        ):
            row[key] = ts.get(key)
        ls = SeedMetrics.from_dict(lf.summary) if lf.done else SeedMetrics()
        for key in (
            "lowfreq_fraction",
            "lowfreq_fraction_stderr",
            "band_ratio",
            "band_ratio_stderr",
            "central_peak_tau_ps",
        ):
            row[key] = getattr(ls, key)
        # learned α models: frames flagged as outside the training data, atoms outside its domain
        als = al.summary
        row["alpha_flagged_fraction"] = als.get("flagged_fraction")
        row["alpha_outside_atom_fraction"] = als.get("outside_fraction_mean")
        if lf.status == "skipped":
            row["lowfreq_status"] = lf.summary.get("reason", "skipped")
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in df.columns:
        if col not in ("candidate", "mechanism", "md_status", "transport_status", "lowfreq_status"):
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df.to_dict("records")


def _point(res: StageResult) -> PointResult:
    """The :class:`PointResult` of a completed point stage."""
    return PointResult.load(res.dir / "point.json")


def _results_stage(
    cfg: WorkflowConfig,
    run_dir: Path,
    run_id: str,
    point_results: list[StageResult],
    arr_results: dict[str, StageResult],
    seed_rows: list[dict[str, Any]],
    cands: list[CandidateInfo],
) -> StageResult:
    from ionraman import __version__
    from ionraman.workflow import results as R

    calib_path = cfg.calibration_path()
    inputs = {
        "points": sorted(r.digest for r in point_results if r.digest),
        "arrhenius": sorted(r.digest for r in arr_results.values() if r.digest),
        "seed_rows": sha256_json(seed_rows),
        "candidates": [c.to_dict() for c in cands],
        "ranking": cfg.ranking.model_dump(mode="json"),
        "correlation": cfg.correlation.model_dump(mode="json"),
        "calibration": cfg.calibration.model_dump(mode="json"),
        "calibration_sha256": file_sha256(calib_path) if calib_path else None,
        "run_length": [cfg.analysis.target_relative_error, cfg.analysis.resolve_sigmas],
        "metrics_version": METRICS_VERSION,
        "version": __version__,
    }

    def body(ctx: Any) -> dict[str, Any]:
        from ionraman.screening.calibration import calibrate, read_measurements
        from ionraman.screening.comparison import compare_metrics
        from ionraman.screening.correlation import correlate

        points = [_point(r) for r in point_results if r.done]
        arrh = {
            name: json.loads((r.dir / "arrhenius.json").read_text())
            for name, r in arr_results.items()
            if r.done
        }
        settings = {
            "production_ps": cfg.md.production,
            "equilibration_ps": cfg.md.equilibration,
            "timestep_fs": cfg.md.timestep_fs,
            "window_cm1": cfg.analysis.window_cm1,
            "channel": cfg.analysis.channel,
            "variant": cfg.analysis.variant,
            "ionraman_version": __version__,
            "target_relative_error": cfg.analysis.target_relative_error,
        }
        results, runs = R.build_tables(points, arrh, seed_rows, cands, settings)
        metrics = R.metric_table(results, points)
        comparison = compare_metrics(
            metrics,
            n_sigma=cfg.analysis.resolve_sigmas,
            n_bootstrap=cfg.correlation.n_bootstrap,
            confidence=cfg.correlation.confidence,
            seed=cfg.correlation.seed,
        )
        # correlation of the metric with log10 D over candidates × temperatures
        metric = cfg.correlation.metric
        labels = [
            f"{c} @ {t:g} K"
            for c, t in zip(results["candidate"], results["temperature_K"], strict=True)
        ]
        corr = correlate(
            results[metric].to_numpy(float),
            results["log10_D"].to_numpy(float),
            n_bootstrap=cfg.correlation.n_bootstrap,
            confidence=cfg.correlation.confidence,
            seed=cfg.correlation.seed,
            labels=labels,
            x_name=metric,
            y_name="log10 D* (cm2/s)",
        )
        corr_d = {**corr.to_dict(), "summary": corr.summary()}
        # calibration
        calib = None
        calib_d = None
        if calib_path is not None:
            meas = read_measurements(calib_path)
            cm = cfg.calibration.metric
            table = results[["candidate", "temperature_K"]].copy()
            table[cm] = results[cm] if cm != "log10_D" else results["log10_D"]
            calib = calibrate(
                table,
                meas,
                metric=cm,
                fast_sigma_S_cm=cfg.calibration.fast_sigma_S_cm,
                fast_D_cm2_s=cfg.calibration.fast_D_cm2_s,
                composition_of={c.candidate: c.composition for c in cands},
            )
            calib_d = {**calib.to_dict(), "summary": calib.summary(), "data": str(calib_path)}
        cand_table, ranking = R.rank_candidates(
            results,
            arrh,
            cands,
            by=cfg.ranking.by,
            temperature_k=cfg.ranking.temperature_K,
            calibration=calib,
            calibration_metric=cfg.calibration.metric,
            resolve_sigmas=cfg.analysis.resolve_sigmas,
        )
        out_dir = ctx.dir
        files = []
        files += R.write_table(results, out_dir / "results")
        files += R.write_table(cand_table, out_dir / "candidates")
        files += R.write_table(runs, out_dir / "runs")
        files += R.write_table(metrics, out_dir / "metrics")
        files += R.write_table(comparison, out_dir / "metric_comparison")
        write_json_atomic(out_dir / "correlation.json", corr_d)
        files.append("correlation.json")
        if calib_d is not None:
            write_json_atomic(out_dir / "calibration.json", calib_d)
            files.append("calibration.json")
        write_json_atomic(out_dir / "ranking.json", ranking)
        files.append("ranking.json")
        return ctx.finish(
            files,
            {
                "ranking": ranking,
                "correlation": corr_d.get("summary"),
                "calibration": None if calib_d is None else calib_d["summary"],
                "n_rows": len(results),
            },
        )

    return run_local_stage(run_dir, "results", inputs, body, run_id)


def _report_stage(
    cfg: WorkflowConfig,
    run_dir: Path,
    run_id: str,
    results_res: StageResult,
    point_results: list[StageResult],
    seed_results: dict[tuple[str, str], StageResult],
    cands: list[CandidateInfo],
    failures: list[dict[str, Any]],
) -> StageResult:
    from ionraman import __version__

    measured = [
        {**m.model_dump(mode="json"), "sha256": file_sha256(cfg.resolve(m.path))}
        for m in cfg.report.measured_spectra
    ]
    inputs = {
        "results": results_res.digest,
        "points": sorted(r.digest for r in point_results if r.digest),
        "transport": sorted(
            r.digest for (_t, s), r in seed_results.items() if s == "transport" and r.digest
        ),
        "report": cfg.report.model_dump(mode="json"),
        "measured": measured,
        # sorted: tasks of a re-run fail again in whatever order the workers finish them
        "failures": sorted(
            (f["task"], f["stage"], f["status"], f.get("error") or "") for f in failures
        ),
        "version": __version__,
        "config": cfg.model_dump(mode="json", exclude={"base_dir", "out", "cluster"}),
    }

    def body(ctx: Any) -> dict[str, Any]:
        from ionraman.report import build_report

        files = build_report(
            run_dir,
            ctx.dir,
            cfg=cfg,
            candidates=cands,
            point_dirs={
                (p.candidate, p.temperature_K): r.dir
                for r in point_results
                if r.done
                for p in [_point(r)]
            },
            transport_dirs={
                k: r.dir for k, r in seed_results.items() if k[1] == "transport" and r.done
            },
            failures=failures,
        )
        return ctx.finish(files, {"html": "report.html", "n_files": len(files)})

    return run_local_stage(run_dir, "report", inputs, body, run_id)


# ----------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _journal_interrupt(run_dir: Path, run_id: str, kind: str) -> Iterator[None]:
    """Record a stop by a signal in the run journal (the cluster was closed on the way out)."""
    try:
        yield
    except Interrupted as exc:
        exc.note = exc.note or (
            "Slurm jobs cancelled" if kind == "slurm" else "the run's Dask workers stopped"
        )
        journal_event(run_dir, "run-interrupted", run_id=run_id, signal=exc.name)
        raise


def run(
    config: str | os.PathLike[str] | Mapping[str, Any] | WorkflowConfig,
    out: str | os.PathLike[str] | None = None,
    *,
    quiet: bool = False,
    client: Any = None,
) -> RunResult:
    """Run (or resume) a screening workflow.

    Parameters
    ----------
    config
        TOML file, dict or :class:`~ionraman.workflow.config.WorkflowConfig`.
    out
        Run directory (default: ``out`` of the config, else ``out/<config name>``).
    quiet
        No progress display.
    client
        An existing ``distributed.Client`` to use instead of ``[cluster]``.

    Returns
    -------
    RunResult

    Raises
    ------
    InputError
        Config errors (one line naming the field), an unknown candidate, a structure file that
        does not parse, a run directory in use. Nothing is written in these cases.
    """
    t_start = time.time()
    cfg = load_config(config)
    prepared = prepare(cfg)
    run_dir = check_output_dir(_run_dir(cfg, out), "run directory")
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    notes = _run_dir_notes(run_dir, cfg)
    import_cluster_backends(cfg.cluster.kind)
    with stop_on_signals(), _locked(run_dir), _journal_interrupt(run_dir, run_id, cfg.cluster.kind):
        config_name = _save_config(run_dir, config, cfg)
        plan, weights = _plan(cfg, prepared, run_dir, run_id)
        cands = [_candidate_info(c, plan) for c in prepared]
        write_json_atomic(
            run_dir / "run.json",
            {
                "run_id": run_id,
                "config_file": config_name,
                "config": cfg.model_dump(mode="json"),
                "candidates": [c.to_dict() for c in cands],
                "n_tasks": len(plan.seeds),
                "packages": package_versions(("dask", "distributed", "dask_jobqueue")),
                "host": platform.node(),
                "argv": sys.argv,
                "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
        journal_event(run_dir, "run-start", run_id=run_id, n_tasks=len(plan.seeds))
        from ionraman.workflow.tally import StageTally

        with StageTally(
            run_dir, run_id, weights, quiet=quiet, description=cfg.run_name()
        ) as progress:
            with _quiet_dask_logs():
                if client is not None:
                    futures = _submit(client, plan.seeds)
                    _wait(futures, progress)
                    seed_results = _collect(futures, run_dir, run_id)
                else:
                    with make_client(cfg) as cl:
                        futures = _submit(cl, plan.seeds)
                        _wait(futures, progress)
                        seed_results = _collect(futures, run_dir, run_id)
            progress.poll()
            # combine seeds per candidate × temperature, then Arrhenius per candidate
            by_point: dict[str, StageResult] = {}
            for point, seed_tasks in plan.points:
                tids = [t.task_id for t in seed_tasks]
                by_point[point.task_id] = run_point(
                    point,
                    [seed_results[(x, "alpha")] for x in tids],
                    [seed_results[(x, "lowfreq")] for x in tids],
                    [seed_results[(x, "transport")] for x in tids],
                )
                progress.poll()
            point_results = list(by_point.values())
            arr_results: dict[str, StageResult] = {}
            for cand, points in plan.candidates:
                arr_results[cand.candidate] = run_arrhenius(
                    cand, [by_point[p.task_id] for p in points]
                )
                progress.poll()
            seed_rows = _seed_rows(seed_results, plan.seeds)
            results_res = _results_stage(
                cfg, run_dir, run_id, point_results, arr_results, seed_rows, cands
            )
            progress.poll()
            failures = [
                r.failure()
                for r in [
                    *seed_results.values(),
                    *point_results,
                    *arr_results.values(),
                    results_res,
                ]
                if r.bad
            ]
            report_path = None
            if cfg.report.enabled and results_res.done:
                rep = _report_stage(
                    cfg,
                    run_dir,
                    run_id,
                    results_res,
                    point_results,
                    seed_results,
                    cands,
                    failures,
                )
                if rep.done:
                    report_path = rep.dir / "report.html"
                else:
                    failures.append(rep.failure())
            progress.poll()
            counts = dict(progress.counts)
        # outcome
        from ionraman.workflow.results import read_results

        tables = read_results(run_dir) if results_res.done else {}
        res_dir = run_dir / "results"

        def _json(name: str) -> dict[str, Any] | None:
            p = res_dir / name
            return json.loads(p.read_text()) if p.is_file() else None

        ranking = _json("ranking.json") or {}
        result = RunResult(
            run_dir=run_dir,
            results=tables.get("results", pd.DataFrame()),
            candidates=tables.get("candidates", pd.DataFrame()),
            runs=tables.get("runs", pd.DataFrame()),
            ranking=ranking,
            correlation=_json("correlation.json"),
            calibration=_json("calibration.json") if cfg.calibration.data else None,
            report=report_path,
            failed=failures,
            stages=counts,
            seconds=time.time() - t_start,
            notes=notes,
        )
        write_json_atomic(
            run_dir / "status.json",
            {
                "run_id": run_id,
                "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                "seconds": round(result.seconds, 1),
                "stages": counts,
                "failed": failures,
                "report": str(report_path) if report_path else None,
                "ok": result.ok,
            },
        )
        journal_event(
            run_dir, "run-end", run_id=run_id, ok=result.ok, seconds=round(result.seconds, 1)
        )
    return result
