"""The embedded default example: shipped in the package, valid, and runs with the shipped models."""

from __future__ import annotations

from pathlib import Path

from ionraman.examples import example_config
from ionraman.workflow.config import load_config
from ionraman.workflow.preparation import resolve_force_field

REPO = Path(__file__).resolve().parents[1]


def test_example_ships_in_the_package_and_is_the_repository_example():
    path = example_config()
    assert path.is_file() and "ionraman/data/examples" in path.as_posix()
    assert (REPO / "examples" / "na-thioantimonates.toml").read_text() == path.read_text()


def test_example_uses_the_shipped_student_for_every_candidate():
    cfg = load_config(example_config())
    assert [c.structure for c in cfg.candidates] == [
        "t-Na3SbS4", "c-Na3SbS4", "c-Na3SbS4:W0.125"]
    for elements in ({"Na", "Sb", "S"}, {"Na", "Sb", "W", "S"}):
        name, note = resolve_force_field(cfg.md.force_field, elements)
        assert name == "nep-na-sb-w-s" and "student" in note
