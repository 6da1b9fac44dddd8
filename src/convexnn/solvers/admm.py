"""Cone-constrained ReLU program by ADMM with an exact, cached linear solve (first order).

Splitting of [Bai, Gautam & Sojoudi 2022] for ``U = [V; W]`` (shape (G, d), ``G = 2P``)::

    min  q(U) + beta sum_g ||z_g|| + I(s >= 0)   s.t.  U = Z,  C * (X U^T) = s

with ``q`` the data fit. The U-step is a linear system with matrix
``A = c F^T F + rho (I + K^T K)``; because ``(2 D_g - I)^2 = I``, ``K^T K`` is block diagonal
with the *same* block ``X^T X`` for every group, so ``rho (I + K^T K) = rho I_G (x) (I + X^T X)``
and Woodbury reduces ``A^{-1}`` to one ``d x d`` and one ``n x n`` Cholesky factorization,
computed once:

    A^{-1} = B^{-1} - B^{-1} F^T (I/c + F B^{-1} F^T)^{-1} F B^{-1},
    F B^{-1} F^T = (1/rho) (X H X^T) * (S S^T),   H = (I + X^T X)^{-1}.

For the squared loss ``q = (1/2n)||F U - y||^2`` (``c = 1/n``) the U-step is exact. For the
logistic loss ``q`` is replaced at each step by its quadratic majorizer around the current point
(curvature ``1/(4n)``, i.e. ``c = 1/(4n)``), a proximal ADMM whose proximal term
``c F^T F - F^T diag(l'') F / n`` is positive semidefinite, which keeps ADMM's convergence.
Every iteration costs four GEMMs with ``X`` and two ``n x n`` triangular solves.

Stopping rule: as in :mod:`.augmented_lagrangian` -- the relative gap between the network
read off ``U`` and a dual bound (with the multipliers of the cone constraints, ``rho * (-lam2)_+``,
refined by :func:`._cone_dual.cone_dual_norms`) below ``tol``, and the cone violation below
``tol`` relative to ``max |X U^T|``.

References: S. Bai, V. Gautam, S. Sojoudi, *Efficient global optimization of two-layer ReLU
networks: quadratic-time algorithms and adversarial training*, SIAM J. Math. Data Sci. 2023;
S. Boyd et al., *Distributed Optimization and Statistical Learning via ADMM*, 2011.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.linalg as sla

from .._backend import to_numpy
from ..losses import Loss
from ._cone_dual import cone_dual_norms
from ._fista_core import prox_group_l1
from ._problem import GroupProgram
from ._result import SolverResult, SolverStatus

__all__ = ["solve_relu_admm"]


def solve_relu_admm(
    X: Any,
    y: Any,
    masks: Any,
    loss: Loss,
    beta: float,
    *,
    U0: Any | None = None,
    tol: float = 1e-6,
    max_iter: int = 20_000,
    rho: float | None = None,
    check_every: int = 25,
    time_limit: float | None = None,
    callback: Any = None,
) -> SolverResult:
    """Solve the ReLU program by ADMM; see the module docstring.

    Parameters
    ----------
    X : array (n, d); y : array (n,); masks : bool array (n, P)
    loss : Loss
    beta : float
    U0 : array (2P, d), optional
    tol : float
        Relative gap (and relative cone violation) tolerance.
    rho : float, optional
        ADMM penalty; default ``1/n`` times the mean pattern density (the data term's scale).
    check_every : int
        Iterations between gap checks (each costs one pricing pass).
    """
    t0 = time.perf_counter()
    X = np.asarray(to_numpy(X), dtype=np.float64)
    y = np.asarray(to_numpy(y), dtype=np.float64)
    D = np.asarray(to_numpy(masks), dtype=np.float64)
    n, d = X.shape
    P = D.shape[1]
    prog = GroupProgram.build(X, y, D.astype(bool), loss, beta, "relu")
    S, C = prog.S, prog.C
    assert C is not None
    G = 2 * P
    c = 1.0 / n if loss.name == "squared" else 0.25 / n
    if rho is None:
        rho = c * max(float(D.mean()) * P, 1.0) * 0.01  # adapted by residual balancing
    H = np.linalg.inv(np.eye(d) + X.T @ X)
    XHX_SS = (X @ H @ X.T) * (S @ S.T)

    def factor(rho: float) -> Any:
        M = XHX_SS / rho
        M[np.diag_indices_from(M)] += 1.0 / c
        return sla.cho_factor(M)

    Mfac = factor(rho)

    def solve_A(R: np.ndarray) -> np.ndarray:
        """A^{-1} R for R of shape (G, d) (Woodbury)."""
        BR = R @ H / rho  # B^{-1} R
        f = np.sum((X @ BR.T) * S, axis=1)  # F B^{-1} R
        t = sla.cho_solve(Mfac, f)
        return BR - ((S * t[:, None]).T @ X) @ H / rho

    U = np.zeros((G, d)) if U0 is None else np.asarray(to_numpy(U0), dtype=np.float64)
    Z = U.copy()
    Sv = np.maximum(C * (X @ U.T), 0.0)
    L1 = np.zeros((G, d))
    L2 = np.zeros((n, G))
    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"gap": np.inf}
    lam_dual = None
    status = SolverStatus.MAX_ITER
    it = 0
    try:
        for it in range(1, max_iter + 1):
            XU = X @ U.T
            f = np.sum(XU * S, axis=1)
            # Data term (or its majorizer): c F^T F U - F^T (c f - grad) = F^T (grad - c f) ...
            g = loss.gradient(f, y)
            rhs_data = -((S * (g - c * f)[:, None]).T @ X)
            rhs = rhs_data + rho * (Z - L1) + rho * ((C * (Sv - L2)).T @ X)
            U = solve_A(rhs)
            XU = X @ U.T
            KU = C * XU
            Z_prev, Sv_prev = Z, Sv
            Z = prox_group_l1(U + L1, beta / rho)
            Sv = np.maximum(KU + L2, 0.0)
            L1 += U - Z
            L2 += KU - Sv
            if it % 50 == 0:
                # Residual balancing (Boyd et al. 2011, §3.4.1): keep the primal and dual
                # residuals within 10x of each other; the scaled duals rescale with rho.
                r_pri = float(np.linalg.norm(U - Z) + np.linalg.norm(KU - Sv))
                r_dual = rho * float(np.linalg.norm(Z - Z_prev)
                                     + np.linalg.norm((C * (Sv - Sv_prev)).T @ X))
                if r_pri > 10 * r_dual or r_dual > 10 * r_pri:
                    f_rho = 2.0 if r_pri > 10 * r_dual else 0.5
                    rho *= f_rho
                    L1 /= f_rho
                    L2 /= f_rho
                    Mfac = factor(rho)
            if it % check_every == 0 or it == max_iter:
                # Report Z (its zero groups are exact) and certify it with the multipliers.
                lam0 = np.maximum(-rho * L2, 0.0) if lam_dual is None else lam_dual
                XZ = X @ Z.T
                primal = prog.primal(Z, XZ)
                mu = -loss.gradient(prog.predict(XZ), y)
                Cvec = (S * mu[:, None]).T @ X
                vals, lam_dual = cone_dual_norms(X, Cvec, C, lam0, n_iter=50)
                hmax = float(vals.max()) / beta
                s = min(1.0, 1.0 / hmax) if hmax > 0 else 1.0
                lower = loss.dual_value(s * mu, y)
                gap = (primal - lower) / max(abs(primal), 1e-300)
                viol = float(np.max(np.maximum(-(C * XZ), 0.0)))
                xscale = max(float(np.max(np.abs(XZ))), 1e-300)
                rec = {"time": time.perf_counter() - t0, "iter": it, "objective": primal,
                       "lower_bound": lower, "criterion": gap, "violation": viol / xscale,
                       "n_active": int(np.sum(np.linalg.norm(Z, axis=1) > 0))}
                history.append(rec)
                if callback is not None:
                    callback(rec)
                feasible = viol <= tol * xscale
                if feasible and 0 <= gap < best["gap"]:
                    best = {"gap": gap, "primal": primal, "lower": lower, "U": Z.copy(),
                            "mu": s * mu}
                if feasible and 0 <= gap <= tol:
                    status = SolverStatus.CONVERGED
                    break
                if time_limit is not None and time.perf_counter() - t0 > time_limit:
                    status = SolverStatus.TIME_LIMIT
                    break
    except KeyboardInterrupt:
        status = SolverStatus.INTERRUPTED
    if "U" not in best:
        XZ = X @ Z.T
        best = {"gap": np.inf, "primal": prog.primal(Z, XZ), "lower": -np.inf, "U": Z,
                "mu": None}
    Ub = best["U"]
    return SolverResult(V=Ub[:P], W=Ub[P:], objective=best["primal"], lower_bound=best["lower"],
                        criterion=best["gap"], n_iter=it, status=status, history=history,
                        dual=best["mu"], info={"time": time.perf_counter() - t0, "rho": rho})
