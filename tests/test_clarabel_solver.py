"""The direct Clarabel solver against the CVXPY reference, and its multipliers."""

from __future__ import annotations

import numpy as np
import pytest

from convexnn.arrangements import enumerate_arrangements, sample_arrangements
from convexnn.losses import get_loss
from convexnn.solvers._result import SolverStatus
from convexnn.solvers.clarabel_solver import solve_clarabel

cvxpy = pytest.importorskip("cvxpy")
from conftest import planted_instance as _instance  # noqa: E402

from convexnn.solvers.cvxpy_solver import solve_cvxpy  # noqa: E402


def _stationarity(X, y, res, masks, model, loss):
    """max_g ||X'(S_g mu + C_g lam_g)|| with mu = -grad L(prediction)."""
    D = masks.astype(float)
    U = res.V if res.W is None else res.V - res.W
    f = np.sum(D * (X @ U.T), axis=1)
    mu = -get_loss(loss).gradient(f, y)
    lam = res.info["multipliers"]
    if model == "relu":
        S = np.concatenate([D, -D], axis=1)
        C = np.concatenate([2 * D - 1, 2 * D - 1], axis=1)
        assert lam.shape == (X.shape[0], 2 * D.shape[1])
        assert np.min(lam) >= -1e-9
        M = S * mu[:, None] + C * lam
    else:
        M = D * mu[:, None]
    return float(np.max(np.linalg.norm(X.T @ M, axis=0)))


CASES = [
    (model, loss, n, patterns)
    for model in ("relu", "gated")
    for loss in ("squared", "logistic")
    for n, patterns in ((15, "enumerate"), (30, "sample"))
]


@pytest.mark.parametrize("model,loss,n,patterns", CASES)
def test_matches_cvxpy_and_multipliers(model, loss, n, patterns):
    X, y = _instance(n, seed=n + len(model) + len(loss), loss=loss)
    if patterns == "enumerate":
        masks = enumerate_arrangements(X).masks()
    else:
        masks = sample_arrangements(X, 50, 0).masks()
    beta = 1e-3 if loss == "squared" else 2e-3
    # Logistic: mu = -grad L(f) is taken at the *primal* prediction, whose error shrinks only
    # like the gap's square root; 1e-10 leaves ~1e-4 relative stationarity error, 1e-12 ~1e-8.
    tol = 1e-10 if loss == "squared" else 1e-12
    res = solve_clarabel(X, y, masks, beta, model=model, loss=loss, tol=tol)
    ref = solve_cvxpy(X, y, masks, beta, model=model, loss=loss, tol=1e-10)
    assert res.status is SolverStatus.CONVERGED, res.info["clarabel_status"]
    assert res.V.shape == (masks.shape[1], X.shape[1])
    assert (res.W is None) == (model == "gated")
    assert abs(res.objective - ref.objective) <= 1e-7 * abs(ref.objective)
    assert res.info["constraint_violation"] <= 1e-7
    g = _stationarity(X, y, res, masks, model, loss)
    assert g <= beta * (1 + 1e-5)
    # the dual bound is a valid lower bound and tight at the optimum
    assert res.lower_bound <= res.objective + 1e-12
    assert res.objective - res.lower_bound <= 1e-6 * abs(res.objective)
    assert res.info["iterations"] == res.n_iter > 0
    assert res.info["time"] > 0


def test_bad_arguments():
    X, y = _instance(10, 0, "squared")
    masks = sample_arrangements(X, 5, 0).masks()
    with pytest.raises(ValueError):
        solve_clarabel(X, y, masks, 1e-3, model="bogus")
    with pytest.raises(ValueError):
        solve_clarabel(X, y, masks, 1e-3, loss="bogus")


def test_max_iter_reported():
    X, y = _instance(30, 1, "squared")
    masks = sample_arrangements(X, 30, 0).masks()
    res = solve_clarabel(X, y, masks, 1e-3, max_iter=2)
    assert res.status is not SolverStatus.CONVERGED
