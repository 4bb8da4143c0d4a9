"""Seeded random choice of occupied sites, keeping chosen sites apart.

Used to turn site disorder (partial occupancies in a CIF, Ag⁺ over the tetrahedral sites of α-AgI)
into one ordered configuration. ASE and pymatgen have no seeded, distance-aware site picker for this
(pymatgen's OrderDisorderedStructureTransformation enumerates by Ewald energy, which is slow and not
random), hence this small routine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from ionraman.errors import InputError


def choose_separated_sites(
    positions: np.ndarray,
    cell: np.ndarray,
    groups: Sequence[tuple[np.ndarray, int]],
    rng: np.random.Generator,
    *,
    min_separation_A: float = 0.0,
    max_attempts: int = 200,
    source: str = "structure",
) -> list[np.ndarray]:
    """Pick ``k`` sites from each group at random, no two picks closer than ``min_separation_A``.

    Greedy random sequential placement over a shuffled order, restarted with a fresh shuffle (same
    generator, so the result stays a function of the seed) when a group cannot be filled.

    Parameters
    ----------
    positions
        Cartesian coordinates of all candidate sites, shape ``(n_sites, 3)``, Å.
    cell
        Periodic cell, shape ``(3, 3)``, Å (rows are vectors; all directions periodic).
    groups
        ``(indices, k)`` pairs: candidate indices into ``positions`` and how many to pick from them.
        Picks in one group also exclude nearby sites of later groups.
    rng
        Random generator (seeded by the caller).
    min_separation_A
        Minimum distance between any two picked sites, Å; 0 disables the exclusion.
    max_attempts
        Restarts before giving up.
    source
        Name used in the error message.

    Returns
    -------
    list of numpy.ndarray
        For each group, the sorted picked indices (into ``positions``), shape ``(k,)``.
    """
    positions = np.asarray(positions, dtype=float)
    n_sites = len(positions)
    for indices, k in groups:
        if k < 0 or k > len(indices):
            raise InputError(f"{source}: cannot place {k} atoms on {len(indices)} sites")
    neighbours: list[np.ndarray] = [np.empty(0, dtype=int)] * n_sites
    if min_separation_A > 0 and n_sites > 1:
        probe = Atoms(f"H{n_sites}", positions=positions, cell=cell, pbc=True)
        i, j = neighbor_list("ij", probe, cutoff=float(min_separation_A), self_interaction=False)
        order = np.argsort(i, kind="stable")
        i, j = i[order], j[order]
        starts = np.searchsorted(i, np.arange(n_sites + 1))
        neighbours = [j[starts[s] : starts[s + 1]] for s in range(n_sites)]
    for _ in range(max_attempts):
        blocked = np.zeros(n_sites, dtype=bool)
        picks: list[np.ndarray] = []
        for indices, k in groups:
            chosen: list[int] = []
            for s in rng.permutation(np.asarray(indices, dtype=int)):
                if len(chosen) == k:
                    break
                if blocked[s]:
                    continue
                chosen.append(int(s))
                blocked[s] = True
                blocked[neighbours[s]] = True
            if len(chosen) < k:
                break
            picks.append(np.sort(np.asarray(chosen, dtype=int)))
        else:
            return picks
    raise InputError(
        f"{source}: could not place the atoms with no two closer than {min_separation_A:g} Å "
        f"after {max_attempts} random attempts; use a larger supercell or a smaller separation"
    )
