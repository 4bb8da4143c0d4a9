#!/usr/bin/env python
"""Spectrum-level validation of polarizability models against DFT on the same MD frames.

The ``spectrum`` split of the reference dataset (``scripts/reference_dataset.py``) holds 25
consecutive frames, 40 fs apart, of held-out 600 K MLFF trajectories of t- and c-Na3SbS4; label
them with ``SPLITS=spectrum scripts/reference_labels.sh``. For every phase this script takes the
longest run of consecutive labelled frames from the start, computes the Raman spectrum of the DFT
α series and of each model's α on the same frames (same conventions: one Hann-windowed segment
over the whole series, harmonic quantum correction, reduced variant), and reports

* the spectral overlap ``∫ a b / sqrt(∫ a² ∫ b²)`` of the total, isotropic and anisotropic reduced
  spectra (:func:`ionraman.spectra.compare.overlap_integral`),
* the low-frequency fraction (:func:`ionraman.screening.lowfreq.lowfreq_fraction_from_spectrum`,
  default window 0–50 cm⁻¹; reference integral up to the Nyquist limit) from both,
* RMSE of δα = α − ⟨α⟩ over the series (Å³) and its ratio to the RMS of the DFT δα,
* the scale the overlap cannot see: the integrated total reduced intensity of the model over the
  DFT one, and the ratio of the RMS δα of the model and of DFT.

The series is short (≤ 0.96 ps: 35 cm⁻¹ resolution, Nyquist 417 cm⁻¹), so the spectra are coarse;
the comparison is like for like (same frames, same processing). Run::

    .venv/bin/python scripts/alpha_spectrum_validation.py \\
        --model src/ionraman/data/models/bond-na-sb-s.json --out out/alpha_spectrum

Writes ``OUT/spectrum_validation.json`` and ``.md`` and one PNG per phase. With ``--record`` each
model's measured ratios are also written next to the model file (``<stem>.validation.json``,
:mod:`ionraman.polarizability.systematic`), from where ``ionraman run`` reports the metric's
systematic error (``lowfreq_fraction_sys_rel`` in the results table).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ionraman._io import file_sha256, write_json_atomic
from ionraman.polarizability import load_model, predict_alpha
from ionraman.polarizability.bond_model import POLARIZABILITY_KEY
from ionraman.polarizability.labelled import load_labelled
from ionraman.polarizability.scores import reference_alpha
from ionraman.polarizability.systematic import ModelValidation, write_validation
from ionraman.screening.lowfreq import lowfreq_fraction_from_spectrum
from ionraman.spectra.compare import overlap_integral
from ionraman.spectra.raman import compute_raman_spectrum

DATA = Path(__file__).resolve().parents[1] / "src" / "ionraman" / "data" / "reference"
CHANNELS = ("total", "isotropic", "anisotropic")
VARIANT = "reduced"


def consecutive_series(frames: list) -> dict[str, list]:
    """Frames per MD store, time-ordered, cut at the first gap (an unlabelled frame)."""
    groups: dict[str, list] = {}
    for a in frames:
        groups.setdefault(str(a.info["md_store"]), []).append(a)
    out = {}
    for store, group in groups.items():
        group.sort(key=lambda a: int(a.info["frame"]))
        steps = np.diff([int(a.info["frame"]) for a in group])
        stride = int(np.min(steps)) if steps.size else 1
        n = 1
        while n < len(group) and steps[n - 1] == stride:
            n += 1
        out[store] = group[:n]
    return out


def spectrum_of(alpha: np.ndarray, dt_fs: float, temperature_k: float):
    """Raman spectrum of one short α series: one Hann-windowed segment over all frames."""
    n = len(alpha) - len(alpha) % 2
    return compute_raman_spectrum(
        alpha[:n], dt_fs, segment_length=n, temperature_k=temperature_k
    )


def _lowfreq(spec) -> float:
    """Low-frequency fraction, reference integral up to the Nyquist limit (below 800 cm⁻¹)."""
    top = min(800.0, float(spec.wavenumber_cm1[-1]))
    return lowfreq_fraction_from_spectrum(spec, reference_max_cm1=top).value


def compare_series(frames: list, models: dict[str, object]) -> dict:
    """DFT vs model spectra and low-frequency fractions on one consecutive series."""
    ref = reference_alpha(frames, POLARIZABILITY_KEY)
    times_ps = np.array([float(a.info["time_ps"]) for a in frames])
    dt_fs = float(np.median(np.diff(times_ps))) * 1000.0
    temp = float(frames[0].info["temperature_k"])
    spec_ref = spectrum_of(ref, dt_fs, temp)
    d_ref = ref - ref.mean(axis=0)
    row = {
        "phase": frames[0].info["phase"],
        "temperature_K": temp,
        "n_frames": len(frames),
        "interval_fs": dt_fs,
        "resolution_cm1": spec_ref.resolution_cm1,
        "nyquist_cm1": float(spec_ref.wavenumber_cm1[-1]),
        "dft": {
            "rms_delta_alpha_A3": float(np.sqrt(np.mean(d_ref**2))),
            "lowfreq_fraction": _lowfreq(spec_ref),
        },
        "models": {},
        "_spectra": {"DFT": spec_ref},
    }
    for name, model in models.items():
        alpha = predict_alpha(model, frames)
        spec = spectrum_of(alpha, dt_fs, temp)
        d = alpha - alpha.mean(axis=0)
        rmse = float(np.sqrt(np.mean((d - d_ref) ** 2)))
        row["models"][name] = {
            "rmse_delta_alpha_A3": rmse,
            "rmse_delta_alpha_rel": rmse / row["dft"]["rms_delta_alpha_A3"],
            "rmse_alpha_A3": float(np.sqrt(np.mean((alpha - ref) ** 2))),
            "overlap": {
                ch: overlap_integral(
                    spec.wavenumber_cm1,
                    spec.intensity(ch, VARIANT),
                    spec_ref.intensity(ch, VARIANT),
                )
                for ch in CHANNELS
            },
            "lowfreq_fraction": _lowfreq(spec),
            # the overlap is blind to scale: how much of the DFT intensity the model gives
            "intensity_ratio": float(
                np.trapezoid(spec.intensity("total", VARIANT), spec.wavenumber_cm1)
                / np.trapezoid(spec_ref.intensity("total", VARIANT), spec_ref.wavenumber_cm1)
            ),
            "rms_delta_alpha_ratio": float(np.sqrt(np.mean(d**2)))
            / row["dft"]["rms_delta_alpha_A3"],
        }
        row["_spectra"][name] = spec
    return row


def plot(row: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for ax, ch in zip(axes, ("total", "anisotropic"), strict=True):
        for name, spec in row["_spectra"].items():
            style = {"color": "k", "lw": 2.0} if name == "DFT" else {"lw": 1.2}
            ax.plot(spec.wavenumber_cm1, spec.intensity(ch, VARIANT), label=name, **style)
        ax.set_xlabel("wavenumber (cm$^{-1}$)")
        ax.set_ylabel(f"{ch}, {VARIANT} (Å$^6$/cm$^{{-1}}$)")
        ax.set_title(f"{row['phase']} {row['temperature_K']:.0f} K, {row['n_frames']} frames")
        ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(rows: list[dict]) -> str:
    lines = [
        "| phase | frames | model | overlap total | overlap iso | overlap aniso | "
        "lowfreq fraction model / DFT | RMSE δα (Å³) | RMSE δα / RMS δα | "
        "∫ I model / DFT (total) | RMS δα model / DFT |",
        "|" + "---|" * 11,
    ]
    for r in rows:
        for name, m in r["models"].items():
            ov = m["overlap"]
            lines.append(
                f"| {r['phase']} {r['temperature_K']:.0f} K | {r['n_frames']} | {name} | "
                f"{ov['total']:.3f} | {ov['isotropic']:.3f} | {ov['anisotropic']:.3f} | "
                f"{m['lowfreq_fraction']:.4f} / {r['dft']['lowfreq_fraction']:.4f} | "
                f"{m['rmse_delta_alpha_A3']:.2f} | {m['rmse_delta_alpha_rel']:.2f} | "
                f"{m['intensity_ratio']:.2f} | {m['rms_delta_alpha_ratio']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA / "spectrum" / "labelled.extxyz")
    p.add_argument("--model", type=Path, action="append", required=True,
                   help="model file (.json bond, .pt Cartesian); repeat for several")
    p.add_argument("--min-frames", type=int, default=8)
    p.add_argument("--out", type=Path, default=Path("out/alpha_spectrum"))
    p.add_argument("--record", action="store_true",
                   help="write each model's ratios next to the model file (<stem>.validation.json)")
    args = p.parse_args(argv)

    models = {m.stem: load_model(m) for m in args.model}
    rows = []
    for store, frames in consecutive_series(load_labelled(args.data)).items():
        if len(frames) < args.min_frames:
            print(f"{store}: {len(frames)} consecutive labelled frames (< {args.min_frames}), "
                  "skipped", file=sys.stderr)
            continue
        row = compare_series(frames, models)
        plot(row, args.out / f"spectrum_{row['phase']}.png")
        row.pop("_spectra")
        row["md_store"] = store
        rows.append(row)
    if not rows:
        print(f"{args.data}: no phase has {args.min_frames} consecutive labelled frames",
              file=sys.stderr)
        return 1
    provenance = {m.stem: {"path": str(m), "sha256": file_sha256(m)} for m in args.model}
    write_json_atomic(args.out / "spectrum_validation.json",
                      {"rows": rows, "models": provenance, "data_sha256": file_sha256(args.data)})
    text = table(rows)
    (args.out / "spectrum_validation.md").write_text(text)
    print(text)
    if args.record:
        for m in args.model:
            record = ModelValidation(
                model_sha256=provenance[m.stem]["sha256"],
                lowfreq_fraction_ratio={
                    r["phase"]: r["models"][m.stem]["lowfreq_fraction"]
                    / r["dft"]["lowfreq_fraction"]
                    for r in rows
                },
                intensity_ratio={r["phase"]: r["models"][m.stem]["intensity_ratio"] for r in rows},
                series={
                    r["phase"]: f"{r['n_frames']} frames {r['interval_fs']:g} fs apart at "
                    f"{r['temperature_K']:g} K, resolution {r['resolution_cm1']:.3g} cm-1"
                    for r in rows
                },
                command="python scripts/alpha_spectrum_validation.py --record "
                + " ".join(f"--model {x}" for x in args.model),
            )
            print(f"recorded -> {write_validation(m, record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
