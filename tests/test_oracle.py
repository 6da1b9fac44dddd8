"""Tests for convexnn.oracle: exact and search dual oracles against CVXPY and brute force."""

import numpy as np
import pytest

from convexnn.arrangements import enumerate_arrangements, sample_arrangements
from convexnn.oracle import (
    exact_oracle,
    norm_upper_bound,
    oracle_value,
    pattern_maximum,
    search_oracle,
)

cp = pytest.importorskip("cvxpy")


def _data(seed, n=10, d=2, bias=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if bias:
        X = np.column_stack([X, np.ones(n)])
    return X, rng.standard_normal(n)


def _cvxpy_oracle(X, mu, masks):
    best = 0.0
    d = X.shape[1]
    for i in range(masks.shape[1]):
        D = masks[:, i]
        K = np.where(D[:, None], X, -X)
        for s in (1.0, -1.0):
            u = cp.Variable(d)
            prob = cp.Problem(cp.Maximize(s * ((mu * D) @ X) @ u), [K @ u >= 0, cp.norm(u) <= 1])
            prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
            best = max(best, prob.value)
    return best


def _dense_sample(X, mu, seed=0, k=100_000):
    U = np.random.default_rng(seed).standard_normal((X.shape[1], k))
    U /= np.linalg.norm(U, axis=0)
    return float(np.max(np.abs(oracle_value(X, mu, U))))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_oracle_matches_cvxpy(seed):
    X, mu = _data(seed)
    res = exact_oracle(X, mu)
    ref = _cvxpy_oracle(X, mu, enumerate_arrangements(X).masks())
    assert res.exact
    assert res.value == pytest.approx(ref, rel=1e-8)
    # upper_bound is a sound bound equal to the value up to rounding.
    assert res.value <= res.upper_bound <= res.value * (1 + 1e-12) + 1e-15
    # The returned u attains the value.
    assert np.linalg.norm(res.u) == pytest.approx(1.0)
    assert res.sign * mu @ np.maximum(X @ res.u, 0) == pytest.approx(res.value, rel=1e-12)
    # No sampled direction beats it.
    assert _dense_sample(X, mu, seed) <= res.upper_bound * (1 + 1e-12)


def test_exact_oracle_no_bias_and_rank_deficient():
    rng = np.random.default_rng(5)
    B = rng.standard_normal((10, 2))
    X = B @ rng.standard_normal((2, 4))  # rank 2 in R^4
    mu = rng.standard_normal(10)
    res = exact_oracle(X, mu)
    ref = _cvxpy_oracle(X, mu, enumerate_arrangements(X).masks())
    assert res.value == pytest.approx(ref, rel=1e-8)
    assert _dense_sample(X, mu) <= res.upper_bound * (1 + 1e-12)


def test_pattern_maximum_interval():
    X, mu = _data(3)
    masks = enumerate_arrangements(X).masks()
    for i in range(0, masks.shape[1], 7):
        for s in (1.0, -1.0):
            lo, hi, u = pattern_maximum(X, mu, masks[:, i], s)
            assert 0 <= lo <= hi * (1 + 1e-12) + 1e-15
            assert hi - lo <= 1e-12 * max(hi, 1.0)


def test_zero_mu_and_errors():
    X, _ = _data(0)
    res = exact_oracle(X, np.zeros(X.shape[0]))
    assert res.value == 0 and res.upper_bound == 0
    with pytest.raises(ValueError, match="search_oracle"):
        exact_oracle(np.random.default_rng(0).standard_normal((60, 8)), np.ones(60))
    with pytest.raises(ValueError, match="rows"):
        exact_oracle(X, np.ones(3))


def test_sampled_patterns_are_not_exact():
    X, mu = _data(4)
    arr = sample_arrangements(X, 5, random_state=0)
    res = exact_oracle(X, mu, arr)
    full = exact_oracle(X, mu)
    assert not res.exact
    assert res.value <= full.value * (1 + 1e-12)
    assert res.upper_bound >= full.value
    assert res.upper_bound == pytest.approx(max(norm_upper_bound(X, mu), res.value))


@pytest.mark.parametrize("seed", range(6))
def test_norm_upper_bound_is_sound(seed):
    rng = np.random.default_rng(seed)
    n, d = 15, 3
    X = rng.standard_normal((n, d)) * rng.uniform(0.1, 3, size=(n, 1))
    mu = rng.standard_normal(n) * (rng.uniform(size=n) < 0.7)
    g = exact_oracle(X, mu).value
    ub = norm_upper_bound(X, mu)
    assert g <= ub
    # and no looser than the bound of SPEC §3
    spec = max(np.linalg.norm(np.maximum(mu, 0)), np.linalg.norm(np.maximum(-mu, 0)))
    assert ub <= spec * np.linalg.norm(X, 2) * (1 + 1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_search_oracle_finds_exact_value_on_small_data(seed):
    X, mu = _data(seed, n=20, d=2)
    ex = exact_oracle(X, mu)
    se = search_oracle(X, mu, random_state=seed)
    assert not se.exact
    assert se.value <= ex.upper_bound * (1 + 1e-12)
    assert se.value == pytest.approx(ex.value, rel=1e-9)
    assert se.upper_bound >= ex.value
    assert se.sign * mu @ np.maximum(X @ se.u, 0) == pytest.approx(se.value, rel=1e-12)


def test_search_oracle_higher_dimension_is_a_lower_value():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 10))
    mu = rng.standard_normal(100)
    init = rng.standard_normal((10, 3))
    se = search_oracle(X, mu, random_state=0, init=init)
    assert 0 < se.value <= se.upper_bound
    assert se.sign * mu @ np.maximum(X @ se.u, 0) == pytest.approx(se.value, rel=1e-12)
    # at least as good as every data-point direction
    U = X.T / np.linalg.norm(X, axis=1)
    assert se.value >= np.max(np.abs(oracle_value(X, mu, U))) - 1e-12
