"""Screening: low-frequency Raman metrics and central-peak fits (ranking and calibration follow).

>>> from ionraman.screening import lowfreq_fraction_from_spectrum, fit_central_peak_from_spectrum
"""

from ionraman.screening.central_peak import (
    CentralPeakFit,
    Oscillator,
    debye_dho_model,
    fit_central_peak,
    fit_central_peak_from_spectrum,
)
from ionraman.screening.lowfreq import (
    INTERNAL_STANDARD_BANDS_CM1,
    LowFreqMetric,
    band_ratio,
    band_ratio_from_spectrum,
    lowfreq_fraction,
    lowfreq_fraction_from_spectrum,
)

__all__ = [
    "INTERNAL_STANDARD_BANDS_CM1",
    "CentralPeakFit",
    "LowFreqMetric",
    "Oscillator",
    "band_ratio",
    "band_ratio_from_spectrum",
    "debye_dho_model",
    "fit_central_peak",
    "fit_central_peak_from_spectrum",
    "lowfreq_fraction",
    "lowfreq_fraction_from_spectrum",
]
