"""The panel of low-frequency metric definitions compared on the same spectra.

Which number tracks fast ion conduction best is an empirical question (issue: "choose the metric
by evidence"). Every spectrum the workflow computes is therefore measured with a fixed panel of
definitions around the configured one, and :func:`ionraman.screening.comparison.compare_metrics`
ranks them by how well they follow log D across candidates and temperatures and by how much MD
they need. The panel varies one thing at a time from the configured metric (channel, variant,
window ``(ω1, ωc)``):

=====================  ============================================================================
``fraction``           the configured fraction (default: reduced χ'', total, 0-50 cm⁻¹ over 0-800)
``fraction_stokes``    the same on the Stokes intensity (quantum-corrected S; keeps ν̃ → 0 weight)
``fraction_classical`` the same on the classical density S (no correction at all)
``fraction_narrow``    window (ω1, ωc/2)
``fraction_wide``      window (ω1, 2ωc)
``fraction_isotropic`` isotropic channel (tr α: breathing-like, symmetric fluctuations)
``fraction_parallel``  parallel (VV) channel of a powder
``fraction_crossed``   crossed (VH) channel (∝ the anisotropic one: only the traceless,
                       anisotropic part of δα scatters here)
``band_ratio``         low-frequency integral over the internal-standard band (needs a band)
=====================  ============================================================================

All values are dimensionless ratios with time-block bootstrap errors
(:func:`ionraman.screening.lowfreq_fraction`). The central-peak (Debye) amplitude of the fit is
compared alongside by the workflow (``central_peak_A``), from :mod:`.central_peak`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ionraman.screening.lowfreq import (
    LowFreqMetric,
    band_ratio_from_spectrum,
    lowfreq_fraction_from_spectrum,
)

__all__ = ["MetricDefinition", "evaluate_panel", "metric_panel"]


@dataclass(frozen=True)
class MetricDefinition:
    """One low-frequency metric: what is integrated and over which windows.

    Attributes
    ----------
    name
        Short name (a key of the panel, a value of the ``metric`` column of the tables).
    kind
        ``"fraction"`` (:func:`~ionraman.screening.lowfreq_fraction`) or ``"band_ratio"``.
    channel, variant
        Spectrum channel and variant.
    window_cm1
        Numerator window (ω1, ωc), cm⁻¹.
    reference
        ωmax (cm⁻¹) for a fraction; the band (name or (lo, hi) cm⁻¹) for a band ratio.
    """

    name: str
    kind: str
    channel: str
    variant: str
    window_cm1: tuple[float, float]
    reference: float | str | tuple[float, float]

    def describe(self) -> str:
        """One line, e.g. ``reduced total 0-50 / 0-800 cm-1``."""
        lo, hi = self.window_cm1
        if self.kind == "band_ratio":
            ref = self.reference
            if not isinstance(ref, str):
                ref = f"{ref[0]:g}-{ref[1]:g}"
            return f"{self.variant} {self.channel} {lo:g}-{hi:g} cm-1 / {ref} band"
        return f"{self.variant} {self.channel} {lo:g}-{hi:g} / {lo:g}-{self.reference:g} cm-1"

    def evaluate(self, spectrum: Any) -> LowFreqMetric:
        """The metric of a :class:`~ionraman.spectra.RamanSpectrum` (block-bootstrap error)."""
        if self.kind == "band_ratio":
            ref = self.reference
            return band_ratio_from_spectrum(
                spectrum,
                ref if isinstance(ref, str) else tuple(ref),  # type: ignore[arg-type]
                self.channel,
                self.variant,
                window_cm1=self.window_cm1,
            )
        return lowfreq_fraction_from_spectrum(
            spectrum,
            self.channel,
            self.variant,
            window_cm1=self.window_cm1,
            reference_max_cm1=float(self.reference),  # type: ignore[arg-type]
        )


def metric_panel(
    channel: str,
    variant: str,
    window_cm1: Sequence[float],
    reference_max_cm1: float,
    band: str | Sequence[float] | None = None,
) -> tuple[MetricDefinition, ...]:
    """The panel around a configured fraction (see the module docstring).

    Parameters
    ----------
    channel, variant, window_cm1, reference_max_cm1
        The configured metric (``[analysis]``).
    band
        Internal-standard band for ``band_ratio`` (name or (lo, hi) cm⁻¹), or None to leave it
        out.

    Returns
    -------
    tuple of MetricDefinition
        ``fraction`` first; variants of it that coincide with it (e.g. ``fraction_crossed`` when
        the configured channel is ``crossed``) are left out.
    """
    lo, hi = (float(w) for w in window_cm1)
    ref = float(reference_max_cm1)

    def frac(name: str, ch: str = channel, var: str = variant, win=(lo, hi)) -> MetricDefinition:
        return MetricDefinition(name, "fraction", ch, var, (float(win[0]), float(win[1])), ref)

    panel = [
        frac("fraction"),
        frac("fraction_stokes", var="stokes"),
        frac("fraction_classical", var="classical"),
        frac("fraction_narrow", win=(lo, lo + 0.5 * (hi - lo))),
        frac("fraction_wide", win=(lo, min(lo + 2.0 * (hi - lo), ref))),
        frac("fraction_isotropic", ch="isotropic"),
        frac("fraction_parallel", ch="parallel"),
        frac("fraction_crossed", ch="crossed"),
    ]
    if band is not None:
        b = band if isinstance(band, str) else (float(band[0]), float(band[1]))
        panel.append(MetricDefinition("band_ratio", "band_ratio", channel, variant, (lo, hi), b))
    seen: set[tuple] = set()
    unique = []
    for d in panel:
        key = (d.kind, d.channel, d.variant, d.window_cm1, d.reference)
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return tuple(unique)


def evaluate_panel(
    spectrum: Any, panel: Sequence[MetricDefinition]
) -> dict[str, dict[str, Any]]:
    """Every metric of ``panel`` on ``spectrum``: name → :meth:`LowFreqMetric.to_dict` plus
    ``description``; a definition the spectrum cannot give (e.g. a window beyond Nyquist) gets
    ``{"value": None, "error": "..."}`` instead of failing the others."""
    from ionraman.errors import InputError

    out: dict[str, dict[str, Any]] = {}
    for d in panel:
        try:
            out[d.name] = {**d.evaluate(spectrum).to_dict(), "description": d.describe()}
        except InputError as exc:
            out[d.name] = {
                "value": None,
                "stderr": None,
                "error": str(exc),
                "description": d.describe(),
            }
    return out
