"""ionraman: screen solid electrolytes for liquid-like ion conduction via low-frequency Raman.

The public API is re-exported here and imported lazily (``import ionraman`` stays fast; torch and
the force-field packages load only when an MD or force-field function is first used)::

    import ionraman as ir
    atoms = ir.get_structure("t-Na3SbS4", supercell=(2, 2, 2))
    store = ir.run_md(atoms, temperature_k=600, time_ps=ir.parse_time_ps("20ps"), out="run.h5")
    diff = ir.analyse_diffusion(store, "diffusion/")
    spec = ir.compute_raman_spectrum(alpha, timestep_fs=10.0, temperature_k=600)
    metric = ir.lowfreq_fraction_from_spectrum(spec, window_cm1=(5, 100))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> defining subpackage
_EXPORTS: dict[str, str] = {
    # conventions and errors
    "to_matrix": "ionraman.conventions",
    "from_matrix": "ionraman.conventions",
    "IonramanError": "ionraman.errors",
    "InputError": "ionraman.errors",
    "SimulationError": "ionraman.errors",
    # trajectory store
    "Trajectory": "ionraman.trajectory",
    "TrajectoryWriter": "ionraman.trajectory",
    "open_trajectory": "ionraman.trajectory",
    "import_trajectory": "ionraman.trajectory",
    "read_polarizability_series": "ionraman.spectra.series",
    "write_polarizability": "ionraman.trajectory",
    # structures
    "get_structure": "ionraman.structures",
    "list_structures": "ionraman.structures",
    "load_structure": "ionraman.structures",
    "read_structure": "ionraman.structures",
    "make_supercell": "ionraman.structures",
    "make_vacancies": "ionraman.structures",
    "substitute_dopant": "ionraman.structures",
    "validate_structure": "ionraman.structures",
    # force fields and MD
    "DEFAULT_FORCE_FIELD": "ionraman.forcefields",
    "get_calculator": "ionraman.forcefields",
    "list_force_fields": "ionraman.forcefields",
    "load_force_field": "ionraman.forcefields",
    "register_force_field": "ionraman.forcefields",
    "run_md": "ionraman.md",
    "run_md_series": "ionraman.md",
    "parse_time_ps": "ionraman.md",
    "MDSettings": "ionraman.md",
    # polarizability
    "BondPolarizabilityModel": "ionraman.polarizability.bond_model",
    "read_reference": "ionraman.polarizability.reference.importers",
    # spectra
    "RamanSpectrum": "ionraman.spectra",
    "compute_raman_spectrum": "ionraman.spectra",
    "spectrum_from_file": "ionraman.spectra",
    "plot_spectrum": "ionraman.spectra",
    # transport
    "analyse_diffusion": "ionraman.transport",
    "DiffusionResult": "ionraman.transport",
    "compute_msd": "ionraman.transport",
    "estimate_diffusion": "ionraman.transport",
    "msd_linearity": "ionraman.transport",
    "arrhenius_fit": "ionraman.transport",
    "nernst_einstein_conductivity": "ionraman.transport",
    "haven_ratio": "ionraman.transport",
    "self_van_hove": "ionraman.transport",
    "hopping_descriptor": "ionraman.transport",
    # screening
    "lowfreq_fraction": "ionraman.screening",
    "lowfreq_fraction_from_spectrum": "ionraman.screening",
    "band_ratio_from_spectrum": "ionraman.screening",
    "fit_central_peak": "ionraman.screening",
    "fit_central_peak_from_spectrum": "ionraman.screening",
    "metric_panel": "ionraman.screening",
    "evaluate_panel": "ionraman.screening",
    "compare_metrics": "ionraman.screening",
    # the screening workflow and the default example
    "run": "ionraman.workflow",
    "read_results": "ionraman.workflow",
    "run_demo": "ionraman.examples",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'ionraman' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
