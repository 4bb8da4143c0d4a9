"""Porto notation and tensor invariants."""

from __future__ import annotations

import numpy as np
import pytest

from ionraman.errors import InputError
from ionraman.spectra import (
    anisotropy_invariant,
    polarizability_invariants,
    porto_vectors,
    random_rotations,
    rotate_tensors,
)

X, Y, Z = np.eye(3)
S = np.sqrt(0.5)


@pytest.mark.parametrize(
    ("notation", "e_i", "e_s"),
    [
        ("z(xx)z̄", X, X),
        ("z(xy)-z", X, Y),
        ("z(yx)z\u0305", Y, X),
        ("x(zz)x̄", Z, Z),
        ("z(x'x')z̄", [S, S, 0], [S, S, 0]),
        ("z(x'y')z̄", [S, S, 0], [-S, S, 0]),
        ("(xy)", X, Y),
        ("y(x z)y", X, Z),
    ],
)
def test_porto_vectors(notation, e_i, e_s):
    got_i, got_s = porto_vectors(notation)
    np.testing.assert_allclose(got_i, e_i, atol=1e-15)
    np.testing.assert_allclose(got_s, e_s, atol=1e-15)


@pytest.mark.parametrize("bad", ["z(zz)z̄", "x(xy)x̄", "zz", "z(xq)z", ""])
def test_porto_errors(bad):
    with pytest.raises(InputError) as exc:
        porto_vectors(bad)
    assert "\n" not in str(exc.value)


def test_invariants_of_known_tensor():
    alpha = np.array([[[3.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 1.0]]])
    a, beta = polarizability_invariants(alpha)
    assert a[0] == pytest.approx(2.0)
    np.testing.assert_allclose(np.trace(beta[0]), 0.0, atol=1e-15)
    # textbook γ² = ½[(xx−yy)² + (yy−zz)² + (zz−xx)² + 6(xy² + yz² + zx²)] = ½[1 + 1 + 4 + 6] = 6
    assert anisotropy_invariant(beta)[0] == pytest.approx(6.0)


def test_invariants_are_rotation_invariant_and_symmetrise():
    rng = np.random.default_rng(0)
    alpha = rng.standard_normal((50, 3, 3))
    a, beta = polarizability_invariants(alpha)
    for rot in random_rotations(5, seed=1):
        a2, beta2 = polarizability_invariants(rotate_tensors(alpha, rot))
        np.testing.assert_allclose(a2, a, atol=1e-12)
        np.testing.assert_allclose(anisotropy_invariant(beta2), anisotropy_invariant(beta))
    np.testing.assert_allclose(beta, np.swapaxes(beta, 1, 2))


def test_invariants_reject_bad_input():
    with pytest.raises(InputError, match=r"\[S, 3, 3\]"):
        polarizability_invariants(np.zeros((10, 6)))
    bad = np.zeros((4, 3, 3))
    bad[2, 0, 0] = np.nan
    with pytest.raises(InputError, match="frame 2"):
        polarizability_invariants(bad)
