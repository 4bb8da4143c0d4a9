"""NEP students and the distillation loop, with a cheap Morse teacher (seconds, not hours).

The teacher here is the pair potential of ``tests/workflow/calculators.py``: the point is the
machinery (teacher MD, labelling, torchnep training, calorine MD, MaxVol selection, resume,
registration), which is the same code path the SevenNet teacher takes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.io import read

pytest.importorskip("torchnep")
pytest.importorskip("calorine")

from ionraman.distillation.loop import DistillSettings, distill, label_frames
from ionraman.errors import InputError
from ionraman.forcefields import load_force_field
from ionraman.forcefields.builtin import register_student
from ionraman.forcefields.nep import NEPHyperparameters, element_order, nep_elements
from ionraman.forcefields.registry import _REGISTRY
from ionraman.structures import get_structure

TEACHER = f"{Path(__file__).resolve().parents[1] / 'workflow' / 'calculators.py'}:morse"


def small_settings(**kw) -> DistillSettings:
    base = dict(
        teacher=TEACHER, temperatures_k=(600, 900), min_atoms=16,
        teacher_equilibration_ps=0.05, teacher_ps=0.2, sample_every_fs=10,
        validation_ps=0.1, validation_every_fs=10, n_rattle=4, explore_ps=0.2,
        explore_every_fs=10, max_new_per_iteration=8, max_iterations=2,
        force_rmse_target_meV_A=1.0, hyper=NEPHyperparameters(epochs=30, batch=8),
        finetune_epochs=15,
    )
    base.update(kw)
    return DistillSettings(**base)


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    work = tmp_path_factory.mktemp("distill") / "work"
    result = distill(["t-Na3SbS4"], work, small_settings())
    return work, result


def test_nep_header_and_hyperparameters(tmp_path):
    bad = tmp_path / "nep.txt"
    bad.write_text("not a model\n")
    with pytest.raises(InputError, match="not a NEP model"):
        nep_elements(bad)
    with pytest.raises(InputError, match="cannot read"):
        nep_elements(tmp_path / "missing.txt")
    text = NEPHyperparameters(epochs=10, stage2_epochs=5).nep_in(["Na", "Sb", "S"])
    assert text.splitlines()[0] == "type 3 Na Sb S"
    assert "epoch 15" in text and "start_stage2 11" in text
    assert "zbl 1.8" in NEPHyperparameters(zbl_outer_A=1.8).nep_in(["Na", "S"])
    with pytest.raises(InputError, match="zbl"):
        NEPHyperparameters(zbl_outer_A=5.0)
    with pytest.raises(InputError, match="cutoffs"):
        NEPHyperparameters(cutoff_radial_A=4.0, cutoff_angular_A=5.0)
    assert element_order(["S", "W", "Na", "Sb", "Zr"]) == ["Na", "Sb", "W", "S", "Zr"]


def test_distill_loop_files_errors_and_provenance(distilled):
    work, result = distilled
    assert result.student == work / "student" / "nep.txt"
    assert nep_elements(result.student) == ("Na", "Sb", "S")
    assert len(result.iterations) == 2  # target 1 meV/Å is unreachable: both iterations run
    it0, it1 = result.iterations
    # 2 T x (0.2 ps / 10 fs + 1) teacher frames + 4 rattled + 2 strained
    assert it0["n_train"] == 2 * 21 + 6
    sel = json.loads((work / "iter_000" / "selected.json").read_text())
    assert 1 <= sel["n_selected"] <= 8 and it1["n_train"] == it0["n_train"] + sel["n_selected"]
    for m in (it0, it1):
        v = m["validation_top_T"]
        assert v["n_frames"] == 11
        # the student learned something: force error well below the force scale itself
        assert 0 < v["force_rmse_meV_A"] < 0.6 * v["force_rms_teacher_meV_A"]
        assert set(m["validation_by_T"]) == {"600", "900"}
        assert set(m["framework_student"]) == {"t-Na3SbS4 600 K", "t-Na3SbS4 900 K"}
        assert set(m["framework_teacher"]["t-Na3SbS4 900 K"]) == {"all_SbS4_intact",
                                                                  "no_S_S_bond"}
        # the student's own 900 K frames, labelled by the teacher (4 requested)
        own = m["student_frames_top_T"]
        assert own["n_frames"] == 4 and own["force_rmse_meV_A"] > 0
    meta = json.loads((work / "student" / "student.json").read_text())
    assert meta["teacher"]["name"] == TEACHER and meta["elements"] == ["Na", "Sb", "S"]
    assert meta["converged"] is False and meta["chosen_iteration"] in (0, 1)
    chosen = result.iterations[meta["chosen_iteration"]]
    assert meta["n_train_frames"] == chosen["n_train"]
    best = work / f"iter_{meta['chosen_iteration']:03d}" / "nep" / "nep_best.txt"
    assert result.student.read_bytes() == best.read_bytes()
    assert len(meta["nep_sha256"]) == 64 and "torchnep" in meta["packages"]
    # every labelled frame carries the teacher's energy, forces and stress
    frames = read(work / "data" / "initial.extxyz", index=":")
    assert all(f.get_forces().shape == (16, 3) and f.get_stress().shape == (6,) for f in frames)


def test_distill_resumes_without_recomputing(distilled):
    work, result = distilled
    stamp = {p: p.stat().st_mtime_ns for p in work.rglob("*") if p.is_file()}
    again = distill(["t-Na3SbS4"], work, small_settings())
    assert [m["n_train"] for m in again.iterations] == [m["n_train"] for m in result.iterations]
    for p, t in stamp.items():
        if p.parent.name != "student":  # the final copy is rewritten (same bytes)
            assert p.stat().st_mtime_ns == t, p
    assert (work / "student" / "nep.txt").read_bytes() == result.student.read_bytes()
    # the resumed run never loaded the teacher, yet records its full provenance
    meta = json.loads((work / "student" / "student.json").read_text())
    assert meta["teacher"]["calculator_class"] and meta["teacher"]["name"] == TEACHER
    with pytest.raises(InputError, match="other settings"):
        distill(["t-Na3SbS4"], work, small_settings(max_new_per_iteration=9))
    # the stopping rule may change on resume: a looser target stops at the first iteration
    loose = distill(["t-Na3SbS4"], work, small_settings(force_rmse_target_meV_A=1e4,
                                                        stability_tolerance=1.0,
                                                        bond_tolerance=1.0))
    assert loose.converged and len(loose.iterations) == 1


def test_seed_labelled_frames_join_the_initial_data(distilled, tmp_path):
    work, _ = distilled
    seed_file = work / "iter_001" / "train.extxyz"
    n_seed = len(read(seed_file, index=":"))
    again = distill(["t-Na3SbS4"], tmp_path / "w2", small_settings(teacher_ps=0.0,
                    max_iterations=1), seed_labelled=[seed_file])
    # no teacher MD: the seed frames plus the 4 rattled and 2 strained cells
    assert again.iterations[0]["n_train"] == n_seed + 6
    record = json.loads((tmp_path / "w2" / "settings.json").read_text())
    assert record["seed_labelled"][0]["sha256"] and record["seed_labelled"][0]["path"]
    meta = json.loads((tmp_path / "w2" / "student" / "student.json").read_text())
    assert meta["seed_labelled"] == record["seed_labelled"]
    unlabelled = tmp_path / "plain.extxyz"
    get_structure("t-Na3SbS4").write(unlabelled)
    with pytest.raises(InputError, match="frame 0 has no energy and forces"):
        distill(["t-Na3SbS4"], tmp_path / "w3", small_settings(), seed_labelled=[unlabelled])


def test_student_registers_and_runs_md(distilled, tmp_path):
    work, _ = distilled
    try:
        register_student("test-student", work / "student")
        loaded = load_force_field("test-student")
        assert loaded.spec.kind == "student" and loaded.weights_sha256
        by_path = load_force_field(f"nep:{work / 'student' / 'nep.txt'}")
        assert by_path.spec.elements == ("Na", "Sb", "S") and by_path.spec.kind == "external"
        assert by_path.weights_sha256 == loaded.weights_sha256
        from ionraman.md import run_md

        out = run_md(get_structure("t-Na3SbS4"), temperature_k=600, time_ps=0.04,
                     force_field=loaded, equilibration_ps=0.0, out=tmp_path / "s.h5", quiet=True)
        from ionraman.trajectory import Trajectory

        with Trajectory(out) as t:
            assert len(t) == 5 and t.metadata["force_field"]["kind"] == "student"
    finally:
        _REGISTRY.pop("test-student", None)


def test_label_frames_resumes_after_a_crash(tmp_path):
    base = get_structure("t-Na3SbS4")
    rng = np.random.default_rng(1)
    frames = []
    for _ in range(7):
        a = base.copy()
        a.positions += rng.normal(0, 0.05, a.positions.shape)
        frames.append(a)
    teacher = load_force_field(TEACHER)
    out = tmp_path / "lab.extxyz"
    full = label_frames(frames, out, teacher, chunk=3)
    text = out.read_text()
    # keep the first chunk only, as if the process died while labelling the second
    first3 = "".join(text.splitlines(keepends=True)[: 3 * (len(base) + 2)])
    out.write_text(first3)
    calls = []

    def counting_teacher():
        calls.append(1)
        return teacher

    again = label_frames(frames, out, counting_teacher, chunk=3)
    assert calls == [1] and len(again) == 7
    for a, b in zip(full, again, strict=True):
        assert np.allclose(a.get_forces(), b.get_forces(), atol=1e-6)
    with pytest.raises(InputError, match="other structures"):
        label_frames(frames[::-1], out, teacher)


def test_cli_distill_bad_structure_is_one_line_error(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "ionraman.cli", "forcefield", "distill", "no-such-phase",
         "--out", str(tmp_path / "d")],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: no-such-phase") and "Traceback" not in res.stderr


def test_seed_trajectory_is_read_before_any_teacher_md(tmp_path):
    seed = tmp_path / "seed.h5"
    seed.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)  # truncated store
    work = tmp_path / "work"
    with pytest.raises(InputError, match=r"seed\.h5") as info:
        distill(["t-Na3SbS4"], work, small_settings(), seed_trajectories=[seed])
    assert "\n" not in str(info.value)
    assert not list(work.rglob("*.h5"))  # no teacher MD was started


def test_work_directory_that_is_a_file_is_refused(tmp_path):
    work = tmp_path / "work"
    work.write_bytes(b"keep")
    with pytest.raises(InputError, match="exists and is not a directory"):
        distill(["t-Na3SbS4"], work, small_settings())
    assert work.read_bytes() == b"keep"


def test_unknown_teacher_is_refused_before_anything_is_written(tmp_path):
    work = tmp_path / "work"
    with pytest.raises(InputError, match=r"teacher: unknown force field 'no-such-ff'"):
        distill(["t-Na3SbS4"], work, small_settings(teacher="no-such-ff"))
    assert not work.exists()
