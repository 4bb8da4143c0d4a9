"""CP2K: cell polarizability from the ``&PROPERTIES/&LINRES/&POLAR`` output.

CP2K (2023.1, ``qs_linres_polar_utils``) prints, after the linear-response (Berry-phase) run::

    POLAR| Polarizability tensor [a.u.]
    POLAR| xx,yy,zz    <3 numbers>
    POLAR| xy,xz,yz    <3 numbers>
    POLAR| yx,zx,zy    <3 numbers>

    POLAR| Polarizability tensor [ang^3]
    POLAR| ...

i.e. nine labelled components (the labels are read from each line, not assumed). The
``[ang^3]`` block is used; when absent, the ``[a.u.]`` block converted with bohr³ → Å³, then the
unprefixed ``POLARIZABILITY TENSOR (Angstrom^3):`` / ``(atomic units):`` blocks. A NaN tensor (the
linear solver diverged) is an error. CP2K gives α directly, so no ε∞ is stored. The structure is
read from the last ``CELL| Vector`` lines and ``ATOMIC COORDINATES IN ANGSTROM`` table
(``PRINT_LEVEL MEDIUM`` or higher; at ``LOW`` an empty :class:`Atoms` is returned).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from ase import Atoms

from ionraman.errors import InputError
from ionraman.polarizability.reference.importers._common import (
    BOHR3_TO_A3,
    attach_reference,
    read_text,
    source_string,
)

_NUM = r"(?:[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eEdD][-+]?\d+)?|NaN|[-+]?Infinity)"
_ROW = re.compile(
    rf"^\s*(?:POLAR\|)?\s*([xyz]{{2}}),([xyz]{{2}}),([xyz]{{2}})\s+({_NUM})\s+({_NUM})\s+({_NUM})\s*$"
)
BLOCKS: tuple[tuple[str, float], ...] = (
    ("POLAR| Polarizability tensor [ang^3]", 1.0),
    ("POLAR| Polarizability tensor [a.u.]", BOHR3_TO_A3),
    ("POLARIZABILITY TENSOR (Angstrom^3):", 1.0),
    ("POLARIZABILITY TENSOR (atomic units):", BOHR3_TO_A3),
)
"""Header lines of α in order of preference, with the factor to Å³."""

_CELL = re.compile(rf"^\s*CELL\|\s*Vector ([abc]) \[angstrom\]:?\s+({_NUM})\s+({_NUM})\s+({_NUM})")
_PERIODIC = re.compile(r"^\s*CELL\|\s*Periodicity\s+(\S+)")
_COORD_HEADER = re.compile(r"ATOMIC COORDINATES IN ANGSTROM", re.IGNORECASE)
_COORD_ROW = re.compile(
    rf"^\s*(\d+)\s+(\d+)\s+([A-Za-z]+)\s+(\d+)\s+({_NUM})\s+({_NUM})\s+({_NUM})\b"
)
_VERSION = re.compile(r"CP2K version (\S+)")
_AXIS = {"x": 0, "y": 1, "z": 2}


def _float(s: str) -> float:
    return float(s.replace("D", "E").replace("d", "e"))


def _parse_block(lines: list[str], start: int, path: Path, header: str) -> np.ndarray:
    tensor = np.full((3, 3), np.nan)
    filled: set[tuple[int, int]] = set()
    for line in lines[start + 1 : start + 4]:
        match = _ROW.match(line)
        if not match:
            break
        for label, value in zip(match.groups()[:3], match.groups()[3:], strict=True):
            ij = (_AXIS[label[0]], _AXIS[label[1]])
            tensor[ij] = _float(value)
            filled.add(ij)
    if len(filled) != 9:
        raise InputError(f"{path}: '{header}' block is incomplete ({len(filled)} of 9 components)")
    return tensor


def _structure(lines: list[str]) -> Atoms:
    cell: dict[str, list[float]] = {}
    periodic = "XYZ"
    coord_start = None
    for k, line in enumerate(lines):
        match = _CELL.match(line)
        if match:
            cell[match.group(1)] = [_float(match.group(m)) for m in (2, 3, 4)]
            continue
        match = _PERIODIC.match(line)
        if match:
            periodic = match.group(1).upper()
            continue
        if _COORD_HEADER.search(line):
            coord_start = k
    numbers: list[int] = []
    positions: list[list[float]] = []
    if coord_start is not None:
        started = False
        for line in lines[coord_start + 1 :]:
            match = _COORD_ROW.match(line)
            if match:
                started = True
                numbers.append(int(match.group(4)))
                positions.append([_float(match.group(m)) for m in (5, 6, 7)])
            elif started:
                break
    pbc = [axis in periodic for axis in "XYZ"]
    if set(cell) == {"a", "b", "c"}:
        return Atoms(numbers=numbers, positions=positions or None,
                     cell=[cell["a"], cell["b"], cell["c"]], pbc=pbc)
    return Atoms(numbers=numbers, positions=positions or None)


def read_cp2k_polar(path: str | os.PathLike[str]) -> list[Atoms]:
    """Read the polarizability tensor (last block, Å³) and the structure of a CP2K output.

    Parameters
    ----------
    path
        CP2K output (``-o`` file or redirected stdout, optionally ``.gz``) of a run with
        ``&PROPERTIES / &LINRES / &POLAR`` (``&PRINT / &POLAR_MATRIX``).

    Returns
    -------
    list of Atoms
        One structure with ``REF_polarizability`` (3×3, Å³), ``REF_source`` and, when the cell
        is printed, ``REF_volume_A3``.

    Raises
    ------
    InputError
        No polarizability block, an incomplete block, or NaN entries (diverged linear solver).
    """
    p = Path(path)
    text = read_text(p)
    lines = text.splitlines()
    chosen = None
    for header, factor in BLOCKS:
        starts = [k for k, line in enumerate(lines) if line.strip() == header]
        if starts:
            chosen = (starts[-1], header, factor)
            break
    if chosen is None:
        raise InputError(
            f"{p}: no 'POLAR| Polarizability tensor' block (needs &PROPERTIES/&LINRES/&POLAR "
            "with &PRINT/&POLAR_MATRIX)"
        )
    start, header, factor = chosen
    alpha = _parse_block(lines, start, p, header) * factor
    if not np.all(np.isfinite(alpha)):
        reason = (
            "the linear-response solver did not converge"
            if "linear solver didn't converge" in text
            else "the calculation failed"
        )
        raise InputError(f"{p}: CP2K polarizability tensor contains NaN ({reason})")
    atoms = _structure(lines)
    volume = float(atoms.get_volume()) if atoms.cell.rank == 3 else None
    match = _VERSION.search(text)
    source = source_string("cp2k", p, format="cp2k-out", block=header,
                           version=match.group(1) if match else None)
    return [attach_reference(atoms, p, source=source, polarizability_A3=alpha, volume_A3=volume)]
