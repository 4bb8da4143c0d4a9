"""Machine-learned polarizability models: α of a periodic structure from local environments.

:class:`CartesianTensorModel` (``"cartesian-tensor"``): exactly equivariant sum of atomic
contributions built from Cartesian moment tensors, Δ-learned on the bond-polarizability
baseline, ensemble spread and a training-domain check (:class:`FeatureDomain`) as uncertainty.
See :mod:`ionraman.polarizability.models.cartesian`.
"""

from ionraman.polarizability.labelled import load_labelled
from ionraman.polarizability.models.cartesian import (
    MODEL_NAME,
    CartesianModelConfig,
    CartesianTensorModel,
    FitReport,
    Prediction,
    StorePrediction,
    fit_model,
    predict_store,
)
from ionraman.polarizability.models.domain import FeatureDomain

__all__ = [
    "MODEL_NAME",
    "CartesianModelConfig",
    "CartesianTensorModel",
    "FeatureDomain",
    "FitReport",
    "Prediction",
    "StorePrediction",
    "fit_model",
    "load_labelled",
    "predict_store",
]
