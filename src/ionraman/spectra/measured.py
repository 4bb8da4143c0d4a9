"""Measured Raman spectra: the container and the readers (text/CSV tables and JCAMP-DX).

Supported inputs (:func:`read_measured`):

* **two-column text/CSV**: x and intensity; delimiter ``,``, ``;``, tab or blanks (detected);
  comment lines start with ``#``, ``%`` or ``//``; any non-numeric lines before the first data row
  are a header, the last of them naming the columns. ``key: value`` / ``key = value`` lines in the
  header or comments are kept as metadata, and a laser wavelength (``laser ... 532 nm``) or a
  temperature (``temperature ... 300 K`` or ``... °C``) found there is used.
* **multi-spectrum CSV** (temperature series): x then one intensity column per spectrum; a
  temperature in a column name (``300 K``, ``T=350K``, ``25 °C``, or a bare number when every
  intensity column is one) becomes that spectrum's ``temperature_k``.
* **JCAMP-DX** (``.jdx``, ``.dx``, ``.jcamp``), the vendor-neutral export of most Raman software
  (Renishaw WiRE, Horiba LabSpec, Thermo OMNIC, Bruker OPUS ...), read with the maintained
  ``jcamp`` package from PyPI; compound (``LINK``) files give one spectrum per block.

The x axis is converted to the Raman shift ν̃ = ν̃_L − ν̃_scattered in cm⁻¹ (Stokes side positive):
``x_unit`` ``"raman_shift_cm1"`` (as is), ``"absolute_cm1"`` (absolute wavenumber of the scattered
light) or ``"nm"`` (its vacuum wavelength); the latter two need the laser wavelength. ``"auto"``
decides from the column name or JCAMP ``XUNITS`` (``nm``/``wavelength`` → nm, ``abs`` →
absolute) and otherwise takes Raman shift, unless every x value exceeds 5000 cm⁻¹ (absolute
wavenumbers of visible/NIR light; Raman shifts of interest stay below ~4000 cm⁻¹). Wavelengths in
nm cannot be told from Raman shifts by value: name the column or pass ``x_unit="nm"``.

Every problem with a file raises :class:`~ionraman.errors.InputError` with a one-line message
naming the file (and line, for text tables).
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ionraman._io import file_sha256
from ionraman.conventions import laser_wavelength_nm_to_cm1
from ionraman.errors import InputError
from ionraman.validate import check_temperature

__all__ = [
    "JCAMP_SUFFIXES",
    "TEXT_SUFFIXES",
    "X_UNITS",
    "MeasuredSpectrum",
    "read_measured",
    "select_spectrum",
]

X_UNITS: dict[str, str] = {
    "auto": "from the column name / XUNITS, else Raman shift (absolute if all x > 5000)",
    "raman_shift_cm1": "Raman shift in cm^-1 (Stokes positive)",
    "absolute_cm1": "absolute wavenumber of the scattered light in cm^-1 (needs the laser)",
    "nm": "vacuum wavelength of the scattered light in nm (needs the laser)",
}
"""Accepted values of ``x_unit``."""

TEXT_SUFFIXES = (".csv", ".txt", ".dat", ".tsv", ".asc", ".xy", ".prn")
JCAMP_SUFFIXES = (".jdx", ".dx", ".jcamp", ".jcm")
_ABSOLUTE_THRESHOLD_CM1 = 5000.0
_COMMENT_PREFIXES = ("#", "%", "//")
_KEY_VALUE = re.compile(r"^\s*([A-Za-z][^:=]{0,60}?)\s*[:=]\s*(.+?)\s*$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TEMPERATURE = re.compile(
    r"(?<![\w.])([-+]?\d+(?:\.\d+)?)\s*(°\s*C|deg\s*C|degC|C|K|kelvin)(?![a-zA-Z])", re.IGNORECASE
)


@dataclass
class MeasuredSpectrum:
    """One measured Raman spectrum on its own (possibly non-uniform) Raman-shift grid.

    Attributes
    ----------
    raman_shift_cm1
        ``[N]`` Raman shifts in cm⁻¹, strictly increasing (negative = anti-Stokes side).
    intensity
        ``[N]`` intensities in the file's unit (counts, arbitrary units, ...).
    label
        Name of the spectrum (column name or JCAMP title).
    temperature_k
        Sample temperature in K, or None when unknown.
    laser_wavelength_nm
        Excitation wavelength in nm, or None when unknown.
    variant
        ``"stokes"`` as measured (Stokes intensity, Bose and laser factors included) or
        ``"reduced"`` after :func:`ionraman.spectra.preprocess.to_reduced` (χ'' up to a constant),
        matching the variants of :class:`~ionraman.spectra.RamanSpectrum`.
    metadata
        ``source`` (path, sha256, format, column, x unit and how it was decided, header
        key/values), ``temperature_source``, ``laser_source`` and ``preprocessing`` (the list
        of steps applied, in order, each a dict with its ``step`` name and parameters).
    """

    raman_shift_cm1: np.ndarray
    intensity: np.ndarray
    label: str = "measured"
    temperature_k: float | None = None
    laser_wavelength_nm: float | None = None
    variant: str = "stokes"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        nu = np.asarray(self.raman_shift_cm1, dtype=float)
        y = np.asarray(self.intensity, dtype=float)
        if nu.ndim != 1 or y.shape != nu.shape:
            raise InputError(
                f"measured spectrum {self.label!r}: shift and intensity must be 1-D arrays of one "
                f"length, got {nu.shape} and {y.shape}"
            )
        if nu.size < 3:
            raise InputError(f"measured spectrum {self.label!r} has {nu.size} points; need >= 3")
        if not (np.isfinite(nu).all() and np.isfinite(y).all()):
            raise InputError(f"measured spectrum {self.label!r} contains NaN or infinite values")
        if not (np.diff(nu) > 0).all():
            raise InputError(
                f"measured spectrum {self.label!r}: Raman shifts must be strictly increasing "
                "(duplicate x values?)"
            )
        self.raman_shift_cm1 = nu
        self.intensity = y
        self.metadata.setdefault("preprocessing", [])

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The preprocessing steps applied so far (in order)."""
        return self.metadata["preprocessing"]

    def derive(
        self,
        raman_shift_cm1: np.ndarray,
        intensity: np.ndarray,
        step: dict[str, Any] | None = None,
        **changes: Any,
    ) -> MeasuredSpectrum:
        """A new spectrum with new data (and field ``changes``), ``step`` appended to its record.

        The metadata is deep-copied, so the original spectrum is left untouched.
        """
        meta = copy.deepcopy(self.metadata)
        if step is not None:
            meta.setdefault("preprocessing", []).append(step)
        return replace(
            self, raman_shift_cm1=raman_shift_cm1, intensity=intensity, metadata=meta, **changes
        )

    def to_dataframe(self) -> pd.DataFrame:
        """Table with ``raman_shift_cm1`` and ``intensity_<variant>``."""
        return pd.DataFrame(
            {"raman_shift_cm1": self.raman_shift_cm1, f"intensity_{self.variant}": self.intensity}
        )


# ------------------------------------------------------------------------------------------------
# Public readers
# ------------------------------------------------------------------------------------------------
def read_measured(
    path: str | os.PathLike[str],
    *,
    x_unit: str = "auto",
    laser_wavelength_nm: float | None = None,
    temperature_k: float | None = None,
    file_format: str = "auto",
) -> list[MeasuredSpectrum]:
    """Read every spectrum of a measured-spectrum file.

    Parameters
    ----------
    path
        Text/CSV table (``.csv .txt .dat .tsv .asc .xy .prn``) or JCAMP-DX file
        (``.jdx .dx .jcamp .jcm``).
    x_unit
        A key of :data:`X_UNITS`; ``"auto"`` is described in the module docstring.
    laser_wavelength_nm
        Excitation wavelength in nm; overrides one found in the file. Needed for absolute x axes
        and (later) for the laser-factor de-correction.
    temperature_k
        Sample temperature in K; overrides temperatures found in the file or column names.
    file_format
        ``"auto"`` (by suffix), ``"text"`` or ``"jcamp"``.

    Returns
    -------
    list[MeasuredSpectrum]
        One per intensity column (text) or data block (JCAMP-DX), in file order, each with
        ``variant="stokes"`` and an empty preprocessing record.

    Raises
    ------
    InputError
        Missing/unreadable/malformed file, unknown unit or format, absolute x axis without a
        laser wavelength, no Stokes (positive-shift) data (one-line message).
    """
    p = Path(path)
    if x_unit not in X_UNITS:
        raise InputError(f"unknown x_unit {x_unit!r}; expected one of: {', '.join(X_UNITS)}")
    if not p.is_file():
        raise InputError(f"{p}: no such measured-spectrum file")
    fmt = file_format
    if fmt == "auto":
        suffix = p.suffix.lower()
        if suffix in JCAMP_SUFFIXES:
            fmt = "jcamp"
        elif suffix in TEXT_SUFFIXES:
            fmt = "text"
        else:
            known = " ".join((*TEXT_SUFFIXES, *JCAMP_SUFFIXES))
            raise InputError(
                f"{p}: unknown measured-spectrum format {suffix or '(no suffix)'!r}; expected one "
                f"of {known} (or pass file_format='text'/'jcamp')"
            )
    if fmt == "text":
        raw = _read_text(p)
    elif fmt == "jcamp":
        raw = _read_jcamp(p)
    else:
        raise InputError(f"unknown file_format {file_format!r}; expected auto, text or jcamp")
    if laser_wavelength_nm is not None and not (
        math.isfinite(laser_wavelength_nm) and laser_wavelength_nm > 0
    ):
        raise InputError(
            f"laser wavelength must be a positive number of nm, got {laser_wavelength_nm}"
        )
    temperature_k = check_temperature(temperature_k, "temperature_k")
    sha = file_sha256(p)
    spectra: list[MeasuredSpectrum] = []
    for block in raw:
        spectra.extend(_finish(p, sha, fmt, block, x_unit, laser_wavelength_nm, temperature_k))
    for spectrum in spectra:
        _check_some_positive(p, spectrum)
    return spectra


def _check_some_positive(path: Path, spectrum: MeasuredSpectrum) -> None:
    """A recorded Raman spectrum counts photons: refuse one without a single positive value."""
    top = float(spectrum.intensity.max())
    if not top > 0:
        raise InputError(
            f"{path}: measured spectrum {spectrum.label!r} has no positive intensity (largest "
            f"{top:.4g}); expected Raman intensities (a sign-flipped export?)"
        )


def select_spectrum(
    spectra: list[MeasuredSpectrum],
    select: str | int | None = None,
    *,
    temperature_k: float | None = None,
) -> MeasuredSpectrum:
    """Pick one spectrum of a (multi-spectrum) file.

    Parameters
    ----------
    spectra
        From :func:`read_measured`.
    select
        Column label (exact, or the only label containing it; tried first for strings) or
        0-based index; None picks the only spectrum, else the one whose temperature is closest
        to ``temperature_k``.
    temperature_k
        Target temperature in K (e.g. the simulation's) for ``select=None``.

    Raises
    ------
    InputError
        No match, an ambiguous label, or several spectra and no way to choose.
    """
    if not spectra:
        raise InputError("no measured spectra to choose from")
    labels = [s.label for s in spectra]
    if select is None:
        if len(spectra) == 1:
            return spectra[0]
        with_t = [s for s in spectra if s.temperature_k is not None]
        if temperature_k is not None and with_t:
            return min(with_t, key=lambda s: abs(float(s.temperature_k) - temperature_k))
        raise InputError(
            f"the file holds {len(spectra)} spectra ({', '.join(labels)}); choose one by column "
            "name or index"
        )
    if isinstance(select, str):
        if select in labels:
            return spectra[labels.index(select)]
        hits = [s for s in spectra if select.lower() in s.label.lower()]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise InputError(f"spectrum {select!r} matches several of: {', '.join(labels)}")
        if not select.strip().lstrip("-").isdigit():
            raise InputError(
                f"spectrum {select!r} matches none of the columns: {', '.join(labels)}"
            )
    idx = int(select)
    if not -len(spectra) <= idx < len(spectra):
        raise InputError(
            f"spectrum {select!r} is neither a column ({', '.join(labels)}) nor an index below "
            f"{len(spectra)}"
        )
    return spectra[idx]


# ------------------------------------------------------------------------------------------------
# Text tables
# ------------------------------------------------------------------------------------------------
@dataclass
class _Block:
    x: np.ndarray
    ys: list[np.ndarray]
    x_name: str
    y_names: list[str]
    header: dict[str, str]
    x_unit_hint: str | None = None
    title: str | None = None


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith(_COMMENT_PREFIXES)


def _split(line: str, delimiter: str | None) -> list[str]:
    """Fields of ``line`` (blank-separated when ``delimiter`` is None), quotes stripped."""
    if delimiter is None:
        return [p.strip('"').strip("'") for p in line.split()]
    parts = [p.strip().strip('"').strip("'") for p in line.split(delimiter)]
    return parts[:-1] if len(parts) > 1 and parts[-1] == "" else parts  # trailing delimiter


def _to_floats(parts: list[str], decimal_comma: bool) -> list[float] | None:
    out = []
    for part in parts:
        text = part.replace(",", ".") if decimal_comma else part
        try:
            out.append(float(text))
        except ValueError:
            return None
    return out


def _detect_delimiter(line: str) -> tuple[str | None, bool]:
    """(delimiter, decimal comma) that split ``line`` into ≥ 2 numbers, else (None, False)."""
    candidates = ((",", False), (";", False), (";", True), ("\t", False), ("\t", True))
    for delim, dec_comma in (*candidates, (None, False), (None, True)):
        parts = _split(line, delim)
        if len(parts) >= 2 and _to_floats(parts, dec_comma) is not None:
            return delim, dec_comma
    return None, False


def _looks_numeric(line: str) -> bool:
    delim, dec = _detect_delimiter(line)
    parts = _split(line, delim)
    return len(parts) >= 2 and _to_floats(parts, dec) is not None


def _read_text(path: Path) -> list[_Block]:
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if "\x00" in text[:4096]:
        raise InputError(f"{path}: binary file, not a text table (JCAMP-DX or CSV expected)")
    lines = text.splitlines()
    header: dict[str, str] = {}
    header_lines: list[str] = []
    comment_lines: list[str] = []
    start = None
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if _is_comment(line):
            body = line.lstrip().lstrip("#%/").strip()
            if m := _KEY_VALUE.match(body):
                header[m.group(1).strip()] = m.group(2).strip()
            elif body:
                comment_lines.append(body)  # e.g. numpy.savetxt's '# x,y' column names
            continue
        if _looks_numeric(line):
            start = i
            break
        header_lines.append(line)
        if m := _KEY_VALUE.match(line):
            header[m.group(1).strip()] = m.group(2).strip()
    if start is None:
        raise InputError(f"{path}: no numeric data rows found (expected columns x, intensity ...)")
    delim, dec_comma = _detect_delimiter(lines[start])
    rows: list[list[float]] = []
    n_cols = None
    for i in range(start, len(lines)):
        line = lines[i]
        if not line.strip() or _is_comment(line):
            continue
        parts = _split(line, delim)
        values = _to_floats(parts, dec_comma)
        if values is None:
            raise InputError(f"{path}, line {i + 1}: not a row of numbers: {line.strip()[:60]!r}")
        if n_cols is None:
            n_cols = len(values)
        elif len(values) != n_cols:
            raise InputError(
                f"{path}, line {i + 1}: {len(values)} columns, expected {n_cols} as in line "
                f"{start + 1}"
            )
        if not all(math.isfinite(v) for v in values):
            raise InputError(f"{path}, line {i + 1}: NaN or infinite value")
        rows.append(values)
    if len(rows) < 3:
        raise InputError(f"{path}: only {len(rows)} data rows; need at least 3")
    data = np.asarray(rows, dtype=float)
    candidate = (header_lines or comment_lines or [""])[-1]
    names = _column_names(candidate, delim, data.shape[1])
    return [
        _Block(
            x=data[:, 0],
            ys=[data[:, j] for j in range(1, data.shape[1])],
            x_name=names[0],
            y_names=names[1:],
            header=header,
            # column names that did not split like the data may still name the x unit
            x_unit_hint=None if names[0] != "x" else _unit_from_name(candidate),
        )
    ]


def _column_names(line: str, delim: str | None, n: int) -> list[str]:
    """Column names from a header line that splits like the data into ``n`` fields, else
    generic names (``x``, ``intensity`` or ``intensity_1 ...``)."""
    parts = _split(line, delim) if line else []
    if len(parts) == n and all(parts) and _to_floats(parts, False) is None:
        return parts
    return ["x"] + (["intensity"] if n == 2 else [f"intensity_{j}" for j in range(1, n)])


# ------------------------------------------------------------------------------------------------
# JCAMP-DX
# ------------------------------------------------------------------------------------------------
def _read_jcamp(path: Path) -> list[_Block]:
    try:
        import jcamp
    except ImportError:  # pragma: no cover - a declared dependency
        raise InputError("reading JCAMP-DX needs the 'jcamp' package: pip install jcamp") from None
    messages = io.StringIO()
    try:
        with open(path, "rb") as fh, contextlib.redirect_stdout(messages):
            parsed = jcamp.read(fh)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except Exception as exc:  # the parser raises bare ValueError/KeyError/IndexError
        raise InputError(f"{path}: malformed JCAMP-DX file ({type(exc).__name__}: {exc})") from None
    blocks = [c for c in parsed.get("children", []) if len(c.get("x", ()))] or [parsed]
    out = []
    for k, block in enumerate(blocks):
        x = np.asarray(block.get("x", []), dtype=float)
        y = np.asarray(block.get("y", []), dtype=float)
        if x.size == 0 or y.size == 0:
            raise InputError(f"{path}: JCAMP-DX file without XYDATA/XYPOINTS data")
        if x.size != y.size:
            raise InputError(
                f"{path}: JCAMP-DX block {k + 1} has {x.size} x values but {y.size} y values "
                "(corrupt or truncated data)"
            )
        header = {
            str(key): str(val)
            for key, val in block.items()
            if key not in ("x", "y", "children", "filename") and not isinstance(val, list)
        }
        if not header.get("jcamp-dx") and not parsed.get("jcamp-dx"):
            raise InputError(f"{path}: not a JCAMP-DX file (no ##JCAMP-DX= header line)")
        xunits = header.get("xunits", "").strip().upper()
        hint = None
        if xunits in ("1/CM", "CM-1", "CM^-1", "WAVENUMBERS", "RAMAN SHIFT"):
            hint = "raman_shift_cm1"
        elif xunits in ("NANOMETERS", "NM"):
            hint = "nm"
        elif xunits:
            hint = f"unsupported:{xunits}"
        if messages.getvalue().strip():
            header["parser_warnings"] = " | ".join(messages.getvalue().strip().splitlines()[:5])
        title = header.get("title") or path.stem
        out.append(
            _Block(
                x=x,
                ys=[y],
                x_name=xunits or "x",
                y_names=[title],
                header=header,
                x_unit_hint=hint,
                title=title,
            )
        )
    return out


# ------------------------------------------------------------------------------------------------
# Units, laser and temperature
# ------------------------------------------------------------------------------------------------
def _unit_from_name(name: str) -> str | None:
    low = name.lower()
    if "nm" in re.findall(r"[a-z]+", low) or "wavelength" in low:
        return "nm"
    if "abs" in low:
        return "absolute_cm1"
    if "shift" in low or re.search(r"cm\s*(\^?-1|⁻¹)|1/cm", low):
        return "raman_shift_cm1"
    return None


def _number_in(text: str) -> float | None:
    m = _NUMBER.search(text)
    return float(m.group()) if m else None


def _laser_from_header(header: dict[str, str]) -> tuple[float | None, str | None]:
    """Laser wavelength (nm) from a ``laser``/``excitation`` header entry: a number of nm in
    150–2500, or an absolute wavenumber marked ``cm`` (4000–70000 cm⁻¹); entries about power,
    time etc. are skipped."""
    skip = ("power", "intensity", "time", "spot", "grating", "filter", "mw", "exposure")
    for key, val in header.items():
        low, text = key.lower(), val.lower()
        if not ("laser" in low or "excitation" in low) or any(w in low for w in skip):
            continue
        num = _number_in(val)
        if num is None:
            continue
        if "cm" in text:
            if 4000.0 < num < 70000.0:
                return 1e7 / num, key
        elif 150.0 <= num <= 2500.0:
            return num, key
    return None, None


def _temperature_from_text(text: str) -> float | None:
    m = _TEMPERATURE.search(text)
    if not m:
        return None
    value = float(m.group(1))
    unit = m.group(2).lower().replace(" ", "")
    t = value + 273.15 if "c" in unit and unit != "k" and "kelvin" not in unit else value
    return t if t > 0 else None


def _temperature_from_header(header: dict[str, str]) -> tuple[float | None, str | None]:
    for key, val in header.items():
        if "temp" in key.lower():
            t = _temperature_from_text(val)
            if t is None:
                num = _number_in(val)
                t = num if num is not None and num > 0 else None
            if t is not None:
                return t, key
    return None, None


def _finish(
    path: Path,
    sha: str,
    fmt: str,
    block: _Block,
    x_unit: str,
    laser_nm: float | None,
    temperature_k: float | None,
) -> list[MeasuredSpectrum]:
    # laser
    laser_source = "argument" if laser_nm is not None else None
    if laser_nm is None:
        laser_nm, key = _laser_from_header(block.header)
        laser_source = f"file header {key!r}" if key else None
    # x unit
    unit = x_unit
    unit_reason = "argument"
    if unit == "auto":
        hint = block.x_unit_hint or _unit_from_name(block.x_name)
        if hint and hint.startswith("unsupported:"):
            raise InputError(
                f"{path}: JCAMP-DX XUNITS={hint.split(':', 1)[1]!r} is not a Raman axis; pass "
                "x_unit explicitly (raman_shift_cm1, absolute_cm1 or nm)"
            )
        if hint:
            unit, unit_reason = hint, f"from {block.x_name!r}"
        elif block.x.min() > _ABSOLUTE_THRESHOLD_CM1:
            unit, unit_reason = "absolute_cm1", f"all x > {_ABSOLUTE_THRESHOLD_CM1:g}"
        else:
            unit, unit_reason = "raman_shift_cm1", "default"
    if unit in ("absolute_cm1", "nm"):
        if laser_nm is None:
            raise InputError(
                f"{path}: the x axis is {X_UNITS[unit].split(' (')[0]}; give the laser wavelength "
                "(laser_wavelength_nm / --laser-nm) to convert it to Raman shift"
            )
        nu_laser = laser_wavelength_nm_to_cm1(laser_nm)
        if unit == "nm":
            if (block.x <= 0).any():
                raise InputError(f"{path}: wavelengths must be positive (nm)")
            shift = nu_laser - 1e7 / block.x
        else:
            shift = nu_laser - block.x
    else:
        shift = block.x
    if not (shift > 0).any():
        raise InputError(
            f"{path}: no Stokes (positive Raman shift) points after converting the x axis "
            f"({unit}); check the x unit and the laser wavelength"
        )
    order = np.argsort(shift, kind="stable")
    shift = shift[order]
    if (np.diff(shift) <= 0).any():
        raise InputError(f"{path}: repeated x values; each Raman shift must appear once")
    # temperatures
    spectra_t = []
    bare = all(re.fullmatch(r"\s*\d+(\.\d+)?\s*", n) for n in block.y_names) and len(block.ys) > 1
    head_t, head_key = _temperature_from_header(block.header)
    for name in block.y_names:
        if temperature_k is not None:
            spectra_t.append((float(temperature_k), "argument"))
        elif (t := _temperature_from_text(name)) is not None:
            spectra_t.append((t, f"column name {name!r}"))
        elif bare:
            spectra_t.append((float(name), f"column name {name!r} (bare number taken as K)"))
        elif head_t is not None:
            spectra_t.append((head_t, f"file header {head_key!r}"))
        else:
            spectra_t.append((None, None))
    results = []
    for name, y, (t, t_source) in zip(block.y_names, block.ys, spectra_t, strict=True):
        # one intensity column of a text table: the file name says more than "intensity"
        single_text = fmt == "text" and len(block.ys) == 1
        label = path.stem if single_text or not name.strip() else name
        spectrum = MeasuredSpectrum(
            raman_shift_cm1=shift,
            intensity=np.asarray(y, dtype=float)[order],
            label=label,
            temperature_k=t,
            laser_wavelength_nm=laser_nm,
            variant="stokes",
            metadata={
                "source": {
                    "path": str(path),
                    "sha256": sha,
                    "format": "jcamp-dx" if fmt == "jcamp" else "text table",
                    "column": name,
                    "x_column": block.x_name,
                    "x_unit": unit,
                    "x_unit_reason": unit_reason,
                    "header": dict(block.header),
                },
                "temperature_source": t_source,
                "laser_source": laser_source,
                "preprocessing": [],
            },
        )
        results.append(spectrum)
    return results
