"""Reference solver: the convex programs of SPEC §2 through CVXPY and the Clarabel
interior-point solver.

Slow (it materializes every ``D_i X``) but independent of the first-order code: the test suite
uses it as the ground truth on small instances, as the papers' own scripts do ([PE20]_).

.. [PE20] Pilanci & Ergen, Neural Networks are Convex Regularizers, ICML 2020.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from ..losses import get_loss
from ._result import SolverResult, SolverStatus

__all__ = ["solve_cvxpy"]


def solve_cvxpy(
    X: np.ndarray,
    y: np.ndarray,
    masks: np.ndarray,
    beta: float,
    *,
    model: str = "relu",
    loss: str = "squared",
    tol: float = 1e-8,
    verbose: bool = False,
    **solver_opts: Any,
) -> SolverResult:
    """Solve the ReLU (cone-constrained) or gated convex program with CVXPY + Clarabel.

    ReLU model ([PE20]_ Thm 1, SPEC §2)::

        min (1/n) sum_k l((sum_i D_i X (v_i - w_i))_k, y_k) + beta sum_i (||v_i|| + ||w_i||)
        s.t. (2 D_i - I) X v_i >= 0, (2 D_i - I) X w_i >= 0

    Gated model ([MSP22]): ``min (1/n) sum l(sum_i D_i X u_i, y) + beta sum ||u_i||``.

    Parameters
    ----------
    X : ndarray (n, d); y : ndarray (n,); masks : bool ndarray (n, P)
    beta : float
    model : {"relu", "gated"}
    loss : {"squared", "logistic"}
    tol : float
        Clarabel's gap tolerances (absolute and relative).
    """
    try:
        import cvxpy as cp
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "solver='cvxpy' needs CVXPY and Clarabel: pip install 'convexnn[cvxpy]'"
        ) from exc
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    D = np.asarray(masks, dtype=np.float64)
    n, d = X.shape
    P = D.shape[1]
    t0 = time.perf_counter()
    V = cp.Variable((d, P))
    XV = X @ V  # (n, P)
    pred = cp.sum(cp.multiply(D, XV), axis=1)
    reg = cp.sum(cp.norm(V, 2, axis=0))
    cons = []
    S = 2 * D - 1
    W = None
    if model == "relu":
        W = cp.Variable((d, P))
        XW = X @ W
        pred = pred - cp.sum(cp.multiply(D, XW), axis=1)
        reg = reg + cp.sum(cp.norm(W, 2, axis=0))
        cons = [cp.multiply(S, XV) >= 0, cp.multiply(S, XW) >= 0]
    elif model != "gated":
        raise ValueError(f"model must be 'relu' or 'gated', got {model!r}")
    if loss == "squared":
        data = cp.sum_squares(pred - y) / (2 * n)
    elif loss == "logistic":
        data = cp.sum(cp.logistic(-cp.multiply(y, pred))) / n
    else:
        raise ValueError(f"loss must be 'squared' or 'logistic', got {loss!r}")
    prob = cp.Problem(cp.Minimize(data + beta * reg), cons)
    opts = {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol, "max_iter": 500}
    opts.update(solver_opts)
    status = SolverStatus.CONVERGED
    try:
        with warnings.catch_warnings():
            # "Solution may be inaccurate" is reported through the status instead.
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(solver=cp.CLARABEL, verbose=verbose, **opts)
    except cp.error.SolverError:
        status = SolverStatus.SOLVER_ERROR
    if prob.status not in ("optimal", "optimal_inaccurate") or V.value is None:
        status = SolverStatus.SOLVER_ERROR
        Vv = np.zeros((P, d))
        Wv = None if W is None else np.zeros((P, d))
    else:
        if prob.status == "optimal_inaccurate":
            status = SolverStatus.MAX_ITER
        Vv = np.asarray(V.value).T.copy()
        Wv = None if W is None else np.asarray(W.value).T.copy()
    elapsed = time.perf_counter() - t0
    # Objective re-evaluated in NumPy from the solution (not CVXPY's reported value).
    U = Vv if Wv is None else Vv - Wv
    f = np.sum(D * (X @ U.T), axis=1)
    norms = np.linalg.norm(Vv, axis=1).sum() + (0.0 if Wv is None else np.linalg.norm(Wv, axis=1).sum())
    obj = get_loss(loss).value(f, y) + beta * norms
    viol = 0.0
    if Wv is not None:
        viol = float(max(np.max(-(S * (X @ Vv.T))), np.max(-(S * (X @ Wv.T))), 0.0))
    return SolverResult(
        V=Vv,
        W=Wv,
        objective=float(obj),
        lower_bound=-np.inf,
        criterion=0.0 if status.converged else np.inf,
        n_iter=int(prob.solver_stats.num_iters or 0) if prob.solver_stats else 0,
        status=status,
        history=[{"time": elapsed, "iter": 0, "objective": float(obj)}],
        info={"time": elapsed, "cvxpy_status": prob.status, "constraint_violation": viol,
              "cvxpy_value": float(prob.value) if prob.value is not None else np.nan},
    )
