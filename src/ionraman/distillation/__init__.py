"""Distillation and onboarding loops: fast NEP students from a teacher, with active learning.

These loops drive MD (:mod:`ionraman.md`) with force fields (:mod:`ionraman.forcefields`), so they
sit above both, next to :mod:`ionraman.workflow`:

* :mod:`~ionraman.distillation.loop` — the whole resumable loop: teacher MD, labelling,
  training, student MD, MaxVol selection (``ionraman forcefield distill``);
* :mod:`~ionraman.distillation.exploration` — one active-learning round on a student: its own MD,
  then the frames it extrapolates on (``ionraman forcefield explore``);
* :mod:`~ionraman.distillation.validation` — a student's trajectory against its teacher's:
  RDF, VDOS, MSD and D, with figures.

>>> from ionraman.distillation import DistillSettings, distill
>>> result = distill(["t-Na3SbS4"], "distill/", DistillSettings())   # doctest: +SKIP
"""

from ionraman.distillation.exploration import explore, select_by_grade, trajectory_frames
from ionraman.distillation.loop import (
    DistillResult,
    DistillSettings,
    distill,
    label_frames,
    student_errors,
)
from ionraman.distillation.validation import compare_student_teacher, partial_rdf, vdos

__all__ = [
    "DistillResult",
    "DistillSettings",
    "compare_student_teacher",
    "distill",
    "explore",
    "label_frames",
    "partial_rdf",
    "select_by_grade",
    "student_errors",
    "trajectory_frames",
    "vdos",
]
