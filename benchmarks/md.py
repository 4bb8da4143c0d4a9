"""MD cost of the registered universal force fields on t-Na3SbS4: time per step and memory.

Usage::

    .venv/bin/python benchmarks/md.py             # 128 and 432 atoms (2x2x2 and 3x3x3), ~3 min
    .venv/bin/python benchmarks/md.py --quick     # 128 atoms only
    .venv/bin/python benchmarks/md.py --steps 10 --threads 1 --json out/md_bench.json

Every registered force field of kind ``universal`` is loaded once, in this process, and drives
ASE velocity-Verlet MD (2 fs, Maxwell-Boltzmann start at exactly 600 K, seed 0) on
``get_structure("t-Na3SbS4", supercell=...)``: ``--warmup`` untimed steps, then ``--steps`` timed
ones, under ``torch.use_deterministic_algorithms(True, warn_only=True)`` as
:func:`ionraman.md.run_md` runs (``--nondeterministic`` turns it off). In the full run the default
model is also timed without deterministic kernels, which measures what that setting costs.

Columns: ``ms/step`` (mean ± sd over the timed steps; one step = one force call), ``atom-steps/s``
(atoms x steps per second), ``x default`` (time per step over the default model's at the same
size, the reference being measured in this same process), ``peak dRSS MiB`` (peak resident memory
during warm-up and timed steps minus the resident memory before them; the kernel's high-water
mark is reset per case through ``/proc/self/clear_refs`` and freed heap is returned with
``malloc_trim`` first, so each case is measured on its own) and ``load dRSS MiB`` (resident
memory the model load added: weights, code, torch). tracemalloc is not used: it does not see
torch's tensor allocations. The machine load (``os.getloadavg``) is printed with the table;
timings on a shared machine are only comparable within one run.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import statistics
import sys
import time
from contextlib import contextmanager
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.md.verlet import VelocityVerlet

from ionraman.forcefields import (
    DEFAULT_FORCE_FIELD,
    get_force_field,
    list_force_fields,
    load_force_field,
)
from ionraman.md.thermostat import thermalize
from ionraman.structures import get_structure

SIZES = {128: (2, 2, 2), 432: (3, 3, 3)}
STRUCTURE = "t-Na3SbS4"


# ---- memory ------------------------------------------------------------------------------------
def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mib() -> float:
    """Current resident set size, MiB (NaN where /proc is absent)."""
    kib = _status_kib("VmRSS")
    return kib / 1024 if kib is not None else float("nan")


def _release_heap() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextmanager
def peak_rss_delta() -> Any:
    """Yields a dict; on exit ``dict["peak_delta_mib"]`` holds peak RSS minus RSS at entry."""
    _release_heap()
    out: dict[str, float] = {}
    reset = True
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
    except OSError:
        reset = False
    before = rss_mib()
    yield out
    hwm = _status_kib("VmHWM")
    peak = hwm / 1024 if (hwm is not None and reset) else rss_mib()
    out["peak_delta_mib"] = peak - before
    out["peak_mib"] = peak


# ---- torch -------------------------------------------------------------------------------------
@contextmanager
def deterministic(enabled: bool) -> Any:
    """The runner's setting: deterministic torch kernels (warn only), restored afterwards."""
    if "torch" not in sys.modules:
        yield
        return
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    before_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=before_warn)


# ---- one case ----------------------------------------------------------------------------------
def time_md(
    atoms: Atoms, calc: Any, *, steps: int, warmup: int, timestep_fs: float = 2.0, det: bool = True
) -> dict[str, Any]:
    """Velocity-Verlet MD of ``atoms`` with ``calc``: per-step wall times and peak memory."""
    atoms = atoms.copy()
    atoms.calc = calc
    thermalize(atoms, 600.0, np.random.default_rng(0))  # as run_md starts
    dyn = VelocityVerlet(atoms, timestep=timestep_fs * units.fs)
    times = []
    with peak_rss_delta() as mem, deterministic(det):
        atoms.get_forces()  # the integrator's first force call, outside the step timings
        dyn.run(warmup)
        for _ in range(steps):
            t0 = time.perf_counter()
            dyn.run(1)
            times.append(time.perf_counter() - t0)
    epot = atoms.get_potential_energy()
    if not np.isfinite(epot) or not np.isfinite(atoms.get_forces()).all():
        raise RuntimeError("non-finite energy or forces during the benchmark")
    ms = [1e3 * t for t in times]
    mean = statistics.fmean(ms)
    return {
        "n_atoms": len(atoms),
        "steps": steps,
        "warmup": warmup,
        "ms_per_step": mean,
        "ms_per_step_sd": statistics.stdev(ms) if len(ms) > 1 else 0.0,
        "ms_per_step_min": min(ms),
        "atom_steps_per_s": len(atoms) * 1e3 / mean,
        "peak_rss_delta_mib": mem["peak_delta_mib"],
        "peak_rss_mib": mem["peak_mib"],
        "temperature_end_K": float(atoms.get_temperature()),
        "deterministic": det,
    }


def universal_force_fields() -> list[str]:
    """Registered universal models, the default first."""
    names = [n for n in list_force_fields() if get_force_field(n).kind == "universal"]
    return sorted(names, key=lambda n: n != DEFAULT_FORCE_FIELD)


def benchmark_md(
    sizes: tuple[int, ...] = (128, 432),
    force_fields: list[str] | None = None,
    *,
    steps: int = 8,
    warmup: int = 2,
    threads: int | None = None,
    compare_deterministic: bool = True,
    det: bool = True,
    verbose: bool = True,
) -> dict[str, Any]:
    """Run every (force field, size) case in this process; see the module docstring.

    Returns
    -------
    dict
        ``{"structure", "threads", "loadavg_start", "loadavg_end", "cases": [...]}``; each case
        holds the :func:`time_md` fields plus ``force_field``, ``label``, ``load_s``,
        ``load_rss_delta_mib`` and ``ratio_to_default`` (time per step over the default's).
    """
    names = force_fields or universal_force_fields()
    structures = {n: get_structure(STRUCTURE, supercell=SIZES[n]) for n in sizes}
    load_avg_start = os.getloadavg()
    cases = []
    used_threads = None
    for name in names:
        _release_heap()
        rss0 = rss_mib()
        t0 = time.perf_counter()
        loaded = load_force_field(name, device="cpu", threads=threads)
        load_s = time.perf_counter() - t0
        load_rss = rss_mib() - rss0
        used_threads = loaded.threads
        variants = [(name, det)]
        if compare_deterministic and name == DEFAULT_FORCE_FIELD:
            variants.append((f"{name} (nondet.)", not det))
        for n_atoms in sizes:
            for label, d in variants:
                res = time_md(
                    structures[n_atoms], loaded.calculator, steps=steps, warmup=warmup, det=d
                )
                res.update(
                    force_field=name, label=label, load_s=load_s, load_rss_delta_mib=load_rss
                )
                cases.append(res)
                if verbose:
                    print(
                        f"  {label:<32} {n_atoms:4d} atoms  {res['ms_per_step']:8.1f} ms/step  "
                        f"peak dRSS {res['peak_rss_delta_mib']:7.1f} MiB",
                        file=sys.stderr,
                        flush=True,
                    )
        del loaded
    ref = {
        c["n_atoms"]: c["ms_per_step"]
        for c in cases
        if c["force_field"] == DEFAULT_FORCE_FIELD and c["label"] == DEFAULT_FORCE_FIELD
    }
    for c in cases:
        r = ref.get(c["n_atoms"])
        c["ratio_to_default"] = c["ms_per_step"] / r if r else float("nan")
    return {
        "structure": STRUCTURE,
        "threads": used_threads,
        "loadavg_start": load_avg_start,
        "loadavg_end": os.getloadavg(),
        "cases": cases,
    }


def format_table(result: dict[str, Any]) -> str:
    """The cases side by side as a fixed-width text table."""
    head = (
        f"{'force field':<30} {'atoms':>5} {'load s':>6} {'ms/step':>15} {'atom-steps/s':>12} "
        f"{'x default':>9} {'peak dRSS MiB':>13} {'load dRSS MiB':>13}"
    )
    lines = [head, "-" * len(head)]
    for c in sorted(result["cases"], key=lambda c: (c["n_atoms"], c["ratio_to_default"])):
        ms = f"{c['ms_per_step']:.1f} ± {c['ms_per_step_sd']:.1f}"
        lines.append(
            f"{c['label']:<30} {c['n_atoms']:>5} {c['load_s']:>6.1f} {ms:>15} "
            f"{c['atom_steps_per_s']:>12.0f} {c['ratio_to_default']:>9.2f} "
            f"{c['peak_rss_delta_mib']:>13.1f} {c['load_rss_delta_mib']:>13.1f}"
        )
    la0 = ", ".join(f"{v:.2f}" for v in result["loadavg_start"])
    la1 = ", ".join(f"{v:.2f}" for v in result["loadavg_end"])
    c0 = result["cases"][0]
    lines.append(
        f"{result['structure']}, velocity Verlet 2 fs, {c0['warmup']} warm-up + {c0['steps']} "
        f"timed steps, torch threads {result['threads']}, {os.cpu_count()} CPUs; "
        f"load average {la0} (start), {la1} (end)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 atoms only")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per case (default 8)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--force-field", action="append", default=None, help="only these (repeatable)"
    )
    parser.add_argument(
        "--nondeterministic", action="store_true", help="time without deterministic kernels"
    )
    parser.add_argument("--json", default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.steps < 2 or args.warmup < 0:
        parser.error("--steps must be >= 2 and --warmup >= 0")
    sizes = (128,) if args.quick else (128, 432)
    result = benchmark_md(
        sizes,
        args.force_field,
        steps=args.steps,
        warmup=args.warmup,
        threads=args.threads,
        compare_deterministic=not args.quick,
        det=not args.nondeterministic,
    )
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
