"""Arrhenius fits of diffusion coefficients or conductivities.

Model: ln y = ln A − E_a / (k_B T), with y = D (``kind="D"``: y = D₀ exp(−E_a/k_BT)) or
y = σT (``kind="sigmaT"``: σ = (A/T) exp(−E_a/k_BT), the form that follows from Nernst–Einstein).
The fit is weighted least squares of ln y against 1/T with weights 1/σ_{ln y}², σ_{ln y} = σ_y / y
(first-order propagation), parameter covariance (XᵀWX)⁻¹ — the uncertainties are taken as absolute
(``absolute_sigma=True``, like scipy's ``curve_fit``) or rescaled by the reduced χ² when
``absolute_sigma=False``. kinisi ships a Bayesian Arrhenius sampler (``kinisi.arrhenius``); this
closed-form fit is used because the pipeline wants a deterministic E_a ± σ with its covariance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ionraman.conventions import KB_EV_K
from ionraman.errors import InputError


@dataclass
class ArrheniusFit:
    """Result of :func:`arrhenius_fit`.

    Attributes
    ----------
    Ea_eV, Ea_std_eV : float
        Activation energy and its standard deviation, eV.
    prefactor, prefactor_std : float
        A = exp(intercept) and its standard deviation (first order): D₀ in cm² s⁻¹ for
        ``kind="D"``, (σT)₀ in S cm⁻¹ K for ``kind="sigmaT"``.
    intercept, slope : float
        ln A and −E_a/k_B (K) of ln y = intercept + slope / T.
    covariance : ndarray, shape [2, 2]
        Covariance of (intercept, slope).
    kind : {"D", "sigmaT"}
        Which quantity was fitted.
    chi2_reduced : float
        Weighted residual sum / (n − 2) (NaN for two points).
    n_points : int
        Temperatures fitted.
    """

    Ea_eV: float
    Ea_std_eV: float
    prefactor: float
    prefactor_std: float
    intercept: float
    slope: float
    covariance: np.ndarray
    kind: str
    chi2_reduced: float
    n_points: int

    def ln_value(self, temperature_k: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ln y and its standard deviation at ``temperature_k`` (K), y = D or σT."""
        x = 1.0 / np.asarray(temperature_k, dtype=float)
        mean = self.intercept + self.slope * x
        c = self.covariance
        var = c[0, 0] + 2 * c[0, 1] * x + c[1, 1] * x**2
        return mean, np.sqrt(var)

    def extrapolate(self, temperature_k: float | np.ndarray = 300.0) -> dict[str, Any]:
        """Value and uncertainty at ``temperature_k`` (K).

        Returns
        -------
        dict
            ``value`` (D in cm² s⁻¹ or σ in S cm⁻¹, i.e. σT / T for ``kind="sigmaT"``),
            ``std`` (first order: value × σ_ln), ``ln_std`` and the 68 % interval
            ``low``/``high`` = value · exp(∓σ_ln) (log-normal, never negative).
        """
        ln_y, ln_std = self.ln_value(temperature_k)
        value = np.exp(ln_y)
        if self.kind == "sigmaT":
            value = value / np.asarray(temperature_k, dtype=float)
        out = {
            "temperature_K": temperature_k,
            "value": value,
            "std": value * ln_std,
            "ln_std": ln_std,
            "low": value * np.exp(-ln_std),
            "high": value * np.exp(ln_std),
        }
        return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in out.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "Ea_eV": self.Ea_eV,
            "Ea_std_eV": self.Ea_std_eV,
            "prefactor": self.prefactor,
            "prefactor_std": self.prefactor_std,
            "prefactor_unit": "cm^2/s" if self.kind == "D" else "S K/cm",
            "intercept_ln": self.intercept,
            "slope_K": self.slope,
            "covariance": self.covariance.tolist(),
            "kind": self.kind,
            "chi2_reduced": self.chi2_reduced,
            "n_points": self.n_points,
        }

    def to_dataframe(self) -> pd.DataFrame:
        """One-row table with unit-suffixed columns."""
        unit = "cm2_s" if self.kind == "D" else "S_K_cm"
        return pd.DataFrame(
            [
                {
                    "kind": self.kind,
                    "Ea_eV": self.Ea_eV,
                    "Ea_std_eV": self.Ea_std_eV,
                    f"prefactor_{unit}": self.prefactor,
                    f"prefactor_std_{unit}": self.prefactor_std,
                    "chi2_reduced": self.chi2_reduced,
                    "n_points": self.n_points,
                }
            ]
        )


def arrhenius_fit(
    temperature_k: np.ndarray,
    values: np.ndarray,
    stds: np.ndarray | None = None,
    *,
    kind: Literal["D", "sigmaT"] = "D",
    absolute_sigma: bool = True,
) -> ArrheniusFit:
    """Weighted linear fit of ln y against 1/T.

    Parameters
    ----------
    temperature_k : ndarray, shape [n]
        Temperatures, K (n ≥ 2, all positive).
    values : ndarray, shape [n]
        D in cm² s⁻¹ (``kind="D"``) or σ in S cm⁻¹ (``kind="sigmaT"``; multiplied by T here).
    stds : ndarray, shape [n], optional
        Standard deviations of ``values`` (same units). Without them the fit is unweighted and the
        covariance is scaled by the residual variance (needs n ≥ 3).
    kind : {"D", "sigmaT"}
        Arrhenius form (module docstring).
    absolute_sigma : bool
        Treat ``stds`` as absolute (default) or rescale the covariance by the reduced χ².

    Returns
    -------
    ArrheniusFit
    """
    if kind not in ("D", "sigmaT"):
        raise InputError(f"Arrhenius kind must be 'D' or 'sigmaT', got {kind!r}")
    t = np.asarray(temperature_k, dtype=float)
    y = np.asarray(values, dtype=float)
    if t.ndim != 1 or t.shape != y.shape or t.size < 2:
        raise InputError(
            f"Arrhenius fit needs matching 1-D temperatures and values (>= 2), got {t.shape}, "
            f"{y.shape}"
        )
    if np.any(t <= 0) or np.any(y <= 0) or not np.all(np.isfinite(y)):
        raise InputError("Arrhenius fit needs positive finite temperatures and values")
    if kind == "sigmaT":
        y = y * t
    ln_y = np.log(y)
    if stds is None:
        if t.size < 3:
            raise InputError("an unweighted Arrhenius fit needs at least 3 temperatures")
        w = np.ones_like(t)
        absolute_sigma = False
    else:
        s = np.asarray(stds, dtype=float)
        if s.shape != t.shape or np.any(s <= 0) or not np.all(np.isfinite(s)):
            raise InputError("Arrhenius standard deviations must be positive, one per temperature")
        if kind == "sigmaT":
            s = s * t
        w = (y / s) ** 2  # 1 / σ_ln²
    x = np.column_stack([np.ones_like(t), 1.0 / t])
    xtwx = x.T @ (w[:, None] * x)
    cov = np.linalg.inv(xtwx)
    beta = cov @ (x.T @ (w * ln_y))
    resid = ln_y - x @ beta
    dof = t.size - 2
    chi2_red = float(np.sum(w * resid**2) / dof) if dof > 0 else float("nan")
    if not absolute_sigma:
        if dof <= 0:
            raise InputError("covariance rescaling needs at least 3 temperatures")
        cov = cov * chi2_red
    intercept, slope = float(beta[0]), float(beta[1])
    prefactor = float(np.exp(intercept))
    return ArrheniusFit(
        Ea_eV=-slope * KB_EV_K,
        Ea_std_eV=float(np.sqrt(cov[1, 1])) * KB_EV_K,
        prefactor=prefactor,
        prefactor_std=prefactor * float(np.sqrt(cov[0, 0])),
        intercept=intercept,
        slope=slope,
        covariance=cov,
        kind=kind,
        chi2_reduced=chi2_red,
        n_points=int(t.size),
    )
