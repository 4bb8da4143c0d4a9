"""One reading interface for trajectories given as arrays or as an ionraman store (or ASE file).

Every transport function accepts either NumPy arrays or a path. :func:`open_source` turns both
into an object with the reading API of :class:`ionraman.trajectory.Trajectory` (``n_frames``,
``n_atoms``, ``numbers``, ``symbols``, ``times_fs``, ``sampling_interval_fs``, ``metadata``,
``read`` and ``iter_chunks``), so the streaming code is written once.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from ionraman.conventions import MIN_INTERATOMIC_DISTANCE_A
from ionraman.errors import InputError

STORE_SUFFIXES = (".h5", ".hdf5")


class TrajectoryLike(Protocol):
    """The subset of :class:`ionraman.trajectory.Trajectory` the transport code reads."""

    numbers: np.ndarray
    symbols: list[str]
    n_frames: int
    n_atoms: int
    times_fs: np.ndarray
    sampling_interval_fs: float
    metadata: dict

    def read(
        self, field: str, start: int = 0, stop: int | None = None, atoms: Any = None
    ) -> np.ndarray: ...

    def iter_chunks(
        self,
        field: str = "positions",
        chunk_frames: int = 1024,
        start: int = 0,
        stop: int | None = None,
        atoms: Any = None,
    ) -> Iterator[tuple[int, np.ndarray]]: ...


@dataclass
class ArrayTrajectory:
    """In-memory trajectory with the reading API of the HDF5 store.

    Parameters
    ----------
    positions : ndarray, shape [S, N, 3]
        Cartesian positions in Å (wrapped or unwrapped).
    cells : ndarray, shape [S, 3, 3] or [3, 3]
        Cell vectors as rows (ASE convention), Å. A single [3, 3] cell is used for every frame.
    times_fs : ndarray, shape [S]
        Frame times in fs.
    numbers : ndarray, shape [N]
        Atomic numbers.
    metadata : dict
        Free metadata (``temperature_K`` is read from here when present).
    """

    positions: np.ndarray
    cells: np.ndarray
    times_fs: np.ndarray
    numbers: np.ndarray
    metadata: dict = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        self.positions = np.asarray(self.positions, dtype=float)
        if self.positions.ndim != 3 or self.positions.shape[2] != 3:
            raise InputError(f"positions must have shape [S, N, 3], got {self.positions.shape}")
        n_frames, n_atoms = self.positions.shape[:2]
        cells = np.asarray(self.cells, dtype=float)
        if cells.shape == (3, 3):
            cells = np.broadcast_to(cells, (n_frames, 3, 3))
        if cells.shape != (n_frames, 3, 3):
            raise InputError(
                f"cells must have shape [3, 3] or [{n_frames}, 3, 3], got {cells.shape}"
            )
        self.cells = cells
        self.times_fs = np.asarray(self.times_fs, dtype=float)
        if self.times_fs.shape != (n_frames,):
            raise InputError(f"times_fs must have shape [{n_frames}], got {self.times_fs.shape}")
        self.numbers = np.asarray(self.numbers, dtype=int)
        if self.numbers.shape != (n_atoms,):
            raise InputError(f"numbers must have shape [{n_atoms}], got {self.numbers.shape}")

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def n_atoms(self) -> int:
        return int(self.positions.shape[1])

    @property
    def symbols(self) -> list[str]:
        return [chemical_symbols[z] for z in self.numbers]

    @property
    def sampling_interval_fs(self) -> float:
        if self.n_frames < 2:
            return float("nan")
        return float(np.median(np.diff(self.times_fs)))

    def read(
        self, field: str, start: int = 0, stop: int | None = None, atoms: Any = None
    ) -> np.ndarray:
        """Frames ``start:stop`` of ``field`` (positions, cells or times_fs)."""
        if field == "positions":
            block = self.positions[start:stop]
            return block if atoms is None else block[:, atoms]
        if field == "cells":
            return np.array(self.cells[start:stop])
        if field == "times_fs":
            return self.times_fs[start:stop]
        raise InputError(f"array trajectory has no field {field!r}")

    def iter_chunks(
        self,
        field: str = "positions",
        chunk_frames: int = 1024,
        start: int = 0,
        stop: int | None = None,
        atoms: Any = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first frame index, block)`` over frames ``start:stop`` in blocks."""
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        for i0 in range(start, stop, chunk_frames):
            yield i0, self.read(field, i0, min(i0 + chunk_frames, stop), atoms)

    def close(self) -> None:
        """Nothing to release (kept for API symmetry)."""


def check_frames(positions: np.ndarray, cells: np.ndarray, first: int, source: str) -> None:
    """Raise :class:`InputError` unless every frame of a block has finite positions and a cell.

    Parameters
    ----------
    positions
        Block of positions ``[F, N, 3]``, Å.
    cells
        The block's cells ``[F, 3, 3]``, Å.
    first
        Index of the block's first frame in the trajectory (for the message).
    source
        Name of the trajectory, for the message.
    """
    finite = np.isfinite(positions).reshape(len(positions), -1).all(axis=1)
    if not finite.all():
        k = first + int(np.argmin(finite))
        raise InputError(
            f"{source}: frame {k}: atomic positions contain NaN or infinite values; expected "
            "finite positions in Å"
        )
    volumes = np.abs(np.linalg.det(np.nan_to_num(cells)))
    has_cell = np.isfinite(cells).reshape(len(cells), -1).all(axis=1) & (volumes > 1e-6)
    if not has_cell.all():
        k = first + int(np.argmin(has_cell))
        raise InputError(
            f"{source}: frame {k} has no 3D cell (volume {volumes[k - first]:.3g} Å^3); "
            "transport analysis needs the periodic cell (for extxyz a Lattice= entry)"
        )


def check_trajectory(
    traj: TrajectoryLike,
    source: str,
    *,
    min_distance_A: float = MIN_INTERATOMIC_DISTANCE_A,
    chunk_frames: int = 1024,
) -> None:
    """Check a trajectory before any analysis: every frame passes :func:`check_frames` (read in
    chunks) and frame 0 has no two atoms closer than ``min_distance_A`` Å
    (:func:`ionraman.structures.validate.check_min_distance`; 0 skips it)."""
    from ase import Atoms

    from ionraman.structures.validate import check_min_distance

    cells = np.asarray(traj.read("cells"))
    for i0, positions in traj.iter_chunks("positions", chunk_frames):
        check_frames(positions, cells[i0 : i0 + len(positions)], i0, source)
    first = traj.read("positions", 0, 1)[0]
    atoms = Atoms(numbers=traj.numbers, positions=first, cell=cells[0], pbc=True)
    check_min_distance(atoms, min_distance_A, source=f"{source}: frame 0")


def symbols_to_numbers(symbols: Sequence[str]) -> np.ndarray:
    """Atomic numbers [N] from chemical symbols."""
    try:
        return np.array([atomic_numbers[s] for s in symbols], dtype=int)
    except KeyError as exc:
        raise InputError(f"unknown chemical symbol {exc.args[0]!r}") from None


@contextlib.contextmanager
def open_source(
    source: str | os.PathLike[str] | np.ndarray | TrajectoryLike,
    *,
    cells: np.ndarray | None = None,
    times_fs: np.ndarray | None = None,
    timestep_fs: float | None = None,
    symbols: Sequence[str] | None = None,
    numbers: np.ndarray | None = None,
    metadata: dict | None = None,
    work_dir: str | os.PathLike[str] | None = None,
) -> Iterator[TrajectoryLike]:
    """Open ``source`` as a trajectory reader; close it (and any temporary import) afterwards.

    Parameters
    ----------
    source
        An ionraman HDF5 store (``.h5``/``.hdf5``), any file ASE can read (imported first with
        :func:`ionraman.trajectory.import_trajectory`, which needs ``timestep_fs`` when the file
        has no times), an already open reader, or positions [S, N, 3] in Å.
    cells : ndarray, shape [S, 3, 3] or [3, 3], optional
        Cells in Å, required with array positions.
    times_fs : ndarray, shape [S], optional
        Frame times in fs (array input); otherwise ``timestep_fs`` × frame index.
    timestep_fs : float, optional
        Time between stored frames in fs (array input, or ASE files without times).
    symbols, numbers : optional
        Chemical identity of the N atoms (array input; one of them is required).
    metadata : dict, optional
        Metadata of an array input (e.g. ``{"temperature_K": 600}``).
    work_dir : path, optional
        Where an imported ASE trajectory is stored (default: a temporary directory, removed after).
    """
    if isinstance(source, np.ndarray):
        positions = source
        if cells is None:
            raise InputError("cells are required when positions are given as an array")
        if times_fs is None:
            if timestep_fs is None or timestep_fs <= 0:
                raise InputError("times_fs or a positive timestep_fs is required for array input")
            times_fs = np.arange(positions.shape[0], dtype=float) * float(timestep_fs)
        if numbers is None:
            if symbols is None:
                raise InputError("symbols or numbers are required for array input")
            numbers = symbols_to_numbers(symbols)
        yield ArrayTrajectory(positions, cells, times_fs, numbers, dict(metadata or {}))
        return
    if not isinstance(source, (str, os.PathLike)):
        yield source  # already a reader
        return
    from ionraman.trajectory import import_trajectory, open_trajectory

    path = Path(source)
    if not path.exists():
        raise InputError(f"trajectory file not found: {path}")
    if path.suffix.lower() in STORE_SUFFIXES:
        traj = open_trajectory(path)
        try:
            yield traj
        finally:
            traj.close()
        return
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="ionraman-import-"))
        dest = Path(work_dir) / f"{path.stem}.h5"
        import_trajectory(path, dest, timestep_fs=timestep_fs)
        traj = open_trajectory(dest)
        try:
            yield traj
        finally:
            traj.close()


def select_atoms(
    symbols: Sequence[str], species: str | Sequence[str] | Sequence[int]
) -> np.ndarray:
    """Sorted atom indices [M] of the given species symbol(s), or the given indices themselves."""
    if isinstance(species, str):
        species = [species]
    species = list(species)
    if all(isinstance(s, (int, np.integer)) for s in species):
        idx = np.unique(np.asarray(species, dtype=int))
        if idx.size and (idx.min() < 0 or idx.max() >= len(symbols)):
            raise InputError(f"atom indices must lie in [0, {len(symbols) - 1}], got {species}")
        return idx
    idx = np.flatnonzero(np.isin(np.asarray(symbols), np.asarray(species, dtype=str)))
    if idx.size == 0:
        present = ", ".join(sorted(set(symbols)))
        raise InputError(f"species {species} not found in the trajectory (present: {present})")
    return idx


def frame_times_ps(times_fs: np.ndarray, *, source_name: str = "trajectory") -> float:
    """Uniform frame spacing in ps from frame times [S] in fs (InputError when not uniform)."""
    times_fs = np.asarray(times_fs, dtype=float)
    if times_fs.size < 2:
        raise InputError(f"{source_name}: at least 2 frames are needed, got {times_fs.size}")
    dt = np.diff(times_fs)
    step = float(np.median(dt))
    if step <= 0 or not np.allclose(dt, step, rtol=1e-6, atol=1e-9 * abs(step)):
        raise InputError(
            f"{source_name}: frame times must be uniformly spaced and increasing "
            f"(spacing from {dt.min():.6g} to {dt.max():.6g} fs)"
        )
    from ionraman.conventions import FS_PER_PS

    return step / FS_PER_PS
