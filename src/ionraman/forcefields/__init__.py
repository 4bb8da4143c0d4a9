"""Force fields: a registry that returns an ASE calculator by name, offline.

>>> from ionraman.forcefields import get_calculator, list_force_fields
>>> list_force_fields()                                  # doctest: +SKIP
['sevenn-l3i5', 'sevenn-0', 'sevenn-mf0-pbe', 'chgnet', 'sevenn-mf0-r2scan', ...]
>>> atoms.calc = get_calculator("sevenn-l3i5")           # doctest: +SKIP

See :mod:`ionraman.forcefields.registry` for the name forms (registered names,
``FAMILY:/path/to/weights``, ``module:factory``) and :func:`register_force_field` for adding
distilled student models. The package's own entries (universal models of the ``sevenn`` and
``chgnet`` wheels, shipped NEP students) are registered once, when this package is imported.
"""

from ionraman.forcefields.registry import (
    DEFAULT_FORCE_FIELD,
    ForceFieldSpec,
    LoadedForceField,
    check_elements,
    force_field_table,
    get_calculator,
    get_force_field,
    list_force_fields,
    load_force_field,
    register_force_field,
    unregister_force_field,
)

__all__ = [
    "DEFAULT_FORCE_FIELD",
    "ForceFieldSpec",
    "LoadedForceField",
    "check_elements",
    "force_field_table",
    "get_calculator",
    "get_force_field",
    "list_force_fields",
    "load_force_field",
    "register_force_field",
    "unregister_force_field",
]

from ionraman.forcefields.builtin import register_builtins

register_builtins()
