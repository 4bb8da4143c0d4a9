"""Nernst–Einstein conductivity and the Haven ratio.

σ = n (q e)² D / (k_B T), with n the number density of the mobile ions (count / mean cell volume),
q their charge in units of e and D either the tracer D* (σ_NE, the Nernst–Einstein estimate that
ignores ion–ion correlations) or the charge/collective D_σ (σ including correlations, for a single
mobile species). The Haven ratio is H_R = D* / D_σ (= σ_NE / σ).

Units: n in cm⁻³, D in cm² s⁻¹, e in C, k_B T in J → C² cm⁻¹ s⁻¹ J⁻¹ = S cm⁻¹.
"""

from __future__ import annotations

import numpy as np

from ionraman.conventions import ELEMENTARY_CHARGE_C, KB_J_K
from ionraman.errors import InputError

CM3_PER_A3 = 1e-24
"""1 Å³ = 1e-24 cm³ (a unit conversion, not a physical constant)."""


def number_density_cm3(n_ions: int, volume_A3: float) -> float:
    """Number density (cm⁻³) of ``n_ions`` ions in a cell of ``volume_A3`` Å³."""
    if volume_A3 <= 0 or n_ions <= 0:
        raise InputError(f"need a positive ion count and volume, got {n_ions}, {volume_A3} A^3")
    return n_ions / (volume_A3 * CM3_PER_A3)


def nernst_einstein_conductivity(
    D_cm2_s: float,
    n_ions: int,
    volume_A3: float,
    temperature_k: float,
    charge: float = 1.0,
    D_std_cm2_s: float | None = None,
) -> tuple[float, float | None]:
    """σ = n (q e)² D / (k_B T).

    Parameters
    ----------
    D_cm2_s : float
        Diffusion coefficient, cm² s⁻¹ (tracer D* → σ_NE; collective D_σ → σ).
    n_ions : int
        Mobile ions in the cell.
    volume_A3 : float
        Cell volume, Å³ (mean over the run for NPT).
    temperature_k : float
        Temperature, K.
    charge : float
        Ion charge in units of e (formal charge, e.g. 1 for Na⁺).
    D_std_cm2_s : float, optional
        Standard deviation of D; propagated linearly.

    Returns
    -------
    sigma_S_cm : float
        Conductivity, S cm⁻¹.
    sigma_std_S_cm : float or None
        Its standard deviation (None without ``D_std_cm2_s``).
    """
    if temperature_k <= 0:
        raise InputError(f"temperature must be positive, got {temperature_k} K")
    n = number_density_cm3(n_ions, volume_A3)
    factor = n * (charge * ELEMENTARY_CHARGE_C) ** 2 / (KB_J_K * temperature_k)
    sigma = factor * D_cm2_s
    return float(sigma), None if D_std_cm2_s is None else float(abs(factor) * D_std_cm2_s)


def haven_ratio(
    D_tracer_cm2_s: float,
    D_sigma_cm2_s: float,
    D_tracer_std: float | None = None,
    D_sigma_std: float | None = None,
    samples_tracer: np.ndarray | None = None,
    samples_sigma: np.ndarray | None = None,
) -> tuple[float, float | None]:
    """H_R = D* / D_σ with its standard deviation.

    H_R is the ratio of the posterior means. Its standard deviation comes, when posterior samples
    of both are given (independent chains), from the spread of the ratios of randomly paired
    samples (robust when D_σ is poorly determined); otherwise from first-order propagation of the
    relative errors.

    Returns
    -------
    H_R, H_R_std : float, float or None
    """
    if samples_tracer is not None and samples_sigma is not None and samples_sigma.size:
        rng = np.random.default_rng(0)
        n = max(samples_tracer.size, samples_sigma.size)
        a = rng.choice(samples_tracer, n)
        b = rng.choice(samples_sigma, n)
        ok = b > 0
        ratio = a[ok] / b[ok]
        return float(D_tracer_cm2_s / D_sigma_cm2_s), float(np.std(ratio, ddof=1))
    h = D_tracer_cm2_s / D_sigma_cm2_s
    if D_tracer_std is None or D_sigma_std is None:
        return float(h), None
    rel = np.hypot(D_tracer_std / D_tracer_cm2_s, D_sigma_std / D_sigma_cm2_s)
    return float(h), float(abs(h) * rel)
