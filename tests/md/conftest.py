"""Shared fixtures for MD tests: small crystals and cheap calculators."""

from __future__ import annotations

from pathlib import Path

import pytest
from ase import Atoms
from ase.build import bulk
from ase.spacegroup import crystal

HERE = Path(__file__).resolve().parent
CALCULATORS = HERE / "calculators.py"
JOB = HERE / "md_job.py"


def t_na3sbs4() -> Atoms:
    """Tetragonal Na3SbS4 (P-42_1c, no. 114), 16 atoms, built independently of ionraman."""
    return crystal(
        ["Na", "Na", "Sb", "S"],
        basis=[(0, 0.5, 0.42066), (0, 0, 0), (0, 0, 0.5), (0.31244, 0.34755, 0.16502)],
        spacegroup=114,
        cellpar=[7.1708, 7.1708, 7.2376, 90, 90, 90],
    )


@pytest.fixture
def na3sbs4() -> Atoms:
    atoms = t_na3sbs4()
    assert len(atoms) == 16
    return atoms


@pytest.fixture
def cu() -> Atoms:
    """32-atom fcc Cu (EMT)."""
    return bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)


@pytest.fixture
def ff():
    """``ff("fresh_emt")`` → force-field name of a factory in ``tests/md/calculators.py``."""

    def name(factory: str) -> str:
        return f"{CALCULATORS}:{factory}"

    return name


@pytest.fixture
def job_script() -> Path:
    return JOB
