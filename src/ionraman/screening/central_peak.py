"""Central-peak fit of a Raman spectrum: a Debye relaxator plus damped harmonic oscillators on the
reduced spectrum χ''(ν̃).

Liquid-like ion motion gives quasi-elastic intensity centred at ν̃ = 0, a broad relaxational
(Debye) band in χ''; hopping between fixed sites does not. :func:`fit_central_peak` separates that
band (amplitude A, relaxation time τ) from the lattice modes; the integrated low-frequency metrics
are in :mod:`ionraman.screening.lowfreq`.

Units: wavenumbers in cm⁻¹, τ in ps, amplitudes in the units of χ''.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import curve_fit
from scipy.signal import find_peaks, peak_widths

from ionraman.errors import InputError
from ionraman.screening.lowfreq import (
    _C_CM_PS,
    DEFAULT_CHANNEL,
    _check_window,
    _grid,
    _jsonable,
    _SpectrumLike,
)

__all__ = [
    "CentralPeakFit",
    "Oscillator",
    "debye_dho_model",
    "debye_wavenumber_cm1",
    "fit_central_peak",
    "fit_central_peak_from_spectrum",
]


@dataclass(frozen=True)
class Oscillator:
    """One damped harmonic oscillator of a :class:`CentralPeakFit`.

    ``amplitude`` (units of χ'') is A_j; the peak height of the term is ``A_j ω_j / Γ_j``.
    ``omega_cm1`` is the undamped frequency ω_j and ``gamma_cm1`` the damping Γ_j (≈ FWHM for
    Γ_j ≪ ω_j), both in cm⁻¹. ``*_err`` are one-sigma errors from the fit covariance.
    """

    amplitude: float
    amplitude_err: float
    omega_cm1: float
    omega_err_cm1: float
    gamma_cm1: float
    gamma_err_cm1: float

    def as_tuple(self) -> tuple[float, float, float]:
        """(A_j, ω_j [cm⁻¹], Γ_j [cm⁻¹])."""
        return (self.amplitude, self.omega_cm1, self.gamma_cm1)


@dataclass(frozen=True)
class CentralPeakFit:
    """Result of :func:`fit_central_peak` (Debye relaxator + damped oscillators on χ'').

    Attributes
    ----------
    A, A_err
        Debye amplitude (units of χ''; the Debye term peaks at A/2) and its error.
    tau_ps, tau_err_ps
        Relaxation time τ (ps) and its error.
    oscillators
        Fitted oscillators sorted by ω_j.
    chi2_red
        Reduced χ² (weighted by ``stderr`` when given; otherwise the mean squared residual in
        units of χ''², i.e. not a goodness-of-fit statistic).
    success
        False when the fit failed or is not trustworthy; ``message`` says why.
    message
        Reason for failure, or ``"ok"``.
    window_cm1, n_points, weighted, channel
        Fit window (cm⁻¹), number of bins fitted, whether stderr weights were used, channel label.
    """

    A: float
    A_err: float
    tau_ps: float
    tau_err_ps: float
    oscillators: list[Oscillator] = field(default_factory=list)
    chi2_red: float = math.nan
    success: bool = False
    message: str = ""
    window_cm1: tuple[float, float] = (0.0, 0.0)
    n_points: int = 0
    weighted: bool = False
    channel: str = DEFAULT_CHANNEL
    variant: str = "reduced"

    @property
    def relaxation_wavenumber_cm1(self) -> float:
        """Wavenumber 1/(2πcτ) (cm⁻¹) where the Debye term of χ'' peaks."""
        return debye_wavenumber_cm1(self.tau_ps) if self.tau_ps > 0 else math.nan

    def model(self, wavenumber_cm1: np.ndarray) -> np.ndarray:
        """Evaluate the fitted χ'' model on ``wavenumber_cm1`` [F] (cm⁻¹); returns [F]."""
        return debye_dho_model(
            wavenumber_cm1, self.A, self.tau_ps, [o.as_tuple() for o in self.oscillators]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, including ``relaxation_wavenumber_cm1`` and the model definition."""
        d = asdict(self)
        d["relaxation_wavenumber_cm1"] = self.relaxation_wavenumber_cm1
        d["model"] = (
            "chi''(nu) = A w tau/(1 + (w tau)^2) + sum_j A_j nu G_j nu_j^2/((nu_j^2 - nu^2)^2 "
            "+ nu^2 G_j^2); w = 2 pi c nu in rad/ps, tau in ps; nu, nu_j, G_j in cm^-1"
        )
        return _jsonable(d)


# ------------------------------------------------------------------------------------------------
# Debye + damped-harmonic-oscillator fit of the reduced spectrum
# ------------------------------------------------------------------------------------------------
def debye_wavenumber_cm1(tau_ps: float) -> float:
    """Wavenumber (cm⁻¹) at which a Debye relaxator of time ``tau_ps`` (ps) peaks in χ''."""
    return 1.0 / (2.0 * math.pi * _C_CM_PS * tau_ps)


def debye_dho_model(
    wavenumber_cm1: np.ndarray,
    amplitude: float,
    tau_ps: float,
    oscillators: Sequence[tuple[float, float, float]] = (),
) -> np.ndarray:
    """Reduced-spectrum model: one Debye relaxator plus damped harmonic oscillators.

    ``χ''(ν̃) = A ωτ / (1 + ω²τ²) + Σ_j A_j ν̃ Γ_j ν̃_j² / ((ν̃_j² − ν̃²)² + ν̃² Γ_j²)``

    In the Debye term ω = 2πcν̃ is the angular frequency in rad ps⁻¹ and τ is in ps. The
    oscillator terms are written in wavenumbers: ν̃, ω_j ≡ ν̃_j and Γ_j in cm⁻¹ (each term is
    invariant under a common rescaling of its frequencies, so A_j is the same as in rad s⁻¹).
    For a classical Ornstein–Uhlenbeck signal of variance σ² and correlation time τ,
    S(ν̃) = 4σ²cτ / (1 + ω²τ²) and χ'' = βħωS is exactly this Debye term with
    A = 4σ² c ħ / (k_B T) (c in cm s⁻¹, ħ/k_BT in s).

    Parameters
    ----------
    wavenumber_cm1
        Wavenumbers [F] in cm⁻¹.
    amplitude
        Debye amplitude A (units of χ''; the Debye term peaks at A/2 at ν̃ = 1/(2πcτ)).
    tau_ps
        Relaxation time τ in ps.
    oscillators
        Sequence of (A_j, ω_j [cm⁻¹], Γ_j [cm⁻¹]).

    Returns
    -------
    numpy.ndarray
        χ''(ν̃), shape [F].
    """
    nu = np.asarray(wavenumber_cm1, dtype=float)
    x = 2.0 * math.pi * _C_CM_PS * nu * tau_ps
    chi = amplitude * x / (1.0 + x**2)
    for a_j, w_j, g_j in oscillators:
        chi = chi + a_j * nu * g_j * w_j**2 / ((w_j**2 - nu**2) ** 2 + nu**2 * g_j**2)
    return chi


def _model_from_params(nu: np.ndarray, *p: float) -> np.ndarray:
    # p = [A, log10 tau_ps, A_1, w_1, G_1, ...]; log10 tau keeps the problem well conditioned
    # when τ spans decades.
    osc = [(p[i], p[i + 1], p[i + 2]) for i in range(2, len(p), 3)]
    return debye_dho_model(nu, p[0], 10.0 ** p[1], osc)


def _failed(message: str, **kw: Any) -> CentralPeakFit:
    return CentralPeakFit(
        A=math.nan,
        A_err=math.nan,
        tau_ps=math.nan,
        tau_err_ps=math.nan,
        success=False,
        message=message,
        **kw,
    )


def _noise_level(y: np.ndarray, sigma: np.ndarray | None) -> np.ndarray:
    """Per-bin noise [F]: the stderr when given, else a robust estimate from bin-to-bin jumps."""
    if sigma is not None:
        return sigma
    jumps = np.diff(y)
    mad = float(np.median(np.abs(jumps - np.median(jumps))))
    return np.full_like(y, 1.4826 * mad / math.sqrt(2.0))


def _peak_candidates(
    nu: np.ndarray, y: np.ndarray, noise: np.ndarray, min_rel_prominence: float
) -> tuple[list[tuple[float, float, float]], list[float]]:
    """Narrow peaks (ω, Γ, prominence) as oscillator guesses and broad-peak positions (cm⁻¹).

    A peak counts if its prominence is ≥ ``min_rel_prominence`` × max(y) and ≥ 5 × the noise at
    its bin (noise maxima on a smooth band have prominences of a few noise units).
    """
    step = float(np.median(np.diff(nu)))
    peaks, props = find_peaks(y, prominence=min_rel_prominence * float(np.max(y)))
    keep = props["prominences"] >= 5.0 * noise[peaks]
    peaks = peaks[keep]
    proms = props["prominences"][keep]
    if peaks.size == 0:
        return [], []
    prominence_data = (proms, props["left_bases"][keep], props["right_bases"][keep])
    widths = peak_widths(y, peaks, rel_height=0.5, prominence_data=prominence_data)[0] * step
    narrow: list[tuple[float, float, float]] = []
    broad: list[float] = []
    for k, w, prom in zip(peaks, widths, proms, strict=True):
        # A Debye band in χ'' has FWHM ≈ 2√3 × its peak wavenumber; damped oscillators that can
        # be told apart from it are much narrower. 1.5 separates the two classes.
        if w < 1.5 * nu[k]:
            narrow.append((float(nu[k]), float(max(w, step)), float(prom)))
        else:
            broad.append(float(nu[k]))
    narrow.sort(key=lambda t: -t[2])
    return narrow, broad


@dataclass
class _RawFit:
    popt: np.ndarray
    perr: np.ndarray
    chi2_sum: float
    lower: np.ndarray
    upper: np.ndarray


def _fit_normalised(
    nu: np.ndarray,
    yn: np.ndarray,
    sn: np.ndarray | None,
    guesses: Sequence[tuple[float, float, float]],
    broad: Sequence[float],
    window: tuple[float, float],
) -> _RawFit | None:
    """Multi-start bounded least squares on the normalised χ''; None if every start fails."""
    lo, hi = window
    step = float(np.median(np.diff(nu)))
    n_par = 2 + 3 * len(guesses)
    # τ range: Debye peak wavenumber 1/(2πcτ) between step/10 and 10·hi.
    log_tau_lo = math.log10(1.0 / (2 * math.pi * _C_CM_PS * 10.0 * hi))
    log_tau_hi = math.log10(1.0 / (2 * math.pi * _C_CM_PS * 0.1 * step))
    lower = [0.0, log_tau_lo]
    upper = [1e4, log_tau_hi]  # A ≤ 1e4 × max χ'': reaches τ's bound first
    p_osc: list[float] = []
    for w0, g0, prom in guesses:
        w_lo = max(lo, 0.5 * step)
        lower += [0.0, w_lo, 0.05 * step]
        upper += [np.inf, hi, 2.0 * (hi - lo)]
        w0c = min(max(w0, w_lo * 1.001), hi * 0.999)
        g0c = min(max(g0, 0.1 * step), 1.9 * (hi - lo))
        p_osc += [prom * g0c / w0c, w0c, g0c]
    osc0 = [(p_osc[i], p_osc[i + 1], p_osc[i + 2]) for i in range(0, len(p_osc), 3)]
    residual0 = yn - debye_dho_model(nu, 0.0, 1.0, osc0)
    # Debye seeds: broad peaks found, plus log-spaced relaxation wavenumbers across the window.
    seeds_nu = [*broad, *np.geomspace(max(2.0 * step, 0.5), 0.8 * hi, 5)]
    best: _RawFit | None = None
    for nu_d in seeds_nu:
        log_tau0 = math.log10(1.0 / (2 * math.pi * _C_CM_PS * nu_d))
        log_tau0 = min(max(log_tau0, log_tau_lo + 1e-3), log_tau_hi - 1e-3)
        a0 = min(max(2.0 * float(np.interp(nu_d, nu, residual0)), 1e-3), 99.0)
        try:
            popt, pcov = curve_fit(
                _model_from_params,
                nu,
                yn,
                p0=[a0, log_tau0, *p_osc],
                sigma=sn,
                absolute_sigma=sn is not None,
                bounds=(lower, upper),
                method="trf",
                x_scale="jac",
                max_nfev=2000 * n_par,
            )
        except (RuntimeError, ValueError, np.linalg.LinAlgError):
            continue
        r = yn - _model_from_params(nu, *popt)
        chi2_sum = float(np.sum((r / sn) ** 2) if sn is not None else np.sum(r**2))
        if best is None or chi2_sum < best.chi2_sum:
            with np.errstate(invalid="ignore"):
                perr = np.sqrt(np.diag(pcov))
            if not np.isfinite(pcov).all():
                perr = np.full(n_par, np.nan)
            best = _RawFit(popt, perr, chi2_sum, np.asarray(lower), np.asarray(upper))
    return best


def fit_central_peak(
    wavenumber_cm1: np.ndarray,
    chi2: np.ndarray,
    stderr: np.ndarray | None = None,
    *,
    window_cm1: Sequence[float] = (0.0, 150.0),
    n_oscillators: int | None = None,
    oscillator_guesses_cm1: Sequence[tuple[float, float]] | None = None,
    max_oscillators: int = 4,
    min_rel_prominence: float = 0.05,
    max_chi2_red: float = 5.0,
    channel: str = DEFAULT_CHANNEL,
) -> CentralPeakFit:
    """Fit a reduced spectrum χ''(ν̃) with a Debye relaxator plus damped harmonic oscillators.

    Model: :func:`debye_dho_model` (Debye ω in rad ps⁻¹ with τ in ps; oscillator ω_j, Γ_j in
    cm⁻¹). Fitted with :func:`scipy.optimize.curve_fit` (trust-region reflective, bounds
    A, A_j ≥ 0, ω_j inside the window, 0 < Γ_j ≤ 2 × window width, τ such that 1/(2πcτ) lies
    between a tenth of the bin spacing and ten times the window end), weighted by ``stderr``
    (``absolute_sigma=True``) when given.

    Initial guesses: oscillators from :func:`scipy.signal.find_peaks` (prominence ≥
    ``min_rel_prominence`` × max and ≥ 5 × the local noise, which is the stderr or, without it, a
    robust estimate from bin-to-bin jumps); peaks broader than 1.5 × their position look like the
    Debye band and seed τ instead. The fit starts from several τ (the broad peaks plus five
    log-spaced values) and keeps the lowest χ². In the automatic mode (``n_oscillators=None``)
    oscillators whose amplitude is below 3 standard errors are dropped one at a time and the fit
    is repeated. Parameter errors come from the covariance and assume independent bins;
    neighbouring bins of a Hann-window Welch spectrum are correlated, and on OU test spectra the
    seed-to-seed scatter of τ was ≈ 2× the reported ``tau_err_ps``. The ν̃ = 0 bin carries no
    information (χ''(0) = 0 for data and model) and is excluded, as are bins with stderr = 0.

    Never raises on a poor fit: returns ``success=False`` with a ``message`` (no convergence,
    undefined covariance, a parameter at its bound, a Debye amplitude below 3 standard errors,
    weighted χ²_red > ``max_chi2_red``, fewer peaks found than ``n_oscillators``).

    Parameters
    ----------
    wavenumber_cm1
        Bin wavenumbers [F] in cm⁻¹, strictly increasing.
    chi2
        Reduced spectrum χ''(ν̃) [F] (any unit; A and A_j come out in it).
    stderr
        Standard error of χ'' per bin [F], or None (unweighted fit; parameter errors then scaled
        by the residual scatter).
    window_cm1
        Fit window (lo, hi) in cm⁻¹.
    n_oscillators
        Number of damped oscillators; None chooses automatically (significant narrow peaks, at
        most ``max_oscillators``); 0 fits a pure Debye relaxator.
    oscillator_guesses_cm1
        Explicit initial (ω_j, Γ_j) in cm⁻¹; overrides peak finding and ``n_oscillators``.
    max_oscillators
        Cap for the automatic choice.
    min_rel_prominence
        Peak-finding prominence threshold relative to the largest χ'' in the window.
    max_chi2_red
        Weighted fits with a larger reduced χ² are returned with ``success=False`` (the model
        does not describe the data within its errors; the parameters are still reported).
    channel
        Label recorded in the result.

    Returns
    -------
    CentralPeakFit

    Raises
    ------
    InputError
        Bad shapes, a window outside the spectrum, NaN/inf in the window, negative stderr,
        n_oscillators < 0, or fewer usable bins than fit parameters + 2.
    """
    nu_all = _grid(wavenumber_cm1)
    lo, hi = _check_window(nu_all, window_cm1, "window_cm1")
    y_all = np.asarray(chi2, dtype=float)
    if y_all.shape != nu_all.shape:
        raise InputError(
            f"chi2 must have shape [F] = {nu_all.shape} like wavenumber_cm1, got {y_all.shape}"
        )
    if n_oscillators is not None and n_oscillators < 0:
        raise InputError(f"n_oscillators must be >= 0, got {n_oscillators}")
    sel = (nu_all >= lo) & (nu_all <= hi) & (nu_all > 0)
    s_all = None
    if stderr is not None:
        s_all = np.asarray(stderr, dtype=float)
        if s_all.shape != nu_all.shape:
            raise InputError(f"stderr must have shape {nu_all.shape}, got {s_all.shape}")
        if not np.isfinite(s_all[sel]).all() or (s_all[sel] < 0).any():
            raise InputError("stderr must be finite and >= 0 inside the fit window")
        sel &= s_all > 0
    if not np.isfinite(y_all[sel]).all():
        bad = nu_all[sel][~np.isfinite(y_all[sel])][0]
        raise InputError(f"chi2 is NaN/inf inside the fit window (first at {bad:g} cm^-1)")
    nu, y = nu_all[sel], y_all[sel]
    sigma = s_all[sel] if s_all is not None else None
    common: dict[str, Any] = {
        "window_cm1": (lo, hi),
        "n_points": int(nu.size),
        "weighted": sigma is not None,
        "channel": channel,
    }
    if nu.size < 4:
        raise InputError(
            f"fit window ({lo:g}, {hi:g}) cm^-1 holds {nu.size} usable bins; need at least 4"
        )
    scale = float(np.max(np.abs(y)))
    if not scale > 0:
        return _failed("chi2 is zero everywhere in the fit window", **common)
    yn = y / scale
    sn = sigma / scale if sigma is not None else None

    narrow, broad = _peak_candidates(nu, yn, _noise_level(yn, sn), min_rel_prominence)
    auto = oscillator_guesses_cm1 is None and n_oscillators is None
    if oscillator_guesses_cm1 is not None:
        guesses = [
            (float(w0), float(g0), max(float(np.interp(w0, nu, yn)), 1e-3))
            for w0, g0 in oscillator_guesses_cm1
        ]
    else:
        n_osc = min(len(narrow), max_oscillators) if n_oscillators is None else n_oscillators
        if n_osc > len(narrow):
            return _failed(
                f"asked for {n_osc} oscillators but find_peaks found {len(narrow)} narrow peaks "
                f"in ({lo:g}, {hi:g}) cm^-1; pass oscillator_guesses_cm1",
                **common,
            )
        guesses = narrow[:n_osc]
    guesses = sorted(guesses)
    n_par = 2 + 3 * len(guesses)
    if nu.size < n_par + 2:
        raise InputError(
            f"fit window ({lo:g}, {hi:g}) cm^-1 holds {nu.size} usable bins; {n_par} parameters "
            f"need at least {n_par + 2}"
        )

    raw = _fit_normalised(nu, yn, sn, guesses, broad, (lo, hi))
    while auto and raw is not None and guesses:
        amps, errs = raw.popt[2::3], raw.perr[2::3]
        with np.errstate(invalid="ignore", divide="ignore"):
            significance = np.where(np.isfinite(errs) & (errs > 0), amps / errs, 0.0)
        worst = int(np.argmin(significance))
        if significance[worst] >= 3.0:
            break
        guesses = [g for j, g in enumerate(guesses) if j != worst]
        raw = _fit_normalised(nu, yn, sn, guesses, broad, (lo, hi))
    if raw is None:
        return _failed("curve_fit did not converge from any initial guess", **common)

    popt, perr = raw.popt, raw.perr
    n_par = popt.size
    dof = nu.size - n_par
    chi2_red = raw.chi2_sum / dof if sn is not None else raw.chi2_sum * scale**2 / dof
    oscillators = [
        Oscillator(
            amplitude=float(popt[i] * scale),
            amplitude_err=float(perr[i] * scale),
            omega_cm1=float(popt[i + 1]),
            omega_err_cm1=float(perr[i + 1]),
            gamma_cm1=float(popt[i + 2]),
            gamma_err_cm1=float(perr[i + 2]),
        )
        for i in range(2, n_par, 3)
    ]
    oscillators.sort(key=lambda o: o.omega_cm1)
    tau = float(10.0 ** popt[1])
    problems = []
    if not np.isfinite(perr).all():
        problems.append("covariance could not be estimated (parameters not determined)")
    names = ["A", "tau"] + [f"{n}_{j + 1}" for j in range(len(guesses)) for n in ("A", "w", "G")]
    span = np.where(np.isfinite(raw.upper - raw.lower), raw.upper - raw.lower, 1.0)
    for name, v, lb, ub, sp in zip(names, popt, raw.lower, raw.upper, span, strict=True):
        if name.startswith("A") and lb == 0.0 and v - lb < 1e-6 * sp:
            continue  # a zero amplitude is a legitimate answer, reported with its error
        if v - lb < 1e-6 * sp or (np.isfinite(ub) and ub - v < 1e-6 * sp):
            problems.append(f"{name} at its bound")
    if np.isfinite(perr[0]) and not popt[0] > 3.0 * perr[0]:
        problems.append(
            f"Debye amplitude not significant (A = {popt[0] * scale:.3g} +/- "
            f"{perr[0] * scale:.2g}, below 3 standard errors): "
            "no central peak resolved"
        )
    if sn is not None and chi2_red > max_chi2_red:
        problems.append(f"poor fit: chi2_red = {chi2_red:.3g} > {max_chi2_red:g}")
    return CentralPeakFit(
        A=float(popt[0] * scale),
        A_err=float(perr[0] * scale),
        tau_ps=tau,
        tau_err_ps=float(tau * math.log(10.0) * perr[1]),
        oscillators=oscillators,
        chi2_red=float(chi2_red),
        success=not problems,
        message="ok" if not problems else "; ".join(problems),
        **common,
    )


def fit_central_peak_from_spectrum(
    spectrum: _SpectrumLike,
    channel: str = DEFAULT_CHANNEL,
    *,
    window_cm1: Sequence[float] = (0.0, 150.0),
    n_oscillators: int | None = None,
    oscillator_guesses_cm1: Sequence[tuple[float, float]] | None = None,
    use_stderr: bool = True,
) -> CentralPeakFit:
    """:func:`fit_central_peak` on the reduced spectrum ``spectrum.intensity(channel, "reduced")``.

    Weighted by ``spectrum.stderr(channel, "reduced")`` when ``use_stderr`` and that error is
    finite above ν̃ = 0 (otherwise, e.g. for a single Welch segment, the fit is unweighted).
    """
    nu = np.asarray(spectrum.wavenumber_cm1, dtype=float)
    err = spectrum.stderr(channel, "reduced") if use_stderr else None
    if err is not None and not np.isfinite(err[nu > 0]).all():
        err = None  # no usable error estimate (e.g. a single Welch segment): unweighted fit
    return fit_central_peak(
        spectrum.wavenumber_cm1,
        spectrum.intensity(channel, "reduced"),
        err,
        window_cm1=window_cm1,
        n_oscillators=n_oscillators,
        oscillator_guesses_cm1=oscillator_guesses_cm1,
        channel=channel,
    )
