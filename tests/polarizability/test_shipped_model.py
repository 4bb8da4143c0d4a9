"""The shipped polarizability model against the committed held-out DFT labels."""

import numpy as np
import pytest

from ionraman.polarizability import load_model, predict_alpha
from ionraman.polarizability.bond_model import POLARIZABILITY_KEY, BondPolarizabilityModel
from ionraman.polarizability.labelled import load_labelled
from ionraman.polarizability.scores import alpha_scores, reference_alpha
from ionraman.workflow.preparation import shipped_models_dir

HELDOUT = shipped_models_dir().parent / "reference" / "heldout" / "labelled.extxyz"


def test_shipped_bond_model_covers_w_and_predicts_held_out_labels():
    model = load_model(shipped_models_dir() / "bond-na-sb-w-s.json")
    assert isinstance(model, BondPolarizabilityModel)
    assert {"Na", "Sb", "W", "S"} <= set(model.atom_params)
    frames = load_labelled(HELDOUT)
    assert any("W" in a.get_chemical_symbols() for a in frames)
    pred = predict_alpha(model, frames)
    assert pred.shape == (len(frames), 3, 3)
    np.testing.assert_allclose(pred[0], model.predict_one(frames[0]))
    scores = alpha_scores(frames, reference_alpha(frames, POLARIZABILITY_KEY), pred)
    # α ≈ 105–136 Å^3 per cell; measured when shipped: RMSE α 4.09, R² δα 0.907 (models README)
    assert scores["rmse_A3"] < 8.0
    assert scores["r2_delta_alpha"] > 0.7


def test_shipped_learned_model_is_the_default_and_beats_the_baseline_on_held_out_labels():
    """`model = "auto"` picks the learned model for Na-Sb-W-S; on the committed held-out labels
    its δα error is below the bond baseline's (measured when shipped, 34 labels: 1.05 vs 1.59
    Å^3, R² δα 0.959 vs 0.907; models README)."""
    from ionraman.polarizability.models import CartesianTensorModel
    from ionraman.workflow.preparation import _shipped_model

    path = _shipped_model({"Na", "Sb", "W", "S"})
    assert path is not None and path.name == "cartesian-na-sb-w-s.pt"
    model = CartesianTensorModel.load(path)
    frames = load_labelled(HELDOUT)
    ref = reference_alpha(frames, POLARIZABILITY_KEY)
    pred = model.predict(frames)
    learned = alpha_scores(frames, ref, pred.alpha)
    bond = alpha_scores(frames, ref, model.baseline.predict_alpha(frames))
    assert learned["rmse_delta_A3"] < bond["rmse_delta_A3"]
    assert learned["r2_delta_alpha"] > 0.85 and learned["rmse_A3"] < 8.0
    # the t, c and W-doped held-out cells lie inside the training domain (no atom outside and
    # no flag when shipped; the W-doped one had 1 of 15 atoms at the edge of the 21-label domain)
    undoped = ["W" not in a.get_chemical_symbols() for a in frames]
    assert not pred.outside_fraction[undoped].any() and not pred.flagged[undoped].any()
    assert pred.outside_fraction.max() < 0.1


RESPONSE = shipped_models_dir().parent / "reference" / "response" / "labelled.extxyz"


def _hop_path():
    frames = [a for a in load_labelled(RESPONSE) if a.info["family"] == "hop"]
    return sorted(frames, key=lambda a: a.info["path_index"])


def test_dft_alpha_changes_along_the_na_hop():
    """The committed DFT labels of the Na hop in Na5SbWS8 (models README): the mean α falls by
    ~5 Å^3 over the first half of the path, then stays: a response a model must follow."""
    frames = _hop_path()
    mean = np.trace(reference_alpha(frames), axis1=1, axis2=2) / 3
    assert len(frames) == 7 and mean[0] - mean[-1] > 4.0
    assert np.all(np.diff(mean[1:4]) < 0)


@pytest.mark.xfail(strict=True, reason="issue 24: the shipped learned α model does not follow α "
                   "along a Na hop (measured 1.55 of the DFT change; acceptance ≤ 0.15)")
def test_shipped_learned_model_follows_alpha_along_the_na_hop():
    from ionraman.polarizability.scores import path_response_error

    frames = _hop_path()
    model = load_model(shipped_models_dir() / "cartesian-na-sb-w-s.pt")
    err = path_response_error(reference_alpha(frames), predict_alpha(model, frames))
    assert err["full"] <= 0.15
