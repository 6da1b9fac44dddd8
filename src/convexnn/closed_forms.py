"""Closed-form and low-dimensional exact solutions (SPEC §4, [EP20]_, [SEPP21]_, [PE20]_).

All objectives follow SPEC §0: ``F = (1/n) sum_k l(f(x_k), y_k) + (beta/2)(||W||^2 + ||b||^2 +
||a||^2)``; its minimum equals that of the group form ``L(f) + beta sum_j ||(w_j, b_j)|| |a_j|``
(AM-GM per neuron, balanced at the optimum).

* :func:`spline_1d` -- 1-D data with a hidden bias: the convex program over the ``2n`` threshold
  patterns of :func:`~convexnn.arrangements.arrangements_1d` is exact (they are *all* patterns
  of ``[x, 1]``), and the optimal network is a linear spline with knots at data points.
* :func:`min_norm_interpolant_1d` -- the ``beta -> 0`` limit: minimum ``sum ||v_i|| + ||w_i||``
  subject to exact interpolation.
* :func:`whitened_closed_form` -- ``X X^T = I`` (``n <= d``), squared loss.
* :func:`rank_one_closed_form` -- ``X = c a^T``, no bias.

.. [PE20] Pilanci & Ergen, Neural Networks are Convex Regularizers, ICML 2020.
.. [EP20] Ergen & Pilanci, Convex Geometry of Two-Layer ReLU Networks: Implicit Autoencoding and
   Interpretable Models, AISTATS 2020; Convex Geometry and Duality of Over-parameterized Neural
   Networks, JMLR 2021.
.. [SEPP21] Sahiner, Ergen, Pauly & Pilanci, Vector-output ReLU Neural Network Problems are
   Copositive Programs, ICLR 2021.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .arrangements import arrangements_1d
from .losses import get_loss
from .network import TwoLayerReLUNetwork, recover_network

__all__ = [
    "spline_1d",
    "min_norm_interpolant_1d",
    "whitened_closed_form",
    "whitened_objective",
    "rank_one_closed_form",
    "rank_one_objective",
]


def _default_solver(*args: Any, **kwargs: Any) -> Any:
    from .solvers.cvxpy_solver import solve_cvxpy

    return solve_cvxpy(*args, **kwargs)


def _as_1d(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D data of shape (n,) or (n, 1), got {x.shape}")
    y = np.asarray(y, dtype=np.float64).ravel()
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x has {x.shape[0]} entries but y has {y.shape[0]}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x or y contains NaN or infinity")
    return x, y


def spline_1d(
    x: Any,
    y: Any,
    beta: float,
    *,
    loss: str = "squared",
    solver: Callable[..., Any] | None = None,
    **solver_kwargs: Any,
) -> TwoLayerReLUNetwork:
    """Globally optimal two-layer ReLU network (with hidden bias) for 1-D inputs.

    With ``X = [x, 1]`` the activation patterns are exactly the ``2n`` thresholds
    ``1[x >= x_k]`` and ``1[x <= x_k]`` (SPEC §1), so the convex program of [PE20]_ Thm 1 over
    them is exact: its optimum is the optimum of the nonconvex problem. The recovered network
    is a linear spline with knots ``-b_j / w_j``.

    Note (checked numerically, contrary to SPEC §4's "knots only at data points"): with the
    bias *regularized* (the ones column, SPEC §0) the knots need not be data points. By
    complementary slackness every neuron of an optimal network maximizes
    ``|mu*^T (X u)_+|`` (``mu*`` unique for a strictly convex loss), and within a pattern cone the
    maximizer is the normalized projection of ``X^T D_i mu*``, generically interior to the
    cone, i.e. with its knot strictly between two data points. Knots at data points is the
    classical result for an *unregularized* bias.

    Parameters
    ----------
    x : array-like of shape (n,) or (n, 1)
    y : array-like of shape (n,)
    beta : float
    loss : {"squared", "logistic"}
    solver : callable or None
        ``solver(X, y, masks, beta, loss=loss, **solver_kwargs)`` returning an object with
        ``.V`` and ``.W`` of shape (P, 2) (the ReLU convex program of SPEC §2). Default:
        :func:`convexnn.solvers.cvxpy_solver.solve_cvxpy`.

    Returns
    -------
    TwoLayerReLUNetwork
        With ``hidden_bias`` and balanced weights.
    """
    x, y = _as_1d(x, y)
    X = np.column_stack([x, np.ones_like(x)])
    arr = arrangements_1d(x)
    solver = _default_solver if solver is None else solver
    res = solver(X, y, arr.masks(), float(beta), loss=get_loss(loss).name, **solver_kwargs)
    net, _ = recover_network(np.asarray(res.V), np.asarray(res.W), fit_intercept=True)
    return net


def min_norm_interpolant_1d(x: Any, y: Any, *, tol: float = 1e-10) -> TwoLayerReLUNetwork:
    """Minimum-norm interpolating ReLU network for 1-D data: the ``beta -> 0`` limit.

    Solves (CVXPY + Clarabel), over the ``2n`` threshold patterns of ``[x, 1]``::

        min sum_i ||v_i|| + ||w_i||   s.t.  sum_i D_i X (v_i - w_i) = y,
                                            (2 D_i - I) X v_i >= 0, (2 D_i - I) X w_i >= 0,

    whose minimizers are the limits of the weight-decay optima divided by ``beta`` as
    ``beta -> 0`` ([EP20]_, SPEC §4). The recovered network (balanced) interpolates ``y`` and
    minimizes ``(1/2)(||W||^2 + ||b||^2 + ||a||^2)`` among interpolating networks.

    Parameters
    ----------
    x, y : array-like of shape (n,)
        Distinct ``x`` values are needed for interpolation to be possible.
    tol : float
        Clarabel tolerance.
    """
    import cvxpy as cp

    x, y = _as_1d(x, y)
    if np.unique(x).size != x.size:
        raise ValueError("interpolation needs distinct x values")
    X = np.column_stack([x, np.ones_like(x)])
    D = arrangements_1d(x).masks().astype(np.float64)
    P = D.shape[1]
    V = cp.Variable((2, P))
    W = cp.Variable((2, P))
    XV, XW = X @ V, X @ W
    S = 2 * D - 1
    pred = cp.sum(cp.multiply(D, XV - XW), axis=1)
    prob = cp.Problem(
        cp.Minimize(cp.sum(cp.norm(V, 2, axis=0)) + cp.sum(cp.norm(W, 2, axis=0))),
        [pred == y, cp.multiply(S, XV) >= 0, cp.multiply(S, XW) >= 0],
    )
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"the interpolation program failed: {prob.status}")
    net, _ = recover_network(
        np.asarray(V.value).T, np.asarray(W.value).T, fit_intercept=True, prune_tol=1e-12
    )
    return net


def _check_whitened(X: np.ndarray, atol: float) -> None:
    n, d = X.shape
    if n > d:
        raise ValueError(f"whitened data needs n <= d, got X of shape {X.shape}")
    err = float(np.max(np.abs(X @ X.T - np.eye(n))))
    if err > atol:
        raise ValueError(
            f"X X^T must be the identity (whitened data); max |X X^T - I| = {err:.2e}"
        )


def _whitened_pq(y: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    n = y.shape[0]
    yp, ym = np.maximum(y, 0.0), np.maximum(-y, 0.0)
    out = []
    for v in (yp, ym):
        nv = float(np.linalg.norm(v))
        out.append(v * max(1.0 - n * beta / nv, 0.0) if nv > 0 else np.zeros(n))
    return out[0], out[1]


def whitened_objective(y: Any, beta: float) -> float:
    """Optimal ``F`` for whitened data (``X X^T = I``), squared loss (SPEC §4).

    ``min_{p, q >= 0} (1/2n)||p - q - y||^2 + beta (||p|| + ||q||)`` at
    ``p = y_+ (1 - n beta/||y_+||)_+``, ``q = y_- (1 - n beta/||y_-||)_+``. It depends on ``X``
    only through ``X X^T = I``.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    n = y.shape[0]
    p, q = _whitened_pq(y, beta)
    r = p - q - y
    return float(r @ r) / (2 * n) + beta * float(np.linalg.norm(p) + np.linalg.norm(q))


def whitened_closed_form(
    X: Any, y: Any, beta: float, *, atol: float = 1e-8
) -> TwoLayerReLUNetwork:
    """Globally optimal network for whitened data ``X X^T = I`` (n <= d), squared loss.

    Derivation (SPEC §4; [EP20]_, [SEPP21]_ for the whitened case): since ``X^T`` is an
    isometry, ``u -> X u`` maps the unit ball of ``R^d`` onto the unit ball of ``R^n`` and
    ``z = X u`` is reached with ``||u|| = ||z||`` (``u = X^T z``). In group form a neuron is
    ``(z_j)_+ a_j`` with cost ``beta ||z_j|| |a_j|``; replacing ``z_j`` by ``(z_j)_+`` never
    costs more, and by the triangle inequality the positive (negative) neurons can be merged into
    one with ``z = p/||p||`` (``q/||q||``). So ``F* = min_{p,q >= 0} (1/2n)||p - q - y||^2 +
    beta (||p|| + ||q||)``, solved (KKT, checked in the tests against an interior-point solve
    with all ``2^n`` patterns) by ``p = y_+ (1 - n beta/||y_+||)_+`` and
    ``q = y_- (1 - n beta/||y_-||)_+``. At most two neurons: hidden ``X^T y_+ / ||y_+||`` with
    output ``(||y_+|| - n beta)_+`` and hidden ``X^T y_- / ||y_-||`` with output
    ``-(||y_-|| - n beta)_+``, rescaled to the balanced form (``sqrt`` of the output on both
    layers).

    Parameters
    ----------
    X : array-like of shape (n, d) with ``X X^T = I``
    y : array-like of shape (n,)
    beta : float
    atol : float
        Tolerance of the whitening check.

    Returns
    -------
    TwoLayerReLUNetwork
        No hidden bias; zero neurons when ``beta >= max(||y_+||, ||y_-||) / n``.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must have shape (n, d) with n = len(y); got {X.shape}, {y.shape}")
    _check_whitened(X, atol)
    n, d = X.shape
    p, q = _whitened_pq(y, float(beta))
    hidden, out = [], []
    for v, sgn in ((p, 1.0), (q, -1.0)):
        a = float(np.linalg.norm(v))
        if a > 0:
            u = X.T @ (v / a)  # unit vector with X u = v / a >= 0
            hidden.append(np.sqrt(a) * u)
            out.append(sgn * np.sqrt(a))
    if not hidden:
        return TwoLayerReLUNetwork(np.zeros((0, d)), None, np.zeros(0))
    return TwoLayerReLUNetwork(np.array(hidden), None, np.array(out))


def _scalar_lasso(z: np.ndarray, y: np.ndarray, beta: float, loss: Any) -> float:
    """``argmin_alpha L(alpha z) + beta |alpha|`` over the scalar ``alpha``."""
    n = y.shape[0]
    zz = float(z @ z)
    if zz == 0.0:
        return 0.0
    if loss.name == "squared":
        # (1/n)(alpha ||z||^2 - z^T y) + beta sign(alpha) = 0: soft-thresholding at n beta.
        zy = float(z @ y)
        return float(np.sign(zy) * max(abs(zy) - n * beta, 0.0) / zz)
    from scipy.optimize import brentq

    def dphi(alpha: float) -> float:
        return float(z @ loss.gradient(alpha * z, y))

    g0 = dphi(0.0)
    if abs(g0) <= beta:
        return 0.0
    sgn = -np.sign(g0)

    def h(t: float) -> float:  # derivative along the descent side, increasing in t
        return sgn * dphi(sgn * t) + beta

    hi = 1.0
    while h(hi) < 0:
        hi *= 2.0
        if hi > 1e12:  # pragma: no cover - separable data and tiny beta
            break
    t = brentq(h, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    return float(sgn * t)


def _rank_one_alphas(
    c: np.ndarray, a: np.ndarray, y: np.ndarray, beta: float, loss: Any
) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray]:
    na = float(np.linalg.norm(a))
    if na == 0:
        raise ValueError("a must be non-zero")
    z = c * na
    zp, zm = np.maximum(z, 0.0), np.maximum(-z, 0.0)
    alpha = _scalar_lasso(zp, y, beta, loss)
    gamma = _scalar_lasso(zm, y, beta, loss)
    return alpha, gamma, zp, zm, a / na


def rank_one_objective(c: Any, a: Any, y: Any, beta: float, *, loss: str = "squared") -> float:
    """Optimal ``F`` for rank-one data ``X = c a^T`` (no bias); see :func:`rank_one_closed_form`."""
    c = np.asarray(c, dtype=np.float64).ravel()
    a = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    lo = get_loss(loss)
    alpha, gamma, zp, zm, _ = _rank_one_alphas(c, a, y, float(beta), lo)
    return lo.value(alpha * zp + gamma * zm, y) + beta * (abs(alpha) + abs(gamma))


def rank_one_closed_form(
    c: Any, a: Any, y: Any, beta: float, *, loss: str = "squared"
) -> TwoLayerReLUNetwork:
    """Globally optimal network for rank-one data ``X = c a^T`` (no hidden bias).

    Derivation (SPEC §4, "the 1-D problem along direction ``a``"): write ``X = z â^T`` with
    ``z = ||a|| c`` and ``â = a/||a||``. A neuron ``u`` sees only ``t = â^T u`` (``|t| <= ||u||``,
    equality for ``u`` parallel to ``â``), and ``(X u)_+ = (z t)_+`` equals ``t z_+`` for
    ``t >= 0`` and ``|t| z_-`` for ``t < 0`` (``z_± = max(±z, 0)``). Hence in group form every
    network output is ``f = alpha z_+ + gamma z_-`` at minimal cost ``beta (|alpha| + |gamma|)``
    (the only two patterns are ``1[c >= 0]`` and ``1[c <= 0]``), and::

        F* = min_{alpha, gamma} L(alpha z_+ + gamma z_-) + beta (|alpha| + |gamma|).

    ``z_+`` and ``z_-`` have disjoint supports, so the problem splits into two scalar lassos.
    Squared loss: ``alpha = S_{n beta}(z_+^T y) / ||z_+||^2`` (soft-thresholding), likewise
    ``gamma``; logistic: a 1-D root find. Network: hidden ``sqrt|alpha| â`` with output
    ``sign(alpha) sqrt|alpha|`` and hidden ``-sqrt|gamma| â`` with output
    ``sign(gamma) sqrt|gamma|`` (balanced). Checked against the convex program with enumerated
    patterns in the tests.

    Parameters
    ----------
    c : array-like of shape (n,)
    a : array-like of shape (d,)
    y : array-like of shape (n,)
    beta : float
    loss : {"squared", "logistic"}
    """
    c = np.asarray(c, dtype=np.float64).ravel()
    a = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if c.shape[0] != y.shape[0]:
        raise ValueError(f"c has {c.shape[0]} entries but y has {y.shape[0]}")
    lo = get_loss(loss)
    alpha, gamma, _, _, ahat = _rank_one_alphas(c, a, y, float(beta), lo)
    hidden, out = [], []
    if alpha != 0:
        r = np.sqrt(abs(alpha))
        hidden.append(r * ahat)
        out.append(np.sign(alpha) * r)
    if gamma != 0:
        r = np.sqrt(abs(gamma))
        hidden.append(-r * ahat)
        out.append(np.sign(gamma) * r)
    if not hidden:
        return TwoLayerReLUNetwork(np.zeros((0, a.shape[0])), None, np.zeros(0))
    return TwoLayerReLUNetwork(np.array(hidden), None, np.array(out))
