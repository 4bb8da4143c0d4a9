#!/usr/bin/env python
"""Long high-temperature MD of the screening cells: does the SbS4 framework stay as DFT says?

For each 128-atom cell (t-/c-Na3SbS4 2×2×2, W-doped c-Na3SbS4:W0.125 126 atoms) one Bussi-NVT run
at the experimental cell (``--temperature``, default 900 K; ``--time``, default 100 ps; 2 fs, frames
every 50 fs, 2 ps equilibration), resumable. Prints per run the fraction of frames with every
Sb/W tetrahedrally coordinated (4 S within 3.0 Å) and without S–S bonds (< 2.6 Å), the shortest
S–S distance seen, and writes the frames with defects to ``OUT/<run>_suspicious.extxyz``
(at most ``--max-suspicious``: the shortest S–S contacts first, at least 0.5 ps apart, so that
each is a separate event) for a DFT check (``ionraman reference forces``). ``--small`` runs the
31–32-atom cells of the DFT training set instead, whose suspicious frames cost minutes of DFT each
rather than hours.

    nohup .venv/bin/python scripts/student_stability.py nep:out/dft/student/nep.txt \
        --out out/dft/stability > out/dft/stability.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

CELLS = {"t": ("t-Na3SbS4", 2), "c": ("c-Na3SbS4", 2), "w": ("c-Na3SbS4:W0.125", 2)}
# --small: the 31-32-atom cells of the DFT training set, cheap enough to label the contacts with DFT
SMALL_CELLS = {"t": ("t-Na3SbS4", (2, 1, 1)), "c": ("c-Na3SbS4", (2, 1, 1)),
               "w": ("c-Na3SbS4:W0.25", (2, 1, 1))}


def frame_checks(atoms) -> tuple[int, int, float]:
    """(number of Sb/W not 4-coordinated by S within 3.0 Å, S–S pairs < 2.6 Å, shortest S–S Å)."""
    from ase.neighborlist import neighbor_list

    from ionraman.forcefields.contacts import CONTACT_A

    sym = np.asarray(atoms.get_chemical_symbols())
    i, j, d = neighbor_list("ijd", atoms, 3.0, self_interaction=False)
    centres = np.flatnonzero(np.isin(sym, ["Sb", "W"]))
    cn = np.bincount(i[(sym[j] == "S") & np.isin(sym[i], ["Sb", "W"])], minlength=len(atoms))
    ss = (sym[i] == "S") & (sym[j] == "S")
    shortest = float(d[ss].min()) if ss.any() else float("inf")
    return int(np.sum(cn[centres] != 4)), int(np.sum(ss & (d < CONTACT_A)) // 2), shortest


def separate_events(frames: list, n: int, min_gap: int = 10) -> list:
    """Up to ``n`` frames, shortest S–S contact first, at least ``min_gap`` frames apart."""
    chosen: list = []
    for a in sorted(frames, key=lambda a: a.info["shortest_S_S_A"]):
        if len(chosen) == n:
            break
        if all(abs(a.info["frame"] - c.info["frame"]) >= min_gap for c in chosen):
            chosen.append(a)
    return sorted(chosen, key=lambda a: a.info["frame"])


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def main(argv: list[str] | None = None) -> int:
    from ase.io import write

    from ionraman.forcefields import load_force_field
    from ionraman.md import run_md
    from ionraman.structures import get_structure
    from ionraman.trajectory import open_trajectory

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("force_field", help="registered name or nep:/path/nep.txt")
    ap.add_argument("--cells", nargs="*", default=list(CELLS), choices=list(CELLS))
    ap.add_argument("--temperature", type=float, default=900.0)
    ap.add_argument("--time", type=float, default=100.0, help="production, ps")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-suspicious", type=int, default=20)
    ap.add_argument("--small", action="store_true", help="31-32-atom cells instead of 128")
    ap.add_argument("--out", type=Path, default=Path("out/stability"))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ff = load_force_field(args.force_field, device="cpu", threads=1)
    summary = {}
    for key in args.cells:
        name, supercell = (SMALL_CELLS if args.small else CELLS)[key]
        atoms = get_structure(name, supercell=supercell)
        tag = f"{key}_{args.temperature:g}K"
        store = run_md(atoms, temperature_k=args.temperature, time_ps=args.time, force_field=ff,
                       sample_every_fs=50.0, equilibration_ps=2.0, seed=args.seed,
                       out=args.out / f"{tag}.h5", quiet=True)
        rows, bad = [], []
        with open_trajectory(store) as traj:
            for k in range(len(traj)):
                a = traj.get_atoms(k)
                n_def, n_ss, dmin = frame_checks(a)
                rows.append((n_def, n_ss, dmin))
                if n_def or n_ss:
                    a.info.update(run=tag, frame=k, n_defective=n_def, n_SS_bonds=n_ss,
                                  shortest_S_S_A=dmin)
                    bad.append(a)
        arr = np.array(rows)
        summary[tag] = {
            "structure": name, "n_atoms": len(atoms), "frames": len(rows),
            "all_tetrahedra_intact": float(np.mean(arr[:, 0] == 0)),
            "no_S_S_bond": float(np.mean(arr[:, 1] == 0)),
            # None: no S-S pair within the 3.0 Å neighbour cutoff
            "shortest_S_S_A": _finite(arr[:, 2].min()),
            "median_shortest_S_S_A": _finite(np.median(arr[:, 2])),
        }
        if bad:
            write(args.out / f"{tag}_suspicious.extxyz",
                  separate_events(bad, args.max_suspicious), format="extxyz")
        print(tag, json.dumps(summary[tag]), flush=True)
    (args.out / "summary.json").write_text(json.dumps(
        {"force_field": ff.provenance(), "time_ps": args.time, "small_cells": args.small,
         "summary": summary}, indent=1,
        default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
