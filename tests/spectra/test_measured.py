"""Reading measured spectra: text/CSV tables, temperature series, JCAMP-DX, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ionraman.errors import InputError
from ionraman.spectra.measured import MeasuredSpectrum, read_measured, select_spectrum

DATA = Path(__file__).resolve().parents[1] / "data" / "measured"
CCL4_CSV = DATA / "ccl4_raj2020.csv"
CCL4_JDX = DATA / "ccl4_raj2020.jdx"
CCL4_BANDS_CM1 = (218.1, 313.9, 460.2, 759.4, 789.6)


def _lorentz(x, centre, fwhm=8.0):
    hw = fwhm / 2
    return hw**2 / ((x - centre) ** 2 + hw**2)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def shift_and_y():
    x = np.arange(20.0, 600.0, 1.0)
    return x, 100 * _lorentz(x, 365.0) + 30 * _lorentz(x, 180.0) + 5.0


def test_two_column_csv_with_header_and_metadata_comments(tmp_path, shift_and_y):
    x, y = shift_and_y
    body = "\n".join(f"{a:.1f},{b:.6f}" for a, b in zip(x, y, strict=True))
    path = _write(
        tmp_path / "na3sbs4.csv",
        "# Laser power: 10 mW\n# Laser wavelength = 785 nm\n# Temperature: 25 °C\n"
        f"Raman Shift (cm-1),Intensity\n{body}\n",
    )
    (spec,) = read_measured(path)
    np.testing.assert_allclose(spec.raman_shift_cm1, x)
    np.testing.assert_allclose(spec.intensity, y, atol=1e-6)
    assert spec.label == "na3sbs4"
    assert spec.laser_wavelength_nm == 785.0
    assert spec.temperature_k == pytest.approx(298.15)
    assert spec.variant == "stokes"
    src = spec.metadata["source"]
    assert src["x_unit"] == "raman_shift_cm1" and src["format"] == "text table"
    assert len(src["sha256"]) == 64
    assert spec.steps == []


@pytest.mark.parametrize(
    ("sep", "decimal_comma"), [(";", True), ("\t", False), (" ", False), (",", False)]
)
def test_delimiters_decimal_comma_and_no_header(tmp_path, shift_and_y, sep, decimal_comma):
    x, y = shift_and_y
    rows = []
    for a, b in zip(x, y, strict=True):
        row = f"{a:.2f}{sep}{b:.4f}"
        rows.append(row.replace(".", ",") if decimal_comma else row)
    path = _write(tmp_path / "s.txt", "\n".join(rows) + "\n")
    (spec,) = read_measured(path)
    np.testing.assert_allclose(spec.raman_shift_cm1, x, atol=1e-9)
    np.testing.assert_allclose(spec.intensity, y, atol=1e-4)


def test_numpy_savetxt_header_and_descending_axis(tmp_path, shift_and_y):
    x, y = shift_and_y
    path = tmp_path / "s.csv"
    np.savetxt(path, np.column_stack([x, y])[::-1], delimiter=",", header="shift_cm-1,counts")
    (spec,) = read_measured(path)
    np.testing.assert_allclose(spec.raman_shift_cm1, x)  # sorted ascending
    np.testing.assert_allclose(spec.intensity, y)
    assert spec.metadata["source"]["x_column"] == "shift_cm-1"


def test_absolute_wavenumber_and_wavelength_axes(tmp_path, shift_and_y):
    x, y = shift_and_y
    nu_laser = 1e7 / 532.0
    absolute = nu_laser - x
    path = _write(
        tmp_path / "abs.csv",
        "wavenumber,intensity\n"
        + "\n".join(f"{a:.6f},{b:.6f}" for a, b in zip(absolute, y, strict=True)),
    )
    (spec,) = read_measured(path, laser_wavelength_nm=532.0)  # all x > 5000: absolute
    np.testing.assert_allclose(spec.raman_shift_cm1, x, atol=1e-5)
    assert spec.metadata["source"]["x_unit"] == "absolute_cm1"
    assert spec.metadata["laser_source"] == "argument"
    nm = 1e7 / absolute
    path_nm = _write(
        tmp_path / "nm.csv",
        "wavelength_nm,intensity\n"
        + "\n".join(f"{a:.8f},{b:.6f}" for a, b in zip(nm, y, strict=True)),
    )
    (spec_nm,) = read_measured(path_nm, laser_wavelength_nm=532.0)
    np.testing.assert_allclose(spec_nm.raman_shift_cm1, x, atol=1e-3)
    np.testing.assert_allclose(spec_nm.intensity, y, atol=1e-6)
    with pytest.raises(InputError, match="laser wavelength"):
        read_measured(path_nm)  # no laser: cannot convert
    with pytest.raises(InputError, match="no Stokes"):
        read_measured(path, laser_wavelength_nm=1064.0)  # wrong laser: all shifts negative


def test_temperature_series_csv_and_selection(tmp_path):
    x = np.arange(10.0, 500.0, 2.0)
    temps = (300, 400, 500)
    cols = [np.exp(-x / (0.2 * t)) + _lorentz(x, 365.0) for t in temps]
    lines = ["raman_shift,T=300 K,400K,500 K"]
    lines += [",".join(f"{v:.6f}" for v in row) for row in np.column_stack([x, *cols])]
    path = _write(tmp_path / "series.csv", "\n".join(lines))
    spectra = read_measured(path)
    assert [s.label for s in spectra] == ["T=300 K", "400K", "500 K"]
    assert [s.temperature_k for s in spectra] == [300.0, 400.0, 500.0]
    for s, c in zip(spectra, cols, strict=True):
        np.testing.assert_allclose(s.intensity, c, atol=1e-6)
    assert select_spectrum(spectra, temperature_k=430.0).temperature_k == 400.0
    assert select_spectrum(spectra, "500").label == "500 K"
    assert select_spectrum(spectra, 0).label == "T=300 K"
    with pytest.raises(InputError, match="holds 3 spectra"):
        select_spectrum(spectra)
    with pytest.raises(InputError, match="matches none"):
        select_spectrum(spectra, "600 K")
    with pytest.raises(InputError, match="matches several"):
        select_spectrum(spectra, "K")
    with pytest.raises(InputError, match="nor an index"):
        select_spectrum(spectra, 7)
    bare = _write(
        tmp_path / "bare.csv",
        "\n".join(["shift,300,450"] + [f"{a},{b},{b}" for a, b in zip(x, cols[0], strict=True)]),
    )
    assert [s.temperature_k for s in read_measured(bare)] == [300.0, 450.0]


def test_jcamp_dx_matches_the_csv_of_the_same_published_spectrum():
    (csv,) = read_measured(CCL4_CSV)
    (jdx,) = read_measured(CCL4_JDX)
    assert jdx.metadata["source"]["format"] == "jcamp-dx"
    assert jdx.metadata["source"]["x_unit"] == "raman_shift_cm1"  # from XUNITS=1/CM
    np.testing.assert_allclose(jdx.raman_shift_cm1, csv.raman_shift_cm1)
    np.testing.assert_allclose(jdx.intensity, csv.intensity, atol=1e-4)
    for spec in (csv, jdx):
        assert spec.laser_wavelength_nm == 532.0
        assert spec.temperature_k == 298.0
        # the published band positions are the maxima of the file
        for band in CCL4_BANDS_CM1:
            near = np.abs(spec.raman_shift_cm1 - band) < 3
            assert spec.raman_shift_cm1[near][np.argmax(spec.intensity[near])] == pytest.approx(
                band, abs=0.5
            )


def _one_line_error(path, **kw) -> str:
    with pytest.raises(InputError) as info:
        read_measured(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and msg
    return msg


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("ragged.csv", "x,y\n1,2\n2,3\n3,4,5\n4,5\n", "line 4: 3 columns"),
        ("text.csv", "x,y\n1,2\n2,3\nthree,4\n4,5\n", "line 4: not a row of numbers"),
        ("empty.csv", "", "no numeric data rows"),
        ("header_only.csv", "# just a comment\nshift,intensity\n", "no numeric data rows"),
        ("short.csv", "1,2\n2,3\n", "only 2 data rows"),
        ("nan.csv", "1,2\n2,nan\n3,4\n4,5\n", "NaN or infinite"),
        ("dupes.csv", "1,2\n2,3\n2,4\n4,5\n", "repeated x values"),
        ("one_col.txt", "1\n2\n3\n4\n", "no numeric data rows"),
        ("spectrum.xyz", "1,2\n2,3\n3,4\n", "unknown measured-spectrum format"),
        ("garbage.jdx", "##TITLE=x\n##JCAMP-DX=4.24\n##XYDATA=(X++(Y..Y))\n1 a$b\n", "JCAMP"),
        ("nodata.jdx", "##TITLE=x\n##JCAMP-DX=4.24\n##END=\n", "without XYDATA"),
        (
            "wrongunit.jdx",
            "##TITLE=x\n##JCAMP-DX=4.24\n##XUNITS=SECONDS\n"
            "##XYPOINTS=(XY..XY)\n1,2\n2,3\n3,4\n##END=\n",
            "not a Raman axis",
        ),
        ("notjcamp.jdx", "##TITLE=x\n##XYPOINTS=(XY..XY)\n1,2\n2,3\n3,4\n##END=\n", "no ##JCAMP"),
    ],
)
def test_malformed_files_give_one_line_errors(tmp_path, name, text, expected):
    msg = _one_line_error(_write(tmp_path / name, text))
    assert expected in msg
    assert name in msg


def test_missing_binary_and_bad_options_give_one_line_errors(tmp_path):
    assert "no such" in _one_line_error(tmp_path / "missing.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    assert "binary" in _one_line_error(binary)
    assert "x_unit" in _one_line_error(CCL4_CSV, x_unit="furlongs")
    assert "laser wavelength" in _one_line_error(CCL4_CSV, laser_wavelength_nm=-5.0)


def test_measured_spectrum_validates_its_arrays():
    with pytest.raises(InputError, match="strictly increasing"):
        MeasuredSpectrum(np.array([1.0, 3.0, 2.0]), np.ones(3))
    with pytest.raises(InputError, match="NaN"):
        MeasuredSpectrum(np.arange(4.0), np.array([1.0, np.nan, 1.0, 1.0]))
    with pytest.raises(InputError, match="one length"):
        MeasuredSpectrum(np.arange(4.0), np.ones(3))
    spec = MeasuredSpectrum(np.arange(5.0), np.ones(5), "s")
    new = spec.derive(spec.raman_shift_cm1, 2 * spec.intensity, {"step": "double"})
    assert new.steps == [{"step": "double"}] and spec.steps == []
    assert list(new.to_dataframe().columns) == ["raman_shift_cm1", "intensity_stokes"]


def test_a_spectrum_without_positive_intensity_is_refused(tmp_path):
    shift = np.linspace(10.0, 500.0, 50)
    path = tmp_path / "flipped.csv"
    np.savetxt(path, np.column_stack([shift, -1.0 - shift / 500]), delimiter=",",
               header="raman_shift_cm1,intensity", comments="")
    msg = _one_line_error(path)
    assert "flipped.csv: measured spectrum" in msg and "no positive intensity" in msg
    assert "temperature_k = 1000000.0 K" in _one_line_error(CCL4_CSV, temperature_k=1e6)
