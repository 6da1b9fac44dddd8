"""The first-order ADMM solver of the ReLU program against the interior-point reference."""

import numpy as np
import pytest
from conftest import random_instance

from convexnn import ConvexReLUClassifier
from convexnn.arrangements import enumerate_arrangements
from convexnn.losses import get_loss
from convexnn.solvers._result import SolverStatus
from convexnn.solvers.admm import prox_loss, solve_relu_admm
from convexnn.solvers.cvxpy_solver import solve_cvxpy

pytest.importorskip("cvxpy")

# (n, d, seed, beta) with d raw features; the ones column makes the rank d + 1 <= 3.
INSTANCES = [(20, 1, 0, 3e-2), (12, 2, 5, 5e-2), (14, 1, 3, 5e-2)]


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("n,d,seed,beta", INSTANCES)
def test_admm_reaches_the_interior_point_optimum(n, d, seed, beta, loss):
    X, y = random_instance(n, d, seed, loss)
    Xd = np.column_stack([X, np.ones(n)])
    masks = enumerate_arrangements(Xd).masks()
    ref = solve_cvxpy(Xd, y, masks, beta, loss=loss, tol=1e-10)
    assert ref.status is SolverStatus.CONVERGED
    res = solve_relu_admm(Xd, y, masks, get_loss(loss), beta, tol=1e-6)
    assert res.status is SolverStatus.CONVERGED
    assert np.isfinite(res.objective) and np.all(np.isfinite(res.V))
    assert abs(res.objective - ref.objective) <= 1e-5 * abs(ref.objective)
    # The certificate is sound: its lower bound is below the independent optimum.
    assert res.lower_bound <= ref.objective * (1 + 1e-8)
    assert res.criterion <= 1e-6


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("rho_f", [1e-8, 1e-3, 1.0, 1e6])
def test_prox_loss_is_exact(loss, rho_f):
    rng = np.random.default_rng(0)
    n = 40
    v = rng.standard_normal(n) * 10 ** rng.uniform(-2, 3, n)
    y = np.where(rng.random(n) > 0.5, 1.0, -1.0)
    L = get_loss(loss)
    f = prox_loss(L, v, y, rho_f)
    # Optimality of the strictly convex 1-D problems, relative to their scale.
    resid = L.gradient(f, y) + rho_f * (f - v)
    scale = (1.0 / n + rho_f) * (1.0 + np.abs(f) + np.abs(v))
    assert np.all(np.abs(resid) <= 1e-13 * scale)
    # Warm starts anywhere give the same point (to round-off in the bracket of width
    # 1 / (n rho_f)).
    f2 = prox_loss(L, v, y, rho_f, f0=-3 * v)
    assert np.all(np.abs(f2 - f) <= 1e-14 * (np.abs(f) + np.abs(v) + 1.0 / (n * rho_f)))


def test_classifier_admm_matches_cvxpy():
    X, y = random_instance(20, 1, 0, "logistic")
    kw = dict(beta=3e-2, loss="logistic", arrangements="exact")
    ref = ConvexReLUClassifier(solver="cvxpy", **kw).fit(X, y)
    est = ConvexReLUClassifier(solver="admm", **kw).fit(X, y)
    assert est.converged_
    assert abs(est.objective_ - ref.objective_) <= 1e-5 * abs(ref.objective_)
