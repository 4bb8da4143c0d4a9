"""Timing of :func:`ionraman.spectra.compute_raman_spectrum` on long synthetic series.

``benchmark_spectrum()`` returns a dict the lead's ``benchmarks/analysis.py`` can tabulate; run this
file directly to print it as JSON: ``.venv/bin/python benchmarks/spectra.py [n_frames]``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np
from scipy import signal

from ionraman.spectra import compute_raman_spectrum


def synthetic_alpha(n_frames: int, seed: int = 0) -> np.ndarray:
    """Correlated anisotropic α(t) ``[n_frames, 3, 3]`` (Å³): AR(1)-filtered noise per component."""
    rng = np.random.default_rng(seed)
    comps = signal.lfilter([1.0], [1.0, -0.99], rng.standard_normal((6, n_frames)), axis=1)
    alpha = np.empty((n_frames, 3, 3))
    for k, (i, j) in enumerate(((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))):
        alpha[:, i, j] = alpha[:, j, i] = (30.0 if i == j else 0.0) + 0.1 * comps[k]
    return alpha


def benchmark_spectrum(
    n_frames: int = 1_000_000,
    timestep_fs: float = 1.0,
    settings: tuple[dict[str, Any], ...] = (
        {"resolution_cm1": 1.0},
        {"resolution_cm1": 10.0},
        {"segment_length": 256},
        {
            "resolution_cm1": 1.0,
            "geometries": ["z(xx)z̄", "z(xy)z̄"],
            "smoothing": ("lorentzian", 5.0),
        },
    ),
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Wall time of compute_raman_spectrum for each option set (best and median of ``repeats``).

    Returns
    -------
    dict
        ``{"n_frames", "timestep_fs", "cases": [{"options", "segment_length", "n_segments",
        "n_bins", "best_s", "median_s", "frames_per_s"}]}``.
    """
    alpha = synthetic_alpha(n_frames, seed)
    cases = []
    for opts in settings:
        times = []
        spec = None
        for _ in range(repeats):
            t0 = time.perf_counter()
            spec = compute_raman_spectrum(alpha, timestep_fs, temperature_k=300.0, **opts)
            times.append(time.perf_counter() - t0)
        assert spec is not None
        cases.append(
            {
                "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()},
                "segment_length": spec.metadata["segment_length"],
                "n_segments": spec.metadata["n_segments"],
                "n_bins": int(spec.wavenumber_cm1.size),
                "best_s": min(times),
                "median_s": float(np.median(times)),
                "frames_per_s": n_frames / min(times),
            }
        )
    return {"n_frames": n_frames, "timestep_fs": timestep_fs, "cases": cases}


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(json.dumps(benchmark_spectrum(n), indent=2, ensure_ascii=False))
