"""Load and faults: a run killed at a random stage resumes to the same table with no stage done
twice; a Dask worker killed in the middle of an MD task is replaced and the task retried."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from ionraman.md import Checkpoint
from ionraman.trajectory import open_trajectory
from ionraman.workflow import read_results, run
from ionraman.workflow.records import read_journal

CALCULATORS = Path(__file__).resolve().parent / "calculators.py"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    return env


def test_run_killed_at_a_random_stage_resumes_to_the_same_table(e2e, tmp_path):
    ref_dir, config, ref_proc = e2e
    ref_events, _ = read_journal(ref_dir)
    starts = [e for e in ref_events if e["event"] == "start"]
    seed = int(os.environ.get("IONRAMAN_KILL_SEED", random.SystemRandom().randrange(1 << 30)))
    k = random.Random(seed).randint(1, len(starts) - 1)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "ionraman.workflow", str(config), "--out", str(out), "-q"]
    proc = subprocess.Popen(
        cmd, env=_env(), start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed_at = None
    deadline = time.time() + 600
    while time.time() < deadline:
        events, _ = read_journal(out)
        started = [e for e in events if e["event"] == "start"]
        if len(started) >= k:
            os.killpg(proc.pid, signal.SIGKILL)
            killed_at = (started[k - 1]["task"], started[k - 1]["stage"])
            break
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.wait(timeout=60)
    why = f"(IONRAMAN_KILL_SEED={seed}: killed after start #{k} of {len(starts)}, {killed_at})"
    assert killed_at is not None, f"the run ended before the kill point {why}"
    assert proc.returncode == -signal.SIGKILL

    again = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == ref_proc.returncode == 1, again.stderr + why

    # the final tables are those of the uninterrupted run
    ref, got = read_results(ref_dir), read_results(out)
    for name in ("results", "candidates", "runs"):
        pd.testing.assert_frame_equal(got[name], ref[name], check_exact=True, obj=name + why)
    # no stage was done twice across the killed and the resumed invocation
    events, _ = read_journal(out)
    done = Counter((e["task"], e["stage"]) for e in events if e["event"] == "done")
    twice = {key: n for key, n in done.items() if n > 1}
    assert not twice, f"stages done twice: {twice} {why}"
    run_ids = {e["run_id"] for e in events if e["event"] == "done"}
    assert len(run_ids) in (1, 2)
    # every stage the reference completed was completed here exactly once; a stage whose record
    # was written just before the kill, but not yet its "done" event, is reused by the resumed run
    ref_done = {(e["task"], e["stage"]) for e in ref_events if e["event"] == "done"}
    run_starts = [e["run_id"] for e in events if e["event"] == "run-start"]
    assert len(run_starts) == 2, why
    second = run_starts[-1]
    started_first = {
        (e["task"], e["stage"]) for e in events if e["event"] == "start" and e["run_id"] != second
    }
    reused_second = {
        (e["task"], e["stage"]) for e in events if e["event"] == "reused" and e["run_id"] == second
    }
    finished_unjournalled = (started_first & reused_second) - set(done)
    assert set(done) | finished_unjournalled == ref_done, why


def test_killed_worker_task_is_retried_and_the_run_completes(tmp_path):
    cfg = {
        "name": "worker-kill",
        "candidates": ["t-Na3SbS4"],
        "temperatures_K": [900],
        "seeds": [0],
        "md": {
            "force_field": f"{CALCULATORS}:slow_morse",
            "equilibration": "0.06ps",
            "production": "0.3ps",
            "timestep_fs": 2,
            "sample_every_fs": 6,
            "checkpoint_every_steps": 20,
        },
        "polarizability": {"model": "none"},
        "report": {"enabled": False},
        "cluster": {"kind": "local", "processes": True, "n_workers": 1, "retries": 3},
    }
    out = tmp_path / "run"
    task = out / "tasks" / "t-Na3SbS4" / "900K" / "seed0"
    killed: dict[str, int] = {}

    def killer() -> None:
        deadline = time.time() + 300
        while time.time() < deadline and not killed:
            events, _ = read_journal(out)
            md = [e for e in events if e["event"] == "start" and e.get("stage") == "md"]
            ckpt = task / "md" / "md.h5.ckpt.npz"
            if md and md[0]["pid"] != os.getpid() and ckpt.is_file():
                # past the equilibration checkpoint, in the middle of the production
                if Checkpoint.load(ckpt).n_frames > 0:
                    os.kill(md[0]["pid"], signal.SIGKILL)
                    killed["pid"] = md[0]["pid"]
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    result = run(cfg, out, quiet=True)
    thread.join(timeout=5)
    assert killed, "the MD task finished before the worker could be killed"
    assert result.ok, result.failed
    events, _ = read_journal(out)
    md = [e for e in events if e.get("stage") == "md" and e.get("task") == "t-Na3SbS4/900K/seed0"]
    starts = [e for e in md if e["event"] == "start"]
    assert len(starts) == 2 and starts[0]["pid"] == killed["pid"] != starts[1]["pid"]
    assert [e["event"] for e in md].count("done") == 1
    with open_trajectory(task / "md" / "md.h5") as traj:
        assert len(traj) == 51  # 0.3 ps every 6 fs, both ends: nothing lost or repeated
        assert traj.metadata["status"] == "complete"
        assert len(traj.metadata.get("resumes", [])) == 1
    rec = json.loads((task / "md" / "stage.json").read_text())
    assert rec["summary"]["resumes"] == 1
    row = result.results.iloc[0]
    assert np.isfinite(row["D_cm2_s"]) and row["spectrum_status"].startswith("skipped")
