"""A run stopped by SIGINT, SIGTERM or SIGHUP shuts its cluster down, exits with the signal's code
and resumes on the rerun to the tables of an uninterrupted run: on the local cluster always, and
on a real Slurm when one answers here (``scripts/install_slurm.sh`` starts a single-node one)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from ionraman.errors import Interrupted
from ionraman.md import Checkpoint
from ionraman.trajectory import open_trajectory
from ionraman.workflow import read_results, run
from ionraman.workflow.config import load_config, walltime_seconds
from ionraman.workflow.records import read_journal
from ionraman.workflow.signals import import_cluster_backends, stop_on_signals

from .conftest import ff, subprocess_env

TASK = "t-Na3SbS4/900K/seed0"


def test_a_signal_raises_interrupted_once_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as exc, stop_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        finally:
            # clean-up on the way out: a second signal is ignored, not raised again
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert exc.value.exit_code == 143 and exc.value.name == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before


def test_dask_jobqueue_import_does_not_turn_ctrl_c_into_exit_0():
    # dask-jobqueue 0.9.0 installs `sys.exit()` as the SIGINT handler on import
    before = signal.getsignal(signal.SIGINT)
    try:
        import_cluster_backends("slurm")
        with pytest.raises(Interrupted) as exc, stop_on_signals():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        assert exc.value.exit_code == 130
    finally:
        signal.signal(signal.SIGINT, before)  # the rest of the session keeps pytest's Ctrl-C


def test_walltime_parsing_and_worker_lifetime():
    assert walltime_seconds("30") == 1800 and walltime_seconds("1:30") == 90
    assert walltime_seconds("04:00:00") == 14400 and walltime_seconds("1-2:30") == 95400
    cfg = load_config({"candidates": ["t-Na3SbS4"], "temperatures_K": [600]})
    assert cfg.cluster.slurm.worker_lifetime_s() == 14400 - 300
    short = cfg.cluster.slurm.model_copy(update={"walltime": "00:01:30"})
    assert short.worker_lifetime_s() == 70


def _config(path: Path, cluster: dict) -> Path:
    """A one-task run whose MD lasts ~10 s (25 ms per force call)."""
    lines = [
        'name = "signals"',
        'candidates = ["t-Na3SbS4"]',
        "temperatures_K = [900]",
        "seeds = [0]",
        "[md]",
        f'force_field = "{ff("slow_morse")}"',
        'equilibration = "0.06ps"',
        'production = "0.6ps"',
        "timestep_fs = 2",
        "sample_every_fs = 6",
        "checkpoint_every_steps = 20",
        "[polarizability]",
        'model = "none"',
        "[report]",
        "enabled = false",
        "[cluster]",
    ]
    for key, value in cluster.items():
        if isinstance(value, dict):
            continue
        lines.append(f"{key} = {value!r}".replace("'", '"').replace("True", "true"))
    for section, values in cluster.items():
        if isinstance(values, dict):
            lines.append(f"[cluster.{section}]")
            lines += [f"{k} = {v!r}".replace("'", '"') for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _interrupt_during_md(config: Path, out: Path, signum: int, job_name: str | None = None):
    """Start the run, send ``signum`` once the MD stage is under way; return (rc, stderr,
    seconds to exit, seconds until Slurm lists no job of ``job_name``)."""
    cmd = [sys.executable, "-m", "ionraman.workflow", str(config), "--out", str(out), "-q"]
    proc = subprocess.Popen(
        cmd, env=subprocess_env(), start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )
    ckpt = out / "tasks" / TASK / "md" / "md.h5.ckpt.npz"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        with contextlib.suppress(Exception):  # absent or being replaced
            if Checkpoint.load(ckpt).n_frames > 0:
                break  # past the equilibration checkpoint, in the middle of the production
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the MD production started"
    t0 = time.time()
    # Ctrl-C and a dropped ssh session reach the whole process group; `kill` reaches the pid
    if signum == signal.SIGTERM:
        proc.send_signal(signum)
    else:
        os.killpg(proc.pid, signum)
    _, err = proc.communicate(timeout=120)
    exited = time.time() - t0
    gone = None
    if job_name:
        while time.time() - t0 < 120:
            if not _squeue(job_name):
                gone = time.time() - t0
                break
            time.sleep(0.5)
    return proc.returncode, err, exited, gone


def _squeue(job_name: str) -> list[str]:
    out = subprocess.run(
        ["squeue", "-h", "-n", job_name, "-o", "%i %T"], capture_output=True, text=True, timeout=30
    )
    return out.stdout.split("\n") if out.stdout.strip() else []


def _slurm_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=15
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return any(s.rstrip("*") in ("idle", "mixed") for s in out.stdout.split())


def _assert_resumed_to(reference: Path, out: Path, config: Path) -> None:
    again = subprocess.run(
        [sys.executable, "-m", "ionraman.workflow", str(config), "--out", str(out), "-q"],
        env=subprocess_env(), capture_output=True, text=True, timeout=600,
    )
    assert again.returncode == 0, again.stderr
    ref, got = read_results(reference), read_results(out)
    for name in ("results", "candidates", "runs"):
        pd.testing.assert_frame_equal(got[name], ref[name], check_exact=True, obj=name)
    with open_trajectory(out / "tasks" / TASK / "md" / "md.h5") as traj:
        assert len(traj.metadata.get("resumes", [])) == 1  # resumed, not restarted
    events, _ = read_journal(out)
    assert [e["signal"] for e in events if e["event"] == "run-interrupted"]


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
    base = tmp_path_factory.mktemp("signals")
    config = _config(base / "local.toml", {"kind": "local", "processes": True, "n_workers": 1})
    out = base / "reference"
    assert run(config, out, quiet=True).ok
    return config, out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_local_run_stopped_by_a_signal_exits_with_its_code_and_resumes(
    local_reference, tmp_path, signum
):
    config, reference = local_reference
    out = tmp_path / "run"
    rc, err, exited, _ = _interrupt_during_md(config, out, signum)
    name = signal.Signals(signum).name
    assert rc == 128 + signum, err
    assert err.strip().splitlines()[-1].startswith(f"interrupted: stopped by {name}"), err
    assert exited < 60
    _assert_resumed_to(reference, out, config)


@pytest.mark.skipif(not _slurm_up(), reason="no Slurm answers here (scripts/install_slurm.sh)")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_slurm_run_stopped_by_a_signal_leaves_no_job_and_resumes(
    local_reference, tmp_path, signum
):
    _, reference = local_reference
    job_name = f"ionraman-test-{uuid.uuid4().hex[:8]}"
    slurm = {
        "cores": 1, "processes": 1, "memory": "2GB", "walltime": "00:10:00",
        "job_name": job_name, "python": sys.executable, "log_directory": "slurm-logs",
    }
    config = _config(tmp_path / "slurm.toml", {"kind": "slurm", "retries": 1, "slurm": slurm})
    out = tmp_path / "run"
    rc, err, exited, gone = _interrupt_during_md(config, out, signum, job_name)
    assert rc == 128 + signum, err
    assert "Slurm jobs cancelled" in err and exited < 60
    assert gone is not None and gone < 60, _squeue(job_name)
    assert (tmp_path / "slurm-logs").is_dir()  # relative to the config file's folder
    _assert_resumed_to(reference, out, config)
    assert not _squeue(job_name)


@pytest.mark.skipif(not _slurm_up(), reason="no Slurm answers here (scripts/install_slurm.sh)")
def test_slurm_run_spans_walltimes_without_spending_retries(tmp_path):
    # 1.5 min walltime: the worker retires at 70 s, a new job takes over; ~2 min of work
    job_name = f"ionraman-test-{uuid.uuid4().hex[:8]}"
    slurm = {
        "cores": 1, "processes": 1, "memory": "2GB", "walltime": "00:01:30",
        "job_name": job_name, "python": sys.executable, "log_directory": "slurm-logs",
    }
    config = _config(tmp_path / "slurm.toml", {"kind": "slurm", "retries": 0, "slurm": slurm})
    config.write_text(config.read_text().replace("seeds = [0]", f"seeds = {list(range(8))}"))
    result = run(config, tmp_path / "run", quiet=True)
    assert result.ok, result.failed
    assert len(list((tmp_path / "slurm-logs").glob("*.err"))) >= 2  # more than one job
    assert walltime_seconds(slurm["walltime"]) < result.seconds
