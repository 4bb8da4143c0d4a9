"""Inference speed of polarizability models on 432-atom t-Na3SbS4 frames.

Usage::

    .venv/bin/python benchmarks/polarizability.py --frames 200 --threads 2 --out /tmp/bench_alpha
    .venv/bin/python benchmarks/polarizability.py --model out/alpha.pt       # a fitted model
    .venv/bin/python benchmarks/polarizability.py --mace-python /opt/mace-venv/bin/python \\
        --mace-model out/mace_alpha.model                                   # add the MACE peer
    .venv/bin/python benchmarks/polarizability.py --train TRAIN.extxyz \\
        --test heldout=HELDOUT.extxyz series=SERIES.extxyz                  # accuracy tables

What is measured (one process, same frames):

* ``cartesian-tensor`` (:class:`ionraman.polarizability.models.CartesianTensorModel`):
  ``predict_store`` over a trajectory store of MD-like frames (thermal vibrations as a sum of
  random harmonic modes, 0.1 Å rms, atoms wrapped into the cell), float32 and float64, which
  reuses the neighbour list across frames (Verlet skin); and ``predict`` on independently
  rattled frames (a new neighbour list every frame: the worst case). Without ``--model`` an
  ensemble with default hyperparameters is fitted on synthetic 16-atom data first (speed does
  not depend on the fit quality, only on the hyperparameters).
* ``bond-polarizability`` (the physics baseline): ``predict_alpha`` on the same frames.
* ``mace`` (optional peer): mace-torch pins e3nn 0.4.4, which conflicts with the e3nn 0.6 of
  this environment (sevenn), so MACE runs in its own virtual environment as a subprocess:
  ``--mace-python`` is that environment's interpreter (``python -m venv /opt/mace-venv &&
  /opt/mace-venv/bin/pip install mace-torch h5py``), ``--mace-model`` a fitted
  AtomicDielectricMACE model file. The subprocess runs :data:`MACE_SCRIPT` (written to a
  temporary file), which reads the positions and cells of the same store with h5py, evaluates
  α frame by frame with ``mace.calculators.MACECalculator(model_type="DipolePolarizabilityMACE")``
  and prints a JSON line with frames/s; the numbers are merged into the report.

Reported: frames/s (wall), CPU seconds per frame, atom-frames/s, neighbour-list builds, and the
speed-up over the bond model, and the time ratio of the float32 run with and without the
training-domain check (the same model with ``domain`` switched off); with ``--train``/``--test``
one table per test file of the three models' accuracy, training time and inference speed
(float32 ``predict_store`` for ours, MACE timed on ``--mace-frames`` frames of the same store).
δα is α minus the mean of its test file's structures of the same formula, so give each phase's
series its own file.
``--val-fraction`` (default 0) is the validation split of the Cartesian fit, 0 as for the
shipped model (models README). The target for the ML
model is ≥ 100 frames/s for 432 atoms on 2 CPU cores. Wall times on a machine shared with other
jobs are pessimistic; CPU time per frame is the steadier number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import torch

from ionraman.polarizability.bond_model import POLARIZABILITY_KEY, BondPolarizabilityModel
from ionraman.polarizability.labelled import load_labelled
from ionraman.polarizability.models import CartesianTensorModel, fit_ensemble
from ionraman.polarizability.models.neighbours import NEIGHBOUR_BACKEND
from ionraman.polarizability.models.synthetic import reference_bond_model, synthetic_dataset
from ionraman.polarizability.scores import VOIGT_NAMES, alpha_scores, reference_alpha
from ionraman.structures import get_structure
from ionraman.trajectory import TrajectoryWriter

MACE_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import h5py, numpy as np
    from ase import Atoms
    from ase.io import read
    from mace.calculators import MACECalculator

    mode, model, src = sys.argv[1], sys.argv[2], sys.argv[3]
    dtype = "float64" if mode == "predict" else "float32"
    calc = MACECalculator(model_paths=model, model_type="DipolePolarizabilityMACE",
                          device="cpu", default_dtype=dtype)
    if mode == "predict":
        out = []
        for atoms in read(src, index=":"):
            atoms.calc = calc
            alpha = np.asarray(calc.get_property("polarizability", atoms)).reshape(3, 3)
            out.append(alpha.tolist())
        print(json.dumps({"alpha": out}))
        sys.exit(0)
    n_frames = int(sys.argv[4])
    with h5py.File(src, "r", swmr=True) as f:
        numbers = f["numbers"][()]
        n = min(int(f.attrs["n_frames"]), n_frames)
        pos, cells = f["positions"][:n], f["cells"][:n]
    atoms = Atoms(numbers=numbers, positions=pos[0], cell=cells[0], pbc=True)
    atoms.calc = calc
    calc.get_property("polarizability", atoms)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(n):
        atoms.set_cell(cells[k]); atoms.positions = pos[k]
        calc.get_property("polarizability", atoms)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"frames": n, "frames_per_s": n / wall, "cpu_s_per_frame": cpu / n}))
    """
)


def _mace(args: argparse.Namespace, *argv: str) -> dict:
    """Run :data:`MACE_SCRIPT` in the MACE environment; its last stdout line (JSON)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(MACE_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    try:
        proc = subprocess.run(
            [args.mace_python, fh.name, argv[0], str(args.mace_model), *argv[1:]],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
    finally:
        Path(fh.name).unlink()
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-3:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def md_like_frames(n_frames: int, rms_A: float = 0.1, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Positions [S, N, 3], cells [S, 3, 3] and numbers of a vibrating 432-atom t-Na3SbS4."""
    atoms = get_structure("t-Na3SbS4", supercell=(3, 3, 3))
    rng = np.random.default_rng(seed)
    n = len(atoms)
    n_modes = 24
    amp = rng.normal(size=(n_modes, n, 3)) * rms_A * np.sqrt(2.0 / n_modes)
    omega = rng.uniform(0.02, 0.4, size=n_modes)  # rad per frame
    phase = rng.uniform(0, 2 * np.pi, size=n_modes)
    t = np.arange(n_frames)
    disp = np.einsum("sm,mna->sna", np.sin(omega * t[:, None] + phase), amp)
    pos = atoms.positions[None] + disp
    cell = atoms.cell.array
    frac = pos @ np.linalg.inv(cell)
    pos = (frac - np.floor(frac)) @ cell  # wrapped, as many MD codes write them
    cells = np.repeat(cell[None], n_frames, axis=0)
    return pos, cells, atoms.numbers


def rattled_frames(n_frames: int, rattle_A: float = 0.1, seed: int = 1) -> list:
    atoms = get_structure("t-Na3SbS4", supercell=(3, 3, 3))
    out = []
    for k in range(n_frames):
        at = atoms.copy()
        at.rattle(rattle_A, seed=seed + k)
        out.append(at)
    return out


def _timed(fn, n_frames: int) -> dict[str, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "frames_per_s": n_frames / wall,
        "cpu_s_per_frame": cpu / n_frames,
        "atom_frames_per_s": 432 * n_frames / wall,
        "_result": result,
    }


def named_test_files(specs: list[str]) -> dict[str, str]:
    """``--test`` entries (``PATH`` or ``NAME=PATH``) → {name: path}; the name defaults to the
    file's parent folder (``heldout`` for ``…/heldout/labelled.extxyz``)."""
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec).parent.name or Path(spec).stem, spec
        if name in out:
            raise SystemExit(f"--test: the name {name!r} is given twice; use NAME=PATH")
        out[name] = path
    return out


def accuracy(args: argparse.Namespace, report: dict) -> CartesianTensorModel:
    """Scores of the three models on each held-out set (``report["accuracy"]``); the fitted
    (or loaded) Cartesian model, reused for the speed part."""
    train = load_labelled(args.train)
    paths = named_test_files(args.test)
    tests = {name: load_labelled(path) for name, path in paths.items()}
    train_s: dict[str, float] = {}

    t0 = time.perf_counter()
    bond = BondPolarizabilityModel().fit(train)
    train_s["bond-polarizability"] = time.perf_counter() - t0
    if args.model:
        model = CartesianTensorModel.load(args.model)
        train_s["cartesian-tensor"] = float((model.report or {}).get("seconds", float("nan")))
    else:
        t0 = time.perf_counter()
        model = CartesianTensorModel(ensemble_size=args.ensemble, val_fraction=args.val_fraction)
        fit_ensemble(model, train)
        train_s["cartesian-tensor"] = time.perf_counter() - t0
    mace_meta: dict = {}
    if args.mace_python:
        meta_file = Path(args.mace_model).with_name("mace_peer.json")
        mace_meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        train_s["mace"] = mace_meta.get("train_wall_s", float("nan"))

    results: dict[str, dict] = {}
    for name, test in tests.items():
        ref = reference_alpha(test, POLARIZABILITY_KEY)
        pred = model.predict(test, dtype="float64")
        rows: dict[str, dict] = {
            "bond-polarizability": {
                **alpha_scores(test, ref, bond.predict_alpha(test)),
                "train_s": train_s["bond-polarizability"],
            },
            "cartesian-tensor": {
                **alpha_scores(test, ref, pred.alpha),
                "train_s": train_s["cartesian-tensor"],
                "flagged_fraction": pred.flagged_fraction,
            },
        }
        if args.mace_python:
            got = _mace(args, "predict", str(Path(paths[name]).resolve()))
            if "alpha" in got:
                rows["mace"] = {
                    **alpha_scores(test, ref, np.array(got["alpha"])),
                    "train_s": train_s["mace"],
                    "n_train_mace": mace_meta.get("n_train"),
                }
            else:
                rows["mace"] = got
        results[name] = {
            "test_file": paths[name],
            "n_test": len(test),
            "models": rows,
        }
    report["accuracy"] = {"train_file": str(args.train), "n_train": len(train), "tests": results}
    return model


SPEED_KEYS = {
    "bond-polarizability": "bond_model",
    "cartesian-tensor": "cartesian_store_float32",
    "mace": "mace",
}


def accuracy_table(report: dict) -> str:
    """Markdown tables of ``report["accuracy"]`` (one per test set) with each model's 432-atom
    inference speed."""
    acc = report["accuracy"]
    head = (
        "| model | RMSE α xx/yy/zz/yz/xz/xy Å³ | RMSE δα Å³ | R² δα | mean ε∞ rel. err. % "
        "| train s | 432-atom frames/s |\n|---|---|---|---|---|---|---|\n"
    )
    blocks = []
    for test_name, test in acc["tests"].items():
        lines = []
        for name, r in test["models"].items():
            if "error" in r:
                lines.append(f"| {name} | failed: {r['error']} | | | | | |")
                continue
            comps = "/".join(f"{r[f'rmse_{c}_A3']:.2f}" for c in VOIGT_NAMES)
            speed = report.get(SPEED_KEYS.get(name, ""), {}).get("frames_per_s", float("nan"))
            lines.append(
                f"| {name} | {comps} | {r['rmse_delta_A3']:.3f} | {r['r2_delta_alpha']:.3f} | "
                f"{100 * r['mean_eps_inf_rel_error']:+.2f} | {r['train_s']:.0f} | {speed:.3g} |"
            )
        ref = next(iter(test["models"].values()))
        blocks.append(
            f"{test_name}: {acc['n_train']} training / {test['n_test']} test structures; RMS of "
            f"the reference δα {ref.get('rms_delta_ref_A3', float('nan')):.3f} Å³\n"
            + head
            + "\n".join(lines)
        )
    return "\n\n".join(blocks)


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "n_atoms": 432,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "neighbour_backend": NEIGHBOUR_BACKEND,
    }
    if args.train:
        model = accuracy(args, report)
    elif args.model:
        model = CartesianTensorModel.load(args.model)
    else:
        model = CartesianTensorModel(ensemble_size=args.ensemble, max_epochs=30, patience=30)
        fit_ensemble(model, synthetic_dataset(24, seed=0))
    report["model_config"] = model.config.to_dict()

    pos, cells, numbers = md_like_frames(args.frames)
    store = out / "bench_alpha.h5"
    with TrajectoryWriter(store, numbers, metadata={"timestep_fs": 5.0}) as w:
        w.append_many(pos, cells, 5.0 * np.arange(args.frames))
        w.flush()
    model.predict_store(store, write=False, batch_frames=16)  # warm-up
    for dtype in ("float32", "float64"):
        r = _timed(
            lambda dtype=dtype: model.predict_store(
                store, write=False, batch_frames=args.batch_frames, dtype=dtype
            ),
            args.frames,
        )
        res = r.pop("_result")
        r["neighbour_builds"] = res.neighbour_builds
        report[f"cartesian_store_{dtype}"] = r

    # cost of the training-domain check: the same float32 run without it (reference in-process)
    domain, model.domain = model.domain, None
    r = _timed(
        lambda: model.predict_store(
            store, write=False, batch_frames=args.batch_frames, dtype="float32"
        ),
        args.frames,
    )
    r.pop("_result")
    model.domain = domain
    report["cartesian_store_float32_no_domain_check"] = r
    report["cartesian_store_float32"]["time_ratio_vs_no_domain_check"] = (
        r["frames_per_s"] / report["cartesian_store_float32"]["frames_per_s"]
    )

    rattled = rattled_frames(args.rattled_frames)
    r = _timed(lambda: model.predict(rattled, dtype="float32"), len(rattled))
    r.pop("_result")
    report["cartesian_predict_rattled_float32"] = r

    bond: BondPolarizabilityModel = model.baseline or reference_bond_model()
    sub = rattled[: args.bond_frames]
    r = _timed(lambda: bond.predict_alpha(sub), len(sub))
    r.pop("_result")
    report["bond_model"] = r
    for key in ("cartesian_store_float32", "cartesian_store_float64"):
        report[key]["speedup_vs_bond"] = (
            report[key]["frames_per_s"] / report["bond_model"]["frames_per_s"]
        )

    if args.mace_python:
        report["mace"] = _mace(args, "speed", str(store), str(min(args.mace_frames, args.frames)))
    store.unlink()
    (out / "polarizability_bench.json").write_text(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=200, help="MD-like frames in the store")
    p.add_argument("--rattled-frames", type=int, default=20)
    p.add_argument("--bond-frames", type=int, default=10)
    p.add_argument("--batch-frames", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ensemble", type=int, default=4, help="members of the fitted model")
    p.add_argument("--model", help="saved CartesianTensorModel (.pt) instead of a fit")
    p.add_argument("--train", help="labelled extxyz: fit the models on it and score them")
    p.add_argument("--test", nargs="+", metavar="[NAME=]PATH",
                   help="labelled extxyz files scored one by one (held-out data; needs --train)")
    p.add_argument("--mace-python", help="interpreter of a venv with mace-torch")
    p.add_argument("--mace-model", help="AtomicDielectricMACE model file")
    p.add_argument("--mace-frames", type=int, default=20,
                   help="frames of the store timed for MACE (~4 s each on 2 cores)")
    p.add_argument("--val-fraction", type=float, default=0.0,
                   help="validation split of the Cartesian fit (0: as the shipped model)")
    p.add_argument("--out", default=tempfile.gettempdir() + "/ionraman_bench_alpha")
    args = p.parse_args(argv)
    if args.mace_python and not args.mace_model:
        p.error("--mace-python needs --mace-model")
    if bool(args.train) != bool(args.test):
        p.error("--train and --test go together")
    report = run(args)
    print(json.dumps(report, indent=2, default=str))
    if "accuracy" in report:
        print(accuracy_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
