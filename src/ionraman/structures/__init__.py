"""Structures: built-in phases, file reading, supercells, dopants/vacancies and validation.

Quick use::

    from ionraman.structures import get_structure, make_supercell, validate_structure
    atoms = get_structure("t-Na3SbS4")
    big = make_supercell(atoms, min_length_A=20.0)
    validate_structure(big, supported_elements={"Na", "Sb", "S"})
"""

from __future__ import annotations

from ionraman.structures.defects import (
    OXIDATION_STATES,
    formal_charge,
    make_vacancies,
    substitute_dopant,
)
from ionraman.structures.io import order_partial_occupancies, read_structure
from ionraman.structures.library import (
    get_structure,
    list_structures,
    load_structure,
    structure_entry,
    structure_names,
)
from ionraman.structures.supercell import make_supercell, perpendicular_widths, supercell_repeat
from ionraman.structures.validate import shortest_distances, validate_structure

__all__ = [
    "OXIDATION_STATES",
    "formal_charge",
    "get_structure",
    "list_structures",
    "load_structure",
    "make_supercell",
    "make_vacancies",
    "order_partial_occupancies",
    "perpendicular_widths",
    "read_structure",
    "shortest_distances",
    "structure_entry",
    "structure_names",
    "substitute_dopant",
    "supercell_repeat",
    "validate_structure",
]
