"""Tracer and collective mean squared displacements, FFT-based and streamed from disk.

The MSD of one time series x(t), t = 0…S−1, at lag m is

    MSD(m) = 1/(S−m) Σ_{t=0}^{S−1−m} |x(t+m) − x(t)|²  =  S1(m) − 2 S2(m)

with S1(m) = 1/(S−m) Σ_t [|x(t+m)|² + |x(t)|²] (a running sum) and S2(m) the (unnormalised
by lag count) autocorrelation 1/(S−m) Σ_t x(t)·x(t+m), computed by FFT with zero padding to ≥ 2S.
This is the O(S log S) algorithm of Kneller et al. (nMOLDYN, Comput. Phys. Commun. 91, 191 (1995);
also Calandrini et al., Collection SFN 12, 201 (2011)); it averages over every time origin, so it
equals the direct double loop to round-off.

Streaming (:func:`compute_msd`): pass 1 unwraps the trajectory chunk by chunk into an atom-major
temporary file (:func:`ionraman.transport.unwrap.unwrap_to_store`); pass 2 reads blocks of a few
atoms (whole time series) and FFTs them, so memory is bounded by the block size, not by S × N.

Conventions
-----------
* tracer MSD of a species: mean over its atoms of the per-atom MSD, Å².
* collective MSD of the mobile species: ⟨|Σ_i Δr_i(t)|²⟩ / N (Å²), the "mean squared total
  displacement" of kinisi. For uncorrelated ions it equals the tracer MSD; its slope / 6 is the
  charge (jump) diffusion coefficient D_σ of a single ionic species, and the Haven ratio is
  H_R = D* / D_σ. Charges cancel for one species with one charge.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import fft as sp_fft

from ionraman.errors import InputError
from ionraman.transport._source import TrajectoryLike, open_source, select_atoms
from ionraman.transport.unwrap import UnwrappedStore, unwrap_positions, unwrap_to_store


def _msd_fft_rows(x: np.ndarray, workers: int = 1) -> np.ndarray:
    """FFT MSD of series stored row-wise: x [K, S, D] → MSD [K, S] (lag 0 … S−1), units of x²."""
    n_rows, n_frames, n_dim = x.shape
    # one contiguous time series per row and component, so the FFTs run along the last axis
    series = np.ascontiguousarray(np.moveaxis(x, -1, -2), dtype=np.float64).reshape(-1, n_frames)
    # Removing each series' mean changes no displacement but keeps the S1 − 2 S2 cancellation small.
    series -= series.mean(axis=1, keepdims=True)
    n_fft = sp_fft.next_fast_len(2 * n_frames, real=True)
    spec = sp_fft.rfft(series, n=n_fft, axis=-1, workers=workers)
    np.multiply(spec, spec.conj(), out=spec)  # power spectrum, in place
    s2 = sp_fft.irfft(spec, n=n_fft, axis=-1, workers=workers)[:, :n_frames]
    del spec
    s2 = s2.reshape(n_rows, n_dim, n_frames).sum(axis=1)  # Σ_t x(t)·x(t+m)
    series *= series
    d = series.reshape(n_rows, n_dim, n_frames).sum(axis=1)  # |x(t)|²
    del series
    csum = np.cumsum(d, axis=-1)
    head = csum[:, ::-1]  # Σ_{t=0}^{S-1-m} d(t)
    tail = csum[:, -1:] - np.concatenate([np.zeros((n_rows, 1)), csum[:, :-1]], axis=-1)
    counts = np.arange(n_frames, 0, -1, dtype=np.float64)
    msd = (head + tail - 2.0 * s2) / counts
    msd[:, 0] = 0.0
    return msd


def msd_fft(x: np.ndarray, *, workers: int = 1) -> np.ndarray:
    """MSD of every series, averaged over all time origins, by FFT (O(S log S)).

    Parameters
    ----------
    x : ndarray, shape [S, ..., D]
        Unwrapped positions (Å) with time first and Cartesian components last, e.g. [S, N, 3] or
        [S, 3].
    workers : int
        Threads for :mod:`scipy.fft`.

    Returns
    -------
    ndarray, shape [S, ...]
        MSD (Å²) at lags 0 … S−1 (frames) of each series, summed over the D components.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise InputError(f"msd_fft needs an array [S, ..., D], got shape {x.shape}")
    rows = np.moveaxis(x, 0, -2)  # [..., S, D]
    batch = rows.shape[:-2]
    out = _msd_fft_rows(rows.reshape(-1, *rows.shape[-2:]), workers=workers)
    return np.moveaxis(out.reshape(*batch, x.shape[0]), -1, 0)


def msd_direct(x: np.ndarray, lags: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Reference MSD by the direct O(S²) loop over lags (every time origin).

    Parameters
    ----------
    x : ndarray, shape [S, ..., D]
        Unwrapped positions, Å.
    lags : sequence of int, optional
        Lags in frames (default 0 … S−1).

    Returns
    -------
    ndarray, shape [L, ...]
        MSD in Å² at the lags.
    """
    x = np.asarray(x, dtype=np.float64)
    lags = np.arange(x.shape[0]) if lags is None else np.asarray(lags, dtype=int)
    out = np.zeros((lags.size, *x.shape[1:-1]))
    for k, m in enumerate(lags):
        if m > 0:
            d = x[m:] - x[:-m]
            out[k] = np.einsum("t...d,t...d->...", d, d) / d.shape[0]
    return out


@dataclass
class MSDResult:
    """Tracer MSD per species and collective MSD of the mobile species.

    Attributes
    ----------
    time_ps : ndarray, shape [S]
        Lag times 0 … (S−1)·dt in ps.
    msd_A2 : dict[str, ndarray [S]]
        Tracer MSD per species (mean over its atoms), Å².
    n_atoms : dict[str, int]
        Atoms averaged per species.
    collective_msd_A2 : ndarray, shape [S], optional
        ⟨|Σ_i Δr_i|²⟩ / N of the mobile species, Å² (see module docstring).
    mobile : str, optional
        Species of the collective MSD.
    dt_ps : float
        Frame spacing, ps.
    info : dict
        Parameters (drift mode, streaming settings, timings).
    """

    time_ps: np.ndarray
    msd_A2: dict[str, np.ndarray]
    n_atoms: dict[str, int]
    collective_msd_A2: np.ndarray | None = None
    mobile: str | None = None
    dt_ps: float = float("nan")
    info: dict[str, Any] = field(default_factory=dict)

    def lag_rows(self, max_rows: int | None = None) -> np.ndarray:
        """Lag indices for a table: all, or ≤ ``max_rows`` (log-spaced union linear-spaced)."""
        n = self.time_ps.size
        if max_rows is None or n <= max_rows:
            return np.arange(n)
        n_log = max_rows // 4
        log_part = np.unique(np.geomspace(1, n - 1, n_log).round().astype(int))
        lin_part = np.linspace(0, n - 1, max_rows - log_part.size).round().astype(int)
        return np.unique(np.concatenate([[0], log_part, lin_part]))

    def to_dataframe(self, max_rows: int | None = None) -> pd.DataFrame:
        """Table with ``time_ps``, ``msd_<species>_A2`` and ``msd_collective_<mobile>_A2``."""
        rows = self.lag_rows(max_rows)
        data: dict[str, np.ndarray] = {"time_ps": self.time_ps[rows]}
        for sp, values in self.msd_A2.items():
            data[f"msd_{sp}_A2"] = values[rows]
        if self.collective_msd_A2 is not None:
            data[f"msd_collective_{self.mobile}_A2"] = self.collective_msd_A2[rows]
        return pd.DataFrame(data)


def default_atom_block(n_frames: int, memory_budget_mb: float = 512.0) -> int:
    """Atoms per FFT block so that pass 2 stays within ``memory_budget_mb`` (≈ 200 B per frame)."""
    per_atom = 200.0 * n_frames
    return int(max(1, min(256, memory_budget_mb * 2**20 // per_atom)))


def msd_from_store(
    store: UnwrappedStore,
    *,
    species: Sequence[str] | None = None,
    mobile: str | None = None,
    atom_block: int | None = None,
    memory_budget_mb: float = 512.0,
    workers: int = 1,
) -> MSDResult:
    """Pass 2: tracer MSD per species and collective MSD of ``mobile`` from an unwrapped store.

    Parameters
    ----------
    store : UnwrappedStore
        Output of :func:`ionraman.transport.unwrap.unwrap_to_store`.
    species : sequence of str, optional
        Species to report (default: every species in the store).
    mobile : str, optional
        Species whose collective MSD is computed (none when ``None``).
    atom_block : int, optional
        Atoms per FFT block (default from ``memory_budget_mb``).
    workers : int
        Threads for :mod:`scipy.fft`.
    """
    symbols = np.asarray(store.symbols)
    species = list(dict.fromkeys(store.symbols)) if species is None else list(species)
    block = atom_block or default_atom_block(store.n_frames, memory_budget_mb)
    msd: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    collective_sum = None
    for sp in species:
        rows = np.flatnonzero(symbols == sp)
        if rows.size == 0:
            raise InputError(f"species {sp!r} is not among the unwrapped atoms")
        total = np.zeros(store.n_frames)
        want_coll = sp == mobile
        if want_coll:
            collective_sum = np.zeros((store.n_frames, 3))
        for _, pos in store.iter_row_blocks(rows, block):
            total += _msd_fft_rows(pos, workers=workers).sum(axis=0)
            if want_coll:
                collective_sum += pos.sum(axis=0)
        msd[sp] = total / rows.size
        counts[sp] = int(rows.size)
    collective = None
    if mobile is not None:
        if collective_sum is None:
            raise InputError(f"mobile species {mobile!r} must be one of the reported species")
        collective = _msd_fft_rows(collective_sum[None], workers=workers)[0] / counts[mobile]
    time_ps = np.arange(store.n_frames) * store.dt_ps
    return MSDResult(
        time_ps=time_ps,
        msd_A2=msd,
        n_atoms=counts,
        collective_msd_A2=collective,
        mobile=mobile,
        dt_ps=store.dt_ps,
        info={
            "atom_block": block,
            "drift": store.drift,
            "n_drift_atoms": int(store.drift_atoms.size),
        },
    )


def compute_msd(
    source: str | os.PathLike[str] | np.ndarray | TrajectoryLike,
    *,
    species: str | Sequence[str] | None = None,
    mobile: str | None = "Na",
    drift: str = "framework",
    framework: str | Sequence[str] | Sequence[int] | None = None,
    chunk_frames: int = 1024,
    atom_block: int | None = None,
    memory_budget_mb: float = 512.0,
    dtype: type | np.dtype = np.float64,
    tmp_dir: str | os.PathLike[str] | None = None,
    workers: int = 1,
    cells: np.ndarray | None = None,
    times_fs: np.ndarray | None = None,
    timestep_fs: float | None = None,
    symbols: Sequence[str] | None = None,
) -> MSDResult:
    """Streamed tracer MSD per species (and collective MSD of ``mobile``) of a trajectory.

    Parameters
    ----------
    source
        ionraman store path, ASE-readable file (needs ``timestep_fs`` when it has no times), open
        reader, or wrapped positions [S, N, 3] in Å (then ``cells`` [S, 3, 3] or [3, 3] Å,
        ``symbols`` and ``times_fs`` [S] fs or ``timestep_fs`` are required).
    species : str or sequence of str, optional
        Species to report (default: all).
    mobile : str, optional
        Mobile species: excluded from the default drift framework; its collective MSD is computed
        when it is among ``species``. ``None``: no collective MSD, framework = all atoms not
        reported.
    drift, framework
        Drift removal, see :func:`ionraman.transport.unwrap.drift_reference`.
    chunk_frames, atom_block, memory_budget_mb, dtype, tmp_dir, workers
        Streaming parameters (pass 1 frames per chunk; pass 2 atoms per FFT block).

    Returns
    -------
    MSDResult
    """
    with open_source(
        source, cells=cells, times_fs=times_fs, timestep_fs=timestep_fs, symbols=symbols
    ) as traj:
        symbols_all = list(traj.symbols)
        if species is None:
            species_list = list(dict.fromkeys(symbols_all))
        else:
            species_list = [species] if isinstance(species, str) else list(species)
        atoms = select_atoms(symbols_all, species_list)
        mobile_idx = select_atoms(symbols_all, mobile) if mobile is not None else atoms
        with unwrap_to_store(
            traj,
            atoms,
            drift=drift,
            framework=framework,
            mobile=mobile_idx,
            chunk_frames=chunk_frames,
            dtype=dtype,
            tmp_dir=tmp_dir,
        ) as store:
            coll = mobile if mobile in species_list else None
            return msd_from_store(
                store,
                species=species_list,
                mobile=coll,
                atom_block=atom_block,
                memory_budget_mb=memory_budget_mb,
                workers=workers,
            )


# ------------------------------------------------------------------------------------------------
# Benchmark
# ------------------------------------------------------------------------------------------------
def _na3sbs4_like_numbers(n_atoms: int) -> np.ndarray:
    """Atomic numbers of an Na3SbS4-like cell (3 Na : 1 Sb : 4 S), padded with S."""
    n_fu = n_atoms // 8
    numbers = [11] * (3 * n_fu) + [51] * n_fu + [16] * (n_atoms - 4 * n_fu)
    return np.array(numbers, dtype=int)


def write_random_walk_store(
    path: str | os.PathLike[str],
    n_atoms: int,
    n_frames: int,
    *,
    dt_fs: float = 10.0,
    box_A: float = 21.0,
    step_sigma_A: tuple[float, float] = (0.15, 0.03),
    chunk_frames: int = 1024,
    seed: int = 0,
) -> dict[str, float]:
    """Write a synthetic wrapped random-walk trajectory with the store writer.

    Na atoms take Gaussian steps of σ = ``step_sigma_A[0]`` Å per component per frame (so
    D = σ² / (2 dt)), the other atoms ``step_sigma_A[1]``; positions are wrapped into a cubic box.

    Returns
    -------
    dict
        ``{"D_Na_A2_ps": …, "write_s": …, "dt_fs": …}``.
    """
    from ionraman.trajectory import TrajectoryWriter

    numbers = _na3sbs4_like_numbers(n_atoms)
    rng = np.random.default_rng(seed)
    sigma = np.where(numbers == 11, step_sigma_A[0], step_sigma_A[1])[None, :, None]
    cell = np.eye(3) * box_A
    pos = rng.uniform(0, box_A, size=(n_atoms, 3))
    t0 = time.perf_counter()
    with TrajectoryWriter(
        path, numbers, metadata={"timestep_fs": dt_fs, "sampling_interval_fs": dt_fs}
    ) as writer:
        for i0 in range(0, n_frames, chunk_frames):
            n = min(chunk_frames, n_frames - i0)
            steps = rng.normal(size=(n, n_atoms, 3)) * sigma
            if i0 == 0:
                steps[0] = 0.0
            traj = pos + np.cumsum(steps, axis=0)
            pos = traj[-1]
            writer.append_many(
                np.mod(traj, box_A),
                np.broadcast_to(cell, (n, 3, 3)),
                (i0 + np.arange(n)) * dt_fs,
            )
    d_na = step_sigma_A[0] ** 2 / (2 * dt_fs / 1000.0)
    return {"D_Na_A2_ps": d_na, "write_s": time.perf_counter() - t0, "dt_fs": dt_fs}


def _peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux, B on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def _current_rss_mib() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # pragma: no cover - non-Linux
        return float("nan")


def _benchmark_child(path: str, kwargs: dict, queue: Any) -> None:
    """Run :func:`compute_msd` on ``path`` in a fresh process and report time and memory."""
    try:
        baseline = _current_rss_mib()
        tracemalloc.start()
        t0 = time.perf_counter()
        res = compute_msd(path, **kwargs)
        elapsed = time.perf_counter() - t0
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        queue.put(
            {
                "time_s": elapsed,
                "peak_rss_MiB": _peak_rss_mib(),
                "baseline_rss_MiB": baseline,
                "tracemalloc_peak_MiB": traced_peak / 2**20,
                "msd_Na_last_A2": float(res.msd_A2["Na"][-1]) if "Na" in res.msd_A2 else None,
                "msd": {k: v for k, v in res.msd_A2.items()},
            }
        )
    except BaseException as exc:  # report, don't hang the parent
        queue.put({"error": repr(exc)})


def _run_in_child(path: str, kwargs: dict) -> dict:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_benchmark_child, args=(path, kwargs, queue))
    proc.start()
    out = queue.get()
    proc.join()
    if "error" in out:
        raise RuntimeError(f"benchmark child failed: {out['error']}")
    return out


def benchmark_msd(
    n_atoms: int = 432,
    n_frames: int = 100_000,
    *,
    reference_frames: int = 2000,
    chunk_frames: int = 1024,
    workers: int = 1,
    tmp_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, Any]:
    """Time and memory of the streamed tracer MSD against a plain NumPy reference.

    1. Writes a wrapped random-walk store (Na3SbS4-like composition) of ``n_atoms`` × ``n_frames``
       to a temporary directory with :class:`ionraman.trajectory.TrajectoryWriter`.
    2. Runs :func:`compute_msd` (tracer MSD of every species + collective Na MSD, framework drift
       removal, streamed from HDF5) in a fresh process; reports wall time, peak RSS
       (``ru_maxrss``, includes the interpreter and imported libraries), the RSS before the call and
       the tracemalloc peak (NumPy buffers).
    3. On ``n_atoms`` × ``reference_frames`` frames: the direct O(S²) NumPy MSD (in memory, all
       lags) versus :func:`msd_fft` in memory and the streamed path; max |difference| and the
       time ratio, plus the direct time extrapolated to ``n_frames`` (∝ S²).

    Returns
    -------
    dict
        All numbers (seconds, MiB, Å²); also printed when ``verbose``.
    """
    out: dict[str, Any] = {"n_atoms": n_atoms, "n_frames": n_frames, "workers": workers}
    with tempfile.TemporaryDirectory(prefix="ionraman-bench-", dir=tmp_dir) as tmp:
        big = str(Path(tmp) / "walk.h5")
        info = write_random_walk_store(big, n_atoms, n_frames, chunk_frames=chunk_frames, seed=seed)
        out["write_store_s"] = info["write_s"]
        out["store_MiB"] = Path(big).stat().st_size / 2**20
        kwargs = {"chunk_frames": chunk_frames, "workers": workers, "tmp_dir": tmp}
        child = _run_in_child(big, kwargs)
        out["streamed"] = {k: v for k, v in child.items() if k != "msd"}
        # D from the streamed MSD (simple check: slope over the middle of the run).
        dt_ps = info["dt_fs"] / 1000.0
        msd_na = child["msd"]["Na"]
        lag = np.arange(msd_na.size)
        sel = (lag > 0.05 * n_frames) & (lag < 0.5 * n_frames)
        slope = np.polyfit(lag[sel] * dt_ps, msd_na[sel], 1)[0]
        out["D_Na_true_A2_ps"] = info["D_Na_A2_ps"]
        out["D_Na_fit_A2_ps"] = slope / 6.0
        Path(big).unlink()

        small = str(Path(tmp) / "walk_small.h5")
        write_random_walk_store(small, n_atoms, reference_frames, chunk_frames=chunk_frames, seed=1)
        from ionraman.trajectory import open_trajectory

        with open_trajectory(small) as traj:
            pos = traj.read("positions")
            cells = traj.read("cells")
            symbols = np.asarray(traj.symbols)
        t0 = time.perf_counter()
        unwrapped = unwrap_positions(pos, cells)
        ref = msd_direct(unwrapped)  # [S, N]
        t_direct = time.perf_counter() - t0
        t0 = time.perf_counter()
        fft_mem = msd_fft(unwrap_positions(pos, cells), workers=workers)
        t_fft_mem = time.perf_counter() - t0
        t0 = time.perf_counter()
        streamed = compute_msd(small, mobile=None, drift="none", **kwargs)
        t_stream_small = time.perf_counter() - t0
        ref_na = ref[:, symbols == "Na"].mean(axis=1)
        out["reference"] = {
            "n_frames": reference_frames,
            "direct_numpy_s": t_direct,
            "fft_in_memory_s": t_fft_mem,
            "streamed_s": t_stream_small,
            "direct_over_fft_in_memory": t_direct / t_fft_mem,
            "direct_over_streamed": t_direct / t_stream_small,
            "max_abs_diff_fft_vs_direct_A2": float(np.max(np.abs(fft_mem - ref))),
            "max_abs_diff_streamed_vs_direct_Na_A2": float(
                np.max(np.abs(streamed.msd_A2["Na"] - ref_na))
            ),
            "direct_extrapolated_to_full_s": t_direct * (n_frames / reference_frames) ** 2,
        }
    if verbose:
        s = out["streamed"]
        r = out["reference"]
        print(
            f"streamed tracer MSD, {n_atoms} atoms x {n_frames} frames: {s['time_s']:.1f} s, "
            f"peak RSS {s['peak_rss_MiB']:.0f} MiB (baseline {s['baseline_rss_MiB']:.0f} MiB, "
            f"tracemalloc peak {s['tracemalloc_peak_MiB']:.0f} MiB); store write "
            f"{out['write_store_s']:.1f} s, {out['store_MiB']:.0f} MiB\n"
            f"D_Na fit {out['D_Na_fit_A2_ps']:.4g} vs true {out['D_Na_true_A2_ps']:.4g} A^2/ps\n"
            f"reference ({reference_frames} frames): direct O(S^2) {r['direct_numpy_s']:.2f} s, "
            f"FFT in memory {r['fft_in_memory_s']:.3f} s, streamed {r['streamed_s']:.3f} s; "
            f"max |FFT - direct| {r['max_abs_diff_fft_vs_direct_A2']:.2e} A^2; direct "
            f"extrapolated to {n_frames} frames {r['direct_extrapolated_to_full_s']:.0f} s"
        )
    return out

