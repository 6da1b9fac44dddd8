"""The low-rank metric of the gated FISTA (solvers/_metric.py): its proximal step against
CVXPY+Clarabel, the spectral outliers it removes, and the preconditioned solves against the
plain ones and the CVXPY reference."""

from __future__ import annotations

import numpy as np
import pytest

from convexnn.arrangements import sample_arrangements
from convexnn.losses import SquaredLoss
from convexnn.operators import MaskedOperator
from convexnn.solvers._metric import LowRankMetric, build_gated_metric
from convexnn.solvers.fista import solve_gated_fista, solve_gated_working_set

BETA = 1e-2


def _planted(n, d, P, seed=0):
    """The scaling benchmark's generator: Gaussian X with a ones column, a planted ReLU
    network of width 10 plus noise, P sampled gates."""
    rng = np.random.default_rng(seed)
    X = np.c_[rng.standard_normal((n, d - 1)), np.ones(n)]
    W = rng.standard_normal((d, 10)) / np.sqrt(d)
    y = np.maximum(X @ W, 0.0) @ rng.choice([-1.0, 1.0], 10)
    y = (y - y.mean()) / y.std() + 0.1 * rng.standard_normal(n)
    return X, y, sample_arrangements(X, P, seed).masks()


def test_metric_prox_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(1)
    G, d, r, L, beta = 30, 4, 3, 2.0, 3.0
    V, _ = np.linalg.qr(rng.standard_normal((G * d, r)))
    lam = np.array([5.0, 40.0, 300.0])
    metric = LowRankMetric(V, lam, G, d, L)
    x = rng.standard_normal((G, d))
    z, pz = metric.prox(x, L, beta)
    B = L * np.eye(G * d) + V @ np.diag(np.maximum(lam - L, 0.0)) @ V.T

    def obj(zz):
        dz = zz.reshape(-1) - x.reshape(-1)
        return 0.5 * dz @ B @ dz + beta * np.linalg.norm(zz.reshape(G, d), axis=1).sum()

    zc = cp.Variable((G, d))
    Bh = np.linalg.cholesky(B)
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(Bh.T @ (cp.vec(zc, order="C") - x.reshape(-1)))
                           + beta * cp.sum(cp.norm(zc, 2, axis=1)))).solve(solver="CLARABEL")
    assert obj(z) <= obj(zc.value) + 1e-8
    np.testing.assert_allclose(z, zc.value, atol=1e-4)
    np.testing.assert_allclose(pz, V.T @ z.reshape(-1), atol=1e-12)
    # Some groups are exactly zero and others not: both branches of the Jacobian were used.
    nz = np.linalg.norm(z, axis=1) > 0
    assert 0 < nz.sum() < G


def test_metric_captures_the_outlying_eigenvalues():
    # H = M^T M / n of the planted data: its top d eigenvalues stand far above the rest, and
    # the metric's Ritz values (times s = 2) must account for them.
    X, y, masks = _planted(2000, 6, 60)
    n, d = X.shape
    M = np.concatenate([masks[:, [i]] * X for i in range(masks.shape[1])], axis=1)
    ev = np.linalg.eigvalsh(M.T @ M / n)[::-1]
    assert ev[0] > 5 * ev[d]            # the outliers exist
    metric = build_gated_metric(X, masks, SquaredLoss().lipschitz(1))
    top = np.sort(metric.lam)[::-1][:d] / 2.0
    np.testing.assert_allclose(top, ev[:d], rtol=0.2)
    # With B(L) = L I + V diag(max(lam - L, 0)) V^T, the smallest L with B >= H is a fraction
    # of lambda_max(H): the factor FISTA's step gains.
    V = metric.V
    lo, hi = 0.0, 2 * ev[0]
    H = M.T @ M / n
    for _ in range(40):
        L = 0.5 * (lo + hi)
        B = L * np.eye(H.shape[0]) + V @ np.diag(np.maximum(metric.lam - L, 0.0)) @ V.T
        if np.linalg.eigvalsh(B - H)[0] >= -1e-9:
            hi = L
        else:
            lo = L
    assert hi < 0.4 * ev[0]


@pytest.mark.parametrize("solver", [solve_gated_fista, solve_gated_working_set])
def test_preconditioned_matches_plain_and_takes_fewer_iterations(solver):
    X, y, masks = _planted(3000, 10, 100)
    plain = solver(X, y, masks, SquaredLoss(), BETA, tol=1e-7, criterion="kkt",
                   precondition=False)
    pre = solver(X, y, masks, SquaredLoss(), BETA, tol=1e-7, criterion="kkt", precondition=True)
    assert plain.status.name == pre.status.name == "CONVERGED"
    assert abs(pre.objective - plain.objective) <= 1e-7 * plain.objective
    assert pre.n_iter < 0.5 * plain.n_iter    # measured: 376 -> 95 (fista), 592 -> 192 (ws)


def test_preconditioned_matches_cvxpy_on_real_data():
    pytest.importorskip("cvxpy")
    from sklearn.datasets import load_diabetes

    from convexnn.solvers.cvxpy_solver import solve_cvxpy

    Xr, yr = load_diabetes(return_X_y=True)
    X = np.c_[(Xr - Xr.mean(0)) / Xr.std(0), np.ones(len(Xr))][:300]
    y = ((yr - yr.mean()) / yr.std())[:300]
    masks = sample_arrangements(X, 40, 0).masks()
    ref = solve_cvxpy(X, y, masks, BETA, model="gated", tol=1e-10)
    res = solve_gated_fista(X, y, masks, SquaredLoss(), BETA, tol=1e-9, precondition=True)
    assert res.status.name == "CONVERGED"
    assert res.objective <= ref.objective * (1 + 1e-7)
    assert res.objective >= res.lower_bound


def test_preconditioned_torch_and_float32():
    torch = pytest.importorskip("torch")
    X, y, masks = _planted(2000, 8, 60)
    ref = solve_gated_fista(X, y, masks, SquaredLoss(), BETA, tol=1e-9, precondition=True)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    res = solve_gated_working_set(Xt, yt, torch.from_numpy(masks), SquaredLoss(), BETA,
                                  tol=1e-9, precondition=True)
    assert torch.is_tensor(res.V)
    assert abs(res.objective - ref.objective) <= 1e-8 * ref.objective
    # float32: the working-set solve reaches 1e-6 (KKT) instead of running L up at the
    # round-off floor (it ended NUMERICAL_ERROR before the stall exit of the line search).
    r32 = solve_gated_working_set(X.astype(np.float32), y.astype(np.float32), masks,
                                  SquaredLoss(), BETA, tol=1e-6, criterion="kkt",
                                  precondition=True)
    assert r32.status.name == "CONVERGED"
    assert abs(r32.objective - ref.objective) <= 1e-5 * ref.objective


def test_operator_input_and_single_group():
    X, y, masks = _planted(500, 5, 1)
    op = MaskedOperator(X, masks)
    a = solve_gated_fista(X, y, op, SquaredLoss(), BETA, tol=1e-9, precondition=True)
    b = solve_gated_fista(X, y, op, SquaredLoss(), BETA, tol=1e-9)
    assert abs(a.objective - b.objective) <= 1e-9 * b.objective


def test_preconditioned_logistic_matches_plain():
    from convexnn.losses import get_loss

    X, y, masks = _planted(1500, 12, 60, seed=2)
    yb = np.where(y > 0, 1.0, -1.0)
    loss = get_loss("logistic")
    plain = solve_gated_working_set(X, yb, masks, loss, 1e-3, tol=1e-8, precondition=False)
    pre = solve_gated_working_set(X, yb, masks, loss, 1e-3, tol=1e-8, precondition=True)
    assert plain.status.name == pre.status.name == "CONVERGED"
    assert abs(pre.objective - plain.objective) <= 1e-8 * plain.objective
    assert pre.n_iter < plain.n_iter


def test_metric_skipped_when_too_large():
    from convexnn.solvers.fista import _metric_for

    X = np.ones((10, 100))
    op = MaskedOperator(X, np.ones((10, 6000), dtype=bool))   # G d^2 = 6e7
    assert _metric_for(op, SquaredLoss()) is None


def test_float32_round_off_floor_is_reported_as_stalled():
    # A gap of 1e-10 is below what float32 products can certify: the solve must end STALLED
    # (not MAX_ITER, which would tell the user to raise max_iter) with a sound certificate.
    X, y, masks = _planted(2000, 8, 60)
    r32 = solve_gated_working_set(X.astype(np.float32), y.astype(np.float32), masks,
                                  SquaredLoss(), BETA, tol=1e-10, max_iter=20_000)
    assert r32.status.name == "STALLED"
    assert r32.n_iter < 20_000
    assert r32.objective >= r32.lower_bound
    assert "float64" in r32.status.message
