"""Scores of predicted polarizabilities (ionraman.polarizability.scores)."""

import numpy as np
import pytest
from ase.build import bulk

from ionraman.polarizability.scores import alpha_scores, fluctuations, voigt6


def _frames(n: int):
    frames = [bulk("NaCl", "rocksalt", a=5.6, cubic=True) for _ in range(n)]
    frames += [bulk("Si", "diamond", a=5.43, cubic=True) for _ in range(n)]
    return frames


def _alphas(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(2 * n, 3, 3))
    a = a + np.swapaxes(a, 1, 2)
    a[:n] += 40 * np.eye(3)
    a[n:] += 90 * np.eye(3)
    return a


def test_voigt_order_and_symmetrisation():
    m = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(voigt6(m), [0, 4, 8, 6, 4, 2])


def test_perfect_prediction():
    frames, ref = _frames(5), _alphas(5)
    s = alpha_scores(frames, ref, ref.copy())
    assert s["rmse_A3"] == 0 and s["rmse_delta_A3"] == 0
    assert s["r2_delta_alpha"] == pytest.approx(1.0)
    assert s["mean_eps_inf_rel_error"] == pytest.approx(0.0, abs=1e-15)


def test_offset_per_composition_does_not_count_against_delta_alpha():
    frames, ref = _frames(6), _alphas(6)
    pred = ref.copy()
    pred[:6] += 3.0 * np.eye(3)  # constant offset of one composition's mean
    s = alpha_scores(frames, ref, pred)
    assert s["rmse_delta_A3"] == pytest.approx(0.0, abs=1e-12)
    assert s["r2_delta_alpha"] == pytest.approx(1.0)
    # the three diagonal components of half the structures are off by 3: RMSE over 6 comps
    assert s["rmse_A3"] == pytest.approx(np.sqrt(3 * 9 * 6 / (12 * 6)))
    assert s["rmse_xx_A3"] == pytest.approx(np.sqrt(9 * 6 / 12))
    assert s["rmse_xy_A3"] == 0


def test_mean_eps_inf_error_of_a_scaled_prediction():
    frames, ref = _frames(4), _alphas(4)
    pred = 1.1 * ref
    s = alpha_scores(frames, ref, pred)
    vol = np.array([a.get_volume() for a in frames])
    eps = 1 + 4 * np.pi * np.einsum("sii->s", ref) / 3 / vol
    eps_p = 1 + 4 * np.pi * np.einsum("sii->s", pred) / 3 / vol
    assert s["mean_eps_inf_rel_error"] == pytest.approx(eps_p.mean() / eps.mean() - 1)
    # the fluctuations scale by 1.1 too: R² = 1 − 0.1²
    assert s["r2_delta_alpha"] == pytest.approx(1 - 0.01)


def test_fluctuations_are_zero_mean_per_group():
    a = np.random.default_rng(1).normal(size=(6, 6))
    d = fluctuations(a, ["x", "y", "x", "y", "x", "y"])
    np.testing.assert_allclose(d[0::2].mean(0), 0, atol=1e-14)
    np.testing.assert_allclose(d[1::2].mean(0), 0, atol=1e-14)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        alpha_scores(_frames(1), _alphas(1), _alphas(1)[:1])


def test_reference_alpha_reads_3x3_and_9_component_labels():
    frames = _frames(1)
    frames[0].info["REF_polarizability"] = np.arange(9.0).reshape(3, 3)
    frames[1].info["REF_polarizability"] = np.arange(9.0)  # flat, as some codes write it
    from ionraman.polarizability.scores import reference_alpha

    got = reference_alpha(frames)
    assert got.shape == (2, 3, 3)
    np.testing.assert_array_equal(got[0], got[1])


def test_path_response_error():
    from ionraman.polarizability.scores import path_response_error

    rng = np.random.default_rng(0)
    ref = 100.0 * np.eye(3) + rng.normal(0.0, 1.0, size=(5, 3, 3))
    ref = 0.5 * (ref + ref.transpose(0, 2, 1))
    perfect = path_response_error(ref, ref + 3.0)  # a constant offset is not a response error
    assert perfect["full"] == pytest.approx(0.0, abs=1e-12)
    frozen = path_response_error(ref, np.repeat(ref[:1], 5, axis=0))  # no change at all
    assert frozen["full"] == pytest.approx(1.0)
    doubled = path_response_error(ref, ref[0] + 2.0 * (ref - ref[0]))
    assert doubled["full"] == pytest.approx(1.0) and doubled["iso"] == pytest.approx(1.0)
    assert doubled["full_ref_max_A3"] == pytest.approx(
        np.linalg.norm(ref - ref[0], axis=(1, 2)).max()
    )
