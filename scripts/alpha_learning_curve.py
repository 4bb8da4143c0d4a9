#!/usr/bin/env python
"""Learning curve of the polarizability models on the shipped reference dataset.

Fits the Cartesian tensor model (each ``--solver``: ``ridge``, the closed-form linear heads,
and ``adam``, the MLP heads) and the bond-polarizability baseline on the first N labelled
training structures (the training file is ordered round-robin over phases, temperatures and
distortions, so every prefix covers all groups evenly) and scores them on two test sets that
no model sees (:func:`ionraman.polarizability.scores.alpha_scores`): the held-out split
(separate MD runs and distortions) and the labelled frames of the spectrum-validation series
(consecutive frames of separate 600 K runs)::

    .venv/bin/python scripts/alpha_learning_curve.py --sizes 8 16 32 64 --out out/alpha_curve

Prints a Markdown table per test set and writes ``OUT/learning_curve.json``. Sizes above the
number of labels are skipped. ``--val-fraction`` (default 0: the bond baseline uses all N
structures, so the learned model does too; its spread threshold then comes from the training
spreads). Use it to decide how many DFT labels the model needs: when the held-out δα error
stops falling, more labels of the same kind buy little.

``--draws R`` repeats every size R times: draw 0 is the prefix above, draws 1.. are random
subsets of the training labels, and draw d fits with model seed ``--seed + d``. The tables then
show the mean ± standard deviation over draws: the scatter that the choice of the N training
structures and the initialisation cause, against which a change with N has to be judged.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ionraman._io import write_json_atomic
from ionraman.polarizability.bond_model import POLARIZABILITY_KEY, BondPolarizabilityModel
from ionraman.polarizability.labelled import load_labelled
from ionraman.polarizability.models import CartesianTensorModel, fit_ensemble
from ionraman.polarizability.models.cartesian import SOLVERS
from ionraman.polarizability.scores import alpha_scores, reference_alpha

DATA = Path(__file__).resolve().parents[1] / "src" / "ionraman" / "data" / "reference"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=Path, default=DATA / "train" / "labelled.extxyz")
    p.add_argument("--test", type=Path, default=DATA / "heldout" / "labelled.extxyz")
    p.add_argument("--spectrum", type=Path, default=DATA / "spectrum" / "labelled.extxyz",
                   help="second test set (skipped when the file does not exist)")
    p.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32, 64])
    p.add_argument("--solver", nargs="+", default=list(SOLVERS), choices=SOLVERS)
    p.add_argument("--val-fraction", type=float, default=0.0)
    p.add_argument("--ensemble", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--draws", type=int, default=1,
                   help="training subsets per size (0: the prefix; others random)")
    p.add_argument("--out", type=Path, default=Path("out/alpha_curve"))
    args = p.parse_args(argv)

    train = load_labelled(args.train)
    tests = {"held-out": load_labelled(args.test)}
    if args.spectrum.is_file():
        tests["spectrum series"] = load_labelled(args.spectrum)
    sizes = sorted({n for n in args.sizes if n <= len(train)} | {len(train)})
    models = ["bond", *args.solver]
    rng = np.random.default_rng(args.seed)
    rows = []
    for n in sizes:
        for draw in range(args.draws):
            take = range(n) if draw == 0 else sorted(rng.choice(len(train), n, replace=False))
            row = fit_and_score([train[i] for i in take], tests, args, seed=args.seed + draw)
            rows.append({"n_train": n, "draw": draw, "train_indices": list(map(int, take)), **row})
            print(f"N={n:3d} draw {draw}: " + "; ".join(
                f"{name} RMSE δα " + " ".join(f"{m} {s[m]['rmse_delta_A3']:.3f}" for m in models)
                for name, s in row["scores"].items()
            ), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        args.out / "learning_curve.json",
        {"train": str(args.train), "tests": {k: len(v) for k, v in tests.items()},
         "val_fraction": args.val_fraction, "ensemble": args.ensemble, "draws": args.draws,
         "rows": rows},
    )
    for name in tests:
        rms = rows[-1]["scores"][name]["bond"]["rms_delta_ref_A3"]
        print(f"\n{name}: RMS of the DFT δα {rms:.3f} Å³; RMSE δα Å³ (R² δα) [RMSE α Å³]"
              + (f", mean ± std over {args.draws} draws" if args.draws > 1 else "") + "\n")
        print("| N train | N test | " + " | ".join(models) + " |")
        print("|---|---|" + "---|" * len(models))
        for n in sizes:
            scores = [r["scores"][name] for r in rows if r["n_train"] == n]
            n_test = "/".join(sorted({str(s["n_test"]) for s in scores}))
            cells = [_cell([s[m] for s in scores]) for m in models]
            print(f"| {n} | {n_test} | " + " | ".join(cells) + " |")
    return 0


def fit_and_score(subset: list, tests: dict, args: argparse.Namespace, seed: int) -> dict:
    """Fit the bond model and each solver on ``subset``; score them on every test set."""
    species = {s for a in subset for s in a.get_chemical_symbols()}
    fitted, fit_s = {"bond": BondPolarizabilityModel().fit(subset)}, {"bond": 0.0}
    for solver in args.solver:
        t0 = time.perf_counter()
        model = CartesianTensorModel(
            solver=solver, ensemble_size=args.ensemble, seed=seed, val_fraction=args.val_fraction,
        )
        fit_ensemble(model, subset)
        fitted[solver], fit_s[solver] = model, time.perf_counter() - t0
    scores = {}
    for name, frames in tests.items():
        # scored on the test structures whose elements the training subset covers
        test = [a for a in frames if set(a.get_chemical_symbols()) <= species]
        ref = reference_alpha(test, POLARIZABILITY_KEY)
        scores[name] = {"n_test": len(test)}
        for m, model in fitted.items():
            pred = model.predict_alpha(test) if m == "bond" else model.predict(test).alpha
            scores[name][m] = alpha_scores(test, ref, pred)
    return {"seed": seed, "fit_s": fit_s, "scores": scores}


def _cell(scores: list[dict]) -> str:
    """Table cell: RMSE δα (R² δα) [RMSE α], as mean ± std when there are several draws."""
    if len(scores) == 1:
        x = scores[0]
        return f"{x['rmse_delta_A3']:.3f} ({x['r2_delta_alpha']:.3f}) [{x['rmse_A3']:.2f}]"
    d, r2, a = (np.array([x[k] for x in scores])
                for k in ("rmse_delta_A3", "r2_delta_alpha", "rmse_A3"))
    return (f"{d.mean():.2f} ± {d.std(ddof=1):.2f} ({r2.mean():.2f}) "
            f"[{a.mean():.1f} ± {a.std(ddof=1):.1f}]")


if __name__ == "__main__":
    sys.exit(main())
