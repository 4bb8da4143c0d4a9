"""The registered universal models load offline and drive a short MD into a valid store.

Each model is loaded once for this module (module-scoped fixture, sockets blocked while loading);
every test then reuses the calculator.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from ase.calculators.calculator import BaseCalculator

from ionraman.forcefields import (
    DEFAULT_FORCE_FIELD,
    LoadedForceField,
    force_field_table,
    get_force_field,
    list_force_fields,
    load_force_field,
)
from ionraman.md import run_md, tetrahedra_intact, thermo_path
from ionraman.trajectory import open_trajectory

UNIVERSAL = ("sevenn-l3i5", "sevenn-0", "sevenn-mf0-pbe", "chgnet", "sevenn-mf0-r2scan")
PACKAGE = {name: "chgnet" if name == "chgnet" else "sevenn" for name in UNIVERSAL}

pytestmark = pytest.mark.forcefield


@pytest.fixture(scope="module", params=UNIVERSAL)
def loaded(request, no_network) -> Iterator[LoadedForceField]:
    """Each model once per module; one torch thread (robust on a shared 2-core machine, where
    two threads per process can be 20x slower), restored afterwards."""
    torch = pytest.importorskip("torch")
    pytest.importorskip(PACKAGE[request.param])
    before = torch.get_num_threads()
    yield load_force_field(request.param, device="cpu", threads=1)
    torch.set_num_threads(before)


def test_registry_lists_the_universal_models_default_first():
    names = list_force_fields()
    assert names[: len(UNIVERSAL)] == list(UNIVERSAL)
    assert names[0] == DEFAULT_FORCE_FIELD
    table = force_field_table().set_index("name")
    for name in UNIVERSAL:
        spec = get_force_field(name)
        assert spec.kind == "universal"
        assert spec.sha256 and len(spec.sha256) == 64
        assert {"Na", "Sb", "S", "W"} <= set(spec.elements)
        assert table.loc[name, "kind"] == "universal"


def test_loads_offline_with_the_shipped_weights(loaded):
    spec = loaded.spec
    assert isinstance(loaded.calculator, BaseCalculator)
    assert loaded.weights_path is not None and loaded.weights_path.is_file()
    assert PACKAGE[loaded.name] in loaded.weights_path.parts  # inside the installed wheel
    assert loaded.weights_sha256 == spec.sha256  # no warning, the file the entry was made for
    prov = loaded.provenance()
    assert prov["name"] == loaded.name
    assert prov["kind"] == "universal"
    assert prov["weights_sha256"] == spec.sha256
    assert prov["options"]["device"] == "cpu"
    assert PACKAGE[loaded.name] in prov["packages"] and "torch" in prov["packages"]
    assert prov["threads"] == 1
    if loaded.name.startswith("sevenn-mf0-"):
        assert prov["options"]["modal"] == loaded.name.split("-")[-1].upper()


def test_energy_and_forces_are_finite_and_consistent(loaded, t16):
    atoms = t16
    atoms.positions[0] += (0.15, -0.10, 0.12)  # off equilibrium: forces of order 0.1 eV/Å
    atoms.calc = loaded.calculator
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    assert np.isfinite(energy)
    assert -15.0 < energy / len(atoms) < -2.0  # eV/atom (r2SCAN scale ≈ -9.5, PBE ≈ -4)
    assert forces.shape == (16, 3) and np.isfinite(forces).all()
    assert np.linalg.norm(forces.sum(axis=0)) < 1e-3  # no net force (translation invariance)
    assert np.abs(forces[0]).max() > 0.03
    # forces are the negative energy gradient (central difference, float32-sized tolerance)
    h = 0.01
    probe = atoms.copy()
    probe.calc = loaded.calculator
    probe.positions[0, 0] += h
    e_plus = probe.get_potential_energy()
    probe.positions[0, 0] -= 2 * h
    e_minus = probe.get_potential_energy()
    assert -(e_plus - e_minus) / (2 * h) == pytest.approx(forces[0, 0], abs=0.02)


def test_twenty_step_md_writes_a_valid_store(loaded, t16, tmp_path):
    out = run_md(
        t16,
        temperature_k=600,
        time_ps=0.04,  # 20 steps of 2 fs, no equilibration
        equilibration_ps=0.0,
        sample_every_fs=4.0,
        force_field=loaded,
        out=tmp_path / "md.h5",
        quiet=True,
    )
    with open_trajectory(out) as tr:
        n = tr.n_frames
        pos = tr.read("positions")
        vel = tr.read("velocities")
        cells = tr.read("cells")
        times = tr.times_fs
        meta = tr.metadata
        numbers = tr.get_atoms(0).numbers
        last = tr.get_atoms(n - 1)
    assert n == 11  # production steps 0, 2, ..., 20
    assert pos.shape == (11, 16, 3) and vel.shape == (11, 16, 3) and cells.shape == (11, 3, 3)
    assert np.isfinite(pos).all() and np.isfinite(vel).all()
    np.testing.assert_array_equal(numbers, t16.numbers)
    np.testing.assert_allclose(times, np.arange(11) * 4.0)
    np.testing.assert_allclose(cells, np.broadcast_to(t16.cell.array, cells.shape))
    step = np.linalg.norm(pos[1:] - pos[:-1], axis=-1)
    assert 0 < step.max() < 0.5  # Å per 4 fs: moving, no explosion
    assert tetrahedra_intact(last) == 1.0
    assert meta["status"] == "complete"
    assert meta["md"]["force_field"] == loaded.name
    ff = meta["force_field"]
    assert ff["name"] == loaded.name and ff["kind"] == "universal"
    assert ff["weights_sha256"] == get_force_field(loaded.name).sha256
    files = meta["provenance"]["model_files"]
    assert files[loaded.name]["sha256"] == ff["weights_sha256"]
    assert 100 < meta["temperature_mean_K"] < 1500
    assert np.isfinite(meta["energy_drift_meV_per_atom_per_ps"])
    thermo = pd.read_csv(thermo_path(out))
    assert (thermo["phase"] == "production").sum() == 11
    assert np.isfinite(thermo.drop(columns="phase").to_numpy(float)).all()
