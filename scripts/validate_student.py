#!/usr/bin/env python
"""Validate a NEP student against its teacher on fresh trajectories (RDF, VDOS, Na MSD and D).

For every case (system, temperature, production length) the student and the teacher each run
their own MD from the same start structure (Bussi NVT, 2 fs, frames every 10 fs, 0.5 ps
equilibration, seed 21 for both: independent trajectories, since the forces differ), then
:func:`ionraman.distillation.validation.compare_student_teacher` writes ``rdf.png``, ``vdos.png``,
``msd.png`` and ``comparison.json`` per case, and this script a table ``validation.md``.
Everything is resumable (run it again after an interruption: finished MD is reused).

    nohup .venv/bin/python scripts/validate_student.py --student na-sb-w-s \
        > out/validate_student/run.log 2>&1 &

Cases (``--cases``): ``w900`` W-doped c-Na3SbS4 (126 atoms) at 900 K, 6 ps; ``w700`` the same at
700 K, 6 ps; ``w900l`` the same at 900 K for 20 ps (long enough for a diffusive Na MSD: the D
comparison); ``w700l`` the same at 700 K for 20 ps with MD seed 22 (its first 6 ps are not those
of ``w700``, whose teacher frames trained the shipped student); ``w500l`` the same at 500 K
for 10 ps (MD seed 23; no 500 K W-doped teacher frames were in the training set);
``t500``/``c500`` t-/c-Na3SbS4 2×2×2 (128 atoms) at 500 K, 2 ps (structure and vibrations; Na
hardly diffuses in the perfect cells).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "w900": ("c-Na3SbS4:W0.125", None, 900.0, 6.0),
    "w700": ("c-Na3SbS4:W0.125", None, 700.0, 6.0),
    "w900l": ("c-Na3SbS4:W0.125", None, 900.0, 20.0),
    "w700l": ("c-Na3SbS4:W0.125", None, 700.0, 20.0),
    "w500l": ("c-Na3SbS4:W0.125", None, 500.0, 10.0),
    "t500": ("t-Na3SbS4", 2, 500.0, 2.0),
    "c500": ("c-Na3SbS4", 2, 500.0, 2.0),
}
SEEDS = {"w700l": 22, "w500l": 23}  # MD seed per case (default 21)


def main(argv: list[str] | None = None) -> int:
    from ionraman.distillation.validation import compare_student_teacher
    from ionraman.forcefields import load_force_field
    from ionraman.md import run_md
    from ionraman.md.sanity import framework_summary
    from ionraman.structures import get_structure

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--student", help="registered name or nep:/path/nep.txt")
    ap.add_argument("--teacher-only", action="store_true",
                    help="only run the teacher MD (before the student exists)")
    ap.add_argument("--teacher", default="sevenn-mf0-r2scan")
    ap.add_argument("--cases", nargs="*", default=["w900", "w700", "t500", "c500"],
                    choices=list(CASES))
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "validate_student")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tag", default="",
                    help="suffix of the student's files (student-TAG.h5, compare-TAG/, "
                         "validation-TAG.md): validate another student against the same teacher "
                         "runs")
    args = ap.parse_args(argv)
    if not args.student and not args.teacher_only:
        ap.error("--student is required unless --teacher-only")

    rows = []
    suffix = f"-{args.tag}" if args.tag else ""
    for case in args.cases:
        name, rep, temp, ps = CASES[case]
        atoms = get_structure(name, supercell=rep)
        cdir = args.out / case
        cdir.mkdir(parents=True, exist_ok=True)
        stores = {}
        sides = [("teacher", args.teacher)]
        if not args.teacher_only:
            sides.insert(0, ("student", args.student))
        for who, ff in sides:
            stores[who] = cdir / (f"{who}{suffix}.h5" if who == "student" else f"{who}.h5")
            print(f"{case}: {who} MD {name} ({len(atoms)} atoms) {temp:g} K {ps:g} ps", flush=True)
            run_md(atoms, temperature_k=temp, time_ps=ps, force_field=ff, equilibration_ps=0.5,
                   sample_every_fs=10, seed=SEEDS.get(case, 21), out=stores[who], quiet=True,
                   threads=args.threads, checkpoint_every_steps=250)
        if args.teacher_only:
            continue
        res = compare_student_teacher(stores["student"], stores["teacher"],
                                      cdir / f"compare{suffix}", label=f"{name} {temp:g} K")
        res["framework"] = {who: framework_summary(stores[who]) for who in ("student", "teacher")}
        rows.append((case, name, len(atoms), temp, ps, res))
        print(json.dumps({k: v for k, v in res.items() if k != "files"}, default=str), flush=True)

    if args.teacher_only:
        return 0
    lines = [
        f"Student `{args.student}` vs teacher `{args.teacher}` "
        f"({load_force_field(args.student).weights_sha256[:12]}…)",
        "",
        "| case | system | atoms | T K | ps | RDF MAE (Sb-S / Na-S / Na-Na) | VDOS overlap "
        "(total / Na) | D* student cm²/s | D* teacher cm²/s | z | z (LS) | within 2σ | "
        "frames all SbS4 intact (student / teacher) | frames without S–S (student / teacher) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, name, n, temp, ps, r in rows:
        mae, fw = r["rdf_mae"], r["framework"]
        within = r["D_within_uncertainty"]
        if within is None:
            unresolved = ", ".join(k for k, v in r["D_resolved"].items() if not v)
            within = f"not resolved ({unresolved})"
        ov = r["vdos_overlap"]
        ds, dt = r["D_student_cm2_s"], r["D_teacher_cm2_s"]
        z_ls = "–" if r.get("D_z_least_squares") is None else f"{r['D_z_least_squares']:+.2f}"
        lines.append(
            f"| {case} | {name} | {n} | {temp:g} | {ps:g} | "
            f"{mae.get('Sb-S', float('nan')):.3f} / {mae.get('Na-S', float('nan')):.3f} / "
            f"{mae.get('Na-Na', float('nan')):.3f} | {ov.get('total', float('nan')):.3f} / "
            f"{ov.get('Na', float('nan')):.3f} | {ds[0]:.2e} ± {ds[1]:.1e} | "
            f"{dt[0]:.2e} ± {dt[1]:.1e} | {r['D_z']:+.2f} | {z_ls} | {within} | "
            f"{fw['student']['all_SbS4_intact']:.3f} / {fw['teacher']['all_SbS4_intact']:.3f} | "
            f"{fw['student']['no_S_S_bond']:.3f} / {fw['teacher']['no_S_S_bond']:.3f} |"
        )
    (args.out / f"validation{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
