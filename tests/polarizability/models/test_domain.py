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
    # nearest atom of another structure: 0 -> 3 (3), 1 -> 3 (2), 3 -> 4 (1), 4 -> 3 (1);
    # one species, quantile 1: median 1.5 × (largest ratio 3 / 1.5) = the largest distance
    assert _domain().radius == [pytest.approx(3.0)]


def test_radius_is_species_median_times_pooled_quantile() -> None:
    # species 0: distances [3, 2, 1, 1] (median 1.5); species 1 at {0}, {10}, {12}: [10, 2, 2]
    # (median 2); pooled ratios [2, 4/3, 2/3, 2/3, 5, 1, 1]
    q = torch.tensor([[0.0], [1.0], [3.0], [4.0], [0.0], [10.0], [12.0]])
    ch = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    owner = torch.tensor([0, 0, 1, 2, 0, 1, 2])
    _, dist = FeatureDomain.loso_distances(q, ch, owner, 2)
    assert np.allclose(dist[0], [3, 2, 1, 1]) and np.allclose(dist[1], [10, 2, 2])
    pooled = np.array([2, 4 / 3, 2 / 3, 2 / 3, 5, 1, 1])
    for quantile in (1.0, 0.5, 0.9):
        scale = np.quantile(pooled, quantile)
        dom = FeatureDomain.from_training(q, ch, owner, 2, quantile=quantile)
        assert dom.radius == [pytest.approx(1.5 * scale), pytest.approx(2.0 * scale)]
    with pytest.raises(ValueError, match="quantile"):
        FeatureDomain.from_training(q, ch, owner, 2, quantile=0.0)


def test_one_isolated_atom_moves_the_maximum_not_a_quantile() -> None:
    """The reason for the pooled quantile: one new structure with an isolated atom."""
    gen = torch.Generator().manual_seed(1)
    n = 400  # 40 structures of 10 atoms, two species
    q = torch.randn(n, 4, generator=gen, dtype=torch.float64)
    ch = torch.arange(n) % 2
    owner = torch.arange(n) // 10
    extra_q = torch.cat([q, torch.full((1, 4), 6.0, dtype=torch.float64)])
    extra_ch = torch.cat([ch, torch.tensor([1])])
    extra_owner = torch.cat([owner, torch.tensor([40])])
    for quantile, most in ((1.0, None), (0.99, 0.03)):
        before = FeatureDomain.from_training(q, ch, owner, 2, quantile=quantile).radius
        after = FeatureDomain.from_training(extra_q, extra_ch, extra_owner, 2,
                                            quantile=quantile).radius
        change = max(abs(a / b - 1) for a, b in zip(after, before, strict=True))
        if most is None:
            assert change > 0.5  # the maximum follows the isolated atom
        else:
            assert change < most


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
