"""End to end: a small screening run (test calculator, test-fixture α model) and what it leaves."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ionraman.screening.comparison import COMPARISON_COLUMNS, METRIC_TABLE_COLUMNS
from ionraman.workflow import read_results, run
from ionraman.workflow.records import read_journal
from ionraman.workflow.results import RESULT_COLUMNS


def _threads(text: str) -> str:
    """The same config with thread workers (no process start-up for runs that reuse stages)."""
    return text.replace("processes = true", "processes = false")


def _events(run_dir, run_id=None):
    events, _ = read_journal(run_dir)
    if run_id is None:
        return events
    return [e for e in events if e.get("run_id") == run_id]


def test_run_completes_with_tables_and_a_failed_task_reported(e2e):
    run_dir, _, proc = e2e
    # one candidate's force field breaks: exit code 1, the others complete
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "ranking by lowfreq_fraction at 1000 K" in out
    assert "combined standard errors" in out and "sigma needs" in out  # the run-length rule
    assert "broken/1000K/seed0 md: SimulationError" in out
    assert "task.log" in out and f"report: {run_dir}" in out
    log = (run_dir / "tasks" / "broken" / "1000K" / "seed0" / "task.log").read_text()
    assert "FAILED: SimulationError" in log and "Traceback" in log

    tables = read_results(run_dir)
    res = tables["results"]
    assert list(res.columns) == RESULT_COLUMNS
    # one row per candidate x temperature (the broken candidate keeps no row)
    assert [tuple(x) for x in res[["candidate", "temperature_K"]].to_numpy()] == [
        ("t-Na3SbS4", 700.0),
        ("t-Na3SbS4", 1000.0),
        ("cubic", 1000.0),
    ]
    csv = pd.read_csv(run_dir / "results" / "results.csv")
    np.testing.assert_allclose(csv["D_cm2_s"], res["D_cm2_s"], rtol=1e-12)
    assert (res["n_seeds_ok"] == 2).all()
    for col in ("D_cm2_s", "D_std_cm2_s", "sigma_S_cm", "lowfreq_fraction", "band_ratio"):
        assert np.isfinite(res[col]).all() and (res[col] > 0).all(), col
    # uncertainty over the two seeds
    assert np.isfinite(res["lowfreq_fraction_err"]).all()
    assert np.isfinite(res["lowfreq_fraction_std_seeds"]).all()
    assert (res["spectrum_status"] == "done").all()
    assert res["polarizability_model"].eq("bond_test_fixture.json").all()
    # no DFT validation on record for the fixture model: no systematic error, and it says so
    assert res["lowfreq_fraction_sys_rel"].isna().all()
    assert res["lowfreq_fraction_sys_basis"].str.startswith("no validation").all()
    assert res["force_field_sha256"].str.len().eq(64).all()
    # Arrhenius only over temperatures where the MSD is diffusive in the fit window; a plateau
    # keeps its kinisi D in the table but gets no log10 D and a note in the summary
    assert set(res["diffusive"]) <= {True, False}
    t_rows = res[res["candidate"] == "t-Na3SbS4"]
    assert np.isfinite(t_rows["Ea_eV"]).all() == bool(t_rows["diffusive"].all())
    for _, r in res[~res["diffusive"].astype(bool)].iterrows():
        assert np.isnan(r["log10_D"])
        assert f"note: {r['candidate']}: MSD not diffusive" in out
    assert set(res["mechanism"]) <= {"hopping", "localised", "liquid-like"}
    # framework check per trajectory: fraction of frames with every SbS4 intact, no S–S bond
    assert res["framework_intact_fraction"].between(0.0, 1.0).all()
    assert res["alpha_flagged_fraction"].isna().all()  # a bond model has no flags

    # run-length rule: production for a 10 % error, from the error's 1/sqrt(time) scaling
    target = 0.1 * res["lowfreq_fraction"]
    total_ps = 0.6 * res["n_seeds_ok"]
    np.testing.assert_allclose(
        res["lowfreq_fraction_ps_needed"],
        total_ps * (res["lowfreq_fraction_err"] / target) ** 2,
        rtol=1e-12,
    )
    # every panel metric per point, and their comparison
    metrics = tables["metrics"]
    assert list(metrics.columns) == METRIC_TABLE_COLUMNS
    panel = set(metrics["metric"])
    assert {"fraction", "fraction_stokes", "fraction_crossed", "band_ratio"} <= panel
    fraction = metrics[metrics["metric"] == "fraction"]
    np.testing.assert_allclose(fraction["value"], res["lowfreq_fraction"], rtol=1e-12)
    assert (metrics["n_seeds"] == 2).all() and (metrics["std_seeds"] >= 0).all()
    comparison = tables["metric_comparison"]
    assert list(comparison.columns) == COMPARISON_COLUMNS
    assert set(comparison["metric"]) == panel and (comparison["n_points"] == 3).all()

    runs = tables["runs"]
    assert len(runs) == 8  # (2 + 1 + 1) temperatures x 2 seeds
    assert set(runs.loc[runs["candidate"] == "broken", "md_status"]) == {"failed"}

    cand = tables["candidates"]
    assert list(cand["candidate"]) == ["t-Na3SbS4", "cubic", "broken"] or list(
        cand["candidate"]
    ) == ["cubic", "t-Na3SbS4", "broken"]
    assert list(cand["rank"].iloc[:2]) == [1.0, 2.0] and np.isnan(cand["rank"].iloc[2])
    assert (cand["ranked_by"] == "lowfreq_fraction").all()
    values = cand["rank_value"].iloc[:2].to_numpy()
    assert values[0] >= values[1]
    sep = json.loads((run_dir / "results" / "ranking.json").read_text())["separation"]
    errs = cand["rank_value_err"].iloc[:2].to_numpy()
    assert sep["n_sigma"] == pytest.approx((values[0] - values[1]) / np.hypot(*errs))
    assert sep["production_ps"] == pytest.approx(0.6 * 2)
    # the run-length rule per candidate, at the ranking temperature
    at = res[res["temperature_K"] == 1000.0].set_index("candidate")
    for _, row in cand.iloc[:2].iterrows():
        ref = at.loc[row["candidate"]]
        assert row["lowfreq_fraction_ps_needed"] == ref["lowfreq_fraction_ps_needed"]
        assert row["D_ps_needed"] == ref["D_ps_needed"]

    corr = json.loads((run_dir / "results" / "correlation.json").read_text())
    # points with a non-diffusive MSD have no log10 D and stay out of the correlation
    assert corr["n"] == int(res["diffusive"].sum()) >= 2 and corr["x_name"] == "lowfreq_fraction"
    if corr["n"] >= 3:
        assert -1 <= corr["spearman_rho"] <= 1 and len(corr["spearman_ci"]) == 2
    else:  # too few points for a rank correlation: reported as undefined, not as a number
        assert corr["spearman_rho"] is None
    calib = json.loads((run_dir / "results" / "calibration.json").read_text())
    assert calib["status"] == "done" and calib["n"] == 2 and calib["n_fast"] == 1
    assert calib["unmatched"] == ["not-a-candidate"]
    assert set(cand["calibrated_class"].iloc[:2]) == {"fast", "slow"}

    status = json.loads((run_dir / "status.json").read_text())
    assert not status["ok"]
    failed = {(f["task"], f["stage"], f["status"]) for f in status["failed"]}
    assert ("broken/1000K/seed0", "md", "failed") in failed
    assert ("broken/1000K/seed1", "transport", "blocked") in failed
    assert (run_dir / "report" / "report.html").is_file()


def test_rerun_reuses_every_completed_stage(e2e, tmp_path):
    run_dir, config, _ = e2e
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    before = read_results(copy)["results"]
    threads = tmp_path / "threads.toml"
    threads.write_text(_threads(config.read_text()))
    result = run(threads, copy, quiet=True)
    events = _events(copy, json.loads((copy / "status.json").read_text())["run_id"])
    done = [(e["task"], e["stage"]) for e in events if e["event"] == "done"]
    assert done == []  # nothing recomputed (the broken candidate fails again: not done)
    kinds = Counter(e["event"] for e in events)
    assert kinds["reused"] > 30 and kinds["failed"] == 2
    pd.testing.assert_frame_equal(result.results, before)


def test_changed_analysis_recomputes_only_what_depends_on_it(e2e, tmp_path):
    run_dir, config, _ = e2e
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    text = _threads(config.read_text()).replace("window_cm1 = [0, 60]", "window_cm1 = [0, 40]")
    changed = tmp_path / "changed.toml"
    changed.write_text(text)
    result = run(changed, copy, quiet=True)
    events = _events(copy, json.loads((copy / "status.json").read_text())["run_id"])
    done = Counter(e["stage"] for e in events if e["event"] == "done")
    reused = Counter(e["stage"] for e in events if e["event"] == "reused")
    assert done["md"] == 0 and reused["md"] == 6
    assert done["transport"] == 0 and done["alpha"] == 0 and done["spectrum"] == 0
    assert done["lowfreq"] == 6 and done["point"] == 3 and done["results"] == 1
    # the superseded metric files are kept, not deleted
    task = copy / "tasks" / "t-Na3SbS4" / "700K" / "seed0"
    assert any(p.name.startswith("lowfreq.superseded-") for p in task.iterdir())
    # ... and the run says so, and that the run directory is outside the working directory
    summary = result.summary_text()
    assert "held results of a different configuration" in summary and "superseded" in summary
    assert any("outside the working directory" in n for n in result.notes) == (
        not copy.resolve().is_relative_to(Path.cwd().resolve()))
    assert (result.results["window_hi_cm1"] == 40).all()
    # the changed window changes the metric, not the transport
    old = read_results(run_dir)["results"]
    np.testing.assert_array_equal(result.results["D_cm2_s"], old["D_cm2_s"])
    assert not np.allclose(result.results["lowfreq_fraction"], old["lowfreq_fraction"])


def test_missing_polarizability_model_skips_raman_stages_explicitly(e2e, tmp_path):
    run_dir, config, _ = e2e
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    pattern = r'\[polarizability\]\nmodel = "[^"]*"'
    text = re.sub(pattern, '[polarizability]\nmodel = "none"', _threads(config.read_text()))
    text = text.replace("[calibration]\n", '[calibration]\nmetric = "log10_D"\n')
    nomodel = tmp_path / "nomodel.toml"
    nomodel.write_text(text)
    result = run(nomodel, copy, quiet=True)
    res = result.results
    assert res["spectrum_status"].str.startswith("skipped: no polarizability model").all()
    assert res["lowfreq_fraction"].isna().all()
    assert (result.candidates["ranked_by"] == "D").all()
    assert "ranked by D*" in result.ranking["note"]
    assert "needs at least 3 points" in result.correlation["note"]
    seed = copy / "tasks" / "cubic" / "1000K" / "seed0"
    rec = json.loads((seed / "alpha" / "stage.json").read_text())
    assert rec["status"] == "skipped"
    assert rec["summary"]["reason"].startswith("skipped: no polarizability model")
    html = (copy / "report" / "report.html").read_text()
    assert "skipped: no polarizability model" in html
    # MD and transport were reused, never recomputed
    events = _events(copy, json.loads((copy / "status.json").read_text())["run_id"])
    assert not [e for e in events if e["event"] == "done" and e["stage"] in ("md", "transport")]


@pytest.mark.parametrize("table", ["results", "candidates", "runs"])
def test_parquet_and_csv_hold_the_same_table(e2e, table):
    run_dir, _, _ = e2e
    pq = pd.read_parquet(run_dir / "results" / f"{table}.parquet")
    csv = pd.read_csv(run_dir / "results" / f"{table}.csv")
    assert list(pq.columns) == list(csv.columns) and len(pq) == len(csv)


def test_unresolved_activation_energy_is_warned(tmp_path):
    import pandas as pd

    from ionraman.workflow.outcome import RunResult

    cands = pd.DataFrame({
        "candidate": ["fast", "noisy", "negative"],
        "Ea_eV": [0.30, 0.06, -0.14],
        "Ea_std_eV": [0.05, 0.06, 0.08],
    })
    res = RunResult(tmp_path, pd.DataFrame(), cands, pd.DataFrame(), {}, None, None, None)
    warned = res.activation_warnings()
    assert [w.split(":")[1].strip() for w in warned] == ["noisy", "negative"]
    assert "Ea = -0.14 ± 0.08 eV is not resolved" in warned[1]


def test_failed_run_ranking_has_no_nan_temperature(tmp_path):
    from ionraman.workflow.outcome import RunResult

    cands = pd.DataFrame({
        "candidate": ["a"], "rank": [np.nan], "rank_value": [np.nan], "rank_value_err": [np.nan],
        "D_cm2_s": [np.nan], "D_std_cm2_s": [np.nan], "Ea_eV": [np.nan], "Ea_std_eV": [np.nan],
        "mechanism": [None],
    })
    ranking = {"ranked_by": "D", "temperature_K": None}
    text = RunResult(tmp_path, pd.DataFrame(), cands, pd.DataFrame(), ranking, None, None,
                     None).ranking_text()
    assert "nan" not in text
    assert text.startswith("ranking by D (no temperature with results")


def test_flagged_alpha_warning_names_the_species_most_outside(tmp_path):
    from ionraman.workflow.outcome import RunResult

    results = pd.DataFrame({
        "candidate": ["t", "t", "c", "bond"],
        "temperature_K": [600.0, 700.0, 700.0, 700.0],
        "alpha_flagged_fraction": [0.11, 0.27, 0.02, np.nan],
        "alpha_outside_most_species": ["Sb", "Sb", "Sb", ""],
        "alpha_outside_most_species_fraction": [0.232, 0.301, 0.05, np.nan],
    })
    res = RunResult(tmp_path, results, pd.DataFrame(), pd.DataFrame(), {}, None, None, None)
    lines = [w for w in res.summary_text().splitlines() if w.startswith("warning")]
    # one line per candidate, with every flagged temperature; c (2 %) and bond are not flagged
    assert len(lines) == 1
    assert lines[0].startswith("warning: t: α frames flagged outside the polarizability model's "
                               "training data at 600 K (11 %), 700 K (27 %)")
    assert lines[0].endswith("; most outside the domain: Sb atoms (23–30 %)")
