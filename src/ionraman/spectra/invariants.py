"""Rotational invariants of polarizability tensors and their scalar component signals.

For a symmetric tensor α (Å³) the isotropic part is ``a = tr(α)/3`` and the anisotropic (traceless)
part is ``β = α − a I``; the anisotropy invariant is ``γ² = (3/2) β:β`` (Å⁶), which equals the
textbook ``½[(α_xx−α_yy)² + (α_yy−α_zz)² + (α_zz−α_xx)² + 6(α_xy² + α_yz² + α_zx²)]``.
Orientation averages of the scattered power of an isotropic sample are (conventions module):
parallel ``(45 a² + 4 γ²)/45``, crossed ``3 γ²/45``.
"""

from __future__ import annotations

import numpy as np

from ionraman.errors import InputError

__all__ = [
    "anisotropy_invariant",
    "as_tensor_series",
    "polarizability_invariants",
    "random_rotations",
    "rotate_tensors",
]


def as_tensor_series(alpha: np.ndarray, name: str = "alpha") -> np.ndarray:
    """Validate and return a polarizability series as a float64 array ``[S, 3, 3]`` (Å³).

    Raises
    ------
    InputError
        Wrong shape, or NaN / inf entries (the message gives the first bad frame).
    """
    arr = np.asarray(alpha, dtype=float)
    if arr.ndim != 3 or arr.shape[1:] != (3, 3):
        raise InputError(
            f"{name} must have shape [S, 3, 3] (frames, 3x3 polarizability in Å^3), got "
            f"{arr.shape}; convert 6- or 9-component rows with ionraman.conventions.to_matrix"
        )
    finite = np.isfinite(arr).all(axis=(1, 2))
    if not finite.all():
        bad = int(np.argmin(finite))
        raise InputError(
            f"{name} contains NaN or inf values (first at frame {bad} of {arr.shape[0]}); "
            "expected finite polarizabilities in Å^3"
        )
    return arr


def polarizability_invariants(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic part and traceless anisotropic part of a polarizability series.

    Parameters
    ----------
    alpha
        Polarizabilities, shape ``[S, 3, 3]`` in Å³. The symmetric part ``(α + αᵀ)/2`` is used
        (non-resonant Raman tensors are symmetric; an antisymmetric remainder is discarded).

    Returns
    -------
    a : numpy.ndarray
        ``tr(α)/3``, shape ``[S]``, Å³.
    beta : numpy.ndarray
        ``β = α_sym − a I``, shape ``[S, 3, 3]``, Å³, traceless. The anisotropy invariant is
        ``γ² = (3/2) Σ_ij β_ij²`` (:func:`anisotropy_invariant`).
    """
    arr = as_tensor_series(alpha)
    sym = 0.5 * (arr + np.swapaxes(arr, -1, -2))
    a = np.trace(sym, axis1=-2, axis2=-1) / 3.0
    beta = sym - a[:, None, None] * np.eye(3)
    return a, beta


def anisotropy_invariant(beta: np.ndarray) -> np.ndarray:
    """γ² = (3/2) β:β in Å⁶ of traceless tensors ``beta`` ``[..., 3, 3]``; shape ``[...]``."""
    b = np.asarray(beta, dtype=float)
    return 1.5 * np.einsum("...ij,...ij->...", b, b)


def rotate_tensors(alpha: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """``R α Rᵀ`` per frame: ``alpha`` ``[S, 3, 3]``, ``rotation`` ``[3, 3]`` → ``[S, 3, 3]``."""
    r = np.asarray(rotation, dtype=float)
    return np.einsum("ij,sjk,lk->sil", r, np.asarray(alpha, dtype=float), r)


def random_rotations(n: int, seed: int | None = None) -> np.ndarray:
    """``n`` rotation matrices drawn uniformly (Haar measure) from SO(3), shape ``[n, 3, 3]``."""
    from scipy.spatial.transform import Rotation

    return Rotation.random(n, random_state=seed).as_matrix()
