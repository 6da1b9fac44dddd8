"""ReLU model: interior point + sparse FISTA polish, against CVXPY + Clarabel and cold FISTA."""

import numpy as np
import pytest
from conftest import planted_instance

from convexnn import ConvexReLURegressor
from convexnn.arrangements import sample_arrangements
from convexnn.losses import get_loss
from convexnn.solvers import relu_hybrid
from convexnn.solvers._result import SolverStatus
from convexnn.solvers.cvxpy_solver import solve_cvxpy
from convexnn.solvers.relu_fista import solve_relu_fista
from convexnn.solvers.relu_hybrid import solve_relu_hybrid, use_relu_hybrid

pytest.importorskip("cvxpy")


def _support(res):
    return np.linalg.norm(np.concatenate([res.V, res.W]), axis=1) > 0


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("seed", [0, 2])   # (seed 1, logistic: Clarabel "optimal_inaccurate")
def test_hybrid_matches_cvxpy_and_is_as_sparse_as_fista(loss, seed):
    X, y = planted_instance(120, seed, loss, d=4)
    arr = sample_arrangements(X, 40, random_state=seed)
    masks = arr.masks()
    beta = 1e-2
    ref = solve_cvxpy(X, y, masks, beta, model="relu", loss=loss, tol=1e-8)
    assert ref.status is SolverStatus.CONVERGED
    res = solve_relu_hybrid(X, y, masks, get_loss(loss), beta, gates=arr.gates, tol=1e-7)
    assert res.status is SolverStatus.CONVERGED and res.criterion <= 1e-7
    assert abs(res.objective - ref.objective) <= 1e-6 * abs(ref.objective)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
    assert res.info["ipm_iter"] > 0 and res.n_iter > res.info["ipm_iter"]
    # The interior point alone keeps groups of the optimal face's interior; the polish
    # returns the sparse solution that cold FISTA finds.
    cold = solve_relu_fista(X, y, masks, get_loss(loss), beta, tol=1e-7)
    assert np.array_equal(_support(res), _support(cold))
    times = [h["time"] for h in res.history]
    assert times == sorted(times)


@pytest.mark.parametrize("newton_steps", [0, 15])
def test_both_polishes_reach_the_cvxpy_optimum(monkeypatch, newton_steps):
    """The Newton polish, and the FISTA fallback when it is given no steps."""
    X, y = planted_instance(120, 6, "squared", d=4)
    arr = sample_arrangements(X, 40, random_state=6)
    masks = arr.masks()
    ref = solve_cvxpy(X, y, masks, 1e-2, model="relu", loss="squared", tol=1e-9)
    monkeypatch.setattr(relu_hybrid, "NEWTON_STEPS", newton_steps)
    monkeypatch.setattr(relu_hybrid, "NEWTON_STEPS_SCREENED", newton_steps)
    res = solve_relu_hybrid(X, y, masks, get_loss("squared"), 1e-2, gates=arr.gates, tol=1e-7)
    assert res.info["polish"] == ("newton" if newton_steps else "fista")
    assert res.status is SolverStatus.CONVERGED
    assert abs(res.objective - ref.objective) <= 1e-6 * abs(ref.objective)


def test_wrong_screening_is_repaired(monkeypatch):
    """Screening that zeroes groups of the optimum only costs time: the polish re-admits them."""
    X, y = planted_instance(120, 4, "squared", d=4)
    arr = sample_arrangements(X, 40, random_state=4)
    masks = arr.masks()
    ref = solve_cvxpy(X, y, masks, 1e-2, model="relu", loss="squared", tol=1e-9)
    monkeypatch.setattr(relu_hybrid, "SCREEN_REL", 0.5)
    res = solve_relu_hybrid(X, y, masks, get_loss("squared"), 1e-2, gates=arr.gates, tol=1e-7)
    assert res.info["n_screened"] > 0
    assert res.status is SolverStatus.CONVERGED
    assert abs(res.objective - ref.objective) <= 1e-6 * abs(ref.objective)


def test_iteration_budget_spans_both_phases():
    X, y = planted_instance(120, 5, "squared", d=4)
    arr = sample_arrangements(X, 40, random_state=5)
    res = solve_relu_hybrid(X, y, arr.masks(), get_loss("squared"), 1e-2, gates=arr.gates,
                            tol=1e-10, max_iter=6)
    assert res.n_iter <= 6 and res.status is SolverStatus.MAX_ITER
    assert np.isfinite(res.objective)


def test_estimator_auto_uses_it_below_the_size_limit():
    X, y = planted_instance(120, 2, "squared", d=4)
    kw = dict(beta=1e-2, arrangements=50, random_state=0, fit_intercept=False)
    est = ConvexReLURegressor(**kw).fit(X, y)
    assert "ipm_time" in est.solver_result_.info and est.converged_
    newton = ConvexReLURegressor(solver="newton", **kw).fit(X, y)
    assert "ipm_time" not in newton.solver_result_.info
    assert abs(est.objective_ - newton.objective_) <= 1e-6 * newton.objective_
    # A warm start goes to the active-set method (the interior point cannot use it).
    warm = ConvexReLURegressor(warm_start=True, **kw).fit(X, y)
    warm.set_params(beta=2e-2).fit(X, y)
    assert "ipm_time" not in warm.solver_result_.info and warm.converged_
    assert use_relu_hybrid(500, 20, 250) and not use_relu_hybrid(2500, 10, 250)
    assert not use_relu_hybrid(1500, 100, 1000)
    assert use_relu_hybrid(200, 10, 250, "logistic") and not use_relu_hybrid(500, 10, 250,
                                                                             "logistic")


def test_warm_start_from_an_interior_point_keeps_groups_on_tied_data(shared_data):
    """monks-1 (integer-coded attributes, many tied rows): rows nearly tight at the interior
    point can span the space; the warm start retries smaller row tolerances instead of
    dropping the group (with the single tolerance 1e-5 the rows of 13 of the 28 groups
    spanned the space, and 3 more crossed a row when projected)."""
    from convexnn.datasets import load
    from convexnn.solvers.active_set import _ActiveSetNewton
    from convexnn.solvers.interior_point import solve_ipm

    ds = load("uci:monks-1", data_dir=shared_data)
    X = np.column_stack([ds.X_train, np.ones(ds.X_train.shape[0])])
    y = np.where(ds.y_train == 1, 1.0, -1.0)
    arr = sample_arrangements(X, 250, 0)
    masks = arr.masks()
    loss = get_loss("squared")
    ipm = solve_ipm(X, y, masks, loss, 1e-2, model="relu", gates=arr.gates, tol=1e-6)
    U = np.concatenate([ipm.V, ipm.W])
    norms = np.linalg.norm(U, axis=1)
    U[norms <= 1e-3 * norms.max()] = 0.0
    st = _ActiveSetNewton(X, y, masks, loss, 1e-2, "relu", arr.gates, 1e-6, 0, None, None)
    st.warm_start(U, row_tol=1e-5)
    assert len(st.supp) == np.count_nonzero(np.linalg.norm(U, axis=1))
    for g, u in zip(st.supp, st.U, strict=True):
        cons = (2 * masks[:, st.pat(g)] - 1) * (X @ u)
        assert cons.min() >= -1e-12 * np.linalg.norm(u) * st.xnorm.max()


def test_screened_interior_point_missing_support_is_repaired(monkeypatch):
    """A working set that drops optimal patterns only costs time: the polish adds them."""
    import convexnn.solvers.interior_point as ip

    monkeypatch.setattr(ip, "SCREEN_AT", (3,))
    monkeypatch.setattr(ip, "SCREEN_KEEP", 0.15)
    monkeypatch.setattr(ip, "SCREEN_MIN", 4)
    X, y = planted_instance(120, 5, "squared", d=4)
    arr = sample_arrangements(X, 60, random_state=5)
    masks = arr.masks()
    ref = solve_cvxpy(X, y, masks, 1e-2, model="relu", loss="squared", tol=1e-9)
    res = solve_relu_hybrid(X, y, masks, get_loss("squared"), 1e-2, gates=arr.gates, tol=1e-7)
    assert res.status is SolverStatus.CONVERGED
    assert res.info["ipm_groups_solved"] <= 20  # the interior point's working set at its end
    ref_support = np.linalg.norm(np.concatenate([ref.V, ref.W]), axis=1) > 1e-6
    assert ref_support.sum() > 0
    assert abs(res.objective - ref.objective) <= 1e-6 * abs(ref.objective)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)



def test_polish_certificate_is_dual_feasible_exactly():
    """The polish prices the support with its own active-row multipliers (NNLS only where
    that bound exceeds beta): the scaled dual point it certifies with must be feasible for
    *every* group by the exact (NNLS) dual values, and its bound below CVXPY's optimum."""
    from convexnn.solvers._cone_dual import cone_dual_norms_exact

    X, y = planted_instance(80, 7, "squared", d=4)
    arr = sample_arrangements(X, 30, random_state=7)
    masks = arr.masks()
    beta = 1e-2
    res = solve_relu_hybrid(X, y, masks, get_loss("squared"), beta, gates=arr.gates, tol=1e-8)
    assert res.status is SolverStatus.CONVERGED and res.info["polish"] == "newton"
    D = masks.astype(float)
    S = np.concatenate([D, -D], axis=1)
    C = 2 * np.concatenate([D, D], axis=1) - 1
    mu = np.asarray(res.dual)
    exact, _ = cone_dual_norms_exact(X, (S * mu[:, None]).T @ X, C, np.arange(S.shape[1]))
    assert float(exact.max()) <= beta * (1 + 1e-8)
    ref = solve_cvxpy(X, y, masks, beta, model="relu", loss="squared", tol=1e-9)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
    assert abs(res.objective - ref.objective) <= 1e-6 * ref.objective


def test_pricing_warm_start_from_interior_point_multipliers():
    """``lam0`` (the interior point's cone multipliers) only warm-starts the first pricing:
    the same optimum as without it, against CVXPY, and a wrong shape is a clear error."""
    from convexnn.solvers.active_set import solve_active_set
    from convexnn.solvers.interior_point import solve_ipm

    X, y = planted_instance(100, 3, "squared", d=4)
    arr = sample_arrangements(X, 40, random_state=3)
    masks = arr.masks()
    beta, loss = 1e-2, get_loss("squared")
    ipm = solve_ipm(X, y, masks, loss, beta, gates=arr.gates, tol=1e-6)
    lam = ipm.info["multipliers"]
    assert lam is not None and lam.shape == (100, 2 * masks.shape[1]) and lam.min() >= 0
    U0 = np.concatenate([ipm.V, ipm.W])
    U0[np.linalg.norm(U0, axis=1) <= 1e-3 * np.linalg.norm(U0, axis=1).max()] = 0.0
    kw = dict(gates=arr.gates, U0=U0, tol=1e-8, warm_row_tol=1e-5)
    warm = solve_active_set(X, y, masks, loss, beta, lam0=lam, **kw)
    cold = solve_active_set(X, y, masks, loss, beta, **kw)
    ref = solve_cvxpy(X, y, masks, beta, model="relu", loss="squared", tol=1e-9)
    for res in (warm, cold):
        assert res.status is SolverStatus.CONVERGED
        assert abs(res.objective - ref.objective) <= 1e-7 * ref.objective
        assert res.lower_bound <= ref.objective * (1 + 1e-9)
    with pytest.raises(ValueError, match="lam0 must have shape"):
        solve_active_set(X, y, masks, loss, beta, lam0=lam[:, :5], **kw)


def test_gram_update_with_more_threads_gives_the_same_solve(monkeypatch):
    """Above GRAM_THREADS_MIN the n x n Gram update runs with two BLAS threads (the rest of
    the step with one): forcing it on every step must not change the iterates."""
    import convexnn.solvers.interior_point as ip

    X, y = planted_instance(90, 4, "squared", d=4)
    arr = sample_arrangements(X, 30, random_state=4)
    masks = arr.masks()
    loss = get_loss("squared")
    base = ip.solve_ipm(X, y, masks, loss, 1e-2, gates=arr.gates, tol=1e-7)
    monkeypatch.setattr(ip, "GRAM_THREADS_MIN", 0.0)
    assert ip._gram_threads(10, 10) == min(2, __import__("os").cpu_count() or 1)
    both = ip.solve_ipm(X, y, masks, loss, 1e-2, gates=arr.gates, tol=1e-7)
    assert both.n_iter == base.n_iter
    assert abs(both.objective - base.objective) <= 1e-10 * abs(base.objective)
    gated = ip.solve_ipm(X, y, masks, loss, 1e-2, model="gated", tol=1e-7)
    assert gated.status is SolverStatus.CONVERGED


@pytest.mark.parametrize("seed", [0, 5])
def test_newton_polish_certifies_on_tied_rows(seed):
    """Integer-coded features (many duplicated and tied rows, as in the monks sets): the
    active-set polish certifies within a few steps. Before the round-off row-block tolerance
    and the pricing before releasing rows, both seeds ran the 30 Newton steps and fell back to
    FISTA (zero-length steps blocked by rows in the span of the active ones)."""
    rng = np.random.default_rng(seed)
    n, d = 150, 6
    Z = rng.integers(1, 4, size=(n, d)).astype(float)
    y = np.where((Z[:, 0] == Z[:, 1]) | (Z[:, 4] == 1), 1.0, -1.0)
    X = np.column_stack([(Z - Z.mean(0)) / Z.std(0), np.ones(n)])
    assert len(np.unique(X, axis=0)) < n  # duplicated rows
    arr = sample_arrangements(X, 80, random_state=seed)
    masks = arr.masks()
    ref = solve_cvxpy(X, y, masks, 1e-2, model="relu", loss="squared", tol=1e-9)
    assert ref.status is SolverStatus.CONVERGED
    res = solve_relu_hybrid(X, y, masks, get_loss("squared"), 1e-2, gates=arr.gates, tol=1e-6)
    assert res.info["polish"] == "newton" and res.status is SolverStatus.CONVERGED
    assert res.n_iter - res.info["ipm_iter"] <= 10
    assert res.objective <= ref.objective * (1 + 1e-8)
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
