"""Student-vs-teacher comparison tools against analytic cases."""

from __future__ import annotations

import numpy as np

from ionraman.conventions import SPEED_OF_LIGHT_CM_S
from ionraman.distillation.validation import partial_rdf, vdos
from ionraman.structures import get_structure
from ionraman.trajectory import TrajectoryWriter


def _store(path, atoms, positions, velocities, dt_fs):
    with TrajectoryWriter(path, atoms.numbers, velocities=True,
                          metadata={"sampling_interval_fs": dt_fs}) as w:
        for k, (p, v) in enumerate(zip(positions, velocities, strict=True)):
            w.append(p, atoms.cell.array, (k + 1) * dt_fs, velocities=v)
    return path


def test_rdf_first_shell_integrates_to_the_coordination_number(tmp_path):
    atoms = get_structure("t-Na3SbS4", supercell=2)
    n = 3
    pos = np.repeat(atoms.positions[None], n, axis=0)
    store = _store(tmp_path / "static.h5", atoms, pos, np.zeros_like(pos), 10.0)
    g = partial_rdf(store, [("Sb", "S")], r_max=4.0, dr=0.01)
    r = g["r_A"]
    rho_s = np.sum(atoms.numbers == 16) / atoms.get_volume()
    shell = (r > 2.0) & (r < 2.7)
    cn = np.sum(4 * np.pi * r[shell] ** 2 * rho_s * g["Sb-S"][shell] * 0.01)
    assert abs(cn - 4.0) < 0.05  # every Sb has four S at 2.35 Å


def test_vdos_peaks_at_the_oscillator_frequency(tmp_path):
    atoms = get_structure("c-Na3SbS4")
    nu0 = 300.0  # cm^-1
    dt_fs = 5.0
    t = np.arange(4000) * dt_fs * 1e-15
    w = 2 * np.pi * nu0 * SPEED_OF_LIGHT_CM_S
    rng = np.random.default_rng(0)
    phase = rng.uniform(0, 2 * np.pi, (len(atoms), 3))
    amp = 0.05  # Å
    disp = amp * np.sin(w * t[:, None, None] + phase[None])
    vel = amp * w * np.cos(w * t[:, None, None] + phase[None]) * 1e-15  # Å/fs
    store = _store(tmp_path / "osc.h5", atoms, atoms.positions[None] + disp, vel, dt_fs)
    d = vdos(store, segment_ps=5.0)
    nu = d["nu_cm1"]
    peak = nu[np.argmax(d["total"])]
    assert abs(peak - nu0) <= nu[1] - nu[0]
    assert abs(np.trapezoid(d["Na"], nu) - 1.0) < 1e-9  # normalised per species


def _walk_store(path, sigma_A: float, seed: int, n_frames: int = 1000, dt_fs: float = 10.0,
                caged: bool = False):
    """Na atoms random-walk (σ per frame and axis, Å), or with ``caged`` rattle about their sites
    with that σ; the rest stay put; random velocities."""
    atoms = get_structure("c-Na3SbS4", supercell=2)
    rng = np.random.default_rng(seed)
    na = atoms.numbers == 11
    steps = np.zeros((n_frames, len(atoms), 3))
    steps[:, na] = rng.normal(0.0, sigma_A, (n_frames, int(na.sum()), 3))
    steps[0] = 0.0
    pos = atoms.positions[None] + (steps if caged else np.cumsum(steps, axis=0))
    vel = rng.normal(0.0, 0.01, pos.shape)
    return _store(path, atoms, pos, vel, dt_fs)


def test_diffusion_comparison_resolved_and_unresolved(tmp_path):
    from ionraman.distillation.validation import compare_student_teacher

    teacher = _walk_store(tmp_path / "teacher.h5", 0.1, seed=1)
    same = _walk_store(tmp_path / "same.h5", 0.1, seed=2)
    fast = _walk_store(tmp_path / "fast.h5", 0.2, seed=3)  # D x 4
    caged = _walk_store(tmp_path / "caged.h5", 0.1, seed=4, caged=True)

    r = compare_student_teacher(same, teacher, tmp_path / "same")
    assert r["D_resolved"] == {"student": True, "teacher": True}
    assert r["D_within_uncertainty"] is True and abs(r["D_z"]) <= 2
    # σ²/(2Δt) = 5e-5 cm²/s for σ = 0.1 Å per 10 fs
    assert abs(r["D_teacher_cm2_s"][0] / 5e-5 - 1) < 0.1
    # the least-squares cross-check agrees with kinisi on a clean random walk, where kinisi's
    # generalised least squares (correct covariance) is the more precise of the two
    d_ls, sd_ls = r["D_least_squares_cm2_s"]["teacher"]
    assert abs(d_ls / 5e-5 - 1) < 0.1
    assert sd_ls >= r["D_teacher_cm2_s"][1]
    assert abs(r["D_z_least_squares"]) <= 2
    assert r["msd_linearity"]["teacher"]["linear"] is True

    r = compare_student_teacher(fast, teacher, tmp_path / "fast")
    assert r["D_within_uncertainty"] is False and r["D_z"] > 2
    assert r["D_z_least_squares"] > 2

    r = compare_student_teacher(caged, teacher, tmp_path / "caged")
    assert r["D_resolved"]["student"] is False and r["D_resolved"]["teacher"] is True
    assert r["msd_linearity"]["student"]["linear"] is False
    assert r["D_within_uncertainty"] is None  # too short / not diffusive: no verdict
