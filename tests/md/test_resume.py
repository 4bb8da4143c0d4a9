"""Kill -9 at any moment, resume: frames kept, none duplicated, identical to an unbroken run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.io import write

from ionraman.md import Checkpoint, checkpoint_path, run_md
from ionraman.trajectory import open_trajectory

FIELDS = ("positions", "velocities", "cells", "times_fs")


def _start_job(job_script: Path, tmp_path: Path, args: dict) -> subprocess.Popen:
    spec = tmp_path / f"job_{time.monotonic_ns()}.json"
    spec.write_text(json.dumps(args))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(job_script), str(spec)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _kill_after_checkpoint(proc: subprocess.Popen, out: Path, min_step: int,
                           delay_s: float | None, timeout_s: float = 600.0) -> tuple[int, int]:
    """SIGKILL ``proc`` ``delay_s`` after its checkpoint reaches ``min_step``.

    With ``delay_s=None`` the kill comes as soon as the store holds frames written after the
    last checkpoint (independent of machine load), so the resume must truncate them.
    Returns (checkpoint frames, committed store frames) seen right after the kill.
    """
    ckpt = checkpoint_path(out)
    t0 = time.monotonic()
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"job ended before it could be killed (rc={proc.returncode}): {err}")
        if time.monotonic() - t0 > timeout_s:
            proc.kill()
            pytest.fail("job too slow to reach the checkpoint")
        try:
            step = Checkpoint.load(ckpt).step if ckpt.exists() else -1
        except Exception:  # replaced while reading
            step = -1
        if step >= min_step:
            break
        time.sleep(0.01)
    if delay_s is not None:
        time.sleep(delay_s)
    else:
        while _stored_frames(out) <= Checkpoint.load(ckpt).n_frames:
            if proc.poll() is not None or time.monotonic() - t0 > timeout_s:
                proc.kill()
                pytest.fail("job ended or stalled before writing frames past its checkpoint")
            time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open_trajectory(out) as tr:
        stored = tr.n_frames
    return Checkpoint.load(ckpt).n_frames, stored


def _stored_frames(out: Path) -> int:
    """Committed frames of a store that a running writer appends to (0 while unreadable)."""
    try:
        with open_trajectory(out) as tr:
            return tr.n_frames
    except Exception:  # created but not yet readable
        return 0


def _assert_same_frames(a: Path, b: Path) -> None:
    with open_trajectory(a) as ta, open_trajectory(b) as tb:
        assert ta.n_frames == tb.n_frames
        for name in FIELDS:
            x, y = ta.read(name), tb.read(name)
            assert x.shape == y.shape
            assert np.array_equal(x, y), f"{name} differs (max {np.abs(x - y).max():.3g})"
        assert np.all(np.diff(tb.times_fs) > 0)  # none duplicated
        assert tb.metadata["status"] == "complete"


@pytest.mark.parametrize(
    ("thermostat", "equilibration_ensemble"), [("bussi", "nvt"), ("nose-hoover", "npt-iso")]
)
def test_kill_and_resume_is_exact(cu, ff, job_script, tmp_path, thermostat,
                                  equilibration_ensemble):
    structure = tmp_path / "cu.traj"
    write(structure, cu)
    common = dict(
        temperature_k=500.0, time_ps=0.24, timestep_fs=2.0, sample_every_fs=6.0,
        equilibration_ps=0.06, equilibration_ensemble=equilibration_ensemble,
        thermostat=thermostat, seed=11, checkpoint_every_steps=17, quiet=True,
        barostat_time_fs=100.0,
    )
    # uninterrupted reference with the same calculator, not slowed down
    ref = run_md(cu, force_field=ff("fresh_emt"), out=tmp_path / "ref.h5", **common)

    out = tmp_path / "killed.h5"
    args = {**common, "structure": str(structure), "force_field": ff("slow_emt"),
            "out": str(out)}
    beyond = []
    # 30 equilibration + 120 production steps: first kill in equilibration, second in production
    for min_step, delay in ((17, 0.13), (85, None)):
        proc = _start_job(job_script, tmp_path, args)
        ck_frames, stored = _kill_after_checkpoint(proc, out, min_step, delay)
        beyond.append(stored - ck_frames)
        assert stored >= ck_frames  # the store always holds the checkpoint's frames
    assert max(beyond) > 0, "no kill left frames past the checkpoint; truncation untested"
    run_md(cu, force_field=ff("slow_emt"), out=out, **common)  # resume to the end
    _assert_same_frames(ref, out)
    with open_trajectory(out) as tr:
        assert len(tr.metadata["md_resumes"]) == 2


@pytest.mark.forcefield
def test_kill_and_resume_with_chgnet_is_exact(na3sbs4, job_script, tmp_path):
    """The same with a real universal model (CHGNet 0.3.0, the cheapest; 16-atom Na3SbS4)."""
    from ionraman.forcefields import load_force_field

    structure = tmp_path / "nss.traj"
    write(structure, na3sbs4)
    common = dict(
        temperature_k=600.0, time_ps=0.032, timestep_fs=2.0, sample_every_fs=4.0,
        equilibration_ps=0.008, seed=5, checkpoint_every_steps=5, threads=2, device="cpu",
        quiet=True,
    )
    out = tmp_path / "killed.h5"
    proc = _start_job(job_script, tmp_path,
                      {**common, "structure": str(structure), "force_field": "chgnet",
                       "out": str(out)})
    ck_frames, stored = _kill_after_checkpoint(proc, out, min_step=10, delay_s=None)
    assert stored > ck_frames  # frames past the checkpoint: the resume must drop them
    loaded = load_force_field("chgnet", device="cpu", threads=2)
    ref = run_md(na3sbs4, force_field=loaded, out=tmp_path / "ref.h5", **common)
    run_md(na3sbs4, force_field=loaded, out=out, **common)
    _assert_same_frames(ref, out)
    with open_trajectory(out) as tr:
        assert tr.metadata["force_field"]["name"] == "chgnet"
        assert tr.n_frames == 9
