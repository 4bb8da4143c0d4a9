"""The package's one progress display: a rich bar on stderr with an ETA (issue 22).

:class:`ProgressDisplay` is used by the MD runner (:meth:`ProgressDisplay.md`: simulated ps
done / total, ps per day, ETA) and by a screening run (:meth:`ProgressDisplay.stages`: stages
done / running / failed, elapsed time, ETA). Both share the console (stderr), the description
and bar columns, the ETA column and the way of being off: ``quiet=True`` or a stderr that is not
a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

__all__ = ["EtaColumn", "ProgressDisplay", "PsColumn", "PsPerDayColumn", "StageCountsColumn"]

SECONDS_PER_DAY = 86400.0


class EtaColumn(ProgressColumn):
    """``ETA h:mm:ss`` from the task's ``eta_s`` field (seconds), ``ETA --:--`` when unknown."""

    def render(self, task: Task) -> Text:
        eta = task.fields.get("eta_s")
        if eta is None:
            return Text("ETA --:--", style="progress.remaining")
        h, rem = divmod(round(eta), 3600)
        m, s = divmod(rem, 60)
        return Text(f"ETA {h}:{m:02d}:{s:02d}", style="progress.remaining")


class PsColumn(ProgressColumn):
    """Simulated time done / total, ps."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.completed:.2f}/{task.total:.2f} ps", style="progress.download")


class PsPerDayColumn(ProgressColumn):
    """Simulation speed in ps per day from the task's ``rate`` field (ps per second)."""

    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate")
        return Text(
            "-- ps/day" if rate is None else f"{rate * SECONDS_PER_DAY:.3g} ps/day",
            style="progress.data.speed",
        )


class StageCountsColumn(ProgressColumn):
    """``done/n stages  running  failed  (reused)`` from the task's fields of those names."""

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


class ProgressDisplay:
    """One progress bar on stderr: ``description  bar  <columns>  ETA``; a context manager.

    ``with ProgressDisplay.md(total_ps) as bar: bar.update(done_ps, phase)``, or
    ``with ProgressDisplay.stages(name, total) as bar: bar.update(done, eta_s=..., done=...)``.

    Parameters
    ----------
    description
        Label left of the bar.
    columns
        Columns between the bar and the ETA column (they render the task's fields).
    total
        Amount of work in all (same unit as ``completed``); ``None`` until known.
    completed
        Amount already done when the display starts.
    quiet
        No display; it is also off when stderr is not a terminal (:attr:`enabled`).
    bar_width
        Width of the bar in characters (``None``: as wide as the terminal allows).
    refresh_per_second
        Redraws per second.
    rate_window
        Measure the rate of ``completed`` (units per second, task field ``rate``) over the last
        ``rate_window`` calls of :meth:`update` (this process's work only) and derive the ETA
        from it; ``None``: the caller passes ``eta_s`` itself.

    Attributes
    ----------
    console
        The rich console (stderr).
    enabled
        Whether anything is drawn.
    """

    def __init__(
        self,
        description: str,
        columns: Sequence[ProgressColumn],
        *,
        total: float | None = None,
        completed: float = 0.0,
        quiet: bool = False,
        bar_width: int | None = 40,
        refresh_per_second: float = 10,
        rate_window: int | None = None,
    ) -> None:
        self.console = Console(stderr=True)
        self.enabled = not quiet and self.console.is_terminal
        self._rate_window = rate_window
        self._total = total
        self._samples: list[tuple[float, float]] = []
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=bar_width),
            *columns,
            EtaColumn(),
            console=self.console,
            disable=not self.enabled,
            refresh_per_second=refresh_per_second,
        )
        self._task = self._progress.add_task(description, total=total, completed=completed)

    @classmethod
    def md(
        cls, total_ps: float, done_ps: float = 0.0, *, quiet: bool = False, window: int = 20
    ) -> ProgressDisplay:
        """The MD bar: ``MD|phase  bar  done/total ps  ps/day  ETA``.

        ps/day is measured over this process's steps only (a resumed run does not count the
        time of the steps it inherited) and smoothed over the last ``window`` updates.

        Parameters
        ----------
        total_ps
            Equilibration + production length, ps.
        done_ps
            Simulated time already done (resume), ps.
        quiet
            No display.
        window
            Number of updates the rate is measured over.

        Returns
        -------
        ProgressDisplay
            Call ``update(done_ps, phase)`` after each step.
        """
        return cls(
            "MD",
            [PsColumn(), PsPerDayColumn()],
            total=total_ps,
            completed=done_ps,
            quiet=quiet,
            rate_window=window,
        )

    @classmethod
    def stages(
        cls, description: str, total: float | None = None, *, quiet: bool = False
    ) -> ProgressDisplay:
        """The screening bar: ``name  bar  done/n stages  running  failed  elapsed  ETA``.

        Parameters
        ----------
        description
            Label (the run's name).
        total
            Total cost of the run's stages (the bar's length).
        quiet
            No display.

        Returns
        -------
        ProgressDisplay
            Call ``update(done_cost, eta_s=..., done=..., n_stages=..., running=..., failed=...,
            reused=...)``.
        """
        return cls(
            description,
            [StageCountsColumn(), TimeElapsedColumn()],
            total=total,
            quiet=quiet,
            bar_width=24,
            refresh_per_second=4,
        )

    def __enter__(self) -> ProgressDisplay:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(
        self,
        completed: float,
        description: str | None = None,
        *,
        total: float | None = None,
        **fields: Any,
    ) -> None:
        """Report the work done so far and refresh the task's fields.

        Parameters
        ----------
        completed
            Work done so far (same unit as ``total``).
        description
            New label (unchanged when ``None``).
        total
            New total (unchanged when ``None``).
        **fields
            Task fields the columns render (``eta_s`` for the ETA column, ...). With
            ``rate_window`` set, ``rate`` and ``eta_s`` are measured here unless given.
        """
        if total is not None:
            self._total = total
        if self._rate_window is not None:
            rate = self._measure_rate(completed)
            fields.setdefault("rate", rate)
            if rate and self._total is not None:
                fields.setdefault("eta_s", (self._total - completed) / rate)
            else:
                fields.setdefault("eta_s", None)
        self._progress.update(
            self._task, completed=completed, description=description, total=total, **fields
        )

    def _measure_rate(self, completed: float) -> float | None:
        """Rate of ``completed`` per second over the last ``rate_window`` updates, or ``None``."""
        assert self._rate_window is not None
        self._samples.append((time.perf_counter(), completed))
        self._samples = self._samples[-self._rate_window :]
        (t0, c0), (t1, c1) = self._samples[0], self._samples[-1]
        if t1 > t0 and c1 > c0:
            return (c1 - c0) / (t1 - t0)
        return None
