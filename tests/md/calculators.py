"""Cheap calculators for MD tests, loaded by path (``calculators.py:factory`` force-field names)."""

from __future__ import annotations

import time

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT


class FreshEMT(Calculator):
    """ASE's EMT rebuilt at every call.

    EMT keeps a neighbour list with a skin between calls, so its forces depend (at the 1e-16
    level) on the history of positions; a resumed run rebuilds it and would differ in the last
    bit. Rebuilding it every call makes the calculator a pure function of the positions, like
    the ML force fields, which is what bit-exact resume tests need.
    """

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, delay_s: float = 0.0, nan_after_calls: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.delay_s = delay_s
        self.nan_after_calls = nan_after_calls
        self.calls = 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if self.delay_s:
            time.sleep(self.delay_s)
        self.calls += 1
        a = self.atoms.copy()
        a.calc = EMT()
        forces = a.get_forces()
        if self.nan_after_calls is not None and self.calls > self.nan_after_calls:
            forces = forces.copy()
            forces[0, 0] = np.nan  # a model that breaks down numerically
        energy = a.get_potential_energy()
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": forces,
            "stress": a.get_stress(),
        }


def fresh_emt() -> FreshEMT:
    return FreshEMT()


def slow_emt() -> FreshEMT:
    """20 ms per call: slow enough to kill a run between two checkpoints."""
    return FreshEMT(delay_s=0.02)


def nan_emt() -> FreshEMT:
    """Forces turn NaN after 5 calls."""
    return FreshEMT(nan_after_calls=5)


def not_a_calculator() -> str:
    return "I am not a calculator"
