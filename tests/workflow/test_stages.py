"""Stage bookkeeping (reuse, supersede, failure, blocking) and the α stage with both model kinds."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ionraman._io import file_sha256
from ionraman.md import run_md
from ionraman.md.settings import MDSettings
from ionraman.structures import get_structure
from ionraman.workflow.config import AnalysisConfig
from ionraman.workflow.plan import (
    AlphaSettings,
    MetricSettings,
    SeedTask,
    SpectrumSettings,
    TransportSettings,
    metric_settings,
)
from ionraman.workflow.records import (
    StageContext,
    StageResult,
    execute,
    journal_event,
    read_journal,
)
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
    assert first.status == "done" and not first.reused and len(calls) == 1
    again = execute(_ctx(tmp_path, {"x": 1}), [], _body(calls))
    assert again.reused and again.digest == first.digest and len(calls) == 1
    # a damaged output (size changed) makes the stage incomplete: it is done again
    (tmp_path / "tasks" / "demo" / "out.txt").write_text("truncated")
    redo = execute(_ctx(tmp_path, {"x": 1}), [], _body(calls))
    assert not redo.reused and len(calls) == 2
    # new inputs: the old folder is kept beside the new one, never deleted
    new = execute(_ctx(tmp_path, {"x": 2}), [], _body(calls))
    assert new.digest != first.digest and len(calls) == 3
    kept = [p for p in (tmp_path / "tasks").iterdir() if p.name.startswith("demo.superseded-")]
    assert len(kept) == 1 and (kept[0] / "out.txt").read_text() == "value 1\n"
    events = [e["event"] for e in read_journal(tmp_path)[0]]
    assert events == ["start", "done", "reused", "start", "done", "start", "done"]


def test_a_failing_stage_is_recorded_and_blocks_its_dependents(tmp_path):
    def broken(ctx):
        raise RuntimeError("the model exploded")

    res = execute(_ctx(tmp_path, {"x": 1}), [], broken)
    assert res.status == "failed" and res.error == "RuntimeError: the model exploded"
    failed = json.loads((tmp_path / "tasks" / "demo" / "stage.failed.json").read_text())
    assert failed["log"] == str(tmp_path / "task.log")
    assert "Traceback" in (tmp_path / "task.log").read_text()
    down = execute(_ctx(tmp_path, {"x": 1}, "next"), [res], _body([]))
    assert down.status == "blocked" and down.error == "blocked: demo failed"
    # the next attempt retries the failed stage and clears its failure record
    ok = execute(_ctx(tmp_path, {"x": 1}), [], _body([]))
    assert ok.status == "done"
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


def _alpha_task(tmp_path: Path, model: Path | None) -> SeedTask:
    return SeedTask(
        run_dir=tmp_path,
        run_id="test",
        candidate="t",
        candidate_dir="t",
        structure_source="builtin:t-Na3SbS4",
        n_atoms=16,
        md=MDSettings(temperature_k=800.0, time_ps=0.256, seed=0, threads=1),
        force_field_sha256=None,
        alpha=AlphaSettings(
            model=None if model is None else str(model),
            model_sha256=None if model is None else file_sha256(model),
            note="skipped: no polarizability model (test)",
            batch_frames=8,
            dtype="float64",
        ),
        spectrum=SpectrumSettings(
            resolution_cm1=None, quantum_correction="harmonic", variant="reduced"
        ),
        metrics=metric_settings(AnalysisConfig()),
        transport=TransportSettings("Na", 1.0, 0.1, 0.5),
    )


def _md_result(store: Path) -> StageResult:
    return StageResult(
        task="t/800K/seed0", stage="md", status="done", digest=file_sha256(store),
        dir=store.parent,
    )


def test_alpha_stage_with_a_cartesian_tensor_model_leaves_the_store_untouched(
    md_store, tmp_path
):
    from ionraman.polarizability.models import CartesianTensorModel, fit_ensemble
    from ionraman.polarizability.models.synthetic import synthetic_dataset

    # a test fixture, fitted for a few epochs on synthetic labels: not a physical model
    model = CartesianTensorModel(ensemble_size=1, max_epochs=3, patience=3, seed=0, n_radial=4)
    fit_ensemble(model, synthetic_dataset(8, phases=("t-Na3SbS4",), seed=0))
    path = model.save(tmp_path / "alpha_test_fixture.pt")
    before = file_sha256(md_store)
    res = run_seed_stage("alpha", _alpha_task(tmp_path, path), _md_result(md_store))
    assert res.status == "done", res
    assert res.summary["model_kind"] == "cartesian-tensor"
    # the uncertainty diagnostics reach the stage summary (and from there the runs table)
    assert 0.0 <= res.summary["flagged_fraction"] <= 1.0
    assert 0.0 <= res.summary["outside_fraction_mean"] <= 1.0
    with np.load(res.dir / "alpha.npz") as data:
        alpha, times = data["alpha"], data["times_fs"]
        # the spectra take the temperature from the MD store, through alpha.npz
        assert float(data["temperature_K"]) == 800.0
    assert alpha.shape == (65, 3, 3) and np.allclose(alpha, np.swapaxes(alpha, 1, 2))
    np.testing.assert_allclose(np.diff(times), 4.0)
    assert file_sha256(md_store) == before  # α lives in its own file, the MD output is final
    spec = run_seed_stage("spectrum", _alpha_task(tmp_path, path), res)
    assert spec.status == "done" and spec.summary["n_frames"] == 65


def test_alpha_stage_with_a_bond_model_and_without_a_model(md_store, tmp_path, bond_model_path):
    res = run_seed_stage("alpha", _alpha_task(tmp_path, bond_model_path), _md_result(md_store))
    assert res.status == "done" and res.summary["model_kind"] == "bond-polarizability"
    none = run_seed_stage("alpha", _alpha_task(tmp_path / "b", None), _md_result(md_store))
    assert none.status == "skipped"
    assert none.summary["reason"] == "skipped: no polarizability model (test)"
    spec = run_seed_stage("spectrum", _alpha_task(tmp_path / "b", None), none)
    assert spec.status == "skipped" and spec.summary == none.summary


def test_configured_metric_failure_is_an_error_but_a_panel_variant_is_not() -> None:
    from ionraman.errors import InputError
    from ionraman.spectra import compute_raman_spectrum
    from ionraman.workflow.stages import spectrum_metrics

    alpha = np.random.default_rng(0).normal(size=(1000, 3, 3))
    spec = compute_raman_spectrum(alpha, 10.0, resolution_cm1=10.0, temperature_k=500.0)
    settings = MetricSettings(
        channel="total",
        variant="reduced",
        window_cm1=(0.0, 50.0),
        reference_max_cm1=5000.0,  # beyond the 1668 cm^-1 Nyquist limit
        band=None,
        central_peak=False,
        central_peak_window_cm1=(0.0, 150.0),
    )
    with pytest.raises(InputError, match="outside the spectrum range"):
        spectrum_metrics(spec, settings)
    # the panel's double window (0-1000 cm^-1) exceeds the 800 cm^-1 reference
    settings = replace(settings, reference_max_cm1=800.0, window_cm1=(0.0, 500.0))
    out = spectrum_metrics(spec, settings)
    assert out["lowfreq_fraction"]["value"] > 0
    assert out["panel"]["fraction_wide"]["window_cm1"] == [0.0, 800.0]  # clipped to the reference
