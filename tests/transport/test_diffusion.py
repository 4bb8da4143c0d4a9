"""Diffusion coefficients (kinisi) from wrapped random walks; the fit-window rule."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.conventions import A2_PS_TO_CM2_S
from ionraman.errors import InputError
from ionraman.transport.diffusion import (
    FitWindow,
    choose_fit_window,
    estimate_diffusion,
    local_loglog_slope,
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
