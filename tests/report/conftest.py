"""The report tests inspect the end-to-end run of ``tests/workflow`` (its fixtures are shared)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_workflow_conftest", Path(__file__).resolve().parents[1] / "workflow" / "conftest.py"
)
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)

bond_model_path = _mod.bond_model_path
e2e = _mod.e2e
