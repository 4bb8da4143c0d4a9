"""Trajectory store: an HDF5 file that MD appends to frame by frame and analyses stream from.

Layout (format ``"ionraman-trajectory"``, version 1)
----------------------------------------------------
==================  ===============  =====================================================
dataset             shape            unit
==================  ===============  =====================================================
``numbers``         [N] int64        atomic numbers
``positions``       [S, N, 3] f8     Å (Cartesian, as the MD wrote them: wrapped or not)
``cells``           [S, 3, 3] f8     Å, cell vectors as rows (ASE convention)
``times_fs``        [S] f8           fs
``velocities``      [S, N, 3] f8     Å/fs (optional)
``polarizability``  [S, 3, 3] f8     Å³, full tensor α_ij of the whole cell (optional)
==================  ===============  =====================================================

Root attributes: ``format``, ``format_version``, ``n_frames`` (the committed frame count: the only
frames a reader may use; written last at each flush), ``metadata_json`` (a JSON dict:
``temperature_K``, ``timestep_fs`` (MD step), ``sampling_interval_fs``, ``units``, ``provenance``
and anything else) and ``pbc`` (3 booleans). A dataset may hold rows beyond ``n_frames`` (left by
a crash, or being written right now); they are never read.

Chunking
--------
Per-atom datasets are chunked ``(F, A, 3)`` with ``A = min(N, 64)`` atoms and
``F = clip(4096 / A, 64, 1024)`` frames (64 × 64 atoms for N ≥ 64: 96 KiB per chunk, inside
HDF5's recommended 10 KiB–1 MiB). Why:

* appending one frame touches one row of ⌈N/A⌉ chunks, which stay in the writer's chunk cache
  until full; a flush rewrites that row (F·N·24 bytes, 0.66 MiB for N = 432), in place because
  chunks are uncompressed (float positions barely compress and compressed chunks would be
  re-allocated at every flush);
* reading all frames of a subset of atoms (e.g. the Na sublattice) reads only the atom blocks
  that contain those atoms, in chunk-aligned slabs (see :meth:`Trajectory.read`);
* reading one frame reads ⌈N/A⌉ chunks (≈ 0.7 MiB for N = 432), cheap enough for ``get_atoms``.

Per-frame datasets (cells, times, polarizability) are chunked by 1024 frames.

Crash safety
------------
An MD process may be killed (SIGKILL, out-of-memory, wall-time limit) at any moment. The writer
therefore

1. writes in HDF5 SWMR mode (single writer / multiple readers, ``libver`` v1.10 file format):
   the library then flushes metadata in dependency order, so the bytes on disk always form a
   valid file — the guarantee SWMR readers rely on, which is exactly the state a killed writer
   leaves behind (see the h5py SWMR documentation);
2. commits a flush in two steps: data rows and dataset extents are flushed first, then the
   ``n_frames`` attribute is raised and flushed, so frames beyond ``n_frames`` are never trusted;
3. holds an exclusive ``flock`` on a sidecar ``.<name>.lock`` file (released by the kernel when
   the process dies), so a second writer is refused instead of corrupting the store.

A killed SWMR writer leaves the superblock's "open for writing" flags set. Readers then open the
file in SWMR-read mode (which ignores them); ``TrajectoryWriter(..., append=True)`` and
:func:`write_polarizability` rebuild the store from its committed frames into a new file that
atomically replaces the old one (cost: one sequential copy, e.g. ≈ 1 GiB for 432 atoms ×
1e5 frames with velocities). HDF5 has no public call to clear the flags (``h5clear`` uses a
private property), so this copy is the portable way back to a writable file. The test suite
SIGKILLs appending subprocesses at random times; ``benchmarks/trajectory_io.py`` also kills a
writer before every single ``pwrite`` of a run (LD_PRELOAD shim) and checks every outcome.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
from ase.data import chemical_symbols

from ionraman._io import atomic_path, file_sha256, first_line, json_default, provenance
from ionraman._process import LockHolder
from ionraman.conventions import UNITS, to_matrix
from ionraman.errors import InputError

if TYPE_CHECKING:
    from ase import Atoms

try:  # POSIX only; on other systems the writer runs without the sidecar lock
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Trajectory",
    "TrajectoryWriter",
    "chunk_shape",
    "import_trajectory",
    "open_trajectory",
    "write_polarizability",
]

FORMAT = "ionraman-trajectory"
FORMAT_VERSION = 1

PER_ATOM_FIELDS = ("positions", "velocities")
PER_FRAME_FIELDS = ("cells", "times_fs", "polarizability")
FRAME_FIELDS = (*PER_ATOM_FIELDS, *PER_FRAME_FIELDS)
_FRAME_SHAPES: dict[str, tuple[int, ...]] = {
    "cells": (3, 3),
    "times_fs": (),
    "polarizability": (3, 3),
}

FIELD_UNITS: dict[str, str] = {
    "positions": UNITS["length"],
    "cells": UNITS["length"],
    "times_fs": UNITS["time"],
    "velocities": UNITS["velocity"],
    "polarizability": UNITS["polarizability"],
}
"""Unit of every stored field (recorded in ``metadata["units"]``)."""

# SWMR needs the 1.10 file format; pinning both bounds to v110 keeps the files readable by any
# HDF5 >= 1.10 instead of the newest format the installed library happens to know.
_LIBVER = ("v110", "v110")
_ATOM_BLOCK = 64
_FRAME_BLOCK_PER_FRAME_FIELD = 1024
_READ_CACHE_BYTES = 16 * 2**20


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def chunk_shape(field_name: str, n_atoms: int) -> tuple[int, ...]:
    """HDF5 chunk shape used for ``field_name`` in a store of ``n_atoms`` atoms (see module doc)."""
    if field_name in PER_ATOM_FIELDS:
        atoms = max(1, min(n_atoms, _ATOM_BLOCK))
        frames = int(np.clip(4096 // atoms, 64, 1024))
        return (frames, atoms, 3)
    return (_FRAME_BLOCK_PER_FRAME_FIELD, *_FRAME_SHAPES[field_name])


def _frame_shape(field_name: str, n_atoms: int) -> tuple[int, ...]:
    return (n_atoms, 3) if field_name in PER_ATOM_FIELDS else _FRAME_SHAPES[field_name]


def _dump_metadata(meta: Mapping[str, Any], where: Path) -> str:
    try:
        return json.dumps(dict(meta), default=json_default, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: metadata is not JSON serialisable ({exc})") from None


def _metadata_capacity(n_bytes: int) -> int:
    return 1 << max(12, (2 * n_bytes - 1).bit_length())


def _write_metadata(f: h5py.File, meta: Mapping[str, Any], where: Path) -> None:
    """Store ``meta`` as the ``metadata_json`` attribute: fixed-length ASCII padded with spaces.

    A fixed-length string is rewritten in place (one object-header write, like ``n_frames``),
    whereas a variable-length string lives in the global heap and is re-allocated at every
    update; killing a writer between those two writes left unreadable stores in the crash
    sweep. Capacity is a power of two ≥ 4 KiB and ≥ 2× the text; a text that outgrows it
    recreates the attribute (the rare case not covered by the crash guarantee).
    """
    raw = _dump_metadata(meta, where).encode("ascii")  # json.dumps escapes non-ASCII
    if "metadata_json" in f.attrs:
        dtype = f.attrs.get_id("metadata_json").dtype
        if dtype.kind == "S" and dtype.itemsize >= len(raw):
            f.attrs.modify("metadata_json", np.bytes_(raw.ljust(dtype.itemsize)))
            return
        del f.attrs["metadata_json"]
    cap = _metadata_capacity(len(raw))
    f.attrs.create("metadata_json", np.bytes_(raw.ljust(cap)), dtype=f"S{cap}")


def _read_metadata(f: h5py.File, where: Path) -> dict:
    value = f.attrs["metadata_json"]
    if isinstance(value, bytes | np.bytes_):
        value = value.decode("utf-8", errors="replace")
    try:
        meta = json.loads(str(value))
    except ValueError:
        raise InputError(f"{where}: metadata_json attribute is not valid JSON") from None
    if not isinstance(meta, dict):
        raise InputError(f"{where}: metadata_json attribute is not a JSON object")
    return meta


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _flags_set(exc: OSError) -> bool:
    """True when h5py refused a file because its superblock says a writer still has it open."""
    return "already open for write" in str(exc)


_ACCESS_DENIED = ("Permission denied", "Read-only file system", "errno = 13", "errno = 30")
"""Parts of the messages of h5py's OSError when the file may not be opened as asked."""


def _open_h5_read(path: Path) -> h5py.File:
    """Open for reading; fall back to SWMR-read for a store being written or left by a crash."""
    try:
        return h5py.File(path, "r", rdcc_nbytes=_READ_CACHE_BYTES)
    except OSError as exc:
        if not _flags_set(exc):
            raise
    return h5py.File(path, "r", swmr=True, rdcc_nbytes=_READ_CACHE_BYTES)


def _bad_store(path: Path, exc: BaseException) -> InputError:
    if any(why in str(exc) for why in _ACCESS_DENIED):
        return InputError(
            f"{path}: permission denied opening the HDF5 trajectory store (a read-only file, "
            "folder or file system?); expected a store this user may read and, to add results "
            "to it, write"
        )
    return InputError(
        f"{path}: cannot read the HDF5 trajectory store (truncated or corrupt?): {first_line(exc)}"
    )


def _check_format(f: h5py.File, path: Path) -> None:
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT:
        raise InputError(
            f"{path}: HDF5 file is not an ionraman trajectory store "
            f"(root attribute format={fmt!r}, expected {FORMAT!r})"
        )
    version = int(f.attrs.get("format_version", -1))
    if version != FORMAT_VERSION:
        raise InputError(
            f"{path}: trajectory store format_version={version}; this ionraman reads "
            f"version {FORMAT_VERSION}"
        )


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


class _WriterLock:
    """Exclusive advisory lock on ``.<name>.lock`` beside a store; the kernel drops it on death.

    The lock file records the holder (:class:`~ionraman._process.LockHolder`: pid, host, Slurm
    job), so a refused writer names it. A lock whose holder is known to be gone (its Slurm job
    ended; on this host, its process dead) but still appears held (a network file system that
    keeps a dead client's lock, a hung process of a cancelled job) is broken: the lock file is
    replaced by a fresh one.
    """

    def __init__(self, path: Path) -> None:
        self.path = _lock_path(path)
        self._fd: int | None = None
        if fcntl is None:  # pragma: no cover
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(2):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = LockHolder.decode(os.read(fd, 256).decode(errors="replace"))
                os.close(fd)
                if attempt == 0 and holder is not None and holder.gone():
                    with contextlib.suppress(OSError):
                        self.path.unlink()  # stale: the next open makes a new, unlocked file
                    continue
                who = holder.describe() if holder else "unknown"
                job = holder.job if holder else ""
                hint = f"; if that job is stuck, scancel {job}" if job else ""
                raise InputError(
                    f"{path}: another process ({who}) is writing this trajectory store{hint}"
                ) from None
            except OSError:  # file system without flock support (some network file systems)
                os.close(fd)
                return
            os.ftruncate(fd, 0)
            os.write(fd, LockHolder.current().encode().encode())
            self._fd = fd
            return

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)  # closing the descriptor drops the flock
        self._fd = None


def _open_h5_write(path: Path, rdcc_nbytes: int = _READ_CACHE_BYTES) -> h5py.File:
    """Open an existing store read-write; rebuild it first if a killed writer left it flagged.

    The caller must hold the :class:`_WriterLock`, so a flagged file cannot belong to a live
    writer.
    """
    try:
        f = h5py.File(path, "r+", libver=_LIBVER, rdcc_nbytes=rdcc_nbytes, rdcc_nslots=10007)
    except OSError as exc:
        if not _flags_set(exc):
            raise _bad_store(path, exc) from None
        _recover_store(path)
        f = h5py.File(path, "r+", libver=_LIBVER, rdcc_nbytes=rdcc_nbytes, rdcc_nslots=10007)
    try:
        _check_format(f, path)
    except InputError:
        f.close()
        raise
    return f


def _recover_store(path: Path, block_frames: int = 1024) -> None:
    """Copy the committed frames of a store left by a killed writer into a fresh file.

    The copy is written beside ``path`` and renamed onto it, so a crash during recovery leaves
    the original untouched. Rows beyond ``n_frames`` are dropped.
    """
    try:
        src = h5py.File(path, "r", swmr=True)
    except OSError as exc:
        raise _bad_store(path, exc) from None
    with src, atomic_path(path) as tmp:
        _check_format(src, path)
        n = int(src.attrs["n_frames"])
        meta = _read_metadata(src, path)
        dropped = {name: int(src[name].shape[0]) - n for name in FRAME_FIELDS if name in src}
        meta.setdefault("recoveries", []).append(
            {"utc": _utc_now(), "n_frames": n, "dropped_rows": max(dropped.values(), default=0)}
        )
        with h5py.File(tmp, "w", libver=_LIBVER) as dst:
            for key, value in src.attrs.items():
                if key != "metadata_json":
                    dst.attrs[key] = value
            _write_metadata(dst, meta, path)
            for name, obj in src.items():
                if name not in FRAME_FIELDS:
                    src.copy(obj, dst, name=name)
                    continue
                shape = obj.shape[1:]
                ds = dst.create_dataset(
                    name,
                    shape=(n, *shape),
                    maxshape=(None, *shape),
                    dtype=obj.dtype,
                    chunks=obj.chunks or True,
                )
                for i0 in range(0, n, block_frames):
                    i1 = min(i0 + block_frames, n)
                    ds[i0:i1] = obj[i0:i1]


# ----------------------------------------------------------------------------------------------
# writer
# ----------------------------------------------------------------------------------------------
class TrajectoryWriter:
    """Append frames to a trajectory store while a run proceeds (crash safe, see module doc).

    Parameters
    ----------
    path
        Store to create (``append=False``: an existing file is replaced) or to continue.
    numbers
        Atomic numbers, shape ``[N]``.
    metadata
        JSON-serialisable dict stored in ``metadata_json`` (``temperature_K``, ``timestep_fs`` of
        the MD, ``sampling_interval_fs``, ...). On creation ``units`` and ``provenance`` (from
        :func:`ionraman._io.provenance`) are added unless given; with ``append=True`` the items
        are merged into the existing metadata.
    append
        Continue an existing store after its committed frames (frames beyond the committed count,
        left by a crash, are dropped). The atomic numbers and the optional fields must match. If
        ``path`` does not exist a new store is created.
    velocities, polarizability
        Whether frames carry velocities (Å/fs, ``[N, 3]``) and polarizabilities (Å³, ``[3, 3]``).
    pbc
        Periodic boundary flags (3 booleans), stored as the ``pbc`` attribute.
    flush_every
        Frames kept in memory before a commit; frames not yet committed are lost if the process
        dies.

    Notes
    -----
    Frame times must increase strictly; appending a time ≤ the last one raises
    :class:`InputError`, which catches a resumed run that forgot to :meth:`truncate`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        numbers: np.ndarray,
        *,
        metadata: dict | None = None,
        append: bool = False,
        velocities: bool = False,
        polarizability: bool = False,
        pbc: tuple[bool, bool, bool] | np.ndarray = (True, True, True),
        flush_every: int = 1,
    ) -> None:
        self.path = Path(path)
        numbers = np.asarray(numbers)
        if numbers.ndim != 1 or numbers.size == 0 or not np.issubdtype(numbers.dtype, np.integer):
            raise InputError(
                f"{self.path}: numbers must be a non-empty 1-D integer array, got shape "
                f"{numbers.shape} dtype {numbers.dtype}"
            )
        if numbers.min() < 1 or numbers.max() >= len(chemical_symbols):
            raise InputError(
                f"{self.path}: atomic numbers must lie in 1..{len(chemical_symbols) - 1}"
            )
        if int(flush_every) < 1:
            raise InputError(f"flush_every must be >= 1, got {flush_every}")
        self.numbers = numbers.astype(np.int64)
        self.n_atoms = int(numbers.size)
        self.flush_every = int(flush_every)
        self._fields = ["positions", "cells", "times_fs"]
        if velocities:
            self._fields.append("velocities")
        if polarizability:
            self._fields.append("polarizability")
        self._pending: dict[str, list[np.ndarray]] = {name: [] for name in self._fields}
        self._n_pending = 0
        self._file: h5py.File | None = None
        self._lock = _WriterLock(self.path)
        try:
            if append and self.path.exists():
                self._committed, self._last_time = self._open_existing(metadata)
            else:
                self._create(metadata, pbc)
                self._committed, self._last_time = 0, -math.inf
                self._file = self._open_swmr()
        except BaseException:
            if self._file is not None:
                self._file.close()
            self._lock.release()
            raise

    # -- set-up ----------------------------------------------------------------------------------
    def _writer_cache_bytes(self) -> int:
        # the row of chunks being filled of every per-atom dataset must stay cached
        frames = chunk_shape("positions", self.n_atoms)[0]
        return max(_READ_CACHE_BYTES, 4 * frames * self.n_atoms * 3 * 8)

    def _create(self, metadata: dict | None, pbc: Any) -> None:
        meta: dict[str, Any] = {"units": dict(FIELD_UNITS)}
        meta.update(metadata or {})
        meta.setdefault("provenance", provenance())
        pbc_arr = np.asarray(pbc, dtype=bool).reshape(-1)
        if pbc_arr.shape != (3,):
            raise InputError(f"{self.path}: pbc must be 3 booleans, got {pbc!r}")
        with atomic_path(self.path) as tmp, h5py.File(tmp, "w", libver=_LIBVER) as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = np.int64(FORMAT_VERSION)
            f.attrs["n_frames"] = np.int64(0)
            _write_metadata(f, meta, self.path)
            f.attrs["pbc"] = pbc_arr
            f.create_dataset("numbers", data=self.numbers)
            for name in self._fields:
                shape = _frame_shape(name, self.n_atoms)
                f.create_dataset(
                    name,
                    shape=(0, *shape),
                    maxshape=(None, *shape),
                    dtype="f8",
                    chunks=chunk_shape(name, self.n_atoms),
                )

    def _open_swmr(self) -> h5py.File:
        f = _open_h5_write(self.path, self._writer_cache_bytes())
        try:
            f.swmr_mode = True
        except BaseException:
            f.close()
            raise
        return f

    def _open_existing(self, metadata: dict | None) -> tuple[int, float]:
        f = _open_h5_write(self.path, self._writer_cache_bytes())
        try:
            stored = f["numbers"][()]
            if stored.shape != self.numbers.shape or not np.array_equal(stored, self.numbers):
                raise InputError(
                    f"{self.path}: cannot append: the store holds {stored.size} atoms with other "
                    f"atomic numbers than the {self.numbers.size} given"
                )
            present = [name for name in FRAME_FIELDS if name in f]
            if sorted(present) != sorted(self._fields):
                raise InputError(
                    f"{self.path}: cannot append: the store has fields {sorted(present)} but the "
                    f"writer was opened for {sorted(self._fields)}"
                )
            n = int(f.attrs["n_frames"])
            last = float(f["times_fs"][n - 1]) if n else -math.inf
            meta = _read_metadata(f, self.path)
            meta.update(metadata or {})
            meta.setdefault("resumes", []).append({"utc": _utc_now(), "n_frames": n})
            f.swmr_mode = True
            _write_metadata(f, meta, self.path)
            f.flush()
        except BaseException:
            f.close()
            raise
        self._file = f
        return n, last

    # -- public API ------------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        """Frames written so far (committed + waiting for the next flush)."""
        return self._committed + self._n_pending

    @property
    def has_velocities(self) -> bool:
        """Whether frames carry velocities."""
        return "velocities" in self._fields

    @property
    def has_polarizability(self) -> bool:
        """Whether frames carry polarizabilities."""
        return "polarizability" in self._fields

    @property
    def committed_frames(self) -> int:
        """Frames already committed to disk (the ``n_frames`` attribute)."""
        return self._committed

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require_open(self) -> h5py.File:
        if self._file is None:
            raise ValueError(f"{self.path}: trajectory writer is closed")
        return self._file

    def append(
        self,
        positions: np.ndarray,
        cell: np.ndarray,
        time_fs: float,
        velocities: np.ndarray | None = None,
        polarizability: np.ndarray | None = None,
    ) -> None:
        """Append one frame.

        Parameters
        ----------
        positions
            ``[N, 3]`` Cartesian positions in Å.
        cell
            ``[3, 3]`` cell vectors as rows in Å.
        time_fs
            Frame time in fs (strictly larger than the previous frame's).
        velocities
            ``[N, 3]`` in Å/fs; required iff the writer was opened with ``velocities=True``.
        polarizability
            ``[3, 3]`` in Å³; required iff opened with ``polarizability=True``.
        """
        self.append_many(
            np.asarray(positions, dtype=float)[None],
            np.asarray(cell, dtype=float)[None],
            np.asarray([time_fs], dtype=float),
            None if velocities is None else np.asarray(velocities, dtype=float)[None],
            None if polarizability is None else np.asarray(polarizability, dtype=float)[None],
        )

    def append_many(
        self,
        positions: np.ndarray,
        cells: np.ndarray,
        times_fs: np.ndarray,
        velocities: np.ndarray | None = None,
        polarizability: np.ndarray | None = None,
    ) -> None:
        """Append ``k`` frames: positions ``[k, N, 3]`` Å, cells ``[k, 3, 3]`` or ``[3, 3]`` Å,
        times ``[k]`` fs, velocities ``[k, N, 3]`` Å/fs, polarizability ``[k, 3, 3]`` Å³."""
        self._require_open()
        pos = np.asarray(positions, dtype=float)
        k = pos.shape[0] if pos.ndim == 3 else -1
        if pos.shape != (k, self.n_atoms, 3):
            raise InputError(
                f"{self.path}: positions must have shape [k, {self.n_atoms}, 3], got {pos.shape}"
            )
        cel = np.asarray(cells, dtype=float)
        if cel.shape == (3, 3):
            cel = np.broadcast_to(cel, (k, 3, 3))
        times = np.asarray(times_fs, dtype=float).reshape(-1)
        blocks = {"positions": pos, "cells": cel, "times_fs": times}
        for name, value in (("velocities", velocities), ("polarizability", polarizability)):
            if (value is not None) != (name in self._fields):
                state = "was not" if value is not None else "was"
                raise InputError(
                    f"{self.path}: the writer {state} opened with {name}=True; "
                    f"{'do not pass' if value is not None else 'pass'} {name}"
                )
            if value is not None:
                blocks[name] = np.asarray(value, dtype=float)
        for name, block in blocks.items():
            want = (k, *_frame_shape(name, self.n_atoms))
            if block.shape != want:
                raise InputError(
                    f"{self.path}: {name} must have shape {list(want)}, got {block.shape}"
                )
        if k == 0:
            return
        if not np.all(np.isfinite(times)):
            raise InputError(f"{self.path}: frame times must be finite, got {times}")
        steps = np.diff(np.concatenate([[self._last_time], times]))
        if np.any(steps <= 0):
            i = int(np.argmax(steps <= 0))
            prev = self._last_time if i == 0 else times[i - 1]
            raise InputError(
                f"{self.path}: frame times must increase strictly; frame {self.n_frames + i} has "
                f"t = {times[i]} fs after t = {prev} fs (resuming? truncate() to the checkpoint)"
            )
        for name, block in blocks.items():
            self._pending[name].append(np.array(block))
        self._n_pending += k
        self._last_time = float(times[-1])
        if self._n_pending >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Commit pending frames: write rows, flush, then raise ``n_frames`` and flush again."""
        f = self._require_open()
        if self._n_pending:
            n0, n1 = self._committed, self._committed + self._n_pending
            for name in self._fields:
                ds = f[name]
                if ds.shape[0] < n1:
                    ds.resize(n1, axis=0)
                ds[n0:n1] = np.concatenate(self._pending[name])
                self._pending[name] = []
            f.flush()  # data and extents reach the file before the commit mark
            f.attrs.modify("n_frames", np.int64(n1))
            self._committed, self._n_pending = n1, 0
        f.flush()

    def truncate(self, n_frames: int) -> None:
        """Drop frames with index ≥ ``n_frames`` (e.g. to resume from an MD checkpoint)."""
        f = self._require_open()
        n_frames = int(n_frames)
        if not 0 <= n_frames <= self.n_frames:
            raise InputError(
                f"{self.path}: cannot truncate to {n_frames} frames; the store has {self.n_frames}"
            )
        if n_frames >= self._committed:  # only pending frames go
            keep = n_frames - self._committed
            for name in self._fields:
                joined = np.concatenate(self._pending[name]) if self._pending[name] else None
                self._pending[name] = [] if joined is None or keep == 0 else [joined[:keep]]
            self._n_pending = keep
        else:
            for name in self._fields:
                self._pending[name] = []
            self._n_pending = 0
            self._committed = n_frames
            f.attrs.modify("n_frames", np.int64(n_frames))
            f.flush()
        if self.n_frames == 0:
            self._last_time = -math.inf
        elif self._n_pending:
            self._last_time = float(self._pending["times_fs"][-1][-1])
        else:
            self._last_time = float(f["times_fs"][self._committed - 1])

    def update_metadata(self, **items: Any) -> None:
        """Merge ``items`` into the stored metadata (JSON) and flush."""
        f = self._require_open()
        meta = _read_metadata(f, self.path)
        meta.update(items)
        _write_metadata(f, meta, self.path)
        f.flush()

    @property
    def metadata(self) -> dict:
        """Current stored metadata."""
        return _read_metadata(self._require_open(), self.path)

    def close(self) -> None:
        """Commit pending frames, trim rows beyond the committed count and close (idempotent)."""
        if self._file is None:
            return
        try:
            self.flush()
            for name in self._fields:
                if self._file[name].shape[0] > self._committed:
                    self._file[name].resize(self._committed, axis=0)
            self._file.flush()
        finally:
            self._file.close()
            self._file = None
            self._lock.release()


# ----------------------------------------------------------------------------------------------
# reader
# ----------------------------------------------------------------------------------------------
def _normalise_atoms(atoms: Any, n_atoms: int, path: Path) -> np.ndarray | slice:
    if isinstance(atoms, slice):
        if atoms.step in (None, 1):
            return slice(*atoms.indices(n_atoms)[:2])
        return np.arange(n_atoms)[atoms]
    idx = np.asarray(atoms)
    if idx.dtype == bool:
        if idx.shape != (n_atoms,):
            raise InputError(
                f"{path}: boolean atom mask must have length {n_atoms}, got {idx.shape}"
            )
        return np.flatnonzero(idx)
    if idx.ndim == 0:
        idx = idx.reshape(1)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise InputError(f"{path}: atoms must be a slice, an index array or a boolean mask")
    if idx.size and (idx.min() < -n_atoms or idx.max() >= n_atoms):
        raise InputError(f"{path}: atom index out of range for {n_atoms} atoms")
    return np.where(idx < 0, idx + n_atoms, idx).astype(np.intp)


class Trajectory:
    """Read-only view of a trajectory store (context manager).

    Attributes
    ----------
    path : Path
    numbers : ndarray [N]
        Atomic numbers.
    symbols : list of str
    n_frames, n_atoms : int
        Committed frames (rows beyond them are ignored) and atoms.
    times_fs : ndarray [S]
        Frame times in fs.
    sampling_interval_fs : float
        Median spacing of ``times_fs`` (fs); from ``metadata`` when fewer than 2 frames, else NaN.
    metadata : dict
    pbc : ndarray [3] of bool
    has_velocities, has_polarizability : bool

    Raises
    ------
    InputError
        Missing, truncated/corrupt or non-ionraman file (one-line message naming the file).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"trajectory store not found: {self.path}")
        try:
            self._file: h5py.File | None = _open_h5_read(self.path)
        except OSError as exc:
            if "signature" in str(exc):
                raise InputError(
                    f"{self.path}: not an HDF5 file (expected an ionraman .h5 store)"
                ) from None
            raise _bad_store(self.path, exc) from None
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def _load(self) -> None:
        f = self._h5()
        try:
            _check_format(f, self.path)
            self.n_frames = int(f.attrs["n_frames"])
            self.numbers = np.asarray(f["numbers"][()], dtype=np.int64)
            self.pbc = np.asarray(f.attrs.get("pbc", (True, True, True)), dtype=bool)
            for name in ("positions", "cells", "times_fs"):
                if f[name].shape[0] < self.n_frames:
                    raise InputError(
                        f"{self.path}: corrupt store: {name} has {f[name].shape[0]} rows but "
                        f"n_frames = {self.n_frames}"
                    )
            self.times_fs = np.asarray(f["times_fs"][: self.n_frames], dtype=float)
            self.metadata: dict = _read_metadata(f, self.path)
            self.has_velocities = self._has("velocities")
            self.has_polarizability = self._has("polarizability")
        except InputError:
            raise
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            raise _bad_store(self.path, exc) from None
        self.n_atoms = int(self.numbers.size)
        self.symbols = [chemical_symbols[z] for z in self.numbers]
        if self.n_frames >= 2:
            self.sampling_interval_fs = float(np.median(np.diff(self.times_fs)))
        else:
            self.sampling_interval_fs = float(self.metadata.get("sampling_interval_fs", math.nan))

    def _h5(self) -> h5py.File:
        if self._file is None:
            raise ValueError(f"{self.path}: trajectory is closed")
        return self._file

    def _has(self, name: str) -> bool:
        f = self._h5()
        return name in f and f[name].shape[0] >= self.n_frames

    def __enter__(self) -> Trajectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n_frames

    def __repr__(self) -> str:
        return f"Trajectory({str(self.path)!r}, n_frames={self.n_frames}, n_atoms={self.n_atoms})"

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _dataset(self, name: str) -> h5py.Dataset:
        if name not in FRAME_FIELDS:
            raise InputError(f"unknown trajectory field {name!r}; expected one of {FRAME_FIELDS}")
        if not self._has(name):
            raise InputError(f"{self.path}: the store has no {name}")
        return self._h5()[name]

    def read(
        self, field: str, start: int = 0, stop: int | None = None, atoms: Any = None
    ) -> np.ndarray:
        """Frames ``start:stop`` (Python slice semantics) of ``field``.

        Parameters
        ----------
        field
            ``"positions"`` / ``"velocities"`` (→ ``[F, n_sel, 3]``, Å or Å/fs),
            ``"cells"`` / ``"polarizability"`` (→ ``[F, 3, 3]``, Å or Å³) or
            ``"times_fs"`` (→ ``[F]``, fs).
        atoms
            Atom selection for per-atom fields: a slice, an index array (any order; duplicates
            allowed) or a boolean mask ``[N]``; ignored for per-frame fields. Only the chunk
            columns containing selected atoms are read.
        """
        ds = self._dataset(field)
        start, stop, _ = slice(start, stop).indices(self.n_frames)
        stop = max(stop, start)
        try:
            if field not in PER_ATOM_FIELDS or atoms is None:
                return np.asarray(ds[start:stop], dtype=float)
            sel = _normalise_atoms(atoms, self.n_atoms, self.path)
            if isinstance(sel, slice):
                return np.asarray(ds[start:stop, sel], dtype=float)
            return self._read_atoms(ds, start, stop, sel)
        except OSError as exc:
            raise _bad_store(self.path, exc) from None

    def _read_atoms(self, ds: h5py.Dataset, start: int, stop: int, idx: np.ndarray) -> np.ndarray:
        if idx.size == 0:
            return np.empty((stop - start, 0, 3))
        width = ds.chunks[1] if ds.chunks else self.n_atoms
        blocks = np.unique(idx // width)
        # runs of consecutive chunk columns → one chunk-aligned hyperslab read each
        breaks = np.flatnonzero(np.diff(blocks) != 1) + 1
        parts, covered = [], []
        for run in np.split(blocks, breaks):
            a0, a1 = int(run[0]) * width, min((int(run[-1]) + 1) * width, self.n_atoms)
            parts.append(ds[start:stop, a0:a1])
            covered.append(np.arange(a0, a1))
        block = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        where = np.searchsorted(np.concatenate(covered), idx)
        return np.asarray(block[:, where], dtype=float)

    def iter_chunks(
        self,
        field: str = "positions",
        chunk_frames: int = 1024,
        start: int = 0,
        stop: int | None = None,
        atoms: Any = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index of first frame, block)`` over frames ``start:stop``, ``chunk_frames`` at
        a time (blocks as in :meth:`read`; memory ∝ ``chunk_frames``, never the whole file)."""
        if int(chunk_frames) < 1:
            raise InputError(f"chunk_frames must be >= 1, got {chunk_frames}")
        self._dataset(field)
        start, stop, _ = slice(start, stop).indices(self.n_frames)
        for i0 in range(start, stop, int(chunk_frames)):
            yield i0, self.read(field, i0, min(i0 + int(chunk_frames), stop), atoms)

    def get_atoms(self, index: int) -> Atoms:
        """Frame ``index`` (negative counts from the end) as :class:`ase.Atoms`.

        Velocities (if stored) are set in ASE units; ``info`` holds ``time_fs`` and, if stored,
        ``REF_polarizability`` (``[3, 3]``, Å³).
        """
        from ase import Atoms, units

        i = int(index)
        if not -self.n_frames <= i < self.n_frames:
            raise IndexError(f"frame {index} out of range for {self.n_frames} frames")
        i %= self.n_frames
        atoms = Atoms(
            numbers=self.numbers,
            positions=self.read("positions", i, i + 1)[0],
            cell=self.read("cells", i, i + 1)[0],
            pbc=self.pbc,
        )
        if self.has_velocities:
            atoms.set_velocities(self.read("velocities", i, i + 1)[0] / units.fs)
        atoms.info["time_fs"] = float(self.times_fs[i])
        if self.has_polarizability:
            atoms.info["REF_polarizability"] = self.read("polarizability", i, i + 1)[0]
        return atoms


def open_trajectory(path: str | os.PathLike[str]) -> Trajectory:
    """Open a trajectory store for reading (see :class:`Trajectory`)."""
    return Trajectory(path)


def incomplete_store_note(path: str | os.PathLike[str]) -> str | None:
    """A one-line note when ``path`` is a store whose MD did not finish, else ``None``.

    MD stores record ``metadata["status"]``: ``"running"`` while written (or when the run was
    killed), ``"stopped"`` when a guard ended it, ``"complete"`` at the end. Stores without a
    status (imports, other writers) and unreadable files give ``None``: the analysis itself
    reports those.
    """
    p = Path(path)
    if p.suffix.lower() not in (".h5", ".hdf5") or not p.is_file():
        return None
    try:
        with open_trajectory(p) as traj:
            status, n_frames = traj.metadata.get("status"), len(traj)
    except (InputError, OSError):
        return None
    if status in (None, "complete"):
        return None
    return (
        f"{p} is an incomplete MD store (status {status!r}: killed, stopped by a guard or still "
        f"running); the results use the {n_frames} frames it holds"
    )


# ----------------------------------------------------------------------------------------------
# polarizability written after the run
# ----------------------------------------------------------------------------------------------
def write_polarizability(
    path: str | os.PathLike[str], alpha: np.ndarray, *, metadata: dict | None = None
) -> None:
    """Add or replace the polarizability of an existing store.

    Parameters
    ----------
    path
        Trajectory store (no writer may have it open).
    alpha
        ``[S, 3, 3]`` in Å³ with ``S`` equal to the store's committed ``n_frames``.
    metadata
        Stored as ``metadata["polarizability"]`` (e.g. model name and file hash).
    """
    path = Path(path)
    alpha = np.asarray(alpha, dtype=float)
    if alpha.ndim != 3 or alpha.shape[1:] != (3, 3):
        raise InputError(f"{path}: polarizability must have shape [S, 3, 3], got {alpha.shape}")
    if not np.all(np.isfinite(alpha)):
        raise InputError(f"{path}: polarizability contains NaN or inf")
    if not path.is_file():
        raise InputError(f"trajectory store not found: {path}")
    lock = _WriterLock(path)
    try:
        with _open_h5_write(path) as f:
            n = int(f.attrs["n_frames"])
            if alpha.shape[0] != n:
                raise InputError(
                    f"{path}: polarizability has {alpha.shape[0]} frames but the store has {n}"
                )
            meta = _read_metadata(f, path)
            meta["polarizability"] = {**(metadata or {}), "written_utc": _utc_now()}
            meta.setdefault("units", {})["polarizability"] = FIELD_UNITS["polarizability"]
            _write_metadata(f, meta, path)
            if "polarizability" not in f:
                f.create_dataset(
                    "polarizability",
                    shape=(n, 3, 3),
                    maxshape=(None, 3, 3),
                    dtype="f8",
                    chunks=chunk_shape("polarizability", n),
                )
            f.flush()
            f.swmr_mode = True  # the data write below is then crash safe like an MD append
            ds = f["polarizability"]
            if ds.shape[0] != n:
                ds.resize(n, axis=0)
            ds[:] = alpha
            f.flush()
    finally:
        lock.release()


# ----------------------------------------------------------------------------------------------
# import of ASE-readable trajectories
# ----------------------------------------------------------------------------------------------
_POLARIZABILITY_INFO_KEYS = ("REF_polarizability", "polarizability", "pol")


def _info_polarizability(atoms: Any, source: Path, k: int) -> np.ndarray | None:
    for key in _POLARIZABILITY_INFO_KEYS:
        if key in atoms.info:
            value = np.asarray(atoms.info[key], dtype=float)
            if value.shape == (3, 3):
                return value
            if value.size == 9:
                return to_matrix(value.reshape(9), "row-major-9")
            raise InputError(
                f"{source}: frame {k}: info[{key!r}] must hold 9 numbers or a 3x3 array, "
                f"got shape {value.shape}"
            )
    return None


def _frame_time(
    atoms: Any, k: int, source_index: int | None, timestep_fs: float | None, source: Path
) -> tuple[float, str]:
    from ase import units

    if "time_fs" in atoms.info:
        return float(atoms.info["time_fs"]), "info['time_fs'] (fs)"
    if "time" in atoms.info:  # ASE's own convention (e.g. its CASTEP reader): ASE time units
        return float(atoms.info["time"]) / units.fs, "info['time'] (ASE time units)"
    if timestep_fs is None:
        raise InputError(
            f"{source}: frame {k} has no time (atoms.info 'time' or 'time_fs'); pass timestep_fs "
            "(the time between consecutive frames of the file, fs)"
        )
    if source_index is None:
        raise InputError(
            f"{source}: times from timestep_fs need an index with a non-negative start and step"
        )
    return source_index * timestep_fs, "frame index x timestep_fs"


def _source_indices(index: str) -> tuple[int, int] | None:
    """(first source frame, step) of an ASE index string, or None if not known in advance."""
    from ase.io.formats import string2index

    try:
        sel = string2index(index)
    except (ValueError, TypeError):
        raise InputError(
            f"invalid frame index {index!r} (ASE syntax, e.g. ':', '::10', '5:')"
        ) from None
    if isinstance(sel, int):
        return (sel, 1) if sel >= 0 else None
    if isinstance(sel, slice):
        first, step = sel.start or 0, sel.step or 1
        return (first, step) if first >= 0 and step > 0 else None
    return None


def import_trajectory(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    timestep_fs: float | None = None,
    format: str | None = None,
    index: str = ":",
    chunk_frames: int = 1024,
) -> Path:
    """Convert any trajectory ASE can read into a store, streaming with :func:`ase.io.iread`.

    Parameters
    ----------
    source
        ASE-readable file (traj, extxyz, XDATCAR, vasprun.xml, LAMMPS dump, ...).
    dest
        Store to write (atomically: a failed import leaves no file).
    timestep_fs
        Time between consecutive frames of ``source`` in fs; used only when frames carry no
        time. Frame ``j`` of the file gets ``t = j * timestep_fs`` (so ``index='::10'`` keeps the
        true times).
    format
        ASE format name (default: guessed from the file).
    index
        ASE frame selection string.
    chunk_frames
        Frames converted per commit (memory ∝ ``chunk_frames × N``).

    Notes
    -----
    Times come from ``atoms.info["time_fs"]`` (fs) or ``atoms.info["time"]`` (ASE time units,
    the convention of ASE readers) when present. Velocities (ASE units) are converted to Å/fs.
    ``atoms.info["REF_polarizability"]`` (also ``"polarizability"`` or ``"pol"``; 3×3, or 9
    numbers row by row) becomes the polarizability (Å³).
    """
    from ase import units
    from ase.io import iread

    source, dest = Path(source), Path(dest)
    if not source.is_file():
        raise InputError(f"trajectory file not found: {source}")
    if timestep_fs is not None and not (math.isfinite(timestep_fs) and timestep_fs > 0):
        raise InputError(f"timestep_fs must be a positive number of fs, got {timestep_fs}")
    first_step = _source_indices(index)
    params = {"source": str(source), "format": format, "index": index, "timestep_fs": timestep_fs}
    with atomic_path(dest) as tmp:
        writer: TrajectoryWriter | None = None
        time_source = ""
        times: list[float] = []
        k = 0
        try:
            for k, atoms in enumerate(iread(str(source), index=index, format=format)):
                src_i = None if first_step is None else first_step[0] + k * first_step[1]
                t, how = _frame_time(atoms, k, src_i, timestep_fs, source)
                pol = _info_polarizability(atoms, source, k)
                vel = atoms.get_velocities() * units.fs if atoms.has("momenta") else None
                if writer is None:
                    time_source = how
                    writer = TrajectoryWriter(
                        tmp,
                        atoms.numbers,
                        metadata={
                            "source": str(source),
                            "source_sha256": file_sha256(source),
                            "source_format": format,
                            "time_source": how,
                            "provenance": provenance(parameters=params),
                        },
                        velocities=vel is not None,
                        polarizability=pol is not None,
                        pbc=tuple(bool(p) for p in atoms.pbc),
                        flush_every=chunk_frames,
                    )
                if how != time_source:
                    raise InputError(
                        f"{source}: frame {k} takes its time from {how}, frame 0 from {time_source}"
                    )
                if not np.array_equal(atoms.numbers, writer.numbers):
                    raise InputError(f"{source}: frame {k} has other atoms than frame 0")
                if (vel is None) == writer.has_velocities or (
                    pol is None
                ) == writer.has_polarizability:
                    raise InputError(
                        f"{source}: frame {k} differs from frame 0 in carrying velocities or "
                        "polarizability"
                    )
                writer.append(
                    atoms.positions, atoms.cell.array, t, velocities=vel, polarizability=pol
                )
                times.append(t)
            if writer is None:
                raise InputError(f"{source}: no frames selected by index {index!r}")
            if len(times) >= 2:
                writer.update_metadata(sampling_interval_fs=float(np.median(np.diff(times))))
        except InputError:
            raise
        except Exception as exc:  # ASE raises many exception types for malformed files
            raise InputError(
                f"{source}: ASE could not read frame {k} ({type(exc).__name__}: {first_line(exc)})"
            ) from exc
        finally:
            if writer is not None:
                writer.close()
    return dest
