"""Atomic file writing and provenance helpers shared by every stage."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

_TRACKED_PACKAGES = (
    "ionraman",
    "numpy",
    "scipy",
    "ase",
    "h5py",
    "pandas",
    "kinisi",
    "torch",
    "sevenn",
    "chgnet",
)


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash inside the block leaves any earlier file at ``path`` untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes 0600; give the file the usual umask permissions
            os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=json_default))


def json_default(obj: Any) -> Any:
    """``default=`` hook of :func:`json.dumps`: NumPy arrays and scalars, paths."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def json_default_str(obj: Any) -> Any:
    """Like :func:`json_default`, but anything else becomes its ``str`` (for free-form info)."""
    try:
        return json_default(obj)
    except TypeError:
        return str(obj)


def file_sha256(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's contents."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of the packages that shape results (absent ones are left out)."""
    versions = {"python": platform.python_version()}
    for name in (*_TRACKED_PACKAGES, *extra):
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            versions[name] = importlib_metadata.version(name)
    return versions


def provenance(
    parameters: dict[str, Any] | None = None,
    model_files: dict[str, str | os.PathLike[str]] | None = None,
) -> dict[str, Any]:
    """Provenance block: UTC time, host, package versions, parameters and model-file hashes."""
    return {
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "packages": package_versions(),
        "parameters": parameters or {},
        "model_files": {
            name: {"path": str(p), "sha256": file_sha256(p)}
            for name, p in (model_files or {}).items()
        },
    }


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name if the message is empty)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
