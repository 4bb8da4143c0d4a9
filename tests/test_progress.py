"""Tests of the package's one progress display (:mod:`ionraman._progress`): the MD and the
screening column sets, the shared ETA column and the one way of being off."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ionraman import _progress
from ionraman._progress import ProgressDisplay


def _line(bar: ProgressDisplay) -> str:
    """The bar as plain text, as it would be drawn."""
    out = Console(file=io.StringIO(), width=160, color_system=None)
    out.print(bar._progress.get_renderable())
    return out.file.getvalue()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """``time.perf_counter`` of the display, set by the test (``clock[0]``, seconds)."""
    now = [0.0]
    monkeypatch.setattr(_progress.time, "perf_counter", lambda: now[0])
    return now


@pytest.fixture
def no_tty_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TTY_COMPATIBLE", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)


def test_md_bar_shows_ps_done_rate_and_eta(clock: list[float]) -> None:
    bar = ProgressDisplay.md(10.0, 2.0, quiet=True)
    line = _line(bar)
    assert "MD" in line and "2.00/10.00 ps" in line
    assert "-- ps/day" in line and "ETA --:--" in line
    bar.update(2.0, "equilibration")
    assert "-- ps/day" in _line(bar)  # one sample: no rate yet
    clock[0] = 86.4
    bar.update(3.0, "production")
    line = _line(bar)
    # 1 ps in 86.4 s = 1000 ps/day; 7 ps left: 604.8 s
    assert "production" in line and "3.00/10.00 ps" in line
    assert "1e+03 ps/day" in line and "ETA 0:10:05" in line


def test_md_rate_is_smoothed_over_the_last_updates_of_this_process(clock: list[float]) -> None:
    bar = ProgressDisplay.md(100.0, 50.0, quiet=True, window=2)
    bar.update(50.0, "production")  # resumed at 50 ps: the inherited time does not count
    clock[0] = 1.0
    bar.update(51.0, "production")
    assert bar._progress.tasks[0].fields["rate"] == pytest.approx(1.0)
    clock[0] = 2.0
    bar.update(54.0, "production")  # the first sample has left the window
    fields = bar._progress.tasks[0].fields
    assert fields["rate"] == pytest.approx(3.0)
    assert fields["eta_s"] == pytest.approx(46.0 / 3.0)
    clock[0] = 3.0
    bar.update(54.0, "production")
    clock[0] = 4.0
    bar.update(54.0, "production")  # stalled over the whole window: unknown
    assert bar._progress.tasks[0].fields["rate"] is None
    assert "ETA --:--" in _line(bar)


def test_stage_bar_shows_counts_and_the_given_eta() -> None:
    bar = ProgressDisplay.stages("NaSbS-screen", 10.0, quiet=True)
    assert "0/0 stages 0 running 0 failed" in _line(bar)
    bar.update(4.0, eta_s=3725.4, done=3, n_stages=5, running=1, failed=1, reused=1)
    line = _line(bar)
    assert "NaSbS-screen" in line
    assert "3/5 stages 1 running 1 failed (1 reused)" in line
    assert "ETA 1:02:05" in line
    bar.update(4.0, eta_s=None, done=3, n_stages=5, running=1, failed=0, reused=0)
    line = _line(bar)
    assert "ETA --:--" in line and "reused" not in line


@pytest.mark.usefixtures("no_tty_env")
@pytest.mark.parametrize(
    "make",
    [
        lambda q: ProgressDisplay.md(1.0, quiet=q),
        lambda q: ProgressDisplay.stages("run", 1.0, quiet=q),
    ],
)
def test_off_when_quiet_or_not_a_terminal(make, monkeypatch, capsys) -> None:
    # stderr is captured here: not a terminal
    assert make(False).enabled is False
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert make(False).enabled is True
    quiet = make(True)
    assert quiet.enabled is False
    with quiet as bar:
        bar.update(0.5, "production")
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("no_tty_env")
def test_an_enabled_bar_draws_on_stderr(monkeypatch, capsys) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    with ProgressDisplay.md(1.0) as bar:
        bar.update(0.5, "production")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "production" in captured.err and "0.50/1.00 ps" in captured.err
