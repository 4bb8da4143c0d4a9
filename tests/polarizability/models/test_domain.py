"""Tests of the training-domain check (leave-one-structure-out radius, ratios, frame summary)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ionraman.polarizability.models.domain import FeatureDomain


def _domain() -> FeatureDomain:
    # one species, 1-D features: structure 0 at {0, 1}, structure 1 at {3}, structure 2 at {4}
    q = torch.tensor([[0.0], [1.0], [3.0], [4.0]])
    return FeatureDomain.from_training(
        q, torch.zeros(4, dtype=torch.long), torch.tensor([0, 0, 1, 2]), 1
    )


def test_radius_is_the_largest_leave_one_structure_out_distance() -> None:
    # nearest atom of another structure: 0 -> 3 (3), 1 -> 3 (2), 3 -> 4 (1), 4 -> 3 (1)
    assert _domain().radius == [pytest.approx(3.0)]


def test_ratios_and_frame_summary() -> None:
    dom = _domain()
    q = torch.tensor([[0.5], [10.0], [4.0], [-3.5]])
    rho = dom.ratios(q, torch.zeros(4, dtype=torch.long))
    assert np.allclose(rho.numpy(), [0.5 / 3, 6.0 / 3, 0.0, 3.5 / 3])
    outside, rho_max = dom.frame_summary(rho, np.array([2, 2]))  # two frames of two atoms
    assert np.allclose(outside, [0.5, 0.5]) and np.allclose(rho_max, [2.0, 3.5 / 3])
    outside, rho_max = dom.frame_summary(rho, np.array([3, 1]))  # frames of unequal size
    assert np.allclose(outside, [1 / 3, 1.0]) and np.allclose(rho_max, [2.0, 3.5 / 3])


def test_species_seen_in_one_structure_has_no_measurable_domain() -> None:
    q = torch.tensor([[0.0], [1.0], [5.0]])
    dom = FeatureDomain.from_training(
        q, torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), 2
    )
    assert dom.radius[0] == pytest.approx(1.0) and dom.radius[1] == np.inf
    rho = dom.ratios(torch.tensor([[50.0], [50.0]]), torch.tensor([0, 1]))
    assert rho[0] > 1 and rho[1] == 0.0  # species 1 is never reported outside


def test_subsampling_and_state_round_trip() -> None:
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(300, 5, generator=gen, dtype=torch.float64)
    dom = FeatureDomain.from_training(
        q, torch.zeros(300, dtype=torch.long), torch.arange(300) // 10, 1, max_atoms=100
    )
    assert dom.features[0].shape == (100, 5) and dom.features[0].dtype == torch.float32
    again = FeatureDomain.from_state(dom.state())
    x = torch.randn(7, 5, generator=gen)
    ch = torch.zeros(7, dtype=torch.long)
    assert torch.equal(again.ratios(x, ch), dom.ratios(x, ch))
