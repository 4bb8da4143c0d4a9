"""What a screening run produced (:class:`RunResult`) and the text ``ionraman run`` prints:
ranking, separation, correlation, calibration, warnings (framework, α outside its training
data, unresolved Eₐ, non-diffusive MSD), the α model's systematic error, failures."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ALPHA_FLAG_WARN", "FRAMEWORK_WARN", "RunResult"]


FRAMEWORK_WARN = 0.9
"""Warn when fewer MD frames than this keep the SbS4 framework intact (no S–S bond)."""
ALPHA_FLAG_WARN = 0.1
"""Warn when more α frames than this are flagged outside the learned α model's training data."""


@dataclass
class RunResult:
    """What :func:`run` produced.

    Attributes
    ----------
    run_dir
        The run directory.
    results, candidates, runs
        The tables (see :mod:`ionraman.workflow.results`).
    ranking
        ``ranked_by``, ``temperature_K``, ``note``.
    correlation, calibration
        Their JSON content (None when not computed).
    report
        Path of ``report.html`` (None when disabled or failed).
    failed
        One dict per failed or blocked stage: ``task``, ``stage``, ``status``, ``error``, ``log``.
    stages
        Counts of stage outcomes in this invocation (``done``, ``reused``, ``failed`` ...).
    seconds
        Wall time of this invocation.
    notes
        Lines about the run directory itself (outside the working directory; results of an
        earlier, different configuration kept aside), printed first by :meth:`summary_text`.
    """

    run_dir: Path
    results: pd.DataFrame
    candidates: pd.DataFrame
    runs: pd.DataFrame
    ranking: dict[str, Any]
    correlation: dict[str, Any] | None
    calibration: dict[str, Any] | None
    report: Path | None
    failed: list[dict[str, Any]] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def ranking_text(self) -> str:
        """The ranking as a plain-text table."""
        t = self.candidates
        if t.empty:
            return "no candidates ranked"
        by = self.ranking.get("ranked_by", "?")
        tref = self.ranking.get("temperature_K")
        at = (
            f"at {tref:g} K"
            if tref is not None and math.isfinite(tref)
            else "(no temperature with results: every run at it failed; see the failed stages)"
        )
        lines = [
            f"ranking by {by} {at}"
            + (f" ({self.ranking['note']})" if self.ranking.get("note") else "")
        ]
        header = (
            f"{'rank':>4}  {'candidate':<22} {by:>18}  {'D* (cm2/s)':>18}  {'Ea (eV)':>13}  "
            "mechanism"
        )
        lines.append(header)
        for _, r in t.iterrows():
            rank = "-" if pd.isna(r["rank"]) else f"{int(r['rank'])}"
            val = _pm(r["rank_value"], r["rank_value_err"], ".3g")
            d = _pm(r["D_cm2_s"], r["D_std_cm2_s"], ".2e")
            if r.get("diffusive") is False:  # MSD plateau in the fit window
                d = "not diffusive"
            ea = _pm(r["Ea_eV"], r["Ea_std_eV"], ".2f")
            cls = f" [{r['calibrated_class']}]" if r.get("calibrated_class") else ""
            lines.append(
                f"{rank:>4}  {r['candidate']:<22} {val:>18}  {d:>18}  {ea:>13}  "
                f"{'-' if pd.isna(r['mechanism']) else r['mechanism'] or '-'}{cls}"
            )
        sep = self.ranking.get("separation")
        if sep and math.isfinite(sep["n_sigma"]):
            need = sep["production_ps_to_resolve"]
            rule = (
                f"; {sep['resolve_sigmas']:g} sigma needs {need:.3g} ps per point "
                f"(this run: {sep['production_ps']:.3g} ps)"
                if math.isfinite(need)
                else ""
            )
            lines.append(
                f"separation: {sep['top']} - {sep['bottom']} = {sep['difference']:.3g} "
                f"({sep['n_sigma']:.1f} combined standard errors){rule}"
            )
        return "\n".join(lines)

    def activation_warnings(self) -> list[str]:
        """One line per candidate whose Arrhenius Eₐ is not resolved (Eₐ − 2σ ≤ 0): D does not
        rise significantly with T in these runs (too short, or too narrow a T range)."""
        out = []
        if self.candidates.empty or "Ea_eV" not in self.candidates:
            return out
        for _, r in self.candidates.iterrows():
            ea, err = float(r["Ea_eV"]), float(r["Ea_std_eV"])
            if math.isfinite(ea) and math.isfinite(err) and ea - 2.0 * err <= 0.0:
                out.append(
                    f"warning: {r['candidate']}: Ea = {ea:.2f} ± {err:.2f} eV is not resolved "
                    "(D does not rise significantly with T in these runs: longer MD, more seeds "
                    "or a wider temperature range)"
                )
        return out

    def systematic_notes(self) -> list[str]:
        """One line with the α model's systematic error in the fraction per candidate (model /
        DFT − 1 from the model's validation record), beside the statistical errors above."""
        if self.results.empty or "lowfreq_fraction_sys_rel" not in self.results:
            return []
        rows = self.results.drop_duplicates("candidate")
        rows = rows[rows["lowfreq_fraction_sys_rel"].notna()]
        if rows.empty:
            return []
        items = [
            f"{r['candidate']} {100 * r['lowfreq_fraction_sys_rel']:+.0f} %"
            + ("" if r["lowfreq_fraction_sys_basis"].startswith("validated") else " (phase not "
               "validated: worst validated phase)")
            for _, r in rows.iterrows()
        ]
        return [
            "note: systematic error of lowfreq_fraction from the α model (model / DFT - 1 on "
            "DFT-labelled MD frames, not in the ± above): " + ", ".join(items)
        ]

    def diffusion_notes(self) -> list[str]:
        """One line per candidate with temperatures where the MSD is not diffusive in the fit
        window (a plateau: the ions rattle in their cages; D* is not reported there and those
        temperatures stay out of the Arrhenius fit and the correlation)."""
        if self.results.empty or "diffusive" not in self.results:
            return []
        out = []
        for name, sub in self.results.groupby("candidate", sort=False):
            temps = sub.loc[sub["diffusive"].map(lambda v: v is False), "temperature_K"]
            if len(temps):
                out.append(
                    f"note: {name}: MSD not diffusive at {', '.join(f'{t:g}' for t in temps)} K "
                    "in these runs (no resolved linear growth): D* not reported there; longer MD "
                    "or higher T"
                )
        return out

    def summary_text(self) -> str:
        """Ranking, correlation, failures and the report path (what ``ionraman run`` prints)."""
        parts = [*self.notes, self.ranking_text()]
        if self.correlation is not None:
            parts.append(self.correlation.get("summary", ""))
        if self.calibration is not None:
            parts.append(self.calibration.get("summary", ""))
        if "framework_intact_fraction" in self.results:
            bad = self.results[self.results["framework_intact_fraction"] < FRAMEWORK_WARN]
            for _, r in bad.iterrows():
                parts.append(
                    f"warning: {r['candidate']} at {r['temperature_K']:g} K: only "
                    f"{100 * r['framework_intact_fraction']:.0f} % of the MD frames keep every "
                    "SbS4 intact without S–S bonds (the force field decomposes the framework)"
                )
        if "alpha_flagged_fraction" in self.results:
            flagged = self.results[self.results["alpha_flagged_fraction"] > ALPHA_FLAG_WARN]
            for name, sub in flagged.groupby("candidate", sort=False):
                where = ", ".join(
                    f"{t:g} K ({100 * f:.0f} %)"
                    for t, f in zip(
                        sub["temperature_K"], sub["alpha_flagged_fraction"], strict=True
                    )
                )
                parts.append(
                    f"warning: {name}: α frames flagged outside the polarizability model's "
                    f"training data at {where} (those spectra rest on extrapolated α; label such "
                    "structures and refit)" + _most_outside(sub)
                )
        parts += self.systematic_notes()
        parts += self.diffusion_notes()
        parts += self.activation_warnings()
        if self.failed:
            parts.append(f"{len(self.failed)} stage(s) failed or blocked:")
            for f in self.failed:
                if f["status"] == "failed":
                    parts.append(f"  {f['task']} {f['stage']}: {f['error']} (log: {f['log']})")
            n_blocked = sum(f["status"] == "blocked" for f in self.failed)
            if n_blocked:
                parts.append(f"  {n_blocked} dependent stage(s) blocked")
        parts.append(f"tables: {self.run_dir / 'results'}")
        parts.append(f"report: {self.report}" if self.report else "report: not written")
        return "\n".join(p for p in parts if p)


def _most_outside(rows: pd.DataFrame) -> str:
    """``"; most outside the domain: Sb atoms (23–30 %)"`` for flagged results rows of one
    candidate: the element named most often and the range of its fractions, or ``""``."""
    if "alpha_outside_most_species" not in rows:
        return ""
    named = rows[rows["alpha_outside_most_species"].map(lambda s: isinstance(s, str) and s != "")]
    if named.empty:
        return ""
    species = named["alpha_outside_most_species"].mode().iloc[0]
    f = 100 * named.loc[named["alpha_outside_most_species"] == species,
                        "alpha_outside_most_species_fraction"].dropna()
    if f.empty:
        return ""
    lo, hi = f"{f.min():.0f}", f"{f.max():.0f}"
    span = f"{lo} %" if lo == hi else f"{lo}–{hi} %"
    return f"; most outside the domain: {species} atoms ({span})"


def _pm(v: Any, e: Any, fmt: str) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(v):
        return "-"
    s = format(v, fmt)
    try:
        e = float(e)
    except (TypeError, ValueError):
        e = math.nan
    return f"{s} ± {format(e, fmt)}" if math.isfinite(e) else s
