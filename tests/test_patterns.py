"""The default pattern discovery of the ReLU estimators (Adam seed + column generation)."""

import warnings

import numpy as np
import pytest

import convexnn.estimators as E
from convexnn import ConvexReLUClassifier, ConvexReLURegressor
from convexnn.nonconvex import train_adam_numpy

KEYS = {"round", "time", "n_patterns", "objective", "violation", "sound_lower_bound",
        "n_active", "n_added", "nonconvex_objective", "nonconvex_time", "solve_time",
        "oracle_time", "stop"}


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


@pytest.fixture
def small_seed(monkeypatch):
    """A small seed and budget so the tests run in seconds (the logic is unchanged)."""
    monkeypatch.setattr(E, "CG_SEED_WIDTH", 12)
    monkeypatch.setattr(E, "CG_SEED_STEPS", 300)
    monkeypatch.setattr(E, "CG_REFINE_STEPS", 100)
    monkeypatch.setattr(E, "CG_MIN_TIME", 3.0)
    monkeypatch.setattr(E, "CG_MAX_ROUNDS", 2)


def _lowrank(n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = np.maximum(X @ [1.0, -0.5] + 0.3, 0) - np.maximum(X @ [-0.4, 1.0], 0)
    y += 0.1 * rng.standard_normal(n)
    return X, y


def test_column_generation_reaches_enumerated_optimum(monkeypatch, small_seed):
    """d = 2 + bias: column generation from a handful of patterns reaches the optimum over
    every pattern (exact enumeration), and every recorded bound is sound."""
    X, y = _lowrank()
    beta = 1e-2
    exact = _fit(ConvexReLURegressor(beta=beta, arrangements="exact", tol=1e-9), X, y)
    F_star = exact.objective_
    assert exact.certificate_.optimal
    # The enumerated optimum itself, against an independent interior-point solve.
    pytest.importorskip("cvxpy")
    from convexnn.solvers.cvxpy_solver import solve_cvxpy

    ref = solve_cvxpy(np.column_stack([X, np.ones(len(X))]), y, exact.arrangements_.masks(),
                      beta, model="relu", loss="squared", tol=1e-9)
    assert F_star == pytest.approx(ref.objective, rel=1e-6)
    # Force the column-generation branch on this low-rank instance, from few patterns.
    monkeypatch.setattr(E, "AUTO_EXACT_LIMIT", 0)
    monkeypatch.setattr(E, "CG_INITIAL", 2)
    monkeypatch.setattr(E, "CG_SEED_WIDTH", 3)
    monkeypatch.setattr(E, "CG_STALL", 0.0)
    monkeypatch.setattr(E, "CG_MAX_ROUNDS", 30)
    monkeypatch.setattr(E, "CG_MIN_TIME", 60.0)
    est = _fit(ConvexReLURegressor(beta=beta, tol=1e-9, random_state=0), X, y)
    rounds = est.column_generation_
    assert rounds is not None and rounds[0]["n_patterns"] <= 8
    assert est.objective_ == pytest.approx(F_star, rel=1e-6)
    assert est.objective_ >= F_star * (1 - 1e-9)
    for r in rounds:
        assert r["sound_lower_bound"] <= F_star * (1 + 1e-9)
        assert r["objective"] >= F_star * (1 - 1e-9)
    objs = [r["objective"] for r in rounds]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(objs, objs[1:], strict=False))
    # High rank is not claimed here: the fitted patterns are not all of them.
    assert not est.arrangements_.exact


def _teacher(n=80, d=8, seed=1, classification=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((5, d))
    y = np.maximum(X @ W.T, 0) @ rng.standard_normal(5) + 0.1 * rng.standard_normal(n)
    if classification:
        y = np.where(y > np.median(y), 1, 0)
    return X, y


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_default_beats_its_seed_and_records_rounds(small_seed, loss):
    X, y = _teacher(classification=loss == "logistic")
    cls = ConvexReLUClassifier if loss == "logistic" else ConvexReLURegressor
    est = _fit(cls(beta=1e-2, loss=loss, random_state=0), X, y)
    rounds = est.column_generation_
    assert rounds, "the high-rank default must run column generation"
    for r in rounds:
        assert KEYS <= set(r)
    assert rounds[-1]["stop"] and all(r["stop"] == "" for r in rounds[:-1])
    # The first convex solve is warm-started at the seed network: never worse than it.
    assert rounds[0]["objective"] <= rounds[0]["nonconvex_objective"] * (1 + 1e-12)
    assert est.objective_ <= rounds[0]["nonconvex_objective"] * (1 + 1e-6)
    objs = [r["objective"] for r in rounds]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(objs, objs[1:], strict=False))
    assert est.objective_ == pytest.approx(objs[-1], rel=1e-6)
    times = [r["time"] for r in rounds]
    assert times == sorted(times) and times[-1] <= est.fit_time_
    # Sound bounds are below every objective seen.
    assert all(r["sound_lower_bound"] <= min(objs) for r in rounds)
    # The certificate at high rank proves no optimality it does not have.
    cert = est.certificate_
    assert cert.lower_bound <= est.objective_ * (1 + 1e-12)
    assert not cert.exact and not cert.optimal


def test_certificate_never_claims_beyond_bound(small_seed):
    """optimal => exact g and a relative gap within tol, for both pattern modes."""
    X, y = _lowrank()
    for arrangements in ("exact", "auto"):
        est = _fit(ConvexReLURegressor(beta=1e-2, arrangements=arrangements, random_state=0),
                   X, y)
        cert = est.certificate_
        assert cert.lower_bound <= cert.primal * (1 + 1e-12)
        if cert.optimal:
            assert cert.exact and cert.relative_gap <= cert.tol
    X, y = _teacher(n=60)
    est = _fit(ConvexReLURegressor(beta=1e-2, random_state=0), X, y)
    assert est.column_generation_ and not est.certificate_.optimal


def test_default_deterministic_and_tiny_inputs(small_seed):
    X, y = _teacher(n=40)
    a = _fit(ConvexReLURegressor(beta=1e-2, random_state=3), X, y)
    b = _fit(ConvexReLURegressor(beta=1e-2, random_state=3), X, y)
    assert a.objective_ == b.objective_
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    for n in (1, 2, 3):
        Xs, ys = X[:n], y[:n]
        est = _fit(ConvexReLURegressor(beta=1e-2, random_state=0), Xs, ys)
        assert np.isfinite(est.objective_)


def test_adam_numpy_decreases_F_and_is_reproducible():
    X, y = _teacher(n=50, d=4)
    r1 = train_adam_numpy(X, y, 1e-2, width=10, lr=1e-2, steps=200, seed=5, snapshot_every=50)
    r2 = train_adam_numpy(X, y, 1e-2, width=10, lr=1e-2, steps=200, seed=5)
    assert r1.objective == r2.objective
    assert r1.objective < r1.history[0][1]
    assert r1.objective == pytest.approx(r1.network.objective(X, y, 1e-2), rel=1e-12)
    assert len(r1.snapshots) == 5 and r1.snapshots[0].shape == (5, 10)
