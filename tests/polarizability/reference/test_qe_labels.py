"""Resumable labelling jobs (labels.py) driven by fake pw.x/ph.x that print real QE 6.7 outputs."""

from __future__ import annotations

import json
import os
import platform
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import read, write

from ionraman.errors import InputError
from ionraman.polarizability.reference import labels, qe
from ionraman.polarizability.reference.pseudopotentials import PseudoFile

DATA = Path(__file__).parent / "data" / "qe"
EPS_FIXTURE_XX = 3.853283063  # first diagonal element of data/qe/tNa3SbS4_rattled_ph.out

# Prints the converged output, or the non-converged one when the structure contains Cl.
FAKE_PW = f"""#!/bin/sh
input=$(cat)
echo pw >> "$IONRAMAN_FAKE_CALLS"
case "$input" in
  *"Cl.fake.upf"*) cat "{DATA / 'si_scf_not_converged_pw.out'}"; exit 2 ;;
  *) cat "{DATA / 'tNa3SbS4_rattled_pw.out'}" ;;
esac
"""
FAKE_PH = f"""#!/bin/sh
cat > /dev/null
echo ph >> "$IONRAMAN_FAKE_CALLS"
cat "{DATA / 'tNa3SbS4_rattled_ph.out'}"
"""


@pytest.fixture()
def fake_qe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("pw.x", FAKE_PW), ("ph.x", FAKE_PH)):
        (bindir / name).write_text(text)
        (bindir / name).chmod((bindir / name).stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls.log"
    calls.touch()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("IONRAMAN_FAKE_CALLS", str(calls))
    pseudo_dir = tmp_path / "pseudo"
    pseudo_dir.mkdir()

    def fake_pseudos(symbols, cache_dir=None):
        out = {}
        for s in dict.fromkeys(symbols):
            f = pseudo_dir / f"{s}.fake.upf"
            f.write_text(s)
            out[s] = PseudoFile(s, f, "0" * 64, f, "1" * 64, 1.0)
        return out

    monkeypatch.setattr(qe, "upf_pseudopotentials", fake_pseudos)
    return calls


SERIAL = qe.QESettings(mpi_ranks=1, npool=1)


def _frames() -> list[Atoms]:
    frames = []
    for seed, formula in ((1, "NaBr"), (2, "NaCl"), (3, "NaBr")):
        atoms = bulk(formula, "rocksalt", a=5.9, cubic=True)
        atoms.rattle(0.03, seed=seed)
        atoms.info["frame_id"] = seed
        frames.append(atoms)
    return frames


def _calls(path: Path) -> list[str]:
    return path.read_text().split()


def test_label_structures_resumes_and_excludes_failures(fake_qe: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.extxyz"
    write(src, _frames(), format="extxyz")
    out = tmp_path / "out.extxyz"
    work = tmp_path / "work"

    report = labels.label_structures(src, out, work, SERIAL)
    assert report.n_structures == 3
    assert report.computed == [0, 2] and report.reused == [] and report.pending == []
    assert [f.index for f in report.failed] == [1]
    failure = report.failed[0]
    assert failure.error.startswith("pw.x SCF convergence NOT achieved")
    assert failure.log == str(work / failure.key / "pw.out")
    assert _calls(fake_qe) == ["pw", "ph", "pw", "pw", "ph"]

    labelled = read(out, index=":")
    assert [a.info["frame_id"] for a in labelled] == [1, 3]  # input order, failure left out
    for atoms in labelled:
        alpha = np.asarray(atoms.info["REF_polarizability"]).reshape(3, 3)
        eps = np.asarray(atoms.info["REF_epsilon_inf"]).reshape(3, 3)
        assert eps[0, 0] == pytest.approx(EPS_FIXTURE_XX)
        np.testing.assert_allclose(alpha, atoms.get_volume() * (eps - np.eye(3)) / (4 * np.pi),
                                   rtol=1e-10)
        assert (work / atoms.info[labels.INFO_KEY] / labels.RESULT_FILE).exists()
        assert "QE 6.7MaX" in atoms.info["REF_source"]
    summary = json.loads((work / "summary.json").read_text())
    assert summary["n_labelled"] == 2 and len(summary["failed"]) == 1

    # Second call: nothing is recomputed, the failure is reported again but not retried.
    again = labels.label_structures(src, out, work, SERIAL)
    assert again.computed == [] and again.reused == [0, 2]
    assert [f.index for f in again.failed] == [1]
    assert len(_calls(fake_qe)) == 5
    assert len(read(out, index=":")) == 2

    # retry_failed re-runs only the failed structure (it fails again with this fake pw.x).
    retried = labels.label_structures(src, out, work, SERIAL, retry_failed=True)
    assert _calls(fake_qe)[5:] == ["pw"]
    assert [f.index for f in retried.failed] == [1]

    # A partially finished structure (no result.json) is computed; others stay untouched.
    key0 = labelled[0].info[labels.INFO_KEY]
    (work / key0 / labels.RESULT_FILE).unlink()
    only_first = labels.label_structures(src, out, work, SERIAL, indices=[0])
    assert _calls(fake_qe)[6:] == ["pw", "ph"]
    # ... and the output still holds the other labelled structure: a call on a few indices
    # never shrinks the file (nor lists structures it was not asked for as failed or pending)
    assert [a.info["frame_id"] for a in read(out, index=":")] == [1, 3]
    assert only_first.computed == [0] and only_first.reused == [2]
    assert not only_first.failed and not only_first.pending


def test_every_save_lists_all_finished_structures(fake_qe: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Frame 2 is labelled first; then a job starts at frame 0, saves after it and is killed
    # on frame 1: the file it leaves must hold frames 0 and 2, not only what it passed.
    src, out, work = tmp_path / "in.extxyz", tmp_path / "out.extxyz", tmp_path / "work"
    frames = [_frames()[0], _frames()[2], _frames()[2].copy()]
    frames[1].positions[0, 0] += 0.01
    write(src, frames, format="extxyz")
    labels.label_structures(src, out, work, SERIAL, indices=[2])
    real = labels.label_structure
    calls = []

    def killed_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SystemExit(143)
        return real(*args, **kwargs)

    monkeypatch.setattr(labels, "label_structure", killed_on_second)
    with pytest.raises(SystemExit):
        labels.label_structures(src, out, work, SERIAL)
    assert [a.info["frame_id"] for a in read(out, index=":")] == [1, 3]
    assert len(calls) == 2


def test_structure_key_depends_on_physics_only() -> None:
    atoms = _frames()[0]
    key = labels.structure_key(atoms, SERIAL)
    assert key == labels.structure_key(atoms.copy(), qe.QESettings(mpi_ranks=4, npool=4))
    assert key != labels.structure_key(atoms, qe.QESettings(ecutwfc_ry=55))
    assert key != labels.structure_key(atoms, qe.QESettings(kpts=(3, 3, 3)))
    # a k-spacing that gives this cell the same mesh gives the same key
    mesh = qe.QESettings(kspacing_inv_A=0.5).for_structure(atoms).kpts
    assert labels.structure_key(atoms, qe.QESettings(kspacing_inv_A=0.5)) == (
        labels.structure_key(atoms, qe.QESettings(kpts=mesh)))
    moved = atoms.copy()
    moved.positions[0, 0] += 1e-4
    assert key != labels.structure_key(moved, SERIAL)
    assert len(key) == 64


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_locks_skip_live_owners_and_take_over_stale_ones(fake_qe: Path, tmp_path: Path) -> None:
    atoms = _frames()[0]
    key = labels.structure_key(atoms, SERIAL)
    lock = tmp_path / "work" / key / labels.LOCK_FILE
    lock.parent.mkdir(parents=True)
    # Held by a live process (this one): the structure is left to it.
    lock.write_text(json.dumps({"pid": os.getpid(), "host": platform.node()}))
    _, result, computed = labels.label_structure(atoms, tmp_path / "work", SERIAL)
    assert result is None and not computed and _calls(fake_qe) == []
    # Left by a dead process on this host: taken over and released afterwards.
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": platform.node()}))
    _, result, computed = labels.label_structure(atoms, tmp_path / "work", SERIAL)
    assert result is not None and result.ok and computed
    assert not lock.exists()


def test_structures_finished_by_another_process_are_written_too(
    fake_qe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two jobs on one workdir split the structures between them (locks); each job's output
    file also holds what the other one finished while it ran, in input order."""
    frames = [a for a in _frames() if "Cl" not in a.get_chemical_formula()]
    src, out, work = tmp_path / "in.extxyz", tmp_path / "out.extxyz", tmp_path / "work"
    write(src, frames, format="extxyz")
    key0 = labels.structure_key(frames[0], SERIAL)
    lock = work / key0 / labels.LOCK_FILE
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": os.getpid(), "host": platform.node()}))  # "the other job"
    real = labels.label_structure

    def other_job_finishes_the_first_meanwhile(atoms, workdir, settings, **kw):
        result = real(atoms, workdir, settings, **kw)
        if result[1] is not None and not (work / key0 / labels.RESULT_FILE).exists():
            lock.unlink()
            real(frames[0], workdir, settings)
        return result

    monkeypatch.setattr(labels, "label_structure", other_job_finishes_the_first_meanwhile)
    report = labels.label_structures(src, out, work, SERIAL)
    assert report.computed == [1] and report.reused == [0] and report.pending == []
    assert [a.info["frame_id"] for a in read(out, index=":")] == [1, 3]


def test_bad_inputs_are_input_errors(fake_qe: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such structure file"):
        labels.label_structures(tmp_path / "missing.extxyz", tmp_path / "o.extxyz", tmp_path)
    src = tmp_path / "in.extxyz"
    write(src, _frames()[:1], format="extxyz")
    with pytest.raises(InputError, match=r"indices \[5\] out of range"):
        labels.label_structures(src, tmp_path / "o.extxyz", tmp_path / "w", SERIAL, indices=[5])


def test_command_line_entry_point(fake_qe: Path, tmp_path: Path) -> None:
    from ionraman.cli import main as cli_main

    src = tmp_path / "in.extxyz"
    write(src, _frames()[:1], format="extxyz")
    code = cli_main(["reference", "label", str(src), "--code", "qe", "--out", str(tmp_path / "o"),
                     "--ranks", "1", "--npool", "1", "--ecutwfc", "40", "--kpts", "3", "3", "3"])
    assert code == 0
    (atoms,) = read(tmp_path / "o" / labels.OUTPUT_NAME, index=":")
    assert "ecut=40.0Ry k=3x3x3s" in atoms.info["REF_source"]
    # --kspacing: the mesh comes from each structure's cell (VASP KSPACING), here a 2x1x1 cell
    double = _frames()[0].repeat((2, 1, 1))
    write(src, [double], format="extxyz")
    mesh = "x".join(map(str, qe.QESettings(kspacing_inv_A=0.4).for_structure(double).kpts))
    assert cli_main(["reference", "label", str(src), "--out", str(tmp_path / "k"), "--ranks", "1",
                     "--npool", "1", "--kspacing", "0.4"]) == 0
    (atoms,) = read(tmp_path / "k" / labels.OUTPUT_NAME, index=":")
    assert f"k={mesh}s" in atoms.info["REF_source"] and mesh.split("x")[0] != mesh.split("x")[1]
    assert json.loads((tmp_path / "k" / "summary.json").read_text())["settings"][
        "kspacing_inv_A"] == 0.4
    assert cli_main(["reference", "label", str(src), "--code", "vasp", "--out",
                     str(tmp_path / "o")]) == 2


# ---------------------------------------------------------------------------------------------
# label_main: the `ionraman reference label SNAPSHOTS --code qe --out DIR` entry point
# ---------------------------------------------------------------------------------------------
def test_label_main_outputs_provenance_and_resumes(fake_qe: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "snapshots.extxyz"
    write(src, _frames(), format="extxyz")
    out = tmp_path / "labels"
    argv = [str(src), "--code", "qe", "--out", str(out), "--ranks", "1", "--npool", "1",
            "--kpts", "2", "2", "2", "--ecutwfc", "44"]
    assert labels.label_main(argv) == 1  # the NaCl frame fails (fake pw.x does not converge)
    text = capsys.readouterr().out
    assert "labelled 2/3 (2 computed now, 0 reused), 1 failed" in text
    assert "FAILED #1" in text and "pw.x SCF convergence NOT achieved" in text
    assert str(out / "work") in text  # the log path is named

    labelled = read(out / labels.OUTPUT_NAME, index=":")
    assert [a.info["frame_id"] for a in labelled] == [1, 3]
    for atoms in labelled:
        assert np.asarray(atoms.info["REF_polarizability"]).shape == (3, 3)
        assert np.asarray(atoms.info["REF_epsilon_inf"]).shape == (3, 3)
        assert atoms.info[labels.INFO_CODE] == "Quantum ESPRESSO"
        assert atoms.info[labels.INFO_VERSION] == "6.7MaX"
        physics = json.loads(atoms.info[labels.INFO_SETTINGS])
        assert physics["kpts"] == [2, 2, 2] and physics["ecutwfc_ry"] == 44.0
        pseudos = json.loads(atoms.info[labels.INFO_PSEUDOS])
        assert set(pseudos) == {"Na", "Br"}
        assert pseudos["Na"]["upf_sha256"] == "0" * 64 and pseudos["Na"]["psp8_sha256"] == "1" * 64
        record = json.loads((out / labels.RESULTS_DIR / f"{atoms.info[labels.INFO_KEY]}.json")
                            .read_text())
        assert record["status"] == "ok" and record["info"]["frame_id"] == atoms.info["frame_id"]
        np.testing.assert_allclose(record["result"]["polarizability_A3"],
                                   atoms.info["REF_polarizability"])
        assert set(record["result"]["cpu_s"]) == {"pw", "ph"}
    assert len(list((out / labels.RESULTS_DIR).glob("*.json"))) == 2  # no file for the failure
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_labelled"] == 2 and summary["failed"][0]["log"].endswith("pw.out")
    assert summary["settings"]["kpts"] == [2, 2, 2]

    # Second call: nothing recomputed; same output.
    n_calls = len(_calls(fake_qe))
    assert labels.label_main(argv) == 1
    assert len(_calls(fake_qe)) == n_calls
    assert "0 computed now, 2 reused" in capsys.readouterr().out


def test_lost_workdir_is_restored_from_the_records(fake_qe: Path, tmp_path: Path) -> None:
    """A fresh checkout has the shipped records but no QE scratch: nothing is recomputed."""
    import shutil

    src = tmp_path / "snapshots.extxyz"
    write(src, [f for f in _frames() if f.info["frame_id"] != 2], format="extxyz")
    out, work = tmp_path / "labels", tmp_path / "work"
    argv = [str(src), "--out", str(out), "--workdir", str(work), "--ranks", "1", "--npool", "1",
            "--quiet"]
    assert labels.label_main([*argv, "--max-new", "1"]) == 3
    before = read(out / labels.OUTPUT_NAME, index=":")
    shutil.rmtree(work)
    n_calls = len(_calls(fake_qe))
    # --max-new 0: consolidate only; the labelled structure must survive the lost workdir
    assert labels.label_main([*argv, "--max-new", "0"]) == 3
    assert len(_calls(fake_qe)) == n_calls
    after = read(out / labels.OUTPUT_NAME, index=":")
    assert [a.info[labels.INFO_KEY] for a in after] == [a.info[labels.INFO_KEY] for a in before]
    np.testing.assert_array_equal(after[0].info["REF_polarizability"],
                                  before[0].info["REF_polarizability"])
    restored = json.loads((work / before[0].info[labels.INFO_KEY] / labels.RESULT_FILE)
                          .read_text())
    assert restored["restored_from"].endswith(f"{before[0].info[labels.INFO_KEY]}.json")
    # the full run computes only the missing structure
    assert labels.label_main(argv) == 0
    assert len(_calls(fake_qe)) == n_calls + 2
    assert len(read(out / labels.OUTPUT_NAME, index=":")) == 2


def test_label_main_max_new_and_unknown_code(fake_qe: Path, tmp_path: Path) -> None:
    src = tmp_path / "snapshots.extxyz"
    frames = [f for f in _frames() if f.info["frame_id"] != 2]
    write(src, frames, format="extxyz")
    out = tmp_path / "labels"
    base = [str(src), "--out", str(out), "--ranks", "1", "--npool", "1", "--quiet"]
    assert labels.label_main([*base, "--max-new", "1"]) == 3  # one left to do
    assert len(read(out / labels.OUTPUT_NAME, index=":")) == 1
    assert labels.label_main(base) == 0
    assert len(read(out / labels.OUTPUT_NAME, index=":")) == 2
    assert _calls(fake_qe) == ["pw", "ph", "pw", "ph"]
    with pytest.raises(InputError, match="--code 'vasp'"):
        labels.label_main([*base, "--code", "vasp"])


def test_unexpected_python_error_is_a_recorded_failure(fake_qe: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(labels, "run_qe", broken)
    key, result, computed = labels.label_structure(_frames()[0], tmp_path / "w", SERIAL)
    assert computed and not result.ok
    assert result.error.startswith("RuntimeError: disk on fire (log ")
    assert "disk on fire" in Path(result.logs["python"]).read_text()
    saved = json.loads((tmp_path / "w" / key / labels.RESULT_FILE).read_text())
    assert saved["status"] == "failed"
    assert not (tmp_path / "w" / key / labels.LOCK_FILE).exists()


def test_sigterm_kills_the_running_code_and_releases_the_lock(
    fake_qe: Path, tmp_path: Path
) -> None:
    import signal
    import threading
    import time

    from ionraman._process import stop_on_signals
    from ionraman.errors import Interrupted

    pidfile = tmp_path / "pw.pid"
    sleeper = tmp_path / "bin" / "pw.x"
    sleeper.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 60\n")
    timer = threading.Timer(1.0, os.kill, args=(os.getpid(), signal.SIGTERM))
    atoms = _frames()[0]
    with stop_on_signals(), pytest.raises(Interrupted) as exc:
        timer.start()
        labels.label_structure(atoms, tmp_path / "w", SERIAL)
    assert exc.value.exit_code == 143  # what `ionraman reference label` exits with
    pid = int(pidfile.read_text())
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the code's process is gone, not orphaned
    key = labels.structure_key(atoms, SERIAL)
    assert not (tmp_path / "w" / key / labels.LOCK_FILE).exists()
    assert not (tmp_path / "w" / key / labels.RESULT_FILE).exists()  # will be recomputed


def test_label_main_pending_wins_over_failures(fake_qe: Path, tmp_path: Path) -> None:
    # NaBr ok, NaCl fails, NaBr: with --max-new 1 the failure is listed but work remains (3);
    # the loop in scripts/reference_labels.sh keeps going on 3 and stops on 0 or 1
    src = tmp_path / "snapshots.extxyz"
    write(src, _frames(), format="extxyz")
    out = tmp_path / "labels"
    base = [str(src), "--out", str(out), "--ranks", "1", "--npool", "1", "--quiet"]
    assert labels.label_main([*base, "--max-new", "1", "--indices", "1", "0", "2"]) == 3
    assert len(json.loads((out / "summary.json").read_text())["failed"]) == 1
    assert labels.label_main(base) == 1  # all done, one failed
    assert len(read(out / labels.OUTPUT_NAME, index=":")) == 2


def test_scf_labels_are_forces_in_extxyz_and_resume_from_records(
    fake_qe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ionraman reference forces``: pw.x only, energy/forces/stress written the way ASE and
    force-field training read them; records restore a lost work directory."""
    src = tmp_path / "in.extxyz"
    frames = [f for f in _frames() if "Cl" not in f.get_chemical_formula()]
    write(src, frames, format="extxyz")
    out = tmp_path / "out"
    argv = [str(src), "--out", str(out), "--ranks", "1", "--npool", "1"]
    assert labels.label_main(argv, task="scf") == 0
    assert _calls(fake_qe) == ["pw", "pw"]
    labelled = read(out / labels.OUTPUT_NAME, index=":")
    expected = qe.parse_scf((DATA / "tNa3SbS4_rattled_pw.out").read_text(), 8)
    for atoms in labelled:
        assert atoms.get_potential_energy() == pytest.approx(expected[0])
        np.testing.assert_allclose(atoms.get_forces(), expected[1], atol=1e-7)  # extxyz %.8f
        assert "REF_polarizability" not in atoms.info
        assert "pw.x SCF" in atoms.info["REF_source"]
        assert atoms.info[labels.INFO_VERSION] == "6.7MaX"
        key = atoms.info[labels.INFO_KEY]
        assert key == labels.structure_key(atoms, SERIAL, "scf")
        assert (out / labels.RESULTS_DIR / f"{key}.json").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "scf" and summary["command"].startswith("ionraman reference forces")
    # a lost work directory is restored from the records: nothing runs again
    import shutil

    shutil.rmtree(out / "work")
    assert labels.label_main(argv, task="scf") == 0
    assert _calls(fake_qe) == ["pw", "pw"]
    assert len(read(out / labels.OUTPUT_NAME, index=":")) == 2
