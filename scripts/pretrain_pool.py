#!/usr/bin/env python
"""Frames for pre-training a DFT student, labelled by a universal model (resumable).

The DFT-trained student (``ionraman forcefield train --pretrain POOL ...``) is first trained on
many cheap frames labelled by the universal model closest to DFT (``ionraman forcefield audit``;
7net-l3i5 for Na–Sb–W–S), then fine-tuned on the DFT frames. Frames: every ``--every-fs`` of
MD trajectory stores (e.g. a student's exploration, ``ionraman forcefield explore`` writes them
to ``OUT/md/``) and all frames of extxyz files (e.g. the reference snapshots). Never give the
held-out DFT frames here. ``info["REF_source"]`` names the model and its weights hash.

    .venv/bin/python scripts/pretrain_pool.py out/dft/explore_001/md/*.h5 \\
        src/ionraman/data/reference/snapshots_train.extxyz --model sevenn-l3i5 \\
        --out out/dft/pretrain/pool_l3i5.extxyz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from ase.io import read

    from ionraman.distillation.exploration import trajectory_frames
    from ionraman.distillation.loop import label_frames
    from ionraman.forcefields import get_force_field, load_force_field

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", type=Path, help="MD stores (.h5) and extxyz files")
    ap.add_argument("--model", default="sevenn-l3i5", help="labelling force field")
    ap.add_argument("--every-fs", type=float, default=200.0, help="MD frame spacing, fs")
    ap.add_argument("--out", type=Path, required=True, help="labelled extxyz (resumable)")
    args = ap.parse_args(argv)
    spec = get_force_field(args.model)
    source = f"{args.model} (weights sha256 {str(spec.sha256)[:12]})"
    frames = []
    for path in args.inputs:
        got = (trajectory_frames(path, args.every_fs) if path.suffix == ".h5"
               else read(path, index=":"))
        for a in got:
            a.calc = None
            a.info.setdefault("source", str(path))
            a.info["REF_source"] = source
        frames += got
    print(f"{len(frames)} frames from {len(args.inputs)} inputs -> {args.out}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    label_frames(frames, args.out, lambda: load_force_field(args.model, device="cpu", threads=1),
                 chunk=20, log=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
