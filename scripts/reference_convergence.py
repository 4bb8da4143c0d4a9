#!/usr/bin/env python
"""Convergence of the QE DFPT polarizability FLUCTUATIONS δα = α − ⟨α⟩ with k-mesh and cutoff.

Four MD snapshots of the 16-atom t-Na3SbS4 cell (600 and 900 K, from
``scripts/reference_dataset.py``) are labelled with

    ref   shifted 2×2×2, 44 Ry   (the production candidate)
    e55   shifted 2×2×2, 55 Ry
    k3    shifted 3×3×3, 44 Ry
    k1    shifted 1×1×1 (the single k-point ½,½,½), 44 Ry

through the resumable labelling job (:mod:`ionraman.polarizability.reference.labels`), in the same
work directory as the production labels (``out/dft/label_work``), so that the reference runs are
reused there and nothing finished is ever recomputed. Optional ``--supercell``: cell-size
convergence on genuine 32-atom MD snapshots (t-Na3SbS4 2×1×1, same force field, seed, temperatures
and production times as the four 16-atom snapshots) at a shifted 1×2×2 mesh, which has the k-point
density of the shifted 2×2×2 mesh of the 16-atom cells. If δα of a cell is a sum of local,
uncorrelated contributions, RMS δα grows as √N (ratio RMS δα(32) / RMS δα(16) = √2), and a model
fitted on 16-atom labels predicts the 32-atom α with the same error per √N.

(An earlier version built 32-atom cells A|B from two different 16-atom snapshots; the seams had
unphysical contacts, Na–S 1.84 Å against ≥ 2.6 Å in MD, so α(A|B) − α(A) − α(B), RMS 6.4 Å³ on the
one cell computed, measured the seams, not the locality of α. Not used.)

Per setting it reports the mean diagonal ε∞, the RMS difference of δα (over the 4 snapshots and
the 6 independent components) from the reference relative to the RMS of δα itself, and the wall
and CPU time per structure with the load average during the runs (another job may share the
cores). Results: ``out/dft/convergence/convergence.json`` and ``convergence.md``.

    nohup .venv/bin/python scripts/reference_convergence.py --supercell --first 0 2 \
        > out/dft/convergence/run.log 2>&1 &
    .venv/bin/python scripts/reference_convergence.py --analyse     # tables from what is done
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from ase.io import read, write

from ionraman.polarizability.reference.labels import (
    RESULT_FILE,
    _sigterm_as_exit,
    label_structures,
    structure_key,
)
from ionraman.polarizability.reference.qe import QESettings

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "dft" / "convergence"
WORK = ROOT / "out" / "dft" / "label_work"
SNAPSHOTS = ROOT / "src" / "ionraman" / "data" / "reference" / "snapshots_train.extxyz"
PICK = [  # (phase, temperature, production time in ps)
    ("t-Na3SbS4", 600.0, 1.5), ("t-Na3SbS4", 600.0, 3.0),
    ("t-Na3SbS4", 900.0, 1.5), ("t-Na3SbS4", 900.0, 3.0),
]
SETTINGS = {
    "ref": QESettings(kpts=(2, 2, 2), ecutwfc_ry=44.0),
    "e55": QESettings(kpts=(2, 2, 2), ecutwfc_ry=55.0),
    "k3": QESettings(kpts=(3, 3, 3), ecutwfc_ry=44.0),
    "k1": QESettings(kpts=(1, 1, 1), ecutwfc_ry=44.0),  # one k-point at (½,½,½): 4× cheaper
}
SUPERCELL_SETTINGS = {"sc_k122": QESettings(kpts=(1, 2, 2), ecutwfc_ry=44.0)}
VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


def pick_snapshots(wait_s: float = 60.0) -> Path:
    """Write the 4 chosen snapshots to OUT/snapshots_t16.extxyz (waits for the MD runs)."""
    path = OUT / "snapshots_t16.extxyz"
    if path.exists():
        return path
    while True:
        frames = read(SNAPSHOTS, index=":") if SNAPSHOTS.exists() else []
        chosen = []
        for phase, temp, t_ps in PICK:
            match = [a for a in frames if a.info.get("phase") == phase
                     and a.info.get("source") == "md" and a.info.get("temperature_k") == temp
                     and abs(a.info.get("time_ps", -1) - t_ps) < 1e-6]
            chosen += match[:1]
        if len(chosen) == len(PICK):
            break
        print(f"waiting for MD snapshots ({len(chosen)}/{len(PICK)} available)", flush=True)
        time.sleep(wait_s)
    OUT.mkdir(parents=True, exist_ok=True)
    write(path, chosen, format="extxyz")
    return path


def supercell_snapshots(threads: int = 1) -> Path:
    """Four 32-atom MD snapshots: t-Na3SbS4 2×1×1 at the temperatures and times of ``PICK``.

    MD as for the 16-atom training snapshots (``scripts/reference_dataset.py``: default force
    field, Bussi NVT, 2 fs, 1 ps equilibration, seed 1), resumable from its checkpoints.
    """
    from ionraman.forcefields import load_force_field
    from ionraman.md import run_md
    from ionraman.structures import get_structure
    from ionraman.trajectory import open_trajectory

    path = OUT / "snapshots_t32md.extxyz"
    if path.exists():
        return path
    ff = None
    cells = []
    for temp in sorted({t for _, t, _ in PICK}):
        store = OUT / f"md_t32_T{temp:g}.h5"
        times = [tp for _, t, tp in PICK if t == temp]
        done = False
        if store.exists():
            with open_trajectory(store) as traj:
                done = traj.metadata.get("status") == "complete"
        if not done:
            ff = ff or load_force_field("sevenn-mf0-r2scan", threads=threads)
            run_md(get_structure("t-Na3SbS4").repeat((2, 1, 1)), temperature_k=temp,
                   time_ps=max(times), equilibration_ps=1.0, timestep_fs=2.0,
                   sample_every_fs=10.0, seed=1, force_field=ff, out=store, quiet=True,
                   threads=threads)
        with open_trajectory(store) as traj:
            t_ps = (np.asarray(traj.times_fs, float) - float(traj.times_fs[0])) / 1000.0
            for tp in times:
                k = int(np.argmin(np.abs(t_ps - tp)))
                atoms = traj.get_atoms(k)
                atoms.info = {"snapshot_id": f"t-Na3SbS4x211/T{temp:g}/s1/f{k:05d}",
                              "source": "md", "phase": "t-Na3SbS4", "supercell": [2, 1, 1],
                              "temperature_k": float(temp), "time_ps": round(float(t_ps[k]), 4)}
                cells.append(atoms)
    write(path, cells, format="extxyz")
    return path


def load_results(snapshots: Path, settings: QESettings) -> list[dict | None]:
    out = []
    for atoms in read(snapshots, index=":"):
        f = WORK / structure_key(atoms, settings) / RESULT_FILE
        out.append(json.loads(f.read_text()) if f.exists() else None)
    return out


def _voigt(m: np.ndarray) -> np.ndarray:
    return np.array([m[..., i, j] for i, j in VOIGT]).T


def analyse(settings: dict[str, QESettings], snapshots: Path) -> dict:
    """Per setting: costs, mean ε∞ and the δα comparison with the first setting (the reference).

    δα is taken over the snapshots finished with both this setting and the reference (``n_common``
    of them, at least 2), so partial results are usable while the study runs.
    """
    table: dict[str, dict] = {}
    results = {name: load_results(snapshots, s) for name, s in settings.items()}
    base = next(iter(settings))
    ok_base = [r is not None and r["status"] == "ok" for r in results[base]]
    for name, s in settings.items():
        res = results[name]
        ok = [r for r in res if r is not None and r["status"] == "ok"]
        failed = [r["result"]["error"] for r in res if r is not None and r["status"] != "ok"]
        row = {"kpts": list(s.kpts), "ecutwfc_ry": s.ecutwfc_ry, "n_done": len(ok),
               "n_total": len(res), "failed": failed}
        if ok:
            eps = np.array([r["result"]["epsilon_inf"] for r in ok])
            row["eps_diag_mean"] = (
                np.mean(np.diagonal(eps, axis1=1, axis2=2), axis=0).round(4).tolist()
            )
            # costs only of runs done in one go (a continued run timed only its last attempt)
            timed = [r for r in ok if not r["result"]["metadata"].get("resumed")]
            row["n_timed"] = len(timed)
        if ok and timed:
            wall = [sum(r["result"]["wall_s"].values()) for r in timed]
            cpu = [sum(r["result"].get("cpu_s", {}).values()) for r in timed]
            loads = [r["result"]["metadata"].get(k, [np.nan])[0] for r in timed
                     for k in ("loadavg_start", "loadavg_end")]
            row.update(
                wall_s_per_structure=float(np.mean(wall)), cpu_s_per_structure=float(np.mean(cpu)),
                wall_s_pw_ph=[float(np.mean([r["result"]["wall_s"].get(p, np.nan) for r in timed]))
                              for p in ("pw", "ph")],
                cpu_s_pw_ph=[float(np.mean([r["result"].get("cpu_s", {}).get(p, np.nan)
                                            for r in timed])) for p in ("pw", "ph")],
                loadavg_1min_range=[float(np.nanmin(loads)), float(np.nanmax(loads))],
            )
        common = [i for i, r in enumerate(res)
                  if ok_base[i] and r is not None and r["status"] == "ok"]
        row["n_common"] = len(common)
        if len(common) >= 2:
            a = _voigt(np.array([res[i]["result"]["polarizability_A3"] for i in common]))
            a_ref = _voigt(np.array([results[base][i]["result"]["polarizability_A3"]
                                     for i in common]))
            d, d_ref = a - a.mean(axis=0), a_ref - a_ref.mean(axis=0)
            diff = d - d_ref

            def rel(x: np.ndarray, y: np.ndarray) -> float:
                return float(np.sqrt(np.mean(x**2)) / np.sqrt(np.mean(y**2)))

            row.update(
                rms_dalpha_A3=float(np.sqrt(np.mean(d**2))),
                rms_dalpha_diag_A3=float(np.sqrt(np.mean(d[:, :3] ** 2))),
                rms_dalpha_offdiag_A3=float(np.sqrt(np.mean(d[:, 3:] ** 2))),
                rel_rms_ddalpha_vs_ref=rel(diff, d_ref),
                rel_rms_ddalpha_diag=rel(diff[:, :3], d_ref[:, :3]),
                rel_rms_ddalpha_offdiag=rel(diff[:, 3:], d_ref[:, 3:]),
                mean_alpha_diag_A3=a[:, :3].mean(axis=0).round(3).tolist(),
                mean_alpha_shift_vs_ref_pct=float(
                    100 * (a[:, :3].mean() - a_ref[:, :3].mean()) / a_ref[:, :3].mean()),
                dalpha_voigt=d.round(3).tolist(),
            )
        table[name] = row
    return table


def markdown(table: dict) -> str:
    lines = ["| setting | k (shifted) | ecut Ry | done (common) | mean ε∞ diag | "
             "⟨α⟩ shift vs ref % | RMS δα Å³ (diag/off) | rel. RMS Δδα vs ref (all/diag/off) | "
             "wall s/struct (pw+ph) | CPU s/struct, all ranks (pw+ph) | load 1-min |",
             "|" + "---|" * 11]
    for name, r in table.items():
        def g(key: str, fmt: str = "{:.3g}", r: dict = r) -> str:
            v = r.get(key)
            return "–" if v is None else fmt.format(v)

        eps = r.get("eps_diag_mean")
        load = r.get("loadavg_1min_range")
        lines.append(
            f"| {name} | {'×'.join(map(str, r['kpts']))} | {r['ecutwfc_ry']:g} | "
            f"{r['n_done']}/{r['n_total']} ({r['n_common']}) | "
            f"{' '.join(f'{e:.4f}' for e in eps) if eps else '–'} | "
            f"{g('mean_alpha_shift_vs_ref_pct', '{:+.2f}')} | "
            f"{g('rms_dalpha_A3')} ({g('rms_dalpha_diag_A3')}/{g('rms_dalpha_offdiag_A3')}) | "
            f"{g('rel_rms_ddalpha_vs_ref')} / {g('rel_rms_ddalpha_diag')} / "
            f"{g('rel_rms_ddalpha_offdiag')} | {g('wall_s_per_structure', '{:.0f}')} "
            f"({'+'.join(f'{x:.0f}' for x in r.get('wall_s_pw_ph', []))}) | "
            f"{g('cpu_s_per_structure', '{:.0f}')} "
            f"({'+'.join(f'{x:.0f}' for x in r.get('cpu_s_pw_ph', []))}) | "
            f"{'–' if load is None else f'{load[0]:.1f}–{load[1]:.1f}'} |")
    return "\n".join(lines) + "\n"


def report() -> None:
    snaps = OUT / "snapshots_t16.extxyz"
    result = {"t16": analyse(SETTINGS, snaps)}
    sc = OUT / "snapshots_t32md.extxyz"
    if sc.exists():
        result["t32"] = analyse(SUPERCELL_SETTINGS, sc)
        # like for like: the 16-atom snapshots at the same (temperature, time) as the labelled
        # 32-atom ones (same MD protocol), δα about the mean of each set
        def when(atoms) -> tuple[float, float]:
            return float(atoms.info["temperature_k"]), float(atoms.info["time_ps"])

        res32 = load_results(sc, SUPERCELL_SETTINGS["sc_k122"])
        done32 = {when(a): r for a, r in zip(read(sc, ":"), res32, strict=True)
                  if r and r["status"] == "ok"}
        res16 = load_results(snaps, SETTINGS["ref"])
        done16 = {when(a): r for a, r in zip(read(snaps, ":"), res16, strict=True)
                  if r and r["status"] == "ok"}
        common = sorted(set(done32) & set(done16))
        if len(common) >= 2:
            def alphas(rs: list[dict]) -> np.ndarray:
                return _voigt(np.array([r["result"]["polarizability_A3"] for r in rs]))

            a32 = alphas([done32[k] for k in common])
            a16 = alphas([done16[k] for k in common])
            d32 = float(np.sqrt(np.mean((a32 - a32.mean(axis=0)) ** 2)))
            d16 = float(np.sqrt(np.mean((a16 - a16.mean(axis=0)) ** 2)))
            result["cell_size"] = {
                "snapshots_T_K_time_ps": common, "rms_dalpha32_A3": d32, "rms_dalpha16_A3": d16,
                "ratio": d32 / d16, "ratio_expected_local": float(np.sqrt(2.0)),
                "mean_alpha_diag_per_atom_32_A3": float(a32[:, :3].mean() / 32),
                "mean_alpha_diag_per_atom_16_A3": float(a16[:, :3].mean() / 16),
            }
    (OUT / "convergence.json").write_text(json.dumps(result, indent=1))
    text = "## 16-atom t-Na3SbS4, 4 MD snapshots (600, 900 K)\n\n" + markdown(result["t16"])
    if "t32" in result:
        text += "\n## 32-atom (2×1×1) MD snapshots\n\n" + markdown(result["t32"])
    if "cell_size" in result:
        cs = result["cell_size"]
        text += (f"\nCell size, on {len(cs['snapshots_T_K_time_ps'])} snapshots at the same "
                 f"(T K, t ps) {cs['snapshots_T_K_time_ps']} in both cells: RMS δα "
                 f"{cs['rms_dalpha32_A3']:.3f} Å³ (32 atoms) vs {cs['rms_dalpha16_A3']:.3f} Å³ "
                 f"(16 atoms), ratio {cs['ratio']:.2f} (√2 = 1.41 for local, uncorrelated "
                 f"fluctuations); mean diagonal α per atom "
                 f"{cs['mean_alpha_diag_per_atom_32_A3']:.3f} vs "
                 f"{cs['mean_alpha_diag_per_atom_16_A3']:.3f} Å³\n")
    (OUT / "convergence.md").write_text(text)
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--analyse", action="store_true", help="only print the tables")
    p.add_argument("--only", nargs="*", default=list(SETTINGS), help="settings to run, in order")
    p.add_argument("--supercell", action="store_true",
                   help="also the four 32-atom MD snapshots (cell-size convergence)")
    p.add_argument("--threads", type=int, default=1, help="threads of the 32-atom MD")
    p.add_argument("--first", type=int, nargs="*", default=[],
                   help="snapshot indices to run with every setting before the others "
                        "(early δα estimate from a subset)")
    p.add_argument("--first-only", action="store_true",
                   help="run only the --first snapshots (skip the remaining round)")
    p.add_argument("--ranks", type=int, default=None,
                   help="MPI ranks (= pools) per run; execution only, labels unchanged")
    args = p.parse_args(argv)
    if args.ranks:
        for table in (SETTINGS, SUPERCELL_SETTINGS):
            for key, s in table.items():
                table[key] = replace(s, mpi_ranks=args.ranks, npool=args.ranks)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.analyse:
        report()
        return 0
    snaps = pick_snapshots()
    rest = [i for i in range(len(PICK)) if i not in args.first]
    rounds = [args.first, rest] if args.first else [rest]
    if args.first_only:
        rounds = [args.first]
    with _sigterm_as_exit():  # SIGTERM: the running pw.x/ph.x is killed, the lock released
        for indices in rounds:
            for name in args.only:
                print(f"== {name} {indices}: {SETTINGS[name].physics()}", flush=True)
                label_structures(snaps, OUT / f"labelled_{name}.extxyz", WORK, SETTINGS[name],
                                 indices=indices, log=sys.stdout)
                report()
        if args.supercell:
            sc = supercell_snapshots(args.threads)
            for name, s in SUPERCELL_SETTINGS.items():
                print(f"== {name}: {s.physics()}", flush=True)
                label_structures(sc, OUT / f"labelled_{name}.extxyz", WORK, s, log=sys.stdout)
                report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
