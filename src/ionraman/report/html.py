"""The screening report: one self-contained HTML file (figures embedded as PNG data URIs) plus
the same figures as PNG files.

:func:`build_report` reads a run directory's results and writes ``report.html`` and
``figures/*.png`` into the report folder. Sections: ranking table; spectra per candidate
(temperatures overlaid, error bands, low-frequency window shaded) or the reason they are
missing; measured spectra overlaid on the simulation (``[[report.measured_spectra]]``); MSD per
candidate; Arrhenius plot; metric vs D* with the correlation; calibration; the full results
table; failed stages with the end of their logs; run settings and provenance.

The HTML has no external resources (no scripts, styles or fonts from the network), so it opens
offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ionraman._io import package_versions, write_text_atomic
from ionraman.report.figures import (
    arrhenius_figure,
    metric_vs_d_figure,
    msd_figure,
    save_png,
    spectra_figure,
)

if TYPE_CHECKING:
    from ionraman.workflow.plan import CandidateInfo

__all__ = ["build_report"]

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc;
       padding-bottom: 0.2em; margin-top: 2em; } h3 { margin-bottom: 0.3em; }
.meta { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
th { background: #f3f3f3; } td:nth-child(-n+2) { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 0.5em 0 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.85em; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.4em 0.8em; }
.fail { background: #fdecea; border-left: 4px solid #d93025; padding: 0.4em 0.8em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.8em; }
.scroll { overflow-x: auto; }
"""


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _img(path: Path, alt: str, caption: str, fig_id: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (
        f'<figure id="{_esc(fig_id)}"><img class="report-figure" alt="{_esc(alt)}" '
        f'src="data:image/png;base64,{data}"><figcaption>{_esc(caption)} '
        f"(<code>{_esc(path.name)}</code>)</figcaption></figure>"
    )


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e4):
            return f"{v:.3e}"
        return f"{v:.4g}"
    if v is None or (isinstance(v, str) and not v):
        return "–"
    return str(v)


def _table(df: pd.DataFrame, table_id: str, columns: Sequence[str] | None = None) -> str:
    if columns is not None:
        df = df[[c for c in columns if c in df.columns]]
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        rows.append("<tr>" + "".join(f"<td>{_esc(_fmt(v))}</td>" for v in r.to_numpy()) + "</tr>")
    return (
        f'<div class="scroll"><table id="{_esc(table_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _tail(path: str | None, n: int = 25) -> str:
    if not path:
        return ""
    p = Path(path)
    if not p.is_file():
        return ""
    lines = p.read_text(errors="replace").splitlines()
    return "\n".join(lines[-n:])


_RANK_COLUMNS = [
    "rank",
    "candidate",
    "ranked_by",
    "rank_value",
    "rank_value_err",
    "temperature_K",
    "lowfreq_fraction",
    "lowfreq_fraction_err",
    "lowfreq_fraction_ps_needed",
    "D_cm2_s",
    "D_std_cm2_s",
    "D_ps_needed",
    "sigma_S_cm",
    "haven_ratio",
    "Ea_eV",
    "Ea_std_eV",
    "D_300K_cm2_s",
    "sigma_300K_S_cm",
    "mechanism",
    "calibrated_class",
    "p_fast",
    "n_atoms",
    "force_field",
]
_RESULT_COLUMNS = [
    "candidate",
    "temperature_K",
    "n_seeds_ok",
    "D_cm2_s",
    "D_std_cm2_s",
    "diffusive",
    "sigma_S_cm",
    "sigma_std_S_cm",
    "haven_ratio",
    "haven_ratio_std",
    "Ea_eV",
    "mechanism",
    "fraction_in_flight",
    "mean_residence_time_ps",
    "hop_rate_per_ps_per_ion",
    "alpha2_max",
    "lowfreq_fraction",
    "lowfreq_fraction_err",
    "lowfreq_fraction_sys_rel",
    "lowfreq_fraction_sys_basis",
    "lowfreq_fraction_ps_needed",
    "band_ratio",
    "band_ratio_err",
    "central_peak_tau_ps",
    "alpha_flagged_fraction",
    "alpha_outside_most_species",
    "alpha_outside_most_species_fraction",
    "spectrum_status",
]


def build_report(
    run_dir: Path,
    out_dir: Path,
    *,
    cfg: Any,
    candidates: Sequence[CandidateInfo],
    point_dirs: dict[tuple[str, float], Path],
    transport_dirs: dict[tuple[str, str], Path],
    failures: Sequence[dict[str, Any]] = (),
) -> list[str]:
    """Write ``report.html`` and ``figures/*.png`` for a run; returns the file names written
    (relative to ``out_dir``)."""
    from ionraman.spectra import RamanSpectrum

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    res_dir = run_dir / "results"
    results = pd.read_parquet(res_dir / "results.parquet")
    ranking_table = pd.read_parquet(res_dir / "candidates.parquet")
    ranking = json.loads((res_dir / "ranking.json").read_text())
    correlation = json.loads((res_dir / "correlation.json").read_text())
    calibration = (
        json.loads((res_dir / "calibration.json").read_text())
        if (res_dir / "calibration.json").is_file()
        else None
    )
    arrhenius = {}
    for c in candidates:
        p = run_dir / "candidates" / c.dirname / "arrhenius.json"
        if p.is_file():
            arrhenius[c.candidate] = json.loads(p.read_text())
    a = cfg.analysis
    files: list[str] = []
    parts: list[str] = []
    title = cfg.report.title or f"ionraman screening: {cfg.run_name()}"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    parts.append(f"<h1>{_esc(title)}</h1>")
    parts.append(
        f'<p class="meta">run directory <code>{_esc(run_dir.resolve())}</code> · '
        f"{len(candidates)} candidates · temperatures "
        f"{', '.join(f'{t:g}' for t in cfg.temperatures_K)} K"
        f" · seeds {', '.join(map(str, cfg.seeds))} · report written {now}</p>"
    )

    # ranking ----------------------------------------------------------------------------
    parts.append('<h2 id="ranking">Ranking</h2>')
    t_ref = ranking.get("temperature_K")
    parts.append(
        f"<p>Ranked by <b>{_esc(ranking.get('ranked_by'))}</b> at "
        f"{_esc(_fmt(t_ref))} K (rank 1: most liquid-like / fastest). Low-frequency window "
        f"{a.window_cm1[0]:g}–{a.window_cm1[1]:g} cm⁻¹, {a.channel} channel, {a.variant} "
        "spectrum.</p>"
    )
    if ranking.get("note"):
        parts.append(f'<p class="note">{_esc(ranking["note"])}</p>')
    parts.append(_table(ranking_table, "ranking-table", _RANK_COLUMNS))

    # failures -----------------------------------------------------------------------------
    if failures:
        parts.append('<h2 id="failures">Failed stages</h2>')
        by_task: dict[str, list[dict[str, Any]]] = {}
        for f in failures:
            by_task.setdefault(str(f.get("task")), []).append(f)
        for task, items in by_task.items():
            failed = [f for f in items if f.get("status") == "failed"]
            blocked = [f.get("stage") for f in items if f.get("status") == "blocked"]
            for f in failed:
                parts.append(
                    f'<div class="fail"><b>{_esc(task)} · {_esc(f.get("stage"))}</b> failed: '
                    f"{_esc(f.get('error'))}<br>log: <code>{_esc(f.get('log'))}</code></div>"
                )
                tail = _tail(f.get("log"), 12)
                if tail:
                    parts.append(f"<pre>{_esc(tail)}</pre>")
            if blocked:
                parts.append(
                    f'<p class="note"><b>{_esc(task)}</b>: not run because an earlier stage '
                    f"failed: {_esc(', '.join(str(b) for b in blocked))}</p>"
                )

    # spectra ------------------------------------------------------------------------------
    parts.append('<h2 id="spectra">Raman spectra</h2>')
    max_cm1 = cfg.report.max_wavenumber_cm1 or a.reference_max_cm1
    measured_by_cand: dict[str, list[Any]] = {}
    for m in cfg.report.measured_spectra:
        measured_by_cand.setdefault(m.candidate, []).append(m)
    for c in candidates:
        name = c.candidate
        spectra = []
        for (cand, t), pdir in sorted(point_dirs.items(), key=lambda kv: kv[0][1]):
            if cand == name and (pdir / "spectrum.h5").is_file():
                spectra.append((t, RamanSpectrum.load(pdir / "spectrum.h5")))
        parts.append(f"<h3>{_esc(name)}</h3>")
        if not spectra:
            if c.polarizability_model:
                reason = "not available: the tasks of this candidate failed (see Failed stages)"
            else:
                reason = c.polarizability_note or "skipped: no polarizability model"
            parts.append(f'<p class="note">Spectra {_esc(reason)}.</p>')
            continue
        fig = spectra_figure(
            spectra,
            candidate=name,
            channel=a.channel,
            variant=a.variant,
            window_cm1=tuple(a.window_cm1),
            max_cm1=max_cm1,
        )
        png = save_png(fig, fig_dir / f"spectra_{_slug(name)}.png")
        files.append(f"figures/{png.name}")
        parts.append(
            _img(
                png,
                f"Raman spectra of {name}",
                f"{name}: {a.variant} spectra ({a.channel}) per temperature, seeds combined, "
                f"bands ±1 standard error; shaded: low-frequency window; polarizability model "
                f"{c.polarizability_model or '–'}",
                f"fig-spectra-{_slug(name)}",
            )
        )
        for k, m in enumerate(measured_by_cand.get(name, [])):
            png = _overlay(cfg, m, spectra, name, fig_dir / f"overlay_{_slug(name)}_{k}.png")
            files.append(f"figures/{png.name}")
            parts.append(
                _img(
                    png,
                    f"measured vs simulated {name}",
                    f"{name}: measured spectrum {Path(m.path).name} overlaid on the simulation",
                    f"fig-overlay-{_slug(name)}-{k}",
                )
            )
    for name, ms in measured_by_cand.items():
        if not any(
            cand == name and (p / "spectrum.h5").is_file() for (cand, _), p in point_dirs.items()
        ):
            parts.append(
                f'<p class="note">Measured spectra of {_esc(name)} '
                f"({', '.join(_esc(Path(m.path).name) for m in ms)}) not overlaid: no simulated "
                "spectrum.</p>"
            )

    # transport ---------------------------------------------------------------------------
    parts.append('<h2 id="transport">Transport</h2>')
    for c in candidates:
        name, dirname = c.candidate, c.dirname
        msd: dict[float, list[pd.DataFrame]] = {}
        for (tid, _stage), tdir in transport_dirs.items():
            cand_dir, t_text, _seed = tid.split("/")
            if cand_dir != dirname or not (tdir / "msd.csv").is_file():
                continue
            msd.setdefault(float(t_text.removesuffix("K")), []).append(
                pd.read_csv(tdir / "msd.csv")
            )
        if not msd:
            parts.append(f'<p class="note">{_esc(name)}: no transport results.</p>')
            continue
        fig = msd_figure(msd, candidate=name, species=a.species)
        png = save_png(fig, fig_dir / f"msd_{_slug(name)}.png")
        files.append(f"figures/{png.name}")
        parts.append(
            _img(
                png,
                f"MSD of {name}",
                f"{name}: {a.species} MSD per temperature (mean over seeds; band: seed range)",
                f"fig-msd-{_slug(name)}",
            )
        )
    fig = arrhenius_figure(results, arrhenius)
    png = save_png(fig, fig_dir / "arrhenius.png")
    files.append(f"figures/{png.name}")
    parts.append(
        _img(
            png,
            "Arrhenius plot",
            "log10 D* vs 1000/T with ±1σ error bars; dashed: weighted Arrhenius fits",
            "fig-arrhenius",
        )
    )

    # correlation ---------------------------------------------------------------------------
    parts.append('<h2 id="correlation">Low-frequency metric vs diffusion</h2>')
    metric = cfg.correlation.metric
    parts.append(f"<p>{_esc(correlation.get('summary', ''))}</p>")
    if results[metric].notna().any():
        fig = metric_vs_d_figure(results, correlation, metric=metric)
        png = save_png(fig, fig_dir / "metric_vs_D.png")
        files.append(f"figures/{png.name}")
        parts.append(
            _img(
                png,
                "metric vs D",
                f"{metric} (± error over seeds) against log10 D* for every candidate and "
                "temperature; dashed: least-squares line",
                "fig-metric-vs-d",
            )
        )
    else:
        parts.append(
            '<p class="note">No low-frequency metric: the spectra were skipped (no '
            "polarizability model), so there is nothing to correlate.</p>"
        )
    comparison_path = res_dir / "metric_comparison.parquet"
    comparison = pd.read_parquet(comparison_path) if comparison_path.is_file() else None
    if comparison is not None and not comparison.empty:
        parts.append('<h3 id="metric-comparison">Which metric follows diffusion</h3>')
        parts.append(
            f"<p>Every definition of the panel on the same spectra (best first). "
            f"<code>spearman_*</code>: rank correlation with log10 D* (non-diffusive points "
            f"ranked slowest) and its {100 * cfg.correlation.confidence:.0f} % bootstrap "
            f"interval; <code>top_bottom_n_sigma</code>: fastest minus slowest point in combined "
            f"standard errors; <code>production_ps_to_resolve</code>: production per point (all "
            f"seeds) for {cfg.analysis.resolve_sigmas:g} standard errors; "
            f"<code>seed_scatter_over_err</code>: seed-to-seed scatter over the within-run "
            f"(time-block) error, about 1 when the errors are honest.</p>"
        )
        parts.append(_table(comparison, "metric-comparison-table"))
    if calibration is not None:
        parts.append('<h3 id="calibration">Calibration against measurements</h3>')
        parts.append(f"<p>{_esc(calibration.get('summary', ''))}</p>")
        pts = pd.DataFrame(calibration.get("points") or [])
        if not pts.empty:
            parts.append(_table(pts, "calibration-table"))
        if calibration.get("unmatched"):
            parts.append(
                f'<p class="note">Unmatched compositions: '
                f"{_esc(', '.join(calibration['unmatched']))}</p>"
            )

    # full table ---------------------------------------------------------------------------
    parts.append('<h2 id="results">Results per candidate and temperature</h2>')
    parts.append(
        "<p>Errors: D*, σ — kinisi posterior combined with the scatter over seeds (the larger "
        "of the two); metrics — standard error over seeds, for one seed a bootstrap over time "
        "blocks of its spectrum (statistical); lowfreq_fraction_sys_rel — the α model's "
        "systematic error in the fraction, model / DFT − 1 measured on DFT-labelled MD frames "
        "(lowfreq_fraction_sys_basis says on which phase); lowfreq_fraction_ps_needed — "
        "production (all seeds) for the relative error analysis.target_relative_error "
        "(default 10 %); alpha_flagged_fraction — "
        "fraction of α frames outside the learned α model's training data (ensemble spread or "
        "training-domain check; empty for a bond model); alpha_outside_most_species — the "
        "element whose atoms lie outside that training domain most often, and that fraction "
        "of its atoms (what to label next). Full table: "
        "<code>results/results.csv</code> / <code>.parquet</code>.</p>"
    )
    parts.append(_table(results, "results-table", _RESULT_COLUMNS))

    # settings and provenance -------------------------------------------------------------
    parts.append('<h2 id="settings">Run settings and provenance</h2>')
    prov_rows = pd.DataFrame(
        [
            {
                "candidate": c.candidate,
                "structure": c.structure,
                "n_atoms": c.n_atoms,
                "force_field": c.force_field,
                "force_field_note": c.force_field_note,
                "force_field_sha256": (c.force_field_sha256 or "")[:16],
                "polarizability_model": c.polarizability_model or "–",
                "polarizability_sha256": (c.polarizability_model_sha256 or "")[:16],
                "polarizability_note": c.polarizability_note,
            }
            for c in candidates
        ]
    )
    parts.append(_table(prov_rows, "provenance-table"))
    settings = cfg.model_dump(mode="json", exclude={"base_dir"})
    parts.append(f"<pre>{_esc(json.dumps(settings, indent=2))}</pre>")
    versions = package_versions(("dask", "distributed", "dask_jobqueue", "matplotlib"))
    parts.append(
        '<p class="meta">packages: '
        + ", ".join(f"{_esc(k)} {_esc(v)}" for k, v in versions.items())
        + "</p>"
    )

    doc = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )
    write_text_atomic(out_dir / "report.html", doc)
    files.append("report.html")
    return files


def _overlay(cfg: Any, m: Any, spectra: list[tuple[float, Any]], name: str, path: Path) -> Path:
    """Measured spectra (preprocessed) over the simulated spectrum nearest in temperature."""
    from ionraman.spectra import overlay_figure, prepare_measured

    measured = prepare_measured(
        cfg.resolve(m.path),
        select=m.column,
        all_spectra=m.column is None,
        temperature_k=m.temperature_K,
        laser_wavelength_nm=m.laser_nm,
        target_temperature_k=spectra[0][0],
    )
    t_meas = next((s.temperature_k for s in measured if s.temperature_k), None)
    t_sim, sim = min(spectra, key=lambda p: abs(p[0] - (t_meas or p[0])))
    fig = overlay_figure(
        measured,
        sim,
        title=f"{name}: measured vs simulated ({t_sim:g} K)",
        channel=cfg.analysis.channel,
        lowfreq_window_cm1=tuple(cfg.analysis.window_cm1),
    )
    return save_png(fig, path)
