"""Configuration: the examples validate; mistakes give one-line errors naming the field, exit
code 2, and leave the run directory untouched."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ionraman.errors import InputError
from ionraman.workflow import load_config, prepare
from ionraman.workflow.__main__ import main as workflow_main

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CALCULATORS = Path(__file__).resolve().parent / "calculators.py"


def ff(factory: str) -> str:
    return f"{CALCULATORS}:{factory}"


@pytest.mark.parametrize(
    "name", ["na-thioantimonates.toml", "full-protocol.toml", "metric-study.toml"]
)
def test_examples_validate_and_prepare(name):
    cfg = load_config(EXAMPLES / name)
    cands = prepare(cfg)
    assert len(cands) >= 3
    labels = [c.label for c in cands]
    assert {"t-Na3SbS4", "c-Na3SbS4", "c-Na3SbS4:W0.125"} <= set(labels)
    w = cands[labels.index("c-Na3SbS4:W0.125")]
    assert w.n_atoms == 126 and "W" in w.elements
    for c in cands:
        # force_field "auto": the shipped NEP student where it covers the elements
        expected = "nep-na-sb-w-s" if set(c.elements) <= {"Na", "Sb", "W", "S"} else (
            "sevenn-l3i5")
        assert c.force_field == expected
        if c.polarizability_model is None:
            assert c.polarizability_note.startswith("skipped: no polarizability model")


def test_default_example_settings():
    cfg = load_config(EXAMPLES / "na-thioantimonates.toml")
    assert cfg.temperatures_K == [500.0, 600.0, 700.0]
    assert cfg.md.production == pytest.approx(10.0) and cfg.md.equilibration == pytest.approx(1.0)
    assert cfg.md.force_field == "auto" and cfg.supercell.repeat == (2, 2, 2)
    assert [c.label for c in cfg.candidates] == ["t-Na3SbS4", "c-Na3SbS4", "c-Na3SbS4:W0.125"]


def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "cfg.toml"
    p.write_text(textwrap.dedent(body))
    return p


GOOD = f"""
temperatures_K = [700]
[[candidates]]
structure = "t-Na3SbS4"
[md]
force_field = "{ff("morse")}"
production = "0.2ps"
"""


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ("temperatures_K = [700\n", r"invalid TOML"),
        (GOOD + "colour = 'blue'\n", r"\[md\]|md\.colour: Extra inputs are not permitted"),
        (GOOD.replace('production = "0.2ps"', "timestep_fs = -1"), r"md\.timestep_fs: .*greater"),
        (GOOD.replace('"0.2ps"', '"2 parsecs"'), r"md\.production: time '2 parsecs'"),
        (GOOD.replace("[700]", "[700, -5]"), r"temperatures_K: .*positive"),
        (GOOD.replace("[700]", "[]"), r"temperatures_K: .*at least one"),
        (GOOD + "[cluster]\nkind = 'moon'\n", r"cluster\.kind: Input should be 'local'"),
        (GOOD + "[analysis]\nwindow_cm1 = [50, 10]\n", r"analysis\.window_cm1: expected"),
        ("[md]\nproduction = '1ps'\n", r"candidates: Field required"),
        (
            GOOD + "[[candidates]]\nstructure = 't-Na3SbS4'\n",
            r"candidate names must be unique; t-Na3SbS4",
        ),
        (
            GOOD.replace('production = "0.2ps"', "sample_every_fs = 3"),
            r"md: .*multiple of timestep_fs",
        ),
        (GOOD + "[ranking]\nby = 'band_ratio'\n", r"band_ratio metric needs analysis\.band"),
    ],
)
def test_validation_errors_are_one_line_and_name_the_field(tmp_path, body, pattern):
    with pytest.raises(InputError, match=pattern) as info:
        load_config(_write(tmp_path, body))
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(tmp_path / "cfg.toml"))


def test_prepare_errors_name_the_candidate(tmp_path):
    bad = GOOD.replace('structure = "t-Na3SbS4"', 'structure = "Na3XyZ4"')
    with pytest.raises(InputError, match=r"candidates\[0\]\.structure: 'Na3XyZ4' is neither"):
        prepare(load_config(_write(tmp_path, bad)))
    (tmp_path / "garbage.cif").write_text("data_x\n_cell_length_a what\nthis is not a CIF\n")
    bad = GOOD.replace('structure = "t-Na3SbS4"', 'structure = "garbage.cif"')
    with pytest.raises(InputError, match=r"candidates\[0\]\.structure: .*garbage\.cif"):
        prepare(load_config(_write(tmp_path, bad)))
    bad = GOOD.replace("[md]", "[polarizability]\nmodel = 'missing.pt'\n[md]")
    with pytest.raises(InputError, match=r"polarizability\.model: model file .*missing\.pt"):
        prepare(load_config(_write(tmp_path, bad)))
    bad = GOOD.replace(ff("morse"), "no-such-model")
    with pytest.raises(InputError, match=r"md\.force_field: unknown force field 'no-such-model'"):
        prepare(load_config(_write(tmp_path, bad)))
    bad = GOOD + "[analysis]\nspecies = 'Li'\n"
    with pytest.raises(InputError, match=r"has no Li atoms"):
        prepare(load_config(_write(tmp_path, bad)))


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ("this is = not toml [", "invalid TOML"),
        (GOOD.replace('"t-Na3SbS4"', '"unobtainium"'), r"candidates\[0\]\.structure"),
        (GOOD.replace('"t-Na3SbS4"', '"broken.cif"'), r"candidates\[0\]\.structure: .*broken"),
    ],
)
def test_command_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, body, pattern):
    (tmp_path / "broken.cif").write_text("not a structure file at all\n")
    cfg = _write(tmp_path, body)
    out = tmp_path / "run"
    out.mkdir()
    keep = out / "results.csv"
    keep.write_text("an earlier result\n")
    before = sorted(p.name for p in out.iterdir())
    assert workflow_main([str(cfg), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert re.search(pattern, err), err
    assert sorted(p.name for p in out.iterdir()) == before
    assert keep.read_text() == "an earlier result\n"


def test_cli_run_command_when_registered(tmp_path, capsys):
    """``ionraman run`` (the CLI command) gives the same one-line error and exit code 2."""
    from ionraman.cli import app, main

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    if "run" not in names:
        pytest.skip("the `ionraman run` command is not registered in ionraman/cli.py yet")
    cfg = _write(tmp_path, GOOD.replace('"t-Na3SbS4"', '"unobtainium"'))
    assert main(["run", str(cfg), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "candidates[0].structure" in err
    assert not (tmp_path / "run").exists()


def test_a_run_directory_in_use_is_refused(tmp_path):
    import fcntl
    import os

    from ionraman.workflow import run

    out = tmp_path / "run"
    out.mkdir()
    fd = os.open(out / ".ionraman.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InputError, match="another ionraman run is using this run directory"):
            run(load_config(_write(tmp_path, GOOD)), out, quiet=True)
    finally:
        os.close(fd)
    assert sorted(p.name for p in out.iterdir()) == [".ionraman.lock"]


def test_auto_force_field_prefers_a_student_covering_the_chemistry(tmp_path):
    from ionraman.forcefields import register_force_field, unregister_force_field

    def factory():  # never called: prepare() only resolves names
        raise AssertionError

    register_force_field(
        "test-student-nasbs", factory, elements=("Na", "Sb", "S"), kind="student"
    )
    try:
        body = """
        temperatures_K = [700]
        [[candidates]]
        structure = "t-Na3SbS4"
        [[candidates]]
        structure = "c-Na3SbS4:W0.125"
        supercell = 2
        """
        cands = prepare(load_config(_write(tmp_path, body)))
    finally:
        unregister_force_field("test-student-nasbs")
    assert cands[0].force_field == "test-student-nasbs"
    assert cands[0].force_field_note.startswith("distilled student model")
    # W is not covered by the test student; the shipped Na-Sb-W-S student covers it
    assert cands[1].force_field == "nep-na-sb-w-s"
    body = """
    temperatures_K = [700]
    [[candidates]]
    structure = "c-Na3PS4"
    """
    (p_cand,) = prepare(load_config(_write(tmp_path, body)))
    assert p_cand.force_field == "sevenn-l3i5"  # no student covers P: the default universal
    assert p_cand.force_field_note.startswith("universal model")


def test_auto_polarizability_model_uses_a_shipped_model_covering_the_elements(
    tmp_path, monkeypatch, bond_model_path
):
    import shutil

    import ionraman.workflow.preparation as preparation

    shipped = tmp_path / "models"
    shipped.mkdir()
    shutil.copy(bond_model_path, shipped / "alpha_bond_nasbs.json")
    monkeypatch.setattr(preparation, "shipped_models_dir", lambda: shipped)
    body = """
    temperatures_K = [700]
    [[candidates]]
    structure = "t-Na3SbS4"
    [[candidates]]
    structure = "c-Na3SbS4:W0.125"
    supercell = 2
    """
    cands = prepare(load_config(_write(tmp_path, body)))
    assert cands[0].polarizability_model == str(shipped / "alpha_bond_nasbs.json")
    assert cands[0].polarizability_note == "shipped model alpha_bond_nasbs.json"
    # the fixture model has no W parameters: skipped, never invented
    assert cands[1].polarizability_model is None
    assert cands[1].polarizability_note.startswith("skipped: no polarizability model")


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        ("slab", r"candidates\[0\]\.structure: .*slab\.extxyz: vacuum gap of 1\d\.\d Å along cell "
                 r"axis c"),
        ("overlap", r"candidates\[0\]\.structure: .*overlap\.extxyz: atoms 0 \(Na\) and 1 .* "
                    r"0\.200 Å apart"),
        ("hot", r"temperatures_K: .*1000000\.0 K: expected a positive temperature"),
        ("measured", r"report\.measured_spectra\[0\]: .*negative\.csv: measured spectrum "
                     r".*no positive intensity"),
        ("measured_column", r"report\.measured_spectra\[0\]: .*'nope'"),
    ],
)
def test_bad_inputs_of_later_stages_are_refused_at_the_start(tmp_path, capsys, extra, pattern):
    """Structures, temperatures and measured spectra are read and checked before any MD."""
    import ase.io

    from ionraman.structures import load_structure

    atoms = load_structure("t-Na3SbS4")
    slab = atoms.copy()
    slab.set_cell(atoms.cell.array + np.diag([0.0, 0.0, 15.0]), scale_atoms=False)
    ase.io.write(tmp_path / "slab.extxyz", slab)
    atoms.positions[1] = atoms.positions[0] + [0.2, 0.0, 0.0]
    ase.io.write(tmp_path / "overlap.extxyz", atoms)
    shift = np.linspace(10.0, 600.0, 50)
    np.savetxt(tmp_path / "negative.csv", np.column_stack([shift, -1.0 - 0 * shift]),
               delimiter=",", header="raman_shift_cm1,intensity", comments="")
    body = {
        "slab": GOOD.replace('"t-Na3SbS4"', f'"{tmp_path / "slab.extxyz"}"'),
        "overlap": GOOD.replace('"t-Na3SbS4"', f'"{tmp_path / "overlap.extxyz"}"'),
        "hot": GOOD.replace("[700]", "[700, 1e6]"),
        "measured": GOOD + "[[report.measured_spectra]]\ncandidate = 't-Na3SbS4'\n"
        f"path = '{tmp_path / 'negative.csv'}'\n",
        "measured_column": GOOD + "[[report.measured_spectra]]\ncandidate = 't-Na3SbS4'\n"
        f"path = '{REPO / 'tests/data/measured/ccl4_raj2020.csv'}'\ncolumn = 'nope'\n",
    }[extra]
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.csv").write_text("an earlier result\n")
    assert workflow_main([str(_write(tmp_path, body)), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert re.search(pattern, err), err
    assert sorted(p.name for p in out.iterdir()) == ["results.csv"]
    assert (out / "results.csv").read_text() == "an earlier result\n"


def test_run_directory_that_is_a_file_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.write_text("not a directory\n")
    assert workflow_main([str(_write(tmp_path, GOOD)), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: run directory {out}: exists and is not a directory; expected a directory"
    assert out.read_text() == "not a directory\n"


def test_a_name_taken_from_a_file_name_follows_the_name_rule(tmp_path):
    import ase.io

    from ionraman.structures import load_structure

    path = tmp_path / "my phase.extxyz"
    ase.io.write(path, load_structure("t-Na3SbS4"))
    body = GOOD.replace('"t-Na3SbS4"', f'"{path}"')
    with pytest.raises(InputError, match=r"candidates.*'my phase' taken from the file name") as e:
        load_config(_write(tmp_path, body))
    assert "\n" not in str(e.value)
    named = body.replace("[[candidates]]", "[[candidates]]\nname = 'my-phase'")
    assert load_config(_write(tmp_path, named)).candidates[0].label == "my-phase"
