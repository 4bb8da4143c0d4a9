"""Both model kinds follow one protocol; one loader tells them apart by content."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ionraman import get_structure
from ionraman.errors import InputError
from ionraman.polarizability import (
    PolarizabilityModel,
    load_model,
    model_species,
    predict_alpha,
)
from ionraman.trajectory import TrajectoryWriter
from ionraman.workflow.preparation import shipped_models_dir

MODELS = shipped_models_dir()
FILES = {"cartesian-tensor": "cartesian-na-sb-w-s.pt", "bond-polarizability": "bond-na-sb-w-s.json"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Four rattled 16-atom t-Na3SbS4 frames in a trajectory store."""
    base = get_structure("t-Na3SbS4")
    path = tmp_path_factory.mktemp("protocol") / "md.h5"
    rng = np.random.default_rng(3)
    frames = []
    with TrajectoryWriter(path, base.numbers) as w:
        for k in range(4):
            a = base.copy()
            a.positions += rng.normal(0.0, 0.05, a.positions.shape)
            w.append(a.positions, np.asarray(a.cell), 4.0 * k)
            frames.append(a)
    return path, frames


@pytest.mark.parametrize("kind", sorted(FILES))
def test_shipped_models_follow_the_protocol(kind, store):
    model = load_model(MODELS / FILES[kind])
    assert isinstance(model, PolarizabilityModel) and model.kind == kind
    assert {"Na", "Sb", "W", "S"} <= set(model.species)
    path, frames = store
    alpha = predict_alpha(model, frames)
    assert alpha.shape == (4, 3, 3) and np.all(np.isfinite(alpha))
    res = model.alpha_of_store(path, batch_frames=3)
    assert res.diagnostics["model_kind"] == kind
    # the store path (float32 per-atom terms for the tensor model: ~1e-7 of α) agrees with the
    # frames path
    np.testing.assert_allclose(res.alpha, alpha, rtol=0, atol=1e-6 * np.abs(alpha).max())


def test_loader_reads_the_content_not_the_suffix(tmp_path):
    odd = tmp_path / "baseline.model"
    shutil.copy(MODELS / FILES["bond-polarizability"], odd)
    assert load_model(odd).kind == "bond-polarizability"
    with pytest.raises(InputError, match="not found"):
        load_model(tmp_path / "absent.pt")


def test_model_species_reads_the_fit_report_without_loading(tmp_path, monkeypatch):
    import ionraman.polarizability as pol

    copy = tmp_path / "alpha.pt"
    shutil.copy(MODELS / FILES["cartesian-tensor"], copy)
    shutil.copy(MODELS / "cartesian-na-sb-w-s.fit.json", tmp_path / "alpha.fit.json")

    def no_loading(path):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(pol, "load_model", no_loading)
    assert model_species(copy) == {"Na", "S", "Sb", "W"}
    (tmp_path / "alpha.fit.json").unlink()
    assert model_species(copy) is None  # without the report it would load (here: refused)
    monkeypatch.undo()
    assert model_species(copy) == {"Na", "S", "Sb", "W"}
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    assert model_species(tmp_path / "junk.pt") is None
