"""Registry of force fields: a name → an ASE calculator, with provenance.

Three kinds of names are understood by :func:`load_force_field` / :func:`get_calculator`:

* a **registered name** (``"sevenn-l3i5"``, ``"sevenn-0"``, ``"chgnet"``, ... and whatever was
  added with :func:`register_force_field`, e.g. distilled NEP students);
* ``FAMILY:/path/to/weights`` for universal models whose automatic downloads do not work offline
  (MACE-MP, MatterSim, ORB, UMA; see :mod:`ionraman.forcefields.external`);
* ``module:factory`` or ``path/to/file.py:factory``: any callable returning an ASE calculator.

Every load returns a :class:`LoadedForceField` whose :meth:`~LoadedForceField.provenance` records
the name, the weights file and its SHA-256, the package versions and the options used.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import inspect
import io
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from ase.calculators.calculator import BaseCalculator
from ase.data import atomic_numbers, chemical_symbols

from ionraman._io import file_sha256
from ionraman.errors import InputError
from ionraman.forcefields.spec import Factory, ForceFieldSpec

DEFAULT_FORCE_FIELD = "sevenn-l3i5"
"""The default universal model: SevenNet 7net-l3i5, the universal model closest to DFT (QE PBE)
forces in ``ionraman forcefield audit`` (ionraman/data/forcefields/README.md). Used where no
student covers a chemistry and to explore new ones; production MD runs on DFT-trained students."""

@dataclass
class LoadedForceField:
    """A built calculator and what it was built from.

    Attributes
    ----------
    name
        The name given to :func:`load_force_field`.
    calculator
        The ASE calculator.
    spec
        The registry entry (a synthetic one for ``module:factory`` and ``FAMILY:path`` names).
    weights_path, weights_sha256
        Weights file actually used and its SHA-256 (``None`` when there is no file).
    options
        Options passed to the factory (device included).
    threads
        torch CPU threads in effect after loading (``None`` when torch is not imported).
    """

    name: str
    calculator: BaseCalculator
    spec: ForceFieldSpec
    weights_path: Path | None = None
    weights_sha256: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None

    def provenance(self) -> dict[str, Any]:
        """JSON-serialisable provenance block for result metadata."""
        return {
            "name": self.name,
            "kind": self.spec.kind,
            "description": self.spec.description,
            "reference": self.spec.reference,
            "weights_path": str(self.weights_path) if self.weights_path else None,
            "weights_sha256": self.weights_sha256,
            "dtype": self.spec.dtype,
            "threads": self.threads,
            "options": {k: _jsonable(v) for k, v in self.options.items()},
            "packages": _versions(self.spec.packages),
            "calculator_class": f"{type(self.calculator).__module__}."
            f"{type(self.calculator).__qualname__}",
        }


_REGISTRY: dict[str, ForceFieldSpec] = {}


def register_force_field(
    name: str,
    factory: Factory,
    *,
    description: str = "",
    elements: Iterable[str] | None = None,
    reference: str = "",
    weights: str | Path | Callable[[], Path] | None = None,
    sha256: str | None = None,
    dtype: str = "float32",
    default_threads: int | None = None,
    packages: Iterable[str] = (),
    kind: str = "student",
    overwrite: bool = False,
) -> ForceFieldSpec:
    """Add a force field to the registry (the hook for distilled student models such as NEP).

    Parameters
    ----------
    name
        Registry name; must not contain ``":"`` (reserved for ``module:factory`` names).
    factory
        Callable returning an ASE calculator. It is called with the keyword arguments it
        accepts among ``device`` and ``weights`` (the resolved weights path), plus the options
        given to :func:`load_force_field`.
    description, elements, reference, weights, sha256, dtype, default_threads, packages, kind
        See :class:`ForceFieldSpec`.
    overwrite
        Replace an existing entry of the same name instead of raising.

    Returns
    -------
    ForceFieldSpec
        The stored entry.
    """
    if not name or ":" in name or name != name.strip():
        raise InputError(f"force-field name {name!r} must be non-empty, without ':' or spaces")
    if not callable(factory):
        raise InputError(f"force field {name!r}: factory must be callable, got {factory!r}")
    if name in _REGISTRY and not overwrite:
        raise InputError(f"force field {name!r} is already registered (pass overwrite=True)")
    elems = None
    if elements is not None:
        elems = tuple(elements)
        unknown = [e for e in elems if e not in atomic_numbers]
        if unknown:
            raise InputError(f"force field {name!r}: unknown element symbols {unknown}")
    if weights is not None and not callable(weights):
        weights = Path(weights)
    spec = ForceFieldSpec(
        name=name,
        factory=factory,
        description=description,
        elements=elems,
        reference=reference,
        weights=weights,
        sha256=sha256,
        dtype=dtype,
        default_threads=default_threads,
        packages=tuple(packages),
        kind=kind,
    )
    _REGISTRY[name] = spec
    return spec


def unregister_force_field(name: str) -> None:
    """Remove a registry entry (no error when absent)."""
    _REGISTRY.pop(name, None)


def list_force_fields() -> list[str]:
    """Registered names, in registration order (built-in universal models first)."""
    return list(_REGISTRY)


def get_force_field(name: str) -> ForceFieldSpec:
    """Registry entry of ``name``; :class:`InputError` listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(_unknown_message(name)) from None


def force_field_table() -> Any:
    """Registered force fields as a pandas DataFrame (one row per entry, no model loading)."""
    import pandas as pd

    rows = []
    for spec in _REGISTRY.values():
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "description": spec.description,
                "n_elements": len(spec.elements) if spec.elements is not None else None,
                "dtype": spec.dtype,
                "default_threads": spec.default_threads,
                "reference": spec.reference,
            }
        )
    return pd.DataFrame(rows)


def load_force_field(
    name: str,
    *,
    device: str = "cpu",
    threads: int | None = None,
    **options: Any,
) -> LoadedForceField:
    """Build the calculator of ``name`` (offline) and collect its provenance.

    Parameters
    ----------
    name
        A registered name, ``FAMILY:/path/to/weights`` (``mace``, ``mattersim``, ``orb``,
        ``uma``), or ``module:factory`` / ``file.py:factory``.
    device
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
    threads
        torch CPU threads (process-wide ``torch.set_num_threads``); ``None`` uses the entry's
        default, else torch's own default.
    **options
        Passed to the factory (e.g. ``modal=`` for SevenNet multi-fidelity models,
        ``task_name=`` for UMA, ``model=`` for ORB).

    Returns
    -------
    LoadedForceField

    Raises
    ------
    InputError
        Unknown name (the message lists the known names), a bad ``module:factory``, a missing
        weights file or a missing optional package (one-line messages).
    """
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"force field must be a non-empty name, got {name!r}")
    name = name.strip()
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise InputError(f"threads must be a positive integer, got {threads!r}")
    _check_device(device)
    spec = _REGISTRY.get(name)
    if spec is None:
        from ionraman.forcefields.external import resolve_external

        spec = resolve_external(name)
        if spec is None:
            spec = _module_factory_spec(name)
        if spec is None:
            raise InputError(_unknown_message(name))

    # Models that do not run on torch (NEP via calorine) never import it: importing torch and
    # toggling its deterministic mode costs seconds per process.
    uses_torch = spec.kind == "custom" or "torch" in spec.packages
    n_threads = threads if threads is not None else spec.default_threads
    if uses_torch:
        _set_threads(n_threads)

    weights = spec.weights_path()
    if weights is not None and not weights.is_file():
        raise InputError(f"weights file {str(weights)!r} of force field {name!r} not found")
    digest = file_sha256(weights) if weights is not None else None
    if spec.sha256 and digest and digest != spec.sha256:
        warnings.warn(
            f"weights of force field {name!r} ({weights}) have SHA-256 {digest[:12]}…, not the "
            f"{spec.sha256[:12]}… this registry entry was made for; results may differ",
            stacklevel=2,
        )

    kwargs = dict(options)
    accepted = _accepted_kwargs(spec.factory)
    # User factories get ``device`` only when they name it (a bare **kwargs may not expect it).
    takes_device = "device" in accepted if accepted is not None else spec.kind != "custom"
    if takes_device:
        kwargs.setdefault("device", _resolve_device(device) if uses_torch else "cpu")
    if weights is not None and (accepted is None or "weights" in accepted):
        kwargs.setdefault("weights", weights)
    calc = _call_factory(spec, kwargs)
    if not isinstance(calc, BaseCalculator):
        raise InputError(
            f"force field {name!r}: factory returned {type(calc).__name__}, not an ASE calculator"
        )
    return LoadedForceField(
        name=name,
        calculator=calc,
        spec=spec,
        weights_path=weights,
        weights_sha256=digest,
        options={
            **_fixed_options(spec.factory),
            **{k: v for k, v in kwargs.items() if k != "weights"},
        },
        threads=_current_threads(),
    )


def get_calculator(
    name: str, *, device: str = "cpu", threads: int | None = None, **options: Any
) -> BaseCalculator:
    """The ASE calculator of ``name``; see :func:`load_force_field` for the arguments."""
    return load_force_field(name, device=device, threads=threads, **options).calculator


def check_elements(spec: ForceFieldSpec, symbols: Iterable[str]) -> None:
    """Raise :class:`InputError` when ``symbols`` holds elements the force field does not cover."""
    if spec.elements is None:
        return
    missing = sorted(set(symbols) - set(spec.elements), key=lambda s: atomic_numbers[s])
    if missing:
        raise InputError(
            f"force field {spec.name!r} does not cover element(s) {', '.join(missing)}"
        )


def check_force_field(name: str, elements: Iterable[str] | None = None) -> None:
    """Refuse an unknown force-field name, or ``elements`` a registered one does not cover.

    Nothing is loaded. ``FAMILY:/path`` and ``module:factory`` names pass: they are checked when
    loaded.

    Raises
    ------
    InputError
        Unknown name (listing the known ones), or an element not covered.
    """
    if name in list_force_fields():
        if elements is not None:
            check_elements(get_force_field(name), elements)
        return
    if ":" not in name:
        raise InputError(_unknown_message(name))


def elements_from_numbers(numbers: Iterable[int]) -> tuple[str, ...]:
    """Chemical symbols of atomic numbers, in the given order."""
    return tuple(chemical_symbols[int(z)] for z in numbers)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _unknown_message(name: str) -> str:
    from ionraman.forcefields.external import EXTERNAL_FAMILIES

    known = ", ".join(_REGISTRY)
    fams = ", ".join(sorted(EXTERNAL_FAMILIES))
    return (
        f"unknown force field {name!r}; known: {known}; or FAMILY:/path/to/weights "
        f"(FAMILY one of {fams}), or module:factory"
    )


def _module_factory_spec(name: str) -> ForceFieldSpec | None:
    """Spec for ``module:factory`` / ``file.py:factory`` names (None when ``name`` has no ':')."""
    if ":" not in name:
        return None
    target, _, attr = name.rpartition(":")
    if not target or not attr.isidentifier():
        raise InputError(
            f"force field {name!r}: expected module:factory (e.g. mypkg.calc:make) or "
            "path/to/file.py:factory"
        )
    source: Path | None = None
    if target.endswith(".py"):
        source = Path(target).expanduser()
        if not source.is_file():
            raise InputError(f"force field {name!r}: file {str(source)!r} not found")
        mod_name = f"_ionraman_user_ff_{abs(hash(str(source.resolve())))}"
        module = sys.modules.get(mod_name)
        if module is None:
            mspec = importlib.util.spec_from_file_location(mod_name, source)
            if mspec is None or mspec.loader is None:
                raise InputError(f"force field {name!r}: cannot import {str(source)!r}")
            module = importlib.util.module_from_spec(mspec)
            sys.modules[mod_name] = module
            try:
                mspec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[mod_name]
                raise InputError(
                    f"force field {name!r}: importing {str(source)!r} failed: "
                    f"{type(exc).__name__}: {_one_line(exc)}"
                ) from exc
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise InputError(
                f"force field {name!r}: cannot import module {target!r} ({_one_line(exc)}); "
                "expected a registered name or module:factory"
            ) from exc
        if getattr(module, "__file__", None):
            source = Path(module.__file__)
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise InputError(f"force field {name!r}: {target!r} has no callable {attr!r}")
    top = target.split(".")[0] if source is None or not target.endswith(".py") else ""
    return ForceFieldSpec(
        name=name,
        factory=factory,
        description=f"user calculator factory {name}"
        + (f" (source sha256 {file_sha256(source)[:16]})" if source else ""),
        kind="custom",
        dtype="unknown",
        packages=(top,) if top else (),
    )


def _call_factory(spec: ForceFieldSpec, kwargs: dict[str, Any]) -> BaseCalculator:
    """Call the factory quietly (no banners on stdout, no accelerator warnings)."""
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.filterwarnings("ignore", message=".*accelerat.*")
            warnings.filterwarnings("ignore", category=FutureWarning)
            return spec.factory(**kwargs)
    except InputError:
        raise
    except TypeError as exc:
        raise InputError(
            f"force field {spec.name!r}: factory rejected the options "
            f"{sorted(kwargs)}: {_one_line(exc)}"
        ) from exc
    except Exception as exc:
        weights = kwargs.get("weights")
        if weights is None:
            raise  # a failing user factory keeps its traceback
        # a corrupt, truncated or wrong-family weights file is a user error, not a bug
        raise InputError(
            f"force field {spec.name!r}: loading weights file {str(weights)!r} failed "
            f"({type(exc).__name__}: {_one_line(exc)})"
        ) from exc


def _fixed_options(factory: Callable[..., Any]) -> dict[str, Any]:
    """Keywords bound into a ``functools.partial`` factory (e.g. SevenNet's ``modal``)."""
    fixed: dict[str, Any] = {}
    while isinstance(factory, functools.partial):
        fixed = {**factory.keywords, **fixed}
        factory = factory.func
    return fixed


def _accepted_kwargs(func: Callable[..., Any]) -> set[str] | None:
    """Keyword names ``func`` accepts; ``None`` when it takes ``**kwargs``."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    names = set()
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.add(p.name)
    return names


def _check_device(device: str) -> None:
    if device not in ("cpu", "cuda", "auto") and not str(device).startswith("cuda:"):
        raise InputError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")


def _resolve_device(device: str) -> str:
    if device == "auto":
        if "torch" in sys.modules or importlib.util.find_spec("torch") is not None:
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        return "cpu"
    return device


def _set_threads(n: int | None) -> None:
    if n is None or importlib.util.find_spec("torch") is None:
        return
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _current_threads() -> int | None:
    if "torch" not in sys.modules:
        return None
    import torch

    return int(torch.get_num_threads())


def _versions(packages: Iterable[str]) -> dict[str, str]:
    out = {}
    for pkg in packages:
        with contextlib.suppress(importlib_metadata.PackageNotFoundError, ValueError):
            out[pkg] = importlib_metadata.version(pkg)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200]
