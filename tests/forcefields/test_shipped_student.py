"""The shipped student ``nep-na-sb-w-s`` against the committed DFT records: held-out forces and
the S–S contacts of its own 900 K MD (the acceptance of the DFT force-field issue)."""

from __future__ import annotations

import pytest
from ase.io import read

from ionraman.forcefields import load_force_field
from ionraman.forcefields.audit import frame_errors, predict, reference_values, shipped_scf_dir
from ionraman.forcefields.contacts import contact_errors

HELDOUT = shipped_scf_dir() / "heldout" / "labelled.extxyz"
CONTACT_FRAMES = shipped_scf_dir() / "al_004" / "labelled.extxyz"


@pytest.mark.skipif(not CONTACT_FRAMES.is_file(), reason="no committed DFT contact frames")
def test_shipped_student_repels_s_s_contacts_as_dft_does() -> None:
    """The 900 K contact frames of the shipped student's own MD (scf/al_004, not trained on): DFT
    pushes the pairs apart, and the student nearly as hard (the previous students fell short by
    0.8-1.6 eV/Å on such frames)."""
    frames = read(CONTACT_FRAMES, index=":")
    e = contact_errors("nep-na-sb-w-s", load_force_field("nep-na-sb-w-s").calculator, frames)
    assert e.pair_force_dft_eV_A > 1.0
    assert e.pair_force_diff_eV_A > -0.5


@pytest.mark.skipif(not HELDOUT.is_file(), reason="no committed held-out DFT frames")
def test_shipped_student_forces_on_held_out_dft_frames() -> None:
    """42 DFT frames of separate MD runs (t, c, W-doped; 300-900 K; 15-32 atoms), never trained
    on: force RMSE at most 60 meV/Å, and at most 200 on the W atoms (7net-l3i5: 108 and 272)."""
    frames = read(HELDOUT, index=":")
    pred, _ = predict(load_force_field("nep-na-sb-w-s").calculator, frames)
    e = frame_errors("nep-na-sb-w-s", pred, reference_values(frames), frames)
    assert e.n_frames == 42
    assert e.force_rmse_meV_A <= 60.0
    assert e.force_rmse_by_species_meV_A["W"] <= 200.0
