"""Are the per-run errors of the low-frequency metrics honest? Measured on seeds.

For every candidate × temperature of a finished ``ionraman run`` with ≥ 2 seeds, compares the
seed-to-seed standard deviation of each panel metric with the RMS per-run error of two methods
applied to each seed's spectrum:

* ``block``: the time-block bootstrap (the workflow's default), and
* ``bins``: per-bin standard errors (Welch segment scatter) propagated linearly with the bins
  assumed independent (the method before the block bootstrap).

A ratio seed-sd / RMS error near 1 means the error describes the scatter; above 1 it
underestimates it. Prints one row per point and metric and the pooled ratios (RMS over points)
per metric, and writes ``<run>/results/metric_errors_on_seeds.csv``.

Usage::

    python scripts/metric_errors_on_seeds.py RUN_DIR
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ionraman.screening.panel import metric_panel
from ionraman.spectra import RamanSpectrum
from ionraman.workflow.config import load_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    args = ap.parse_args()
    cfg = load_config(args.run_dir / "config.toml")
    a = cfg.analysis
    panel = metric_panel(a.channel, a.variant, a.window_cm1, a.reference_max_cm1, a.band)
    rows = []
    for point in sorted((args.run_dir / "tasks").glob("*/*K")):
        seeds = sorted(point.glob("seed*/spectrum/spectrum.h5"))
        if len(seeds) < 2:
            continue
        spectra = [RamanSpectrum.load(p) for p in seeds]
        for d in panel:
            block = [d.evaluate(s) for s in spectra]
            # the same spectra without their time blocks: the per-bin error propagation
            bins = [d.evaluate(replace(s, block_density={})) for s in spectra]
            values = np.array([m.value for m in block])
            rms = lambda ms: math.sqrt(np.mean([m.stderr**2 for m in ms]))  # noqa: E731
            rows.append(
                {
                    "candidate": point.parent.name,
                    "temperature_K": float(point.name[:-1]),
                    "metric": d.name,
                    "n_seeds": len(values),
                    "mean": values.mean(),
                    "std_seeds": values.std(ddof=1),
                    "rms_err_block": rms(block),
                    "rms_err_bins": rms(bins),
                }
            )
    df = pd.DataFrame(rows)
    df["ratio_block"] = df["std_seeds"] / df["rms_err_block"]
    df["ratio_bins"] = df["std_seeds"] / df["rms_err_bins"]
    out = args.run_dir / "results" / "metric_errors_on_seeds.csv"
    df.to_csv(out, index=False)
    with pd.option_context("display.width", 160, "display.max_rows", 500):
        print(df.round(5).to_string(index=False))
        pooled = df.groupby("metric", sort=False).apply(
            lambda g: pd.Series(
                {
                    "points": len(g),
                    "seed_sd_over_block_err": math.sqrt((g["std_seeds"] ** 2).mean())
                    / math.sqrt((g["rms_err_block"] ** 2).mean()),
                    "seed_sd_over_bins_err": math.sqrt((g["std_seeds"] ** 2).mean())
                    / math.sqrt((g["rms_err_bins"] ** 2).mean()),
                }
            ),
            include_groups=False,
        )
        print("\npooled over points (RMS seed sd / RMS per-run error):")
        print(pooled.round(2).to_string())
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
