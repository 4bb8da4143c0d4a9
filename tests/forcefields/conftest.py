"""Fixtures for force-field tests: a 16-atom t-Na3SbS4 cell, a no-network guard and an analytic
bond-spring model (known force constants) registered as a force field."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator
from ase.neighborlist import neighbor_list

from ionraman.forcefields.registry import register_force_field, unregister_force_field
from ionraman.structures import get_structure


class NetworkAccess(AssertionError):
    """Raised when code under test opens a network connection."""


def _refuse(*args, **kwargs):
    raise NetworkAccess(f"network access attempted: {args[1:] or kwargs}")


@pytest.fixture(scope="module")
def no_network() -> Iterator[None]:
    """Any attempt to open a socket connection fails the test (proves loading is offline)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _refuse)
        mp.setattr(socket.socket, "connect_ex", _refuse)
        mp.setattr(socket, "create_connection", _refuse)
        mp.setattr(socket, "getaddrinfo", _refuse)
        yield


@pytest.fixture
def t16() -> Atoms:
    """Tetragonal Na3SbS4, conventional cell (16 atoms)."""
    atoms = get_structure("t-Na3SbS4", supercell=1)
    assert len(atoms) == 16
    return atoms


class BondSprings(Calculator):
    """E = ½ k Σ (|r_XS| − r0)² over the X–S bonds (X = ``centre``, within 3 Å) of a reference
    structure (fixed pairs); ``k_na`` adds springs of that constant on the Na–S contacts."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, reference: Atoms, k: float, k_na: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        i, j, d = neighbor_list("ijD", reference, 3.0)
        symbols = np.array(reference.get_chemical_symbols())
        keep = np.isin(symbols[i], ["Sb", "Na"] if k_na else ["Sb"]) & (symbols[j] == "S")
        self.pairs = list(zip(i[keep], j[keep], strict=True))
        self.r0 = np.linalg.norm(d[keep], axis=1)
        self.shifts = d[keep] - (reference.positions[j[keep]] - reference.positions[i[keep]])
        self.k = np.where(symbols[i[keep]] == "Sb", k, k_na)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pos = self.atoms.positions
        energy, forces = 0.0, np.zeros_like(pos)
        for (a, b), r0, shift, k in zip(self.pairs, self.r0, self.shifts, self.k, strict=True):
            v = pos[b] + shift - pos[a]
            r = np.linalg.norm(v)
            energy += 0.5 * k * (r - r0) ** 2
            f = -k * (r - r0) * v / r
            forces[b] += f
            forces[a] -= f
        self.results = {"energy": energy, "forces": forces, "stress": np.zeros(6)}


@pytest.fixture
def springs(t16: Atoms) -> Iterator[str]:
    register_force_field("test-springs", lambda: BondSprings(t16, k=15.0), kind="custom",
                         overwrite=True)
    yield "test-springs"
    unregister_force_field("test-springs")


def labelled_by(frames: list[Atoms], calc, force_shift: float = 0.0, energy_shift: float = 0.0
              ) -> list[Atoms]:
    """Copies of ``frames`` with ``calc``'s energy, forces (optionally shifted) and zero stress
    as single-point results."""
    out = []
    for a in frames:
        b = a.copy()
        b.calc = calc
        e, f = b.get_potential_energy(), b.get_forces()
        b.calc = SinglePointCalculator(b, energy=e + energy_shift, forces=f + force_shift,
                                       stress=np.zeros(6))
        out.append(b)
    return out
