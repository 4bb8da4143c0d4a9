"""Resumable labelling of structures with reference polarizabilities (Quantum ESPRESSO DFPT).

Layout of ``workdir``::

    workdir/
      <key>/               one directory per structure; key = hash of structure + physical settings
        structure.extxyz   the input structure
        pw.in pw.out ph.in ph.out
        result.json        written atomically when the run ends (status "ok" or "failed")
        .lock              while a process works on it (pid, host)
      summary.json         counts and failures of the last call

A structure with a ``result.json`` is never recomputed (failed ones only with ``retry_failed``).
A run that was interrupted (no ``result.json``) is continued on the next call: a finished pw.x is
reused and an interrupted ph.x recovered from its restart files
(:func:`ionraman.polarizability.reference.qe.resume_state`); otherwise it starts from scratch.
Each structure is independent, so several background processes can share one ``workdir``: the
lock file makes each structure run once; a lock left by a dead process on this host is taken over.
Failures (crash, SCF or DFPT not converged, timeout, unphysical ε∞) are recorded as ``status:
"failed"`` with a one-line error and the log path, reported in every call and left out of the
output file; they are never stored as numbers.

Command line (:func:`label_main`, meant for ``ionraman reference label``)::

    ionraman reference label SNAPSHOTS.extxyz --code qe --out DIR [--workdir WORK]
        [--kpts 2 2 2 | --kspacing 0.5] [--ecutwfc 44] [--unshifted] [--tr2-ph 1e-12]
        [--ranks 2] [--npool 2] ...

writes ``DIR/labelled.extxyz`` (successful structures, input order), ``DIR/results/<key>.json``
(one small JSON per labelled structure: ε∞, α, settings, code version, pseudopotential hashes,
timings) and ``DIR/summary.json`` (counts, failures with log paths). The raw QE files stay in
``WORK/<key>/`` (default ``DIR/work``). Running the same command again resumes. Several copies
may run at once on one workdir (one per core, say): the per-structure lock splits the
structures between them, and each copy's output file also holds what the others have finished.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import sys
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from ase import Atoms
from ase.io import read, write

from ionraman._io import atomic_path, write_json_atomic
from ionraman._process import LockHolder, stop_on_signals
from ionraman.errors import InputError
from ionraman.polarizability.reference.qe import TASKS, QEResult, QESettings, attach_result, run_qe
from ionraman.validate import check_output_dir

RESULT_FILE = "result.json"
LOCK_FILE = ".lock"
INFO_KEY = "REF_label_key"
INFO_CODE = "REF_code"
INFO_VERSION = "REF_code_version"
INFO_SETTINGS = "REF_settings"
INFO_PSEUDOS = "REF_pseudopotentials"
OUTPUT_NAME = "labelled.extxyz"
RESULTS_DIR = "results"
CODES = ("qe",)


@dataclass
class LabelFailure:
    """A structure whose run failed: input index, directory key, one-line error, log path."""

    index: int
    key: str
    error: str
    log: str | None


@dataclass
class LabelReport:
    """What :func:`label_structures` did.

    Attributes
    ----------
    n_structures : int
        Structures in the input file.
    computed, reused : list of int
        Input indices computed in this call / taken from an earlier ``result.json``.
    failed : list of LabelFailure
        Failed runs (this call or earlier), excluded from the output.
    pending : list of int
        Indices another live process is working on (not in the output yet).
    out_path : Path
        The labelled extxyz (successful structures only, input order).
    """

    n_structures: int
    computed: list[int] = field(default_factory=list)
    reused: list[int] = field(default_factory=list)
    failed: list[LabelFailure] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    out_path: Path | None = None

    @property
    def n_labelled(self) -> int:
        """Structures in the output file."""
        return len(self.computed) + len(self.reused)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "n_structures": self.n_structures,
            "n_labelled": self.n_labelled,
            "computed": self.computed,
            "reused": self.reused,
            "failed": [vars(f) for f in self.failed],
            "pending": self.pending,
            "out_path": str(self.out_path) if self.out_path else None,
        }


def structure_key(atoms: Atoms, settings: QESettings, task: str = "epsilon") -> str:
    """SHA-256 (hex) of the structure (Z, positions and cell to 1e-6 Å, pbc) and physics settings.

    ``task`` ("epsilon" or "scf") enters through :meth:`QESettings.physics`: an SCF label and a
    dielectric label of the same structure have different keys (dielectric keys are unchanged
    from before SCF labels existed).

    Execution settings (MPI ranks, pools, timeouts) do not enter: same physics, same key. A
    k-spacing is resolved into the structure's mesh first, so a mesh given explicitly and the
    same mesh from a spacing give the same key.
    """
    settings = settings.for_structure(atoms)
    payload = {
        "numbers": atoms.numbers.tolist(),
        "positions_A": np.round(atoms.positions, 6).tolist(),
        "cell_A": np.round(np.asarray(atoms.cell), 6).tolist(),
        "pbc": [bool(p) for p in atoms.pbc],
        "settings": settings.physics(task),
    }
    text = json.dumps(payload, sort_keys=True).replace("-0.0,", "0.0,")
    return hashlib.sha256(text.encode()).hexdigest()


@contextlib.contextmanager
def _lock(directory: Path) -> Iterator[bool]:
    """Yield True if this process holds ``directory/.lock`` (released on exit), else False."""
    path = directory / LOCK_FILE
    me = {"pid": os.getpid(), "host": platform.node()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                owner = json.loads(path.read_text())
            except (OSError, ValueError):
                owner = {}
            holder = LockHolder(int(owner.get("pid", -1)), str(owner.get("host", "")))
            if holder.gone():  # its process is dead on this host
                path.unlink(missing_ok=True)
                continue
            yield False
            return
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        try:
            yield True
        finally:
            path.unlink(missing_ok=True)
        return
    yield False


def _stored_result(directory: Path, *, failed: bool) -> QEResult | None:
    """The finished result in ``directory``: an ok one, or (``failed``) a failed one too."""
    path = directory / RESULT_FILE
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if record["status"] != "ok" and not failed:
        return None
    return QEResult.from_json(record["result"])


def _restore_from_record(directory: Path, record_path: Path) -> bool:
    """Put the result of a per-structure record (``results_dir``) back into a missing workdir.

    The records are the durable copy of each label (they ship with the dataset); the raw QE
    directories are scratch. A fresh checkout, or a lost scratch disk, must therefore reuse the
    records instead of recomputing them. Returns True if a result was restored.
    """
    if (directory / RESULT_FILE).exists() or not record_path.exists():
        return False
    record = json.loads(record_path.read_text())
    if record.get("status") != "ok" or record.get("key") != directory.name:
        return False
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        directory / RESULT_FILE,
        {"status": "ok", "key": directory.name, "result": record["result"],
         "restored_from": str(record_path)},
    )
    return True


def label_structure(
    atoms: Atoms,
    workdir: str | os.PathLike[str],
    settings: QESettings | None = None,
    *,
    retry_failed: bool = False,
    pseudo_cache: str | os.PathLike[str] | None = None,
    task: str = "epsilon",
) -> tuple[str, QEResult | None, bool]:
    """Label one structure in ``workdir/<key>``, reusing a finished result.

    ``task``: "epsilon" (ε∞ and α, with the SCF energy/forces/stress) or "scf" (pw.x only).

    Returns
    -------
    key : str
        Directory name (the structure key).
    result : QEResult or None
        None if another live process holds the structure's lock.
    computed : bool
        True if the run happened in this call.
    """
    settings = settings or QESettings()
    key = structure_key(atoms, settings, task)
    directory = Path(workdir) / key
    directory.mkdir(parents=True, exist_ok=True)
    previous = _stored_result(directory, failed=not retry_failed)
    if previous is not None:
        return key, previous, False
    with _lock(directory) as held:
        if not held:
            return key, None, False
        previous = _stored_result(directory, failed=not retry_failed)  # finished meanwhile
        if previous is not None:
            return key, previous, False
        with atomic_path(directory / "structure.extxyz") as tmp:
            write(tmp, atoms, format="extxyz")
        try:
            result = run_qe(atoms, directory, settings, pseudo_cache=pseudo_cache, task=task)
        except InputError:
            raise  # set-up problem (executables, pseudopotentials): not the structure's fault
        except Exception as exc:  # anything else is recorded as this structure's failure
            log = directory / "python_error.log"
            log.write_text(traceback.format_exc())
            result = QEResult(False, None, None, float(atoms.get_volume()),
                              error=f"{type(exc).__name__}: {exc} (log {log})",
                              logs={"python": str(log)})
        write_json_atomic(
            directory / RESULT_FILE,
            {"status": "ok" if result.ok else "failed", "key": key, "result": result.to_json()},
        )
    return key, result, True


def provenance_info(result: QEResult) -> dict[str, Any]:
    """Flat ``atoms.info`` entries (extxyz-safe) describing where a label came from.

    ``REF_code`` and ``REF_code_version`` (of ph.x), ``REF_settings`` (JSON of the physical
    settings) and ``REF_pseudopotentials`` (JSON: per element the psp8 and UPF file names and
    SHA-256 hashes).
    """
    meta = result.metadata
    pseudos = {
        symbol: {k: v for k, v in d.items() if k in ("psp8_file", "psp8_sha256", "upf_sha256")}
        for symbol, d in (meta.get("pseudopotentials") or {}).items()
    }
    return {
        INFO_CODE: meta.get("code", "?"),
        INFO_VERSION: (meta.get("versions") or {}).get(
            "pw" if meta.get("task") == "scf" else "ph") or "?",
        INFO_SETTINGS: json.dumps(meta.get("physics", {}), sort_keys=True),
        INFO_PSEUDOS: json.dumps(pseudos, sort_keys=True),
    }


def label_structures(
    extxyz_in: str | os.PathLike[str],
    out_extxyz: str | os.PathLike[str],
    workdir: str | os.PathLike[str],
    settings: QESettings | None = None,
    *,
    indices: Sequence[int] | None = None,
    retry_failed: bool = False,
    pseudo_cache: str | os.PathLike[str] | None = None,
    log: Any = None,
    results_dir: str | os.PathLike[str] | None = None,
    max_new: int | None = None,
    task: str = "epsilon",
) -> LabelReport:
    """Label every structure of ``extxyz_in`` with ε∞ and α (or, ``task="scf"``, with the
    energy, forces and stress of one SCF) from QE, resumably.

    Parameters
    ----------
    extxyz_in : path-like
        Structures (any format ASE reads; extended XYZ expected).
    out_extxyz : path-like
        Output: the successfully labelled structures, in input order, with ``REF_polarizability``
        (3×3, Å³), ``REF_epsilon_inf`` (3×3), ``REF_source``, ``REF_label_key`` and the
        provenance entries of :func:`provenance_info` in ``info``. Written atomically after every
        newly computed structure and at the end (and rewritten by every later call), each time
        with every structure of the input finished so far (in ``workdir``, by any process).
    workdir : path-like
        One sub-directory per structure (see the module docstring).
    settings : QESettings, optional
        Physics and execution settings (default :class:`QESettings`).
    indices : sequence of int, optional
        Run only these input structures (default all). The output still lists every input
        structure that is already labelled in ``workdir``, so a call on a few indices never
        shrinks the labelled file.
    retry_failed : bool
        Re-run structures whose earlier run failed.
    pseudo_cache : path-like, optional
        Cache directory of the converted pseudopotentials.
    log : file-like, optional
        Progress lines are written here (e.g. ``sys.stdout``).
    results_dir : path-like, optional
        Also write one small JSON per labelled structure here (``<key>.json``: the input
        ``info``, ε∞, α, settings, versions, pseudopotential hashes, timings). These records
        are the durable copy: a structure with an ok record but no result in ``workdir`` (fresh
        checkout, lost scratch) is restored from it, not recomputed.
    max_new : int, optional
        Stop after this many structures were computed in this call (the output still lists
        everything finished so far); None: no limit.
    task : {"epsilon", "scf"}
        "epsilon": pw.x + ph.x, ``REF_polarizability``/``REF_epsilon_inf`` and the SCF energy,
        forces and stress; "scf": pw.x only, energy (eV), forces (eV/Å) and stress (eV/Å³),
        written by extxyz as ``energy``, ``forces`` and ``stress`` (ASE conventions), the form
        force-field training and ``ionraman forcefield audit`` read.

    Returns
    -------
    LabelReport
    """
    if task not in TASKS:
        raise InputError(f"task {task!r}: expected one of {list(TASKS)}")
    settings = settings or QESettings()
    in_path = Path(extxyz_in)
    if not in_path.exists():
        raise InputError(f"{in_path}: no such structure file")
    try:
        frames = read(in_path, index=":")
    except Exception as exc:  # ASE raises many types for unreadable files
        raise InputError(f"{in_path}: cannot read structures ({exc})") from exc
    frames = frames if isinstance(frames, list) else [frames]
    if not frames:
        raise InputError(f"{in_path}: contains no structures")
    selected = list(range(len(frames))) if indices is None else [int(i) for i in indices]
    bad = [i for i in selected if not 0 <= i < len(frames)]
    if bad:
        raise InputError(
            f"{in_path}: indices {bad} out of range (file has {len(frames)} structures)"
        )
    workdir = Path(workdir)
    report = LabelReport(n_structures=len(frames), out_path=Path(out_extxyz))
    labelled: dict[int, Atoms] = {}
    elsewhere: dict[int, str] = {}  # index -> key of structures another process was running

    def labelled_copy(i: int, key: str, result: QEResult) -> Atoms:
        out = frames[i].copy()
        out.info = {k: v for k, v in frames[i].info.items() if not str(k).startswith("REF_")}
        attach_result(out, result)
        out.info[INFO_KEY] = key
        out.info.update(provenance_info(result))
        return out

    def save() -> None:
        # structures that another process (same workdir) has finished since we passed them
        for i, key in list(elsewhere.items()):
            previous = _stored_result(workdir / key, failed=False)
            if previous is not None:
                labelled[i] = labelled_copy(i, key, previous)
                del elsewhere[i]
                report.pending.remove(i)
                report.reused.append(i)
        Path(out_extxyz).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out_extxyz) as tmp:
            write(tmp, [labelled[i] for i in sorted(labelled)], format="extxyz")
        write_json_atomic(workdir / "summary.json", report.to_json())

    # Everything already finished goes into every save below, so that the file never shrinks
    # while this call works its way down the list (or when it is killed half-way).
    keys = [structure_key(atoms, settings, task) for atoms in frames]
    for i, key in enumerate(keys):
        if results_dir is not None:
            _restore_from_record(workdir / key, Path(results_dir) / f"{key}.json")
        previous = _stored_result(workdir / key, failed=False)
        if previous is not None:
            labelled[i] = labelled_copy(i, key, previous)
    chosen = set(selected)
    # the selected structures in the order given, then the others (looked up only)
    for i in [*selected, *(j for j in range(len(frames)) if j not in chosen)]:
        atoms = frames[i]
        if i not in chosen or (max_new is not None and len(report.computed) >= max_new):
            # not to be run now: only look up a finished result (the output file lists every
            # labelled structure of the input, also those left out by ``indices``)
            key, computed = keys[i], False
            result = _stored_result(workdir / key, failed=not retry_failed)
            if i not in chosen and (result is None or not result.ok):
                continue  # not asked for and not labelled: neither pending nor a failure here
        else:
            key, result, computed = label_structure(
                atoms, workdir, settings, retry_failed=retry_failed, pseudo_cache=pseudo_cache,
                task=task,
            )
        if result is None:
            report.pending.append(i)
            elsewhere[i] = key
            status = "not done (running elsewhere or max_new reached)"
        elif result.ok:
            (report.computed if computed else report.reused).append(i)
            out = labelled[i] = labelled_copy(i, key, result)
            status = "ok" + ("" if computed else " (reused)")
            if results_dir is not None:
                record = {"status": "ok", "key": key, "index": i,
                          "info": {k: v for k, v in out.info.items()
                                   if not str(k).startswith("REF_")},
                          "result": result.to_json()}
                write_json_atomic(Path(results_dir) / f"{key}.json", record)
        else:
            # The program that ran last is the one that failed (else: the Python error log).
            if result.wall_s:
                log_path = result.logs.get(list(result.wall_s)[-1])
            else:
                log_path = next(iter(result.logs.values()), None)
            report.failed.append(LabelFailure(i, key, result.error or "unknown", log_path))
            status = f"FAILED: {result.error}"
        if log is not None:
            print(f"[{i + 1}/{len(frames)}] {key[:12]} {status}", file=log, flush=True)
        if computed:
            save()
    save()
    return report


def _add_settings_arguments(p: argparse.ArgumentParser) -> None:
    defaults = QESettings()
    g = p.add_argument_group("QE settings (physics: change the label key)")
    g.add_argument("--ecutwfc", type=float, default=defaults.ecutwfc_ry,
                   help="wavefunction cutoff, Ry (default %(default)s)")
    g.add_argument("--ecutrho", type=float, default=None,
                   help="density cutoff, Ry (default 4 x ecutwfc)")
    g.add_argument("--kpts", type=int, nargs=3, default=list(defaults.kpts), metavar="N",
                   help="Monkhorst-Pack mesh (default 2 2 2, shifted)")
    g.add_argument("--kspacing", type=float, default=None, metavar="DK",
                   help="k-mesh per structure from this spacing in 1/Å instead of --kpts "
                   "(VASP KSPACING: N_i = max(1, ceil(2π|b_i|/DK))); 0.5 gives 2 2 2 for the "
                   "16-atom Na3SbS4 cells and 1 2 2 for their 2x1x1 supercells")
    g.add_argument("--unshifted", action="store_true", help="Γ-centred k-mesh")
    g.add_argument("--conv-thr", type=float, default=defaults.conv_thr_ry,
                   help="pw.x SCF threshold, Ry (default %(default)s)")
    g.add_argument("--tr2-ph", type=float, default=defaults.tr2_ph,
                   help="ph.x threshold (default %(default)s)")
    e = p.add_argument_group("execution (does not change the labels)")
    e.add_argument("--ranks", type=int, default=defaults.mpi_ranks,
                   help="MPI ranks (default %(default)s)")
    e.add_argument("--npool", type=int, default=defaults.npool,
                   help="k-point pools, divides --ranks (default %(default)s)")
    e.add_argument("--omp-threads", type=int, default=defaults.omp_threads,
                   help="OpenMP/BLAS threads per rank (default %(default)s)")
    e.add_argument("--timeout", type=float, default=None, help="s per executable (default none)")
    e.add_argument("--indices", type=int, nargs="*", default=None,
                   help="only these input structures (0-based)")
    e.add_argument("--max-new", type=int, default=None,
                   help="stop after computing this many structures")
    e.add_argument("--retry-failed", action="store_true", help="re-run failed structures")
    e.add_argument("--pseudo-cache", type=Path, default=None,
                   help="cache of converted UPF files (default $IONRAMAN_CACHE/pseudo)")


def _settings_from_args(args: argparse.Namespace) -> QESettings:
    return QESettings(
        ecutwfc_ry=args.ecutwfc, ecutrho_ry=args.ecutrho, kpts=tuple(args.kpts),
        kspacing_inv_A=args.kspacing,
        kpts_shifted=not args.unshifted, conv_thr_ry=args.conv_thr, tr2_ph=args.tr2_ph,
        mpi_ranks=args.ranks, npool=args.npool, omp_threads=args.omp_threads,
        timeout_s=args.timeout,
    )


class _OneLineParser(argparse.ArgumentParser):
    """argparse with usage errors raised as one-line :class:`InputError` (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message} (see --help)")


def label_main(argv: list[str] | None = None, task: str = "epsilon") -> int:
    """``ionraman reference label SNAPSHOTS --code qe --out DIR [options]`` (``task="scf"``:
    ``ionraman reference forces ...``, energies, forces and stresses from pw.x only).

    Labels every structure of ``SNAPSHOTS`` (extxyz) with ε∞ and α = V(ε∞ − 1)/4π, resumably:
    ``DIR/labelled.extxyz`` (successful ones, input order, ``REF_*`` info keys),
    ``DIR/results/<key>.json`` (one per labelled structure), ``DIR/summary.json``; raw code files
    in ``--workdir`` (default ``DIR/work``). Finished structures are never recomputed; failed
    ones are listed with their log and left out (``--retry-failed`` runs them again).

    Returns
    -------
    int
        3 when some structures are not done yet (another process holds them, or ``--max-new``
        stopped the job; failures so far are listed), else 1 when some failed, 0 when every
        selected structure is labelled.

    Raises
    ------
    InputError
        Unreadable input, unknown ``--code``, bad settings, QE or pseudopotentials missing.
    """
    p = _OneLineParser(
        prog="ionraman reference " + ("label" if task == "epsilon" else "forces"),
        description=(
            "Label structures with first-principles polarizabilities (resumable)."
            if task == "epsilon" else
            "Label structures with first-principles energies, forces and stresses (pw.x SCF, "
            "resumable); the output extxyz has energy/forces/stress in ASE's convention."
        ),
    )
    p.add_argument("snapshots", type=Path, help="structures to label (extxyz)")
    p.add_argument("--code", default="qe", help="reference code: qe (Quantum ESPRESSO DFPT)")
    p.add_argument("--out", type=Path, required=True, help="output directory (small files)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="per-structure run directories (raw outputs); default OUT/work")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    _add_settings_arguments(p)
    args = p.parse_args(argv)
    if args.code.lower() not in CODES:
        raise InputError(f"--code {args.code!r}: supported reference codes are {list(CODES)}")
    settings = _settings_from_args(args)
    out_dir = check_output_dir(args.out, "--out")
    workdir = args.workdir if args.workdir is not None else out_dir / "work"
    check_output_dir(workdir, "--workdir")
    with stop_on_signals():
        report = label_structures(
            args.snapshots, out_dir / OUTPUT_NAME, workdir, settings, indices=args.indices,
            retry_failed=args.retry_failed, pseudo_cache=args.pseudo_cache,
            log=None if args.quiet else sys.stdout, results_dir=out_dir / RESULTS_DIR,
            max_new=args.max_new,
            task=task,
        )
    summary = report.to_json()
    summary.update(
        snapshots=str(args.snapshots), workdir=str(workdir), code=args.code,
        settings=settings.to_dict(), task=task,
        command=f"{p.prog} " + " ".join(argv if argv is not None else sys.argv[1:]),
    )
    write_json_atomic(out_dir / "summary.json", summary)
    print(f"labelled {report.n_labelled}/{report.n_structures} "
          f"({len(report.computed)} computed now, {len(report.reused)} reused), "
          f"{len(report.failed)} failed, {len(report.pending)} not done -> {out_dir / OUTPUT_NAME}")
    for failure in report.failed:
        print(f"  FAILED #{failure.index} {failure.key[:12]}: {failure.error}")
    if report.pending:
        return 3
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(label_main())
