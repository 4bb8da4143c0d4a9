"""End-to-end analyse_diffusion: files, JSON content, D recovered; stores and ASE files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ionraman.conventions import A2_PS_TO_CM2_S
from ionraman.errors import InputError
from ionraman.transport import analyse_diffusion
from ionraman.transport._source import ArrayTrajectory

DT_FS, SIGMA, BOX = 20.0, 0.1, 14.0
D_TRUE = SIGMA**2 / (2 * DT_FS / 1000.0) * A2_PS_TO_CM2_S


def _system(make_random_walk, n_frames=2000, n_na=150, n_fw=60, seed=0):
    """Na random walkers + a vibrating S framework, all drifting together, wrapped (an ideal
    gas: atoms may overlap, so the analyses pass ``min_distance_A=0``)."""
    rng = np.random.default_rng(seed)
    na = make_random_walk(n_frames, n_na, SIGMA, BOX, seed=seed + 1)
    fw = rng.uniform(0, BOX, (1, n_fw, 3)) + rng.normal(scale=0.05, size=(n_frames, n_fw, 3))
    drift = np.cumsum(rng.normal(scale=0.02, size=(n_frames, 1, 3)), axis=0)
    x = np.concatenate([na, fw], axis=1) + drift
    numbers = np.array([11] * n_na + [16] * n_fw)
    return np.mod(x, BOX), numbers


def test_analyse_diffusion_on_arrays(make_random_walk, tmp_path):
    pos, numbers = _system(make_random_walk)
    traj = ArrayTrajectory(pos, np.eye(3) * BOX, np.arange(len(pos)) * DT_FS, numbers,
                           {"temperature_K": 700.0})
    res = analyse_diffusion(traj, tmp_path / "out", species="Na", charge=1.0, min_distance_A=0)
    assert res.D_cm2_s == pytest.approx(D_TRUE, rel=0.05)
    assert res.tracer.D_ci95_cm2_s[0] <= D_TRUE <= res.tracer.D_ci95_cm2_s[1]
    assert res.temperature_k == 700.0 and res.n_mobile == 150
    assert res.volume_A3 == pytest.approx(BOX**3)
    assert res.sigma_S_cm is not None and res.sigma_S_cm > 0
    assert res.haven_ratio is not None and abs(res.haven_ratio - 1) < 4 * res.haven_ratio_std
    assert res.hopping is not None and res.hopping.mechanism == "liquid-like"

    out = tmp_path / "out"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["diffusion.json", "msd.csv", "msd.png", "vanhove.csv"]  # no temp leftovers
    msd = pd.read_csv(out / "msd.csv")
    assert list(msd.columns) == ["time_ps", "msd_Na_A2", "msd_S_A2", "msd_collective_Na_A2"]
    data = json.loads((out / "diffusion.json").read_text())
    for key in ("D_cm2_s", "D_std_cm2_s", "fit_window", "sigma_S_cm", "haven_ratio",
                "descriptors", "provenance", "D_sigma_cm2_s"):
        assert key in data
    assert data["fit_window"]["rule"].startswith("slope rule")
    assert data["D_cm2_s"] == pytest.approx(res.D_cm2_s)
    assert data["descriptors"]["hopping"]["mechanism"] == "liquid-like"
    assert data["provenance"]["parameters"]["species"] == "Na"
    df = res.to_dataframe()
    assert len(df) == 1 and df.loc[0, "D_cm2_s"] == pytest.approx(res.D_cm2_s)
    assert "D*(Na)" in res.summary()
    # a random walk: diffusive by the linearity test too, least-squares D close to kinisi's
    assert res.diffusive is True and res.linearity.linear
    assert df.loc[0, "D_ls_cm2_s"] == pytest.approx(D_TRUE, rel=0.1)
    with pytest.raises(InputError, match="linearity_z_max"):
        analyse_diffusion(traj, tmp_path / "bad", linearity_z_max=0.0)
    assert not (tmp_path / "bad").exists()  # rejected before anything is written


def test_analyse_diffusion_from_store_and_ase_file(make_random_walk, tmp_path):
    trajectory = pytest.importorskip("ionraman.trajectory")
    pos, numbers = _system(make_random_walk, n_frames=1200, n_na=80, n_fw=40, seed=3)
    store = tmp_path / "run.h5"
    with trajectory.TrajectoryWriter(store, numbers, metadata={"temperature_K": 500.0}) as w:
        w.append_many(pos, np.broadcast_to(np.eye(3) * BOX, (len(pos), 3, 3)),
                      np.arange(len(pos)) * DT_FS)
    res = analyse_diffusion(store, tmp_path / "a", descriptors=False, collective=False,
                            min_distance_A=0)
    assert res.temperature_k == 500.0
    assert res.D_cm2_s == pytest.approx(D_TRUE, rel=0.1)

    import ase
    import ase.io

    frames = [ase.Atoms(numbers=numbers, positions=p, cell=np.eye(3) * BOX, pbc=True)
              for p in pos[:400]]
    xyz = tmp_path / "run.extxyz"
    ase.io.write(xyz, frames)
    res2 = analyse_diffusion(xyz, tmp_path / "b", timestep_fs=DT_FS, descriptors=False,
                             collective=False, temperature_k=500.0, min_distance_A=0)
    assert res2.msd.time_ps[1] == pytest.approx(DT_FS / 1000.0)


def _lattice_system(n_frames=20):
    """Na on a 3.5 Å grid with small displacements: no overlapping atoms."""
    grid = np.array(np.meshgrid(*[np.arange(4) * 3.5] * 3, indexing="ij")).reshape(3, -1).T
    rng = np.random.default_rng(0)
    pos = grid + rng.normal(scale=0.05, size=(n_frames, len(grid), 3))
    return pos, np.full(len(grid), 11)


@pytest.mark.parametrize(
    ("change", "kwargs", "needle"),
    [
        ("nan", {}, "trajectory: frame 7: atomic positions contain NaN"),
        ("no_cell", {}, "frame 3 has no 3D cell (volume 0 Å^3)"),
        ("overlap", {}, "frame 0: atoms 0 (Na) and 1 (Na) are 0.200 Å apart"),
        ("hot", {}, "trajectory: temperature_K = 1000000.0 K"),
        (None, {"temperature_k": float("nan")}, "temperature_k = nan K"),
        (None, {"charge": 0.0}, "charge = 0.0"),
    ],
)
def test_bad_trajectories_and_values_are_refused_before_any_output(tmp_path, change, kwargs,
                                                                   needle):
    pos, numbers = _lattice_system()
    cells = np.broadcast_to(np.eye(3) * 14.0, (len(pos), 3, 3)).copy()
    meta = {"temperature_K": 700.0}
    if change == "nan":
        pos[7, 5, 1] = np.nan
    elif change == "no_cell":
        cells[3] = 0.0
    elif change == "overlap":
        pos[0, 1] = pos[0, 0] + [0.2, 0.0, 0.0]
    elif change == "hot":
        meta = {"temperature_K": 1e6}
    traj = ArrayTrajectory(pos, cells, np.arange(len(pos)) * DT_FS, numbers, meta)
    with pytest.raises(InputError) as info:
        analyse_diffusion(traj, tmp_path / "out", descriptors=False, **kwargs)
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()
