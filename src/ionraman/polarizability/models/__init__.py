"""Machine-learned polarizability models: α of a periodic structure from local environments.

:class:`CartesianTensorModel` (``"cartesian-tensor"``): exactly equivariant sum of atomic
contributions built from Cartesian moment tensors, Δ-learned on the bond-polarizability
baseline, ensemble spread as uncertainty. See :mod:`ionraman.polarizability.models.cartesian`.
"""

from ionraman.polarizability.models.cartesian import (
    MODEL_NAME,
    CartesianModelConfig,
    CartesianTensorModel,
    FitReport,
    Prediction,
    StorePrediction,
    fit_model,
    load_labelled,
    predict_store,
)

__all__ = [
    "MODEL_NAME",
    "CartesianModelConfig",
    "CartesianTensorModel",
    "FitReport",
    "Prediction",
    "StorePrediction",
    "fit_model",
    "load_labelled",
    "predict_store",
]
