"""Self van Hove function: normalisation, Gaussian shape for a random walk; α₂."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.errors import InputError
from ionraman.transport.vanhove import non_gaussian_parameter, self_van_hove


def test_random_walk_van_hove_is_normalised_gaussian(make_random_walk):
    sigma, box, dt = 0.2, 12.0, 0.01
    x = make_random_walk(3000, 100, sigma, box, seed=8)
    times = [0.05, 0.2, 1.0]
    # wrapped input + cells: unwrapped internally
    vh = self_van_hove(np.mod(x, box), times, dt_ps=dt, cells=np.eye(3) * box, n_bins=60)
    np.testing.assert_allclose(vh.time_ps, times)
    width = np.diff(vh.edges_A)
    shell = 4 / 3 * np.pi * np.diff(vh.edges_A**3)
    for k, lag in enumerate([5, 20, 100]):
        assert vh.fraction_beyond[k] == 0.0  # default range covers every displacement
        assert np.sum(vh.four_pi_r2_G_s_per_A[k] * width) == pytest.approx(1.0, abs=1e-12)
        assert np.sum(vh.G_s_A3[k] * shell) == pytest.approx(1.0, abs=1e-12)
        # Gaussian with σ_t² = lag σ² per component: 4πr²G = 4πr² (2πσ_t²)^-3/2 exp(−r²/2σ_t²),
        # integrated over each bin (via the χ distribution with 3 degrees of freedom)
        from scipy.stats import chi

        s_t = sigma * np.sqrt(lag)
        expected = np.diff(chi.cdf(vh.edges_A / s_t, df=3)) / width
        peak = expected.max()
        assert np.max(np.abs(vh.four_pi_r2_G_s_per_A[k] - expected)) < 0.03 * peak
    # explicit range: the tail beyond it is reported, not lost
    vh2 = self_van_hove(x, [1.0], dt_ps=dt, r_max_A=2.0, n_bins=40)
    beyond = vh2.fraction_beyond[0]
    assert 0.0 < beyond < 1.0
    assert np.sum(vh2.four_pi_r2_G_s_per_A[0] * np.diff(vh2.edges_A)) + beyond == pytest.approx(1)
    df = vh2.to_dataframe()
    assert list(df.columns) == ["time_ps", "r_A", "G_s_A-3", "four_pi_r2_G_s_A-1"]


def test_non_gaussian_parameter(make_random_walk, make_lattice_hopper):
    x = make_random_walk(2000, 100, 0.2, 12.0, seed=3)
    a2 = non_gaussian_parameter(x, dt_ps=0.01)
    assert list(a2.columns) == ["time_ps", "msd_A2", "r4_A4", "alpha2"]
    assert np.all(np.abs(a2["alpha2"]) < 0.05)  # Gaussian
    np.testing.assert_allclose(a2["msd_A2"], 3 * 0.04 * a2["time_ps"] / 0.01, rtol=0.05)
    # hopping between sites: strongly non-Gaussian at intermediate lags
    pos, cell, _, _ = make_lattice_hopper(2000, seed=1, hop_prob=0.003)
    hop = non_gaussian_parameter(pos, [0.5, 2.0], dt_ps=0.01, cells=cell)
    assert hop["alpha2"].max() > 1.0


def test_lag_out_of_range():
    with pytest.raises(InputError):
        self_van_hove(np.zeros((10, 2, 3)), [10.0], dt_ps=0.5)
    with pytest.raises(InputError):
        self_van_hove(np.zeros((10, 2, 3)), [0.1], dt_ps=None)
