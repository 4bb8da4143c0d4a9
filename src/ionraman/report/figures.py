"""Figures of the screening report (matplotlib ``Figure`` objects; no pyplot state).

* :func:`spectra_figure` — one candidate's spectra across temperatures (seed-combined), error
  bands (standard error), the low-frequency window shaded;
* :func:`msd_figure` — one candidate's mobile-ion MSD per temperature (mean over seeds, band
  between the seeds' lowest and highest);
* :func:`arrhenius_figure` — log10 D* against 1000/T for all candidates with their fits;
* :func:`metric_vs_d_figure` — the low-frequency metric against log10 D* with the
  least-squares line and the correlation coefficients.

Each returns a ``matplotlib.figure.Figure``; :func:`save_png` writes one atomically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ionraman._io import atomic_path

__all__ = [
    "arrhenius_figure",
    "metric_vs_d_figure",
    "msd_figure",
    "save_png",
    "spectra_figure",
]


def _figure(w: float = 7.5, h: float = 4.2) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), layout="constrained")


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["plasma"]
    return [cmap(v) for v in np.linspace(0.05, 0.85, max(n, 1))]


def save_png(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG to ``path`` (atomic)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


def spectra_figure(
    spectra: Sequence[tuple[float, Any]],
    *,
    candidate: str,
    channel: str = "total",
    variant: str = "reduced",
    window_cm1: tuple[float, float] = (0.0, 50.0),
    max_cm1: float = 800.0,
) -> Any:
    """Spectra of one candidate at several temperatures.

    Parameters
    ----------
    spectra
        ``(temperature_K, RamanSpectrum)`` pairs.
    candidate
        Title.
    channel, variant
        What to draw (:meth:`RamanSpectrum.intensity`).
    window_cm1
        Low-frequency window, shaded.
    max_cm1
        Right end of the full panel (the zoom panel shows 0 – max(4 × window end, 150)).
    """
    fig = _figure(11.0, 4.2)
    ax_full, ax_low = fig.subplots(1, 2)
    cols = _colors(len(spectra))
    zoom = max(4.0 * window_cm1[1], 150.0)
    for ax, hi in ((ax_full, max_cm1), (ax_low, zoom)):
        top = 0.0
        for (t, spec), c in zip(sorted(spectra, key=lambda p: p[0]), cols, strict=True):
            nu = np.asarray(spec.wavenumber_cm1)
            y = spec.intensity(channel, variant)
            e = spec.stderr(channel, variant)
            sel = nu <= hi
            ax.plot(nu[sel], y[sel], color=c, lw=1.2, label=f"{t:g} K")
            ok = np.isfinite(e[sel])
            if ok.any():
                ax.fill_between(
                    nu[sel],
                    (y - e)[sel],
                    (y + e)[sel],
                    color=c,
                    alpha=0.25,
                    lw=0,
                    where=ok,
                )
            finite = y[sel][np.isfinite(y[sel])]
            if finite.size:
                top = max(top, float(np.max(finite)))
        ax.axvspan(*window_cm1, color="tab:blue", alpha=0.12, lw=0, label="low-freq. window")
        ax.set_xlim(0, hi)
        if top > 0:
            ax.set_ylim(0, 1.1 * top)
        ax.set_xlabel("Raman shift (cm$^{-1}$)")
        ax.set_ylabel(f"{variant} intensity ({channel}, Å$^6$ cm)")
    ax_full.legend(fontsize=8)
    ax_low.set_title(f"zoom 0–{zoom:g} cm$^{{-1}}$", fontsize=9)
    fig.suptitle(f"{candidate}: Raman spectra (seeds combined, ±1 s.e.)", fontsize=10)
    return fig


def msd_figure(msd: dict[float, list[pd.DataFrame]], *, candidate: str, species: str) -> Any:
    """MSD of ``species`` per temperature (mean over seeds, band = seed range)."""
    fig = _figure(7.0, 4.2)
    ax = fig.subplots()
    temps = sorted(msd)
    for t, c in zip(temps, _colors(len(temps)), strict=True):
        frames = msd[t]
        col = f"msd_{species}_A2"
        frames = [f for f in frames if col in f.columns]
        if not frames:
            continue
        n = min(len(f) for f in frames)
        time_ps = frames[0]["time_ps"].to_numpy()[:n]
        ys = np.array([f[col].to_numpy()[:n] for f in frames])
        ax.plot(
            time_ps,
            ys.mean(axis=0),
            color=c,
            lw=1.3,
            label=f"{t:g} K ({len(frames)} seed{'s' if len(frames) > 1 else ''})",
        )
        if len(frames) > 1:
            ax.fill_between(time_ps, ys.min(axis=0), ys.max(axis=0), color=c, alpha=0.25, lw=0)
    ax.set_xlabel("time lag (ps)")
    ax.set_ylabel(f"MSD {species} (Å$^2$)")
    ax.set_title(f"{candidate}: {species} mean squared displacement", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def arrhenius_figure(results: pd.DataFrame, arrhenius: dict[str, dict[str, Any]]) -> Any:
    """log10 D* vs 1000/T with error bars and the Arrhenius fits (E_a in the legend).

    Temperatures where the MSD is not diffusive (``diffusive`` False: a plateau, kinisi's D is
    not a diffusivity) are drawn with open markers and are not part of the fits.
    """
    fig = _figure(7.0, 4.6)
    ax = fig.subplots()
    names = list(dict.fromkeys(results["candidate"]))
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for k, name in enumerate(names):
        sub = results[results["candidate"] == name].sort_values("temperature_K")
        t = sub["temperature_K"].to_numpy(float)
        d = sub["D_cm2_s"].to_numpy(float)
        e = sub["D_std_cm2_s"].to_numpy(float)
        ok = np.isfinite(d) & (d > 0)
        if not ok.any():
            continue
        x = 1000.0 / t[ok]
        y = np.log10(d[ok])
        yerr = np.where(np.isfinite(e[ok]), e[ok] / (d[ok] * math.log(10)), 0.0)
        fit = arrhenius.get(name, {}).get("D", {})
        label = name
        if fit.get("status") == "done":
            label += f" (Ea = {fit['Ea_eV']:.2f} ± {fit['Ea_std_eV']:.2f} eV)"
            tt = np.linspace(t.min(), t.max(), 50)
            ln = fit["intercept_ln"] + fit["slope_K"] / tt
            ax.plot(1000.0 / tt, ln / math.log(10), color=cmap(k % 10), lw=1, ls="--")
        plateau = (
            sub["diffusive"].map(lambda v: v is False).to_numpy(bool)[ok]
            if "diffusive" in sub
            else np.zeros(x.size, bool)
        )
        for sel, face, lab in ((~plateau, cmap(k % 10), label),
                               (plateau, "none", f"{name}: MSD not diffusive")):
            if sel.any():
                ax.errorbar(x[sel], y[sel], yerr=yerr[sel], fmt="o", color=cmap(k % 10),
                            mfc=face, capsize=3, label=lab)
    ax.set_xlabel("1000 / T (K$^{-1}$)")
    ax.set_ylabel("log$_{10}$ D* (cm$^2$ s$^{-1}$)")
    ax.set_title("Arrhenius plot of the tracer diffusion coefficient", fontsize=10)
    if names:
        ax.legend(fontsize=8)
    return fig


def metric_vs_d_figure(
    results: pd.DataFrame, correlation: dict[str, Any], *, metric: str = "lowfreq_fraction"
) -> Any:
    """The metric (x, ± error over seeds) against log10 D* (y), the fit line, ρ and r."""
    fig = _figure(7.0, 4.6)
    ax = fig.subplots()
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    markers = "osD^v<>p*h"
    temps = sorted(results["temperature_K"].unique())
    for k, name in enumerate(dict.fromkeys(results["candidate"])):
        sub = results[results["candidate"] == name]
        for _, r in sub.iterrows():
            x, d = float(r[metric]), float(r["D_cm2_s"])
            if not (math.isfinite(x) and math.isfinite(d) and d > 0) or r.get("diffusive") is False:
                continue  # a plateau's D is not a diffusivity (not in the correlation either)
            xe = r.get(f"{metric}_err")
            de = float(r["D_std_cm2_s"])
            ye = de / (d * math.log(10)) if math.isfinite(de) else 0.0
            m = markers[temps.index(r["temperature_K"]) % len(markers)]
            ax.errorbar(
                x,
                math.log10(d),
                xerr=float(xe) if xe is not None and math.isfinite(float(xe)) else None,
                yerr=ye,
                fmt=m,
                color=cmap(k % 10),
                capsize=3,
                label=f"{name} {r['temperature_K']:g} K",
            )
    slope, icpt = correlation.get("slope"), correlation.get("intercept")
    xs = np.asarray(correlation.get("x") or [], float)
    if slope is not None and icpt is not None and xs.size:
        xx = np.linspace(xs.min(), xs.max(), 20)
        ax.plot(xx, icpt + slope * xx, "k--", lw=1, label="least squares")
    rho, r = correlation.get("spearman_rho"), correlation.get("pearson_r")
    if rho is not None:
        sci = correlation.get("spearman_ci") or [math.nan, math.nan]
        pci = correlation.get("pearson_ci") or [math.nan, math.nan]
        lvl = 100 * correlation.get("confidence", 0.95)
        txt = (
            f"Spearman ρ = {rho:+.2f} [{sci[0]:+.2f}, {sci[1]:+.2f}]\n"
            f"Pearson r = {r:+.2f} [{pci[0]:+.2f}, {pci[1]:+.2f}]\n"
            f"{lvl:.0f} % bootstrap CI, n = {correlation.get('n')}"
        )
    else:
        txt = correlation.get("note") or "no correlation"
    ax.text(
        0.02,
        0.98,
        txt,
        transform=ax.transAxes,
        va="top",
        fontsize=8,
        bbox={"facecolor": "white", "alpha": 0.8, "lw": 0},
    )
    ax.set_xlabel(metric.replace("_", " "))
    ax.set_ylabel("log$_{10}$ D* (cm$^2$ s$^{-1}$)")
    ax.set_title(f"{metric.replace('_', ' ')} vs tracer diffusion", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return fig
