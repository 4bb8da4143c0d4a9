#!/usr/bin/env python
"""Table of the reference-polarizability dataset (what is labelled so far) for its README.

Reads ``src/ionraman/data/reference/{train,heldout}/labelled.extxyz`` and the snapshot files,
prints a Markdown table (per split, phase and source: snapshots, labelled, cell size, mean ε∞
diagonal and its spread over snapshots, mean α) and the DFT cost recorded in the result files,
and rewrites the part of
``src/ionraman/data/reference/README.md`` between ``<!-- summary:start -->`` and
``<!-- summary:end -->``.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from ase.io import read

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "ionraman" / "data" / "reference"
START, END = "<!-- summary:start -->", "<!-- summary:end -->"
BASE_START, BASE_END = "<!-- baseline:start -->", "<!-- baseline:end -->"


def group_name(atoms) -> tuple[str, str, int]:
    """(phase, source, atoms in the cell): one table row."""
    info = atoms.info
    if info.get("source") == "md":
        return info["phase"], f"MD {info['temperature_k']:.0f} K", len(atoms)
    return info.get("phase", "?"), "static (rattled/strained)", len(atoms)


def table() -> str:
    lines = ["| split | phase | source | atoms | snapshots | labelled | failed | "
             "mean ε∞ (xx yy zz) | spread of ε∞ diag (std over snapshots, xx yy zz) | "
             "mean α diag Å³ |", "|" + "---|" * 10]
    settings = set()
    for split in ("train", "heldout", "spectrum"):
        snap_file = DATA / f"snapshots_{split}.extxyz"
        if not snap_file.exists():
            continue
        snaps = read(snap_file, index=":")
        lab_file = DATA / split / "labelled.extxyz"
        labelled = read(lab_file, index=":") if lab_file.exists() else []
        summary_file = DATA / split / "summary.json"
        failed_ids = set()
        if summary_file.exists():
            summary = json.loads(summary_file.read_text())
            failed_ids = {snaps[f["index"]].info.get("snapshot_id") for f in summary["failed"]
                          if f["index"] < len(snaps)}
        n_snap, n_failed = defaultdict(int), defaultdict(int)
        for a in snaps:
            g = group_name(a)
            n_snap[g] += 1
            n_failed[g] += a.info.get("snapshot_id") in failed_ids
        eps, alpha = defaultdict(list), defaultdict(list)
        for a in labelled:
            g = group_name(a)
            eps[g].append(np.diag(np.asarray(a.info["REF_epsilon_inf"]).reshape(3, 3)))
            alpha[g].append(np.diag(np.asarray(a.info["REF_polarizability"]).reshape(3, 3)))
            settings.add(a.info.get("REF_settings", "?"))
        for g in sorted(n_snap):
            e = np.array(eps[g]) if eps[g] else None
            fmt = lambda v: " ".join(f"{x:.3f}" for x in v)  # noqa: E731
            lines.append(
                f"| {split} | {g[0]} | {g[1]} | {g[2]} | {n_snap[g]} | {len(eps[g])} | "
                f"{n_failed[g]} | {fmt(e.mean(0)) if e is not None else '–'} | "
                f"{fmt(e.std(0, ddof=1)) if e is not None and len(e) > 1 else '–'} | "
                f"{fmt(np.mean(alpha[g], axis=0)) if alpha[g] else '–'} |")
    text = "\n".join(lines) + "\n"
    if settings:
        text += "\nSettings of the labels: " + "; ".join(f"`{s}`" for s in sorted(settings)) + "\n"
    return text


def cost() -> str:
    """DFT cost recorded in ``<split>/results/*.json``: CPU hours (all ranks, pw.x + ph.x) per
    split and cell size, and the mean per label; the α labels (ε∞, DFPT: every directory with
    records outside ``scf/``) first, then the SCF labels of the force fields
    (``scf/<purpose>/``). A label continued after an interruption records only its last attempt,
    so the sums are lower bounds."""
    lines, total, resumed = [], 0.0, 0
    found = sorted(str(d.parent.relative_to(DATA)) for d in DATA.glob("**/results"))
    splits = sorted(found, key=lambda s: s.startswith("scf"))  # stable: α labels first
    for split in splits:
        per_size: dict[int, list[float]] = defaultdict(list)
        for f in sorted((DATA / split / "results").glob("*.json")):
            result = json.loads(f.read_text())["result"]
            meta = result["metadata"]
            per_size[_n_atoms(meta["formula"])].append(sum(result.get("cpu_s", {}).values()))
            resumed += "resumed" in meta
        for n, cpu in sorted(per_size.items()):
            total += sum(cpu)
            lines.append(f"{split}, {n}-atom cells: {len(cpu)} × {np.mean(cpu):.0f} CPU-s = "
                         f"{sum(cpu) / 3600:.1f} CPU-h")
    return (f"DFT cost in the result records: {total / 3600:.1f} CPU-hours ("
            + "; ".join(lines) + f"); {resumed} labels were continued after an interruption and "
            "count only their last attempt.\n")


def _n_atoms(formula: str) -> int:
    from ase.formula import Formula

    return len(Formula(formula))


def baseline() -> str:
    """Bond-polarizability baseline fitted on the training labels, scored on the held-out ones.

    RMSE over the 6 independent components (Voigt) of α (Å³, whole 16-atom cells) and of the
    fluctuations δα (:mod:`ionraman.polarizability.scores`), with R² of δα.
    """
    from ionraman.polarizability.bond_model import BondPolarizabilityModel
    from ionraman.polarizability.scores import alpha_scores, reference_alpha

    files = {s: DATA / s / "labelled.extxyz" for s in ("train", "heldout")}
    if not all(f.exists() for f in files.values()):
        return "No baseline yet: the training or held-out split has no labels.\n"
    train, test = (read(files[s], index=":") for s in ("train", "heldout"))
    if len(train) < 8 or len(test) < 2:
        return f"No baseline yet: {len(train)} training and {len(test)} held-out labels.\n"
    model = BondPolarizabilityModel().fit(train)
    ref = reference_alpha(test)
    s = alpha_scores(test, ref, model.predict_alpha(test))
    return (
        f"Bond-polarizability baseline (`BondPolarizabilityModel().fit(train)`, {len(train)} "
        f"training labels) on {len(test)} held-out labels: RMSE α {s['rmse_A3']:.2f} Å³ "
        f"(mean α diag {np.trace(ref, axis1=1, axis2=2).mean() / 3:.1f} Å³), RMSE δα "
        f"{s['rmse_delta_A3']:.2f} Å³ (RMS δα {s['rms_delta_ref_A3']:.2f} Å³), R²(δα) "
        f"{s['r2_delta_alpha']:.3f}, mean ε∞ {100 * s['mean_eps_inf_rel_error']:+.1f} %.\n"
    )


def _replace_block(content: str, start: str, end: str, text: str) -> str:
    if start in content and end in content:
        head, rest = content.split(start, 1)
        _, tail = rest.split(end, 1)
        return f"{head}{start}\n{text}{end}{tail}"
    return content


def main() -> int:
    text = table() + "\n" + cost()
    base = baseline()
    print(text)
    print(base)
    readme = DATA / "README.md"
    if readme.exists():
        content = _replace_block(readme.read_text(), START, END, text)
        content = _replace_block(content, BASE_START, BASE_END, base)
        readme.write_text(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
