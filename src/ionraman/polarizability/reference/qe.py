"""Reference polarizability of one periodic structure from Quantum ESPRESSO (pw.x + ph.x DFPT).

For a cell of volume V the clamped-ion electronic dielectric tensor ε∞ (q = 0 DFPT, ``ph.x`` with
``epsil=.true., trans=.false.``) gives the cell polarizability

    α = V (ε∞ − 1) / 4π        (Å³, V in Å³; Gaussian units, see :mod:`ionraman.conventions`).

Two runs in ``workdir``: ``pw.x`` (self-consistent ground state, ``pw.in`` → ``pw.out``) and
``ph.x`` (``ph.in`` → ``ph.out``). Both outputs are kept. Anything short of a clean finish
(non-zero exit, SCF or DFPT not converged, no ``JOB DONE.``, a ``CRASH`` file, no dielectric
tensor) is returned as a failed :class:`QEResult` naming the log file, never as a number. A run
that was killed is continued by the next call in the same ``workdir`` (:func:`resume_state`):
pw.x is not repeated, ph.x resumes from its last saved iteration (``recover=.true.``).

Inputs are written with ASE (:func:`ase.io.espresso.write_espresso_in`,
:func:`ase.io.espresso.write_espresso_ph`); pseudopotentials come from
:mod:`ionraman.polarizability.reference.pseudopotentials` (PBE, SPMS ONCVPSP norm-conserving; the
only kind ``ph.x`` DFPT dielectric runs support without extra cost).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import resource
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.io.espresso import write_espresso_in, write_espresso_ph

from ionraman._io import atomic_path, provenance, write_text_atomic
from ionraman.conventions import POLARIZABILITY_KEY
from ionraman.errors import InputError
from ionraman.polarizability.reference.pseudopotentials import (
    PSEUDO_SET_NAME,
    PseudoFile,
    upf_pseudopotentials,
)

PREFIX = "ionraman"
"""QE ``prefix`` of every run (files in ``<workdir>/tmp``)."""
EPSILON_HEADER = "Dielectric constant in cartesian axis"
"""Line of ph.x output that precedes the three rows of ε∞."""
INFO_POLARIZABILITY = POLARIZABILITY_KEY
INFO_EPSILON = "REF_epsilon_inf"
INFO_SOURCE = "REF_source"


@dataclass(frozen=True)
class QESettings:
    """Numerical and execution settings of a pw.x + ph.x dielectric run.

    Attributes
    ----------
    ecutwfc_ry : float
        Plane-wave cutoff of the wavefunctions (Ry). SPMS estimate for 1e-4 Ha/atom: 40 Ry.
    ecutrho_ry : float or None
        Density cutoff (Ry); None = 4 × ``ecutwfc_ry`` (norm-conserving).
    kpts : (int, int, int)
        Monkhorst–Pack grid (ignored when ``kspacing_inv_A`` is set).
    kspacing_inv_A : float or None
        Largest spacing of the k-mesh (Å⁻¹), VASP's ``KSPACING`` convention: along each
        reciprocal vector N_i = max(1, ceil(2π |b_i| / kspacing)) with b_i·a_j = δ_ij, so a
        supercell gets the same k-point density as its cell. Resolved per structure by
        :meth:`for_structure` into ``kpts``; the resolved mesh is what enters :meth:`physics`
        (same mesh, same label). None: use ``kpts`` for every structure.
    kpts_shifted : bool
        Half-step shift of the grid in every direction (QE offsets ``1 1 1``).
    conv_thr_ry : float
        pw.x SCF threshold on the estimated energy error (Ry, whole cell).
    tr2_ph : float
        ph.x self-consistency threshold of the response (QE's dimensionless ``tr2_ph``).
    mixing_beta : float
        SCF mixing factor.
    electron_maxstep, niter_ph : int
        Iteration limits of pw.x and ph.x; hitting them is reported as a failure.
    mpi_ranks : int
        MPI processes (1 = no mpirun).
    npool : int
        k-point pools (``-nk``); must divide ``mpi_ranks``.
    omp_threads : int
        OpenMP/BLAS threads per rank.
    mpirun, pw_command, ph_command : str
        Executables (looked up on PATH).
    mpirun_args : tuple of str
        Extra mpirun arguments. ``--allow-run-as-root`` is added automatically for root.
    timeout_s : float or None
        Wall-clock limit per executable (s); exceeding it is a failure.
    keep_scratch : bool
        Keep ``<workdir>/tmp`` (wavefunctions) after a successful run.
    """

    ecutwfc_ry: float = 44.0
    ecutrho_ry: float | None = None
    kpts: tuple[int, int, int] = (2, 2, 2)
    kpts_shifted: bool = True
    kspacing_inv_A: float | None = None
    conv_thr_ry: float = 1e-10
    tr2_ph: float = 1e-12
    mixing_beta: float = 0.5
    electron_maxstep: int = 200
    niter_ph: int = 100
    mpi_ranks: int = 2
    npool: int = 2
    omp_threads: int = 1
    mpirun: str = "mpirun"
    pw_command: str = "pw.x"
    ph_command: str = "ph.x"
    mpirun_args: tuple[str, ...] = ("--bind-to", "none")
    timeout_s: float | None = None
    keep_scratch: bool = False

    def __post_init__(self) -> None:
        checks = [
            (self.ecutwfc_ry > 0, "ecutwfc_ry", self.ecutwfc_ry, "a positive cutoff in Ry"),
            (self.ecutrho_ry is None or self.ecutrho_ry >= 4 * self.ecutwfc_ry, "ecutrho_ry",
             self.ecutrho_ry, "None or >= 4 * ecutwfc_ry (norm-conserving)"),
            (len(self.kpts) == 3 and all(int(k) >= 1 for k in self.kpts), "kpts", self.kpts,
             "three positive integers"),
            (self.kspacing_inv_A is None or self.kspacing_inv_A > 0, "kspacing_inv_A",
             self.kspacing_inv_A, "None or a positive spacing in 1/Å"),
            (self.conv_thr_ry > 0 and self.tr2_ph > 0, "conv_thr_ry/tr2_ph",
             (self.conv_thr_ry, self.tr2_ph), "positive thresholds"),
            (self.mpi_ranks >= 1 and self.npool >= 1 and self.mpi_ranks % self.npool == 0,
             "npool", (self.mpi_ranks, self.npool), "a divisor of mpi_ranks"),
        ]
        for ok, name, value, expected in checks:
            if not ok:
                raise InputError(f"QESettings.{name}={value!r}: expected {expected}")

    @property
    def ecutrho(self) -> float:
        """Density cutoff actually used (Ry)."""
        return self.ecutrho_ry if self.ecutrho_ry is not None else 4.0 * self.ecutwfc_ry

    def for_structure(self, atoms: Atoms) -> QESettings:
        """These settings with the k-mesh of ``atoms`` resolved from ``kspacing_inv_A``.

        Returns ``self`` when no spacing is set; otherwise a copy with ``kpts`` = N_i (see the
        class docstring) and ``kspacing_inv_A`` = None.
        """
        if self.kspacing_inv_A is None:
            return self
        if atoms.cell.rank != 3:
            raise InputError("QESettings.kspacing_inv_A needs a structure periodic in 3 dimensions")
        b = np.linalg.norm(atoms.cell.reciprocal(), axis=1)  # b_i · a_j = δ_ij, 1/Å
        kpts = tuple(max(1, int(np.ceil(2 * np.pi * bi / self.kspacing_inv_A - 1e-9))) for bi in b)
        return dataclasses.replace(self, kpts=kpts, kspacing_inv_A=None)

    def physics(self, task: str = "epsilon") -> dict[str, Any]:
        """The settings that change the numbers (not how the run is executed).

        For ``task="scf"`` (pw.x only) ``tr2_ph`` does not enter and ``"task": "scf"`` is added,
        so an SCF label never shares a key with a dielectric one.
        """
        d = {
            "ecutwfc_ry": self.ecutwfc_ry,
            "ecutrho_ry": self.ecutrho,
            "kpts": list(self.kpts),
            "kpts_shifted": self.kpts_shifted,
            "conv_thr_ry": self.conv_thr_ry,
            "tr2_ph": self.tr2_ph,
            "functional": "PBE",
            "pseudopotentials": PSEUDO_SET_NAME,
        } | ({} if self.kspacing_inv_A is None else {"kspacing_inv_A": self.kspacing_inv_A})
        if task == "scf":
            del d["tr2_ph"]
            d["task"] = "scf"
        return d

    def to_dict(self) -> dict[str, Any]:
        """All settings, JSON-ready."""
        d = dataclasses.asdict(self)
        d["kpts"] = list(self.kpts)
        d["mpirun_args"] = list(self.mpirun_args)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QESettings:
        """Inverse of :meth:`to_dict` (unknown keys are an :class:`InputError`)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise InputError(
                f"QE settings: unknown keys {unknown}; expected some of {sorted(names)}"
            )
        d = dict(d)
        if "kpts" in d:
            d["kpts"] = tuple(int(k) for k in d["kpts"])
        if "mpirun_args" in d:
            d["mpirun_args"] = tuple(d["mpirun_args"])
        return cls(**d)


@dataclass
class QEResult:
    """Outcome of one dielectric run.

    Attributes
    ----------
    ok : bool
        True only when both codes finished cleanly and ε∞ was read.
    epsilon_inf : ndarray, shape (3, 3) or None
        Clamped-ion electronic dielectric tensor (dimensionless), Cartesian axes of the input cell.
    polarizability_A3 : ndarray, shape (3, 3) or None
        α = V (ε∞ − 1) / 4π of the whole cell (Å³).
    volume_A3 : float
        Cell volume (Å³).
    error : str or None
        Why the run failed (one line, names the log file).
    logs : dict of str to str
        ``{"pw": path, "ph": path}`` of the output files.
    wall_s : dict of str to float
        Wall time of each executable (s).
    cpu_s : dict of str to float
        CPU time (user + system) of each executable and all its MPI ranks together (s).
    metadata : dict
        Code and version, settings, pseudopotential files and hashes, provenance.
    energy_eV : float or None
        Total (free) energy of the cell from pw.x (eV); None when not read (older records).
    forces_eV_A : ndarray, shape (n_atoms, 3) or None
        Hellmann–Feynman forces from pw.x (eV/Å), input atom order.
    stress_eV_A3 : ndarray, shape (3, 3) or None
        Stress tensor from pw.x (eV/Å³), ASE's sign convention (QE's printed stress × −1, as
        :func:`ase.io.espresso.read_espresso_out` reads it; positive = tensile).
    """

    ok: bool
    epsilon_inf: np.ndarray | None
    polarizability_A3: np.ndarray | None
    volume_A3: float
    error: str | None = None
    logs: dict[str, str] = field(default_factory=dict)
    wall_s: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    energy_eV: float | None = None
    forces_eV_A: np.ndarray | None = None
    stress_eV_A3: np.ndarray | None = None

    _ARRAYS = ("epsilon_inf", "polarizability_A3", "forces_eV_A", "stress_eV_A3")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (arrays as nested lists)."""
        d = dataclasses.asdict(self)
        for key in self._ARRAYS:
            value = getattr(self, key)
            d[key] = None if value is None else np.asarray(value).tolist()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> QEResult:
        """Inverse of :meth:`to_json` (records written before the SCF fields existed load with
        them None)."""
        d = dict(d)
        for key in cls._ARRAYS:
            d[key] = None if d.get(key) is None else np.asarray(d[key], dtype=float)
        return cls(**d)

    @property
    def has_scf(self) -> bool:
        """True when energy and forces were read from pw.x."""
        return self.energy_eV is not None and self.forces_eV_A is not None


# ---------------------------------------------------------------------------------------------
# Physics and parsing
# ---------------------------------------------------------------------------------------------
def polarizability_from_epsilon(epsilon_inf: np.ndarray, volume_A3: float) -> np.ndarray:
    """α = V (ε∞ − 1) / 4π.

    Parameters
    ----------
    epsilon_inf : array_like, shape (..., 3, 3)
        Dielectric tensor (dimensionless).
    volume_A3 : float
        Cell volume (Å³).

    Returns
    -------
    ndarray, shape (..., 3, 3)
        Cell polarizability (Å³).
    """
    eps = np.asarray(epsilon_inf, dtype=float)
    return volume_A3 * (eps - np.eye(3)) / (4.0 * np.pi)


_FLOAT = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eEdD][-+]?\d+)?"
_ROW = re.compile(rf"^\s*\(\s*({_FLOAT})\s+({_FLOAT})\s+({_FLOAT})\s*\)\s*$")


def parse_k_point_count(pw_output: str) -> int | None:
    """Number of irreducible k-points in a ``pw.x`` output (``None`` if not found)."""
    m = re.search(r"number of k points=\s*(\d+)", pw_output)
    return int(m.group(1)) if m else None


def pools_for_k_points(settings: QESettings, n_k: int | None) -> int:
    """k-point pools for ``n_k`` irreducible k-points: ``settings.npool``, or the largest divisor
    of the MPI ranks not above ``n_k`` (``None``: unknown, keep ``settings.npool``)."""
    if n_k is None or n_k >= settings.npool:
        return settings.npool
    return max(d for d in range(1, max(n_k, 1) + 1) if settings.mpi_ranks % d == 0)


def parse_epsilon(ph_output: str) -> np.ndarray:
    """ε∞ from ph.x output: the three rows after the last ``Dielectric constant in cartesian axis``.

    Returns
    -------
    ndarray, shape (3, 3)

    Raises
    ------
    ValueError
        If the block is missing or malformed.
    """
    lines = ph_output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == EPSILON_HEADER]
    if not starts:
        raise ValueError(f"no '{EPSILON_HEADER}' block")
    rows = []
    for line in lines[starts[-1] + 1 :]:
        match = _ROW.match(line)
        if match:
            rows.append([float(x.replace("D", "E").replace("d", "e")) for x in match.groups()])
            if len(rows) == 3:
                break
        elif line.strip():
            break
    if len(rows) != 3:
        raise ValueError(f"'{EPSILON_HEADER}' block has {len(rows)} rows, expected 3")
    return np.array(rows)


def parse_scf(pw_output: str, n_atoms: int) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Energy, forces and stress of the last SCF in a ``pw.x`` output.

    Parameters
    ----------
    pw_output : str
        Full text of the output (``tprnfor``; ``tstress`` for the stress).
    n_atoms : int
        Atoms in the cell (rows of the force block).

    Returns
    -------
    energy_eV : float
        The ``!`` total energy (eV; for ``occupations='fixed'`` it is the free energy too).
    forces_eV_A : ndarray, shape (n_atoms, 3)
        Total forces on the atoms (eV/Å), input order.
    stress_eV_A3 : ndarray, shape (3, 3) or None
        Stress (eV/Å³, ASE sign: QE's printed value × −1); None if not printed.

    Raises
    ------
    ValueError
        If the energy or a complete force block is missing.
    """
    energies = re.findall(rf"^!\s+total energy\s+=\s+({_FLOAT})\s+Ry", pw_output, re.MULTILINE)
    if not energies:
        raise ValueError("no '!    total energy' line")
    energy = float(energies[-1]) * units.Ry
    blocks = pw_output.split("Forces acting on atoms")
    if len(blocks) < 2:
        raise ValueError("no 'Forces acting on atoms' block (tprnfor)")
    rows = re.findall(
        rf"atom\s+(\d+)\s+type\s+\d+\s+force =\s+({_FLOAT})\s+({_FLOAT})\s+({_FLOAT})",
        blocks[-1],
    )[:n_atoms]
    if len(rows) != n_atoms or [int(r[0]) for r in rows] != list(range(1, n_atoms + 1)):
        raise ValueError(f"force block has {len(rows)} rows, expected {n_atoms}")
    forces = np.array([[float(x) for x in r[1:]] for r in rows]) * units.Ry / units.Bohr
    stress = None
    parts = pw_output.split("total   stress")
    if len(parts) > 1:
        lines = parts[-1].splitlines()[1:4]
        values = [[float(x) for x in line.split()[:3]] for line in lines]
        stress = -np.array(values) * units.Ry / units.Bohr**3
    return energy, forces, stress


def parse_qe_version(output: str) -> str | None:
    """Version string of the program that wrote ``output`` (e.g. ``"6.7MaX"``), None if absent."""
    match = re.search(r"Program \S+ v\.(\S+) starts", output)
    return match.group(1) if match else None


def _response_unconverged(output: str) -> bool:
    """True if ph.x ended the electric-field loop with |ddv_scf|² still ≥ its threshold."""
    if "End of electric fields calculation" not in output:
        return False
    threshold = re.search(rf"convergence threshold\s*=\s*({_FLOAT})", output)
    last = re.findall(rf"\|ddv_scf\|\^2\s*=\s*({_FLOAT})", output.split(
        "End of electric fields calculation")[0])
    if threshold is None or not last:
        return False
    to_float = lambda x: float(x.replace("D", "E").replace("d", "e"))  # noqa: E731
    return to_float(last[-1]) >= to_float(threshold.group(1))


def output_problem(output: str, program: str) -> str | None:
    """Why a pw.x/ph.x output does not describe a clean, converged run; None if it does.

    Parameters
    ----------
    output : str
        Full text of the output file.
    program : {"pw", "ph"}
        Which code wrote it.
    """
    error = re.search(r"%{20,}\s*\n\s*Error in routine (.*?)\n(.*?)\n", output)
    if error:
        routine = error.group(1).strip().rstrip(":")
        return f"{program}.x error in routine {routine}: {error.group(2).strip()}"
    if program == "pw" and "convergence NOT achieved" in output:
        return "pw.x SCF convergence NOT achieved"
    if program == "ph" and re.search(r"No convergence has been achieved", output):
        return "ph.x DFPT response not converged"
    if program == "ph" and _response_unconverged(output):
        # ph.x 6.7 after niter_ph iterations: no tensor, yet "JOB DONE." (and STOP 1).
        return "ph.x DFPT response not converged (niter_ph reached, no dielectric tensor)"
    if "JOB DONE." not in output:
        return f"{program}.x stopped before 'JOB DONE.'"
    if program == "pw" and "convergence has been achieved" not in output:
        return "pw.x SCF convergence not reported"
    return None


# ---------------------------------------------------------------------------------------------
# Input writers
# ---------------------------------------------------------------------------------------------
def write_pw_input(
    atoms: Atoms,
    settings: QESettings,
    pseudos: dict[str, PseudoFile],
    path: str | os.PathLike[str],
    outdir: str = "./tmp",
) -> Path:
    """Write the pw.x SCF input for ``atoms`` (Cartesian Å positions, cell in Å).

    Every species must have an entry in ``pseudos``; all files must lie in one directory, which
    becomes ``pseudo_dir``.
    """
    missing = sorted(set(atoms.get_chemical_symbols()) - set(pseudos))
    if missing:
        raise InputError(f"pw.x input: no pseudopotential for elements {missing}")
    dirs = {p.upf_path.parent.resolve() for p in pseudos.values()}
    if len(dirs) != 1:
        raise InputError(f"pw.x input: pseudopotentials in several directories {sorted(dirs)}")
    input_data = {
        "control": {
            "calculation": "scf",
            "prefix": PREFIX,
            "outdir": outdir,
            "pseudo_dir": str(dirs.pop()),
            "verbosity": "high",
            "tprnfor": True,
            "tstress": True,
        },
        "system": {
            "ecutwfc": float(settings.ecutwfc_ry),
            "ecutrho": float(settings.ecutrho),
            "occupations": "fixed",
        },
        "electrons": {
            "conv_thr": float(settings.conv_thr_ry),
            "mixing_beta": float(settings.mixing_beta),
            "electron_maxstep": int(settings.electron_maxstep),
            # The converted UPF files carry no pseudo-atomic orbitals.
            "startingwfc": "random",
        },
    }
    buffer = io.StringIO()
    write_espresso_in(
        buffer,
        atoms,
        input_data=input_data,
        pseudopotentials={s: p.upf_path.name for s, p in pseudos.items()},
        kpts=tuple(int(k) for k in settings.kpts),
        koffset=(1, 1, 1) if settings.kpts_shifted else (0, 0, 0),
    )
    # ASE writes every namelist it knows, including ones newer than QE 6.7 (&FCP, &RISM), which
    # pw.x 6.7 then reports as ignored cards; drop the empty ones.
    text = re.sub(r"^&\w+\s*\n/\s*\n", "", buffer.getvalue(), flags=re.MULTILINE)
    return write_text_atomic(path, text)


def write_ph_input(
    settings: QESettings,
    path: str | os.PathLike[str],
    outdir: str = "./tmp",
    recover: bool = False,
) -> Path:
    """Write the ph.x input: q = 0, electric-field perturbation only (ε∞, no phonons);
    ``recover``: continue an interrupted run from its restart files (``outdir/_ph0``)."""
    input_data = {
        "inputph": {
            "prefix": PREFIX,
            "outdir": outdir,
            "tr2_ph": float(settings.tr2_ph),
            "niter_ph": int(settings.niter_ph),
            "epsil": True,
            "trans": False,
            "fildyn": "ph.dyn",
        }
    }
    if recover:
        input_data["inputph"]["recover"] = True
    with atomic_path(path) as tmp, open(tmp, "w") as fd:
        fd.write("ionraman epsilon_inf (q = 0, clamped ions)\n")
        write_espresso_ph(fd, input_data=input_data, qpts=(0.0, 0.0, 0.0))
    return Path(path)


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------
def command_line(settings: QESettings, program: str) -> list[str]:
    """The argv that runs ``program`` ("pw" or "ph") under the settings' MPI layout."""
    exe_name = settings.pw_command if program == "pw" else settings.ph_command
    exe = shutil.which(exe_name)
    if exe is None:
        raise InputError(
            f"QE executable {exe_name!r} not found on PATH; install Quantum ESPRESSO "
            "(scripts/install_dft.sh: apt-get install quantum-espresso openmpi-bin)"
        )
    argv = [exe]
    if settings.npool > 1:
        argv += ["-nk", str(settings.npool)]
    if settings.mpi_ranks == 1:
        return argv
    mpirun = shutil.which(settings.mpirun)
    if mpirun is None:
        raise InputError(
            f"mpirun {settings.mpirun!r} not found on PATH (apt-get install openmpi-bin)"
        )
    extra = list(settings.mpirun_args)
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-run-as-root" not in extra:
        extra.append("--allow-run-as-root")
    return [mpirun, "-np", str(settings.mpi_ranks), *extra, *argv]


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(
    argv: list[str], cwd: Path, stdin: Path, stdout: Path, settings: QESettings
) -> tuple[int, float, float]:
    """Run ``argv`` with stdin/stdout redirected.

    Returns (exit code, wall seconds, CPU seconds of the process tree); exit code -9: timeout.
    The CPU time is the growth of this process's ``RUSAGE_CHILDREN`` (mpirun waits for its ranks,
    so their time is included); it is exact when nothing else is run from this process meanwhile.
    If this process is interrupted (Ctrl-C, SIGTERM turned into an exception), the whole process
    group of the code is killed before the exception propagates: no orphaned pw.x/ph.x ranks.
    """
    env = dict(os.environ)
    threads = str(settings.omp_threads)
    env.update(OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    start, cpu0 = time.perf_counter(), _children_cpu_s()
    with open(stdin) as fin, open(stdout, "w") as fout:
        # Own session so that a timeout kills mpirun and all its ranks together.
        proc = subprocess.Popen(argv, cwd=cwd, stdin=fin, stdout=fout, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=settings.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = -9
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    return code, time.perf_counter() - start, _children_cpu_s() - cpu0


def resume_state(workdir: Path, pw_input_unchanged: bool) -> tuple[bool, bool]:
    """What an interrupted run in ``workdir`` left that can be continued: (reuse pw.x, recover
    ph.x).

    pw.x is reused when its input is unchanged, its log is complete and clean (``JOB DONE.``,
    converged) and its save directory exists, with no ``CRASH`` file. ph.x is then recovered
    (``recover=.true.``: the electric-field iterations continue from the last one saved) when
    its log stops before ``JOB DONE.`` (killed, not failed) and its restart file exists. A
    32-atom label is about an hour of ph.x on this machine's two cores: a job killed at a
    session or wall-time limit loses at most one iteration instead of the whole run.
    """
    pw_out, ph_out = workdir / "pw.out", workdir / "ph.out"
    if not pw_input_unchanged or (workdir / "CRASH").exists() or not pw_out.is_file():
        return False, False
    if output_problem(pw_out.read_text(errors="replace"), "pw") is not None:
        return False, False
    if not (workdir / "tmp" / f"{PREFIX}.save").is_dir():
        return False, False
    recover = (
        (workdir / "tmp" / "_ph0" / f"{PREFIX}.recover").is_file()
        and ph_out.is_file()
        and "JOB DONE." not in ph_out.read_text(errors="replace")
    )
    return True, recover


def _keep_log(path: Path) -> Path:
    """Rename ``path`` to the first free ``path.interrupted-N``; returns the new name."""
    n = 1
    while path.with_name(f"{path.name}.interrupted-{n}").exists():
        n += 1
    kept = path.with_name(f"{path.name}.interrupted-{n}")
    path.rename(kept)
    return kept


TASKS = ("epsilon", "scf")
"""What a run computes: ``"epsilon"`` (pw.x + ph.x: ε∞ and α, plus the SCF energy, forces and
stress) or ``"scf"`` (pw.x only: energy, forces, stress)."""

_METHODS = {
    "epsilon": "DFPT q=0 electric-field response (ph.x epsil=.true., trans=.false.), clamped ions",
    "scf": "SCF total energy, Hellmann-Feynman forces and stress (pw.x tprnfor, tstress)",
}


def run_epsilon(
    atoms: Atoms,
    workdir: str | os.PathLike[str],
    settings: QESettings | None = None,
    pseudo_cache: str | os.PathLike[str] | None = None,
) -> QEResult:
    """Compute ε∞ and α of ``atoms`` with pw.x + ph.x in ``workdir``.

    The result also carries the pw.x energy, forces and stress of the same SCF.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic insulating structure (positions Å, cell Å).
    workdir : path-like
        Directory for inputs, outputs (kept) and the scratch ``tmp/``.
    settings : QESettings, optional
        Defaults: 44 Ry, shifted 2×2×2, tr2_ph 1e-12, 2 MPI ranks in 2 pools.
    pseudo_cache : path-like, optional
        Where converted UPF files are cached (default :func:`pseudo_cache_dir`).

    Returns
    -------
    QEResult
        ``ok=False`` with a one-line ``error`` naming the log on any failure of the codes.

    Raises
    ------
    InputError
        Non-periodic or empty structure, executables or pseudopotentials missing.
    """
    return run_qe(atoms, workdir, settings, pseudo_cache, task="epsilon")


def run_scf(
    atoms: Atoms,
    workdir: str | os.PathLike[str],
    settings: QESettings | None = None,
    pseudo_cache: str | os.PathLike[str] | None = None,
) -> QEResult:
    """Energy (eV), forces (eV/Å) and stress (eV/Å³) of ``atoms`` from one pw.x SCF.

    Same inputs, settings and failure handling as :func:`run_epsilon` (ph.x is not run;
    ``tr2_ph`` is ignored); ``epsilon_inf`` and ``polarizability_A3`` of the result are None.
    """
    return run_qe(atoms, workdir, settings, pseudo_cache, task="scf")


def run_qe(
    atoms: Atoms,
    workdir: str | os.PathLike[str],
    settings: QESettings | None = None,
    pseudo_cache: str | os.PathLike[str] | None = None,
    *,
    task: str = "epsilon",
) -> QEResult:
    """Run ``task`` (one of :data:`TASKS`) for ``atoms`` in ``workdir``; see :func:`run_epsilon`
    and :func:`run_scf`."""
    if task not in TASKS:
        raise InputError(f"QE task {task!r}: expected one of {list(TASKS)}")
    if len(atoms) == 0 or not all(atoms.pbc) or atoms.cell.rank != 3:
        raise InputError(f"run_{task}: expected a non-empty structure periodic in 3 dimensions")
    programs = ("pw", "ph") if task == "epsilon" else ("pw",)
    settings = (settings or QESettings()).for_structure(atoms)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    pseudos = upf_pseudopotentials(atoms.get_chemical_symbols(), cache_dir=pseudo_cache)
    argv = {p: command_line(settings, p) for p in programs}
    volume = float(atoms.get_volume())
    old_pw_in = (workdir / "pw.in").read_text() if (workdir / "pw.in").is_file() else None
    pw_in = write_pw_input(atoms, settings, pseudos, workdir / "pw.in")
    reuse_pw, recover_ph = resume_state(workdir, old_pw_in == pw_in.read_text())
    inputs = {"pw": pw_in}
    if task == "epsilon":
        inputs["ph"] = write_ph_input(settings, workdir / "ph.in", recover=recover_ph)
    else:
        reuse_pw = recover_ph = False  # an SCF is cheap: a killed one is simply run again
    crash = workdir / "CRASH"
    crash.unlink(missing_ok=True)

    logs = {p: str(workdir / f"{p}.out") for p in programs}
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    versions: dict[str, str | None] = {}
    physics = settings.physics(task)
    metadata: dict[str, Any] = {
        "code": "Quantum ESPRESSO",
        "task": task,
        "method": _METHODS[task],
        "settings": settings.to_dict(),
        "physics": physics,
        "pseudopotentials": {s: p.metadata() for s, p in pseudos.items()},
        "commands": {p: " ".join(a) for p, a in argv.items()},
        "formula": atoms.get_chemical_formula(),
        "volume_A3": volume,
        "provenance": provenance(parameters=settings.to_dict()),
        "loadavg_start": list(os.getloadavg()),
    }
    scf: dict[str, Any] = {}

    def failed(message: str) -> QEResult:
        metadata["versions"] = versions
        metadata["loadavg_end"] = list(os.getloadavg())
        return QEResult(False, None, None, volume, error=message, logs=logs, wall_s=wall,
                        cpu_s=cpu, metadata=metadata)

    if reuse_pw:
        metadata["resumed"] = {
            "pw_reused": True,
            "ph_recovered": recover_ph,
            "note": "an interrupted run was continued: wall_s/cpu_s cover this attempt only",
        }
        if recover_ph:
            kept = _keep_log(Path(logs["ph"]))
            logs["ph_interrupted"] = str(kept)
    for program in programs:
        out = Path(logs[program])
        if program == "pw" and reuse_pw:
            code = 0
        else:
            code, wall[program], cpu[program] = _run(
                argv[program], workdir, inputs[program], out, settings
            )
        text = out.read_text(errors="replace") if out.exists() else ""
        versions[program] = parse_qe_version(text)
        if code == -9:
            return failed(f"{program}.x exceeded timeout_s={settings.timeout_s} (log {out})")
        problem = output_problem(text, program)
        if problem is None and crash.exists():
            problem = f"{program}.x wrote a CRASH file ({crash})"
        if problem is None and code != 0:
            problem = f"{program}.x exited with code {code}"
        if problem is not None:
            if program == "ph" and recover_ph:
                # never recover from these restart files again: the next attempt starts afresh
                shutil.rmtree(workdir / "tmp" / "_ph0", ignore_errors=True)
            return failed(f"{problem} (log {out})")
        if program == "pw":
            try:
                energy, forces, stress = parse_scf(text, len(atoms))
            except ValueError as exc:
                return failed(f"pw.x output unusable: {exc} (log {out})")
            if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
                return failed(f"pw.x gave a non-finite energy or force (log {out})")
            scf = {"energy_eV": energy, "forces_eV_A": forces, "stress_eV_A3": stress}
            # ph.x aborts (MPI_ERR_TRUNCATE) with more pools than irreducible k-points, which
            # happens for symmetric cells: fewer pools for it (execution only, same physics)
            npool = pools_for_k_points(settings, parse_k_point_count(text))
            if "ph" in argv and npool != settings.npool:
                argv["ph"] = command_line(dataclasses.replace(settings, npool=npool), "ph")
                metadata["commands"]["ph"] = " ".join(argv["ph"])

    epsilon = alpha = None
    if task == "epsilon":
        try:
            epsilon = parse_epsilon(Path(logs["ph"]).read_text())
        except ValueError as exc:
            return failed(f"ph.x output unusable: {exc} (log {logs['ph']})")
        finite = bool(np.all(np.isfinite(epsilon)))
        if not finite or np.any(np.linalg.eigvalsh(0.5 * (epsilon + epsilon.T)) < 1.0):
            return failed(f"ph.x gave an unphysical ε∞ (eigenvalue < 1) (log {logs['ph']})")
        alpha = polarizability_from_epsilon(epsilon, volume)
    if not settings.keep_scratch:
        shutil.rmtree(workdir / "tmp", ignore_errors=True)
        shutil.rmtree(workdir / "_ph0", ignore_errors=True)
    metadata["versions"] = versions
    metadata["loadavg_end"] = list(os.getloadavg())
    return QEResult(
        ok=True,
        epsilon_inf=epsilon,
        polarizability_A3=alpha,
        volume_A3=volume,
        logs=logs,
        wall_s=wall,
        cpu_s=cpu,
        metadata=metadata,
        **scf,
    )


def source_string(result: QEResult) -> str:
    """Short one-line description of where a label came from (for ``atoms.info['REF_source']``)."""
    phys = result.metadata.get("physics", {})
    kpts = "x".join(str(k) for k in phys.get("kpts", []))
    common = (f"PBE SPMS-ONCV ecut={phys.get('ecutwfc_ry')}Ry "
              f"k={kpts}{'s' if phys.get('kpts_shifted') else ''}")
    versions = result.metadata.get("versions") or {}
    if result.metadata.get("task") == "scf":
        return f"QE {versions.get('pw') or '?'} pw.x SCF {common}"
    return f"QE {versions.get('ph') or '?'} ph.x DFPT eps_inf {common} tr2_ph={phys.get('tr2_ph')}"


def attach_result(atoms: Atoms, result: QEResult) -> Atoms:
    """Store a successful result on ``atoms`` (in place; returns ``atoms``).

    A dielectric result sets ``info`` keys ``REF_polarizability`` (3×3, Å³) and
    ``REF_epsilon_inf`` (3×3); any result that has the SCF energy and forces attaches them (and
    the stress) as a :class:`~ase.calculators.singlepoint.SinglePointCalculator`, which extxyz
    writes as ``energy``, ``forces`` and ``stress``. ``REF_source`` (str) always.

    Raises
    ------
    ValueError
        If ``result`` is a failed run (a failure is never stored as a number).
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    dielectric = result.polarizability_A3 is not None and result.epsilon_inf is not None
    if not result.ok or not (dielectric or result.has_scf):
        raise ValueError(f"cannot attach a failed QE result: {result.error}")
    if dielectric:
        atoms.info[INFO_POLARIZABILITY] = np.asarray(result.polarizability_A3, dtype=float)
        atoms.info[INFO_EPSILON] = np.asarray(result.epsilon_inf, dtype=float)
    if result.has_scf:
        values: dict[str, Any] = {"energy": float(result.energy_eV),
                                  "forces": np.asarray(result.forces_eV_A, dtype=float)}
        if result.stress_eV_A3 is not None:
            values["stress"] = np.asarray(result.stress_eV_A3, dtype=float)
        atoms.calc = SinglePointCalculator(atoms, **values)
    atoms.info[INFO_SOURCE] = source_string(result)
    return atoms
