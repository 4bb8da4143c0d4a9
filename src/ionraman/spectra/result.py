"""The :class:`RamanSpectrum` result: classical densities per channel and the corrections."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ionraman._io import atomic_path, json_default
from ionraman.conventions import (
    QUANTUM_CORRECTIONS,
    SPECTRUM_VARIANTS,
    beta_hbar_omega,
    laser_factor,
    quantum_correction_factor,
)
from ionraman.errors import InputError

__all__ = ["FILE_FORMAT", "RamanSpectrum"]

FILE_FORMAT = "ionraman-raman-spectrum"
FILE_FORMAT_VERSION = 1


@dataclass
class RamanSpectrum:
    """Raman spectra of one system: classical spectral densities plus how to correct them.

    Attributes
    ----------
    wavenumber_cm1
        ``[F]`` uniform grid from exactly 0 cm⁻¹ (the ν̃ = 0 bin is kept) to Nyquist.
    density
        Classical one-sided spectral density S per channel, each ``[F]``, Å⁶/cm⁻¹, with
        ``np.trapezoid(S, wavenumber_cm1)`` = variance of the channel (Parseval). Powder channels
        ``"isotropic"``, ``"anisotropic"``, ``"parallel"``, ``"crossed"``, ``"total"``;
        single-crystal geometries add e.g. ``"z(xx)z̄"``.
    density_stderr
        Standard error of each density, ``[F]``, Å⁶/cm⁻¹ (across runs for ≥ 2 runs, else from the
        scatter of Welch segments; NaN when neither is available).
    temperature_k
        Temperature in K used by the quantum correction and the reduced spectrum, or None.
    quantum_correction
        ``"none"``, ``"harmonic"`` or ``"bose"`` (:data:`ionraman.conventions.QUANTUM_CORRECTIONS`).
    laser_cm1
        Absolute laser wavenumber (cm⁻¹) for the ((ν̃_L − ν̃)/ν̃_L)⁴ factor, or None.
    resolution_cm1
        Bin spacing Δν̃ (cm⁻¹).
    metadata
        ``conventions_metadata(...)`` plus window, n_runs, n_segments, provenance.
    block_density
        Spectra of contiguous time blocks of the run(s), ``{channel: [B, F]}`` in Å⁶/cm⁻¹ (each
        the mean of ``metadata["segments_per_block"]`` or more consecutive Welch segments), for
        time-block error estimates of quantities derived from the spectrum
        (:func:`ionraman.screening.lowfreq_fraction`). Empty when the run holds fewer than two
        segments.
    """

    wavenumber_cm1: np.ndarray
    density: dict[str, np.ndarray]
    density_stderr: dict[str, np.ndarray]
    temperature_k: float | None
    quantum_correction: str
    laser_cm1: float | None
    resolution_cm1: float
    metadata: dict[str, Any] = field(default_factory=dict)
    block_density: dict[str, np.ndarray] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------------
    @property
    def channels(self) -> list[str]:
        """Channel names, in the order they were computed."""
        return list(self.density)

    def _channel(self, channel: str) -> str:
        if channel not in self.density:
            raise InputError(
                f"unknown spectrum channel {channel!r}; available: {', '.join(self.density)}"
            )
        return channel

    def factor(self, variant: str = "stokes") -> np.ndarray:
        """Multiplier ``[F]`` turning the classical density S into the named variant.

        ``"classical"``: 1. ``"stokes"``: Q(ν̃) times the laser factor when a laser is set (zero
        above the laser wavenumber, where no Stokes photon exists). ``"reduced"``: βħω
        (needs a temperature).
        """
        nu = np.asarray(self.wavenumber_cm1, dtype=float)
        if variant == "classical":
            return np.ones_like(nu)
        if variant == "stokes":
            if self.quantum_correction == "none":
                q = np.ones_like(nu)
            else:
                if self.quantum_correction not in QUANTUM_CORRECTIONS:
                    known = ", ".join(QUANTUM_CORRECTIONS)
                    raise InputError(
                        f"unknown quantum correction {self.quantum_correction!r}; expected one "
                        f"of: {known}"
                    )
                if self.temperature_k is None:
                    raise InputError(
                        f"the {self.quantum_correction!r} quantum correction needs a temperature;"
                        " set temperature_k"
                    )
                q = quantum_correction_factor(nu, self.temperature_k, self.quantum_correction)
            if self.laser_cm1 is not None:
                q = q * np.where(nu < self.laser_cm1, laser_factor(nu, self.laser_cm1), 0.0)
            return q
        if variant == "reduced":
            if self.temperature_k is None:
                raise InputError("the reduced spectrum needs a temperature; set temperature_k")
            return beta_hbar_omega(nu, self.temperature_k)
        raise InputError(
            f"unknown spectrum variant {variant!r}; expected one of: {', '.join(SPECTRUM_VARIANTS)}"
        )

    def intensity(self, channel: str = "total", variant: str = "stokes") -> np.ndarray:
        """Spectrum ``[F]`` of ``channel`` (Å⁶/cm⁻¹).

        ``variant``: ``"classical"`` (S), ``"stokes"`` (Q·S·laser factor; NaN at ν̃ = 0 for the
        ``"bose"`` correction) or ``"reduced"`` (χ'' = βħω S, zero at ν̃ = 0).
        """
        return self.factor(variant) * self.density[self._channel(channel)]

    def stderr(self, channel: str = "total", variant: str = "stokes") -> np.ndarray:
        """Standard error ``[F]`` of :meth:`intensity` (the same factor applied to the error)."""
        return np.abs(self.factor(variant)) * self.density_stderr[self._channel(channel)]

    def block_intensity(self, channel: str = "total", variant: str = "stokes") -> np.ndarray | None:
        """Time-block spectra ``[B, F]`` of :meth:`intensity` (Å⁶/cm⁻¹), or None without blocks."""
        blocks = self.block_density.get(self._channel(channel))
        return None if blocks is None else self.factor(variant) * blocks

    def to_dataframe(self, variant: str = "stokes") -> pd.DataFrame:
        """Table with ``wavenumber_cm1`` and, per channel, ``<channel>_<variant>_A6_cm`` and
        ``<channel>_<variant>_stderr_A6_cm`` (Å⁶/cm⁻¹ = Å⁶·cm)."""
        fac = self.factor(variant)
        cols: dict[str, np.ndarray] = {"wavenumber_cm1": np.asarray(self.wavenumber_cm1)}
        for name in self.density:
            cols[f"{name}_{variant}_A6_cm"] = fac * self.density[name]
            cols[f"{name}_{variant}_stderr_A6_cm"] = np.abs(fac) * self.density_stderr[name]
        return pd.DataFrame(cols)

    # ------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the spectrum to an HDF5 file, atomically (temp file + rename).

        Layout: datasets ``wavenumber_cm1`` [F], ``density`` [C, F], ``density_stderr`` [C, F],
        ``block_density`` [C, B, F] when there are time blocks;
        root attrs ``format``, ``format_version``, ``channels_json`` (channel order),
        ``header_json`` (temperature, correction, laser, resolution) and ``metadata_json``.
        """
        import h5py

        names = list(self.density)
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
            h5.attrs["format"] = FILE_FORMAT
            h5.attrs["format_version"] = FILE_FORMAT_VERSION
            h5.attrs["channels_json"] = json.dumps(names, ensure_ascii=False)
            h5.attrs["header_json"] = json.dumps(
                {
                    "temperature_k": self.temperature_k,
                    "quantum_correction": self.quantum_correction,
                    "laser_cm1": self.laser_cm1,
                    "resolution_cm1": self.resolution_cm1,
                }
            )
            h5.attrs["metadata_json"] = json.dumps(
                self.metadata, default=json_default, ensure_ascii=False
            )
            h5.create_dataset("wavenumber_cm1", data=np.asarray(self.wavenumber_cm1, float))
            shape = (len(names), len(self.wavenumber_cm1))
            h5.create_dataset(
                "density", data=np.array([self.density[n] for n in names], float).reshape(shape)
            )
            h5.create_dataset(
                "density_stderr",
                data=np.array([self.density_stderr[n] for n in names], float).reshape(shape),
            )
            if self.block_density:
                h5.create_dataset(
                    "block_density", data=np.array([self.block_density[n] for n in names], float)
                )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RamanSpectrum:
        """Read a spectrum written by :meth:`save`; InputError (one line) for anything else."""
        import h5py

        try:
            with h5py.File(path, "r") as h5:
                if h5.attrs.get("format") != FILE_FORMAT:
                    raise InputError(f"{path}: not an ionraman Raman spectrum file")
                names = json.loads(h5.attrs["channels_json"])
                header = json.loads(h5.attrs["header_json"])
                metadata = json.loads(h5.attrs["metadata_json"])
                nu = h5["wavenumber_cm1"][()]
                dens = h5["density"][()]
                err = h5["density_stderr"][()]
                blocks = h5["block_density"][()] if "block_density" in h5 else None
        except InputError:
            raise
        except FileNotFoundError:
            raise InputError(f"{path}: no such spectrum file") from None
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"{path}: unreadable Raman spectrum file ({exc})") from None
        return cls(
            wavenumber_cm1=nu,
            density={n: dens[i] for i, n in enumerate(names)},
            density_stderr={n: err[i] for i, n in enumerate(names)},
            temperature_k=header["temperature_k"],
            quantum_correction=header["quantum_correction"],
            laser_cm1=header["laser_cm1"],
            resolution_cm1=header["resolution_cm1"],
            metadata=metadata,
            block_density={} if blocks is None else {n: blocks[i] for i, n in enumerate(names)},
        )
