"""Synthetic trajectories shared by the transport tests."""

from __future__ import annotations

import numpy as np
import pytest


def random_walk(
    n_frames: int,
    n_atoms: int,
    step_sigma_A: float,
    box_A: float,
    seed: int,
) -> np.ndarray:
    """Unwrapped Gaussian random walk [S, N, 3] (Å) starting uniformly in a cubic box.

    Each Cartesian component takes independent N(0, σ²) steps per frame, so
    D = σ² / (2 Δt) and MSD(t) = 3 σ² t / Δt exactly in expectation.
    """
    rng = np.random.default_rng(seed)
    steps = rng.normal(scale=step_sigma_A, size=(n_frames, n_atoms, 3))
    steps[0] = 0.0
    return rng.uniform(0, box_A, size=(n_atoms, 3)) + np.cumsum(steps, axis=0)


def lattice_hopper(
    n_frames: int,
    *,
    n_cells: int = 4,
    a_A: float = 3.0,
    n_ions: int = 24,
    vib_sigma_A: float = 0.15,
    hop_prob: float = 0.002,
    flight_frames: int = 6,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Ions vibrating on a simple-cubic lattice of sites and hopping to empty neighbour sites.

    Returns
    -------
    positions : ndarray [S, N, 3]
        Wrapped positions, Å.
    cell : ndarray [3, 3]
        Cubic cell, Å.
    sites : ndarray [M, 3]
        Site positions, Å.
    n_hops : int
        Hops generated (each a straight flight over ``flight_frames`` frames).
    """
    rng = np.random.default_rng(seed)
    box = n_cells * a_A
    grid = np.stack(
        np.meshgrid(*[np.arange(n_cells)] * 3, indexing="ij"), axis=-1
    ).reshape(-1, 3)
    sites = grid * a_A + 0.5 * a_A
    occupied = rng.choice(len(sites), n_ions, replace=False)
    current = occupied.copy()
    free = np.ones(len(sites), bool)
    free[current] = False
    neighbours = [
        [
            int(np.flatnonzero((grid == (g + d) % n_cells).all(axis=1))[0])
            for d in np.vstack([np.eye(3, dtype=int), -np.eye(3, dtype=int)])
        ]
        for g in grid
    ]
    pos = np.empty((n_frames, n_ions, 3))
    flight = np.full(n_ions, -1)  # frames into a flight, -1 when resting
    origin = np.zeros((n_ions, 3))
    target_vec = np.zeros((n_ions, 3))
    target = np.zeros(n_ions, dtype=int)
    n_hops = 0
    for t in range(n_frames):
        for i in range(n_ions):
            if flight[i] < 0 and t > 0 and rng.random() < hop_prob:
                options = [j for j in neighbours[current[i]] if free[j]]
                if options:
                    j = options[rng.integers(len(options))]
                    free[j] = False
                    target[i] = j
                    origin[i] = sites[current[i]]
                    d = sites[j] - sites[current[i]]
                    target_vec[i] = d - box * np.round(d / box)
                    flight[i] = 0
                    n_hops += 1
            if flight[i] >= 0:
                flight[i] += 1
                centre = origin[i] + target_vec[i] * flight[i] / flight_frames
                if flight[i] == flight_frames:
                    free[current[i]] = True
                    current[i] = target[i]
                    flight[i] = -1
                    centre = sites[current[i]]
            else:
                centre = sites[current[i]]
            pos[t, i] = centre + rng.normal(scale=vib_sigma_A, size=3)
    return np.mod(pos, box), np.eye(3) * box, sites, n_hops


@pytest.fixture
def make_random_walk():
    """The :func:`random_walk` generator."""
    return random_walk


@pytest.fixture
def make_lattice_hopper():
    """The :func:`lattice_hopper` generator."""
    return lattice_hopper
