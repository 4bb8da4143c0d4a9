"""Clusters: the Slurm job script built from ``[cluster.slurm]`` (nothing is submitted), local
cluster sizing, and a run on an existing scheduler given by its address."""

from __future__ import annotations

import logging
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from ionraman.errors import InputError
from ionraman.workflow import load_config, run, slurm_job_script
from ionraman.workflow.cluster import local_cluster_size

REPO = Path(__file__).resolve().parents[2]


def test_full_protocol_builds_the_documented_slurm_job_script(tmp_path):
    # relative paths resolve against the config's folder (here moved to tmp_path: dask-jobqueue
    # creates the log directory when the cluster object is made)
    cfg = load_config(REPO / "examples" / "full-protocol.toml", base_dir=tmp_path)
    script = slurm_job_script(cfg)
    lines = script.splitlines()
    for expected in (
        "#SBATCH -J ionraman",
        "#SBATCH -p compute",
        "#SBATCH -A chem-project",
        "#SBATCH -n 1",
        "#SBATCH --cpus-per-task=16",
        "#SBATCH -t 24:00:00",
        "#SBATCH --constraint=cpu",
        "#SBATCH --hint=nomultithread",
        "module load python/3.11",
        "source $HOME/ionraman/.venv/bin/activate",
        "export OMP_NUM_THREADS=4",
    ):
        assert expected in lines, (expected, script)
    assert any(re.fullmatch(r"#SBATCH --mem=\d+G", ln) for ln in lines)
    worker = next(ln for ln in lines if "dask_worker" in ln or "dask worker" in ln)
    # 4 worker processes per job, one stage at a time each (md.threads torch threads)
    assert "--nworkers 4" in worker and "--nthreads 1" in worker and "--nanny" in worker
    assert "--local-directory $TMPDIR" in worker
    assert f"#SBATCH -e {tmp_path.absolute()}/slurm-logs/" in script
    assert (tmp_path / "slurm-logs").is_dir()


def test_slurm_section_is_validated(tmp_path):
    text = (REPO / "examples" / "full-protocol.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("cores = 16", "cores = 8"))
    with pytest.raises(InputError, match=r"cluster\.slurm: 4 worker processes x md\.threads"):
        load_config(bad)
    bad.write_text(text.replace('walltime = "24:00:00"', 'walltime = "a day"'))
    with pytest.raises(InputError, match=r"cluster\.slurm\.walltime: .*HH:MM:SS"):
        load_config(bad)
    data = tomllib.loads(text)
    assert data["cluster"]["kind"] == "slurm"


def test_local_cluster_is_sized_to_the_machine():
    cfg = load_config(REPO / "examples" / "na-thioantimonates.toml")
    import os

    cores = len(os.sched_getaffinity(0))
    assert local_cluster_size(cfg.cluster, 1) == cores
    assert local_cluster_size(cfg.cluster, 64) == 1


def test_run_on_a_scheduler_address(e2e, tmp_path):
    from distributed import LocalCluster

    run_dir, config, _ = e2e
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster:
        text = config.read_text().replace(
            "[cluster]\n", f'[cluster]\nkind = "address"\naddress = "{cluster.scheduler_address}"\n'
        )
        text = text.replace("processes = true\n", "").replace("n_workers = 2\n", "")
        cfg = tmp_path / "address.toml"
        cfg.write_text(text)
        result = run(cfg, copy, quiet=True)
    assert len(result.results) == 3 and result.stages["reused"] > 30
    assert [f["task"] for f in result.failed if f["status"] == "failed"] == [
        "broken/1000K/seed0",
        "broken/1000K/seed1",
    ]
    # one worker runs both broken seeds with one cached calculator: each still breaks at the
    # step it breaks at on its own (a re-run's failures, and so the report's inputs, are stable)
    errors = {f["error"] for f in result.failed if f["status"] == "failed"}
    assert len(errors) == 1 and "at step 20 " in errors.pop()
