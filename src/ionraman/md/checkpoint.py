"""Checkpoints: the full dynamical state of a run, written atomically.

A checkpoint is one ``.npz`` file beside the trajectory store (``run.h5`` → ``run.h5.ckpt.npz``)
written to a temporary file and renamed, so a kill at any moment leaves either the previous or
the new checkpoint, never a partial one. It holds positions, momenta and cell (float64, exact),
the integrator's variables (thermostat chain, barostat, Bussi's transferred energy), the random
generator's bit-generator state, the step counter and phase, the number of frames the store held
when it was written, the guard counter, the thermodynamic log, and the settings fingerprint the
resume is checked against.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ionraman._io import atomic_path, json_default
from ionraman.errors import InputError

CHECKPOINT_VERSION = 1
THERMO_COLUMNS = (
    "step",
    "time_fs",
    "temperature_K",
    "potential_energy_eV",
    "kinetic_energy_eV",
    "conserved_energy_eV",
    "volume_A3",
)
"""Columns of the thermodynamic log rows (one row per stored frame, plus equilibration rows)."""


def checkpoint_path(out: str | os.PathLike[str]) -> Path:
    """Checkpoint file belonging to the store ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt.npz")


@dataclass
class Checkpoint:
    """State of a run at the end of MD step ``step``.

    Attributes
    ----------
    step
        MD steps done (equilibration + production).
    phase
        ``"equilibration"`` or ``"production"``.
    n_frames
        Frames committed to the store when the checkpoint was written.
    positions, momenta
        [N, 3] Å and ASE momentum units (amu Å / ASE-time).
    cell
        [3, 3] Å.
    integrator
        Integrator kind and its variables (see :mod:`ionraman.md.thermostat`).
    rng_state
        ``numpy.random.Generator.bit_generator.state``.
    hot_steps
        Consecutive over-temperature steps (temperature guard).
    cell_sum, cell_count
        Running sum [3, 3] Å and count of cells in the second half of NPT equilibration.
    thermo_eq, thermo_prod
        Thermodynamic log rows [M, 7], columns :data:`THERMO_COLUMNS`.
    fingerprint
        :meth:`MDSettings.dynamics_fingerprint` plus the structure hash.
    extra
        JSON-serialisable additions (e.g. the production cell after NPT).
    """

    step: int
    phase: str
    n_frames: int
    positions: np.ndarray
    momenta: np.ndarray
    cell: np.ndarray
    integrator_kind: str
    integrator: dict[str, np.ndarray]
    rng_state: dict[str, Any]
    hot_steps: int = 0
    cell_sum: np.ndarray = field(default_factory=lambda: np.zeros((3, 3)))
    cell_count: int = 0
    thermo_eq: np.ndarray = field(default_factory=lambda: np.zeros((0, len(THERMO_COLUMNS))))
    thermo_prod: np.ndarray = field(default_factory=lambda: np.zeros((0, len(THERMO_COLUMNS))))
    fingerprint: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (temporary file + rename)."""
        meta = {
            "version": CHECKPOINT_VERSION,
            "step": int(self.step),
            "phase": self.phase,
            "n_frames": int(self.n_frames),
            "integrator_kind": self.integrator_kind,
            "integrator_keys": sorted(self.integrator),
            "rng_state": self.rng_state,
            "hot_steps": int(self.hot_steps),
            "cell_count": int(self.cell_count),
            "fingerprint": self.fingerprint,
            "extra": self.extra,
        }
        arrays = {
            "positions": np.asarray(self.positions, dtype=float),
            "momenta": np.asarray(self.momenta, dtype=float),
            "cell": np.asarray(self.cell, dtype=float),
            "cell_sum": np.asarray(self.cell_sum, dtype=float),
            "thermo_eq": np.asarray(self.thermo_eq, dtype=float).reshape(-1, len(THERMO_COLUMNS)),
            "thermo_prod": np.asarray(self.thermo_prod, dtype=float).reshape(
                -1, len(THERMO_COLUMNS)
            ),
            "meta_json": np.array(json.dumps(meta, default=json_default)),
        }
        for key, value in self.integrator.items():
            arrays[f"integrator/{key}"] = np.asarray(value, dtype=float)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """Read a checkpoint; :class:`InputError` (one line) when unreadable."""
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta_json"]))
                data = {k: z[k] for k in z.files if k != "meta_json"}
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: unreadable MD checkpoint ({type(exc).__name__})") from exc
        if meta.get("version") != CHECKPOINT_VERSION:
            raise InputError(f"{path}: checkpoint version {meta.get('version')} not supported")
        integrator = {k.split("/", 1)[1]: v for k, v in data.items() if k.startswith("integrator/")}
        return cls(
            step=int(meta["step"]),
            phase=str(meta["phase"]),
            n_frames=int(meta["n_frames"]),
            positions=data["positions"],
            momenta=data["momenta"],
            cell=data["cell"],
            integrator_kind=str(meta["integrator_kind"]),
            integrator=integrator,
            rng_state=meta["rng_state"],
            hot_steps=int(meta["hot_steps"]),
            cell_sum=data["cell_sum"],
            cell_count=int(meta["cell_count"]),
            thermo_eq=data["thermo_eq"],
            thermo_prod=data["thermo_prod"],
            fingerprint=meta["fingerprint"],
            extra=meta.get("extra", {}),
        )
