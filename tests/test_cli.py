"""The command line on files made outside the project, and its one-line user errors."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pandas as pd
import pytest
from ase import Atoms

from ionraman.cli import main


def _ou_series(n: int, tau_frames: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    phi = np.exp(-1.0 / tau_frames)
    x = np.zeros((n, 6))
    noise = rng.standard_normal((n, 6)) * np.sqrt(1 - phi**2)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + noise[i]
    x[:, :3] += 30.0
    return x


@pytest.fixture
def alpha_csv(tmp_path):
    path = tmp_path / "alpha.csv"
    np.savetxt(path, _ou_series(8192, 20.0), delimiter=",", header="xx,yy,zz,yz,xz,xy")
    return path


@pytest.fixture
def walk_extxyz(tmp_path):
    """Random walk of 32 Na in a fixed S framework, wrapped, written by ASE (not by ionraman)."""
    rng = np.random.default_rng(1)
    cell = np.diag([12.0, 12.0, 12.0])
    n_na, n_s, steps, sigma = 32, 16, 400, 0.1
    na = rng.uniform(0, 12, (n_na, 3))
    s = rng.uniform(0, 12, (n_s, 3))
    frames = []
    for _ in range(steps):
        at = Atoms(["Na"] * n_na + ["S"] * n_s, positions=np.vstack([na, s]), cell=cell, pbc=True)
        at.wrap()
        frames.append(at)
        na = na + rng.normal(0.0, sigma, na.shape)
    path = tmp_path / "walk.extxyz"
    ase.io.write(path, frames)
    # D = sigma² / (2 dt) per Cartesian step of sigma every dt = 10 fs
    return path, sigma**2 / (2 * 10.0) * 0.1  # Å²/fs -> cm²/s


def test_spectrum_command_on_a_six_column_csv(alpha_csv, tmp_path, capsys):
    out = tmp_path / "spec"
    rc = main(["spectrum", str(alpha_csv), "--timestep-fs", "4", "-T", "600", "-o", str(out)])
    assert rc == 0
    table = pd.read_csv(out / "spectrum.csv", comment="#")
    assert "wavenumber_cm1" in table.columns
    assert table["wavenumber_cm1"].iloc[0] == 0.0  # the ν̃ = 0 bin is kept
    assert (out / "spectrum.png").stat().st_size > 1000
    assert "bins" in capsys.readouterr().out


def test_diffusion_command_on_an_ase_extxyz(walk_extxyz, tmp_path, capsys):
    path, d_true = walk_extxyz
    out = tmp_path / "diff"
    rc = main(["diffusion", str(path), "--timestep-fs", "10", "-T", "600", "-o", str(out)])
    assert rc == 0
    info = json.loads((out / "diffusion.json").read_text())
    d = info["tracer"]["D_cm2_s"]
    assert d == pytest.approx(d_true, rel=0.15)
    assert (out / "msd.csv").is_file()
    assert "D*(Na)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["spectrum", "{bad5}", "--timestep-fs", "4"], "got 5"),
        (["spectrum", "{csv}", "--timestep-fs", "-4"], "positive"),
        (["spectrum", "{missing}", "--timestep-fs", "4"], "not found"),
        (["spectrum", "{nan}", "--timestep-fs", "4"], "non-finite"),
        (["spectrum", "{csv}", "--timestep-fs", "4", "--resolution", "0.01"], "resolution"),
        (["diffusion", "{corrupt}"], "corrupt.h5"),
        (["md", "t-Na3SbS4", "--time", "20 lightyears"], "unknown unit"),
        (["md", "t-Na3SbS4", "--supercell", "2x2"], "--supercell"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(args, needle, alpha_csv, tmp_path, capsys):
    bad5 = tmp_path / "bad5.csv"
    np.savetxt(bad5, np.ones((100, 5)), delimiter=",")
    nan = tmp_path / "nan.csv"
    data = _ou_series(256, 5.0)
    data[10, 2] = np.nan
    np.savetxt(nan, data, delimiter=",")
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    names = {
        "bad5": bad5,
        "csv": alpha_csv,
        "missing": tmp_path / "missing.csv",
        "nan": nan,
        "corrupt": corrupt,
    }
    argv = [a.format(**names) for a in args]
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 2
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert needle in lines[0]
    assert "Traceback" not in captured.err + captured.out
