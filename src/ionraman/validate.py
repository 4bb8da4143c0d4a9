"""The validation layer: checks every verb runs on its input before any compute.

Each check raises :class:`~ionraman.errors.InputError` with one line that names the option, field
or file, the offending value and what is expected; the CLI turns it into ``error: ...`` and exit
code 2. The checks read and probe but never create or change anything, so a refused command
leaves existing files as they were.

* scalars: :func:`check_temperature` (the range of :data:`ionraman.conventions.MAX_TEMPERATURE_K`),
  :func:`check_positive`, :func:`check_nonzero`, :func:`check_count`;
* output paths: :func:`check_output_dir`, :func:`check_output_file` (file vs directory, a
  writable place, probed with a real write);
* structures: :func:`ionraman.structures.validate.validate_structure` and its parts
  (:func:`~ionraman.structures.validate.check_min_distance`,
  :func:`~ionraman.structures.validate.check_vacuum_gap`), kept there because they need ASE.

This module imports only the standard library and :mod:`ionraman.conventions`, so the command
line can use it before any heavy import.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from ionraman.conventions import MAX_TEMPERATURE_K
from ionraman.errors import InputError


def check_temperature(value: float | None, what: str = "temperature") -> float | None:
    """Return ``value`` as a float if it is a physical temperature, 0 < T ≤ 5000 K.

    Parameters
    ----------
    value
        Temperature in K; ``None`` (not given) passes through.
    what
        Name of the option or field, for the message (e.g. ``"--temperature"``).

    Returns
    -------
    float or None

    Raises
    ------
    InputError
        NaN, infinite, zero, negative or above :data:`~ionraman.conventions.MAX_TEMPERATURE_K`.
    """
    if value is None:
        return None
    try:
        t = float(value)
    except (TypeError, ValueError):
        t = math.nan
    if not (math.isfinite(t) and 0 < t <= MAX_TEMPERATURE_K):
        raise InputError(
            f"{what} = {value!r} K: expected a positive temperature, "
            f"0 < T <= {MAX_TEMPERATURE_K:g} K"
        )
    return t


def check_positive(value: float, what: str, unit: str) -> float:
    """Return ``value`` as a float if it is finite and > 0; ``unit`` is named in the message."""
    x = _as_float(value, what, unit)
    if not (math.isfinite(x) and x > 0):
        raise InputError(f"{what} = {value!r}: expected a positive number of {unit}")
    return x


def check_nonzero(value: float, what: str, unit: str) -> float:
    """Return ``value`` as a float if it is finite and not zero (e.g. an ion charge)."""
    x = _as_float(value, what, unit)
    if not (math.isfinite(x) and x != 0):
        raise InputError(f"{what} = {value!r}: expected a finite, non-zero number of {unit}")
    return x


def check_count(value: int | None, what: str, minimum: int = 1) -> int | None:
    """Return ``value`` if it is an integer ≥ ``minimum``; ``None`` (not given) passes through."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{what} = {value!r}: expected an integer >= {minimum}")
    return value


def check_output_dir(path: str | os.PathLike[str], what: str = "--out") -> Path:
    """Return ``path`` if it is, or can be created as, a writable directory.

    Nothing is created: the nearest existing ancestor must be a directory in which a file can be
    written (probed with a real temporary file, removed at once).

    Parameters
    ----------
    path
        Output directory.
    what
        Name of the option or field, for the message.

    Raises
    ------
    InputError
        ``path`` is an existing file, lies under a file, or its directory is not writable.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"{what} {out}: exists and is not a directory; expected a directory")
    _check_writable_parent(out, out, what)
    return out


def check_output_file(path: str | os.PathLike[str], what: str = "--out") -> Path:
    """Return ``path`` if a file can be written there (see :func:`check_output_dir`).

    Raises
    ------
    InputError
        ``path`` is an existing directory, lies under a file, or its folder is not writable.
    """
    out = Path(path)
    if out.is_dir():
        raise InputError(f"{what} {out}: is a directory; expected a file name")
    _check_writable_parent(out.parent, out, what)
    return out


def _check_writable_parent(folder: Path, target: Path, what: str) -> None:
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise InputError(
            f"{what} {target}: {existing} is a file, so no directory can be made there"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".ionraman-write-probe.", dir=existing)
    except OSError as exc:
        raise InputError(
            f"{what} {target}: cannot write in {existing} ({exc.strerror or exc}); "
            "expected a writable directory"
        ) from None
    os.close(fd)
    os.unlink(probe)


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _as_float(value: object, what: str, unit: str) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{what} = {value!r}: expected a number of {unit}") from None
