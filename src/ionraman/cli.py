"""The ``ionraman`` command line: a thin layer over the Python API.

User errors (:class:`ionraman.errors.InputError` and friends) print one line ``error: ...`` and
exit with code 2; no traceback. Heavy modules are imported inside the commands (fast ``--help``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ionraman.errors import IonramanError

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

    if quantum_correction != "none" and temperature is None:
        quantum_correction = "none"
        _echo("note: no --temperature given, so no quantum correction is applied")
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


@app.command()
def md(
    structure: Annotated[str, typer.Argument(help="Built-in structure name or structure file.")],
    temperature: Annotated[float, typer.Option("--temperature", "-T", help="K.")] = 600.0,
    time: Annotated[str, typer.Option("--time", help="Production length: 20ps, 500fs.")] = "10ps",
    force_field: Annotated[str, typer.Option("--force-field", "-f", help="Registry name.")] = (
        "sevenn-mf0-r2scan"
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


@app.command("structures")
def list_structures_cmd() -> None:
    """List the built-in structures."""
    from ionraman.structures import list_structures

    _echo(list_structures().to_string(index=False))


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out/demo"),
    time: Annotated[str, typer.Option("--time", help="Production MD length.")] = "2ps",
    equilibration: Annotated[str, typer.Option("--equilibration")] = "0.5ps",
    alpha_model: Annotated[
        Path | None, typer.Option("--alpha-model", help="Bond-polarizability model JSON.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Run the embedded default example (W-doped c-Na3SbS4, 800 K) end to end (~6 min)."""
    from ionraman.examples import run_demo
    from ionraman.md import parse_time_ps

    run_demo(
        out,
        production_ps=parse_time_ps(time),
        equilibration_ps=parse_time_ps(equilibration),
        alpha_model=alpha_model,
        quiet=quiet,
    )


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code.

    User errors exit with code 2 and a one-line ``error: ...`` message on stderr.
    """
    try:
        app(args=argv)  # standalone mode: raises SystemExit on success and on usage errors
    except IonramanError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
