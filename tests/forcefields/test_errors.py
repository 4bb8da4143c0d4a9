"""Every bad force-field input is a one-line InputError that says what to do (no model loading)."""

from __future__ import annotations

import importlib.util
import textwrap
import warnings

import pytest
from ase import Atoms
from ase.calculators.emt import EMT

from ionraman.cli import main
from ionraman.errors import InputError
from ionraman.forcefields import (
    check_elements,
    get_calculator,
    get_force_field,
    list_force_fields,
    load_force_field,
    register_force_field,
    unregister_force_field,
)
from ionraman.md import run_md

UNIVERSAL = ("sevenn-l3i5", "sevenn-0", "sevenn-mf0-pbe", "chgnet", "sevenn-mf0-r2scan")


def _error(name: str, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        load_force_field(name, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 400, msg
    return msg


def test_unknown_name_lists_the_known_ones():
    msg = _error("sevennet-mf-0")
    assert "unknown force field 'sevennet-mf-0'" in msg
    for name in list_force_fields():
        assert name in msg
    assert "FAMILY:/path/to/weights" in msg and "module:factory" in msg
    with pytest.raises(InputError, match="known: sevenn-l3i5"):
        get_force_field("nope")
    with pytest.raises(InputError, match="known: sevenn-l3i5"):
        get_calculator("nope")


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("mace", "mace-torch"),
        ("MACE", "mace-torch"),
        ("mace-mp", "mace-torch"),
        ("mace-mpa-0-medium", "mace-torch"),
        ("mace_mp", "mace-torch"),
        ("mattersim", "mattersim"),
        ("mattersim-v1.0.0-5m", "mattersim"),
        ("orb", "orb-models"),
        ("orb-v3-conservative-inf-omat", "orb-models"),
        ("uma", "fairchem-core"),
        ("uma-s-1p1", "fairchem-core"),
        ("fairchem", "fairchem-core"),
        ("mattersim:", "mattersim"),
    ],
)
def test_download_only_models_say_they_need_a_local_file(name, package):
    msg = _error(name)
    prefix = name.rstrip(":")
    assert "does not work offline" in msg
    assert f"pass {prefix}:/path/to/weights" in msg
    assert package in msg


@pytest.mark.parametrize("family", ["mace", "mattersim", "orb", "uma", "mace-mpa-0-medium"])
def test_missing_weights_file_says_downloads_do_not_work_offline(family):
    msg = _error(f"{family}:/nonexistent/file")
    assert "'/nonexistent/file'" in msg and "not found" in msg
    assert "does not work offline" in msg and f"pass {family}:/path/to/weights" in msg


@pytest.mark.parametrize(
    ("family", "module", "pip"),
    [
        ("mace", "mace", "mace-torch"),
        ("mattersim", "mattersim", "mattersim"),
        ("orb", "orb_models", "orb-models"),
        ("uma", "fairchem", "fairchem-core"),
    ],
)
def test_weights_file_without_the_package_names_the_pip_package(family, module, pip, tmp_path):
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed")
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"not really a model")
    msg = _error(f"{family}:{weights}")
    assert f"pip install {pip}" in msg


def _write(tmp_path, name: str, body: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("no_such_module_xyz:make", "cannot import module 'no_such_module_xyz'"),
        ("os:no_such_factory", "'os' has no callable 'no_such_factory'"),
        ("os:sep", "'os' has no callable 'sep'"),
        (":make", "expected module:factory"),
        ("os:1bad", "expected module:factory"),
        ("/nonexistent/calc.py:make", "'/nonexistent/calc.py' not found"),
        ("{broken}:make", "importing"),
        ("{calcs}:not_a_calculator", "not an ASE calculator"),
        ("{calcs}:no_such_factory", "has no callable 'no_such_factory'"),
    ],
)
def test_bad_module_factory(name, needle, tmp_path):
    broken = _write(tmp_path, "broken.py", "raise RuntimeError('syntax is fine, import is not')\n")
    calcs = _write(
        tmp_path,
        "calcs.py",
        """
        from ase.calculators.emt import EMT

        def emt():
            return EMT()

        def not_a_calculator():
            return 42
        """,
    )
    msg = _error(name.format(broken=broken, calcs=calcs))
    assert needle in msg


def test_factory_rejecting_options_is_an_input_error(tmp_path):
    calcs = _write(
        tmp_path, "opt.py", "from ase.calculators.emt import EMT\n\ndef emt():\n    return EMT()\n"
    )
    msg = _error(f"{calcs}:emt", cutoff=3.0)
    assert "rejected the options" in msg and "cutoff" in msg


def test_user_modules_named_like_a_family_still_load(tmp_path, monkeypatch):
    """'mace_tools:make' is a module:factory name, not MACE with weights file 'make'."""
    _write(
        tmp_path,
        "mace_tools.py",
        "from ase.calculators.emt import EMT\n\ndef make():\n    return EMT()\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert isinstance(get_calculator("mace_tools:make"), EMT)
    assert isinstance(get_calculator(f"{tmp_path / 'mace_tools.py'}:make"), EMT)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"threads": 0}, "threads"), ({"device": "tpu"}, "device"), ({}, "non-empty")],
)
def test_bad_load_arguments(kwargs, needle):
    name = "" if not kwargs else "chgnet"
    assert needle in _error(name, **kwargs)


def test_registered_entry_with_missing_weights(tmp_path):
    register_force_field("test-student-missing", lambda weights: EMT(), weights=tmp_path / "x.pt")
    try:
        msg = _error("test-student-missing")
    finally:
        unregister_force_field("test-student-missing")
    assert "x.pt" in msg and "not found" in msg


@pytest.mark.parametrize("bad", ["a:b", "", " padded "])
def test_register_rejects_bad_names(bad):
    with pytest.raises(InputError, match="must be non-empty"):
        register_force_field(bad, lambda: EMT())


@pytest.mark.parametrize("name", UNIVERSAL)
def test_elements_not_covered(name):
    spec = get_force_field(name)
    check_elements(spec, ["Na", "Sb", "S", "W", "Ge", "Sn"])  # the screening chemistry is covered
    with pytest.raises(InputError) as info:
        check_elements(spec, ["Na", "Fm", "S", "No"])
    msg = str(info.value)
    assert "\n" not in msg
    assert f"force field {name!r} does not cover element(s) Fm, No" in msg


def test_sevennet_gap_at_po_to_ac():
    """SevenNet's type map skips Z = 84-88 (Po-Ra); CHGNet covers them."""
    check_elements(get_force_field("chgnet"), ["Po", "Ra"])
    with pytest.raises(InputError, match="element"):
        check_elements(get_force_field("sevenn-0"), ["Na", "Po"])


@pytest.mark.parametrize("name", UNIVERSAL)
def test_md_with_uncovered_elements_stops_before_loading(name, tmp_path, monkeypatch):
    import ionraman.md.runner as runner

    def no_load(*args, **kwargs):
        raise AssertionError("the force field must not be loaded for a structure it cannot run")

    monkeypatch.setattr(runner, "load_force_field", no_load)
    atoms = Atoms("Na2Fm", positions=[[0, 0, 0], [2, 2, 2], [3, 0, 3]], cell=[6, 6, 6], pbc=True)
    with pytest.raises(InputError) as info:
        run_md(atoms, temperature_k=300, time_ps=0.01, force_field=name, out=tmp_path / "x.h5")
    msg = str(info.value)
    assert "\n" not in msg and f"force field {name!r}" in msg and "Fm" in msg
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-f", "nope"], "known: sevenn-l3i5, sevenn-0, sevenn-mf0-pbe, chgnet, sevenn-mf0-r2scan"),
        (["-f", "mace"], "does not work offline"),
        (["-f", "mace:/nonexistent/mace.model"], "does not work offline"),
        (["-f", "no_such_module_xyz:make"], "cannot import module"),
    ],
)
def test_cli_md_force_field_errors_are_one_line(args, needle, tmp_path, capsys):
    out = tmp_path / "run.h5"
    rc = main(["md", "t-Na3SbS4", "--supercell", "2x2x2", "--time", "20fs", "-o", str(out), *args])
    captured = capsys.readouterr()
    assert rc == 2
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert needle in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()


@pytest.mark.forcefield
@pytest.mark.parametrize("family", ["sevenn", "chgnet"])
def test_corrupt_or_foreign_weights_file_is_an_input_error(family, tmp_path):
    """A student registered with a bad file: one line naming the file, no traceback."""
    pytest.importorskip(family)
    from ionraman.forcefields.builtin import chgnet_calculator, sevennet_calculator

    factory = sevennet_calculator if family == "sevenn" else chgnet_calculator
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00not a checkpoint" * 64)
    foreign = get_force_field("chgnet" if family == "sevenn" else "sevenn-0").weights_path()
    for weights in (garbage, foreign):
        register_force_field("test-student-bad", factory, weights=weights, overwrite=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # sevenn warns about the missing config
                msg = _error("test-student-bad")
        finally:
            unregister_force_field("test-student-bad")
        assert f"loading weights file {str(weights)!r} failed" in msg


def test_check_force_field_refuses_unknown_names_and_elements_without_loading():
    from ionraman.forcefields.registry import check_force_field

    check_force_field("sevenn-l3i5", {"Na", "Sb", "S"})
    check_force_field("some.module:factory")  # checked when loaded
    with pytest.raises(InputError, match="unknown force field 'nope'; known: sevenn-l3i5"):
        check_force_field("nope")
    with pytest.raises(InputError, match=r"'nep-na-sb-w-s' does not cover element\(s\) Cl"):
        check_force_field("nep-na-sb-w-s", {"Na", "Cl"})
