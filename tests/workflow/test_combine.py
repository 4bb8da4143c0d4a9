"""Combining the seeds of a point: the mean over seeds and its error."""

from __future__ import annotations

import pytest

from ionraman.workflow.combine import SeedMean, mean_over_seeds


def test_seed_mean_error_uses_the_larger_of_seed_scatter_and_run_errors() -> None:
    # seeds agree better than their own errors say (chance, with few seeds): the run errors count
    agg = mean_over_seeds([1.0, 1.01], [0.1, 0.1])
    assert agg.std_seeds == pytest.approx(0.01 / 2**0.5)
    assert agg.run_err == pytest.approx(0.1)
    assert agg.err == pytest.approx(0.1 / 2**0.5)
    # seeds scatter more than the run errors: the scatter counts
    agg = mean_over_seeds([1.0, 2.0, 3.0], [0.1, 0.1, None])
    assert agg.err == pytest.approx(1.0 / 3**0.5) and agg.n == 3
    # one seed: its own error; none: nothing
    assert mean_over_seeds([1.0], [0.2]).err == 0.2
    assert mean_over_seeds([None], [None]) == SeedMean(None, None, None, None, 0)


def test_point_result_round_trips_through_point_json(tmp_path) -> None:
    from ionraman.workflow.combine import PointResult
    from ionraman.workflow.stages import PanelValue, SeedMetrics

    point = PointResult(
        candidate="t-Na3SbS4",
        temperature_K=700.0,
        seeds=[0, 1],
        seeds_failed=["t-Na3SbS4/700K/seed2"],
        n_seeds_transport=2,
        D=mean_over_seeds([1e-6, 2e-6], [1e-7, 3e-7]),
        diffusive=True,
        spectrum_status="done",
        lowfreq_fraction=mean_over_seeds([0.005, 0.006], [0.001, 0.001]),
        panel={"fraction": mean_over_seeds([0.005, 0.006], [0.001, 0.001])},
        panel_descriptions={"fraction": "0-50 cm-1 over 0-800 cm-1"},
        per_seed_metrics=[
            SeedMetrics(
                lowfreq_fraction=0.005,
                lowfreq_fraction_stderr=0.001,
                panel={"fraction": PanelValue(0.005, 0.001, "0-50 cm-1 over 0-800 cm-1")},
            )
        ],
    )
    point.save(tmp_path / "point.json")
    back = PointResult.load(tmp_path / "point.json")
    assert back == point
    assert back.band_ratio is None and back.D.n == 2  # absent metrics stay absent
