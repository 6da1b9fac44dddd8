import numpy as np
import pytest

from convexnn.arrangements import (
    arrangements_1d,
    arrangements_from_gates,
    enumerate_arrangements,
    max_arrangements,
    sample_arrangements,
)


def brute_force_patterns(X, n_draws=200_000, seed=0):
    """Patterns hit by many random gate vectors (a lower bound on the true set)."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((X.shape[1], n_draws))
    M = X @ G >= 0
    return {tuple(c) for c in np.unique(M.T, axis=0) if c.any()}


@pytest.mark.parametrize("r", [1, 2, 3, 4])
def test_exact_count_matches_bound_in_general_position(r):
    rng = np.random.default_rng(r)
    n = 12
    # Rank r with a ones column (the bias), data in general position.
    X = np.column_stack([rng.standard_normal((n, r - 1)), np.ones(n)])
    arr = enumerate_arrangements(X)
    assert arr.exact
    assert arr.n_patterns == max_arrangements(n, r) - 1  # minus the all-zero pattern
    # Each gate generates its pattern.
    assert np.array_equal(X @ arr.gates >= 0, arr.masks())


@pytest.mark.parametrize("r", [2, 3, 4])
def test_exact_count_without_ones_column_and_low_rank_embedding(r):
    rng = np.random.default_rng(10 + r)
    n, d = 10, 6
    X = rng.standard_normal((n, r)) @ rng.standard_normal((r, d))  # rank r in R^6
    arr = enumerate_arrangements(X)
    # Central arrangement in general position: all 2 sum C(n-1,k) cells, the all-negative
    # cell (u = -u0) exists iff some u has Xu < 0 everywhere: not for a central arrangement of
    # points in general position unless they lie in a half-space; count against brute force.
    bf = brute_force_patterns(X)
    got = {tuple(c) for c in arr.masks().T}
    assert bf <= got
    assert arr.n_patterns <= max_arrangements(n, r)


def test_exact_is_superset_of_sampled():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.standard_normal((15, 2)), np.ones(15)])
    exact = {tuple(c) for c in enumerate_arrangements(X).masks().T}
    sampled = {tuple(c) for c in sample_arrangements(X, 5000, 0).masks().T}
    assert sampled <= exact


def test_sampling_dedup_seed_and_memory_report():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 5))
    a = sample_arrangements(X, 300, random_state=3)
    b = sample_arrangements(X, 300, random_state=3)
    assert np.array_equal(a.gates, b.gates)
    M = a.masks()
    assert len({tuple(c) for c in M.T}) == a.n_patterns  # distinct
    assert M.any(axis=0).all()  # no all-zero pattern
    assert a.nbytes == a.packed_masks.nbytes + a.gates.nbytes
    assert a.packed_masks.nbytes == ((50 + 7) // 8) * a.n_patterns  # bit-packed
    assert "n_patterns" in repr(a)


def test_all_zero_pattern_removed():
    X = np.ones((5, 1))
    arr = sample_arrangements(X, 100, 0)
    assert arr.n_patterns == 1 and arr.masks().all()


def test_1d_thresholds():
    x = np.array([0.3, -1.0, 2.0, 0.5, 1.1])
    arr = arrangements_1d(x)
    X = np.column_stack([x, np.ones_like(x)])
    assert arr.n_patterns == 2 * len(x) - 1
    assert np.array_equal(X @ arr.gates >= 0, arr.masks())
    ex = enumerate_arrangements(X)
    assert {tuple(c) for c in ex.masks().T} == {tuple(c) for c in arr.masks().T}


def test_from_gates_and_union():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20, 3))
    a = sample_arrangements(X, 30, 0)
    b = arrangements_from_gates(X, a.gates[:, :5])
    u = a.union(b)
    assert u.n_patterns == a.n_patterns
    with pytest.raises(ValueError, match="shape"):
        arrangements_from_gates(X, np.ones((2, 3)))


def test_errors_are_clear():
    X = np.random.default_rng(0).standard_normal((200, 8))
    with pytest.raises(ValueError, match="sample them instead"):
        enumerate_arrangements(X)
    with pytest.raises(MemoryError, match="fewer patterns"):
        sample_arrangements(X, 10**9)
    with pytest.raises(ValueError, match="positive integer"):
        sample_arrangements(X, 0)
