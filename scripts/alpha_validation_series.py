#!/usr/bin/env python
"""Frames of a spectrum-validation series that resolves the low-frequency window (issue 24).

MD of the DFT-trained student ``nep-na-sb-w-s`` (Bussi NVT, 2 fs, experimental cells) at 600 K
of a conducting cell, W-doped cubic ``c-Na3SbS4:W0.5`` (Na5SbWS8, 15 atoms, one Na vacancy; the
student's NEB barrier of the Na hop into it is below 0.1 eV), and a non-conducting one,
t-Na3SbS4 (16 atoms): 1 ps equilibration, then 3.04 ps production sampled every 40 fs (77 frames
per cell, 11 cm⁻¹ resolution, Nyquist 417 cm⁻¹).

DFT α on consecutive frames of these series against a model's α on the same frames
(``scripts/alpha_spectrum_validation.py --labelled DIR/labelled.extxyz``) is the validation of the
low-frequency fraction. The snapshot file is ordered for labelling in stages: first every other
frame of both cells (80 fs apart: a complete 3 ps series at Nyquist 208 cm⁻¹, where the SbS4
stretching bands alias into the window, the same for model and DFT), then the frames in between
(40 fs). ``info`` keys as in ``scripts/reference_dataset.py`` (``md_store``, ``frame``,
``time_ps``, ``phase``, ``temperature_k``, ``force_field``, ``series``).

Run (minutes), then label in the background (resumable, records committed)::

    python scripts/alpha_validation_series.py
    nohup ionraman reference label src/ionraman/data/reference/series_v2/snapshots.extxyz \\
        --out src/ionraman/data/reference/series_v2 --workdir out/dft/series_v2_work \\
        --kspacing 0.5 --ecutwfc 44 --tr2-ph 1e-12 --ranks 2 --npool 2 \\
        > out/dft/series_v2.log 2>&1 &

(the settings of every other α label here: SPMS ONCV, 44 Ry, shifted k-mesh at 0.5 Å⁻¹).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ase import Atoms
from ase.io import write

from ionraman._io import atomic_path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src/ionraman/data/reference/series_v2"
CELLS = (("c-Na3SbS4:W0.5", "W600"), ("t-Na3SbS4", "t600"))
TEMPERATURE_K, SEED = 600.0, 201
FORCE_FIELD = "nep-na-sb-w-s"
EQUILIBRATION_PS, PRODUCTION_PS, EVERY_FS = 1.0, 3.04, 40.0


def series(phase: str, name: str, md_dir: Path) -> list[Atoms]:
    """The time-ordered frames of one cell's production run (the MD is resumable)."""
    from ionraman import get_structure, run_md
    from ionraman.trajectory import open_trajectory

    store = md_dir / f"{name}_s{SEED}.h5"
    run_md(
        get_structure(phase),
        temperature_k=TEMPERATURE_K,
        time_ps=PRODUCTION_PS,
        force_field=FORCE_FIELD,
        timestep_fs=2.0,
        sample_every_fs=EVERY_FS,
        equilibration_ps=EQUILIBRATION_PS,
        seed=SEED,
        out=store,
        quiet=True,
        threads=1,
    )
    frames = []
    with open_trajectory(store) as traj:
        t0 = float(traj.times_fs[0])
        for k in range(len(traj)):
            a = traj.get_atoms(k)
            out = Atoms(numbers=a.numbers, positions=a.positions, cell=a.cell, pbc=True)
            out.info.update(
                {
                    "snapshot_id": f"{name}/s{SEED}/f{k:05d}",
                    "series": name,
                    "phase": phase,
                    "source": "md",
                    "split": "series",
                    "temperature_k": TEMPERATURE_K,
                    "md_seed": SEED,
                    "frame": k,
                    "time_ps": round((traj.times_fs[k] - t0) / 1e3, 4),
                    "force_field": FORCE_FIELD,
                    "md_store": f"series_v2/{store.name}",
                }
            )
            frames.append(out)
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--md-dir", type=Path, default=ROOT / "out/dft/series_v2_md")
    args = parser.parse_args()
    args.md_dir.mkdir(parents=True, exist_ok=True)
    per_cell = [series(phase, name, args.md_dir) for phase, name in CELLS]
    ordered = [f for frames in per_cell for f in frames[0::2]]
    ordered += [f for frames in per_cell for f in frames[1::2]]
    path = args.out / "snapshots.extxyz"
    with atomic_path(path) as tmp:
        write(tmp, ordered, format="extxyz")
    counts = ", ".join(f"{name}: {len(f)}" for (_, name), f in zip(CELLS, per_cell, strict=True))
    print(f"wrote {len(ordered)} frames ({counts}) -> {path}")


if __name__ == "__main__":
    main()
