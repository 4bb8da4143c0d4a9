"""Follow a screening run's journal: stages done, running, failed and an ETA, on one progress bar.

The tally follows the run's ``journal.jsonl`` (every stage appends start / done / reused /
failed / blocked events, wherever it runs), so it is the same for local workers, a remote
scheduler or Slurm jobs; it is drawn by the package's one progress display
(:meth:`ionraman._progress.ProgressDisplay.stages`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType

from ionraman._progress import ProgressDisplay
from ionraman.workflow.records import read_journal

__all__ = ["StageTally"]

_FINISHED = ("done", "reused", "failed", "blocked")


class StageTally:
    """Context manager: ``with StageTally(run_dir, run_id, weights) as p: p.poll()``.

    The ETA weighs each stage by its expected cost (MD: atoms × steps; analysis stages: a small
    fraction of that) and extrapolates the rate of the work done in this invocation (stages
    reused from an earlier run do not count towards the rate).

    Parameters
    ----------
    run_dir
        Run directory (its journal is followed).
    run_id
        Events of this invocation only.
    weights
        ``(task, stage) → cost`` of every stage of the run.
    quiet
        No display (also off when stderr is not a terminal); the tally is kept all the same.
    description
        Label of the bar.

    Attributes
    ----------
    counts
        Stages per state (``done``, ``running``, ``failed``, ``reused``, ``blocked``).
    failures
        The ``failed`` events, in order.
    display
        The :class:`~ionraman._progress.ProgressDisplay` (:meth:`ProgressDisplay.stages`).
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        run_id: str,
        weights: dict[tuple[str, str], float],
        *,
        quiet: bool = False,
        description: str = "screening",
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run_id = run_id
        self.weights = dict(weights)
        self.total_weight = float(sum(weights.values())) or 1.0
        self.offset = 0
        self.state: dict[tuple[str, str], str] = {}
        self.t0 = time.time()
        self.counts = {"done": 0, "running": 0, "failed": 0, "reused": 0, "blocked": 0}
        self.failures: list[dict] = []
        self.display = ProgressDisplay.stages(description, self.total_weight, quiet=quiet)

    def __enter__(self) -> StageTally:
        # skip events of earlier invocations
        _, self.offset = read_journal(self.run_dir, 0)
        self.display.__enter__()
        self._render()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.poll()
        self.display.__exit__(exc_type, exc, tb)

    def poll(self) -> None:
        """Read new journal events and refresh the counts and the display."""
        events, self.offset = read_journal(self.run_dir, self.offset)
        for ev in events:
            if ev.get("run_id") != self.run_id:
                continue
            key = (ev.get("task", ""), ev.get("stage", ""))
            kind = ev.get("event")
            if kind == "start":
                self.state[key] = "running"
            elif kind in _FINISHED:
                self.state[key] = kind
                if kind == "failed":
                    self.failures.append(ev)
        self._render()

    def _render(self) -> None:
        counts = {"done": 0, "running": 0, "failed": 0, "reused": 0, "blocked": 0}
        done_w = fresh_w = 0.0
        for key, st in self.state.items():
            counts[st] = counts.get(st, 0) + 1
            w = self.weights.get(key, 0.0)
            if st in _FINISHED:
                done_w += w
            if st == "done":
                fresh_w += w
        self.counts = counts
        elapsed = time.time() - self.t0
        eta = None
        remaining = self.total_weight - done_w
        if fresh_w > 0 and elapsed > 1:
            eta = remaining / (fresh_w / elapsed)
        elif remaining <= 0:
            eta = 0.0
        self.display.update(
            done_w,
            eta_s=eta,
            done=sum(counts[k] for k in _FINISHED),
            n_stages=len(self.weights),
            running=counts["running"],
            failed=counts["failed"] + counts["blocked"],
            reused=counts["reused"],
        )
