"""Bond-polarizability model: the cheap physics baseline for α of a periodic structure.

Each bond b between atoms of species pair (A, B) within the pair's cutoff contributes

.. math::

    α_b = f_c(r) \\left[ α_⊥(r) I + (α_∥(r) − α_⊥(r))\\, \\hat r \\hat r^T \\right],
    \\qquad α_{∥,⊥}(r) = a_{∥,⊥} + b_{∥,⊥} (r − r_0),

and each atom of species Z adds an isotropic constant c_Z I. ``f_c`` is a cosine taper from 1 at
``cutoff − taper`` to 0 at ``cutoff`` so that bonds crossing the cutoff during MD do not make α(t)
jump (a hard cutoff would put spurious broadband noise into the spectrum). The model is linear in
its parameters (a, b per pair and direction, c per species), so it is fitted by (ridge) least
squares to reference α. It is exactly rotation-equivariant, permutation- and translation-invariant,
and extensive (a supercell gives the same α per atom), and serves as the baseline for Δ-learning.

Units: Å for distances, Å³ for polarizabilities.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols
from ase.neighborlist import neighbor_list

from ionraman._io import write_json_atomic
from ionraman.conventions import POLARIZABILITY_KEY
from ionraman.errors import InputError
from ionraman.polarizability.protocol import StoreAlpha

DEFAULT_PAIR_CUTOFFS_A: dict[tuple[str, str], float] = {
    ("Sb", "S"): 3.0,
    ("P", "S"): 2.6,
    ("W", "S"): 2.8,
    ("Sb", "Se"): 3.1,
    ("P", "Se"): 2.8,
    ("Na", "S"): 3.6,
    ("Na", "Se"): 3.7,
    ("Ag", "I"): 3.4,
}
"""Bond cutoffs (Å) per species pair: first-shell distance plus ~0.5 Å (estimates from the
built-in structures; Sb–S 2.33–2.40 Å, P–S 2.04 Å, Na–S 2.8–3.1 Å, Ag–I 2.8 Å)."""


DEFAULT_RIDGE = 1e-2
"""Ridge penalty of the fit (design columns scaled to max |x| = 1). The isotropic part of the
model is nearly degenerate: the per-species constants c_Z of cells of one stoichiometry are
collinear, and c_Sb is almost collinear with the a∥, a⊥ of its four tetrahedral Sb–S bonds
(Σ r̂r̂ᵀ ≈ 4/3 I). With a vanishing penalty (1e-8) these directions take huge cancelling values
(c_W ≈ 1.1e4 Å³ on 14 Na–Sb–W–S labels) and a W-doped held-out structure was predicted 1105 Å³
for 125 Å³. Measured on the reference dataset (14 training, 3 held-out labels): held-out RMSE of
α 400 / 8.9 / 5.2 / 4.8 / 4.6 / 4.8 Å³ and of δα 1.45 / 1.80 / 1.88 / 1.95 / 1.99 / 2.52 Å³ for
ridge 1e-8 / 1e-4 / 1e-3 / 1e-2 / 1e-1 / 1; 1e-2 keeps δα within 0.5 Å³ of the unpenalised fit
and α bounded."""


def _pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if atomic_numbers[a] >= atomic_numbers[b] else (b, a)


@dataclass
class BondPolarizabilityModel:
    """Linear bond-polarizability model.

    Attributes
    ----------
    pair_cutoffs_A
        Cutoff (Å) per species pair (order-insensitive).
    taper_A
        Width (Å) of the cosine taper below each cutoff.
    r0_A
        Reference bond length (Å) per pair, set at fit time to the mean bond length in the data.
    params
        Per pair: ``[a_par, b_par, a_perp, b_perp]`` in Å³ and Å³ Å⁻¹.
    atom_params
        Per species: isotropic constant c_Z in Å³.
    """

    pair_cutoffs_A: dict[tuple[str, str], float] = field(
        default_factory=lambda: dict(DEFAULT_PAIR_CUTOFFS_A)
    )
    taper_A: float = 0.5
    r0_A: dict[tuple[str, str], float] = field(default_factory=dict)
    params: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    atom_params: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.normalise_keys()

    def normalise_keys(self) -> None:
        """Key every pair heavier species first, whichever order the caller used."""
        self.pair_cutoffs_A = {_pair_key(*k): float(v) for k, v in self.pair_cutoffs_A.items()}
        self.r0_A = {_pair_key(*k): float(v) for k, v in self.r0_A.items()}
        self.params = {_pair_key(*k): np.asarray(v, dtype=float) for k, v in self.params.items()}

    # ------------------------------------------------------------------ features
    def _pairs_for(self, symbols: Iterable[str]) -> list[tuple[str, str]]:
        present = set(symbols)
        return sorted(k for k in self.pair_cutoffs_A if k[0] in present and k[1] in present)

    def _bonds(self, atoms: Atoms) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        """Bond vectors D [B,3] (Å) and taper weights w [B] per pair, each bond counted once."""
        if not atoms.pbc.all():
            raise InputError("bond-polarizability model needs a fully periodic structure")
        symbols = np.array(atoms.get_chemical_symbols())
        pairs = self._pairs_for(symbols)
        out: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        if not pairs:
            return out
        rmax = max(self.pair_cutoffs_A[p] for p in pairs)
        i, j, d, vec = neighbor_list("ijdD", atoms, rmax)
        si, sj = symbols[i], symbols[j]
        for a, b in pairs:
            # each unordered bond once: seen from the heavier (first) species of the pair; a
            # homonuclear bond appears twice in the list (i→j and j→i), so it gets half weight
            mask = (si == a) & (sj == b) & (d < self.pair_cutoffs_A[(a, b)])
            rc = self.pair_cutoffs_A[(a, b)]
            x = np.clip((d[mask] - (rc - self.taper_A)) / self.taper_A, 0.0, 1.0)
            w = 0.5 * (1.0 + np.cos(np.pi * x)) * (0.5 if a == b else 1.0)
            out[(a, b)] = (vec[mask], w)
        return out

    def _design(self, atoms: Atoms, pairs: Sequence[tuple[str, str]], species: Sequence[str]):
        """Design matrix [9, P] mapping the parameter vector to the 9 components of α."""
        bonds = self._bonds(atoms)
        cols: list[np.ndarray] = []
        eye = np.eye(3)
        for p in pairs:
            vec, w = bonds.get(p, (np.zeros((0, 3)), np.zeros(0)))
            r = np.linalg.norm(vec, axis=1)
            dr = r - self.r0_A.get(p, 0.0)
            rr = np.einsum("bi,bj->bij", vec, vec) / np.maximum(r, 1e-12)[:, None, None] ** 2
            perp = eye[None] - rr
            cols += [
                np.einsum("b,bij->ij", w, rr),
                np.einsum("b,bij->ij", w * dr, rr),
                np.einsum("b,bij->ij", w, perp),
                np.einsum("b,bij->ij", w * dr, perp),
            ]
        counts = {s: 0 for s in species}
        for s in atoms.get_chemical_symbols():
            if s in counts:
                counts[s] += 1
        cols += [counts[s] * eye for s in species]
        return np.stack([c.ravel() for c in cols], axis=1)

    # ------------------------------------------------------------------ fit / predict
    def fit(
        self,
        structures: Sequence[Atoms],
        *,
        key: str = POLARIZABILITY_KEY,
        ridge: float = DEFAULT_RIDGE,
    ) -> BondPolarizabilityModel:
        """Fit all parameters by ridge least squares to ``atoms.info[key]`` (3×3, Å³).

        Sets ``r0_A`` of each pair to its mean bond length over the data first. ``ridge``
        penalises the squared parameters with every design column scaled to max |x| = 1
        (:data:`DEFAULT_RIDGE`: why it is not ~0).
        """
        if not structures:
            raise InputError("bond-polarizability fit needs at least one labelled structure")
        if not ridge >= 0.0:
            raise InputError(f"ridge = {ridge!r}: expected a penalty >= 0")
        targets = []
        for n, at in enumerate(structures):
            if key not in at.info:
                raise InputError(f"structure {n} has no atoms.info[{key!r}] (3x3 polarizability)")
            targets.append(np.asarray(at.info[key], dtype=float).reshape(9))
        species = sorted({s for at in structures for s in at.get_chemical_symbols()})
        pairs = self._pairs_for(species)
        lengths: dict[tuple[str, str], list[np.ndarray]] = {p: [] for p in pairs}
        for at in structures:
            for p, (vec, _) in self._bonds(at).items():
                lengths[p].append(np.linalg.norm(vec, axis=1))
        self.r0_A = {
            p: float(np.concatenate(v).mean()) if v and np.concatenate(v).size else 0.0
            for p, v in lengths.items()
        }
        x = np.concatenate([self._design(at, pairs, species) for at in structures])
        y = np.concatenate(targets)
        scale = np.maximum(np.abs(x).max(axis=0), 1e-12)
        xs = x / scale
        theta = np.linalg.solve(xs.T @ xs + ridge * np.eye(xs.shape[1]), xs.T @ y) / scale
        self.params = {p: theta[4 * k : 4 * k + 4].copy() for k, p in enumerate(pairs)}
        self.atom_params = {s: float(theta[4 * len(pairs) + k]) for k, s in enumerate(species)}
        return self

    def _theta(self, atoms: Atoms) -> tuple[list[tuple[str, str]], list[str], np.ndarray]:
        if not self.params:
            raise InputError("bond-polarizability model is not fitted (no parameters)")
        self.normalise_keys()  # parameters may have been assigned after construction
        symbols = set(atoms.get_chemical_symbols())
        unknown = symbols - set(self.atom_params)
        if unknown:
            raise InputError(
                f"bond-polarizability model has no parameters for {sorted(unknown)}; "
                f"fitted species: {sorted(self.atom_params)}"
            )
        pairs = [p for p in self._pairs_for(symbols) if p in self.params]
        species = sorted(symbols)
        theta = np.concatenate(
            [self.params[p] for p in pairs] + [np.array([self.atom_params[s] for s in species])]
        )
        return pairs, species, theta

    def predict_one(self, atoms: Atoms) -> np.ndarray:
        """Polarizability of one structure, shape ``[3, 3]`` in Å³."""
        pairs, species, theta = self._theta(atoms)
        return (self._design(atoms, pairs, species) @ theta).reshape(3, 3)

    # ------------------------------------------------------------------ the model protocol
    kind = "bond-polarizability"

    @property
    def species(self) -> list[str]:
        """Elements with an atomic polarizability in the model."""
        return sorted(self.atom_params)

    def predict_alpha(self, frames: Iterable[Atoms]) -> np.ndarray:
        """α of structures, ``[S, 3, 3]`` Å³ (:class:`~ionraman.polarizability.protocol.
        PolarizabilityModel`)."""
        return np.array([self.predict_one(at) for at in frames], dtype=float).reshape(-1, 3, 3)

    def alpha_of_store(
        self,
        path: str | os.PathLike[str],
        *,
        batch_frames: int = 256,
        dtype: str = "float32",
        threads: int | None = None,
    ) -> StoreAlpha:
        """α of every committed frame of a trajectory store, frame by frame (``batch_frames``,
        ``dtype`` and ``threads`` are the protocol's; this model needs none of them)."""
        from ionraman.trajectory import open_trajectory

        with open_trajectory(path) as traj:
            alpha = self.predict_alpha(traj.get_atoms(k) for k in range(len(traj)))
        return StoreAlpha(np.asarray(alpha, dtype=float), {"model_kind": self.kind})

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable parameters."""

        def k(p: tuple[str, str]) -> str:
            return f"{p[0]}-{p[1]}"

        return {
            "model": "bond-polarizability",
            "version": 1,
            "units": {"distance": "angstrom", "polarizability": "angstrom^3"},
            "taper_A": self.taper_A,
            "pair_cutoffs_A": {k(p): v for p, v in self.pair_cutoffs_A.items()},
            "r0_A": {k(p): v for p, v in self.r0_A.items()},
            "params": {k(p): v.tolist() for p, v in self.params.items()},
            "atom_params": dict(self.atom_params),
        }

    @classmethod
    def from_dict(cls, data: dict) -> BondPolarizabilityModel:
        """Inverse of :meth:`to_dict`."""

        def p(s: str) -> tuple[str, str]:
            a, b = s.split("-")
            if a not in chemical_symbols or b not in chemical_symbols:
                raise InputError(f"bad species pair {s!r} in bond-polarizability parameters")
            return (a, b)

        try:
            return cls(
                pair_cutoffs_A={p(s): float(v) for s, v in data["pair_cutoffs_A"].items()},
                taper_A=float(data["taper_A"]),
                r0_A={p(s): float(v) for s, v in data["r0_A"].items()},
                params={p(s): np.asarray(v, dtype=float) for s, v in data["params"].items()},
                atom_params={s: float(v) for s, v in data["atom_params"].items()},
            )
        except KeyError as exc:
            raise InputError(f"bond-polarizability parameters lack the field {exc}") from None

    def save(self, path: str | Path) -> Path:
        """Write the parameters as JSON (atomically)."""
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> BondPolarizabilityModel:
        """Read parameters written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(
                f"{path}: cannot read bond-polarizability parameters ({exc})"
            ) from None
        return cls.from_dict(data)


def fit_bond_model(
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    key: str = POLARIZABILITY_KEY,
    elements: Sequence[str] | None = None,
    ridge: float = DEFAULT_RIDGE,
) -> tuple[BondPolarizabilityModel, dict[str, object]]:
    """Fit :class:`BondPolarizabilityModel` to labelled structures and save it
    (``ionraman polarizability fit DATA --kind bond -o OUT.json``).

    ``elements``: use only the structures made of these elements (e.g. leave out a dopant with
    too few labels to fix its parameters). ``ridge``: see :data:`DEFAULT_RIDGE`. Writes the
    parameters to ``out`` and a report to ``out`` with suffix ``.fit.json``: number of
    structures, training RMSE over the 9 components (Å³), provenance (data file hash, package
    versions, ``elements``, ``ridge``).
    """
    from ionraman._io import provenance
    from ionraman.polarizability.labelled import load_labelled
    from ionraman.polarizability.scores import reference_alpha
    from ionraman.validate import check_output_file

    check_output_file(out)
    frames = load_labelled(data, key)
    if elements:
        allowed = set(elements)
        frames = [a for a in frames if set(a.get_chemical_symbols()) <= allowed]
        if not frames:
            raise InputError(f"{data}: no labelled structure made only of {sorted(allowed)}")
    model = BondPolarizabilityModel().fit(frames, ridge=ridge)
    ref = reference_alpha(frames, POLARIZABILITY_KEY)
    rmse = float(np.sqrt(np.mean((model.predict_alpha(frames) - ref) ** 2)))
    out = model.save(out)
    report: dict[str, object] = {
        "model": "bond-polarizability",
        "n_train": len(frames),
        "train_rmse_A3": rmse,
        "species": sorted(model.atom_params),
        "provenance": provenance(
            {"key": key, "elements": sorted(elements) if elements else None, "ridge": ridge},
            {"model": out, "data": Path(data)},
        ),
    }
    write_json_atomic(out.with_suffix(".fit.json"), report)
    return model, report
