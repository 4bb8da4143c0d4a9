"""Built-in universal force fields whose weights ship inside their wheels (offline).

==================  =============================================  ================================
name                model                                          use
==================  =============================================  ================================
sevenn-l3i5         SevenNet ``7net-l3i5`` (PBE/PBE+U)             default universal model: closest
                                                                   to DFT forces in the audit
sevenn-mf0-r2scan   SevenNet ``7net-mf-0``, ``modal="R2SCAN"``     soft Sb–S bonds (audit)
sevenn-mf0-pbe      SevenNet ``7net-mf-0``, ``modal="PBE"``        cross-check
sevenn-0            SevenNet ``7net-0`` (11 Jul 2024, PBE)         cross-check
chgnet              CHGNet 0.3.0 (PBE/PBE+U, MPtrj)                fastest; +6.4 % volume on
                                                                   Na3SbS4, cross-check only
==================  =============================================  ================================

The audit (``ionraman forcefield audit``, :mod:`ionraman.forcefields.audit`) compares them with
QE PBE forces and stretching frequencies; its table is in ``ionraman/data/forcefields/README.md``.

Weights are located inside the installed packages without importing them (importing sevenn
takes seconds) and are always passed to the packages as explicit file paths, so the packages'
own download fallbacks are never reached. ``7net-mf-0`` is multi-fidelity: without ``modal``
SevenNet raises "modal argument missing", so each of its registry entries pins one modal.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ase.calculators.calculator import BaseCalculator
from ase.data import chemical_symbols

from ionraman.errors import InputError
from ionraman.forcefields.nep import (
    nep_calculator,
    nep_elements,
    read_student_meta,
    shipped_students,
)
from ionraman.forcefields.registry import register_force_field

# SevenNet 7net-0 / 7net-mf-0 type maps: Z = 1–83 and 89–94 (checked against the checkpoints in
# tests/forcefields). CHGNet 0.3.0 embeds Z = 1–94.
SEVENNET_ELEMENTS: tuple[str, ...] = tuple(
    chemical_symbols[z] for z in (*range(1, 84), *range(89, 95))
)
CHGNET_ELEMENTS: tuple[str, ...] = tuple(chemical_symbols[z] for z in range(1, 95))

SEVENNET_0_REFERENCE = (
    "Y. Park, J. Kim, S. Hwang, S. Han, J. Chem. Theory Comput. 20, 4857 (2024), "
    "doi:10.1021/acs.jctc.4c00190"
)
SEVENNET_MF_REFERENCE = (
    "J. Kim et al., J. Am. Chem. Soc. 147, 1042 (2025), doi:10.1021/jacs.4c14455 "
    "(multi-fidelity SevenNet)"
)
CHGNET_REFERENCE = (
    "B. Deng et al., Nat. Mach. Intell. 5, 1031 (2023), doi:10.1038/s42256-023-00716-3"
)


def _package_file(package: str, relative: str) -> Path:
    """Path of a file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            f"package {package!r} is not installed (pip install 'ionraman[md]' or pip install "
            f"{package})"
        )
    return Path(next(iter(spec.submodule_search_locations))) / relative


def _require(package: str) -> None:
    if importlib.util.find_spec(package) is None:
        raise InputError(f"package {package!r} is not installed (pip install {package})")


def sevennet_calculator(
    *, weights: Path, device: str = "cpu", modal: str | None = None, **kwargs: Any
) -> BaseCalculator:
    """SevenNet calculator from a local checkpoint file.

    Parameters
    ----------
    weights
        ``checkpoint_*.pth`` file.
    device
        torch device string.
    modal
        Fidelity of a multi-fidelity checkpoint (``"R2SCAN"`` or ``"PBE"`` for 7net-mf-0).
    """
    _require("sevenn")
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator(
        model=str(weights), file_type="checkpoint", device=device, modal=modal, **kwargs
    )


def chgnet_calculator(
    *, weights: Path, device: str = "cpu", version: str = "0.3.0", **kwargs: Any
) -> BaseCalculator:
    """CHGNet calculator from a local ``.pth.tar`` file (as ``CHGNet.load`` does for 0.3.0)."""
    _require("chgnet")
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    # mlp_out_bias=False for 0.3.0, exactly as CHGNet.load(model_name="0.3.0") does.
    model = CHGNet.from_file(str(weights), mlp_out_bias=version == "0.2.0", version=version)
    kwargs.setdefault("on_isolated_atoms", "warn")
    return CHGNetCalculator(model=model, use_device=device, **kwargs)


_SEVENNET = ("sevenn", "torch", "e3nn")
_BUILTINS: tuple[dict[str, Any], ...] = (
    dict(name="sevenn-l3i5", factory=sevennet_calculator,
         description="SevenNet 7net-l3i5 (l_max 3, 5 layers), PBE/PBE+U; closest to DFT in the "
         "audit, about 2.5x slower than 7net-0 (default universal model)",
         reference=SEVENNET_0_REFERENCE, package="sevenn",
         file="pretrained_potentials/SevenNet_l3i5/checkpoint_l3i5.pth",
         sha256="a7ff190d41efe5b8317a03d20a468e4036a1a3e64e0b14fdbab64ac3f4bfc09d"),
    dict(name="sevenn-0", factory=sevennet_calculator,
         description="SevenNet 7net-0 (11 Jul 2024), PBE/PBE+U",
         reference=SEVENNET_0_REFERENCE, package="sevenn",
         file="pretrained_potentials/SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth",
         sha256="7052cb42b7b3be42b40b97fa0d21077a48c54b5548948fc4dcf346629f813c36"),
    dict(name="sevenn-mf0-pbe", factory=functools.partial(sevennet_calculator, modal="PBE"),
         description="SevenNet 7net-mf-0, PBE fidelity",
         reference=SEVENNET_MF_REFERENCE, package="sevenn",
         file="pretrained_potentials/SevenNet_MF_0/checkpoint_sevennet_mf_0.pth",
         sha256="81791329b37d445f46b531578c182c41792d98c7814222c9e5dde276402225fd"),
    dict(name="chgnet", factory=chgnet_calculator,
         description="CHGNet 0.3.0, PBE/PBE+U; fastest, but +6.4 % volume: cross-check only",
         reference=CHGNET_REFERENCE, package="chgnet",
         file="pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar",
         sha256="d14ab7c0f093efe64b60a7bcd540bca10e74fb7f46c86108a079af60524659d1"),
    dict(name="sevenn-mf0-r2scan", factory=functools.partial(sevennet_calculator, modal="R2SCAN"),
         description="SevenNet 7net-mf-0, r2SCAN fidelity; soft Sb-S/P-S bonds against DFT",
         reference=SEVENNET_MF_REFERENCE, package="sevenn",
         file="pretrained_potentials/SevenNet_MF_0/checkpoint_sevennet_mf_0.pth",
         sha256="81791329b37d445f46b531578c182c41792d98c7814222c9e5dde276402225fd"),
)
"""The universal models of the ``sevenn`` and ``chgnet`` wheels (see the module docstring), the
default first, then by force error against DFT (``ionraman forcefield audit``)."""


def register_builtins() -> None:
    """Register the universal models shipped in the ``sevenn`` and ``chgnet`` wheels."""
    for entry in _BUILTINS:
        package, relative = entry["package"], entry["file"]
        register_force_field(
            entry["name"],
            entry["factory"],
            description=entry["description"],
            elements=SEVENNET_ELEMENTS if package == "sevenn" else CHGNET_ELEMENTS,
            reference=entry["reference"],
            weights=functools.partial(_package_file, package, relative),
            sha256=entry["sha256"],
            dtype="float32",
            packages=_SEVENNET if package == "sevenn" else ("chgnet", "torch", "pymatgen"),
            kind="universal",
            overwrite=True,
        )
    register_shipped_students()  # NEP students in ionraman/data/forcefields (kind "student")


def register_student(
    name: str, directory: str | os.PathLike[str], *, overwrite: bool = False
) -> None:
    """Register the NEP student in ``directory`` (``nep.txt`` + ``student.json``) as ``name``."""
    directory = Path(directory)
    meta = read_student_meta(directory)
    teacher = meta.get("teacher", {}).get("name", "?")
    register_force_field(
        name,
        nep_calculator,
        description=meta.get("description")
        or f"NEP student distilled from {teacher} ({', '.join(meta.get('systems', []))})",
        elements=nep_elements(directory / "nep.txt"),
        reference="Fan et al., Phys. Rev. B 104, 104309 (2021) (NEP); student of " + teacher,
        weights=directory / "nep.txt",
        sha256=meta.get("nep_sha256"),
        dtype="float64",
        packages=("calorine",),
        kind="student",
        overwrite=overwrite,
    )


def register_shipped_students(names: Mapping[str, Path] | None = None) -> None:
    """Register every shipped student (once, when :mod:`ionraman.forcefields` is imported)."""
    for name, directory in (names or shipped_students()).items():
        register_student(name, directory, overwrite=True)
