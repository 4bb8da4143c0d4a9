"""Stage bookkeeping of a screening run: one stage = one folder, records, journal.

* ``stage.json`` is written last, atomically: the SHA-256 of the stage's inputs (settings plus
  the digests of the upstream stages) and of every output file. A stage whose ``stage.json``
  matches its inputs and whose outputs are present is *reused*, never recomputed.
* ``stage.pending.json`` marks a stage in progress; a restarted stage with the same inputs
  resumes (MD from its checkpoint) or redoes the work; a stage whose inputs changed (a new
  config) moves the old folder aside (``<stage>.superseded-<hash>``) instead of deleting it.
* ``stage.failed.json`` records an exception (message and log file); the next run retries.
* every event (start, done, reused, failed, blocked) is appended to ``journal.jsonl`` in the
  run directory, with the process id and host.

A stage function never raises for a failure of the stage itself (:func:`execute` turns it into a
result with ``status`` ``"failed"``); the science of the stages is in
:mod:`ionraman.workflow.stages`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ionraman._io import file_sha256, json_default, write_json_atomic

__all__ = [
    "StageContext",
    "StageResult",
    "execute",
    "journal_event",
    "read_journal",
    "result_of",
    "run_local_stage",
    "sha256_json",
    "task_id",
]

RECORD = "stage.json"
PENDING = "stage.pending.json"
FAILED = "stage.failed.json"
JOURNAL = "journal.jsonl"
TASK_LOG = "task.log"
FORMAT_VERSION = 1

log = logging.getLogger("ionraman.workflow")


OK_STATUSES = ("done", "skipped")
"""Statuses of a completed stage (``skipped``: nothing to do, with the reason in the summary)."""
BAD_STATUSES = ("failed", "blocked")


@dataclass
class StageResult:
    """What a stage returns: to Dask, to the stages that depend on it, to the run.

    Attributes
    ----------
    task
        Task id (``<candidate>/<T>K/seed<s>``, ``<candidate>/<T>K``, ``<candidate>`` or ``run``).
    stage
        Stage name.
    status
        ``done``, ``skipped``, ``failed`` or ``blocked``.
    digest
        SHA-256 of the stage's inputs, outputs and status (the input of the stages after it);
        ``None`` unless completed.
    dir
        The stage's folder.
    summary
        The record's summary: what the stage measured, small and JSON-ready (keys per stage,
        documented in :mod:`ionraman.workflow.stages`).
    log
        The task's log file.
    seconds
        Wall time of the stage when it ran (``None`` when it did not complete).
    reused
        Completed earlier with the same inputs (``None`` when it did not complete).
    error
        One line for a failed or blocked stage.
    """

    task: str
    stage: str
    status: str
    digest: str | None = None
    dir: Path = Path()
    summary: dict[str, Any] = field(default_factory=dict)
    log: str = ""
    seconds: float | None = None
    reused: bool | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Completed (``done`` or ``skipped``)."""
        return self.status in OK_STATUSES

    @property
    def done(self) -> bool:
        return self.status == "done"

    @property
    def bad(self) -> bool:
        """Failed, or blocked by a failure upstream."""
        return self.status in BAD_STATUSES

    def failure(self) -> dict[str, Any]:
        """``task``, ``stage``, ``status``, ``error``, ``log``: a failure as listed in
        ``status.json``, the run summary and the report."""
        return {
            "task": self.task,
            "stage": self.stage,
            "status": self.status,
            "error": self.error,
            "log": self.log,
        }


# ----------------------------------------------------------------------------------------------
# hashing, journal
# ----------------------------------------------------------------------------------------------
def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=json_default, separators=(",", ":"))


def sha256_json(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj``."""
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()


def _utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def task_id(candidate_dir: str, temperature_k: float, seed: int | None = None) -> str:
    """``<candidate>/<T>K[/seed<s>]``: the task's path below ``tasks/`` (or ``points/``)."""
    base = f"{candidate_dir}/{temperature_k:g}K"
    return base if seed is None else f"{base}/seed{seed}"


_JOURNAL_LOCK = threading.Lock()


def journal_event(run_dir: str | os.PathLike[str], event: str, **fields: Any) -> None:
    """Append one event line to ``journal.jsonl`` (single ``write`` of an O_APPEND file)."""
    rec = {
        "utc": _utc(),
        "t": time.time(),
        "event": event,
        "pid": os.getpid(),
        "host": platform.node(),
        **fields,
    }
    line = (json.dumps(rec, default=json_default, sort_keys=True) + "\n").encode()
    path = Path(run_dir) / JOURNAL
    with _JOURNAL_LOCK:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def read_journal(run_dir: str | os.PathLike[str], offset: int = 0) -> tuple[list[dict], int]:
    """Events of ``journal.jsonl`` from byte ``offset`` on (complete lines only), new offset."""
    path = Path(run_dir) / JOURNAL
    if not path.is_file():
        return [], offset
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    events = []
    for raw in data[: end + 1].splitlines():
        with contextlib.suppress(ValueError):
            events.append(json.loads(raw))
    return events, offset + end + 1


# ----------------------------------------------------------------------------------------------
# stage bookkeeping
# ----------------------------------------------------------------------------------------------
class _ThreadFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.ident = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.ident


class StageContext:
    """One stage of one task: its folder, inputs hash, record and log.

    Parameters
    ----------
    run_dir
        Run directory.
    task
        Task id (``<candidate>/<T>K/seed<s>``, ``<candidate>/<T>K`` or ``<candidate>``).
    stage
        Stage name.
    stage_dir
        Folder of the stage's files.
    inputs
        Everything the stage's result depends on (JSON-serialisable); hashed.
    log_path
        The task's log file.
    run_id
        Id of the current invocation (journal).
    """

    def __init__(
        self,
        run_dir: Path,
        task: str,
        stage: str,
        stage_dir: Path,
        inputs: dict[str, Any],
        log_path: Path,
        run_id: str,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.task = task
        self.stage = stage
        self.dir = Path(stage_dir)
        self.inputs = inputs
        self.inputs_sha256 = sha256_json({"stage": stage, "v": FORMAT_VERSION, **inputs})
        self.log_path = Path(log_path)
        self.run_id = run_id
        self.t0 = time.time()

    # ---- state -------------------------------------------------------------------------
    def completed(self) -> dict[str, Any] | None:
        """The stage record when the stage is complete for these inputs, else None."""
        path = self.dir / RECORD
        if not path.is_file():
            return None
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if rec.get("inputs_sha256") != self.inputs_sha256:
            return None
        for name, meta in rec.get("outputs", {}).items():
            p = self.dir / name
            if not p.is_file() or p.stat().st_size != meta.get("size"):
                return None
        return rec

    def begin(self) -> None:
        """Mark the stage in progress; move aside a folder made for other inputs."""
        self.dir.mkdir(parents=True, exist_ok=True)
        stale = None
        for name in (RECORD, PENDING):
            p = self.dir / name
            if p.is_file():
                try:
                    sha = json.loads(p.read_text()).get("inputs_sha256")
                except (OSError, ValueError):
                    sha = "unreadable"
                if sha != self.inputs_sha256:
                    stale = sha or "unknown"
                    break
        if stale is not None:
            target = self.dir.with_name(f"{self.dir.name}.superseded-{str(stale)[:12]}")
            k = 1
            while target.exists():
                target = self.dir.with_name(f"{self.dir.name}.superseded-{str(stale)[:12]}-{k}")
                k += 1
            self.dir.rename(target)
            self.dir.mkdir(parents=True)
            self.log(f"inputs changed: previous files kept in {target.name}")
        (self.dir / FAILED).unlink(missing_ok=True)
        write_json_atomic(
            self.dir / PENDING,
            {
                "stage": self.stage,
                "task": self.task,
                "inputs_sha256": self.inputs_sha256,
                "started_utc": _utc(),
                "pid": os.getpid(),
            },
        )
        self.t0 = time.time()
        self.cpu0 = time.thread_time()
        self.event("start")
        self.log("start")

    def finish(
        self, outputs: Sequence[str], summary: dict[str, Any], status: str = "done"
    ) -> dict[str, Any]:
        """Hash the outputs and write the record (last): the stage is then complete."""
        files = {}
        for name in outputs:
            p = self.dir / name
            files[name] = {"sha256": file_sha256(p), "size": p.stat().st_size}
        seconds = time.time() - self.t0
        cpu = time.thread_time() - getattr(self, "cpu0", time.thread_time())
        rec = {
            "stage": self.stage,
            "task": self.task,
            "status": status,
            "inputs_sha256": self.inputs_sha256,
            "inputs": self.inputs,
            "outputs": files,
            "summary": summary,
            "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3),
            "finished_utc": _utc(),
            "host": platform.node(),
            "pid": os.getpid(),
        }
        write_json_atomic(self.dir / RECORD, rec)
        (self.dir / PENDING).unlink(missing_ok=True)
        self.event("done", status=status, seconds=round(seconds, 3), cpu_seconds=round(cpu, 3))
        self.log(f"{status} in {seconds:.1f} s")
        return rec

    def fail(self, exc: BaseException) -> StageResult:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        msg = (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        )
        self.log(f"FAILED: {msg}\n{tb}")
        write_json_atomic(
            self.dir / FAILED,
            {
                "stage": self.stage,
                "task": self.task,
                "error": msg,
                "log": str(self.log_path),
                "failed_utc": _utc(),
                "inputs_sha256": self.inputs_sha256,
            },
        )
        self.event("failed", error=msg, log=str(self.log_path))
        return result_of(self, None, status="failed", error=msg)

    # ---- helpers -----------------------------------------------------------------------
    def event(self, event: str, **fields: Any) -> None:
        journal_event(
            self.run_dir, event, task=self.task, stage=self.stage, run_id=self.run_id, **fields
        )

    def log(self, message: str) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(f"{_utc()} [{self.stage}] pid {os.getpid()}: {message}\n")

    @contextlib.contextmanager
    def capture_logging(self) -> Iterator[None]:
        """Log records of ``ionraman`` (this thread only) also go to the task log."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setLevel(logging.INFO)
        handler.addFilter(_ThreadFilter())
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s [{self.stage}] %(name)s %(levelname)s: %(message)s")
        )
        logger = logging.getLogger("ionraman")
        logger.addHandler(handler)
        try:
            yield
        finally:
            logger.removeHandler(handler)
            handler.close()


def result_of(
    ctx: StageContext,
    rec: dict[str, Any] | None,
    *,
    status: str | None = None,
    reused: bool | None = None,
    error: str | None = None,
) -> StageResult:
    """The :class:`StageResult` of a stage from its record (``None``: not completed)."""
    digest = None
    if rec is not None:
        digest = sha256_json(
            {"inputs": rec["inputs_sha256"], "outputs": rec["outputs"], "status": rec["status"]}
        )
    return StageResult(
        task=ctx.task,
        stage=ctx.stage,
        status=status or (rec or {}).get("status", "failed"),
        digest=digest,
        dir=ctx.dir,
        summary=(rec or {}).get("summary", {}),
        log=str(ctx.log_path),
        seconds=(rec or {}).get("seconds"),
        reused=reused,
        error=error,
    )


def blocked(ctx: StageContext, upstream: Sequence[StageResult | None]) -> StageResult | None:
    """A ``blocked`` result when an upstream stage failed or was blocked, else None."""
    bad = [u for u in upstream if u is None or u.bad]
    if not bad:
        return None
    first = bad[0]
    reason = "upstream failed" if first is None else f"{first.stage} {first.status}"
    ctx.event("blocked", reason=reason)
    return result_of(ctx, None, status="blocked", error=f"blocked: {reason}")


def execute(
    ctx: StageContext,
    upstream: Sequence[StageResult | None],
    body: Callable[[StageContext], dict[str, Any]],
) -> StageResult:
    """Run ``body`` unless the stage is complete or blocked; never raises for stage errors."""
    stop = blocked(ctx, upstream)
    if stop is not None:
        return stop
    rec = ctx.completed()
    if rec is not None:
        ctx.event("reused", status=rec["status"])
        return result_of(ctx, rec, reused=True)
    try:
        ctx.begin()
        with ctx.capture_logging():
            rec = body(ctx)
    except Exception as exc:  # a failed stage is reported, it does not stop the others
        return ctx.fail(exc)
    return result_of(ctx, rec, reused=False)


# ----------------------------------------------------------------------------------------------
# run-level stages executed in the client (results, report)
# ----------------------------------------------------------------------------------------------
def run_local_stage(
    run_dir: Path,
    name: str,
    inputs: dict[str, Any],
    body: Callable[[StageContext], dict[str, Any]],
    run_id: str,
) -> StageResult:
    """A run-level stage (``results``, ``report``) with the same bookkeeping."""
    ctx = StageContext(run_dir, "run", name, run_dir / name, inputs, run_dir / "run.log", run_id)
    return execute(ctx, [], body)


def remove_tree(path: Path) -> None:
    """Delete a folder (used by tests and ``clean``; the workflow never deletes results)."""
    shutil.rmtree(path, ignore_errors=True)
