"""Tests of the bond-polarizability baseline: symmetry, extensivity, fit recovery, persistence."""

import numpy as np
import pytest
from ase.spacegroup import crystal
from scipy.spatial.transform import Rotation

from ionraman.errors import InputError
from ionraman.polarizability.bond_model import BondPolarizabilityModel


def _na3sbs4(rattle: float = 0.0, seed: int = 0):
    atoms = crystal(
        ["Na", "Na", "Sb", "S"],
        basis=[(0, 0.5, 0.42066), (0, 0, 0), (0, 0, 0.5), (0.31244, 0.34755, 0.16502)],
        spacegroup=114,
        cellpar=[7.1708, 7.1708, 7.2376, 90, 90, 90],
    )
    if rattle:
        atoms.rattle(rattle, seed=seed)
    return atoms


def _reference_model() -> BondPolarizabilityModel:
    """A model with hand-set parameters, used to generate exact synthetic labels."""
    m = BondPolarizabilityModel()
    m.r0_A = {("Sb", "S"): 2.37, ("Na", "S"): 2.95}
    m.params = {
        ("Sb", "S"): np.array([6.0, 9.0, 2.5, 1.5]),
        ("Na", "S"): np.array([1.2, 0.8, 0.6, 0.3]),
    }
    m.atom_params = {"Na": 0.3, "S": 2.0, "Sb": 1.0}
    return m


def test_rotation_equivariance_and_translation_invariance() -> None:
    atoms = _na3sbs4(0.1, 1)
    model = _reference_model()
    alpha = model.predict_one(atoms)
    rot = Rotation.random(random_state=3).as_matrix()
    rotated = atoms.copy()
    rotated.set_cell(atoms.cell @ rot.T, scale_atoms=False)
    rotated.positions = atoms.positions @ rot.T
    np.testing.assert_allclose(
        model.predict_one(rotated), rot @ alpha @ rot.T, rtol=1e-10, atol=1e-10
    )
    shifted = atoms.copy()
    shifted.translate([0.3, -1.1, 2.0])
    shifted.wrap()
    np.testing.assert_allclose(model.predict_one(shifted), alpha, atol=1e-10)
    perm = atoms[np.random.default_rng(0).permutation(len(atoms))]
    np.testing.assert_allclose(model.predict_one(perm), alpha, atol=1e-10)
    np.testing.assert_allclose(alpha, alpha.T, atol=1e-12)


def test_supercell_is_extensive() -> None:
    atoms = _na3sbs4(0.05, 2)
    model = _reference_model()
    np.testing.assert_allclose(
        model.predict_one(atoms * (2, 2, 2)), 8 * model.predict_one(atoms), rtol=1e-10
    )


def _labelled(truth: BondPolarizabilityModel, n: int) -> list:
    """``n`` rattled cells labelled exactly by ``truth``."""
    data = []
    for seed in range(n):
        at = _na3sbs4(0.08, seed)
        at.info["REF_polarizability"] = truth.predict_one(at)
        data.append(at)
    return data


def test_fit_recovers_parameters_from_exact_labels() -> None:
    truth = _reference_model()
    data = _labelled(truth, 12)
    fitted = BondPolarizabilityModel().fit(data, ridge=1e-10)  # the unpenalised estimator
    for at in data:
        np.testing.assert_allclose(fitted.predict_one(at), at.info["REF_polarizability"], atol=1e-6)
    test = _na3sbs4(0.08, 99)
    np.testing.assert_allclose(fitted.predict_one(test), truth.predict_one(test), rtol=1e-5)


def _w_doped(rattle: float, seed: int):
    """Na5SbWS8 in the 16-atom cell: one Sb -> W, one Na removed."""
    at = _na3sbs4(rattle, seed)
    symbols = at.get_chemical_symbols()
    at[symbols.index("Sb")].symbol = "W"
    del at[symbols.index("Na")]
    return at


def test_default_ridge_bounds_the_constants_of_a_rare_stoichiometry() -> None:
    # 12 Na3SbS4 + 3 W-doped labels with noise (σ 0.3 Å^3): the per-species constants are
    # near-degenerate, and without a penalty they take large cancelling values that fail on a
    # held-out W-doped cell (as on the DFT reference dataset: see DEFAULT_RIDGE)
    truth = _reference_model()
    truth.r0_A[("W", "S")] = 2.25
    truth.params[("W", "S")] = np.array([5.0, 7.0, 2.0, 1.0])
    truth.atom_params["W"] = 1.5
    rng = np.random.default_rng(0)

    def label(at):
        noise = rng.normal(0.0, 0.3, (3, 3))
        at.info["REF_polarizability"] = truth.predict_one(at) + (noise + noise.T) / 2
        return at

    data = [label(_na3sbs4(0.1, s)) for s in range(12)]
    data += [label(_w_doped(0.1, 100 + s)) for s in range(3)]
    test = _w_doped(0.1, 999)

    def error(model: BondPolarizabilityModel) -> float:
        return float(np.sqrt(np.mean((model.predict_one(test) - truth.predict_one(test)) ** 2)))

    default = BondPolarizabilityModel().fit(data)
    unpenalised = BondPolarizabilityModel().fit(data, ridge=1e-8)
    assert error(default) < 0.3  # the label noise
    assert max(abs(v) for v in default.atom_params.values()) < 10.0  # truth: at most 2 Å^3
    assert error(unpenalised) > 5 * error(default)


def test_save_load_round_trip(tmp_path) -> None:
    model = _reference_model()
    path = model.save(tmp_path / "bond.json")
    loaded = BondPolarizabilityModel.load(path)
    atoms = _na3sbs4(0.05, 4)
    np.testing.assert_allclose(loaded.predict_one(atoms), model.predict_one(atoms), rtol=1e-12)


def test_errors() -> None:
    with pytest.raises(InputError, match=r"no atoms\.info"):
        BondPolarizabilityModel().fit([_na3sbs4()])
    with pytest.raises(InputError, match="ridge"):
        BondPolarizabilityModel().fit(_labelled(_reference_model(), 2), ridge=-1.0)
    with pytest.raises(InputError, match="not fitted"):
        BondPolarizabilityModel().predict_one(_na3sbs4())
    agi = crystal(
        ["Ag", "I"],
        basis=[(0, 0, 0), (0.5, 0.5, 0.5)],
        spacegroup=221,
        cellpar=[4, 4, 4, 90, 90, 90],
    )
    with pytest.raises(InputError, match="no parameters for"):
        _reference_model().predict_one(agi)


def test_cli_fit_bond_with_element_filter(tmp_path, capsys) -> None:
    from ase.io import write
    from typer.testing import CliRunner

    from ionraman.cli import app, main

    truth = _reference_model()
    data = _labelled(truth, 10)
    doped = _na3sbs4(0.08, 50)
    doped[2].symbol = "W"  # a structure with an element the filter leaves out
    doped.info["REF_polarizability"] = 1e3 * np.eye(3)
    src = tmp_path / "labelled.extxyz"
    write(src, [*data, doped], format="extxyz")
    out = tmp_path / "bond.json"
    runner = CliRunner()
    res = runner.invoke(
        app, ["polarizability", "fit", str(src), "--kind", "bond", "--elements", "Na,Sb,S",
              "--ridge", "1e-10", "-o", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert "fitted on 10 structures" in res.output
    fitted = BondPolarizabilityModel.load(out)
    test = _na3sbs4(0.08, 99)
    np.testing.assert_allclose(fitted.predict_one(test), truth.predict_one(test), rtol=1e-5)
    import json

    report = json.loads(out.with_suffix(".fit.json").read_text())
    assert report["n_train"] == 10 and report["train_rmse_A3"] < 1e-5
    assert report["provenance"]["parameters"]["elements"] == ["Na", "S", "Sb"]
    assert report["provenance"]["parameters"]["ridge"] == 1e-10
    code = main(["polarizability", "fit", str(src), "--kind", "bond", "-o",
                 str(tmp_path / "bond.pt")])
    assert code == 2 and "as .json" in capsys.readouterr().err


def test_cli_ridge_default_is_the_model_default() -> None:
    import inspect

    from ionraman.cli import polarizability_fit
    from ionraman.polarizability.bond_model import DEFAULT_RIDGE

    assert inspect.signature(polarizability_fit).parameters["ridge"].default == DEFAULT_RIDGE
