"""Training domain of a learned model: is an atom's environment like one it was fitted on?

An ensemble's spread is cheap but, for members that share the architecture, the baseline and
most of the data, it stays small far from the data (measured on the Na–Sb–S model: a 5 %
compressed cell or a 0.3 Å rattle gave spreads below those of ordinary training structures;
models README). This module adds the check that interatomic-potential codes use for the same
purpose, in the model's own feature metric:

* every training atom's normalised invariant features ``q`` (the inputs of the per-species
  heads) are kept (at most ``max_atoms`` per species, a random subset beyond that);
* every training atom's leave-one-structure-out distance ``d`` (to its nearest training atom of
  the same species in *another* structure) says how far an atom of an unseen structure lies
  from the data. The *radius* of a species is ``median_z(d) × Q``: its typical distance times
  one scale ``Q``, the ``quantile`` of the pooled ratios ``d / median_z(d)`` of all species.
  Pooling makes ``Q`` a statistic of hundreds of atoms, not of the most isolated atom of one
  species (the older rule, a species' largest ``d``, moved the Sb radius by a factor 1.8 when
  9 labels were added; models README). ``quantile = 1`` is the pooled maximum;
* an atom of a new structure gets the ratio ρ = (distance to the nearest training atom of its
  species) / radius; ρ > 1 means it lies farther from the data than all but a fraction
  ``1 − quantile`` of the training atoms lie from the other training structures, so its
  contribution is an extrapolation.

A frame's summary is the fraction of its atoms with ρ > 1 and the largest ρ
(:meth:`FeatureDomain.frame_summary`); the model flags frames whose fraction exceeds its
``domain_atom_fraction``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

MAX_ATOMS = 1000
_CHUNK = 4096  # query atoms per distance matrix


def nearest_distances(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Distance from each row of ``x [A, F]`` to its nearest row of ``ref [R, F]``: ``[A]``."""
    out = torch.empty(x.shape[0], dtype=torch.float64)
    rr = (ref * ref).sum(1)
    for a in range(0, x.shape[0], _CHUNK):
        xa = x[a : a + _CHUNK]
        d2 = (xa * xa).sum(1)[:, None] + rr[None] - 2.0 * xa @ ref.T
        out[a : a + _CHUNK] = d2.min(1).values.clamp_min(0.0).sqrt().to(torch.float64)
    return out


@dataclass
class FeatureDomain:
    """Per-species training features and radii (see the module docstring).

    ``features[z]`` ``[R_z, F]`` (float32, normalised as the heads see them), ``radius[z]``
    (same units; ``inf`` for a species with atoms in fewer than two training structures,
    whose domain cannot be measured).
    """

    features: list[torch.Tensor]
    radius: list[float]

    @staticmethod
    def loso_distances(
        q: torch.Tensor, channels: torch.Tensor, structure: torch.Tensor, n_species: int,
        *, max_atoms: int = MAX_ATOMS, seed: int = 0,
    ) -> tuple[list[torch.Tensor], list[np.ndarray | None]]:
        """Per species: the kept training features ``[R_z, F]`` and each one's
        leave-one-structure-out nearest-neighbour distance ``[R_z]`` (None for a species with
        atoms in fewer than two structures)."""
        gen = np.random.default_rng(seed)
        features: list[torch.Tensor] = []
        distances: list[np.ndarray | None] = []
        for z in range(n_species):
            sel = torch.nonzero(channels == z).flatten().numpy()
            if sel.size > max_atoms:
                sel = np.sort(gen.choice(sel, max_atoms, replace=False))
            x = q[sel].to(torch.float32)
            owner = structure[sel]
            features.append(x.contiguous())
            if owner.unique().numel() < 2:
                distances.append(None)
                continue
            nn = torch.empty(len(sel), dtype=torch.float64)
            for s in owner.unique():
                mine = owner == s
                nn[mine] = nearest_distances(x[mine], x[~mine])
            distances.append(nn.numpy())
        return features, distances

    @staticmethod
    def radii(distances: Sequence[np.ndarray | None], quantile: float) -> list[float]:
        """Radius per species from its leave-one-structure-out distances (module docstring):
        species median × the ``quantile`` of the pooled median-normalised distances."""
        medians = [float(np.median(d)) if d is not None else math.nan for d in distances]
        pooled = [d / m for d, m in zip(distances, medians, strict=True)
                  if d is not None and m > 0]
        if not pooled:
            return [float(d.max()) if d is not None else math.inf for d in distances]
        scale = float(np.quantile(np.concatenate(pooled), quantile))
        return [math.inf if d is None else m * scale if m > 0 else float(d.max())
                for d, m in zip(distances, medians, strict=True)]

    @classmethod
    def from_training(
        cls,
        q: torch.Tensor,
        channels: torch.Tensor,
        structure: torch.Tensor,
        n_species: int,
        *,
        quantile: float = 1.0,
        max_atoms: int = MAX_ATOMS,
        seed: int = 0,
    ) -> FeatureDomain:
        """Domain of training atoms: ``q [A, F]`` normalised features, ``channels [A]``
        species index, ``structure [A]`` index of each atom's structure; ``quantile`` of the
        pooled normalised distances that sets the radii (:meth:`radii`)."""
        if not 0.0 < quantile <= 1.0:
            raise ValueError(f"quantile must be in (0, 1], got {quantile}")
        features, distances = cls.loso_distances(
            q, channels, structure, n_species, max_atoms=max_atoms, seed=seed
        )
        return cls(features, cls.radii(distances, quantile))

    def ratios(self, q: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
        """ρ per atom ``[A]``: nearest-training-atom distance over the species' radius."""
        out = torch.zeros(q.shape[0], dtype=torch.float64)
        for z, (ref, r) in enumerate(zip(self.features, self.radius, strict=True)):
            sel = torch.nonzero(channels == z).flatten()
            if sel.numel() == 0 or not np.isfinite(r) or ref.shape[0] == 0:
                continue
            out[sel] = nearest_distances(q[sel].to(torch.float32), ref) / max(r, 1e-12)
        return out

    @staticmethod
    def frame_summary(ratios: torch.Tensor, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fraction of atoms with ρ > 1 and largest ρ per frame, from the ``ratios`` of frames
        of ``sizes [F]`` atoms, concatenated in order: two ``[F]`` arrays."""
        rho = ratios.numpy()
        sizes = np.asarray(sizes, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return np.add.reduceat(rho > 1.0, starts) / sizes, np.maximum.reduceat(rho, starts)

    def state(self) -> dict:
        return {"features": [f.clone() for f in self.features], "radius": list(self.radius)}

    @classmethod
    def from_state(cls, state: dict) -> FeatureDomain:
        return cls(
            [torch.as_tensor(f, dtype=torch.float32) for f in state["features"]],
            [float(r) for r in state["radius"]],
        )
