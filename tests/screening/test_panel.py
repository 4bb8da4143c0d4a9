"""The metric panel: definitions around the configured metric, evaluated on one spectrum."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import lfilter

from ionraman.screening.lowfreq import band_ratio_from_spectrum, lowfreq_fraction_from_spectrum
from ionraman.screening.panel import evaluate_panel, metric_panel
from ionraman.spectra import compute_raman_spectrum


@pytest.fixture(scope="module")
def spectrum():
    rng = np.random.default_rng(5)
    n, a = 4000, math.exp(-10.0 / 400.0)
    alpha = np.zeros((n, 3, 3))
    for i, j in ((0, 0), (1, 1), (2, 2), (0, 1)):
        x = lfilter([1.0], [1.0, -a], rng.normal(size=n)) + rng.normal(size=n)
        alpha[:, i, j] = alpha[:, j, i] = x
    return compute_raman_spectrum(alpha, 10.0, resolution_cm1=10.0, temperature_k=600.0)


def test_panel_varies_one_setting_at_a_time_and_drops_duplicates() -> None:
    panel = {d.name: d for d in metric_panel("total", "reduced", (0, 50), 800, "SbS4")}
    assert next(iter(panel)) == "fraction"
    assert panel["fraction_narrow"].window_cm1 == (0.0, 25.0)
    assert panel["fraction_wide"].window_cm1 == (0.0, 100.0)
    assert panel["fraction_stokes"].variant == "stokes"
    assert panel["fraction_crossed"].channel == "crossed"
    assert panel["band_ratio"].reference == "SbS4"
    assert panel["fraction"].describe() == "reduced total 0-50 / 0-800 cm-1"
    crossed = [d.name for d in metric_panel("crossed", "reduced", (0, 50), 800)]
    assert "fraction_crossed" not in crossed and "band_ratio" not in crossed


def test_panel_values_are_the_lowfreq_functions_with_block_errors(spectrum) -> None:
    out = evaluate_panel(spectrum, metric_panel("total", "reduced", (0, 50), 800, "SbS4"))
    ref = lowfreq_fraction_from_spectrum(spectrum, window_cm1=(0, 50), reference_max_cm1=800)
    assert out["fraction"]["value"] == ref.value and out["fraction"]["stderr"] == ref.stderr
    iso = lowfreq_fraction_from_spectrum(spectrum, "isotropic", window_cm1=(0, 50))
    assert out["fraction_isotropic"]["value"] == iso.value
    band = band_ratio_from_spectrum(spectrum, "SbS4")
    assert out["band_ratio"]["value"] == band.value
    for m in out.values():
        assert m["stderr"] > 0 and m["stderr_method"].startswith("bootstrap over")
    # the crossed (VH) channel is the anisotropic one up to a constant: same fraction
    aniso = lowfreq_fraction_from_spectrum(spectrum, "anisotropic", window_cm1=(0, 50))
    assert out["fraction_crossed"]["value"] == pytest.approx(aniso.value, rel=1e-12)


def test_a_definition_the_spectrum_cannot_give_is_reported_not_raised(spectrum) -> None:
    nyquist = float(spectrum.wavenumber_cm1[-1])
    out = evaluate_panel(spectrum, metric_panel("total", "reduced", (0, 50), nyquist + 10))
    assert out["fraction"]["value"] is None and "outside the spectrum" in out["fraction"]["error"]
