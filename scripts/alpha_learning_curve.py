#!/usr/bin/env python
"""Learning curve of the polarizability models on the shipped reference dataset.

Fits the Cartesian tensor model and the bond-polarizability baseline on the first N labelled
training structures (the training file is ordered round-robin over phases, temperatures and
distortions, so every prefix covers all groups evenly) and scores them on the held-out split
(:func:`ionraman.polarizability.scores.alpha_scores`)::

    .venv/bin/python scripts/alpha_learning_curve.py --sizes 8 16 32 64 --out out/alpha_curve

Prints a Markdown table and writes ``OUT/learning_curve.json``. With fewer labels than a size,
that size is skipped. Use it to decide how many DFT labels the model needs: when the held-out
δα error stops falling, more labels of the same kind buy little.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ionraman._io import write_json_atomic
from ionraman.polarizability.bond_model import POLARIZABILITY_KEY, BondPolarizabilityModel
from ionraman.polarizability.models import CartesianTensorModel
from ionraman.polarizability.models.cartesian import load_labelled
from ionraman.polarizability.scores import alpha_scores, reference_alpha

DATA = Path(__file__).resolve().parents[1] / "src" / "ionraman" / "data" / "reference"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=Path, default=DATA / "train" / "labelled.extxyz")
    p.add_argument("--test", type=Path, default=DATA / "heldout" / "labelled.extxyz")
    p.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32, 64])
    p.add_argument("--ensemble", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("out/alpha_curve"))
    args = p.parse_args(argv)

    train, all_test = load_labelled(args.train), load_labelled(args.test)
    sizes = sorted({n for n in args.sizes if n <= len(train)} | {len(train)})
    rows = []
    for n in sizes:
        subset = train[:n]
        # scored on the held-out structures whose elements the training subset covers
        species = {s for a in subset for s in a.get_chemical_symbols()}
        test = [a for a in all_test if set(a.get_chemical_symbols()) <= species]
        ref = reference_alpha(test, POLARIZABILITY_KEY)
        bond = BondPolarizabilityModel().fit(subset)
        t0 = time.perf_counter()
        model = CartesianTensorModel(ensemble_size=args.ensemble, seed=args.seed)
        model.fit(subset)
        fit_s = time.perf_counter() - t0
        row = {
            "n_train": n,
            "n_test": len(test),
            "fit_s": fit_s,
            "cartesian": alpha_scores(test, ref, model.predict(test).alpha),
            "bond": alpha_scores(test, ref, bond.predict_many(test)),
        }
        rows.append(row)
        c, b = row["cartesian"], row["bond"]
        print(
            f"N={n:3d}: cartesian RMSE δα {c['rmse_delta_A3']:.3f} Å³ "
            f"(R² {c['r2_delta_alpha']:.3f}), bond {b['rmse_delta_A3']:.3f} Å³ "
            f"(R² {b['r2_delta_alpha']:.3f}); fit {fit_s:.0f} s",
            flush=True,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        args.out / "learning_curve.json",
        {"train": str(args.train), "test": str(args.test), "n_test": len(all_test), "rows": rows},
    )
    rms = rows[-1]["cartesian"]["rms_delta_ref_A3"] if rows else float("nan")
    print(f"\nHeld-out: {len(all_test)} structures, RMS of the DFT δα {rms:.3f} Å³\n")
    print("| N train | N test | RMSE δα Å³ (model) | R² δα (model) | RMSE α Å³ (model) | "
          "RMSE δα Å³ (bond) | R² δα (bond) | RMSE α Å³ (bond) | fit s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        c, b = r["cartesian"], r["bond"]
        print(
            f"| {r['n_train']} | {r['n_test']} | {c['rmse_delta_A3']:.3f} | "
            f"{c['r2_delta_alpha']:.3f} | {c['rmse_A3']:.2f} | {b['rmse_delta_A3']:.3f} | "
            f"{b['r2_delta_alpha']:.3f} | {b['rmse_A3']:.2f} | {r['fit_s']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
