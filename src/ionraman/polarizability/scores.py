"""Accuracy of predicted polarizabilities against reference labels (one definition for all).

Used by the reference-dataset summary (bond baseline on the held-out split), the polarizability
benchmark (our model, the MACE peer and the baseline side by side) and the spectrum-level
validation. Definitions:

* components in Voigt order ``xx yy zz yz xz xy`` of the whole-cell α (Å³);
* fluctuations δα = α − ⟨α⟩ with ⟨⟩ over the scored structures of the same composition and size
  (full chemical formula), taken for reference and prediction separately: a constant offset of
  the mean does not count against δα, which is what a Raman spectrum depends on;
* ``r2_delta_alpha`` = 1 − Σ(δα_pred − δα_ref)² / Σ δα_ref² over the six components;
* ``mean_eps_inf_rel_error``: relative error of the mean (over structures and the three diagonal
  components) of ε∞ = 1 + 4π α / V;
* :func:`path_response_error`: along a path of structures (a Na hop, a displacement), the error of
  the change Δα = α(s) − α(s₀), ``max_s ‖Δα_pred − Δα_ref‖ / max_s ‖Δα_ref‖`` (Frobenius norms),
  for the full tensor and its isotropic and anisotropic parts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from ionraman.conventions import POLARIZABILITY_KEY

VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
VOIGT_NAMES = ("xx", "yy", "zz", "yz", "xz", "xy")


def reference_alpha(frames: Sequence[Atoms], key: str = POLARIZABILITY_KEY) -> np.ndarray:
    """Labels ``atoms.info[key]`` (3×3 or 9 components, Å³) of ``frames`` as an [S, 3, 3] array."""
    return np.array([np.asarray(a.info[key], dtype=float).reshape(3, 3) for a in frames])


def voigt6(alpha: np.ndarray) -> np.ndarray:
    """[..., 3, 3] → [..., 6] in :data:`VOIGT` order (symmetric part)."""
    a = np.asarray(alpha, dtype=float)
    a = 0.5 * (a + np.swapaxes(a, -1, -2))
    return np.stack([a[..., i, j] for i, j in VOIGT], axis=-1)


def fluctuations(alpha6: np.ndarray, groups: Sequence[str]) -> np.ndarray:
    """δα: ``alpha6`` [S, 6] minus the mean of its group (same string in ``groups``)."""
    out = np.array(alpha6, dtype=float, copy=True)
    g = np.asarray(groups)
    for name in np.unique(g):
        sel = g == name
        out[sel] -= out[sel].mean(axis=0)
    return out


def alpha_scores(
    frames: Sequence[Atoms], reference: np.ndarray, predicted: np.ndarray
) -> dict[str, float]:
    """Scores of ``predicted`` against ``reference`` α on ``frames``.

    Parameters
    ----------
    frames : sequence of ase.Atoms, length S
        The scored structures (cells for ε∞, formulas for the δα groups).
    reference, predicted : array_like, shape (S, 3, 3)
        Cell polarizabilities, Å³.

    Returns
    -------
    dict
        ``rmse_<c>_A3`` per Voigt component, ``rmse_A3`` (all six), ``rmse_delta_A3``,
        ``rms_delta_ref_A3`` (size of the reference fluctuations), ``r2_delta_alpha``,
        ``mean_eps_inf_ref``, ``mean_eps_inf_pred``, ``mean_eps_inf_rel_error``, ``n``.
    """
    ref6, pred6 = voigt6(reference), voigt6(predicted)
    if ref6.shape != pred6.shape or ref6.shape[0] != len(frames):
        raise ValueError(
            f"shapes differ: {len(frames)} frames, reference {ref6.shape}, predicted {pred6.shape}"
        )
    out: dict[str, float] = {"n": float(len(frames))}
    err = pred6 - ref6
    for k, name in enumerate(VOIGT_NAMES):
        out[f"rmse_{name}_A3"] = float(np.sqrt(np.mean(err[:, k] ** 2)))
    out["rmse_A3"] = float(np.sqrt(np.mean(err**2)))
    groups = [a.get_chemical_formula() for a in frames]
    d_ref, d_pred = fluctuations(ref6, groups), fluctuations(pred6, groups)
    out["rmse_delta_A3"] = float(np.sqrt(np.mean((d_pred - d_ref) ** 2)))
    out["rms_delta_ref_A3"] = float(np.sqrt(np.mean(d_ref**2)))
    denom = float(np.sum(d_ref**2))
    out["r2_delta_alpha"] = float(1 - np.sum((d_pred - d_ref) ** 2) / denom) if denom else np.nan
    vol = np.array([a.get_volume() for a in frames])[:, None]
    eps_ref = 1 + 4 * np.pi * ref6[:, :3] / vol
    eps_pred = 1 + 4 * np.pi * pred6[:, :3] / vol
    out["mean_eps_inf_ref"] = float(eps_ref.mean())
    out["mean_eps_inf_pred"] = float(eps_pred.mean())
    out["mean_eps_inf_rel_error"] = float(eps_pred.mean() / eps_ref.mean() - 1)
    return out


def isotropic_anisotropic(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split [..., 3, 3] tensors into the isotropic part (tr/3 · 1) and the traceless rest."""
    a = np.asarray(alpha, dtype=float)
    iso = np.trace(a, axis1=-2, axis2=-1)[..., None, None] / 3.0 * np.eye(3)
    return iso, a - iso


def path_response_error(reference: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """How well a model follows the change of α along a path of structures.

    Parameters
    ----------
    reference, predicted : ndarray [S, 3, 3]
        α (Å³) of the structures of one path in path order; the first is the reference point.

    Returns
    -------
    dict
        ``full``, ``iso``, ``aniso``: ``max_s ‖Δα_pred(s) − Δα_ref(s)‖ / max_s ‖Δα_ref(s)‖`` with
        Δα(s) = α(s) − α(s₀) (Frobenius norms; 0 is perfect, 1 is as large as the change itself);
        ``full_ref_max_A3`` etc.: ``max_s ‖Δα_ref(s)‖`` (Å³).
    """
    ref = np.asarray(reference, dtype=float)
    pred = np.asarray(predicted, dtype=float)
    d_ref, d_pred = ref - ref[0], pred - pred[0]
    parts = {
        "full": (d_ref, d_pred),
        "iso": (isotropic_anisotropic(d_ref)[0], isotropic_anisotropic(d_pred)[0]),
        "aniso": (isotropic_anisotropic(d_ref)[1], isotropic_anisotropic(d_pred)[1]),
    }
    out: dict[str, float] = {}
    for name, (r, p) in parts.items():
        scale = float(np.linalg.norm(r, axis=(1, 2)).max())
        err = float(np.linalg.norm(p - r, axis=(1, 2)).max())
        out[name] = err / scale if scale > 0 else float("nan")
        out[f"{name}_ref_max_A3"] = scale
    return out
