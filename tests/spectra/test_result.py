"""RamanSpectrum variants (quantum corrections, laser factor, reduced), tables and files."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.conventions import HC_EV_CM, KB_EV_K
from ionraman.errors import InputError
from ionraman.spectra import RamanSpectrum, compute_raman_spectrum


@pytest.fixture(scope="module")
def alpha():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((20_000, 3, 3))
    return 30 * np.eye(3) + 0.5 * (x + np.swapaxes(x, 1, 2))


def _spec(alpha, **kw):
    return compute_raman_spectrum(alpha, 1.0, segment_length=400, geometries=["z(xy)z̄"], **kw)


def test_harmonic_correction(alpha):
    t = 300.0
    spec = _spec(alpha, temperature_k=t, quantum_correction="harmonic")
    nu, s = spec.wavenumber_cm1, spec.density["total"]
    stokes = spec.intensity("total", "stokes")
    assert stokes[0] == s[0]  # Q(0) = 1: the central bin stays finite and unchanged
    x = HC_EV_CM * nu[1:] / (KB_EV_K * t)
    np.testing.assert_allclose(stokes[1:], s[1:] * x / (1 - np.exp(-x)), rtol=1e-12)
    assert np.all(stokes[1:] > s[1:])
    # harmonic Stokes = reduced × (n + 1)
    np.testing.assert_allclose(
        stokes[1:], spec.intensity("total", "reduced")[1:] / (1 - np.exp(-x)), rtol=1e-12
    )
    np.testing.assert_allclose(
        spec.stderr("total", "stokes")[1:],
        spec.density_stderr["total"][1:] * x / (1 - np.exp(-x)),
        rtol=1e-12,
    )


def test_bose_correction_zero_bin_is_nan(alpha):
    t = 500.0
    spec = _spec(alpha, temperature_k=t, quantum_correction="bose")
    nu, s = spec.wavenumber_cm1, spec.density["parallel"]
    stokes = spec.intensity("parallel")
    assert np.isnan(stokes[0])
    assert np.isnan(spec.stderr("parallel")[0])
    x = HC_EV_CM * nu[1:] / (KB_EV_K * t)
    np.testing.assert_allclose(stokes[1:], s[1:] / (1 - np.exp(-x)), rtol=1e-12)
    assert np.all(np.isfinite(stokes[1:]))


def test_reduced_spectrum(alpha):
    t = 250.0
    spec = _spec(alpha, temperature_k=t)
    nu = spec.wavenumber_cm1
    red = spec.intensity("crossed", "reduced")
    assert red[0] == 0.0
    np.testing.assert_allclose(red, HC_EV_CM * nu / (KB_EV_K * t) * spec.density["crossed"])
    # the reduced spectrum carries no laser factor (it is what one compares after dividing it out)
    laser = _spec(alpha, temperature_k=t, laser_wavelength_nm=532.0)
    np.testing.assert_allclose(laser.intensity("crossed", "reduced"), red)


def test_laser_factor(alpha):
    t, lam = 300.0, 785.0
    plain = _spec(alpha, temperature_k=t)
    laser = _spec(alpha, temperature_k=t, laser_wavelength_nm=lam)
    nu_l = 1e7 / lam
    assert laser.laser_cm1 == pytest.approx(nu_l)
    nu = plain.wavenumber_cm1
    ratio = laser.intensity("total") / plain.intensity("total")
    assert ratio[0] == 1.0  # normalised to 1 at zero shift: units unchanged
    below = nu < nu_l
    np.testing.assert_allclose(ratio[below], ((nu_l - nu[below]) / nu_l) ** 4, rtol=1e-12)
    # 785 nm = 12739 cm⁻¹ lies below this series' Nyquist (16678 cm⁻¹): no Stokes photon above it
    assert nu[-1] > nu_l and np.all(ratio[~below] == 0.0)
    np.testing.assert_allclose(laser.intensity("total", "classical"), plain.density["total"])


def test_no_temperature_means_classical(alpha):
    spec = _spec(alpha)  # default "harmonic" requested, no temperature
    assert spec.quantum_correction == "none"
    assert "no temperature" in spec.metadata["quantum_correction_note"]
    np.testing.assert_array_equal(spec.intensity("total"), spec.density["total"])
    with pytest.raises(InputError, match="temperature"):
        spec.intensity("total", "reduced")


def test_bad_channel_and_variant(alpha):
    spec = _spec(alpha, temperature_k=300.0)
    with pytest.raises(InputError, match="available: isotropic"):
        spec.intensity("xx")
    with pytest.raises(InputError, match="variant"):
        spec.intensity("total", "anti-stokes")


def test_dataframe_columns(alpha):
    spec = _spec(alpha, temperature_k=300.0)
    df = spec.to_dataframe("reduced")
    assert list(df.columns[:3]) == [
        "wavenumber_cm1",
        "isotropic_reduced_A6_cm",
        "isotropic_reduced_stderr_A6_cm",
    ]
    assert "z(xy)z̄_reduced_A6_cm" in df.columns
    assert len(df.columns) == 1 + 2 * 6
    np.testing.assert_allclose(df["total_reduced_A6_cm"], spec.intensity("total", "reduced"))
    assert df["wavenumber_cm1"].iloc[0] == 0.0


def test_save_load_roundtrip(alpha, tmp_path):
    spec = _spec(alpha, temperature_k=300.0, laser_wavelength_nm=532.0, quantum_correction="bose")
    path = tmp_path / "out" / "spec.h5"
    spec.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["spec.h5"]  # no temp file left behind
    back = RamanSpectrum.load(path)
    assert back.channels == spec.channels
    for name in spec.channels:
        np.testing.assert_array_equal(back.density[name], spec.density[name])
        np.testing.assert_array_equal(back.density_stderr[name], spec.density_stderr[name])
        np.testing.assert_array_equal(back.block_density[name], spec.block_density[name])
    # the time blocks are contiguous groups of Welch segments whose mean is the spectrum
    n_blocks = spec.metadata["n_blocks"]
    assert 2 <= n_blocks == spec.block_density["total"].shape[0] <= 8
    if n_blocks == spec.metadata["n_segments"]:
        np.testing.assert_allclose(spec.block_density["total"].mean(axis=0), spec.density["total"])
    np.testing.assert_array_equal(
        back.block_intensity("total", "reduced"), spec.block_intensity("total", "reduced")
    )
    np.testing.assert_array_equal(back.wavenumber_cm1, spec.wavenumber_cm1)
    assert (back.temperature_k, back.quantum_correction) == (300.0, "bose")
    assert back.laser_cm1 == spec.laser_cm1 and back.resolution_cm1 == spec.resolution_cm1
    assert back.metadata["n_segments"] == spec.metadata["n_segments"]
    assert back.metadata["provenance"]["parameters"]["laser_wavelength_nm"] == 532.0
    np.testing.assert_array_equal(back.intensity("total"), spec.intensity("total"))


def test_load_rejects_other_files(tmp_path):
    import h5py

    with pytest.raises(InputError, match="no such"):
        RamanSpectrum.load(tmp_path / "missing.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = 1
    with pytest.raises(InputError, match="not an ionraman Raman spectrum"):
        RamanSpectrum.load(other)
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(InputError, match="unreadable"):
        RamanSpectrum.load(junk)
