"""Quantum ESPRESSO ``ph.x`` output: ε∞ from the ``Dielectric constant in cartesian axis`` block.

The block (q = 0, ``epsil = .true.``) is the clamped-ion electronic ε∞ (three rows in
parentheses), read with :func:`ionraman.polarizability.reference.qe.parse_epsilon` and checked
against ASE's :func:`ase.io.espresso.read_espresso_ph`, which also gives the structure. The volume
comes from the ``unit-cell volume = ... (a.u.)^3`` line of the same output (bohr³ → Å³), because
ph.x prints the cell vectors with four decimals only: the ASE structure is approximate (positions
to ~1e-4 alat); use the pw.x output when exact positions matter.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io.espresso import read_espresso_ph

from ionraman.errors import InputError
from ionraman.polarizability.reference.importers._common import (
    BOHR3_TO_A3,
    attach_reference,
    one_line,
    read_text,
    source_string,
)
from ionraman.polarizability.reference.qe import (
    EPSILON_HEADER,
    output_problem,
    parse_epsilon,
    parse_qe_version,
)

_VOLUME = re.compile(r"unit-cell volume\s*=\s*([0-9.]+(?:[eEdD][-+]?\d+)?)\s*\(a\.u\.\)\^3")


def read_qe_ph(path: str | os.PathLike[str]) -> list[Atoms]:
    """Read ε∞, the cell volume and the structure from a ph.x output.

    Parameters
    ----------
    path
        ph.x standard output (optionally ``.gz``) of an ``epsil = .true.`` run.

    Returns
    -------
    list of Atoms
        One structure (cell and positions as printed by ph.x) with ``REF_epsilon_inf`` (3×3),
        ``REF_polarizability`` (3×3, Å³), ``REF_volume_A3`` and ``REF_source``.

    Raises
    ------
    InputError
        A pw.x output instead of ph.x, a non-converged response, or a missing/incomplete
        dielectric block or volume line.
    """
    p = Path(path)
    text = read_text(p)
    if "Program PHONON" not in text:
        program = "pw.x" if "Program PWSCF" in text else "not ph.x"
        raise InputError(f"{p}: {program} output; eps_inf is in the ph.x output (epsil=.true.)")
    problem = output_problem(text, "ph")
    # an error box or a non-converged response invalidates the output; a missing 'JOB DONE.'
    # alone does not (eps_inf is final once printed, e.g. a run stopped during phonons)
    if problem and (EPSILON_HEADER not in text or "JOB DONE." not in problem):
        if "No convergence" in text:
            problem = "ph.x did not converge ('No convergence has been achieved')"
        raise InputError(f"{p}: {problem}")
    if EPSILON_HEADER not in text:
        raise InputError(f"{p}: no '{EPSILON_HEADER}' block (run ph.x with epsil=.true.)")
    try:  # the project's ph.x parser (last block, three rows in parentheses)
        eps = parse_epsilon(text)
    except ValueError as exc:
        raise InputError(f"{p}: {exc}") from None
    try:
        results = read_espresso_ph(io.StringIO(text))
    except Exception as exc:  # malformed blocks make ASE raise various errors
        raise InputError(f"{p}: cannot read the structure with ASE ({one_line(exc)})") from None
    blocks = [r for r in results.values() if "dieltensor" in r]
    if not blocks or not np.allclose(blocks[-1]["dieltensor"], eps, rtol=0, atol=1e-12):
        raise InputError(f"{p}: '{EPSILON_HEADER}' block is not where ASE expects it")
    volumes = _VOLUME.findall(text)
    if not volumes:
        raise InputError(f"{p}: no 'unit-cell volume = ... (a.u.)^3' line")
    volume = float(volumes[-1].replace("D", "E").replace("d", "e")) * BOHR3_TO_A3
    atoms = blocks[-1].get("atoms")
    if atoms is None:
        atoms = Atoms(pbc=True)
    source = source_string(
        "quantum-espresso", p, format="ph.x", block=EPSILON_HEADER, version=parse_qe_version(text)
    )
    return [attach_reference(atoms, p, source=source, epsilon_inf=eps, volume_A3=volume)]
