"""File-to-files comparison of a measured spectrum with a simulated one (``ionraman compare``).

:func:`compare_main` reads a measured spectrum (text/CSV or JCAMP-DX), preprocesses it, reads a
simulated :class:`~ionraman.spectra.RamanSpectrum` (``spectrum.h5``, or the folder written by
``ionraman spectrum``), compares them and writes, each atomically:

* ``comparison.png``: overlay (full range and low-frequency zoom);
* ``comparison_peaks.csv``: matched peak table (positions, shifts, relative heights);
* ``comparison_spectra.csv``: both curves on the common grid (unit area);
* ``comparison.json``: similarities, scale factor, low-frequency metrics, every setting, the
  preprocessing record and provenance.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ionraman._io import atomic_path, file_sha256, provenance, write_json_atomic, write_text_atomic
from ionraman.errors import InputError
from ionraman.screening.lowfreq import DEFAULT_LOWFREQ_WINDOW_CM1, DEFAULT_REFERENCE_MAX_CM1
from ionraman.spectra.compare import Comparison, compare_spectra
from ionraman.spectra.instrument import InstrumentModel
from ionraman.spectra.measured import MeasuredSpectrum, read_measured, select_spectrum
from ionraman.spectra.overlay import comparison_figure
from ionraman.spectra.preprocess import PreprocessSettings, preprocess
from ionraman.spectra.result import RamanSpectrum
from ionraman.validate import check_output_dir

__all__ = [
    "OUTPUT_FILES",
    "compare_main",
    "load_simulated",
    "parse_band",
    "parse_range_cm1",
    "prepare_measured",
]

OUTPUT_FILES = (
    "comparison.png",
    "comparison_peaks.csv",
    "comparison_spectra.csv",
    "comparison.json",
)


def parse_range_cm1(text: str, what: str = "range") -> tuple[float, float]:
    """``"LO:HI"`` (cm⁻¹) → ``(lo, hi)`` with lo < hi; InputError otherwise (for the CLI)."""
    try:
        lo, hi = (float(v) for v in str(text).split(":"))
    except ValueError:
        raise InputError(f"{what} must be LO:HI in cm^-1 (e.g. 0:50), got {text!r}") from None
    if not lo < hi:
        raise InputError(f"{what} must satisfy LO < HI, got {text!r}")
    return lo, hi


def parse_band(text: str | None) -> str | tuple[float, float] | None:
    """Normalisation band for the CLI: None, ``"max"``, a band name (``"SbS4"``) or ``"LO:HI"``."""
    if text is None or str(text).lower() in ("", "none"):
        return None
    return parse_range_cm1(text, "band") if ":" in str(text) else str(text)


def load_simulated(path: str | os.PathLike[str]) -> tuple[RamanSpectrum, Path]:
    """Read a simulated spectrum: an ionraman ``.h5`` spectrum file or a folder holding
    ``spectrum.h5``. Returns the spectrum and the file it came from."""
    p = Path(path)
    if p.is_dir():
        p = p / "spectrum.h5"
    if not p.is_file():
        raise InputError(
            f"{path}: no simulated spectrum (expected spectrum.h5 from 'ionraman spectrum', or the "
            "folder holding it)"
        )
    return RamanSpectrum.load(p), p


def prepare_measured(
    path: str | os.PathLike[str],
    settings: PreprocessSettings | None = None,
    *,
    select: str | int | None = None,
    all_spectra: bool = False,
    target_temperature_k: float | None = None,
    x_unit: str = "auto",
    laser_wavelength_nm: float | None = None,
    temperature_k: float | None = None,
) -> list[MeasuredSpectrum]:
    """Read and preprocess measured spectra, as the report and :func:`compare_main` do.

    Parameters
    ----------
    path
        Measured-spectrum file (see :func:`~ionraman.spectra.measured.read_measured`).
    settings
        Preprocessing (default :class:`~ionraman.spectra.preprocess.PreprocessSettings`: despike,
        arpls baseline, reduced spectrum).
    select, target_temperature_k
        Which spectrum of a multi-spectrum file (see
        :func:`~ionraman.spectra.measured.select_spectrum`); ignored with ``all_spectra``.
    all_spectra
        Return every spectrum of the file (e.g. a temperature series), each preprocessed.
    x_unit, laser_wavelength_nm, temperature_k
        Passed to :func:`~ionraman.spectra.measured.read_measured`. When the reduced spectrum is
        requested and neither the file nor ``temperature_k`` gives a temperature,
        ``target_temperature_k`` (the simulation's) is used and recorded as such.

    Returns
    -------
    list[MeasuredSpectrum]
    """
    s = settings or PreprocessSettings()
    spectra = read_measured(
        path, x_unit=x_unit, laser_wavelength_nm=laser_wavelength_nm, temperature_k=temperature_k
    )
    if not all_spectra:
        spectra = [select_spectrum(spectra, select, temperature_k=target_temperature_k)]
    out = []
    for spec in spectra:
        if s.reduce and s.temperature_k is None and spec.temperature_k is None:
            if target_temperature_k is None:
                raise InputError(
                    f"{path}: no temperature for the reduced spectrum of {spec.label!r}; give "
                    "--temperature (K) or a temperature in the file"
                )
            spec.temperature_k = float(target_temperature_k)
            spec.metadata["temperature_source"] = "assumed equal to the simulation temperature"
        out.append(preprocess(spec, s))
    return out


def compare_main(
    measured: str | os.PathLike[str],
    simulated: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    select: str | int | None = None,
    channel: str = "total",
    variant: str = "reduced",
    x_unit: str = "auto",
    laser_wavelength_nm: float | None = None,
    temperature_k: float | None = None,
    crop_cm1: tuple[float | None, float | None] | None = None,
    cutoff_cm1: float | None = None,
    despike: bool = True,
    baseline: str | None = "arpls",
    baseline_protect_below_cm1: float | None = 100.0,
    normalise_band: str | tuple[float, float] | None = None,
    gaussian_fwhm_cm1: float = 0.0,
    lorentzian_fwhm_cm1: float = 0.0,
    scale_factor: float = 1.0,
    fit_scale: bool = False,
    scale_bounds: Sequence[float] = (0.9, 1.1),
    lowfreq_window_cm1: Sequence[float] = DEFAULT_LOWFREQ_WINDOW_CM1,
    reference_max_cm1: float = DEFAULT_REFERENCE_MAX_CM1,
    peak_tolerance_cm1: float = 20.0,
    min_rel_prominence: float = 0.05,
) -> Comparison:
    """Compare a measured spectrum file with a simulated spectrum and write the results.

    Parameters
    ----------
    measured
        Measured spectrum: two-/multi-column text/CSV or JCAMP-DX.
    simulated
        ``spectrum.h5`` written by ``ionraman spectrum`` (or its folder).
    out_dir
        Output folder (created); see the module docstring for the files.
    select
        Column name or index in a multi-spectrum file; default: the one closest in temperature to
        the simulation.
    channel, variant
        Simulated channel and the variant compared: ``"reduced"`` (default; the measured Stokes
        spectrum is divided by n + 1 and the laser factor) or ``"stokes"`` (no de-correction; the
        simulation's own quantum correction/laser factor apply).
    x_unit, laser_wavelength_nm, temperature_k
        How to read the measured file (:func:`~ionraman.spectra.measured.read_measured`).
    crop_cm1, cutoff_cm1, despike, baseline, baseline_protect_below_cm1, normalise_band
        Preprocessing (:class:`~ionraman.spectra.preprocess.PreprocessSettings`); ``cutoff_cm1``
        is the instrument filter's cutoff and is applied to the simulation too; ``baseline``
        ``"none"`` (or None) skips the baseline, ``baseline_protect_below_cm1 <= 0`` (or None)
        fits it over the whole range.
    gaussian_fwhm_cm1, lorentzian_fwhm_cm1, scale_factor, fit_scale, scale_bounds
        Instrument model of the simulation
        (:class:`~ionraman.spectra.instrument.InstrumentModel`); ``fit_scale`` fits the
        frequency scale factor within ``scale_bounds`` instead of using ``scale_factor``.
    lowfreq_window_cm1, reference_max_cm1, peak_tolerance_cm1, min_rel_prominence
        Comparison settings (:func:`~ionraman.spectra.compare.compare_spectra`).

    Returns
    -------
    Comparison

    Raises
    ------
    InputError
        Any unreadable file or inconsistent option (one-line message).
    """
    if variant not in ("reduced", "stokes"):
        raise InputError(f"unknown comparison variant {variant!r}; expected reduced or stokes")
    if baseline is not None and baseline.lower() in ("none", ""):
        baseline = None
    if baseline_protect_below_cm1 is not None and baseline_protect_below_cm1 <= 0:
        baseline_protect_below_cm1 = None
    out = check_output_dir(out_dir)
    if not float(reference_max_cm1) >= float(lowfreq_window_cm1[1]):
        raise InputError(
            f"reference_max_cm1 = {reference_max_cm1:g} cm^-1: expected at least the end of the "
            f"low-frequency window, {lowfreq_window_cm1[1]:g} cm^-1"
        )
    spectrum, sim_path = load_simulated(simulated)
    settings = PreprocessSettings(
        crop_cm1=crop_cm1,
        cutoff_cm1=cutoff_cm1,
        despike=despike,
        baseline=baseline,
        baseline_protect_below_cm1=baseline_protect_below_cm1,
        reduce=variant == "reduced",
        temperature_k=None,
        laser_wavelength_nm=None,
        normalise_band=normalise_band,
    )
    (meas,) = prepare_measured(
        measured,
        settings,
        select=select,
        target_temperature_k=spectrum.temperature_k,
        x_unit=x_unit,
        laser_wavelength_nm=laser_wavelength_nm,
        temperature_k=temperature_k,
    )
    instrument = InstrumentModel(
        gaussian_fwhm_cm1=gaussian_fwhm_cm1,
        lorentzian_fwhm_cm1=lorentzian_fwhm_cm1,
        cutoff_cm1=cutoff_cm1,
        scale_factor=scale_factor,
    )
    result = compare_spectra(
        meas,
        spectrum,
        channel=channel,
        variant=variant,
        instrument=instrument,
        fit_scale=fit_scale,
        scale_bounds=scale_bounds,
        lowfreq_window_cm1=lowfreq_window_cm1,
        reference_max_cm1=reference_max_cm1,
        peak_tolerance_cm1=peak_tolerance_cm1,
        min_rel_prominence=min_rel_prominence,
    )
    out.mkdir(parents=True, exist_ok=True)
    fig = comparison_figure(result)
    with atomic_path(out / "comparison.png") as tmp:
        fig.savefig(tmp, format="png", dpi=150)
    write_text_atomic(out / "comparison_peaks.csv", result.peaks.to_csv(index=False))
    write_text_atomic(out / "comparison_spectra.csv", result.curves_dataframe().to_csv(index=False))
    report: dict[str, Any] = {
        "summary": result.summary(),
        "measured": result.metadata["measured"],
        "simulated": {
            "path": str(sim_path),
            "sha256": file_sha256(sim_path),
            **result.metadata["simulated"],
        },
        "settings": {
            "preprocess": settings.to_dict(),
            "instrument": instrument.to_dict(),
            "fit_scale": fit_scale,
            "scale_bounds": list(scale_bounds),
            "lowfreq_window_cm1": list(lowfreq_window_cm1),
            "reference_max_cm1": reference_max_cm1,
            "grid_step_cm1": result.metadata["grid_step_cm1"],
            "normalisation": result.metadata["normalisation"],
            "peak_detection": result.metadata["peak_detection"],
        },
        "provenance": provenance(),
    }
    write_json_atomic(out / "comparison.json", report)
    return result
