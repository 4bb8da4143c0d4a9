"""Prepare a validated configuration: every candidate's structures (all seeds), force field and
polarizability model resolved in memory, before anything is written (config mistakes surface as
one-line :class:`~ionraman.errors.InputError` s and leave the run directory untouched).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ionraman.errors import InputError
from ionraman.workflow.config import (
    CandidateConfig,
    MeasuredSpectrumConfig,
    WorkflowConfig,
    slug,
)

__all__ = [
    "PreparedCandidate",
    "build_structure",
    "prepare",
    "resolve_force_field",
    "resolve_polarizability",
    "shipped_models_dir",
]


@dataclass
class PreparedCandidate:
    """A candidate with everything resolved.

    Attributes
    ----------
    index, config, label, dirname
        Position in the config, its settings, the label and the directory name.
    structure_source
        ``"builtin:<name>"`` or the absolute file path.
    temperatures_K, seeds
        Temperatures and seeds of its tasks.
    elements, n_atoms
        Elements and atom count of the seed-0 structure.
    force_field
        Resolved force-field name; ``force_field_note`` says why.
    polarizability_model
        Absolute model file, or None; ``polarizability_note`` says why.
    structures
        seed → ase.Atoms (the MD start structure of that seed).
    """

    index: int
    config: CandidateConfig
    label: str
    dirname: str
    structure_source: str
    temperatures_K: list[float]
    seeds: list[int]
    elements: list[str]
    n_atoms: int
    force_field: str
    force_field_note: str
    polarizability_model: str | None
    polarizability_note: str
    structures: dict[int, Any] = field(default_factory=dict)


def shipped_models_dir() -> Path:
    """``ionraman/data/models``: where shipped polarizability models live (may not exist)."""
    from importlib import resources

    return Path(str(resources.files("ionraman").joinpath("data", "models")))


def _shipped_model(elements: set[str]) -> Path | None:
    root = shipped_models_dir()
    if not root.is_dir():
        return None
    files = sorted(root.glob("*.pt")) + sorted(
        p for p in root.glob("*.json") if not p.name.endswith(".fit.json")
    )
    from ionraman.polarizability import model_species

    for p in files:
        species = model_species(p)
        if species is not None and elements <= species:
            return p
    return None


def resolve_polarizability(cfg: WorkflowConfig, cand: CandidateConfig, elements: set[str], where):
    """(model path or None, note) for a candidate; InputError for a missing model file."""
    choice = cand.polarizability_model or cfg.polarizability.model
    field_name = (
        f"candidates[{where}].polarizability_model"
        if cand.polarizability_model
        else "polarizability.model"
    )
    if choice == "none":
        return None, "skipped: no polarizability model (model = 'none')"
    if choice == "auto":
        shipped = _shipped_model(elements)
        if shipped is None:
            return None, (
                "skipped: no polarizability model (none ships for "
                f"{'-'.join(sorted(elements))}; set polarizability.model to a .pt or .json file)"
            )
        return str(shipped), f"shipped model {shipped.name}"
    path = cfg.resolve(choice)
    if path.suffix not in (".pt", ".json"):
        raise InputError(
            f"{field_name}: {choice!r}: expected 'auto', 'none', a .pt (Cartesian tensor) or a "
            ".json (bond) model file"
        )
    if not path.is_file():
        raise InputError(f"{field_name}: model file {str(path)!r} not found")
    from ionraman.polarizability import model_species

    species = model_species(path)
    if species is None:
        raise InputError(f"{field_name}: {str(path)!r} is not a readable polarizability model")
    missing = elements - species
    if missing:
        return None, (
            f"skipped: no polarizability model for {', '.join(sorted(missing))} "
            f"({path.name} covers {', '.join(sorted(species))})"
        )
    return str(path.resolve()), f"model file {path.name}"


def resolve_force_field(choice: str, elements: set[str]) -> tuple[str, str]:
    """(registry name, note): ``auto`` → a student covering ``elements``, else the universal."""
    from ionraman.forcefields import DEFAULT_FORCE_FIELD, get_force_field, list_force_fields

    if choice != "auto":
        return choice, "as configured"
    covering = [
        spec for spec in map(get_force_field, list_force_fields())
        if spec.kind == "student" and spec.elements is not None and elements <= set(spec.elements)
    ]
    if covering:  # the most specific student: fewest elements (registration order breaks ties)
        best = min(covering, key=lambda spec: len(spec.elements or ()))
        return best.name, f"distilled student model for {'-'.join(sorted(elements))}"
    return DEFAULT_FORCE_FIELD, "universal model (no distilled student covers these elements)"


def _check_force_field(name: str, elements: set[str], field_name: str) -> None:
    """Unknown names and uncovered elements are config errors (nothing is loaded here)."""
    from ionraman.forcefields.registry import check_force_field

    try:
        check_force_field(name, elements)
    except InputError as exc:
        raise InputError(f"{field_name}: {exc}") from None


def _conventional_cell(name: str):
    from ionraman.structures import get_structure, structure_entry

    try:
        return get_structure(name, supercell=1)
    except InputError:
        try:
            base = structure_entry(name).get("base") or name.split(":")[0]
        except (InputError, KeyError):
            base = name.split(":")[0]
        return get_structure(base, supercell=1)


def build_structure(cfg: WorkflowConfig, cand: CandidateConfig, seed: int, where: int | str = "?"):
    """The MD start structure of ``cand`` for MD seed ``seed`` (InputError names the field)."""
    from ionraman.structures import (
        get_structure,
        make_vacancies,
        read_structure,
        substitute_dopant,
        supercell_repeat,
        validate_structure,
    )
    from ionraman.structures.library import is_builtin

    prefix = f"candidates[{where}]"
    sseed = cand.structure_seed if cand.structure_seed is not None else seed
    sc = cand.supercell or cfg.supercell
    builtin = is_builtin(cand.structure)
    path = None if builtin else cfg.resolve(cand.structure)
    if not builtin and not path.is_file():
        from ionraman.structures import structure_names

        raise InputError(
            f"{prefix}.structure: {cand.structure!r} is neither a built-in structure "
            f"({', '.join(structure_names())}) nor an existing file"
        )
    try:
        repeat = None
        if sc is not None and sc.repeat is not None:
            repeat = sc.repeat
        elif sc is not None:
            base = (
                _conventional_cell(cand.structure) if builtin else read_structure(path, seed=sseed)
            )
            repeat = supercell_repeat(base, min_length_A=sc.min_length_A, min_atoms=sc.min_atoms)
        if builtin:
            atoms = get_structure(cand.structure, supercell=repeat, seed=sseed)
        else:
            atoms = read_structure(path, seed=sseed, supercell=repeat)
    except InputError as exc:
        raise InputError(f"{prefix}.structure: {exc}") from None
    try:
        if cand.dopant is not None:
            d = cand.dopant
            atoms = substitute_dopant(
                atoms,
                d.host,
                d.element,
                fraction=d.fraction,
                count=d.count,
                charge_compensation=d.charge_compensation,
                compensating_species=d.compensating_species,
                seed=sseed,
            )
        for k, v in enumerate(cand.vacancies):
            atoms = make_vacancies(atoms, v.species, v.count, seed=sseed + 7919 * (k + 1))
        validate_structure(atoms, source=cand.label)
    except InputError as exc:
        raise InputError(f"{prefix}.dopant/vacancies: {exc}") from None
    atoms.info["candidate"] = cand.label
    atoms.info["structure_seed"] = int(sseed)
    return atoms


def prepare(cfg: WorkflowConfig) -> list[PreparedCandidate]:
    """Resolve every candidate: structures (all seeds), force field, polarizability model.

    Runs before anything is written, so config mistakes surface as one-line
    :class:`InputError` s and leave the run directory untouched.
    """
    out = []
    for k, cand in enumerate(cfg.candidates):
        structures = {s: build_structure(cfg, cand, s, k) for s in cfg.seeds}
        first = structures[cfg.seeds[0]]
        elements = set(first.get_chemical_symbols())
        for s, at in structures.items():
            elements |= set(at.get_chemical_symbols())
            if cfg.analysis.species not in at.get_chemical_symbols():
                raise InputError(
                    f"candidates[{k}]: {cand.label} (seed {s}) has no {cfg.analysis.species} "
                    "atoms (analysis.species)"
                )
        ff_choice = cand.force_field or cfg.md.force_field
        ff_field = f"candidates[{k}].force_field" if cand.force_field else "md.force_field"
        ff, ff_note = resolve_force_field(ff_choice, elements)
        _check_force_field(ff, elements, ff_field)
        model, model_note = resolve_polarizability(cfg, cand, elements, k)
        from ionraman.structures.library import is_builtin

        source = (
            f"builtin:{cand.structure}"
            if is_builtin(cand.structure)
            else str(cfg.resolve(cand.structure).resolve())
        )
        out.append(
            PreparedCandidate(
                index=k,
                config=cand,
                label=cand.label,
                dirname=slug(cand.label),
                structure_source=source,
                temperatures_K=cfg.temperatures_for(cand),
                seeds=list(cfg.seeds),
                elements=sorted(elements),
                n_atoms=len(first),
                force_field=ff,
                force_field_note=ff_note,
                polarizability_model=model,
                polarizability_note=model_note,
                structures=structures,
            )
        )
    _check_measured(cfg)
    return out


def _read_measured_now(m: MeasuredSpectrumConfig, path: Path, field: str) -> None:
    """Read (and select from) a measured spectrum at the start, not at the report stage."""
    from ionraman.spectra.measured import read_measured, select_spectrum

    try:
        spectra = read_measured(path, temperature_k=m.temperature_K, laser_wavelength_nm=m.laser_nm)
        if m.column is not None:
            select_spectrum(spectra, m.column)
    except InputError as exc:
        raise InputError(f"{field}: {exc}") from None


def _check_measured(cfg: WorkflowConfig) -> None:
    for k, m in enumerate(cfg.report.measured_spectra):
        p = cfg.resolve(m.path)
        if not p.is_file():
            raise InputError(f"report.measured_spectra[{k}].path: file {str(p)!r} not found")
        _read_measured_now(m, p, f"report.measured_spectra[{k}]")
    if cfg.calibration.data is not None:
        p = cfg.calibration_path()
        if not p.is_file():
            raise InputError(f"calibration.data: file {str(p)!r} not found")
        from ionraman.screening.calibration import read_measurements

        try:
            read_measurements(p)
        except InputError as exc:
            raise InputError(f"calibration.data: {exc}") from None
