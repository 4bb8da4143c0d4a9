"""Active learning for students: explore with the student's own MD, pick what it has not seen.

One round is three resumable steps, the middle one a DFT job:

1. :func:`explore` — student MD of every system at every temperature (NVT, Bussi), candidate
   frames every ``every_fs``; a run that a guard stops (atoms too close, lost atoms) is a finding,
   and its last structure joins the candidates;
2. :func:`select_by_grade` — the candidates graded by the MaxVol extrapolation grade of the
   student's descriptors against its training set (Podryabinkin & Shapeev, Comput. Mater. Sci.
   171, 109180 (2019); as implemented in torchnep) and the most novel ones taken by greedy
   D-optimal selection;
3. label the selection (``ionraman reference forces``, or a teacher in
   :mod:`ionraman.distillation.loop`) and train again.

``ionraman forcefield explore`` runs steps 1–2 and writes the selection as an extxyz file of
structures to label. :mod:`ionraman.distillation.loop` uses the same two functions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import read, write

from ionraman._io import atomic_path, write_json_atomic
from ionraman.errors import SimulationError


def trajectory_frames(path: str | os.PathLike[str], every_fs: float) -> list[Atoms]:
    """Frames of a trajectory store, one every ``every_fs`` (at least the stored interval),
    without calculators; ``info["source"]`` is the store."""
    from ionraman.trajectory import Trajectory

    with Trajectory(path) as traj:
        n = len(traj)
        dt_fs = float(traj.metadata.get("sampling_interval_fs") or 0.0)
        stride = max(1, round(every_fs / dt_fs)) if dt_fs > 0 else 1
        frames = [traj.get_atoms(i) for i in range(stride - 1, n, stride)]
    for f in frames:
        f.calc = None
        f.info = {"source": str(path)}
    return frames


def explore(
    nep: str | os.PathLike[str],
    systems: dict[str, Atoms],
    temperatures_k: Sequence[float],
    out_dir: str | os.PathLike[str],
    *,
    time_ps: float,
    every_fs: float,
    equilibration_ps: float = 0.1,
    timestep_fs: float = 2.0,
    seed: int = 0,
    threads: int = 1,
) -> tuple[list[Atoms], list[str]]:
    """Student MD of every system at every temperature; resumable (finished stores are kept).

    Returns
    -------
    candidates : list of ase.Atoms
        Frames every ``every_fs`` of every run (``info``: ``system``, ``temperature_k``,
        ``kind`` = ``"explore"``, or ``"explore-fail"`` for the last structure of a failed run).
    failures : list of str
        One line per run that a guard stopped.
    """
    from ionraman.forcefields.registry import load_force_field
    from ionraman.md import run_md
    from ionraman.md.runner import failed_structure_path

    out_dir = Path(out_dir)
    loaded = load_force_field(f"nep:{Path(nep).resolve()}")
    candidates: list[Atoms] = []
    failures: list[str] = []
    for name, atoms in systems.items():
        for temp in temperatures_k:
            out = out_dir / f"{name}_{temp:g}K.h5"
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                run_md(atoms, temperature_k=temp, time_ps=time_ps, force_field=loaded,
                       timestep_fs=timestep_fs, sample_every_fs=every_fs,
                       equilibration_ps=equilibration_ps, seed=seed, out=out, quiet=True,
                       checkpoint_every_steps=100, threads=threads)
            except SimulationError as exc:
                failures.append(f"{name} {temp:g} K: {str(exc).splitlines()[0]}")
                bad = failed_structure_path(out)
                if bad.exists():
                    b = read(bad)
                    b.calc = None
                    b.info = {"system": name, "temperature_k": temp, "kind": "explore-fail"}
                    candidates.append(b)
            if out.exists():
                for f in trajectory_frames(out, every_fs):
                    f.info.update(system=name, temperature_k=temp, kind="explore")
                    candidates.append(f)
    return candidates, failures


def select_by_grade(
    nep: str | os.PathLike[str],
    train_file: str | os.PathLike[str],
    candidates: Sequence[Atoms],
    out: str | os.PathLike[str],
    max_frames: int,
    active_set: Any = None,
) -> tuple[list[Atoms], dict[str, Any]]:
    """The candidates that extend the student's training set most (MaxVol grade, D-optimal).

    ``active_set``: the student's MaxVol active set on ``train_file`` (torchnep
    ``build_active_set``), when several selections share it; built here when None.

    Resumable: an existing ``out`` is read back. Writes ``out`` (the selected frames, no
    calculators, ``info`` kept and ``extrapolation_grade`` added) and ``out.json`` (grade
    statistics of all candidates).

    Returns
    -------
    selected : list of ase.Atoms
    stats : dict
        ``n_candidates``, ``n_selected``, ``grade_max``, ``grade_median``, ``n_extrapolating``
        (grade > 1: outside the span of the training descriptors).
    """
    out = Path(out)
    stats_file = out.with_suffix(".json")
    if out.exists() and stats_file.exists():
        frames = read(out, index=":") if out.stat().st_size else []
        return frames, json.loads(stats_file.read_text())
    from torchnep.extrapolation import build_active_set, select_structures

    work = out.parent
    work.mkdir(parents=True, exist_ok=True)
    pool = work / f".{out.stem}.candidates.extxyz"
    with atomic_path(pool) as tmp:
        write(tmp, list(candidates), format="extxyz")
    aset = active_set if active_set is not None else build_active_set(
        str(nep), str(train_file), str(work / f".{out.stem}.active_set.pt"), verbose=False)
    picked = work / f".{out.stem}.selected.tmp.extxyz"
    res = select_structures(str(nep), aset, str(pool), output_xyz=str(picked),
                            max_frames=max_frames, verbose=False)
    grades = np.asarray(res.get("grade", []), dtype=float)
    index = [int(i) for i in res.get("index", [])]
    selected = []
    for i in index:
        a = candidates[i].copy()
        a.calc = None
        a.info = dict(candidates[i].info)
        if grades.size == len(candidates):
            a.info["extrapolation_grade"] = float(grades[i])
        selected.append(a)
    stats = {
        "n_candidates": len(candidates),
        "n_selected": len(selected),
        "grade_max": float(np.max(grades)) if grades.size else None,
        "grade_median": float(np.median(grades)) if grades.size else None,
        "n_extrapolating": int(np.sum(grades > 1.0)),
    }
    with atomic_path(out) as tmp:
        write(tmp, selected, format="extxyz")
    write_json_atomic(stats_file, stats)
    picked.unlink(missing_ok=True)
    return selected, stats
