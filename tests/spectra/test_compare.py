"""Comparison of measured and simulated spectra: similarity, peak matching, compare_main on the
published CCl4 spectrum (tests/data/measured), and the overlay figures of the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from ionraman.conventions import beta_hbar_omega, laser_factor, laser_wavelength_nm_to_cm1
from ionraman.errors import InputError
from ionraman.spectra.compare import (
    PEAK_TABLE_COLUMNS,
    compare_spectra,
    find_peak_table,
    match_peaks,
    overlap_integral,
    pearson_similarity,
)
from ionraman.spectra.compare_files import OUTPUT_FILES, compare_main, prepare_measured
from ionraman.spectra.measured import MeasuredSpectrum, read_measured
from ionraman.spectra.overlay import comparison_figure, overlay_figure
from ionraman.spectra.preprocess import PreprocessSettings
from ionraman.spectra.result import RamanSpectrum

DATA = Path(__file__).resolve().parents[1] / "data" / "measured"
CCL4_CSV = DATA / "ccl4_raj2020.csv"
CCL4_JDX = DATA / "ccl4_raj2020.jdx"
# Raj et al., J. Raman Spectrosc. 51, 2066 (2020): CCl4 Stokes bands and relative areas
CCL4_BANDS = ((218.1, 0.3357), (313.9, 0.37907), (460.2, 1.0), (759.4, 0.11554), (789.6, 0.1374))
SOFTENING = 0.97  # the stand-in "force field" puts every mode 3 % low


def ccl4_like_simulation(temperature_k=298.0, softening=SOFTENING) -> RamanSpectrum:
    """A stand-in simulated spectrum of CCl4 (no CCl4 MD in this project): the published bands,
    softened by 3 %, with classical-density areas chosen so that the reduced spectrum carries
    the published Stokes areas (divided by n + 1 and the 532 nm laser factor)."""
    nu = np.arange(0.0, 1200.0001, 0.5)
    s = np.zeros_like(nu)
    nu_l = laser_wavelength_nm_to_cm1(532.0)
    for pos, area in CCL4_BANDS:
        x = beta_hbar_omega(pos, temperature_k)
        chi_area = area * -np.expm1(-x) / laser_factor(pos, nu_l)
        c, hw = softening * pos, 3.0
        s += chi_area / x * hw / np.pi * (1 / ((nu - c) ** 2 + hw**2) + 1 / ((nu + c) ** 2 + hw**2))
    return RamanSpectrum(
        nu, {"total": s}, {"total": np.zeros_like(s)}, temperature_k, "harmonic", None, 0.5, {}
    )


@pytest.fixture(scope="module")
def sim_h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "spectrum.h5"
    ccl4_like_simulation().save(path)
    return path


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------
def test_similarity_measures():
    nu = np.linspace(0, 100, 501)
    a = np.exp(-(((nu - 40) / 5) ** 2))
    assert pearson_similarity(a, 3 * a + 1) == pytest.approx(1.0)
    assert overlap_integral(nu, a, 7 * a) == pytest.approx(1.0)
    b = np.exp(-(((nu - 60) / 5) ** 2))
    assert overlap_integral(nu, a, b) < 0.01
    assert pearson_similarity(a, b) < 0
    with pytest.raises(InputError):
        pearson_similarity(a, b[:-1])


def test_peak_table_positions_are_sub_grid_accurate():
    nu = np.arange(0.0, 600.0, 1.3)  # coarse, non-commensurate grid
    y = 1 / (1 + ((nu - 212.37) / 3.0) ** 2) + 0.5 / (1 + ((nu - 401.9) / 4.0) ** 2)
    table = find_peak_table(nu, y)
    np.testing.assert_allclose(table["position_cm1"], [212.37, 401.9], atol=0.15)
    np.testing.assert_allclose(table["rel_height"], [1.0, 0.5], atol=0.05)
    np.testing.assert_allclose(table["fwhm_cm1"], [6.0, 8.0], rtol=0.15)
    assert find_peak_table(nu, np.zeros_like(nu)).empty


def test_match_peaks_one_to_one_within_tolerance():
    def t(pos):
        return pd.DataFrame(
            {"position_cm1": pos, "rel_height": 1.0, "fwhm_cm1": 5.0, "height": 1.0}
        )

    table = match_peaks(t([100.0, 200.0, 205.0, 500.0]), t([103.0, 201.0, 260.0]))
    assert list(table.columns) == list(PEAK_TABLE_COLUMNS)
    matched = table[table["matched"]]
    assert list(zip(matched["measured_cm1"], matched["simulated_cm1"], strict=True)) == [
        (100.0, 103.0),
        (200.0, 201.0),
    ]
    assert table["matched"].sum() == 2 and len(table) == 5  # 2 pairs, 2 + 1 unmatched
    assert matched["shift_cm1"].tolist() == [3.0, 1.0]
    with pytest.raises(InputError):
        match_peaks(t([1.0]), t([1.0]), tolerance_cm1=0)


def test_compare_spectra_guards():
    sim = ccl4_like_simulation()
    (meas,) = read_measured(CCL4_CSV)
    with pytest.raises(InputError, match="preprocess it with reduce=True"):
        compare_spectra(meas, sim, variant="reduced")
    far = MeasuredSpectrum(np.linspace(2000, 3000, 50), np.ones(50), "far", variant="reduced")
    with pytest.raises(InputError, match="do not overlap"):
        compare_spectra(far, sim)


def test_scale_factor_fit_undoes_the_softening_and_aligns_the_peaks():
    sim = ccl4_like_simulation()
    (meas,) = prepare_measured(CCL4_CSV, PreprocessSettings(baseline=None))
    plain = compare_spectra(meas, sim)
    fitted = compare_spectra(meas, sim, fit_scale=True, lowfreq_window_cm1=(0.0, 250.0))
    assert fitted.scale_fit is not None
    assert fitted.instrument.scale_factor == pytest.approx(1 / SOFTENING, abs=2e-3)
    assert fitted.pearson > 0.999 > 0.5 > plain.pearson
    table = fitted.peaks
    assert table["matched"].sum() == len(CCL4_BANDS)
    assert np.abs(table["shift_cm1"]).max() < 1.0
    np.testing.assert_allclose(
        table["simulated_unscaled_cm1"], [SOFTENING * p for p, _ in CCL4_BANDS], atol=0.5
    )
    # unscaled: the 3 % softening shows as shifts of -3 % (the three bands below 500 cm^-1; the
    # doublet near 775 cm^-1 moves by > 20 cm^-1, beyond the matching tolerance, hence the fit)
    shifts = plain.peaks[plain.peaks["matched"] & (plain.peaks["measured_cm1"] < 500)]
    np.testing.assert_allclose(shifts["relative_shift_percent"], -3.0, atol=0.2)
    assert len(shifts) == 3
    # the low-frequency metric is computed on both with the same window and grid
    assert (
        fitted.lowfreq_measured.window_cm1 == fitted.lowfreq_simulated.window_cm1 == (50.0, 250.0)
    )
    assert abs(fitted.lowfreq_relative_difference) < 0.02
    assert "raised" in fitted.lowfreq_note  # the data start at 50 cm^-1


# ------------------------------------------------------------------------------------------------
# compare_main (the CLI's function) on the published CCl4 spectrum, CSV and JCAMP-DX
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("measured", [CCL4_CSV, CCL4_JDX], ids=["csv", "jcamp-dx"])
def test_compare_main_on_the_published_ccl4_spectrum(measured, sim_h5, tmp_path):
    out = tmp_path / "cmp"
    result = compare_main(
        measured, sim_h5.parent, out, fit_scale=True, lowfreq_window_cm1=(0.0, 250.0)
    )
    for name in OUTPUT_FILES:
        assert (out / name).stat().st_size > 0
    assert (out / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    peaks = pd.read_csv(out / "comparison_peaks.csv")
    assert peaks["matched"].sum() == 5
    np.testing.assert_allclose(
        peaks.loc[peaks["matched"], "measured_cm1"], [p for p, _ in CCL4_BANDS], atol=0.3
    )
    curves = pd.read_csv(out / "comparison_spectra.csv")
    assert list(curves.columns) == ["wavenumber_cm1", "measured_norm_cm", "simulated_norm_cm"]
    report = json.loads((out / "comparison.json").read_text())
    summary = report["summary"]
    assert summary["pearson"] > 0.99 and summary["n_peaks_matched"] == 5
    assert summary["scale_factor"] == pytest.approx(1 / SOFTENING, abs=2e-3)
    steps = report["measured"]["preprocessing"]
    assert [s["step"] for s in steps] == ["despike", "baseline", "reduce"]
    assert steps[0]["n_spikes"] == 0  # nothing in the clean published spectrum looks like a spike
    assert steps[1]["widths_cm1"] == {"smoothness_cm1": 100.0}
    assert report["measured"]["source"]["path"] == str(measured)
    assert report["measured"]["temperature_k"] == 298.0  # from the file
    assert report["settings"]["preprocess"]["baseline"] == "arpls"
    assert report["simulated"]["temperature_k"] == 298.0
    assert "created_utc" in report["provenance"]
    assert result.summary()["n_peaks_matched"] == 5


def test_compare_main_stokes_variant_and_simulation_temperature_fallback(sim_h5, tmp_path):
    x = np.arange(50.0, 1000.0, 0.5)
    (meas,) = read_measured(CCL4_CSV)
    path = tmp_path / "no_meta.csv"
    path.write_text(
        "\n".join(
            f"{a:.1f},{b:.5f}"
            for a, b in zip(x, np.interp(x, meas.raman_shift_cm1, meas.intensity), strict=True)
        )
    )
    result = compare_main(path, sim_h5, tmp_path / "o", baseline=None)
    assert result.metadata["measured"]["temperature_k"] == 298.0
    report = json.loads((tmp_path / "o" / "comparison.json").read_text())
    assert report["measured"]["preprocessing"][-1]["laser_wavelength_nm"] is None
    stokes = compare_main(path, sim_h5, tmp_path / "s", variant="stokes", baseline=None)
    assert stokes.variant == "stokes"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"variant": "classical"}, "unknown comparison variant"),
        ({"baseline": "magic"}, "unknown baseline method"),
        ({"gaussian_fwhm_cm1": -2.0}, "gaussian_fwhm_cm1"),
        ({"select": "nope"}, "matches none"),
    ],
)
def test_compare_main_user_errors_are_one_line(sim_h5, tmp_path, kwargs, expected):
    with pytest.raises(InputError) as info:
        compare_main(CCL4_CSV, sim_h5, tmp_path / "x", **kwargs)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_compare_main_bad_files_are_one_line_errors(sim_h5, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("shift,intensity\n1,2\n2,oops\n3,4\n")
    for measured, simulated, expected in (
        (bad, sim_h5, "line 3"),
        (CCL4_CSV, tmp_path / "nowhere", "no simulated spectrum"),
        (CCL4_CSV, CCL4_CSV, "unreadable Raman spectrum file"),
    ):
        with pytest.raises(InputError) as info:
            compare_main(measured, simulated, tmp_path / "y")
        assert expected in str(info.value) and "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------------
# Overlay figures (the screening report embeds overlay_figure)
# ------------------------------------------------------------------------------------------------
def test_overlay_figure_single_and_temperature_series(tmp_path):
    sim = ccl4_like_simulation()
    (meas,) = prepare_measured(CCL4_JDX, PreprocessSettings(baseline=None))
    fig = overlay_figure(meas, sim, fit_scale=True, lowfreq_window_cm1=(0.0, 250.0))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(lab.startswith("measured") for lab in labels)
    assert any(lab.startswith("simulated") for lab in labels)
    assert "Pearson" in fig._suptitle.get_text()
    # a measured temperature series: one curve per temperature, one simulated curve
    x = meas.raman_shift_cm1
    (stokes,) = read_measured(CCL4_CSV)
    cols = {f"{t} K": stokes.intensity * (1 + 0.001 * (t - 298)) for t in (250, 298, 350)}
    table = pd.DataFrame({"raman_shift_cm-1": x, **cols})
    path = tmp_path / "series.csv"
    table.to_csv(path, index=False)
    series = prepare_measured(path, PreprocessSettings(baseline=None), all_spectra=True)
    assert [s.temperature_k for s in series] == [250.0, 298.0, 350.0]
    fig2 = overlay_figure(series, sim, fit_scale=True, lowfreq_window_cm1=(0.0, 250.0))
    lines = fig2.axes[0].get_lines()
    assert len([ln for ln in lines if ln.get_label().startswith("measured")]) == 3
    fig2.savefig(tmp_path / "series.png", format="png", dpi=60)
    assert (tmp_path / "series.png").stat().st_size > 0
    with pytest.raises(InputError):
        comparison_figure([])


def test_compare_command_line(sim_h5, tmp_path, capsys):
    from ionraman.cli import main

    out = tmp_path / "cli"
    rc = main(["compare", str(CCL4_JDX), str(sim_h5), "-o", str(out), "--fit-scale",
               "--window", "0:250"])
    assert rc == 0
    assert "5 peaks matched" in capsys.readouterr().out
    assert (out / "comparison.png").is_file()
    bad = tmp_path / "bad.csv"
    bad.write_text("shift,intensity\n1,2\nthree,4\n")
    assert main(["compare", str(bad), str(sim_h5), "-o", str(out)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and "bad.csv" in err[0]


def test_compare_main_refuses_a_reference_end_inside_the_window(sim_h5, tmp_path):
    from ionraman.spectra.compare_files import compare_main

    with pytest.raises(InputError, match=r"reference_max_cm1 = -1 cm\^-1: expected at least"):
        compare_main(CCL4_JDX, sim_h5, tmp_path / "out", reference_max_cm1=-1.0)
    assert not (tmp_path / "out").exists()
