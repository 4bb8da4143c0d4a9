"""Transport analysis: unwrapping, MSD, diffusion (kinisi), Arrhenius, conductivity, mechanism.

Modules
-------
unwrap        TOR unwrapping for changing cells (von Bülow et al. 2020), drift removal, streaming
msd           FFT tracer/collective MSD, streamed from disk; ``benchmark_msd``
diffusion     fit window rule and kinisi Bayesian D estimate (cm² s⁻¹)
arrhenius     weighted ln D (or ln σT) vs 1/T fit, E_a ± σ, extrapolation
conductivity  Nernst–Einstein σ (S cm⁻¹) and Haven ratio
vanhove       self van Hove G_s(r, t) and non-Gaussian parameter α₂(t)
hopping       site occupancy, residence time, hop rate, mechanism label
analysis      ``analyse_diffusion``: all of it from a trajectory, files written atomically
"""

from ionraman.transport.analysis import DiffusionResult, analyse_diffusion
from ionraman.transport.arrhenius import ArrheniusFit, arrhenius_fit
from ionraman.transport.conductivity import (
    haven_ratio,
    nernst_einstein_conductivity,
    number_density_cm3,
)
from ionraman.transport.diffusion import (
    DiffusionEstimate,
    FitWindow,
    LinearityTest,
    choose_fit_window,
    estimate_diffusion,
    msd_linearity,
)
from ionraman.transport.hopping import HoppingResult, hopping_descriptor
from ionraman.transport.msd import MSDResult, benchmark_msd, compute_msd, msd_direct, msd_fft
from ionraman.transport.unwrap import load_unwrapped, remove_drift, unwrap_positions
from ionraman.transport.vanhove import VanHoveResult, non_gaussian_parameter, self_van_hove

__all__ = [
    "ArrheniusFit",
    "DiffusionEstimate",
    "DiffusionResult",
    "FitWindow",
    "HoppingResult",
    "LinearityTest",
    "MSDResult",
    "VanHoveResult",
    "analyse_diffusion",
    "arrhenius_fit",
    "benchmark_msd",
    "choose_fit_window",
    "compute_msd",
    "estimate_diffusion",
    "haven_ratio",
    "hopping_descriptor",
    "load_unwrapped",
    "msd_direct",
    "msd_fft",
    "msd_linearity",
    "nernst_einstein_conductivity",
    "non_gaussian_parameter",
    "number_density_cm3",
    "remove_drift",
    "self_van_hove",
    "unwrap_positions",
]
