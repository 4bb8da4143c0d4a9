"""Figures of Raman spectra (matplotlib, backend-independent: no pyplot state is touched)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ionraman.spectra.result import RamanSpectrum

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["DEFAULT_PLOT_CHANNELS", "plot_spectrum", "spectrum_figure", "upper_plot_limit_cm1"]

DEFAULT_PLOT_CHANNELS = ("parallel", "crossed", "total")
_UNITS = {"classical": "Å⁶ cm", "stokes": "Å⁶ cm", "reduced": "Å⁶ cm"}
_LABELS = {
    "classical": "classical density S",
    "stokes": "Stokes intensity",
    "reduced": "reduced spectrum χ''",
}


def _new_axes() -> Axes:
    from matplotlib.figure import Figure

    return Figure(figsize=(6.4, 4.2), layout="constrained").add_subplot()


def plot_spectrum(
    spectrum: RamanSpectrum,
    ax: Axes | None = None,
    channels: Sequence[str] = DEFAULT_PLOT_CHANNELS,
    variant: str = "stokes",
    *,
    xlim_cm1: tuple[float, float] | None = None,
    errors: bool = True,
) -> Axes:
    """Plot channels of a spectrum on a log-y axis, with ±1 standard-error bands.

    Parameters
    ----------
    spectrum
        The spectrum.
    ax
        Axes to draw on; None creates a new (pyplot-free) figure, reachable as ``ax.figure``.
    channels
        Channel names (default parallel, crossed, total).
    variant
        ``"classical"``, ``"stokes"`` or ``"reduced"`` (see :meth:`RamanSpectrum.intensity`).
    xlim_cm1
        Wavenumber range in cm⁻¹; default 0 to :func:`upper_plot_limit_cm1`.
    errors
        Shade ±1 standard error.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _new_axes() if ax is None else ax
    nu = np.asarray(spectrum.wavenumber_cm1)
    lo, hi = xlim_cm1 if xlim_cm1 is not None else (0.0, upper_plot_limit_cm1(spectrum))
    sel = (nu >= lo) & (nu <= hi)
    positive_min = np.inf
    for name in channels:
        y = spectrum.intensity(name, variant)[sel]
        (line,) = ax.plot(nu[sel], np.where(y > 0, y, np.nan), lw=1.0, label=name)
        if errors:
            err = spectrum.stderr(name, variant)[sel]
            low = y - err
            ok = np.isfinite(err) & np.isfinite(y) & (y > 0)
            ax.fill_between(
                nu[sel],
                np.where(low > 0, low, y * 1e-3),
                y + err,
                where=ok,
                color=line.get_color(),
                alpha=0.25,
                lw=0,
            )
        good = y[np.isfinite(y) & (y > 0)]
        if good.size:
            positive_min = min(positive_min, float(good.min()))
    ax.set_yscale("log")
    if np.isfinite(positive_min):
        ax.set_ylim(bottom=positive_min * 0.5)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("Raman shift (cm⁻¹)")
    ax.set_ylabel(f"{_LABELS.get(variant, variant)} ({_UNITS.get(variant, '')})")
    qc = spectrum.quantum_correction if variant == "stokes" else variant
    t = f", T = {spectrum.temperature_k:g} K" if spectrum.temperature_k is not None else ""
    ax.set_title(f"{variant} ({qc}{t}), Δν̃ = {spectrum.resolution_cm1:.3g} cm⁻¹", fontsize=9)
    ax.legend(fontsize=8)
    return ax


def upper_plot_limit_cm1(spectrum: RamanSpectrum, channel: str = "total") -> float:
    """Wavenumber (cm⁻¹) below which 99 % of the classical power of ``channel`` lies, × 1.5,
    capped at the last bin: a data-driven upper limit for plots."""
    nu = np.asarray(spectrum.wavenumber_cm1)
    name = channel if channel in spectrum.density else next(iter(spectrum.density))
    s = np.clip(np.nan_to_num(spectrum.density[name]), 0.0, None)
    cum = np.cumsum(s)
    if cum[-1] <= 0:
        return float(nu[-1])
    k = int(np.searchsorted(cum, 0.99 * cum[-1]))
    return float(min(nu[-1], max(1.5 * nu[min(k, nu.size - 1)], 10 * spectrum.resolution_cm1)))


def spectrum_figure(
    spectrum: RamanSpectrum,
    variant: str = "stokes",
    channels: Sequence[str] = DEFAULT_PLOT_CHANNELS,
    low_frequency_cm1: float = 200.0,
):
    """Two-panel figure: full range and the low-frequency (central-peak) region 0–200 cm⁻¹.

    Returns a :class:`matplotlib.figure.Figure` (not registered with pyplot).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.0, 4.2), layout="constrained")
    ax_full, ax_low = fig.subplots(1, 2)
    plot_spectrum(spectrum, ax_full, channels, variant)
    hi = min(float(spectrum.wavenumber_cm1[-1]), low_frequency_cm1)
    plot_spectrum(spectrum, ax_low, channels, variant, xlim_cm1=(0.0, hi))
    ax_low.set_title(f"low-frequency region (0–{hi:g} cm⁻¹)", fontsize=9)
    return fig
