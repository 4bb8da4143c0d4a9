"""File-to-files Raman analysis: read a polarizability series, write table, HDF5 and figure.

The CLI ``ionraman spectrum`` is a thin wrapper over :func:`spectrum_from_file`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ionraman._io import atomic_path, file_sha256, write_text_atomic
from ionraman.spectra.plot import spectrum_figure
from ionraman.spectra.raman import compute_raman_spectrum
from ionraman.spectra.result import RamanSpectrum
from ionraman.validate import check_output_dir, check_temperature

__all__ = ["spectrum_from_file"]


def spectrum_from_file(
    series_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    timestep_fs: float | None = None,
    order: str | None = None,
    variant: str = "stokes",
    **spectrum_kwargs: Any,
) -> RamanSpectrum:
    """Compute the Raman spectrum of a polarizability series file and write the results.

    Parameters
    ----------
    series_path
        ``.csv/.txt/.dat``, ``.npy`` or an ionraman ``.h5`` store, read with
        :func:`ionraman.spectra.series.read_polarizability_series` (α in Å³).
    out_dir
        Output folder (created). Files, each written atomically: ``spectrum.csv``
        (:meth:`RamanSpectrum.to_dataframe` of ``variant``), ``spectrum.h5``
        (:meth:`RamanSpectrum.save`) and ``spectrum.png`` (parallel / crossed / total on a log-y
        axis, full range and 0–200 cm⁻¹ panels).
    timestep_fs
        Frame interval in fs when the file does not carry one.
    order
        Component order of 6/9-column tables (a key of ``conventions.COMPONENT_ORDERS``).
    variant
        Variant written to the CSV and plotted: ``"classical"``, ``"stokes"`` or ``"reduced"``
        (the latter needs a temperature; nothing is written when it is missing).
    **spectrum_kwargs
        Passed to :func:`compute_raman_spectrum` (resolution_cm1, temperature_k, ...). When
        ``temperature_k`` is not given, the series metadata's ``temperature_K`` is used if present.

    Returns
    -------
    RamanSpectrum

    Raises
    ------
    InputError
        Unreadable or malformed series file, or bad spectrum options (one-line message).
    """
    from ionraman.spectra.series import read_polarizability_series

    path = Path(series_path)
    out = check_output_dir(out_dir)
    series = read_polarizability_series(path, timestep_fs=timestep_fs, order=order)
    kwargs = dict(spectrum_kwargs)
    temperature_source = "argument"
    if kwargs.get("temperature_k") is None:
        meta_t = (series.metadata or {}).get("temperature_K")
        if meta_t is not None:
            kwargs["temperature_k"] = check_temperature(meta_t, f"{path}: temperature_K")
            temperature_source = f"{path.name} metadata"
        else:
            temperature_source = "none"
    spectrum = compute_raman_spectrum(series.alpha, series.timestep_fs, **kwargs)
    spectrum.metadata["input"] = {
        "path": str(path),
        "sha256": file_sha256(path),
        "n_frames": int(series.alpha.shape[0]),
        "timestep_fs": float(series.timestep_fs),
        "series_metadata": series.metadata,
        "temperature_source": temperature_source,
    }

    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "spectrum.csv", spectrum.to_dataframe(variant).to_csv(index=False))
    spectrum.save(out / "spectrum.h5")
    fig = spectrum_figure(spectrum, variant=variant)
    with atomic_path(out / "spectrum.png") as tmp:
        fig.savefig(tmp, format="png", dpi=150)
    return spectrum
