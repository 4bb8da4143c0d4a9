"""Raman spectra (powder channels and single-crystal geometries) from polarizability series.

Physics (see :mod:`ionraman.conventions` for the full statement): for each run the mean over the
whole run is removed, δα(t) = α(t) − ⟨α⟩, and the classical one-sided spectral density S(ν̃) of a
scalar channel x(t) is estimated with Welch's method (``scipy.signal.ShortTimeFFT``, exactly as
``scipy.signal.welch`` with ``detrend=False``, ``scaling="density"``) and converted from Hz to cm⁻¹
so that ``np.trapezoid(S, ν̃)`` is the variance of x (:mod:`ionraman.spectra.psd`). Channels:

* ``isotropic``: S_a, the spectrum of δa, a = tr(α)/3;
* ``anisotropic``: S_γ = (3/2) Σ_ij S[δβ_ij], β the traceless part (only auto-spectra enter the
  diagonal sum, no cross-spectra are needed);
* ``parallel`` = (45 S_a + 4 S_γ)/45, ``crossed`` = 3 S_γ/45, ``total`` = (45 S_a + 7 S_γ)/45
  (orientation averages of an isotropic sample; parallel = ⟨S[ê·δα·ê]⟩ over orientations);
* a single-crystal geometry (e_i, e_s): the spectrum of e_s·δα·e_i.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ionraman._io import provenance
from ionraman.conventions import (
    QUANTUM_CORRECTIONS,
    SPEED_OF_LIGHT_CM_S,
    conventions_metadata,
    laser_wavelength_nm_to_cm1,
    timestep_fs_to_nyquist_cm1,
)
from ionraman.errors import InputError
from ionraman.spectra.geometry import resolve_geometry
from ionraman.spectra.invariants import as_tensor_series
from ionraman.spectra.psd import (
    SMOOTHING_KERNELS,
    largest_fft_friendly_length,
    resolution_of,
    segment_densities,
    segment_length_for_resolution,
    smooth_density,
)
from ionraman.spectra.result import RamanSpectrum
from ionraman.validate import check_temperature

__all__ = ["DEFAULT_RESOLUTION_CM1", "POWDER_CHANNEL_NAMES", "compute_raman_spectrum"]

POWDER_CHANNEL_NAMES = ("isotropic", "anisotropic", "parallel", "crossed", "total")
DEFAULT_RESOLUTION_CM1 = 1.0
"""Default bin spacing (cm⁻¹) when neither resolution nor segment length is given."""
DEFAULT_MAX_BLOCKS = 8
"""Most time blocks a run is split into for block-bootstrap errors (each block ≥ 1 segment)."""
MIN_SEGMENT_FRAMES = 16
"""Shortest Welch segment, frames (9 frequency bins): a shorter series, segment length or a
coarser resolution gives a handful of bins and is refused."""
_OFF_DIAGONAL = ((0, 1), (0, 2), (1, 2))
# signals transformed together: bounds the complex STFT buffer to ~128 MB (8e6 × 16 B)
_MAX_CHUNK_ELEMENTS = 8_000_000


def _as_runs(alpha: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(alpha, np.ndarray):
        runs = [alpha] if alpha.ndim != 4 else list(alpha)
    elif (
        isinstance(alpha, Sequence)
        and not isinstance(alpha, str)
        and len(alpha) > 0
        and all(np.ndim(r) == 3 for r in alpha)
    ):
        runs = list(alpha)
    else:
        runs = [np.asarray(alpha, dtype=float)]
    if not runs:
        raise InputError("no polarizability runs given; expected [S, 3, 3] or a list of them")
    out = [
        as_tensor_series(r, name="alpha" if len(runs) == 1 else f"alpha (run {i})")
        for i, r in enumerate(runs)
    ]
    for i, r in enumerate(out[1:], start=1):
        if r.shape != out[0].shape:
            raise InputError(
                f"independent runs must have the same shape: run 0 is {out[0].shape}, run {i} is "
                f"{r.shape}; trim them to a common number of frames"
            )
    return out


def _check_positive(value: float | None, what: str, unit: str) -> None:
    if value is not None and not (np.isfinite(value) and value > 0):
        raise InputError(f"{what} must be a positive number of {unit}, got {value}")


def _segment_length(
    n_frames: int, timestep_fs: float, resolution_cm1: float | None, segment_length: int | None
) -> int:
    if resolution_cm1 is not None and segment_length is not None:
        raise InputError("give either resolution_cm1 or segment_length, not both")
    if resolution_cm1 is not None:
        n = segment_length_for_resolution(resolution_cm1, timestep_fs)
        if n < MIN_SEGMENT_FRAMES:
            coarsest = resolution_of(MIN_SEGMENT_FRAMES, timestep_fs)
            raise InputError(
                f"resolution {resolution_cm1:g} cm^-1 at {timestep_fs:g} fs gives segments of "
                f"{n} frames, fewer than {MIN_SEGMENT_FRAMES}; expected a resolution of at most "
                f"{coarsest:.4g} cm^-1"
            )
        if n > n_frames:
            t_ps = n_frames * timestep_fs / 1000.0
            finest = resolution_of(largest_fft_friendly_length(n_frames), timestep_fs)
            digits = 3 - math.floor(math.log10(finest))
            finest = math.ceil(finest * 10**digits) / 10**digits  # round up: always reachable
            needs = str(n) if n < 10**9 else f"{n:.3g}"
            raise InputError(
                f"series of {n_frames} frames ({t_ps:g} ps at {timestep_fs:g} fs) is shorter than "
                f"one segment for resolution {resolution_cm1:g} cm^-1, which needs {needs} frames "
                f"({n * timestep_fs / 1000.0:g} ps); use a coarser resolution (at least "
                f"{finest:g} cm^-1) or a longer run"
            )
        return n
    if segment_length is not None:
        if int(segment_length) != segment_length or segment_length < MIN_SEGMENT_FRAMES:
            raise InputError(
                f"segment_length must be an integer >= {MIN_SEGMENT_FRAMES} frames, got "
                f"{segment_length}"
            )
        n = int(segment_length) + int(segment_length) % 2
        if n > n_frames:
            raise InputError(
                f"segment_length {segment_length} frames exceeds the series length of {n_frames} "
                "frames"
            )
        return n
    # default: DEFAULT_RESOLUTION_CM1, coarsened to a quarter of the run if that is shorter
    # (so that at least 7 half-overlapping segments are averaged)
    default = segment_length_for_resolution(DEFAULT_RESOLUTION_CM1, timestep_fs)
    if default < MIN_SEGMENT_FRAMES:
        longest = 1e15 / (SPEED_OF_LIGHT_CM_S * MIN_SEGMENT_FRAMES * DEFAULT_RESOLUTION_CM1)
        raise InputError(
            f"timestep_fs = {timestep_fs:g}: segments at the default resolution of "
            f"{DEFAULT_RESOLUTION_CM1:g} cm^-1 would hold {default} frames; expected frames at "
            f"most {longest:.4g} fs apart"
        )
    n = min(default, largest_fft_friendly_length(n_frames // 4))
    if n < MIN_SEGMENT_FRAMES:
        raise InputError(
            f"series of {n_frames} frames is too short for a spectrum: the default resolution "
            f"averages segments of a quarter of the run, each at least {MIN_SEGMENT_FRAMES} "
            f"frames, so at least {4 * MIN_SEGMENT_FRAMES} frames are needed"
        )
    return n


def _validate_smoothing(smoothing: tuple[str, float] | None) -> tuple[str, float] | None:
    if smoothing is None:
        return None
    try:
        kind, fwhm = smoothing
        kind, fwhm = str(kind).lower(), float(fwhm)
    except (TypeError, ValueError):
        raise InputError(
            f"smoothing must be (kind, fwhm_cm1) with kind in {SMOOTHING_KERNELS}, got "
            f"{smoothing!r}"
        ) from None
    if kind not in SMOOTHING_KERNELS:
        raise InputError(
            f"unknown smoothing kernel {kind!r}; expected one of: {', '.join(SMOOTHING_KERNELS)}"
        )
    _check_positive(fwhm, "smoothing FWHM", "cm^-1")
    return kind, fwhm


def _run_segments(
    alpha: np.ndarray,
    timestep_fs: float,
    nseg_len: int,
    window: str,
    overlap: float,
    geometries: list[tuple[str, np.ndarray, np.ndarray]],
    remove_mean: bool,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-segment densities ``{channel: [n_seg, F]}`` of one run ``alpha`` ``[S, 3, 3]``."""
    a = (alpha[:, 0, 0] + alpha[:, 1, 1] + alpha[:, 2, 2]) / 3.0
    # scalar signals: a, the traceless diagonal β_ii = α_ii − a, the symmetric off-diagonal β_ij
    # (counted twice in Σ_ij), then e_s · α_sym · e_i for each geometry
    makers = [lambda: a]
    makers += [lambda i=i: alpha[:, i, i] - a for i in range(3)]
    makers += [lambda i=i, j=j: 0.5 * (alpha[:, i, j] + alpha[:, j, i]) for i, j in _OFF_DIAGONAL]
    for _, e_i, e_s in geometries:
        m = 0.5 * (np.outer(e_s, e_i) + np.outer(e_i, e_s))
        makers.append(lambda m=m: np.einsum("sij,ij->s", alpha, m, optimize=True))
    weights = [0.0, 1.5, 1.5, 1.5, 3.0, 3.0, 3.0]  # contributions to S_γ = (3/2) Σ_ij S[β_ij]

    n_frames = alpha.shape[0]
    chunk = max(1, _MAX_CHUNK_ELEMENTS // n_frames)
    nu = np.zeros(0)
    s_a = s_g = np.zeros(0)
    geo: list[np.ndarray] = []
    for start in range(0, len(makers), chunk):
        block = np.stack([mk() for mk in makers[start : start + chunk]])
        if remove_mean:
            block -= block.mean(axis=1, keepdims=True)
        nu, dens = segment_densities(block, timestep_fs, nseg_len, window=window, overlap=overlap)
        for k, d in enumerate(dens, start=start):
            if k == 0:
                s_a = d.copy()  # do not keep the whole chunk buffer alive
                s_g = np.zeros_like(d)
            elif k < len(weights):
                s_g += weights[k] * d
            else:
                geo.append(d)
        del block, dens
    out = {
        "isotropic": s_a,
        "anisotropic": s_g,
        "parallel": s_a + (4.0 / 45.0) * s_g,
        "crossed": (3.0 / 45.0) * s_g,
        "total": s_a + (7.0 / 45.0) * s_g,
    }
    for (name, _, _), d in zip(geometries, geo, strict=True):
        out[name] = d
    return nu, out


def compute_raman_spectrum(
    alpha: np.ndarray | Sequence[np.ndarray],
    timestep_fs: float,
    *,
    resolution_cm1: float | None = None,
    segment_length: int | None = None,
    window: str = "hann",
    overlap: float = 0.5,
    temperature_k: float | None = None,
    quantum_correction: str = "harmonic",
    laser_wavelength_nm: float | None = None,
    geometries: Sequence[str | tuple[Sequence[float], Sequence[float]]] = (),
    smoothing: tuple[str, float] | None = None,
    remove_mean: bool = True,
    max_blocks: int = DEFAULT_MAX_BLOCKS,
) -> RamanSpectrum:
    """Raman spectra of polarizability series: powder channels and single-crystal geometries.

    Parameters
    ----------
    alpha
        One run ``[S, 3, 3]`` (Å³), a stacked ``[R, S, 3, 3]`` array or a list of R independent
        runs of equal shape. The symmetric part of α is used.
    timestep_fs
        Interval between polarizability frames, fs.
    resolution_cm1
        Requested bin spacing Δν̃ = 1/(c T_seg) in cm⁻¹; the segment is the shortest even number of
        frames that reaches it (the actual spacing, ≤ requested, is ``result.resolution_cm1``).
        A run shorter than one such segment raises InputError.
    segment_length
        Alternatively, the Welch segment length in frames (odd values are rounded up to even).
        Default (neither given): the segment for :data:`DEFAULT_RESOLUTION_CM1` (1 cm⁻¹), or a
        quarter of the run if that is shorter (at least 7 half-overlapping segments averaged).
    window, overlap
        Welch window (:func:`scipy.signal.get_window` name) and overlap fraction in [0, 1).
    temperature_k
        Temperature in K, for the quantum correction and the reduced spectrum. Without it no
        correction can be applied: ``quantum_correction`` is recorded as ``"none"`` and the
        request is noted in ``metadata["quantum_correction_note"]``.
    quantum_correction
        ``"none"``, ``"harmonic"`` (default) or ``"bose"``; applied by
        :meth:`RamanSpectrum.intensity` for the ``"stokes"`` variant.
    laser_wavelength_nm
        Laser vacuum wavelength in nm for the ((ν̃_L − ν̃)/ν̃_L)⁴ factor, or None.
    geometries
        Single-crystal geometries: Porto strings (``"z(xx)z̄"``, :func:`porto_vectors`) or pairs
        ``(e_i, e_s)`` of 3-vectors (normalised); each adds the spectrum of e_s·δα·e_i.
    smoothing
        ``("lorentzian" | "gaussian", fwhm_cm1)``: convolution of every density (and, before
        averaging, of every segment or run, so errors stay consistent) with a unit-area kernel,
        integral preserved (:func:`ionraman.spectra.psd.smooth_density`).
    remove_mean
        Remove the mean of each whole run (default). With False the squared mean appears at
        ν̃ = 0 (it is not a fluctuation); only for series already centred.
    max_blocks
        Each run's Welch segments are also grouped, in time order, into min(n_segments,
        ``max_blocks``) contiguous blocks whose mean spectra are kept as
        ``result.block_density`` ``[B, F]`` (all runs' blocks together; none when B < 2 in
        total): the input of time-block bootstrap errors of derived quantities, which, unlike the
        per-bin errors, keep the correlations between bins.

    Returns
    -------
    RamanSpectrum
        Densities ``[F]`` in Å⁶/cm⁻¹, ``F = n_seg/2 + 1``. Standard errors: with ≥ 2 runs, the
        standard deviation of the run spectra over √R; with one run, the scatter of the Welch
        segment periodograms over √(n_segments). The latter is approximate: overlapping segments
        are not independent. For a Hann window at 50 % overlap and a spectrum smooth on the scale
        of the resolution, neighbouring periodograms correlate by ρ² = (1/6)² ≈ 0.028, so the
        error is underestimated by only ≈ 3 % (√(1 + 2ρ²)); larger overlaps or narrower lines
        make it worse. NaN for a single segment.

    Raises
    ------
    InputError
        NaN/inf, wrong or mismatched shapes, non-positive time step / resolution / temperature,
        a run shorter than one segment, unknown window, geometry, correction or smoothing.
    """
    _check_positive(timestep_fs, "timestep_fs", "fs")
    runs = _as_runs(alpha)
    n_frames = runs[0].shape[0]
    if n_frames < 2:
        raise InputError(f"a spectrum needs at least 2 frames, got {n_frames}")
    if not (np.isfinite(overlap) and 0.0 <= overlap < 1.0):
        raise InputError(f"overlap must be a fraction in [0, 1), got {overlap}")
    if int(max_blocks) != max_blocks or max_blocks < 1:
        raise InputError(f"max_blocks must be a positive integer, got {max_blocks}")
    seg = _segment_length(n_frames, float(timestep_fs), resolution_cm1, segment_length)
    if quantum_correction not in QUANTUM_CORRECTIONS:
        known = ", ".join(QUANTUM_CORRECTIONS)
        raise InputError(
            f"unknown quantum correction {quantum_correction!r}; expected one of: {known}"
        )
    check_temperature(temperature_k, "temperature_k")
    laser_cm1 = (
        None
        if laser_wavelength_nm is None
        else laser_wavelength_nm_to_cm1(float(laser_wavelength_nm))
    )
    smooth = _validate_smoothing(smoothing)
    geoms = [resolve_geometry(g) for g in geometries]
    names = [g[0] for g in geoms]
    clash = sorted({n for n in names if names.count(n) > 1 or n in POWDER_CHANNEL_NAMES})
    if clash:
        raise InputError(f"duplicate or reserved scattering geometry names: {', '.join(clash)}")

    effective_qc = quantum_correction
    notes: dict[str, Any] = {}
    if temperature_k is None and quantum_correction != "none":
        effective_qc = "none"
        notes["quantum_correction_note"] = (
            f"{quantum_correction!r} requested but no temperature given: not applied"
        )

    res = resolution_of(seg, float(timestep_fs))
    nu: np.ndarray | None = None
    run_means: dict[str, list[np.ndarray]] = {}
    run_blocks: dict[str, list[np.ndarray]] = {}
    seg_stderr: dict[str, np.ndarray] = {}
    n_segments: list[int] = []
    for alpha_run in runs:
        nu, per_seg = _run_segments(
            alpha_run, float(timestep_fs), seg, window, float(overlap), geoms, remove_mean
        )
        for name, dens in per_seg.items():
            if smooth is not None:
                dens = smooth_density(dens, res, smooth[0], smooth[1])
            run_means.setdefault(name, []).append(dens.mean(axis=0))
            groups = np.array_split(np.arange(dens.shape[0]), min(dens.shape[0], max_blocks))
            run_blocks.setdefault(name, []).extend(dens[g].mean(axis=0) for g in groups)
            if len(runs) == 1:
                k = dens.shape[0]
                seg_stderr[name] = (
                    dens.std(axis=0, ddof=1) / math.sqrt(k)
                    if k > 1
                    else np.full(dens.shape[1], np.nan)
                )
        n_segments.append(next(iter(per_seg.values())).shape[0])
    assert nu is not None

    density: dict[str, np.ndarray] = {}
    stderr: dict[str, np.ndarray] = {}
    for name, means in run_means.items():
        stack = np.asarray(means)
        density[name] = stack.mean(axis=0)
        if len(runs) > 1:
            stderr[name] = stack.std(axis=0, ddof=1) / math.sqrt(len(runs))
        else:
            stderr[name] = seg_stderr[name]

    n_blocks = len(next(iter(run_blocks.values())))
    blocks = {n: np.asarray(b) for n, b in run_blocks.items()} if n_blocks >= 2 else {}
    params = {
        "timestep_fs": float(timestep_fs),
        "resolution_cm1_requested": resolution_cm1,
        "segment_length_requested": segment_length,
        "window": window,
        "overlap": float(overlap),
        "temperature_k": temperature_k,
        "quantum_correction": quantum_correction,
        "laser_wavelength_nm": laser_wavelength_nm,
        "geometries": names,
        "smoothing": list(smooth) if smooth else None,
        "remove_mean": remove_mean,
        "max_blocks": int(max_blocks),
    }
    metadata = conventions_metadata(
        quantum_correction=effective_qc,
        temperature_k=temperature_k,
        laser_cm1=laser_cm1,
        window=window,
        overlap=float(overlap),
        segment_length=seg,
        segment_duration_ps=seg * float(timestep_fs) / 1000.0,
        resolution_cm1=res,
        nyquist_cm1=timestep_fs_to_nyquist_cm1(float(timestep_fs)),
        timestep_fs=float(timestep_fs),
        n_runs=len(runs),
        n_frames_per_run=n_frames,
        n_segments=int(sum(n_segments)),
        n_segments_per_run=n_segments,
        integral_rule="trapezoid on the uniform grid (bins 0 and Nyquist hold the one-sided "
        "density value)",
        stderr_method="across runs"
        if len(runs) > 1
        else "Welch segment scatter / sqrt(n_segments)"
        " (approximate: overlapping segments are correlated)",
        smoothing=list(smooth) if smooth else None,
        remove_mean=remove_mean,
        n_blocks=n_blocks if blocks else 0,
        segments_per_block=min(n_segments) // min(n_segments[0], max_blocks),
        geometries={n: {"e_i": e_i.tolist(), "e_s": e_s.tolist()} for n, e_i, e_s in geoms},
        **notes,
        provenance=provenance(params),
    )
    return RamanSpectrum(
        wavenumber_cm1=nu,
        density=density,
        density_stderr=stderr,
        temperature_k=None if temperature_k is None else float(temperature_k),
        quantum_correction=effective_qc,
        laser_cm1=laser_cm1,
        resolution_cm1=res,
        metadata=metadata,
        block_density=blocks,
    )
