"""Hopping versus liquid-like motion: site occupancy, residence times and hop rates.

Sites are positions where mobile ions rest: by default the positions of the mobile species in a
reference frame (the first frame, or a given structure), optionally the clusters of time-averaged
resting positions (:func:`sites_from_time_average`, which also finds interstitial sites that were
empty in the reference). First-frame sites suit a fully occupied mobile sublattice (stoichiometric
Na3SbS4); on a partially occupied one, ions that hop into sites empty at the start would count as
in flight — give all sites of the structure or use ``sites="time_average"`` there. Sites are kept
in fractional coordinates of the reference cell and follow
the cell of each frame (NPT).

Each ion in each frame is *on site* when it lies within ``site_radius_A`` of a site (minimum image),
else *in flight*. Hops are counted on the "milestoned" sequence (an ion keeps its last visited site
until it reaches another one), so vibrations across the sphere boundary and failed excursions that
return to the same site are not hops.

Descriptors
-----------
* ``fraction_in_flight`` f: in-flight ion-frames / all ion-frames.
* ``hop_rate_per_ps_per_ion``: hops / (ions × analysed time).
* ``mean_residence_time_ps`` τ_res: on-site time / residence episodes (hops + ions that visited a
  site); the mean uninterrupted stay at one site.
* ``mean_flight_time_ps`` τ_fl: in-flight time / hops (includes failed excursions; NaN without
  hops).
* mechanism: ``"localised"`` if no hop was seen (vibration only, however large: at high T a soft
  Na sublattice can spend much time outside the 0.8 Å spheres without ever reaching another site;
  no statement about the mechanism); ``"hopping"`` if f < ``flight_fraction_max`` (0.3) and τ_res ≥
  ``residence_ratio_min`` (3) × τ_fl — ions sit at sites most of the time and transits are short
  compared to stays; ``"liquid-like"`` otherwise (ions mostly between sites, or stays not longer
  than transits — no well-defined sites on the time scale of motion).

Why 0.8 Å by default: alkali ions in crystalline thio-electrolytes have isotropic displacement
parameters of roughly U_iso ≈ 0.02–0.06 Å² near room temperature, i.e. a 3-D RMS vibration amplitude
√(3U) ≈ 0.25–0.45 Å; a sphere of 0.8 Å (≈ 2 × that amplitude) holds ≳ 95 % of purely vibrational
excursions, while staying below half of the shortest Na–Na site distance (≈ 3.4 Å in Na3SbS4), so an
ion outside every sphere is genuinely between sites. Use a smaller radius for light/stiff ions or
low T, larger at high T; the radius is recorded with the result.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ionraman.errors import InputError

DEFAULT_SITE_RADIUS_A = 0.8
FLIGHT_FRACTION_MAX = 0.3
RESIDENCE_RATIO_MIN = 3.0


def assign_sites(
    positions: np.ndarray,
    cells: np.ndarray,
    sites_frac: np.ndarray,
    site_radius_A: float = DEFAULT_SITE_RADIUS_A,
    chunk_frames: int = 32,
) -> np.ndarray:
    """Nearest site of every ion in every frame, −1 when in flight.

    Parameters
    ----------
    positions : ndarray, shape [S, N, 3]
        Cartesian positions (Å; wrapped or unwrapped).
    cells : ndarray, shape [S, 3, 3] or [3, 3]
        Cells (rows = vectors), Å.
    sites_frac : ndarray, shape [M, 3]
        Site positions in fractional coordinates (of any cell: they follow the frame's cell).
    site_radius_A : float
        On-site radius, Å.

    Returns
    -------
    ndarray of int, shape [S, N]
        Site index, or −1 (in flight).
    """
    positions = np.asarray(positions, dtype=float)
    n_frames = positions.shape[0]
    cells = np.asarray(cells, dtype=float)
    if cells.shape == (3, 3):
        cells = np.broadcast_to(cells, (n_frames, 3, 3))
    sites_frac = np.asarray(sites_frac, dtype=float)
    out = np.full(positions.shape[:2], -1, dtype=np.int64)
    inv = np.linalg.inv(cells)
    metric = cells @ cells.transpose(0, 2, 1)  # G = h hᵀ: |Δf h|² = Δf G Δfᵀ
    n_ions, n_sites = positions.shape[1], sites_frac.shape[0]
    for i0 in range(0, n_frames, chunk_frames):
        sl = slice(i0, min(i0 + chunk_frames, n_frames))
        # Work in fractional coordinates: subtraction and rounding are elementwise, and the
        # squared length needs one small matrix product per frame (much faster than Cartesian
        # minimum-image einsums on [F, N, M, 3]).
        frac = np.matmul(positions[sl], inv[sl])
        d = frac[:, :, None, :] - sites_frac[None, None, :, :]  # [F, N, M, 3]
        d -= np.rint(d)
        flat = d.reshape(d.shape[0], n_ions * n_sites, 3)
        r2 = np.einsum("fpk,fpk->fp", np.matmul(flat, metric[sl]), flat)
        r2 = r2.reshape(d.shape[0], n_ions, n_sites)
        nearest = np.argmin(r2, axis=2)
        r2min = np.take_along_axis(r2, nearest[..., None], axis=2)[..., 0]
        out[sl] = np.where(r2min <= site_radius_A**2, nearest, -1)
    return out


def sites_from_reference(positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Fractional sites [M, 3] (wrapped to [0, 1)) from reference positions [M, 3] (Å) and cell."""
    frac = np.asarray(positions, dtype=float) @ np.linalg.inv(np.asarray(cell, dtype=float))
    return frac - np.floor(frac)


def _periodic_r2(d_frac: np.ndarray, metric: np.ndarray) -> np.ndarray:
    """Squared minimum-image lengths [...] of fractional differences [..., 3] (G = h hᵀ)."""
    d = d_frac - np.rint(d_frac)
    return np.einsum("...i,ij,...j->...", d, metric, d)


def sites_from_time_average(
    positions: np.ndarray,
    cells: np.ndarray,
    dt_ps: float,
    *,
    block_ps: float = 0.5,
    site_radius_A: float = DEFAULT_SITE_RADIUS_A,
    min_visits: int = 2,
) -> np.ndarray:
    """Sites as clusters of time-averaged resting positions.

    The run is cut into blocks of ``block_ps``; the mean position of an ion over a block is a
    resting position when its RMS deviation within the block is below ``site_radius_A``. Resting
    positions (wrapped, fractional) are grouped in two steps: leader clustering with radius
    ``site_radius_A / 2`` (fast, O(points × clusters)), then average-linkage merging of the
    cluster centres cut at ``site_radius_A`` (minimum-image distances in the first cell). Clusters
    with at least ``min_visits`` resting positions give the sites (periodic mean of the members).

    Parameters
    ----------
    positions : ndarray, shape [S, N, 3]
        Unwrapped (drift-corrected) positions, Å.
    cells : ndarray, shape [S, 3, 3] or [3, 3]
        Cells, Å.
    dt_ps : float
        Time between frames, ps.

    Returns
    -------
    ndarray, shape [M, 3]
        Fractional site coordinates.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    positions = np.asarray(positions, dtype=float)
    n_frames, n_ions = positions.shape[:2]
    cells = np.asarray(cells, dtype=float)
    if cells.shape == (3, 3):
        cells = np.broadcast_to(cells, (n_frames, 3, 3))
    block = max(2, round(block_ps / dt_ps))
    n_blocks = n_frames // block
    if n_blocks < 1:
        raise InputError(f"run shorter than one averaging block ({block_ps} ps)")
    pos = positions[: n_blocks * block].reshape(n_blocks, block, n_ions, 3)
    mean = pos.mean(axis=1)  # [B, N, 3]
    rms = np.sqrt(((pos - mean[:, None]) ** 2).sum(-1).mean(axis=1))  # [B, N]
    block_cells = cells[: n_blocks * block].reshape(n_blocks, block, 3, 3).mean(axis=1)
    frac = np.einsum("bnj,bjk->bnk", mean, np.linalg.inv(block_cells))
    points = frac[rms < site_radius_A]
    if points.shape[0] == 0:
        raise InputError(f"no resting positions found with site radius {site_radius_A} A")
    points = points - np.floor(points)
    metric = cells[0] @ cells[0].T
    # 1) leader clustering: each point joins the first leader within r/2, else leads a new one
    leaders: list[np.ndarray] = []
    label = np.empty(points.shape[0], dtype=int)
    lead_arr = np.zeros((0, 3))
    r_lead2 = (0.5 * site_radius_A) ** 2
    for p, point in enumerate(points):
        if leaders:
            r2 = _periodic_r2(lead_arr - point, metric)
            k = int(np.argmin(r2))
            if r2[k] <= r_lead2:
                label[p] = k
                continue
        leaders.append(point)
        lead_arr = np.asarray(leaders)
        label[p] = len(leaders) - 1
    centres, counts = _periodic_means(points, label, len(leaders))
    # 2) merge leader clusters closer than the site radius (average linkage)
    if len(centres) > 1:
        iu = np.triu_indices(len(centres), k=1)
        dist = np.sqrt(_periodic_r2(centres[iu[0]] - centres[iu[1]], metric))
        merged = fcluster(linkage(dist, method="average"), t=site_radius_A, criterion="distance")
        label = merged[label] - 1
        centres, counts = _periodic_means(points, label, int(merged.max()))
    keep = counts >= min_visits
    if not np.any(keep):
        raise InputError(f"no site visited at least {min_visits} times")
    return centres[keep]


def _periodic_means(points: np.ndarray, label: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Periodic mean [n, 3] (fractional, in [0, 1)) and member count [n] of labelled points."""
    centres = np.zeros((n, 3))
    counts = np.bincount(label, minlength=n)
    for k in range(n):
        members = points[label == k]
        if members.size == 0:
            continue
        rel = members - members[0]
        rel -= np.rint(rel)
        c = members[0] + rel.mean(axis=0)
        centres[k] = c - np.floor(c)
    return centres, counts


@dataclass
class HoppingResult:
    """Site-based descriptors of ion motion (see module docstring)."""

    fraction_in_flight: float
    mean_residence_time_ps: float
    mean_flight_time_ps: float
    hop_rate_per_ps_per_ion: float
    n_hops: int
    n_ions: int
    n_sites: int
    site_radius_A: float
    analysed_time_ps: float
    dt_ps: float
    mechanism: str
    sites: str
    criteria: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify_mechanism(
    fraction_in_flight: float,
    mean_residence_time_ps: float,
    mean_flight_time_ps: float,
    n_hops: int,
    *,
    flight_fraction_max: float = FLIGHT_FRACTION_MAX,
    residence_ratio_min: float = RESIDENCE_RATIO_MIN,
) -> str:
    """"hopping", "localised" or "liquid-like" by the documented thresholds."""
    if n_hops == 0:
        return "localised"  # whatever the vibration amplitude: no ion reached another site
    if fraction_in_flight >= flight_fraction_max:
        return "liquid-like"
    if mean_residence_time_ps >= residence_ratio_min * mean_flight_time_ps:
        return "hopping"
    return "liquid-like"


def hopping_descriptor(
    positions: np.ndarray | str | os.PathLike[str],
    cells: np.ndarray | None = None,
    dt_ps: float | None = None,
    *,
    sites: str | np.ndarray = "reference",
    reference_cell: np.ndarray | None = None,
    site_radius_A: float = DEFAULT_SITE_RADIUS_A,
    flight_fraction_max: float = FLIGHT_FRACTION_MAX,
    residence_ratio_min: float = RESIDENCE_RATIO_MIN,
    species: str = "Na",
    stride: int = 1,
    block_ps: float = 0.5,
) -> HoppingResult:
    """Fraction in flight, residence time, hop rate and mechanism label of the mobile ions.

    Parameters
    ----------
    positions : ndarray [S, N, 3] or path
        Positions of the mobile ions (Å; wrapped or unwrapped, drift-corrected preferred), or a
        trajectory file (``species`` are taken, drift-corrected, every ``stride``-th frame).
    cells : ndarray, shape [S, 3, 3] or [3, 3]
        Cells, Å (array input).
    dt_ps : float
        Time between the given frames, ps (array input). Hops shorter than this are not resolved.
    sites : {"reference", "time_average"} or ndarray [M, 3]
        Sites: positions of the ions in the first frame, clustered time-averaged resting positions
        (:func:`sites_from_time_average`), or Cartesian positions (Å) in ``reference_cell``
        (default: the first cell), e.g. the mobile sites of a relaxed structure.
    site_radius_A : float
        On-site radius, Å (default 0.8, justified in the module docstring).
    flight_fraction_max, residence_ratio_min : float
        Mechanism thresholds (module docstring).

    Returns
    -------
    HoppingResult
    """
    if not isinstance(positions, np.ndarray):
        from ionraman.transport.unwrap import load_unwrapped

        series = load_unwrapped(positions, species, stride=stride)
        pos, cells, dt = series.positions, series.cells, series.dt_ps
    else:
        if cells is None or dt_ps is None:
            raise InputError("cells and dt_ps are required with array positions")
        pos, dt = np.asarray(positions, dtype=float), float(dt_ps)
    cells = np.asarray(cells, dtype=float)
    if cells.shape == (3, 3):
        cells = np.broadcast_to(cells, (pos.shape[0], 3, 3))
    if isinstance(sites, str):
        if sites == "reference":
            sites_frac = sites_from_reference(pos[0], cells[0])
        elif sites == "time_average":
            sites_frac = sites_from_time_average(
                pos, cells, dt, block_ps=block_ps, site_radius_A=site_radius_A
            )
        else:
            raise InputError(
                f"sites must be 'reference', 'time_average' or an array, got {sites!r}"
            )
        site_label = sites
    else:
        ref = cells[0] if reference_cell is None else np.asarray(reference_cell, dtype=float)
        sites_frac = sites_from_reference(np.asarray(sites, dtype=float), ref)
        site_label = f"given ({sites_frac.shape[0]})"
    assigned = assign_sites(pos, cells, sites_frac, site_radius_A)  # [S, N]
    n_frames, n_ions = assigned.shape
    on_site = assigned >= 0
    fraction_in_flight = 1.0 - float(on_site.mean())
    # milestoning: forward-fill the last visited site
    idx = np.where(on_site, np.arange(n_frames)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    milestone = np.where(idx >= 0, np.take_along_axis(assigned, np.maximum(idx, 0), axis=0), -1)
    change = (milestone[1:] != milestone[:-1]) & (milestone[:-1] >= 0)
    n_hops = int(change.sum())
    visited = int(np.count_nonzero(on_site.any(axis=0)))
    total_time = n_frames * dt
    on_time = float(on_site.sum()) * dt
    flight_time = n_ions * total_time - on_time
    residence = on_time / (n_hops + visited) if (n_hops + visited) else float("nan")
    flight = flight_time / n_hops if n_hops else float("nan")
    mechanism = classify_mechanism(
        fraction_in_flight,
        residence,
        flight,
        n_hops,
        flight_fraction_max=flight_fraction_max,
        residence_ratio_min=residence_ratio_min,
    )
    return HoppingResult(
        fraction_in_flight=fraction_in_flight,
        mean_residence_time_ps=residence,
        mean_flight_time_ps=flight,
        hop_rate_per_ps_per_ion=n_hops / (n_ions * total_time),
        n_hops=n_hops,
        n_ions=n_ions,
        n_sites=int(sites_frac.shape[0]),
        site_radius_A=site_radius_A,
        analysed_time_ps=total_time,
        dt_ps=dt,
        mechanism=mechanism,
        sites=site_label,
        criteria={
            "flight_fraction_max": flight_fraction_max,
            "residence_ratio_min": residence_ratio_min,
            "rule": "hopping if fraction_in_flight < flight_fraction_max and "
            "mean_residence_time >= residence_ratio_min x mean_flight_time; localised if no hops; "
            "liquid-like otherwise",
        },
    )

