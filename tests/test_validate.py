"""The validation layer: physical ranges and output paths refused in one line, nothing created."""

from __future__ import annotations

import math
import os

import pytest

from ionraman.conventions import MAX_TEMPERATURE_K
from ionraman.errors import InputError
from ionraman.validate import (
    check_count,
    check_nonzero,
    check_output_dir,
    check_output_file,
    check_positive,
    check_temperature,
)


def _message(func, *args) -> str:
    with pytest.raises(InputError) as info:
        func(*args)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0.0, -300.0, 1e6, "warm"])
def test_unphysical_temperatures_are_refused_with_the_range(value):
    msg = _message(check_temperature, value, "--temperature")
    assert msg.startswith("--temperature = ")
    assert repr(value) in msg and f"0 < T <= {MAX_TEMPERATURE_K:g} K" in msg


@pytest.mark.parametrize("value", [1e-3, 300, 600.0, MAX_TEMPERATURE_K])
def test_physical_temperatures_pass_as_floats(value):
    assert check_temperature(value) == float(value)
    assert check_temperature(None) is None


def test_positive_nonzero_and_count():
    assert check_positive(2, "timestep", "fs") == 2.0
    assert "timestep = -1" in _message(check_positive, -1, "timestep", "fs")
    assert check_nonzero(-2, "--charge", "e") == -2.0
    for bad in (0, 0.0, math.nan):
        assert "--charge = " in _message(check_nonzero, bad, "--charge", "e")
    assert check_count(3, "--threads") == 3 and check_count(None, "--threads") is None
    for bad in (0, -1, 2.5, True):
        assert "expected an integer >= 1" in _message(check_count, bad, "--threads")


def test_output_dir_may_exist_or_be_new_and_is_not_created(tmp_path):
    assert check_output_dir(tmp_path) == tmp_path
    new = tmp_path / "a" / "b"
    assert check_output_dir(new) == new
    assert not (tmp_path / "a").exists()
    assert sorted(os.listdir(tmp_path)) == []  # the write probe leaves nothing behind


def test_output_dir_that_is_a_file_or_lies_under_one(tmp_path):
    f = tmp_path / "results.csv"
    f.write_bytes(b"keep me")
    assert "exists and is not a directory" in _message(check_output_dir, f)
    msg = _message(check_output_dir, f / "sub")
    assert "results.csv is a file" in msg
    assert f.read_bytes() == b"keep me"


def test_output_file_that_is_a_directory_or_lies_under_a_file(tmp_path):
    assert check_output_file(tmp_path / "model.pt") == tmp_path / "model.pt"
    assert "is a directory; expected a file name" in _message(check_output_file, tmp_path, "-o")
    f = tmp_path / "plain"
    f.write_text("x")
    assert "plain is a file" in _message(check_output_file, f / "model.pt")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root writes into read-only directories; the under-a-file tests cover refusal",
)
def test_read_only_directory_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert "cannot write in" in _message(check_output_dir, ro / "out")
        assert "cannot write in" in _message(check_output_file, ro / "run.h5")
    finally:
        ro.chmod(0o755)
