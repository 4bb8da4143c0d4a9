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


def _grid(*axes: tuple[float, ...]) -> np.ndarray:
    """Points of the Cartesian product of the coordinate lists, [N, 3] (Å)."""
    return np.array(np.meshgrid(*axes, indexing="ij")).reshape(3, -1).T


@pytest.fixture
def walk_extxyz(tmp_path):
    """Random walk of 32 Na in a fixed S framework, wrapped, written by ASE (not by ionraman).

    Na start on a 3 Å grid and S sit between its planes, so no two atoms overlap in frame 0."""
    rng = np.random.default_rng(1)
    cell = np.diag([12.0, 12.0, 12.0])
    n_na, n_s, steps, sigma = 32, 16, 400, 0.1
    na = _grid((0.0, 3.0, 6.0, 9.0), (0.0, 3.0, 6.0, 9.0), (0.0, 6.0))
    s = _grid((1.5, 4.5, 7.5, 10.5), (1.5, 7.5), (3.0, 9.0))
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


# ------------------------------------------------------------------------------------------
# issue 23: bad input never computes (one line, exit 2, existing files left as they were)
# ------------------------------------------------------------------------------------------
KEEP = b"an earlier, good result\n"


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    """Files for the refusal cases: good and broken inputs, a simulated spectrum, a plain file."""
    d = tmp_path_factory.mktemp("bad_inputs")
    np.savetxt(d / "alpha.csv", _ou_series(1024, 5.0), delimiter=",", header="xx,yy,zz,yz,xz,xy")
    np.savetxt(d / "alpha2.csv", _ou_series(2, 5.0), delimiter=",", header="xx,yy,zz,yz,xz,xy")
    assert main(["spectrum", str(d / "alpha.csv"), "--timestep-fs", "4", "-T", "300",
                 "-o", str(d / "sim")]) == 0
    shift = np.linspace(10.0, 600.0, 200)
    pd.DataFrame({"raman_shift_cm1": shift, "intensity": -1.0 - shift / 600}).to_csv(
        d / "negative.csv", index=False
    )
    cell = np.diag([9.0, 9.0, 9.0])
    base = Atoms(["Na"] * 8 + ["S"] * 8, positions=np.vstack([
        _grid((0.0, 4.5), (0.0, 4.5), (0.0, 4.5)),
        _grid((2.25, 6.75), (2.25, 6.75), (2.25, 6.75)),
    ]), cell=cell, pbc=True)
    overlap = base.copy()
    overlap.positions[1] = overlap.positions[0] + [0.1, 0.0, 0.0]
    nan_frame, no_cell = base.copy(), Atoms(base.get_chemical_symbols(), base.positions)
    nan_frame.positions[3] = np.nan
    ase.io.write(d / "overlap_traj.extxyz", [overlap] * 4)
    ase.io.write(d / "nan_traj.extxyz", [base, base, nan_frame, base])
    ase.io.write(d / "nocell_traj.extxyz", [no_cell] * 4)
    ase.io.write(d / "overlap.extxyz", overlap)
    slab = base.copy()
    slab.set_cell(np.diag([9.0, 9.0, 9.0 + 15.0]), scale_atoms=False)
    ase.io.write(d / "slab.extxyz", slab)
    pol = overlap.copy()
    pol.info["REF_polarizability"] = np.eye(3).ravel() * 100.0
    ase.io.write(d / "overlap_pol.extxyz", [pol, pol])
    return d


def _refused(argv: list[str], capsys) -> str:
    rc = main(argv)
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert rc == 2, captured.err + captured.out
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    assert not captured.out.strip(), captured.out  # refused before any work or progress line
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        # accepted before with exit 0 and a wrong result
        (["diffusion", "{d}/overlap_traj.extxyz", "-T", "nan"], "--temperature = nan K"),
        (["diffusion", "{d}/overlap_traj.extxyz", "--charge", "0"], "--charge = 0.0"),
        (["diffusion", "{d}/overlap_traj.extxyz", "-T", "1e6"], "--temperature = 1000000.0 K"),
        (["spectrum", "{d}/alpha.csv", "--timestep-fs", "4", "-T", "1e6"], "0 < T <= 5000 K"),
        (["spectrum", "{d}/alpha2.csv", "--timestep-fs", "4"], "series of 2 frames"),
        (["compare", "{d}/negative.csv", "{d}/sim"], "no positive intensity"),
        (["diffusion", "{d}/overlap_traj.extxyz", "--timestep-fs", "10", "-T", "600"],
         "overlap_traj.extxyz: frame 0: atoms 0 (Na) and 1 (Na) are 0.100 Å apart"),
        (["polarizability", "fit", "{d}/overlap_pol.extxyz", "--max-epochs", "1"],
         "overlap_pol.extxyz: structure 0: atoms 0 (Na) and 1 (Na) are 0.100 Å apart"),
        (["md", "{d}/overlap.extxyz", "--time", "20fs"], "0.100 Å apart"),
        (["md", "{d}/slab.extxyz", "--time", "20fs"], "vacuum gap of 17.2 Å along cell axis c"),
        (["polarizability", "fit", "{d}/overlap_pol.extxyz", "--max-epochs", "0"],
         "--max-epochs = 0: expected an integer >= 1"),
        # tracebacks before
        (["diffusion", "{d}/nan_traj.extxyz", "--timestep-fs", "10"],
         "nan_traj.extxyz: frame 2: atomic positions contain NaN"),
        (["diffusion", "{d}/nocell_traj.extxyz", "--timestep-fs", "10"],
         "nocell_traj.extxyz: frame 0 has no 3D cell"),
        (["polarizability", "predict", "{d}/run.h5", "-m", "{d}/model.pt", "--threads", "0"],
         "--threads = 0"),
        # parser errors
        (["spectrum", "{d}/alpha.csv", "-T", "abc"], "'--temperature' / '-T'"),
        (["diffusion", "{d}/overlap_traj.extxyz", "--no-such-option"], "--no-such-option"),
        (["reference", "label"], "required: snapshots, --out"),
    ],
)
def test_bad_values_are_refused_before_any_work(args, needle, bad_inputs, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "spectrum.csv").write_bytes(KEEP)
    argv = [a.format(d=bad_inputs) for a in args]
    if argv[0] in ("spectrum", "diffusion", "compare"):
        argv += ["-o", str(out)]
    elif argv[0] == "md":
        argv += ["-o", str(out / "run.h5")]
    elif argv[:2] == ["polarizability", "fit"]:
        argv += ["-o", str(out / "model.pt")]
    line = _refused(argv, capsys)
    assert needle in line
    assert sorted(p.name for p in out.iterdir()) == ["spectrum.csv"]
    assert (out / "spectrum.csv").read_bytes() == KEEP


@pytest.mark.parametrize(
    "args",
    [
        ["spectrum", "{d}/alpha.csv", "--timestep-fs", "4"],
        ["diffusion", "{d}/overlap_traj.extxyz"],
        ["compare", "{d}/negative.csv", "{d}/sim"],
        ["reference", "label", "{d}/overlap_pol.extxyz", "--code", "qe"],
        ["forcefield", "distill", "t-Na3SbS4"],
        ["forcefield", "train", "{d}/overlap_pol.extxyz"],
        ["forcefield", "audit", "{d}/overlap_pol.extxyz", "--no-relax"],
        ["forcefield", "explore", "{d}/overlap_pol.extxyz", "t-Na3SbS4", "--train",
         "{d}/overlap_pol.extxyz"],
    ],
)
def test_out_that_is_an_existing_file_is_refused_and_kept(args, bad_inputs, tmp_path, capsys):
    target = tmp_path / "result.csv"
    target.write_bytes(KEEP)
    argv = [a.format(d=bad_inputs) for a in args] + ["--out", str(target)]
    line = _refused(argv, capsys)
    assert f"{target}: exists and is not a directory" in line
    assert target.read_bytes() == KEEP


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["md", "t-Na3SbS4", "--time", "20fs"], "run.h5"),
        (["spectrum", "{d}/alpha.csv", "--timestep-fs", "4"], "spec"),
        (["diffusion", "{d}/overlap_traj.extxyz"], "diff"),
        (["compare", "{d}/negative.csv", "{d}/sim"], "cmp"),
        (["polarizability", "fit", "{d}/overlap_pol.extxyz"], "model.pt"),
    ],
)
def test_out_that_cannot_be_written_is_refused(args, where, bad_inputs, tmp_path, capsys):
    """An output under a regular file cannot be made, for root too (unlike a chmod'ed folder)."""
    blocker = tmp_path / "blocker"
    blocker.write_bytes(KEEP)
    argv = [a.format(d=bad_inputs) for a in args] + ["-o", str(blocker / where)]
    line = _refused(argv, capsys)
    assert f"{blocker} is a file, so no directory can be made there" in line
    assert blocker.read_bytes() == KEEP


def test_fit_out_that_is_a_directory_is_refused(bad_inputs, tmp_path, capsys):
    line = _refused(["polarizability", "fit", str(bad_inputs / "overlap_pol.extxyz"), "-o",
                     str(tmp_path)], capsys)
    assert f"--out {tmp_path}: is a directory; expected a file name" in line


def test_header_less_series_records_and_says_the_assumed_order(tmp_path, capsys):
    series = tmp_path / "alpha.csv"
    np.savetxt(series, _ou_series(1024, 5.0), delimiter=",")  # no header: order assumed
    out = tmp_path / "spec"
    assert main(["spectrum", str(series), "--timestep-fs", "4", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "names no components; assumed order ase-voigt" in printed and "--order" in printed
    from ionraman.spectra import RamanSpectrum

    meta = RamanSpectrum.load(out / "spectrum.h5").metadata["input"]["series_metadata"]
    assert meta["component_order"] == "ase-voigt"
    assert meta["component_order_source"].startswith("assumed default")


def test_md_refuses_an_existing_store_without_checkpoint_and_keeps_it(tmp_path, capsys):
    out = tmp_path / "run.h5"
    out.write_bytes(KEEP)
    line = _refused(["md", "t-Na3SbS4", "--time", "20fs", "-o", str(out)], capsys)
    assert f"{out} exists and has no checkpoint" in line
    assert "choose another --out or delete it" in line  # advice a command-line user can follow
    assert out.read_bytes() == KEEP


def test_spectrum_of_a_killed_md_store_says_it_is_incomplete(tmp_path, capsys):
    from ionraman.conventions import to_matrix
    from ionraman.trajectory import TrajectoryWriter

    store = tmp_path / "killed.h5"
    n = 256
    with TrajectoryWriter(store, np.array([11, 16]), metadata={"status": "running"},
                          polarizability=True) as w:
        positions = np.broadcast_to(np.array([[0.0, 0.0, 0.0], [2.0, 2.0, 2.0]]), (n, 2, 3))
        w.append_many(positions, np.eye(3) * 6.0, np.arange(n) * 4.0,
                      polarizability=to_matrix(_ou_series(n, 5.0)))
    assert main(["spectrum", str(store), "-o", str(tmp_path / "spec")]) == 0
    out = capsys.readouterr().out
    assert f"note: {store} is an incomplete MD store (status 'running'" in out
    assert f"the {n} frames it holds" in out
