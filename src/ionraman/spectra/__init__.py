"""Raman spectra from polarizability time series, and measured spectra to compare them with.

Classical one-sided spectral densities of δα (Welch, cm⁻¹, ∫ S dν̃ = variance) for the powder
channels (isotropic, anisotropic, parallel, crossed, total) and single-crystal geometries, with the
quantum corrections, laser factor and reduced spectrum of :mod:`ionraman.conventions`.
"""

from ionraman.spectra.analysis import spectrum_from_file
from ionraman.spectra.compare import Comparison, compare_spectra
from ionraman.spectra.compare_files import compare_main, prepare_measured
from ionraman.spectra.geometry import porto_vectors
from ionraman.spectra.instrument import InstrumentModel
from ionraman.spectra.invariants import (
    anisotropy_invariant,
    polarizability_invariants,
    random_rotations,
    rotate_tensors,
)
from ionraman.spectra.measured import MeasuredSpectrum, read_measured
from ionraman.spectra.overlay import comparison_figure, overlay_figure
from ionraman.spectra.plot import plot_spectrum, spectrum_figure
from ionraman.spectra.preprocess import PreprocessSettings, preprocess
from ionraman.spectra.psd import smooth_density
from ionraman.spectra.raman import POWDER_CHANNEL_NAMES, compute_raman_spectrum
from ionraman.spectra.result import RamanSpectrum

__all__ = [
    "POWDER_CHANNEL_NAMES",
    "Comparison",
    "InstrumentModel",
    "MeasuredSpectrum",
    "PreprocessSettings",
    "RamanSpectrum",
    "anisotropy_invariant",
    "compare_main",
    "compare_spectra",
    "comparison_figure",
    "compute_raman_spectrum",
    "overlay_figure",
    "plot_spectrum",
    "polarizability_invariants",
    "porto_vectors",
    "prepare_measured",
    "preprocess",
    "random_rotations",
    "read_measured",
    "rotate_tensors",
    "smooth_density",
    "spectrum_figure",
    "spectrum_from_file",
]
