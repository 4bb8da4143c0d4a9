"""Audit force fields against first principles: forces, stresses, stretching modes, Γ phonons,
cell.

Every model in the chain is checked against DFT, never only against the model it was distilled
from. Four measurements, each with the same definitions for DFT and for every model:

* **Frame errors** on DFT-labelled structures (extxyz with ``energy``/``forces``/``stress``, e.g.
  ``ionraman reference forces`` output): force RMSE and MAE over all Cartesian components and per
  species (meV/Å), energy RMSE per atom after removing the mean offset of each composition
  (meV/atom; such an offset does not enter MD), stress RMSE over the six Voigt components (GPa).
* **Stretching frequencies** of the tetrahedral anions (XY4, X = Sb, P, W, Ge, Sn, Si, As; Y = S,
  Se, O) of a structure: the force-constant matrix restricted to the radial displacement of each
  ligand along its X–Y bond, by central differences of the forces (±``delta_A``, the other atoms
  clamped), mass-weighted with the ligand masses and diagonalised. For n tetrahedra this gives
  4n frequencies: the symmetric (A1-like, breathing) and asymmetric stretches of the units and
  their in/out-of-phase combinations. Clamping the other atoms shifts a frequency by the
  coupling to them, the same for DFT and a model, so the comparison is like for like; the
  breathing mode is the one with the largest overlap with the in-phase breathing of all units.
* **Γ-point phonons** of a small cell (:mod:`ionraman.forcefields.phonons`): all 3N modes from
  phonopy's symmetry-reduced displacements, labelled by irrep, paired with DFT's by irrep; the
  A1 stretching mode (the Raman band of the anion) and the largest deviations of the stretching
  and the other optical modes.
* **Cell**: the pressure at the given (experimental) cell, DFT and model, and the model's
  relaxed volume relative to that cell.

DFT forces of the displaced structures come from :func:`ionraman.polarizability.reference.labels.
label_structures` (``task="scf"``): resumable, keyed by structure and settings, with one record
per structure; a checkout with the records needs no QE to repeat the audit.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase import Atoms, units
from ase.calculators.calculator import BaseCalculator

from ionraman._io import write_json_atomic
from ionraman.errors import InputError
from ionraman.forcefields.phonons import GammaModes, gamma_displacements, gamma_modes
from ionraman.forcefields.tetrahedra import stretch_coordinates
from ionraman.validate import check_output_dir

CM1_PER_SQRT_EV_A2_AMU = float(
    np.sqrt(units._e / (1e-20 * units._amu)) / (2 * np.pi * 100 * units._c)
)
"""ν̃ (cm⁻¹) of a harmonic oscillator with k / m = 1 eV Å⁻² amu⁻¹ (≈ 521.47)."""
GPA_PER_EV_A3 = 1.0 / units.GPa


# ------------------------------------------------------------------------------------ frames
@dataclass(frozen=True)
class FrameErrors:
    """Errors of one model on DFT-labelled frames.

    Attributes
    ----------
    model : str
        Force-field name.
    n_frames : int
        Frames compared.
    force_rmse_meV_A, force_mae_meV_A : float
        Over all Cartesian force components (meV/Å).
    force_rmse_by_species_meV_A : dict of str to float
        Per element (meV/Å).
    energy_rmse_centred_meV_atom : float
        RMSE of the energy per atom after removing the mean model − DFT offset of each
        composition (meV/atom).
    stress_rmse_GPa : float or None
        Over the six Voigt components of frames with a DFT stress (GPa); None without any.
    pressure_bias_GPa : float or None
        Mean model − DFT pressure (GPa), same frames.
    dft_force_rms_meV_A : float
        RMS of the DFT forces (meV/Å): the scale the errors compare with.
    seconds_per_frame : float
        Wall time per single point (s), this machine, this load.
    """

    model: str
    n_frames: int
    force_rmse_meV_A: float
    force_mae_meV_A: float
    force_rmse_by_species_meV_A: dict[str, float]
    energy_rmse_centred_meV_atom: float
    stress_rmse_GPa: float | None
    pressure_bias_GPa: float | None
    dft_force_rms_meV_A: float
    seconds_per_frame: float


def reference_values(frames: Sequence[Atoms]) -> list[dict[str, Any]]:
    """Energy (eV), forces (eV/Å, shape (n, 3)) and stress (eV/Å³ Voigt or None) of labelled
    frames; InputError naming the frame when a label is missing."""
    out = []
    for k, a in enumerate(frames):
        results = a.calc.results if a.calc is not None else {}
        if "energy" not in results or "forces" not in results:
            raise InputError(f"frame {k} ({a.get_chemical_formula()}): no DFT energy and forces")
        stress = results.get("stress")
        if stress is not None:
            stress = np.asarray(stress, dtype=float)
            if stress.shape == (3, 3):
                stress = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        out.append({"energy": float(results["energy"]),
                    "forces": np.asarray(results["forces"], dtype=float), "stress": stress})
    return out


def predict(calc: BaseCalculator, frames: Sequence[Atoms], stress: bool = True
            ) -> tuple[list[dict[str, Any]], float]:
    """Single points of ``calc`` on ``frames``: values as :func:`reference_values`, and the wall
    time per frame (s)."""
    out = []
    t0 = time.perf_counter()
    for a in frames:
        b = a.copy()
        b.calc = calc
        values = {"energy": float(b.get_potential_energy()), "forces": b.get_forces().copy(),
                  "stress": None}
        if stress:
            try:
                values["stress"] = np.asarray(b.get_stress(voigt=True), dtype=float)
            except Exception:  # a calculator without stress (some students): not an error
                stress = False
        out.append(values)
    return out, (time.perf_counter() - t0) / max(len(frames), 1)


def frame_errors(
    name: str, pred: Sequence[dict[str, Any]], ref: Sequence[dict[str, Any]],
    frames: Sequence[Atoms], seconds_per_frame: float = float("nan"),
) -> FrameErrors:
    """Compare predicted and reference values (see :class:`FrameErrors`)."""
    df = np.concatenate([p["forces"] - r["forces"] for p, r in zip(pred, ref, strict=True)])
    fr = np.concatenate([r["forces"] for r in ref])
    symbols = np.concatenate([a.get_chemical_symbols() for a in frames])
    by_species = {
        s: 1e3 * float(np.sqrt(np.mean(df[symbols == s] ** 2))) for s in sorted(set(symbols))
    }
    de = np.array([(p["energy"] - r["energy"]) / len(a)
                   for p, r, a in zip(pred, ref, frames, strict=True)])
    # one offset per composition: a student trained on energies minus per-element references
    # differs from DFT by Σ n_s μ_s, a constant for each composition that no MD sees
    formulas = np.array([a.get_chemical_formula(empirical=True) for a in frames])
    for f in set(formulas):
        de[formulas == f] -= de[formulas == f].mean()
    pairs = [(p["stress"], r["stress"]) for p, r in zip(pred, ref, strict=True)
             if p["stress"] is not None and r["stress"] is not None]
    stress_rmse = pressure_bias = None
    if pairs:
        ds = np.array([p - r for p, r in pairs]) * GPA_PER_EV_A3
        stress_rmse = float(np.sqrt(np.mean(ds**2)))
        pressure_bias = float(np.mean(-ds[:, :3].mean(axis=1)))
    return FrameErrors(
        model=name, n_frames=len(ref),
        force_rmse_meV_A=1e3 * float(np.sqrt(np.mean(df**2))),
        force_mae_meV_A=1e3 * float(np.mean(np.abs(df))),
        force_rmse_by_species_meV_A=by_species,
        energy_rmse_centred_meV_atom=1e3 * float(np.sqrt(np.mean(de**2))),
        stress_rmse_GPa=stress_rmse, pressure_bias_GPa=pressure_bias,
        dft_force_rms_meV_A=1e3 * float(np.sqrt(np.mean(fr**2))),
        seconds_per_frame=seconds_per_frame,
    )


# --------------------------------------------------------------------------- stretching modes
def displaced_structures(atoms: Atoms, coords: np.ndarray, delta_A: float) -> list[Atoms]:
    """For every coordinate q the structures displaced by +δq and −δq, in that order."""
    out = []
    for k, q in enumerate(coords):
        for sign in (1, -1):
            a = atoms.copy()
            a.calc = None
            a.positions = atoms.positions + sign * delta_A * q
            a.info = {"audit": "stretch", "coordinate": k, "sign": sign, "delta_A": delta_A,
                      "name": str(atoms.info.get("name", atoms.get_chemical_formula()))}
            out.append(a)
    return out


@dataclass(frozen=True)
class StretchModes:
    """Stretching frequencies of the tetrahedral anions of one structure (one source).

    Attributes
    ----------
    source : str
        ``"DFT"`` or a force-field name.
    frequencies_cm1 : list of float
        The 4n frequencies (cm⁻¹), ascending; an unstable direction is reported negative.
    breathing_cm1 : float
        Frequency of the mode closest to the in-phase breathing of all units (A1-like).
    breathing_overlap : float
        |⟨mode|breathing⟩| of that mode (1 = pure breathing).
    """

    source: str
    frequencies_cm1: list[float]
    breathing_cm1: float
    breathing_overlap: float


def stretch_modes(
    source: str, coords: np.ndarray, masses: np.ndarray, forces: Sequence[np.ndarray],
    delta_A: float,
) -> StretchModes:
    """Frequencies from the forces of :func:`displaced_structures` (same order)."""
    n = len(coords)
    if len(forces) != 2 * n:
        raise InputError(f"stretch modes: {len(forces)} force sets for {n} coordinates "
                         f"(expected {2 * n})")
    flat = coords.reshape(n, -1)
    k = np.empty((n, n))
    for c in range(n):
        df = (np.asarray(forces[2 * c]) - np.asarray(forces[2 * c + 1])).ravel()
        k[:, c] = -flat @ df / (2 * delta_A)
    k = 0.5 * (k + k.T)
    dyn = k / np.sqrt(np.outer(masses, masses))
    values, vectors = np.linalg.eigh(dyn)
    freqs = np.sign(values) * np.sqrt(np.abs(values)) * CM1_PER_SQRT_EV_A2_AMU
    breathing = np.sqrt(masses) / np.linalg.norm(np.sqrt(masses))  # equal amplitudes
    overlaps = np.abs(vectors.T @ breathing)
    best = int(np.argmax(overlaps))
    return StretchModes(source, [float(f) for f in freqs], float(freqs[best]),
                        float(overlaps[best]))


# ---------------------------------------------------------------------------------- the audit
@dataclass
class AuditResult:
    """Outcome of :func:`audit_force_fields`.

    Attributes
    ----------
    frames : list of FrameErrors
        One per model.
    stretch : dict of str to list of StretchModes
        Per structure name: DFT first, then every model.
    phonons : dict of str to list of GammaModes
        Per structure name: Γ-point modes, DFT first, then every model.
    cell : list of dict
        Per structure and model: ``pressure_GPa`` at the given cell (DFT and model) and the
        model's ``relaxed_volume_ratio`` (relaxed / given).
    failures : dict of str to str
        Models that could not be loaded or evaluated (one line each).
    metadata : dict
        Frame files, DFT settings, displacement, provenance of every model.
    """

    frames: list[FrameErrors] = field(default_factory=list)
    stretch: dict[str, list[StretchModes]] = field(default_factory=dict)
    phonons: dict[str, list[GammaModes]] = field(default_factory=dict)
    cell: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    force_pairs: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    """Per model (DFT, model) force components, eV/Å, flattened (for the parity plot; not
    serialised)."""

    def errors_table(self) -> pd.DataFrame:
        """One row per model: force/energy/stress errors and cost (units in column names)."""
        rows = []
        for e in self.frames:
            row = {"model": e.model, "n_frames": e.n_frames,
                   "force_rmse_meV_A": e.force_rmse_meV_A, "force_mae_meV_A": e.force_mae_meV_A}
            row |= {f"force_rmse_{s}_meV_A": v for s, v in e.force_rmse_by_species_meV_A.items()}
            row |= {"energy_rmse_centred_meV_atom": e.energy_rmse_centred_meV_atom,
                    "stress_rmse_GPa": e.stress_rmse_GPa,
                    "pressure_bias_GPa": e.pressure_bias_GPa,
                    "ms_per_frame": 1e3 * e.seconds_per_frame}
            rows.append(row)
        return pd.DataFrame(rows)

    def stretch_table(self) -> pd.DataFrame:
        """One row per structure and source: breathing frequency, the stretching band, and the
        largest relative deviation of any stretching frequency from DFT."""
        rows = []
        for name, modes in self.stretch.items():
            dft = next((m for m in modes if m.source == "DFT"), None)
            for m in modes:
                row = {"structure": name, "source": m.source, "breathing_cm1": m.breathing_cm1,
                       "stretch_min_cm1": min(m.frequencies_cm1),
                       "stretch_max_cm1": max(m.frequencies_cm1)}
                if dft is not None:
                    f, g = np.array(m.frequencies_cm1), np.array(dft.frequencies_cm1)
                    row["breathing_dev_pct"] = 100 * (m.breathing_cm1 / dft.breathing_cm1 - 1)
                    row["max_abs_dev_pct"] = float(100 * np.max(np.abs(f / g - 1)))
                rows.append(row)
        return pd.DataFrame(rows)

    def phonon_table(self) -> pd.DataFrame:
        """One row per structure and source: the A1 stretching mode and the largest deviations
        from DFT of the stretching (≥ 250 cm⁻¹) and the other optical modes (paired with DFT's
        in ascending order, :func:`paired_frequencies`)."""
        rows = []
        for name, modes in self.phonons.items():
            dft = next((m for m in modes if m.source == "DFT"), None)
            for m in modes:
                row: dict[str, Any] = {"structure": name, "source": m.source,
                                       "A1_stretch_cm1": m.a1_stretch_cm1}
                if dft is not None:
                    f, g = paired_frequencies(m, dft)
                    stretch, other = g >= 250.0, (g > 20.0) & (g < 250.0)
                    row["A1_stretch_dev_pct"] = 100 * (m.a1_stretch_cm1 / dft.a1_stretch_cm1 - 1)
                    row["stretch_max_abs_dev_pct"] = (
                        float(100 * np.max(np.abs(f[stretch] / g[stretch] - 1)))
                        if stretch.any() else None)
                    row["other_optical_max_abs_dev_cm1"] = (
                        float(np.max(np.abs(f[other] - g[other]))) if other.any() else None)
                rows.append(row)
        return pd.DataFrame(rows)

    def recommendation(self) -> str:
        """The universal model with the lowest force RMSE, and the best model overall."""
        kinds = self.metadata.get("kinds", {})
        if not self.frames:
            return "no model could be evaluated"
        best = min(self.frames, key=lambda e: e.force_rmse_meV_A)
        universal = [e for e in self.frames if kinds.get(e.model) == "universal"]
        text = f"closest to DFT forces: {best.model} ({best.force_rmse_meV_A:.0f} meV/Å)"
        if universal:
            u = min(universal, key=lambda e: e.force_rmse_meV_A)
            text += f"; best universal model: {u.model} ({u.force_rmse_meV_A:.0f} meV/Å)"
        return text

    def to_json(self) -> dict[str, Any]:
        return {"frames": [asdict(e) for e in self.frames],
                "stretch": {k: [asdict(m) for m in v] for k, v in self.stretch.items()},
                "phonons": {k: [asdict(m) for m in v] for k, v in self.phonons.items()},
                "cell": self.cell, "failures": self.failures, "metadata": self.metadata,
                "recommendation": self.recommendation()}

    def write(self, out: str | os.PathLike[str]) -> Path:
        """Write ``audit.json``, ``errors.csv``, ``stretch.csv``, ``phonons.csv``, ``cell.csv``
        and ``parity.png`` (if plotted) into ``out``; returns ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "audit.json", self.to_json())
        self.errors_table().to_csv(out / "errors.csv", index=False)
        self.stretch_table().to_csv(out / "stretch.csv", index=False)
        self.phonon_table().to_csv(out / "phonons.csv", index=False)
        pd.DataFrame(self.cell).to_csv(out / "cell.csv", index=False)
        return out


def paired_frequencies(modes: GammaModes, reference: GammaModes) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies of ``modes`` and ``reference`` (cm⁻¹) paired in ascending order.

    Pairing by irrep fails where a model splits a degenerate pair by more than phonopy's
    degeneracy tolerance (its labels are then missing); ascending order is robust, and where
    two modes swap order it understates a deviation by at most their spacing."""
    f, g = np.sort(modes.frequencies_cm1), np.sort(reference.frequencies_cm1)
    if len(f) != len(g):
        raise InputError(f"{modes.source}: {len(f)} modes, DFT has {len(g)}")
    return f, g


def dft_forces(
    structures: Sequence[Atoms], records: str | os.PathLike[str],
    workdir: str | os.PathLike[str], settings: Any = None, log: Any = None,
) -> list[Atoms]:
    """DFT single points (energy, forces, stress) of ``structures``, resumable and recorded.

    QE pw.x through the resumable labeller (``task="scf"``): ``records/structures.extxyz`` (the
    inputs), one record per structure in ``records/results``, raw runs in ``workdir``. With the
    records present nothing is computed (no QE needed).

    Returns
    -------
    list of ase.Atoms
        The labelled structures (``SinglePointCalculator``), in input order.
    """
    from ase.io import read, write

    from ionraman._io import atomic_path
    from ionraman.polarizability.reference.labels import OUTPUT_NAME, RESULTS_DIR, label_structures

    records = Path(records)
    records.mkdir(parents=True, exist_ok=True)
    path = records / "structures.extxyz"
    with atomic_path(path) as tmp:
        write(tmp, list(structures), format="extxyz")
    report = label_structures(path, records / OUTPUT_NAME, workdir, settings, task="scf",
                              results_dir=records / RESULTS_DIR, log=log)
    if report.failed or report.pending:
        raise InputError(f"{records}: DFT of {len(report.failed)} structures failed and "
                         f"{len(report.pending)} are not done; see {workdir}/summary.json")
    labelled = read(records / OUTPUT_NAME, index=":")
    if len(labelled) != len(structures):
        raise InputError(f"{records / OUTPUT_NAME}: {len(labelled)} labelled structures, "
                         f"expected {len(structures)}")
    return labelled


def dft_stretch_reference(
    atoms: Atoms, records: str | os.PathLike[str], workdir: str | os.PathLike[str],
    settings: Any = None, delta_A: float = 0.01, log: Any = None,
) -> tuple[list[np.ndarray], float | None]:
    """DFT forces of :func:`displaced_structures` of ``atoms`` and the DFT pressure at its cell.

    :func:`dft_forces` of the displaced structures and then ``atoms`` itself.

    Returns
    -------
    forces : list of ndarray, shape (n_atoms, 3)
        eV/Å, in the order of :func:`displaced_structures`.
    pressure_GPa : float or None
        −tr(σ)/3 of ``atoms`` (None if the run printed no stress).
    """
    coords, _, _ = stretch_coordinates(atoms)
    itself = atoms.copy()
    itself.calc = None
    itself.info = {"audit": "reference cell", "name": str(atoms.info.get("name", ""))}
    labelled = dft_forces([*displaced_structures(atoms, coords, delta_A), itself], records,
                          workdir, settings, log)
    stress = labelled[-1].calc.results.get("stress")
    pressure = None if stress is None else float(-np.mean(np.asarray(stress).ravel()[[0, 4, 8]]
                                                          if np.size(stress) == 9
                                                          else np.asarray(stress)[:3])
                                                  * GPA_PER_EV_A3)
    return [a.get_forces() for a in labelled[:-1]], pressure


def audit_force_fields(
    models: Sequence[str],
    frames: Sequence[Atoms] = (),
    stretch_structures: dict[str, Atoms] | None = None,
    *,
    dft_stretch: dict[str, Sequence[np.ndarray]] | None = None,
    dft_pressure_GPa: dict[str, float] | None = None,
    phonon_structures: dict[str, Atoms] | None = None,
    dft_phonons: dict[str, Sequence[np.ndarray]] | None = None,
    delta_A: float = 0.01,
    relax: bool = True,
    threads: int | None = None,
    log: Any = None,
) -> AuditResult:
    """Audit ``models`` against DFT.

    Parameters
    ----------
    models : sequence of str
        Force-field names (:func:`ionraman.forcefields.load_force_field`).
    frames : sequence of ase.Atoms
        DFT-labelled frames (energy, forces, stress as calculator results).
    stretch_structures : dict of str to ase.Atoms, optional
        Structures (by name) whose stretching modes are compared; each needs ``dft_stretch``.
    dft_stretch : dict of str to list of ndarray
        Per structure, the DFT forces of :func:`displaced_structures` (see
        :func:`dft_stretch_forces`).
    dft_pressure_GPa : dict of str to float, optional
        DFT pressure at each stretch structure's cell (GPa), for the cell table.
    phonon_structures : dict of str to ase.Atoms, optional
        Structures (by name) whose Γ-point modes are compared; each needs ``dft_phonons``.
    dft_phonons : dict of str to list of ndarray
        Per structure, the DFT forces of
        :func:`ionraman.forcefields.phonons.gamma_displacements`.
    delta_A : float
        Displacement of the finite differences (Å).
    relax : bool
        Relax each stretch structure's cell with each model (volume ratio in the cell table).
    threads : int, optional
        torch threads of the models.
    log : file-like, optional
        Progress lines.

    Returns
    -------
    AuditResult
    """
    from ionraman.forcefields.registry import load_force_field

    stretch_structures = stretch_structures or {}
    dft_stretch = dft_stretch or {}
    result = AuditResult(metadata={"delta_A": delta_A, "n_frames": len(frames), "kinds": {},
                                   "provenance": {}})
    ref = reference_values(frames) if frames else []
    geometry = {}
    for name, atoms in stretch_structures.items():
        coords, masses, _ = stretch_coordinates(atoms)
        geometry[name] = (coords, masses, displaced_structures(atoms, coords, delta_A))
        if name not in dft_stretch:
            raise InputError(f"stretch structure {name!r}: no DFT forces of its displacements")
        result.stretch[name] = [stretch_modes("DFT", coords, masses, dft_stretch[name], delta_A)]
    phonon_structures = phonon_structures or {}
    displaced_gamma = {}
    for name, atoms in phonon_structures.items():
        if name not in (dft_phonons or {}):
            raise InputError(f"phonon structure {name!r}: no DFT forces of its displacements")
        displaced_gamma[name] = gamma_displacements(atoms, delta_A)
        result.phonons[name] = [gamma_modes("DFT", atoms, dft_phonons[name], delta_A)]
    for model in models:
        if log:
            print(f"[audit] {model}", file=log, flush=True)
        try:
            loaded = load_force_field(model, threads=threads)
        except InputError as exc:
            result.failures[model] = str(exc)
            continue
        result.metadata["kinds"][model] = loaded.spec.kind
        result.metadata["provenance"][model] = loaded.provenance()
        calc = loaded.calculator
        if frames:
            pred, seconds = predict(calc, frames)
            result.frames.append(frame_errors(model, pred, ref, frames, seconds))
            result.force_pairs[model] = (
                np.concatenate([v["forces"].ravel() for v in ref]),
                np.concatenate([v["forces"].ravel() for v in pred]),
            )
        for name, (coords, masses, displaced) in geometry.items():
            values, _ = predict(calc, displaced, stress=False)
            result.stretch[name].append(
                stretch_modes(model, coords, masses, [v["forces"] for v in values], delta_A)
            )
            atoms = stretch_structures[name]
            row: dict[str, Any] = {"structure": name, "model": model,
                                   "dft_pressure_GPa": (dft_pressure_GPa or {}).get(name)}
            b = atoms.copy()
            b.calc = calc
            try:
                row["pressure_GPa"] = float(-np.mean(b.get_stress()[:3]) * GPA_PER_EV_A3)
            except Exception:
                row["pressure_GPa"] = None
            if relax:
                row["relaxed_volume_ratio"] = relaxed_volume_ratio(atoms, calc)
            result.cell.append(row)
        for name, displaced in displaced_gamma.items():
            values, _ = predict(calc, displaced, stress=False)
            result.phonons[name].append(gamma_modes(
                model, phonon_structures[name], [v["forces"] for v in values], delta_A))
    return result


def relaxed_volume_ratio(atoms: Atoms, calc: BaseCalculator, fmax: float = 0.01,
                         steps: int = 300) -> float | None:
    """Volume after relaxing positions and cell with ``calc`` over the given volume (None when
    the calculator has no stress or the relaxation does not converge)."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    a = atoms.copy()
    a.calc = calc
    try:
        opt = FIRE(FrechetCellFilter(a), logfile=None)
        converged = opt.run(fmax=fmax, steps=steps)
    except Exception:
        return None
    return float(a.get_volume() / atoms.get_volume()) if converged else None


# --------------------------------------------------------------------------------- the verb
STRETCH_RECORDS, PHONON_RECORDS = "stretch", "phonons"
"""Sub-folders of the SCF records (``<records>/<sub-folder>/<structure>/``) holding the DFT forces
of the stretch and of the Γ-phonon displacements."""


def shipped_scf_dir() -> Path:
    """``ionraman/data/reference/scf``: the shipped DFT SCF labels (records and extxyz)."""
    return Path(__file__).resolve().parent.parent / "data" / "reference" / "scf"


def run_audit(
    frame_files: Sequence[str | os.PathLike[str]],
    models: Sequence[str] | None = None,
    stretch: Sequence[str] = (),
    out: str | os.PathLike[str] | None = None,
    *,
    phonons: Sequence[str] = (),
    records: str | os.PathLike[str] | None = None,
    workdir: str | os.PathLike[str] = "out/dft/scf_work",
    settings: Any = None,
    delta_A: float = 0.01,
    relax: bool = True,
    threads: int | None = None,
    log: Any = None,
) -> AuditResult:
    """:func:`audit_force_fields` from files: the verb behind ``ionraman forcefield audit``.

    Parameters
    ----------
    frame_files : sequence of path-like
        DFT-labelled extxyz files (``ionraman reference forces`` output).
    models : sequence of str, optional
        Force fields; default every registered universal model and every student whose elements
        cover the frames.
    stretch : sequence of str
        Built-in structure names or files whose stretching modes are compared.
    out : path-like, optional
        Where the tables and ``audit.json`` go (see :meth:`AuditResult.write`).
    phonons : sequence of str
        Built-in structure names or files whose Γ-point modes are compared (needs phonopy).
    records : path-like, optional
        Records of the DFT forces of the displaced structures, ``<records>/stretch/<name>/`` and
        ``<records>/phonons/<name>/`` (default: the shipped ones, :func:`shipped_scf_dir`);
        missing ones are computed with QE.
    workdir : path-like
        Raw QE runs of missing records.
    settings : QESettings, optional
        QE settings of missing records (default: the label settings, k-spacing 0.5 Å⁻¹).
    """
    from ase.io import read

    from ionraman.forcefields.registry import (
        check_force_field,
        get_force_field,
        list_force_fields,
    )
    from ionraman.polarizability.reference.qe import QESettings
    from ionraman.structures import load_structure

    if out is not None:
        check_output_dir(out)
    frames: list[Atoms] = []
    for f in frame_files:
        path = Path(f)
        if not path.is_file():
            raise InputError(f"{path}: no such file of DFT-labelled frames")
        try:
            got = read(path, index=":")
        except Exception as exc:  # ASE raises many types for unreadable files
            raise InputError(f"{path}: cannot read frames ({exc})") from None
        reference_values(got)  # every frame labelled, or a one-line error now
        frames += got
    symbols = {s for a in frames for s in a.get_chemical_symbols()}
    structures, gamma = {}, {}
    for names, into in ((stretch, structures), (phonons, gamma)):
        for name in names:
            atoms = load_structure(name)
            into[Path(name).stem if Path(name).exists() else name] = atoms
            symbols |= set(atoms.get_chemical_symbols())
    if models is None:
        specs = [get_force_field(name) for name in list_force_fields()]
        models = [s.name for s in specs if s.kind in ("universal", "student")
                  and (s.elements is None or symbols <= set(s.elements))]
    for model in models:  # a name asked for must exist before anything is computed
        check_force_field(model, symbols)
    settings = settings or QESettings(kspacing_inv_A=0.5)
    records_dir = Path(records) if records is not None else shipped_scf_dir()
    stretch_forces, pressures = {}, {}
    for name, atoms in structures.items():
        stretch_forces[name], pressures[name] = dft_stretch_reference(
            atoms, records_dir / STRETCH_RECORDS / name, workdir, settings, delta_A, log=log
        )
    gamma_forces = {
        name: [a.get_forces() for a in dft_forces(gamma_displacements(atoms, delta_A),
                                                  records_dir / PHONON_RECORDS / name, workdir,
                                                  settings, log)]
        for name, atoms in gamma.items()
    }
    result = audit_force_fields(models, frames, structures, dft_stretch=stretch_forces,
                                dft_pressure_GPa=pressures, phonon_structures=gamma,
                                dft_phonons=gamma_forces, delta_A=delta_A, relax=relax,
                                threads=threads, log=log)
    result.metadata["frame_files"] = [str(f) for f in frame_files]
    result.metadata["qe_settings"] = settings.physics("scf")
    if out is not None:
        out = result.write(out)
        parity_plot(result, out / "parity.png")
    return result


def parity_plot(result: AuditResult, path: str | os.PathLike[str]) -> Path | None:
    """Model against DFT force components, one panel per model (PNG); None without frames."""
    if not result.force_pairs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(result.force_pairs)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows), squeeze=False)
    lim = 1.05 * max(float(np.max(np.abs(x))) for x, _ in result.force_pairs.values())
    errors = {e.model: e for e in result.frames}
    for ax, (model, (x, y)) in zip(axes.ravel(), result.force_pairs.items(), strict=False):
        ax.plot([-lim, lim], [-lim, lim], color="0.6", lw=0.8)
        ax.scatter(x, y, s=2, alpha=0.4)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="DFT force (eV/Å)",
               ylabel="model force (eV/Å)",
               title=f"{model}: RMSE {errors[model].force_rmse_meV_A:.0f} meV/Å")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
