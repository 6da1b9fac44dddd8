"""First-order ReLU solver (FISTA with an exact cone-projection prox) against independent
references: CVXPY + Clarabel for the program, for the projections and for the prox."""

import numpy as np
import pytest
from conftest import planted_instance, random_instance

from convexnn import ConvexReLURegressor
from convexnn.arrangements import enumerate_arrangements, sample_arrangements
from convexnn.losses import get_loss
from convexnn.solvers._result import SolverStatus
from convexnn.solvers.cvxpy_solver import solve_cvxpy
from convexnn.solvers.relu_fista import ConeProjector, solve_relu_fista

cp = pytest.importorskip("cvxpy")

# (n, d, seed, beta, loss): d raw features plus the ones column (rank <= 4), exact
# enumeration (1151 patterns at rank 4). The rank-4 seeds are ones where CVXPY + Clarabel
# reports "optimal" at tol 1e-10 (on others it stops "optimal_inaccurate").
INSTANCES = [(20, 1, 0, 3e-2, "squared"), (20, 1, 0, 3e-2, "logistic"),
             (30, 2, 1, 1e-2, "squared"), (30, 2, 1, 1e-2, "logistic"),
             (16, 3, 2, 1e-2, "squared"), (16, 3, 4, 1e-2, "logistic")]


@pytest.mark.parametrize("n,d,seed,beta,loss", INSTANCES)
def test_reaches_the_cvxpy_optimum(n, d, seed, beta, loss):
    X, y = random_instance(n, d, seed, loss)
    Xd = np.column_stack([X, np.ones(n)])
    masks = enumerate_arrangements(Xd).masks()
    ref = solve_cvxpy(Xd, y, masks, beta, loss=loss, tol=1e-10)
    if ref.status is not SolverStatus.CONVERGED:
        pytest.skip(f"CVXPY did not solve this instance ({ref.info.get('cvxpy_status')})")
    res = solve_relu_fista(Xd, y, masks, get_loss(loss), beta, tol=1e-7)
    assert res.status is SolverStatus.CONVERGED
    assert abs(res.objective - ref.objective) <= 1e-6 * abs(ref.objective)
    # The certificate is sound: its lower bound is below the independent optimum ...
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
    assert res.criterion <= 1e-7
    # ... and the iterate is a network: every group in its cone (to the acceptance threshold).
    C = 2.0 * masks - 1.0
    for U in (res.V, res.W):
        Z = (Xd @ U.T) * C
        assert np.min(Z) >= -1e-10 * max(np.max(np.abs(Z)), 1e-300)


def _cvxpy_projection(A, z):
    u = cp.Variable(z.size)
    cp.Problem(cp.Minimize(cp.sum_squares(u - z)), [A @ u >= 0]).solve(solver="CLARABEL")
    return u.value


def test_projections_match_a_conic_solver_on_both_paths():
    rng = np.random.default_rng(3)
    n, d, P = 60, 5, 12
    X = np.column_stack([rng.standard_normal((n, d - 1)), np.ones(n)])
    masks = sample_arrangements(X, P, random_state=0).masks()
    C = 2.0 * masks - 1.0
    proj = ConeProjector(X, C, P)
    groups = np.arange(P)
    Z = rng.standard_normal((P, d)) * 3
    first = proj.project(Z, groups)  # NNLS path (nothing remembered yet)
    assert proj.n_nnls > 0
    # Nearby points reuse the remembered active rows (closed-form path).
    Z2 = Z + 1e-3 * rng.standard_normal(Z.shape)
    second = proj.project(Z2, groups)
    assert proj.n_fast > 0
    for g in range(P):
        A = C[:, g, None] * X
        for z, u in ((Z[g], first[g]), (Z2[g], second[g])):
            ref = _cvxpy_projection(A, z)
            assert np.linalg.norm(u - ref) <= 1e-6 * max(np.linalg.norm(z), 1.0)
            assert np.min(A @ u) >= -1e-10 * np.max(np.abs(A @ z))


def test_prox_is_shrinkage_of_the_projection():
    """prox of t(||.|| + I_K) = max(0, 1 - t/||P_K z||) P_K z (derivation in the module
    docstring), checked against the conic solver."""
    rng = np.random.default_rng(4)
    n, d = 40, 4
    X = rng.standard_normal((n, d))
    A = np.where(rng.random(n) > 0.5, 1.0, -1.0)[:, None] * X
    proj = ConeProjector(X, (A[:, :1] / X[:, :1]), 1)
    for t in (0.1, 1.0, 3.0):
        z = rng.standard_normal(d) * 2
        p = proj.project(z[None, :], np.array([0]))[0]
        mine = max(0.0, 1.0 - t / np.linalg.norm(p)) * p if np.linalg.norm(p) > 0 else p
        u = cp.Variable(d)
        cp.Problem(cp.Minimize(t * cp.norm(u, 2) + 0.5 * cp.sum_squares(u - z)),
                   [A @ u >= 0]).solve(solver="CLARABEL")
        assert np.linalg.norm(mine - u.value) <= 1e-6 * max(np.linalg.norm(z), 1.0)


def test_estimator_warm_start_and_time_limit():
    X, y = planted_instance(120, 0, "squared", d=4)
    kw = dict(beta=1e-2, arrangements=80, random_state=0, fit_intercept=False, tol=1e-7)
    ref = ConvexReLURegressor(solver="newton", **kw).fit(X, y)
    est = ConvexReLURegressor(solver="fista", **kw).fit(X, y)
    assert est.converged_
    assert abs(est.objective_ - ref.objective_) <= 1e-6 * ref.objective_
    assert np.allclose(est.network_.predict(X), est.predict(X))
    # Warm start from the solution: certified at once.
    Xd = X
    masks = est.arrangements_.masks() if hasattr(est, "arrangements_") else None
    if masks is not None:
        U0 = np.vstack([est.solver_result_.V, est.solver_result_.W])
        res = solve_relu_fista(Xd, y, masks, get_loss("squared"), 1e-2, U0=U0, tol=1e-6)
        assert res.status is SolverStatus.CONVERGED and res.n_iter <= 60
    # A tiny time limit returns a finite, certified-so-far iterate with its status.
    with pytest.warns(Warning):
        short = ConvexReLURegressor(solver="fista", time_limit=1e-4, **kw).fit(X, y)
    assert short.status_ in ("time_limit", "converged") or "TIME" in str(short.status_).upper()
    assert np.isfinite(short.objective_)
