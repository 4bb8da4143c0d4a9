"""Tests of fitting the Cartesian-tensor polarizability model (:mod:`ionraman.polarizability.
models.fitting`): recovery of a synthetic target, the ridge solver, validation splits, fit
input errors and the command line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.io import write

from ionraman.errors import InputError
from ionraman.polarizability.models import CartesianTensorModel, fit_ensemble
from ionraman.polarizability.models.cartesian import _to6
from ionraman.polarizability.models.fitting import _group_ids, _metrics
from ionraman.polarizability.models.synthetic import synthetic_alpha, synthetic_dataset
from ionraman.structures import get_structure
from ionraman.trajectory import TrajectoryWriter, open_trajectory

PHASES = ("t-Na3SbS4", "c-Na3SbS4")


@pytest.mark.parametrize("solver", ["ridge", "adam"])
def test_fit_recovers_synthetic_target(solver) -> None:
    """Δ-learning on the bond baseline recovers a nonlinear equivariant target (held out)."""
    torch.set_num_threads(1)
    train = synthetic_dataset(80, phases=("t-Na3SbS4",), seed=0)
    test = synthetic_dataset(30, phases=("t-Na3SbS4",), seed=99)
    m = CartesianTensorModel(solver=solver, ensemble_size=2, max_epochs=400, patience=100, seed=0)
    report = fit_ensemble(m, train)
    assert report.n_train == 64 and report.n_validation == 16
    pred = m.predict(test)
    y = _to6(np.array([a.info["REF_polarizability"] for a in test]))
    n = np.full(len(test), float(len(test[0])))
    ml = _metrics(y, _to6(pred.alpha), n, _group_ids(test))
    base = _metrics(y, _to6(m.baseline.predict_alpha(test)), n, _group_ids(test))
    assert ml["r2_delta_alpha"] > 0.9
    assert ml["rmse_per_atom_A3"] < 0.75 * base["rmse_per_atom_A3"]
    assert np.isfinite(m.threshold_per_atom) and 0.0 <= pred.flagged_fraction < 0.5


def test_ridge_solver_penalty_choice_and_limit() -> None:
    """The ridge solver records its cross-validation, picks a penalty from the grid, and an
    overwhelming penalty leaves the bond baseline alone (the learned part vanishes)."""
    torch.set_num_threads(1)
    data = synthetic_dataset(12, phases=PHASES, seed=4)
    m = CartesianTensorModel(solver="ridge", ensemble_size=2, ridge_penalties=(1e-3, 1e3), seed=0)
    report = fit_ensemble(m, data)
    assert report.ridge is not None and report.ridge["penalty"] in (1e-3, 1e3)
    assert report.ridge["cv_folds"] == 5 and all(np.isfinite(report.ridge["cv_loss"]))
    assert report.epochs == [0, 0]
    stiff = CartesianTensorModel(
        solver="ridge", ensemble_size=1, ridge_penalties=(1e14,), val_fraction=0.0
    )
    fit_ensemble(stiff, data)
    base = stiff.baseline.predict_alpha(data)
    learned = stiff.predict(data).alpha - base
    assert np.abs(learned).max() < 1e-6 * np.abs(base - base.mean(0)).max()
    for bad in ({"solver": "sgd"}, {"ridge_penalties": ()}, {"ridge_penalties": (0.0,)},
                {"cv_folds": 1}):
        with pytest.raises(InputError):
            CartesianTensorModel(**bad)


def test_few_validation_structures_give_a_note() -> None:
    data = synthetic_dataset(12, seed=2)
    report = fit_ensemble(CartesianTensorModel(ensemble_size=1, max_epochs=3, patience=3), data)
    assert report.n_validation == 2 and "val_fraction=0" in report.notes[0]
    report = fit_ensemble(
        CartesianTensorModel(ensemble_size=1, max_epochs=3, val_fraction=0.0), data
    )
    assert report.n_validation == 0 and report.notes == []


def test_fit_from_extxyz_file(tmp_path) -> None:
    data = synthetic_dataset(8, seed=1)
    path = tmp_path / "train.extxyz"
    write(path, data, format="extxyz")
    m = CartesianTensorModel(ensemble_size=1, max_epochs=5, patience=5)
    report = fit_ensemble(m, path)
    assert report.n_train + report.n_validation == 8
    expected = synthetic_alpha(data[0])
    assert np.allclose(data[0].info["REF_polarizability"], expected)


def test_fit_input_errors(tmp_path) -> None:
    data = synthetic_dataset(6, seed=0)
    del data[2].info["REF_polarizability"]
    with pytest.raises(InputError, match="structure 2 has no"):
        fit_ensemble(CartesianTensorModel(max_epochs=1), data)
    with pytest.raises(InputError, match="not found"):
        fit_ensemble(CartesianTensorModel(), tmp_path / "none.extxyz")
    bad = tmp_path / "bad.extxyz"
    bad.write_text("this is not\nan xyz file\n")
    with pytest.raises(InputError):
        fit_ensemble(CartesianTensorModel(), bad)
    unlabelled = tmp_path / "unlabelled.extxyz"
    write(unlabelled, get_structure("t-Na3SbS4"), format="extxyz")
    with pytest.raises(InputError):
        fit_ensemble(CartesianTensorModel(), unlabelled)


def test_command_line_fit_and_predict(tmp_path, capsys) -> None:
    import ase.io

    from ionraman.cli import main

    data = tmp_path / "data.extxyz"
    ase.io.write(data, synthetic_dataset(16, phases=("t-Na3SbS4",), seed=5))
    model_path = tmp_path / "alpha.pt"
    rc = main(["polarizability", "fit", str(data), "-o", str(model_path), "--ensemble", "2",
               "--max-epochs", "30"])
    assert rc == 0 and model_path.is_file()
    assert model_path.with_suffix(".fit.json").is_file()
    ridge_path = tmp_path / "alpha_ridge.pt"
    rc = main(["polarizability", "fit", str(data), "-o", str(ridge_path), "--val-fraction", "0",
               "--solver", "ridge"])
    out = capsys.readouterr().out
    assert rc == 0 and "ridge penalty" in out and "no validation split" in out
    assert CartesianTensorModel.load(ridge_path).config.solver == "ridge"
    base = get_structure("t-Na3SbS4")
    store = tmp_path / "traj.h5"
    with TrajectoryWriter(store, base.numbers, metadata={"timestep_fs": 2.0}) as w:
        for k in range(4):
            w.append(base.positions, base.cell.array, 10.0 * k)
    assert main(["polarizability", "predict", str(store), "--model", str(model_path)]) == 0
    with open_trajectory(store) as traj:
        assert traj.read("polarizability").shape == (4, 3, 3)
    out = capsys.readouterr().out
    assert "flagged" in out and "; Na 0.0 %" in out and "; Sb 0.0 %" in out  # per element
    assert main(["polarizability", "fit", str(tmp_path / "none.extxyz")]) == 2
    assert "none.extxyz" in capsys.readouterr().err
