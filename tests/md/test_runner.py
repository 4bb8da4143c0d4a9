"""MD engine on cheap calculators: store contents, units, thermostat, NVE drift, resume rules."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from ase import units

from ionraman.errors import InputError
from ionraman.md import (
    Checkpoint,
    check_energy_conservation,
    checkpoint_path,
    run_md,
    run_md_series,
    thermo_path,
)
from ionraman.trajectory import open_trajectory


def test_store_frames_times_and_metadata(cu, ff, tmp_path):
    out = run_md(
        cu, temperature_k=300, time_ps=0.1, force_field=ff("fresh_emt"), timestep_fs=2.0,
        sample_every_fs=10.0, equilibration_ps=0.02, out=tmp_path / "run.h5", quiet=True,
    )
    with open_trajectory(out) as tr:
        assert tr.n_frames == 11  # production steps 0, 5, ..., 50
        np.testing.assert_array_equal(tr.times_fs, np.arange(11) * 10.0)
        assert tr.has_velocities
        assert tr.sampling_interval_fs == pytest.approx(10.0)
        meta = tr.metadata
        pos = tr.read("positions")
        assert np.isfinite(pos).all()
    assert meta["status"] == "complete"
    assert meta["temperature_K"] == 300
    assert meta["timestep_fs"] == 2.0
    md = meta["md"]
    assert md["equilibration"]["ensemble"] == "nvt" and md["equilibration"]["cell"] == "fixed"
    assert md["production"]["integrator"] == "bussi"
    assert md["seed"] == 0 and md["force_field"] == ff("fresh_emt")
    assert meta["force_field"]["name"] == ff("fresh_emt")
    assert "packages" in meta["provenance"] and "numpy" in meta["provenance"]["packages"]
    assert meta["provenance"]["parameters"]["temperature_k"] == 300
    assert np.isfinite(meta["energy_drift_meV_per_atom_per_ps"])
    thermo = pd.read_csv(thermo_path(out))
    assert list(thermo["phase"].unique()) == ["equilibration", "production"]
    assert (thermo["phase"] == "production").sum() == 11
    assert checkpoint_path(out).exists()


def test_velocities_are_in_angstrom_per_fs(cu, ff, tmp_path):
    """Central difference of stored positions (every step, NVE) equals the mean stored velocity."""
    dt = 1.0
    out = run_md(
        cu, temperature_k=500, time_ps=0.02, force_field=ff("fresh_emt"), timestep_fs=dt,
        sample_every_fs=dt, equilibration_ps=0.0, ensemble="nve", out=tmp_path / "v.h5",
        quiet=True,
    )
    with open_trajectory(out) as tr:
        x = tr.read("positions")
        v = tr.read("velocities")
    finite_diff = (x[1:] - x[:-1]) / dt
    mean_v = 0.5 * (v[1:] + v[:-1])
    # velocity Verlet: (x1 - x0)/dt - (v0 + v1)/2 = dt (F0 - F1) / 4m, small against v for
    # 1 fs; a unit slip (Å per ASE time unit instead of Å/fs) would be a factor 10.18 off.
    vmax = np.abs(v).max()
    assert vmax > 1e-3
    np.testing.assert_allclose(finite_diff, mean_v, rtol=0, atol=1e-3 * vmax)
    # and the velocity scale matches equipartition at ~T (m v^2 = 3 kT per atom in Å/fs)
    masses = np.full(len(cu), 63.546)
    ekin = 0.5 * np.sum(masses[:, None] * (v[0] / units.fs) ** 2)
    t0 = 2 * ekin / ((3 * len(cu) - 3) * units.kB)
    assert t0 == pytest.approx(500.0, rel=1e-9)


def test_bussi_holds_the_target_temperature(cu, ff, tmp_path):
    out = run_md(
        cu, temperature_k=400, time_ps=1.0, force_field=ff("fresh_emt"), timestep_fs=4.0,
        sample_every_fs=8.0, equilibration_ps=0.4, thermostat_time_fs=100.0,
        out=tmp_path / "t.h5", quiet=True,
    )
    with open_trajectory(out) as tr:
        mean_t = tr.metadata["temperature_mean_K"]
    thermo = pd.read_csv(thermo_path(out))
    prod = thermo[thermo["phase"] == "production"]
    # canonical KE fluctuations: std(T)/T = sqrt(2/(3N-3)) = 0.147 for N = 32; ~10 independent
    # thermostat times in 1 ps -> standard error of the mean ~ 0.05 T
    assert mean_t == pytest.approx(400, rel=0.15)
    assert prod["temperature_K"].std() / 400 == pytest.approx(np.sqrt(2 / 93), rel=0.5)


def test_nose_hoover_and_nve_conserve_their_quantities(cu, ff, tmp_path):
    for ensemble, thermostat in (("nvt", "nose-hoover"), ("nve", "bussi")):
        out = run_md(
            cu, temperature_k=300, time_ps=0.4, force_field=ff("fresh_emt"), timestep_fs=2.0,
            sample_every_fs=10.0, equilibration_ps=0.1, ensemble=ensemble, thermostat=thermostat,
            out=tmp_path / f"{ensemble}.h5", quiet=True,
        )
        with open_trajectory(out) as tr:
            drift = tr.metadata["energy_drift_meV_per_atom_per_ps"]
        assert abs(drift) < 0.5, (ensemble, drift)


def test_check_energy_conservation_detects_a_too_large_step(cu, ff):
    good = check_energy_conservation(
        cu, force_field=ff("fresh_emt"), temperature_k=600, timestep_fs=1.0, time_ps=0.3,
        thermalize_ps=0.05,
    )
    bad = check_energy_conservation(
        cu, force_field=ff("fresh_emt"), temperature_k=600, timestep_fs=8.0, time_ps=0.3,
        thermalize_ps=0.05,
    )
    assert good.n_atoms == 32
    assert abs(good.drift_meV_per_atom_per_ps) < 0.2
    assert good.rms_meV_per_atom < 0.2
    # velocity Verlet error grows ~dt^2: an 8x larger step gives a far worse energy error
    assert bad.rms_meV_per_atom > 10 * good.rms_meV_per_atom


def test_npt_equilibration_changes_and_records_the_cell(cu, ff, tmp_path):
    stretched = cu.copy()
    stretched.set_cell(cu.cell * 1.03, scale_atoms=True)  # 3 % too large: tensile stress
    out = run_md(
        stretched, temperature_k=300, time_ps=0.02, force_field=ff("fresh_emt"),
        timestep_fs=2.0, sample_every_fs=10.0, equilibration_ps=0.6,
        equilibration_ensemble="npt", barostat_time_fs=200.0, out=tmp_path / "npt.h5",
        quiet=True,
    )
    with open_trajectory(out) as tr:
        cells = tr.read("cells")
        meta = tr.metadata
    assert meta["md"]["equilibration"]["cell"] == "fluctuating (MTK)"
    prod_cell = np.array(meta["production_cell_A"])
    np.testing.assert_allclose(cells[0], prod_cell)
    np.testing.assert_allclose(cells, cells[0:1].repeat(len(cells), axis=0))  # NVT production
    assert np.linalg.det(prod_cell) < 0.97 * np.linalg.det(stretched.cell.array)
    # angles stay fixed in the masked (lengths-only) barostat
    assert np.abs(prod_cell - np.diag(np.diag(prod_cell))).max() < 1e-9


def test_extending_a_finished_run_equals_one_long_run(cu, ff, tmp_path):
    kw = dict(force_field=ff("fresh_emt"), temperature_k=300, timestep_fs=2.0,
              sample_every_fs=4.0, equilibration_ps=0.02, checkpoint_every_steps=7, quiet=True)
    long = run_md(cu, time_ps=0.08, out=tmp_path / "long.h5", **kw)
    part = run_md(cu, time_ps=0.04, out=tmp_path / "part.h5", **kw)
    run_md(cu, time_ps=0.08, out=part, **kw)  # continues from the final checkpoint
    run_md(cu, time_ps=0.08, out=part, **kw)  # already complete: nothing changes
    with open_trajectory(long) as a, open_trajectory(part) as b:
        for field in ("positions", "velocities", "cells", "times_fs"):
            np.testing.assert_array_equal(a.read(field), b.read(field))
        assert b.metadata["status"] == "complete"
        assert len(b.metadata["md_resumes"]) == 1  # the completed run was not reopened
    with pytest.raises(InputError, match="more than time_ps"):
        run_md(cu, time_ps=0.02, out=part, **kw)


def test_resume_refuses_other_settings_and_foreign_files(cu, ff, tmp_path):
    kw = dict(force_field=ff("fresh_emt"), time_ps=0.02, equilibration_ps=0.0, quiet=True)
    out = run_md(cu, temperature_k=300, out=tmp_path / "a.h5", **kw)
    with pytest.raises(InputError) as err:
        run_md(cu, temperature_k=301, out=out, **kw)
    assert "temperature_k=300" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="seed"):
        run_md(cu, temperature_k=300, seed=1, out=out, **kw)
    # a file that is not from a run (no checkpoint beside it) is never overwritten silently
    foreign = tmp_path / "foreign.h5"
    foreign.write_bytes(b"data")
    with pytest.raises(InputError, match="no checkpoint"):
        run_md(cu, temperature_k=300, out=foreign, **kw)
    assert foreign.read_bytes() == b"data"
    run_md(cu, temperature_k=300, out=foreign, overwrite=True, **kw)
    with open_trajectory(foreign) as tr:
        assert tr.n_frames == 3


def test_checkpoint_roundtrip(tmp_path):
    rng = np.random.default_rng(5)
    ck = Checkpoint(
        step=12, phase="production", n_frames=3, positions=rng.normal(size=(4, 3)),
        momenta=rng.normal(size=(4, 3)), cell=np.eye(3) * 5, integrator_kind="nose-hoover",
        integrator={"_thermostat._eta": rng.normal(size=3), "_thermostat._p_eta": np.ones(3)},
        rng_state=rng.bit_generator.state, hot_steps=2,
        thermo_prod=rng.normal(size=(3, 7)), fingerprint={"a": [1, 2]}, extra={"x": 1.5},
    )
    path = ck.save(tmp_path / "c.npz")
    back = Checkpoint.load(path)
    for name in ("positions", "momenta", "cell", "thermo_prod"):
        np.testing.assert_array_equal(getattr(back, name), getattr(ck, name))
    for key, value in ck.integrator.items():
        np.testing.assert_array_equal(back.integrator[key], value)
    assert back.rng_state == ck.rng_state
    assert (back.step, back.phase, back.n_frames, back.hot_steps) == (12, "production", 3, 2)
    assert back.fingerprint == {"a": [1, 2]} and back.extra == {"x": 1.5}
    (tmp_path / "bad.npz").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="unreadable MD checkpoint"):
        Checkpoint.load(tmp_path / "bad.npz")


def test_series_over_temperatures_and_seeds(cu, ff, tmp_path):
    paths = run_md_series(
        cu, temperatures_k=[300, 500], seeds=[0, 1], out_dir=tmp_path,
        force_field=ff("fresh_emt"), time_ps=0.01, equilibration_ps=0.0, quiet=True,
    )
    assert [p.name for p in paths] == [
        "T300K_seed0.h5", "T300K_seed1.h5", "T500K_seed0.h5", "T500K_seed1.h5",
    ]
    first = {}
    for p in paths:
        with open_trajectory(p) as tr:
            first[p.name] = tr.read("velocities", 0, 1)
            t, s = tr.metadata["temperature_K"], tr.metadata["md"]["seed"]
            assert p.name == f"T{t:g}K_seed{s}.h5"
    assert not np.array_equal(first["T300K_seed0.h5"], first["T300K_seed1.h5"])


def test_quiet_run_prints_nothing(cu, ff, tmp_path, capsys):
    run_md(cu, temperature_k=300, time_ps=0.01, force_field=ff("fresh_emt"),
           equilibration_ps=0.0, out=tmp_path / "q.h5", quiet=True)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_metadata_is_json_with_units(cu, ff, tmp_path):
    out = run_md(cu, temperature_k=300, time_ps=0.01, force_field=ff("fresh_emt"),
                 equilibration_ps=0.0, out=tmp_path / "m.h5", quiet=True)
    with open_trajectory(out) as tr:
        meta = tr.metadata
    json.dumps(meta)
    assert meta["units"]["velocity"] == "angstrom/fs"
    assert meta["md"]["velocities"] == "angstrom/fs"
    assert meta["md"]["degrees_of_freedom"] == 3 * 32 - 3
