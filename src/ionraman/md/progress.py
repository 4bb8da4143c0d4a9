"""A rich progress bar for MD: ps done / total, ps per day and ETA (off when quiet or not a TTY)."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

_SECONDS_PER_DAY = 86400.0


class _PsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.completed:.2f}/{task.total:.2f} ps", style="progress.download")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        rate = task.fields.get("ps_per_day")
        return Text(
            "-- ps/day" if rate is None else f"{rate:.3g} ps/day", style="progress.data.speed"
        )


class _EtaColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        rate = task.fields.get("ps_per_day")
        if not rate or task.total is None:
            return Text("ETA --:--", style="progress.remaining")
        seconds = (task.total - task.completed) / rate * _SECONDS_PER_DAY
        h, rem = divmod(round(seconds), 3600)
        m, s = divmod(rem, 60)
        return Text(f"ETA {h}:{m:02d}:{s:02d}", style="progress.remaining")


class MDProgress:
    """Context manager around :class:`rich.progress.Progress`.

    ps/day is measured over this process's steps only (a resumed run does not count the time of
    the steps it inherited) and smoothed over the last ``window`` updates.

    Parameters
    ----------
    total_ps
        Equilibration + production length, ps.
    done_ps
        Simulated time already done (resume), ps.
    quiet
        Disable the bar; it is also disabled when the console is not a terminal.
    """

    def __init__(
        self, total_ps: float, done_ps: float = 0.0, *, quiet: bool = False, window: int = 20
    ) -> None:
        self.console = Console(stderr=True)
        self.enabled = not quiet and self.console.is_terminal
        self._samples: list[tuple[float, float]] = []
        self._window = window
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            _PsColumn(),
            _RateColumn(),
            _EtaColumn(),
            console=self.console,
            disable=not self.enabled,
        )
        self._task = self._progress.add_task("MD", total=total_ps, completed=done_ps)

    def __enter__(self) -> MDProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, done_ps: float, phase: str) -> None:
        """Report the simulated time done so far (ps) and the phase name."""
        now = time.perf_counter()
        self._samples.append((now, done_ps))
        self._samples = self._samples[-self._window :]
        rate = None
        (t0, p0), (t1, p1) = self._samples[0], self._samples[-1]
        if t1 > t0 and p1 > p0:
            rate = (p1 - p0) / (t1 - t0) * _SECONDS_PER_DAY
        self._progress.update(self._task, completed=done_ps, description=phase, ps_per_day=rate)
