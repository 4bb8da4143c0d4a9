"""A known, exactly equivariant polarizability function for tests, benchmarks and fit checks.

Until DFT labels exist in quantity, the fit/predict code is exercised on structures labelled by
:func:`synthetic_alpha`: a bond-polarizability model with fixed parameters plus nonlinear,
many-body environment terms that a bond model cannot represent,

.. math::

    α = α_\\text{bond} + \\sum_{i ∈ \\text{Na}} \\big[a \\tanh(b (n_i − n_0)) I
        + c\\, (n_i − n_0)\\, Q_i\\big] + \\sum_{i ∈ \\text{Sb,P}} e\\, (Q_i Q_i)_0,

with ``n_i = Σ_{j∈S} f(r_ij)`` a smooth coordination number (``f``: 1 below 2.5 Å, 0 above
3.9 Å), ``Q_i = Σ_{j∈S} f(r_ij) (r̂r̂ᵀ − I/3)`` and ``(·)₀`` the traceless part. It is exactly
rotation-equivariant, permutation/translation invariant and extensive, like the true α.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from ionraman.polarizability.bond_model import POLARIZABILITY_KEY, BondPolarizabilityModel
from ionraman.polarizability.models.neighbours import neighbour_pairs

_R_ON, _R_OFF = 2.5, 3.9
_A, _B, _N0, _C, _E = 3.0, 1.5, 4.0, 4.0, 6.0


def reference_bond_model() -> BondPolarizabilityModel:
    """Bond model with hand-set parameters (Sb–S, P–S, Na–S bonds; Å³)."""
    m = BondPolarizabilityModel()
    m.r0_A = {("Sb", "S"): 2.37, ("P", "S"): 2.05, ("S", "Na"): 2.95}
    m.params = {
        ("Sb", "S"): np.array([6.0, 9.0, 2.5, 1.5]),
        ("P", "S"): np.array([4.5, 7.0, 2.0, 1.0]),
        ("S", "Na"): np.array([1.2, 0.8, 0.6, 0.3]),  # heavier species first
    }
    m.atom_params = {"Na": 0.3, "S": 2.0, "Sb": 1.0, "P": 0.5}
    return m


def _switch(r: np.ndarray) -> np.ndarray:
    x = np.clip((r - _R_ON) / (_R_OFF - _R_ON), 0.0, 1.0)
    return 1.0 - x**3 * (10.0 - 15.0 * x + 6.0 * x**2)


def synthetic_alpha(atoms: Atoms, bond: BondPolarizabilityModel | None = None) -> np.ndarray:
    """The synthetic α (3×3, Å³) of a periodic structure."""
    bond = bond or reference_bond_model()
    alpha = bond.predict_one(atoms)
    sym = np.array(atoms.get_chemical_symbols())
    i, j, s = neighbour_pairs(atoms.positions, atoms.cell.array, atoms.pbc, _R_OFF)
    d = atoms.positions[j] - atoms.positions[i] + s @ atoms.cell.array
    r = np.linalg.norm(d, axis=1)
    keep = sym[j] == "S"
    i, d, r = i[keep], d[keep], r[keep]
    f = _switch(r)
    u = d / r[:, None]
    q_pair = f[:, None, None] * (np.einsum("pa,pb->pab", u, u) - np.eye(3) / 3.0)
    n_atoms = len(atoms)
    cn = np.bincount(i, weights=f, minlength=n_atoms)
    q = np.zeros((n_atoms, 3, 3))
    np.add.at(q, i, q_pair)
    na = sym == "Na"
    x = cn[na] - _N0
    alpha = alpha + np.eye(3) * (_A * np.tanh(_B * x)).sum()
    alpha = alpha + _C * np.einsum("i,iab->ab", x, q[na])
    centre = (sym == "Sb") | (sym == "P")
    qq = np.einsum("iab,ibc->iac", q[centre], q[centre])
    qq -= np.eye(3) * np.trace(qq, axis1=1, axis2=2)[:, None, None] / 3.0
    return alpha + _E * qq.sum(axis=0)


def synthetic_dataset(
    n: int,
    *,
    phases: Sequence[str] = ("t-Na3SbS4",),
    rattle_A: tuple[float, float] = (0.05, 0.2),
    strain: float = 0.02,
    seed: int = 0,
    supercell: int | Sequence[int] = 1,
) -> list[Atoms]:
    """``n`` rattled, strained copies of built-in phases labelled with :func:`synthetic_alpha`
    in ``info["REF_polarizability"]`` (and ``info["phase"]``)."""
    from ionraman.structures import get_structure

    rng = np.random.default_rng(seed)
    bond = reference_bond_model()
    bases = {p: get_structure(p, supercell=supercell) for p in phases}
    out = []
    for k in range(n):
        phase = phases[k % len(phases)]
        atoms = bases[phase].copy()
        eps = rng.uniform(-strain, strain, size=(3, 3))
        eps = 0.5 * (eps + eps.T)
        atoms.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
        amp = rng.uniform(*rattle_A)
        atoms.positions = atoms.positions + rng.normal(scale=amp, size=atoms.positions.shape)
        atoms.info = {"phase": phase, POLARIZABILITY_KEY: synthetic_alpha(atoms, bond)}
        out.append(atoms)
    return out
