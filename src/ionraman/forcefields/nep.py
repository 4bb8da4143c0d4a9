"""NEP student force fields: training (torchnep), MD (calorine), registry of shipped students.

A neuroevolution potential (NEP4; Fan et al., Phys. Rev. B 104, 104309 (2021)) is stored as one
``nep.txt`` text file, the format GPUMD reads, so a student trained here runs unchanged in GPUMD
on a GPU. Here it is

* **trained** in PyTorch on the CPU by ``torchnep`` (optional extra ``ionraman[distill]``;
  torchnep is GPL-3.0-or-later and is only imported when a student is trained, never by the
  MIT-licensed core or at MD time);
* **evaluated** by calorine's ``CPUNEP`` ASE calculator (optional extra ``ionraman[nep]``).

Students shipped with the package live in ``ionraman/data/forcefields/<name>/`` as ``nep.txt`` +
``student.json`` (elements, teacher, training data, validation figures) and are registered as
force fields named ``<name>`` at import of the registry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ase.calculators.calculator import BaseCalculator

from ionraman.errors import InputError

STUDENT_META = "student.json"
"""Metadata file next to a student's ``nep.txt``."""

NEP_ELEMENT_ORDER = ("Na", "Ag", "Li", "K", "Sb", "P", "W", "Ge", "Sn", "Si", "S", "Se", "I", "O")
"""Preferred element order of a student's ``type`` line (others follow alphabetically)."""


def _require_calorine() -> None:
    try:
        import calorine  # noqa: F401
    except ImportError as exc:
        raise InputError(
            "NEP force fields need calorine: pip install 'ionraman[nep]' (or calorine)"
        ) from exc


def nep_elements(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Chemical symbols a ``nep.txt`` covers, from its first line (``nep4 N El1 El2 ...``).

    Raises
    ------
    InputError
        The file is missing or its first line is not a NEP header.
    """
    path = Path(path)
    try:
        with path.open() as fh:
            head = fh.readline().split()
    except OSError as exc:
        raise InputError(f"{path}: cannot read NEP model ({exc.strerror})") from None
    if len(head) < 3 or not head[0].startswith("nep") or not head[1].isdigit():
        raise InputError(f"{path}: not a NEP model file (first line {' '.join(head)!r})")
    n = int(head[1])
    if len(head) != n + 2:
        raise InputError(f"{path}: NEP header says {n} elements but lists {head[2:]}")
    return tuple(head[2:])


def element_order(symbols: Sequence[str]) -> list[str]:
    """Student element order: :data:`NEP_ELEMENT_ORDER` first, then the rest alphabetically."""
    present = set(symbols)
    first = [e for e in NEP_ELEMENT_ORDER if e in present]
    return first + sorted(present - set(first))


def nep_calculator(weights: str | os.PathLike[str], **_: Any) -> BaseCalculator:
    """calorine ``CPUNEP`` calculator for a ``nep.txt`` file (energies eV, forces eV/Å,
    stress eV/Å³). One thread; extra keyword arguments (``device``) are ignored."""
    _require_calorine()
    from calorine.calculators import CPUNEP

    path = Path(weights)
    nep_elements(path)  # clear error before calorine's
    return CPUNEP(str(path))


@dataclass(frozen=True)
class NEPHyperparameters:
    """NEP architecture and training schedule (torchnep ``nep.in`` keywords).

    Attributes
    ----------
    cutoff_radial_A, cutoff_angular_A
        Radial and angular descriptor cutoffs, Å.
    n_max_radial, n_max_angular, basis_size_radial, basis_size_angular
        Radial-function counts and Chebyshev basis sizes.
    l_max
        Angular orders ``(l3, l4, l5)`` (NEP4: three-body up to l3, four- and five-body terms).
    neuron
        Hidden neurons of the per-element network.
    epochs, batch, lr
        Training schedule (Adam; torchnep's plateau scheduler and two-stage training).
    lambda_e, lambda_f, lambda_v
        Loss weights of energy, forces and virial in the force-focused first stage.
    stage2_epochs
        Epochs of the energy-focused second stage (0: none).
    zbl_outer_A
        Outer cutoff (Å) of a universal ZBL repulsion added below the learned energy (torchnep and
        GPUMD ``zbl`` keyword; the inner cutoff is half of it), or ``None``. It keeps atoms from
        collapsing onto each other where the training data have no close contacts.
    """

    cutoff_radial_A: float = 6.0
    cutoff_angular_A: float = 4.5
    n_max_radial: int = 6
    n_max_angular: int = 4
    basis_size_radial: int = 8
    basis_size_angular: int = 8
    l_max: tuple[int, int, int] = (4, 2, 0)
    neuron: int = 30
    epochs: int = 150
    batch: int = 16
    lr: float = 0.01
    lambda_e: float = 0.1
    lambda_f: float = 1.0
    lambda_v: float = 0.1
    stage2_epochs: int = 0
    zbl_outer_A: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.cutoff_angular_A <= self.cutoff_radial_A:
            raise InputError(
                f"NEP cutoffs: need 0 < angular ({self.cutoff_angular_A}) ≤ radial "
                f"({self.cutoff_radial_A}) Å"
            )
        if self.zbl_outer_A is not None and not 1.0 <= self.zbl_outer_A <= 3.0:
            raise InputError(f"NEP zbl_outer_A must lie in [1, 3] Å, got {self.zbl_outer_A}")
        for name in ("neuron", "epochs", "batch", "n_max_radial", "n_max_angular"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"NEP {name} must be ≥ 1, got {getattr(self, name)!r}")

    def nep_in(self, elements: Sequence[str]) -> str:
        """Text of torchnep's ``nep.in`` for these elements."""
        lines = [
            f"type {len(elements)} {' '.join(elements)}",
            "version 4",
            *([f"zbl {self.zbl_outer_A:g}"] if self.zbl_outer_A is not None else []),
            f"cutoff {self.cutoff_radial_A:g} {self.cutoff_angular_A:g}",
            f"n_max {self.n_max_radial} {self.n_max_angular}",
            f"basis_size {self.basis_size_radial} {self.basis_size_angular}",
            f"l_max {' '.join(str(v) for v in self.l_max)}",
            f"neuron {self.neuron}",
            f"lambda_e {self.lambda_e:g}",
            f"lambda_f {self.lambda_f:g}",
            f"lambda_v {self.lambda_v:g}",
            f"batch {self.batch}",
            f"epoch {self.epochs + self.stage2_epochs}",
            f"lr {self.lr:g}",
        ]
        if self.stage2_epochs > 0:
            lines += ["stage2 1", f"start_stage2 {self.epochs + 1}"]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_nep(
    train_xyz: str | os.PathLike[str],
    workdir: str | os.PathLike[str],
    elements: Sequence[str],
    hyper: NEPHyperparameters,
    *,
    valid_xyz: str | os.PathLike[str] | None = None,
    finetune_from: str | os.PathLike[str] | None = None,
    seed: int = 0,
    threads: int | None = None,
    quiet: bool = True,
) -> Path:
    """Train a NEP on labelled extxyz frames with torchnep; resumable.

    Parameters
    ----------
    train_xyz
        Extended XYZ with ``energy`` (eV), per-atom ``forces`` (eV/Å) and ``stress`` (eV/Å³, 9
        components, ASE sign) per frame.
    workdir
        Output directory. A finished training (``nep_best.txt`` present) returns at once; an
        interrupted one continues from torchnep's ``checkpoint.pt``.
    elements
        Element order of the model (the ``type`` line).
    hyper
        :class:`NEPHyperparameters`.
    valid_xyz
        Optional validation frames (selects ``nep_best.txt`` by validation loss).
    finetune_from
        Start from these weights (a previous ``nep.txt``) instead of random ones.
    seed
        Training seed.
    threads
        torch CPU threads during training (``None``: leave as is).
    quiet
        Silence torchnep's per-epoch log on stdout (it always goes to ``output.log``).

    Returns
    -------
    pathlib.Path
        ``workdir/nep_best.txt``.
    """
    try:
        import torchnep
    except ImportError as exc:
        raise InputError(
            "training a NEP student needs torchnep (GPL-3.0): pip install 'ionraman[distill]'"
        ) from exc
    import contextlib
    import io

    import torch

    workdir = Path(workdir)
    best = workdir / "nep_best.txt"
    if best.exists() and (workdir / "done").exists():
        return best
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "nep.in"
    config.write_text(hyper.nep_in(elements))
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    sink = io.StringIO() if quiet else None
    try:
        with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
            torchnep.train_nep(
                str(config),
                str(train_xyz),
                output_dir=str(workdir),
                device="cpu",
                valid_file=str(valid_xyz) if valid_xyz else None,
                finetune_from=(
                    str(finetune_from)
                    if finetune_from and not (workdir / "checkpoint.pt").exists()
                    else None
                ),
                run_seed=seed,
                print_interval=10,
                prediction_interval=0,
                checkpoint_interval=10,
            )
    finally:
        torch.set_num_threads(old_threads)
    if not best.exists():
        raise RuntimeError(f"torchnep finished without {best}; see {workdir / 'output.log'}")
    (workdir / "done").write_text("")
    return best


# ------------------------------------------------------------------ shipped students


def shipped_students() -> dict[str, Path]:
    """Name → directory of every student shipped in ``ionraman/data/forcefields``."""
    root = resources.files("ionraman") / "data" / "forcefields"
    out: dict[str, Path] = {}
    try:
        entries = list(root.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return out
    for entry in entries:
        path = Path(str(entry))
        if (path / "nep.txt").is_file() and (path / STUDENT_META).is_file():
            out[path.name] = path
    return dict(sorted(out.items()))


def read_student_meta(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``student.json`` of a student directory."""
    path = Path(directory) / STUDENT_META
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read student metadata ({exc})") from None
