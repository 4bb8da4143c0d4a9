"""Universal models that need a local weights file: MACE-MP, MatterSim, ORB, UMA.

Their packages download weights on first use, which does not work on offline compute nodes.
ionraman never triggers those downloads: the user downloads the weights elsewhere and passes
``FAMILY:/path/to/weights`` (CLI ``--force-field mace:/data/mace-mpa-0-medium.model``).
These packages are optional and not installed with ionraman; a clear one-line
:class:`~ionraman.errors.InputError` names the missing package.

=========  =====================  ============================================================
family     package (pip)          notes
=========  =====================  ============================================================
mace       mace-torch             any MACE model file (MACE-MP-0, MPA-0, OMAT-0); float64 default
mattersim  mattersim              MatterSim v1 checkpoints (``*.pth``)
orb        orb-models             option ``model=`` names the architecture, e.g.
                                  ``orb_v3_conservative_inf_omat`` (the default)
uma        fairchem-core          option ``task_name=`` (default ``"omat"`` for inorganic solids)
=========  =====================  ============================================================

Aliases: ``mace-mp``, ``mace-mpa``, ``mace-omat`` → mace; ``fairchem`` → uma; ``orb-v3-…``
names select that ORB architecture (``orb-v3-conservative-inf-omat:/path/ckpt``). Model names as
the packages spell them (``mace-mpa-0-medium``, ``mattersim-v1.0.0-5m``, ``uma-s-1p1``) are
recognised too: alone they raise the offline message, with ``:/path`` they load that file.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ase.calculators.calculator import BaseCalculator

from ionraman.errors import InputError
from ionraman.forcefields.spec import ForceFieldSpec


@dataclass(frozen=True)
class ExternalFamily:
    """A universal-model family loaded from a user-supplied weights file."""

    module: str  # importable top-level module
    pip: str  # distribution to install
    builder: Callable[..., BaseCalculator]
    description: str
    reference: str
    dtype: str = "float32"
    elements: Callable[[Path], tuple[str, ...]] | None = None  # elements a weights file covers
    torch: bool = True  # runs on torch (threads and device are set through it)


def _mace(*, weights: Path, device: str = "cpu", default_dtype: str = "float64", **kw: Any):
    from mace.calculators import MACECalculator

    return MACECalculator(
        model_paths=str(weights), device=device, default_dtype=default_dtype, **kw
    )


def _mattersim(*, weights: Path, device: str = "cpu", **kw: Any):
    from mattersim.forcefield import MatterSimCalculator
    from mattersim.forcefield.potential import Potential

    potential = Potential.from_checkpoint(load_path=str(weights), device=device, **kw)
    return MatterSimCalculator(potential=potential, device=device)


def _orb(
    *,
    weights: Path,
    device: str = "cpu",
    model: str = "orb_v3_conservative_inf_omat",
    precision: str = "float32-high",
    **kw: Any,
):
    from orb_models.forcefield import pretrained
    from orb_models.forcefield.calculator import ORBCalculator

    loader = getattr(pretrained, model.replace("-", "_"), None)
    if loader is None:
        raise InputError(f"orb-models has no pretrained model {model!r}")
    orbff = loader(weights_path=str(weights), device=device, precision=precision, **kw)
    return ORBCalculator(orbff, device=device)


def _uma(*, weights: Path, device: str = "cpu", task_name: str = "omat", **kw: Any):
    from fairchem.core import FAIRChemCalculator, pretrained_mlip

    predictor = pretrained_mlip.load_predict_unit(str(weights), device=device, **kw)
    return FAIRChemCalculator(predictor, task_name=task_name)


def _nep(*, weights: Path, **kw: Any):
    from ionraman.forcefields.nep import nep_calculator

    return nep_calculator(weights, **kw)


def _nep_elements(weights: Path) -> tuple[str, ...]:
    from ionraman.forcefields.nep import nep_elements

    return nep_elements(weights)


EXTERNAL_FAMILIES: dict[str, ExternalFamily] = {
    "nep": ExternalFamily(
        "calorine",
        "calorine",
        _nep,
        "NEP model from a nep.txt file (GPUMD format; calorine CPUNEP)",
        "Z. Fan et al., Phys. Rev. B 104, 104309 (2021) (NEP)",
        dtype="float64",
        elements=_nep_elements,
        torch=False,
    ),
    "mace": ExternalFamily(
        "mace",
        "mace-torch",
        _mace,
        "MACE model from a local file",
        "I. Batatia et al., arXiv:2401.00096 (MACE-MP-0)",
        dtype="float64",
    ),
    "mattersim": ExternalFamily(
        "mattersim",
        "mattersim",
        _mattersim,
        "MatterSim model from a local checkpoint",
        "H. Yang et al., arXiv:2405.04967 (MatterSim)",
    ),
    "orb": ExternalFamily(
        "orb_models",
        "orb-models",
        _orb,
        "ORB model from a local checkpoint",
        "B. Rhodes et al., arXiv:2504.06231 (Orb-v3)",
    ),
    "uma": ExternalFamily(
        "fairchem",
        "fairchem-core",
        _uma,
        "UMA (fairchem) model from a local checkpoint",
        "B. M. Wood et al., arXiv:2506.23971 (UMA)",
    ),
}
_ALIASES = {
    "mace-mp": "mace",
    "mace-mp-0": "mace",
    "mace-mpa": "mace",
    "mace-omat": "mace",
    "fairchem": "uma",
    "matter-sim": "mattersim",
}


# Model names as the packages spell them ("mace-mpa-0-medium", "mattersim-v1.0.0-5m", "uma-s-1p1",
# "orb_v3_direct_20_omat"): recognised so that they get the offline message, not "unknown".
_MODEL_NAME = re.compile(r"(mace|mattersim|matter-sim|orb|uma|fairchem)[-_][\w.\-]*")


def _family_of(prefix: str) -> tuple[str, dict[str, Any]] | None:
    """Family key and implied options of a name prefix (``None`` when not an external family)."""
    p = prefix.lower()
    if p in EXTERNAL_FAMILIES:
        return p, {}
    if p in _ALIASES:
        return _ALIASES[p], {}
    if p.startswith(("orb-v", "orb_v")):
        return "orb", {"model": p.replace("-", "_")}
    m = _MODEL_NAME.fullmatch(p)
    if m and not p.endswith(".py"):
        fam = m.group(1)
        return _ALIASES.get(fam, fam), {}
    return None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def resolve_external(name: str) -> ForceFieldSpec | None:
    """Spec for ``FAMILY:/path`` names; ``None`` when ``name`` is not an external family.

    Raises
    ------
    InputError
        Family named without a weights file (the automatic download does not work offline),
        weights file missing, or the family's package not installed.
    """
    prefix, sep, path = name.partition(":")
    found = _family_of(prefix)
    if found is None:
        return None
    if sep and path.strip().isidentifier() and _importable(prefix):
        return None  # "mace_tools:make": a user module:factory, not FAMILY:/path
    key, implied = found
    fam = EXTERNAL_FAMILIES[key]
    how = (
        f"the automatic weights download of {fam.pip} does not work offline; download the "
        f"weights file elsewhere and pass {prefix}:/path/to/weights"
    )
    if not sep or not path.strip():
        raise InputError(f"force field {prefix!r} needs a local weights file: {how}")
    weights = Path(path.strip()).expanduser()
    if not weights.is_file():
        raise InputError(
            f"weights file {str(weights)!r} for force field {prefix!r} not found: {how}"
        )
    if importlib.util.find_spec(fam.module) is None:
        raise InputError(
            f"force field {prefix!r} needs package {fam.pip!r}, which is not installed "
            f"(pip install {fam.pip}); ionraman does not install it"
        )

    def factory(**kwargs: Any) -> BaseCalculator:
        return fam.builder(**{**implied, **kwargs})

    return ForceFieldSpec(
        name=name,
        factory=factory,
        description=fam.description,
        reference=fam.reference,
        weights=weights,
        elements=fam.elements(weights) if fam.elements else None,
        dtype=fam.dtype,
        packages=(fam.pip, "torch") if fam.torch else (fam.pip,),
        kind="external",
    )
