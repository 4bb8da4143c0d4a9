"""NEP students trained on DFT labels: energy references, training, held-out errors, explore."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

pytest.importorskip("torchnep")
pytest.importorskip("calorine")

from ionraman.errors import InputError
from ionraman.forcefields.nep import NEPHyperparameters, nep_elements
from ionraman.forcefields.student import (
    element_references,
    group_of,
    shifted_frames,
    train_student,
)
from ionraman.structures import get_structure

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "ionraman" / "data" / "reference" / "scf"


def test_element_references_recover_additive_energies() -> None:
    mu = {"Na": -1300.5, "Sb": -350.25, "S": -290.75}
    frames = []
    for n_na, n_sb, n_s in ((3, 1, 4), (6, 2, 8), (5, 2, 7), (3, 1, 5)):
        a = get_structure("t-Na3SbS4")[: n_na + n_sb + n_s]
        a.set_chemical_symbols(["Na"] * n_na + ["Sb"] * n_sb + ["S"] * n_s)
        energy = n_na * mu["Na"] + n_sb * mu["Sb"] + n_s * mu["S"]
        a.calc = SinglePointCalculator(a, energy=energy, forces=np.zeros((len(a), 3)))
        frames.append(a)
    got = element_references(frames, ["Na", "Sb", "S"])
    assert got == pytest.approx(mu, rel=1e-12)
    shifted = shifted_frames(frames, got)
    np.testing.assert_allclose([a.get_potential_energy() for a in shifted], 0.0, atol=1e-8)
    # forces are untouched, and the input frames keep their energies
    assert frames[0].get_potential_energy() < -1000


def test_group_of_names_phase_size_and_temperature() -> None:
    a = get_structure("t-Na3SbS4")
    a.info = {"phase": "t-Na3SbS4", "source": "md", "temperature_k": 600.0}
    assert group_of(a) == "t-Na3SbS4 (16 at.) 600 K"
    a.info = {"phase": "t-Na3SbS4", "source": "rattle", "temperature_k": 0.0}
    assert group_of(a) == "t-Na3SbS4 (16 at.) rattle"


@pytest.mark.skipif(not (SHIPPED / "heldout" / "labelled.extxyz").is_file(),
                    reason="no shipped SCF labels")
def test_train_student_on_dft_labels(tmp_path: Path) -> None:
    """A few real DFT frames, a few epochs: the machinery (not the accuracy) end to end."""
    frames = read(SHIPPED / "heldout" / "labelled.extxyz", index=":")
    same = [a for a in frames if len(a) == 16]
    assert len(same) >= 4
    train, test = tmp_path / "train.extxyz", tmp_path / "test.extxyz"
    write(train, same[:3], format="extxyz")
    write(test, same[3:4], format="extxyz")
    hyper = NEPHyperparameters(epochs=3, batch=4, zbl_outer_A=1.8)
    nep = train_student([train], tmp_path / "student", hyper, test_files=[test])
    meta = json.loads((tmp_path / "student" / "student.json").read_text())
    assert nep_elements(nep)[0] == "Na"
    assert meta["teacher"]["name"] == "DFT" and "pw.x SCF" in meta["teacher"]["code"][0]
    assert set(meta["energy_references_eV"]) == {"Na", "Sb", "S"}
    assert meta["n_train_frames"] == 3
    assert meta["test_errors"]["all"]["n_frames"] == 1
    assert meta["labels"][0]["sha256"] and meta["hyper"]["epochs"] == 3
    shifted = read(tmp_path / "student" / "train.extxyz", index=":")
    # shifted energies are of the order of the cohesive scale, not hundreds of eV per atom
    assert max(abs(a.get_potential_energy()) / len(a) for a in shifted) < 1.0
    with pytest.raises(InputError, match="held out"):
        train_student([train], tmp_path / "again", hyper, test_files=[train])

    # two stages: pre-training on frames labelled by a model, then fine-tuning on the DFT ones
    from ionraman.distillation.loop import label_frames
    from ionraman.forcefields import load_force_field

    pool = [a.copy() for a in same[:2]]
    for a in pool:
        a.info["REF_source"] = "nep-na-sb-w-s (test)"
    label_frames(pool, tmp_path / "pool.extxyz", lambda: load_force_field("nep-na-sb-w-s"))
    staged = train_student([train], tmp_path / "staged", hyper, test_files=[test],
                           pretrain_files=[tmp_path / "pool.extxyz"])
    meta = json.loads((tmp_path / "staged" / "student.json").read_text())
    assert meta["finetune_from"]["path"] == str(tmp_path / "staged" / "pretrain" / "nep.txt")
    assert meta["pretrain"]["n_train_frames"] == 2
    assert meta["pretrain"]["teacher"]["name"] == "nep-na-sb-w-s (test)"
    assert meta["pretrain"]["test_errors"]["all"]["n_frames"] == 1
    assert "pre-trained on 2 frames labelled by nep-na-sb-w-s" in meta["description"]
    assert meta["teacher"]["name"] == "DFT" and staged.is_file()
    with pytest.raises(InputError, match="exclude each other"):
        train_student([train], tmp_path / "both", hyper, finetune_from=nep,
                      pretrain_files=[tmp_path / "pool.extxyz"])

    # one active-learning step on top of it: student MD, then one frame per system to label
    from typer.testing import CliRunner

    from ionraman.cli import app

    result = CliRunner().invoke(app, [
        "forcefield", "explore", str(nep), "t-Na3SbS4", "c-Na3SbS4", "-T", "300",
        "--time", "0.1ps", "--every", "20", "--max-new", "2", "--out", str(tmp_path / "al"),
    ])
    assert result.exit_code == 0, result.output
    picked = read(tmp_path / "al" / "selected.extxyz", index=":")
    assert sorted(a.info["system"] for a in picked) == ["c-Na3SbS4", "t-Na3SbS4"]
    assert all(a.info["source"] == "explore" and a.calc is None for a in picked)
    assert "frames to label" in result.output
