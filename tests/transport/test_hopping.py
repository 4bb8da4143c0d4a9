"""Hopping descriptor: a lattice hopper versus a liquid-like walker."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.errors import InputError
from ionraman.transport.hopping import (
    assign_sites,
    classify_mechanism,
    hopping_descriptor,
    sites_from_time_average,
)

DT = 0.02  # ps


def test_lattice_hopper_is_hopping(make_lattice_hopper):
    pos, cell, sites, n_hops = make_lattice_hopper(4000, seed=0)
    # 24 ions on 64 sites: first-frame ("reference") sites miss the empty sites the ions hop
    # into, so the sites of the structure are given (or found by time averaging, below)
    res_all = hopping_descriptor(pos, cell, DT, sites=sites)
    assert res_all.mechanism == "hopping"
    assert res_all.n_hops == n_hops  # every generated hop is found, vibrations are not hops
    assert res_all.hop_rate_per_ps_per_ion == pytest.approx(n_hops / (24 * 4000 * DT))
    assert res_all.fraction_in_flight < 0.05
    assert res_all.mean_residence_time_ps > 10 * res_all.mean_flight_time_ps
    assert res_all.n_sites == 64
    d = res_all.to_dict()
    assert d["criteria"]["flight_fraction_max"] == 0.3 and d["site_radius_A"] == 0.8


def test_time_averaged_sites_find_the_lattice(make_lattice_hopper):
    pos, cell, sites, _ = make_lattice_hopper(3000, seed=2, hop_prob=0.004)
    found = sites_from_time_average(pos, cell, DT, block_ps=0.2)
    # every found site is a lattice site (within 0.1 Å), and most lattice sites are found
    d = found[:, None, :] - (sites @ np.linalg.inv(cell))[None]
    d -= np.round(d)
    dist = np.linalg.norm(d @ cell, axis=-1).min(axis=1)
    assert np.all(dist < 0.1)
    assert len(found) >= 0.8 * len(sites) and len(found) <= len(sites)
    res = hopping_descriptor(pos, cell, DT, sites="time_average", block_ps=0.2)
    assert res.mechanism == "hopping"


def test_liquid_like_walker(make_random_walk):
    box = 12.0
    x = make_random_walk(2000, 24, 0.3, box, seed=5)
    res = hopping_descriptor(np.mod(x, box), np.eye(3) * box, DT)
    assert res.mechanism == "liquid-like"
    assert res.fraction_in_flight > 0.8


def test_vibrating_without_hops_is_localised(make_lattice_hopper):
    pos, cell, _, n_hops = make_lattice_hopper(500, seed=3, hop_prob=0.0)
    assert n_hops == 0
    res = hopping_descriptor(pos, cell, DT)
    assert res.mechanism == "localised" and res.n_hops == 0


def test_assign_sites_changing_cell():
    cells = np.array([np.eye(3) * 10.0, np.eye(3) * 11.0])
    sites = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    pos = np.array([[[9.7, 0.2, 0.1], [5.0, 5.0, 5.0]], [[0.0, 0.0, 0.6], [5.5, 5.5, 6.4]]])
    got = assign_sites(pos, cells, sites, 0.8)
    np.testing.assert_array_equal(got, [[0, 1], [0, -1]])


def test_classify_thresholds_and_errors():
    assert classify_mechanism(0.1, 10.0, 0.5, 5) == "hopping"
    assert classify_mechanism(0.1, 1.0, 0.5, 5) == "liquid-like"
    assert classify_mechanism(0.5, 10.0, 0.5, 5) == "liquid-like"
    assert classify_mechanism(0.1, 10.0, float("nan"), 0) == "localised"
    with pytest.raises(InputError):
        hopping_descriptor(np.zeros((3, 2, 3)), np.eye(3), DT, sites="voronoi")
    with pytest.raises(InputError):
        hopping_descriptor(np.zeros((3, 2, 3)))


def test_large_vibrations_without_hops_are_localised_not_liquid_like():
    # more than half the time outside the site spheres, but no ion ever reached another site
    assert classify_mechanism(0.6, 1.0, float("nan"), 0) == "localised"
    assert classify_mechanism(0.6, 1.0, 0.5, 3) == "liquid-like"
