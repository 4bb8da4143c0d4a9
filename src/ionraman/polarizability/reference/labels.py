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
Each structure is independent, so several background processes (``nohup python -m
ionraman.polarizability.reference.labels ...``) can share one ``workdir``: the lock file makes each
structure run once; a lock left by a dead process on this host is taken over.
Failures are reported (error and log path) and left out of the output file.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import read, write

from ionraman._io import atomic_path, write_json_atomic
from ionraman.errors import InputError
from ionraman.polarizability.reference.qe import QEResult, QESettings, attach_result, run_epsilon

RESULT_FILE = "result.json"
LOCK_FILE = ".lock"
INFO_KEY = "REF_label_key"


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


def structure_key(atoms: Atoms, settings: QESettings) -> str:
    """SHA-256 (hex) of the structure (Z, positions and cell to 1e-6 Å, pbc) and physics settings.

    Execution settings (MPI ranks, pools, timeouts) do not enter: same physics, same key.
    """
    payload = {
        "numbers": atoms.numbers.tolist(),
        "positions_A": np.round(atoms.positions, 6).tolist(),
        "cell_A": np.round(np.asarray(atoms.cell), 6).tolist(),
        "pbc": [bool(p) for p in atoms.pbc],
        "settings": settings.physics(),
    }
    text = json.dumps(payload, sort_keys=True).replace("-0.0,", "0.0,")
    return hashlib.sha256(text.encode()).hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
            stale = owner.get("host") == me["host"] and not _pid_alive(int(owner.get("pid", -1)))
            if stale:
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


def _load_result(directory: Path) -> dict[str, Any] | None:
    path = directory / RESULT_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text())


def label_structure(
    atoms: Atoms,
    workdir: str | os.PathLike[str],
    settings: QESettings | None = None,
    *,
    retry_failed: bool = False,
    pseudo_cache: str | os.PathLike[str] | None = None,
) -> tuple[str, QEResult | None, bool]:
    """Label one structure in ``workdir/<key>``, reusing a finished result.

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
    key = structure_key(atoms, settings)
    directory = Path(workdir) / key
    directory.mkdir(parents=True, exist_ok=True)
    previous = _load_result(directory)
    if previous is not None and (previous["status"] == "ok" or not retry_failed):
        return key, QEResult.from_json(previous["result"]), False
    with _lock(directory) as held:
        if not held:
            return key, None, False
        previous = _load_result(directory)  # finished while we waited for the lock
        if previous is not None and (previous["status"] == "ok" or not retry_failed):
            return key, QEResult.from_json(previous["result"]), False
        with atomic_path(directory / "structure.extxyz") as tmp:
            write(tmp, atoms, format="extxyz")
        result = run_epsilon(atoms, directory, settings, pseudo_cache=pseudo_cache)
        write_json_atomic(
            directory / RESULT_FILE,
            {"status": "ok" if result.ok else "failed", "key": key, "result": result.to_json()},
        )
    return key, result, True


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
) -> LabelReport:
    """Label every structure of ``extxyz_in`` with ε∞ and α from QE, resumably.

    Parameters
    ----------
    extxyz_in : path-like
        Structures (any format ASE reads; extended XYZ expected).
    out_extxyz : path-like
        Output: the successfully labelled structures, in input order, with ``REF_polarizability``
        (3×3, Å³), ``REF_epsilon_inf`` (3×3), ``REF_source`` and ``REF_label_key`` in ``info``.
        Written atomically at the end (and rewritten by every later call).
    workdir : path-like
        One sub-directory per structure (see the module docstring).
    settings : QESettings, optional
        Physics and execution settings (default :class:`QESettings`).
    indices : sequence of int, optional
        Only these input structures (default all).
    retry_failed : bool
        Re-run structures whose earlier run failed.
    pseudo_cache : path-like, optional
        Cache directory of the converted pseudopotentials.
    log : file-like, optional
        Progress lines are written here (e.g. ``sys.stdout``).

    Returns
    -------
    LabelReport
    """
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
    labelled: list[Atoms] = []
    for i in selected:
        atoms = frames[i]
        key, result, computed = label_structure(
            atoms, workdir, settings, retry_failed=retry_failed, pseudo_cache=pseudo_cache
        )
        if result is None:
            report.pending.append(i)
            status = "running elsewhere"
        elif result.ok:
            (report.computed if computed else report.reused).append(i)
            out = atoms.copy()
            out.info = {k: v for k, v in atoms.info.items() if not str(k).startswith("REF_")}
            attach_result(out, result)
            out.info[INFO_KEY] = key
            labelled.append(out)
            status = "ok" + ("" if computed else " (reused)")
        else:
            # The program that ran last is the one that failed.
            last = list(result.wall_s)[-1] if result.wall_s else None
            report.failed.append(
                LabelFailure(i, key, result.error or "unknown", result.logs.get(last or ""))
            )
            status = f"FAILED: {result.error}"
        if log is not None:
            print(f"[{i + 1}/{len(frames)}] {key[:12]} {status}", file=log, flush=True)
    with atomic_path(out_extxyz) as tmp:
        write(tmp, labelled, format="extxyz")
    write_json_atomic(workdir / "summary.json", report.to_json())
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m ionraman.polarizability.reference.labels IN OUT WORKDIR [...]``."""
    defaults = QESettings()
    p = argparse.ArgumentParser(description="Label structures with QE DFPT polarizabilities.")
    p.add_argument("extxyz_in")
    p.add_argument("out_extxyz")
    p.add_argument("workdir")
    p.add_argument("--ecutwfc", type=float, default=defaults.ecutwfc_ry, help="Ry")
    p.add_argument("--kpts", type=int, nargs=3, default=list(defaults.kpts))
    p.add_argument("--unshifted", action="store_true", help="Γ-centred k-mesh")
    p.add_argument("--conv-thr", type=float, default=defaults.conv_thr_ry, help="Ry")
    p.add_argument("--tr2-ph", type=float, default=defaults.tr2_ph)
    p.add_argument("--ranks", type=int, default=defaults.mpi_ranks)
    p.add_argument("--npool", type=int, default=defaults.npool)
    p.add_argument("--timeout", type=float, default=None, help="s per executable")
    p.add_argument("--indices", type=int, nargs="*", default=None)
    p.add_argument("--retry-failed", action="store_true")
    args = p.parse_args(argv)
    settings = QESettings(
        ecutwfc_ry=args.ecutwfc, kpts=tuple(args.kpts), kpts_shifted=not args.unshifted,
        conv_thr_ry=args.conv_thr, tr2_ph=args.tr2_ph, mpi_ranks=args.ranks, npool=args.npool,
        timeout_s=args.timeout,
    )
    report = label_structures(args.extxyz_in, args.out_extxyz, args.workdir, settings,
                              indices=args.indices, retry_failed=args.retry_failed, log=sys.stdout)
    print(json.dumps(report.to_json(), indent=1))
    return 0 if not report.failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
