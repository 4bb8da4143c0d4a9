"""Process bookkeeping: who holds a lock, and stopping cleanly on a signal.

Lock files of trajectory stores and DFT label folders record a :class:`LockHolder`, so a process
refused a lock can name the holder (``pid 4242 on node017, Slurm job 81234``) and recognise a
stale lock: its holder's process is dead on this host, or its Slurm job has ended.

A signal received while :func:`stop_on_signals` is active raises
:class:`~ionraman.errors.Interrupted` (exit code 128 + its number) in the main thread, so the
``finally`` blocks on the way out (closing Dask clusters, killing DFT codes, releasing locks) run.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

from ionraman.errors import Interrupted

__all__ = ["HANDLED_SIGNALS", "LockHolder", "pid_alive", "stop_on_signals"]

HANDLED_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def pid_alive(pid: int) -> bool:
    """True if a process ``pid`` exists on this host (one of another user's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_ACTIVE_STATES = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED")


def _slurm_job_active(job: str) -> bool | None:
    """True/False if Slurm lists/does not list ``job`` as pending or running; None if unknown."""
    squeue = shutil.which("squeue")
    if squeue is None:
        return None
    try:
        out = subprocess.run(
            [squeue, "-h", "-j", job, "-o", "%T"], capture_output=True, text=True, timeout=15
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        # "Invalid job id specified": the job left the controller's memory (finished long ago)
        return False if "invalid job id" in out.stderr.lower() else None
    return any(s in _ACTIVE_STATES for s in out.stdout.split())


@dataclass(frozen=True)
class LockHolder:
    """The process that holds a lock: ``pid`` on ``host``, inside Slurm job ``job`` (or "")."""

    pid: int
    host: str
    job: str = ""

    @classmethod
    def current(cls) -> LockHolder:
        return cls(os.getpid(), platform.node(), os.environ.get("SLURM_JOB_ID", ""))

    def encode(self) -> str:
        """One line for the lock file: ``pid host job``."""
        return f"{self.pid} {self.host} {self.job}".strip()

    @classmethod
    def decode(cls, text: str) -> LockHolder | None:
        """Parse :meth:`encode`'s line (an older lock file holds the pid alone)."""
        parts = text.split()
        if not parts or not parts[0].isdigit():
            return None
        host, job = [*parts[1:], "", ""][:2]
        return cls(int(parts[0]), host, job)

    def describe(self) -> str:
        """``pid 4242 on node017, Slurm job 81234`` (the parts that are known)."""
        text = f"pid {self.pid}" + (f" on {self.host}" if self.host else "")
        return text + (f", Slurm job {self.job}" if self.job else "")

    def gone(self) -> bool:
        """True only when the holder is known to have ended: its Slurm job is no longer queued or
        running, or (no job) it ran on this host and its process is dead."""
        if self.job:
            return _slurm_job_active(self.job) is False
        return self.host == platform.node() and not pid_alive(self.pid)


@contextlib.contextmanager
def stop_on_signals(signals: tuple[signal.Signals, ...] = HANDLED_SIGNALS) -> Iterator[None]:
    """Raise :class:`Interrupted` on the first of ``signals``; ignore the rest until exit.

    The previous handlers are restored on exit. Outside the main thread (where Python cannot set
    handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise Interrupted(signum)

    previous = {s: signal.getsignal(s) for s in signals}
    for s in signals:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
