"""Subprocess entry point for kill-and-resume tests: ``python md_job.py ARGS.json``."""

from __future__ import annotations

import json
import sys

from ase.io import read

from ionraman.md import run_md

if __name__ == "__main__":
    args = json.loads(open(sys.argv[1]).read())
    atoms = read(args.pop("structure"))
    run_md(atoms, **args)
