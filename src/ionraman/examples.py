"""The embedded default example behind ``ionraman demo`` (and ``make demo``).

Until the screening workflow lands, the demo is the analysis chain on a real simulation:

1. structure: the built-in W-doped cubic Na₃SbS₄ (``c-Na3SbS4:W0.125``, 126 atoms, one Na vacancy
   per W, seeded placement), the library's defect model that conducts on MD time scales;
2. MD with the default universal force field (SevenNet 7net-mf-0, R2SCAN modal) at 800 K:
   0.5 ps NVT equilibration, 2 ps Bussi NVT production, frames every 10 fs, streamed into the
   trajectory store with checkpoints (a killed demo resumes where it stopped);
3. transport: Na MSD, D* with its kinisi uncertainty, Nernst–Einstein σ, Haven ratio and the
   hopping vs liquid-like descriptors;
4. Raman spectra when a polarizability model file is given (``alpha_model``: a
   :class:`~ionraman.polarizability.bond_model.BondPolarizabilityModel` JSON fitted to reference
   data). No fitted model ships yet, so by default this stage is skipped and the summary says so.

About 6 minutes on 2 cores (0.25 s per MD step for 126 atoms).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ionraman._io import file_sha256, provenance, write_json_atomic

DEMO_STRUCTURE = "c-Na3SbS4:W0.125"
DEMO_TEMPERATURE_K = 800.0
DEMO_EQUILIBRATION_PS = 0.5
DEMO_PRODUCTION_PS = 2.0


def run_demo(
    out: str | os.PathLike[str] = "out/demo",
    *,
    production_ps: float = DEMO_PRODUCTION_PS,
    equilibration_ps: float = DEMO_EQUILIBRATION_PS,
    temperature_k: float = DEMO_TEMPERATURE_K,
    force_field: str | None = None,
    alpha_model: str | os.PathLike[str] | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run the default example and write ``summary.json`` into ``out``.

    Parameters
    ----------
    out
        Output directory (created). Holds ``md.h5``, ``diffusion/`` and, with ``alpha_model``,
        ``spectrum/``.
    production_ps, equilibration_ps : float
        MD lengths, ps.
    temperature_k : float
        MD temperature, K.
    force_field : str, optional
        Registry name; default :data:`ionraman.forcefields.DEFAULT_FORCE_FIELD`.
    alpha_model : path, optional
        Bond-polarizability model JSON; enables the spectrum stage.
    quiet : bool
        No progress output.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    from ionraman.forcefields import DEFAULT_FORCE_FIELD
    from ionraman.md import run_md
    from ionraman.structures import get_structure
    from ionraman.transport import analyse_diffusion

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    ff_name = force_field or DEFAULT_FORCE_FIELD
    atoms = get_structure(DEMO_STRUCTURE)
    say = (lambda msg: None) if quiet else print
    say(
        f"demo: {DEMO_STRUCTURE} ({len(atoms)} atoms), {ff_name}, {temperature_k:g} K, "
        f"{equilibration_ps:g} ps equilibration + {production_ps:g} ps production -> {out_dir}"
    )
    store = run_md(
        atoms,
        temperature_k=temperature_k,
        time_ps=production_ps,
        equilibration_ps=equilibration_ps,
        force_field=ff_name,
        out=out_dir / "md.h5",
        quiet=quiet,
    )
    diff = analyse_diffusion(store, out_dir / "diffusion", species="Na")
    say(diff.summary())
    summary: dict[str, Any] = {
        "structure": DEMO_STRUCTURE,
        "n_atoms": len(atoms),
        "force_field": ff_name,
        "temperature_K": temperature_k,
        "production_ps": production_ps,
        "equilibration_ps": equilibration_ps,
        "trajectory": str(store),
        "transport": diff.summary(),
        "transport_files": {k: str(v) for k, v in diff.files.items()},
        "provenance": provenance(
            {"temperature_K": temperature_k, "production_ps": production_ps},
            {"alpha_model": alpha_model} if alpha_model else None,
        ),
    }
    if alpha_model is None:
        summary["spectrum"] = (
            "skipped: no fitted polarizability model ships yet (pass alpha_model= a "
            "BondPolarizabilityModel JSON, or use `ionraman spectrum` on your own alpha series)"
        )
    else:
        summary["spectrum_files"] = _demo_spectrum(store, Path(alpha_model), out_dir, temperature_k)
    say(f"spectrum: {summary.get('spectrum', summary.get('spectrum_files'))}")
    write_json_atomic(out_dir / "summary.json", summary)
    say(f"-> {out_dir / 'summary.json'}")
    return summary


def _demo_spectrum(store: Path, model_path: Path, out_dir: Path, temperature_k: float) -> dict:
    """α(t) from a bond-polarizability model along the stored frames, then the spectra."""
    from ionraman.polarizability.bond_model import BondPolarizabilityModel
    from ionraman.spectra import spectrum_from_file
    from ionraman.trajectory import open_trajectory, write_polarizability

    model = BondPolarizabilityModel.load(model_path)
    with open_trajectory(store) as traj:
        alpha = model.predict_many(traj.get_atoms(k) for k in range(len(traj)))
    write_polarizability(
        store, alpha, metadata={"model": str(model_path), "sha256": file_sha256(model_path)}
    )
    spec_dir = out_dir / "spectrum"
    spectrum_from_file(store, spec_dir, temperature_k=temperature_k)
    return {"csv": str(spec_dir / "spectrum.csv"), "png": str(spec_dir / "spectrum.png")}
