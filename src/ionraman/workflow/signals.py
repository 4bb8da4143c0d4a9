"""Stopping a run cleanly on SIGINT, SIGTERM and SIGHUP.

A signal received while :func:`stop_on_signals` is active raises :class:`Interrupted` in the main
thread (a ``BaseException``, like ``KeyboardInterrupt``, so ``except Exception`` clean-up code
does not swallow it). The ``finally`` blocks on the way out then close the Dask client and its
cluster, which cancels Slurm jobs; the command line turns it into the shell's exit code for the
signal (128 + number: 130 SIGINT, 143 SIGTERM, 129 SIGHUP). Further signals during that clean-up
are ignored, so a second Ctrl-C cannot leave jobs behind.

dask-jobqueue 0.9.0 replaces the SIGINT handler with ``sys.exit()`` when it is imported
(dask/dask-jobqueue#696), which turned Ctrl-C of a Slurm run into exit 0: the handlers here are
installed after that import (:func:`import_cluster_backends`).
"""

from __future__ import annotations

import signal
import threading

from ionraman._process import HANDLED_SIGNALS, stop_on_signals
from ionraman.errors import Interrupted

__all__ = ["HANDLED_SIGNALS", "Interrupted", "import_cluster_backends", "stop_on_signals"]

def import_cluster_backends(kind: str) -> None:
    """Prepare the cluster library of ``kind`` for :func:`stop_on_signals`.

    Slurm: import dask-jobqueue now, so its import-time SIGINT handler is in place before
    :func:`stop_on_signals` replaces it. Local: start multiprocessing's resource tracker (a
    child of this process shared by the local Dask workers) with SIGHUP ignored, as it already
    ignores SIGINT and SIGTERM; a SIGHUP to the process group (a closed terminal) would kill it
    and it would be relaunched with leak warnings and tracebacks while the run shuts down.
    """
    if kind == "slurm":
        import dask_jobqueue  # noqa: F401  (installs a SIGINT handler on import)
        return
    if kind != "local" or threading.current_thread() is not threading.main_thread():
        return
    from multiprocessing import resource_tracker

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # inherited by the tracker's exec
    try:
        resource_tracker.ensure_running()
    finally:
        signal.signal(signal.SIGHUP, previous)
