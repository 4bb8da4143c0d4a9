#!/usr/bin/env python
"""Training-domain check of the learned polarizability model: radius rules side by side.

Fits the model's features once (ridge solver: the feature normalisation and the domain do not
depend on the solver) on ``--train`` and reports, for each ``--quantile`` of the radius rule
(:mod:`ionraman.polarizability.models.domain`; 1 = pooled maximum):

* the radius of each species and, as a stability measure, its range when one training
  structure is left out (jackknife over structures, the features' normalisation kept);
* for each ``--frames NAME=PATH[:STRIDE]`` set (extxyz, or an ionraman trajectory store
  ``.h5``, every STRIDE-th frame): the fraction of atoms outside (ρ > 1) per species, the median
  ρ per species, and the fraction of frames flagged (more than ``--atom-fraction`` of their
  atoms outside).

Example (the models README table)::

    .venv/bin/python scripts/alpha_domain_check.py \\
        --train src/ionraman/data/reference/train/labelled.extxyz \\
        --frames heldout=src/ionraman/data/reference/heldout/labelled.extxyz \\
        --frames t700=out/demo/tasks/t-Na3SbS4/700K/seed0/md/md.h5:40 \\
        --quantile 0.99 0.995 1.0

Prints a Markdown table; ``--json`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.io import read

from ionraman.polarizability.models import CartesianTensorModel, FeatureDomain, fit_ensemble
from ionraman.polarizability.models.domain import nearest_distances


def load_frames(spec: str) -> tuple[str, list[Atoms]]:
    """``NAME=PATH[:STRIDE]`` → (name, frames)."""
    name, _, rest = spec.partition("=")
    path, _, stride_text = rest.partition(":")
    stride = int(stride_text) if stride_text else 1
    if path.endswith(".h5"):
        from ionraman.trajectory import open_trajectory

        with open_trajectory(path) as traj:
            frames = [traj.get_atoms(k) for k in range(0, len(traj), stride)]
    else:
        frames = read(path, index=f"::{stride}")
    return name, frames


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", required=True, type=Path)
    p.add_argument("--frames", action="append", default=[], help="NAME=PATH[:STRIDE]")
    p.add_argument("--quantile", type=float, nargs="+", default=[0.99, 0.995, 1.0])
    p.add_argument("--atom-fraction", type=float, default=0.05)
    p.add_argument("--no-jackknife", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    train = read(args.train, index=":")
    model = CartesianTensorModel(solver="ridge", ensemble_size=1, val_fraction=0.0)
    fit_ensemble(model, train)
    species = model.species
    feats = [model.normalised_features(a) for a in train]
    q = torch.cat([f[0] for f in feats])
    ch = torch.cat([f[1] for f in feats])
    owner = torch.as_tensor(np.repeat(np.arange(len(train)), [len(a) for a in train]))
    kept, dist = FeatureDomain.loso_distances(q, ch, owner, len(species))
    out: dict = {"train": str(args.train), "n_train": len(train), "species": species,
                 "quantiles": args.quantile, "radius": {}, "jackknife": {}, "sets": {}}

    print(f"{len(train)} training structures; species {species}\n")
    print("| quantile | " + " | ".join(f"radius {s} (jackknife range)" for s in species) + " |")
    print("|---" * (len(species) + 1) + "|")
    # leave-one-structure-out distances without each training structure, once for all quantiles
    dropped = [] if args.no_jackknife else [
        FeatureDomain.loso_distances(q[owner != s], ch[owner != s], owner[owner != s],
                                     len(species))[1]
        for s in owner.unique()
    ]
    for qu in args.quantile:
        radii = FeatureDomain.radii(dist, qu)
        out["radius"][qu] = radii
        jk_radii = [FeatureDomain.radii(d_s, qu) for d_s in dropped]
        cells = []
        ranges = []
        for z in range(len(species)):
            if args.no_jackknife or dist[z] is None:
                cells.append(f"{radii[z]:.2f}")
                continue
            jk = [r[z] for r in jk_radii]
            ranges.append([min(jk), max(jk)])
            cells.append(f"{radii[z]:.2f} ({min(jk):.2f}–{max(jk):.2f})")
        out["jackknife"][qu] = ranges
        print(f"| {qu} | " + " | ".join(cells) + " |")

    print("\n| frames | quantile | flagged frames | " +
          " | ".join(f"{s} outside / median ρ" for s in species) + " |")
    print("|---" * (len(species) + 3) + "|")
    for spec in args.frames:
        name, frames = load_frames(spec)
        per_frame = []  # (channels, nearest distance) per frame
        for a in frames:
            qa, ca = model.normalised_features(a)
            d = torch.zeros(len(a), dtype=torch.float64)
            for z in range(len(species)):
                sel = torch.nonzero(ca == z).flatten()
                if sel.numel():
                    d[sel] = nearest_distances(qa[sel].to(torch.float32), kept[z])
            per_frame.append((ca.numpy(), d.numpy()))
        out["sets"][name] = {}
        for qu in args.quantile:
            radii = np.asarray(out["radius"][qu])
            rho = [d / radii[c] for c, d in per_frame]
            flagged = float(np.mean([np.mean(r > 1.0) > args.atom_fraction for r in rho]))
            cells, stats = [], {}
            for z, s in enumerate(species):
                rz = np.concatenate([r[c == z] for (c, _), r in zip(per_frame, rho, strict=True)])
                if rz.size == 0:
                    cells.append("–")
                    continue
                stats[s] = {"outside": float(np.mean(rz > 1)), "median_rho": float(np.median(rz))}
                cells.append(f"{100 * stats[s]['outside']:.1f} % / {stats[s]['median_rho']:.2f}")
            out["sets"][name][qu] = {"n_frames": len(frames), "flagged": flagged, **stats}
            print(f"| {name} ({len(frames)}) | {qu} | {100 * flagged:.1f} % | "
                  + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
