#!/usr/bin/env python
"""Relax the built-in phases whose coordinates are not experimental; store them in the data files.

Run once (minutes on a laptop CPU); the library only reads the stored coordinates::

    .venv/bin/python scripts/relax_builtin.py            # all three
    .venv/bin/python scripts/relax_builtin.py t-Na3SbS4  # one

Force field: SevenNet ``7net-mf-0`` with ``modal="R2SCAN"`` (ionraman's default universal model),
loaded offline from the weights shipped in the ``sevenn`` wheel.

* ``t-Na3SbS4``: internal coordinates start from t-Na3PS4 (Jansen & Henseler 1992, Sb on the P 2b
  site) and are relaxed at the fixed experimental cell (Hayashi et al. 2019), space group P-42_1c
  kept with :class:`ase.constraints.FixSymmetry`, BFGS to fmax 0.01 eV/Å.
* ``c-Na3PSe4``, ``c-Na3SbSe4``: start from c-Na3PS4 / c-Na3SbS4 with Se on the S site; cell and
  positions relaxed together (FrechetCellFilter + FixSymmetry keeps I-43m), to fmax 0.01 eV/Å.
  As calibration the same cell relaxation is run on the sulfide parent, whose experimental cell is
  known, and the force field's lattice-constant error there is stored alongside.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

import numpy as np
import spglib
from ase import Atoms
from ase.constraints import FixSymmetry
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS
from ase.spacegroup import crystal

from ionraman._io import file_sha256, package_versions, write_text_atomic
from ionraman.structures import shortest_distances, structure_entry
from ionraman.structures.library import data_dir

MODEL = "7net-mf-0"
MODAL = "R2SCAN"
FMAX = 0.01  # eV/Å
SYMPREC = 1e-3
MAX_STEPS = 1000
EV_A3_TO_GPA = 160.21766208
ALL = ("t-Na3SbS4", "c-Na3PSe4", "c-Na3SbSe4")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(ALL)} (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write data files")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(ALL))
    if unknown:
        parser.error(f"unknown name(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")

    calc, weights = _calculator()
    for name in args.names or ALL:
        if name == "t-Na3SbS4":
            entry = relax_t_na3sbs4(calc, weights)
        else:
            parent = {"c-Na3PSe4": "c-Na3PS4", "c-Na3SbSe4": "c-Na3SbS4"}[name]
            entry = relax_selenide(name, parent, calc, weights)
        text = json.dumps(entry, indent=2, ensure_ascii=False) + "\n"
        path = data_dir() / f"{name}.json"
        print(json.dumps(entry["relaxation"], indent=2, ensure_ascii=False))
        if not args.dry_run:
            write_text_atomic(path, text)
            print(f"wrote {path}")
    return 0


def _calculator() -> tuple[Any, str]:
    from sevenn import _const
    from sevenn.calculator import SevenNetCalculator

    calc = SevenNetCalculator(MODEL, modal=MODAL, device="cpu")
    return calc, _const.SEVENNET_MF_0


def _build(sg: dict[str, Any], cellpar: list[float], sites: list[dict[str, Any]]) -> Atoms:
    return crystal(
        [s["element"] for s in sites],
        basis=[s["frac"] for s in sites],
        spacegroup=sg["number"],
        setting=sg.get("setting", 1),
        cellpar=cellpar,
        primitive_cell=False,
    )


def _cellpar(cell: dict[str, float]) -> list[float]:
    a = cell["a_A"]
    return [
        a,
        cell.get("b_A", a),
        cell.get("c_A", a),
        cell.get("alpha_deg", 90.0),
        cell.get("beta_deg", 90.0),
        cell.get("gamma_deg", 90.0),
    ]


def _spacegroup(atoms: Atoms) -> int:
    data = spglib.get_symmetry_dataset(
        (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers), symprec=SYMPREC
    )
    return int(data.number)


def _site_coordinates(atoms: Atoms, sites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Relaxed representative coordinates of each Wyckoff site (first atom of each kind)."""
    kinds = np.asarray(atoms.arrays["spacegroup_kinds"])
    frac = atoms.get_scaled_positions(wrap=True)
    out = []
    for k, site in enumerate(sites):
        xyz = frac[int(np.flatnonzero(kinds == k)[0])]
        # values held by symmetry (0, 1/2, 1/4 ...) come back exact to ~1e-9: snap them
        snapped = [_snap(float(v)) for v in xyz]
        snapped = [0.0 if v == 1.0 else v for v in snapped]
        out.append({**site, "frac": snapped})
    return out


def _snap(v: float) -> float:
    eighths = round(v * 8)
    return eighths / 8 if abs(v * 8 - eighths) < 1e-6 else round(v, 6)


def _stats(atoms: Atoms, cation: str, anion: str) -> dict[str, float]:
    return {
        f"{cation}_{anion}_A": round(float(np.mean(shortest_distances(atoms, cation, anion))), 4),
        f"Na_{anion}_min_A": round(float(np.min(shortest_distances(atoms, "Na", anion))), 4),
    }


def _relax(atoms: Atoms, calc: Any, *, cell: bool) -> tuple[Atoms, int, float]:
    atoms = atoms.copy()
    atoms.calc = calc
    atoms.set_constraint(FixSymmetry(atoms, symprec=SYMPREC))
    target = FrechetCellFilter(atoms) if cell else atoms
    opt = BFGS(target, logfile="-")
    converged = opt.run(fmax=FMAX, steps=MAX_STEPS)
    if not converged:
        raise RuntimeError(f"not converged in {MAX_STEPS} steps")
    fmax = float(np.abs(atoms.get_forces()).max())
    return atoms, int(opt.nsteps), fmax


def _common(weights: str) -> dict[str, Any]:
    return {
        "model": MODEL,
        "modal": MODAL,
        "model_file_sha256": file_sha256(weights),
        "optimizer": "ase.optimize.BFGS",
        "fmax_eV_A": FMAX,
        "symmetry": f"ase.constraints.FixSymmetry (symprec {SYMPREC})",
        "date": datetime.now(UTC).date().isoformat(),
        "script": "scripts/relax_builtin.py",
        "packages": package_versions(),
    }


def relax_t_na3sbs4(calc: Any, weights: str) -> dict[str, Any]:
    entry = structure_entry("t-Na3SbS4")
    parent = structure_entry("t-Na3PS4")
    sites = [
        {**s, "element": "Sb", "label": "Sb"} if s["element"] == "P" else dict(s)
        for s in parent["sites"]
    ]
    start = _build(entry["spacegroup"], _cellpar(entry["cell"]), sites)
    before = _stats(start, "Sb", "S")
    start.calc = calc
    e0 = float(start.get_potential_energy())
    relaxed, steps, fmax = _relax(start, calc, cell=False)
    after = _stats(relaxed, "Sb", "S")
    sg = _spacegroup(relaxed)
    assert sg == 114, sg
    stress = relaxed.get_stress(voigt=True)[:3]
    pressure_GPa = -float(np.mean(stress)) * EV_A3_TO_GPA
    # For comparison only: the force field's own equilibrium cell (not stored as the structure).
    eq, _, _ = _relax(relaxed, calc, cell=True)
    a_ff, _, c_ff = eq.cell.cellpar()[:3]

    new = {k: v for k, v in entry.items() if not k.startswith("_")}
    new["sites"] = _site_coordinates(relaxed, sites)
    new["relaxation"] = {
        "summary": f"relaxed at fixed experimental cell ({MODEL} {MODAL})",
        "what": "internal coordinates only; cell fixed at the experimental a, c",
        "initial_coordinates": "t-Na3PS4 (Jansen & Henseler 1992) with Sb on the P 2b site",
        **_common(weights),
        "steps": steps,
        "final_max_force_eV_A": round(fmax, 5),
        "energy_initial_eV": round(e0, 5),
        "energy_final_eV": round(float(relaxed.get_potential_energy()), 5),
        "before": before,
        "after": after,
        "spacegroup_after": sg,
        "pressure_at_experimental_cell_GPa": round(pressure_GPa, 3),
        "force_field_equilibrium_cell_A": {"a": round(float(a_ff), 4), "c": round(float(c_ff), 4)},
    }
    new["notes"] = (
        "Cell from experiment; the t-Na3PS4 coordinates with Sb on 2b give Sb-S = "
        f"{before['Sb_S_A']} Å (too short), so the internal coordinates were relaxed with the "
        f"default force field at the fixed cell: Sb-S = {after['Sb_S_A']} Å after relaxation."
    )
    return new


def relax_selenide(name: str, parent_name: str, calc: Any, weights: str) -> dict[str, Any]:
    parent = structure_entry(parent_name)
    cation = "P" if "P" in parent["formula"].replace("Na", "") else "Sb"
    sites = [
        {**s, "element": "Se", "label": "Se"} if s["element"] == "S" else dict(s)
        for s in parent["sites"]
    ]
    # Calibration: force-field equilibrium cell of the sulfide parent vs its experimental cell.
    a_exp = parent["cell"]["a_A"]
    parent_atoms = _build(parent["spacegroup"], _cellpar(parent["cell"]), parent["sites"])
    parent_eq, _, _ = _relax(parent_atoms, calc, cell=True)
    a_parent_ff = float(parent_eq.cell.cellpar()[0])

    # Start the selenide from the parent scaled by the Se/S ionic-radius ratio (1.98/1.84).
    a0 = a_exp * 1.98 / 1.84
    start = _build(parent["spacegroup"], [a0, a0, a0, 90, 90, 90], sites)
    relaxed, steps, fmax = _relax(start, calc, cell=True)
    sg = _spacegroup(relaxed)
    assert sg == 217, sg
    a = float(relaxed.cell.cellpar()[0])
    new_sites = _site_coordinates(relaxed, sites)
    stats = _stats(relaxed, cation, "Se")
    formula = parent["formula"].replace("S4", "Se4")
    pressure_GPa = -float(np.mean(relaxed.get_stress(voigt=True)[:3])) * EV_A3_TO_GPA
    return {
        "name": name,
        "formula": formula,
        "description": f"Cubic {formula} (anti-Tl3VS4 type, like c-{parent['formula']}); "
        "ordered model with Na on 6b; cell and Se coordinate relaxed with the default force field.",
        "spacegroup": parent["spacegroup"],
        "cell": {"a_A": round(a, 4)},
        "sites": new_sites,
        "temperature_K": None,
        "dopant_host": cation,
        "source": {
            "reference": f"Force-field relaxation ({MODEL}, modal {MODAL}), 0 K, this work "
            "(scripts/relax_builtin.py); structure type from the literature (anti-Tl3VS4, I-43m)",
            "what": "cell and Se coordinate are force-field values, not experimental",
        },
        "relaxation": {
            "summary": f"cell and positions relaxed ({MODEL} {MODAL}, 0 K)",
            "what": "lattice constant and Se 8c x; I-43m kept",
            "initial_coordinates": f"{parent_name} with Se on the S site, a scaled by 1.98/1.84",
            **_common(weights),
            "cell_filter": "ase.filters.FrechetCellFilter",
            "steps": steps,
            "final_max_force_eV_A": round(fmax, 5),
            "final_pressure_GPa": round(pressure_GPa, 4),
            "spacegroup_after": sg,
            "after": stats,
            "calibration_on_parent": {
                "structure": parent_name,
                "a_experimental_A": a_exp,
                "a_force_field_A": round(a_parent_ff, 4),
                "relative_error": round(a_parent_ff / a_exp - 1.0, 4),
            },
        },
        "notes": (
            "Lattice constant is the force field's 0 K value (no thermal expansion). Compare with "
            "room-temperature experiment before quantitative use; the sulfide parent's force-field "
            "cell error is given under relaxation.calibration_on_parent."
        ),
    }


if __name__ == "__main__":
    sys.exit(main())
