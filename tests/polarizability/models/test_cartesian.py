"""Tests of the Cartesian-tensor polarizability model: symmetry, extensivity, neighbour-list
reuse, baseline consistency, training-domain flags, persistence and store output (fitting:
``test_fitting.py``)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from ionraman.errors import InputError
from ionraman.polarizability.models import CartesianTensorModel, fit_ensemble
from ionraman.polarizability.models.cartesian import _to6
from ionraman.polarizability.models.features import CartesianDescriptor, TorchBondTerm
from ionraman.polarizability.models.neighbours import NeighbourList, segment_frames
from ionraman.polarizability.models.synthetic import (
    reference_bond_model,
    synthetic_dataset,
)
from ionraman.structures import get_structure
from ionraman.trajectory import TrajectoryWriter, open_trajectory

PHASES = ("t-Na3SbS4", "c-Na3SbS4")


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module", params=["ridge", "adam"])
def model(request) -> CartesianTensorModel:
    """A quickly fitted ensemble of each solver (symmetry tests need a generic model, not an
    accurate one)."""
    torch.set_num_threads(1)
    data = synthetic_dataset(24, phases=PHASES, seed=3)
    m = CartesianTensorModel(
        solver=request.param, ensemble_size=2, max_epochs=40, patience=40, seed=1
    )
    fit_ensemble(m, data)
    return m


@pytest.fixture
def frame():
    atoms = get_structure("t-Na3SbS4")
    atoms.rattle(0.12, seed=5)
    return atoms


def test_rotation_equivariance(model, frame) -> None:
    pred = model.predict(frame)
    alpha = pred.alpha[0]
    assert np.allclose(alpha, alpha.T, atol=1e-12)
    for seed in range(3):
        rot = Rotation.random(random_state=seed).as_matrix()
        rotated = frame.copy()
        rotated.set_cell(frame.cell.array @ rot.T, scale_atoms=False)
        rotated.positions = frame.positions @ rot.T
        out = model.predict(rotated)
        assert _rel(out.alpha[0], rot @ alpha @ rot.T) < 1e-6
        for k in range(out.members.shape[0]):
            assert _rel(out.members[k, 0], rot @ pred.members[k, 0] @ rot.T) < 1e-6
        assert out.spread[0] == pytest.approx(pred.spread[0], rel=1e-6)


def test_permutation_and_translation_invariance(model, frame) -> None:
    alpha = model.predict(frame).alpha[0]
    perm = frame[np.random.default_rng(0).permutation(len(frame))]
    assert _rel(model.predict(perm).alpha[0], alpha) < 1e-10
    shifted = frame.copy()
    shifted.translate([0.37, -1.3, 2.9])
    shifted.wrap()
    assert _rel(model.predict(shifted).alpha[0], alpha) < 1e-10


def test_supercell_is_extensive(model, frame) -> None:
    alpha = model.predict(frame).alpha[0]
    big = model.predict(frame * (2, 2, 2))
    assert _rel(big.alpha[0], 8 * alpha) < 1e-6
    # spread per atom is size independent for a perfectly repeated structure
    assert big.spread_per_atom[0] == pytest.approx(model.predict(frame).spread_per_atom[0])


def test_float32_close_to_float64(model, frame) -> None:
    a64 = model.predict(frame).alpha[0]
    a32 = model.predict(frame, dtype="float32").alpha[0]
    assert _rel(a32, a64) < 1e-5


def test_torch_bond_term_matches_bond_model(frame) -> None:
    bond = reference_bond_model()
    species = ["Na", "S", "Sb"]
    term = TorchBondTerm(bond.to_dict(), species)
    desc = CartesianDescriptor(species)
    nl = NeighbourList.build(frame.positions, frame.cell.array, frame.pbc, 5.5, 0.0)
    channels = np.array([species.index(s) for s in frame.get_chemical_symbols()])
    _, _, base = desc.compute(
        nl, channels, frame.positions[None], frame.cell.array[None], bond=term
    )
    expected = bond.predict_one(frame)
    assert np.allclose(base[0].numpy(), _to6(expected), rtol=1e-10, atol=1e-10)


def test_neighbour_list_reuse_is_exact(model) -> None:
    """MD-like frames (small moves, atoms wrapped across the boundary, a strained cell) give
    the same α with the reused list as with a fresh list per frame."""
    base = get_structure("t-Na3SbS4", supercell=(2, 1, 1))
    rng = np.random.default_rng(2)
    frames = []
    for k in range(8):
        at = base.copy()
        at.positions += rng.normal(scale=0.06, size=at.positions.shape)
        if k == 5:
            at.set_cell(at.cell.array * 1.004, scale_atoms=True)
        at.wrap()
        frames.append(at)
    pos = np.array([a.positions for a in frames])
    cells = np.array([a.cell.array for a in frames])
    _, _, builds = segment_frames(pos, cells, base.pbc, 5.5, 0.5)
    assert builds < len(frames)
    together = model.predict(frames).alpha
    apart = np.array([model.predict(a).alpha[0] for a in frames])
    assert _rel(together, apart) < 1e-10


def test_frames_outside_the_training_domain_are_flagged() -> None:
    """Strongly compressed, expanded or rattled cells lie outside the training domain and are
    flagged; unseen structures drawn like the training ones are not; the training structures
    themselves have no atom outside (each is its own nearest neighbour)."""
    torch.set_num_threads(1)
    train = synthetic_dataset(30, phases=("t-Na3SbS4",), seed=0)
    m = CartesianTensorModel(solver="ridge", ensemble_size=2, seed=0, val_fraction=0.0)
    fit_ensemble(m, train)
    assert np.isfinite(m.domain.radius).all()
    assert not m.predict(train).outside_fraction.any()
    alike = m.predict(synthetic_dataset(20, phases=("t-Na3SbS4",), seed=7))
    assert alike.outside_fraction.mean() < 0.02 and alike.flagged_fraction <= 0.1
    base = get_structure("t-Na3SbS4")
    odd = []
    for scale in (0.85, 1.15):
        a = base.copy()
        a.set_cell(a.cell * scale, scale_atoms=True)
        odd.append(a)
    a = base.copy()
    a.rattle(0.5, seed=1)
    odd.append(a)
    pred = m.predict(odd)
    assert (pred.outside_fraction > m.config.domain_atom_fraction).all() and pred.flagged.all()
    assert (pred.rho_max > 1.0).all()
    # the public features give the same per-atom ratios as prediction (float32 there)
    q, ch = m.normalised_features(odd[2])
    assert q.shape == (len(odd[2]), m.domain.features[0].shape[1])
    assert float(m.domain.ratios(q, ch).max()) == pytest.approx(pred.rho_max[2], rel=1e-4)


def test_save_load_round_trip(model, frame, tmp_path) -> None:
    path = model.save(tmp_path / "alpha.pt")
    loaded = CartesianTensorModel.load(path)
    assert loaded.config == model.config and loaded.species == model.species
    a, b = model.predict(frame), loaded.predict(frame)
    assert np.array_equal(a.members, b.members)
    assert loaded.threshold_per_atom == pytest.approx(model.threshold_per_atom)
    assert loaded.domain.radius == model.domain.radius
    assert np.array_equal(a.outside_fraction, b.outside_fraction)
    assert np.array_equal(a.rho_max, b.rho_max)
    assert loaded.sha256 == model.sha256
    assert loaded.report["n_train"] == model.report["n_train"]


def test_bad_model_files(tmp_path) -> None:
    with pytest.raises(InputError, match="not found"):
        CartesianTensorModel.load(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="not a readable"):
        CartesianTensorModel.load(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(InputError, match="not an ionraman"):
        CartesianTensorModel.load(other)


def test_predict_store_writes_alpha(model, tmp_path) -> None:
    base = get_structure("t-Na3SbS4")
    rng = np.random.default_rng(4)
    path = tmp_path / "traj.h5"
    frames = []
    with TrajectoryWriter(path, base.numbers, metadata={"timestep_fs": 2.0}) as w:
        for k in range(12):
            at = base.copy()
            # the last frames rattled hard: some atoms outside the training domain
            at.positions += rng.normal(scale=0.05 if k < 8 else 0.4, size=at.positions.shape)
            frames.append(at)
            w.append(at.positions, at.cell.array, 10.0 * k)
    out = model.predict_store(path, batch_frames=5)
    assert out.written and out.alpha.shape == (12, 3, 3) and out.spread.shape == (12,)
    assert _rel(out.alpha, model.predict(frames).alpha) < 1e-5  # float32 store default
    with open_trajectory(path) as traj:
        assert np.array_equal(traj.read("polarizability"), out.alpha)
        meta = traj.metadata["polarizability"]
    assert meta["model"] == "cartesian-tensor" and meta["model_sha256"] == model.sha256
    assert meta["flagged_fraction"] == out.flagged_fraction
    assert meta["ensemble_size"] == 2
    # atoms outside per species add up to the mean fraction of atoms outside (same-size frames)
    by_species = meta["outside_fraction_by_species"]
    counts = {s: base.get_chemical_symbols().count(s) for s in by_species}
    assert set(by_species) == {"Na", "Sb", "S"} and out.outside_fraction.max() > 0
    assert sum(by_species[s] * counts[s] for s in by_species) / len(base) == pytest.approx(
        out.outside_fraction.mean()
    )
    # a model without a training domain (older files) predicts, with no per-element numbers
    no_domain = copy.copy(model)
    no_domain.domain = None
    bare = no_domain.predict_store(path, write=False)
    assert bare.metadata["outside_fraction_by_species"] == {} and not bare.outside_fraction.any()
    again = model.predict_store(path, write=False, dtype="float64")
    assert not again.written and _rel(again.alpha, out.alpha) < 1e-5


def test_input_errors(model, tmp_path) -> None:
    with pytest.raises(InputError, match="not fitted"):
        CartesianTensorModel().predict(get_structure("t-Na3SbS4"))
    with pytest.raises(InputError, match="not in the model"):
        model.predict(get_structure("t-Na3PS4"))
    not_store = tmp_path / "x.h5"
    not_store.write_bytes(b"nothing")
    with pytest.raises(InputError):
        model.predict_store(not_store)
