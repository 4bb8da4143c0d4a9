"""MDSettings validation and the time parser: bad inputs give one-line InputErrors."""

from __future__ import annotations

import pytest

from ionraman.errors import InputError
from ionraman.md import GuardSettings, MDSettings, parse_time_ps, run_md


@pytest.mark.parametrize(
    ("text", "ps"),
    [
        ("20ps", 20.0),
        ("500fs", 0.5),
        ("2 ns", 2000.0),
        ("20", 20.0),
        ("1.5e3 fs", 1.5),
        (" 7.5 PS ", 7.5),
        (3, 3.0),
        ("0", 0.0),
    ],
)
def test_parse_time_ps(text, ps):
    assert parse_time_ps(text) == pytest.approx(ps, rel=1e-12)


@pytest.mark.parametrize("text", ["", "ps", "20 years", "-5ps", "nan", "1e999ps", "2 n s"])
def test_parse_time_ps_rejects(text):
    with pytest.raises(InputError) as err:
        parse_time_ps(text)
    assert "\n" not in str(err.value)


def _one_line_error(**kwargs) -> str:
    base = {"temperature_k": 600.0, "time_ps": 1.0}
    base.update(kwargs)
    with pytest.raises(InputError) as err:
        MDSettings(**base)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_bad_settings_are_one_line_input_errors():
    assert "temperature_k must be positive" in _one_line_error(temperature_k=-300.0)
    assert "temperature_k must be positive" in _one_line_error(temperature_k=0.0)
    assert "time_ps must be positive" in _one_line_error(time_ps=0.0)
    assert "finite" in _one_line_error(time_ps=float("nan"))
    assert "multiple of timestep_fs" in _one_line_error(sample_every_fs=5.0)
    assert "shorter than one time step" in _one_line_error(time_ps=0.0005)
    assert "Langevin is not offered" in _one_line_error(thermostat="langevin")
    assert "ensemble 'npt' unknown" in _one_line_error(ensemble="npt")
    assert "equilibration_ensemble" in _one_line_error(equilibration_ensemble="nph")
    assert "equilibration_ps" in _one_line_error(equilibration_ps=-1.0)
    assert "seed" in _one_line_error(seed=-1)
    assert "threads" in _one_line_error(threads=0)
    assert "checkpoint_every_steps" in _one_line_error(checkpoint_every_steps=0)
    assert "too large" in _one_line_error(timestep_fs=20.0)


def test_bad_guard_settings():
    for kwargs in (
        {"max_temperature_factor": 0.5},
        {"runaway_steps": 0},
        {"max_force_eV_A": -1.0},
        {"min_distance_factor": 2.0},
        {"distance_check_every_steps": 0},
    ):
        with pytest.raises(InputError):
            GuardSettings(**kwargs)


def test_step_counts():
    s = MDSettings(temperature_k=300, time_ps=1.0, timestep_fs=2.0, sample_every_fs=10.0,
                   equilibration_ps=0.5)
    assert (s.equilibration_steps, s.production_steps, s.sample_every_steps) == (250, 500, 5)
    assert s.n_frames_expected == 101
    assert "time_ps" not in s.dynamics_fingerprint()


def test_run_md_rejects_bad_inputs_before_loading_anything(cu, tmp_path):
    with pytest.raises(InputError, match="temperature_k must be positive"):
        run_md(cu, temperature_k=-10, time_ps=1.0, out=tmp_path / "a.h5")
    with pytest.raises(InputError, match="time_ps must be positive"):
        run_md(cu, temperature_k=300, time_ps=0, out=tmp_path / "a.h5")
    with pytest.raises(InputError) as err:
        run_md(cu, temperature_k=300, time_ps=0.1, force_field="no-such-model",
               out=tmp_path / "a.h5")
    msg = str(err.value)
    assert "\n" not in msg
    assert "sevenn-mf0-r2scan" in msg and "chgnet" in msg and "sevenn-0" in msg
    assert not (tmp_path / "a.h5").exists()
