"""polarizability: reference labels, the bond-polarizability baseline and the tensorial model.

Every model follows :class:`~ionraman.polarizability.protocol.PolarizabilityModel` (``kind``,
``species``, ``predict_alpha``, ``alpha_of_store``); :func:`load_model` reads either kind from a
file and :func:`model_species` tells which elements a model file covers without loading it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ionraman.errors import InputError
from ionraman.polarizability.protocol import PolarizabilityModel, StoreAlpha

__all__ = ["PolarizabilityModel", "StoreAlpha", "load_model", "model_species", "predict_alpha"]


def _json_model(path: Path) -> dict | None:
    """The parsed file if it is a JSON object (a bond model), else None (a torch file)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(1).lstrip() not in (b"{", b""):
                return None
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_model(path: str | Path) -> PolarizabilityModel:
    """A polarizability model file of either kind, told apart by its content: a JSON object is
    a bond model (``.json``), anything else a Cartesian tensor model (``.pt``, torch)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"polarizability model not found: {p}")
    if _json_model(p) is not None:
        from ionraman.polarizability.bond_model import BondPolarizabilityModel

        return BondPolarizabilityModel.load(p)
    from ionraman.polarizability.models import CartesianTensorModel

    return CartesianTensorModel.load(p)


def model_species(path: str | Path) -> set[str] | None:
    """Elements a model file covers, cheaply: a bond model's atomic parameters, a Cartesian
    model's fit report (``<model>.fit.json``, written beside it by the fit) or, without one,
    the model itself. None when the file cannot be read as a model."""
    p = Path(path)
    data = _json_model(p)
    if data is not None:
        atoms = data.get("atom_params")
        return set(atoms) if isinstance(atoms, dict) else None
    report = _json_model(p.with_suffix(".fit.json"))
    if report is not None and isinstance(report.get("species"), list):
        return set(report["species"])
    try:
        return set(load_model(p).species)
    except Exception:  # any unreadable file: not a model this run can use
        return None


def predict_alpha(model: PolarizabilityModel, frames: list) -> np.ndarray:
    """α of structures, ``[S, 3, 3]`` in Å³, from either kind of model (ensemble mean)."""
    return model.predict_alpha(frames)
