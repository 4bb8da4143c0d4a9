#!/usr/bin/env python
"""Do the students' S–S contacts at 900 K hold up against DFT?

Reads DFT-labelled frames (``ionraman reference forces`` output, e.g. the
``scf/al_003`` frames that ``scripts/student_stability.py --small`` flagged) and, for every model,
compares its forces with DFT's on the atoms that matter for the framework:

- ``all``: force RMSE over every atom of the frames (meV/Å);
- ``contact S``: force RMSE over the S atoms in an S–S contact (< 2.6 Å) (meV/Å);
- ``pair force``: for each contact, the relative force along the S–S axis,
  F_rel = (F_i − F_j) · r̂_ij (eV/Å; positive pushes the pair apart), DFT and model, and the mean
  model − DFT difference over contacts (negative: the model lets the pair approach more readily
  than DFT does, i.e. its contacts are softer than first principles).

    .venv/bin/python scripts/contact_forces.py \
        src/ionraman/data/reference/scf/al_003/labelled.extxyz \
        -m nep-na-sb-w-s -m nep:out/dft/student_v3_s0/nep.txt
"""

from __future__ import annotations

import argparse

import numpy as np

CONTACT_A = 2.6


def contacts(atoms) -> list[tuple[int, int, np.ndarray, float]]:
    """S–S pairs closer than 2.6 Å: (i, j, unit vector from j to i, distance Å), minimum image."""
    from ase.neighborlist import neighbor_list

    sym = np.asarray(atoms.get_chemical_symbols())
    i, j, d, vec = neighbor_list("ijdD", atoms, CONTACT_A, self_interaction=False)
    keep = (sym[i] == "S") & (sym[j] == "S") & (i < j)
    # D is r_j - r_i; the axis from j to i is its negative
    return [(int(a), int(b), -v / n, float(n))
            for a, b, v, n in zip(i[keep], j[keep], vec[keep], d[keep], strict=True)]


def pair_force(forces: np.ndarray, pair: tuple[int, int, np.ndarray, float]) -> float:
    """Relative force along the contact axis (eV/Å), positive when it separates the pair."""
    i, j, u, _ = pair
    return float(np.dot(forces[i] - forces[j], u))


def main(argv: list[str] | None = None) -> int:
    from ionraman.forcefields.audit import predict, reference_values
    from ionraman.forcefields.registry import load_force_field
    from ionraman.forcefields.student import read_labelled

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("labelled", nargs="+", help="DFT-labelled extxyz")
    ap.add_argument("-m", "--model", action="append", required=True)
    args = ap.parse_args(argv)

    frames = read_labelled(args.labelled)
    ref = reference_values(frames)
    pairs = [contacts(a) for a in frames]
    n_pairs = sum(len(p) for p in pairs)
    if n_pairs < 2:
        print(f"{len(frames)} frames, {n_pairs} S–S contacts < {CONTACT_A} Å: nothing to compare")
        return 0
    dft_rel = np.array([pair_force(r["forces"], p) for r, ps in zip(ref, pairs, strict=True)
                        for p in ps])
    contact_atoms = [sorted({k for p in ps for k in p[:2]}) for ps in pairs]
    shortest = min((p[3] for ps in pairs for p in ps), default=float("nan"))
    print(f"{len(frames)} frames, {n_pairs} S–S contacts < {CONTACT_A} Å "
          f"(shortest {shortest:.2f} Å); "
          f"DFT pair force {dft_rel.mean():+.2f} ± {dft_rel.std(ddof=1):.2f} eV/Å (mean ± sd)")
    print(f"{'model':44s} {'all':>7s} {'contact S':>10s} {'pair force':>11s} {'model-DFT':>16s}")
    for name in args.model:
        calc = load_force_field(name, threads=1).calculator
        pred, _ = predict(calc, frames, stress=False)
        d_all = np.concatenate([p["forces"] - r["forces"] for p, r in zip(pred, ref, strict=True)])
        d_con = np.concatenate([(p["forces"] - r["forces"])[c]
                                for p, r, c in zip(pred, ref, contact_atoms, strict=True)])
        rel = np.array([pair_force(p["forces"], q) for p, ps in zip(pred, pairs, strict=True)
                        for q in ps])
        diff = rel - dft_rel
        print(f"{name[-44:]:44s} {1e3 * np.sqrt(np.mean(d_all**2)):7.1f} "
              f"{1e3 * np.sqrt(np.mean(d_con**2)):10.1f} {rel.mean():+11.2f} "
              f"{diff.mean():+7.2f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
