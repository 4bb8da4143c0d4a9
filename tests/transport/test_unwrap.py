"""Unwrapping (TOR scheme) across fixed and changing cells, and drift removal."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.errors import InputError
from ionraman.transport._source import ArrayTrajectory
from ionraman.transport.unwrap import (
    drift_reference,
    remove_drift,
    unwrap_block,
    unwrap_positions,
    unwrap_to_store,
)


def _wrap(x: np.ndarray, cells: np.ndarray) -> np.ndarray:
    frac = np.einsum("fnj,fjk->fnk", x, np.linalg.inv(cells))
    return np.einsum("fnj,fjk->fnk", frac - np.floor(frac), cells)


def test_unwrap_fixed_triclinic_cell(make_random_walk):
    cell = np.array([[10.0, 0.0, 0.0], [2.0, 9.0, 0.0], [1.0, -1.5, 11.0]])
    x = make_random_walk(400, 30, 0.4, 10.0, seed=3)
    cells = np.broadcast_to(cell, (x.shape[0], 3, 3))
    w = _wrap(x, cells)
    u = unwrap_positions(w, cell)
    # u(0) = w(0), and every later displacement is the true one
    np.testing.assert_allclose(u - u[0], x - x[0], atol=1e-10)
    assert np.abs(w - x).max() > 5.0  # the input really was wrapped


@pytest.mark.parametrize("shear_A", [0.4, 0.0])  # triclinic path and orthorhombic fast path
def test_unwrap_changing_cell_preserves_toroidal_steps(shear_A):
    """NPT-like cell fluctuations: TOR recovers the true steps; naive fractional unwrapping fails.

    Each step is taken on the torus of the new cell: w(t+1) = wrap_{h(t+1)}(w(t) + Δx(t)), i.e. the
    box change does not displace the particle. The TOR scheme must give u(t) − u(0) = Σ Δx.
    """
    rng = np.random.default_rng(7)
    n_frames, n_atoms = 600, 40
    base = np.diag([12.0, 11.0, 13.0]) + (shear_A > 0) * np.array(
        [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.8, 0.0]]
    )
    scale = 1.0 + 0.05 * np.sin(np.arange(n_frames) / 15.0)[:, None, None]
    shear = np.zeros((n_frames, 3, 3))
    shear[:, 1, 0] = shear_A * np.cos(np.arange(n_frames) / 23.0)
    anis = 1.0 + 0.03 * np.cos(np.arange(n_frames) / 9.0)  # anisotropic: z breathes separately
    cells_z = np.ones((n_frames, 3, 3))
    cells_z[:, 2, :] = anis[:, None]
    cells = base * scale * cells_z + shear
    steps = rng.normal(scale=0.3, size=(n_frames, n_atoms, 3))
    steps[0] = 0.0
    w = np.empty((n_frames, n_atoms, 3))
    w[0] = _wrap(rng.uniform(0, 10, (1, n_atoms, 3)), cells[:1])[0]
    for t in range(1, n_frames):
        w[t] = _wrap((w[t - 1] + steps[t])[None], cells[t : t + 1])[0]
    truth = w[0] + np.cumsum(steps, axis=0)
    u = unwrap_positions(w, cells)
    np.testing.assert_allclose(u, truth, atol=1e-9)

    # chunked streaming gives the same answer
    state, parts = None, []
    for i0 in range(0, n_frames, 97):
        part, state = unwrap_block(w[i0 : i0 + 97], cells[i0 : i0 + 97], state)
        parts.append(part)
    np.testing.assert_allclose(np.concatenate(parts), u, atol=1e-12)

    # the naive scheme (unwrap fractional coordinates, multiply by the current cell) rescales past
    # displacements with the box and is visibly wrong here
    frac = np.einsum("fnj,fjk->fnk", w, np.linalg.inv(cells))
    dfrac = np.diff(frac, axis=0)
    dfrac -= np.round(dfrac)
    naive_frac = np.concatenate([frac[:1], frac[:1] + np.cumsum(dfrac, axis=0)])
    naive = np.einsum("fnj,fjk->fnk", naive_frac, cells)
    assert np.abs(naive - truth).max() > 0.5


def test_unwrap_rejects_bad_shapes():
    with pytest.raises(InputError):
        unwrap_positions(np.zeros((5, 3)), np.eye(3))
    with pytest.raises(InputError):
        unwrap_positions(np.zeros((5, 2, 3)), np.zeros((4, 3, 3)))


def test_framework_drift_removed(make_random_walk):
    rng = np.random.default_rng(11)
    n_frames, box = 300, 15.0
    mobile = make_random_walk(n_frames, 10, 0.2, box, seed=1)
    framework = rng.uniform(0, box, (1, 20, 3)) + rng.normal(scale=0.05, size=(n_frames, 20, 3))
    drift = np.cumsum(rng.normal(scale=0.1, size=(n_frames, 1, 3)), axis=0)
    drift -= drift[0]
    x = np.concatenate([mobile, framework], axis=1) + drift
    symbols = ["Na"] * 10 + ["S"] * 20
    idx, weights = drift_reference(symbols, np.arange(10), "framework")
    np.testing.assert_array_equal(idx, np.arange(10, 30))
    corrected, origin = remove_drift(x, idx, weights)
    residual = framework.mean(axis=1, keepdims=True) - framework[:1].mean(axis=1, keepdims=True)
    np.testing.assert_allclose(corrected[:, :10], mobile - residual, atol=1e-10)
    # streamed in two blocks with the returned origin: identical
    a, o = remove_drift(x[:100], idx, weights)
    b, _ = remove_drift(x[100:], idx, weights, o)
    np.testing.assert_allclose(np.concatenate([a, b]), corrected, atol=1e-12)
    np.testing.assert_allclose(origin, o)


def test_drift_all_is_centre_of_mass():
    symbols = ["Na", "S"]
    idx, w = drift_reference(symbols, np.array([0]), "all")
    np.testing.assert_array_equal(idx, [0, 1])
    assert w[1] / w[0] == pytest.approx(32.06 / 22.99, rel=1e-3)
    assert drift_reference(symbols, np.array([0]), "none")[0].size == 0
    with pytest.raises(InputError):
        drift_reference(symbols, np.array([0]), "sideways")


@pytest.mark.parametrize("in_memory", [True, False])
def test_unwrap_to_store_matches_in_memory(make_random_walk, tmp_path, in_memory):
    box = 9.0
    x = make_random_walk(700, 12, 0.3, box, seed=5)
    symbols = ["Na"] * 8 + ["S"] * 4
    traj = ArrayTrajectory(np.mod(x, box), np.eye(3) * box, np.arange(700) * 5.0,
                           np.array([11] * 8 + [16] * 4))
    with unwrap_to_store(traj, np.arange(12), drift="none", chunk_frames=64,
                         in_memory=in_memory, tmp_dir=tmp_path) as store:
        assert (store.array is not None) is in_memory
        got = store.read_rows(np.arange(12)).transpose(1, 0, 2)
        np.testing.assert_allclose(got - got[0], x - x[0], atol=1e-10)
        sub = store.subsample(np.array([0, 3]), 7)
        np.testing.assert_allclose(sub, got[::7][:, [0, 3]])
        assert store.dt_ps == pytest.approx(0.005)
        assert store.mean_volume_A3 == pytest.approx(box**3)
        assert store.symbols == symbols
    if not in_memory:
        assert not any(tmp_path.iterdir())  # temporary file removed
