"""Quantum ESPRESSO dielectric runner: input writers, output parsers, run/failure handling.

The fixtures in ``data/qe/`` are trimmed copies of real QE 6.7 outputs made on the development
machine (see ``data/qe/README.md``). Runs use small fake ``pw.x``/``ph.x`` scripts that print those
outputs, so everything but the physics of QE itself is exercised in well under a second; the real
run is the ``slow`` test at the end.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import read
from ase.units import Bohr

from ionraman.errors import InputError
from ionraman.polarizability.reference import qe
from ionraman.polarizability.reference.pseudopotentials import PseudoFile

DATA = Path(__file__).parent / "data" / "qe"
PH_OK = DATA / "tNa3SbS4_rattled_ph.out"
PW_OK = DATA / "tNa3SbS4_rattled_pw.out"
PW_NOT_CONVERGED = DATA / "si_scf_not_converged_pw.out"
PH_METAL = DATA / "al_metal_error_ph.out"
PH_NOT_CONVERGED = DATA / "si_ph_not_converged_ph.out"

# ε∞ printed by ph.x in PH_OK (16-atom rattled t-Na3SbS4, 44 Ry, shifted 2×2×2, PBE).
EPS_FIXTURE = np.array([
    [3.853283063, 0.018663928, -0.002506343],
    [0.018663876, 3.873734276, -0.027442118],
    [-0.002506263, -0.027442025, 3.845900554],
])


# ---------------------------------------------------------------------------------------------
# Physics and parsing
# ---------------------------------------------------------------------------------------------
def test_polarizability_from_epsilon_analytic() -> None:
    zero = qe.polarizability_from_epsilon(np.eye(3), 123.0)
    np.testing.assert_array_equal(zero, np.zeros((3, 3)))
    # V = 4π Å³ and ε = 5: α = 4 Å³ on the diagonal.
    alpha = qe.polarizability_from_epsilon(5.0 * np.eye(3), 4.0 * np.pi)
    np.testing.assert_allclose(alpha, 4.0 * np.eye(3), rtol=1e-15)
    # Off-diagonal ε enters unchanged (no −1): α_xy = V ε_xy / 4π.
    eps = np.eye(3) + np.array([[0, 0.5, 0], [0.5, 0, 0], [0, 0, 0]])
    assert qe.polarizability_from_epsilon(eps, 8 * np.pi)[0, 1] == pytest.approx(1.0)
    stack = qe.polarizability_from_epsilon(np.stack([np.eye(3), 2 * np.eye(3)]), 4 * np.pi)
    assert stack.shape == (2, 3, 3)


def test_parse_epsilon_from_real_ph_output() -> None:
    text = PH_OK.read_text()
    eps = qe.parse_epsilon(text)
    np.testing.assert_array_equal(eps, EPS_FIXTURE)
    # The cell volume printed by ph.x (bohr³) agrees with the ASE cell used for α.
    volume_bohr3 = 2511.4608
    atoms = Atoms("Na", cell=np.diag([7.1708, 7.1708, 7.2376]), pbc=True)
    assert volume_bohr3 * Bohr**3 == pytest.approx(atoms.get_volume(), rel=2e-7)
    alpha = qe.polarizability_from_epsilon(eps, atoms.get_volume())
    assert alpha[0, 0] == pytest.approx(372.160089 * (3.853283063 - 1) / (4 * np.pi), rel=1e-8)
    assert alpha[0, 0] == pytest.approx(84.5016, abs=1e-4)


def test_k_point_count_and_pools() -> None:
    assert qe.parse_k_point_count(PH_NOT_CONVERGED.read_text()) == 2  # real QE output
    assert qe.parse_k_point_count("no such line") is None
    two = qe.QESettings(mpi_ranks=2, npool=2)
    # a symmetric cell with one irreducible k-point: ph.x would abort with 2 pools
    assert qe.pools_for_k_points(two, 1) == 1
    assert qe.pools_for_k_points(two, 4) == 2 and qe.pools_for_k_points(two, None) == 2
    assert qe.pools_for_k_points(qe.QESettings(mpi_ranks=6, npool=6), 4) == 3


def test_parse_epsilon_takes_the_last_block_and_rejects_broken_ones() -> None:
    text = PH_OK.read_text()
    header = qe.EPSILON_HEADER
    doubled = text.replace(header, f"{header}\n\n          (  9.0 0.0 0.0 )\n          "
                           f"(  0.0 9.0 0.0 )\n          (  0.0 0.0 9.0 )\n\n{header}", 1)
    np.testing.assert_array_equal(qe.parse_epsilon(doubled), EPS_FIXTURE)
    with pytest.raises(ValueError, match="no 'Dielectric"):
        qe.parse_epsilon(PW_OK.read_text())
    cut = text[: text.index("3.873734276")]
    with pytest.raises(ValueError, match="1 rows"):
        qe.parse_epsilon(cut)


def test_output_problem_on_real_outputs() -> None:
    assert qe.output_problem(PW_OK.read_text(), "pw") is None
    assert qe.output_problem(PH_OK.read_text(), "ph") is None
    assert qe.output_problem(PW_NOT_CONVERGED.read_text(), "pw") == (
        "pw.x SCF convergence NOT achieved"
    )
    assert qe.output_problem(PH_METAL.read_text(), "ph") == (
        "ph.x error in routine phq_readin (1): no elec. field with metals"
    )
    assert qe.output_problem(PH_NOT_CONVERGED.read_text(), "ph") == (
        "ph.x DFPT response not converged (niter_ph reached, no dielectric tensor)"
    )
    truncated = PH_OK.read_text().split("End of electric fields calculation")[0]
    assert qe.output_problem(truncated, "ph") == "ph.x stopped before 'JOB DONE.'"
    assert qe.output_problem("", "pw") == "pw.x stopped before 'JOB DONE.'"


def test_parse_qe_version() -> None:
    assert qe.parse_qe_version(PW_OK.read_text()) == "6.7MaX"
    assert qe.parse_qe_version(PH_OK.read_text()) == "6.7MaX"
    assert qe.parse_qe_version("nothing") is None


# ---------------------------------------------------------------------------------------------
# Settings and input writers
# ---------------------------------------------------------------------------------------------
def test_settings_validation_and_round_trip() -> None:
    s = qe.QESettings(ecutwfc_ry=55, kpts=(3, 3, 3), mpi_ranks=4, npool=2, timeout_s=60.0)
    assert s.ecutrho == 220.0
    assert qe.QESettings.from_dict(s.to_dict()) == s
    assert s.physics() == qe.QESettings(ecutwfc_ry=55, kpts=(3, 3, 3)).physics()
    for bad in ({"npool": 3}, {"ecutwfc_ry": -1}, {"kpts": (0, 1, 1)}, {"ecutrho_ry": 100.0},
                {"tr2_ph": 0.0}):
        with pytest.raises(InputError, match="QESettings"):
            qe.QESettings(**bad)
    with pytest.raises(InputError, match="unknown keys"):
        qe.QESettings.from_dict({"ecut": 40})


def test_kspacing_gives_the_vasp_mesh_and_keeps_the_supercell_density() -> None:
    from ionraman.structures import get_structure

    spacing = qe.QESettings(kspacing_inv_A=0.5, ecutwfc_ry=40)
    cell = get_structure("c-Na3SbS4")  # a = 7.17 Å: 2π/7.17 = 0.876 1/Å -> ceil(1.75) = 2
    double = get_structure("c-Na3SbS4", supercell=(2, 1, 1))
    resolved = spacing.for_structure(cell)
    assert resolved.kpts == (2, 2, 2) and resolved.kspacing_inv_A is None
    assert spacing.for_structure(double).kpts == (1, 2, 2)
    # same mesh, same physics (and so the same label key) as the explicit mesh
    assert resolved.physics() == qe.QESettings(kpts=(2, 2, 2), ecutwfc_ry=40).physics()
    assert "kspacing_inv_A" in spacing.physics()  # unresolved settings say so
    # non-orthogonal cell: |b_i| of fcc Si (a = 5.43 Å) primitive vectors = √3/a
    si = bulk("Si", "fcc", a=5.43)
    n = int(np.ceil(2 * np.pi * np.sqrt(3) / 5.43 / 0.3))
    assert qe.QESettings(kspacing_inv_A=0.3).for_structure(si).kpts == (n, n, n) == (7, 7, 7)
    assert qe.QESettings(kpts=(3, 1, 2)).for_structure(si).kpts == (3, 1, 2)  # no spacing: as is
    with pytest.raises(InputError, match="kspacing_inv_A"):
        qe.QESettings(kspacing_inv_A=0.0)


def _fake_pseudos(tmp_path: Path, symbols) -> dict[str, PseudoFile]:
    d = tmp_path / "pseudo"
    d.mkdir(exist_ok=True)
    out = {}
    for s in dict.fromkeys(symbols):
        f = d / f"{s}.fake.upf"
        f.write_text(f"fake {s}\n")
        out[s] = PseudoFile(s, f, "0" * 64, d / f"{s}.psp8", "1" * 64, 1.0)
    return out


def test_write_pw_input_round_trips_through_ase(tmp_path: Path) -> None:
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    atoms.rattle(0.02, seed=1)
    settings = qe.QESettings(ecutwfc_ry=44, kpts=(2, 3, 4), conv_thr_ry=1e-9)
    path = qe.write_pw_input(atoms, settings, _fake_pseudos(tmp_path, ["Na", "Cl"]),
                             tmp_path / "pw.in")
    text = path.read_text()
    back = read(path, format="espresso-in")
    np.testing.assert_allclose(back.positions, atoms.positions, atol=1e-9)
    np.testing.assert_allclose(back.cell, atoms.cell, atol=1e-12)
    assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
    assert "2 3 4  1 1 1" in text  # shifted Monkhorst–Pack grid
    for line in ("ecutwfc          = 44.0", "ecutrho          = 176.0", "conv_thr         = 1e-09",
                 "startingwfc      = 'random'", "occupations      = 'fixed'",
                 f"pseudo_dir       = '{tmp_path / 'pseudo'}'", "Na.fake.upf"):
        assert line in text, line
    for absent in ("&RISM", "&FCP", "&CELL", "&IONS"):
        assert absent not in text
    unshifted = qe.write_pw_input(atoms, qe.QESettings(kpts_shifted=False),
                                  _fake_pseudos(tmp_path, ["Na", "Cl"]), tmp_path / "pw2.in")
    assert "2 2 2  0 0 0" in unshifted.read_text()
    with pytest.raises(InputError, match=r"\['Cl'\]"):
        qe.write_pw_input(atoms, settings, _fake_pseudos(tmp_path, ["Na"]), tmp_path / "x.in")


def test_write_ph_input(tmp_path: Path) -> None:
    text = qe.write_ph_input(qe.QESettings(tr2_ph=1e-14), tmp_path / "ph.in").read_text()
    lines = text.splitlines()
    assert not lines[0].startswith("&")  # ph.x reads a title line first
    assert lines[1].strip() == "&INPUTPH"
    for line in ("epsil            = .true.", "trans            = .false.",
                 "tr2_ph           = 1e-14", "prefix           = 'ionraman'"):
        assert line in text, line
    assert lines[-1].split() == ["0.00000000"] * 3  # q = Γ


# ---------------------------------------------------------------------------------------------
# Running with fake executables
# ---------------------------------------------------------------------------------------------
FAKE_CODE = """#!/bin/sh
cat > /dev/null
echo "$0" >> "$IONRAMAN_FAKE_CALLS"
if [ -n "$IONRAMAN_FAKE_SLEEP" ]; then sleep "$IONRAMAN_FAKE_SLEEP"; fi
cat "$IONRAMAN_FAKE_{name}"
exit "${{IONRAMAN_FAKE_{name}_RC:-0}}"
"""


@pytest.fixture()
def fake_qe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pw.x / ph.x / mpirun on PATH that print the fixture outputs; returns the calls log."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for exe, name in (("pw.x", "PW"), ("ph.x", "PH")):
        script = bindir / exe
        script.write_text(FAKE_CODE.format(name=name))
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    mpirun = bindir / "mpirun"
    mpirun.write_text("#!/bin/sh\nexit 0\n")
    mpirun.chmod(mpirun.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls.log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("IONRAMAN_FAKE_CALLS", str(calls))
    monkeypatch.setenv("IONRAMAN_FAKE_PW", str(PW_OK))
    monkeypatch.setenv("IONRAMAN_FAKE_PH", str(PH_OK))
    monkeypatch.setattr(qe, "upf_pseudopotentials",
                        lambda symbols, cache_dir=None: _fake_pseudos(tmp_path, symbols))
    return calls


SERIAL = qe.QESettings(mpi_ranks=1, npool=1)


def _cell() -> Atoms:
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    atoms.rattle(0.02, seed=2)
    return atoms


def test_command_line(fake_qe: Path) -> None:
    argv = qe.command_line(qe.QESettings(mpi_ranks=2, npool=2), "ph")
    assert Path(argv[0]).name == "mpirun"
    assert argv[1:5] == ["-np", "2", "--bind-to", "none"]
    assert ("--allow-run-as-root" in argv) == (os.geteuid() == 0)
    assert Path(argv[-3]).name == "ph.x" and argv[-2:] == ["-nk", "2"]
    assert [Path(a).name for a in qe.command_line(SERIAL, "pw")] == ["pw.x"]
    with pytest.raises(InputError, match="not found on PATH"):
        qe.command_line(qe.QESettings(pw_command="no-such-pw.x"), "pw")


def test_run_epsilon_success(fake_qe: Path, tmp_path: Path) -> None:
    atoms = _cell()
    settings = qe.QESettings(mpi_ranks=1, npool=1, ecutwfc_ry=40)
    (tmp_path / "run" / "tmp").mkdir(parents=True)
    result = qe.run_epsilon(atoms, tmp_path / "run", settings)
    assert result.ok, result.error
    assert result.error is None
    np.testing.assert_array_equal(result.epsilon_inf, EPS_FIXTURE)
    expected = atoms.get_volume() * (EPS_FIXTURE - np.eye(3)) / (4 * np.pi)
    np.testing.assert_allclose(result.polarizability_A3, expected, rtol=1e-14)
    assert result.volume_A3 == pytest.approx(atoms.get_volume())
    assert [Path(line).name for line in fake_qe.read_text().split()] == ["pw.x", "ph.x"]
    assert set(result.logs) == {"pw", "ph"} and all(Path(p).exists() for p in result.logs.values())
    assert not (tmp_path / "run" / "tmp").exists()  # scratch removed after success
    meta = result.metadata
    assert meta["versions"] == {"pw": "6.7MaX", "ph": "6.7MaX"}
    assert meta["physics"]["ecutwfc_ry"] == 40
    assert set(meta["pseudopotentials"]) == {"Na", "Cl"}
    assert meta["pseudopotentials"]["Na"]["upf_sha256"] == "0" * 64
    # JSON round trip and attaching to Atoms.
    again = qe.QEResult.from_json(result.to_json())
    np.testing.assert_array_equal(again.polarizability_A3, result.polarizability_A3)
    qe.attach_result(atoms, again)
    np.testing.assert_array_equal(atoms.info[qe.INFO_EPSILON], EPS_FIXTURE)
    assert atoms.info[qe.INFO_POLARIZABILITY].shape == (3, 3)
    assert "QE 6.7MaX" in atoms.info[qe.INFO_SOURCE] and "ecut=40" in atoms.info[qe.INFO_SOURCE]


def test_run_epsilon_scf_failure_stops_before_ph(fake_qe: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IONRAMAN_FAKE_PW", str(PW_NOT_CONVERGED))
    monkeypatch.setenv("IONRAMAN_FAKE_PW_RC", "2")  # pw.x 6.7 exits with STOP 2 here
    result = qe.run_epsilon(_cell(), tmp_path / "run", SERIAL)
    assert not result.ok
    assert result.epsilon_inf is None and result.polarizability_A3 is None
    assert result.error == f"pw.x SCF convergence NOT achieved (log {tmp_path / 'run' / 'pw.out'})"
    assert [Path(line).name for line in fake_qe.read_text().split()] == ["pw.x"]
    with pytest.raises(ValueError, match="failed QE result"):
        qe.attach_result(_cell(), result)


def test_run_epsilon_ph_failures(fake_qe: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IONRAMAN_FAKE_PH", str(PH_METAL))
    result = qe.run_epsilon(_cell(), tmp_path / "a", SERIAL)
    assert not result.ok and "no elec. field with metals" in result.error
    assert str(tmp_path / "a" / "ph.out") in result.error
    # A clean-looking output with a non-zero exit status is still a failure.
    monkeypatch.setenv("IONRAMAN_FAKE_PH", str(PH_OK))
    monkeypatch.setenv("IONRAMAN_FAKE_PH_RC", "1")
    result = qe.run_epsilon(_cell(), tmp_path / "b", SERIAL)
    assert not result.ok and result.error.startswith("ph.x exited with code 1")
    # A CRASH file left by the code is a failure as well.
    monkeypatch.setenv("IONRAMAN_FAKE_PH_RC", "0")
    crash_writer = tmp_path / "bin" / "ph.x"
    crash_writer.write_text(FAKE_CODE.format(name="PH").replace("cat > /dev/null",
                                                                 "cat > /dev/null; touch CRASH"))
    result = qe.run_epsilon(_cell(), tmp_path / "c", SERIAL)
    assert not result.ok and "CRASH" in result.error
    # Unconverged response (niter_ph reached): ph.x prints JOB DONE. but no tensor, exits 1.
    monkeypatch.setenv("IONRAMAN_FAKE_PH", str(PH_NOT_CONVERGED))
    monkeypatch.setenv("IONRAMAN_FAKE_PH_RC", "1")
    crash_writer.write_text(FAKE_CODE.format(name="PH"))
    result = qe.run_epsilon(_cell(), tmp_path / "d", SERIAL)
    assert not result.ok and result.epsilon_inf is None
    assert result.error == ("ph.x DFPT response not converged (niter_ph reached, no dielectric "
                            f"tensor) (log {tmp_path / 'd' / 'ph.out'})")


def test_run_epsilon_timeout(
    fake_qe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IONRAMAN_FAKE_SLEEP", "20")
    settings = qe.QESettings(mpi_ranks=1, npool=1, timeout_s=0.5)
    result = qe.run_epsilon(_cell(), tmp_path / "run", settings)
    assert not result.ok and "timeout_s=0.5" in result.error
    assert result.wall_s["pw"] < 5.0


def test_run_epsilon_continues_an_interrupted_run(
    fake_qe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed ph.x (log without JOB DONE, restart file present) is recovered, pw.x not rerun;
    a changed input, a crash or a failed recovery start afresh."""
    run = tmp_path / "run"
    # first attempt: pw.x finished, ph.x killed half-way (the log stops mid-iteration)
    cut = tmp_path / "ph_killed.out"
    cut.write_text(PH_OK.read_text().split("      iter #   7")[0])
    monkeypatch.setenv("IONRAMAN_FAKE_PH", str(cut))
    assert not qe.run_epsilon(_cell(), run, SERIAL).ok
    (run / "tmp" / "ionraman.save").mkdir(parents=True)
    (run / "tmp" / "_ph0").mkdir()
    (run / "tmp" / "_ph0" / "ionraman.recover").write_text("restart data")
    assert qe.resume_state(run, True) == (True, True)
    assert qe.resume_state(run, False) == (False, False)  # input changed: start afresh

    monkeypatch.setenv("IONRAMAN_FAKE_PH", str(PH_OK))
    fake_qe.write_text("")
    result = qe.run_epsilon(_cell(), run, SERIAL)
    assert result.ok, result.error
    np.testing.assert_array_equal(result.epsilon_inf, EPS_FIXTURE)
    assert [Path(line).name for line in fake_qe.read_text().split()] == ["ph.x"]
    assert "recover          = .true." in (run / "ph.in").read_text()
    assert result.metadata["resumed"]["pw_reused"] and result.metadata["resumed"]["ph_recovered"]
    assert "pw" not in result.wall_s and "ph" in result.wall_s
    assert Path(result.logs["ph_interrupted"]).read_text() == cut.read_text()

    # a recovery that fails removes the restart files, so the next attempt starts afresh
    other = tmp_path / "other"
    monkeypatch.setenv("IONRAMAN_FAKE_PH", str(cut))
    qe.run_epsilon(_cell(), other, SERIAL)
    (other / "tmp" / "ionraman.save").mkdir(parents=True)
    (other / "tmp" / "_ph0").mkdir()
    (other / "tmp" / "_ph0" / "ionraman.recover").write_text("restart data")
    monkeypatch.setenv("IONRAMAN_FAKE_PH", str(PH_METAL))
    assert not qe.run_epsilon(_cell(), other, SERIAL).ok
    assert not (other / "tmp" / "_ph0").exists()
    assert qe.resume_state(other, True) == (True, False)
    (other / "CRASH").write_text("crashed")
    assert qe.resume_state(other, True) == (False, False)


def test_run_epsilon_rejects_non_periodic(fake_qe: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="periodic"):
        qe.run_epsilon(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]]), tmp_path, SERIAL)


# ---------------------------------------------------------------------------------------------
# Slow: a real pw.x + ph.x run
# ---------------------------------------------------------------------------------------------
HAS_QE = all(shutil.which(x) for x in ("pw.x", "ph.x")) and importlib.util.find_spec("sparc")


@pytest.mark.slow
@pytest.mark.skipif(not HAS_QE, reason="pw.x/ph.x or sparc-x-api (pseudopotentials) missing")
def test_real_qe_run_silicon(tmp_path: Path) -> None:
    atoms = bulk("Si", "diamond", a=5.431)  # experimental lattice constant
    settings = qe.QESettings(ecutwfc_ry=24, kpts=(6, 6, 6), mpi_ranks=1, npool=1)
    result = qe.run_epsilon(atoms, tmp_path / "si", settings, pseudo_cache=tmp_path / "pseudo")
    assert result.ok, result.error
    eps = result.epsilon_inf
    # Cubic symmetry: isotropic, no off-diagonal part.
    np.testing.assert_allclose(np.diag(eps), eps[0, 0], rtol=1e-6)
    np.testing.assert_allclose(eps - np.diag(np.diag(eps)), 0.0, atol=1e-6)
    # PBE ε∞ of Si at the experimental lattice constant: 12.9–13.2 in converged DFPT studies;
    # this k-mesh (6×6×6 shifted) was measured here at 12.98.
    assert 12.5 < eps[0, 0] < 13.5


# ---------------------------------------------------------------------------------------------
# SCF energies, forces and stresses
# ---------------------------------------------------------------------------------------------
PW_SCF = DATA / "tNa3SbS4_md600_scf_pw.out"
SCF_STRUCTURE = DATA / "tNa3SbS4_md600_scf.extxyz"


def test_parse_scf_agrees_with_ase_reader() -> None:
    """Our parser against ASE's independent espresso-out reader on a real QE 6.7 output
    (ASE converts with CODATA 2006 constants, we with ASE's default: 1e-7 relative)."""
    text = PW_SCF.read_text()
    energy, forces, stress = qe.parse_scf(text, 16)
    ase_atoms = read(PW_SCF, format="espresso-out")
    assert energy == pytest.approx(ase_atoms.get_potential_energy(), rel=2e-7)
    np.testing.assert_allclose(forces, ase_atoms.get_forces(), rtol=2e-7, atol=1e-9)
    np.testing.assert_allclose(stress, ase_atoms.get_stress(voigt=False), rtol=2e-7, atol=1e-12)
    # QE prints P = 27.17 kbar; ASE's sign: pressure = −tr(σ)/3
    assert -np.trace(stress) / 3 / 1e-1 * 160.21766 == pytest.approx(27.17, abs=0.01)
    assert forces.shape == (16, 3)
    _, _, none = qe.parse_scf(PW_OK.read_text(), 16)  # an output without tstress
    assert none is None
    with pytest.raises(ValueError, match="total energy"):
        qe.parse_scf("nothing", 16)
    with pytest.raises(ValueError, match="17"):
        qe.parse_scf(text, 17)


def test_run_scf_runs_pw_only_and_attaches_a_calculator(
    fake_qe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IONRAMAN_FAKE_PW", str(PW_SCF))
    atoms = read(SCF_STRUCTURE)
    result = qe.run_scf(atoms, tmp_path / "run", SERIAL)
    assert result.ok, result.error
    assert [Path(line).name for line in fake_qe.read_text().split()] == ["pw.x"]
    assert result.epsilon_inf is None and result.polarizability_A3 is None
    assert result.has_scf and result.forces_eV_A.shape == (16, 3)
    assert "tstress" in (tmp_path / "run" / "pw.in").read_text()
    assert result.metadata["task"] == "scf" and "tr2_ph" not in result.metadata["physics"]
    again = qe.QEResult.from_json(result.to_json())
    np.testing.assert_array_equal(again.stress_eV_A3, result.stress_eV_A3)
    qe.attach_result(atoms, again)
    assert atoms.get_potential_energy() == pytest.approx(result.energy_eV)
    np.testing.assert_array_equal(atoms.get_forces(), result.forces_eV_A)
    assert "pw.x SCF" in atoms.info[qe.INFO_SOURCE]
    # a dielectric run keeps the SCF of its pw.x step
    eps = qe.run_epsilon(atoms, tmp_path / "eps", SERIAL)
    assert eps.ok and eps.has_scf
    np.testing.assert_array_equal(eps.forces_eV_A, result.forces_eV_A)
    # an SCF and a dielectric label of one structure never share a key
    from ionraman.polarizability.reference.labels import structure_key

    assert structure_key(atoms, SERIAL, "scf") != structure_key(atoms, SERIAL)
    with pytest.raises(InputError, match="task"):
        qe.run_qe(atoms, tmp_path / "x", SERIAL, task="phonons")
