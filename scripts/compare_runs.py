"""Compare the results of two screening run directories, table by table and column by column.

    python scripts/compare_runs.py out/before out/after [--rtol 0]

For every table of ``results/`` (``results``, ``candidates``, ``runs``, ``metrics``,
``metric_comparison``) and every JSON file there (``ranking``, ``correlation``,
``calibration``), prints whether the two runs agree and, where they do not, which columns (or
keys) differ and by how much. ``--rtol 0`` (default) asks for bit-identical numbers. Exit status
1 when anything differs: a refactor that should not change results can be checked with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ionraman.workflow.results import read_results


def _column_difference(a: pd.Series, b: pd.Series, rtol: float) -> str | None:
    """None when equal (NaN == NaN), else a short description."""
    if a.dtype.kind in "fiu" and b.dtype.kind in "fiu":
        x, y = a.to_numpy(float), b.to_numpy(float)
        same = (x == y) | (np.isnan(x) & np.isnan(y))
        if rtol > 0:
            same |= np.isclose(x, y, rtol=rtol, atol=0.0)
        if same.all():
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.nanmax(np.abs(x - y)[~same] / np.abs(x)[~same])
        return f"{int((~same).sum())} rows differ, largest relative difference {rel:.3g}"
    sa, sb = a.astype(str), b.astype(str)
    bad = sa != sb
    if not bad.any():
        return None
    k = int(np.flatnonzero(bad.to_numpy())[0])
    return f"{int(bad.sum())} rows differ, e.g. {sa.iloc[k]!r} vs {sb.iloc[k]!r}"


def _json_differences(a: object, b: object, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{path}/{key}: only in {'after' if key not in a else 'before'}")
            else:
                out += _json_differences(a[key], b[key], f"{path}/{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for k, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _json_differences(x, y, f"{path}[{k}]")]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def compare(before: Path, after: Path, rtol: float = 0.0) -> list[str]:
    """Lines describing every difference between the results of two runs (empty: identical)."""
    out = []
    ta, tb = read_results(before), read_results(after)
    for name in sorted(set(ta) | set(tb)):
        if name not in ta or name not in tb:
            out.append(f"{name}: only in {'after' if name not in ta else 'before'}")
            continue
        a, b = ta[name], tb[name]
        if list(a.columns) != list(b.columns):
            out.append(f"{name}: columns differ: {sorted(set(a.columns) ^ set(b.columns))}")
        if len(a) != len(b):
            out.append(f"{name}: {len(a)} vs {len(b)} rows")
            continue
        for col in [c for c in a.columns if c in b.columns]:
            diff = _column_difference(a[col], b[col], rtol)
            if diff is not None:
                out.append(f"{name}.{col}: {diff}")
    for name in ("ranking.json", "correlation.json", "calibration.json"):
        pa, pb = before / "results" / name, after / "results" / name
        if pa.is_file() != pb.is_file():
            out.append(f"{name}: only in {'before' if pa.is_file() else 'after'}")
        elif pa.is_file():
            out += [f"{name}{d}" for d in _json_differences(
                json.loads(pa.read_text()), json.loads(pb.read_text())
            )]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (0: exact)")
    args = parser.parse_args(argv)
    for run in (args.before, args.after):
        if not (run / "results").is_dir():
            print(f"error: {run}: no results/ folder (not a finished run directory)")
            return 2
    diffs = compare(args.before, args.after, args.rtol)
    tables = sorted(read_results(args.before))
    if not diffs:
        print(f"identical: {', '.join(tables)} and the ranking/correlation/calibration JSON")
        return 0
    print("\n".join(diffs))
    return 1


if __name__ == "__main__":
    sys.exit(main())
