"""The shipped reference dataset: labels match their snapshots and records, and the generation
script rebuilds the snapshot files exactly without its (scratch) MD stores."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.io import read

from ionraman.polarizability.reference import labels

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "src" / "ionraman" / "data" / "reference"
SPLITS = ("train", "heldout", "spectrum")


def _dataset_script():
    spec = importlib.util.spec_from_file_location(
        "reference_dataset", ROOT / "scripts" / "reference_dataset.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("split", SPLITS)
def test_labels_match_their_snapshots_and_records(split: str) -> None:
    snapshots = {a.info["snapshot_id"]: a for a in read(DATA / f"snapshots_{split}.extxyz", ":")}
    labelled = read(DATA / split / labels.OUTPUT_NAME, ":")
    assert labelled, split
    for atoms in labelled:
        snap = snapshots[atoms.info["snapshot_id"]]  # every label is one of the snapshots
        np.testing.assert_array_equal(atoms.numbers, snap.numbers)
        np.testing.assert_allclose(atoms.positions, snap.positions, atol=1e-8)
        np.testing.assert_allclose(atoms.cell.array, snap.cell.array, atol=1e-8)
        record = json.loads(
            (DATA / split / labels.RESULTS_DIR / f"{atoms.info[labels.INFO_KEY]}.json").read_text()
        )
        assert record["status"] == "ok" and record["key"] == atoms.info[labels.INFO_KEY]
        np.testing.assert_allclose(
            np.asarray(record["result"]["polarizability_A3"]),
            np.asarray(atoms.info["REF_polarizability"]).reshape(3, 3),
            rtol=1e-10,
        )
    assert len(list((DATA / split / labels.RESULTS_DIR).glob("*.json"))) == len(labelled)


def test_snapshot_files_are_rebuilt_byte_for_byte_without_md_stores(tmp_path: Path) -> None:
    """A fresh checkout has no MD stores: rewriting the files must keep every snapshot (the
    labels are keyed on their exact positions) and change nothing else."""
    script = _dataset_script()
    for split in SPLITS:
        shutil.copy(DATA / f"snapshots_{split}.extxyz", tmp_path)
    counts = script.write_snapshots(tmp_path, tmp_path / "md")
    for split in SPLITS:
        original = (DATA / f"snapshots_{split}.extxyz").read_bytes()
        assert (tmp_path / f"snapshots_{split}.extxyz").read_bytes() == original, split
        assert counts[split] == original.count(b"snapshot_id=")
