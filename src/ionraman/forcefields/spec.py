"""A force-field registry entry (:class:`ForceFieldSpec`): what a name stands for.

Shared by :mod:`ionraman.forcefields.registry` (the registered names) and
:mod:`ionraman.forcefields.external` (``FAMILY:/path/to/weights`` names), so neither imports the
other's module for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ase.calculators.calculator import BaseCalculator

__all__ = ["Factory", "ForceFieldSpec"]

Factory = Callable[..., BaseCalculator]
"""A callable that builds an ASE calculator; called with ``device=`` (when it accepts it),
``weights=`` (when the entry has a weights file and it accepts it) and the user's options."""


@dataclass(frozen=True)
class ForceFieldSpec:
    """One registry entry.

    Attributes
    ----------
    name
        Registry name (what users type: ``--force-field NAME``).
    factory
        Builds the ASE calculator, see :data:`Factory`.
    description
        One line for listings.
    elements
        Chemical symbols the model covers; ``None`` when unknown (then no check is made).
    reference
        Paper to cite.
    weights
        Weights file (or a zero-argument callable returning it, resolved lazily), or ``None``.
    sha256
        Expected SHA-256 of the weights file as shipped; a different file only warns (the
        hash actually used is always recorded in the provenance).
    dtype
        Floating-point precision the model runs in (``"float32"`` or ``"float64"``).
    default_threads
        torch CPU threads set at load time when the caller gives none; ``None`` keeps torch's
        default (one per physical core).
    packages
        Distributions whose versions go into the provenance.
    kind
        ``"universal"``, ``"student"`` (distilled model), ``"external"`` or ``"custom"``.
    """

    name: str
    factory: Factory
    description: str = ""
    elements: tuple[str, ...] | None = None
    reference: str = ""
    weights: Path | Callable[[], Path] | None = None
    sha256: str | None = None
    dtype: str = "float32"
    default_threads: int | None = None
    packages: tuple[str, ...] = ()
    kind: str = "custom"

    def weights_path(self) -> Path | None:
        """Resolved weights file (no download ever happens)."""
        if self.weights is None:
            return None
        return Path(self.weights() if callable(self.weights) else self.weights)
