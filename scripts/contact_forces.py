#!/usr/bin/env python
"""Do the students' S–S contacts at 900 K hold up against DFT?

For DFT-labelled frames with S–S contacts (< 2.6 Å; e.g. ``scf/al_003``, which
``scripts/student_stability.py --small`` flagged) and every model given, the force RMSE over all
atoms and over the contacting S, and the mean relative force along the contact axes, model and
DFT (:mod:`ionraman.forcefields.contacts`; negative model − DFT: the model's contacts are softer
than DFT's).

    .venv/bin/python scripts/contact_forces.py \
        src/ionraman/data/reference/scf/al_003/labelled.extxyz \
        -m nep-na-sb-w-s -m nep:out/dft/student_v3_s0/nep.txt
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from ionraman.errors import InputError

    try:
        return _compare(argv)
    except InputError as exc:  # a missing file, an unknown model, frames without contacts
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _compare(argv: list[str] | None) -> int:
    from ionraman.forcefields.contacts import contact_errors
    from ionraman.forcefields.registry import load_force_field
    from ionraman.forcefields.student import read_labelled

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("labelled", nargs="+", help="DFT-labelled extxyz")
    ap.add_argument("-m", "--model", action="append", required=True)
    args = ap.parse_args(argv)

    frames = read_labelled(args.labelled)
    print(f"{'model':44s} {'contacts':>8s} {'all':>7s} {'contact S':>10s} {'DFT pair':>9s} "
          f"{'model pair':>10s} {'model-DFT':>16s}")
    for name in args.model:
        e = contact_errors(name, load_force_field(name, threads=1).calculator, frames)
        print(f"{name[-44:]:44s} {e.n_contacts:8d} {e.force_rmse_meV_A:7.1f} "
              f"{e.contact_force_rmse_meV_A:10.1f} {e.pair_force_dft_eV_A:+9.2f} "
              f"{e.pair_force_model_eV_A:+10.2f} "
              f"{e.pair_force_diff_eV_A:+7.2f} ± {e.pair_force_diff_sem_eV_A:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
