"""VASP: clamped-ion ε∞ from ``vasprun.xml`` and ``OUTCAR`` (LEPSILON / LCALCEPS runs).

Which block is ε∞ (VASP wiki, LEPSILON / LRPA / LCALCEPS pages):

* ``OUTCAR``: ``MACROSCOPIC STATIC DIELECTRIC TENSOR (including local field effects in DFT)``
  (LRPA = .FALSE., the default: Hartree + exchange-correlation local fields). Not used: the
  ``... IONIC CONTRIBUTION`` block (ionic part of ε0), ``... (excluding local field effects)``
  / ``HEAD OF MICROSCOPIC ...`` (independent particles), and ``... in RPA (Hartree))``
  (LRPA = .TRUE.), which is taken only with ``local_field="rpa"``.
* ``vasprun.xml``, inside a ``<calculation>``: ``<varray name="epsilon">`` (VASP 5 and 6; with
  local fields as set by LRPA), else ``"dielectric_dft"`` (VASP 6), else ``"epsilon_scf"``
  (LCALCEPS). Not used: ``"epsilon_ion"`` (ionic part), ``"epsilon_rpa"`` (VASP 5, no local
  fields) and ``"dielectric_ipa"`` (VASP 6, independent particles).

α = V (ε∞ − 1) / 4π with V the volume of the cell of the same calculation. Structures are read
with ASE (``vasp-xml`` / ``vasp-out``).
"""

from __future__ import annotations

import gzip
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

import numpy as np
from ase import Atoms
from ase.io import read

from ionraman.errors import InputError
from ionraman.polarizability.reference.importers._common import (
    attach_reference,
    one_line,
    read_text,
    source_string,
)

LocalField = Literal["dft", "rpa"]

OUTCAR_HEADERS: dict[str, str] = {
    "dft": "MACROSCOPIC STATIC DIELECTRIC TENSOR (including local field effects in DFT)",
    "rpa": "MACROSCOPIC STATIC DIELECTRIC TENSOR (including local field effects in RPA (Hartree))",
}
"""OUTCAR header line of ε∞ for each treatment of local fields."""

VASPRUN_EPSILON_NAMES: tuple[str, ...] = ("epsilon", "dielectric_dft", "epsilon_scf")
"""``<varray name=...>`` holding ε∞, in order of preference."""
VASPRUN_OTHER_NAMES: tuple[str, ...] = ("epsilon_ion", "epsilon_rpa", "dielectric_ipa")
"""Dielectric blocks that are *not* ε∞ (named in error messages)."""

_FLOAT = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"


def _check_local_field(local_field: str, path: Path) -> None:
    if local_field not in OUTCAR_HEADERS:
        raise InputError(f"{path}: local_field must be 'dft' or 'rpa', got {local_field!r}")


# ---------------------------------------------------------------------------------------------
# vasprun.xml
# ---------------------------------------------------------------------------------------------
def _floats_3x3(varray: ET.Element, path: Path, name: str) -> np.ndarray:
    rows = [v.text.split() if v.text else [] for v in varray.findall("v")]
    try:
        arr = np.array(rows, dtype=float)
    except ValueError:
        raise InputError(f"{path}: <varray name=\"{name}\"> has non-numeric entries") from None
    if arr.shape != (3, 3):
        raise InputError(f"{path}: <varray name=\"{name}\"> has shape {arr.shape}, expected 3x3")
    return arr


def _lrpa(root_items: dict[str, str]) -> bool | None:
    value = root_items.get("LRPA")
    if value is None:
        return None
    return value.strip().upper().startswith("T")


def read_vasprun(
    path: str | os.PathLike[str], *, local_field: LocalField = "dft"
) -> list[Atoms]:
    """Read ε∞ and the structure of the last calculation of a ``vasprun.xml`` that has ε∞.

    Parameters
    ----------
    path
        ``vasprun.xml`` (optionally ``.gz``) of a LEPSILON or LCALCEPS run.
    local_field
        ``"dft"`` (default; requires LRPA = .FALSE.) or ``"rpa"`` (requires LRPA = .TRUE.).

    Returns
    -------
    list of Atoms
        One structure with ``REF_epsilon_inf`` (3×3), ``REF_polarizability`` (3×3, Å³),
        ``REF_volume_A3`` and ``REF_source`` in ``info``.

    Raises
    ------
    InputError
        No ε∞ block (naming the dielectric blocks that are present), an LRPA setting that does
        not match ``local_field``, or an unreadable structure.
    """
    p = Path(path)
    _check_local_field(local_field, p)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    found: tuple[int, str, np.ndarray] | None = None
    others: set[str] = set()
    lrpa_items: dict[str, str] = {}
    version = None
    n_calc = 0
    truncated = False
    try:
        source_file = gzip.open(p, "rb") if p.suffix == ".gz" else open(p, "rb")
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({one_line(exc)})") from None
    try:
        for _event, elem in ET.iterparse(source_file, events=("end",)):
            tag = elem.tag
            if tag == "i" and elem.get("name") == "version" and version is None:
                version = (elem.text or "").strip() or None
            elif tag == "incar":
                for item in elem.findall("i[@name='LRPA']"):
                    lrpa_items.setdefault("LRPA", item.text or "")
            elif tag == "separator" and elem.get("name") == "linear response parameters":
                for item in elem.findall("i[@name='LRPA']"):
                    lrpa_items.setdefault("LRPA", item.text or "")
            elif tag == "calculation":
                for name in VASPRUN_EPSILON_NAMES:
                    varray = elem.find(f"varray[@name='{name}']")
                    if varray is not None:
                        found = (n_calc, name, _floats_3x3(varray, p, name))
                        break
                for name in VASPRUN_OTHER_NAMES:
                    if elem.find(f"varray[@name='{name}']") is not None:
                        others.add(name)
                n_calc += 1
                elem.clear()
    except (ET.ParseError, EOFError, OSError):
        truncated = True
    finally:
        source_file.close()
    if found is None:
        present = ", ".join(sorted(others)) or "none"
        note = " (file is truncated)" if truncated else ""
        raise InputError(
            f"{p}: no eps_inf block <varray name=\"epsilon\"|\"dielectric_dft\"|\"epsilon_scf\">"
            f"{note}; other dielectric blocks present: {present} (run with LEPSILON or LCALCEPS)"
        )
    lrpa = _lrpa(lrpa_items)
    if local_field == "dft" and lrpa is True:
        raise InputError(
            f"{p}: LRPA = .TRUE. (Hartree-only local fields); pass local_field='rpa' to accept it"
        )
    if local_field == "rpa" and lrpa is not True:
        raise InputError(f"{p}: local_field='rpa' requested but the run has LRPA = .FALSE.")
    calc_index, name, eps = found
    try:
        images = read(p, format="vasp-xml", index=":")
    except Exception as exc:  # ASE raises many types on malformed files
        raise InputError(f"{p}: cannot read the structure with ASE ({one_line(exc)})") from None
    if calc_index >= len(images):
        raise InputError(f"{p}: the calculation holding eps_inf has no complete structure")
    atoms = images[calc_index]
    atoms.calc = None
    source = source_string(
        "vasp", p, format="vasprun.xml", block=name, local_field=local_field, version=version
    )
    return [
        attach_reference(
            atoms, p, source=source, epsilon_inf=eps, volume_A3=float(atoms.get_volume())
        )
    ]


# ---------------------------------------------------------------------------------------------
# OUTCAR
# ---------------------------------------------------------------------------------------------
def _outcar_tensor(lines: list[str], start: int, path: Path, header: str) -> np.ndarray:
    """Three rows of numbers after ``header`` (line ``start``) and its dashed underline."""
    rows: list[list[float]] = []
    for line in lines[start + 1 : start + 6]:
        if set(line.strip()) <= {"-"}:
            if rows:
                break
            continue
        fields = line.split()
        if "*" in line or len(fields) != 3:
            break
        try:
            rows.append([float(x) for x in fields])
        except ValueError:
            break
    if len(rows) != 3:
        raise InputError(f"{path}: block '{header}' has {len(rows)} readable rows, expected 3")
    return np.array(rows)


def _outcar_cell(lines: list[str], path: Path) -> np.ndarray | None:
    """Last ``direct lattice vectors`` block (Å), or None."""
    starts = [i for i, line in enumerate(lines) if "direct lattice vectors" in line]
    if not starts:
        return None
    rows = []
    for line in lines[starts[-1] + 1 : starts[-1] + 4]:
        fields = re.findall(_FLOAT, line)
        if len(fields) < 3:
            raise InputError(f"{path}: 'direct lattice vectors' block is incomplete")
        rows.append([float(x) for x in fields[:3]])
    if len(rows) != 3:
        raise InputError(f"{path}: 'direct lattice vectors' block is incomplete")
    return np.array(rows)


def read_outcar(
    path: str | os.PathLike[str], *, local_field: LocalField = "dft"
) -> list[Atoms]:
    """Read ε∞ (last block) and the cell/structure from a VASP ``OUTCAR``.

    The structure is read with ASE (``vasp-out``, last ionic step); when ASE cannot read one
    (e.g. an excerpt without the ``POSITION`` table) an empty :class:`Atoms` with the last
    ``direct lattice vectors`` as cell is returned. The volume comes from that cell (the
    ``volume of cell`` line has only two decimals and is used as a consistency check).

    Parameters
    ----------
    path
        ``OUTCAR`` (optionally ``.gz``) of a LEPSILON or LCALCEPS run.
    local_field
        ``"dft"`` (default) or ``"rpa"`` (LRPA = .TRUE. runs).

    Returns
    -------
    list of Atoms
        One structure with ``REF_epsilon_inf`` (3×3), ``REF_polarizability`` (3×3, Å³),
        ``REF_volume_A3`` and ``REF_source``.
    """
    p = Path(path)
    _check_local_field(local_field, p)
    text = read_text(p)
    lines = text.splitlines()
    header = OUTCAR_HEADERS[local_field]
    starts = [i for i, line in enumerate(lines) if line.strip() == header]
    if not starts:
        other = [h for k, h in OUTCAR_HEADERS.items() if k != local_field]
        hint = ""
        if any(line.strip() == other[0] for line in lines):
            hint = f"; the file has '{other[0]}' (pass local_field='rpa')"
        elif "IONIC CONTRIBUTION" in text:
            hint = "; only the ionic contribution is present"
        raise InputError(f"{p}: no '{header}' block{hint} (run with LEPSILON or LCALCEPS)")
    eps = _outcar_tensor(lines, starts[-1], p, header)

    atoms: Atoms | None = None
    try:
        atoms = read(p, format="vasp-out", index=-1)
        atoms.calc = None
    except Exception:  # ASE fails on OUTCARs without ionic steps; fall back to the cell only
        atoms = None
    if atoms is None or len(atoms) == 0:
        cell = _outcar_cell(lines, p)
        if cell is None:
            raise InputError(f"{p}: no structure and no 'direct lattice vectors' block")
        atoms = Atoms(cell=cell, pbc=True)
    volume = float(abs(np.linalg.det(atoms.cell[:])))
    printed = re.findall(rf"volume of cell :\s*({_FLOAT})", text)
    # the printed volume has two decimals: it must agree with the cell to rounding
    if printed and abs(float(printed[-1]) - volume) > 0.0051 + 1e-6 * volume:
        raise InputError(
            f"{p}: cell volume {volume:.4f} A^3 disagrees with 'volume of cell : {printed[-1]}'"
        )
    version = None
    first = lines[0].split() if lines else []
    if first and first[0].startswith("vasp."):
        version = first[0][len("vasp.") :]
    source = source_string(
        "vasp", p, format="OUTCAR", block=header, local_field=local_field, version=version
    )
    return [attach_reference(atoms, p, source=source, epsilon_inf=eps, volume_A3=volume)]
