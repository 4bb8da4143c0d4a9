"""ABINIT: ε∞ from the main output (DFPT electric-field response) or from anaddb.

* Main output (``.abo``) of a ``rfelfd = 3`` dataset: the block ``Dielectric tensor, in
  cartesian coordinates,`` lists ``dir pert dir pert  real  imaginary`` with the electric-field
  perturbation (pert = natom + 2); it is the clamped-ion electronic ε∞. The structure is read with
  ASE (``abinit-out``), the volume from the ``Unit cell volume ucvol= ... bohr^3`` line preceding
  the block.
* anaddb output (``dieflag`` ≥ 1): the ``Electronic dielectric tensor`` block (three rows); the
  ``Relaxed ion dielectric tensor`` that follows it includes the ionic screening and is not used.
  anaddb prints the cell (``R(1)= ...`` in bohr) but no positions: an empty :class:`Atoms` with
  that cell is returned.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read
from ase.units import Bohr

from ionraman.errors import InputError
from ionraman.polarizability.reference.importers._common import (
    BOHR3_TO_A3,
    attach_reference,
    one_line,
    read_text,
    source_string,
)

ABINIT_HEADER = "Dielectric tensor, in cartesian coordinates,"
ANADDB_HEADER = "Electronic dielectric tensor"

_FLOAT = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eEdD][-+]?\d+)?"
_ENTRY = re.compile(rf"^\s*(\d)\s+(\d+)\s+(\d)\s+(\d+)\s+({_FLOAT})\s+({_FLOAT})\s*$")
_UCVOL = re.compile(rf"Unit cell volume ucvol=\s*({_FLOAT})\s*bohr\^3")
_VERSION = re.compile(r"^\.Version\s+(\S+)\s+of\s+(ABINIT|ANADDB)", re.MULTILINE)
_RVEC = re.compile(rf"^\s*R\((\d)\)=\s*({_FLOAT})\s+({_FLOAT})\s+({_FLOAT})")


def _float(s: str) -> float:
    return float(s.replace("D", "E").replace("d", "e"))


def _volume_before(text: str, position: int, path: Path) -> float:
    """Last ``ucvol`` value printed before character ``position``, in Å³."""
    values = _UCVOL.findall(text[:position])
    if not values:
        raise InputError(f"{path}: no 'Unit cell volume ucvol= ... bohr^3' line")
    return _float(values[-1]) * BOHR3_TO_A3


def _version(text: str) -> str | None:
    match = _VERSION.search(text)
    return match.group(1) if match else None


def read_abinit_out(path: str | os.PathLike[str]) -> list[Atoms]:
    """Read ε∞ (last ``Dielectric tensor`` block), volume and structure of an ABINIT output.

    Parameters
    ----------
    path
        Main output file (``.abo``/``.out``, optionally ``.gz``) of a run with an
        electric-field response dataset (``rfelfd 3``).

    Returns
    -------
    list of Atoms
        One structure with ``REF_epsilon_inf`` (3×3), ``REF_polarizability`` (3×3, Å³),
        ``REF_volume_A3`` and ``REF_source``.

    Raises
    ------
    InputError
        No dielectric block (e.g. only a ground-state run), missing tensor components (a
        response computed along some ``rfdir`` only), or no volume line.
    """
    p = Path(path)
    text = read_text(p)
    position = text.rfind(ABINIT_HEADER)
    if position < 0:
        raise InputError(f"{p}: no '{ABINIT_HEADER}' block (needs an rfelfd=3 dataset)")
    entries: dict[tuple[int, int], float] = {}
    perts: set[int] = set()
    lines = text[position:].splitlines()[1:]
    started = False
    for line in lines:
        match = _ENTRY.match(line)
        if match:
            started = True
            i, pert_i, j, pert_j = (int(match.group(k)) for k in range(1, 5))
            perts.update((pert_i, pert_j))
            entries[(i - 1, j - 1)] = _float(match.group(5))
        elif line.strip() and started:
            break
        elif line.strip() and not started and not re.search(r"j1|dir|pert", line):
            break
    missing = [f"{'xyz'[i]}{'xyz'[j]}" for i in range(3) for j in range(3) if (i, j) not in entries]
    if missing:
        raise InputError(
            f"{p}: '{ABINIT_HEADER}' block lacks components {', '.join(missing)} "
            "(compute the response along all three directions: rfdir 1 1 1)"
        )
    if len(perts) != 1:
        raise InputError(f"{p}: '{ABINIT_HEADER}' block mixes perturbations {sorted(perts)}")
    eps = np.array([[entries[(i, j)] for j in range(3)] for i in range(3)])
    volume = _volume_before(text, position, p)
    try:
        atoms = read(p, format="abinit-out")
        atoms.calc = None
    except Exception as exc:  # ASE raises various errors on incomplete outputs
        raise InputError(f"{p}: cannot read the structure with ASE ({one_line(exc)})") from None
    source = source_string("abinit", p, format="abinit-out", block=ABINIT_HEADER,
                           version=_version(text))
    return [attach_reference(atoms, p, source=source, epsilon_inf=eps, volume_A3=volume)]


def read_anaddb_out(path: str | os.PathLike[str]) -> list[Atoms]:
    """Read the ``Electronic dielectric tensor`` (ε∞), volume and cell of an anaddb output.

    Returns
    -------
    list of Atoms
        One empty (no atoms) periodic :class:`Atoms` with the cell from ``R(1..3)`` and
        ``REF_epsilon_inf``, ``REF_polarizability`` (Å³), ``REF_volume_A3``, ``REF_source``.
    """
    p = Path(path)
    text = read_text(p)
    position = text.rfind(ANADDB_HEADER)
    if position < 0:
        raise InputError(f"{p}: no '{ANADDB_HEADER}' block (run anaddb with dieflag >= 1)")
    rows: list[list[float]] = []
    for line in text[position:].splitlines()[1:4]:
        fields = line.split()
        try:
            rows.append([_float(x) for x in fields])
        except ValueError:
            break
    if len(rows) != 3 or any(len(r) != 3 for r in rows):
        raise InputError(f"{p}: '{ANADDB_HEADER}' block is incomplete (expected 3 rows of 3)")
    volume = _volume_before(text, position, p)
    cell = np.zeros((3, 3))
    seen = set()
    for line in text[:position].splitlines():
        match = _RVEC.match(line)
        if match:
            k = int(match.group(1)) - 1
            cell[k] = [_float(match.group(m)) for m in (2, 3, 4)]
            seen.add(k)
    atoms = Atoms(cell=cell * Bohr, pbc=True) if seen == {0, 1, 2} else Atoms(pbc=True)
    source = source_string("anaddb", p, format="anaddb", block=ANADDB_HEADER,
                           version=_version(text))
    return [attach_reference(atoms, p, source=source, epsilon_inf=np.array(rows),
                             volume_A3=volume)]
