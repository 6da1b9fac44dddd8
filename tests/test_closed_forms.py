"""Tests for convexnn.closed_forms against CVXPY with enumerated patterns."""

import numpy as np
import pytest

from convexnn.arrangements import arrangements_1d, enumerate_arrangements
from convexnn.certificates import certify
from convexnn.closed_forms import (
    min_norm_interpolant_1d,
    rank_one_closed_form,
    rank_one_objective,
    spline_1d,
    whitened_closed_form,
    whitened_objective,
)

pytest.importorskip("cvxpy")
from convexnn.solvers.cvxpy_solver import solve_cvxpy  # noqa: E402


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_spline_1d_is_globally_optimal(loss):
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-2, 2, 15))
    y = np.sin(2 * x) + 0.1 * rng.standard_normal(15)
    if loss == "logistic":
        y = np.where(y > 0, 1.0, -1.0)
    beta = 1e-2
    net = spline_1d(x, y, beta, loss=loss, tol=1e-10)
    assert net.hidden_bias is not None
    # Certified globally optimal (exact oracle over all patterns of [x, 1]).
    # (Clarabel's accuracy limits the certified gap to ~1e-6 here.)
    cert = certify(net, x[:, None], y, beta, loss=loss, tol=2e-5)
    assert cert.exact and cert.optimal, cert.summary()
    # arrangements_1d holds every pattern of [x, 1]: same as exact enumeration
    X = np.column_stack([x, np.ones_like(x)])
    assert arrangements_1d(x).n_patterns == enumerate_arrangements(X).n_patterns
    # The optimum is unique in function values (strictly convex loss): the spline from all
    # patterns matches the CVXPY solve over the enumerated patterns.
    res = solve_cvxpy(X, y, enumerate_arrangements(X).masks(), beta, loss=loss, tol=1e-10)
    assert net.objective(x[:, None], y, beta, loss) == pytest.approx(res.objective, rel=1e-7)


def test_spline_1d_custom_solver_is_called():
    calls = []

    def solver(X, y, masks, beta, loss):
        calls.append(masks.shape)
        return solve_cvxpy(X, y, masks, beta, loss=loss)

    x = np.linspace(-1, 1, 8)
    net = spline_1d(x, np.abs(x), 1e-3, solver=solver)
    assert len(calls) == 1 and calls[0][0] == 8
    assert net.n_features == 1


def test_min_norm_interpolant_1d():
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(-1, 1, 8))
    y = rng.standard_normal(8)
    net = min_norm_interpolant_1d(x, y)
    assert np.allclose(net.predict(x[:, None]), y, atol=1e-6)
    # it is the beta -> 0 limit: the small-beta spline has about the same weight norm
    small = spline_1d(x, y, 1e-7, tol=1e-12)
    assert small.penalty() == pytest.approx(net.penalty(), rel=1e-2)
    # and no interpolating network found by the small-beta fit has a smaller norm
    assert net.penalty() <= small.penalty() * (1 + 1e-3)
    with pytest.raises(ValueError, match="distinct"):
        min_norm_interpolant_1d(np.zeros(3), np.ones(3))


def _whitened(n, d, seed):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, n)))
    return Q.T  # (n, d) with X X^T = I


@pytest.mark.parametrize("beta", [1e-3, 5e-2, 0.2, 10.0])
def test_whitened_closed_form_matches_cvxpy(beta):
    n, d = 4, 5
    X = _whitened(n, d, 0)
    y = np.array([1.0, -0.5, 2.0, -1.5])
    net = whitened_closed_form(X, y, beta)
    F = whitened_objective(y, beta)
    assert net.objective(X, y, beta) == pytest.approx(F, rel=1e-12, abs=1e-15)
    arr = enumerate_arrangements(X)
    assert arr.n_patterns == 2**n - 1  # every non-zero pattern
    res = solve_cvxpy(X, y, arr.masks(), beta, tol=1e-10)
    assert F == pytest.approx(res.objective, rel=1e-7)
    assert net.n_neurons <= 2
    if net.n_neurons:
        assert certify(net, X, y, beta).optimal


def test_whitened_checks_input():
    with pytest.raises(ValueError, match="identity"):
        whitened_closed_form(np.ones((2, 3)), np.ones(2), 0.1)
    with pytest.raises(ValueError, match="n <= d"):
        whitened_closed_form(np.ones((3, 2)), np.ones(3), 0.1)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("beta", [1e-3, 3e-2, 1.0])
def test_rank_one_closed_form_matches_cvxpy(loss, beta):
    rng = np.random.default_rng(2)
    n = 12
    c = rng.standard_normal(n)
    c[3] = 0.0
    a = rng.standard_normal(3)
    y = np.where(c > 0, 2 * c, -c) + 0.3 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(rng.uniform(size=n) < 0.7, np.sign(c + 1e-3), -np.sign(c + 1e-3))
    X = np.outer(c, a)
    net = rank_one_closed_form(c, a, y, beta, loss=loss)
    F = rank_one_objective(c, a, y, beta, loss=loss)
    assert net.objective(X, y, beta, loss) == pytest.approx(F, rel=1e-12, abs=1e-15)
    arr = enumerate_arrangements(X)
    res = solve_cvxpy(X, y, arr.masks(), beta, loss=loss, tol=1e-10)
    assert F == pytest.approx(res.objective, rel=1e-7)
    assert F <= res.objective * (1 + 1e-9)
