"""The α model's systematic error record (measured against DFT) and its use per candidate."""

from __future__ import annotations

import pytest

from ionraman._io import file_sha256
from ionraman.errors import InputError
from ionraman.polarizability.systematic import (
    ModelValidation,
    load_validation,
    validation_path,
    write_validation,
)
from ionraman.workflow.preparation import shipped_models_dir


def test_record_round_trip_and_bias_per_phase(tmp_path) -> None:
    model = tmp_path / "m.pt"
    model.write_bytes(b"weights")
    sha = file_sha256(model)
    rec = ModelValidation(sha, {"t-Na3SbS4": 0.67, "c-Na3SbS4": 0.18}, command="test")
    assert write_validation(model, rec) == validation_path(model) == tmp_path / "m.validation.json"
    back = load_validation(model, sha)
    assert back == rec
    assert back.lowfreq_bias("t-Na3SbS4") == (pytest.approx(-0.33), "validated on t-Na3SbS4")
    bias, basis = back.lowfreq_bias("c-Na3SbS4:W0.125")  # not validated: the worst phase
    assert bias == pytest.approx(-0.82) and "worst validated (c-Na3SbS4)" in basis
    # a record of another file (the model was refitted) is not used
    assert load_validation(model, "0" * 64) is None
    validation_path(model).write_text("{}")
    with pytest.raises(InputError, match="not an ionraman"):
        load_validation(model, sha)


def test_shipped_models_carry_a_record_of_their_own_file() -> None:
    for name in ("cartesian-na-sb-w-s.pt", "bond-na-sb-w-s.json"):
        path = shipped_models_dir() / name
        rec = load_validation(path, file_sha256(path))
        assert rec is not None, f"{name}: no validation record, or one of another file"
        assert set(rec.lowfreq_fraction_ratio) == {"t-Na3SbS4", "c-Na3SbS4"}
        assert all(0 < r < 2 for r in rec.lowfreq_fraction_ratio.values())
