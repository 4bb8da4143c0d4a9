"""Diffusion coefficients with uncertainty: kinisi's Bayesian regression on our unwrapped MSD.

The estimate is kinisi's (McCluskey et al., J. Chem. Theory Comput. 2024,
doi:10.1021/acs.jctc.4c01249): the MSD is modelled as a multivariate normal whose covariance
between lags follows from the variance of the squared displacements and the number of independent
time windows, and a straight line MSD = 6 D t + c is sampled with emcee. D is reported as the
posterior mean, standard deviation and 95 % credible interval, in cm² s⁻¹.

Why we build kinisi's MSD data group ourselves: kinisi 2.1 constructs it only from its own parsers
(pymatgen/ASE/MDAnalysis frames), which re-unwrap fractional coordinates and hold every frame in
memory, and its ``calculate_msd`` counts independent windows from the *longest requested* lag
rather than from the run length. We feed the same quantities (mean MSD, variance of the mean, number
of independent samples N_particles · T_run / Δt, per lag) computed from our drift-corrected, TOR-
unwrapped coordinates, and then call kinisi's ``DiffusionAnalyzer.diffusion`` /
``JumpDiffusionAnalyzer.jump_diffusion`` unchanged.

Fit window (:func:`choose_fit_window`, recorded with every result)
-----------------------------------------------------------------
* end = ``end_fraction`` × run length (default 0.5: longer lags average over too few windows).
* start, rule ``"slope"`` (default): on ``n_grid`` log-spaced lags up to the end, the local log-log
  slope α = Δln MSD / Δln t (over pairs two grid points apart) is computed; start is the earliest
  grid lag from which every later α lies within 1 ± ``slope_tolerance`` (0.2), i.e. after the
  ballistic (α ≈ 2) and caging (α < 1) regimes, once the motion is diffusive up to the end. If no
  such lag exists, or it is later than half the window end, start falls back to
  ``start_fraction`` × run length (0.1) and ``slope_rule_met`` is False.
* rule ``"fraction"``: start = ``start_fraction`` × run length, end as above.
* explicit ``start_ps`` / ``end_ps`` override both.

The log-log rule is strict: a diffusive MSD with a vibrational offset, 6 D t + c with c ≈ 1–2 Å²
(the cage), has a log-log slope 6Dt / (6Dt + c) well below 1 for tens of ps when D is 10⁻⁶–10⁻⁵
cm² s⁻¹. :func:`msd_linearity` is the statistical check for that case: the window is split at its
midpoint and the least-squares slopes s₁, s₂ of the MSD on the two halves are compared, with σ
from a bootstrap over the ions; the MSD is diffusive (linear, with a resolved slope) when
|s₂ − s₁| ≤ ``z_max`` · √(σ₁² + σ₂²) (default 2) and s > ``z_max`` · σ in each half. A caged MSD
(plateau) fails it, and so does a sub-diffusive one (slope falling with lag) once the statistics
resolve the fall. kinisi's σ is not used for this: its covariance model assumes diffusive
statistics. Measured on the synthetic caged walk of tests/transport/test_diffusion.py (200 ions,
40 ps, cage 1.5 Å², window 4–20 ps, 4 seeds): with D = 1e-6 cm² s⁻¹ kinisi returned 1.02, 1.26,
0.40, 1.17 × 10⁻⁶ with σ ≈ 1.1 × 10⁻⁷ (scatter far beyond σ); on the pure cage (D = 0) it returned
2–7 × 10⁻⁷ at 1.7–4.5 σ, while the two-halves slopes were 0 within 4 × 10⁻⁴ Å² ps⁻¹.

Large inputs: kinisi's variance and covariance cost grows with frames × lags², so frames are
subsampled with stride ⌈S / ``max_frames``⌉ (default 20 000 frames kept) and ``n_lags`` (default
100) evenly spaced lags of the window are used. Both are recorded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from ionraman.conventions import A2_PS_TO_CM2_S
from ionraman.errors import InputError

FIT_RULES = ("slope", "fraction")


@dataclass
class FitWindow:
    """Lag-time window of the linear MSD fit (ps) and how it was chosen."""

    start_ps: float
    end_ps: float
    rule: str
    slope_rule_met: bool | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def local_loglog_slope(
    time_ps: np.ndarray, msd_A2: np.ndarray, end_ps: float, n_grid: int = 40
) -> tuple[np.ndarray, np.ndarray]:
    """Local slope d ln MSD / d ln t on log-spaced lags.

    Parameters
    ----------
    time_ps, msd_A2 : ndarray, shape [S]
        Lag times (ps, starting at 0) and MSD (Å²).
    end_ps : float
        Largest lag considered.
    n_grid : int
        Log-spaced grid points between the first lag and ``end_ps``.

    Returns
    -------
    t_ps : ndarray, shape [G]
        Lag time at the start of each slope interval (ps).
    alpha : ndarray, shape [G]
        Slope between grid points k and k + 2.
    """
    dt = time_ps[1] - time_ps[0]
    last = int(min(np.floor(end_ps / dt + 1e-9), time_ps.size - 1))
    if last < 3:
        return np.zeros(0), np.zeros(0)
    idx = np.unique(np.geomspace(1, last, n_grid).round().astype(int))
    m = np.maximum(msd_A2[idx], 1e-300)
    t = time_ps[idx]
    alpha = np.log(m[2:] / m[:-2]) / np.log(t[2:] / t[:-2])
    return t[:-2], alpha


def choose_fit_window(
    time_ps: np.ndarray,
    msd_A2: np.ndarray,
    *,
    rule: Literal["slope", "fraction"] = "slope",
    start_ps: float | None = None,
    end_ps: float | None = None,
    end_fraction: float = 0.5,
    start_fraction: float = 0.1,
    slope_tolerance: float = 0.2,
    n_grid: int = 40,
) -> FitWindow:
    """Choose the MSD fit window by the documented rule (see module docstring).

    Parameters
    ----------
    time_ps, msd_A2 : ndarray, shape [S]
        Lag times (ps, from 0) and tracer MSD (Å²).
    rule : {"slope", "fraction"}
        How the start is chosen.
    start_ps, end_ps : float, optional
        Explicit window limits (ps), overriding the rule.
    end_fraction, start_fraction : float
        Fractions of the run length (the largest lag).
    slope_tolerance : float
        Allowed |α − 1| in the diffusive regime.
    n_grid : int
        Log-spaced lags on which α is evaluated.

    Returns
    -------
    FitWindow
    """
    if rule not in FIT_RULES:
        raise InputError(f"fit rule must be one of {FIT_RULES}, got {rule!r}")
    if not 0 < end_fraction <= 1 or not 0 <= start_fraction < end_fraction:
        raise InputError(
            "fit fractions must satisfy 0 <= start_fraction < end_fraction <= 1, got "
            f"{start_fraction}, {end_fraction}"
        )
    time_ps = np.asarray(time_ps, dtype=float)
    msd_A2 = np.asarray(msd_A2, dtype=float)
    run_ps = float(time_ps[-1])
    params: dict[str, Any] = {
        "end_fraction": end_fraction,
        "start_fraction": start_fraction,
        "slope_tolerance": slope_tolerance,
        "n_grid": n_grid,
        "run_length_ps": run_ps,
    }
    end = end_fraction * run_ps if end_ps is None else float(end_ps)
    met = None
    if start_ps is not None:
        start = float(start_ps)
        how = "explicit start"
    elif rule == "fraction":
        start = start_fraction * run_ps
        how = f"start = {start_fraction} x run length"
    else:
        t, alpha = local_loglog_slope(time_ps, msd_A2, end, n_grid)
        ok = np.abs(alpha - 1.0) <= slope_tolerance
        # earliest grid lag from which all later slopes are diffusive
        tail_ok = np.flip(np.cumprod(np.flip(ok))).astype(bool) if ok.size else ok
        met = bool(tail_ok.any()) and float(t[np.argmax(tail_ok)]) <= 0.5 * end
        if met:
            start = float(t[np.argmax(tail_ok)])
            how = (
                f"slope rule: start = first lag from which |dlnMSD/dlnt - 1| <= {slope_tolerance} "
                "up to the end"
            )
        else:
            start = start_fraction * run_ps
            how = f"slope rule not met: start = {start_fraction} x run length"
        params["slope_t_ps"] = t.tolist()
        params["slope_alpha"] = alpha.tolist()
    how += "; end = explicit" if end_ps is not None else f"; end = {end_fraction} x run length"
    if not 0 <= start < end <= run_ps + 1e-9:
        raise InputError(
            f"fit window must satisfy 0 <= start < end <= run length {run_ps:.4g} ps, "
            f"got {start:.4g}-{end:.4g} ps"
        )
    return FitWindow(start_ps=start, end_ps=end, rule=how, slope_rule_met=met, parameters=params)


@dataclass
class DiffusionEstimate:
    """A diffusion coefficient from kinisi's Bayesian regression.

    Attributes
    ----------
    D_cm2_s, D_std_cm2_s : float
        Posterior mean and standard deviation, cm² s⁻¹.
    D_median_cm2_s : float
        Posterior median, cm² s⁻¹.
    D_ci95_cm2_s : tuple of float
        2.5 % and 97.5 % posterior quantiles, cm² s⁻¹.
    kind : {"tracer", "collective"}
        Tracer D* (kinisi DiffusionAnalyzer) or charge/jump D_σ (kinisi JumpDiffusionAnalyzer).
    window : FitWindow
        Fit window actually used (start/end snapped to the lags).
    intercept_A2 : float or None
        Posterior mean intercept, Å².
    n_particles, n_lags, stride, n_frames_used : int
        Particles, lags and frame subsampling fed to kinisi.
    samples_cm2_s : ndarray, shape [n]
        Posterior samples of D (not written to JSON).
    """

    D_cm2_s: float
    D_std_cm2_s: float
    D_median_cm2_s: float
    D_ci95_cm2_s: tuple[float, float]
    kind: str
    window: FitWindow
    intercept_A2: float | None
    n_particles: int
    n_lags: int
    stride: int
    n_frames_used: int
    method: str = "kinisi Bayesian regression (correlated MSD covariance)"
    samples_cm2_s: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def slope_A2_ps(self) -> float:
        """6 D in Å² ps⁻¹ (the MSD slope)."""
        return 6.0 * self.D_cm2_s / A2_PS_TO_CM2_S

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("samples_cm2_s")
        d["window"] = self.window.to_dict()
        return d


def _positions_array(positions: np.ndarray) -> np.ndarray:
    """Positions as a float array [S, N, 3], or an InputError naming the shape."""
    positions = np.asarray(positions, dtype=float)
    if positions.ndim != 3 or positions.shape[2] != 3:
        raise InputError(f"positions must have shape [S, N, 3], got {positions.shape}")
    return positions


@dataclass
class LinearityTest:
    """Is the MSD a straight line with a resolved slope in the fit window? Its two halves compared.

    Attributes
    ----------
    first_A2_ps, second_A2_ps, whole_A2_ps : tuple of float
        (slope, σ) of the MSD (Å² ps⁻¹, = 6 D) on the first and second half and on the whole
        window: least-squares slope of the ion-averaged MSD, σ from a bootstrap over the ions.
        The whole-window slope is an estimate of 6 D that does not rest on kinisi's covariance
        model (a cross-check of D).
    split_ps : float
        Lag at which the window is split, ps.
    z : float
        (s₂ − s₁) / √(σ₁² + σ₂²); negative when the MSD bends down (caging).
    z_max : float
        Largest |z| accepted; also the smallest s/σ accepted in each half.
    linear : bool
        |z| ≤ z_max and s > z_max · σ in both halves (a plateau is not accepted).
    n_boot : int
        Bootstrap resamples.
    """

    first_A2_ps: tuple[float, float]
    second_A2_ps: tuple[float, float]
    whole_A2_ps: tuple[float, float]
    split_ps: float
    z: float
    z_max: float
    linear: bool
    n_boot: int

    @property
    def D_cm2_s(self) -> tuple[float, float]:
        """(D, σ_D) in cm² s⁻¹ from the whole-window least-squares slope (slope / 6)."""
        slope, err = self.whole_A2_ps
        return slope * A2_PS_TO_CM2_S / 6.0, err * A2_PS_TO_CM2_S / 6.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "D_cm2_s": list(self.D_cm2_s)}


def msd_linearity(
    positions: np.ndarray,
    dt_ps: float,
    window: FitWindow,
    *,
    z_max: float = 2.0,
    n_boot: int = 400,
    seed: int | None = 0,
) -> LinearityTest:
    """Straight-line test of the MSD in ``window`` (see the module docstring).

    Each ion's time-origin-averaged MSD is computed (FFT); the slope of the ion-averaged MSD on
    each half of the window is a least-squares fit with intercept, and its uncertainty comes from
    resampling the ions with replacement. This does not assume diffusive statistics (kinisi's
    covariance model does; see the module docstring). Correlated ions make σ an underestimate.

    Parameters
    ----------
    positions : ndarray, shape [S, N, 3]
        Unwrapped, drift-corrected positions of the mobile ions, Å.
    dt_ps : float
        Time between the frames given, ps.
    window : FitWindow
        Window of the full fit; each half must hold at least 3 lags.
    z_max : float
        Largest accepted |s₂ − s₁| in units of its σ, and smallest accepted s/σ in each half.
    n_boot : int
        Bootstrap resamples over the ions.
    seed : int, optional
        Seed of the resampling.

    Returns
    -------
    LinearityTest
    """
    from ionraman.transport.msd import msd_fft

    if not z_max > 0 or n_boot < 10:
        raise InputError(f"need z_max > 0 and n_boot >= 10, got {z_max}, {n_boot}")
    positions = _positions_array(positions)
    n_frames, n_ions = positions.shape[:2]
    mid = 0.5 * (window.start_ps + window.end_ps)
    lag = np.arange(n_frames) * dt_ps
    # first half, second half, whole window
    ranges = [(lag >= window.start_ps) & (lag <= mid), (lag >= mid) & (lag <= window.end_ps),
              (lag >= window.start_ps) & (lag <= window.end_ps)]
    if min(int(h.sum()) for h in ranges) < 3:
        raise InputError(
            f"fit window {window.start_ps:.4g}-{window.end_ps:.4g} ps holds fewer than 3 lags of "
            f"{dt_ps:.4g} ps per half; use a longer trajectory or a wider window"
        )
    per_ion = msd_fft(positions)  # [S, N]
    rng = np.random.default_rng(seed)
    weights = np.stack([np.ones(n_ions)] + [
        np.bincount(rng.integers(0, n_ions, n_ions), minlength=n_ions) for _ in range(n_boot)
    ]) / n_ions  # [1 + B, N]: the data, then the resamples
    out = []
    for h in ranges:
        curves = weights @ per_ion[h].T  # [1 + B, L]
        t = lag[h] - lag[h].mean()
        slopes = (curves - curves.mean(axis=1, keepdims=True)) @ t / (t @ t)
        out.append((float(slopes[0]), float(slopes[1:].std(ddof=1))))
    (s1, e1), (s2, e2), whole = out
    sigma = float(np.hypot(e1, e2))
    z = float((s2 - s1) / sigma) if sigma > 0 else float("inf")
    return LinearityTest(
        first_A2_ps=out[0],
        second_A2_ps=out[1],
        whole_A2_ps=whole,
        split_ps=float(mid),
        z=z,
        z_max=float(z_max),
        linear=bool(abs(z) <= z_max and s1 > z_max * e1 and s2 > z_max * e2),
        n_boot=int(n_boot),
    )


def diffusive_in_window(window: FitWindow, linearity: LinearityTest | None) -> bool | None:
    """True when the log-log rule is met or the MSD passes :func:`msd_linearity`.

    False when the rule failed and the linearity test failed or was not run; None when neither
    was applied (explicit window, no test).
    """
    if window.slope_rule_met:
        return True
    if linearity is not None:
        return linearity.linear
    return window.slope_rule_met


def kinisi_msd_datagroup(
    positions: np.ndarray,
    dt_ps: float,
    lags: np.ndarray,
    *,
    n_particles_scale: float | None = None,
):
    """kinisi MSD data group for the given lags from unwrapped coordinates.

    Mirrors :func:`kinisi.displacement.calculate_msd` (mean over all windows and particles, variance
    of the mean = var(|Δr|²) / n) except that the number of independent samples is
    n = N_particles · (S − 1) / lag, i.e. counted from the run length, not from the longest lag.

    Parameters
    ----------
    positions : ndarray, shape [S, N, 3]
        Unwrapped positions, Å.
    dt_ps : float
        Time between the frames given, ps.
    lags : ndarray, shape [L]
        Lags in frames (≥ 1, increasing).
    n_particles_scale : float, optional
        Particles counted in n (default N).

    Returns
    -------
    scipp.DataGroup
        ``{"da": DataArray[time interval] (Å², with variances), "dimensionality": 3}``.
    """
    import scipp as sc

    n_frames, n_part = positions.shape[:2]
    n_count = float(n_part if n_particles_scale is None else n_particles_scale)
    mean = np.empty(lags.size)
    var = np.empty(lags.size)
    n_samples = np.empty(lags.size)
    for k, lag in enumerate(lags):
        d = positions[lag:] - positions[:-lag]
        s = np.einsum("tnd,tnd->tn", d, d)
        n = n_count * (n_frames - 1) / lag
        mean[k] = s.mean()
        var[k] = s.var(ddof=1) / n if s.size > 1 else np.nan
        n_samples[k] = n
    da = sc.DataArray(
        data=sc.Variable(dims=["time interval"], values=mean, variances=var, unit="angstrom**2"),
        coords={
            "time interval": sc.array(dims=["time interval"], values=lags * dt_ps, unit="ps"),
            "n_samples": sc.array(dims=["time interval"], values=n_samples),
        },
    )
    return sc.DataGroup({"da": da, "dimensionality": sc.scalar(3, unit="dimensionless")})


def estimate_diffusion(
    positions: np.ndarray,
    dt_ps: float,
    window: FitWindow,
    *,
    kind: Literal["tracer", "collective"] = "tracer",
    n_lags: int = 100,
    max_frames: int = 20_000,
    seed: int | None = 0,
    n_samples: int = 1000,
    n_walkers: int = 32,
    n_burn: int = 500,
    n_thin: int = 10,
    fit_intercept: bool = True,
    progress: bool = False,
) -> DiffusionEstimate:
    """D* (tracer) or D_σ (collective) with uncertainty from kinisi's Bayesian regression.

    Parameters
    ----------
    positions : ndarray, shape [S, N, 3]
        Unwrapped, drift-corrected positions of the N mobile ions, Å (every frame, or already
        subsampled: ``dt_ps`` is the spacing of the frames given).
    dt_ps : float
        Time between the given frames, ps.
    window : FitWindow
        Fit window (:func:`choose_fit_window`).
    kind : {"tracer", "collective"}
        ``"tracer"``: self-diffusion from the per-ion MSD (kinisi ``DiffusionAnalyzer``).
        ``"collective"``: D_σ from ⟨|Σ_i Δr_i|²⟩ / (6 N t) (kinisi ``JumpDiffusionAnalyzer``; the
        summed displacement, scaled by 1/√N, is one particle).
    n_lags, max_frames
        Lags fed to kinisi and frame subsampling limit (see module docstring).
    seed : int, optional
        Seed of the MCMC (kinisi seeds NumPy's global generator; its state is restored after).
    n_samples, n_walkers, n_burn, n_thin, fit_intercept, progress
        Passed to kinisi.

    Returns
    -------
    DiffusionEstimate
    """
    import scipp as sc
    from kinisi.analyze import DiffusionAnalyzer, JumpDiffusionAnalyzer

    positions = _positions_array(positions)
    n_frames, n_part = positions.shape[:2]
    stride = max(1, -(-n_frames // max_frames))
    sub = positions[::stride]
    dt_sub = dt_ps * stride
    if kind == "collective":
        sub = sub.sum(axis=1, keepdims=True) / np.sqrt(n_part)
    elif kind != "tracer":
        raise InputError(f"kind must be 'tracer' or 'collective', got {kind!r}")
    first = max(1, int(np.ceil(window.start_ps / dt_sub - 1e-9)))
    last = min(int(np.floor(window.end_ps / dt_sub + 1e-9)), sub.shape[0] - 2)
    if last - first < 2:
        raise InputError(
            f"fit window {window.start_ps:.4g}-{window.end_ps:.4g} ps holds fewer than 3 lags of "
            f"{dt_sub:.4g} ps; use a longer trajectory or a wider window"
        )
    lags = np.unique(np.linspace(first, last, min(n_lags, last - first + 1)).round().astype(int))
    dg = kinisi_msd_datagroup(sub, dt_sub, lags)
    start = sc.scalar(float(lags[0] * dt_sub), unit="ps")
    kwargs = {
        "fit_intercept": fit_intercept,
        "n_samples": n_samples,
        "n_walkers": n_walkers,
        "n_burn": n_burn,
        "n_thin": n_thin,
        "progress": progress,
        "random_state": None if seed is None else np.random.RandomState(seed),
    }
    rng_state = np.random.get_state()  # noqa: NPY002 - kinisi reseeds the legacy global RNG
    try:
        if kind == "tracer":
            analyzer = DiffusionAnalyzer(None)
            analyzer._dg = dg  # see module docstring: our own data group, kinisi's regression
            analyzer.diffusion(start, **kwargs)
            d_samples = analyzer.D
        else:
            analyzer = JumpDiffusionAnalyzer(None)
            analyzer._dg = dg
            analyzer.jump_diffusion(start, **kwargs)
            d_samples = analyzer.D_J
    finally:
        np.random.set_state(rng_state)  # noqa: NPY002
    values = np.asarray(sc.to_unit(d_samples, "cm**2/s").values, dtype=float)
    intercept = analyzer.intercept
    used = FitWindow(
        start_ps=float(lags[0] * dt_sub),
        end_ps=float(lags[-1] * dt_sub),
        rule=window.rule,
        slope_rule_met=window.slope_rule_met,
        parameters={
            **{k: v for k, v in window.parameters.items() if not k.startswith("slope_")},
            "requested_start_ps": window.start_ps,
            "requested_end_ps": window.end_ps,
        },
    )
    return DiffusionEstimate(
        D_cm2_s=float(values.mean()),
        D_std_cm2_s=float(values.std(ddof=1)),
        D_median_cm2_s=float(np.median(values)),
        D_ci95_cm2_s=(float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))),
        kind=kind,
        window=used,
        intercept_A2=None if intercept is None else float(np.mean(intercept.values)),
        n_particles=int(n_part) if kind == "tracer" else 1,
        n_lags=int(lags.size),
        stride=stride,
        n_frames_used=int(sub.shape[0]),
        samples_cm2_s=values,
    )
