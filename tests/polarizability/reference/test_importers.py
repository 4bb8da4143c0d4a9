"""Importers of reference polarizabilities: every reader on its sample file, conventions, errors.

Sample files live in ``tests/data/reference_outputs/`` (see the README there: QE, ABINIT, anaddb
and CP2K outputs were run on the development machine, the VASP files are genuine outputs from
ASE's and pymatgen's test data). The numbers asserted below are the ones printed in those files;
α is checked against α = V (ε∞ − 1) / 4π computed here from the printed ε∞ and volume.
Error cases edit copies of the samples in ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.units import Bohr

from ionraman.conventions import COMPONENT_ORDERS, from_matrix
from ionraman.errors import InputError
from ionraman.polarizability.reference.importers import (
    INFO_EPSILON,
    INFO_POLARIZABILITY,
    INFO_SOURCE,
    INFO_VOLUME,
    KNOWN_KEYS,
    guess_code,
    parse_source,
    read_abinit_out,
    read_anaddb_out,
    read_cp2k_polar,
    read_extxyz_reference,
    read_outcar,
    read_qe_ph,
    read_reference,
    read_vasprun,
    write_reference_extxyz,
)

DATA = Path(__file__).parents[2] / "data" / "reference_outputs"
VASPRUN = DATA / "vasp" / "vasprun_lepsilon_nacl.xml"
OUTCAR = DATA / "vasp" / "OUTCAR_lepsilon_sic_excerpt"
PH = DATA / "qe" / "ph_si_strained.out"
PW = DATA / "qe" / "pw_si_strained.out"
ABO = DATA / "abinit" / "si_strained.abo"
ANADDB = DATA / "abinit" / "si_strained_anaddb.out"
CP2K = DATA / "cp2k" / "water_polar.out"
CP2K_NAN = DATA / "cp2k" / "water_polar_nan.out"
NEP = DATA / "extxyz" / "nep_train_pol.xyz"
MACE = DATA / "extxyz" / "mace_train_pol.xyz"
ALL_SAMPLES = [VASPRUN, OUTCAR, PH, ABO, ANADDB, CP2K, NEP, MACE]

# Cell of the strained Si runs (QE pw.in, ABINIT .abi), Å.
SI_CELL = np.array([[0.0, 2.715, 2.74], [2.715, 0.0, 2.715], [2.69, 2.715, 0.0]])


def alpha_of(eps: np.ndarray, volume: float) -> np.ndarray:
    """α = V (ε − 1) / 4π, written out here independently of the package."""
    return volume * (np.asarray(eps) - np.eye(3)) / (4.0 * np.pi)


def sym(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    return 0.5 * (t + t.T)


def expect_error(func, path: Path, *needles: str, **kwargs) -> str:
    """Call ``func(path)``; it must raise a one-line InputError naming the file and ``needles``."""
    with pytest.raises(InputError) as info:
        func(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert path.name in message
    for needle in needles:
        assert needle in message, message
    return message


def edited_copy(src: Path, tmp_path: Path, old: str, new: str, count: int = -1) -> Path:
    text = src.read_text()
    assert old in text
    dst = tmp_path / src.name
    dst.write_text(text.replace(old, new, count))
    return dst


# ---------------------------------------------------------------------------------------------
# VASP
# ---------------------------------------------------------------------------------------------
def test_vasprun_sample():
    (atoms,) = read_vasprun(VASPRUN)
    assert atoms.get_chemical_symbols() == ["Na", "Cl"]
    eps = atoms.info[INFO_EPSILON]
    np.testing.assert_array_equal(eps, np.diag([2.69584350] * 3))
    # V = det of the printed basis (fcc, 2.72739551 Å); VASP's own <i name="volume"> 40.57647914
    # differs by 2e-9 relative (basis printed with 8 decimals)
    volume = 2 * 2.72739551**3
    assert atoms.info[INFO_VOLUME] == pytest.approx(volume, rel=1e-12)
    assert volume == pytest.approx(40.57647914, rel=1e-8)
    np.testing.assert_allclose(
        atoms.info[INFO_POLARIZABILITY], alpha_of(eps, volume), rtol=1e-12, atol=0
    )
    assert atoms.info[INFO_POLARIZABILITY][0, 0] == pytest.approx(5.475834, abs=1e-6)
    src = parse_source(atoms.info[INFO_SOURCE])
    assert src["code"] == "vasp" and src["block"] == "epsilon" and src["version"] == "6.3.2"
    assert src["file"] == VASPRUN.name and len(src["sha256"]) == 64


_VASP5_BLOCKS = """  <varray name="epsilon" >
   <v>       3.10000000       0.20000000       0.00000000 </v>
   <v>       0.20000000       3.20000000       0.00000000 </v>
   <v>       0.00000000       0.00000000       3.30000000 </v>
  </varray>
  <varray name="epsilon_rpa" >
   <v>       9.10000000       0.00000000       0.00000000 </v>
   <v>       0.00000000       9.10000000       0.00000000 </v>
   <v>       0.00000000       0.00000000       9.10000000 </v>
  </varray>
  <varray name="epsilon_ion" >
   <v>       7.00000000       0.00000000       0.00000000 </v>
   <v>       0.00000000       7.00000000       0.00000000 </v>
   <v>       0.00000000       0.00000000       7.00000000 </v>
  </varray>
"""


def _strip_dielectric_blocks(text: str) -> str:
    """Remove the VASP 6 dielectric_dft and epsilon varrays (keeps dielectric_ipa)."""
    for name in ("dielectric_dft", "epsilon"):
        start = text.index(f'<varray name="{name}" >')
        start = text.rindex("\n", 0, start) + 1
        end = text.index("</varray>", start) + len("</varray>\n")
        text = text[:start] + text[end:]
    return text


def test_vasprun_picks_epsilon_not_rpa_or_ionic(tmp_path):
    # VASP 5 layout: epsilon (eps_inf with local fields), epsilon_rpa (no local fields),
    # epsilon_ion (ionic part). Values are edited so that each block is distinguishable.
    text = _strip_dielectric_blocks(VASPRUN.read_text())
    text = text.replace("  <varray name=\"dielectric_ipa\" >", _VASP5_BLOCKS
                        + "  <varray name=\"dielectric_ipa\" >")
    path = tmp_path / "vasprun.xml"
    path.write_text(text)
    (atoms,) = read_vasprun(path)
    np.testing.assert_array_equal(
        atoms.info[INFO_EPSILON], [[3.1, 0.2, 0.0], [0.2, 3.2, 0.0], [0.0, 0.0, 3.3]]
    )


def test_vasprun_errors(tmp_path):
    only_ipa = tmp_path / "vasprun.xml"
    only_ipa.write_text(_strip_dielectric_blocks(VASPRUN.read_text()))
    expect_error(read_vasprun, only_ipa, "no eps_inf block", "dielectric_ipa")

    lrpa = edited_copy(VASPRUN, tmp_path, '<i type="logical" name="LRPA"> F  </i>',
                       '<i type="logical" name="LRPA"> T  </i>')
    expect_error(read_vasprun, lrpa, "LRPA = .TRUE.", "local_field='rpa'")
    (atoms,) = read_vasprun(lrpa, local_field="rpa")
    assert parse_source(atoms.info[INFO_SOURCE])["local_field"] == "rpa"
    expect_error(read_vasprun, VASPRUN, "LRPA = .FALSE.", local_field="rpa")

    text = VASPRUN.read_text()
    cut = tmp_path / "cut" / "vasprun.xml"
    cut.parent.mkdir()
    cut.write_text(text[: text.index('<varray name="dielectric_dft" >')])
    expect_error(read_vasprun, cut, "truncated")
    expect_error(read_vasprun, tmp_path / "missing.xml", "no such file")


OUTCAR_EPS = np.array([
    [3.716432, -0.204640, -0.204640],
    [-0.204640, 3.716432, -0.204640],
    [-0.204640, -0.204640, 3.716432],
])


def test_outcar_sample():
    (atoms,) = read_outcar(OUTCAR)
    assert len(atoms) == 0  # excerpt without POSITION table: cell only
    np.testing.assert_array_equal(
        atoms.cell[:], [[2.175, 2.175, 0.0], [0.0, 2.175, 2.175], [2.175, 0.0, 2.175]]
    )
    np.testing.assert_array_equal(atoms.info[INFO_EPSILON], OUTCAR_EPS)
    volume = 2 * 2.175**3  # fcc primitive cell with these vectors
    assert atoms.info[INFO_VOLUME] == pytest.approx(volume, rel=1e-12)
    np.testing.assert_allclose(atoms.info[INFO_POLARIZABILITY], alpha_of(OUTCAR_EPS, volume),
                               rtol=1e-12)
    src = parse_source(atoms.info[INFO_SOURCE])
    assert src["version"] == "5.3.5" and "in DFT" in src["block"]


def test_outcar_blocks_and_errors(tmp_path):
    rpa = edited_copy(OUTCAR, tmp_path, "local field effects in DFT)",
                      "local field effects in RPA (Hartree))")
    expect_error(read_outcar, rpa, "local_field='rpa'")
    (atoms,) = read_outcar(rpa, local_field="rpa")
    np.testing.assert_array_equal(atoms.info[INFO_EPSILON], OUTCAR_EPS)

    ionic_only = edited_copy(OUTCAR, tmp_path,
                             " MACROSCOPIC STATIC DIELECTRIC TENSOR (including local field effects"
                             " in DFT)\n", "\n")
    expect_error(read_outcar, ionic_only, "only the ionic contribution")

    short = edited_copy(OUTCAR, tmp_path, "          -0.204640    -0.204640     3.716432\n", "")
    expect_error(read_outcar, short, "2 readable rows")

    bad_volume = edited_copy(OUTCAR, tmp_path, "volume of cell :       20.58",
                             "volume of cell :       21.58")
    expect_error(read_outcar, bad_volume, "disagrees")
    expect_error(read_outcar, OUTCAR, "local_field must be", local_field="hartree")


def test_outcar_full_file_structure_through_ase(tmp_path):
    """A complete OUTCAR (ASE's genuine VASP 5.3.3 test file) with the ε block appended.

    ASE's file is not a LEPSILON run; the appended block only exercises the structure path.
    """
    ase_outcar = Path(__import__("ase").__file__).parent / "test/testdata/vasp/OUTCAR_example_1"
    if not ase_outcar.is_file():
        pytest.skip("ASE test data not installed")
    block = OUTCAR.read_text()
    block = block[block.index(" MACROSCOPIC STATIC DIELECTRIC TENSOR (including"):]
    path = tmp_path / "OUTCAR"
    path.write_text(ase_outcar.read_text() + block)
    (atoms,) = read_outcar(path)
    assert len(atoms) > 0 and set(atoms.get_chemical_symbols()) == {"Ni"}
    assert atoms.info[INFO_VOLUME] == pytest.approx(5768.42, abs=0.006)
    np.testing.assert_allclose(
        atoms.info[INFO_POLARIZABILITY], alpha_of(OUTCAR_EPS, atoms.get_volume()), rtol=1e-12
    )


# ---------------------------------------------------------------------------------------------
# Quantum ESPRESSO
# ---------------------------------------------------------------------------------------------
PH_EPS_RAW = np.array([
    [13.077531702, -1.667665010, -1.550377894],
    [-1.667665069, 13.183000930, -1.425744186],
    [-1.550377862, -1.425744235, 13.291516067],
])


def test_qe_ph_sample():
    (atoms,) = read_qe_ph(PH)
    assert atoms.get_chemical_symbols() == ["Si", "Si"]
    np.testing.assert_allclose(atoms.cell[:], SI_CELL, atol=2e-4)  # ph.x prints 4 decimals
    np.testing.assert_allclose(atoms.info[INFO_EPSILON], sym(PH_EPS_RAW), rtol=0, atol=1e-12)
    volume = 270.1072 * Bohr**3  # 'unit-cell volume = 270.1072 (a.u.)^3'
    assert atoms.info[INFO_VOLUME] == pytest.approx(volume, rel=1e-12)
    assert volume == pytest.approx(abs(np.linalg.det(SI_CELL)), rel=1e-6)
    np.testing.assert_allclose(atoms.info[INFO_POLARIZABILITY], alpha_of(sym(PH_EPS_RAW), volume),
                               rtol=1e-12)
    assert atoms.info[INFO_POLARIZABILITY][0, 0] == pytest.approx(38.4687, abs=1e-4)
    assert parse_source(atoms.info[INFO_SOURCE])["version"] == "6.7MaX"


def test_qe_ph_errors(tmp_path):
    expect_error(read_qe_ph, PW, "pw.x output", "ph.x")
    no_block = edited_copy(PH, tmp_path, "Dielectric constant in cartesian axis", "Dielectric ?")
    expect_error(read_qe_ph, no_block, "epsil=.true.")
    two_rows = edited_copy(
        PH, tmp_path, "          (      -1.550377862      -1.425744235      13.291516067 )\n", "")
    expect_error(read_qe_ph, two_rows, "Dielectric constant in cartesian axis")
    unconverged = edited_copy(PH, tmp_path, "     End of electric fields calculation",
                              "     No convergence has been achieved")
    expect_error(read_qe_ph, unconverged, "did not converge")
    no_volume = edited_copy(PH, tmp_path, "unit-cell volume", "cell vol")
    expect_error(read_qe_ph, no_volume, "unit-cell volume")
    box = " " + "%" * 78
    error_box = edited_copy(
        PH, tmp_path, "     End of electric fields calculation",
        f"{box}\n     Error in routine phq_readin (1):\n     no elec. field with metals\n{box}")
    expect_error(read_qe_ph, error_box, "error in routine phq_readin", "metals")
    text = PH.read_text()
    before_eps = tmp_path / "before.out"
    before_eps.write_text(text[: text.index("End of electric fields")])
    expect_error(read_qe_ph, before_eps, "stopped before 'JOB DONE.'")


def test_qe_ph_stopped_after_eps_is_accepted(tmp_path):
    """eps_inf is final once printed: a run killed later (no 'JOB DONE.') still gives it."""
    text = PH.read_text()
    cut = tmp_path / "ph.out"
    cut.write_text(text[: text.index("Effective charges (d Force / dE)")])
    (atoms,) = read_qe_ph(cut)
    np.testing.assert_allclose(atoms.info[INFO_EPSILON], sym(PH_EPS_RAW), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# ABINIT and anaddb
# ---------------------------------------------------------------------------------------------
ABINIT_EPS = np.array([
    [13.2674775753, -1.7459556498, -1.6226382463],
    [-1.7459556500, 13.3742984436, -1.4922824433],
    [-1.6226382455, -1.4922824426, 13.4842988643],
])
UCVOL_A3 = 2.7010716e02 * Bohr**3  # 'Unit cell volume ucvol=  2.7010716E+02 bohr^3'


def test_abinit_sample():
    (atoms,) = read_abinit_out(ABO)
    assert atoms.get_chemical_symbols() == ["Si", "Si"]
    np.testing.assert_allclose(atoms.cell[:], SI_CELL, atol=1e-8)
    np.testing.assert_allclose(atoms.info[INFO_EPSILON], sym(ABINIT_EPS), rtol=0, atol=1e-12)
    assert atoms.info[INFO_VOLUME] == pytest.approx(UCVOL_A3, rel=1e-12)
    np.testing.assert_allclose(atoms.info[INFO_POLARIZABILITY],
                               alpha_of(sym(ABINIT_EPS), UCVOL_A3), rtol=1e-12)
    assert parse_source(atoms.info[INFO_SOURCE])["version"] == "9.6.2"
    # same cell and physics as the QE sample: ε∞ agree to 1.5 % (different pseudopotentials)
    (qe_atoms,) = read_qe_ph(PH)
    np.testing.assert_allclose(atoms.info[INFO_EPSILON], qe_atoms.info[INFO_EPSILON], rtol=0.05)


def test_anaddb_sample():
    (atoms,) = read_anaddb_out(ANADDB)
    assert len(atoms) == 0
    np.testing.assert_allclose(atoms.cell[:], SI_CELL, atol=1e-6)  # R(i) in bohr, 7 decimals
    eps = np.array([[13.26747758, -1.74595565, -1.62263825],
                    [-1.74595565, 13.37429844, -1.49228244],
                    [-1.62263825, -1.49228244, 13.48429886]])
    np.testing.assert_array_equal(atoms.info[INFO_EPSILON], eps)
    np.testing.assert_allclose(atoms.info[INFO_POLARIZABILITY], alpha_of(eps, UCVOL_A3),
                               rtol=1e-12)
    # anaddb's 8-decimal print of the same ε∞ as the ABINIT output
    np.testing.assert_allclose(eps, sym(ABINIT_EPS), atol=6e-9)


def test_abinit_errors(tmp_path):
    missing = edited_copy(ABO, tmp_path,
                          "   2    4   3    4        -1.4922824433        -0.0000000000\n", "")
    expect_error(read_abinit_out, missing, "lacks components yz", "rfdir 1 1 1")
    text = ABO.read_text()
    gs_only = tmp_path / "gs.abo"
    gs_only.write_text(text[: text.index("== DATASET  2")])
    expect_error(read_abinit_out, gs_only, "rfelfd=3")
    no_elec = edited_copy(ANADDB, tmp_path, "Electronic dielectric tensor", "Electronic ?")
    expect_error(read_anaddb_out, no_elec, "dieflag")
    short = edited_copy(ANADDB, tmp_path, "     -1.62263825     -1.49228244     13.48429886\n", "")
    expect_error(read_anaddb_out, short, "incomplete")


# ---------------------------------------------------------------------------------------------
# CP2K
# ---------------------------------------------------------------------------------------------
CP2K_ANG3 = {  # 'POLAR| Polarizability tensor [ang^3]' rows as printed (labels are read)
    "xx": 1.003604823070, "yy": 0.674977224112, "zz": 0.851372853717,
    "xy": 0.118836024697, "xz": 0.017994413643, "yz": 0.012460705695,
    "yx": 0.118739422601, "zx": 0.017986903572, "zy": 0.012443323232,
}


def _cp2k_matrix(values: dict[str, float]) -> np.ndarray:
    axis = {"x": 0, "y": 1, "z": 2}
    out = np.zeros((3, 3))
    for label, value in values.items():
        out[axis[label[0]], axis[label[1]]] = value
    return out


def test_cp2k_sample():
    (atoms,) = read_cp2k_polar(CP2K)
    assert atoms.get_chemical_symbols() == ["O", "H", "H"]
    np.testing.assert_array_equal(atoms.positions[1], [4.23, 3.95, 3.56])
    np.testing.assert_array_equal(atoms.cell.lengths(), [7.0, 7.5, 8.0])
    assert atoms.info[INFO_VOLUME] == pytest.approx(420.0)
    assert INFO_EPSILON not in atoms.info  # CP2K gives α directly
    alpha = atoms.info[INFO_POLARIZABILITY]
    np.testing.assert_allclose(alpha, sym(_cp2k_matrix(CP2K_ANG3)), rtol=0, atol=1e-15)
    assert alpha[0, 1] == pytest.approx((0.118836024697 + 0.118739422601) / 2, abs=1e-15)
    assert parse_source(atoms.info[INFO_SOURCE])["version"] == "2023.1"


def test_cp2k_atomic_units_fallback(tmp_path):
    """Without the [ang^3] block the [a.u.] block is converted with bohr³ → Å³."""
    text = CP2K.read_text()
    start = text.index(" POLAR| Polarizability tensor [ang^3]")
    end = text.index("\n\n", start)
    text = text[:start] + text[end + 2 :]
    assert "[ang^3]" not in text
    path = tmp_path / "au.out"
    path.write_text(text)
    (atoms,) = read_cp2k_polar(path)
    assert "[a.u.]" in parse_source(atoms.info[INFO_SOURCE])["block"]
    # CP2K's own Å³ print agrees with our conversion of its a.u. print to 1e-7
    np.testing.assert_allclose(atoms.info[INFO_POLARIZABILITY],
                               sym(_cp2k_matrix(CP2K_ANG3)), rtol=2e-7)


def test_cp2k_errors(tmp_path):
    expect_error(read_cp2k_polar, CP2K_NAN, "NaN", "did not converge")
    text = CP2K.read_text()
    for header in ("POLAR| Polarizability tensor", "POLARIZABILITY TENSOR ("):
        text = text.replace(header, "XX")
    none = tmp_path / "none.out"
    none.write_text(text)
    expect_error(read_cp2k_polar, none, "&POLAR")
    asym = edited_copy(CP2K, tmp_path, "0.118739422601", "0.518739422601")
    expect_error(read_cp2k_polar, asym, "not symmetric")
    short = edited_copy(
        CP2K, tmp_path,
        " POLAR| yx,zx,zy            0.118739422601     0.017986903572     0.012443323232\n", "")
    expect_error(read_cp2k_polar, short, "6 of 9")


# ---------------------------------------------------------------------------------------------
# extxyz (ionraman, MACE, NEP) and component orders
# ---------------------------------------------------------------------------------------------
NEP_POL = [
    np.array([38.468733, -5.311761, -4.938184, -5.311761, 38.804668, -4.541207,
              -4.938184, -4.541207, 39.150305]).reshape(3, 3),
    np.diag([38.765542] * 3),
]


@pytest.mark.parametrize("path", [NEP, MACE])
def test_extxyz_samples(path):
    frames = read_extxyz_reference(path)
    assert len(frames) == 2
    for atoms, pol in zip(frames, NEP_POL, strict=True):
        np.testing.assert_array_equal(atoms.info[INFO_POLARIZABILITY], pol)
        assert atoms.get_chemical_symbols() == ["Si", "Si"]
        assert atoms.info[INFO_VOLUME] == pytest.approx(abs(np.linalg.det(atoms.cell[:])))
    # lower-case lattice= of the NEP file is read as the cell (ASE alone would drop it)
    np.testing.assert_array_equal(frames[0].cell[:], SI_CELL)
    assert "pol" not in frames[0].info and "lattice" not in frames[0].info
    key = parse_source(frames[0].info[INFO_SOURCE])["key"]
    assert key == ("pol" if path == NEP else "REF_polarizability")


def _xyz(tmp_path: Path, key: str, comps: list[np.ndarray]) -> Path:
    text = ""
    for c in comps:
        values = " ".join(repr(float(x)) for x in np.ravel(c))
        text += (f'1\nLattice="4 0 0 0 5 0 0 0 6" Properties=species:S:1:pos:R:3 '
                 f'{key}="{values}" pbc="T T T"\nNa 0 0 0\n')
    path = tmp_path / f"{key}.xyz"
    path.write_text(text)
    return path


@pytest.mark.parametrize("order", sorted(COMPONENT_ORDERS))
def test_extxyz_component_order_round_trip(tmp_path, order):
    rng = np.random.default_rng(7)
    a = rng.normal(size=(2, 3, 3))
    alphas = a + np.swapaxes(a, -1, -2) + 10 * np.eye(3)
    path = _xyz(tmp_path, "alpha", [from_matrix(m, order) for m in alphas])
    frames = read_extxyz_reference(path, key="alpha", order=order)
    for atoms, alpha in zip(frames, alphas, strict=True):
        np.testing.assert_allclose(atoms.info[INFO_POLARIZABILITY], alpha, rtol=1e-15, atol=0)


def test_extxyz_units_keys_and_errors(tmp_path):
    alpha = np.array([[10.0, 1.0, 2.0], [1.0, 11.0, 3.0], [2.0, 3.0, 12.0]])
    path = _xyz(tmp_path, "polarizability", [alpha])  # MACE calculator property name
    (atoms,) = read_extxyz_reference(path, unit="bohr3")
    np.testing.assert_allclose(atoms.info[INFO_POLARIZABILITY], alpha * Bohr**3, rtol=1e-15)
    assert KNOWN_KEYS.index("polarizability") == 1

    six = _xyz(tmp_path, "pol", [from_matrix(alpha, "vasp")])
    expect_error(read_extxyz_reference, six, "6 components are ambiguous", "vasp")
    expect_error(read_extxyz_reference, six, "needs 9 components", order="nep-9")
    expect_error(read_extxyz_reference, path, "none of the polarizability keys", key="alpha")
    expect_error(read_extxyz_reference, path, "unit must be", unit="au")

    text = path.read_text()
    two = tmp_path / "two.xyz"
    two.write_text(text + text.replace('polarizability="', 'other="'))
    expect_error(read_extxyz_reference, two, "frame 1 has no 'polarizability'")
    bad = tmp_path / "bad.xyz"
    bad.write_text(text.replace("10.0 ", "", 1))
    expect_error(read_extxyz_reference, bad, "expected 3x3, 9 or 6 numbers")
    garbage = tmp_path / "garbage.xyz"
    garbage.write_text("3\nnot an xyz frame\nNa 0 0\n")
    expect_error(read_extxyz_reference, garbage, "extended XYZ")


def test_write_read_round_trip_all_codes(tmp_path):
    frames = [f for path in ALL_SAMPLES for f in read_reference(path)]
    out = write_reference_extxyz(frames, tmp_path / "labels" / "ref.extxyz")
    back = read_reference(out)
    assert guess_code(out) == "extxyz"
    assert len(back) == len(frames)
    for a, b in zip(frames, back, strict=True):
        assert len(a) == len(b)
        np.testing.assert_allclose(b.info[INFO_POLARIZABILITY], a.info[INFO_POLARIZABILITY],
                                   rtol=1e-15)
        assert b.info[INFO_SOURCE] == a.info[INFO_SOURCE]  # provenance survives the round trip
        assert (INFO_EPSILON in b.info) == (INFO_EPSILON in a.info)
        if INFO_EPSILON in a.info:
            np.testing.assert_allclose(b.info[INFO_EPSILON], a.info[INFO_EPSILON], rtol=1e-15)
    assert not list((tmp_path / "labels").glob(".*.tmp"))


def test_write_is_atomic_and_checks_keys(tmp_path):
    path = tmp_path / "ref.extxyz"
    path.write_text("old content\n")
    good = read_cp2k_polar(CP2K)[0]
    with pytest.raises(InputError, match="structure 1 has no 'REF_polarizability'"):
        write_reference_extxyz([good, Atoms("H")], path)
    assert path.read_text() == "old content\n"
    broken = good.copy()
    broken.info[INFO_POLARIZABILITY] = np.full((3, 3), np.nan)
    with pytest.raises(InputError, match="NaN"):
        write_reference_extxyz([broken], path)
    with pytest.raises(InputError, match="no structures"):
        write_reference_extxyz([], path)
    assert path.read_text() == "old content\n"


# ---------------------------------------------------------------------------------------------
# Dispatcher
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "code"),
    [(VASPRUN, "vasprun"), (OUTCAR, "outcar"), (PH, "qe-ph"), (ABO, "abinit"),
     (ANADDB, "anaddb"), (CP2K, "cp2k"), (NEP, "extxyz"), (MACE, "extxyz")],
)
def test_guess_code(path, code):
    assert guess_code(path) == code


def test_read_reference_codes_options_and_gzip(tmp_path):
    import gzip

    (a,) = read_reference(PH, code="ph.x")
    (b,) = read_reference(PH)
    np.testing.assert_array_equal(a.info[INFO_POLARIZABILITY], b.info[INFO_POLARIZABILITY])
    vgz = tmp_path / "vasprun.xml.gz"
    vgz.write_bytes(gzip.compress(VASPRUN.read_bytes()))
    assert guess_code(vgz) == "vasprun"
    (v,) = read_reference(vgz)
    np.testing.assert_array_equal(v.info[INFO_EPSILON], np.diag([2.69584350] * 3))
    assert len(v) == 2
    gz = tmp_path / "OUTCAR.gz"
    gz.write_bytes(gzip.compress(OUTCAR.read_bytes()))
    (c,) = read_reference(gz)
    np.testing.assert_array_equal(c.info[INFO_EPSILON], OUTCAR_EPS)
    d, _ = read_reference(NEP, key="pol", order="nep-9")
    np.testing.assert_array_equal(d.info[INFO_POLARIZABILITY], NEP_POL[0])

    with pytest.raises(InputError, match="unknown code 'lammps'"):
        read_reference(PH, code="lammps")
    expect_error(read_reference, CP2K, "bad option for the cp2k reader", local_field="dft")
    expect_error(read_reference, PW, "pw.x output")
    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello\n")
    expect_error(read_reference, unknown, "cannot tell which code")
    expect_error(read_reference, tmp_path / "absent.out", "no such file")
    # a wrong explicit code is reported by that reader, not silently misread
    expect_error(read_reference, CP2K, "ph.x", code="qe-ph")
