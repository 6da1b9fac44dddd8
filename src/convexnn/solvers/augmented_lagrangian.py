"""Cone-constrained ReLU model by the method of multipliers (augmented Lagrangian), with
FISTA inner solves.

Solves ([PE20]_ Thm 1, SPEC §2), with ``U = [V; W]`` and ``K_g = (2 D_g - I) X``::

    min_U  L(sum_g S_g X u_g) + beta sum_g ||u_g||   s.t.  K_g u_g >= 0.

Each outer step approximately minimizes the augmented Lagrangian

    L(S * XU^T) + beta sum ||u_g|| + (1/2rho) ||(lam - rho C * XU^T)_+||^2

by FISTA (:mod:`._fista_core`; the constraint values ``C * XU^T`` come free with the forward
GEMM), then updates ``lam <- (lam - rho C * XU^T)_+`` (Rockafellar 1976) and raises ``rho``
when the constraint violation does not fall by 4x.

Stopping rule: the *network read off U* (each ``u_g`` as a ReLU neuron) has objective
``F_net``; the multipliers give the dual bound ``D`` of :class:`._problem.GroupProgram`; the
solver stops when ``0 <= (F_net - D) / F_net <= tol`` *and* the largest cone violation is below
``tol`` relative to ``max |X U^T|``. Since ``D`` is below the optimum of the convex program over
these patterns, this certifies that the returned network is within ``tol`` of that optimum.

Measured limits: the method of multipliers with FISTA inner solves converges slowly on these
degenerate programs (many more groups than samples); on small exact instances it reaches gaps of
``1e-3``--``1e-4`` in tens of thousands of iterations. The exact default for the ReLU model is
the active-set Newton solver (:mod:`.active_set`); this one is kept for PyTorch devices and
very large ``n``.

Kept point, inner budget and penalty (fixed after measuring n = 60, d = 5, P = 30, beta =
1e-2, 20,000 iterations, float64): the point returned is the one with the smallest
``max(|gap|, violation / max|X U^T|)`` (the raw gap ranked an infeasible iterate with gap
-4e-3 first and kept it), each inner solve has at most ``INNER_MAX`` iterations (one at a large
``rho`` ran 17,000 without reaching its tolerance, so the multipliers never moved), and ``rho``
stops growing once the violation is within ``tol``. Result: F 1.3e-8 above CVXPY's optimum,
violation 4e-9, gap 8e-5 still falling (before: F 0.5 % *below* it with violation 1.4e-2).
In float32 the line search's round-off allowance follows the precision (a stall is reported
as ``STALLED``), but the float32 dual bound stays weak (gap ~0.7 on that instance): the
float32 path returns a good network without a tight certificate.

.. [PE20] Pilanci & Ergen, Neural Networks are Convex Regularizers, ICML 2020.
"""

from __future__ import annotations

import time
from typing import Any

from .._backend import array_namespace
from ..losses import Loss
from ._fista_core import FistaState, fista
from ._problem import GroupProgram
from ._result import SolverResult, SolverStatus
from .fista import _initial_curvature

__all__ = ["solve_relu_al"]

#: FISTA iterations at most per outer (multiplier) step.
INNER_MAX = 1000


def solve_relu_al(
    X: Any,
    y: Any,
    masks: Any,
    loss: Loss,
    beta: float,
    *,
    U0: Any | None = None,
    tol: float = 1e-6,
    max_iter: int = 20_000,
    max_outer: int = 200,
    rho: float | None = None,
    time_limit: float | None = None,
    callback: Any = None,
) -> SolverResult:
    """Solve the ReLU model; see the module docstring.

    Parameters
    ----------
    X, y, masks, loss, beta : as in :func:`.fista.solve_gated_fista`
    U0 : array (2P, d), optional
        Warm start ``[V; W]``.
    tol : float
        Relative gap tolerance of the returned network (see module docstring).
    max_iter : int
        Total FISTA iterations over all outer steps.
    rho : float, optional
        Initial penalty; default ``1 / n`` (the data term's curvature scale).
    """
    xp = array_namespace(X)
    n, d = X.shape
    prog = GroupProgram.build(X, y, masks, loss, beta, "relu")
    G = prog.n_groups
    U = xp.zeros((G, d), dtype=X.dtype) if U0 is None else U0
    L0 = _initial_curvature(prog)
    state = FistaState(U=U, Z=X @ U.T, L=L0)
    lam = xp.zeros((n, G), dtype=X.dtype)
    rho = 1.0 / n if rho is None else rho
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"gap": float("inf"), "primal": float("inf"), "score": float("inf")}
    status = SolverStatus.MAX_ITER
    prev_viol = float("inf")
    # Scale of the gradient mapping at U = 0, for relative inner tolerances.
    gm_scale = float(xp.linalg.vector_norm(X.T @ loss.gradient(xp.zeros_like(y), y))) + beta
    inner_tol = 1e-3 * gm_scale

    def phi(Z: Any, need_grad: bool) -> tuple[float, Any]:
        f = prog.predict(Z)
        A = lam - rho * (prog.C * Z)
        Ap = xp.where(A > 0, A, 0.0)
        val = loss.value(f, y) + float(xp.sum(Ap * Ap)) / (2 * rho)
        if not need_grad:
            return val, None
        return val, prog.S * loss.gradient(f, y)[:, None] - prog.C * Ap

    def record(st: FistaState, lam_new: Any) -> tuple[float, float]:
        """Record ``st``; returns its largest cone violation and the scale ``max |X U^T|``
        it is measured against (constraint values are ``x_k . u_g``)."""
        primal = prog.primal(st.U, st.Z)
        lower, mu, _ = prog.dual_bound(st.Z, lam_new)
        gap = (primal - lower) / max(abs(primal), 1e-300)
        viol_arr = xp.where(prog.C * st.Z < 0, -(prog.C * st.Z), 0.0)
        viol = float(xp.max(viol_arr)) if viol_arr.shape[1] else 0.0
        scale = max(float(xp.max(xp.abs(st.Z))) if st.Z.shape[1] else 0.0, 1e-300)
        rec = {"time": time.perf_counter() - t0, "iter": st.n_iter, "objective": primal,
               "lower_bound": lower, "criterion": gap, "violation": viol, "rho": rho,
               "n_active": int(xp.sum(xp.linalg.vector_norm(st.U, axis=1) > 0))}
        history.append(rec)
        # The point kept is the one nearest to a certified feasible one: an infeasible U
        # reads as a network with other patterns whose F can fall below the optimum, so a
        # negative gap is no better than a positive one (ranking by the raw gap kept an
        # early iterate with gap -4e-3 and violation 1.4e-2 through 17,000 more iterations).
        score = max(abs(gap), viol / scale)
        if score < best["score"] or best.get("U") is None:
            best.update(gap=gap, lower=lower, mu=mu, primal=primal, U=st.U, lam=lam_new,
                        score=score, viol=viol)
        if callback is not None:
            callback(rec)
        return viol, scale

    try:
        for _outer in range(max_outer):
            budget = max_iter - state.n_iter
            if budget <= 0:
                break
            # Inner accuracy: tighten with the outer progress (inexact AL, Rockafellar).
            # Capped, so that the multipliers move: an inner solve at a large rho is
            # ill-conditioned and ran 17,000 iterations without reaching inner_tol.
            state, reason = fista(X, state, phi, beta, max_iter=min(budget, INNER_MAX),
                                  grad_tol=inner_tol, deadline=deadline)
            if reason == "nonfinite":
                status = SolverStatus.NUMERICAL_ERROR
                break
            A = lam - rho * (prog.C * state.Z)
            lam_new = xp.where(A > 0, A, 0.0)
            viol, xscale = record(state, lam_new)
            lam = lam_new
            # Converged only when the cone constraints hold too: an infeasible U reads as a
            # network with *other* patterns, whose F can fall below the program's optimum and
            # make the gap look small (or negative) without solving the program.
            if 0 <= history[-1]["criterion"] <= tol and viol <= tol * xscale:
                status = SolverStatus.CONVERGED
                break
            if reason == "time":
                status = SolverStatus.TIME_LIMIT
                break
            if reason == "stall":
                status = SolverStatus.STALLED
                break
            if viol > 0.25 * prev_viol and viol > tol * xscale:
                # (Not once feasible to tol: a larger rho only stiffens the inner solves.)
                rho *= 10.0
                # The constraint term's curvature grows with rho.
                state.L = max(state.L, rho * L0 / max(prog.loss.lipschitz(n), 1e-300) * 1e-3)
            prev_viol = viol
            inner_tol = max(min(best["gap"], 1e-2) * gm_scale * 0.1, 1e-14 * gm_scale)
    except KeyboardInterrupt:
        status = SolverStatus.INTERRUPTED
    if "U" not in best or best.get("U") is None:
        record(state, lam)
    return SolverResult(V=best["U"][: G // 2], W=best["U"][G // 2:], objective=best["primal"],
                        lower_bound=best["lower"], criterion=best["gap"], n_iter=state.n_iter,
                        status=status, history=history, dual=best["mu"],
                        info={"time": time.perf_counter() - t0, "rho": rho,
                              "multipliers": best.get("lam"),
                              "constraint_violation": best.get("viol", 0.0)})
