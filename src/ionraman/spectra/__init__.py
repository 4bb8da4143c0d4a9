"""Raman spectra from polarizability time series.

Classical one-sided spectral densities of δα (Welch, cm⁻¹, ∫ S dν̃ = variance) for the powder
channels (isotropic, anisotropic, parallel, crossed, total) and single-crystal geometries, with the
quantum corrections, laser factor and reduced spectrum of :mod:`ionraman.conventions`.
"""

from ionraman.spectra.analysis import spectrum_from_file
from ionraman.spectra.geometry import porto_vectors
from ionraman.spectra.invariants import (
    anisotropy_invariant,
    polarizability_invariants,
    random_rotations,
    rotate_tensors,
)
from ionraman.spectra.plot import plot_spectrum, spectrum_figure
from ionraman.spectra.psd import smooth_density
from ionraman.spectra.raman import POWDER_CHANNEL_NAMES, compute_raman_spectrum
from ionraman.spectra.result import RamanSpectrum

__all__ = [
    "POWDER_CHANNEL_NAMES",
    "RamanSpectrum",
    "anisotropy_invariant",
    "compute_raman_spectrum",
    "plot_spectrum",
    "polarizability_invariants",
    "porto_vectors",
    "random_rotations",
    "rotate_tensors",
    "smooth_density",
    "spectrum_figure",
    "spectrum_from_file",
]
