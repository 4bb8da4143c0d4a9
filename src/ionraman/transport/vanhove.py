"""Self part of the van Hove correlation function and the non-Gaussian parameter.

G_s(r, t) = 1/N Σ_i ⟨δ(r − |r_i(t₀ + t) − r_i(t₀)|)⟩_{t₀} / (4π r²), normalised so that
∫ 4π r² G_s(r, t) dr = 1. For free (Gaussian) diffusion
G_s(r, t) = (2π σ²)^{-3/2} exp(−r² / 2σ²) with σ² = MSD(t) / 3; hopping shows up as peaks of
4π r² G_s at the site–site distances. The non-Gaussian parameter
α₂(t) = 3⟨Δr⁴⟩ / (5⟨Δr²⟩²) − 1 is 0 for a Gaussian and positive for heterogeneous (e.g. hopping)
dynamics.

Inputs are unwrapped positions [S, N, 3] (Å) — or wrapped ones together with their cells, which are
then unwrapped — or a trajectory path (see :func:`load_unwrapped`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ionraman.errors import InputError
from ionraman.transport.unwrap import load_unwrapped


@dataclass
class VanHoveResult:
    """Self van Hove function on a radial grid for a few lags.

    Attributes
    ----------
    r_A : ndarray, shape [B]
        Bin centres, Å.
    edges_A : ndarray, shape [B + 1]
        Bin edges, Å.
    time_ps : ndarray, shape [L]
        Lag times, ps.
    G_s_A3 : ndarray, shape [L, B]
        G_s(r, t) in Å⁻³: counts / (observations × shell volume 4π(r₂³ − r₁³)/3), so
        Σ_bins G_s · shell volume = 1 − fraction beyond r_max.
    four_pi_r2_G_s_per_A : ndarray, shape [L, B]
        Radial probability density 4πr²G_s (Å⁻¹) = counts / (observations × Δr); its sum × Δr is
        1 − ``fraction_beyond``.
    fraction_beyond : ndarray, shape [L]
        Fraction of displacements longer than the last edge.
    n_observations : ndarray, shape [L]
        Displacements histogrammed per lag (ions × time origins).
    """

    r_A: np.ndarray
    edges_A: np.ndarray
    time_ps: np.ndarray
    G_s_A3: np.ndarray
    four_pi_r2_G_s_per_A: np.ndarray
    fraction_beyond: np.ndarray
    n_observations: np.ndarray

    def to_dataframe(self) -> pd.DataFrame:
        """Long table: ``time_ps``, ``r_A``, ``G_s_A-3``, ``four_pi_r2_G_s_A-1``."""
        n_l, n_b = self.G_s_A3.shape
        return pd.DataFrame(
            {
                "time_ps": np.repeat(self.time_ps, n_b),
                "r_A": np.tile(self.r_A, n_l),
                "G_s_A-3": self.G_s_A3.ravel(),
                "four_pi_r2_G_s_A-1": self.four_pi_r2_G_s_per_A.ravel(),
            }
        )


def _as_unwrapped(
    positions: np.ndarray | str | os.PathLike[str],
    dt_ps: float | None,
    cells: np.ndarray | None,
    species: str,
    stride: int,
) -> tuple[np.ndarray, float]:
    if isinstance(positions, np.ndarray):
        if dt_ps is None or dt_ps <= 0:
            raise InputError("dt_ps (time between frames in ps) is required with array positions")
        pos = np.asarray(positions, dtype=float)
        if cells is not None:
            from ionraman.transport.unwrap import unwrap_positions

            pos = unwrap_positions(pos, cells)
        return pos[::stride], dt_ps * stride
    series = load_unwrapped(positions, species, stride=stride)
    return series.positions, series.dt_ps


def _origins(n_frames: int, lag: int, max_origins: int) -> np.ndarray:
    n = n_frames - lag
    step = max(1, -(-n // max_origins))
    return np.arange(0, n, step)


def _lags_from_times(
    times_ps: Sequence[float] | np.ndarray, dt_ps: float, n_frames: int
) -> np.ndarray:
    lags = np.round(np.asarray(times_ps, dtype=float) / dt_ps).astype(int)
    if np.any(lags < 1) or np.any(lags > n_frames - 1):
        raise InputError(
            f"van Hove lag times must lie between {dt_ps:.4g} and {(n_frames - 1) * dt_ps:.4g} ps"
        )
    return lags


def self_van_hove(
    positions: np.ndarray | str | os.PathLike[str],
    times_ps: Sequence[float] | np.ndarray,
    *,
    dt_ps: float | None = None,
    cells: np.ndarray | None = None,
    species: str = "Na",
    stride: int = 1,
    r_max_A: float | None = None,
    n_bins: int = 100,
    max_origins: int = 2000,
) -> VanHoveResult:
    """G_s(r, t) at the requested lag times.

    Parameters
    ----------
    positions : ndarray [S, N, 3] or path
        Unwrapped positions (Å) of the ions to analyse; wrapped ones if ``cells`` is given; or a
        trajectory file (then ``species`` are taken, drift-corrected, every ``stride``-th frame).
    times_ps : sequence of float
        Lag times, ps (rounded to whole frames).
    dt_ps : float
        Time between the given frames, ps (array input).
    cells : ndarray, shape [S, 3, 3] or [3, 3], optional
        Cells (Å) when ``positions`` are wrapped.
    r_max_A : float, optional
        Histogram range; default the largest displacement at the longest lag (nothing beyond).
    n_bins : int
        Radial bins.
    max_origins : int
        Time origins per lag at most (evenly strided).

    Returns
    -------
    VanHoveResult
    """
    pos, dt = _as_unwrapped(positions, dt_ps, cells, species, stride)
    n_frames = pos.shape[0]
    lags = _lags_from_times(times_ps, dt, n_frames)
    disps = []
    for lag in lags:
        t0 = _origins(n_frames, lag, max_origins)
        d = pos[t0 + lag] - pos[t0]
        disps.append(np.sqrt(np.einsum("tnd,tnd->tn", d, d)).ravel())
    if r_max_A is None:
        r_max_A = float(max(x.max() for x in disps)) * (1 + 1e-9) or 1.0
    edges = np.linspace(0.0, r_max_A, n_bins + 1)
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    width = np.diff(edges)
    g = np.empty((lags.size, n_bins))
    p = np.empty((lags.size, n_bins))
    beyond = np.empty(lags.size)
    n_obs = np.empty(lags.size, dtype=int)
    for k, r in enumerate(disps):
        counts, _ = np.histogram(r, bins=edges)
        n_obs[k] = r.size
        g[k] = counts / (r.size * shell)
        p[k] = counts / (r.size * width)
        beyond[k] = np.count_nonzero(r >= edges[-1]) / r.size
    return VanHoveResult(
        r_A=0.5 * (edges[1:] + edges[:-1]),
        edges_A=edges,
        time_ps=lags * dt,
        G_s_A3=g,
        four_pi_r2_G_s_per_A=p,
        fraction_beyond=beyond,
        n_observations=n_obs,
    )


def non_gaussian_parameter(
    positions: np.ndarray | str | os.PathLike[str],
    times_ps: Sequence[float] | np.ndarray | None = None,
    *,
    dt_ps: float | None = None,
    cells: np.ndarray | None = None,
    species: str = "Na",
    stride: int = 1,
    n_lags: int = 30,
    max_origins: int = 2000,
) -> pd.DataFrame:
    """α₂(t) = 3⟨Δr⁴⟩ / (5⟨Δr²⟩²) − 1 on a set of lags.

    Parameters
    ----------
    positions, dt_ps, cells, species, stride
        As for :func:`self_van_hove`.
    times_ps : sequence of float, optional
        Lag times, ps; default ``n_lags`` log-spaced lags up to half the run.
    max_origins : int
        Time origins per lag at most.

    Returns
    -------
    DataFrame
        ``time_ps``, ``msd_A2``, ``r4_A4`` (⟨Δr⁴⟩), ``alpha2``.
    """
    pos, dt = _as_unwrapped(positions, dt_ps, cells, species, stride)
    n_frames = pos.shape[0]
    if times_ps is None:
        last = max(1, (n_frames - 1) // 2)
        lags = np.unique(np.geomspace(1, last, n_lags).round().astype(int))
    else:
        lags = _lags_from_times(times_ps, dt, n_frames)
    r2 = np.empty(lags.size)
    r4 = np.empty(lags.size)
    for k, lag in enumerate(lags):
        t0 = _origins(n_frames, lag, max_origins)
        d = pos[t0 + lag] - pos[t0]
        s = np.einsum("tnd,tnd->tn", d, d)
        r2[k] = s.mean()
        r4[k] = (s**2).mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha2 = 3.0 * r4 / (5.0 * r2**2) - 1.0
    return pd.DataFrame({"time_ps": lags * dt, "msd_A2": r2, "r4_A4": r4, "alpha2": alpha2})
