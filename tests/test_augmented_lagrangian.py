"""The ReLU model's augmented-Lagrangian solver (the ReLU path on PyTorch devices) against
CVXPY + Clarabel."""

from __future__ import annotations

import numpy as np
import pytest

from convexnn.arrangements import sample_arrangements
from convexnn.losses import get_loss
from convexnn.solvers.augmented_lagrangian import solve_relu_al

cp = pytest.importorskip("cvxpy")
from convexnn.solvers.cvxpy_solver import solve_cvxpy  # noqa: E402


def _instance():
    rng = np.random.default_rng(0)
    X = np.hstack([rng.standard_normal((60, 4)), np.ones((60, 1))])
    y = rng.standard_normal(60)
    return X, y, sample_arrangements(X, 30, 0).masks()


def test_al_returns_a_feasible_near_optimal_network():
    X, y, masks = _instance()
    ref = solve_cvxpy(X, y, masks, 1e-2, model="relu")
    r = solve_relu_al(X, y, masks, get_loss("squared"), 1e-2, tol=1e-6, max_iter=20_000)
    U = np.concatenate([r.V, r.W])
    C = np.concatenate([2.0 * masks - 1, 2.0 * masks - 1], axis=1)
    viol = float(np.max(np.maximum(-(C * (X @ U.T)), 0.0)))
    # Before: the kept point was the one with the most negative gap (infeasible: violation
    # 1.4e-2, F 0.5 % *below* the optimum) and the multiplier steps stopped moving.
    assert viol <= 1e-6 * np.abs(X @ U.T).max()
    assert r.info["constraint_violation"] == pytest.approx(viol, rel=1e-6, abs=1e-12)
    assert abs(r.objective - ref.objective) <= 1e-5 * ref.objective
    assert r.lower_bound <= ref.objective * (1 + 1e-9)


def test_al_float32_does_not_end_in_a_numerical_error():
    torch = pytest.importorskip("torch")
    X, y, masks = _instance()
    r = solve_relu_al(torch.as_tensor(X, dtype=torch.float32),
                      torch.as_tensor(y, dtype=torch.float32), torch.as_tensor(masks),
                      get_loss("squared"), 1e-2, tol=1e-6, max_iter=3000)
    # The line search's round-off allowance now follows the precision (it was 1e-12, and
    # float32 runs doubled L to 1e300 and stopped NUMERICAL_ERROR after ~400 iterations).
    assert r.status.name != "NUMERICAL_ERROR"
    assert r.n_iter > 1000
    assert np.isfinite(r.objective)
