"""One rich progress display for a whole screening run: stages done, running, failed, ETA.

The display follows the run's ``journal.jsonl`` (every stage appends start / done / reused /
failed / blocked events, wherever it runs), so it shows the same picture for local workers,
a remote scheduler or Slurm jobs. The ETA weighs each stage by its expected cost (MD: atoms ×
steps; analysis stages: a small fraction of that) and extrapolates the rate of the work done in
this invocation (stages reused from an earlier run do not count towards the rate).
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from ionraman.workflow.records import read_journal

__all__ = ["WorkflowProgress"]


class _CountsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        f = task.fields
        text = Text(f"{f.get('done', 0)}/{f.get('n_stages', 0)} stages")
        text.append(f" {f.get('running', 0)} running", style="cyan")
        failed = f.get("failed", 0)
        text.append(f" {failed} failed", style="bold red" if failed else "dim")
        reused = f.get("reused", 0)
        if reused:
            text.append(f" ({reused} reused)", style="dim")
        return text


class _EtaColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        eta = task.fields.get("eta_s")
        if eta is None:
            return Text("ETA --:--", style="progress.remaining")
        h, rem = divmod(round(eta), 3600)
        m, s = divmod(rem, 60)
        return Text(f"ETA {h}:{m:02d}:{s:02d}", style="progress.remaining")


class WorkflowProgress:
    """Context manager: ``with WorkflowProgress(run_dir, run_id, weights) as p: p.poll()``.

    Parameters
    ----------
    run_dir
        Run directory (its journal is followed).
    run_id
        Events of this invocation only.
    weights
        ``(task, stage) → cost`` of every stage of the run.
    quiet
        No display (also off when stderr is not a terminal).
    """

    def __init__(
        self,
        run_dir: Path,
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
        self.console = Console(stderr=True)
        self.enabled = not quiet and self.console.is_terminal
        self.offset = 0
        self.state: dict[tuple[str, str], str] = {}
        self.t0 = time.time()
        self.counts = {"done": 0, "running": 0, "failed": 0, "reused": 0, "blocked": 0}
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            _CountsColumn(),
            TimeElapsedColumn(),
            _EtaColumn(),
            console=self.console,
            disable=not self.enabled,
            refresh_per_second=4,
        )
        self._task = self._progress.add_task(description, total=self.total_weight, completed=0)
        self.failures: list[dict] = []

    def __enter__(self) -> WorkflowProgress:
        # skip events of earlier invocations
        _, self.offset = read_journal(self.run_dir, 0)
        self._progress.start()
        self._render()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.poll()
        self._progress.stop()

    def poll(self) -> None:
        """Read new journal events and refresh the display."""
        events, self.offset = read_journal(self.run_dir, self.offset)
        for ev in events:
            if ev.get("run_id") != self.run_id:
                continue
            key = (ev.get("task", ""), ev.get("stage", ""))
            kind = ev.get("event")
            if kind == "start":
                self.state[key] = "running"
            elif kind in ("done", "reused", "failed", "blocked"):
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
            if st in ("done", "reused", "failed", "blocked"):
                done_w += w
            if st == "done":
                fresh_w += w
        self.counts = counts
        finished = counts["done"] + counts["reused"] + counts["failed"] + counts["blocked"]
        elapsed = time.time() - self.t0
        eta = None
        remaining = self.total_weight - done_w
        if fresh_w > 0 and elapsed > 1:
            eta = remaining / (fresh_w / elapsed)
        elif remaining <= 0:
            eta = 0.0
        self._progress.update(
            self._task,
            completed=done_w,
            done=finished,
            n_stages=len(self.weights),
            running=counts["running"],
            failed=counts["failed"] + counts["blocked"],
            reused=counts["reused"],
            eta_s=eta,
        )
