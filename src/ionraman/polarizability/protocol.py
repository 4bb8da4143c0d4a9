"""The one protocol every polarizability model follows, and what it returns for a store.

Two kinds ship: the Cartesian tensor model (:class:`~ionraman.polarizability.models.
CartesianTensorModel`, ``.pt``) and the bond-polarizability model (:class:`~ionraman.
polarizability.bond_model.BondPolarizabilityModel`, ``.json``). Code that only needs α — the
workflow's α stage, scores, validation scripts — uses this protocol and never asks which kind it
holds; :func:`ionraman.polarizability.load_model` returns either from a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from ase import Atoms

__all__ = ["PolarizabilityModel", "StoreAlpha"]


@dataclass
class StoreAlpha:
    """α of every committed frame of a trajectory store.

    Attributes
    ----------
    alpha : ndarray [S, 3, 3]
        Whole-cell polarizability, Å³ (an ensemble model's mean).
    diagnostics : dict
        ``model_kind`` and what the kind can say about trust: for the Cartesian model the
        flagged fraction, mean ensemble spread (Å³) and training-domain fractions.
    """

    alpha: np.ndarray
    diagnostics: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class PolarizabilityModel(Protocol):
    """What the pipeline asks of a polarizability model."""

    kind: str
    """``"cartesian-tensor"`` or ``"bond-polarizability"`` (recorded with every α series)."""

    @property
    def species(self) -> Sequence[str]:
        """Elements the model covers."""
        ...

    def predict_alpha(self, frames: Iterable[Atoms]) -> np.ndarray:
        """α of structures, ``[S, 3, 3]`` in Å³."""
        ...

    def alpha_of_store(
        self,
        path: str | os.PathLike[str],
        *,
        batch_frames: int = 256,
        dtype: str = "float32",
        threads: int | None = None,
    ) -> StoreAlpha:
        """α of every committed frame of a trajectory store (nothing is written to it)."""
        ...
