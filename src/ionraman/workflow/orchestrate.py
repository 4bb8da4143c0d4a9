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
5. follow progress in one display (:class:`~.progress.WorkflowProgress`);
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
import math
import os
import platform
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ionraman._io import file_sha256, package_versions, write_json_atomic
from ionraman.errors import InputError, Interrupted
from ionraman.validate import check_output_dir
from ionraman.workflow.cluster import _quiet_dask_logs, make_client
from ionraman.workflow.config import (
    PreparedCandidate,
    WorkflowConfig,
    load_config,
    prepare,
)
from ionraman.workflow.records import journal_event, run_local_stage, sha256_json, task_id
from ionraman.workflow.signals import import_cluster_backends, stop_on_signals
from ionraman.workflow.stages import (
    METRICS_VERSION,
    SEED_STAGES,
    run_arrhenius,
    run_point,
    run_seed_stage,
)

__all__ = [
    "RunResult",
    "run",
]

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
_EXTRAPOLATE_K = 300.0


# ----------------------------------------------------------------------------------------------
# result object
# ----------------------------------------------------------------------------------------------
FRAMEWORK_WARN = 0.9
"""Warn when fewer MD frames than this keep the SbS4 framework intact (no S–S bond)."""
ALPHA_FLAG_WARN = 0.1
"""Warn when more α frames than this are flagged outside the learned α model's training data."""


@dataclass
class RunResult:
    """What :func:`run` produced.

    Attributes
    ----------
    run_dir
        The run directory.
    results, candidates, runs
        The tables (see :mod:`ionraman.workflow.results`).
    ranking
        ``ranked_by``, ``temperature_K``, ``note``.
    correlation, calibration
        Their JSON content (None when not computed).
    report
        Path of ``report.html`` (None when disabled or failed).
    failed
        One dict per failed or blocked stage: ``task``, ``stage``, ``status``, ``error``, ``log``.
    stages
        Counts of stage outcomes in this invocation (``done``, ``reused``, ``failed`` ...).
    seconds
        Wall time of this invocation.
    notes
        Lines about the run directory itself (outside the working directory; results of an
        earlier, different configuration kept aside), printed first by :meth:`summary_text`.
    """

    run_dir: Path
    results: pd.DataFrame
    candidates: pd.DataFrame
    runs: pd.DataFrame
    ranking: dict[str, Any]
    correlation: dict[str, Any] | None
    calibration: dict[str, Any] | None
    report: Path | None
    failed: list[dict[str, Any]] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def ranking_text(self) -> str:
        """The ranking as a plain-text table."""
        t = self.candidates
        if t.empty:
            return "no candidates ranked"
        by = self.ranking.get("ranked_by", "?")
        tref = self.ranking.get("temperature_K")
        at = (
            f"at {tref:g} K"
            if tref is not None and math.isfinite(tref)
            else "(no temperature with results: every run at it failed; see the failed stages)"
        )
        lines = [
            f"ranking by {by} {at}"
            + (f" ({self.ranking['note']})" if self.ranking.get("note") else "")
        ]
        header = (
            f"{'rank':>4}  {'candidate':<22} {by:>18}  {'D* (cm2/s)':>18}  {'Ea (eV)':>13}  "
            "mechanism"
        )
        lines.append(header)
        for _, r in t.iterrows():
            rank = "-" if pd.isna(r["rank"]) else f"{int(r['rank'])}"
            val = _pm(r["rank_value"], r["rank_value_err"], ".3g")
            d = _pm(r["D_cm2_s"], r["D_std_cm2_s"], ".2e")
            if r.get("diffusive") is False:  # MSD plateau in the fit window
                d = "not diffusive"
            ea = _pm(r["Ea_eV"], r["Ea_std_eV"], ".2f")
            cls = f" [{r['calibrated_class']}]" if r.get("calibrated_class") else ""
            lines.append(
                f"{rank:>4}  {r['candidate']:<22} {val:>18}  {d:>18}  {ea:>13}  "
                f"{'-' if pd.isna(r['mechanism']) else r['mechanism'] or '-'}{cls}"
            )
        sep = self.ranking.get("separation")
        if sep and math.isfinite(sep["n_sigma"]):
            need = sep["production_ps_to_resolve"]
            rule = (
                f"; {sep['resolve_sigmas']:g} sigma needs {need:.3g} ps per point "
                f"(this run: {sep['production_ps']:.3g} ps)"
                if math.isfinite(need)
                else ""
            )
            lines.append(
                f"separation: {sep['top']} - {sep['bottom']} = {sep['difference']:.3g} "
                f"({sep['n_sigma']:.1f} combined standard errors){rule}"
            )
        return "\n".join(lines)

    def activation_warnings(self) -> list[str]:
        """One line per candidate whose Arrhenius Eₐ is not resolved (Eₐ − 2σ ≤ 0): D does not
        rise significantly with T in these runs (too short, or too narrow a T range)."""
        out = []
        if self.candidates.empty or "Ea_eV" not in self.candidates:
            return out
        for _, r in self.candidates.iterrows():
            ea, err = float(r["Ea_eV"]), float(r["Ea_std_eV"])
            if math.isfinite(ea) and math.isfinite(err) and ea - 2.0 * err <= 0.0:
                out.append(
                    f"warning: {r['candidate']}: Ea = {ea:.2f} ± {err:.2f} eV is not resolved "
                    "(D does not rise significantly with T in these runs: longer MD, more seeds "
                    "or a wider temperature range)"
                )
        return out

    def systematic_notes(self) -> list[str]:
        """One line with the α model's systematic error in the fraction per candidate (model /
        DFT − 1 from the model's validation record), beside the statistical errors above."""
        if self.results.empty or "lowfreq_fraction_sys_rel" not in self.results:
            return []
        rows = self.results.drop_duplicates("candidate")
        rows = rows[rows["lowfreq_fraction_sys_rel"].notna()]
        if rows.empty:
            return []
        items = [
            f"{r['candidate']} {100 * r['lowfreq_fraction_sys_rel']:+.0f} %"
            + ("" if r["lowfreq_fraction_sys_basis"].startswith("validated") else " (phase not "
               "validated: worst validated phase)")
            for _, r in rows.iterrows()
        ]
        return [
            "note: systematic error of lowfreq_fraction from the α model (model / DFT - 1 on "
            "DFT-labelled MD frames, not in the ± above): " + ", ".join(items)
        ]

    def diffusion_notes(self) -> list[str]:
        """One line per candidate with temperatures where the MSD is not diffusive in the fit
        window (a plateau: the ions rattle in their cages; D* is not reported there and those
        temperatures stay out of the Arrhenius fit and the correlation)."""
        if self.results.empty or "diffusive" not in self.results:
            return []
        out = []
        for name, sub in self.results.groupby("candidate", sort=False):
            temps = sub.loc[sub["diffusive"].map(lambda v: v is False), "temperature_K"]
            if len(temps):
                out.append(
                    f"note: {name}: MSD not diffusive at {', '.join(f'{t:g}' for t in temps)} K "
                    "in these runs (no resolved linear growth): D* not reported there; longer MD "
                    "or higher T"
                )
        return out

    def summary_text(self) -> str:
        """Ranking, correlation, failures and the report path (what ``ionraman run`` prints)."""
        parts = [*self.notes, self.ranking_text()]
        if self.correlation is not None:
            parts.append(self.correlation.get("summary", ""))
        if self.calibration is not None:
            parts.append(self.calibration.get("summary", ""))
        if "framework_intact_fraction" in self.results:
            bad = self.results[self.results["framework_intact_fraction"] < FRAMEWORK_WARN]
            for _, r in bad.iterrows():
                parts.append(
                    f"warning: {r['candidate']} at {r['temperature_K']:g} K: only "
                    f"{100 * r['framework_intact_fraction']:.0f} % of the MD frames keep every "
                    "SbS4 intact without S–S bonds (the force field decomposes the framework)"
                )
        if "alpha_flagged_fraction" in self.results:
            flagged = self.results[self.results["alpha_flagged_fraction"] > ALPHA_FLAG_WARN]
            for name, sub in flagged.groupby("candidate", sort=False):
                where = ", ".join(
                    f"{t:g} K ({100 * f:.0f} %)"
                    for t, f in zip(
                        sub["temperature_K"], sub["alpha_flagged_fraction"], strict=True
                    )
                )
                parts.append(
                    f"warning: {name}: α frames flagged outside the polarizability model's "
                    f"training data at {where} (those spectra rest on extrapolated α; label such "
                    "structures and refit)" + _most_outside(sub)
                )
        parts += self.systematic_notes()
        parts += self.diffusion_notes()
        parts += self.activation_warnings()
        if self.failed:
            parts.append(f"{len(self.failed)} stage(s) failed or blocked:")
            for f in self.failed:
                if f["status"] == "failed":
                    parts.append(f"  {f['task']} {f['stage']}: {f['error']} (log: {f['log']})")
            n_blocked = sum(f["status"] == "blocked" for f in self.failed)
            if n_blocked:
                parts.append(f"  {n_blocked} dependent stage(s) blocked")
        parts.append(f"tables: {self.run_dir / 'results'}")
        parts.append(f"report: {self.report}" if self.report else "report: not written")
        return "\n".join(p for p in parts if p)


def _most_outside(rows: pd.DataFrame) -> str:
    """``"; most outside the domain: Sb atoms (23–30 %)"`` for flagged results rows of one
    candidate: the element named most often and the range of its fractions, or ``""``."""
    if "alpha_outside_most_species" not in rows:
        return ""
    named = rows[rows["alpha_outside_most_species"].map(lambda s: isinstance(s, str) and s != "")]
    if named.empty:
        return ""
    species = named["alpha_outside_most_species"].mode().iloc[0]
    f = 100 * named.loc[named["alpha_outside_most_species"] == species,
                        "alpha_outside_most_species_fraction"].dropna()
    if f.empty:
        return ""
    lo, hi = f"{f.min():.0f}", f"{f.max():.0f}"
    span = f"{lo} %" if lo == hi else f"{lo}–{hi} %"
    return f"; most outside the domain: {species} atoms ({span})"


def _pm(v: Any, e: Any, fmt: str) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(v):
        return "-"
    s = format(v, fmt)
    try:
        e = float(e)
    except (TypeError, ValueError):
        e = math.nan
    return f"{s} ± {format(e, fmt)}" if math.isfinite(e) else s


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
def _specs(
    cfg: WorkflowConfig, prepared: list[PreparedCandidate], run_dir: Path, run_id: str
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], float]]:
    ff_sha: dict[str, str | None] = {}
    model_sha: dict[str, str | None] = {}
    specs = []
    weights: dict[tuple[str, str], float] = {}
    md = cfg.md.model_dump(mode="json")
    analysis = cfg.analysis.model_dump(mode="json")
    pol = cfg.polarizability.model_dump(mode="json")
    steps = (cfg.md.production + cfg.md.equilibration) * 1000.0 / cfg.md.timestep_fs
    for c in prepared:
        if c.force_field not in ff_sha:
            ff_sha[c.force_field] = _ff_fingerprint(c.force_field)
        if c.polarizability_model and c.polarizability_model not in model_sha:
            model_sha[c.polarizability_model] = file_sha256(c.polarizability_model)
        for t in c.temperatures_K:
            for s in c.seeds:
                spec = {
                    "run_dir": str(run_dir.resolve()),
                    "run_id": run_id,
                    "candidate": c.label,
                    "candidate_dir": c.dirname,
                    "temperature_K": float(t),
                    "seed": int(s),
                    "structure_source": c.structure_source,
                    "n_atoms": len(c.structures[s]),
                    "md": md,
                    "analysis": analysis,
                    "polarizability": pol,
                    "force_field": c.force_field,
                    "force_field_sha256": ff_sha[c.force_field],
                    "polarizability_model": c.polarizability_model,
                    "polarizability_model_sha256": model_sha.get(c.polarizability_model or ""),
                    "polarizability_note": c.polarizability_note,
                    "atoms": c.structures[s],
                }
                specs.append(spec)
                tid = task_id(c.dirname, t, s)
                md_cost = len(c.structures[s]) * steps
                for stage in SEED_STAGES:
                    weights[(tid, stage)] = md_cost if stage == "md" else 0.02 * md_cost
            weights[(task_id(c.dirname, t), "point")] = 0.01 * len(c.structures[c.seeds[0]]) * steps
        weights[(c.dirname, "arrhenius")] = 1.0
    weights[("run", "results")] = 1.0
    if cfg.report.enabled:
        weights[("run", "report")] = 1.0
    return specs, weights


def _submit(client: Any, specs: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """Futures of the per-seed stages. The (instant) structure stage runs here first, so every
    MD task is ready at once and the scheduler can start the most expensive ones first."""
    futures: dict[tuple[str, str], Any] = {}

    def cost(spec: dict[str, Any]) -> float:
        return spec["n_atoms"] * (spec["md"]["production"] + spec["md"]["equilibration"])

    # submitted most expensive first: idle workers take tasks as they arrive, so the order of
    # submission decides as much as the priority does
    for spec in sorted(specs, key=cost, reverse=True):
        tid = task_id(spec["candidate_dir"], spec["temperature_K"], spec["seed"])
        light = {k: v for k, v in spec.items() if k != "atoms"}
        structure = run_seed_stage("structure", spec)
        futures[(tid, "structure")] = structure  # a plain result, passed by value
        for stage in SEED_STAGES[1:]:
            args = [futures[(tid, dep)] for dep in _DEPENDS[stage]]
            futures[(tid, stage)] = client.submit(
                run_seed_stage,
                stage,
                light,
                *args,
                key=f"{stage}/{tid}/{spec['run_id']}",
                pure=False,
                priority=int(cost(spec) * 1000) if stage == "md" else _ANALYSIS_PRIORITY,
            )
    return futures


def _collect(
    futures: dict[tuple[str, str], Any], run_dir: Path, run_id: str
) -> dict[tuple[str, str], dict[str, Any]]:
    """Results of all futures; a future that raised (worker lost too often) becomes a failure."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for (tid, stage), fut in futures.items():
        deps = _DEPENDS[stage]
        if isinstance(fut, dict):
            out[(tid, stage)] = fut
            continue
        try:
            out[(tid, stage)] = fut.result()
            continue
        except Exception as exc:
            upstream_bad = any(
                out.get((tid, d), {}).get("status") in ("failed", "blocked") for d in deps
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
        out[(tid, stage)] = {
            "task": tid,
            "stage": stage,
            "status": status,
            "digest": None,
            "dir": str(run_dir / "tasks" / tid / stage),
            "summary": {},
            "log": str(log_path),
            "error": msg if status == "failed" else f"blocked: {msg}",
        }
    return out


def _wait(futures: dict[tuple[str, str], Any], progress: Any) -> None:
    from distributed import wait

    pending = {f for f in futures.values() if not isinstance(f, dict)}
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
def _candidate_info(c: PreparedCandidate, specs: list[dict[str, Any]]) -> dict[str, Any]:
    from ionraman.polarizability.systematic import load_validation

    spec = next(s for s in specs if s["candidate"] == c.label)
    bias, basis = None, "no validation of the α model against DFT on record"
    if c.polarizability_model:
        record = load_validation(c.polarizability_model, spec["polarizability_model_sha256"] or "")
        if record is not None:
            bias, basis = record.lowfreq_bias(c.config.structure)
    return {
        "candidate": c.label,
        "structure": c.config.structure,
        "composition": c.config.composition or c.label,
        "n_atoms": c.n_atoms,
        "n_seeds": len(c.seeds),
        "elements": c.elements,
        "force_field": c.force_field,
        "force_field_note": c.force_field_note,
        "force_field_sha256": spec["force_field_sha256"],
        "polarizability_model": Path(c.polarizability_model).name if c.polarizability_model else "",
        "polarizability_model_path": c.polarizability_model or "",
        "polarizability_model_sha256": spec["polarizability_model_sha256"] or "",
        "polarizability_note": c.polarizability_note,
        "lowfreq_fraction_sys_rel": bias,
        "lowfreq_fraction_sys_basis": basis if c.polarizability_model else "",
        "temperatures_K": c.temperatures_K,
    }


def _seed_rows(seed_results: dict[tuple[str, str], dict[str, Any]], specs) -> list[dict]:
    rows = []
    for spec in specs:
        tid = task_id(spec["candidate_dir"], spec["temperature_K"], spec["seed"])
        tr = seed_results.get((tid, "transport"), {})
        lf = seed_results.get((tid, "lowfreq"), {})
        md = seed_results.get((tid, "md"), {})
        al = seed_results.get((tid, "alpha"), {})
        row: dict[str, Any] = {
            "candidate": spec["candidate"],
            "temperature_K": spec["temperature_K"],
            "seed": spec["seed"],
            "md_status": md.get("status"),
            "transport_status": tr.get("status"),
            "lowfreq_status": lf.get("status"),
            "n_frames": (md.get("summary") or {}).get("n_frames"),
        }
        ts = tr.get("summary") or {}
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
        ls = lf.get("summary") or {}
        for key in (
            "lowfreq_fraction",
            "lowfreq_fraction_stderr",
            "band_ratio",
            "band_ratio_stderr",
            "central_peak_tau_ps",
        ):
            row[key] = ls.get(key)
        # learned α models: frames flagged as outside the training data, atoms outside its domain
        als = al.get("summary") or {}
        row["alpha_flagged_fraction"] = als.get("flagged_fraction")
        row["alpha_outside_atom_fraction"] = als.get("outside_fraction_mean")
        if lf.get("status") == "skipped":
            row["lowfreq_status"] = ls.get("reason", "skipped")
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in df.columns:
        if col not in ("candidate", "mechanism", "md_status", "transport_status", "lowfreq_status"):
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df.to_dict("records")


def _results_stage(
    cfg: WorkflowConfig,
    run_dir: Path,
    run_id: str,
    point_results: list[dict[str, Any]],
    arr_results: dict[str, dict[str, Any]],
    seed_rows: list[dict[str, Any]],
    cands: list[dict[str, Any]],
) -> dict[str, Any]:
    from ionraman import __version__
    from ionraman.workflow import results as R

    calib_path = cfg.calibration_path()
    inputs = {
        "points": sorted(r["digest"] for r in point_results if r.get("digest")),
        "arrhenius": sorted(r["digest"] for r in arr_results.values() if r.get("digest")),
        "seed_rows": sha256_json(seed_rows),
        "candidates": cands,
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

        points = [
            json.loads((Path(r["dir"]) / "point.json").read_text())
            for r in point_results
            if r.get("status") == "done"
        ]
        arrh = {
            name: json.loads((Path(r["dir"]) / "arrhenius.json").read_text())
            for name, r in arr_results.items()
            if r.get("status") == "done"
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
                composition_of={c["candidate"]: c["composition"] for c in cands},
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
    results_res: dict[str, Any],
    point_results: list[dict[str, Any]],
    seed_results: dict[tuple[str, str], dict[str, Any]],
    cands: list[dict[str, Any]],
    failures: list[dict[str, Any]],
) -> dict[str, Any]:
    from ionraman import __version__

    measured = [
        {**m.model_dump(mode="json"), "sha256": file_sha256(cfg.resolve(m.path))}
        for m in cfg.report.measured_spectra
    ]
    inputs = {
        "results": results_res.get("digest"),
        "points": sorted(r["digest"] for r in point_results if r.get("digest")),
        "transport": sorted(
            r["digest"]
            for (t, s), r in seed_results.items()
            if s == "transport" and r.get("digest")
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
                (
                    json.loads((Path(r["dir"]) / "point.json").read_text())["candidate"],
                    json.loads((Path(r["dir"]) / "point.json").read_text())["temperature_K"],
                ): Path(r["dir"])
                for r in point_results
                if r.get("status") == "done"
            },
            transport_dirs={
                k: Path(r["dir"])
                for k, r in seed_results.items()
                if k[1] == "transport" and r.get("status") == "done"
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
        specs, weights = _specs(cfg, prepared, run_dir, run_id)
        cands = [_candidate_info(c, specs) for c in prepared]
        write_json_atomic(
            run_dir / "run.json",
            {
                "run_id": run_id,
                "config_file": config_name,
                "config": cfg.model_dump(mode="json"),
                "candidates": cands,
                "n_tasks": len(specs),
                "packages": package_versions(("dask", "distributed", "dask_jobqueue")),
                "host": platform.node(),
                "argv": sys.argv,
                "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
        journal_event(run_dir, "run-start", run_id=run_id, n_tasks=len(specs))
        from ionraman.workflow.progress import WorkflowProgress

        with WorkflowProgress(
            run_dir, run_id, weights, quiet=quiet, description=cfg.run_name()
        ) as progress:
            with _quiet_dask_logs():
                if client is not None:
                    futures = _submit(client, specs)
                    _wait(futures, progress)
                    seed_results = _collect(futures, run_dir, run_id)
                else:
                    with make_client(cfg) as cl:
                        futures = _submit(cl, specs)
                        _wait(futures, progress)
                        seed_results = _collect(futures, run_dir, run_id)
            progress.poll()
            # combine seeds per candidate × temperature, then Arrhenius per candidate
            point_results: list[dict[str, Any]] = []
            arr_results: dict[str, dict[str, Any]] = {}
            for c in prepared:
                pts = []
                for t in c.temperatures_K:
                    tids = [task_id(c.dirname, t, s) for s in c.seeds]
                    pspec = {
                        "run_dir": str(run_dir.resolve()),
                        "run_id": run_id,
                        "candidate": c.label,
                        "candidate_dir": c.dirname,
                        "temperature_K": float(t),
                        "seeds": c.seeds,
                        "analysis": cfg.analysis.model_dump(mode="json"),
                    }
                    r = run_point(
                        pspec,
                        [seed_results[(x, "alpha")] for x in tids],
                        [seed_results[(x, "lowfreq")] for x in tids],
                        [seed_results[(x, "transport")] for x in tids],
                    )
                    pts.append(r)
                    progress.poll()
                point_results += pts
                arr_results[c.label] = run_arrhenius(
                    {
                        "run_dir": str(run_dir.resolve()),
                        "run_id": run_id,
                        "candidate": c.label,
                        "candidate_dir": c.dirname,
                        "extrapolate_K": _EXTRAPOLATE_K,
                    },
                    pts,
                )
                progress.poll()
            seed_rows = _seed_rows(seed_results, specs)
            results_res = _results_stage(
                cfg, run_dir, run_id, point_results, arr_results, seed_rows, cands
            )
            progress.poll()
            failures = [
                {k: r.get(k) for k in ("task", "stage", "status", "error", "log")}
                for r in [
                    *seed_results.values(),
                    *point_results,
                    *arr_results.values(),
                    results_res,
                ]
                if r.get("status") in ("failed", "blocked")
            ]
            report_path = None
            if cfg.report.enabled and results_res.get("status") == "done":
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
                if rep.get("status") == "done":
                    report_path = Path(rep["dir"]) / "report.html"
                else:
                    failures.append(
                        {k: rep.get(k) for k in ("task", "stage", "status", "error", "log")}
                    )
            progress.poll()
            counts = dict(progress.counts)
        # outcome
        from ionraman.workflow.results import read_results

        tables = read_results(run_dir) if results_res.get("status") == "done" else {}
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
