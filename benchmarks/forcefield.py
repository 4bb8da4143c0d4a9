"""NEP student vs the universal model it replaces on 432-atom t-Na3SbS4: speed and force
difference, in one process.

Usage::

    .venv/bin/python benchmarks/forcefield.py                       # shipped student, ~5 min
    .venv/bin/python benchmarks/forcefield.py --student out/distill/x/student/nep.txt
    .venv/bin/python benchmarks/forcefield.py --production 20ps     # + a timed 20 ps run at 700 K

The "teacher" is the universal model the student replaces in the workflow (default: the
registry's default universal model, :data:`ionraman.forcefields.registry.DEFAULT_FORCE_FIELD`);
for a DFT-trained student it is not the ground truth: its force difference on the 432-atom
frames is a consistency check, and the student's DFT held-out errors (``student.json``) are
printed beside it.

Both models drive the same velocity-Verlet MD (``benchmarks/md.py:time_md``: 2 fs, 600 K start,
seed 0, warm-up steps untimed) on ``get_structure("t-Na3SbS4", supercell=3)`` (432 atoms); the
teacher's time per step is the reference (``x teacher`` = teacher ms/step over the row's).

Force error: ``--frames`` frames of a fresh 432-atom student MD at 700 K (Bussi NVT, 0.5 ps
equilibration, frames 0.25 ps apart, seed 7: never seen in training) are labelled by the teacher;
RMSE and MAE of the student's forces per component, in meV/Å, with the teacher's RMS force for
scale (:func:`ionraman.distillation.loop.student_errors`; the labels are kept in
``fresh_700K_teacher.extxyz`` and reused by a rerun). The student's errors on its own
validation set (fresh teacher MD, written by the distillation into ``student.json``) are printed
beside them.

``--production T`` runs :func:`ionraman.md.run_md` with the student for that long at 700 K on the
432-atom cell (2 fs, frames every 10 fs, 1 ps equilibration) and reports the wall time and the
fraction of frames with every SbS4 intact. Outputs go to ``--out`` (default
``out/bench_forcefield``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ionraman.distillation.loop import label_frames, student_errors
from ionraman.forcefields import load_force_field
from ionraman.forcefields.nep import shipped_students
from ionraman.forcefields.registry import DEFAULT_FORCE_FIELD
from ionraman.md import parse_time_ps, run_md
from ionraman.structures import get_structure
from md import time_md


def _student(arg: str | None):
    if arg is None:
        names = list(shipped_students())
        if not names:
            sys.exit("no shipped student; pass --student path/to/nep.txt")
        return load_force_field(names[0]), shipped_students()[names[0]] / "student.json"
    p = Path(arg)
    if p.is_file():
        meta = p.parent / "student.json"
        return load_force_field(f"nep:{p.resolve()}"), meta
    shipped = shipped_students().get(arg)
    return load_force_field(arg), (shipped / "student.json" if shipped else None)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--student", help="registered name or nep.txt (default: first shipped)")
    ap.add_argument("--teacher", default=DEFAULT_FORCE_FIELD,
                    help="the universal model the student replaces")
    ap.add_argument("--steps", type=int, default=200, help="timed student steps")
    ap.add_argument("--teacher-steps", type=int, default=6, help="timed teacher steps")
    ap.add_argument("--frames", type=int, default=8, help="fresh 700 K frames for the force error")
    ap.add_argument("--production", default=None, help="also time a run this long, e.g. 20ps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="out/bench_forcefield")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    atoms = get_structure("t-Na3SbS4", supercell=3)
    student, meta_path = _student(args.student)
    teacher = load_force_field(args.teacher, threads=args.threads)
    load0 = os.getloadavg()[0]
    rows = {
        "student": time_md(atoms, student.calculator, steps=args.steps, warmup=10),
        "teacher": time_md(atoms, teacher.calculator, steps=args.teacher_steps, warmup=2),
    }

    # fresh 700 K frames from a student run, labelled by the teacher
    traj = out / "fresh_700K.h5"
    if not traj.exists():
        run_md(atoms, temperature_k=700, time_ps=0.25 * args.frames, force_field=student,
               equilibration_ps=0.5, sample_every_fs=250, seed=7, out=traj, quiet=True)
    from ionraman.trajectory import Trajectory

    with Trajectory(traj) as t:
        frames = [t.get_atoms(i) for i in range(1, len(t))][: args.frames]
    t0 = time.perf_counter()
    labelled = label_frames(frames, out / "fresh_700K_teacher.extxyz", teacher)
    label_s = time.perf_counter() - t0
    force = {**student_errors(student.calculator, labelled), "label_seconds": label_s}
    result = {"timing": rows, "force_700K_432": force, "load_1min_start": load0,
              "load_1min_end": os.getloadavg()[0], "student": student.provenance(),
              "teacher": teacher.provenance()}
    if meta_path and Path(meta_path).exists():
        meta = json.loads(Path(meta_path).read_text())
        if "iterations" in meta:  # distilled: the validation set of the iteration shipped
            shipped = meta["iterations"][meta.get("chosen_iteration", -1)]
            result["student_validation"] = {f"{t} K": v
                                            for t, v in shipped["validation_by_T"].items()}
        else:  # trained on DFT: its held-out DFT frames
            result["student_validation"] = meta.get("test_errors", {})

    if args.production:
        from ionraman.md.sanity import trajectory_tetrahedra_intact

        prod = out / f"production_700K_{args.production}.h5"
        t0 = time.perf_counter()
        run_md(atoms, temperature_k=700, time_ps=parse_time_ps(args.production),
               force_field=student, equilibration_ps=1.0, sample_every_fs=10, seed=11,
               out=prod, quiet=True, checkpoint_every_steps=2000)
        wall = time.perf_counter() - t0
        tet = trajectory_tetrahedra_intact(prod, every=10)
        result["production"] = {
            "time_ps": parse_time_ps(args.production), "n_atoms": len(atoms),
            "wall_s": wall, "frames_all_SbS4_intact": float(np.mean(tet["intact_fraction"] == 1)),
            "store": str(prod),
        }

    (out / "forcefield.json").write_text(json.dumps(result, indent=2, default=str))
    ref = rows["teacher"]["ms_per_step"]
    print(f"432-atom t-Na3SbS4, 1 thread, load {load0:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{'model':<10}{'ms/step':>16}{'atom-steps/s':>14}{'x teacher':>11}")
    for name, r in rows.items():
        print(f"{name:<10}{r['ms_per_step']:>9.1f} ± {r['ms_per_step_sd']:<5.1f}"
              f"{r['atom_steps_per_s']:>14.0f}{ref / r['ms_per_step']:>11.1f}")
    print(f"force error on {force['n_frames']} fresh 700 K frames (432 atoms): RMSE "
          f"{force['force_rmse_meV_A']:.1f} meV/Å, MAE {force['force_mae_meV_A']:.1f} meV/Å "
          f"(teacher RMS force {force['force_rms_teacher_meV_A']:.0f} meV/Å)")
    for group, v in result.get("student_validation", {}).items():
        print(f"  student's validation set, {group} ({v['n_frames']} frames): force RMSE "
              f"{v['force_rmse_meV_A']:.1f} meV/Å, energy RMSE (centred) "
              f"{v['energy_rmse_centred_meV_atom']:.2f} meV/atom")
    if "production" in result:
        p = result["production"]
        print(f"production: {p['time_ps']:g} ps, {p['n_atoms']} atoms, 700 K: {p['wall_s']:.0f} s "
              f"wall; frames with all SbS4 intact {100 * p['frames_all_SbS4_intact']:.1f} %")


if __name__ == "__main__":
    main()
