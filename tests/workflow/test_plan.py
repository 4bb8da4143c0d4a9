"""The typed plan of a run: one task per candidate × temperature × seed, MD settings built once."""

from __future__ import annotations

from ionraman.workflow import load_config, plan_run, prepare
from ionraman.workflow.plan import md_record

CONFIG = {
    "temperatures_K": [500, 700],
    "seeds": [0, 3],
    "candidates": [{"structure": "t-Na3SbS4"}, {"structure": "c-Na3SbS4"}],
    "md": {"production": "2ps", "equilibration": "0.5ps", "timestep_fs": 2, "threads": 1},
    "polarizability": {"model": "none"},
}


def _plan(tmp_path, config=CONFIG):
    cfg = load_config(config, base_dir=tmp_path)
    return plan_run(
        cfg, prepare(cfg), tmp_path, "run-1", force_field_sha256={}, model_sha256={}
    )


def test_one_task_per_candidate_temperature_seed_with_its_md_settings(tmp_path):
    plan = _plan(tmp_path)
    assert len(plan.seeds) == 8 and len(plan.points) == 4 and len(plan.candidates) == 2
    task = plan.seeds[3]  # t-Na3SbS4, 700 K, seed 3
    assert (task.candidate, task.temperature_K, task.seed) == ("t-Na3SbS4", 700.0, 3)
    assert task.task_id == "t-Na3SbS4/700K/seed3"
    assert task.md.time_ps == 2.0 and task.md.equilibration_ps == 0.5
    assert task.alpha.model is None and task.alpha.note.startswith("skipped")
    point, seed_tasks = plan.points[1]
    assert point.task_id == "t-Na3SbS4/700K" and [t.seed for t in seed_tasks] == [0, 3]
    cand, points = plan.candidates[1]
    assert cand.candidate == "c-Na3SbS4" and [p.temperature_K for p in points] == [500.0, 700.0]
    # workers get the task without its structure
    assert task.atoms is not None and task.light().atoms is None


def test_md_record_keeps_the_keys_of_earlier_records(tmp_path):
    # the md stage's hashed inputs: the same keys as before the typed plan, so completed MD
    # stages of earlier runs are reused
    record = md_record(_plan(tmp_path).seeds[0].md)
    assert sorted(record) == sorted([
        "temperature_k", "time_ps", "equilibration_ps", "timestep_fs", "sample_every_fs",
        "ensemble", "thermostat", "equilibration_ensemble", "thermostat_time_fs",
        "checkpoint_every_steps", "seed",
    ])

