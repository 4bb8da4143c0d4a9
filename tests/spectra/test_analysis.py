"""spectrum_from_file (files written atomically) and plotting."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from ionraman.errors import InputError
from ionraman.spectra import (
    RamanSpectrum,
    compute_raman_spectrum,
    plot_spectrum,
    spectrum_from_file,
)


def _alpha(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3, 3))
    return 30 * np.eye(3) + 0.5 * (x + np.swapaxes(x, 1, 2))


@dataclass
class _FakeSeries:
    alpha: np.ndarray
    timestep_fs: float
    metadata: dict = field(default_factory=dict)


@pytest.fixture
def fake_reader(monkeypatch):
    """Stand-in for ionraman.spectra.series.read_polarizability_series (tests our side only)."""
    calls = []

    def read_polarizability_series(path, *, timestep_fs=None, order=None):
        calls.append((path, timestep_fs, order))
        return _FakeSeries(np.load(path), timestep_fs or 2.0, {"temperature_K": 450.0})

    mod = types.ModuleType("ionraman.spectra.series")
    mod.read_polarizability_series = read_polarizability_series
    monkeypatch.setitem(sys.modules, "ionraman.spectra.series", mod)
    return calls


def test_spectrum_from_file_writes_three_files(fake_reader, tmp_path):
    src = tmp_path / "alpha.npy"
    np.save(src, _alpha())
    out = tmp_path / "result"
    spec = spectrum_from_file(
        src, out, order="ase-voigt", segment_length=500, geometries=["z(xx)z̄"]
    )
    assert fake_reader == [(src, None, "ase-voigt")]
    assert sorted(p.name for p in out.iterdir()) == ["spectrum.csv", "spectrum.h5", "spectrum.png"]
    assert spec.temperature_k == 450.0  # taken from the series metadata
    assert spec.quantum_correction == "harmonic"
    assert spec.metadata["input"]["temperature_source"] == "alpha.npy metadata"
    assert len(spec.metadata["input"]["sha256"]) == 64
    df = pd.read_csv(out / "spectrum.csv")
    assert df.columns[0] == "wavenumber_cm1"
    assert "z(xx)z̄_stokes_A6_cm" in df.columns
    np.testing.assert_allclose(df["total_stokes_A6_cm"], spec.intensity("total"), rtol=1e-12)
    back = RamanSpectrum.load(out / "spectrum.h5")
    np.testing.assert_array_equal(back.density["total"], spec.density["total"])
    assert (out / "spectrum.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_spectrum_from_file_explicit_temperature_wins(fake_reader, tmp_path):
    src = tmp_path / "alpha.npy"
    np.save(src, _alpha())
    spec = spectrum_from_file(
        src,
        tmp_path / "o",
        timestep_fs=1.0,
        temperature_k=300.0,
        segment_length=500,
        variant="reduced",
    )
    assert spec.temperature_k == 300.0
    df = pd.read_csv(tmp_path / "o" / "spectrum.csv")
    assert "total_reduced_A6_cm" in df.columns


def test_spectrum_from_file_option_error_writes_nothing(fake_reader, tmp_path):
    src = tmp_path / "alpha.npy"
    np.save(src, _alpha(1000))
    out = tmp_path / "o"
    with pytest.raises(InputError) as exc:
        spectrum_from_file(src, out, resolution_cm1=0.5)
    assert "\n" not in str(exc.value) and "1000 frames" in str(exc.value)
    assert not out.exists()


# ---- with the real reader (ionraman.spectra.series) ------------------------------------------
def test_real_reader_csv(tmp_path):
    from ionraman.conventions import from_matrix

    alpha = _alpha(3000)
    comps = from_matrix(alpha, "ase-voigt")
    times = np.arange(3000) * 2.0
    path = tmp_path / "alpha.csv"
    np.savetxt(
        path,
        np.column_stack([times, comps]),
        delimiter=",",
        header="time_fs,xx,yy,zz,yz,xz,xy",
        comments="",
    )
    spec = spectrum_from_file(path, tmp_path / "o", segment_length=300)
    ref = compute_raman_spectrum(alpha, 2.0, segment_length=300)
    np.testing.assert_allclose(spec.density["total"], ref.density["total"], rtol=1e-6)


def test_real_reader_five_columns_is_one_line_error(tmp_path):
    path = tmp_path / "bad.dat"
    np.savetxt(path, np.random.default_rng(0).standard_normal((50, 5)))
    with pytest.raises(InputError) as exc:
        spectrum_from_file(path, tmp_path / "o", timestep_fs=1.0)
    msg = str(exc.value)
    assert "\n" not in msg and "5" in msg
    assert not (tmp_path / "o").exists()


def test_real_reader_store_with_temperature(tmp_path):
    from ionraman.trajectory import TrajectoryWriter

    alpha = _alpha(2000)
    store = tmp_path / "md.h5"
    with TrajectoryWriter(
        store, np.array([11, 11]), metadata={"temperature_K": 600.0}, polarizability=True
    ) as w:
        w.append_many(
            np.zeros((2000, 2, 3)),
            np.tile(10 * np.eye(3), (2000, 1, 1)),
            np.arange(2000) * 4.0,
            polarizability=alpha,
        )
    spec = spectrum_from_file(store, tmp_path / "o", segment_length=200)
    assert spec.temperature_k == 600.0
    assert spec.metadata["timestep_fs"] == 4.0
    ref = compute_raman_spectrum(alpha, 4.0, segment_length=200)
    np.testing.assert_allclose(spec.density["total"], ref.density["total"], rtol=1e-12)


# ---- plotting --------------------------------------------------------------------------------
def test_plot_spectrum_log_axes():
    spec = compute_raman_spectrum(
        _alpha(), 2.0, segment_length=400, temperature_k=300.0, quantum_correction="bose"
    )
    ax = plot_spectrum(spec)
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["parallel", "crossed", "total"]
    ax2 = plot_spectrum(spec, channels=["isotropic"], variant="reduced", xlim_cm1=(0, 500))
    assert ax2.get_xlim() == (0.0, 500.0)
    with pytest.raises(InputError):
        plot_spectrum(spec, channels=["nope"])
