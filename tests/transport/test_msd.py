"""FFT MSD against the direct double loop; streamed tracer and collective MSDs."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.transport._source import ArrayTrajectory
from ionraman.transport.msd import compute_msd, default_atom_block, msd_direct, msd_fft


def test_fft_msd_equals_direct(make_random_walk):
    x = make_random_walk(1500, 7, 0.5, 20.0, seed=0) + 1e3  # far from the origin on purpose
    fft = msd_fft(x)
    direct = msd_direct(x)
    assert fft.shape == direct.shape == (1500, 7)
    np.testing.assert_allclose(fft, direct, rtol=1e-10, atol=1e-10)
    # single series [S, 3] and lags subset
    np.testing.assert_allclose(msd_fft(x[:, 0]), direct[:, 0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(msd_direct(x, lags=[3, 700]), direct[[3, 700]])


def test_msd_of_linear_motion_is_quadratic():
    t = np.arange(200, dtype=float)
    v = np.array([0.1, -0.2, 0.05])
    x = t[:, None] * v
    np.testing.assert_allclose(msd_fft(x), t**2 * (v @ v), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("in_memory_limit", ["ram", "disk"])
def test_compute_msd_streamed_from_wrapped_arrays(make_random_walk, in_memory_limit, monkeypatch):
    box = 10.0
    x = make_random_walk(900, 16, 0.3, box, seed=2)
    symbols = ["Na"] * 10 + ["S"] * 6
    if in_memory_limit == "disk":
        import ionraman.transport.msd as msd_mod

        original = msd_mod.unwrap_to_store

        def on_disk(*args, **kwargs):
            kwargs["in_memory"] = False
            return original(*args, **kwargs)

        monkeypatch.setattr(msd_mod, "unwrap_to_store", on_disk)
    res = compute_msd(
        np.mod(x, box),
        cells=np.eye(3) * box,
        timestep_fs=4.0,
        symbols=symbols,
        drift="none",
        chunk_frames=128,
        atom_block=3,
    )
    ref = msd_direct(x)
    np.testing.assert_allclose(res.msd_A2["Na"], ref[:, :10].mean(axis=1), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(res.msd_A2["S"], ref[:, 10:].mean(axis=1), rtol=1e-10, atol=1e-9)
    total = x[:, :10].sum(axis=1)
    coll = msd_direct(total) / 10
    np.testing.assert_allclose(res.collective_msd_A2, coll, rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(res.time_ps, np.arange(900) * 0.004)
    assert res.n_atoms == {"Na": 10, "S": 6}
    df = res.to_dataframe(max_rows=100)
    assert list(df.columns) == ["time_ps", "msd_Na_A2", "msd_S_A2", "msd_collective_Na_A2"]
    assert len(df) <= 100 and df["time_ps"].is_monotonic_increasing


def test_compute_msd_on_reader_with_drift(make_random_walk):
    box = 12.0
    rng = np.random.default_rng(4)
    na = make_random_walk(500, 6, 0.25, box, seed=9)
    fw = rng.uniform(0, box, (1, 12, 3)) + np.zeros((500, 12, 3))
    drift = np.linspace(0, 30, 500)[:, None, None] * np.array([1.0, 0.5, 0.0])
    x = np.concatenate([na, fw], axis=1) + drift
    traj = ArrayTrajectory(np.mod(x, box), np.eye(3) * box, np.arange(500) * 2.0,
                           np.array([11] * 6 + [16] * 12))
    res = compute_msd(traj, species="Na", mobile="Na")
    np.testing.assert_allclose(res.msd_A2["Na"], msd_direct(na).mean(axis=1), rtol=1e-9,
                               atol=1e-9)


def test_default_atom_block_bounded():
    assert default_atom_block(100_000, 512) == 26
    assert default_atom_block(10, 512) == 256
    assert default_atom_block(10**9, 1) == 1
