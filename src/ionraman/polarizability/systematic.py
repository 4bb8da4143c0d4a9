"""The systematic error of a polarizability model in the low-frequency metric, measured against DFT.

A model's statistical error (time blocks, seeds) says nothing about how far its α is from first
principles. ``scripts/alpha_spectrum_validation.py --record`` measures, on DFT-labelled
consecutive MD frames of each validated phase, the ratio of the model's low-frequency fraction to
DFT's (and of the integrated intensity), and writes them next to the model file as
``<model stem>.validation.json`` (:func:`write_validation`). The workflow reads the record
(:func:`load_validation`) and reports the relative bias of the metric next to its statistical
error: the measured ratio of the candidate's phase when it was validated, else the worst ratio of
any validated phase (so an unvalidated chemistry is not given a small systematic error by default).

Relative bias = ratio − 1 (−0.33: the model's fraction is 33 % below DFT's).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ionraman._io import write_json_atomic
from ionraman.errors import InputError

__all__ = ["ModelValidation", "load_validation", "validation_path", "write_validation"]

FORMAT = "ionraman-alpha-validation"


@dataclass(frozen=True)
class ModelValidation:
    """What a validation against DFT measured for one α model.

    Attributes
    ----------
    model_sha256
        SHA-256 of the model file the record belongs to (a record of another file is ignored).
    lowfreq_fraction_ratio
        Phase → model / DFT low-frequency fraction (dimensionless) on the validation series.
    intensity_ratio
        Phase → model / DFT integrated total reduced intensity.
    series
        Phase → what the series was (frames, interval, resolution).
    command
        How the record was made.
    """

    model_sha256: str
    lowfreq_fraction_ratio: dict[str, float]
    intensity_ratio: dict[str, float] = field(default_factory=dict)
    series: dict[str, str] = field(default_factory=dict)
    command: str = ""

    def lowfreq_bias(self, phase: str | None) -> tuple[float, str]:
        """(relative bias of the low-frequency fraction, where it comes from) for a candidate.

        The candidate's phase (its built-in structure name) when validated, else the validated
        phase with the largest |ratio − 1|.
        """
        if not self.lowfreq_fraction_ratio:
            raise InputError("validation record holds no low-frequency fraction ratio")
        if phase in self.lowfreq_fraction_ratio:
            return self.lowfreq_fraction_ratio[phase] - 1.0, f"validated on {phase}"
        ratios = self.lowfreq_fraction_ratio
        worst = max(ratios, key=lambda p: abs(ratios[p] - 1.0))
        return (
            self.lowfreq_fraction_ratio[worst] - 1.0,
            f"not validated on this phase: worst validated ({worst})",
        )


def validation_path(model_path: str | os.PathLike[str]) -> Path:
    """``<folder>/<model stem>.validation.json`` of a model file."""
    p = Path(model_path)
    return p.with_name(p.stem + ".validation.json")


def write_validation(model_path: str | os.PathLike[str], record: ModelValidation) -> Path:
    """Write ``record`` next to the model (atomic); returns the path."""
    path = validation_path(model_path)
    write_json_atomic(path, {"format": FORMAT, **asdict(record)})
    return path


def load_validation(
    model_path: str | os.PathLike[str], model_sha256: str
) -> ModelValidation | None:
    """The validation record of a model file, or None (no record, or one of another file)."""
    path = validation_path(model_path)
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable validation record ({exc})") from None
    if data.pop("format", None) != FORMAT:
        raise InputError(f"{path}: not an ionraman α validation record")
    record = ModelValidation(**data)
    return record if record.model_sha256 == model_sha256 else None
