#!/usr/bin/env python
"""Snapshots of Na3SbS4 to be labelled with first-principles polarizabilities (training + held out).

Sources (every snapshot records its own in ``atoms.info``):

* MLFF molecular dynamics (default force field, NVT, Bussi thermostat, 2 fs step) of the 16-atom
  cells of t-Na3SbS4 and c-Na3SbS4 at 300, 600 and 900 K, and of W-doped cubic Na5SbWS8
  (``c-Na3SbS4:W0.5``, 15 atoms: one Sb → W, one Na vacancy) at 600 and 900 K, and of dilute
  W-doped cubic Na11Sb3WS16 (``c-Na3SbS4:W0.25``, 2×1×1 supercell, 31 atoms) at 600 and
  900 K, and of 2×1×1 supercells of t- and c-Na3SbS4 (32 atoms) at 600 and 900 K (larger cells
  reach environments the 16-atom cells do not; ids ``t-Na3SbS4@2x1x1/T600/...``). Training
  trajectories (seed 1): 1 ps equilibration + 3 ps production; held-out trajectories
  (seed 101): 1 ps + 1 ps. Snapshots every 0.25 ps of production (≥ 0.2 ps apart, i.e.
  decorrelated for the fast Raman-active modes; the slow Na hopping is not sampled at these
  lengths and is not the point of the labels).
* Distorted equilibrium cells: the built-in (experimental) structures rattled (Gaussian, σ given)
  and strained (isotropic ±2 %, uniaxial c +2 %, shear ε_xy = 1 %), a few of them held out.

* Spectrum-validation series (split ``spectrum``, issue 5): every 40 fs of the held-out 600 K
  trajectories of t- and c-Na3SbS4 (25 consecutive frames each, 0.96 ps): DFT α on these frames
  gives a Raman spectrum to compare with the one of a model's α on the same frames
  (``scripts/alpha_spectrum_validation.py``). 40 fs puts the Nyquist limit at 417 cm⁻¹, above
  the SbS4 stretching band of the MLFF (≈ 290 cm⁻¹).

The split is by trajectory (seed) and by distortion, never by frames of one trajectory, so the
held-out snapshots are not correlated with training ones.

Outputs (small; the MD stores stay under ``--md-dir``):

* ``<out-dir>/snapshots_train.extxyz``, ``<out-dir>/snapshots_heldout.extxyz``,
  ``<out-dir>/snapshots_spectrum.extxyz`` (t-Na3SbS4 frames first, then c-Na3SbS4, in time
  order). The training file is ordered round-robin over the groups (phase × temperature, static
  distortions), so a partially finished labelling job covers all groups evenly.

Resumable: each MD run resumes from its checkpoint (``ionraman.md.run_md``), finished ones are
skipped, and the extxyz files are rewritten from the stores after every trajectory. A run whose
snapshots are already in the files is not repeated and keeps them as they are (the MD stores are
scratch, the files are the record: a fresh checkout rewrites them byte for byte). Run::

    nohup .venv/bin/python scripts/reference_dataset.py > out/dft/md/dataset.log 2>&1 &

``info`` keys of every snapshot: ``snapshot_id`` (unique string), ``source`` (``md``, ``rattle``,
``strain``), ``phase`` (built-in structure name), ``split`` (``train``/``heldout``),
``temperature_k`` (MD only; 0 for static), ``md_seed``, ``time_ps`` (production time), ``frame``,
``force_field``, ``rattle_A``, ``strain`` (Voigt, static only), ``sb_s_max_A`` and ``sb_cn``
(longest Sb–S bond and the number of S within 3.0 Å of each Sb: a defect check).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("t-Na3SbS4", "c-Na3SbS4", "c-Na3SbS4:W0.5")
# W-doped cubic in the 16-atom cell: one of the two Sb replaced by W and one Na vacancy
# (Na5SbWS8, 15 atoms): WS4 tetrahedra and vacancies next to SbS4 ones, for a polarizability
# model of the W-doped phase (the screening cell has x = 0.125 over 2x2x2).
W_PHASE = "c-Na3SbS4:W0.5"
# Dilute W: one Sb of four replaced (and one Na vacancy) in a 2x1x1 cubic supercell (Na11Sb3WS16,
# 31 atoms; W0.25), added because the training-domain check flagged the W and Na environments
# of the W0.125 screening cell at 700 K as outside the W0.5 cells' (models README). Labelled
# with the same k-point density (shifted 1x2x2; `--kspacing 0.5`).
W_DILUTE = "c-Na3SbS4:W0.25"
SUPERCELLS = {W_DILUTE: (2, 1, 1)}  # phases whose MD cell is not the conventional cell
# Larger cells of the undoped phases: 2x1x1 supercells (32 atoms) at 600/900 K, added because
# the environments of large-cell MD lie farther from the 16-atom training cells' than those
# cells lie from each other (median Sb training-domain ratio 0.48 in 16-atom held-out cells,
# 0.65 in 32-atom and 0.78 in 432-atom frames; models README). Their snapshot ids and MD stores
# carry the cell ("t-Na3SbS4@2x1x1/T600/s1/f00025").
LARGE_CELL, LARGE_CELL_PHASES, LARGE_CELL_TEMPERATURES_K = (2, 1, 1), PHASES[:2], (600, 900)
TEMPERATURES_K = (300, 600, 900)
FORCE_FIELD = "sevenn-mf0-r2scan"
TRAIN_SEED, HELDOUT_SEED = 1, 101
TIMESTEP_FS, SAMPLE_FS = 2.0, 10.0
EQUILIBRATION_PS = 1.0
TRAIN_PS, HELDOUT_PS = 3.0, 1.0
SNAPSHOT_EVERY_PS = 0.25
SB_S_CUTOFF_A = 3.0
# spectrum-validation series: (phase, temperature) of held-out trajectories, frame interval, count
SPECTRUM_SERIES = (("t-Na3SbS4", 600), ("c-Na3SbS4", 600))
SPECTRUM_EVERY_FS, SPECTRUM_FRAMES = 40.0, 25

# (name, split, rattle σ in Å, rattle seed, Voigt strain xx yy zz yz xz xy)
STATIC = (
    ("eq", "train", 0.0, 0, (0, 0, 0, 0, 0, 0)),
    ("r0.03", "train", 0.03, 11, (0, 0, 0, 0, 0, 0)),
    ("r0.06", "train", 0.06, 12, (0, 0, 0, 0, 0, 0)),
    ("r0.10", "train", 0.10, 13, (0, 0, 0, 0, 0, 0)),
    ("iso-2%", "train", 0.03, 14, (-0.02, -0.02, -0.02, 0, 0, 0)),
    ("iso+2%", "train", 0.03, 15, (0.02, 0.02, 0.02, 0, 0, 0)),
    ("c+2%", "train", 0.03, 16, (0, 0, 0.02, 0, 0, 0)),
    ("shear-xy1%", "train", 0.03, 17, (0, 0, 0, 0, 0, 0.01)),
    ("r0.05-ho", "heldout", 0.05, 21, (0, 0, 0, 0, 0, 0)),
    ("iso+1%-ho", "heldout", 0.04, 22, (0.01, 0.01, 0.01, 0, 0, 0)),
)


def sb_s_check(atoms: Atoms) -> tuple[float, list[int]]:
    """Longest of the 4 shortest Sb–S distances and the S count within 3.0 Å of each Sb."""
    symbols = np.array(atoms.get_chemical_symbols())
    sb, s = np.flatnonzero(symbols == "Sb"), np.flatnonzero(symbols == "S")
    longest, cn = 0.0, []
    for i in sb:
        d = np.sort(atoms.get_distances(i, s, mic=True))
        longest = max(longest, float(d[3]))
        cn.append(int(np.sum(d < SB_S_CUTOFF_A)))
    return longest, cn


def _finish(atoms: Atoms, info: dict) -> Atoms:
    out = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
    out.info.update(info)
    out.info["sb_s_max_A"], out.info["sb_cn"] = sb_s_check(out)
    return out


def static_snapshots(phase: str) -> list[Atoms]:
    from ionraman.structures import get_structure

    frames = []
    for name, split, sigma, seed, voigt in STATIC:
        atoms = get_structure(phase)
        xx, yy, zz, yz, xz, xy = voigt
        strain = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]], dtype=float)
        atoms.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=True)
        if sigma > 0:
            atoms.rattle(stdev=sigma, seed=seed)
        frames.append(_finish(atoms, {
            "snapshot_id": f"{phase}/static/{name}", "source": "strain" if any(voigt) else
            "rattle", "phase": phase, "split": split, "temperature_k": 0.0, "md_seed": -1,
            "time_ps": 0.0, "frame": -1, "force_field": "", "rattle_A": sigma,
            "rattle_seed": seed, "strain": list(map(float, voigt)),
        }))
    return frames


def md_jobs() -> list[dict]:
    """All MD runs, t-Na3SbS4 at 600/900 K first (the convergence study needs them).

    ``tag`` names the run's cell: the phase for its usual cell (the conventional one, or the
    ``SUPERCELLS`` entry), ``phase@AxBxC`` for the larger cells of ``LARGE_CELL_PHASES``.
    """
    large = "@" + "x".join(map(str, LARGE_CELL))
    order = [("t-Na3SbS4", 600), ("t-Na3SbS4", 900), ("t-Na3SbS4", 300),
             ("c-Na3SbS4", 300), ("c-Na3SbS4", 600), ("c-Na3SbS4", 900),
             (W_PHASE, 600), (W_PHASE, 900), (W_DILUTE, 600), (W_DILUTE, 900)]
    cells = [(p, t, p, SUPERCELLS.get(p, (1, 1, 1))) for p, t in order]
    cells += [(p, t, p + large, LARGE_CELL)
              for p in LARGE_CELL_PHASES for t in LARGE_CELL_TEMPERATURES_K]
    jobs = []
    for split, seed, time_ps in (("train", TRAIN_SEED, TRAIN_PS),
                                 ("heldout", HELDOUT_SEED, HELDOUT_PS)):
        jobs += [dict(phase=p, temperature_k=t, tag=tag, supercell=cell, seed=seed,
                      time_ps=time_ps, split=split) for p, t, tag, cell in cells]
    return jobs


def group_id(job: dict) -> str:
    """Prefix of the snapshot ids of one MD run: ``tag/T<K>/s<seed>``."""
    return f"{job['tag']}/T{job['temperature_k']}/s{job['seed']}"


def store_path(md_dir: Path, job: dict) -> Path:
    tag = job["tag"].replace(":", "_").replace("@", "_")
    return md_dir / f"{tag}_T{job['temperature_k']}_s{job['seed']}.h5"


def md_snapshots(
    md_dir: Path, job: dict, every_fs: float = SNAPSHOT_EVERY_PS * 1000.0, first: int | None = None,
    count: int | None = None, split: str | None = None,
) -> list[Atoms]:
    """Snapshots of a finished production run: every ``every_fs`` from frame ``first`` (default:
    one interval in, so the first frame is excluded), at most ``count`` of them."""
    from ionraman.trajectory import open_trajectory

    path = store_path(md_dir, job)
    frames = []
    if not path.exists():
        return frames
    with open_trajectory(path) as traj:
        if traj.metadata.get("status") != "complete":
            return []
        stride = round(every_fs / SAMPLE_FS)
        t0 = float(traj.times_fs[0])
        ks = list(range(stride if first is None else first, len(traj), stride))[:count]
        for k in ks:
            atoms = traj.get_atoms(k)
            time_ps = (float(traj.times_fs[k]) - t0) / 1000.0
            frames.append(_finish(atoms, {
                "snapshot_id": f"{group_id(job)}/f{k:05d}",
                "source": "md", "phase": job["phase"], "split": split or job["split"],
                "temperature_k": float(job["temperature_k"]), "md_seed": job["seed"],
                "time_ps": round(time_ps, 4), "frame": k, "force_field": FORCE_FIELD,
                "rattle_A": 0.0, "rattle_seed": -1, "strain": [0.0] * 6,
                "md_store": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
            }))
    return frames


def round_robin(groups: list[list[Atoms]]) -> list[Atoms]:
    out, depth = [], max((len(g) for g in groups), default=0)
    for j in range(depth):
        out += [g[j] for g in groups if j < len(g)]
    return out


def existing_groups(out_dir: Path) -> dict[str, dict[str, list[Atoms]]]:
    """MD snapshots already in the snapshot files, per split and :func:`group_id`.

    The snapshot files are the record of the dataset (the labels are keyed on their exact
    positions); the MD stores are scratch. A run whose store is gone (fresh checkout) keeps its
    snapshots from the file, so rewriting the files never drops or changes a labelled structure.
    """
    from ase.io import read

    out: dict[str, dict[str, list[Atoms]]] = {}
    for split in ("train", "heldout", "spectrum"):
        path = out_dir / f"snapshots_{split}.extxyz"
        groups: dict[str, list[Atoms]] = out.setdefault(split, {})
        for atoms in read(path, index=":") if path.exists() else []:
            if atoms.info.get("source") == "md":
                # lists come back as arrays; as lists they are written as before
                atoms.info = {k: v.tolist() if isinstance(v, np.ndarray) else v
                              for k, v in atoms.info.items()}
                groups.setdefault(atoms.info["snapshot_id"].rsplit("/", 1)[0], []).append(atoms)
        for frames in groups.values():
            frames.sort(key=lambda a: int(a.info["frame"]))
    return out


def _snapshots(md_dir: Path, job: dict, known: dict[str, list[Atoms]], **kwargs) -> list[Atoms]:
    """A run's snapshots from its finished store, else those already in the file (or none)."""
    return md_snapshots(md_dir, job, **kwargs) or known.get(group_id(job), [])


def write_snapshots(out_dir: Path, md_dir: Path) -> dict[str, int]:
    known = existing_groups(out_dir)
    groups: dict[str, list[list[Atoms]]] = {"train": [], "heldout": []}
    for job in md_jobs():
        frames = _snapshots(md_dir, job, known[job["split"]])
        if frames:
            groups[job["split"]].append(frames)
    for phase in PHASES:
        frames = static_snapshots(phase)
        for split in groups:
            groups[split].append([a for a in frames if a.info["split"] == split])
    series = [
        _snapshots(md_dir, job, known["spectrum"], every_fs=SPECTRUM_EVERY_FS, first=0,
                   count=SPECTRUM_FRAMES, split="spectrum")
        for phase, temp in SPECTRUM_SERIES
        for job in md_jobs()
        if (job["tag"], job["temperature_k"], job["split"]) == (phase, temp, "heldout")
    ]
    counts = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, g in [*groups.items(), ("spectrum", series)]:
        frames = round_robin(g) if split != "spectrum" else [a for run in g for a in run]
        path = out_dir / f"snapshots_{split}.extxyz"
        if not frames:
            continue
        tmp = path.with_suffix(".extxyz.tmp")
        write(tmp, frames, format="extxyz")
        tmp.replace(path)
        counts[split] = len(frames)
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--md-dir", type=Path, default=ROOT / "out" / "dft" / "md")
    p.add_argument("--out-dir", type=Path, default=ROOT / "src" / "ionraman" / "data" / "reference")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the force field")
    p.add_argument("--only-static", action="store_true", help="no MD: rewrite the files only")
    args = p.parse_args(argv)
    args.md_dir.mkdir(parents=True, exist_ok=True)
    print("snapshots:", write_snapshots(args.out_dir, args.md_dir), flush=True)
    if args.only_static:
        return 0

    from ionraman.errors import IonramanError
    from ionraman.forcefields.registry import load_force_field
    from ionraman.md import run_md
    from ionraman.structures import get_structure
    from ionraman.trajectory import open_trajectory

    ff = None
    failures = 0
    known = existing_groups(args.out_dir)
    for job in md_jobs():
        out = store_path(args.md_dir, job)
        if group_id(job) in known[job["split"]]:
            continue  # its snapshots are in the file already (the store may be gone)
        if out.exists():
            with open_trajectory(out) as traj:
                if traj.metadata.get("status") == "complete":
                    continue
        if ff is None:
            ff = load_force_field(FORCE_FIELD, threads=args.threads)
        start, cpu0 = time.time(), time.process_time()
        try:
            structure = job["phase"]
            if job["supercell"] != (1, 1, 1):
                structure = get_structure(structure, supercell=job["supercell"])
            run_md(structure, temperature_k=job["temperature_k"], time_ps=job["time_ps"],
                   equilibration_ps=EQUILIBRATION_PS, timestep_fs=TIMESTEP_FS,
                   sample_every_fs=SAMPLE_FS, seed=job["seed"], force_field=ff, out=out,
                   quiet=True, threads=args.threads)
            status = "done"
        except IonramanError as exc:  # a guard fired: report, keep going with the others
            status = f"FAILED: {exc}"
            failures += 1
        print(f"{out.name}: {status} in {time.time() - start:.0f} s wall, "
              f"{time.process_time() - cpu0:.0f} s CPU", flush=True)
        print("snapshots:", write_snapshots(args.out_dir, args.md_dir), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
