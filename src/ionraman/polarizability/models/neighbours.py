"""Neighbour lists with Verlet-skin reuse across the frames of a trajectory.

The neighbour search is the most expensive step of a local-environment model on a few CPU cores
(ASE's pure-Python ``neighbor_list`` needs ~0.1 s for 432 atoms at 5.5 Å; matscipy's C search,
used when installed, ~4 ms). Frames of an MD trajectory change little from one frame to the next,
so a list built with a larger cutoff ``cutoff + skin`` stays complete for many frames.

Validity test (rigorous, also for a changing cell). A list built on frame 0 (cell ``C₀``,
fractional positions ``f⁰``) with cutoff ``L = cutoff + skin`` holds every pair with
``|D⁰| ≤ L``. On a later frame (cell ``C``), each atom is first mapped to the periodic image
closest to its frame-0 position (``f' = f − round(f − f⁰)`` along periodic directions, which
leaves every interatomic vector unchanged and absorbs the wrapping of atoms across the cell
boundary). The displacement of atom ``a`` measured in the frame-0 cell is
``δ_a = |(f'_a − f⁰_a) C₀|``. A pair missing from the list had ``|D⁰| > L``; its current vector is
``D = D̃ M`` with ``M = C₀⁻¹ C`` and ``|D̃| ≥ |D⁰| − δ_i − δ_j``, hence
``|D| ≥ σ_min(M) (L − δ₁ − δ₂)`` with δ₁, δ₂ the two largest displacements. The list is reused
while ``σ_min(M) (L − δ₁ − δ₂) > cutoff``; otherwise it is rebuilt from the current frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ionraman.errors import InputError

try:  # C implementation, ~25x faster than ASE's for a few hundred atoms
    from matscipy.neighbours import neighbour_list as _matscipy_neighbour_list
except ImportError:  # pragma: no cover - depends on the environment
    _matscipy_neighbour_list = None

NEIGHBOUR_BACKEND = "matscipy" if _matscipy_neighbour_list is not None else "ase"


def neighbour_pairs(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ordered pairs ``i → j`` (``j ≠ i`` or a periodic image) with ``|D| ≤ cutoff``.

    Returns ``i [P]``, ``j [P]`` and integer cell shifts ``S [P, 3]`` such that
    ``D = x_j − x_i + S · cell``. Works for cells smaller than the cutoff (several images).
    """
    positions = np.ascontiguousarray(positions, dtype=float)
    cell = np.ascontiguousarray(cell, dtype=float)
    pbc = np.asarray(pbc, dtype=bool)
    if abs(np.linalg.det(cell)) < 1e-9:
        raise InputError("neighbour search needs a cell with non-zero volume")
    if _matscipy_neighbour_list is not None:
        i, j, s = _matscipy_neighbour_list(
            "ijS", positions=positions, cell=cell, pbc=pbc, cutoff=float(cutoff)
        )
    else:  # pragma: no cover - fallback
        from ase.neighborlist import primitive_neighbor_list

        i, j, s = primitive_neighbor_list(
            "ijS", pbc, cell, positions, float(cutoff), self_interaction=False
        )
    return np.asarray(i, np.int64), np.asarray(j, np.int64), np.asarray(s, np.int64)


@dataclass
class NeighbourList:
    """Ordered pairs ``i → j`` within ``list_cutoff`` of one frame, reusable on later frames.

    ``D = x_j − x_i + shift · cell`` for every pair (``shift``: integer cell shifts as floats).
    """

    i: np.ndarray  # [P] int64
    j: np.ndarray  # [P] int64
    shift: np.ndarray  # [P, 3] float
    cutoff: float  # cutoff the list stays complete for (the model cutoff)
    list_cutoff: float  # cutoff used to build it (cutoff + skin)
    ref_frac: np.ndarray  # [N, 3] fractional positions of the build frame
    ref_cell: np.ndarray  # [3, 3]
    pbc: np.ndarray  # [3] bool

    @property
    def n_atoms(self) -> int:
        return int(self.ref_frac.shape[0])

    @property
    def n_pairs(self) -> int:
        return int(self.i.size)

    @classmethod
    def build(
        cls, positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float, skin: float
    ) -> NeighbourList:
        list_cutoff = float(cutoff) + float(skin)
        i, j, s = neighbour_pairs(positions, cell, pbc, list_cutoff)
        cell = np.asarray(cell, dtype=float)
        return cls(
            i=i,
            j=j,
            shift=s.astype(float),
            cutoff=float(cutoff),
            list_cutoff=list_cutoff,
            ref_frac=np.asarray(positions, float) @ np.linalg.inv(cell),
            ref_cell=cell.copy(),
            pbc=np.asarray(pbc, dtype=bool).copy(),
        )

    def aligned_positions(self, positions: np.ndarray, cell: np.ndarray) -> np.ndarray | None:
        """Positions moved to the images nearest the build frame, or None if the list is stale.

        ``positions [N, 3]`` and ``cell [3, 3]`` of a frame with the same atoms. The returned
        positions give the same interatomic vectors as the input ones (whole-cell image shifts),
        so the list applies to them unchanged.
        """
        cell = np.asarray(cell, dtype=float)
        frac = np.asarray(positions, float) @ np.linalg.inv(cell)
        dfrac = frac - self.ref_frac
        jump = np.where(self.pbc, np.rint(dfrac), 0.0)
        dfrac -= jump
        disp = np.linalg.norm(dfrac @ self.ref_cell, axis=1)
        if disp.size >= 2:
            d12 = float(np.sum(np.partition(disp, disp.size - 2)[-2:]))
        else:
            d12 = 2.0 * float(disp.max(initial=0.0))
        if np.array_equal(cell, self.ref_cell):
            smin = 1.0
        else:
            smin = float(np.linalg.svd(np.linalg.solve(self.ref_cell, cell), compute_uv=False)[-1])
        if smin * (self.list_cutoff - d12) <= self.cutoff:
            return None
        return (frac - jump) @ cell


def segment_frames(
    positions: np.ndarray,
    cells: np.ndarray,
    pbc: np.ndarray,
    cutoff: float,
    skin: float,
    current: NeighbourList | None = None,
) -> tuple[list[tuple[NeighbourList, np.ndarray, np.ndarray]], NeighbourList | None, int]:
    """Split frames ``[F, N, 3]`` into runs that share one neighbour list.

    Returns ``[(list, frame indices [f], aligned positions [f, N, 3]), ...]``, the list in use
    after the last frame (pass it back as ``current`` for the next block of the same system) and
    the number of list builds.
    """
    runs: list[tuple[NeighbourList, list[int], list[np.ndarray]]] = []
    builds = 0
    for f in range(positions.shape[0]):
        aligned = None
        if current is not None:
            aligned = current.aligned_positions(positions[f], cells[f])
        if aligned is None:
            current = NeighbourList.build(positions[f], cells[f], pbc, cutoff, skin)
            builds += 1
            aligned = np.asarray(positions[f], dtype=float)
        if runs and runs[-1][0] is current:
            runs[-1][1].append(f)
            runs[-1][2].append(aligned)
        else:
            runs.append((current, [f], [aligned]))
    out = [(nl, np.asarray(idx), np.stack(pos)) for nl, idx, pos in runs]
    return out, current, builds
