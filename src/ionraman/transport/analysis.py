"""End-to-end transport analysis of one trajectory: MSD, D (kinisi), σ, Haven ratio, mechanism.

:func:`analyse_diffusion` streams a trajectory store (or imports any ASE-readable file first), and
writes, atomically, to ``out_dir``:

* ``msd.csv`` — ``time_ps``, ``msd_<species>_A2`` for every species, ``msd_collective_<mobile>_A2``
  (at most ``msd_rows`` lags: log-spaced union linear-spaced);
* ``diffusion.json`` — D*, D_σ with uncertainties, fit window and its rule, σ (Nernst–Einstein and
  collective), Haven ratio, hopping descriptors, α₂(t), provenance;
* ``msd.png`` — the MSDs with the fit window and the fitted line;
* ``vanhove.csv`` — self van Hove function of the mobile species at a few lags.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ionraman._io import (
    atomic_path,
    json_default_str,
    provenance,
    write_json_atomic,
    write_text_atomic,
)
from ionraman.conventions import FS_PER_PS, MIN_INTERATOMIC_DISTANCE_A, UNITS
from ionraman.errors import InputError
from ionraman.transport._source import (
    TrajectoryLike,
    check_trajectory,
    open_source,
    select_atoms,
)
from ionraman.transport.conductivity import (
    haven_ratio,
    nernst_einstein_conductivity,
    number_density_cm3,
)
from ionraman.transport.diffusion import (
    DiffusionEstimate,
    FitWindow,
    LinearityTest,
    choose_fit_window,
    diffusive_in_window,
    estimate_diffusion,
    msd_linearity,
)
from ionraman.transport.hopping import DEFAULT_SITE_RADIUS_A, HoppingResult, hopping_descriptor
from ionraman.transport.msd import MSDResult, msd_from_store
from ionraman.transport.unwrap import unwrap_to_store
from ionraman.transport.vanhove import VanHoveResult, non_gaussian_parameter, self_van_hove
from ionraman.validate import check_nonzero, check_output_dir, check_temperature


@dataclass
class DiffusionResult:
    """Everything :func:`analyse_diffusion` computed (units in field names / docstrings).

    Attributes
    ----------
    species : str
        Mobile species.
    temperature_k : float or None
        Temperature used for σ (argument or store metadata), K.
    charge : float
        Ion charge, e.
    n_mobile : int
        Mobile ions in the cell.
    volume_A3 : float
        Mean cell volume, Å³.
    window : FitWindow
        Fit window requested by the rule (the estimates hold the window snapped to lags).
    tracer : DiffusionEstimate
        D* of the mobile species.
    collective : DiffusionEstimate or None
        D_σ from the collective MSD (None when it could not be estimated).
    sigma_S_cm, sigma_std_S_cm : float or None
        Nernst–Einstein conductivity from D*, S cm⁻¹.
    sigma_collective_S_cm, sigma_collective_std_S_cm : float or None
        Conductivity from D_σ (ion correlations included), S cm⁻¹.
    haven_ratio, haven_ratio_std : float or None
        H_R = D* / D_σ.
    msd : MSDResult
        Full MSDs.
    hopping : HoppingResult or None
        Site-based descriptors.
    alpha2 : DataFrame or None
        Non-Gaussian parameter (``time_ps``, ``msd_A2``, ``r4_A4``, ``alpha2``).
    vanhove : VanHoveResult or None
        Self van Hove function of the mobile species.
    linearity : LinearityTest or None
        Two-halves straight-line test of the MSD (None when skipped).
    files : dict
        Written files.
    info : dict
        Parameters, subsampling and provenance (as written to ``diffusion.json``).
    """

    species: str
    temperature_k: float | None
    charge: float
    n_mobile: int
    volume_A3: float
    window: FitWindow
    tracer: DiffusionEstimate
    collective: DiffusionEstimate | None
    sigma_S_cm: float | None
    sigma_std_S_cm: float | None
    sigma_collective_S_cm: float | None
    sigma_collective_std_S_cm: float | None
    haven_ratio: float | None
    haven_ratio_std: float | None
    msd: MSDResult
    hopping: HoppingResult | None = None
    alpha2: pd.DataFrame | None = None
    vanhove: VanHoveResult | None = None
    linearity: LinearityTest | None = None
    files: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def D_cm2_s(self) -> float:
        return self.tracer.D_cm2_s

    @property
    def diffusive(self) -> bool | None:
        """Is the MSD diffusive in the fit window? (:func:`diffusive_in_window`)."""
        return diffusive_in_window(self.window, self.linearity)

    @property
    def D_std_cm2_s(self) -> float:
        return self.tracer.D_std_cm2_s

    def scalars(self) -> dict[str, Any]:
        """The scalar results (units in the names): one row of :meth:`to_dataframe`, and the
        transport stage's summary in a screening run."""
        c = self.collective
        h = self.hopping
        return {
            "species": self.species,
            "temperature_K": self.temperature_k,
            "D_cm2_s": self.tracer.D_cm2_s,
            "D_std_cm2_s": self.tracer.D_std_cm2_s,
            "D_ci95_low_cm2_s": self.tracer.D_ci95_cm2_s[0],
            "D_ci95_high_cm2_s": self.tracer.D_ci95_cm2_s[1],
            "fit_start_ps": self.tracer.window.start_ps,
            "fit_end_ps": self.tracer.window.end_ps,
            "diffusive": self.diffusive,
            "D_ls_cm2_s": None if self.linearity is None else self.linearity.D_cm2_s[0],
            "D_ls_std_cm2_s": None if self.linearity is None else self.linearity.D_cm2_s[1],
            "D_sigma_cm2_s": None if c is None else c.D_cm2_s,
            "D_sigma_std_cm2_s": None if c is None else c.D_std_cm2_s,
            "sigma_S_cm": self.sigma_S_cm,
            "sigma_std_S_cm": self.sigma_std_S_cm,
            "sigma_collective_S_cm": self.sigma_collective_S_cm,
            "sigma_collective_std_S_cm": self.sigma_collective_std_S_cm,
            "haven_ratio": self.haven_ratio,
            "haven_ratio_std": self.haven_ratio_std,
            "n_mobile": self.n_mobile,
            "volume_A3": self.volume_A3,
            "fraction_in_flight": None if h is None else h.fraction_in_flight,
            "mean_residence_time_ps": None if h is None else h.mean_residence_time_ps,
            "hop_rate_per_ps_per_ion": None if h is None else h.hop_rate_per_ps_per_ion,
            "mechanism": None if h is None else h.mechanism,
        }

    def to_dataframe(self) -> pd.DataFrame:
        """One-row table of the scalar results (:meth:`scalars`; units in the column names)."""
        return pd.DataFrame([self.scalars()])

    def to_dict(self) -> dict[str, Any]:
        """The content of ``diffusion.json``."""
        return self.info

    def summary(self) -> str:
        """One-line human summary."""
        t = self.tracer
        parts = [
            f"D*({self.species}) = {t.D_cm2_s:.3e} ± {t.D_std_cm2_s:.1e} cm^2/s "
            f"(fit {t.window.start_ps:.3g}-{t.window.end_ps:.3g} ps)"
        ]
        if self.sigma_S_cm is not None:
            parts.append(f"sigma_NE = {self.sigma_S_cm:.3e} S/cm at {self.temperature_k:g} K")
        if self.haven_ratio is not None:
            parts.append(f"H_R = {self.haven_ratio:.2f} ± {self.haven_ratio_std or np.nan:.2f}")
        lin = self.linearity
        if lin is not None and lin.linear and not self.window.slope_rule_met:
            parts.append(
                f"MSD linear in the fit window (offset by the cage; halves agree, z = {lin.z:+.2f})"
            )
        elif self.diffusive is False:
            if lin is None:
                why = "log-log slope far from 1"
            elif abs(lin.z) > lin.z_max:
                why = f"slope of the second half differs from the first, z = {lin.z:+.2f}"
            else:
                why = (f"no resolved growth: slopes {lin.first_A2_ps[0]:.3g} ± "
                       f"{lin.first_A2_ps[1]:.2g} and {lin.second_A2_ps[0]:.3g} ± "
                       f"{lin.second_A2_ps[1]:.2g} A^2/ps in the two halves")
            parts.append(
                f"WARNING: the MSD is not yet diffusive in the fit window ({why}): D is an "
                "upper bound of vibrational/transient motion; run longer"
            )
        if self.hopping is not None:
            parts.append(
                f"{self.hopping.mechanism} (in flight {self.hopping.fraction_in_flight:.2f}, "
                f"{self.hopping.hop_rate_per_ps_per_ion:.3g} hops/ps/ion)"
            )
        return "; ".join(parts)


def _default_vanhove_times(dt_ps: float, run_ps: float) -> np.ndarray:
    """Four log-spaced lags from 10 frames to half the run (ps)."""
    lo, hi = 10 * dt_ps, 0.5 * run_ps
    if hi <= dt_ps:
        return np.array([dt_ps])
    lo = min(lo, hi)
    return np.unique(np.round(np.geomspace(lo, hi, 4) / dt_ps)) * dt_ps


def _plot_msd(path: Path, result: DiffusionResult) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    msd = result.msd
    t = msd.time_ps
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    rows = msd.lag_rows(4000)
    win = result.tracer.window
    slope = result.tracer.slope_A2_ps
    intercept = result.tracer.intercept_A2 or 0.0
    for ax, log in zip(axes, (False, True), strict=True):
        sel = rows[1:] if log else rows
        for sp, values in msd.msd_A2.items():
            ax.plot(t[sel], values[sel], lw=1.2 if sp == result.species else 0.8, label=f"{sp}")
        if msd.collective_msd_A2 is not None:
            ax.plot(
                t[sel], msd.collective_msd_A2[sel], lw=0.8, alpha=0.7,
                label=f"collective {msd.mobile} (/N)",
            )
        ax.axvspan(win.start_ps, win.end_ps, color="0.85", zorder=0, label="fit window")
        tf = np.linspace(win.start_ps, win.end_ps, 50)
        ax.plot(tf, slope * tf + intercept, "k--", lw=1, label=f"6D*t, D*={result.D_cm2_s:.2e}")
        ax.set_xlabel("time lag (ps)")
        ax.set_ylabel("MSD (Å$^2$)")
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    axes[0].set_title(
        f"{result.species}: D* = {result.D_cm2_s:.2e} ± {result.D_std_cm2_s:.1e} cm²/s"
    )
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def _source_name(traj_path: str | os.PathLike[str] | TrajectoryLike) -> str:
    """The file a trajectory comes from, or ``"trajectory"`` for arrays (for messages)."""
    if isinstance(traj_path, str | os.PathLike):
        return str(traj_path)
    path = getattr(traj_path, "path", None)
    return str(path) if path is not None else "trajectory"


def analyse_diffusion(
    traj_path: str | os.PathLike[str] | TrajectoryLike,
    out_dir: str | os.PathLike[str],
    *,
    species: str = "Na",
    temperature_k: float | None = None,
    charge: float = 1.0,
    timestep_fs: float | None = None,
    drift: Literal["framework", "all", "none"] = "framework",
    framework: str | Sequence[str] | Sequence[int] | None = None,
    fit_rule: Literal["slope", "fraction"] = "slope",
    start_ps: float | None = None,
    end_ps: float | None = None,
    start_fraction: float = 0.1,
    end_fraction: float = 0.5,
    slope_tolerance: float = 0.2,
    linearity_z_max: float | None = 2.0,
    n_lags: int = 100,
    max_frames: int = 20_000,
    collective: bool = True,
    descriptors: bool = True,
    sites: str | np.ndarray = "reference",
    site_radius_A: float = DEFAULT_SITE_RADIUS_A,
    vanhove_times_ps: Sequence[float] | None = None,
    seed: int | None = 0,
    chunk_frames: int = 1024,
    msd_rows: int = 5000,
    tmp_dir: str | os.PathLike[str] | None = None,
    plot: bool = True,
    min_distance_A: float = MIN_INTERATOMIC_DISTANCE_A,
) -> DiffusionResult:
    """Transport analysis of a trajectory; writes msd.csv, diffusion.json, msd.png, vanhove.csv.

    Parameters
    ----------
    traj_path
        ionraman trajectory store (.h5), any ASE-readable trajectory (imported first with
        :func:`ionraman.trajectory.import_trajectory`; ``timestep_fs`` needed when the file has no
        times), or an open reader.
    out_dir
        Output directory (created).
    species : str
        Mobile species.
    temperature_k : float, optional
        K; default the store's ``metadata["temperature_K"]``. Without it σ is not computed.
    charge : float
        Charge of the mobile ion in e.
    timestep_fs : float, optional
        Time between frames in fs for files without times.
    drift, framework
        Drift removal (default: mean displacement of all non-mobile atoms).
    fit_rule, start_ps, end_ps, start_fraction, end_fraction, slope_tolerance
        Fit window, see :func:`ionraman.transport.diffusion.choose_fit_window`.
    linearity_z_max : float or None
        Test whether the MSD is a straight line with a resolved slope (offset by the vibrational
        cage) in the window, which the log-log slope rule misses:
        :func:`ionraman.transport.diffusion.msd_linearity` with this ``z_max`` (also gives a
        least-squares D with a bootstrap σ as a cross-check of kinisi's). None skips it.
    n_lags, max_frames
        kinisi input size: lags in the window, frames kept (stride ⌈S/max_frames⌉; the same
        subsampled frames are used for the descriptors).
    collective : bool
        Estimate D_σ (collective MSD) and the Haven ratio.
    descriptors : bool
        Hopping descriptor, van Hove function and α₂.
    sites, site_radius_A
        Hopping sites and radius (:func:`ionraman.transport.hopping.hopping_descriptor`).
    vanhove_times_ps : sequence of float, optional
        Lags for G_s (default four log-spaced from 10 frames to half the run).
    seed : int, optional
        MCMC seed (reproducible results).
    chunk_frames, msd_rows, tmp_dir, plot
        Streaming chunk, rows of msd.csv, location of temporary files, write msd.png.
    min_distance_A : float
        Refuse a trajectory whose frame 0 holds two atoms closer than this, Å (overlapping or
        duplicated atoms); 0 turns the check off (ideal-gas test walkers). Every frame is also
        checked for finite positions and a 3D cell before any analysis.

    Returns
    -------
    DiffusionResult
    """
    if linearity_z_max is not None and not linearity_z_max > 0:
        raise InputError(
            f"linearity_z_max = {linearity_z_max!r}: expected a positive number or None"
        )
    out = check_output_dir(out_dir)
    temperature_k = check_temperature(temperature_k, "temperature_k")
    charge = check_nonzero(charge, "charge", "e")
    params = {
        "species": species,
        "temperature_K": temperature_k,
        "charge_e": charge,
        "timestep_fs": timestep_fs,
        "drift": drift,
        "framework": framework,
        "fit_rule": fit_rule,
        "start_ps": start_ps,
        "end_ps": end_ps,
        "start_fraction": start_fraction,
        "end_fraction": end_fraction,
        "slope_tolerance": slope_tolerance,
        "linearity_z_max": linearity_z_max,
        "n_lags": n_lags,
        "max_frames": max_frames,
        "collective": collective,
        "descriptors": descriptors,
        "sites": sites if isinstance(sites, str) else "given",
        "site_radius_A": site_radius_A,
        "seed": seed,
    }
    source_name = _source_name(traj_path)
    with open_source(traj_path, timestep_fs=timestep_fs, work_dir=tmp_dir) as traj:
        symbols_all = list(traj.symbols)
        mobile_idx = select_atoms(symbols_all, species)
        if temperature_k is None:
            temperature_k = check_temperature(
                traj.metadata.get("temperature_K"), f"{source_name}: temperature_K"
            )
        check_trajectory(traj, source_name, min_distance_A=min_distance_A)
        all_atoms = np.arange(traj.n_atoms)
        with unwrap_to_store(
            traj,
            all_atoms,
            drift=drift,
            framework=framework,
            mobile=mobile_idx,
            chunk_frames=chunk_frames,
            tmp_dir=tmp_dir,
        ) as store:
            species_list = list(dict.fromkeys(symbols_all))
            msd = msd_from_store(store, species=species_list, mobile=species)
            stride = max(1, -(-store.n_frames // max_frames))
            sub = store.subsample(store.local(mobile_idx), stride)  # [S', N, 3]
            volume = store.mean_volume_A3
            dt_ps = store.dt_ps
            n_frames = store.n_frames
        cells_sub = np.asarray(traj.read("cells"))[::stride]
        input_info = {
            "path": source_name,
            "n_frames": n_frames,
            "n_atoms": traj.n_atoms,
            "frame_interval_fs": dt_ps * FS_PER_PS,
            "metadata": traj.metadata,
        }
    dt_sub = dt_ps * stride
    window = choose_fit_window(
        msd.time_ps,
        msd.msd_A2[species],
        rule=fit_rule,
        start_ps=start_ps,
        end_ps=end_ps,
        end_fraction=end_fraction,
        start_fraction=start_fraction,
        slope_tolerance=slope_tolerance,
    )
    tracer = estimate_diffusion(sub, dt_sub, window, kind="tracer", n_lags=n_lags, seed=seed)
    linearity = linearity_error = None
    if linearity_z_max is not None:
        try:
            linearity = msd_linearity(sub, dt_sub, window, z_max=linearity_z_max, seed=seed)
        except InputError as exc:  # a half holds fewer than 3 lags
            linearity_error = str(exc)
    coll = None
    coll_error = None
    if collective:
        try:
            coll = estimate_diffusion(
                sub, dt_sub, window, kind="collective", n_lags=n_lags, seed=seed
            )
        except (InputError, ValueError, np.linalg.LinAlgError) as exc:  # noisy single series
            coll_error = str(exc)
    n_mobile = int(mobile_idx.size)
    sigma = sigma_std = sigma_c = sigma_c_std = None
    if temperature_k is not None:
        sigma, sigma_std = nernst_einstein_conductivity(
            tracer.D_cm2_s, n_mobile, volume, float(temperature_k), charge, tracer.D_std_cm2_s
        )
        if coll is not None:
            sigma_c, sigma_c_std = nernst_einstein_conductivity(
                coll.D_cm2_s, n_mobile, volume, float(temperature_k), charge, coll.D_std_cm2_s
            )
    h_r = h_r_std = None
    if coll is not None and coll.D_cm2_s > 0:
        h_r, h_r_std = haven_ratio(
            tracer.D_cm2_s,
            coll.D_cm2_s,
            samples_tracer=tracer.samples_cm2_s,
            samples_sigma=coll.samples_cm2_s,
        )
    hop = alpha2 = vh = None
    if descriptors:
        hop = hopping_descriptor(
            sub, cells_sub, dt_sub, sites=sites, site_radius_A=site_radius_A
        )
        alpha2 = non_gaussian_parameter(sub, dt_ps=dt_sub)
        times = (
            _default_vanhove_times(dt_sub, msd.time_ps[-1])
            if vanhove_times_ps is None
            else np.asarray(vanhove_times_ps, dtype=float)
        )
        vh = self_van_hove(sub, times, dt_ps=dt_sub)
    files = {
        "msd_csv": str(out / "msd.csv"),
        "diffusion_json": str(out / "diffusion.json"),
    }
    if plot:
        files["msd_png"] = str(out / "msd.png")
    if vh is not None:
        files["vanhove_csv"] = str(out / "vanhove.csv")
    info: dict[str, Any] = {
        "species": species,
        "temperature_K": temperature_k,
        "charge_e": charge,
        "n_mobile": n_mobile,
        "volume_A3": volume,
        "number_density_cm3": number_density_cm3(n_mobile, volume),
        "D_cm2_s": tracer.D_cm2_s,
        "D_std_cm2_s": tracer.D_std_cm2_s,
        "D_median_cm2_s": tracer.D_median_cm2_s,
        "D_ci95_cm2_s": list(tracer.D_ci95_cm2_s),
        "fit_window": {
            "start_ps": tracer.window.start_ps,
            "end_ps": tracer.window.end_ps,
            "rule": window.rule,
            "slope_rule_met": window.slope_rule_met,
            "linearity": None if linearity is None else linearity.to_dict(),
            "linearity_error": linearity_error,
            "diffusive": diffusive_in_window(window, linearity),
            "requested_start_ps": window.start_ps,
            "requested_end_ps": window.end_ps,
        },
        "tracer": tracer.to_dict(),
        "D_sigma_cm2_s": None if coll is None else coll.D_cm2_s,
        "D_sigma_std_cm2_s": None if coll is None else coll.D_std_cm2_s,
        "collective": None if coll is None else coll.to_dict(),
        "collective_error": coll_error,
        "sigma_S_cm": sigma,
        "sigma_std_S_cm": sigma_std,
        "sigma_definition": "Nernst-Einstein n (q e)^2 D* / (k_B T) from the tracer D*",
        "sigma_collective_S_cm": sigma_c,
        "sigma_collective_std_S_cm": sigma_c_std,
        "haven_ratio": h_r,
        "haven_ratio_std": h_r_std,
        "haven_ratio_definition": "D* / D_sigma, D_sigma from <|sum_i dr_i|^2> / (6 N t)",
        "msd_D_all_species_note": "tracer MSD of every species in msd.csv",
        "descriptors": {
            "hopping": None if hop is None else hop.to_dict(),
            "alpha2": None if alpha2 is None else alpha2.to_dict(orient="list"),
            "alpha2_max": None if alpha2 is None else float(np.nanmax(alpha2["alpha2"])),
            "vanhove_times_ps": None if vh is None else vh.time_ps.tolist(),
            "subsample_stride": stride,
            "subsample_dt_ps": dt_sub,
        },
        "msd": {"rows_written": int(msd.lag_rows(msd_rows).size), **msd.info},
        "input": input_info,
        "units": dict(UNITS),
        "files": files,
        "provenance": provenance(params),
    }
    result = DiffusionResult(
        species=species,
        temperature_k=None if temperature_k is None else float(temperature_k),
        charge=charge,
        n_mobile=n_mobile,
        volume_A3=volume,
        window=window,
        tracer=tracer,
        collective=coll,
        sigma_S_cm=sigma,
        sigma_std_S_cm=sigma_std,
        sigma_collective_S_cm=sigma_c,
        sigma_collective_std_S_cm=sigma_c_std,
        haven_ratio=h_r,
        haven_ratio_std=h_r_std,
        msd=msd,
        hopping=hop,
        alpha2=alpha2,
        vanhove=vh,
        linearity=linearity,
        files=files,
        info=_clean(json.loads(json.dumps(info, default=json_default_str))),
    )
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "msd.csv", msd.to_dataframe(max_rows=msd_rows).to_csv(index=False))
    if vh is not None:
        write_text_atomic(out / "vanhove.csv", vh.to_dataframe().to_csv(index=False))
    if plot:
        _plot_msd(out / "msd.png", result)
    write_json_atomic(out / "diffusion.json", result.info)
    return result


def _clean(obj: Any) -> Any:
    """Replace non-finite floats by None (strict JSON)."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj
