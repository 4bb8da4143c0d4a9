"""Reading polarizability time series (text, .npy, trajectory stores): the spectrum stage's
input (:mod:`ionraman.spectra.series`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from ionraman.conventions import from_matrix
from ionraman.errors import InputError
from ionraman.spectra.series import read_polarizability_series
from ionraman.trajectory import FORMAT, TrajectoryWriter

NUMBERS = np.array([11] * 6 + [51] * 2 + [16] * 8)


def _alpha(i: int) -> np.ndarray:
    a = np.array([[10.0, 0.1, 0.2], [0.1, 11.0, 0.3], [0.2, 0.3, 12.0]])
    return a + 0.01 * i


def _store(path: Path, n_frames: int, polarizability: bool = True) -> None:
    """A 16-atom store of ``n_frames`` frames 2 fs apart (α of frame i: ``_alpha(i)``)."""
    with TrajectoryWriter(
        path, NUMBERS, polarizability=polarizability, metadata={"temperature_K": 600.0}
    ) as w:
        for i in range(n_frames):
            pos = np.full((16, 3), 0.1 * i) + np.arange(16)[:, None]
            w.append(pos, np.eye(3) * 10.0, 2.0 * i,
                     polarizability=_alpha(i) if polarizability else None)


# ----------------------------------------------------------------------------------------------
# read_polarizability_series
# ----------------------------------------------------------------------------------------------
ALPHA = np.stack([_alpha(i) + 0.05 * np.sin(0.3 * i) * np.eye(3) for i in range(12)])


def test_csv_with_time_header_six_columns(tmp_path):
    path = tmp_path / "pol.csv"
    comps = from_matrix(ALPHA, "ase-voigt")
    t = 100.0 + 5.0 * np.arange(12)
    np.savetxt(path, np.column_stack([t, comps]), delimiter=",", header="time_fs,xx,yy,zz,yz,xz,xy")
    s = read_polarizability_series(path)
    np.testing.assert_allclose(s.alpha, ALPHA)
    assert s.timestep_fs == 5.0 and s.start_time_fs == 100.0
    np.testing.assert_allclose(s.times_fs, t)
    # time column agrees with an explicit timestep; contradicts another
    assert read_polarizability_series(path, timestep_fs=5.0).timestep_fs == 5.0
    with pytest.raises(InputError, match="disagrees"):
        read_polarizability_series(path, timestep_fs=2.0)


def test_text_without_header_and_orders(tmp_path):
    plain6 = tmp_path / "pol.dat"
    np.savetxt(plain6, from_matrix(ALPHA, "gpumd"))
    s = read_polarizability_series(plain6, timestep_fs=2.0, order="gpumd")
    np.testing.assert_allclose(s.alpha, ALPHA)
    assert s.metadata["component_order"] == "gpumd"
    assert s.metadata["component_order_source"] == "order argument"
    np.testing.assert_allclose(s.times_fs, 2.0 * np.arange(12))
    # the default six-column order is ase-voigt: reading gpumd data with it mixes xy and yz
    wrong = read_polarizability_series(plain6, timestep_fs=2.0)
    assert not np.allclose(wrong.alpha, ALPHA)
    assert wrong.metadata["component_order"] == "ase-voigt"  # assumed, and recorded as such
    assert wrong.metadata["component_order_source"].startswith("assumed default")
    nine = tmp_path / "pol9.txt"
    np.savetxt(nine, ALPHA.reshape(12, 9))
    np.testing.assert_allclose(read_polarizability_series(nine, timestep_fs=1.0).alpha, ALPHA)


def test_header_component_names_fix_the_order(tmp_path):
    path = tmp_path / "upper.txt"
    cols = np.column_stack(
        [ALPHA[:, i, j] for i, j in [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]]
    )
    t = 0.5 * np.arange(12)
    with open(path, "w") as fh:
        fh.write("# polarizability of the cell, angstrom^3\n")
        fh.write("t_fs alpha_xx alpha_xy alpha_xz alpha_yy alpha_yz alpha_zz\n")
        np.savetxt(fh, np.column_stack([t, cols]))
    s = read_polarizability_series(path)
    np.testing.assert_allclose(s.alpha, ALPHA)
    assert s.timestep_fs == 0.5
    with pytest.raises(InputError, match="contradicts"):
        read_polarizability_series(path, order="gpumd")


def test_npy_inputs(tmp_path):
    for name, arr in {
        "s6.npy": from_matrix(ALPHA, "ase-voigt"),
        "s9.npy": ALPHA.reshape(12, 9),
        "s33.npy": ALPHA,
    }.items():
        np.save(tmp_path / name, arr)
        s = read_polarizability_series(tmp_path / name, timestep_fs=4.0)
        np.testing.assert_allclose(s.alpha, ALPHA)
        assert s.timestep_fs == 4.0 and s.alpha.shape == (12, 3, 3)


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, dict, str]]:
    comps = from_matrix(ALPHA, "ase-voigt")
    cases: dict[str, tuple[Path, dict, str]] = {}

    p = tmp / "five.csv"
    np.savetxt(p, comps[:, :5], delimiter=",")
    cases["five columns"] = (p, {"timestep_fs": 1.0}, "expected 6 or 9")

    p = tmp / "nan.txt"
    bad = comps.copy()
    bad[4, 2] = np.nan
    np.savetxt(p, bad)
    cases["NaN"] = (p, {"timestep_fs": 1.0}, r"non-finite value \(nan\) at frame 5, column 3")

    p = tmp / "inf.npy"
    bad = ALPHA.copy()
    bad[1, 1, 1] = np.inf
    np.save(p, bad)
    cases["inf"] = (p, {"timestep_fs": 1.0}, "non-finite")

    p = tmp / "ok.txt"
    np.savetxt(p, comps)
    cases["zero step"] = (p, {"timestep_fs": 0.0}, "positive")
    cases["negative step"] = (p, {"timestep_fs": -2.0}, "positive")
    cases["missing step"] = (p, {}, "missing time step")

    p = tmp / "nonuniform.csv"
    t = 2.0 * np.arange(12)
    t[7] += 0.5
    np.savetxt(p, np.column_stack([t, comps]), delimiter=",", header="time_fs,xx,yy,zz,yz,xz,xy")
    cases["non-uniform time"] = (p, {}, "non-uniform time column")

    p = tmp / "unitless.csv"
    np.savetxt(
        p,
        np.column_stack([2 * np.arange(12), comps]),
        delimiter=",",
        header="time,xx,yy,zz,yz,xz,xy",
    )
    cases["unitless time"] = (p, {}, "no unit")

    p = tmp / "one.txt"
    np.savetxt(p, comps[:1])
    cases["one frame"] = (p, {"timestep_fs": 1.0}, "at least 2 frames")

    p = tmp / "empty.txt"
    p.write_text("# nothing\n")
    cases["empty"] = (p, {"timestep_fs": 1.0}, "no numeric rows")

    p = tmp / "ragged.txt"
    p.write_text("1 2 3 4 5 6\n1 2 3\n")
    cases["ragged"] = (p, {"timestep_fs": 1.0}, "malformed")

    p = tmp / "bad.npy"
    np.save(p, np.zeros((12, 4, 2)))
    cases["npy shape"] = (p, {"timestep_fs": 1.0}, "must have shape")

    p = tmp / "order.txt"
    np.savetxt(p, comps)
    cases["unknown order"] = (
        p,
        {"timestep_fs": 1.0, "order": "voigt-ish"},
        "unknown component order",
    )

    p = tmp / "store.h5"
    _store(p, 300)
    chopped = tmp / "chopped.h5"
    chopped.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    cases["truncated hdf5"] = (chopped, {}, "truncated or corrupt")

    p = tmp / "foreign.h5"
    with h5py.File(p, "w") as f:
        f["polarizability"] = ALPHA
    cases["not ionraman hdf5"] = (p, {}, "not an ionraman trajectory store")

    p = tmp / "nopol.h5"
    _store(p, 2, polarizability=False)
    cases["store without polarizability"] = (p, {}, "has no polarizability")

    p = tmp / "short.h5"
    _store(p, 1)
    cases["store with one frame"] = (p, {}, "at least 2 frames")

    cases["missing file"] = (tmp / "absent.csv", {"timestep_fs": 1.0}, "not found")
    return cases


def test_bad_polarizability_inputs(tmp_path):
    for label, (path, kwargs, pattern) in _bad_inputs(tmp_path).items():
        with pytest.raises(InputError, match=pattern) as exc:
            read_polarizability_series(path, **kwargs)
        assert "\n" not in str(exc.value), label
        assert path.name in str(exc.value), label


def test_store_series_keeps_store_metadata(tmp_path):
    path = tmp_path / "s.h5"
    _store(path, 6)
    s = read_polarizability_series(path)
    assert s.metadata["temperature_K"] == 600.0
    assert s.metadata["format"] == FORMAT
    assert s.timestep_fs == 2.0
    np.testing.assert_array_equal(s.alpha[5], _alpha(5))
    # a copy with a non-uniform frame time is refused
    odd = tmp_path / "odd.h5"
    shutil.copy(path, odd)
    with h5py.File(odd, "r+") as f:
        f["times_fs"][3] = 6.7
    with pytest.raises(InputError, match="non-uniform frame times"):
        read_polarizability_series(odd)
