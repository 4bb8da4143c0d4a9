"""Shared fixtures of the workflow tests: a tiny test calculator, fitted test-only α models and
one finished end-to-end run (in a subprocess, as ``python -m ionraman.workflow`` runs it) that
several tests inspect.

The α models here are fitted to :func:`ionraman.polarizability.models.synthetic.synthetic_dataset`
labels: test fixtures, not physical models.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CALCULATORS = HERE / "calculators.py"


def ff(factory: str) -> str:
    """Force-field name of a factory in ``tests/workflow/calculators.py``."""
    return f"{CALCULATORS}:{factory}"


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cli(config: Path, out: Path, *extra: str, timeout: float = 600, **kw):
    """``python -m ionraman.workflow CONFIG --out OUT -q`` (returns CompletedProcess)."""
    return subprocess.run(
        [sys.executable, "-m", "ionraman.workflow", str(config), "--out", str(out), "-q", *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(),
        **kw,
    )


@pytest.fixture(scope="session")
def bond_model_path(tmp_path_factory) -> Path:
    """Bond-polarizability model (.json) fitted to synthetic labels (test fixture)."""
    from ionraman.polarizability.bond_model import BondPolarizabilityModel
    from ionraman.polarizability.models.synthetic import synthetic_dataset

    data = synthetic_dataset(24, phases=("t-Na3SbS4", "c-Na3SbS4"), seed=0)
    path = tmp_path_factory.mktemp("models") / "bond_test_fixture.json"
    return BondPolarizabilityModel().fit(data).save(path)


MEASURED_CCL4 = Path(__file__).resolve().parents[1] / "data" / "measured" / "ccl4_raj2020.jdx"


def measured_spectrum_csv(path: Path) -> Path:
    """A synthetic 'measured' spectrum (two bands plus a quasi-elastic wing; test fixture)."""
    nu = np.arange(10.0, 700.0, 1.0)
    y = (
        50.0 / (1 + (nu / 25.0) ** 2)
        + 100.0 / (1 + ((nu - 365.0) / 8.0) ** 2)
        + 40.0 / (1 + ((nu - 400.0) / 10.0) ** 2)
    )
    header = "# synthetic test spectrum (not measured data)\nraman_shift_cm1,intensity\n"
    path.write_text(header + "\n".join(f"{a:.1f},{b:.6f}" for a, b in zip(nu, y, strict=True)))
    return path


def e2e_config_text(model: Path, measured: Path, calibration: Path) -> str:
    """The end-to-end test run: 2 candidates x (2 + 1) temperatures x 2 seeds, plus one candidate
    whose force field breaks (its tasks fail; the others must complete)."""
    return textwrap.dedent(
        f"""
        name = "e2e"
        temperatures_K = [700, 1000]
        seeds = [0, 1]
        supercell = 1

        [[candidates]]
        structure = "t-Na3SbS4"

        [[candidates]]
        name = "cubic"
        structure = "c-Na3SbS4"
        composition = "Na3SbS4-cubic"
        temperatures_K = [1000]

        [[candidates]]
        name = "broken"
        structure = "t-Na3SbS4"
        temperatures_K = [1000]
        force_field = "{ff('broken_morse')}"

        [md]
        force_field = "{ff('morse')}"
        equilibration = "0.1ps"
        production = "0.6ps"
        timestep_fs = 2
        sample_every_fs = 6
        checkpoint_every_steps = 50

        [polarizability]
        model = "{model}"

        [analysis]
        resolution_cm1 = 100
        band = "SbS4"
        window_cm1 = [0, 60]

        [correlation]
        n_bootstrap = 500

        [calibration]
        data = "{calibration}"

        [[report.measured_spectra]]
        candidate = "t-Na3SbS4"
        path = "{measured}"
        temperature_K = 700

        # a real compound's published bands in a measured-data format (CCl4, Raj et al. 2020;
        # tests/data/measured/README.md): the overlay must read and render JCAMP-DX
        [[report.measured_spectra]]
        candidate = "cubic"
        path = "{MEASURED_CCL4}"

        [cluster]
        processes = true
        n_workers = 2
        """
    )


@pytest.fixture(scope="session")
def e2e(request, tmp_path_factory, bond_model_path):
    """A finished end-to-end run: ``(run_dir, config_path, completed_process)``.

    Made once per session even though ``tests/report`` loads this conftest a second time (the
    result is kept on the pytest config object)."""
    cached = getattr(request.config, "_ionraman_e2e", None)
    if cached is not None:
        return cached
    base = tmp_path_factory.mktemp("e2e")
    measured = measured_spectrum_csv(base / "measured.csv")
    calib = base / "conductivities.csv"
    calib.write_text(
        "composition,T,value,unit\n"
        "t-Na3SbS4,300,2e-6,S/cm\n"
        "Na3SbS4-cubic,300,1.5,mS/cm\n"
        "not-a-candidate,300,1e-2,S/cm\n"
    )
    config = base / "e2e.toml"
    config.write_text(e2e_config_text(bond_model_path, measured, calib))
    out = base / "run"
    proc = run_cli(config, out)
    request.config._ionraman_e2e = (out, config, proc)
    return out, config, proc
