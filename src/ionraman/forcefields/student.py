"""Train a NEP student on first-principles labels (DFT energies, forces, stresses).

The ground truth of a production student is DFT, not a universal model: the frames come from
MD (any force field explores; the labels decide), the labels from ``ionraman reference forces``
(QE PBE SCF, resumable, one record per structure). This module turns labelled extxyz files into
a student directory (``nep.txt`` + ``student.json``) that the registry loads like any shipped
student:

1. **Energy references.** DFT total energies of pseudopotential calculations are hundreds of eV
   per atom and differ per element; NEP has one shared output bias. Per-element reference
   energies μ_s are fitted by least squares (minimum norm when the compositions do not determine
   them all) and Σ n_s μ_s is subtracted from every frame before training. The student's
   energies therefore equal DFT's up to a constant per composition, which no MD sees; μ_s are
   recorded in ``student.json``.
2. **Training** with torchnep (:func:`ionraman.forcefields.nep.train_nep`), from random weights,
   fine-tuned from an existing ``nep.txt``, or in two stages: pre-training on many frames
   labelled by a universal model (``pretrain_files``, e.g. ``scripts/pretrain_pool.py``), then
   fine-tuning on the DFT frames. A few dozen DFT frames fix what the universal model gets wrong;
   the pre-training supplies the coverage that so few frames lack (measured in
   ``ionraman/data/forcefields/README.md``).
3. **Errors** on held-out DFT frames (never trained on), overall and per group (phase and
   temperature), with :mod:`ionraman.forcefields.audit`'s definitions.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

from ionraman._io import atomic_path, file_sha256, package_versions, write_json_atomic
from ionraman.errors import InputError
from ionraman.forcefields.audit import frame_errors, predict, reference_values
from ionraman.forcefields.nep import (
    STUDENT_META,
    NEPHyperparameters,
    element_order,
    nep_elements,
    train_nep,
)
from ionraman.validate import check_output_dir

STUDENT_FORMAT = "ionraman-nep-student/1"


def read_labelled(paths: Sequence[str | os.PathLike[str]]) -> list[Atoms]:
    """DFT-labelled frames of extxyz files (every frame needs an energy and forces)."""
    frames: list[Atoms] = []
    for p in map(Path, paths):
        if not p.is_file():
            raise InputError(f"{p}: no such file of labelled frames")
        try:
            got = read(p, index=":")
        except Exception as exc:  # ASE raises many types for a malformed file
            raise InputError(f"{p}: not a readable extxyz file ({exc})") from None
        for k, a in enumerate(got):
            results = a.calc.results if a.calc is not None else {}
            if "energy" not in results or "forces" not in results:
                raise InputError(f"{p}: frame {k} has no energy and forces")
        frames += got
    if not frames:
        raise InputError(f"no labelled frames in {[str(p) for p in paths]}")
    return frames


def element_references(frames: Sequence[Atoms], elements: Sequence[str]) -> dict[str, float]:
    """Per-element energies μ_s (eV) minimising Σ_frames (E − Σ_s n_s μ_s)² (minimum norm)."""
    counts = np.array([[a.get_chemical_symbols().count(s) for s in elements] for a in frames],
                      dtype=float)
    energies = np.array([a.calc.results["energy"] for a in frames], dtype=float)
    mu, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    return {s: float(m) for s, m in zip(elements, mu, strict=True)}


def shifted_frames(frames: Sequence[Atoms], references: dict[str, float]) -> list[Atoms]:
    """Copies of ``frames`` with energy − Σ n_s μ_s (forces and stress unchanged)."""
    out = []
    for a in frames:
        b = a.copy()
        results = dict(a.calc.results)
        results["energy"] = float(results["energy"]) - sum(
            references[s] for s in a.get_chemical_symbols()
        )
        results.pop("free_energy", None)
        b.calc = SinglePointCalculator(b, **results)
        out.append(b)
    return out


def group_of(atoms: Atoms) -> str:
    """``"phase (n at.) T K"`` for MD frames, ``"phase (n at.) source"`` otherwise, from
    ``info`` (``phase`` or ``system``, ``source``, ``temperature_k``): the rows of per-group
    error tables."""
    info = atoms.info
    label = f"{info.get('phase') or info.get('system') or atoms.get_chemical_formula()} " \
            f"({len(atoms)} at.)"
    source = str(info.get("source", "md"))
    temperature = info.get("temperature_k")
    if source in ("md", "explore") and temperature is not None:
        return f"{label} {float(temperature):g} K"
    return f"{label} {source}"


def student_errors_by_group(nep: str | os.PathLike[str], frames: Sequence[Atoms]
                            ) -> dict[str, dict[str, Any]]:
    """Errors of a NEP on labelled frames: ``"all"`` and one entry per :func:`group_of`."""
    from ionraman.forcefields.nep import nep_calculator

    calc = nep_calculator(nep)
    pred, seconds = predict(calc, frames)
    ref = reference_values(frames)
    groups: dict[str, list[int]] = defaultdict(list)
    for k, a in enumerate(frames):
        groups[group_of(a)].append(k)
    out = {"all": asdict(frame_errors(str(nep), pred, ref, frames, seconds))}
    for g, idx in sorted(groups.items()):
        out[g] = asdict(frame_errors(str(nep), [pred[i] for i in idx], [ref[i] for i in idx],
                                     [frames[i] for i in idx], seconds))
    return out


def train_student(
    train_files: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    hyper: NEPHyperparameters | None = None,
    *,
    test_files: Sequence[str | os.PathLike[str]] = (),
    elements: Sequence[str] | None = None,
    finetune_from: str | os.PathLike[str] | None = None,
    pretrain_files: Sequence[str | os.PathLike[str]] = (),
    description: str | None = None,
    teacher: str = "DFT",
    seed: int = 0,
    threads: int | None = 1,
) -> Path:
    """Train a NEP student on DFT-labelled frames; resumable (see the module docstring).

    Parameters
    ----------
    train_files : sequence of path-like
        Labelled extxyz files (``energy`` eV, ``forces`` eV/Å, ``stress`` eV/Å³).
    out : path-like
        Student directory: ``nep.txt``, ``student.json``, ``train.extxyz`` (shifted energies)
        and torchnep's work folder ``nep/``.
    hyper : NEPHyperparameters, optional
        Architecture and schedule (default :class:`NEPHyperparameters`).
    test_files : sequence of path-like
        Held-out labelled frames: errors only, never trained on.
    elements : sequence of str, optional
        Element order of the model (default: the elements of the data, in
        :func:`ionraman.forcefields.nep.element_order`; with ``finetune_from`` its order).
    finetune_from : path-like, optional
        Start from this ``nep.txt`` (same descriptor settings and elements).
    pretrain_files : sequence of path-like
        Frames labelled by a universal model: first a student of those is trained in
        ``out/pretrain`` (a student directory itself, errors on ``test_files`` included), then
        fine-tuned on ``train_files``. Excludes ``finetune_from``.
    description : str, optional
        One line for the registry listing.
    teacher : str
        What labelled ``train_files`` (``student.json`` ``teacher.name``).
    seed, threads
        Training seed and torch threads.

    Returns
    -------
    Path
        ``out/nep.txt``.
    """
    hyper = hyper or NEPHyperparameters()
    out = check_output_dir(out, "student directory (--out)")
    frames = read_labelled(train_files)
    test = read_labelled(test_files) if test_files else []
    symbols = sorted({s for a in frames for s in a.get_chemical_symbols()})
    pretrain = None
    if pretrain_files:
        if finetune_from is not None:
            raise InputError("pre-training and --finetune-from exclude each other: the "
                             "pre-trained student is the start of the fine-tuning")
        pool = read_labelled(pretrain_files)
        elements = elements or element_order(
            symbols + [s for a in pool for s in a.get_chemical_symbols()])
        codes = _label_codes(pool)
        finetune_from = train_student(
            pretrain_files, out / "pretrain", hyper, test_files=test_files, elements=elements,
            teacher=", ".join(codes), seed=seed, threads=threads,
            description=f"pre-training on {len(pool)} frames labelled by {', '.join(codes)}")
        pretrain = json.loads((out / "pretrain" / STUDENT_META).read_text())
    if finetune_from is not None:
        elements = list(nep_elements(finetune_from))
    elements = list(elements) if elements else element_order(symbols)
    missing = sorted(set(symbols) - set(elements))
    if missing:
        raise InputError(f"training data contain {missing}, not in the model's elements "
                         f"{elements}")
    train_keys = {a.info.get("REF_label_key") for a in frames} - {None}
    overlap = [a.info.get("REF_label_key") for a in test if a.info.get("REF_label_key")
               in train_keys]
    if overlap:
        raise InputError(f"{len(overlap)} test frames are also training frames "
                         f"(label key {overlap[0][:12]}...): the test set must be held out")
    references = element_references(frames, [s for s in elements if s in symbols])
    out.mkdir(parents=True, exist_ok=True)
    train_xyz = out / "train.extxyz"
    with atomic_path(train_xyz) as tmp:
        write(tmp, shifted_frames(frames, references), format="extxyz")
    t0 = time.perf_counter()
    best = train_nep(train_xyz, out / "nep", elements, hyper, seed=seed,
                     finetune_from=finetune_from, threads=threads)
    seconds = time.perf_counter() - t0
    with atomic_path(out / "nep.txt") as tmp:
        tmp.write_bytes(best.read_bytes())
    systems = sorted({str(a.info.get("phase", a.get_chemical_formula())) for a in frames})
    meta = {
        "format": STUDENT_FORMAT,
        "description": description or (
            f"NEP student trained on {len(frames)} DFT (QE PBE) frames of {', '.join(systems)}"
            + (f", pre-trained on {pretrain['n_train_frames']} frames labelled by "
               f"{pretrain['teacher']['name']}" if pretrain else "")
        ),
        "elements": list(nep_elements(out / "nep.txt")),
        "teacher": {"name": teacher, "kind": "dft" if teacher == "DFT" else "model",
                    "code": _label_codes(frames)},
        "labels": [{"path": str(p), "sha256": file_sha256(p), "n_frames": len(read(p, ":"))}
                   for p in train_files],
        "test": [{"path": str(p), "sha256": file_sha256(p)} for p in test_files],
        "energy_references_eV": references,
        "n_train_frames": len(frames),
        "systems": systems,
        "hyper": hyper.as_dict(),
        "finetune_from": None if finetune_from is None else {
            "path": str(finetune_from), "sha256": file_sha256(finetune_from)},
        "pretrain": None if pretrain is None else {
            k: pretrain[k] for k in ("description", "teacher", "labels", "n_train_frames",
                                     "energy_references_eV", "train_seconds", "train_errors",
                                     "test_errors", "nep_sha256")},
        "seed": seed,
        "train_seconds": seconds,
        "train_errors": student_errors_by_group(out / "nep.txt", frames)["all"],
        "test_errors": student_errors_by_group(out / "nep.txt", test) if test else {},
        "nep_sha256": file_sha256(out / "nep.txt"),
        "packages": package_versions(("torchnep", "calorine", "ase")),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json_atomic(out / STUDENT_META, meta)
    return out / "nep.txt"


def _label_codes(frames: Sequence[Atoms]) -> list[str]:
    """The distinct ``REF_source`` lines of the labels (code, version, settings)."""
    return sorted({str(a.info.get("REF_source", "?")) for a in frames})
