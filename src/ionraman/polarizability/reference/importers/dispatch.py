"""Choose the importer of a reference file from its name or content."""

from __future__ import annotations

import gzip
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ase import Atoms

from ionraman.errors import InputError
from ionraman.polarizability.reference.importers.abinit import read_abinit_out, read_anaddb_out
from ionraman.polarizability.reference.importers.cp2k import read_cp2k_polar
from ionraman.polarizability.reference.importers.espresso import read_qe_ph
from ionraman.polarizability.reference.importers.extxyz import read_extxyz_reference
from ionraman.polarizability.reference.importers.vasp import read_outcar, read_vasprun

READERS: dict[str, Callable[..., list[Atoms]]] = {
    "vasprun": read_vasprun,
    "outcar": read_outcar,
    "qe-ph": read_qe_ph,
    "abinit": read_abinit_out,
    "anaddb": read_anaddb_out,
    "cp2k": read_cp2k_polar,
    "extxyz": read_extxyz_reference,
}
"""Code names accepted by :func:`read_reference` and the reader of each."""

ALIASES: dict[str, str] = {
    "vasp-xml": "vasprun",
    "vasp-out": "outcar",
    "vasp-outcar": "outcar",
    "espresso-ph": "qe-ph",
    "ph.x": "qe-ph",
    "quantum-espresso": "qe-ph",
    "qe": "qe-ph",
    "abinit-out": "abinit",
    "xyz": "extxyz",
}

_HEAD_BYTES = 65536


def _head(path: Path) -> str:
    """First bytes of the file as text (decompressed for ``.gz``)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read(_HEAD_BYTES)
        else:
            with open(path, "rb") as fh:
                data = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
    return data.decode("utf-8", errors="replace")


def guess_code(path: str | os.PathLike[str]) -> str:
    """Name of the reader (key of :data:`READERS`) for ``path``, from content then name.

    Raises
    ------
    InputError
        If the file does not exist or matches no known format.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    head = _head(p)
    name = p.name.lower().removesuffix(".gz")
    first = head.lstrip().splitlines()[0] if head.strip() else ""
    if "<modeling>" in head and "<generator>" in head:
        return "vasprun"
    if first.startswith("vasp.") or (name.startswith("outcar") and "POTCAR:" in head):
        return "outcar"
    if "Program PHONON" in head:
        return "qe-ph"
    if "Program PWSCF" in head:
        raise InputError(f"{p}: pw.x output; eps_inf is in the ph.x output (epsil=.true.)")
    if "of ANADDB" in head:
        return "anaddb"
    if "of ABINIT" in head:
        return "abinit"
    if "CP2K|" in head or "CP2K version" in head:
        return "cp2k"
    lines = head.splitlines()
    if len(lines) >= 2 and lines[0].strip().isdigit() and "=" in lines[1]:
        return "extxyz"
    if name.endswith((".xyz", ".extxyz")):
        return "extxyz"
    raise InputError(
        f"{p}: cannot tell which code wrote this file; pass code= one of {', '.join(READERS)}"
    )


def read_reference(
    path: str | os.PathLike[str], *, code: str | None = None, **options: Any
) -> list[Atoms]:
    """Read reference polarizabilities from any supported file.

    Parameters
    ----------
    path
        A ``vasprun.xml``, ``OUTCAR``, ph.x output, ABINIT or anaddb output, CP2K output or
        extended XYZ file (optionally ``.gz``).
    code
        Reader name (key of :data:`READERS` or an alias such as ``"vasp-xml"``); None guesses it
        with :func:`guess_code`.
    **options
        Passed to the reader (e.g. ``local_field`` for VASP, ``key``/``order``/``unit`` for
        extxyz).

    Returns
    -------
    list of Atoms
        Structures with ``REF_polarizability`` (3×3, Å³), ``REF_source`` and, where the code
        gives ε∞, ``REF_epsilon_inf``.
    """
    if code is None:
        name = guess_code(path)
    else:
        name = ALIASES.get(code.lower(), code.lower())
        if name not in READERS:
            known = ", ".join([*READERS, *ALIASES])
            raise InputError(f"unknown code {code!r}; expected one of: {known}")
    reader = READERS[name]
    try:
        inspect.signature(reader).bind(path, **options)
    except TypeError as exc:  # an option the chosen reader does not take
        raise InputError(f"{path}: bad option for the {name} reader ({exc})") from None
    return reader(path, **options)
