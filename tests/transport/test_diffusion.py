"""Diffusion coefficients (kinisi) from wrapped random walks; the fit-window rule."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.conventions import A2_PS_TO_CM2_S
from ionraman.errors import InputError
from ionraman.transport.diffusion import (
    FitWindow,
    choose_fit_window,
    diffusive_in_window,
    estimate_diffusion,
    local_loglog_slope,
    msd_linearity,
)
from ionraman.transport.msd import compute_msd
from ionraman.transport.unwrap import unwrap_positions

DT_FS = 10.0
SIGMA_A = 0.1
D_TRUE_CM2_S = SIGMA_A**2 / (2 * DT_FS / 1000.0) * A2_PS_TO_CM2_S  # σ² / 2Δt = 5e-5 cm²/s


def _walk(make_random_walk):
    box = 15.0
    x = make_random_walk(2000, 400, SIGMA_A, box, seed=1)
    wrapped = np.mod(x, box)
    res = compute_msd(wrapped, cells=np.eye(3) * box, timestep_fs=DT_FS,
                      symbols=["Na"] * 400, drift="none")
    return wrapped, box, res


def test_random_walk_D_recovered_with_uncertainty(make_random_walk):
    wrapped, box, res = _walk(make_random_walk)
    assert np.abs(wrapped).max() <= box  # input really is wrapped
    window = choose_fit_window(res.time_ps, res.msd_A2["Na"])
    assert window.slope_rule_met
    assert window.end_ps == pytest.approx(0.5 * res.time_ps[-1])
    u = unwrap_positions(wrapped, np.eye(3) * box)
    est = estimate_diffusion(u, DT_FS / 1000.0, window, kind="tracer", seed=0)
    assert est.D_cm2_s == pytest.approx(D_TRUE_CM2_S, rel=0.05)
    lo, hi = est.D_ci95_cm2_s
    assert lo <= D_TRUE_CM2_S <= hi
    assert est.D_std_cm2_s > 0
    assert est.n_particles == 400 and est.n_lags <= 100 and est.stride == 1
    d = est.to_dict()
    assert "samples_cm2_s" not in d and d["window"]["end_ps"] <= window.end_ps + 1e-12

    # collective (charge) diffusion of independent walkers equals D*: kinisi's interval covers it
    coll = estimate_diffusion(u, DT_FS / 1000.0, window, kind="collective", seed=0)
    lo, hi = coll.D_ci95_cm2_s
    assert lo <= D_TRUE_CM2_S <= hi
    assert coll.D_std_cm2_s > 5 * est.D_std_cm2_s  # one collective series: far noisier


def test_frame_subsampling_is_recorded(make_random_walk):
    box = 15.0
    x = make_random_walk(1200, 100, SIGMA_A, box, seed=4)
    window = FitWindow(start_ps=0.5, end_ps=6.0, rule="explicit")
    est = estimate_diffusion(x, DT_FS / 1000.0, window, max_frames=400, n_lags=20, seed=1)
    assert est.stride == 3 and est.n_frames_used == 400
    assert est.window.start_ps >= 0.5 - 1e-12 and est.window.end_ps <= 6.0 + 1e-12
    assert est.D_ci95_cm2_s[0] <= D_TRUE_CM2_S <= est.D_ci95_cm2_s[1]


def test_window_rule_skips_ballistic_regime():
    """Langevin (Ornstein–Uhlenbeck velocity) MSD: 6D[t − τ(1 − e^{−t/τ})], ballistic for t ≪ τ."""
    tau, d = 0.5, 0.3  # ps, Å²/ps
    t = np.arange(20001) * 0.005
    msd = 6 * d * (t - tau * (1 - np.exp(-t / tau)))
    window = choose_fit_window(t, msd, slope_tolerance=0.2)
    # slope 2 → 1: the analytic slope at the chosen start is within tolerance, and earlier lags
    # on the grid are not
    slope = lambda s: s * (1 - np.exp(-s / tau)) / (s - tau * (1 - np.exp(-s / tau)))  # noqa: E731
    assert slope(window.start_ps) <= 1.2 + 0.02
    assert window.start_ps > tau
    gt, alpha = local_loglog_slope(t, msd, window.end_ps)
    assert np.all(np.abs(alpha[gt >= window.start_ps] - 1) <= 0.2)
    assert alpha[gt < window.start_ps][-1] > 1.2
    assert window.end_ps == pytest.approx(50.0)
    assert window.rule.startswith("slope rule")

    frac = choose_fit_window(t, msd, rule="fraction", start_fraction=0.2, end_fraction=0.6)
    assert (frac.start_ps, frac.end_ps) == pytest.approx((20.0, 60.0))
    expl = choose_fit_window(t, msd, start_ps=3.0, end_ps=9.0)
    assert (expl.start_ps, expl.end_ps) == (3.0, 9.0)


def test_window_rule_falls_back_without_diffusion():
    t = np.arange(5000) * 0.01
    msd = 0.2 * (1 - np.exp(-t / 0.1))  # caged: plateau, slope → 0
    window = choose_fit_window(t, msd)
    assert window.slope_rule_met is False
    assert window.start_ps == pytest.approx(0.1 * t[-1])
    with pytest.raises(InputError):
        choose_fit_window(t, msd, rule="magic")
    with pytest.raises(InputError):
        choose_fit_window(t, msd, start_fraction=0.6, end_fraction=0.5)


def test_too_short_window_is_an_input_error(make_random_walk):
    x = make_random_walk(50, 5, 0.1, 10.0, seed=0)
    with pytest.raises(InputError, match="fewer than 3 lags"):
        estimate_diffusion(x, 0.01, FitWindow(0.1, 0.11, "explicit"))


def _caged_walk(d_A2_ps: float, seed: int, n_frames: int = 4000, n: int = 200) -> np.ndarray:
    """Ions vibrating in a cage (OU positions, σ 0.5 Å, τ 0.1 ps) whose centres random-walk.

    MSD = 6 D t + 6 σ² (1 − e^(−t/τ)): a 1.5 Å² offset, frames every 0.01 ps.
    """
    dt, sigma, tau = 0.01, 0.5, 0.1
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0, np.sqrt(2 * d_A2_ps * dt), (n_frames, n, 3)), axis=0)
    phi = np.exp(-dt / tau)
    noise = rng.normal(0, sigma * np.sqrt(1 - phi**2), (n_frames, n, 3))
    v = np.empty((n_frames, n, 3))
    v[0] = rng.normal(0, sigma, (n, 3))
    for k in range(1, n_frames):
        v[k] = phi * v[k - 1] + noise[k]
    return walk + v


def test_linearity_accepts_offset_diffusion_and_rejects_a_cage():
    """6Dt + cage offset: the log-log rule fails, the two-halves test passes; a cage fails both."""
    dt = 0.01
    walk = _caged_walk(0.01, seed=0)  # D = 0.01 Å²/ps = 1e-6 cm²/s, 6D = 0.06 Å²/ps
    res = compute_msd(walk, cells=np.eye(3) * 1e3, timestep_fs=10.0, symbols=["Na"] * 200,
                      drift="none")
    window = choose_fit_window(res.time_ps, res.msd_A2["Na"])
    assert window.slope_rule_met is False  # log-log slope ≈ 0.14–0.44 in 4–20 ps
    assert (window.start_ps, window.end_ps) == pytest.approx((4.0, 20.0), abs=0.01)
    lin = msd_linearity(walk, dt, window)
    assert lin.linear and diffusive_in_window(window, lin) is True
    for slope, err in (lin.first_A2_ps, lin.second_A2_ps):
        assert slope == pytest.approx(0.06, abs=3 * err)
        assert 0 < err < 0.01
    assert lin.to_dict()["split_ps"] == pytest.approx(12.0, abs=0.01)

    cage = _caged_walk(0.0, seed=1)
    lin = msd_linearity(cage, dt, window)
    assert not lin.linear and diffusive_in_window(window, lin) is False
    for slope, err in (lin.first_A2_ps, lin.second_A2_ps):
        assert abs(slope) < 3 * err < 3e-3
    assert diffusive_in_window(FitWindow(0, 1, "x", slope_rule_met=True), None) is True
    assert diffusive_in_window(FitWindow(0, 1, "x", slope_rule_met=None), None) is None
    with pytest.raises(InputError, match="fewer than 3 lags"):
        msd_linearity(cage[:30], dt, FitWindow(0.1, 0.13, "x"))
    with pytest.raises(InputError, match=r"shape \[S, N, 3\]"):
        msd_linearity(cage[:, 0], dt, window)
