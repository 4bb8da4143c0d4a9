"""The default example runs end to end (short MD with the default universal force field)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ionraman.examples import DEMO_STRUCTURE, run_demo
from ionraman.polarizability.bond_model import BondPolarizabilityModel
from ionraman.trajectory import open_trajectory


@pytest.mark.forcefield
def test_demo_runs_resumes_and_computes_spectra_with_a_model_file(tmp_path):
    # A hand-set bond model (Sb–S and Na–S bonds with a length dependence) only exercises the
    # spectrum stage: its numbers are not a fitted physical model.
    model = BondPolarizabilityModel(
        r0_A={("Sb", "S"): 2.4, ("Na", "S"): 2.9, ("W", "S"): 2.2},
        params={
            ("Sb", "S"): np.array([3.0, 4.0, 1.5, 1.0]),
            ("Na", "S"): np.array([1.0, 1.0, 0.5, 0.3]),
            ("W", "S"): np.array([3.0, 4.0, 1.5, 1.0]),
        },
        atom_params={"Na": 0.2, "Sb": 1.0, "S": 2.0, "W": 1.0},
    )
    model_path = model.save(tmp_path / "bond.json")
    out = tmp_path / "demo"
    summary = run_demo(
        out, production_ps=0.1, equilibration_ps=0.02, alpha_model=model_path, quiet=True
    )
    assert summary["structure"] == DEMO_STRUCTURE
    with open_trajectory(out / "md.h5") as traj:
        assert len(traj) == 11  # 0.1 ps every 10 fs, both ends
        alpha = traj.read("polarizability")
    assert alpha.shape == (11, 3, 3) and np.all(np.isfinite(alpha))
    assert (out / "spectrum" / "spectrum.csv").is_file()
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["transport"].startswith("D*(Na)")
    assert on_disk["provenance"]["model_files"]["alpha_model"]["sha256"]
    # a second call finds the finished run and does not recompute it
    mtime = (out / "md.h5").stat().st_mtime_ns
    run_demo(out, production_ps=0.1, equilibration_ps=0.02, quiet=True)
    assert (out / "md.h5").stat().st_mtime_ns == mtime
