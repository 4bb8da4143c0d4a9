"""Norm-conserving pseudopotentials for the Quantum ESPRESSO reference runs.

Quantum ESPRESSO ships no pseudopotentials for Na, S or Sb, and cannot read ABINIT's psp8 format.
The ``sparc-x-api`` wheel (PyPI, extra ``dft``) contains the SPMS set of ONCVPSP-4.0.1 scalar-
relativistic PBE norm-conserving pseudopotentials as psp8 files (elements 1–57 and 72–83;
M. F. Shojaei, J. E. Pask, A. J. Medford, P. Suryanarayana, Comput. Phys. Commun. 283, 108594
(2023); the files are distributed under the GNU GPL v3, as stated in each file's ``<INFO>`` block).
This module converts them to UPF v2 at run time and caches the result; converted files are never
committed.

The conversion is exact, not an interpolation: ONCVPSP writes psp8 and UPF from the same arrays on
the same linear radial grid (``upfout.f90`` / ``linout.f90`` of ONCVPSP), and the two formats differ
only in units and normalisation:

========================  ===========================  ===============================
quantity                  psp8 (Hartree atomic units)  UPF v2 (Rydberg atomic units)
========================  ===========================  ===============================
projector (l, i)          r·β(r)                       r·β(r) (unchanged)
projector strength        e_KB (Ha)                    D_ii = 2 e_KB (Ry)
local potential           V_loc(r) (Ha)                2 V_loc(r) (Ry)
model core charge         4π ρ_c(r)                    ρ_c(r) = value / 4π
atomic valence density    4π ρ_v(r)                    4π r² ρ_v(r) = r² · value
========================  ===========================  ===============================

Command line: ``python -m ionraman.polarizability.reference.pseudopotentials --check [SYMBOLS...]``
converts (into the cache) and prints path and SHA-256 of each file.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from ionraman._io import file_sha256, write_text_atomic
from ionraman.errors import InputError

SPARC_DISTRIBUTION = "sparc-x-api"
SPARC_VERSION_TESTED = "1.1.0"
PSEUDO_SET_NAME = "SPMS ONCVPSP-4.0.1 PBE (sparc-x-api psp8, GPL-3.0)"
CONVERTER_VERSION = "2"
"""Bumped whenever the UPF written for the same psp8 changes (part of the cache key)."""

# ABINIT ``pspxc`` codes of PBE: 11 (native) and -101130 (libxc X_PBE + C_PBE).
_PBE_PSPXC = (11, -101130)


@dataclass(frozen=True)
class Psp8:
    """Content of an ONCVPSP psp8 file (ABINIT pspcod 8), in Hartree atomic units.

    Attributes
    ----------
    symbol : str
        Element symbol.
    z_atom, z_valence : float
        Nuclear charge and pseudo-ion (valence) charge, e.
    functional : str
        Exchange–correlation functional (only ``"PBE"`` is accepted).
    r_bohr : ndarray, shape (mmax,)
        Linear radial grid in bohr, starting at r = 0.
    projectors : list of (l, e_KB, r·β)
        One entry per Kleinman–Bylander projector: angular momentum l, strength e_KB in Ha and the
        projector times r on ``r_bohr`` (shape (mmax,), Ha^{1/2}-free ONCVPSP normalisation).
    v_local_ha : ndarray, shape (mmax,)
        Local potential in Ha; tends to −Z_val/r outside the core.
    rho_core_4pi : ndarray, shape (mmax,) or None
        Model core charge times 4π (e bohr⁻³), None without non-linear core correction.
    rho_valence_4pi : ndarray, shape (mmax,) or None
        Pseudo-atomic valence density times 4π (e bohr⁻³), None if the file has none.
    header : str
        The first line of the file (generator and core radii).
    trailer : str
        Everything after the numerical blocks (``<INPUT>`` and ``<INFO>`` text), kept verbatim
        for provenance (it carries the generation input and the licence statement).
    """

    symbol: str
    z_atom: float
    z_valence: float
    functional: str
    r_bohr: np.ndarray
    projectors: list[tuple[int, float, np.ndarray]]
    v_local_ha: np.ndarray
    rho_core_4pi: np.ndarray | None
    rho_valence_4pi: np.ndarray | None
    header: str
    trailer: str = field(repr=False)

    @property
    def l_max(self) -> int:
        """Largest projector angular momentum."""
        return max(l_ang for l_ang, _, _ in self.projectors)


@dataclass(frozen=True)
class PseudoFile:
    """A converted UPF file and where it came from.

    Attributes
    ----------
    symbol : str
        Element symbol.
    upf_path : Path
        The UPF v2 file (in the cache directory).
    upf_sha256, psp8_sha256 : str
        SHA-256 of the UPF file and of the psp8 it was converted from.
    psp8_path : Path
        The source psp8 file inside the installed sparc package.
    z_valence : float
        Valence charge, e.
    """

    symbol: str
    upf_path: Path
    upf_sha256: str
    psp8_path: Path
    psp8_sha256: str
    z_valence: float

    def metadata(self) -> dict[str, str | float]:
        """JSON-ready provenance of this file."""
        return {
            "symbol": self.symbol,
            "upf_file": self.upf_path.name,
            "upf_sha256": self.upf_sha256,
            "psp8_file": self.psp8_path.name,
            "psp8_sha256": self.psp8_sha256,
            "z_valence": self.z_valence,
            "set": PSEUDO_SET_NAME,
        }


# ---------------------------------------------------------------------------------------------
# psp8 reader
# ---------------------------------------------------------------------------------------------
def read_psp8(path: str | os.PathLike[str]) -> Psp8:
    """Read an ONCVPSP psp8 file (pspcod 8, scalar-relativistic, local potential as lloc = 4).

    Parameters
    ----------
    path : path-like
        The ``.psp8`` file.

    Returns
    -------
    Psp8
        Grid, projectors, local potential and densities in Hartree atomic units.

    Raises
    ------
    InputError
        If the file is not a psp8 file this reader supports (spin–orbit, lloc ≤ lmax, non-PBE).
    """
    path = Path(path)
    lines = path.read_text().splitlines()

    def fail(what: str) -> InputError:
        return InputError(f"{path}: {what}")

    try:
        header = lines[0]
        symbol = header.split()[0]
        z_atom, z_valence = (float(x) for x in lines[1].split()[:2])
        pspcod, pspxc, lmax, lloc, mmax = (int(x) for x in lines[2].split()[:5])
        fchrg = float(lines[3].split()[1])
        nproj = [int(x) for x in lines[4].split()[: lmax + 1]]
        extension_switch = int(lines[5].split()[0])
    except (IndexError, ValueError) as exc:
        raise fail(f"not a psp8 file (header unreadable: {exc})") from exc
    if pspcod != 8:
        raise fail(f"pspcod is {pspcod}, expected 8 (ONCVPSP psp8)")
    if pspxc not in _PBE_PSPXC:
        raise fail(f"pspxc is {pspxc}, only PBE (11 or -101130) is supported")
    if lloc != 4:
        raise fail(f"lloc is {lloc}, only lloc = 4 (separate local potential) is supported")
    if extension_switch not in (0, 1):
        raise fail(f"extension_switch is {extension_switch}: spin-orbit files are not supported")

    pos = 6

    def block(ncols: int) -> np.ndarray:
        """Read ``mmax`` rows ``index r v1 … v_ncols``; return shape (mmax, 1 + ncols)."""
        nonlocal pos
        rows = lines[pos : pos + mmax]
        pos += mmax
        try:
            data = np.array([[float(x) for x in row.split()[1 : 2 + ncols]] for row in rows])
        except ValueError as exc:
            raise fail(f"unreadable number near line {pos}: {exc}") from exc
        if data.shape != (mmax, 1 + ncols):
            raise fail(f"block ending at line {pos} has shape {data.shape}, expected {mmax} rows")
        return data

    projectors: list[tuple[int, float, np.ndarray]] = []
    r_bohr: np.ndarray | None = None
    for l_ang in range(lmax + 1):
        if nproj[l_ang] == 0:
            continue
        head = lines[pos].split()
        pos += 1
        if int(head[0]) != l_ang or len(head) != 1 + nproj[l_ang]:
            raise fail(f"line {pos}: expected 'l={l_ang}' followed by {nproj[l_ang]} energies")
        ekb = [float(x) for x in head[1:]]
        data = block(nproj[l_ang])
        r_bohr = data[:, 0]
        projectors.extend((l_ang, ekb[i], data[:, 1 + i].copy()) for i in range(nproj[l_ang]))
    if int(lines[pos].split()[0]) != 4:
        raise fail(f"line {pos + 1}: expected the local-potential block '4'")
    pos += 1
    local = block(1)
    r_bohr = local[:, 0] if r_bohr is None else r_bohr
    v_local = local[:, 1].copy()
    rho_core = block(5)[:, 1].copy() if fchrg > 0.0 else None
    rho_val = block(3)[:, 1].copy() if extension_switch == 1 else None
    step = np.diff(r_bohr)
    if r_bohr[0] != 0.0 or not np.allclose(step, step[0], rtol=1e-8, atol=1e-12):
        raise fail("radial grid is not linear from r = 0")
    return Psp8(
        symbol=symbol,
        z_atom=z_atom,
        z_valence=z_valence,
        functional="PBE",
        r_bohr=r_bohr,
        projectors=projectors,
        v_local_ha=v_local,
        rho_core_4pi=rho_core,
        rho_valence_4pi=rho_val,
        header=header,
        trailer="\n".join(lines[pos:]),
    )


# ---------------------------------------------------------------------------------------------
# UPF v2 writer
# ---------------------------------------------------------------------------------------------
def _array_text(values: np.ndarray, columns: int = 4) -> str:
    # 17 significant digits: every double survives the text round trip exactly.
    flat = [f"{v: .16E}" for v in np.asarray(values, dtype=float).ravel()]
    return "\n".join(" ".join(flat[i : i + columns]) for i in range(0, len(flat), columns))


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def psp8_to_upf(psp: Psp8, source: str = "", source_sha256: str = "") -> str:
    """Convert a psp8 pseudopotential to UPF v2 text (as read by Quantum ESPRESSO ≥ 6.0).

    Parameters
    ----------
    psp : Psp8
        The parsed psp8 file (Hartree units).
    source, source_sha256 : str
        Name and SHA-256 of the psp8 file, recorded in ``PP_INFO``.

    Returns
    -------
    str
        The UPF file content (Rydberg units, same radial grid; see the module docstring).
    """
    r = psp.r_bohr
    mesh = r.size
    dr = float(r[1] - r[0])
    nbeta = len(psp.projectors)
    l_max = psp.l_max
    core = psp.rho_core_4pi is not None
    tag = lambda flag: "T" if flag else "F"  # noqa: E731

    info = (
        f"Converted by ionraman (converter v{CONVERTER_VERSION}) from the ONCVPSP psp8 file\n"
        f"{source} (sha256 {source_sha256}).\n"
        "psp8 -> UPF: D = 2 e_KB (Ha -> Ry), V_loc x 2, r*beta unchanged,\n"
        "NLCC = (4 pi rho_c)/(4 pi), RHOATOM = r^2 (4 pi rho_v). Same linear grid.\n"
        f"psp8 header: {psp.header}\n"
        f"{psp.trailer}"
    )
    out = [
        '<UPF version="2.0.1">',
        "  <PP_INFO>",
        _xml_escape(info),
        "  </PP_INFO>",
        "  <PP_HEADER",
        '    generated="Generated using ONCVPSP code by D. R. Hamann; psp8 to UPF by ionraman"',
        '    author="SPMS (Shojaei, Pask, Medford, Suryanarayana)"',
        '    date=""',
        '    comment="converted from psp8"',
        f'    element="{psp.symbol:>2s}"',
        '    pseudo_type="NC"',
        '    relativistic="scalar"',
        '    is_ultrasoft="F"',
        '    is_paw="F"',
        '    is_coulomb="F"',
        '    has_so="F"',
        '    has_wfc="F"',
        '    has_gipaw="F"',
        '    paw_as_gipaw="F"',
        f'    core_correction="{tag(core)}"',
        f'    functional="{psp.functional}"',
        f'    z_valence="{psp.z_valence:.8f}"',
        '    total_psenergy="0.0"',
        '    wfc_cutoff="0.0"',
        '    rho_cutoff="0.0"',
        f'    l_max="{l_max}"',
        f'    l_max_rho="{2 * l_max}"',
        '    l_local="-1"',
        f'    mesh_size="{mesh}"',
        '    number_of_wfc="0"',
        f'    number_of_proj="{nbeta}"/>',
        f'  <PP_MESH dx="{dr:.8E}" mesh="{mesh}" xmin="0.0" rmax="{r[-1]:.8E}"'
        f' zmesh="{psp.z_atom}">',
        f'    <PP_R type="real" size="{mesh}" columns="4">',
        _array_text(r),
        "    </PP_R>",
        f'    <PP_RAB type="real" size="{mesh}" columns="4">',
        _array_text(np.full(mesh, dr)),
        "    </PP_RAB>",
        "  </PP_MESH>",
    ]
    if core:
        out += [
            f'  <PP_NLCC type="real" size="{mesh}" columns="4">',
            _array_text(psp.rho_core_4pi / (4.0 * np.pi)),
            "  </PP_NLCC>",
        ]
    out += [
        f'  <PP_LOCAL type="real" size="{mesh}" columns="4">',
        _array_text(2.0 * psp.v_local_ha),
        "  </PP_LOCAL>",
        "  <PP_NONLOCAL>",
    ]
    dij = np.zeros((nbeta, nbeta))
    for i, (l_ang, ekb, beta) in enumerate(psp.projectors, start=1):
        dij[i - 1, i - 1] = 2.0 * ekb
        nonzero = np.flatnonzero(beta)
        # 1-based index of the last non-zero point plus a small margin (QE integrates to it).
        kbeta = min(mesh, int(nonzero[-1]) + 4) if nonzero.size else mesh
        out += [
            f'    <PP_BETA.{i} type="real" size="{mesh}" columns="4" index="{i}"'
            f' angular_momentum="{l_ang}" cutoff_radius_index="{kbeta}"'
            f' cutoff_radius="{r[kbeta - 1]:.8E}" ultrasoft_cutoff_radius="0.0">',
            _array_text(beta),
            f"    </PP_BETA.{i}>",
        ]
    out += [
        f'    <PP_DIJ type="real" size="{nbeta * nbeta}" columns="4">',
        _array_text(dij),
        "    </PP_DIJ>",
        "  </PP_NONLOCAL>",
        # QE 6.7 requires the tag even without pseudo-atomic orbitals (then starts from random).
        "  <PP_PSWFC>",
        "  </PP_PSWFC>",
    ]
    if psp.rho_valence_4pi is not None:
        rho_atom = r**2 * psp.rho_valence_4pi
    else:  # QE then starts from a zero density superposition; never the case for SPMS files.
        rho_atom = np.zeros(mesh)
    out += [
        f'  <PP_RHOATOM type="real" size="{mesh}" columns="4">',
        _array_text(rho_atom),
        "  </PP_RHOATOM>",
        "</UPF>",
        "",
    ]
    return "\n".join(out)


@dataclass(frozen=True)
class UpfData:
    """The parts of a UPF v2 file that the tests and the validation need (Rydberg units).

    Attributes
    ----------
    header : dict of str to str
        ``PP_HEADER`` attributes.
    r_bohr, rab_bohr : ndarray, shape (mesh,)
        Radial grid and its integration weights dr.
    v_local_ry : ndarray, shape (mesh,)
        Local potential (Ry).
    betas : list of (l, ndarray of shape (mesh,))
        Angular momentum and r·β of each projector.
    dij_ry : ndarray, shape (nbeta, nbeta)
        Projector strengths (Ry).
    rho_atom : ndarray, shape (mesh,)
        4π r² ρ_v(r) (e bohr⁻¹); its integral is the valence charge.
    nlcc : ndarray, shape (mesh,) or None
        Core charge ρ_c(r) (e bohr⁻³).
    """

    header: dict[str, str]
    r_bohr: np.ndarray
    rab_bohr: np.ndarray
    v_local_ry: np.ndarray
    betas: list[tuple[int, np.ndarray]]
    dij_ry: np.ndarray
    rho_atom: np.ndarray
    nlcc: np.ndarray | None


def read_upf(path: str | os.PathLike[str]) -> UpfData:
    """Parse a UPF v2 file (strict XML) into arrays; raises :class:`InputError` if malformed."""
    path = Path(path)
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        raise InputError(f"{path}: not a well-formed UPF v2 file ({exc})") from exc

    def arr(elem: ElementTree.Element | None, name: str) -> np.ndarray:
        if elem is None:
            raise InputError(f"{path}: missing {name}")
        values = np.array(elem.text.split(), dtype=float) if elem.text else np.zeros(0)
        if "size" in elem.attrib and values.size != int(elem.attrib["size"]):
            raise InputError(
                f"{path}: {name} has {values.size} values, size says {elem.attrib['size']}"
            )
        return values

    header = root.find("PP_HEADER")
    if header is None:
        raise InputError(f"{path}: missing PP_HEADER")
    nbeta = int(header.attrib["number_of_proj"])
    nonlocal_ = root.find("PP_NONLOCAL")
    betas = []
    for i in range(1, nbeta + 1):
        elem = nonlocal_.find(f"PP_BETA.{i}") if nonlocal_ is not None else None
        betas.append((int(elem.attrib["angular_momentum"]) if elem is not None else -1,
                      arr(elem, f"PP_BETA.{i}")))
    dij = arr(nonlocal_.find("PP_DIJ") if nonlocal_ is not None else None, "PP_DIJ")
    nlcc_elem = root.find("PP_NLCC")
    return UpfData(
        header=dict(header.attrib),
        r_bohr=arr(root.find("PP_MESH/PP_R"), "PP_R"),
        rab_bohr=arr(root.find("PP_MESH/PP_RAB"), "PP_RAB"),
        v_local_ry=arr(root.find("PP_LOCAL"), "PP_LOCAL"),
        betas=betas,
        dij_ry=dij.reshape(nbeta, nbeta),
        rho_atom=arr(root.find("PP_RHOATOM"), "PP_RHOATOM"),
        nlcc=arr(nlcc_elem, "PP_NLCC") if nlcc_elem is not None else None,
    )


# ---------------------------------------------------------------------------------------------
# The installed set and the cache
# ---------------------------------------------------------------------------------------------
def sparc_psp8_dir() -> Path:
    """Directory of the psp8 files inside the installed ``sparc-x-api`` package.

    Raises
    ------
    InputError
        If ``sparc-x-api`` is not installed (``pip install 'ionraman[dft]'`` or
        ``pip install sparc-x-api==1.1.0``).
    """
    # find_spec locates the package without importing it (its __init__ loads the SPARC calculator).
    spec = importlib.util.find_spec("sparc")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "pseudopotentials: package sparc-x-api is not installed "
            f"(pip install {SPARC_DISTRIBUTION}=={SPARC_VERSION_TESTED}); it provides the psp8 set"
        )
    psp_dir = Path(next(iter(spec.submodule_search_locations))) / "psp"
    if not any(psp_dir.glob("*.psp8")):
        raise InputError(f"pseudopotentials: no *.psp8 files in {psp_dir} (sparc-x-api incomplete)")
    return psp_dir


def find_psp8(symbol: str, psp_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of the psp8 file for element ``symbol`` (files named ``ZZ_Symbol_...psp8``)."""
    directory = Path(psp_dir) if psp_dir is not None else sparc_psp8_dir()
    matches = sorted(p for p in directory.glob("*.psp8")
                     if re.fullmatch(rf"\d+_{re.escape(symbol)}_.*", p.name))
    if not matches:
        raise InputError(f"pseudopotentials: no psp8 file for element {symbol!r} in {directory}")
    return matches[0]


def pseudo_cache_dir() -> Path:
    """Cache of converted UPF files: ``$IONRAMAN_CACHE/pseudo`` or ``~/.cache/ionraman/pseudo``."""
    base = os.environ.get("IONRAMAN_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "ionraman"
    return root / "pseudo"


def upf_pseudopotential(
    symbol: str,
    cache_dir: str | os.PathLike[str] | None = None,
    psp_dir: str | os.PathLike[str] | None = None,
) -> PseudoFile:
    """Converted UPF file for ``symbol``, converting into the cache on first use.

    The cached name contains the first 12 hex digits of the psp8 SHA-256 and the converter
    version, so a changed source or converter never reuses a stale file.
    """
    psp8_path = find_psp8(symbol, psp_dir)
    psp8_hash = file_sha256(psp8_path)
    cache = Path(cache_dir) if cache_dir is not None else pseudo_cache_dir()
    upf_path = cache / f"{symbol}.{psp8_hash[:12]}.c{CONVERTER_VERSION}.upf"
    psp = read_psp8(psp8_path)
    if not upf_path.exists():
        write_text_atomic(upf_path, psp8_to_upf(psp, psp8_path.name, psp8_hash))
    return PseudoFile(
        symbol=symbol,
        upf_path=upf_path,
        upf_sha256=file_sha256(upf_path),
        psp8_path=psp8_path,
        psp8_sha256=psp8_hash,
        z_valence=psp.z_valence,
    )


def upf_pseudopotentials(
    symbols: Iterable[str],
    cache_dir: str | os.PathLike[str] | None = None,
    psp_dir: str | os.PathLike[str] | None = None,
) -> dict[str, PseudoFile]:
    """:func:`upf_pseudopotential` for each distinct symbol, in first-seen order."""
    return {s: upf_pseudopotential(s, cache_dir, psp_dir) for s in dict.fromkeys(symbols)}


def main(argv: list[str] | None = None) -> int:
    """``--check [SYMBOLS]``: convert into the cache and print path and SHA-256 of each file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="convert and list (default Na S Sb)")
    parser.add_argument("symbols", nargs="*", default=["Na", "S", "Sb"])
    args = parser.parse_args(argv)
    for symbol in args.symbols:
        pf = upf_pseudopotential(symbol)
        read_upf(pf.upf_path)
        print(f"{symbol:3s} {pf.upf_path}  sha256={pf.upf_sha256}  (from {pf.psp8_path.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
