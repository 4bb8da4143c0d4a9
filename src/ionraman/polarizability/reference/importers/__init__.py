"""Importers of reference polarizabilities computed by DFT codes or stored in extxyz files.

Every reader returns a list of :class:`ase.Atoms` (the structure when the file has one) with

* ``info["REF_polarizability"]``: cell polarizability α, full symmetric 3×3 (Å³);
* ``info["REF_epsilon_inf"]``: clamped-ion ε∞, 3×3 (dimensionless), where the code gives it,
  α = V (ε∞ − 1) / 4π with V = ``info["REF_volume_A3"]`` (Å³);
* ``info["REF_source"]``: ``"code=...; file=...; sha256=...; ..."`` (:func:`parse_source`).

Bad or incomplete files raise :class:`ionraman.errors.InputError` with a one-line message.

Readers:

* :func:`read_vasprun`: VASP ``vasprun.xml`` (LEPSILON / LCALCEPS);
* :func:`read_outcar`: VASP ``OUTCAR``;
* :func:`read_qe_ph`: Quantum ESPRESSO ph.x output (``epsil = .true.``);
* :func:`read_abinit_out`: ABINIT main output (``rfelfd 3`` dataset);
* :func:`read_anaddb_out`: anaddb output (``dieflag`` >= 1);
* :func:`read_cp2k_polar`: CP2K output with ``&LINRES/&POLAR``;
* :func:`read_extxyz_reference`: extxyz with ``REF_polarizability``, MACE or NEP ``pol`` keys.

:func:`read_reference` picks the reader from the file content; :func:`write_reference_extxyz`
writes the result atomically.
"""

from ionraman.polarizability.reference.importers._common import (
    INFO_EPSILON,
    INFO_POLARIZABILITY,
    INFO_SOURCE,
    INFO_VOLUME,
    parse_source,
)
from ionraman.polarizability.reference.importers.abinit import read_abinit_out, read_anaddb_out
from ionraman.polarizability.reference.importers.cp2k import read_cp2k_polar
from ionraman.polarizability.reference.importers.dispatch import (
    READERS,
    guess_code,
    read_reference,
)
from ionraman.polarizability.reference.importers.espresso import read_qe_ph
from ionraman.polarizability.reference.importers.extxyz import (
    KNOWN_KEYS,
    read_extxyz_reference,
    write_reference_extxyz,
)
from ionraman.polarizability.reference.importers.vasp import read_outcar, read_vasprun

__all__ = [
    "INFO_EPSILON",
    "INFO_POLARIZABILITY",
    "INFO_SOURCE",
    "INFO_VOLUME",
    "KNOWN_KEYS",
    "READERS",
    "guess_code",
    "parse_source",
    "read_abinit_out",
    "read_anaddb_out",
    "read_cp2k_polar",
    "read_extxyz_reference",
    "read_outcar",
    "read_qe_ph",
    "read_reference",
    "read_vasprun",
    "write_reference_extxyz",
]
