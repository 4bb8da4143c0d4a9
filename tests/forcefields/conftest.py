"""Fixtures for force-field tests: a 16-atom t-Na3SbS4 cell and a no-network guard."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from ase import Atoms

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
