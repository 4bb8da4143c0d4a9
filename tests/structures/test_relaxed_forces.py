"""The stored relaxed coordinates are force-field minima (loads SevenNet: slow)."""

import numpy as np
import pytest

from ionraman.structures import get_structure, structure_entry


@pytest.mark.slow
@pytest.mark.forcefield
def test_stored_relaxed_structures_are_minima() -> None:
    calculator = pytest.importorskip("sevenn.calculator")
    calc = calculator.SevenNetCalculator("7net-mf-0", modal="R2SCAN", device="cpu")
    for name in ("t-Na3SbS4", "c-Na3PSe4", "c-Na3SbSe4"):
        atoms = get_structure(name)
        atoms.calc = calc
        fmax = float(np.abs(atoms.get_forces()).max())
        # stored coordinates are rounded to 1e-6 (fractional): the force stays below the criterion
        assert fmax < structure_entry(name)["relaxation"]["fmax_eV_A"], (name, fmax)
