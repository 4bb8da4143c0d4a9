"""Machine-learned polarizability models: α of a periodic structure from local environments.

:class:`CartesianTensorModel` (``"cartesian-tensor"``): exactly equivariant sum of atomic
contributions built from Cartesian moment tensors, Δ-learned on the bond-polarizability
baseline, ensemble spread and a training-domain check (:class:`FeatureDomain`) as uncertainty.
See :mod:`ionraman.polarizability.models.cartesian` (the model) and
:mod:`ionraman.polarizability.models.fitting` (:func:`fit_ensemble`, :func:`fit_model`).
"""

from ionraman.polarizability.labelled import load_labelled
from ionraman.polarizability.models.cartesian import (
    MODEL_NAME,
    CartesianModelConfig,
    CartesianTensorModel,
    Prediction,
    StorePrediction,
    predict_store,
)
from ionraman.polarizability.models.domain import FeatureDomain
from ionraman.polarizability.models.fitting import FitReport, fit_ensemble, fit_model

__all__ = [
    "MODEL_NAME",
    "CartesianModelConfig",
    "CartesianTensorModel",
    "FeatureDomain",
    "FitReport",
    "Prediction",
    "StorePrediction",
    "fit_ensemble",
    "fit_model",
    "load_labelled",
    "predict_store",
]
