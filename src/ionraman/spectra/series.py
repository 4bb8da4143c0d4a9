"""Polarizability time series, the input of the spectrum stage: read from text (CSV/TXT with 6
or 9 components and an optional time column), ``.npy`` or an ionraman trajectory store.

The component order of text and ``.npy`` files comes from a header (``xx,yy,zz,yz,xz,xy``, ...),
an explicit ``order`` (:data:`ionraman.conventions.COMPONENT_ORDERS`) or, failing both, the ASE
Voigt / row-major default, which is recorded as assumed.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ionraman._io import first_line
from ionraman.conventions import COMPONENT_ORDERS, FS_PER_PS, to_matrix
from ionraman.errors import InputError
from ionraman.trajectory import FORMAT, open_trajectory

__all__ = ["PolarizabilitySeries", "read_polarizability_series"]


# ----------------------------------------------------------------------------------------------
# polarizability series (input of the spectrum stage)
# ----------------------------------------------------------------------------------------------
@dataclass
class PolarizabilitySeries:
    """A uniformly sampled polarizability series.

    Attributes
    ----------
    alpha : ndarray [S, 3, 3]
        Polarizability in Å³.
    timestep_fs : float
        Sampling interval in fs.
    metadata : dict
        Source file, component order used, time source, store metadata (temperature_K, ...).
    start_time_fs : float
        Time of the first sample (fs).
    """

    alpha: np.ndarray
    timestep_fs: float
    metadata: dict = field(default_factory=dict)
    start_time_fs: float = 0.0

    @property
    def times_fs(self) -> np.ndarray:
        """Sample times ``[S]`` in fs."""
        return self.start_time_fs + self.timestep_fs * np.arange(self.alpha.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.alpha.shape[0])


_TIME_COLUMNS = {"time_fs": 1.0, "t_fs": 1.0, "time_ps": FS_PER_PS, "t_ps": FS_PER_PS}
_AMBIGUOUS_TIME = {"time", "t", "times"}
_UNIFORM_RTOL = 1e-3  # time columns are often printed with few digits


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _split(line: str) -> list[str]:
    return [tok for tok in re.split(r"[,\s;]+", line.strip()) if tok]


def _component_pair(name: str) -> tuple[int, int] | None:
    n = name.lower()
    for prefix in ("alpha_", "alpha", "pol_", "a_", "p_"):
        if n.startswith(prefix) and len(n) > len(prefix):
            n = n[len(prefix) :]
            break
    if len(n) == 2 and set(n) <= set("xyz"):
        return ("xyz".index(n[0]), "xyz".index(n[1]))
    return None


def _order_from_names(names: list[str]) -> list[int] | None:
    """Column permutation that puts header-named components in ase-voigt (6) or row-major-9 (9)
    order, or None if the names are not component names."""
    pairs = [_component_pair(nm) for nm in names]
    if any(p is None for p in pairs):
        return None
    if len(pairs) == 6:
        target = [tuple(sorted(p)) for p in COMPONENT_ORDERS["ase-voigt"]]
        have = [tuple(sorted(p)) for p in pairs]  # type: ignore[arg-type]
    else:
        target = list(COMPONENT_ORDERS["row-major-9"])
        have = list(pairs)  # type: ignore[arg-type]
    if sorted(have) != sorted(target):
        return None
    return [have.index(p) for p in target]


def _check_finite(data: np.ndarray, path: Path) -> None:
    bad = ~np.isfinite(data)
    if bad.any():
        r, c = np.argwhere(bad.reshape(data.shape[0], -1))[0]
        raise InputError(
            f"{path}: non-finite value ({data.reshape(data.shape[0], -1)[r, c]}) at frame {r + 1}, "
            f"column {c + 1}"
        )


def _check_timestep(dt: float | None, path: Path) -> float:
    if dt is None:
        raise InputError(
            f"{path}: missing time step: pass timestep_fs or add a time_fs column to the file"
        )
    if not (math.isfinite(dt) and dt > 0):
        raise InputError(f"{path}: time step must be a positive number of fs, got {dt}")
    return float(dt)


def _uniform_step(times: np.ndarray, path: Path, what: str) -> float:
    steps = np.diff(times)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise InputError(
            f"{path}: {what} not increasing at frame {i + 2} ({times[i]} -> {times[i + 1]} fs)"
        )
    dt = float((times[-1] - times[0]) / (times.size - 1))
    dev = np.abs(steps - dt)
    if np.any(dev > _UNIFORM_RTOL * dt + 1e-9):
        i = int(np.argmax(dev))
        raise InputError(
            f"{path}: non-uniform {what}: step {steps[i]:g} fs at frame {i + 2} vs mean {dt:g} fs "
            "(spectra need uniform sampling)"
        )
    return dt


def _components_to_matrix(
    data: np.ndarray, order: str | None, names: list[str] | None, path: Path
) -> tuple[np.ndarray, str]:
    ncol = data.shape[1]
    if ncol not in (6, 9):
        raise InputError(
            f"{path}: expected 6 or 9 polarizability columns (plus an optional leading time_fs "
            f"column named in a header), got {ncol}"
        )
    perm = _order_from_names(names) if names else None
    if perm is not None:
        named = "ase-voigt" if ncol == 6 else "row-major-9"
        if order is not None:
            pairs = COMPONENT_ORDERS.get(order)
            if pairs is None or len(pairs) != ncol:
                raise InputError(f"{path}: order {order!r} does not fit {ncol} columns")
            given = [_component_pair(nm) for nm in names]  # type: ignore[union-attr]
            same = all(
                (tuple(sorted(a)) == tuple(sorted(b))) if ncol == 6 else a == b
                for a, b in zip(given, pairs, strict=True)  # type: ignore[arg-type]
            )
            if not same:
                raise InputError(
                    f"{path}: header names the columns {','.join(names)}, which contradicts "
                    f"order={order!r}"
                )
        return to_matrix(data[:, perm], named), f"header ({','.join(names)})"  # type: ignore[arg-type]
    used = order or ("ase-voigt" if ncol == 6 else "row-major-9")
    try:
        return to_matrix(data, used), used
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def _order_source(used: str, order: str | None) -> str:
    """How the component order of a 6/9-column table was fixed (recorded in the metadata)."""
    if used.startswith("header"):
        return "header"
    if order is not None:
        return "order argument"
    return "assumed default (no component names in a header, no order given)"


def _read_text_series(path: Path) -> tuple[np.ndarray, list[str] | None]:
    try:
        text = path.read_text()
    except (UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{path}: cannot read as text ({first_line(exc)})") from None
    lines = text.splitlines()
    comment_headers: list[list[str]] = []
    plain_header: list[str] | None = None
    first = None
    for i, line in enumerate(lines):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            toks = _split(s.lstrip("#"))
            if toks and not all(_is_number(t) for t in toks):
                comment_headers.append(toks)
            continue
        toks = _split(s)
        if all(_is_number(t) for t in toks):
            first = i
            break
        if plain_header is not None:
            raise InputError(f"{path}: line {i + 1} is neither numbers nor a header: {s[:60]!r}")
        plain_header = toks
    if first is None:
        raise InputError(f"{path}: no numeric rows found")
    delimiter = "," if "," in lines[first] else None
    try:
        data = np.loadtxt(
            path, delimiter=delimiter, comments="#", skiprows=first, ndmin=2, dtype=float
        )
    except ValueError as exc:
        reason = first_line(exc).split(";")[0]
        raise InputError(f"{path}: malformed numeric table ({reason})") from None
    ncol = data.shape[1]
    names = plain_header
    if names is not None and len(names) != ncol:
        raise InputError(f"{path}: header has {len(names)} names but rows have {ncol} columns")
    if names is None:
        names = next((h for h in reversed(comment_headers) if len(h) == ncol), None)
    return data, names


def read_polarizability_series(
    path: str | os.PathLike[str], *, timestep_fs: float | None = None, order: str | None = None
) -> PolarizabilitySeries:
    """Read a polarizability time series.

    Parameters
    ----------
    path
        * text (``.csv``/``.txt``/``.dat``/...): comma or whitespace separated rows, ``#``
          comments, optional header. A leading column named ``time_fs``/``t_fs`` (or
          ``time_ps``/``t_ps``) in the header gives the times; then 6 or 9 components. Header
          component names (``xx yy zz yz xz xy``, ``alpha_xy``, ...) fix the order directly.
        * ``.npy``: ``[S, 6]``, ``[S, 9]`` or ``[S, 3, 3]``.
        * an ionraman trajectory store (HDF5) with polarizability.
    timestep_fs
        Sampling interval in fs; required when the file has no times; must agree with them
        otherwise.
    order
        Component order of 6/9-column data (a key of
        :data:`ionraman.conventions.COMPONENT_ORDERS`); default ``"ase-voigt"`` for 6 columns,
        ``"row-major-9"`` for 9. The metadata records the order used (``component_order``) and
        how it was fixed (``component_order_source``: ``"header"``, ``"order argument"`` or
        ``"assumed default ..."`` for a table without component names and no ``order``).

    Returns
    -------
    PolarizabilitySeries
        ``alpha [S, 3, 3]`` in Å³ and the sampling interval in fs.

    Raises
    ------
    InputError
        Wrong column count, NaN/inf, missing or non-positive time step, non-uniform times,
        fewer than 2 frames, unreadable/corrupt files (one-line messages).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"polarizability file not found: {path}")
    if timestep_fs is not None:
        timestep_fs = _check_timestep(float(timestep_fs), path)
    meta: dict[str, Any] = {"source": str(path)}
    start = 0.0
    if h5py.is_hdf5(path) or path.suffix.lower() in (".h5", ".hdf5"):
        with open_trajectory(path) as traj:
            if not traj.has_polarizability:
                raise InputError(f"{path}: the trajectory store has no polarizability")
            alpha = traj.read("polarizability")
            times = traj.times_fs
            meta.update(traj.metadata)
            meta["source"] = str(path)
        meta["format"] = FORMAT
        if alpha.shape[0] < 2:
            raise InputError(f"{path}: need at least 2 frames, got {alpha.shape[0]}")
        _check_finite(alpha, path)
        dt = _uniform_step(times, path, "frame times")
        start = float(times[0])
        meta["time_source"] = "store times_fs"
    else:
        if path.suffix.lower() == ".npy":
            try:
                raw = np.load(path, allow_pickle=False)
            except (ValueError, OSError, EOFError) as exc:
                raise InputError(f"{path}: cannot read .npy ({first_line(exc)})") from None
            meta["format"] = "npy"
            if raw.ndim == 3 and raw.shape[1:] == (3, 3):
                data, names, cols = raw.astype(float), None, None
            elif raw.ndim == 2:
                data, names, cols = None, None, raw.astype(float)
            else:
                raise InputError(
                    f"{path}: array must have shape [S, 6], [S, 9] or [S, 3, 3], got {raw.shape}"
                )
        else:
            cols, names = _read_text_series(path)
            data = None
            meta["format"] = "text"
        times = None
        if cols is not None:
            if names and names[0].lower() in _TIME_COLUMNS:
                times = cols[:, 0] * _TIME_COLUMNS[names[0].lower()]
                cols, names = cols[:, 1:], names[1:]
            elif names and names[0].lower() in _AMBIGUOUS_TIME:
                raise InputError(
                    f"{path}: column {names[0]!r} has no unit; name it time_fs (or time_ps)"
                )
            if cols.shape[0] < 2:
                raise InputError(f"{path}: need at least 2 frames, got {cols.shape[0]}")
            _check_finite(cols if times is None else np.column_stack([times, cols]), path)
            data, meta["component_order"] = _components_to_matrix(cols, order, names, path)
            meta["component_order_source"] = _order_source(meta["component_order"], order)
        assert data is not None
        if data.shape[0] < 2:
            raise InputError(f"{path}: need at least 2 frames, got {data.shape[0]}")
        _check_finite(data, path)
        alpha = data
        if times is not None:
            dt = _uniform_step(times, path, "time column")
            start = float(times[0])
            meta["time_source"] = "time column"
        else:
            dt = _check_timestep(timestep_fs, path)
            meta["time_source"] = "timestep_fs argument"
    if timestep_fs is not None and abs(timestep_fs - dt) > _UNIFORM_RTOL * dt:
        raise InputError(
            f"{path}: timestep_fs={timestep_fs} disagrees with the file's sampling of {dt:g} fs"
        )
    meta["sampling_interval_fs"] = dt
    return PolarizabilitySeries(
        alpha=np.asarray(alpha, float), timestep_fs=dt, metadata=meta, start_time_fs=start
    )
