"""Analysis-core benchmark: Raman spectra and tracer MSD, each against a plain NumPy reference.

Usage::

    .venv/bin/python benchmarks/analysis.py                 # 10^6-frame spectra, 432 x 10^5 MSD
    .venv/bin/python benchmarks/analysis.py --quick         # 10^5 frames, 432 x 10^4 (a minute)

Spectra: :func:`ionraman.spectra.compute_raman_spectrum` (all powder channels, quantum correction,
Welch at 1 cm^-1) against a straightforward NumPy implementation of the same isotropic +
anisotropic Welch estimate (a Python loop over segments and the six components), in the same
process; the two must agree to 1e-10 relative.

MSD: :func:`ionraman.transport.benchmark_msd` writes a wrapped random-walk store of 432 atoms,
streams it through :func:`ionraman.transport.compute_msd` in a fresh process (peak RSS printed)
and compares with the direct O(S^2) NumPy MSD on a short run (time extrapolated to the full run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ionraman.conventions import SPEED_OF_LIGHT_CM_S
from ionraman.spectra import compute_raman_spectrum
from ionraman.transport import benchmark_msd
from spectra import synthetic_alpha


def numpy_reference_welch(alpha: np.ndarray, dt_fs: float, nperseg: int) -> np.ndarray:
    """Classical one-sided isotropic + anisotropic (45a² + 7γ²)/45 Welch density, plain NumPy.

    Hann window, 50 % overlap, mean removed per series; density in Å⁶ cm (per cm⁻¹).
    Returns the "total" (unpolarised) channel on the rfft grid.
    """
    a = np.trace(alpha, axis1=1, axis2=2) / 3.0
    a = a - a.mean()
    beta = alpha - np.trace(alpha, axis1=1, axis2=2)[:, None, None] / 3.0 * np.eye(3)
    beta = beta - beta.mean(axis=0)
    win = np.hanning(nperseg + 1)[:-1]  # periodic Hann, as scipy.signal.get_window("hann")
    step = nperseg // 2
    starts = range(0, alpha.shape[0] - nperseg + 1, step)
    dnu_cm = 1.0 / (nperseg * dt_fs * 1e-15 * SPEED_OF_LIGHT_CM_S)
    norm = dnu_cm * nperseg * np.sum(win**2)
    iso = np.zeros(nperseg // 2 + 1)
    aniso = np.zeros_like(iso)
    count = 0
    for s in starts:
        iso += np.abs(np.fft.rfft(win * a[s : s + nperseg])) ** 2
        for i in range(3):
            for j in range(3):
                aniso += np.abs(np.fft.rfft(win * beta[s : s + nperseg, i, j])) ** 2
        count += 1
    # continuous one-sided density 2P(ν̃) in every bin, ν̃ = 0 and Nyquist included (spectra.psd)
    one_sided = 2.0
    iso *= one_sided / (count * norm)
    aniso *= one_sided / (count * norm)
    gamma2 = 1.5 * aniso  # γ² = (3/2) β:β
    return (45.0 * iso + 7.0 * gamma2) / 45.0


def bench_spectra(n_frames: int, dt_fs: float = 1.0, resolution_cm1: float = 1.0) -> None:
    alpha = synthetic_alpha(n_frames)
    spec = None
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        spec = compute_raman_spectrum(
            alpha, dt_fs, resolution_cm1=resolution_cm1, temperature_k=300.0
        )
        times.append(time.perf_counter() - t0)
    assert spec is not None
    nperseg = int(spec.metadata["segment_length"])
    t0 = time.perf_counter()
    ref = numpy_reference_welch(alpha, dt_fs, nperseg)
    t_ref = time.perf_counter() - t0
    ours = spec.density["total"]
    rel = float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
    t = min(times)
    print(f"spectra: {n_frames} frames, dt {dt_fs} fs, {resolution_cm1} cm^-1, segment {nperseg}")
    print(f"  ionraman   {t:8.3f} s  ({n_frames / t:,.0f} frames/s; all channels + correction)")
    print(f"  numpy ref  {t_ref:8.3f} s  (total channel only)")
    print(f"  speed-up   {t_ref / t:8.2f} x   max rel. difference {rel:.1e}")
    if rel > 1e-8:
        raise SystemExit("spectra: ionraman and the NumPy reference disagree")


def bench_msd(n_atoms: int, n_frames: int) -> None:
    print(f"msd: {n_atoms} atoms x {n_frames} frames, streamed from HDF5")
    benchmark_msd(n_atoms, n_frames, verbose=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x shorter series")
    parser.add_argument("--only", choices=("spectra", "msd"), default=None)
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    if args.only in (None, "spectra"):
        bench_spectra(1_000_000 // scale)
    if args.only in (None, "msd"):
        bench_msd(432, 100_000 // scale)


if __name__ == "__main__":
    main()
