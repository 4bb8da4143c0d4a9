"""Helpers shared by the reference-polarizability importers.

Every importer returns :class:`ase.Atoms` carrying, in ``atoms.info``:

* ``REF_polarizability``: cell polarizability α, full symmetric 3×3 array (Å³);
* ``REF_epsilon_inf``: clamped-ion electronic dielectric tensor ε∞, 3×3 (dimensionless), only
  when the code reports ε∞ (VASP, Quantum ESPRESSO, ABINIT) — then α = V (ε∞ − 1) / 4π;
* ``REF_volume_A3``: the cell volume V used in that conversion (Å³), when a cell is known;
* ``REF_source``: one line ``"code=...; file=...; sha256=...; ..."`` (see :func:`parse_source`).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.units import Bohr

from ionraman._io import file_sha256
from ionraman.errors import InputError
from ionraman.polarizability.reference.qe import (
    INFO_EPSILON,
    INFO_POLARIZABILITY,
    INFO_SOURCE,
    polarizability_from_epsilon,
)

INFO_VOLUME = "REF_volume_A3"
"""``atoms.info`` key of the cell volume (Å³) used to turn ε∞ into α."""

BOHR3_TO_A3 = Bohr**3
"""1 bohr³ in Å³ (ASE's Bohr radius; QE, ABINIT and CP2K print volumes and α in bohr³)."""

ASYMMETRY_TOL = 1e-2
"""Largest accepted max|T − Tᵀ| / max|T| of a parsed tensor before it is symmetrised.

Codes print slightly asymmetric tensors (CP2K α_xy vs α_yx differ by ~1e-4 relative, QE ε∞ by
~1e-8); anything far larger means a broken or misread block, which is reported, not averaged.
"""

__all__ = [
    "ASYMMETRY_TOL",
    "BOHR3_TO_A3",
    "INFO_EPSILON",
    "INFO_POLARIZABILITY",
    "INFO_SOURCE",
    "INFO_VOLUME",
    "attach_reference",
    "one_line",
    "parse_source",
    "read_text",
    "source_string",
    "symmetric_tensor",
]


def read_text(path: str | os.PathLike[str]) -> str:
    """Whole text of ``path`` (gzip-compressed when the name ends in ``.gz``).

    Raises
    ------
    InputError
        If the file does not exist or cannot be decoded.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    try:
        if p.suffix == ".gz":
            with gzip.open(p, "rt", encoding="utf-8", errors="replace") as fh:
                return fh.read()
        return p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({exc})") from None


def one_line(exc: BaseException, limit: int = 160) -> str:
    """Message of a third-party exception on one line, at most ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def source_string(code: str, path: str | os.PathLike[str], **extra: object) -> str:
    """One-line provenance ``"code=<code>; file=<name>; sha256=<hex>; key=value; ..."``.

    ``file`` is the base name (paths are machine specific); the SHA-256 identifies the content.
    Values must not contain ``;``.
    """
    p = Path(path)
    parts = [f"code={code}", f"file={p.name}", f"sha256={file_sha256(p)}"]
    parts += [f"{k}={v}" for k, v in extra.items() if v is not None]
    return "; ".join(parts)


def parse_source(source: str) -> dict[str, str]:
    """Inverse of :func:`source_string`: ``{"code": ..., "file": ..., "sha256": ..., ...}``."""
    out: dict[str, str] = {}
    for part in str(source).split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def symmetric_tensor(
    tensor: np.ndarray, path: str | os.PathLike[str], what: str, tol: float = ASYMMETRY_TOL
) -> np.ndarray:
    """Check a parsed 3×3 tensor and return its symmetric part (T + Tᵀ)/2.

    Parameters
    ----------
    tensor
        Shape ``[3, 3]``.
    path, what
        File and quantity named in error messages.
    tol
        Largest accepted relative asymmetry max|T − Tᵀ| / max|T|.

    Raises
    ------
    InputError
        Non-finite entries (a failed calculation) or an asymmetry above ``tol``.
    """
    t = np.asarray(tensor, dtype=float)
    if t.shape != (3, 3):
        raise InputError(f"{path}: {what} has shape {t.shape}, expected (3, 3)")
    if not np.all(np.isfinite(t)):
        raise InputError(f"{path}: {what} contains NaN/Inf entries (the calculation failed)")
    scale = float(np.max(np.abs(t)))
    asym = float(np.max(np.abs(t - t.T)))
    if scale > 0 and asym / scale > tol:
        raise InputError(
            f"{path}: {what} is not symmetric (max|T - T^T| / max|T| = {asym / scale:.3g} "
            f"> {tol:g}); the block is probably misread or truncated"
        )
    return 0.5 * (t + t.T)


def attach_reference(
    atoms: Atoms,
    path: str | os.PathLike[str],
    *,
    source: str,
    epsilon_inf: np.ndarray | None = None,
    polarizability_A3: np.ndarray | None = None,
    volume_A3: float | None = None,
) -> Atoms:
    """Store the reference keys in ``atoms.info`` (in place) and return ``atoms``.

    Give either ``epsilon_inf`` (with ``volume_A3``; then α = V (ε∞ − 1) / 4π) or
    ``polarizability_A3``.

    Parameters
    ----------
    epsilon_inf
        ε∞, shape ``[3, 3]`` (dimensionless), symmetrised here.
    polarizability_A3
        α, shape ``[3, 3]`` (Å³), symmetrised here.
    volume_A3
        Cell volume (Å³).
    """
    if epsilon_inf is not None:
        if volume_A3 is None or not volume_A3 > 0:
            raise InputError(f"{path}: no positive cell volume to convert eps_inf to alpha")
        eps = symmetric_tensor(epsilon_inf, path, "eps_inf")
        atoms.info[INFO_EPSILON] = eps
        alpha = polarizability_from_epsilon(eps, float(volume_A3))
    elif polarizability_A3 is not None:
        alpha = symmetric_tensor(polarizability_A3, path, "polarizability")
    else:  # pragma: no cover - programming error
        raise ValueError("attach_reference needs epsilon_inf or polarizability_A3")
    atoms.info[INFO_POLARIZABILITY] = np.asarray(alpha, dtype=float)
    if volume_A3 is not None:
        atoms.info[INFO_VOLUME] = float(volume_A3)
    atoms.info[INFO_SOURCE] = source
    return atoms
