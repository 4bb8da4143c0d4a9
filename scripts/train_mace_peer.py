#!/usr/bin/env python
"""Train MACE's AtomicDielectricMACE on the reference polarizabilities: the peer model of issue 5.

Runs in the separate MACE environment (``scripts/setup_mace_peer.sh`` makes ``.venv-mace``;
mace-torch pins e3nn 0.4.4, which conflicts with sevenn in ``.venv``)::

    .venv-mace/bin/python scripts/train_mace_peer.py \\
        --train src/ionraman/data/reference/train/labelled.extxyz --out out/mace_peer

What it does
------------
* Copies the training structures into ``OUT/data/`` in MACE's input convention:
  ``REF_polarizability`` (3×3, Å³, as in the ionraman dataset) and a zero ``REF_dipole`` with
  ``config_dipole_weight = 0`` (a periodic cell has no unique dipole; MACE's data loader needs the
  key, and the weight removes it from the loss, ``--dipole_weight 0`` as well).
* Holds out a validation subset of the training file (``--valid-fraction``, fixed seed) for
  MACE's early stopping. The held-out *test* split of the dataset is never seen here: the
  benchmark (``benchmarks/polarizability.py``) scores every model on it.
* Calls ``mace_run_train`` (``--model AtomicDielectricMACE --loss dipole_polar``) in float64 on
  the CPU and writes ``OUT/mace_alpha.model`` plus ``OUT/mace_peer.json`` (hyperparameters,
  wall and CPU time of the training, mace-torch/torch versions, SHA-256 of the model file).

MACE's polarizability loss is the mean squared error of α per atom on the full tensor (it has
no δα term): the peer is trained the way a MACE user would train it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from ase.io import read, write


def _mace_inputs(
    src: Path, dst_dir: Path, valid_fraction: float, seed: int
) -> tuple[Path, Path, list[int]]:
    frames = read(src, index=":")
    if len(frames) < 4:
        sys.exit(f"{src}: {len(frames)} labelled structures; the peer needs at least 4")
    for at in frames:
        if "REF_polarizability" not in at.info:
            sys.exit(f"{src}: a structure has no REF_polarizability")
        alpha = np.asarray(at.info["REF_polarizability"], dtype=float).reshape(3, 3)
        at.info = {
            "REF_polarizability": alpha,
            "REF_dipole": np.zeros(3),
            "config_dipole_weight": 0.0,
            "snapshot_id": str(at.info.get("snapshot_id", "")),
        }
        at.calc = None
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frames))
    n_valid = max(1, round(valid_fraction * len(frames)))
    valid = [frames[i] for i in sorted(order[:n_valid])]
    train = [frames[i] for i in sorted(order[n_valid:])]
    dst_dir.mkdir(parents=True, exist_ok=True)
    train_path, valid_path = dst_dir / "train.xyz", dst_dir / "valid.xyz"
    write(train_path, train, format="extxyz")
    write(valid_path, valid, format="extxyz")
    numbers = sorted({int(z) for at in frames for z in at.numbers})
    return train_path, valid_path, numbers


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", required=True, type=Path, help="labelled extxyz (training split)")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--valid-fraction", type=float, default=0.2, help="as CartesianModelConfig")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--r-max", type=float, default=5.5, help="cutoff, Å (ours: 5.5)")
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--max-L", type=int, default=2)
    p.add_argument("--interactions", type=int, default=2)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--patience", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    train_path, valid_path, numbers = _mace_inputs(
        args.train, out / "data", args.valid_fraction, args.seed
    )
    exe = Path(sys.executable).with_name("mace_run_train")
    cmd = [
        str(exe),
        "--name",
        "mace_alpha",
        "--model",
        "AtomicDielectricMACE",
        "--loss",
        "dipole_polar",
        "--error_table",
        "DipolePolarRMSE",
        "--dipole_weight",
        "0",
        "--polarizability_weight",
        "1",
        "--dipole_key",
        "REF_dipole",
        "--polarizability_key",
        "REF_polarizability",
        # no energies are fitted; MACE still asks for reference atomic energies
        "--E0s",
        "{" + ", ".join(f"{z}: 0.0" for z in numbers) + "}",
        "--train_file",
        str(train_path),
        "--valid_file",
        str(valid_path),
        "--r_max",
        str(args.r_max),
        "--num_channels",
        str(args.channels),
        "--max_L",
        str(args.max_L),
        "--num_interactions",
        str(args.interactions),
        "--batch_size",
        str(args.batch_size),
        "--valid_batch_size",
        str(args.batch_size),
        "--max_num_epochs",
        str(args.epochs),
        "--patience",
        str(args.patience),
        "--lr",
        str(args.lr),
        "--seed",
        str(args.seed),
        "--default_dtype",
        "float64",
        "--device",
        "cpu",
        "--scaling",
        "no_scaling",
        "--work_dir",
        str(out),
        "--model_dir",
        str(out),
        "--log_dir",
        str(out / "logs"),
        "--checkpoints_dir",
        str(out / "checkpoints"),
        "--results_dir",
        str(out / "results"),
        "--save_cpu",
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, env=env, cwd=out)
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        print(f"mace_run_train failed (exit {proc.returncode}); log in {out / 'logs'}")
        return 1
    model = out / "mace_alpha.model"
    if not model.is_file():
        print(f"mace_run_train wrote no {model}")
        return 1
    import mace
    import torch

    meta = {
        "model_file": str(model),
        "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        "train_file": str(args.train.resolve()),
        "n_train": len(read(train_path, index=":")),
        "n_valid": len(read(valid_path, index=":")),
        "hyperparameters": {
            k: getattr(args, k)
            for k in (
                "r_max",
                "channels",
                "max_L",
                "interactions",
                "epochs",
                "patience",
                "batch_size",
                "lr",
                "seed",
                "valid_fraction",
            )
        },
        "train_wall_s": wall,
        "train_cpu_s": (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime),
        "threads": args.threads,
        "versions": {"mace-torch": mace.__version__, "torch": torch.__version__},
        "command": cmd,
    }
    tmp = out / "mace_peer.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2))
    tmp.replace(out / "mace_peer.json")
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    print(f"MACE peer: {model} ({wall:.0f} s wall, {meta['train_cpu_s']:.0f} CPU-s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
