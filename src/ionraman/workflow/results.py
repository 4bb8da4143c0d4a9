"""Result tables of a screening run: per seed, per candidate × temperature, per candidate.

Written to ``<run>/results/`` (parquet and CSV, same content):

* ``results`` — one row per candidate × temperature (the tidy table): D* ± uncertainty, σ,
  D_σ, Haven ratio, E_a (repeated per candidate), mechanism descriptors, the low-frequency
  metrics ± uncertainty over seeds and the α model's systematic error in the fraction
  (``lowfreq_fraction_sys_rel``, model/DFT − 1 from its validation record, and its basis),
  the spectrum status, and the model provenance (force field and polarizability model with
  their SHA-256);
* ``candidates`` — one row per candidate with the ranking;
* ``runs`` — one row per candidate × temperature × seed;
* ``metrics`` — one row per candidate × temperature × metric definition of the panel
  (:mod:`ionraman.screening.panel`; long format, :data:`~ionraman.screening.comparison.
  METRIC_TABLE_COLUMNS`);
* ``metric_comparison`` — one row per definition: Spearman with log10 D (bootstrap CI), the
  fastest-vs-slowest separation and the production it needs, the seed-scatter check
  (:func:`ionraman.screening.comparison.compare_metrics`);
* ``correlation.json`` — Spearman/Pearson of the metric with log10 D (bootstrap CIs);
* ``calibration.json`` — the fast/slow threshold when measured data are given;
* ``summary.json`` — settings, counts, failed tasks.

Units are in the column names (``_cm2_s``, ``_S_cm``, ``_eV``, ``_K``, ``_ps``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ionraman._io import atomic_path, write_json_atomic
from ionraman.workflow.combine import PointResult, SeedMean
from ionraman.workflow.plan import CandidateInfo

__all__ = [
    "RESULT_COLUMNS",
    "build_tables",
    "metric_table",
    "rank_candidates",
    "read_results",
    "write_table",
]

RESULT_COLUMNS = [
    "candidate",
    "structure",
    "composition",
    "n_atoms",
    "temperature_K",
    "n_seeds",
    "n_seeds_ok",
    "D_cm2_s",
    "D_std_cm2_s",
    "D_std_seeds_cm2_s",
    "diffusive",
    "log10_D",
    "sigma_S_cm",
    "sigma_std_S_cm",
    "D_sigma_cm2_s",
    "D_sigma_std_cm2_s",
    "haven_ratio",
    "haven_ratio_std",
    "Ea_eV",
    "Ea_std_eV",
    "mechanism",
    "fraction_in_flight",
    "mean_residence_time_ps",
    "hop_rate_per_ps_per_ion",
    "alpha2_max",
    "framework_intact_fraction",
    "alpha_flagged_fraction",
    "alpha_outside_most_species",
    "alpha_outside_most_species_fraction",
    "spectrum_status",
    "lowfreq_fraction",
    "lowfreq_fraction_err",
    "lowfreq_fraction_std_seeds",
    "lowfreq_fraction_pooled",
    "lowfreq_fraction_sys_rel",
    "lowfreq_fraction_sys_basis",
    "band_ratio",
    "band_ratio_err",
    "band_ratio_pooled",
    "central_peak_tau_ps",
    "central_peak_tau_err_ps",
    "lowfreq_fraction_ps_needed",
    "D_ps_needed",
    "window_lo_cm1",
    "window_hi_cm1",
    "metric_channel",
    "metric_variant",
    "production_ps",
    "equilibration_ps",
    "timestep_fs",
    "force_field",
    "force_field_sha256",
    "polarizability_model",
    "polarizability_model_sha256",
    "ionraman_version",
]


def _f(v: Any) -> float:
    """Float or NaN."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def _mean(m: SeedMean | None) -> SeedMean:
    """A mean over seeds, empty where the point has none (no spectrum, no band)."""
    return SeedMean() if m is None else m


def write_table(df: pd.DataFrame, stem: Path) -> list[str]:
    """Write ``stem.parquet`` and ``stem.csv`` atomically; returns the file names."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(stem.with_suffix(".parquet")) as tmp:
        df.to_parquet(tmp, index=False)
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        df.to_csv(tmp, index=False)
    return [stem.with_suffix(".parquet").name, stem.with_suffix(".csv").name]


def read_results(run_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The tables of a finished run (``results``, ``candidates``, ``runs``, ``metrics``,
    ``metric_comparison``) from parquet."""
    base = Path(run_dir) / "results"
    return {
        name: pd.read_parquet(base / f"{name}.parquet")
        for name in ("results", "candidates", "runs", "metrics", "metric_comparison")
        if (base / f"{name}.parquet").is_file()
    }


# ----------------------------------------------------------------------------------------------
def build_tables(
    points: Sequence[PointResult],
    arrhenius: dict[str, dict[str, Any]],
    seed_rows: Sequence[dict[str, Any]],
    candidates: Sequence[CandidateInfo],
    settings: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The candidate × temperature table and the per-seed table.

    Parameters
    ----------
    points
        The points (``point.json``).
    arrhenius
        candidate → content of ``arrhenius.json``.
    seed_rows
        One dict per candidate × temperature × seed (transport and metric summaries).
    candidates
        Per candidate, what the run records about it.
    settings
        ``production_ps``, ``equilibration_ps``, ``timestep_fs``, ``window_cm1``, ``channel``,
        ``variant``, ``ionraman_version``, ``target_relative_error`` (the run-length rule:
        ``*_ps_needed`` is the production per seed × seeds for that relative standard error,
        :func:`~ionraman.screening.comparison.production_needed_ps`).
    """
    from ionraman.screening.comparison import production_needed_ps

    target = float(settings.get("target_relative_error", 0.1))
    cinfo = {c.candidate: c for c in candidates}
    rows = []
    for p in points:
        c = cinfo[p.candidate]
        arr = arrhenius.get(p.candidate, {}).get("D", {})
        lf, br, tau = _mean(p.lowfreq_fraction), _mean(p.band_ratio), _mean(p.central_peak_tau_ps)
        row = {
            "candidate": p.candidate,
            "structure": c.structure,
            "composition": c.composition,
            "n_atoms": c.n_atoms,
            "temperature_K": float(p.temperature_K),
            "n_seeds": c.n_seeds,
            "n_seeds_ok": p.n_seeds_transport,
            "D_cm2_s": _f(p.D.mean),
            "D_std_cm2_s": _f(p.D.err),
            "D_std_seeds_cm2_s": _f(p.D.std_seeds),
            "diffusive": p.diffusive,
            "sigma_S_cm": _f(p.sigma.mean),
            "sigma_std_S_cm": _f(p.sigma.err),
            "D_sigma_cm2_s": _f(p.D_sigma.mean),
            "D_sigma_std_cm2_s": _f(p.D_sigma.err),
            "haven_ratio": _f(p.haven_ratio.mean),
            "haven_ratio_std": _f(p.haven_ratio.err),
            "Ea_eV": _f(arr.get("Ea_eV")) if arr.get("status") == "done" else math.nan,
            "Ea_std_eV": _f(arr.get("Ea_std_eV")) if arr.get("status") == "done" else math.nan,
            "mechanism": p.mechanism or "",
            "fraction_in_flight": _f(p.fraction_in_flight),
            "mean_residence_time_ps": _f(p.mean_residence_time_ps),
            "hop_rate_per_ps_per_ion": _f(p.hop_rate_per_ps_per_ion),
            "alpha2_max": _f(p.alpha2_max),
            "framework_intact_fraction": _f(p.framework_intact_fraction),
            "alpha_flagged_fraction": _f(p.alpha_flagged_fraction),
            "alpha_outside_most_species": p.alpha_outside_most_species or "",
            "alpha_outside_most_species_fraction": _f(p.alpha_outside_most_species_fraction),
            "spectrum_status": p.spectrum_status,
            "lowfreq_fraction": _f(lf.mean),
            "lowfreq_fraction_err": _f(lf.err),
            "lowfreq_fraction_std_seeds": _f(lf.std_seeds),
            "lowfreq_fraction_pooled": _f(p.lowfreq_fraction_pooled),
            # the α model's systematic error in the metric, measured against DFT
            # (ionraman.polarizability.systematic): model / DFT − 1
            "lowfreq_fraction_sys_rel": _f(c.lowfreq_fraction_sys_rel),
            "lowfreq_fraction_sys_basis": c.lowfreq_fraction_sys_basis or "",
            "band_ratio": _f(br.mean),
            "band_ratio_err": _f(br.err),
            "band_ratio_pooled": _f(p.band_ratio_pooled),
            "central_peak_tau_ps": _f(tau.mean),
            "central_peak_tau_err_ps": _f(tau.err),
            "window_lo_cm1": float(settings["window_cm1"][0]),
            "window_hi_cm1": float(settings["window_cm1"][1]),
            "metric_channel": settings["channel"],
            "metric_variant": settings["variant"],
            "production_ps": float(settings["production_ps"]),
            "equilibration_ps": float(settings["equilibration_ps"]),
            "timestep_fs": float(settings["timestep_fs"]),
            "force_field": c.force_field,
            "force_field_sha256": c.force_field_sha256 or "",
            "polarizability_model": c.polarizability_model or "",
            "polarizability_model_sha256": c.polarizability_model_sha256 or "",
            "ionraman_version": settings["ionraman_version"],
        }
        total_ps = float(settings["production_ps"]) * max(1, int(row["n_seeds_ok"] or 1))
        for col, err in (("lowfreq_fraction", "lowfreq_fraction_err"), ("D", "D_std_cm2_s")):
            value = row["D_cm2_s" if col == "D" else col]
            row[f"{col}_ps_needed"] = production_needed_ps(total_ps, row[err], target * abs(value))
        d = row["D_cm2_s"]
        # no log10 D where the MSD is a plateau: kinisi's D is then not a diffusivity
        row["log10_D"] = math.log10(d) if d > 0 and row["diffusive"] is not False else math.nan
        rows.append(row)
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    order = {c.candidate: k for k, c in enumerate(candidates)}
    if not results.empty:
        results = results.sort_values(
            ["candidate", "temperature_K"],
            key=lambda s: s.map(order) if s.name == "candidate" else s,
        ).reset_index(drop=True)
    runs = pd.DataFrame(list(seed_rows))
    if not runs.empty:
        runs = runs.sort_values(
            ["candidate", "temperature_K", "seed"],
            key=lambda s: s.map(order) if s.name == "candidate" else s,
        ).reset_index(drop=True)
    return results, runs


def metric_table(results: pd.DataFrame, points: Sequence[PointResult]) -> pd.DataFrame:
    """Long table of every panel metric per candidate × temperature (with log10 D* and the
    diffusive flag of ``results``), the input of
    :func:`~ionraman.screening.comparison.compare_metrics`."""
    from ionraman.screening.comparison import METRIC_TABLE_COLUMNS

    index = {(r.candidate, float(r.temperature_K)): r for r in results.itertuples(index=False)}
    rows = []
    for p in points:
        r = index.get((p.candidate, float(p.temperature_K)))
        if r is None:
            continue
        for name, m in p.panel.items():
            rows.append(
                {
                    "candidate": p.candidate,
                    "temperature_K": float(p.temperature_K),
                    "metric": name,
                    "description": p.panel_descriptions.get(name, ""),
                    "value": _f(m.mean),
                    "err": _f(m.err),
                    "run_err": _f(m.run_err),
                    "std_seeds": _f(m.std_seeds),
                    "n_seeds": int(m.n or 0),
                    "production_ps": r.production_ps * max(1, int(m.n or 1)),
                    "log10_D": r.log10_D,
                    "diffusive": r.diffusive,
                }
            )
    return pd.DataFrame(rows, columns=METRIC_TABLE_COLUMNS)


def _reference_temperature(results: pd.DataFrame, requested: float | None) -> float | None:
    if results.empty:
        return None
    if requested is not None:
        return float(requested)
    sets = [set(g["temperature_K"]) for _, g in results.groupby("candidate")]
    common = set.intersection(*sets) if sets else set()
    return float(max(common)) if common else float(results["temperature_K"].max())


_HIGHER_FIRST = {
    "lowfreq_fraction": True,
    "band_ratio": True,
    "D": True,
    "sigma": True,
    "Ea": False,
}
_COLUMN = {
    "lowfreq_fraction": "lowfreq_fraction",
    "band_ratio": "band_ratio",
    "D": "D_cm2_s",
    "sigma": "sigma_S_cm",
    "Ea": "Ea_eV",
}


def rank_candidates(
    results: pd.DataFrame,
    arrhenius: dict[str, dict[str, Any]],
    candidates: Sequence[CandidateInfo],
    *,
    by: str = "auto",
    temperature_k: float | None = None,
    calibration: Any = None,
    calibration_metric: str | None = None,
    resolve_sigmas: float = 3.0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Candidate-level table with the ranking.

    ``by="auto"`` ranks by the low-frequency fraction when every candidate has one at the
    reference temperature, else by D*. Rank 1 is the most liquid-like / fastest (lowest E_a for
    ``by="Ea"``); candidates without a value rank last (rank NaN).

    Returns
    -------
    (DataFrame, dict)
        The table (sorted by rank) and ``{"ranked_by", "temperature_K", "note", "separation"}``;
        ``separation`` (None with fewer than two ranked candidates with errors): the first minus
        the last ranked value, that difference in combined standard errors (``n_sigma``), and
        the production per point (all seeds, ps) it needs for ``resolve_sigmas`` standard
        errors (``production_ps_to_resolve``; the run-length rule).
    """
    from ionraman.screening.comparison import production_needed_ps

    t_ref = _reference_temperature(results, temperature_k)
    rows = []
    for c in candidates:
        name = c.candidate
        sub = results[results["candidate"] == name]
        at = sub[np.isclose(sub["temperature_K"], t_ref)] if t_ref is not None else sub.iloc[:0]
        r = at.iloc[0] if len(at) else None
        arr = arrhenius.get(name, {})
        d_fit = arr.get("D", {})
        s_fit = arr.get("sigma", {})
        row = {
            "candidate": name,
            "structure": c.structure,
            "n_atoms": c.n_atoms,
            "temperature_K": t_ref,
            "lowfreq_fraction": _f(None if r is None else r["lowfreq_fraction"]),
            "lowfreq_fraction_err": _f(None if r is None else r["lowfreq_fraction_err"]),
            "lowfreq_fraction_ps_needed": _f(
                None if r is None else r["lowfreq_fraction_ps_needed"]
            ),
            "band_ratio": _f(None if r is None else r["band_ratio"]),
            "band_ratio_err": _f(None if r is None else r["band_ratio_err"]),
            "D_cm2_s": _f(None if r is None else r["D_cm2_s"]),
            "D_std_cm2_s": _f(None if r is None else r["D_std_cm2_s"]),
            "D_ps_needed": _f(None if r is None else r["D_ps_needed"]),
            "diffusive": None if r is None else r["diffusive"],
            "sigma_S_cm": _f(None if r is None else r["sigma_S_cm"]),
            "haven_ratio": _f(None if r is None else r["haven_ratio"]),
            "mechanism": "" if r is None else r["mechanism"],
            "Ea_eV": _f(d_fit.get("Ea_eV")) if d_fit.get("status") == "done" else math.nan,
            "Ea_std_eV": _f(d_fit.get("Ea_std_eV")) if d_fit.get("status") == "done" else math.nan,
            "D_300K_cm2_s": _f((d_fit.get("extrapolated") or {}).get("value"))
            if d_fit.get("status") == "done"
            else math.nan,
            "sigma_300K_S_cm": _f((s_fit.get("extrapolated") or {}).get("value"))
            if s_fit.get("status") == "done"
            else math.nan,
            "arrhenius_status": d_fit.get("status", "not run"),
            "n_temperatures": len(sub),
            "spectrum_status": "" if r is None else r["spectrum_status"],
            "force_field": c.force_field,
        }
        rows.append(row)
    table = pd.DataFrame(rows)
    note = ""
    ranked_by = by
    if by == "auto":
        # candidates without any result (all tasks failed) do not decide the metric
        present = table[table["n_temperatures"] > 0]
        has = bool(len(present)) and bool(present["lowfreq_fraction"].notna().all())
        ranked_by = "lowfreq_fraction" if has else "D"
        if not has:
            note = (
                "ranked by D* (tracer diffusion): no low-frequency metric for every candidate "
                "(see spectrum_status)"
            )
    col = _COLUMN[ranked_by]
    values = table[col].astype(float)
    if ranked_by == "D":  # a plateau's D is not a diffusivity: such candidates rank last
        values = values.where(table["diffusive"].map(lambda v: v is not False))
    if ranked_by in ("lowfreq_fraction", "band_ratio"):
        err = table[f"{ranked_by}_err"].astype(float)
    elif ranked_by == "D":
        err = table["D_std_cm2_s"].astype(float)
    else:
        err = pd.Series(np.nan, index=table.index)
    table["ranked_by"] = ranked_by
    table["rank_value"] = values
    table["rank_value_err"] = err
    key = values if _HIGHER_FIRST[ranked_by] else -values
    order = key.rank(ascending=False, method="first")
    table["rank"] = order.where(values.notna())
    # calibration flags
    if calibration is not None and getattr(calibration, "status", "") == "done":
        mcol = calibration_metric or calibration.metric
        flags, probs = [], []
        for _, r in table.iterrows():
            x = r["D_cm2_s"] if mcol == "log10_D" else r.get(mcol)
            if mcol == "log10_D":
                x = math.log10(x) if x and x > 0 else math.nan
            fast, p = calibration.flag(_f(x))
            flags.append("" if fast is None else ("fast" if fast else "slow"))
            probs.append(_f(p))
        table["calibrated_class"] = flags
        table["p_fast"] = probs
    else:
        table["calibrated_class"] = ""
        table["p_fast"] = math.nan
    table = table.sort_values(["rank", "candidate"], na_position="last").reset_index(drop=True)
    first = ["rank", "candidate", "ranked_by", "rank_value", "rank_value_err"]
    table = table[first + [c for c in table.columns if c not in first]]
    separation = None
    ranked = table[table["rank"].notna() & table["rank_value_err"].notna()]
    if len(ranked) >= 2:
        top, bottom = ranked.iloc[0], ranked.iloc[-1]
        diff = abs(float(top["rank_value"]) - float(bottom["rank_value"]))
        se = math.hypot(float(top["rank_value_err"]), float(bottom["rank_value_err"]))
        at = results[np.isclose(results["temperature_K"], t_ref)] if t_ref is not None else results
        ps = float((at["production_ps"] * at["n_seeds_ok"].clip(lower=1)).mean())
        separation = {
            "top": top["candidate"],
            "bottom": bottom["candidate"],
            "difference": diff,
            "n_sigma": diff / se if se > 0 else math.nan,
            "resolve_sigmas": float(resolve_sigmas),
            "production_ps": ps,
            "production_ps_to_resolve": production_needed_ps(ps, se, diff / resolve_sigmas)
            if diff > 0
            else math.nan,
        }
    return table, {
        "ranked_by": ranked_by,
        "temperature_K": t_ref,
        "note": note,
        "separation": separation,
    }


def load_points(paths: Sequence[Path]) -> list[dict[str, Any]]:
    return [json.loads(Path(p).read_text()) for p in paths]


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    write_json_atomic(path, summary)
