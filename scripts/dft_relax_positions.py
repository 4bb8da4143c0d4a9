#!/usr/bin/env python
"""Relax the atomic positions of a structure with DFT at a fixed cell (QE pw.x forces, ASE BFGS).

The physical Γ phonons of a crystal are those at its equilibrium positions; the built-in cells are
experimental structures, not DFT minima (t-Na3SbS4: residual DFT forces up to 0.18 eV/Å on S,
Sb–S 2.348 Å against DFT's 2.361 Å, which moves the A1 stretch by about 11 cm⁻¹). This script
pre-relaxes with a force field (default: the shipped DFT student) and then takes BFGS steps on
pw.x SCF forces (label settings, k-spacing 0.5 Å⁻¹) until the largest force is below ``--fmax``.
Each step's QE run stays in ``OUT/step_NNN``; the result is ``OUT/<name>_dft_relaxed.extxyz``.

    .venv/bin/python scripts/dft_relax_positions.py t-Na3SbS4 --out out/dft/relax_t
    cp out/dft/relax_t/t-Na3SbS4_dft_relaxed.extxyz src/ionraman/data/reference/scf/relaxed/
    ionraman forcefield audit --phonons \
        src/ionraman/data/reference/scf/relaxed/t-Na3SbS4_dft_relaxed.extxyz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ase.calculators.calculator import Calculator, all_changes


class PwForces(Calculator):
    """ASE calculator: energy (eV) and forces (eV/Å) from one pw.x SCF per call."""

    implemented_properties = ("energy", "forces")

    def __init__(self, workdir: Path, settings, **kwargs) -> None:
        super().__init__(**kwargs)
        self.workdir, self.settings, self.step = workdir, settings, 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        from ionraman.polarizability.reference.qe import run_scf

        super().calculate(atoms, properties, system_changes)
        self.step += 1
        result = run_scf(self.atoms, self.workdir / f"step_{self.step:03d}", self.settings)
        self.results = {"energy": result.energy_eV, "forces": np.asarray(result.forces_eV_A)}
        fmax = np.linalg.norm(self.results["forces"], axis=1).max()
        print(f"step {self.step}: E {result.energy_eV:.6f} eV, max |F| {fmax:.4f} eV/Å",
              flush=True)


def main(argv: list[str] | None = None) -> int:
    from ase.io import write
    from ase.optimize import BFGS

    from ionraman.forcefields import load_force_field
    from ionraman.polarizability.reference.qe import QESettings
    from ionraman.structures import load_structure

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("structure", help="built-in name or structure file")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--prerelax", default="nep-na-sb-w-s", help="force field ('' for none)")
    ap.add_argument("--fmax", type=float, default=0.005, help="eV/Å")
    ap.add_argument("--ranks", type=int, default=2)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    atoms = load_structure(args.structure)
    if args.prerelax:
        atoms.calc = load_force_field(args.prerelax).calculator
        BFGS(atoms, logfile=None).run(fmax=0.001)
    settings = QESettings(kspacing_inv_A=0.5, mpi_ranks=args.ranks, npool=args.ranks)
    atoms.calc = PwForces(args.out, settings)
    BFGS(atoms, trajectory=str(args.out / "bfgs.traj"), logfile=str(args.out / "bfgs.log"),
         maxstep=0.05).run(fmax=args.fmax, steps=30)
    relaxed = atoms.copy()
    relaxed.calc = None
    name = Path(args.structure).stem
    relaxed.info = {"name": f"{name} (DFT-relaxed positions, given cell)"}
    write(args.out / f"{name}_dft_relaxed.extxyz", relaxed, format="extxyz")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
