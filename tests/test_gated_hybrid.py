"""Gated model: interior point + sparse FISTA polish, against CVXPY + Clarabel and cold FISTA."""

import numpy as np
import pytest
from conftest import planted_instance

from convexnn import ConvexReLUClassifier, ConvexReLURegressor
from convexnn.arrangements import sample_arrangements
from convexnn.losses import get_loss
from convexnn.solvers._result import SolverStatus
from convexnn.solvers.cvxpy_solver import solve_cvxpy
from convexnn.solvers.fista import solve_gated_fista
from convexnn.solvers.gated_hybrid import solve_gated_hybrid, use_hybrid
from convexnn.solvers.working_set import solve_working_set

pytest.importorskip("cvxpy")


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("seed", [0, 1])
def test_hybrid_matches_cvxpy_and_is_as_sparse_as_fista(loss, seed):
    X, y = planted_instance(150, seed, loss, d=5)
    arr = sample_arrangements(X, 60, random_state=seed)
    masks = arr.masks()
    beta = 1e-2
    ref = solve_cvxpy(X, y, masks, beta, model="gated", loss=loss, tol=1e-9)
    assert ref.status is SolverStatus.CONVERGED
    res = solve_gated_hybrid(X, y, masks, get_loss(loss), beta, gates=arr.gates, tol=1e-7)
    assert res.status is SolverStatus.CONVERGED and res.criterion <= 1e-7
    assert abs(res.objective - ref.objective) <= 1e-6 * abs(ref.objective)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
    cold = solve_working_set(X, y, masks, get_loss(loss), beta, model="gated",
                             inner=solve_gated_fista, tol=1e-7, max_iter=100_000)
    support = np.linalg.norm(res.V, axis=1) > 0
    assert np.array_equal(support, np.linalg.norm(cold.V, axis=1) > 0)
    assert res.info["ipm_iter"] > 0


def test_estimator_auto_uses_it_below_the_size_limit():
    X, y = planted_instance(120, 2, "squared", d=4)
    est = ConvexReLURegressor(beta=1e-2, model="gated", arrangements=50, random_state=0,
                              fit_intercept=False).fit(X, y)
    assert "ipm_time" in est.solver_result_.info
    fista = ConvexReLURegressor(beta=1e-2, model="gated", arrangements=50, random_state=0,
                                fit_intercept=False, solver="fista").fit(X, y)
    assert "ipm_time" not in fista.solver_result_.info
    assert abs(est.objective_ - fista.objective_) <= 1e-6 * fista.objective_
    assert est.n_neurons_ == fista.n_neurons_
    clf = ConvexReLUClassifier(beta=1e-2, model="gated", arrangements=50, random_state=0)
    clf.fit(X, np.where(y > np.median(y), 1, 0))
    assert clf.converged_
    assert not use_hybrid(5000, 10, 250) and use_hybrid(500, 20, 250)


def _newton_case(loss, *, n, d, seed, beta, tol):
    """A planted instance, its CVXPY optimum and the hybrid's (Newton-polished) solution."""
    X, y = planted_instance(n, seed, loss, d=d)
    arr = sample_arrangements(X, 60, random_state=seed)
    masks = arr.masks()
    ref = solve_cvxpy(X, y, masks, beta, model="gated", loss=loss, tol=1e-9)
    res = solve_gated_hybrid(X, y, masks, get_loss(loss), beta, gates=arr.gates, tol=tol)
    assert res.info.get("polish") == "newton"
    assert abs(res.objective - ref.objective) <= 1e-7 * abs(ref.objective)
    return X, y, masks, beta, ref, res


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_newton_polish_repairs_a_wrong_support(loss):
    """The active-set Newton polish drops a spurious group and admits a missing one."""
    import time

    from convexnn.operators import MaskedOperator
    from convexnn.solvers.gated_hybrid import _support_newton

    X, y, masks, beta, ref, exact = _newton_case(loss, n=150, d=5, seed=3, beta=1e-2, tol=1e-9)
    on = np.flatnonzero(np.linalg.norm(exact.V, axis=1) > 0)
    off = np.flatnonzero(np.linalg.norm(exact.V, axis=1) == 0)
    assert on.size >= 2 and off.size >= 1
    # Wrong start: the largest group removed, a zero group switched on.
    U = np.array(exact.V, copy=True)
    big = on[np.argmax(np.linalg.norm(U[on], axis=1))]
    U[big] = 0.0
    U[off[0]] = 1e-2 * np.ones(X.shape[1])
    res = _support_newton(X, y, masks, MaskedOperator(X, masks), get_loss(loss), beta, U,
                          tol=1e-9, t0=time.perf_counter(), n_iter0=0)
    assert res is not None and res.status is SolverStatus.CONVERGED
    assert res.criterion <= 1e-9 and res.lower_bound <= ref.objective * (1 + 1e-9)
    assert abs(res.objective - ref.objective) <= 1e-7 * abs(ref.objective)
    assert np.array_equal(np.linalg.norm(res.V, axis=1) > 0, np.linalg.norm(exact.V, axis=1) > 0)


def test_lowrank_newton_system_matches_the_dense_solve():
    from convexnn.solvers.gated_hybrid import _newton_solve_lowrank

    rng = np.random.default_rng(0)
    n, k, d = 30, 8, 7
    X = rng.standard_normal((n, d))
    Ms = (rng.standard_normal((n, k)) > 0) * rng.uniform(0.5, 2.0, (n, 1))  # sqrt(l'') D_k
    m = k * d
    Aw = (Ms[:, :, None] * X[:, None, :]).reshape(n, m)
    E = rng.standard_normal((k, d))
    E /= np.linalg.norm(E, axis=1)[:, None]
    c = rng.uniform(0.5, 2.0, k)
    g = rng.standard_normal(m)
    H = Aw.T @ Aw
    for j in range(k):
        H[j * d:(j + 1) * d, j * d:(j + 1) * d] += c[j] * (np.eye(d) - np.outer(E[j], E[j]))
    ref = np.linalg.solve(H, g)
    got = _newton_solve_lowrank(X, X @ X.T, Ms, c, E, g)
    assert np.linalg.norm(got - ref) <= 1e-10 * np.linalg.norm(ref)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_newton_polish_with_more_unknowns_than_samples(loss):
    """Support x d > n: the polish's Newton systems go through n x n matrices."""
    X, _, _, _, _, res = _newton_case(loss, n=40, d=12, seed=4, beta=1e-3, tol=1e-8)
    assert res.info["support"] * X.shape[1] > X.shape[0]
    assert res.status is SolverStatus.CONVERGED and res.criterion <= 1e-8


def test_newton_polish_from_a_loose_interior_point(shared_data):
    """From an interior point at gap 1e-5 (not the 1e-6 the hybrid uses) the screening keeps
    a wrong support on hepatitis: a group with a tiny norm at the optimum must re-enter. It
    starts at a small proximal-gradient step, and the polish used to drop it again at once
    for being small (28 times, then the FISTA fallback); it now certifies, at the optimum
    CVXPY finds on the same patterns."""
    from convexnn.datasets import load
    from convexnn.operators import MaskedOperator
    from convexnn.solvers.gated_hybrid import _support_newton
    from convexnn.solvers.interior_point import solve_ipm

    ds = load("uci:hepatitis", data_dir=shared_data)
    X = np.column_stack([ds.X_train, np.ones(ds.X_train.shape[0])])
    y = np.where(ds.y_train == ds.y_train.max(), 1.0, -1.0)
    arr = sample_arrangements(X, 250, 0)
    M, loss, beta = arr.masks(), get_loss("squared"), 1e-2
    ipm = solve_ipm(X, y, M, loss, beta, model="gated", gates=arr.gates, tol=1e-5)
    U = np.array(ipm.V, copy=True)
    op = MaskedOperator(X, M)
    h = np.linalg.norm(op.adjoint(-loss.gradient(op.forward(U), y)), axis=1)
    U[h < beta * (1.0 - 1e-3)] = 0.0  # the hybrid's screening
    res = _support_newton(X, y, M, op, loss, beta, U, tol=1e-6, t0=0.0, n_iter0=0,
                          bound=(float(ipm.lower_bound), ipm.dual))
    assert res is not None and res.criterion <= 1e-6
    ref = solve_cvxpy(X, y, M, beta, model="gated", loss="squared", tol=1e-9)
    assert abs(res.objective - ref.objective) <= 1e-6 * abs(ref.objective)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)


def test_duplicate_rows_are_merged_exactly():
    """Identical rows (with different targets) are merged into weighted ones for the squared
    loss: the same optimum as CVXPY on the rows as given, and a lower bound that is the dual
    value of a feasible dual point of the unmerged program."""
    X, y = planted_instance(90, 3, "squared", d=4)
    rng = np.random.default_rng(3)
    rep = rng.integers(0, 90, 60)  # 60 repeated rows, targets perturbed
    X = np.vstack([X, X[rep]])
    y = np.r_[y, y[rep] + 0.3 * rng.standard_normal(60)]
    arr = sample_arrangements(X, 60, random_state=3)
    masks, beta, loss = arr.masks(), 1e-2, get_loss("squared")
    ref = solve_cvxpy(X, y, masks, beta, model="gated", loss="squared", tol=1e-9)
    res = solve_gated_hybrid(X, y, masks, loss, beta, gates=arr.gates, tol=1e-7)
    assert res.info["merged_rows"] == X.shape[0] - np.unique(X, axis=0).shape[0] > 0
    assert res.status is SolverStatus.CONVERGED and res.criterion <= 1e-7
    assert abs(res.objective - ref.objective) <= 1e-6 * abs(ref.objective)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
    assert all(r["lower_bound"] <= ref.objective * (1 + 1e-9) for r in res.history)
    mu = res.dual
    h = np.linalg.norm((masks * mu[:, None]).T @ X, axis=1)
    assert h.max() <= beta * (1 + 1e-9)
    assert loss.dual_value(mu, y) == pytest.approx(res.lower_bound, rel=1e-10)
    f = np.sum(masks * (X @ res.V.T), axis=1)
    assert res.objective == pytest.approx(
        loss.value(f, y) + beta * np.linalg.norm(res.V, axis=1).sum(), rel=1e-12)
