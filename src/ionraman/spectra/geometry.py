"""Single-crystal scattering geometries in Porto notation.

A geometry ``k_i(e_i e_s)k_s`` names the incident wave vector ``k_i``, the incident and scattered
polarisations ``e_i``, ``e_s`` and the scattered wave vector ``k_s``; the scattered amplitude of a
polarizability fluctuation δα is ``e_s · δα · e_i`` and its spectrum is the single-crystal channel.
Directions refer to the Cartesian frame of the simulation cell:

====== ==================================
token  unit vector
====== ==================================
x y z  (1,0,0), (0,1,0), (0,0,1)
x'     (1,1,0)/√2   ([110])
y'     (−1,1,0)/√2  ([1̄10])
z'     (0,0,1)
====== ==================================

A leading ``-`` or a bar (combining macron U+0304 or overline U+0305, e.g. ``z̄``) reverses a wave
vector; the sign of a polarisation does not change a spectrum. The wave vectors are optional
(``"(xy)"``); when given, each polarisation must be perpendicular to its wave vector.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ionraman.errors import InputError

__all__ = ["geometry_label", "porto_vectors", "resolve_geometry"]

_SQRT_HALF = np.sqrt(0.5)
_AXES: dict[str, np.ndarray] = {
    "x": np.array([1.0, 0.0, 0.0]),
    "y": np.array([0.0, 1.0, 0.0]),
    "z": np.array([0.0, 0.0, 1.0]),
    "x'": np.array([_SQRT_HALF, _SQRT_HALF, 0.0]),
    "y'": np.array([-_SQRT_HALF, _SQRT_HALF, 0.0]),
    "z'": np.array([0.0, 0.0, 1.0]),
}
_BARS = "\u0304\u0305"
_PRIMES = "'\u2032"
_DIR = rf"-?[xyzXYZ][{_BARS}]?[{_PRIMES}]?[{_BARS}]?"
_PORTO = re.compile(rf"^\s*({_DIR})?\s*\(\s*({_DIR})\s*,?\s*({_DIR})\s*\)\s*({_DIR})?\s*$")


def _direction(token: str, notation: str) -> np.ndarray:
    sign = -1.0 if token.startswith("-") else 1.0
    if any(b in token for b in _BARS):
        sign = -sign
    core = token.lstrip("-").lower()
    for ch in _BARS:
        core = core.replace(ch, "")
    core = core.replace("\u2032", "'")
    if core not in _AXES:  # pragma: no cover - the regex only lets known tokens through
        raise InputError(f"unknown direction {token!r} in scattering geometry {notation!r}")
    return sign * _AXES[core]


def porto_vectors(notation: str) -> tuple[np.ndarray, np.ndarray]:
    """Incident and scattered polarisation unit vectors of a Porto-notation geometry.

    Parameters
    ----------
    notation
        e.g. ``"z(xx)z̄"``, ``"z(xy)-z"``, ``"z(x'x')z̄"``, ``"x(zz)x̄"`` or just ``"(xy)"``.

    Returns
    -------
    e_i, e_s : numpy.ndarray
        Unit vectors, shape ``[3]`` each, in the Cartesian frame of the cell.

    Raises
    ------
    InputError
        Unparseable notation, or a polarisation parallel to a component of its wave vector.
    """
    m = _PORTO.match(str(notation))
    if m is None:
        raise InputError(
            f"cannot parse scattering geometry {notation!r}; expected Porto notation "
            'k_i(e_i e_s)k_s such as "z(xx)z̄", "z(xy)-z" or "(x\'y\')" with directions '
            "x, y, z, x', y'"
        )
    k_in, pol_i, pol_s, k_out = m.groups()
    e_i = _direction(pol_i, notation)
    e_s = _direction(pol_s, notation)
    for k_tok, e, which in ((k_in, e_i, "incident"), (k_out, e_s, "scattered")):
        if k_tok is not None and abs(float(_direction(k_tok, notation) @ e)) > 1e-12:
            raise InputError(
                f"scattering geometry {notation!r}: the {which} polarisation is not "
                f"perpendicular to its wave vector {k_tok!r}"
            )
    return e_i, e_s


def _unit(vec: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    v = np.asarray(vec, dtype=float)
    if v.shape != (3,) or not np.isfinite(v).all() or not np.linalg.norm(v) > 0:
        raise InputError(f"{what} must be a finite, non-zero 3-vector, got {np.asarray(vec)!r}")
    return v / np.linalg.norm(v)


def geometry_label(e_i: np.ndarray, e_s: np.ndarray) -> str:
    """Channel name of an explicit geometry, e.g. ``"ei=(1,0,0),es=(0,1,0)"``."""

    def fmt(v: np.ndarray) -> str:
        return "(" + ",".join(f"{x:.4g}" for x in v) + ")"

    return f"ei={fmt(e_i)},es={fmt(e_s)}"


def resolve_geometry(
    geometry: str | tuple[Sequence[float], Sequence[float]],
) -> tuple[str, np.ndarray, np.ndarray]:
    """Channel name and unit polarisation vectors ``(name, e_i [3], e_s [3])`` of one geometry.

    A string is parsed with :func:`porto_vectors` and keeps its spelling (stripped) as the channel
    name; a pair of vectors is normalised to unit length and named by :func:`geometry_label`.
    """
    if isinstance(geometry, str):
        e_i, e_s = porto_vectors(geometry)
        return geometry.strip(), e_i, e_s
    try:
        v_i, v_s = geometry
    except (TypeError, ValueError):
        raise InputError(
            f"a scattering geometry must be a Porto string or a pair (e_i, e_s) of 3-vectors, "
            f"got {geometry!r}"
        ) from None
    e_i = _unit(v_i, "incident polarisation e_i")
    e_s = _unit(v_s, "scattered polarisation e_s")
    return geometry_label(e_i, e_s), e_i, e_s
