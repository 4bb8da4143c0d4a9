"""Extended XYZ files with per-frame polarizabilities (ionraman, MACE and GPUMD/NEP keys).

Known per-frame (``info``) keys, tried in this order when ``key`` is not given:

==========================  ======================================================================
key                         convention
==========================  ======================================================================
``REF_polarizability``      ionraman (3×3 or 9 components, Å³) and mace-torch's default
                            ``--polarizability_key`` (``DefaultKeys.POLARIZABILITY``) for
                            AtomicDielectricMACE training files
``polarizability``          property name of MACE's dipole/polarizability calculators and older
                            MACE training files
``pol``                     GPUMD/NEP ``train.xyz``: ``pol="pxx pxy pxz pyx pyy pyz pzx pzy pzz"``,
                            the polarizability of the whole structure (per cell, not per atom),
                            row by row; GPUMD leaves the *unit* to the user ("arbitrary units")
==========================  ======================================================================

Keys are matched case-insensitively (NEP files are case-insensitive). Nine components are read
row by row (``"row-major-9"`` = ``"nep-9"``), six need an explicit ``order`` (a key of
:data:`ionraman.conventions.COMPONENT_ORDERS`), a 3×3 array is taken as is. ``unit`` converts to
Å³ (``"A3"`` or ``"bohr3"``). Frames read from a file written by :func:`write_reference_extxyz`
keep their ``REF_source``; others get ``code=extxyz``.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import read, write

from ionraman._io import atomic_path
from ionraman.conventions import COMPONENT_ORDERS, to_matrix
from ionraman.errors import InputError
from ionraman.polarizability.reference.importers._common import (
    BOHR3_TO_A3,
    INFO_EPSILON,
    INFO_POLARIZABILITY,
    INFO_SOURCE,
    attach_reference,
    one_line,
    read_text,
    source_string,
    symmetric_tensor,
)

KNOWN_KEYS: tuple[str, ...] = ("REF_polarizability", "polarizability", "pol")
"""Per-frame polarizability keys recognised when ``key`` is None (in this order)."""
UNITS_TO_A3: dict[str, float] = {"A3": 1.0, "bohr3": BOHR3_TO_A3}
"""Accepted ``unit`` values and their factor to Å³."""


_CASE_KEYS = re.compile(r"(^|\s)(lattice|properties)(\s*=)", re.IGNORECASE)


def _normalise_headers(text: str) -> str:
    """Write ``Lattice=`` / ``Properties=`` with ASE's capitalisation in every frame header.

    GPUMD/NEP treat extxyz keys case-insensitively (its documentation writes ``lattice=`` and
    ``properties=``); ASE only recognises the capitalised spelling and would silently drop the
    cell. Anything not shaped like an xyz frame is left for ASE to report.
    """
    lines = text.splitlines(keepends=True)
    i = 0
    while i + 1 < len(lines):
        fields = lines[i].split()
        if not fields:
            i += 1
            continue
        if not fields[0].isdigit():
            break
        lines[i + 1] = _CASE_KEYS.sub(
            lambda m: m.group(1) + m.group(2).capitalize() + m.group(3), lines[i + 1]
        )
        i += int(fields[0]) + 2
    return "".join(lines)


def _lookup(info: dict[str, Any], key: str) -> str | None:
    """Actual spelling of ``key`` in ``info`` (case-insensitive), or None."""
    if key in info:
        return key
    lowered = key.lower()
    for k in info:
        if str(k).lower() == lowered:
            return str(k)
    return None


def _to_matrix(components: np.ndarray, order: str, where: str) -> np.ndarray:
    try:
        return to_matrix(components, order)
    except InputError as exc:  # add the file/frame/key to the conventions' message
        raise InputError(f"{where}: {exc}") from None


def tensor_from_value(value: Any, order: str | None, where: str) -> np.ndarray:
    """3×3 tensor from a value stored as 3×3, 9 or 6 numbers.

    Parameters
    ----------
    value
        Array-like of shape ``[3, 3]``, ``[9]`` or ``[6]``.
    order
        Component order (key of ``COMPONENT_ORDERS``); required for six components, optional
        for nine (default row by row).
    where
        File/frame/key named in error messages.
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{where}: value {value!r} is not numeric") from None
    if arr.shape == (3, 3):
        if order is not None and len(COMPONENT_ORDERS.get(order, ())) != 9:
            raise InputError(f"{where}: a 3x3 value cannot use the 6-component order {order!r}")
        return arr
    if arr.shape == (9,):
        return _to_matrix(arr, order or "row-major-9", where)
    if arr.shape == (6,):
        if order is None:
            six = [k for k, v in COMPONENT_ORDERS.items() if len(v) == 6]
            raise InputError(
                f"{where}: 6 components are ambiguous; pass order= one of {', '.join(six)}"
            )
        return _to_matrix(arr, order, where)
    raise InputError(f"{where}: expected 3x3, 9 or 6 numbers, got shape {arr.shape}")


def read_extxyz_reference(
    path: str | os.PathLike[str],
    *,
    key: str | None = None,
    order: str | None = None,
    unit: str = "A3",
    epsilon_key: str | None = None,
    index: str | int = ":",
) -> list[Atoms]:
    """Read frames and their polarizabilities from an extended XYZ file.

    Parameters
    ----------
    path
        Extended XYZ file (optionally ``.gz``); ``lattice=``/``properties=`` may be lower case.
    key
        Per-frame info key of α; None tries :data:`KNOWN_KEYS`.
    order
        Component order of 6- or 9-component values (see module docstring).
    unit
        Unit of the stored values: ``"A3"`` (default) or ``"bohr3"``.
    epsilon_key
        Optional per-frame key of ε∞ (3×3 or 9 components, dimensionless); default
        ``REF_epsilon_inf`` when present.
    index
        ASE frame selection (default all frames).

    Returns
    -------
    list of Atoms
        Frames with ``REF_polarizability`` (3×3, Å³), ``REF_source`` and, when present,
        ``REF_epsilon_inf``. The original key is removed when it differs from
        ``REF_polarizability``.

    Raises
    ------
    InputError
        Unreadable file, no frame, a frame without the key, or badly shaped values.
    """
    p = Path(path)
    if unit not in UNITS_TO_A3:
        raise InputError(f"{p}: unit must be one of {', '.join(UNITS_TO_A3)}, got {unit!r}")
    text = _normalise_headers(read_text(p))
    try:
        frames = read(io.StringIO(text), format="extxyz", index=index)
    except Exception as exc:  # ASE raises various errors on malformed xyz
        raise InputError(f"{p}: not a readable extended XYZ file ({one_line(exc)})") from None
    if isinstance(frames, Atoms):
        frames = [frames]
    if not frames:
        raise InputError(f"{p}: no frames")
    candidates = (key,) if key is not None else KNOWN_KEYS
    chosen = None
    for cand in candidates:
        if _lookup(frames[0].info, cand) is not None:
            chosen = cand
            break
    if chosen is None:
        raise InputError(
            f"{p}: frame 0 has none of the polarizability keys {', '.join(candidates)} "
            f"(info keys: {', '.join(map(str, frames[0].info)) or 'none'})"
        )
    eps_key = epsilon_key if epsilon_key is not None else INFO_EPSILON
    new_source = source_string("extxyz", p, key=chosen, unit=unit, order=order)
    out = []
    for n, atoms in enumerate(frames):
        where = f"{p} frame {n} key {chosen!r}"
        actual = _lookup(atoms.info, chosen)
        if actual is None:
            raise InputError(f"{p}: frame {n} has no {chosen!r} value")
        value = atoms.info.pop(actual)
        alpha = tensor_from_value(value, order, where) * UNITS_TO_A3[unit]
        atoms.calc = None
        eps = None
        actual_eps = _lookup(atoms.info, eps_key)
        if actual_eps is not None:
            eps_where = f"{p} frame {n} key {eps_key!r}"
            eps_value = tensor_from_value(atoms.info.pop(actual_eps), None, eps_where)
            eps = symmetric_tensor(eps_value, p, f"frame {n} eps_inf")
        elif epsilon_key is not None:
            raise InputError(f"{p}: frame {n} has no {epsilon_key!r} value")
        old_source = atoms.info.get(INFO_SOURCE)
        source = old_source if isinstance(old_source, str) and old_source else new_source
        volume = float(atoms.get_volume()) if atoms.cell.rank == 3 else None
        attach_reference(atoms, p, source=source, polarizability_A3=alpha, volume_A3=volume)
        if eps is not None:
            atoms.info[INFO_EPSILON] = eps
        out.append(atoms)
    return out


def write_reference_extxyz(
    atoms_list: Sequence[Atoms], path: str | os.PathLike[str]
) -> Path:
    """Write structures with their ``REF_`` keys to an extended XYZ file, atomically.

    Each frame must carry ``REF_polarizability`` (3×3 or 9 numbers, finite); it is written as a
    3×3 array (row i, column j), together with ``REF_epsilon_inf``, ``REF_source`` and the other
    ``info`` entries. Calculator results are not written. The file appears only when complete.

    Returns
    -------
    Path
        ``path``.
    """
    frames = []
    for n, atoms in enumerate(atoms_list):
        if INFO_POLARIZABILITY not in atoms.info:
            raise InputError(f"{path}: structure {n} has no {INFO_POLARIZABILITY!r} to write")
        copy = atoms.copy()
        copy.calc = None
        copy.info[INFO_POLARIZABILITY] = symmetric_tensor(
            tensor_from_value(atoms.info[INFO_POLARIZABILITY], None, f"structure {n}"),
            path, f"structure {n} polarizability",
        )
        if INFO_EPSILON in atoms.info:
            copy.info[INFO_EPSILON] = symmetric_tensor(
                tensor_from_value(atoms.info[INFO_EPSILON], None, f"structure {n}"),
                path, f"structure {n} eps_inf",
            )
        frames.append(copy)
    if not frames:
        raise InputError(f"{path}: no structures to write")
    with atomic_path(path) as tmp:
        write(tmp, frames, format="extxyz")
    return Path(path)
