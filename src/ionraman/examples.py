"""The embedded default example behind ``ionraman demo`` (and ``make demo``).

The example is the screening run of ``ionraman/data/examples/na-thioantimonates.toml`` (also
reachable as ``examples/na-thioantimonates.toml`` in a source checkout): t-Na₃SbS₄, c-Na₃SbS₄ and
W-doped c-Na₃SbS₄ at 600, 750 and 900 K with the shipped models, through MD, polarizability,
spectra, low-frequency metrics, transport, Arrhenius fits, ranking and the HTML report. It ships
inside the package so that ``ionraman demo`` works from any installation.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

EXAMPLE_NAME = "na-thioantimonates"


def example_config(name: str = EXAMPLE_NAME) -> Path:
    """Path of an embedded example configuration (``ionraman/data/examples/<name>.toml``)."""
    from ionraman.errors import InputError

    path = Path(str(resources.files("ionraman") / "data" / "examples" / f"{name}.toml"))
    if not path.is_file():
        raise InputError(f"no embedded example {name!r} ({path})")
    return path


def run_demo(out: str | os.PathLike[str] | None = None, *, quiet: bool = False):
    """Run (or resume) the embedded default screening example.

    Parameters
    ----------
    out
        Run directory (default ``out/na-thioantimonates`` in the working directory).
    quiet
        No progress display.

    Returns
    -------
    ionraman.workflow.RunResult
    """
    from ionraman.workflow import run

    return run(example_config(), out, quiet=quiet)
