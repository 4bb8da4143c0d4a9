"""Student-vs-teacher validation on trajectories: RDF, VDOS, Na MSD and D, with figures.

Both trajectories are ionraman stores of the same system at the same temperature (made with
:func:`ionraman.md.run_md`). Compared:

* partial radial distribution functions g_ab(r) (frame average, periodic images, 0.02 Å bins);
  figure of merit: the mean absolute difference of g(r) over 1–``r_max`` Å;
* vibrational density of states from the stored velocities, mass-weighted, per species and
  total: VDOS(ν) ∝ Σ_i m_i |v̂_i(ν)|² (Welch periodogram, Hann window), normalised to unit area;
  figure of merit: the overlap ∫ min(g_s, g_t) dν (1 = identical);
* tracer MSD and D* of the mobile species (:func:`ionraman.transport.analyse_diffusion`): the
  student reproduces the teacher when |D_s − D_t| ≤ 2 √(σ_s² + σ_t²).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_masses, chemical_symbols

from ionraman._io import write_json_atomic
from ionraman.conventions import SPEED_OF_LIGHT_CM_S

DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (("Sb", "S"), ("Na", "S"), ("Na", "Na"), ("S", "S"))


def partial_rdf(
    path: str | os.PathLike[str],
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    *,
    r_max: float = 6.0,
    dr: float = 0.02,
    max_frames: int = 200,
) -> dict[str, Any]:
    """Partial g_ab(r) averaged over up to ``max_frames`` evenly spaced frames of a store.

    Returns
    -------
    dict
        ``r_A`` [B] bin centres, Å, and ``"A-B"`` → g(r) [B] for every pair present.
    """
    from matscipy.neighbours import neighbour_list

    from ionraman.trajectory import Trajectory

    edges = np.arange(0.0, r_max + dr / 2, dr)
    centres = 0.5 * (edges[1:] + edges[:-1])
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    with Trajectory(path) as traj:
        n = len(traj)
        idx = np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int))
        first = traj.get_atoms(0)
        symbols = np.array(first.get_chemical_symbols())
        hist = {f"{a}-{b}": np.zeros(len(centres)) for a, b in pairs
                if a in symbols and b in symbols}
        volume = 0.0
        for i in idx:
            atoms = traj.get_atoms(int(i))
            volume += atoms.get_volume()
            ii, jj, d = neighbour_list("ijd", atoms, r_max)
            for key in hist:
                a, b = key.split("-")
                m = (symbols[ii] == a) & (symbols[jj] == b)
                hist[key] += np.histogram(d[m], bins=edges)[0]
    out: dict[str, Any] = {"r_A": centres}
    mean_v = volume / len(idx)
    for key, h in hist.items():
        a, b = key.split("-")
        na, nb = int(np.sum(symbols == a)), int(np.sum(symbols == b))
        pairs_density = na * (nb - (a == b)) / mean_v
        out[key] = h / (len(idx) * pairs_density * shell)
    return out


def vdos(
    path: str | os.PathLike[str], *, segment_ps: float = 2.0, max_frames: int = 20_000
) -> dict[str, Any]:
    """Mass-weighted vibrational density of states from the velocities of a store.

    Returns
    -------
    dict
        ``nu_cm1`` [K] wavenumbers, cm⁻¹; ``total`` and one entry per species [K], each
        normalised to unit area over ν (cm); ``dt_fs`` the frame interval used.
    """
    from scipy.signal import welch

    from ionraman.trajectory import Trajectory

    with Trajectory(path) as traj:
        v = traj.read("velocities", 0, min(len(traj), max_frames))  # [F, N, 3] Å/fs
        times = traj.read("times_fs", 0, min(len(traj), max_frames))
        numbers = traj.get_atoms(0).numbers
    dt_fs = float(np.median(np.diff(times)))
    nper = max(8, min(v.shape[0], round(segment_ps * 1000.0 / dt_fs)))
    fs_hz = 1.0 / (dt_fs * 1e-15)
    freq, p = welch(v, fs=fs_hz, window="hann", nperseg=nper, axis=0, detrend=False)
    nu = freq / SPEED_OF_LIGHT_CM_S
    mass = atomic_masses[numbers]
    per_atom = np.sum(p, axis=2) * mass[None, :]  # [K, N]
    out: dict[str, Any] = {"nu_cm1": nu, "dt_fs": dt_fs}

    def norm(y: np.ndarray) -> np.ndarray:
        area = np.trapezoid(y, nu)
        return y / area if area > 0 else y

    out["total"] = norm(per_atom.sum(axis=1))
    for z in np.unique(numbers):
        out[chemical_symbols[z]] = norm(per_atom[:, numbers == z].sum(axis=1))
    return out


def compare_student_teacher(
    student: str | os.PathLike[str],
    teacher: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    species: str = "Na",
    label: str = "",
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    r_max: float = 6.0,
    diffusion_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """RDF, VDOS and MSD/D of a student trajectory against a teacher trajectory; PNG figures.

    Parameters
    ----------
    student, teacher
        Trajectory stores of the same system and temperature.
    out_dir
        Output directory: ``comparison.json``, ``rdf.png``, ``vdos.png``, ``msd.png`` and the
        transport outputs of both runs in ``student/`` and ``teacher/``.
    species
        Mobile species of the MSD.
    label
        Title prefix of the figures (e.g. ``"t-Na3SbS4 700 K"``).

    Returns
    -------
    dict
        ``rdf_mae`` (per pair), ``vdos_overlap`` (total and per species), ``D_student_cm2_s``,
        ``D_teacher_cm2_s`` (mean, std), ``D_z`` (difference over combined σ),
        ``D_least_squares_cm2_s`` / ``D_z_least_squares`` (the same comparison from
        least-squares MSD slopes with a bootstrap σ over the ions, a cross-check of kinisi's σ),
        ``D_resolved`` per run (the MSD is diffusive in the fit window, by the log-log slope rule
        or the two-halves linearity test, and D > 2σ), ``msd_linearity`` per run,
        ``D_within_uncertainty`` (``|z| ≤ 2``; ``None`` when either D is not resolved: then the
        runs are too short to decide), file names.
    """
    from ionraman.report.figures import save_png
    from ionraman.transport import analyse_diffusion

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rdf = {k: partial_rdf(p, pairs, r_max=r_max) for k, p in
           (("student", student), ("teacher", teacher))}
    dos = {k: vdos(p) for k, p in (("student", student), ("teacher", teacher))}
    kw = {"collective": False, "descriptors": False, "plot": False, **(diffusion_kwargs or {})}
    diff = {k: analyse_diffusion(p, out_dir / k, species=species, **kw)
            for k, p in (("student", student), ("teacher", teacher))}

    r = rdf["teacher"]["r_A"]
    mask = r >= 1.0
    rdf_mae = {
        key: float(np.mean(np.abs(rdf["student"][key][mask] - rdf["teacher"][key][mask])))
        for key in rdf["teacher"] if key != "r_A" and key in rdf["student"]
    }
    overlap = {}
    for key in dos["teacher"]:
        if key in ("nu_cm1", "dt_fs") or key not in dos["student"]:
            continue
        nu = dos["teacher"]["nu_cm1"]
        s_on_t = np.interp(nu, dos["student"]["nu_cm1"], dos["student"][key])
        overlap[key] = float(np.trapezoid(np.minimum(s_on_t, dos["teacher"][key]), nu))
    def z_score(
        student: tuple[float, float], teacher: tuple[float, float], zero_sigma: float | None
    ) -> float | None:
        sigma = float(np.hypot(student[1], teacher[1]))
        return float((student[0] - teacher[0]) / sigma) if sigma > 0 else zero_sigma

    ds, dt = diff["student"].tracer, diff["teacher"].tracer
    z = z_score((ds.D_cm2_s, ds.D_std_cm2_s), (dt.D_cm2_s, dt.D_std_cm2_s), float("inf"))
    # cross-check that does not rest on kinisi's covariance model: least-squares slopes of the
    # MSD over the same window, σ from a bootstrap over the ions
    lin = {k: d.linearity for k, d in diff.items()}
    z_ls = None
    if all(v is not None for v in lin.values()):
        z_ls = z_score(lin["student"].D_cm2_s, lin["teacher"].D_cm2_s, None)
    resolved = {
        k: bool(
            d.diffusive is not False
            and np.isfinite(d.tracer.D_cm2_s)
            and d.tracer.D_cm2_s > 2.0 * d.tracer.D_std_cm2_s
        )
        for k, d in diff.items()
    }
    result = {
        "label": label,
        "student": str(student),
        "teacher": str(teacher),
        "rdf_mae": rdf_mae,
        "vdos_overlap": overlap,
        "D_student_cm2_s": [ds.D_cm2_s, ds.D_std_cm2_s],
        "D_teacher_cm2_s": [dt.D_cm2_s, dt.D_std_cm2_s],
        "D_z": z,
        "D_resolved": resolved,
        "D_within_uncertainty": bool(abs(z) <= 2.0) if all(resolved.values()) else None,
        "slope_rule_met": {k: d.window.slope_rule_met for k, d in diff.items()},
        "msd_linearity": {k: None if v is None else v.to_dict() for k, v in lin.items()},
        "D_least_squares_cm2_s": {
            k: None if v is None else list(v.D_cm2_s) for k, v in lin.items()
        },
        "D_z_least_squares": z_ls,
        "files": ["rdf.png", "vdos.png", "msd.png", "comparison.json"],
    }

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(rdf_mae)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.0), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        ax.plot(r, rdf["teacher"][key], "k-", lw=1.2, label="teacher")
        ax.plot(rdf["student"]["r_A"], rdf["student"][key], "C3--", lw=1.2, label="student")
        ax.set_title(f"{key}  MAE {rdf_mae[key]:.3f}")
        ax.set_xlabel("r (Å)")
    axes[0][0].set_ylabel("g(r)")
    axes[0][0].legend()
    fig.suptitle(f"{label} RDF")
    fig.tight_layout()
    save_png(fig, out_dir / "rdf.png")

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for i, key in enumerate(k for k in overlap if k != "total"):
        ax.plot(dos["teacher"]["nu_cm1"], dos["teacher"][key], color=f"C{i}", lw=1.2,
                label=f"{key} teacher")
        ax.plot(dos["student"]["nu_cm1"], dos["student"][key], color=f"C{i}", ls="--", lw=1.2,
                label=f"{key} student (overlap {overlap[key]:.2f})")
    ax.set_xlim(0, 600)
    ax.set_xlabel("wavenumber (cm⁻¹)")
    ax.set_ylabel("VDOS (normalised)")
    ax.set_title(f"{label} VDOS, total overlap {overlap.get('total', float('nan')):.2f}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, out_dir / "vdos.png")

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for k, style in (("teacher", "k-"), ("student", "C3--")):
        m = diff[k].msd
        d = diff[k].tracer
        ax.plot(m.time_ps, m.msd_A2[species], style,
                label=f"{k}: D* = {d.D_cm2_s:.2e} ± {d.D_std_cm2_s:.1e} cm²/s")
    ax.set_xlabel("lag (ps)")
    ax.set_ylabel(f"{species} MSD (Å²)")
    ax.set_title(f"{label} {species} MSD (|z| = {abs(z):.2f})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, out_dir / "msd.png")
    write_json_atomic(out_dir / "comparison.json", result)
    return result
