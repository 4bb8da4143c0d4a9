"""Where the tasks run: a Dask client on a local cluster, an existing scheduler or Slurm jobs.

:func:`make_client` opens the client of ``[cluster]`` and closes it with its cluster (Slurm jobs
are cancelled, by ``scancel`` too if the close does not finish). On Slurm (dask-jobqueue) the
cluster is adaptive at a fixed size, so a job that ends (walltime, cancel) is replaced; workers
retire shortly before the walltime (:meth:`~ionraman.workflow.config.SlurmConfig.
worker_lifetime_s`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator
from typing import Any

from ionraman.errors import InputError
from ionraman.workflow.config import ClusterConfig, WorkflowConfig, allowed_worker_deaths

__all__ = ["build_slurm_cluster", "local_cluster_size", "make_client", "slurm_job_script"]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def local_cluster_size(cc: ClusterConfig, md_threads: int) -> int:
    """Workers of the local cluster: ``n_workers`` or ``cores // md.threads`` (at least 1)."""
    return cc.n_workers or max(1, _cpu_count() // max(1, md_threads))


def _is_local_path(key: str, value: str) -> bool:
    """True for a ``[cluster.slurm]`` path to resolve here: not the interface, not a bare
    interpreter name (looked up on the worker's PATH), not one the job's shell expands
    (``$TMPDIR``)."""
    if key == "interface" or "$" in value:
        return False
    return key != "python" or "/" in value


def _slurm_kwargs(cfg: WorkflowConfig) -> dict[str, Any]:
    # ``cores`` of dask-jobqueue = Dask threads per job: one per worker process, so each worker
    # runs one stage at a time with md.threads torch threads; job_cpu books all the cores.
    s, md_threads = cfg.cluster.slurm, cfg.md.threads
    kw: dict[str, Any] = {
        "queue": s.queue,
        "account": s.account,
        "cores": s.processes,
        "processes": s.processes,
        "job_cpu": s.cores,
        "memory": s.memory,
        "walltime": s.walltime,
        "job_name": s.job_name,
        "job_extra_directives": list(s.job_extra_directives),
        "worker_extra_args": ["--lifetime", f"{s.worker_lifetime_s()}s"],
        "job_script_prologue": [
            *s.job_script_prologue,
            f"export OMP_NUM_THREADS={md_threads}",
        ],
    }
    for key in ("local_directory", "log_directory", "python", "interface"):
        val = getattr(s, key)
        if val is not None and _is_local_path(key, val):
            # paths relative to the config file's folder, as for every path of the config
            val = str(cfg.resolve(os.path.expanduser(val)).absolute())
        if val is not None:
            kw[key] = val
    return {k: v for k, v in kw.items() if v is not None}


def build_slurm_cluster(cfg: WorkflowConfig) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` from ``[cluster.slurm]`` (no job is submitted yet)."""
    import dask
    from dask_jobqueue import SLURMCluster

    deaths = allowed_worker_deaths(cfg.cluster)
    with dask.config.set({"distributed.scheduler.allowed-failures": deaths}):
        return SLURMCluster(
            **_slurm_kwargs(cfg),
            scheduler_options={"dashboard_address": ":8787" if cfg.cluster.dashboard else None},
        )


def slurm_job_script(cfg: WorkflowConfig) -> str:
    """The job script the Slurm cluster of ``cfg`` would submit (nothing is submitted)."""
    cluster = build_slurm_cluster(cfg)
    try:
        return cluster.job_script()
    finally:
        cluster.close()


@contextlib.contextmanager
def make_client(cfg: WorkflowConfig) -> Iterator[Any]:
    """A ``distributed.Client`` for ``cfg.cluster`` (closed, with its cluster, on exit)."""
    import dask
    from distributed import Client, LocalCluster

    cc = cfg.cluster
    settings = {
        "distributed.scheduler.allowed-failures": allowed_worker_deaths(cc),
        "distributed.scheduler.worker-ttl": None,  # long MD tasks hold the GIL for seconds
        "distributed.admin.tick.limit": "1h",
        "distributed.worker.daemon": False,
        "distributed.worker.profile.enabled": False,  # its stack sampling costs MD time
    }
    with dask.config.set(settings):
        if cc.kind == "address":
            try:
                client = Client(cc.address, timeout="30s")
            except OSError as exc:
                raise InputError(f"cluster.address: cannot reach {cc.address!r} ({exc})") from None
            try:
                yield client
            finally:
                client.close()
            return
        if cc.kind == "slurm":
            cluster = build_slurm_cluster(cfg)
            s = cc.slurm
            # adaptive even at a fixed size: it submits a new job when one ends (its workers
            # retired at their lifetime before the walltime, or the job was cancelled)
            cluster.adapt(minimum_jobs=s.jobs, maximum_jobs=max(s.jobs, s.maximum_jobs or 0))
        else:
            n = local_cluster_size(cc, cfg.md.threads)
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=cc.processes,
                memory_limit=cc.memory_limit or "auto",
                # the scheduler's HTTP server starts even without a dashboard; a free port
                # avoids the "port 8787 in use" warning of a second run on the same machine
                dashboard_address=":8787" if cc.dashboard else ":0",
                silence_logs=logging.ERROR,
            )
        client = Client(cluster)
        try:
            yield client
        finally:
            job_ids = _slurm_job_ids(cluster) if cc.kind == "slurm" else []
            with contextlib.suppress(Exception):
                client.close()
            with contextlib.suppress(Exception):
                cluster.close(timeout=_CLOSE_TIMEOUT_S)
            _cancel_jobs(job_ids)


_CLOSE_TIMEOUT_S = 30
"""Seconds :func:`make_client` waits for the cluster to close before cancelling jobs itself."""


def _slurm_job_ids(cluster: Any) -> list[str]:
    """Slurm job ids of a dask-jobqueue cluster's current workers."""
    ids = (getattr(job, "job_id", None) for job in getattr(cluster, "workers", {}).values())
    return [str(i) for i in ids if i]


def _cancel_jobs(job_ids: list[str]) -> None:
    """``scancel`` the jobs (those already gone are ignored): a cluster close that failed or
    timed out must not leave jobs holding nodes and trajectory-store locks to their walltime."""
    if not job_ids:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["scancel", *job_ids], capture_output=True, timeout=30, check=False)


@contextlib.contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    loggers = [logging.getLogger(n) for n in ("distributed", "dask_jobqueue", "tornado")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)
