"""Overlay figures of measured and simulated spectra (matplotlib, no pyplot state touched).

:func:`comparison_figure` draws one or more :class:`~ionraman.spectra.compare.Comparison` results;
:func:`overlay_figure` runs :func:`~ionraman.spectra.compare.compare_spectra` for preprocessed
measured spectra (e.g. a temperature series) against one simulated spectrum and draws them: what
the screening report embeds when measured spectra are given in its configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ionraman.errors import InputError
from ionraman.spectra.compare import Comparison, compare_spectra
from ionraman.spectra.measured import MeasuredSpectrum

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["comparison_figure", "overlay_figure"]

_SIM_COLOR = "tab:red"


def _measured_colors(n: int) -> list[Any]:
    if n == 1:
        return ["black"]
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(v) for v in np.linspace(0.0, 0.85, n)]


def _label(c: Comparison) -> str:
    parts = [c.label]
    t = c.metadata.get("measured", {}).get("temperature_k")
    if t is not None and f"{t:g}" not in c.label:
        parts.append(f"{t:g} K")
    return ", ".join(parts)


def _lowfreq_text(c: Comparison) -> str:
    if c.lowfreq_measured is None or c.lowfreq_simulated is None:
        return "low-freq. metric: n/a"
    m, s = c.lowfreq_measured.value, c.lowfreq_simulated.value
    rel = c.lowfreq_relative_difference
    rel_txt = f" ({100 * rel:+.1f} %)" if rel is not None else ""
    return f"low-freq. fraction: meas. {m:.3g}, sim. {s:.3g}{rel_txt}"


def _draw(
    ax: Axes,
    comparisons: Sequence[Comparison],
    colors: list[Any],
    xlim: tuple[float, float],
    *,
    peaks: bool,
    shade_lowfreq: bool,
) -> None:
    first = comparisons[0]
    cutoff = first.range_cm1[0]
    if cutoff > xlim[0]:
        ax.axvspan(xlim[0], cutoff, color="0.85", lw=0, label="below cutoff / no data")
    if shade_lowfreq and first.lowfreq_measured is not None:
        lo, hi = first.lowfreq_measured.window_cm1
        ax.axvspan(lo, hi, color="tab:blue", alpha=0.08, lw=0, label="low-freq. window")
    for c, color in zip(comparisons, colors, strict=True):
        nu_m, y_m = c.measured_raw if c.measured_raw is not None else (c.wavenumber_cm1, c.measured)
        label = f"measured: {_label(c)}"
        if len(comparisons) > 1 and c.lowfreq_measured is not None:
            label += f" (low-freq. {c.lowfreq_measured.value:.3g})"
        ax.plot(nu_m, y_m, color=color, lw=0.9, label=label)
    sim_nu, sim_y = first.simulated_raw or (first.wavenumber_cm1, first.simulated)
    s = first.instrument.scale_factor
    sim_label = f"simulated ({first.channel}" + (f", ×{s:.3f} freq." if s != 1.0 else "") + ")"
    ax.plot(sim_nu, sim_y, color=_SIM_COLOR, lw=1.1, alpha=0.85, label=sim_label)
    if peaks and len(comparisons) == 1:
        table = first.peaks[first.peaks["matched"]]
        for _, row in table.iterrows():
            if xlim[0] <= row["measured_cm1"] <= xlim[1]:
                ax.axvline(row["measured_cm1"], color="0.4", lw=0.5, ls=":")
    ax.set_xlim(*xlim)
    ax.set_xlabel("Raman shift (cm⁻¹)")
    ax.set_ylabel(f"{first.variant} intensity (unit area, cm)")


def _range_within(comps: Sequence[Comparison], x_max: float) -> tuple[float, float]:
    """Smallest and largest plotted value (measured curves, first simulated curve) below x_max."""
    curves = [c.measured_raw or (c.wavenumber_cm1, c.measured) for c in comps]
    curves.append(comps[0].simulated_raw or (comps[0].wavenumber_cm1, comps[0].simulated))
    values = [y[x <= x_max] for x, y in curves]
    values = [v for v in values if v.size]
    if not values:
        return 0.0, 0.0
    return float(min(v.min() for v in values)), float(max(v.max() for v in values))


def comparison_figure(
    comparisons: Comparison | Sequence[Comparison],
    *,
    title: str | None = None,
    lowfreq_xmax_cm1: float | None = None,
) -> Figure:
    """Two panels: full common range and a zoom on the low-frequency region.

    Parameters
    ----------
    comparisons
        One comparison, or several sharing a simulated spectrum (e.g. a measured temperature
        series); the simulated curve of the first is drawn.
    title
        Figure title; default: Pearson r, overlap and the scale factor (one comparison) or the
        number of spectra.
    lowfreq_xmax_cm1
        Right end of the zoom (cm⁻¹); default four times the low-frequency window end, at least
        150 cm⁻¹.

    Returns
    -------
    matplotlib.figure.Figure
        Grey: below the filter cutoff / first measured point; blue band: the low-frequency
        window; dotted lines: matched peaks (one comparison only).
    """
    from matplotlib.figure import Figure

    comps = [comparisons] if isinstance(comparisons, Comparison) else list(comparisons)
    if not comps:
        raise InputError("nothing to plot: no comparisons")
    colors = _measured_colors(len(comps))
    first = comps[0]
    fig = Figure(figsize=(11.0, 4.4), layout="constrained")
    ax_full, ax_low = fig.subplots(1, 2)
    full = (0.0, max(c.range_cm1[1] for c in comps))
    _draw(ax_full, comps, colors, full, peaks=True, shade_lowfreq=False)
    wc = (
        first.lowfreq_measured.window_cm1[1]
        if first.lowfreq_measured is not None
        else first.range_cm1[0] + 50.0
    )
    zoom_hi = min(full[1], lowfreq_xmax_cm1 or max(4.0 * wc, 150.0))
    _draw(ax_low, comps, colors, (0.0, zoom_hi), peaks=False, shade_lowfreq=True)
    lo_y, hi_y = _range_within(comps, zoom_hi)
    if hi_y > lo_y:
        pad = 0.08 * (hi_y - lo_y)
        ax_low.set_ylim(min(0.0, lo_y) - pad, hi_y + pad)
    ax_full.legend(fontsize=7, loc="upper right")
    if len(comps) == 1 or first.lowfreq_simulated is None:
        ax_low.set_title(_lowfreq_text(first), fontsize=9)
    else:
        ax_low.set_title(
            f"low-freq. fraction: sim. {first.lowfreq_simulated.value:.3g}; measured in legend",
            fontsize=9,
        )
        ax_low.legend(fontsize=7, loc="upper right")
    if title is None:
        if len(comps) == 1:
            title = (
                f"{first.label} vs simulation ({first.variant}): Pearson r = {first.pearson:.3f}, "
                f"overlap = {first.overlap:.3f}, scale = {first.instrument.scale_factor:.3f}, "
                f"{int(first.peaks['matched'].sum())} peaks matched"
            )
        else:
            title = f"{len(comps)} measured spectra vs simulation ({first.variant})"
    fig.suptitle(title, fontsize=10)
    return fig


def overlay_figure(
    measured: MeasuredSpectrum | Sequence[MeasuredSpectrum],
    simulated: Any,
    *,
    title: str | None = None,
    lowfreq_xmax_cm1: float | None = None,
    **compare_options: Any,
) -> Figure:
    """Overlay preprocessed measured spectra on a simulated spectrum.

    Parameters
    ----------
    measured
        One or more measured spectra, preprocessed to the comparison variant (default the
        reduced spectrum: :func:`~ionraman.spectra.preprocess.preprocess`).
    simulated
        A :class:`~ionraman.spectra.RamanSpectrum`.
    title, lowfreq_xmax_cm1
        As :func:`comparison_figure`.
    **compare_options
        Passed to :func:`~ionraman.spectra.compare.compare_spectra` (``channel``, ``variant``,
        ``instrument``, ``fit_scale``, ``lowfreq_window_cm1`` ...).

    Returns
    -------
    matplotlib.figure.Figure
    """
    items = [measured] if isinstance(measured, MeasuredSpectrum) else list(measured)
    comps = [compare_spectra(m, simulated, **compare_options) for m in items]
    return comparison_figure(comps, title=title, lowfreq_xmax_cm1=lowfreq_xmax_cm1)
