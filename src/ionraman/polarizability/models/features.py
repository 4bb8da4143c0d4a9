"""Cartesian moment features of atomic environments (PyTorch), and the bond baseline in PyTorch.

For atom ``i``, neighbour-species channel ``c`` and radial function ``g_k`` (cubic B-splines times a
smooth C² cutoff), the moments over neighbours ``j`` of species ``c`` within the cutoff are

.. math::

    A^{(0)}_{ck} = Σ_j g_k(r_{ij}),\\quad
    A^{(1)}_{ck} = Σ_j g_k(r_{ij})\\, \\hat r_{ij},\\quad
    A^{(2)}_{ck} = Σ_j g_k(r_{ij})\\, (\\hat r_{ij} \\hat r_{ij}^T − I/3).

They transform as a scalar, a vector and a symmetric traceless (ℓ = 2) tensor under rotations.
Invariants (``scalar`` features, rotation/permutation invariant):
``A⁰_ck``, ``A¹_ck · A¹_dk`` and ``A²_ck : A²_dk`` (c ≤ d; two- and three-body),
``tr(A²_ck)³ = 3 det A²_ck`` (up to four-body).
Symmetric traceless tensors (``tensor`` features, ℓ = 2 equivariant):
``A²_ck``, ``(A¹_ck A¹_ckᵀ)₀`` and ``(A²_ck A²_ck)₀`` where ``(·)₀`` removes the trace.

Tensors are stored in 6-component form ``(xx, yy, zz, yz, xz, xy)``; the Frobenius product of two
symmetric tensors is ``Σ w6 a b`` with ``w6 = (1, 1, 1, 2, 2, 2)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ionraman.polarizability.models.neighbours import NeighbourList

W6 = (1.0, 1.0, 1.0, 2.0, 2.0, 2.0)
I6 = (1.0, 1.0, 1.0, 0.0, 0.0, 0.0)
_VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def six_to_matrix(t: torch.Tensor) -> torch.Tensor:
    """``[..., 6]`` → symmetric ``[..., 3, 3]``."""
    xx, yy, zz, yz, xz, xy = t.unbind(-1)
    rows = (
        torch.stack([xx, xy, xz], -1),
        torch.stack([xy, yy, yz], -1),
        torch.stack([xz, yz, zz], -1),
    )
    return torch.stack(rows, -2)


def matrix_to_six(m: torch.Tensor) -> torch.Tensor:
    """Symmetric ``[..., 3, 3]`` → ``[..., 6]`` (symmetrised)."""
    s = 0.5 * (m + m.transpose(-1, -2))
    return torch.stack([s[..., a, b] for a, b in _VOIGT], -1)


def sym_det(t: torch.Tensor) -> torch.Tensor:
    """Determinant of symmetric tensors in 6-component form ``[..., 6]`` → ``[...]``."""
    xx, yy, zz, yz, xz, xy = t.unbind(-1)
    return xx * (yy * zz - yz * yz) - xy * (xy * zz - yz * xz) + xz * (xy * yz - yy * xz)


def sym_square(t: torch.Tensor) -> torch.Tensor:
    """Matrix square of symmetric tensors in 6-component form (result in the same form)."""
    xx, yy, zz, yz, xz, xy = t.unbind(-1)
    return torch.stack(
        [
            xx * xx + xy * xy + xz * xz,
            xy * xy + yy * yy + yz * yz,
            xz * xz + yz * yz + zz * zz,
            xy * xz + yy * yz + yz * zz,
            xx * xz + xy * yz + xz * zz,
            xx * xy + xy * yy + xz * yz,
        ],
        -1,
    )


def cubic_bspline(x: torch.Tensor) -> torch.Tensor:
    """Uniform cubic B-spline of unit knot spacing centred at 0 (support ``|x| < 2``, C²)."""
    ax = x.abs()
    inner = (4.0 - 6.0 * ax**2 + 3.0 * ax**3) / 6.0
    outer = (2.0 - ax).clamp_min(0.0) ** 3 / 6.0
    return torch.where(ax < 1.0, inner, outer)


def smooth_cutoff(r: torch.Tensor, cutoff: float, width: float) -> torch.Tensor:
    """1 below ``cutoff − width``, 0 above ``cutoff``, C² smoothstep in between."""
    x = ((r - (cutoff - width)) / width).clamp(0.0, 1.0)
    return 1.0 - x**3 * (10.0 - 15.0 * x + 6.0 * x**2)


class CartesianDescriptor:
    """Feature generator (no trainable parameters, so features of training structures are
    computed once and inference needs no autograd).

    Parameters
    ----------
    species
        Chemical symbols of the neighbour channels (model species, sorted).
    cutoff_A, cutoff_width_A
        Cutoff radius and the width of the smooth taper below it (Å).
    n_radial, r_min_A
        Number of radial functions (uniform cubic B-splines: local, smooth and well conditioned,
        unlike overlapping Gaussians, whose fits need huge cancelling coefficients) and the
        position of the first centre (Å); centres are evenly spaced up to the cutoff.
    """

    def __init__(
        self,
        species: list[str],
        cutoff_A: float = 5.5,
        cutoff_width_A: float = 1.0,
        n_radial: int = 8,
        r_min_A: float = 1.8,
    ) -> None:
        self.species = list(species)
        self.cutoff = float(cutoff_A)
        self.cutoff_width = float(cutoff_width_A)
        self.n_radial = int(n_radial)
        self.r_min = float(r_min_A)
        c, k = len(self.species), self.n_radial
        self.n_pairs = c * (c + 1) // 2
        self.n_scalar = c * k + 2 * self.n_pairs * k + c * k
        self.n_tensor = 3 * c * k
        iu = np.triu_indices(c)
        self._iu = (torch.as_tensor(iu[0]), torch.as_tensor(iu[1]))
        self.centres = np.linspace(self.r_min, self.cutoff, self.n_radial)
        self.width = (self.cutoff - self.r_min) / max(self.n_radial - 1, 1)

    def compute(
        self,
        nl: NeighbourList,
        channels: np.ndarray,
        positions: np.ndarray,
        cells: np.ndarray,
        dtype: torch.dtype = torch.float64,
        bond: TorchBondTerm | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Features of ``F`` frames that share the neighbour list ``nl``.

        Parameters
        ----------
        channels
            ``[N]`` species channel (index into ``species``) of every atom.
        positions, cells
            ``[F, N, 3]`` aligned to ``nl`` (:meth:`NeighbourList.aligned_positions`) and
            ``[F, 3, 3]``, Å.
        bond
            If given, the bond-polarizability baseline is evaluated on the same pairs.

        Returns
        -------
        scalars ``[F, N, n_scalar]``, tensors ``[F, N, n_tensor, 6]``, baseline α ``[F, 6]``
        (Å³, or None).
        """
        pos = torch.as_tensor(np.asarray(positions), dtype=dtype)
        cell = torch.as_tensor(np.asarray(cells), dtype=dtype)
        f, n = pos.shape[0], pos.shape[1]
        c, k = len(self.species), self.n_radial
        ti, tj = torch.as_tensor(nl.i), torch.as_tensor(nl.j)
        ch = torch.as_tensor(channels)
        d = (
            pos[:, tj]
            - pos[:, ti]
            + torch.einsum("pk,fkl->fpl", torch.as_tensor(nl.shift, dtype=dtype), cell)
        )
        r2 = (d * d).sum(-1)
        fi, pi = torch.nonzero(r2 < self.cutoff**2, as_tuple=True)
        d = d[fi, pi]
        r = torch.sqrt(r2[fi, pi])
        ai, aj = ti[pi], tj[pi]
        seg = (fi * n + ai) * c + ch[aj]
        u = d / r[:, None]
        mu = torch.as_tensor(self.centres, dtype=dtype)
        g = cubic_bspline((r[:, None] - mu) / self.width)
        g *= smooth_cutoff(r, self.cutoff, self.cutoff_width)[:, None]
        ux, uy, uz = u.unbind(-1)
        third = 1.0 / 3.0
        rr = torch.stack([ux * ux, uy * uy, uz * uz, uy * uz, ux * uz, ux * uy], -1)
        basis = torch.cat([torch.ones_like(r)[:, None], u, rr], -1)
        basis[:, 4:7] -= third
        moments = torch.zeros(f * n * c, k * 10, dtype=dtype)
        moments.index_add_(0, seg, (g[:, :, None] * basis[:, None, :]).reshape(-1, k * 10))
        scalars, tensors = self._invariants(moments, f, n)
        base = None
        if bond is not None:
            base = bond.total(fi, ch[ai], ch[aj], r, rr, f, ch, n)
        return scalars, tensors, base

    def _invariants(
        self, moments: torch.Tensor, f: int, n: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Invariants and ℓ = 2 tensors from the moments ``[F·N·C, K·10]`` (k-major)."""
        c, k = len(self.species), self.n_radial
        # component-major layout: comp[x] is a contiguous [F·N, C, K] block
        comp = moments.view(f * n, c, k, 10).permute(3, 0, 1, 2).contiguous()
        a0 = comp[0]
        ax, ay, az = comp[1], comp[2], comp[3]
        xx, yy, zz, yz, xz, xy = comp[4], comp[5], comp[6], comp[7], comp[8], comp[9]
        iu, ju = self._iu
        vec = comp[1:4]
        ten = comp[4:10]
        w6 = torch.as_tensor(W6, dtype=moments.dtype)[:, None, None, None]
        g1 = (vec[:, :, iu] * vec[:, :, ju]).sum(0)  # [F·N, C(C+1)/2, K]
        g2 = (ten[:, :, iu] * ten[:, :, ju] * w6).sum(0)
        t3 = 3.0 * (xx * (yy * zz - yz * yz) - xy * (xy * zz - yz * xz) + xz * (xy * yz - yy * xz))
        scalars = torch.cat(
            [
                a0.reshape(f * n, -1),
                g1.reshape(f * n, -1),
                g2.reshape(f * n, -1),
                t3.reshape(f * n, -1),
            ],
            -1,
        )
        v_tr = (ax * ax + ay * ay + az * az) / 3.0
        s_xx = xx * xx + xy * xy + xz * xz
        s_yy = xy * xy + yy * yy + yz * yz
        s_zz = xz * xz + yz * yz + zz * zz
        s_tr = (s_xx + s_yy + s_zz) / 3.0
        tensors = torch.stack(
            [
                torch.cat([xx, ax * ax - v_tr, s_xx - s_tr], 1),
                torch.cat([yy, ay * ay - v_tr, s_yy - s_tr], 1),
                torch.cat([zz, az * az - v_tr, s_zz - s_tr], 1),
                torch.cat([yz, ay * az, xy * xz + yy * yz + yz * zz], 1),
                torch.cat([xz, ax * az, xx * xz + xy * yz + xz * zz], 1),
                torch.cat([xy, ax * ay, xx * xy + xy * yy + xz * yz], 1),
            ],
            -1,
        )  # [F·N, 3C, K, 6]
        return scalars.view(f, n, -1), tensors.view(f, n, 3 * c * k, 6)


class TorchBondTerm:
    """The bond-polarizability model (:class:`~ionraman.polarizability.bond_model.
    BondPolarizabilityModel`) evaluated on the pairs of the descriptor's neighbour list.

    Same formula and bond counting (each unordered bond once, from the heavier species; a
    homonuclear bond seen from both ends with half weight), so it reproduces ``predict`` to
    round-off without a second neighbour search. Bond cutoffs must not exceed the descriptor's.
    """

    def __init__(self, params: dict, species: list[str]) -> None:

        from ionraman.polarizability.bond_model import BondPolarizabilityModel

        model = BondPolarizabilityModel.from_dict(params)
        self.params = params
        self.species = list(species)
        c = len(self.species)
        self.active = np.zeros((c, c))
        self.cut = np.ones((c, c))
        self.r0 = np.zeros((c, c))
        self.theta = np.zeros((c, c, 4))
        self.taper = float(model.taper_A)
        for (a, b), p in model.params.items():
            # like BondPolarizabilityModel.predict: only pairs that have a cutoff are used
            # (from_dict keys every pair heavier species first)
            if (a, b) not in model.pair_cutoffs_A:
                continue
            if a not in self.species or b not in self.species:
                continue
            ia, ib = self.species.index(a), self.species.index(b)
            self.active[ia, ib] = 0.5 if a == b else 1.0
            self.cut[ia, ib] = model.pair_cutoffs_A[(a, b)]
            self.r0[ia, ib] = model.r0_A.get((a, b), 0.0)
            self.theta[ia, ib] = p
        self.atom = np.array([model.atom_params.get(s, np.nan) for s in self.species])
        self.max_cutoff = float(self.cut[self.active > 0].max(initial=0.0))

    def missing_species(self, symbols: set[str]) -> list[str]:
        """Species present in a structure that the bond model has no atomic constant for."""
        return sorted(s for s in symbols if not np.isfinite(self.atom[self.species.index(s)]))

    def total(
        self,
        frame: torch.Tensor,
        ci: torch.Tensor,
        cj: torch.Tensor,
        r: torch.Tensor,
        rr: torch.Tensor,
        n_frames: int,
        channels: torch.Tensor,
        n_atoms: int,
    ) -> torch.Tensor:
        """Baseline α ``[F, 6]`` from pairs (frame index, species channels, length, r̂r̂ᵀ)."""
        dtype = r.dtype
        near = torch.nonzero(r < self.max_cutoff).flatten()  # bonds are short: drop the rest
        frame, ci, cj, r, rr = frame[near], ci[near], cj[near], r[near], rr[near]
        act = torch.as_tensor(self.active, dtype=dtype)[ci, cj]
        cut = torch.as_tensor(self.cut, dtype=dtype)[ci, cj]
        r0 = torch.as_tensor(self.r0, dtype=dtype)[ci, cj]
        th = torch.as_tensor(self.theta, dtype=dtype)[ci, cj]  # [P, 4]
        x = ((r - (cut - self.taper)) / self.taper).clamp(0.0, 1.0)
        w = 0.5 * (1.0 + torch.cos(math.pi * x)) * act * (r < cut)
        dr = r - r0
        par = th[:, 0] + th[:, 1] * dr
        perp = th[:, 2] + th[:, 3] * dr
        i6 = torch.as_tensor(I6, dtype=dtype)
        bond = (w * (par - perp))[:, None] * rr + (w * perp)[:, None] * i6
        out = torch.zeros(n_frames, 6, dtype=dtype).index_add_(0, frame, bond)
        atom = torch.as_tensor(self.atom, dtype=dtype)[channels].sum()
        return out + atom * i6
