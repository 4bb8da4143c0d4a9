"""polarizability: reference labels, the bond-polarizability baseline and the tensorial model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def load_model(path: str | Path) -> Any:
    """A polarizability model file: ``.pt`` (Cartesian tensor model) or ``.json`` (bond model)."""
    p = Path(path)
    if p.suffix == ".pt":
        from ionraman.polarizability.models import CartesianTensorModel

        return CartesianTensorModel.load(p)
    from ionraman.polarizability.bond_model import BondPolarizabilityModel

    return BondPolarizabilityModel.load(p)


def predict_alpha(model: Any, frames: list) -> np.ndarray:
    """α of structures, ``[S, 3, 3]`` in Å³, from either kind of model (ensemble mean)."""
    if hasattr(model, "predict_many"):
        return np.asarray(model.predict_many(frames), dtype=float)
    return np.asarray(model.predict(frames).alpha, dtype=float)
