"""Calibration against measured conductivities/diffusivities: units, matching, logistic
threshold, ROC AUC, flags."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ionraman.errors import InputError
from ionraman.screening.calibration import calibrate, read_measurements, roc_auc


def _csv(tmp_path, text):
    p = tmp_path / "measured.csv"
    p.write_text(text)
    return p


def test_units_are_converted_and_errors_name_the_line(tmp_path):
    df = read_measurements(
        _csv(
            tmp_path,
            "composition,T,value,unit\n"
            "A,300,2.5,mS/cm\nB,300,4e-3,S/m\nC,600,1e-10,m2/s\nD,300,1e-7,cm2/s\n",
        )
    )
    assert list(df["quantity"]) == ["sigma", "sigma", "D", "D"]
    np.testing.assert_allclose(df["value_std_units"], [2.5e-3, 4e-5, 1e-6, 1e-7])
    with pytest.raises(InputError, match=r"line 3: unknown unit 'furlongs'"):
        text = "composition,T,value,unit\nA,300,1,S/cm\nB,3,1,furlongs\n"
        read_measurements(_csv(tmp_path, text))
    with pytest.raises(InputError, match=r"missing column\(s\) unit"):
        read_measurements(_csv(tmp_path, "composition,T,value\nA,300,1\n"))
    with pytest.raises(InputError, match=r"line 2: T and value must be positive"):
        read_measurements(_csv(tmp_path, "composition,temperature_K,value,unit\nA,300,-1,S/cm\n"))


def test_roc_auc():
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [False, False, True, True]) == 0.0
    assert roc_auc([0.5, 0.5], [False, True]) == 0.5
    assert math.isnan(roc_auc([0.1, 0.2], [True, True]))


def _table():
    # simulated metric of five candidates at 600 and 900 K (rises with T)
    rows = []
    for k, name in enumerate(["s1", "s2", "f1", "f2", "f3"]):
        for t, bump in ((600.0, 0.0), (900.0, 0.02)):
            rows.append({"candidate": name, "temperature_K": t, "metric": 0.05 + 0.04 * k + bump})
    return pd.DataFrame(rows)


def test_separable_measurements_give_a_threshold_between_the_classes(tmp_path):
    meas = read_measurements(
        _csv(
            tmp_path,
            "composition,T,value,unit\n"
            "S1,300,1e-6,S/cm\nS2,300,5e-6,S/cm\nF1,300,2e-3,S/cm\nF2,300,1e-2,S/cm\n"
            "F3,700,3e-6,cm2/s\nunknown,300,1,S/cm\n",
        )
    )
    res = calibrate(
        _table(), meas, metric="metric", fast_sigma_S_cm=1e-4, fast_D_cm2_s=1e-6,
        composition_of={"s1": "S1", "s2": "S2", "f1": "F1", "f2": "F2", "f3": "F3"},
    )
    assert res.status == "done" and res.n == 5 and res.n_fast == 3
    assert res.unmatched == ["unknown"]
    assert res.roc_auc == 1.0 and res.direction == "higher is faster"
    # s2 (0.09) slow, f1 (0.13) fast: the threshold lies between them
    assert 0.09 < res.threshold < 0.13
    assert 0.09 < res.youden_threshold < 0.13
    f3 = next(p for p in res.points if p["candidate"] == "f3")
    assert f3["metric_at"] == "interpolated (1/T)" and 0.21 < f3["metric"] < 0.23
    s1 = next(p for p in res.points if p["candidate"] == "s1")
    assert s1["metric_at"] == "nearest" and s1["metric"] == pytest.approx(0.05)
    assert res.flag(0.2) == (True, pytest.approx(float(res.probability(0.2))))
    assert res.flag(0.06)[0] is False
    assert res.flag(None) == (None, None)
    assert "threshold" in res.summary() and res.to_dict()["status"] == "done"


def test_one_class_only_is_skipped_with_the_reason(tmp_path):
    meas = read_measurements(_csv(tmp_path, "composition,T,value,unit\ns1,300,1,S/cm\n"))
    res = calibrate(_table(), meas, metric="metric")
    assert res.status.startswith("skipped: all 1 matched measurements are fast")
    assert res.flag(0.3) == (None, None)
    res = calibrate(_table(), meas, metric="absent")
    assert res.status == "skipped: no absent values"


def test_builtin_measurements_are_sourced_and_readable():
    from ionraman.screening.calibration import BUILTIN_MEASUREMENTS
    from ionraman.workflow.config import load_config

    table = read_measurements(BUILTIN_MEASUREMENTS)
    raw = pd.read_csv(BUILTIN_MEASUREMENTS, comment="#")
    assert raw["doi"].str.match(r"^10\.\d{4,}/").all() and raw["note"].str.len().gt(20).all()
    assert set(table["composition"]) == {
        "t-Na3SbS4",
        "Na2.88Sb0.88W0.12S4",
        "c-Na3PS4",
        "c-Na3PSe4",
        "Na11Sn2PS12",
    }
    assert (table["quantity"] == "sigma").all() and table["value_std_units"].between(1e-5, 1).all()
    cfg = load_config(
        {
            "candidates": [{"structure": "t-Na3SbS4"}],
            "temperatures_K": [600],
            "calibration": {"data": "builtin"},
        },
        base_dir=".",
    )
    assert cfg.calibration_path() == BUILTIN_MEASUREMENTS
