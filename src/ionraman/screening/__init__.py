"""Screening: low-frequency Raman metrics, the panel of their definitions and its comparison
against diffusion, central-peak fits (ranking and calibration follow).

>>> from ionraman.screening import lowfreq_fraction_from_spectrum, fit_central_peak_from_spectrum
"""

from ionraman.screening.central_peak import (
    CentralPeakFit,
    Oscillator,
    debye_dho_model,
    fit_central_peak,
    fit_central_peak_from_spectrum,
)
from ionraman.screening.comparison import compare_metrics, production_needed_ps
from ionraman.screening.lowfreq import (
    INTERNAL_STANDARD_BANDS_CM1,
    LowFreqMetric,
    band_ratio,
    band_ratio_from_spectrum,
    lowfreq_fraction,
    lowfreq_fraction_from_spectrum,
)
from ionraman.screening.panel import MetricDefinition, evaluate_panel, metric_panel

__all__ = [
    "INTERNAL_STANDARD_BANDS_CM1",
    "CentralPeakFit",
    "LowFreqMetric",
    "MetricDefinition",
    "Oscillator",
    "band_ratio",
    "band_ratio_from_spectrum",
    "compare_metrics",
    "debye_dho_model",
    "evaluate_panel",
    "fit_central_peak",
    "fit_central_peak_from_spectrum",
    "lowfreq_fraction",
    "lowfreq_fraction_from_spectrum",
    "metric_panel",
    "production_needed_ps",
]
