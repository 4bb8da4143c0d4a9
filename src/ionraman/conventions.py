"""Units, tensor component orders and spectrum conventions: the one place where they are fixed.

Everything numerical in ionraman uses the units below, and every result records the conventions it
used (:func:`conventions_metadata`).

Units
-----
==================  ==========================================
quantity            unit
==================  ==========================================
time                fs (MD time step, trajectory times); ps in user-facing summaries
length              Å
energy              eV
temperature         K
frequency           cm⁻¹ (wavenumber, ν̃ = ω / 2πc)
polarizability      Å³ (α of a whole periodic cell; α = V (ε∞ − 1) / 4π)
diffusion coeff.    cm² s⁻¹ in tables (Å² ps⁻¹ internally where stated)
conductivity        S cm⁻¹
==================  ==========================================

Tensor component orders
-----------------------
Polarizabilities are stored as full symmetric 3×3 arrays ``[..., 3, 3]`` (row i, column j = α_ij).
Codes write reduced forms in different orders; :data:`COMPONENT_ORDERS` names them and
:func:`to_matrix` / :func:`from_matrix` convert both ways.

Spectrum conventions
--------------------
Let δα(t) = α(t) − ⟨α⟩ be the polarizability fluctuation of one run (the mean over the whole run is
removed, not per Welch segment, so the slow fluctuations that make the central peak stay in the
lowest bins). For a scalar channel x(t) built from δα (see :mod:`ionraman.spectra`), the

* **classical spectral density** ``S(ν̃)`` is the one-sided power spectral density in ν̃ (cm⁻¹):
  ``S(ν̃) = 2 ∫ dt e^{i2πcν̃t} ⟨x(0) x(t)⟩`` for ν̃ > 0, normalised so that
  ``∫_0^∞ S(ν̃) dν̃ = ⟨x²⟩`` (Parseval). Units: (Å³)² / cm⁻¹. The ν̃ = 0 bin is kept.
  It is computed from α, not α̇: the α̇ route gives ``(2πcν̃)² S(ν̃)`` and is not used.
* **quantum correction** Q(ν̃) turns S into a Stokes intensity ``I(ν̃) = Q(ν̃) S(ν̃)``:

  - ``"none"``: Q = 1 (the classical spectrum).
  - ``"harmonic"``: Q = βħω / (1 − e^{−βħω}); exact for harmonic systems, Q(0) = 1, so the
    ν̃ = 0 bin stays finite. The default.
  - ``"bose"``: Q = n(ω) + 1 = 1 / (1 − e^{−βħω}), the bare Bose factor applied to the classical
    density as done in part of the MD literature. It diverges as k_BT/ħω at ω → 0: the ν̃ = 0 bin
    is set to NaN (never silently to a number), and metrics must start above it.
* **laser factor** (optional): ``((ν̃_L − ν̃) / ν̃_L)^4`` for a laser of wavenumber ν̃_L, normalised
  to 1 at ν̃ = 0 so that intensities keep their units.
* **reduced spectrum** ``χ''(ν̃) = I_harmonic(ν̃) / (n(ω) + 1) = βħω S(ν̃)``: proportional to the
  imaginary part of the polarizability response (fluctuation–dissipation theorem), zero at ν̃ = 0.
  This is what an experimentalist obtains by dividing a Stokes spectrum by n + 1 (and the laser
  factor), so measured and simulated reduced spectra compare directly. Units as S.

Orientation averages (powder, isotropic sample), with a the isotropic part and γ² the anisotropy
invariant of δα (:mod:`ionraman.spectra`): parallel ``(45 a² + 4 γ²)/45``, crossed ``3 γ²/45``,
unpolarised total ``(45 a² + 7 γ²)/45``. The division by 45 makes the parallel channel equal the
orientation average of (ê·δα·ê)², so channels keep the units of S.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np

from ionraman.errors import InputError

# --------------------------------------------------------------------------------------------
# Physical constants (CODATA 2018) and unit conversions
# --------------------------------------------------------------------------------------------
SPEED_OF_LIGHT_CM_S: Final = 2.99792458e10
"""c in cm s⁻¹."""
HBAR_EV_S: Final = 6.582119569e-16
"""ħ in eV s."""
KB_EV_K: Final = 8.617333262e-5
"""k_B in eV K⁻¹."""
ELEMENTARY_CHARGE_C: Final = 1.602176634e-19
"""e in C."""
KB_J_K: Final = 1.380649e-23
"""k_B in J K⁻¹."""
HC_EV_CM: Final = 1.239841984e-4
"""h c in eV cm: E[eV] = HC_EV_CM · ν̃[cm⁻¹]."""

FS_PER_PS: Final = 1000.0
A2_PS_TO_CM2_S: Final = 1e-16 / 1e-12
"""1 Å² ps⁻¹ = 1e-4 cm² s⁻¹."""

POLARIZABILITY_KEY: Final[str] = "REF_polarizability"
"""``atoms.info`` key of a reference (DFT) cell polarizability: 3×3, Å³ (extended XYZ)."""

UNITS: Final[dict[str, str]] = {
    "time": "fs",
    "length": "angstrom",
    "energy": "eV",
    "temperature": "K",
    "frequency": "cm^-1",
    "polarizability": "angstrom^3",
    "velocity": "angstrom/fs",
    "diffusion_coefficient": "cm^2/s",
    "conductivity": "S/cm",
}


# --------------------------------------------------------------------------------------------
# Physical ranges of user input (checked by :mod:`ionraman.validate` before any compute)
# --------------------------------------------------------------------------------------------
MAX_TEMPERATURE_K: Final = 5000.0
"""Highest temperature accepted anywhere, K (0 < T ≤ 5000 K): every solid electrolyte has molten
or decomposed far below it, and force fields are untrained there."""
MIN_INTERATOMIC_DISTANCE_A: Final = 0.5
"""Two atoms (periodic images included) closer than this, Å, are overlapping or duplicated
sites; no bond is this short (H₂ is 0.74 Å)."""
MAX_VACUUM_GAP_A: Final = 8.0
"""Widest atom-free slab, Å, accepted along a cell axis of a bulk structure (measured between
atomic centres, perpendicular to the other two cell vectors); a wider one is vacuum (a slab model
or a misread cell), not a bulk electrolyte."""


def timestep_fs_to_nyquist_cm1(dt_fs: float) -> float:
    """Nyquist wavenumber (cm⁻¹) of a series sampled every ``dt_fs`` femtoseconds."""
    return 1.0 / (2.0 * dt_fs * 1e-15 * SPEED_OF_LIGHT_CM_S)


def wavenumber_cm1_to_angular_frequency(nu_cm1: np.ndarray | float) -> np.ndarray | float:
    """ω in rad s⁻¹ from ν̃ in cm⁻¹ (ω = 2πcν̃)."""
    return 2.0 * np.pi * SPEED_OF_LIGHT_CM_S * np.asarray(nu_cm1, dtype=float)


def laser_wavelength_nm_to_cm1(wavelength_nm: float) -> float:
    """Absolute wavenumber (cm⁻¹) of a laser line given its vacuum wavelength in nm."""
    if not (np.isfinite(wavelength_nm) and wavelength_nm > 0):
        raise InputError(f"laser wavelength must be a positive number of nm, got {wavelength_nm}")
    return 1e7 / wavelength_nm


# --------------------------------------------------------------------------------------------
# Tensor component orders
# --------------------------------------------------------------------------------------------
ComponentOrder = Literal["ase-voigt", "vasp", "gpumd", "nep-9", "row-major-9"]

COMPONENT_ORDERS: Final[dict[str, tuple[tuple[int, int], ...]]] = {
    # ASE (and Voigt) order: xx, yy, zz, yz, xz, xy
    "ase-voigt": ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)),
    # VASP 6-component order (e.g. stress, dielectric blocks written as 6): xx, yy, zz, xy, yz, zx
    "vasp": ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (2, 0)),
    # GPUMD polarizability.out: xx, yy, zz, xy, yz, zx
    "gpumd": ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (2, 0)),
    # NEP train.xyz pol= : 9 components row by row
    "nep-9": tuple((i, j) for i in range(3) for j in range(3)),
    "row-major-9": tuple((i, j) for i in range(3) for j in range(3)),
}
"""Index pairs (i, j) of each reduced component, in the order the named convention writes them."""


def _order(order: str) -> tuple[tuple[int, int], ...]:
    try:
        return COMPONENT_ORDERS[order]
    except KeyError:
        known = ", ".join(COMPONENT_ORDERS)
        raise InputError(f"unknown component order {order!r}; expected one of: {known}") from None


def to_matrix(components: np.ndarray, order: str = "ase-voigt") -> np.ndarray:
    """Convert reduced components to full symmetric 3×3 tensors.

    Parameters
    ----------
    components
        Array of shape ``[..., 6]`` or ``[..., 9]`` in the named ``order``.
    order
        A key of :data:`COMPONENT_ORDERS`.

    Returns
    -------
    numpy.ndarray
        Shape ``[..., 3, 3]``. Six-component input is symmetrised by construction; nine-component
        input is returned as written (not symmetrised).
    """
    idx = _order(order)
    comps = np.asarray(components, dtype=float)
    if comps.shape[-1] != len(idx):
        raise InputError(
            f"order {order!r} needs {len(idx)} components per row, got {comps.shape[-1]}"
        )
    out = np.zeros((*comps.shape[:-1], 3, 3))
    for k, (i, j) in enumerate(idx):
        out[..., i, j] = comps[..., k]
        if len(idx) == 6:
            out[..., j, i] = comps[..., k]
    return out


def from_matrix(matrix: np.ndarray, order: str = "ase-voigt") -> np.ndarray:
    """Convert 3×3 tensors ``[..., 3, 3]`` to the reduced components of the named ``order``.

    Six-component orders take the symmetric part ``(α + αᵀ)/2``.
    """
    idx = _order(order)
    m = np.asarray(matrix, dtype=float)
    if m.shape[-2:] != (3, 3):
        raise InputError(f"expected tensors of shape [..., 3, 3], got {m.shape}")
    if len(idx) == 6:
        m = 0.5 * (m + np.swapaxes(m, -1, -2))
    return np.stack([m[..., i, j] for i, j in idx], axis=-1)


# --------------------------------------------------------------------------------------------
# Spectrum conventions
# --------------------------------------------------------------------------------------------
QuantumCorrection = Literal["none", "harmonic", "bose"]
QUANTUM_CORRECTIONS: Final[dict[str, str]] = {
    "none": "classical spectral density S, Q = 1",
    "harmonic": "Q = beta hbar omega / (1 - exp(-beta hbar omega)), Q(0) = 1",
    "bose": "Q = n(omega) + 1 applied to the classical density; omega = 0 bin set to NaN",
}
DEFAULT_QUANTUM_CORRECTION: Final = "harmonic"

SpectrumVariant = Literal["classical", "stokes", "reduced"]
SPECTRUM_VARIANTS: Final[dict[str, str]] = {
    "classical": "one-sided classical spectral density S of delta-alpha, integral = variance",
    "stokes": "Stokes intensity Q S (times the laser factor when a laser is given)",
    "reduced": "reduced spectrum chi'' = beta hbar omega S (proportional to Im response)",
}

ALPHA_ROUTE: Final = "alpha"
"""Spectra are computed from α(t) itself (not α̇; the α̇ route differs by (2πcν̃)²)."""

POWDER_CHANNELS: Final[dict[str, str]] = {
    "isotropic": "a^2: spectrum of the isotropic part a = tr(delta-alpha)/3",
    "anisotropic": "gamma^2: spectrum of the anisotropy invariant (3/2) beta:beta",
    "parallel": "(45 a^2 + 4 gamma^2) / 45",
    "crossed": "3 gamma^2 / 45",
    "total": "(45 a^2 + 7 gamma^2) / 45 (unpolarised)",
}


def beta_hbar_omega(nu_cm1: np.ndarray, temperature_k: float) -> np.ndarray:
    """βħω = h c ν̃ / k_B T (dimensionless) for wavenumbers ``nu_cm1``."""
    if not temperature_k > 0:
        raise InputError(f"temperature must be positive, got {temperature_k} K")
    return HC_EV_CM * np.asarray(nu_cm1, dtype=float) / (KB_EV_K * temperature_k)


def quantum_correction_factor(
    nu_cm1: np.ndarray, temperature_k: float, correction: str = DEFAULT_QUANTUM_CORRECTION
) -> np.ndarray:
    """Multiplicative factor Q(ν̃) of the named quantum correction (see module docstring).

    Parameters
    ----------
    nu_cm1
        Wavenumbers ≥ 0 in cm⁻¹, shape ``[F]``.
    temperature_k
        Temperature in K (ignored for ``"none"``).
    correction
        ``"none"``, ``"harmonic"`` or ``"bose"``.

    Returns
    -------
    numpy.ndarray
        Shape ``[F]``. For ``"bose"`` the ν̃ = 0 entries are NaN.
    """
    nu = np.asarray(nu_cm1, dtype=float)
    if correction == "none":
        return np.ones_like(nu)
    if correction not in QUANTUM_CORRECTIONS:
        known = ", ".join(QUANTUM_CORRECTIONS)
        raise InputError(f"unknown quantum correction {correction!r}; expected one of: {known}")
    x = beta_hbar_omega(nu, temperature_k)
    with np.errstate(divide="ignore", invalid="ignore"):
        if correction == "harmonic":
            q = np.where(x > 0, x / -np.expm1(-np.where(x > 0, x, 1.0)), 1.0)
        else:  # bose: n + 1
            q = np.where(x > 0, 1.0 / -np.expm1(-np.where(x > 0, x, 1.0)), np.nan)
    return q


def bose_occupation_plus_one(nu_cm1: np.ndarray, temperature_k: float) -> np.ndarray:
    """n(ω) + 1 = 1/(1 − e^{−βħω}); NaN at ν̃ = 0."""
    return quantum_correction_factor(nu_cm1, temperature_k, "bose")


def laser_factor(nu_cm1: np.ndarray, laser_cm1: float) -> np.ndarray:
    """((ν̃_L − ν̃)/ν̃_L)^4, the ω⁴ scattering factor normalised to 1 at zero shift."""
    if not laser_cm1 > 0:
        raise InputError(f"laser wavenumber must be positive, got {laser_cm1} cm^-1")
    return ((laser_cm1 - np.asarray(nu_cm1, dtype=float)) / laser_cm1) ** 4


def conventions_metadata(**choices: object) -> dict[str, object]:
    """Metadata block describing the conventions of a result; ``choices`` add the run's options."""
    meta: dict[str, object] = {
        "units": dict(UNITS),
        "tensor_storage": "full symmetric 3x3, row i column j",
        "spectrum_route": ALPHA_ROUTE,
        "spectral_density": SPECTRUM_VARIANTS["classical"],
        "mean_removal": "mean over each whole run (not per segment)",
        "powder_channels": dict(POWDER_CHANNELS),
    }
    if "quantum_correction" in choices:
        meta["quantum_correction_definition"] = QUANTUM_CORRECTIONS.get(
            str(choices["quantum_correction"]), ""
        )
    meta.update(choices)
    return meta
