"""Distil a universal force field (the teacher) into a fast NEP student, with active learning.

The loop, all in one work directory and resumable at every step (a finished file is never
recomputed; an interrupted MD run resumes from its checkpoint, an interrupted labelling from the
last frame written, an interrupted training from torchnep's checkpoint):

1. **Initial data.** Teacher MD of every system at every temperature (NVT, Bussi), frames every
   ``sample_every_fs``; optional frames of existing teacher trajectories (``seed_trajectories``);
   rattled and isotropically strained copies of the input cells. Every frame is labelled with a
   teacher single point (energy, forces, stress). Frames already labelled by the same teacher
   (``seed_labelled``: extxyz with energies and forces, e.g. the training set of an earlier
   distillation) join the initial data as they are.
2. **Fresh validation frames.** A second teacher MD per system and temperature with another
   seed, never used for training.
3. **Iterate.** Train the student (iteration 0 from random weights, later iterations fine-tune
   the previous student on the grown set); measure its energy and force errors on the validation
   frames; stop when the force RMSE on the frames at the highest temperature is below
   ``force_rmse_target_meV_A`` and the student's own MD stayed stable. Otherwise run student MD at
   every temperature, grade its frames by the MaxVol extrapolation grade of the student's
   descriptors (Podryabinkin & Shapeev 2017, as implemented in torchnep) and take up to
   ``max_new_per_iteration`` frames by greedy D-optimal selection, label them with the teacher and
   go on. A student MD that fails (a guard fires) is a finding, not an error: its last frames are
   the most informative candidates.
4. The final student is written to ``student/nep.txt`` with ``student/student.json`` (teacher
   provenance, data counts, the error table of every iteration); register it with
   :func:`ionraman.forcefields.builtin.register_student` or copy the directory into
   ``ionraman/data/forcefields/<name>/`` to ship it.

Layout of ``workdir``::

    settings.json          the settings (a resumed run must use the same ones)
    md/teacher/…h5         teacher MD (training frames)     md/validation/…h5  (fresh frames)
    data/initial.extxyz    labelled initial frames          data/validation.extxyz
    iter_NNN/train.extxyz  training set of the iteration    iter_NNN/nep/ (torchnep output)
    iter_NNN/metrics.json  errors of the iteration's student on the validation frames
    iter_NNN/explore/…h5   student MD     iter_NNN/selected.extxyz  labelled new frames
    student/               final student
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

from ionraman._io import atomic_path, file_sha256, package_versions, write_json_atomic
from ionraman.distillation.exploration import explore, select_by_grade, trajectory_frames
from ionraman.errors import InputError
from ionraman.forcefields.nep import (
    STUDENT_META,
    NEPHyperparameters,
    element_order,
    nep_elements,
    train_nep,
)
from ionraman.forcefields.registry import (
    DEFAULT_FORCE_FIELD,
    LoadedForceField,
    check_force_field,
    load_force_field,
)
from ionraman.validate import check_output_dir, check_temperature

STOPPING_RULE_FIELDS = ("max_iterations", "force_rmse_target_meV_A", "stability_tolerance",
                        "bond_tolerance", "check_frames")
"""Settings a resumed run may change (they decide when to stop, not what was computed)."""


@dataclass(frozen=True)
class DistillSettings:
    """Everything that defines a distillation run.

    Attributes
    ----------
    teacher
        Force-field name of the teacher (registry name, ``FAMILY:path`` or ``module:factory``).
    temperatures_k
        MD temperatures, K: teacher sampling, validation and student exploration.
    min_atoms
        Cells given with fewer atoms are repeated (:func:`ionraman.structures.make_supercell`)
        until they have at least this many.
    timestep_fs
        MD time step, fs.
    teacher_equilibration_ps, teacher_ps
        Teacher MD per system and temperature for the initial data, ps (0: no teacher MD, e.g.
        when ``seed_trajectories`` provide the frames).
    sample_every_fs
        Interval between training frames taken from teacher MD, fs.
    seed_every_fs
        Interval between frames taken from ``seed_trajectories``, fs.
    validation_ps, validation_every_fs
        Fresh teacher MD (another seed) per system and temperature for validation, ps, and its
        frame interval, fs.
    n_rattle, rattle_A, strains
        Extra initial frames per system: ``n_rattle`` copies with Gaussian displacements of
        ``rattle_A`` (Å), and one isotropically strained copy per entry of ``strains``.
    explore_ps, explore_every_fs
        Student MD per system and temperature in every active-learning iteration, ps, and the
        interval of its candidate frames, fs.
    max_new_per_iteration
        Frames labelled per iteration at most.
    max_iterations
        Iterations (trainings) at most.
    force_rmse_target_meV_A
        Stop when the student's force RMSE on the validation frames at the highest temperature is
        below this (meV/Å), its MD in the last exploration did not fail, and (for Sb compounds) the
        fraction of its MD frames with every SbS4 tetrahedron intact is no more than
        ``stability_tolerance`` below the teacher's in the validation MD at the same temperature.
        It must also hold on ``check_frames`` frames per system taken from the student's own MD at
        the highest temperature and labelled by the teacher (a student can be accurate on
        teacher-like frames and still drift into configurations the teacher would never visit),
        and the fraction of the student's frames with S–S bonds (< 2.6 Å) may not exceed the
        teacher's by more than ``bond_tolerance``.
    stability_tolerance, bond_tolerance
        See ``force_rmse_target_meV_A``.
    check_frames
        Student frames per system labelled for the check above.
    hyper
        :class:`~ionraman.forcefields.nep.NEPHyperparameters` of the first training.
    finetune_epochs
        Epochs of every later training (fine-tuning from the previous student).
    seed
        Seed of teacher MD, rattles and training; validation MD uses ``seed + 1000``.
    threads
        torch CPU threads for teacher and training.
    """

    teacher: str = DEFAULT_FORCE_FIELD
    temperatures_k: tuple[float, ...] = (500.0, 700.0, 900.0)
    min_atoms: int = 100
    timestep_fs: float = 2.0
    teacher_equilibration_ps: float = 0.2
    teacher_ps: float = 1.0
    sample_every_fs: float = 40.0
    seed_every_fs: float = 100.0
    validation_ps: float = 0.4
    validation_every_fs: float = 40.0
    n_rattle: int = 6
    rattle_A: float = 0.05
    strains: tuple[float, ...] = (-0.02, 0.02)
    explore_ps: float = 5.0
    explore_every_fs: float = 20.0
    max_new_per_iteration: int = 40
    max_iterations: int = 4
    force_rmse_target_meV_A: float = 80.0
    stability_tolerance: float = 0.1
    bond_tolerance: float = 0.0
    check_frames: int = 4
    hyper: NEPHyperparameters = field(default_factory=NEPHyperparameters)
    finetune_epochs: int = 80
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if not self.temperatures_k:
            raise InputError("temperatures_k: give at least one temperature")
        temps = tuple(check_temperature(t, "temperatures_k") for t in self.temperatures_k)
        object.__setattr__(self, "temperatures_k", tuple(sorted(set(temps))))
        object.__setattr__(self, "strains", tuple(float(s) for s in self.strains))
        for name in ("teacher_ps", "teacher_equilibration_ps", "validation_ps", "explore_ps"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise InputError(f"{name} must be ≥ 0 ps, got {v!r}")
        if not self.seed_every_fs > 0:
            raise InputError(f"seed_every_fs must be positive, got {self.seed_every_fs!r}")
        for name in ("sample_every_fs", "validation_every_fs", "explore_every_fs"):
            v = getattr(self, name)
            ratio = v / self.timestep_fs
            if not ratio >= 1 or abs(ratio - round(ratio)) > 1e-9:
                raise InputError(
                    f"{name} = {v} fs must be a positive multiple of timestep_fs = "
                    f"{self.timestep_fs} fs"
                )
        if self.validation_ps <= 0:
            raise InputError("validation_ps must be > 0: the stopping rule needs fresh frames")
        if self.max_iterations < 1 or self.max_new_per_iteration < 1:
            raise InputError("max_iterations and max_new_per_iteration must be ≥ 1")
        if not self.force_rmse_target_meV_A > 0:
            raise InputError("force_rmse_target_meV_A must be positive")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hyper"] = self.hyper.as_dict()
        return d

    def data_fingerprint(self) -> dict[str, Any]:
        """The settings that determine the data and models made so far; the stopping rule
        (targets, tolerances, iteration limit) may change when a run is resumed."""
        d = self.as_dict()
        for key in STOPPING_RULE_FIELDS:
            d.pop(key, None)
        return d


@dataclass
class DistillResult:
    """Outcome of :func:`distill`.

    Attributes
    ----------
    student
        The final ``nep.txt``.
    converged
        Whether the stopping rule was met (otherwise ``max_iterations`` ran out).
    iterations
        Metrics of every iteration (``iter``, ``n_train``, ``force_rmse_meV_A`` …).
    workdir
        The work directory.
    """

    student: Path
    converged: bool
    iterations: list[dict[str, Any]]
    workdir: Path


# ---------------------------------------------------------------------------- helpers


def label_frames(
    frames: Sequence[Atoms],
    out: str | os.PathLike[str],
    teacher: LoadedForceField | Callable[[], LoadedForceField],
    *,
    chunk: int = 10,
    log: TextIO | None = None,
) -> list[Atoms]:
    """Teacher single points (energy eV, forces eV/Å, stress eV/Å³) of ``frames``, resumable.

    Frames already in ``out`` (same count prefix, same positions) are kept; the rest are labelled
    and ``out`` is rewritten atomically every ``chunk`` frames, so a crash loses at most one chunk.

    Parameters
    ----------
    frames
        Structures to label, in order.
    out
        Labelled extxyz file.
    teacher
        A loaded force field or a zero-argument function returning one (loaded only if a frame
        needs labelling).

    Returns
    -------
    list of ase.Atoms
        The labelled frames (``SinglePointCalculator`` results), in input order.
    """
    out = Path(out)
    done: list[Atoms] = read(out, index=":") if out.exists() and out.stat().st_size else []
    if len(done) > len(frames) or any(
        len(a) != len(b) or not np.allclose(a.positions, b.positions, atol=1e-5)
        for a, b in zip(done, frames, strict=False)
    ):
        raise InputError(
            f"{out} holds labels of other structures than the ones requested; delete it to redo"
        )
    if len(done) == len(frames):
        return done
    loaded = teacher() if callable(teacher) else teacher
    calc = loaded.calculator
    t0, start = time.perf_counter(), len(done)
    for i in range(len(done), len(frames)):
        a = frames[i].copy()
        a.calc = calc
        energy = a.get_potential_energy()
        forces = a.get_forces()
        stress = a.get_stress(voigt=False)
        b = frames[i].copy()
        b.info = dict(frames[i].info)
        b.calc = SinglePointCalculator(b, energy=energy, forces=forces, stress=stress)
        done.append(b)
        if (i + 1) % chunk == 0 or i + 1 == len(frames):
            with atomic_path(out) as tmp:
                write(tmp, done, format="extxyz")
            if log:
                rate = (time.perf_counter() - t0) / (i + 1 - start)
                print(f"  labelled {i + 1}/{len(frames)} ({rate:.2f} s/frame) → {out}", file=log,
                      flush=True)
    return done


def _trajectory_force_field(path: Path) -> str | None:
    from ionraman.trajectory import Trajectory

    with Trajectory(path) as traj:
        ff = traj.metadata.get("force_field")
    return ff.get("name") if isinstance(ff, dict) else ff


def _errors(pred: Sequence[Atoms], ref: Sequence[Atoms]) -> dict[str, float]:
    """Energy (meV/atom) and force (meV/Å) RMSE and MAE of ``pred`` against ``ref``."""
    de = np.array([(p.get_potential_energy() - r.get_potential_energy()) / len(r)
                   for p, r in zip(pred, ref, strict=True)])
    df = np.concatenate([(p.get_forces() - r.get_forces()).ravel()
                         for p, r in zip(pred, ref, strict=True)])
    fr = np.concatenate([r.get_forces().ravel() for r in ref])
    return {
        "n_frames": len(ref),
        "energy_rmse_meV_atom": 1e3 * float(np.sqrt(np.mean(de**2))),
        # the mean energy offset is irrelevant to MD; report the error without it too
        "energy_rmse_centred_meV_atom": 1e3 * float(np.std(de)),
        "force_rmse_meV_A": 1e3 * float(np.sqrt(np.mean(df**2))),
        "force_mae_meV_A": 1e3 * float(np.mean(np.abs(df))),
        "force_rms_teacher_meV_A": 1e3 * float(np.sqrt(np.mean(fr**2))),
    }


def student_errors(
    model: str | os.PathLike[str] | BaseCalculator, frames: Sequence[Atoms]
) -> dict[str, float]:
    """Errors (see :func:`_errors`) of a model on labelled frames.

    ``model`` is a NEP ``nep.txt`` path or any ASE calculator.
    """
    from ionraman.forcefields.nep import nep_calculator

    calc = model if isinstance(model, BaseCalculator) else nep_calculator(model)
    pred = []
    for r in frames:
        a = r.copy()
        a.calc = calc
        e, f = a.get_potential_energy(), a.get_forces()
        a.calc = SinglePointCalculator(a, energy=e, forces=f)
        pred.append(a)
    return _errors(pred, frames)


# ---------------------------------------------------------------------------- the loop


class _Distiller:
    def __init__(
        self,
        systems: dict[str, Atoms],
        workdir: Path,
        settings: DistillSettings,
        seed_trajectories: Sequence[Path],
        log: TextIO,
        seed_labelled: Sequence[Atoms] = (),
    ) -> None:
        self.systems = systems
        self.workdir = workdir
        self.s = settings
        self.seed_trajectories = list(seed_trajectories)
        self.seed_labelled = list(seed_labelled)
        self.log = log
        symbols = {sym for a in systems.values() for sym in a.get_chemical_symbols()}
        self.elements = element_order(sorted(symbols))
        self._teacher: LoadedForceField | None = None

    # -- teacher and MD
    def teacher(self) -> LoadedForceField:
        if self._teacher is None:
            self.say(f"loading teacher {self.s.teacher}")
            self._teacher = load_force_field(self.s.teacher, threads=self.s.threads)
            # kept for a resumed run that never loads the teacher (finish() records it)
            write_json_atomic(self.workdir / "teacher.json", self._teacher.provenance())
        return self._teacher

    def say(self, text: str) -> None:
        print(f"[distill {time.strftime('%H:%M:%S')}] {text}", file=self.log, flush=True)

    def run_md(self, name: str, temp: float, out: Path, *, force_field: str | LoadedForceField,
               equilibration_ps: float, time_ps: float, every_fs: float, seed: int) -> Path:
        from ionraman.md import run_md

        out.parent.mkdir(parents=True, exist_ok=True)
        return run_md(
            self.systems[name], temperature_k=temp, time_ps=time_ps, force_field=force_field,
            timestep_fs=self.s.timestep_fs, sample_every_fs=every_fs,
            equilibration_ps=equilibration_ps, seed=seed, out=out, quiet=True,
            checkpoint_every_steps=100, threads=self.s.threads,
        )

    def teacher_frames(self, kind: str, time_ps: float, every_fs: float, seed: int) -> list[Atoms]:
        frames: list[Atoms] = []
        if time_ps <= 0:
            return frames
        for name in self.systems:
            for temp in self.s.temperatures_k:
                out = self.workdir / "md" / kind / f"{name}_{temp:g}K.h5"
                if not _done_store(out):
                    self.say(f"teacher MD ({kind}) {name} {temp:g} K {time_ps:g} ps → {out}")
                path = self.run_md(name, temp, out, force_field=self.teacher_or_name(out),
                                   equilibration_ps=self.s.teacher_equilibration_ps,
                                   time_ps=time_ps, every_fs=every_fs, seed=seed)
                for f in trajectory_frames(path, every_fs):
                    f.info.update(system=name, temperature_k=temp, kind=kind)
                    frames.append(f)
        return frames

    def teacher_or_name(self, out: Path) -> str | LoadedForceField:
        # a finished store needs no force field; avoid loading the teacher for nothing
        return self.s.teacher if _done_store(out) else self.teacher()

    def static_frames(self) -> list[Atoms]:
        rng = np.random.default_rng(self.s.seed)
        frames: list[Atoms] = []
        for name, atoms in self.systems.items():
            for k in range(self.s.n_rattle):
                a = atoms.copy()
                a.positions += rng.normal(0.0, self.s.rattle_A, a.positions.shape)
                a.info = {"system": name, "kind": "rattle", "rattle_A": self.s.rattle_A, "k": k}
                frames.append(a)
            for eps in self.s.strains:
                a = atoms.copy()
                a.set_cell(a.cell * (1.0 + eps), scale_atoms=True)
                a.positions += rng.normal(0.0, self.s.rattle_A, a.positions.shape)
                a.info = {"system": name, "kind": "strain", "strain": eps}
                frames.append(a)
        return frames

    def seed_frames(self) -> list[Atoms]:
        frames: list[Atoms] = []
        for path in self.seed_trajectories:
            ff = _trajectory_force_field(path)
            if ff is not None and ff != self.s.teacher:
                raise InputError(
                    f"{path}: made with force field {ff!r}, not the teacher {self.s.teacher!r}"
                )
            got = trajectory_frames(path, self.s.seed_every_fs)
            for f in got:
                f.info.update(kind="seed-trajectory")
            frames += got
        return frames

    # -- the loop
    def run(self) -> DistillResult:
        s = self.s
        data = self.workdir / "data"
        seeds = self.seed_frames()  # read and checked before any teacher MD
        initial_frames = (
            self.teacher_frames("teacher", s.teacher_ps, s.sample_every_fs, s.seed)
            + seeds
            + self.static_frames()
        )
        validation_frames = self.teacher_frames(
            "validation", s.validation_ps, s.validation_every_fs, s.seed + 1000
        )
        self.say(f"labelling {len(initial_frames)} initial and {len(validation_frames)} "
                 "validation frames with the teacher")
        initial = label_frames(initial_frames, data / "initial.extxyz", self.teacher, log=self.log)
        initial = initial + self.seed_labelled
        validation = label_frames(
            validation_frames, data / "validation.extxyz", self.teacher, log=self.log
        )
        t_top = max(s.temperatures_k)
        top = [a for a in validation if a.info.get("temperature_k") == t_top]

        train = list(initial)
        iterations: list[dict[str, Any]] = []
        previous: Path | None = None
        converged = False
        for it in range(s.max_iterations):
            idir = self.workdir / f"iter_{it:03d}"
            train_file = idir / "train.extxyz"
            if not train_file.exists():
                with atomic_path(train_file) as tmp:
                    write(tmp, train, format="extxyz")
            hyper = s.hyper if previous is None else replace(s.hyper, epochs=s.finetune_epochs,
                                                            stage2_epochs=0)
            self.say(f"iteration {it}: training on {len(train)} frames ({hyper.epochs} epochs)")
            t0 = time.perf_counter()
            nep = train_nep(train_file, idir / "nep", self.elements, hyper, seed=s.seed + it,
                            finetune_from=previous, threads=s.threads)
            metrics_file = idir / "metrics.json"
            if metrics_file.exists():
                metrics = json.loads(metrics_file.read_text())
            else:
                metrics = {
                    "iter": it, "n_train": len(train), "train_seconds": time.perf_counter() - t0,
                    "validation_all": student_errors(nep, validation),
                    "validation_top_T": student_errors(nep, top),
                    "validation_by_T": {
                        f"{t:g}": student_errors(
                            nep, [a for a in validation if a.info.get("temperature_k") == t]
                        )
                        for t in s.temperatures_k
                    },
                }
                metrics.update(self.explore(nep, idir))
                write_json_atomic(metrics_file, metrics)
            metrics.update(self.checks(nep, idir))
            iterations.append(metrics)
            rmse = metrics["validation_top_T"]["force_rmse_meV_A"]
            rmse_own = metrics["student_frames_top_T"]["force_rmse_meV_A"]
            self.say(
                f"iteration {it}: force RMSE {rmse:.1f} meV/Å on teacher frames and "
                f"{rmse_own:.1f} meV/Å on the student's own frames at {t_top:g} K (target "
                f"{s.force_rmse_target_meV_A:g}), student MD failures "
                f"{metrics['explore_failures']}"
            )
            previous = nep
            problems = self.framework_problems(metrics)
            if problems:
                self.say(f"iteration {it}: framework worse than the teacher's: {problems}")
            if (max(rmse, rmse_own) < s.force_rmse_target_meV_A
                    and not metrics["explore_failures"] and not problems):
                converged = True
                break
            if it + 1 == s.max_iterations:
                break
            new = self.select_and_label(nep, idir, train_file)
            if not new:
                self.say("no frame of the student MD extends the training set; stopping")
                break
            train += new
        chosen = len(iterations) - 1
        if not converged:  # keep the best student, not merely the last one
            chosen = min(range(len(iterations)), key=lambda k: (
                len(self.framework_problems(iterations[k])),
                max(iterations[k]["validation_top_T"]["force_rmse_meV_A"],
                    iterations[k]["student_frames_top_T"]["force_rmse_meV_A"])))
            self.say(f"not converged; keeping the student of iteration {chosen}")
        nep_chosen = self.workdir / f"iter_{chosen:03d}" / "nep" / "nep_best.txt"
        n_train = iterations[chosen]["n_train"]
        student = self.finish(nep_chosen, iterations, converged, n_train, chosen)
        return DistillResult(student, converged, iterations, self.workdir)

    def framework(self, kind: str, iteration_dir: Path | None = None) -> dict[str, dict]:
        """Per system and T: fraction of frames with every SbS4 intact and with no S–S bond,
        for the teacher's validation MD (``kind="teacher"``) or a student exploration."""
        from ionraman.md.sanity import framework_summary

        out: dict[str, dict] = {}
        for name in self.systems:
            for temp in self.s.temperatures_k:
                path = (self.workdir / "md" / "validation" if kind == "teacher"
                        else iteration_dir / "explore") / f"{name}_{temp:g}K.h5"
                summary = framework_summary(path) if path.exists() else None
                if summary is not None:
                    out[f"{name} {temp:g} K"] = {
                        k: summary[k] for k in ("all_SbS4_intact", "no_S_S_bond")
                    }
        return out

    def checks(self, nep: Path, idir: Path) -> dict[str, Any]:
        """Stopping-rule checks of an iteration (cached in ``checks.json``)."""
        cfile = idir / "checks.json"
        if cfile.exists():
            cached = json.loads(cfile.read_text())
            if cached.get("check_frames") == self.s.check_frames:
                return cached["checks"]
        t_top = max(self.s.temperatures_k)
        frames: list[Atoms] = []
        for name in self.systems:
            path = idir / "explore" / f"{name}_{t_top:g}K.h5"
            if not path.exists():
                continue
            got = trajectory_frames(path, self.s.explore_every_fs)
            picks = np.linspace(len(got) // 2, len(got) - 1, self.s.check_frames).round()
            for k in np.unique(picks.astype(int)):
                got[k].info.update(system=name, temperature_k=t_top, kind="student-check")
                frames.append(got[k])
        labelled = label_frames(frames, idir / "student_frames_labelled.extxyz", self.teacher,
                                log=self.log)
        checks = {
            "student_frames_top_T": student_errors(nep, labelled),
            "framework_student": self.framework("student", idir),
            "framework_teacher": self.framework("teacher"),
        }
        write_json_atomic(cfile, {"check_frames": self.s.check_frames, "checks": checks})
        return checks

    def framework_problems(self, metrics: dict[str, Any]) -> list[str]:
        """Systems/temperatures where the student's framework is less intact than the teacher's."""
        s = self.s
        problems = []
        for key, st in metrics["framework_student"].items():
            te = metrics["framework_teacher"].get(key)
            if te is None:
                continue
            if st["all_SbS4_intact"] < te["all_SbS4_intact"] - s.stability_tolerance:
                problems.append(f"{key}: SbS4 intact {st['all_SbS4_intact']:.2f} vs "
                                f"{te['all_SbS4_intact']:.2f}")
            if st["no_S_S_bond"] < te["no_S_S_bond"] - s.bond_tolerance:
                problems.append(f"{key}: frames without S–S bonds {st['no_S_S_bond']:.2f} vs "
                                f"{te['no_S_S_bond']:.2f}")
        return problems

    def explore(self, nep: Path, idir: Path) -> dict[str, Any]:
        """Student MD at every temperature; candidate frames → ``candidates.extxyz``."""
        s = self.s
        candidates, failures = explore(
            nep, self.systems, s.temperatures_k, idir / "explore", time_ps=s.explore_ps,
            every_fs=s.explore_every_fs, timestep_fs=s.timestep_fs, seed=s.seed + 2000,
            threads=s.threads,
        )
        with atomic_path(idir / "candidates.extxyz") as tmp:
            write(tmp, candidates, format="extxyz")
        return {"explore_failures": failures, "explore_frames": len(candidates)}

    def select_and_label(self, nep: Path, idir: Path, train_file: Path) -> list[Atoms]:
        candidates = read(idir / "candidates.extxyz", index=":")
        frames, _ = select_by_grade(nep, train_file, candidates, idir / "selected.extxyz",
                                    self.s.max_new_per_iteration)
        for f in frames:
            f.calc = None
        self.say(f"selected {len(frames)} new frames; labelling with the teacher")
        labelled = idir / "selected_labelled.extxyz"
        return label_frames(frames, labelled, self.teacher, log=self.log) if frames else []

    def finish(self, nep: Path, iterations: list[dict[str, Any]], converged: bool,
               n_train: int, chosen: int) -> Path:
        out = self.workdir / "student"
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "nep.txt") as tmp:
            shutil.copyfile(nep, tmp)
        teacher_prov: dict[str, Any] = {"name": self.s.teacher}
        if self._teacher is not None:
            teacher_prov = self._teacher.provenance()
        elif (self.workdir / "teacher.json").exists():
            teacher_prov = json.loads((self.workdir / "teacher.json").read_text())
        meta = {
            "format": "ionraman-nep-student/1",
            "elements": list(nep_elements(out / "nep.txt")),
            "systems": sorted(self.systems),
            "system_formulas": {k: v.get_chemical_formula() for k, v in self.systems.items()},
            "teacher": teacher_prov,
            "settings": self.s.as_dict(),
            "seed_trajectories": [str(p) for p in self.seed_trajectories],
            "seed_labelled": json.loads((self.workdir / "settings.json").read_text()).get(
                "seed_labelled", []
            ),
            "n_train_frames": n_train,
            "converged": converged,
            "chosen_iteration": chosen,
            "iterations": iterations,
            "nep_sha256": file_sha256(out / "nep.txt"),
            "packages": package_versions(("torchnep", "calorine")),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_json_atomic(out / STUDENT_META, meta)
        self.say(f"student: {out / 'nep.txt'} (converged: {converged})")
        return out / "nep.txt"


def _done_store(out: Path) -> bool:
    """True when ``out`` is a trajectory store of a completed MD run."""
    from ionraman.trajectory import Trajectory

    if not out.exists():
        return False
    try:
        with Trajectory(out) as traj:
            return traj.metadata.get("status") == "complete"
    except Exception:
        return False


def distill(
    structures: Sequence[Atoms | str | os.PathLike[str]],
    workdir: str | os.PathLike[str],
    settings: DistillSettings | None = None,
    *,
    seed_trajectories: Sequence[str | os.PathLike[str]] = (),
    seed_labelled: Sequence[str | os.PathLike[str]] = (),
    log: TextIO | None = None,
) -> DistillResult:
    """Distil the teacher into a NEP student for ``structures`` (see the module docstring).

    Parameters
    ----------
    structures
        ``ase.Atoms``, built-in names or structure files; each becomes one system, repeated to at
        least ``settings.min_atoms`` atoms.
    workdir
        Work directory (created; an existing one is resumed, with the same settings only).
    settings
        :class:`DistillSettings` (defaults if ``None``).
    seed_trajectories
        Existing trajectory stores made with the teacher whose frames join the initial data.
    seed_labelled
        Extended XYZ files of frames labelled by the teacher (energy, forces; stress optional),
        e.g. ``iter_NNN/train.extxyz`` of an earlier distillation: they join the initial data
        without new teacher calls. Recorded by SHA-256 in ``settings.json``.
    log
        Stream for progress lines (default stderr).

    Returns
    -------
    DistillResult
    """
    from ionraman.structures import load_structure, make_supercell

    settings = settings or DistillSettings()
    log = log or sys.stderr
    if not structures:
        raise InputError("distill: give at least one structure")
    workdir = check_output_dir(workdir, "work directory (--out)")
    systems: dict[str, Atoms] = {}
    for s in structures:
        atoms = s.copy() if isinstance(s, Atoms) else load_structure(s)
        name = (
            str(atoms.info.get("name") or atoms.get_chemical_formula())
            if isinstance(s, Atoms) else Path(os.fspath(s)).stem if Path(os.fspath(s)).exists()
            else os.fspath(s)
        )
        name = name.replace(":", "_").replace("/", "_")
        if name in systems:
            raise InputError(f"distill: structure {name!r} given twice")
        info = dict(atoms.info)
        if len(atoms) < settings.min_atoms:
            atoms = make_supercell(atoms, min_atoms=settings.min_atoms)
            atoms.info = info
        systems[name] = atoms
    elements = {s for atoms in systems.values() for s in atoms.get_chemical_symbols()}
    try:
        check_force_field(settings.teacher, elements)
    except InputError as exc:
        raise InputError(f"teacher: {exc}") from None
    seeds = [Path(p) for p in seed_trajectories]
    for p in seeds:
        if not p.is_file():
            raise InputError(f"{p}: seed trajectory not found")
    labelled: list[Atoms] = []
    labelled_record = []
    for p in map(Path, seed_labelled):
        labelled += _read_labelled(p)
        labelled_record.append({"path": str(p), "sha256": file_sha256(p)})
    workdir.mkdir(parents=True, exist_ok=True)
    record = {
        "settings": settings.data_fingerprint(),
        "systems": {k: {"formula": v.get_chemical_formula(), "n_atoms": len(v),
                        "cell": v.cell.array.round(6).tolist()} for k, v in systems.items()},
        "seed_trajectories": [str(p) for p in seeds],
    }
    if labelled_record:  # (absent in records of runs made before the option existed)
        record["seed_labelled"] = labelled_record
    record = json.loads(json.dumps(record))
    sfile = workdir / "settings.json"
    if sfile.exists():
        old = json.loads(sfile.read_text())
        for key in STOPPING_RULE_FIELDS:  # also in records written before they were excluded
            old.get("settings", {}).pop(key, None)
        if old != record:
            raise InputError(
                f"{workdir} was started with other settings or structures ({sfile}); use "
                "another work directory or the same settings"
            )
    else:
        write_json_atomic(sfile, record)
    return _Distiller(systems, workdir, settings, seeds, log, labelled).run()


def _read_labelled(path: Path) -> list[Atoms]:
    """Teacher-labelled frames of an extxyz file; InputError naming the file and frame when one
    lacks energy or forces."""
    if not path.is_file():
        raise InputError(f"{path}: labelled seed frames not found")
    try:
        frames = read(path, index=":")
    except Exception as exc:  # ase raises many types for a malformed file
        raise InputError(f"{path}: not a readable extxyz file ({exc})") from None
    for k, a in enumerate(frames):
        results = a.calc.results if a.calc is not None else {}
        if "energy" not in results or "forces" not in results:
            raise InputError(f"{path}: frame {k} has no energy and forces (teacher labels)")
        a.info.setdefault("kind", "seed-labelled")
    if not frames:
        raise InputError(f"{path}: no frames")
    return frames
