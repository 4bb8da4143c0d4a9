"""The ``ionraman`` command line: a thin layer over the Python API.

User errors (:class:`ionraman.errors.InputError` and friends) print one line ``error: ...`` and
exit with code 2; no traceback. Heavy modules are imported inside the commands (fast ``--help``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ionraman.errors import Interrupted, IonramanError
from ionraman.forcefields.registry import DEFAULT_FORCE_FIELD
from ionraman.validate import (
    check_count,
    check_nonzero,
    check_output_dir,
    check_output_file,
    check_temperature,
)

try:  # typer >= 0.22 carries its own copy of click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as click_errors

app = typer.Typer(
    name="ionraman",
    help="Low-frequency Raman screening of solid electrolytes from ML-driven molecular dynamics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _echo(msg: str) -> None:
    typer.echo(msg)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Screening configuration (TOML).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run directory (default: from the config).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Screening run: MD, polarizability, spectra, metrics, transport, ranking and HTML report."""
    from ionraman.workflow import run as run_workflow

    result = run_workflow(config, out, quiet=quiet)
    _echo(result.summary_text())
    if not result.ok:
        raise typer.Exit(code=1)


@app.command()
def spectrum(
    series: Annotated[
        Path, typer.Argument(help="α series: CSV/TXT (6 or 9 columns), .npy or .h5 store.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("spectrum"),
    timestep_fs: Annotated[
        float | None, typer.Option("--timestep-fs", help="Frame spacing in fs, if not in file.")
    ] = None,
    order: Annotated[
        str | None, typer.Option(help="Component order: ase-voigt, vasp, gpumd, nep-9, row-major-9")
    ] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", "-T", help="K.")] = None,
    resolution_cm1: Annotated[float | None, typer.Option("--resolution", help="cm^-1.")] = None,
    window: Annotated[str, typer.Option(help="Welch window (scipy.signal name).")] = "hann",
    quantum_correction: Annotated[str, typer.Option(help="none, harmonic or bose.")] = "harmonic",
    laser_nm: Annotated[float | None, typer.Option("--laser-nm", help="Laser, nm.")] = None,
    geometry: Annotated[
        list[str] | None, typer.Option(help="Single-crystal Porto geometry, e.g. 'z(xx)-z'.")
    ] = None,
) -> None:
    """Raman spectra (powder channels, optional single-crystal geometries) of an α series."""
    from ionraman.spectra import spectrum_from_file

    check_temperature(temperature, "--temperature")
    classical = quantum_correction != "none" and temperature is None
    if classical:
        quantum_correction = "none"
    result = spectrum_from_file(
        series,
        out,
        timestep_fs=timestep_fs,
        order=order,
        resolution_cm1=resolution_cm1,
        window=window,
        temperature_k=temperature,
        quantum_correction=quantum_correction,
        laser_wavelength_nm=laser_nm,
        geometries=tuple(geometry or ()),
    )
    _echo(
        f"spectrum: {len(result.wavenumber_cm1)} bins, resolution {result.resolution_cm1:.3g} cm^-1"
        f" -> {out}/spectrum.csv, {out}/spectrum.png"
    )
    if classical:
        _echo("note: no --temperature given, so no quantum correction is applied")
    _note_incomplete(series)
    _note_assumed_order(series, result.metadata["input"]["series_metadata"], out)


def _note_incomplete(path: Path) -> None:
    """Flag results made from an MD store that did not finish."""
    from ionraman.trajectory import incomplete_store_note

    note = incomplete_store_note(path)
    if note:
        _echo(f"note: {note}")


def _note_assumed_order(series: Path, meta: dict, out: Path) -> None:
    """Say which component order was assumed for a table without component names."""
    if str(meta.get("component_order_source", "")).startswith("assumed"):
        _echo(
            f"note: {series} names no components; assumed order {meta['component_order']} "
            f"(recorded in {out}/spectrum.h5); name the columns in a header or give --order"
        )


@app.command()
def compare(
    measured: Annotated[
        Path, typer.Argument(help="Measured spectrum: CSV/TXT (x + intensity columns) or JCAMP-DX.")
    ],
    simulated: Annotated[
        Path, typer.Argument(help="Simulated spectrum.h5, or the folder of 'ionraman spectrum'.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path(
        "comparison"
    ),
    column: Annotated[
        str | None,
        typer.Option(help="Column (name or index) of a multi-spectrum file; default: closest T."),
    ] = None,
    channel: Annotated[str, typer.Option(help="Simulated channel.")] = "total",
    variant: Annotated[
        str, typer.Option(help="reduced (divide by n+1, laser) or stokes.")
    ] = "reduced",
    x_unit: Annotated[
        str, typer.Option("--x-unit", help="auto, raman_shift_cm1, absolute_cm1 or nm.")
    ] = "auto",
    laser_nm: Annotated[float | None, typer.Option("--laser-nm", help="Laser, nm.")] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", "-T", help="Sample temperature, K.")
    ] = None,
    cutoff: Annotated[
        float | None, typer.Option(help="Edge/notch filter cutoff, cm^-1 (cuts both spectra).")
    ] = None,
    crop: Annotated[str | None, typer.Option(help="Keep LO:HI cm^-1 of the measurement.")] = None,
    despike: Annotated[bool, typer.Option(help="Remove cosmic-ray spikes.")] = True,
    baseline: Annotated[str, typer.Option(help="arpls, asls, snip or none.")] = "arpls",
    protect_below: Annotated[
        float, typer.Option(help="Fit the baseline above this shift (cm^-1); 0 = everywhere.")
    ] = 100.0,
    normalise: Annotated[
        str | None, typer.Option(help="Divide by: max, SbS4, PS4, SnS4 or LO:HI band area.")
    ] = None,
    fwhm: Annotated[float, typer.Option(help="Gaussian instrument FWHM, cm^-1.")] = 0.0,
    lorentz_fwhm: Annotated[float, typer.Option(help="Lorentzian instrument FWHM, cm^-1.")] = 0.0,
    scale: Annotated[float, typer.Option(help="Frequency scale factor of the simulation.")] = 1.0,
    fit_scale: Annotated[bool, typer.Option(help="Fit the scale factor within 0.9-1.1.")] = False,
    window: Annotated[str, typer.Option(help="Low-frequency window LO:HI, cm^-1.")] = "0:50",
    reference_max: Annotated[float, typer.Option(help="Reference integral end, cm^-1.")] = 800.0,
    tolerance: Annotated[float, typer.Option(help="Peak matching tolerance, cm^-1.")] = 20.0,
) -> None:
    """Compare a measured Raman spectrum with a simulated one (overlay PNG, peak table, metrics)."""
    from ionraman.spectra.compare_files import compare_main, parse_band, parse_range_cm1

    check_temperature(temperature, "--temperature")
    result = compare_main(
        measured,
        simulated,
        out,
        select=column,
        channel=channel,
        variant=variant,
        x_unit=x_unit,
        laser_wavelength_nm=laser_nm,
        temperature_k=temperature,
        crop_cm1=parse_range_cm1(crop, "--crop") if crop else None,
        cutoff_cm1=cutoff,
        despike=despike,
        baseline=baseline,
        baseline_protect_below_cm1=protect_below,
        normalise_band=parse_band(normalise),
        gaussian_fwhm_cm1=fwhm,
        lorentzian_fwhm_cm1=lorentz_fwhm,
        scale_factor=scale,
        fit_scale=fit_scale,
        lowfreq_window_cm1=parse_range_cm1(window, "--window"),
        reference_max_cm1=reference_max,
        peak_tolerance_cm1=tolerance,
    )
    s = result.summary()
    lf = ""
    if result.lowfreq_measured is not None and result.lowfreq_simulated is not None:
        lf = (
            f", low-freq. fraction {result.lowfreq_measured.value:.3g} (measured) vs "
            f"{result.lowfreq_simulated.value:.3g} (simulated)"
        )
    _echo(
        f"compare: Pearson r {s['pearson']:.3f}, overlap {s['overlap_integral']:.3f}, "
        f"scale {s['scale_factor']:.4f}, {s['n_peaks_matched']} peaks matched{lf} -> "
        f"{out}/comparison.png, {out}/comparison_peaks.csv"
    )


@app.command()
def diffusion(
    trajectory: Annotated[
        Path, typer.Argument(help="ionraman .h5 store or any ASE-readable trajectory.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("diffusion"),
    species: Annotated[str, typer.Option(help="Mobile species.")] = "Na",
    temperature: Annotated[float | None, typer.Option("--temperature", "-T", help="K.")] = None,
    timestep_fs: Annotated[
        float | None,
        typer.Option("--timestep-fs", help="Time between frames in fs (for files without times)."),
    ] = None,
    charge: Annotated[float, typer.Option(help="Charge of the mobile ion in e.")] = 1.0,
) -> None:
    """Mean squared displacement, diffusion coefficient (kinisi), conductivity and mechanism."""
    from ionraman.transport import analyse_diffusion

    check_temperature(temperature, "--temperature")
    check_nonzero(charge, "--charge", "e")
    result = analyse_diffusion(
        trajectory,
        out,
        species=species,
        temperature_k=temperature,
        timestep_fs=timestep_fs,
        charge=charge,
    )
    _echo(result.summary())
    _echo(f"-> {out}/msd.csv, {out}/diffusion.json, {out}/msd.png")
    _note_incomplete(trajectory)


@app.command()
def md(
    structure: Annotated[str, typer.Argument(help="Built-in structure name or structure file.")],
    temperature: Annotated[float, typer.Option("--temperature", "-T", help="K.")] = 600.0,
    time: Annotated[str, typer.Option("--time", help="Production length: 20ps, 500fs.")] = "10ps",
    force_field: Annotated[str, typer.Option("--force-field", "-f", help="Registry name.")] = (
        DEFAULT_FORCE_FIELD
    ),
    out: Annotated[Path, typer.Option("--out", "-o")] = Path("run.h5"),
    timestep_fs: Annotated[float, typer.Option("--timestep-fs")] = 2.0,
    sample_every_fs: Annotated[float, typer.Option("--sample-every-fs")] = 10.0,
    equilibration: Annotated[str, typer.Option("--equilibration", help="e.g. 2ps.")] = "2ps",
    ensemble: Annotated[str, typer.Option(help="nvt or nve (production).")] = "nvt",
    seed: Annotated[int, typer.Option()] = 0,
    supercell: Annotated[
        str | None, typer.Option(help="Repeat, e.g. 2x2x2, or a minimum atom count, e.g. 128.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Finite-temperature MD with an ML force field, sampled into a trajectory store (resumable)."""
    from ionraman.md import parse_time_ps, run_md
    from ionraman.structures import load_structure, make_supercell

    check_temperature(temperature, "--temperature")
    atoms = load_structure(structure)
    if supercell:
        atoms = _apply_supercell(atoms, supercell, make_supercell)
    path = run_md(
        atoms,
        temperature_k=temperature,
        time_ps=parse_time_ps(time),
        force_field=force_field,
        timestep_fs=timestep_fs,
        sample_every_fs=sample_every_fs,
        equilibration_ps=parse_time_ps(equilibration),
        ensemble=ensemble,
        seed=seed,
        out=out,
        quiet=quiet,
    )
    _echo(f"trajectory -> {path}")


def _apply_supercell(atoms, spec: str, make_supercell):
    from ionraman.errors import InputError

    try:
        if "x" in spec:
            repeat = tuple(int(v) for v in spec.lower().split("x"))
            if len(repeat) != 3:
                raise ValueError
            return make_supercell(atoms, repeat=repeat)
        return make_supercell(atoms, min_atoms=int(spec))
    except ValueError:
        raise InputError(
            f"--supercell {spec!r}: expected a repeat like 2x2x2 or a minimum atom count like 128"
        ) from None


polarizability_app = typer.Typer(
    help="Tensorial ML polarizability models: fit on labelled extxyz, predict along a store.",
    no_args_is_help=True,
)
app.add_typer(polarizability_app, name="polarizability")


@polarizability_app.command("fit")
def polarizability_fit(
    data: Annotated[Path, typer.Argument(help="extxyz with REF_polarizability (3x3, A^3).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file (.pt).")] = Path(
        "alpha_model.pt"
    ),
    validation: Annotated[
        Path | None, typer.Option(help="Separate validation extxyz (default: a random split).")
    ] = None,
    key: Annotated[str, typer.Option(help="atoms.info key of the labels.")] = "REF_polarizability",
    ensemble: Annotated[int, typer.Option(help="Ensemble members.")] = 4,
    cutoff: Annotated[float, typer.Option("--cutoff", help="Environment cutoff, A.")] = 5.5,
    seed: Annotated[int, typer.Option()] = 0,
    max_epochs: Annotated[int, typer.Option("--max-epochs", help="adam solver only.")] = 3000,
    solver: Annotated[
        str,
        typer.Option(
            help="adam (MLP heads, early stopping) or ridge (linear heads in closed form, "
            "penalty by cross-validation)."
        ),
    ] = "adam",
    val_fraction: Annotated[
        float,
        typer.Option(
            "--val-fraction",
            help="Fraction held out for metrics and the spread threshold when no --validation.",
        ),
    ] = 0.2,
    kind: Annotated[
        str,
        typer.Option(
            help="cartesian (tensorial ML model, .pt) or bond (bond-polarizability physics "
            "model, .json)."
        ),
    ] = "cartesian",
    elements: Annotated[
        str | None,
        typer.Option(help="Bond model: fit only structures made of these elements, e.g. Na,Sb,S."),
    ] = None,
    ridge: Annotated[
        float,
        typer.Option(help="Bond model: ridge penalty, design columns scaled to max |x| = 1."),
    ] = 1e-2,  # bond_model.DEFAULT_RIDGE (not imported here: the CLI starts without ase)
) -> None:
    """Fit a polarizability model (writes OUT and OUT.fit.json with metrics and provenance)."""
    from ionraman.errors import InputError
    from ionraman.polarizability.models import fit_model

    if kind not in ("cartesian", "bond"):
        raise InputError(f"--kind {kind!r}: expected 'cartesian' or 'bond'")
    check_count(max_epochs, "--max-epochs")
    check_output_file(out, "--out")
    if kind == "bond":
        from ionraman.polarizability.bond_model import fit_bond_model

        if out.suffix != ".json":
            raise InputError(f"--out {str(out)!r}: a bond model is written as .json")
        only = [e.strip() for e in elements.split(",") if e.strip()] if elements else None
        _, fit_report = fit_bond_model(data, out, key=key, elements=only, ridge=ridge)
        _echo(
            f"fitted on {fit_report['n_train']} structures; training RMSE "
            f"{fit_report['train_rmse_A3']:.3g} A^3 -> {out}, {out.with_suffix('.fit.json')}"
        )
        return
    _, report = fit_model(
        data,
        out,
        validation=validation,
        key=key,
        ensemble_size=ensemble,
        cutoff_A=cutoff,
        seed=seed,
        max_epochs=max_epochs,
        solver=solver,
        val_fraction=val_fraction,
    )
    val = report.metrics.get("validation", {})
    scores = ", ".join(f"{k} {v:.4g}" for k, v in val.items()) or "none (no validation split)"
    how = f"ridge penalty {report.ridge['penalty']:g}" if report.ridge else "adam"
    _echo(
        f"fitted on {report.n_train} structures ({how}, {report.seconds:.0f} s); "
        f"validation: {scores}"
    )
    for note in report.notes:
        _echo(f"note: {note}")
    _echo(f"-> {out}, {Path(out).with_suffix('.fit.json')}")


@polarizability_app.command("predict")
def polarizability_predict(
    trajectory: Annotated[Path, typer.Argument(help="ionraman trajectory store (.h5).")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file from 'fit'.")],
    batch_frames: Annotated[int, typer.Option("--batch-frames")] = 256,
    dtype: Annotated[str, typer.Option(help="float32 or float64.")] = "float32",
    threads: Annotated[int | None, typer.Option(help="torch CPU threads.")] = None,
    write: Annotated[bool, typer.Option(help="Write alpha into the store.")] = True,
) -> None:
    """Predict the polarizability series along a trajectory store (streamed in batches)."""
    from ionraman.polarizability.models import predict_store

    check_count(threads, "--threads")
    check_count(batch_frames, "--batch-frames")
    pred = predict_store(
        trajectory, model, batch_frames=batch_frames, write=write, dtype=dtype, threads=threads
    )
    _echo(
        f"alpha for {len(pred.alpha)} frames ({pred.frames_per_s:.0f} frames/s); "
        f"{100 * pred.flagged_fraction:.1f} % flagged outside the training distribution "
        f"(atoms outside the training domain: {100 * pred.outside_fraction.mean():.1f} % on "
        f"average, {100 * pred.outside_fraction.max():.1f} % at most"
        + "".join(
            f"; {s} {100 * f:.1f} %"
            for s, f in pred.metadata.get("outside_fraction_by_species", {}).items()
        )
        + ")"
        + (f" -> {trajectory}" if write else "")
    )
    _note_incomplete(trajectory)


reference_app = typer.Typer(
    help="Reference (first-principles) polarizabilities: label structures with DFT.",
    no_args_is_help=True,
)
app.add_typer(reference_app, name="reference")


@reference_app.command(
    "label",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                      "help_option_names": []},
    add_help_option=False,
)
def reference_label(ctx: typer.Context) -> None:
    """Label SNAPSHOTS.extxyz with DFT ε∞ and α (resumable): ``ionraman reference label
    SNAPSHOTS.extxyz --code qe --out DIR [--kpts 2 2 2 --ecutwfc 44 ...]``; ``--help`` lists
    the options."""
    from ionraman.polarizability.reference.labels import label_main

    code = label_main(list(ctx.args))
    if code:
        raise typer.Exit(code=code)


@reference_app.command(
    "forces",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                      "help_option_names": []},
    add_help_option=False,
)
def reference_forces(ctx: typer.Context) -> None:
    """Label SNAPSHOTS.extxyz with DFT energies, forces and stresses (QE pw.x SCF, resumable):
    ``ionraman reference forces SNAPSHOTS.extxyz --out DIR [--kspacing 0.5 ...]``; ``--help``
    lists the options."""
    from ionraman.polarizability.reference.labels import label_main

    code = label_main(list(ctx.args), task="scf")
    if code:
        raise typer.Exit(code=code)


forcefield_app = typer.Typer(
    help="Force fields: list them; distil a fast NEP student from a universal teacher.",
    no_args_is_help=True,
)
app.add_typer(forcefield_app, name="forcefield")


@forcefield_app.command("list")
def forcefield_list() -> None:
    """List the registered force fields (universal models and shipped students)."""
    from ionraman.forcefields.registry import force_field_table

    _echo(force_field_table().to_string(index=False))


@forcefield_app.command("audit")
def forcefield_audit(
    frames: Annotated[
        list[Path] | None,
        typer.Argument(help="DFT-labelled extxyz files (default: the shipped held-out SCF "
                       "labels, ionraman/data/reference/scf/heldout).", show_default=False),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Force field (repeatable; default: every universal "
                     "model and student covering the elements)."),
    ] = None,
    stretch: Annotated[
        list[str] | None,
        typer.Option("--stretch", help="Structure whose XY4 stretching modes are compared with "
                     "DFT finite differences (repeatable; built-in name or file)."),
    ] = None,
    phonons: Annotated[
        list[str] | None,
        typer.Option("--phonons", help="Structure whose Gamma-point modes (symmetry-labelled, "
                     "phonopy) are compared with DFT finite differences (repeatable)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("audit"),
    delta: Annotated[float, typer.Option(help="Finite-difference displacement, A.")] = 0.01,
    no_relax: Annotated[bool, typer.Option("--no-relax", help="Skip the cell relaxations.")] = (
        False
    ),
    threads: Annotated[int | None, typer.Option(help="torch threads.")] = None,
) -> None:
    """Audit force fields against DFT: force/energy/stress errors, stretching frequencies, Gamma
    phonons, cell."""
    from ionraman.forcefields.audit import run_audit, shipped_scf_dir

    check_count(threads, "--threads")
    files = frames or [shipped_scf_dir() / "heldout" / "labelled.extxyz"]
    result = run_audit(files, model, stretch or (), out, phonons=phonons or (), delta_A=delta,
                       relax=not no_relax, threads=threads, log=sys.stderr)
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 30):
        _echo(result.errors_table().round(1).to_string(index=False))
        if result.stretch:
            _echo(result.stretch_table().round(1).to_string(index=False))
        if result.phonons:
            _echo(result.phonon_table().round(1).to_string(index=False))
        if result.cell:
            _echo(pd.DataFrame(result.cell).round(3).to_string(index=False))
    for name, why in result.failures.items():
        _echo(f"not audited: {name}: {why}")
    _echo(f"recommendation: {result.recommendation()}")
    _echo(f"tables, audit.json and parity.png -> {out}")


@forcefield_app.command("train")
def forcefield_train(
    labelled: Annotated[
        list[Path], typer.Argument(help="DFT-labelled extxyz files (ionraman reference forces).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Student directory.")],
    test: Annotated[
        list[Path] | None,
        typer.Option("--test", help="Held-out labelled extxyz (errors only; repeatable)."),
    ] = None,
    finetune_from: Annotated[
        Path | None, typer.Option(help="Start from this nep.txt (e.g. a teacher's student).")
    ] = None,
    pretrain: Annotated[
        list[Path] | None,
        typer.Option("--pretrain", help="Frames labelled by a universal model: pre-train on "
                     "them, then fine-tune on the DFT frames (repeatable; "
                     "scripts/pretrain_pool.py)."),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 300,
    zbl: Annotated[
        float | None, typer.Option(help="Add ZBL repulsion below this distance, A (e.g. 1.8).")
    ] = 1.8,
    neuron: Annotated[int, typer.Option(help="Hidden neurons per element.")] = 30,
    lambda_v: Annotated[float, typer.Option(help="Loss weight of the virial.")] = 0.1,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[int, typer.Option(help="torch threads.")] = 1,
) -> None:
    """Train a NEP student on DFT energies, forces and stresses (resumable)."""
    from dataclasses import replace

    from ionraman.forcefields.nep import NEPHyperparameters
    from ionraman.forcefields.student import train_student

    check_count(threads, "--threads")
    check_count(epochs, "--epochs")
    hyper = replace(NEPHyperparameters(), epochs=epochs, zbl_outer_A=zbl, neuron=neuron,
                    lambda_v=lambda_v)
    nep = train_student(labelled, out, hyper, test_files=test or (),
                        finetune_from=finetune_from, pretrain_files=pretrain or (), seed=seed,
                        threads=threads)
    import json

    meta = json.loads((out / "student.json").read_text())
    if meta.get("pretrain"):
        pre = meta["pretrain"]
        _echo(f"pre-trained on {pre['n_train_frames']} frames ({pre['teacher']['name']}): "
              f"held-out force RMSE {pre['test_errors']['all']['force_rmse_meV_A']:.1f} meV/A"
              if pre["test_errors"] else f"pre-trained on {pre['n_train_frames']} frames")
    train_err = meta["train_errors"]
    _echo(f"student -> {nep} ({meta['n_train_frames']} frames, {meta['train_seconds']:.0f} s; "
          f"training force RMSE {train_err['force_rmse_meV_A']:.1f} meV/A)")
    for group, err in meta["test_errors"].items():
        _echo(f"  test {group}: force RMSE {err['force_rmse_meV_A']:.1f} meV/A over "
              f"{err['n_frames']} frames (DFT RMS {err['dft_force_rms_meV_A']:.0f})")


@forcefield_app.command("explore")
def forcefield_explore(
    nep: Annotated[Path, typer.Argument(help="The student's nep.txt.")],
    structures: Annotated[
        list[str], typer.Argument(help="Built-in structure names or files (NAME@2x1x1 repeats).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    temperatures: Annotated[
        list[float] | None, typer.Option("--temperatures", "-T", help="K (repeat the option).")
    ] = None,
    train: Annotated[
        Path | None,
        typer.Option(help="The student's training frames (default: train.extxyz beside NEP)."),
    ] = None,
    time: Annotated[str, typer.Option(help="Student MD per structure and T.")] = "5ps",
    every: Annotated[float, typer.Option(help="Candidate interval, fs.")] = 50.0,
    max_new: Annotated[int, typer.Option(help="Frames to select at most.")] = 20,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Student MD, then the frames it extrapolates most on (MaxVol grade) -> OUT/selected.extxyz,
    ready for ``ionraman reference forces``."""
    from ase.io import write

    from ionraman._io import atomic_path
    from ionraman.distillation.exploration import explore, select_by_grade
    from ionraman.errors import InputError
    from ionraman.md import parse_time_ps
    from ionraman.structures import load_structure, make_supercell

    train = train or nep.parent / "train.extxyz"
    for path, what in ((nep, "student"), (train, "training frames")):
        if not path.is_file():
            raise InputError(f"{path}: {what} not found")
    check_output_dir(out)
    systems = {}
    for spec in structures:
        name, _, repeat = spec.partition("@")
        atoms = load_structure(name)
        if repeat:
            atoms = _apply_supercell(atoms, repeat, make_supercell)
        systems[spec.replace(":", "_").replace("/", "_")] = atoms
    temps = tuple(temperatures or (300.0, 600.0, 900.0))
    candidates, failures = explore(nep, systems, temps, out / "md", time_ps=parse_time_ps(time),
                                   every_fs=every, seed=seed)
    for c in candidates:
        c.info.update(phase=c.info["system"], source="explore")
    # one share per system: the grades of the system least like the training data (often a
    # dopant with few training atoms) would otherwise take every pick
    from torchnep.extrapolation import build_active_set

    share = -(-max_new // len(systems))
    selected = []
    active_set = None
    for name in systems:
        mine = [c for c in candidates if c.info["system"] == name]
        target = out / "per_system" / f"{name}.extxyz"
        if active_set is None and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            active_set = build_active_set(str(nep), str(train), str(out / "active_set.pt"),
                                          verbose=False)
        got, stats = select_by_grade(nep, train, mine, target, share, active_set)
        selected += got
        _echo(f"{name}: {stats['n_selected']} of {stats['n_candidates']} frames selected "
              f"({stats['n_extrapolating']} extrapolating; grade max {stats['grade_max']:.3g}, "
              f"median {stats['grade_median']:.3g})")
    with atomic_path(out / "selected.extxyz") as tmp:
        write(tmp, selected, format="extxyz")
    for line in failures:
        _echo(f"student MD stopped: {line}")
    _echo(f"{len(selected)} frames to label -> {out / 'selected.extxyz'}")


@forcefield_app.command("distill")
def forcefield_distill(
    structures: Annotated[
        list[str], typer.Argument(help="Built-in structure names or structure files.")
    ],
    teacher: Annotated[str, typer.Option("--teacher", help="Teacher force field.")] = (
        DEFAULT_FORCE_FIELD
    ),
    temperatures: Annotated[
        list[float] | None, typer.Option("--temperatures", "-T", help="K (repeat the option).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Work directory.")] = Path("distill"),
    seed_trajectory: Annotated[
        list[Path] | None,
        typer.Option("--seed-trajectory", help="Existing teacher trajectory store (repeatable)."),
    ] = None,
    seed_labelled: Annotated[
        list[Path] | None,
        typer.Option(
            "--seed-labelled",
            help="extxyz of frames already labelled by the teacher, e.g. an earlier run's "
            "iter_NNN/train.extxyz (repeatable).",
        ),
    ] = None,
    min_atoms: Annotated[int, typer.Option(help="Repeat smaller cells to this many atoms.")] = 100,
    teacher_time: Annotated[str, typer.Option(help="Teacher MD per system and T.")] = "1ps",
    validation_time: Annotated[str, typer.Option(help="Fresh teacher MD per system and T.")] = (
        "0.4ps"
    ),
    explore_time: Annotated[str, typer.Option(help="Student MD per system, T, iteration.")] = (
        "5ps"
    ),
    max_iterations: Annotated[int, typer.Option()] = 4,
    max_new: Annotated[int, typer.Option(help="New frames per iteration at most.")] = 40,
    target_force_rmse: Annotated[
        float, typer.Option(help="Stop below this force RMSE at the top T, meV/A.")
    ] = 80.0,
    epochs: Annotated[int, typer.Option(help="Epochs of the first training.")] = 150,
    finetune_epochs: Annotated[int, typer.Option(help="Epochs of later trainings.")] = 80,
    zbl: Annotated[
        float | None, typer.Option(help="Add ZBL repulsion below this distance, A (e.g. 1.8).")
    ] = None,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[int, typer.Option(help="torch threads (teacher, training).")] = 1,
) -> None:
    """Distil the teacher into a NEP student with active learning (resumable; see docs)."""
    from dataclasses import replace

    from ionraman.distillation.loop import DistillSettings, distill
    from ionraman.forcefields.nep import NEPHyperparameters
    from ionraman.md import parse_time_ps

    temps = tuple(temperatures or (500.0, 700.0, 900.0))
    for t in temps:
        check_temperature(t, "--temperatures")
    check_count(threads, "--threads")
    settings = DistillSettings(
        teacher=teacher,
        temperatures_k=temps,
        min_atoms=min_atoms,
        teacher_ps=parse_time_ps(teacher_time),
        validation_ps=parse_time_ps(validation_time),
        explore_ps=parse_time_ps(explore_time),
        max_iterations=max_iterations,
        max_new_per_iteration=max_new,
        force_rmse_target_meV_A=target_force_rmse,
        hyper=replace(NEPHyperparameters(), epochs=epochs, zbl_outer_A=zbl),
        finetune_epochs=finetune_epochs,
        seed=seed,
        threads=threads,
    )
    result = distill(
        structures,
        out,
        settings,
        seed_trajectories=seed_trajectory or (),
        seed_labelled=seed_labelled or (),
    )
    last = result.iterations[-1]
    _echo(
        f"student -> {result.student} ({'converged' if result.converged else 'NOT converged'} "
        f"after {len(result.iterations)} iterations; force RMSE at {max(temps):g} K "
        f"{last['validation_top_T']['force_rmse_meV_A']:.1f} meV/A on "
        f"{last['validation_top_T']['n_frames']} fresh teacher frames)"
    )


@app.command("structures")
def list_structures_cmd() -> None:
    """List the built-in structures."""
    from ionraman.structures import list_structures

    _echo(list_structures().to_string(index=False))


@app.command()
def demo(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run directory (default: from the config).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Run the embedded default screening example (three Na thioantimonates, 600-900 K)."""
    from ionraman.examples import run_demo

    result = run_demo(out, quiet=quiet)
    _echo(result.summary_text())
    if not result.ok:
        raise typer.Exit(code=1)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code.

    User errors, parser errors included (a bad option value, a missing argument), exit with code
    2 and a one-line ``error: ...`` message on stderr.
    """
    try:
        code = app(args=argv, standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return 2
    except click_errors.UsageError as exc:
        return _error(exc.format_message())
    except IonramanError as exc:
        return _error(str(exc))
    except typer.Abort:  # Ctrl-C: not a user error, as before (click's standalone mode)
        typer.echo("Aborted!", err=True)
        return 1
    except Interrupted as exc:  # the run's clean-up is done; 128 + the signal's number
        typer.echo(exc.message(), err=True)
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code if isinstance(code, int) else 0


def _error(message: str) -> int:
    """Print ``error: <message>`` as one line on stderr; return the exit code 2."""
    one_line = " ".join(message.split())
    typer.echo(f"error: {one_line}", err=True)
    return 2


if __name__ == "__main__":
    sys.exit(main())
