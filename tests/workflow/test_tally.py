"""Tests of :mod:`ionraman.workflow.tally`: the stage tally that follows a run's journal."""

from __future__ import annotations

from typing import Any

import pytest

from ionraman.workflow import tally as tally_module
from ionraman.workflow.records import journal_event
from ionraman.workflow.tally import StageTally


def test_progress_counts_follow_the_journal(tmp_path):
    journal_event(tmp_path, "done", task="old", stage="md", run_id="earlier")
    weights = {("a", "md"): 100.0, ("a", "transport"): 2.0, ("b", "md"): 100.0}
    with StageTally(tmp_path, "now", weights, quiet=True) as p:
        journal_event(tmp_path, "start", task="a", stage="md", run_id="now")
        journal_event(tmp_path, "start", task="b", stage="md", run_id="now")
        p.poll()
        assert p.counts["running"] == 2 and p.counts["done"] == 0
        journal_event(tmp_path, "done", task="a", stage="md", run_id="now")
        journal_event(tmp_path, "failed", task="b", stage="md", run_id="now", error="x")
        journal_event(tmp_path, "reused", task="a", stage="transport", run_id="now")
        p.poll()
    assert p.counts == {"done": 1, "running": 0, "failed": 1, "reused": 1, "blocked": 0}
    assert [f["task"] for f in p.failures] == ["b"]


def test_the_bar_gets_weighted_progress_and_an_eta_from_fresh_work_only(tmp_path, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(tally_module.time, "time", lambda: now[0])
    weights = {("a", "md"): 60.0, ("b", "md"): 30.0, ("c", "md"): 10.0}
    p = StageTally(tmp_path, "now", weights, quiet=True, description="my-run")
    shown: list[dict[str, Any]] = []

    def record(completed: float, **fields: Any) -> None:
        shown.append({"w": completed, **fields})

    monkeypatch.setattr(p.display, "update", record)
    with p:
        assert shown[-1]["eta_s"] is None and shown[-1]["n_stages"] == 3
        journal_event(tmp_path, "reused", task="c", stage="md", run_id="now")
        now[0] += 10.0
        p.poll()
        # reused work moves the bar but not the rate
        assert shown[-1]["w"] == 10.0 and shown[-1]["eta_s"] is None
        assert shown[-1]["reused"] == 1 and shown[-1]["done"] == 1
        journal_event(tmp_path, "done", task="b", stage="md", run_id="now")
        p.poll()
        # 30 fresh in 10 s; 60 left
        assert shown[-1]["w"] == 40.0 and shown[-1]["eta_s"] == pytest.approx(20.0)
        journal_event(tmp_path, "blocked", task="a", stage="md", run_id="now")
    assert shown[-1]["eta_s"] == pytest.approx(0.0)
    assert shown[-1]["failed"] == 1 and shown[-1]["done"] == 3
    assert p.display.enabled is False
