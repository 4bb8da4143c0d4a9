"""Trajectory store benchmarks: write/read throughput, memory, and an exhaustive crash sweep.

Usage::

    .venv/bin/python benchmarks/trajectory_io.py io --atoms 432 --frames 100000 --out /tmp/bench
    .venv/bin/python benchmarks/trajectory_io.py crash --frames 14       # needs a C compiler

``io`` writes a store (per-frame appends with a commit per frame, then ``append_many`` blocks),
streams the Na sublattice and a scattered atom subset back with ``iter_chunks``, and times the
recovery copy after a SIGKILL. ``crash`` builds a tiny LD_PRELOAD library that SIGKILLs the writer
just before its K-th ``pwrite`` (optionally after writing half of it: a torn write) and runs the
writer once for every K, so every point at which a kill can land during appends, metadata updates
and close is visited; after each kill the store must open with every committed frame intact and
a resumed writer must append after them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np

from ionraman.trajectory import TrajectoryWriter, open_trajectory


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _numbers(n_atoms: int) -> np.ndarray:
    """Na3SbS4-like composition ordered by species (Na first, as pymatgen/ASE structures are)."""
    n_na, n_sb = 3 * n_atoms // 8, n_atoms // 8
    return np.array([11] * n_na + [51] * n_sb + [16] * (n_atoms - n_na - n_sb))


def bench_io(out: Path, n_atoms: int = 432, n_frames: int = 20000, per_frame: int = 2000) -> dict:
    """Write ``n_frames`` frames of ``n_atoms`` atoms and stream subsets back; return timings."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "bench.h5"
    numbers = _numbers(n_atoms)
    rng = np.random.default_rng(0)
    cell = np.eye(3) * 21.5
    res: dict[str, float] = {"n_atoms": n_atoms, "n_frames": n_frames}
    frame = rng.uniform(0, 21.5, size=(n_atoms, 3))
    with TrajectoryWriter(path, numbers, velocities=True, metadata={"timestep_fs": 2.0}) as w:
        t0 = time.perf_counter()
        for i in range(per_frame):  # one commit (two HDF5 flushes) per frame, as MD does
            w.append(frame + 1e-3 * i, cell, 10.0 * i, velocities=frame)
        res["append_flush_each_frames_per_s"] = per_frame / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        block = 1024
        for i0 in range(per_frame, n_frames, block):
            k = min(block, n_frames - i0)
            pos = frame[None] + rng.normal(scale=0.01, size=(k, n_atoms, 3))
            w.append_many(pos, cell, 10.0 * np.arange(i0, i0 + k), velocities=pos)
            w.flush()
        dt = time.perf_counter() - t0
        res["append_many_MiB_per_s"] = (n_frames - per_frame) * n_atoms * 48 / 2**20 / dt
    res["file_GiB"] = path.stat().st_size / 2**30
    res["rss_after_write_MiB"] = _rss_mib()

    with open_trajectory(path) as traj:
        na = np.flatnonzero(traj.numbers == 11)
        scattered = np.arange(0, n_atoms, max(1, n_atoms // 50))
        for label, atoms in (("na_sublattice", na), ("scattered_50", scattered), ("all", None)):
            tracemalloc.start()
            t0 = time.perf_counter()
            checksum = 0.0
            for _, blk in traj.iter_chunks("positions", 1024, atoms=atoms):
                checksum += float(blk[:, :, 0].sum())
            res[f"read_{label}_s"] = time.perf_counter() - t0
            res[f"read_{label}_tracemalloc_peak_MiB"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        t0 = time.perf_counter()
        for i in rng.integers(0, n_frames, 100):
            traj.get_atoms(int(i))
        res["get_atoms_ms"] = (time.perf_counter() - t0) * 10.0
    res["rss_after_read_MiB"] = _rss_mib()

    # recovery after a SIGKILL: a writer that dies right after opening leaves the flags set
    script = (
        "import sys, os, signal, numpy as np\nfrom ionraman.trajectory import TrajectoryWriter\n"
    )
    script += (
        f"w = TrajectoryWriter(sys.argv[1], np.array({numbers.tolist()}), append=True, "
        "velocities=True)\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=False)
    t0 = time.perf_counter()
    with TrajectoryWriter(path, numbers, append=True, velocities=True) as w:
        assert w.n_frames == n_frames
    res["recovery_copy_s"] = time.perf_counter() - t0
    return res


# ----------------------------------------------------------------------------------------------
# crash sweep
# ----------------------------------------------------------------------------------------------
_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
static long crash_at = -1, count = 0;
static int torn = 0;
void crash_arm(long k, int t) { crash_at = k; count = 0; torn = t; }
long crash_count(void) { return count; }
typedef ssize_t (*pw_t)(int, const void *, size_t, off_t);
static ssize_t hook(pw_t real, int fd, const void *buf, size_t n, off_t off) {
    if (crash_at >= 0 && ++count == crash_at) {
        if (torn && n > 1) real(fd, buf, n / 2, off);
        raise(SIGKILL);
    }
    return real(fd, buf, n, off);
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    static pw_t real = 0; if (!real) real = (pw_t)dlsym(RTLD_NEXT, "pwrite");
    return hook(real, fd, buf, n, off);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    static pw_t real = 0; if (!real) real = (pw_t)dlsym(RTLD_NEXT, "pwrite64");
    return hook(real, fd, buf, n, off);
}
"""

_SWEEP_WRITER = textwrap.dedent(
    """
    import ctypes, sys
    import numpy as np
    from ionraman.trajectory import TrajectoryWriter

    path, arm, n_new, torn, meta_every = sys.argv[1:6]
    n_atoms = 70
    base = np.arange(n_atoms * 3, dtype=float).reshape(n_atoms, 3)
    lib = ctypes.CDLL(None)
    if arm.startswith("open:"):  # kill points include the open (and its recovery copy)
        lib.crash_arm(int(arm[5:]), int(torn))
    w = TrajectoryWriter(path, np.full(n_atoms, 11), append=True, velocities=True,
                         polarizability=True)
    if not arm.startswith("open:"):
        lib.crash_arm(int(arm), int(torn))
    i0 = w.n_frames
    for i in range(i0, i0 + int(n_new)):
        w.append(base + i, np.eye(3) * 9, 2.0 * i, velocities=-base - i,
                 polarizability=np.eye(3) * i)
        if int(meta_every) and i % int(meta_every) == 0:
            w.update_metadata(last=i, pad="x" * (i % 37))
    w.close()
    print("writes", lib.crash_count())
    """
)


def _verify(path: Path, at_least: int) -> int:
    base = np.arange(70 * 3, dtype=float).reshape(70, 3)
    with open_trajectory(path) as traj:
        n = traj.n_frames
        idx = np.arange(n, dtype=float)
        ok = (
            n >= at_least
            and np.array_equal(traj.times_fs, 2.0 * idx)
            and np.array_equal(traj.read("positions"), base[None] + idx[:, None, None])
            and np.array_equal(traj.read("velocities"), -base[None] - idx[:, None, None])
            and np.array_equal(traj.read("polarizability")[:, 0, 0], idx)
            and isinstance(traj.metadata, dict)
        )
    if not ok:
        raise AssertionError(f"wrong data: n_frames={n} (>= {at_least} expected)")
    return n


def crash_sweep(
    work: Path, n_new: int = 14, torn: bool = False, meta_every: int = 5, phase: str = "append"
) -> dict:
    """Kill the writer before each of its pwrite calls in turn; count stores that break.

    ``phase="append"`` starts from a cleanly closed 20-frame store; ``"recovery"`` starts from a
    store left by a killed writer and arms the kill before opening, so kills also land inside
    the recovery copy.
    """
    work.mkdir(parents=True, exist_ok=True)
    shim = work / "crashshim.so"
    if not shim.exists():
        src = work / "crashshim.c"
        src.write_text(_SHIM)
        subprocess.run(
            ["cc", "-shared", "-fPIC", "-O2", "-o", str(shim), str(src), "-ldl"], check=True
        )
    script = work / "sweep_writer.py"
    script.write_text(_SWEEP_WRITER)
    env = {**os.environ, "LD_PRELOAD": str(shim)}
    py = sys.executable

    def run(path: Path, arm: str, n: int, tear: bool = False) -> subprocess.CompletedProcess:
        args = [py, str(script), str(path), arm, str(n), str(int(tear)), str(meta_every)]
        return subprocess.run(args, env=env, capture_output=True, text=True, check=False)

    base = work / f"base_{phase}.h5"
    base.unlink(missing_ok=True)
    r = run(base, str(10**9), 20)
    assert r.returncode == 0, r.stderr
    prefix = "open:" if phase == "recovery" else ""
    if phase == "recovery":  # leave base as a killed writer would: flags set, rows beyond n
        r = run(base, "60", 50)
        assert r.returncode == -signal.SIGKILL, r.stderr
    start = _verify(base, 0)
    probe = work / "probe.h5"
    shutil.copy(base, probe)
    r = run(probe, f"{prefix}{10**9}", n_new)
    assert r.returncode == 0, r.stderr
    total = int(r.stdout.split()[-1])
    failures: list[tuple[int, str]] = []
    killed = 0
    for k in range(1, total + 1):
        path = work / "sweep.h5"
        shutil.copy(base, path)
        for side in work.glob(".sweep.h5*"):
            side.unlink()
        r = run(path, f"{prefix}{k}", n_new, torn)
        killed += r.returncode == -signal.SIGKILL
        try:
            n = _verify(path, start)
            r2 = run(path, str(10**9), 3)
            if r2.returncode != 0:
                failures.append((k, "resume failed: " + r2.stderr.strip().splitlines()[-1][:160]))
                continue
            if _verify(path, n + 3) != n + 3:
                failures.append((k, "resume did not continue after the committed frames"))
        except Exception as exc:
            failures.append((k, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"))
    return {
        "phase": phase,
        "torn_writes": torn,
        "metadata_update_every": meta_every,
        "kill_points": total,
        "killed_runs": killed,
        "failures": len(failures),
        "failure_examples": failures[:8],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_io = sub.add_parser("io")
    p_io.add_argument("--atoms", type=int, default=432)
    p_io.add_argument("--frames", type=int, default=20000)
    p_io.add_argument("--out", type=Path, default=None)
    p_cr = sub.add_parser("crash")
    p_cr.add_argument("--frames", type=int, default=14)
    p_cr.add_argument("--torn", action="store_true")
    p_cr.add_argument("--meta-every", type=int, default=5)
    p_cr.add_argument("--phase", choices=("append", "recovery"), default="append")
    p_cr.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        if args.cmd == "io":
            result = bench_io(out, args.atoms, args.frames)
        else:
            result = crash_sweep(out, args.frames, args.torn, args.meta_every, args.phase)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
