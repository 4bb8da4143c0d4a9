"""Stage bookkeeping (reuse, supersede, failure, blocking) and the α stage with both model kinds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ionraman._io import file_sha256
from ionraman.md import run_md
from ionraman.structures import get_structure
from ionraman.workflow.records import StageContext, execute, journal_event, read_journal
from ionraman.workflow.stages import run_seed_stage

CALCULATORS = Path(__file__).resolve().parent / "calculators.py"


def _ctx(tmp_path: Path, inputs: dict, stage: str = "demo") -> StageContext:
    return StageContext(
        tmp_path, "cand/800K/seed0", stage, tmp_path / "tasks" / stage, inputs,
        tmp_path / "task.log", "test-run",
    )


def _body(calls: list):
    def body(ctx):
        calls.append(1)
        (ctx.dir / "out.txt").write_text(f"value {ctx.inputs['x']}\n")
        return ctx.finish(["out.txt"], {"x": ctx.inputs["x"]})

    return body


def test_completed_stage_is_reused_and_changed_inputs_supersede_it(tmp_path):
    calls: list = []
    first = execute(_ctx(tmp_path, {"x": 1}), [], _body(calls))
    assert first["status"] == "done" and not first["reused"] and len(calls) == 1
    again = execute(_ctx(tmp_path, {"x": 1}), [], _body(calls))
    assert again["reused"] and again["digest"] == first["digest"] and len(calls) == 1
    # a damaged output (size changed) makes the stage incomplete: it is done again
    (tmp_path / "tasks" / "demo" / "out.txt").write_text("truncated")
    redo = execute(_ctx(tmp_path, {"x": 1}), [], _body(calls))
    assert not redo["reused"] and len(calls) == 2
    # new inputs: the old folder is kept beside the new one, never deleted
    new = execute(_ctx(tmp_path, {"x": 2}), [], _body(calls))
    assert new["digest"] != first["digest"] and len(calls) == 3
    kept = [p for p in (tmp_path / "tasks").iterdir() if p.name.startswith("demo.superseded-")]
    assert len(kept) == 1 and (kept[0] / "out.txt").read_text() == "value 1\n"
    events = [e["event"] for e in read_journal(tmp_path)[0]]
    assert events == ["start", "done", "reused", "start", "done", "start", "done"]


def test_a_failing_stage_is_recorded_and_blocks_its_dependents(tmp_path):
    def broken(ctx):
        raise RuntimeError("the model exploded")

    res = execute(_ctx(tmp_path, {"x": 1}), [], broken)
    assert res["status"] == "failed" and res["error"] == "RuntimeError: the model exploded"
    failed = json.loads((tmp_path / "tasks" / "demo" / "stage.failed.json").read_text())
    assert failed["log"] == str(tmp_path / "task.log")
    assert "Traceback" in (tmp_path / "task.log").read_text()
    down = execute(_ctx(tmp_path, {"x": 1}, "next"), [res], _body([]))
    assert down["status"] == "blocked" and down["error"] == "blocked: demo failed"
    # the next attempt retries the failed stage and clears its failure record
    ok = execute(_ctx(tmp_path, {"x": 1}), [], _body([]))
    assert ok["status"] == "done"
    assert not (tmp_path / "tasks" / "demo" / "stage.failed.json").exists()


def test_journal_reader_skips_a_torn_last_line(tmp_path):
    journal_event(tmp_path, "start", task="a", stage="b")
    with open(tmp_path / "journal.jsonl", "a") as fh:
        fh.write('{"event": "do')  # a writer killed mid-line
    events, offset = read_journal(tmp_path)
    assert [e["event"] for e in events] == ["start"]
    with open(tmp_path / "journal.jsonl", "a") as fh:
        fh.write('ne"}\n')
    more, _ = read_journal(tmp_path, offset)
    assert [e["event"] for e in more] == ["done"]


@pytest.fixture(scope="module")
def md_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("md") / "md.h5"
    run_md(
        get_structure("t-Na3SbS4"),
        temperature_k=800,
        time_ps=0.256,  # 65 frames: a spectrum needs at least 64 (4 segments of 16)
        equilibration_ps=0.01,
        sample_every_fs=4,
        force_field=f"{CALCULATORS}:morse",
        out=out,
        quiet=True,
    )
    return out


def _alpha_spec(tmp_path: Path, model: Path | None) -> dict:
    return {
        "run_dir": str(tmp_path),
        "run_id": "test",
        "candidate": "t",
        "candidate_dir": "t",
        "temperature_K": 800.0,
        "seed": 0,
        "polarizability_model": None if model is None else str(model),
        "polarizability_model_sha256": None if model is None else file_sha256(model),
        "polarizability_note": "skipped: no polarizability model (test)",
        "polarizability": {"batch_frames": 8, "dtype": "float64"},
        "analysis": {
            "resolution_cm1": None, "quantum_correction": "harmonic", "variant": "reduced",
        },
    }


def _md_result(store: Path) -> dict:
    return {"status": "done", "dir": str(store.parent), "digest": file_sha256(store),
            "stage": "md", "task": "t/800K/seed0"}


def test_alpha_stage_with_a_cartesian_tensor_model_leaves_the_store_untouched(
    md_store, tmp_path
):
    from ionraman.polarizability.models import CartesianTensorModel
    from ionraman.polarizability.models.synthetic import synthetic_dataset

    # a test fixture, fitted for a few epochs on synthetic labels: not a physical model
    model = CartesianTensorModel(ensemble_size=1, max_epochs=3, patience=3, seed=0, n_radial=4)
    model.fit(synthetic_dataset(8, phases=("t-Na3SbS4",), seed=0))
    path = model.save(tmp_path / "alpha_test_fixture.pt")
    before = file_sha256(md_store)
    res = run_seed_stage("alpha", _alpha_spec(tmp_path, path), _md_result(md_store))
    assert res["status"] == "done", res
    assert res["summary"]["model_kind"] == "cartesian-tensor"
    # the uncertainty diagnostics reach the stage summary (and from there the runs table)
    assert 0.0 <= res["summary"]["flagged_fraction"] <= 1.0
    assert 0.0 <= res["summary"]["outside_fraction_mean"] <= 1.0
    with np.load(Path(res["dir"]) / "alpha.npz") as data:
        alpha, times = data["alpha"], data["times_fs"]
    assert alpha.shape == (65, 3, 3) and np.allclose(alpha, np.swapaxes(alpha, 1, 2))
    np.testing.assert_allclose(np.diff(times), 4.0)
    assert file_sha256(md_store) == before  # α lives in its own file, the MD output is final
    spec = run_seed_stage("spectrum", _alpha_spec(tmp_path, path), res)
    assert spec["status"] == "done" and spec["summary"]["n_frames"] == 65


def test_alpha_stage_with_a_bond_model_and_without_a_model(md_store, tmp_path, bond_model_path):
    res = run_seed_stage("alpha", _alpha_spec(tmp_path, bond_model_path), _md_result(md_store))
    assert res["status"] == "done" and res["summary"]["model_kind"] == "bond-polarizability"
    none = run_seed_stage("alpha", _alpha_spec(tmp_path / "b", None), _md_result(md_store))
    assert none["status"] == "skipped"
    assert none["summary"]["reason"] == "skipped: no polarizability model (test)"
    spec = run_seed_stage("spectrum", _alpha_spec(tmp_path / "b", None), none)
    assert spec["status"] == "skipped" and spec["summary"] == none["summary"]


def test_progress_counts_follow_the_journal(tmp_path):
    from ionraman.workflow.progress import WorkflowProgress

    journal_event(tmp_path, "done", task="old", stage="md", run_id="earlier")
    weights = {("a", "md"): 100.0, ("a", "transport"): 2.0, ("b", "md"): 100.0}
    with WorkflowProgress(tmp_path, "now", weights, quiet=True) as p:
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


def test_seed_mean_error_uses_the_larger_of_seed_scatter_and_run_errors() -> None:
    from ionraman.workflow.stages import _mean_err

    # seeds agree better than their own errors say (chance, with few seeds): the run errors count
    agg = _mean_err([1.0, 1.01], [0.1, 0.1])
    assert agg["std_seeds"] == pytest.approx(0.01 / 2**0.5)
    assert agg["run_err"] == pytest.approx(0.1)
    assert agg["err"] == pytest.approx(0.1 / 2**0.5)
    # seeds scatter more than the run errors: the scatter counts
    agg = _mean_err([1.0, 2.0, 3.0], [0.1, 0.1, None])
    assert agg["err"] == pytest.approx(1.0 / 3**0.5) and agg["n"] == 3
    # one seed: its own error; none: nothing
    assert _mean_err([1.0], [0.2])["err"] == 0.2
    assert _mean_err([None], [None]) == {
        "mean": None, "std_seeds": None, "err": None, "run_err": None, "n": 0
    }


def test_configured_metric_failure_is_an_error_but_a_panel_variant_is_not() -> None:
    from ionraman.errors import InputError
    from ionraman.spectra import compute_raman_spectrum
    from ionraman.workflow.stages import spectrum_metrics

    alpha = np.random.default_rng(0).normal(size=(1000, 3, 3))
    spec = compute_raman_spectrum(alpha, 10.0, resolution_cm1=10.0, temperature_k=500.0)
    settings = {
        "channel": "total",
        "variant": "reduced",
        "window_cm1": [0, 50],
        "reference_max_cm1": 5000.0,  # beyond the 1668 cm^-1 Nyquist limit
        "band": None,
        "central_peak": False,
        "central_peak_window_cm1": [0, 150],
    }
    with pytest.raises(InputError, match="outside the spectrum range"):
        spectrum_metrics(spec, settings)
    settings["reference_max_cm1"] = 800.0
    settings["window_cm1"] = [0, 500]  # the panel's double window (0-1000) exceeds 800 cm^-1
    out = spectrum_metrics(spec, settings)
    assert out["lowfreq_fraction"]["value"] > 0
    assert out["panel"]["fraction_wide"]["window_cm1"] == [0.0, 800.0]  # clipped to the reference
