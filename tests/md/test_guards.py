"""Each guard stops a crafted bad run with a clear SimulationError and keeps the data."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read

from ionraman.errors import SimulationError
from ionraman.md import GuardSettings, failed_structure_path, run_md
from ionraman.md.guards import closest_violation
from ionraman.trajectory import open_trajectory

OFF = dict(max_temperature_factor=None, max_force_eV_A=None, min_distance_factor=None)


def _stopped(tmp_path, atoms, force_field, guards, **kw):
    out = tmp_path / "bad.h5"
    args = dict(temperature_k=300, time_ps=0.2, timestep_fs=2.0, sample_every_fs=4.0,
                equilibration_ps=0.0, out=out, quiet=True, force_field=force_field)
    args.update(kw)
    with pytest.raises(SimulationError) as err:
        run_md(atoms, guards=guards, **args)
    msg = str(err.value)
    assert "\n" not in msg and "frames kept" in msg
    return out, msg


def test_temperature_runaway(cu, ff, tmp_path):
    # atoms displaced 0.35 Å from a perfect lattice: the stored potential energy turns into heat
    # far above 3 × 20 K, and the weak production thermostat (1 ps) cannot remove it
    hot = cu.copy()
    hot.positions += np.random.default_rng(0).normal(0.0, 0.35, hot.positions.shape)
    guards = GuardSettings(**{**OFF, "max_temperature_factor": 3.0}, runaway_steps=10)
    out, msg = _stopped(tmp_path, hot, ff("fresh_emt"), guards, temperature_k=20)
    assert "temperature runaway" in msg and "10 consecutive steps" in msg
    with open_trajectory(out) as tr:
        assert tr.n_frames >= 3  # frames before the stop are kept
        meta = tr.metadata
    assert meta["status"] == "stopped" and meta["stop_guard"] == "temperature"
    assert failed_structure_path(out).exists()


def test_force_bound(cu, ff, tmp_path):
    squeezed = cu.copy()
    squeezed.positions[0] += 0.6 * np.array([1.0, 0.0, 1.0]) / np.sqrt(2.0)  # 1.95 Å apart
    guards = GuardSettings(**{**OFF, "max_force_eV_A": 5.0})
    out, msg = _stopped(tmp_path, squeezed, ff("fresh_emt"), guards)
    assert "exceeds max_force_eV_A=5" in msg and "atom" in msg
    with open_trajectory(out) as tr:
        assert tr.metadata["stop_guard"] == "force"


def test_close_contact(cu, ff, tmp_path):
    squeezed = cu.copy()
    # 1.2 Å towards neighbour 2 (2.553 Å away): 1.353 Å apart, below 0.6 × 2 × 1.32 = 1.584 Å
    squeezed.positions[0] += 1.2 * np.array([1.0, 0.0, 1.0]) / np.sqrt(2.0)
    hit = closest_violation(squeezed, 0.6)
    assert hit is not None and hit[2] == pytest.approx(1.3526, abs=1e-3)
    guards = GuardSettings(**{**OFF, "min_distance_factor": 0.6})
    out, msg = _stopped(tmp_path, squeezed, ff("fresh_emt"), guards)
    assert "apart, below" in msg and "Cu" in msg
    bad = read(failed_structure_path(out))
    assert len(bad) == len(cu)


def test_nan_coordinates_or_forces(cu, ff, tmp_path):
    guards = GuardSettings(**OFF)
    out, msg = _stopped(tmp_path, cu, ff("nan_emt"), guards)
    assert "NaN" in msg
    with open_trajectory(out) as tr:
        assert tr.metadata["stop_guard"] == "nan"
        assert np.isfinite(tr.read("positions")).all()  # no NaN frame was stored


def test_default_guards_let_a_healthy_run_through(cu, ff, tmp_path):
    out = run_md(cu, temperature_k=600, time_ps=0.1, force_field=ff("fresh_emt"),
                 equilibration_ps=0.0, out=tmp_path / "ok.h5", quiet=True)
    with open_trajectory(out) as tr:
        assert tr.metadata["status"] == "complete"
