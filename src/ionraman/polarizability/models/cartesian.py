"""Cartesian-tensor ensemble model of the polarizability of a periodic structure.

Model
-----
α of a structure is a sum of atomic contributions, each a function of the atom's local
environment within ``cutoff_A`` (default 5.5 Å, smooth C² taper over the last ``cutoff_width_A``):

.. math::

    α = α_\\text{bond} + y \\sum_i \\Big[ s_{Z_i}(q_i)\\, I
        + \\sum_m t_{Z_i, m}(q_i)\\, \\hat T_{i m} \\Big],

where ``q_i`` are rotation-invariant descriptors and ``T_im`` symmetric traceless (ℓ = 2)
tensors built from Cartesian moments of the neighbour density per neighbour species
(:mod:`ionraman.polarizability.models.features`: two-, three- and four-body invariants; the
moment tensors ``A²``, ``(A¹A¹ᵀ)₀`` and ``(A²A²)₀``). ``s`` and ``t`` are small MLPs (with a
linear skip) per central species; ``α_bond`` is the optional bond-polarizability baseline
(Δ-learning, :class:`~ionraman.polarizability.bond_model.BondPolarizabilityModel` fitted first).

Why this design
---------------
* **Exact symmetry by construction**: ``s`` multiplies the identity (ℓ = 0) and ``t`` multiplies
  ℓ = 2 tensors with invariant coefficients, so ``α(Rx) = R α(x) Rᵀ`` holds to round-off for any
  rotation, α is symmetric, and sums over neighbours/atoms make it permutation invariant; only
  interatomic vectors enter (translation invariance); a sum of local terms is extensive
  (a 2×2×2 supercell gives exactly 8 α), and a model trained on small DFT cells applies to MD
  supercells and other compositions made of the same species.
* **Speed on a few CPU cores**: no spherical harmonics, Clebsch–Gordan products or message
  passing (the cost of MACE-type polarizability models); the descriptors have no trainable
  parameters, so one pass over the pairs (one B-spline basis, one outer product, one
  scatter-add) serves all ensemble members, training works on precomputed features, and an MD
  trajectory is streamed in batches with a Verlet-skin neighbour list reused across frames
  (:mod:`ionraman.polarizability.models.neighbours`).
* **Small data**: DFT polarizabilities exist for tens to hundreds of small cells. A baseline
  carrying the bond physics, a linear skip inside the MLPs, weight decay, early stopping and an
  ensemble keep the learned part small. Frames are flagged by the ensemble spread and by a
  training-domain check on the atoms' features (:mod:`~ionraman.polarizability.models.domain`;
  the spread alone missed strained and heavily rattled cells). With tens of structures, fit
  with ``val_fraction=0`` (the training loss stops the fit): early stopping on a validation
  split of 3 structures stopped every member at epoch 1 on the Na–Sb–S data (models README).
  ``solver="ridge"`` solves linear heads in closed form instead (kernel ridge on the same
  features).
* **Spectra depend on fluctuations**: the fit weights δα = α − ⟨α⟩ (fluctuations about the
  mean of structures of the same composition and size) as well as α, so the mean
  polarizability (irrelevant to a spectrum) does not dominate it.

Fitting (validation split, baseline, normalisation, loss, the two solvers, the fit report and
``ionraman polarizability fit``) is :mod:`ionraman.polarizability.models.fitting`, which uses
this module.

Units: Å, Å³. Persisted as one ``torch.save`` file of tensors and plain Python values, read back
with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import copy
import hashlib
import io
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.data import chemical_symbols

from ionraman._io import atomic_path, file_sha256, package_versions
from ionraman.errors import InputError
from ionraman.polarizability.bond_model import BondPolarizabilityModel
from ionraman.polarizability.models.domain import FeatureDomain
from ionraman.polarizability.models.features import (
    I6,
    W6,
    CartesianDescriptor,
    TorchBondTerm,
)
from ionraman.polarizability.models.neighbours import (
    NEIGHBOUR_BACKEND,
    NeighbourList,
    segment_frames,
)
from ionraman.polarizability.protocol import StoreAlpha
from ionraman.validate import check_count

MODEL_NAME = "cartesian-tensor"
MODEL_FORMAT = "ionraman-polarizability-model"
MODEL_FORMAT_VERSION = 1

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
SOLVERS = ("adam", "ridge")


# ----------------------------------------------------------------------------------------------
# configuration and predictions
# ----------------------------------------------------------------------------------------------
@dataclass
class CartesianModelConfig:
    """Hyperparameters (all stored with the model).

    Descriptor: ``cutoff_A``, ``cutoff_width_A`` (smooth taper width), ``n_radial`` cubic
    B-splines from ``r_min_A`` to the cutoff. Heads: ``hidden`` layer widths of the
    per-species MLPs (``solver="adam"`` only; ridge heads are linear).
    Fit: ``solver`` ``"adam"`` (default: MLP heads, gradient descent) or ``"ridge"`` (linear
    heads solved in closed form, penalty chosen from ``ridge_penalties`` by ``cv_folds``-fold
    cross-validation over the training structures; see :func:`ionraman.polarizability.models.
    fitting._train_ridge`: deterministic and 15–40× faster to fit, less accurate on the
    Na–Sb–S data, models README). ``ensemble_size`` members fitted on random
    ``subsample`` fractions of the training split (seeds ``seed + k``); ``val_fraction`` of
    the data (when no validation set is given) for metrics, the spread threshold and, for
    ``adam``, early stopping (with few structures, 0: then the training loss stops it after
    ``patience`` epochs without gain, at most ``max_epochs``); Adam(W) with ``learning_rate``
    (cosine decay) and ``weight_decay``; ``delta_weight`` weights the δα loss term against
    the full-tensor term (both solvers); ``baseline`` fits the bond-polarizability model
    first and learns the residual. Flagging: a frame is flagged
    when its ensemble spread per atom exceeds ``flag_factor`` × the ``flag_quantile`` quantile
    of the validation spreads per atom, or when more than ``domain_atom_fraction`` of its atoms
    lie outside the training domain (:mod:`~ionraman.polarizability.models.domain`: farther
    from every training atom, in the heads' feature metric, than the species' radius, its
    median leave-one-structure-out distance × the ``domain_quantile`` quantile of these
    distances over their species medians, pooled over species). Inference: ``skin_A`` of the
    reused neighbour list.
    """

    cutoff_A: float = 5.5
    cutoff_width_A: float = 1.0
    n_radial: int = 8
    r_min_A: float = 1.8
    hidden: tuple[int, ...] = (16,)
    solver: str = "adam"
    ridge_penalties: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4)
    cv_folds: int = 5
    ensemble_size: int = 4
    baseline: bool = True
    delta_weight: float = 2.0
    val_fraction: float = 0.2
    subsample: float = 0.9
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    max_epochs: int = 3000
    patience: int = 200
    seed: int = 0
    flag_quantile: float = 1.0
    flag_factor: float = 1.0
    domain_atom_fraction: float = 0.05
    domain_quantile: float = 0.995
    skin_A: float = 1.0

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        self.ridge_penalties = tuple(float(x) for x in self.ridge_penalties)
        if self.solver not in SOLVERS:
            raise InputError(f"solver {self.solver!r}: expected one of {list(SOLVERS)}")
        if not self.ridge_penalties or min(self.ridge_penalties) <= 0:
            raise InputError("ridge_penalties must be a non-empty list of positive numbers")
        if self.cv_folds < 2:
            raise InputError(f"cv_folds must be >= 2, got {self.cv_folds}")
        if not 0 < self.cutoff_width_A <= self.cutoff_A:
            raise InputError("cutoff_width_A must lie in (0, cutoff_A]")
        if self.n_radial < 1 or self.ensemble_size < 1:
            raise InputError("n_radial and ensemble_size must be >= 1")
        check_count(self.max_epochs, "max_epochs", minimum=1)
        if not 0.0 <= self.val_fraction < 1.0 or not 0.0 < self.subsample <= 1.0:
            raise InputError("val_fraction must be in [0, 1) and subsample in (0, 1]")
        if self.skin_A < 0:
            raise InputError("skin_A must be >= 0")
        if not 0.0 <= self.domain_atom_fraction <= 1.0:
            raise InputError("domain_atom_fraction must be in [0, 1]")
        if not 0.0 < self.domain_quantile <= 1.0:
            raise InputError("domain_quantile must be in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["ridge_penalties"] = list(self.ridge_penalties)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CartesianModelConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"unknown model hyperparameters: {sorted(unknown)}")
        return cls(**data)


@dataclass
class Prediction:
    """Ensemble prediction for ``S`` frames.

    alpha ``[S, 3, 3]`` (Å³, ensemble mean), members ``[K, S, 3, 3]``, spread ``[S]`` (Å³: RMS over
    the 9 components of the ensemble standard deviation), spread_per_atom ``[S]`` (Å³),
    outside_fraction ``[S]`` (fraction of the atoms outside the training domain, ρ > 1),
    rho_max ``[S]`` (largest ρ of the frame; :mod:`~ionraman.polarizability.models.domain`),
    and the flags derived from them: flagged_by_spread ``[S]`` (spread per atom above
    ``threshold_per_atom``), flagged_by_domain ``[S]`` (outside_fraction above
    ``domain_atom_fraction``), flagged ``[S]`` (either).
    """

    alpha: np.ndarray
    members: np.ndarray
    spread: np.ndarray
    spread_per_atom: np.ndarray
    outside_fraction: np.ndarray
    rho_max: np.ndarray
    threshold_per_atom: float
    domain_atom_fraction: float

    @property
    def flagged_by_spread(self) -> np.ndarray:
        return self.spread_per_atom > self.threshold_per_atom

    @property
    def flagged_by_domain(self) -> np.ndarray:
        return self.outside_fraction > self.domain_atom_fraction

    @property
    def flagged(self) -> np.ndarray:
        return self.flagged_by_spread | self.flagged_by_domain

    @property
    def flagged_fraction(self) -> float:
        return float(self.flagged.mean()) if self.flagged.size else 0.0


@dataclass
class StorePrediction(Prediction):
    """:class:`Prediction` of every frame of a trajectory store, with timing and provenance."""

    path: Path = field(default_factory=Path)
    written: bool = False
    frames_per_s: float = math.nan
    neighbour_builds: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# Voigt forms
# ----------------------------------------------------------------------------------------------
def _to6(m: np.ndarray) -> np.ndarray:
    """3×3 tensors ``[..., 3, 3]`` → Voigt order ``[..., 6]`` (xx, yy, zz, yz, xz, xy)."""
    return np.stack(
        [m[..., 0, 0], m[..., 1, 1], m[..., 2, 2], m[..., 1, 2], m[..., 0, 2], m[..., 0, 1]], -1
    )


def _to33(v: np.ndarray) -> np.ndarray:
    """Voigt order ``[..., 6]`` → symmetric 3×3 tensors ``[..., 3, 3]`` (inverse of
    :func:`_to6`)."""
    xx, yy, zz, yz, xz, xy = np.moveaxis(v, -1, 0)
    return np.stack(
        [np.stack([xx, xy, xz], -1), np.stack([xy, yy, yz], -1), np.stack([xz, yz, zz], -1)], -2
    )


# ----------------------------------------------------------------------------------------------
# network
# ----------------------------------------------------------------------------------------------
class _StackedHeads(torch.nn.Module):
    """Per-species MLPs (with a linear skip) of all ensemble members, stacked on a leading axis.

    Members are independent (disjoint parameters, element-wise optimiser), so training them
    together is training them separately, in one pass.
    """

    def __init__(
        self, n_members: int, species: Sequence[str], n_in: int, n_out: int, hidden: Sequence[int]
    ) -> None:
        super().__init__()
        self.n_members, self.species = n_members, list(species)
        self.widths = [n_in, *hidden, n_out]
        self.weights = torch.nn.ParameterDict()
        for s in self.species:
            for layer, (a, b) in enumerate(itertools_pairwise(self.widths)):
                self.weights[f"{s}_w{layer}"] = torch.nn.Parameter(torch.empty(n_members, a, b))
                self.weights[f"{s}_b{layer}"] = torch.nn.Parameter(torch.zeros(n_members, 1, b))
            self.weights[f"{s}_skip"] = torch.nn.Parameter(torch.zeros(n_members, n_in, n_out))

    def reset(self, generator: torch.Generator) -> None:
        with torch.no_grad():
            n_layers = len(self.widths) - 1
            for s in self.species:
                for layer, (a, _b) in enumerate(itertools_pairwise(self.widths)):
                    w = self.weights[f"{s}_w{layer}"]
                    scale = (1.0 / a) ** 0.5 if layer < n_layers - 1 else 0.1 / a**0.5
                    w.copy_(torch.randn(w.shape, generator=generator, dtype=w.dtype) * scale)
                    self.weights[f"{s}_b{layer}"].zero_()
                self.weights[f"{s}_skip"].zero_()

    def forward(self, species: str, q: torch.Tensor) -> torch.Tensor:
        """``q [A, n_in]`` (normalised) → ``[K, A, n_out]``."""
        n_layers = len(self.widths) - 1
        x = q.expand(self.n_members, *q.shape)
        h = x
        for layer in range(n_layers):
            h = torch.baddbmm(
                self.weights[f"{species}_b{layer}"], h, self.weights[f"{species}_w{layer}"]
            )
            if layer < n_layers - 1:
                h = torch.nn.functional.silu(h)
        return torch.baddbmm(h, x, self.weights[f"{species}_skip"])


def itertools_pairwise(seq: Sequence[int]) -> list[tuple[int, int]]:
    return [(seq[k], seq[k + 1]) for k in range(len(seq) - 1)]


# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------
class CartesianTensorModel:
    """Ensemble of Cartesian-tensor polarizability models (see the module docstring).

    Create with a config and fit it (:func:`~ionraman.polarizability.models.fitting.
    fit_ensemble`), or :meth:`load` a saved one; then :meth:`predict` structures or
    :meth:`predict_store` a trajectory store.
    """

    def __init__(self, config: CartesianModelConfig | None = None, **overrides: Any) -> None:
        base = config.to_dict() if config is not None else {}
        base.update(overrides)
        self.config = CartesianModelConfig.from_dict(base)
        self.species: list[str] = []
        self.descriptor: CartesianDescriptor | None = None
        self.heads: _StackedHeads | None = None
        self.baseline: BondPolarizabilityModel | None = None
        self._bond: TorchBondTerm | None = None
        self.q_mean = self.q_std = self.t_scale = None  # type: ignore[assignment]
        self.y_scale = 1.0
        self.threshold_per_atom = math.inf
        self.domain: FeatureDomain | None = None
        self.report: dict[str, Any] = {}
        self._sha256: str | None = None
        self.source_path: Path | None = None

    # ------------------------------------------------------------------ set-up
    def _setup(self, species: Sequence[str]) -> None:
        cfg = self.config
        self.species = sorted(species, key=lambda s: chemical_symbols.index(s))
        self.descriptor = CartesianDescriptor(
            self.species, cfg.cutoff_A, cfg.cutoff_width_A, cfg.n_radial, cfg.r_min_A
        )
        d = self.descriptor
        hidden = cfg.hidden if cfg.solver == "adam" else ()
        self.heads = _StackedHeads(
            cfg.ensemble_size, self.species, d.n_scalar, 1 + d.n_tensor, hidden
        ).double()

    def _set_baseline(self, model: BondPolarizabilityModel | None) -> None:
        self.baseline = model
        self._bond = None
        if model is not None:
            self._bond = TorchBondTerm(model.to_dict(), self.species)
            if self._bond.max_cutoff > self.config.cutoff_A:
                raise InputError(
                    f"bond-model cutoffs ({self._bond.max_cutoff} Å) exceed the model cutoff "
                    f"({self.config.cutoff_A} Å)"
                )

    @property
    def fitted(self) -> bool:
        return self.heads is not None and self.q_mean is not None

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise InputError("the polarizability model is not fitted (call fit or load)")

    def _channels(self, symbols: Sequence[str], where: str) -> np.ndarray:
        unknown = sorted(set(symbols) - set(self.species))
        if unknown:
            raise InputError(
                f"{where}: species {unknown} are not in the model (trained on {self.species})"
            )
        if self._bond is not None:
            missing = self._bond.missing_species(set(symbols))
            if missing:
                raise InputError(f"{where}: the baseline has no parameters for {missing}")
        index = {s: k for k, s in enumerate(self.species)}
        return np.array([index[s] for s in symbols], dtype=np.int64)

    # ------------------------------------------------------------------ features
    def _structure_features(
        self, atoms: Atoms, where: str
    ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
        """Per-atom features of one structure (float64) and its baseline α (6)."""
        assert self.descriptor is not None
        symbols = atoms.get_chemical_symbols()
        channels = self._channels(symbols, where)
        nl = NeighbourList.build(
            atoms.positions, atoms.cell.array, atoms.pbc, self.config.cutoff_A, 0.0
        )
        with torch.no_grad():
            q, t, base = self.descriptor.compute(
                nl,
                channels,
                atoms.positions[None],
                atoms.cell.array[None],
                torch.float64,
                bond=self._bond,
            )
        b = base[0].numpy() if base is not None else np.zeros(6)
        return q[0], t[0], channels, b

    # ------------------------------------------------------------------ core evaluation
    def _heads_alpha(
        self,
        q: torch.Tensor,
        t: torch.Tensor,
        channels: torch.Tensor,
        owner: torch.Tensor,
        n_owner: int,
        heads: _StackedHeads | None = None,
    ) -> torch.Tensor:
        """α (6-form, without the baseline) per member and owner: ``[K, n_owner, 6]``.

        ``q [A, n_scalar]``, ``t [A, n_tensor, 6]``, ``channels [A]`` (central species),
        ``owner [A]`` (structure/frame of each atom).
        """
        heads = heads if heads is not None else self.heads
        assert heads is not None
        dtype = q.dtype
        k = self.config.ensemble_size
        out = torch.zeros(k, n_owner, 6, dtype=torch.float64)
        i6 = torch.as_tensor(I6, dtype=dtype)
        t_scale = self.t_scale.to(dtype)
        for z, symbol in enumerate(self.species):
            sel = torch.nonzero(channels == z).flatten()
            if sel.numel() == 0:
                continue
            qz = (q[sel] - self.q_mean[z].to(dtype)) / self.q_std[z].to(dtype)
            o = heads(symbol, qz)  # [K, A_z, 1 + n_tensor]
            contrib = torch.einsum("kam,amx->kax", o[..., 1:] / t_scale, t[sel])
            contrib = contrib + o[..., :1] * i6
            out.index_add_(1, owner[sel], contrib.to(torch.float64))
        return out * self.y_scale

    def _predict_system(
        self,
        symbols: Sequence[str],
        positions: np.ndarray,
        cells: np.ndarray,
        pbc: np.ndarray,
        dtype: torch.dtype,
        compute_frames: int,
        where: str,
        state: dict[str, Any],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Members' α ``[K, F, 6]`` of frames of one system (same atoms, in order), and per
        frame the fraction of atoms outside the training domain and the largest ρ (``[F]``).
        ``state`` carries the neighbour list between calls and accumulates, per species
        channel, the atoms seen and those outside the domain (``atoms_by_species``,
        ``outside_by_species``)."""
        assert self.descriptor is not None and self.heads is not None
        channels = self._channels(symbols, where)
        ch = torch.as_tensor(channels)
        n = len(symbols)
        runs, state["nl"], builds = segment_frames(
            positions, cells, pbc, self.config.cutoff_A, self.config.skin_A, state.get("nl")
        )
        state["builds"] = state.get("builds", 0) + builds
        out = np.empty((self.config.ensemble_size, positions.shape[0], 6))
        outside, rho_max = np.zeros(positions.shape[0]), np.zeros(positions.shape[0])
        heads = self._heads_as(dtype)
        with torch.inference_mode():
            for nl, idx, pos in runs:
                for c0 in range(0, idx.size, compute_frames):
                    sub = idx[c0 : c0 + compute_frames]
                    f = sub.size
                    q, t, base = self.descriptor.compute(
                        nl, channels, pos[c0 : c0 + f], cells[sub], dtype, bond=self._bond
                    )
                    owner = torch.arange(f).repeat_interleave(n)
                    q, chf = q.reshape(f * n, -1), ch.repeat(f)
                    a = self._heads_alpha(q, t.reshape(f * n, -1, 6), chf, owner, f, heads)
                    if base is not None:
                        a = a + base.to(torch.float64)
                    out[:, sub] = a.numpy()
                    if self.domain is not None:
                        rho = self.domain.ratios(self._normalised(q, chf), chf)
                        outside[sub], rho_max[sub] = self.domain.frame_summary(
                            rho, np.full(f, n)
                        )
                        n_species = len(self.species)
                        for name, counts in (("atoms_by_species", chf),
                                             ("outside_by_species", chf[rho > 1.0])):
                            state[name] = state.get(name, 0) + np.bincount(
                                counts.numpy(), minlength=n_species
                            )
        return out, outside, rho_max

    def normalised_features(self, atoms: Atoms) -> tuple[torch.Tensor, torch.Tensor]:
        """Invariant features of each atom as the heads (and the training-domain check) see
        them, ``[A, F]`` (float64), and each atom's species channel ``[A]``."""
        self._require_fitted()
        q, _, channels, _ = self._structure_features(atoms, "structure")
        ch = torch.as_tensor(channels)
        return self._normalised(q, ch), ch

    def _normalised(self, q: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
        """Scalar features as the heads see them: ``(q − mean) / scale`` of each atom's species."""
        return (q - self.q_mean[channels].to(q.dtype)) / self.q_std[channels].to(q.dtype)

    def _heads_as(self, dtype: torch.dtype) -> _StackedHeads:
        """The heads in ``dtype`` (a cached copy for float32)."""
        assert self.heads is not None
        if dtype == torch.float64:
            return self.heads
        cached = getattr(self, "_heads_cache", None)
        if cached is None or cached[0] is not self.heads or cached[1] != dtype:
            cached = (self.heads, dtype, copy.deepcopy(self.heads).to(dtype))
            self._heads_cache = cached
        return cached[2]

    def _finish(
        self, members6: np.ndarray, n_atoms: np.ndarray, outside: np.ndarray, rho_max: np.ndarray
    ) -> Prediction:
        members = _to33(members6)
        var = members6.var(axis=0) if members6.shape[0] > 1 else np.zeros(members6.shape[1:])
        spread = np.sqrt((var * np.asarray(W6)).sum(-1) / 9.0)
        per_atom = spread / n_atoms
        return Prediction(
            alpha=members.mean(axis=0),
            members=members,
            spread=spread,
            spread_per_atom=per_atom,
            outside_fraction=outside,
            rho_max=rho_max,
            threshold_per_atom=float(self.threshold_per_atom),
            domain_atom_fraction=float(self.config.domain_atom_fraction),
        )

    # ------------------------------------------------------------------ public prediction
    def predict(
        self,
        frames: Atoms | Iterable[Atoms],
        *,
        dtype: str = "float64",
        compute_frames: int = 4,
    ) -> Prediction:
        """Ensemble α of structures (any mix of compositions and cell sizes).

        Consecutive structures with the same atoms are evaluated together with a reused
        neighbour list. ``dtype``: ``"float64"`` (default) or ``"float32"`` (faster; sums are
        accumulated in float64).
        """
        self._require_fitted()
        torch_dtype = _dtype(dtype)
        if isinstance(frames, Atoms):
            frames = [frames]
        frames = list(frames)
        if not frames:
            raise InputError("predict needs at least one structure")
        members = np.empty((self.config.ensemble_size, len(frames), 6))
        outside, rho_max = np.zeros(len(frames)), np.zeros(len(frames))
        n_atoms = np.array([len(a) for a in frames], dtype=float)
        k = 0
        while k < len(frames):
            first = frames[k]
            if first.cell.rank != 3:
                raise InputError(f"structure {k} has no 3D cell")
            end = k + 1
            while (
                end < len(frames)
                and np.array_equal(frames[end].numbers, first.numbers)
                and np.array_equal(frames[end].pbc, first.pbc)
            ):
                end += 1
            pos = np.array([a.positions for a in frames[k:end]])
            cells = np.array([a.cell.array for a in frames[k:end]])
            members[:, k:end], outside[k:end], rho_max[k:end] = self._predict_system(
                first.get_chemical_symbols(),
                pos,
                cells,
                first.pbc,
                torch_dtype,
                compute_frames,
                f"structure {k}",
                {},
            )
            k = end
        return self._finish(members, n_atoms, outside, rho_max)

    # ------------------------------------------------------------------ the model protocol
    kind = "cartesian-tensor"

    def predict_alpha(self, frames: Iterable[Atoms]) -> np.ndarray:
        """α of structures, ``[S, 3, 3]`` Å³: the ensemble mean of :meth:`predict`
        (:class:`~ionraman.polarizability.protocol.PolarizabilityModel`)."""
        return np.asarray(self.predict(list(frames)).alpha, dtype=float)

    def alpha_of_store(
        self,
        path: str | os.PathLike[str],
        *,
        batch_frames: int = 256,
        dtype: str = "float32",
        threads: int | None = None,
    ) -> StoreAlpha:
        """α of every frame of a store (:meth:`predict_store` without writing) and the trust
        diagnostics: flagged fraction, mean ensemble spread (Å³), training-domain fractions.
        ``threads``: torch intra-op threads (unchanged when None)."""
        if threads is not None:
            torch.set_num_threads(int(threads))
        pred = self.predict_store(path, write=False, batch_frames=batch_frames, dtype=dtype)
        return StoreAlpha(
            pred.alpha,
            {
                "model_kind": self.kind,
                "flagged_fraction": float(pred.flagged_fraction),
                "spread_mean_A3": float(np.mean(pred.spread)),
                "outside_fraction_mean": float(np.mean(pred.outside_fraction)),
                "outside_fraction_by_species": pred.metadata.get(
                    "outside_fraction_by_species", {}
                ),
            },
        )

    def predict_store(
        self,
        path: str | os.PathLike[str],
        *,
        batch_frames: int = 256,
        write: bool = True,
        dtype: str = "float32",
        compute_frames: int = 4,
    ) -> StorePrediction:
        """Ensemble α of every committed frame of a trajectory store, streamed in batches.

        Parameters
        ----------
        path
            Trajectory store (:mod:`ionraman.trajectory`).
        batch_frames
            Frames read from the store at a time (memory ∝ batch_frames × atoms).
        write
            Write the ensemble-mean α into the store (:func:`~ionraman.trajectory.
            write_polarizability`) with metadata: model name, format version, file hash,
            ensemble size, spread threshold and flagged fraction.
        dtype
            ``"float32"`` (default; per-atom terms in single precision, sums in double; relative
            error ~1e-7 of α, far below the fluctuations a spectrum is made of) or
            ``"float64"``.
        compute_frames
            Frames evaluated per tensor operation.
        """
        from ionraman.trajectory import open_trajectory, write_polarizability

        self._require_fitted()
        torch_dtype = _dtype(dtype)
        if int(batch_frames) < 1:
            raise InputError(f"batch_frames must be >= 1, got {batch_frames}")
        path = Path(path)
        t0 = time.perf_counter()
        state: dict[str, Any] = {}
        with open_trajectory(path) as traj:
            n_frames = traj.n_frames
            if n_frames == 0:
                raise InputError(f"{path}: the store has no frames")
            symbols = traj.symbols
            pbc = traj.pbc
            members = np.empty((self.config.ensemble_size, n_frames, 6))
            outside, rho_max = np.zeros(n_frames), np.zeros(n_frames)
            for i0, pos in traj.iter_chunks("positions", int(batch_frames)):
                i1 = i0 + pos.shape[0]
                cells = traj.read("cells", i0, i1)
                members[:, i0:i1], outside[i0:i1], rho_max[i0:i1] = self._predict_system(
                    symbols, pos, cells, pbc, torch_dtype, compute_frames, str(path), state
                )
        elapsed = time.perf_counter() - t0
        base = self._finish(members, np.full(n_frames, float(len(symbols))), outside, rho_max)
        flagged_idx = np.flatnonzero(base.flagged)
        meta = {
            "model": MODEL_NAME,
            "model_format_version": MODEL_FORMAT_VERSION,
            "model_sha256": self.sha256,
            "model_path": str(self.source_path) if self.source_path else None,
            "ensemble_size": self.config.ensemble_size,
            "baseline": "bond-polarizability" if self.baseline is not None else None,
            "dtype": dtype,
            "species": self.species,
            "spread_threshold_per_atom_A3": _finite_or_none(self.threshold_per_atom),
            "flagged_fraction": base.flagged_fraction,
            "n_flagged": int(flagged_idx.size),
            "first_flagged_frames": flagged_idx[:100].tolist(),
            "n_flagged_spread": int(base.flagged_by_spread.sum()),
            "n_flagged_domain": int(base.flagged_by_domain.sum()),
            "domain_atom_fraction": base.domain_atom_fraction,
            "outside_fraction_mean": float(base.outside_fraction.mean()),
            "outside_fraction_by_species": {
                s: float(o / a)
                for s, o, a in zip(self.species, state["outside_by_species"],
                                   state["atoms_by_species"], strict=True)
                if a > 0
            } if "atoms_by_species" in state else {},  # empty without a training domain
            "rho_max": float(base.rho_max.max()),
            "spread_mean_A3": float(base.spread.mean()),
            "spread_max_A3": float(base.spread.max()),
            "packages": package_versions(),
        }
        if write:
            write_polarizability(path, base.alpha, metadata=meta)
        return StorePrediction(
            **base.__dict__,
            path=path,
            written=bool(write),
            frames_per_s=n_frames / elapsed if elapsed > 0 else math.inf,
            neighbour_builds=int(state.get("builds", 0)),
            metadata=meta,
        )

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the model: tensors and plain Python values only."""
        self._require_fitted()
        assert self.heads is not None
        return {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "model": MODEL_NAME,
            "config": self.config.to_dict(),
            "species": list(self.species),
            "heads": {k: v.detach().clone() for k, v in self.heads.state_dict().items()},
            "q_mean": self.q_mean.clone(),
            "q_std": self.q_std.clone(),
            "t_scale": self.t_scale.clone(),
            "y_scale": float(self.y_scale),
            "threshold_per_atom": _finite_or_none(self.threshold_per_atom),
            "domain": self.domain.state() if self.domain is not None else None,
            "baseline": self.baseline.to_dict() if self.baseline is not None else None,
            "report": _plain(self.report),
            "packages": package_versions(),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to one file (atomically); returns the path."""
        payload = self.state()
        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
        self._sha256 = file_sha256(path)
        self.source_path = path
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CartesianTensorModel:
        """Read a model written by :meth:`save` (``torch.load(weights_only=True)``)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"polarizability model not found: {path}")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle, zip and torch errors of a bad file
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path}: not a readable polarizability model ({msg})") from None
        model = cls.from_state(payload, where=str(path))
        model._sha256 = file_sha256(path)
        model.source_path = path
        return model

    @classmethod
    def from_state(cls, payload: Any, where: str = "model") -> CartesianTensorModel:
        if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
            raise InputError(f"{where}: not an ionraman polarizability model file")
        version = payload.get("format_version")
        if version != MODEL_FORMAT_VERSION:
            raise InputError(
                f"{where}: model format version {version}; this ionraman reads "
                f"{MODEL_FORMAT_VERSION}"
            )
        try:
            model = cls(CartesianModelConfig.from_dict(dict(payload["config"])))
            model._setup(payload["species"])
            assert model.heads is not None
            model.heads.load_state_dict(payload["heads"])
            model.q_mean = payload["q_mean"].double()
            model.q_std = payload["q_std"].double()
            model.t_scale = payload["t_scale"].double()
            model.y_scale = float(payload["y_scale"])
            thr = payload.get("threshold_per_atom")
            model.threshold_per_atom = math.inf if thr is None else float(thr)
            domain = payload.get("domain")
            model.domain = FeatureDomain.from_state(domain) if domain else None
            base = payload.get("baseline")
            model._set_baseline(BondPolarizabilityModel.from_dict(base) if base else None)
            model.report = dict(payload.get("report") or {})
        except (KeyError, TypeError, RuntimeError, AttributeError) as exc:
            raise InputError(f"{where}: incomplete or inconsistent model file ({exc})") from None
        return model

    @property
    def sha256(self) -> str:
        """SHA-256 of the saved file (or of the serialised state of an unsaved model)."""
        if self._sha256 is None:
            buf = io.BytesIO()
            torch.save(self.state(), buf)
            self._sha256 = hashlib.sha256(buf.getvalue()).hexdigest()
        return self._sha256


# ----------------------------------------------------------------------------------------------
# entry points for the command line
# ----------------------------------------------------------------------------------------------
def predict_store(
    traj_path: str | os.PathLike[str],
    model: str | os.PathLike[str] | CartesianTensorModel,
    *,
    batch_frames: int = 256,
    write: bool = True,
    dtype: str = "float32",
    threads: int | None = None,
) -> StorePrediction:
    """α of every frame of a trajectory store (``ionraman polarizability predict``).

    ``model``: a saved model file or a model object; ``threads``: torch intra-op threads
    (default: leave torch's setting).
    """
    check_count(threads, "threads")
    if not isinstance(model, CartesianTensorModel):
        model = CartesianTensorModel.load(model)
    if threads is not None:
        torch.set_num_threads(threads)
    return model.predict_store(traj_path, batch_frames=batch_frames, write=write, dtype=dtype)


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _dtype(name: str) -> torch.dtype:
    try:
        return _DTYPES[name]
    except KeyError:
        raise InputError(f"dtype must be one of {sorted(_DTYPES)}, got {name!r}") from None


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _plain(obj: Any) -> Any:
    """Copy of a JSON-like object with NumPy scalars/arrays turned into Python values."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def neighbour_backend() -> str:
    """``"matscipy"`` or ``"ase"``: the neighbour search in use."""
    return NEIGHBOUR_BACKEND
