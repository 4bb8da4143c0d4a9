"""Combine the seeds of a candidate × temperature (``point``) and the temperatures of a candidate
(``arrhenius``).

``point`` (``points/<candidate>/<T>K/``) writes one spectrum of all seeds' α runs (errors
across runs for ≥ 2 seeds) and ``point.json``, a :class:`PointResult`: the metrics and D*, σ,
Haven ratio as means over seeds with their errors (:func:`mean_over_seeds`), the metrics of the
combined spectrum, the descriptors, and what each seed gave. ``arrhenius``
(``candidates/<candidate>/``) fits D*(T) and σ(T) of the points. The results tables
(:mod:`.results`) read the points as :class:`PointResult`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ionraman._io import write_json_atomic
from ionraman.workflow.plan import CandidateTask, PointTask
from ionraman.workflow.records import TASK_LOG, StageContext, StageResult, blocked, execute
from ionraman.workflow.stages import (
    METRICS_VERSION,
    AlphaSeries,
    SeedMetrics,
    _compute_spectrum,
    _plain,
    _write_spectrum,
    spectrum_metrics,
)

__all__ = ["PointResult", "SeedMean", "mean_over_seeds", "run_arrhenius", "run_point"]

POINT_FORMAT = 2
"""Version of ``point.json`` (2: a :class:`PointResult`, means over seeds as :class:`SeedMean`)."""


@dataclasses.dataclass(frozen=True)
class SeedMean:
    """A quantity combined over the seeds of a point.

    Attributes
    ----------
    mean
        Mean over the seeds with a finite value (``None`` when none has one).
    err
        Standard error of the mean: σ₁ with one seed, else sqrt(max(s², run_err²)/n).
    std_seeds
        Sample standard deviation over seeds (``None`` with fewer than two).
    run_err
        RMS of the seeds' own (time-block) errors (``None`` when they have none).
    n
        Seeds with a finite value.
    """

    mean: float | None = None
    err: float | None = None
    std_seeds: float | None = None
    run_err: float | None = None
    n: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SeedMean | None:
        return None if d is None else cls(**d)


def mean_over_seeds(values: Sequence[float | None], errs: Sequence[float | None]) -> SeedMean:
    """Mean over seeds, sample std over seeds, the within-run error and the error of the mean.

    ``run_err`` is the RMS of the seeds' own (time-block) errors σ_i. With one value the error
    of the mean is σ_1; with n ≥ 2 it is sqrt(max(s², run_err²)/n): the per-run variance is
    estimated both from the seed scatter s² and from the runs themselves, and the larger is used
    (with few seeds s² alone is often small by chance; where the within-run errors are honest the
    two agree, see ``seed_scatter_over_err`` of the metric comparison).
    """
    pairs = [
        (float(v), None if e is None else float(e))
        for v, e in zip(values, errs, strict=True)
        if v is not None and math.isfinite(float(v))
    ]
    if not pairs:
        return SeedMean()
    x = np.array([p[0] for p in pairs])
    e = np.array([np.nan if p[1] is None else p[1] for p in pairs])
    n = len(x)
    run_var = float(np.nanmean(e**2)) if np.isfinite(e).any() else None
    run_err = None if run_var is None else math.sqrt(run_var)
    if n == 1:
        return SeedMean(mean=float(x[0]), err=run_err, run_err=run_err, n=1)
    s2 = float(np.var(x, ddof=1))
    return SeedMean(
        mean=float(x.mean()),
        err=math.sqrt(max(s2, run_var or 0.0) / n),
        std_seeds=math.sqrt(s2),
        run_err=run_err,
        n=n,
    )


@dataclasses.dataclass
class PointResult:
    """One candidate × temperature, seeds combined (``point.json``).

    Attributes
    ----------
    candidate, temperature_K
        The point (K).
    seeds, seeds_failed
        Seeds of the point, and the tasks left out because a stage failed.
    n_seeds_transport
        Seeds with a transport result.
    D, sigma, D_sigma, haven_ratio
        Tracer D* (cm²/s), σ (S/cm), collective D_σ (cm²/s) and Haven ratio over seeds (each
        seed's own kinisi error as its run error).
    fraction_in_flight, mean_residence_time_ps, hop_rate_per_ps_per_ion, alpha2_max,
    framework_intact_fraction, n_mobile, volume_A3
        Means over seeds of the transport descriptors (``None`` when no seed has one).
    diffusive_fraction, diffusive
        Fraction of seeds whose MSD is diffusive in the fit window, and whether all are; a
        plateau's D* stays out of the Arrhenius fit and the correlation.
    mechanism, mechanism_per_seed
        The most common mechanism label, and each seed's.
    per_seed_transport
        Each seed's transport summary.
    spectrum_status
        ``"done"``, or why there is no spectrum.
    alpha_flagged_fraction
        Mean fraction of α frames flagged outside the learned model's training data (``None``
        for models without flags).
    alpha_outside_most_species, alpha_outside_most_species_fraction
        The element whose atoms lie outside the model's domain most often, and how often.
    resolution_cm1
        Resolution of the combined spectrum, cm⁻¹.
    pooled_metrics
        Metrics of the combined spectrum (``lowfreq.json`` form).
    per_seed_metrics
        Each seed's metric summary.
    lowfreq_fraction, band_ratio, central_peak_tau_ps
        The configured metrics and the central-peak relaxation time (ps) over seeds.
    lowfreq_fraction_pooled, band_ratio_pooled
        The same metrics of the combined spectrum.
    panel, panel_descriptions
        Every metric definition of the panel (:mod:`ionraman.screening.panel`) and the
        central-peak amplitude over seeds, with one line each saying what it is.
    """

    candidate: str
    temperature_K: float
    seeds: list[int]
    seeds_failed: list[str]
    n_seeds_transport: int = 0
    D: SeedMean = SeedMean()
    sigma: SeedMean = SeedMean()
    D_sigma: SeedMean = SeedMean()
    haven_ratio: SeedMean = SeedMean()
    fraction_in_flight: float | None = None
    mean_residence_time_ps: float | None = None
    hop_rate_per_ps_per_ion: float | None = None
    alpha2_max: float | None = None
    framework_intact_fraction: float | None = None
    n_mobile: float | None = None
    volume_A3: float | None = None
    diffusive_fraction: float | None = None
    diffusive: bool | None = None
    mechanism: str | None = None
    mechanism_per_seed: list[str] = dataclasses.field(default_factory=list)
    per_seed_transport: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    spectrum_status: str = ""
    alpha_flagged_fraction: float | None = None
    alpha_outside_most_species: str | None = None
    alpha_outside_most_species_fraction: float | None = None
    resolution_cm1: float | None = None
    pooled_metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    per_seed_metrics: list[SeedMetrics] = dataclasses.field(default_factory=list)
    lowfreq_fraction: SeedMean | None = None
    lowfreq_fraction_pooled: float | None = None
    band_ratio: SeedMean | None = None
    band_ratio_pooled: float | None = None
    central_peak_tau_ps: SeedMean | None = None
    panel: dict[str, SeedMean] = dataclasses.field(default_factory=dict)
    panel_descriptions: dict[str, str] = dataclasses.field(default_factory=dict)

    _MEANS = ("D", "sigma", "D_sigma", "haven_ratio", "lowfreq_fraction", "band_ratio",
              "central_peak_tau_ps")

    def save(self, path: Path) -> None:
        """Write as JSON (atomic)."""
        write_json_atomic(path, {"format": POINT_FORMAT, **dataclasses.asdict(self)})

    @classmethod
    def load(cls, path: Path) -> PointResult:
        """Read a ``point.json`` written by :meth:`save`."""
        d = json.loads(Path(path).read_text())
        d.pop("format", None)
        for name in cls._MEANS:
            d[name] = SeedMean.from_dict(d.get(name))
        d["panel"] = {k: SeedMean(**v) for k, v in d.get("panel", {}).items()}
        d["per_seed_metrics"] = [SeedMetrics.from_dict(m) for m in d.get("per_seed_metrics", [])]
        return cls(**d)


def _transport_of_seeds(point: PointResult, rows: list[dict[str, Any]]) -> None:
    point.n_seeds_transport = len(rows)
    for attr, key, err_key in (
        ("D", "D_cm2_s", "D_std_cm2_s"),
        ("sigma", "sigma_S_cm", "sigma_std_S_cm"),
        ("D_sigma", "D_sigma_cm2_s", "D_sigma_std_cm2_s"),
        ("haven_ratio", "haven_ratio", "haven_ratio_std"),
    ):
        setattr(
            point,
            attr,
            mean_over_seeds([r.get(key) for r in rows], [r.get(err_key) for r in rows]),
        )
    for key in (
        "fraction_in_flight",
        "mean_residence_time_ps",
        "hop_rate_per_ps_per_ion",
        "alpha2_max",
        "framework_intact_fraction",
        "n_mobile",
        "volume_A3",
    ):
        vals = [r.get(key) for r in rows if r.get(key) is not None]
        setattr(point, key, float(np.mean(vals)) if vals else None)
    # is the MSD diffusive in the fit window (log-log rule or two-halves linearity)? A plateau
    # gives kinisi a spurious positive D: such points stay out of Arrhenius fits and of the
    # metric-vs-D correlation
    verdicts = [r.get("diffusive") for r in rows if r.get("diffusive") is not None]
    point.diffusive_fraction = float(np.mean(verdicts)) if verdicts else None
    point.diffusive = bool(all(verdicts)) if verdicts else None
    mech = [r.get("mechanism") for r in rows if r.get("mechanism")]
    point.mechanism = max(set(mech), key=mech.count) if mech else None
    point.mechanism_per_seed = mech
    point.per_seed_transport = rows


def _alpha_flags(point: PointResult, done_a: Sequence[StageResult]) -> None:
    flags = [r.summary.get("flagged_fraction") for r in done_a]
    flags = [f for f in flags if f is not None]  # None: bond model, no flags
    point.alpha_flagged_fraction = float(np.mean(flags)) if flags else None
    # the species whose atoms lie outside the model's training domain most often
    by_species: dict[str, list[float]] = {}
    for r in done_a:
        for s, f in (r.summary.get("outside_fraction_by_species") or {}).items():
            by_species.setdefault(s, []).append(float(f))
    means = {s: float(np.mean(f)) for s, f in by_species.items()}
    most = max(means, key=means.__getitem__, default=None)
    point.alpha_outside_most_species = most
    point.alpha_outside_most_species_fraction = means.get(most)


def _metrics_of_seeds(point: PointResult, per_seed: list[SeedMetrics], pooled: dict) -> None:
    point.per_seed_metrics = per_seed
    for name in ("lowfreq_fraction", "band_ratio"):
        vals = [getattr(m, name) for m in per_seed]
        if all(v is None for v in vals):
            continue
        errs = [getattr(m, f"{name}_stderr") for m in per_seed]
        setattr(point, name, mean_over_seeds(vals, errs))
        setattr(point, f"{name}_pooled", (pooled.get(name) or {}).get("value"))
    for m in per_seed:
        for name, v in m.panel.items():
            point.panel_descriptions.setdefault(name, v.description)
    for name in point.panel_descriptions:
        vals = [m.panel.get(name) for m in per_seed]
        point.panel[name] = mean_over_seeds(
            [None if v is None else v.value for v in vals],
            [None if v is None else v.stderr for v in vals],
        )
    amps = [m.central_peak_A for m in per_seed]
    if any(a is not None for a in amps):
        point.panel["central_peak_A"] = mean_over_seeds(amps, [None] * len(amps))
        point.panel_descriptions["central_peak_A"] = "Debye amplitude of the central-peak fit"
    point.central_peak_tau_ps = mean_over_seeds(
        [m.central_peak_tau_ps for m in per_seed], [m.central_peak_tau_err_ps for m in per_seed]
    )


def run_point(
    task: PointTask,
    alpha_results: Sequence[StageResult],
    lowfreq_results: Sequence[StageResult],
    transport_results: Sequence[StageResult],
) -> StageResult:
    """Combine the seeds of one candidate × temperature (``points/<candidate>/<T>K/``).

    Writes ``spectrum.h5`` / ``spectrum.csv`` (one spectrum of all seeds' α runs; errors across
    runs for ≥ 2 seeds) and ``point.json`` (:class:`PointResult`). Seeds whose tasks failed are
    left out (and listed); with no seed left the point is blocked.
    """
    pdir = task.run_dir / "points" / task.task_id
    ok_t = [r for r in transport_results if r.done]
    ok_a = [r for r in alpha_results if r.ok]
    ok_l = [r for r in lowfreq_results if r.ok]
    everything = (*alpha_results, *lowfreq_results, *transport_results)
    inputs = {
        "transport": [r.digest for r in ok_t],
        "alpha": [r.digest for r in ok_a],
        "lowfreq": [r.digest for r in ok_l],
        "settings": task.metrics.record(),
        "spectrum_options": task.spectrum.options(),
        "alpha_flags": 1,
        "metrics_version": METRICS_VERSION,
        "format": POINT_FORMAT,
    }
    ctx = StageContext(
        task.run_dir, task.task_id, "point", pdir, inputs, pdir / TASK_LOG, task.run_id
    )
    if not ok_t and not ok_l:
        return blocked(ctx, [StageResult(task.task_id, "all seeds", "failed")])  # type: ignore[return-value]

    def body(ctx: StageContext) -> dict[str, Any]:
        point = PointResult(
            candidate=task.candidate,
            temperature_K=task.temperature_K,
            seeds=list(task.seeds),
            seeds_failed=sorted({r.task for r in everything if r.bad}),
        )
        _transport_of_seeds(point, [r.summary for r in ok_t])
        outputs = []
        done_a = [r for r in ok_a if r.done]
        if not done_a:
            point.spectrum_status = (ok_a[0].summary.get("reason") if ok_a else None) or (
                "skipped: no polarizability model"
            )
        else:
            _alpha_flags(point, done_a)
            runs = [AlphaSeries.read(r.dir) for r in done_a]
            n_min = min(r.alpha.shape[0] for r in runs)
            spectrum = _compute_spectrum(
                [dataclasses.replace(r, alpha=r.alpha[:n_min]) for r in runs], task.spectrum
            )
            spectrum.metadata["seeds_combined"] = len(runs)
            outputs += _write_spectrum(spectrum, ctx.dir, task.spectrum.variant)
            pooled = spectrum_metrics(spectrum, task.metrics)
            point.pooled_metrics = pooled
            point.spectrum_status = "done"
            point.resolution_cm1 = spectrum.resolution_cm1
            per_seed = [SeedMetrics.from_dict(r.summary) for r in ok_l if r.done]
            _metrics_of_seeds(point, per_seed, pooled)
        point.save(ctx.dir / "point.json")
        return ctx.finish([*outputs, "point.json"], {"spectrum_status": point.spectrum_status})

    return execute(ctx, [], body)


def run_arrhenius(task: CandidateTask, point_results: Sequence[StageResult]) -> StageResult:
    """Arrhenius fits of D*(T) and σ(T) of one candidate (``candidates/<candidate>/``).

    Needs at least two temperatures with positive D; otherwise the stage completes as
    ``skipped`` with the reason. Extrapolates D and σ to ``task.extrapolate_K`` (300 K).
    """
    cdir = task.run_dir / "candidates" / task.candidate_dir
    ok = [r for r in point_results if r.done]
    inputs = {"points": [r.digest for r in ok], "extrapolate_K": task.extrapolate_K}
    ctx = StageContext(
        task.run_dir, task.candidate_dir, "arrhenius", cdir, inputs, cdir / TASK_LOG, task.run_id
    )
    if not ok:
        return blocked(ctx, [StageResult(task.candidate_dir, "point", "failed")])  # type: ignore[return-value]

    def body(ctx: StageContext) -> dict[str, Any]:
        from ionraman.transport import arrhenius_fit

        pts = sorted(
            (PointResult.load(r.dir / "point.json") for r in ok), key=lambda p: p.temperature_K
        )
        t = np.array([p.temperature_K for p in pts])
        out: dict[str, Any] = {"candidate": task.candidate, "temperatures_K": t.tolist()}
        diffusive = np.array([p.diffusive is not False for p in pts])
        for name, kind, key in (("D", "D", "D_cm2_s"), ("sigma", "sigmaT", "sigma_S_cm")):
            means = [getattr(p, name) for p in pts]
            vals = np.array([np.nan if m.mean is None else m.mean for m in means], float)
            errs = np.array([np.nan if m.err is None else m.err for m in means], float)
            use = np.isfinite(vals) & (vals > 0) & diffusive
            if use.sum() < 2:
                out[name] = {
                    "status": f"skipped: {int(use.sum())} temperature(s) with positive {key} "
                    f"and a diffusive MSD ({int((~diffusive).sum())} not diffusive); need 2"
                }
                continue
            weights_ok = np.isfinite(errs[use]).all() and (errs[use] > 0).all()
            try:
                fit = arrhenius_fit(t[use], vals[use], errs[use] if weights_ok else None, kind=kind)
            except Exception as exc:  # e.g. 2 points without errors
                out[name] = {"status": f"skipped: {exc}"}
                continue
            ex = fit.extrapolate(float(task.extrapolate_K))
            out[name] = {
                "status": "done",
                "temperatures_used_K": t[use].tolist(),
                "weighted": bool(weights_ok),
                **fit.to_dict(),
                "extrapolated": {k: _plain(v) for k, v in ex.items()},
            }
        write_json_atomic(ctx.dir / "arrhenius.json", out)
        d = out.get("D", {})
        return ctx.finish(
            ["arrhenius.json"],
            {"Ea_eV": d.get("Ea_eV"), "Ea_std_eV": d.get("Ea_std_eV"), "status": d.get("status")},
        )

    return execute(ctx, [], body)
