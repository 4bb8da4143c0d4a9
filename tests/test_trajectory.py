"""Tests of the trajectory store (ionraman.trajectory)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest
from ase import Atoms, units
from ase.io import write as ase_write
from ase.io.trajectory import Trajectory as AseTrajectory

from ionraman.errors import InputError
from ionraman.spectra.series import read_polarizability_series
from ionraman.trajectory import (
    FORMAT,
    Trajectory,
    TrajectoryWriter,
    chunk_shape,
    import_trajectory,
    open_trajectory,
    write_polarizability,
)

DATA = Path(__file__).parent / "data" / "trajectory"


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _frame(i: int, n_atoms: int) -> np.ndarray:
    """Deterministic positions of frame i, [N, 3] Å (every value unique)."""
    return np.arange(n_atoms * 3, dtype=float).reshape(n_atoms, 3) * 1e-3 + 0.5 * i


def _alpha(i: int) -> np.ndarray:
    a = np.array([[10.0, 0.1, 0.2], [0.1, 11.0, 0.3], [0.2, 0.3, 12.0]])
    return a + 0.01 * i


def _write_store(path: Path, n_frames: int, numbers: np.ndarray, **kw) -> None:
    with TrajectoryWriter(
        path, numbers, velocities=True, polarizability=True, metadata={"temperature_K": 600.0}, **kw
    ) as w:
        for i in range(n_frames):
            w.append(
                _frame(i, numbers.size),
                np.diag([10.0, 11.0, 12.0]) + 0.001 * i,
                2.0 * i,
                velocities=-_frame(i, numbers.size),
                polarizability=_alpha(i),
            )


def _assert_one_line(exc: pytest.ExceptionInfo, name: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg
    assert name in msg


NUMBERS = np.array([11] * 6 + [51] * 2 + [16] * 8)


# ----------------------------------------------------------------------------------------------
# writer / reader round trip
# ----------------------------------------------------------------------------------------------
def test_round_trip_fields_metadata_and_layout(tmp_path):
    path = tmp_path / "run.h5"
    _write_store(path, 25, NUMBERS, pbc=(True, True, False))
    with open_trajectory(path) as traj:
        assert (traj.n_frames, traj.n_atoms) == (25, 16)
        assert traj.symbols[:7] == ["Na"] * 6 + ["Sb"]
        np.testing.assert_array_equal(traj.numbers, NUMBERS)
        np.testing.assert_array_equal(traj.times_fs, 2.0 * np.arange(25))
        assert traj.sampling_interval_fs == 2.0
        assert traj.has_velocities and traj.has_polarizability
        np.testing.assert_array_equal(traj.pbc, [True, True, False])
        pos = traj.read("positions")
        assert pos.shape == (25, 16, 3)
        for i in (0, 7, 24):
            np.testing.assert_array_equal(pos[i], _frame(i, 16))
            np.testing.assert_array_equal(traj.read("velocities", i, i + 1)[0], -_frame(i, 16))
            np.testing.assert_array_equal(traj.read("polarizability", i, i + 1)[0], _alpha(i))
        np.testing.assert_allclose(traj.read("cells", -1)[0], np.diag([10, 11, 12]) + 0.024)
        assert traj.read("positions", 30, 40).shape == (0, 16, 3)
        meta = traj.metadata
        assert meta["temperature_K"] == 600.0
        assert meta["units"]["positions"] == "angstrom"
        assert meta["units"]["velocities"] == "angstrom/fs"
        assert meta["units"]["polarizability"] == "angstrom^3"
        assert "packages" in meta["provenance"] and "created_utc" in meta["provenance"]
    with h5py.File(path, "r") as f:  # the documented raw layout, readable without ionraman
        assert f.attrs["format"] == FORMAT and int(f.attrs["format_version"]) == 1
        assert int(f.attrs["n_frames"]) == 25
        assert json.loads(f.attrs["metadata_json"])["temperature_K"] == 600.0
        for name in ("positions", "velocities", "cells", "times_fs", "polarizability"):
            assert f[name].shape[0] == 25  # trimmed to the committed count on close
            assert f[name].chunks == chunk_shape(name, 16)
            assert f[name].dtype == np.float64


def test_chunk_shape_choice():
    assert chunk_shape("positions", 432) == (64, 64, 3)  # 96 KiB chunks
    assert chunk_shape("velocities", 8) == (512, 8, 3)
    assert chunk_shape("positions", 1) == (1024, 1, 3)
    assert chunk_shape("cells", 432) == (1024, 3, 3)
    assert chunk_shape("times_fs", 432) == (1024,)


def test_metadata_round_trip_and_update(tmp_path):
    path = tmp_path / "m.h5"
    meta = {
        "temperature_K": 300.0,
        "timestep_fs": 2.0,
        "sampling_interval_fs": 10.0,
        "nested": {"model": "sevennet", "list": [1, 2.5, "x"]},
        "array": np.arange(3),
        "scalar": np.float32(1.5),
        "provenance": {"mine": True},
    }
    with TrajectoryWriter(path, NUMBERS, metadata=meta) as w:
        w.append(_frame(0, 16), np.eye(3) * 9, 0.0)
        w.update_metadata(status="running", steps=10)
        w.update_metadata(status="done")
    with open_trajectory(path) as traj:
        m = traj.metadata
    assert m["nested"] == {"model": "sevennet", "list": [1, 2.5, "x"]}
    assert m["array"] == [0, 1, 2] and m["scalar"] == 1.5
    assert m["provenance"] == {"mine": True}  # a given provenance is kept
    assert (m["status"], m["steps"], m["timestep_fs"]) == ("done", 10, 2.0)
    with pytest.raises(InputError, match="not JSON serialisable"):
        TrajectoryWriter(tmp_path / "bad.h5", NUMBERS, metadata={"x": object()})


def test_flush_every_commits_in_batches_and_live_reader(tmp_path):
    path = tmp_path / "live.h5"
    w = TrajectoryWriter(path, NUMBERS, flush_every=4)
    try:
        for i in range(6):
            w.append(_frame(i, 16), np.eye(3) * 9, float(i))
        assert (w.n_frames, w.committed_frames) == (6, 4)
        with open_trajectory(path) as live:  # SWMR reader while the writer holds the file
            assert live.n_frames == 4
            np.testing.assert_array_equal(live.read("positions", 3, 4)[0], _frame(3, 16))
        w.flush()
        assert w.committed_frames == 6
    finally:
        w.close()
    w.close()  # idempotent
    with open_trajectory(path) as traj:
        assert traj.n_frames == 6


def test_append_many_truncate_and_resume(tmp_path):
    path = tmp_path / "r.h5"
    pos = np.stack([_frame(i, 16) for i in range(10)])
    with TrajectoryWriter(path, NUMBERS, flush_every=3) as w:
        w.append_many(pos[:5], np.eye(3) * 9, np.arange(5.0))  # one [3, 3] cell for all frames
        w.append_many(pos[5:8], np.repeat(np.eye(3)[None] * 9, 3, axis=0), np.arange(5.0, 8.0))
        w.truncate(6)  # drops committed frames 6, 7
        assert w.n_frames == 6
        with pytest.raises(InputError, match="increase strictly"):
            w.append(pos[6], np.eye(3) * 9, 5.0)
        w.append(pos[6], np.eye(3) * 9, 6.0)
        w.append(pos[7], np.eye(3) * 9, 7.0)  # pending (flush_every=3)
        w.truncate(7)  # drops a pending frame only
        assert (w.n_frames, w.committed_frames) == (7, 6)
    with TrajectoryWriter(path, NUMBERS, append=True, metadata={"segment": 2}) as w:
        assert w.n_frames == 7
        w.append_many(pos[7:10], np.eye(3) * 9, np.arange(7.0, 10.0))
    with open_trajectory(path) as traj:
        np.testing.assert_array_equal(traj.times_fs, np.arange(10.0))
        np.testing.assert_array_equal(traj.read("positions"), pos)
        assert traj.metadata["segment"] == 2
        assert [r["n_frames"] for r in traj.metadata["resumes"]] == [7]
    with h5py.File(path, "r") as f:
        assert f["positions"].shape[0] == 10


def test_append_validation(tmp_path):
    path = tmp_path / "v.h5"
    _write_store(path, 3, NUMBERS)
    with pytest.raises(InputError, match="other atomic numbers"):
        TrajectoryWriter(path, NUMBERS[::-1], append=True, velocities=True, polarizability=True)
    with pytest.raises(InputError, match="has fields"):
        TrajectoryWriter(path, NUMBERS, append=True)
    with TrajectoryWriter(path, NUMBERS, append=True, velocities=True, polarizability=True) as w:
        with pytest.raises(InputError, match="velocities"):
            w.append(_frame(3, 16), np.eye(3), 6.0, polarizability=_alpha(3))
        with pytest.raises(InputError, match="shape"):
            w.append(
                _frame(3, 15), np.eye(3), 6.0, velocities=_frame(3, 16), polarizability=_alpha(3)
            )
        with pytest.raises(InputError, match="increase strictly"):
            w.append(
                _frame(3, 16), np.eye(3), 4.0, velocities=_frame(3, 16), polarizability=_alpha(3)
            )
        with pytest.raises(InputError, match="cannot truncate"):
            w.truncate(4)
    with pytest.raises(InputError, match="numbers"):
        TrajectoryWriter(tmp_path / "x.h5", np.array([[1, 2]]))
    with pytest.raises(InputError, match="flush_every"):
        TrajectoryWriter(tmp_path / "x.h5", NUMBERS, flush_every=0)


def test_second_writer_is_refused(tmp_path):
    path = tmp_path / "busy.h5"
    with TrajectoryWriter(path, NUMBERS) as w:
        w.append(_frame(0, 16), np.eye(3), 0.0)
        with pytest.raises(InputError, match="another process") as exc:
            TrajectoryWriter(path, NUMBERS, append=True)
        _assert_one_line(exc, "busy.h5")
        with pytest.raises(InputError, match="another process"):
            TrajectoryWriter(path, NUMBERS)  # would clobber the running store
    assert not (tmp_path / ".busy.h5.lock").exists()
    with open_trajectory(path) as traj:
        assert traj.n_frames == 1


def test_lock_names_its_holder_and_a_gone_holder_is_broken(tmp_path, monkeypatch):
    import fcntl

    import ionraman._process as proc
    from ionraman._process import LockHolder

    path = tmp_path / "held.h5"
    with TrajectoryWriter(path, NUMBERS) as w:
        w.append(_frame(0, 16), np.eye(3), 0.0)
    # a writer on another node, inside Slurm job 4242, holds the lock (a second open file
    # description in this process stands in for it: flock locks conflict between them)
    fd = os.open(tmp_path / ".held.h5.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, b"999 node017 4242")
    try:
        monkeypatch.setattr(proc, "_slurm_job_active", lambda job: True)
        with pytest.raises(InputError) as exc:
            TrajectoryWriter(path, NUMBERS, append=True)
        _assert_one_line(exc, "held.h5")
        assert "pid 999 on node017, Slurm job 4242" in str(exc.value)
        assert "scancel 4242" in str(exc.value)
        # Slurm says the job is over: the lock is stale and is replaced
        monkeypatch.setattr(proc, "_slurm_job_active", lambda job: False)
        with TrajectoryWriter(path, NUMBERS, append=True) as w:
            w.append(_frame(1, 16), np.eye(3), 1.0)
    finally:
        os.close(fd)
    with open_trajectory(path) as traj:
        assert traj.n_frames == 2
    # holders: an old lock file (pid only), a dead process on this host, an unknown Slurm
    assert LockHolder.decode("1234") == LockHolder(1234, "", "")
    assert LockHolder.decode("") is None
    me = LockHolder.current()
    assert LockHolder.decode(me.encode()) == me and not me.gone()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    assert LockHolder(int(dead.stdout), me.host).gone()
    assert not LockHolder(int(dead.stdout), "another-host").gone()
    monkeypatch.setattr(proc, "_slurm_job_active", lambda job: None)
    assert not LockHolder(1, "node017", "4242").gone()


# ----------------------------------------------------------------------------------------------
# reading subsets, streaming, ASE frames
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wide_store(tmp_path_factory):
    """150 atoms (3 chunk columns of 64 atoms), 300 frames."""
    path = tmp_path_factory.mktemp("wide") / "wide.h5"
    numbers = np.array([11] * 60 + [16] * 90)
    pos = np.random.default_rng(1).uniform(0, 20, size=(300, 150, 3))
    with TrajectoryWriter(path, numbers, velocities=True, flush_every=50) as w:
        w.append_many(pos, np.eye(3) * 20, 5.0 * np.arange(300), velocities=pos * 0.01)
    return path, pos


@pytest.mark.parametrize(
    "atoms",
    [
        slice(10, 20),
        slice(None, None, 7),
        np.array([149, 3, 3, 140, 0]),  # unordered, duplicates, chunk columns 0 and 2 only
        [-1, 64],
        np.arange(150) % 4 == 0,  # boolean mask
        np.array([], dtype=int),
    ],
)
def test_read_atom_subsets(wide_store, atoms):
    path, pos = wide_store
    with open_trajectory(path) as traj:
        got = traj.read("positions", 17, 211, atoms=atoms)
        np.testing.assert_array_equal(got, pos[17:211][:, atoms])
        np.testing.assert_array_equal(
            traj.read("velocities", -5, None, atoms=atoms), pos[-5:][:, atoms] * 0.01
        )


def test_read_bad_selections(wide_store):
    path, _ = wide_store
    with open_trajectory(path) as traj:
        with pytest.raises(InputError, match="out of range"):
            traj.read("positions", atoms=[150])
        with pytest.raises(InputError, match="mask"):
            traj.read("positions", atoms=np.ones(10, dtype=bool))
        with pytest.raises(InputError, match="unknown trajectory field"):
            traj.read("forces")
        with pytest.raises(InputError, match="no polarizability"):
            traj.read("polarizability")


def test_iter_chunks_streams_blocks(wide_store):
    path, pos = wide_store
    na = np.arange(60)
    with open_trajectory(path) as traj:
        starts, blocks = zip(*traj.iter_chunks("positions", 64, start=10, atoms=na), strict=True)
        assert starts == (10, 74, 138, 202, 266)
        assert [b.shape[0] for b in blocks] == [64, 64, 64, 64, 34]
        np.testing.assert_array_equal(np.concatenate(blocks), pos[10:, :60])
        times = np.concatenate([b for _, b in traj.iter_chunks("times_fs", 100, stop=250)])
        np.testing.assert_array_equal(times, 5.0 * np.arange(250))


def test_iter_chunks_memory_is_bounded(tmp_path):
    """Streaming 2000 frames x 432 atoms (20 MiB of positions) holds one block at a time."""
    path = tmp_path / "big.h5"
    n_atoms, n_frames = 432, 2000
    rng = np.random.default_rng(0)
    with TrajectoryWriter(path, np.full(n_atoms, 11), flush_every=500) as w:
        for i0 in range(0, n_frames, 500):
            w.append_many(rng.random((500, n_atoms, 3)), np.eye(3) * 21, np.arange(i0, i0 + 500.0))
    with open_trajectory(path) as traj:
        tracemalloc.start()
        total = 0.0
        for _, block in traj.iter_chunks("positions", 100, atoms=np.arange(162)):
            total += float(block.sum())
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert np.isfinite(total)
    block_bytes = 100 * 192 * 3 * 8  # 100 frames x 3 chunk columns of 64 atoms
    assert peak < 4 * block_bytes < n_frames * n_atoms * 24 / 10


def test_get_atoms(tmp_path):
    path = tmp_path / "a.h5"
    _write_store(path, 4, NUMBERS, pbc=(True, True, False))
    with Trajectory(path) as traj:
        atoms = traj.get_atoms(-1)
        np.testing.assert_allclose(atoms.positions, _frame(3, 16))
        np.testing.assert_allclose(atoms.cell.array, np.diag([10, 11, 12]) + 0.003)
        assert list(atoms.pbc) == [True, True, False]
        # ASE velocities (Å per ASE time unit) back to Å/fs
        np.testing.assert_allclose(atoms.get_velocities() * units.fs, -_frame(3, 16))
        assert atoms.info["time_fs"] == 6.0
        np.testing.assert_allclose(atoms.info["REF_polarizability"], _alpha(3))
        assert atoms.get_chemical_formula() == "Na6S8Sb2"
        with pytest.raises(IndexError):
            traj.get_atoms(4)


# ----------------------------------------------------------------------------------------------
# bad stores
# ----------------------------------------------------------------------------------------------
def test_reader_errors_are_one_line(tmp_path):
    with pytest.raises(InputError) as exc:
        open_trajectory(tmp_path / "missing.h5")
    _assert_one_line(exc, "missing.h5")

    text = tmp_path / "text.h5"
    text.write_text("not hdf5\n")
    with pytest.raises(InputError, match="not an HDF5 file") as exc:
        open_trajectory(text)
    _assert_one_line(exc, "text.h5")

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["positions"] = np.zeros((3, 2, 3))
    with pytest.raises(InputError, match="not an ionraman trajectory store") as exc:
        open_trajectory(other)
    _assert_one_line(exc, "other.h5")

    good = tmp_path / "good.h5"
    _write_store(good, 400, NUMBERS)
    size = good.stat().st_size
    for keep in (0.5, 0.9):
        chopped = tmp_path / f"chopped{keep}.h5"
        chopped.write_bytes(good.read_bytes()[: int(size * keep)])
        with pytest.raises(InputError) as exc:
            with open_trajectory(chopped) as traj:
                traj.read("positions")
        _assert_one_line(exc, chopped.name)


# ----------------------------------------------------------------------------------------------
# crash safety: SIGKILL while appending
# ----------------------------------------------------------------------------------------------
_CRASH_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from ionraman.trajectory import TrajectoryWriter

    path, n_atoms, flush_every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    numbers = np.full(n_atoms, 11)
    base = np.arange(n_atoms * 3, dtype=float).reshape(n_atoms, 3)
    w = TrajectoryWriter(path, numbers, append=True, velocities=True, flush_every=flush_every,
                         metadata={"temperature_K": 500.0})
    i = w.n_frames
    print("ready", i, flush=True)
    while True:
        w.append(base + i, np.eye(3) * (10.0 + i * 1e-3), 2.0 * i, velocities=-base - i)
        if i % 50 == 0:
            w.update_metadata(last_frame=i)
        i += 1
    """
)


def _check_crashed_store(path: Path, n_atoms: int, previous: int) -> int:
    base = np.arange(n_atoms * 3, dtype=float).reshape(n_atoms, 3)
    with open_trajectory(path) as traj:
        n = traj.n_frames
        assert n >= previous  # committed frames are never lost
        idx = np.arange(n, dtype=float)
        np.testing.assert_array_equal(traj.times_fs, 2.0 * idx)  # no duplicate, no gap
        pos = traj.read("positions")
        np.testing.assert_array_equal(pos, base[None] + idx[:, None, None])
        np.testing.assert_array_equal(traj.read("velocities"), -pos)
        np.testing.assert_array_equal(traj.read("cells")[:, 0, 0], 10.0 + idx * 1e-3)
        assert traj.metadata["temperature_K"] == 500.0
    return n


@pytest.mark.parametrize("flush_every", [1, 7])
def test_sigkill_while_appending_then_resume(tmp_path, flush_every):
    path = tmp_path / "crash.h5"
    script = tmp_path / "writer.py"
    script.write_text(_CRASH_WRITER)
    n_atoms = 70  # two chunk columns
    rng = random.Random(1234 + flush_every)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    committed = 0
    for cycle in range(5):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(path), str(n_atoms), str(flush_every)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        line = proc.stdout.readline()
        assert line.startswith("ready"), proc.stderr.read()
        assert int(line.split()[1]) == committed  # resumes right after the committed frames
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        n = _check_crashed_store(path, n_atoms, committed)
        assert n > committed or cycle == 0  # it made progress between kills
        committed = n
    assert committed > 20
    # a clean final segment: appends after the crashes, then close trims the leftovers
    numbers = np.full(n_atoms, 11)
    base = np.arange(n_atoms * 3, dtype=float).reshape(n_atoms, 3)
    with TrajectoryWriter(path, numbers, append=True, velocities=True) as w:
        for i in range(committed, committed + 3):
            w.append(base + i, np.eye(3) * (10.0 + i * 1e-3), 2.0 * i, velocities=-base - i)
    final = _check_crashed_store(path, n_atoms, committed + 3)
    assert final == committed + 3
    with open_trajectory(path) as traj:
        assert len(traj.metadata["recoveries"]) >= 1
    with h5py.File(path, "r") as f:  # cleanly closed: plain (non-SWMR) open works again
        assert f["positions"].shape[0] == final


# ----------------------------------------------------------------------------------------------
# write_polarizability
# ----------------------------------------------------------------------------------------------
def test_write_polarizability_add_and_replace(tmp_path):
    path = tmp_path / "p.h5"
    with TrajectoryWriter(path, NUMBERS) as w:
        for i in range(5):
            w.append(_frame(i, 16), np.eye(3) * 9, 4.0 * i)
    alpha = np.stack([_alpha(i) for i in range(5)])
    write_polarizability(path, alpha, metadata={"model": "test-model"})
    with open_trajectory(path) as traj:
        assert traj.has_polarizability
        np.testing.assert_array_equal(traj.read("polarizability"), alpha)
        assert traj.metadata["polarizability"]["model"] == "test-model"
    write_polarizability(path, 2 * alpha)
    series = read_polarizability_series(path)
    np.testing.assert_array_equal(series.alpha, 2 * alpha)
    assert series.timestep_fs == 4.0
    np.testing.assert_array_equal(series.times_fs, 4.0 * np.arange(5))
    with pytest.raises(InputError, match="4 frames but the store has 5") as exc:
        write_polarizability(path, alpha[:4])
    _assert_one_line(exc, "p.h5")
    bad = alpha.copy()
    bad[2, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        write_polarizability(path, bad)


# ----------------------------------------------------------------------------------------------
# import_trajectory
# ----------------------------------------------------------------------------------------------
def _ase_frames(n: int) -> list[Atoms]:
    frames = []
    for i in range(n):
        atoms = Atoms(
            "Na3SbS4",
            positions=_frame(i, 8),
            cell=np.diag([7.16, 7.16, 7.29]),
            pbc=True,
        )
        atoms.set_velocities(-_frame(i, 8) / units.fs)  # ASE units for -frame Å/fs
        frames.append(atoms)
    return frames


def test_import_extxyz_with_velocities_polarizability_and_time(tmp_path):
    frames = _ase_frames(5)
    for i, atoms in enumerate(frames):
        atoms.info["REF_polarizability"] = _alpha(i)
        atoms.info["time"] = 2.5 * i * units.fs  # ASE time units
    src = tmp_path / "md.extxyz"
    ase_write(src, frames, format="extxyz")
    dest = import_trajectory(src, tmp_path / "md.h5")
    with open_trajectory(dest) as traj:
        assert traj.n_frames == 5 and traj.symbols == ["Na"] * 3 + ["Sb"] + ["S"] * 4
        np.testing.assert_allclose(traj.times_fs, 2.5 * np.arange(5), rtol=1e-12)
        np.testing.assert_allclose(traj.read("positions")[3], _frame(3, 8))
        np.testing.assert_allclose(traj.read("velocities")[4], -_frame(4, 8), rtol=1e-9)
        np.testing.assert_allclose(traj.read("polarizability")[2], _alpha(2))
        np.testing.assert_allclose(traj.read("cells")[0], np.diag([7.16, 7.16, 7.29]))
        assert traj.metadata["source_sha256"]
        assert traj.metadata["time_source"].startswith("info['time']")
        assert traj.metadata["sampling_interval_fs"] == pytest.approx(2.5)
        assert traj.metadata["provenance"]["parameters"]["source"] == str(src)
    # time_fs in info is taken as fs; a 9-number polarizability is read row by row
    src2 = tmp_path / "fs.extxyz"
    for i, atoms in enumerate(frames):
        del atoms.info["time"], atoms.info["REF_polarizability"]
        atoms.info["time_fs"] = 1.0 + i
        atoms.info["pol"] = list(range(9))
    ase_write(src2, frames, format="extxyz")
    with open_trajectory(import_trajectory(src2, tmp_path / "fs.h5")) as traj:
        np.testing.assert_array_equal(traj.times_fs, 1.0 + np.arange(5))
        np.testing.assert_array_equal(traj.read("polarizability")[0].ravel(), np.arange(9.0))


def test_import_ase_traj_with_index_and_timestep(tmp_path):
    src = tmp_path / "md.traj"
    with AseTrajectory(src, "w") as t:
        for atoms in _ase_frames(7):
            t.write(atoms)
    with pytest.raises(InputError, match="pass timestep_fs") as exc:
        import_trajectory(src, tmp_path / "none.h5")
    _assert_one_line(exc, "md.traj")
    assert not (tmp_path / "none.h5").exists()  # a failed import leaves no file
    dest = import_trajectory(
        src, tmp_path / "md.h5", timestep_fs=10.0, index="1::2", chunk_frames=2
    )
    with open_trajectory(dest) as traj:
        # source frames 1, 3, 5 keep their true times
        np.testing.assert_array_equal(traj.times_fs, [10.0, 30.0, 50.0])
        np.testing.assert_allclose(traj.read("positions")[1], _frame(3, 8))
        np.testing.assert_allclose(traj.read("velocities")[2], -_frame(5, 8), rtol=1e-9)
        assert not traj.has_polarizability
    with pytest.raises(InputError, match="timestep_fs must be"):
        import_trajectory(src, tmp_path / "x.h5", timestep_fs=-1.0)


def test_import_vasp_xdatcar(tmp_path):
    # real VASP 5 XDATCAR (POTIM = 2 fs, NBLOCK = 5: 10 fs between frames)
    dest = import_trajectory(DATA / "XDATCAR", tmp_path / "x.h5", timestep_fs=10.0)
    with open_trajectory(dest) as traj:
        assert traj.n_frames == 3
        assert traj.symbols == ["Na"] * 3 + ["Sb"] + ["S"] * 4
        np.testing.assert_array_equal(traj.times_fs, [0.0, 10.0, 20.0])
        cell = np.diag([7.16, 7.16, 7.29])
        np.testing.assert_allclose(traj.read("cells")[2], cell)
        # Cartesian = fractional @ cell
        np.testing.assert_allclose(
            traj.read("positions")[1, 0], [0.01 * 7.16, 0.5 * 7.16, 0.5 * 7.29]
        )
        np.testing.assert_allclose(
            traj.read("positions")[2, 4], [0.17 * 7.16, 0.171 * 7.16, 0.179 * 7.29]
        )
        assert not traj.has_velocities


def test_import_lammps_dump_velocities_in_angstrom_per_fs(tmp_path):
    dest = import_trajectory(
        DATA / "dump.lammpstrj", tmp_path / "l.h5", timestep_fs=100.0, format="lammps-dump-text"
    )
    with open_trajectory(dest) as traj:
        np.testing.assert_array_equal(traj.times_fs, [0.0, 100.0])
        # metal units: vx = 1.5 Å/ps = 1.5e-3 Å/fs; atoms sorted by id in both frames
        np.testing.assert_allclose(
            traj.read("velocities")[1], [[1.5e-3, 0, 0], [0, -2.5e-3, 0], [0, 0, 3e-3]], rtol=1e-9
        )
        np.testing.assert_allclose(
            traj.read("positions")[1], [[1.15, 2, 3], [4, 4.75, 6], [7, 8, 9.3]]
        )
        np.testing.assert_allclose(traj.read("cells")[0], np.diag([10.0, 10.0, 12.0]))


def test_import_bad_sources(tmp_path):
    with pytest.raises(InputError, match="not found"):
        import_trajectory(tmp_path / "nope.xyz", tmp_path / "o.h5", timestep_fs=1.0)
    broken = tmp_path / "broken.xyz"
    broken.write_text("3\ncomment\nNa 0 0 0\nNa 1 1\n")
    with pytest.raises(InputError, match="ASE could not read") as exc:
        import_trajectory(broken, tmp_path / "o.h5", timestep_fs=1.0)
    _assert_one_line(exc, "broken.xyz")
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.parametrize(("status", "flagged"), [("running", True), ("stopped", True),
                                                 ("complete", False), (None, False)])
def test_incomplete_md_stores_are_flagged(tmp_path, status, flagged):
    from ionraman.trajectory import incomplete_store_note

    path = tmp_path / "run.h5"
    meta = {} if status is None else {"status": status}
    with TrajectoryWriter(path, NUMBERS, metadata=meta) as w:
        w.append_many(np.zeros((3, len(NUMBERS), 3)) + np.arange(len(NUMBERS))[:, None],
                      np.eye(3) * 10.0, np.arange(3) * 5.0)
    note = incomplete_store_note(path)
    assert (note is not None) == flagged
    if flagged:
        assert f"status {status!r}" in note and "3 frames" in note and "\n" not in note
    assert incomplete_store_note(tmp_path / "walk.extxyz") is None


def test_a_store_that_may_not_be_written_is_not_called_corrupt(tmp_path, monkeypatch):
    import h5py

    from ionraman import trajectory as trajectory_module

    path = tmp_path / "run.h5"
    with TrajectoryWriter(path, NUMBERS) as w:
        w.append_many(np.zeros((2, len(NUMBERS), 3)) + np.arange(len(NUMBERS))[:, None],
                      np.eye(3) * 10.0, np.arange(2) * 5.0)
    real_file = h5py.File

    def denied(name, mode="r", *args, **kwargs):
        if mode == "r+":  # what h5py raises for a read-only file (errno 13)
            raise OSError(f"Unable to synchronously open file (unable to open file: name = "
                          f"'{name}', errno = 13, error message = 'Permission denied', flags = 1)")
        return real_file(name, mode, *args, **kwargs)

    monkeypatch.setattr(trajectory_module.h5py, "File", denied)
    with pytest.raises(InputError) as info:
        trajectory_module.write_polarizability(path, np.ones((2, 3, 3)))
    msg = str(info.value)
    assert msg.startswith(f"{path}: permission denied") and "corrupt" not in msg
