"""Working-set (active-set) outer loop over patterns, with a global duality-gap certificate.

Optimal solutions are neuron-sparse (an optimum with at most ``n + 1`` non-zero groups exists,
[PE20]_), so most patterns carry a zero group. The outer loop

1. solves the program restricted to a working set ``W`` of patterns with an inner solver
   (FISTA for the gated model; the Clarabel interior-point method or the augmented Lagrangian
   for the ReLU model), warm-started;
2. computes the dual point ``mu = -grad L`` and, for *every* pattern, the dual-constraint value
   ``||X^T D_g mu||`` (gated) or an upper bound on ``max{±mu^T D_g X u : K_g u >= 0,
   ||u|| <= 1}`` (ReLU, :func:`._cone_dual.cone_dual_norms`);
3. adds the patterns that violate the dual constraint by more than the tolerance; stops when
   none does and the global relative gap is below ``tol``.

The gap is computed over all patterns with the sound dual scaling of SPEC §3, so a converged
result certifies ``objective <= optimum * (1 + tol)`` for the program over the full pattern set.
This is the cutting-plane scheme of SPEC §3 restricted to a finite pattern set.

.. [PE20] Pilanci & Ergen, Neural Networks are Convex Regularizers, ICML 2020.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .._backend import array_namespace, to_numpy
from ..losses import Loss
from ._cone_dual import cone_dual_norms
from ._problem import GroupProgram
from ._result import SolverResult, SolverStatus
from .fista import solve_gated_fista, solve_gated_working_set

__all__ = ["solve_working_set"]


def _dual_values(prog: GroupProgram, mu: Any, lam: Any | None, n_iter: int) -> tuple[Any, Any]:
    """Per-pattern dual-constraint values (max over the two signs for ReLU), shape (P,)."""
    xp = array_namespace(mu)
    Cvec = (prog.S * mu[:, None]).T @ prog.X  # (G, d)
    if prog.C is None:
        return xp.linalg.vector_norm(Cvec, axis=1), None
    norms, lam = cone_dual_norms(prog.X, Cvec, prog.C, lam, n_iter=n_iter)
    P = prog.n_groups // 2
    return xp.maximum(norms[:P], norms[P:]), lam


def _into_domain(loss: Loss, mu: Any, y: Any) -> Any:
    """Project a dual point into the domain of ``-L*(-mu)`` (logistic: ``n y mu in [0, 1]``)."""
    if loss.name != "logistic":
        return mu
    xp = array_namespace(mu)
    n = mu.shape[0]
    return xp.clip(n * y * mu, 0.0, 1.0) * y / n


def solve_working_set(
    X: Any,
    y: Any,
    masks: Any,
    loss: Loss,
    beta: float,
    *,
    model: str,
    inner: Callable[..., SolverResult],
    tol: float = 1e-6,
    max_iter: int = 10_000,
    max_outer: int = 50,
    initial_size: int | None = None,
    U0: Any | None = None,
    time_limit: float | None = None,
    callback: Any = None,
    dual_iter: int = 300,
) -> SolverResult:
    """Solve the gated or ReLU program over ``masks`` by a working set of patterns.

    Parameters
    ----------
    X, y, masks, loss, beta
        As in :func:`.fista.solve_gated_fista`.
    model : {"gated", "relu"}
    inner : callable
        ``inner(X, y, masks_W, loss, beta, U0=..., tol=...) -> SolverResult`` for the
        restricted program (``U0`` stacked as the solver expects, ``[V; W]`` for ReLU).
    tol : float
        Relative duality-gap tolerance of the *global* program.
    initial_size : int, optional
        Patterns in the first working set (default ``min(P, 50)``), chosen by the largest
        dual-constraint values at ``U = 0`` (or the non-zero groups of ``U0``).
    """
    if model == "gated" and inner is solve_gated_fista:
        # Specialised outer loop: the full pattern set stays boolean and is touched by one
        # adjoint product per round (see :func:`.fista.solve_gated_working_set`).
        return solve_gated_working_set(X, y, masks, loss, beta, tol=tol, max_iter=max_iter,
                                       max_outer=max_outer, initial_size=initial_size, U0=U0,
                                       time_limit=time_limit, callback=callback)
    xp = array_namespace(X)
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    prog = GroupProgram.build(X, y, masks, loss, beta, model)
    P = masks.shape[1]
    relu = model == "relu"
    d = X.shape[1]
    Uall = xp.zeros(((2 if relu else 1) * P, d), dtype=X.dtype) if U0 is None else U0

    def full_index(ws: np.ndarray) -> np.ndarray:
        return np.concatenate([ws, ws + P]) if relu else ws

    # Initial working set: groups already non-zero in the warm start, then the most violated.
    Z = X @ Uall.T
    mu = -loss.gradient(prog.predict(Z), y)
    vals, lam_all = _dual_values(prog, mu, None, 30)
    vals_np = to_numpy(vals)
    nz = to_numpy(xp.linalg.vector_norm(Uall, axis=1)) > 0
    if not nz.any() and float(xp.max(vals)) <= beta:
        # Dual feasible at U = 0: the zero network is optimal (beta >= beta_max), certified.
        primal = prog.primal(Uall, Z)
        lower = loss.dual_value(mu, y)
        gap = (primal - lower) / max(abs(primal), 1e-300)
        rec = {"time": time.perf_counter() - t0, "iter": 0, "objective": primal,
               "lower_bound": lower, "criterion": gap, "n_active": 0}
        G = Uall.shape[0]
        return SolverResult(
            V=Uall[: G // 2] if relu else Uall, W=Uall[G // 2:] if relu else None,
            objective=primal, lower_bound=lower, criterion=gap, n_iter=0,
            status=SolverStatus.CONVERGED if gap <= tol else SolverStatus.MAX_ITER,
            history=[rec], dual=mu, info={"time": rec["time"], "working_set_size": 0})
    nz = nz[:P] | nz[P:] if relu else nz
    k0 = min(P, initial_size or 50)
    order = np.argsort(-vals_np)
    ws = np.union1d(np.flatnonzero(nz), order[:k0])
    history: list[dict[str, float]] = []
    n_iter = 0
    status = SolverStatus.MAX_ITER
    # Inner accuracy follows the global gap (as in celer/skglm): loose solves while the
    # working set is still growing, tight ones at the end.
    inner_tol = 1e-2
    res = None
    best: dict[str, Any] = {}
    for _outer in range(max_outer):
        fi = full_index(ws)
        fi_t = xp.asarray(fi) if not isinstance(X, np.ndarray) else fi
        U0_ws = Uall[fi_t]
        remaining = None if deadline is None else max(deadline - time.perf_counter(), 1e-3)
        res = inner(X, y, masks[:, xp.asarray(ws) if not isinstance(X, np.ndarray) else ws],
                    loss, beta, U0=U0_ws, tol=inner_tol, max_iter=max(max_iter - n_iter, 1),
                    time_limit=remaining)
        n_iter += res.n_iter
        Uw = res.V if res.W is None else xp.concat([res.V, res.W], axis=0)
        Uall = xp.zeros_like(Uall)
        Uall[fi_t] = Uw
        if res.status is SolverStatus.INTERRUPTED:
            status = SolverStatus.INTERRUPTED
        Z = X @ Uall.T
        mu = -loss.gradient(prog.predict(Z), y)
        # Multipliers: the inner solver's for the working set (accurate), warm starts elsewhere.
        lam0 = lam_all
        if relu and res.info.get("multipliers") is not None:
            lam0 = xp.zeros((X.shape[0], 2 * P), dtype=X.dtype) if lam0 is None else lam0
            lam0[:, fi_t] = res.info["multipliers"]
        vals, lam_all = _dual_values(prog, mu, lam0, dual_iter)
        primal = prog.primal(Uall, Z)
        cmax = float(xp.max(vals)) / beta
        s = min(1.0, 1.0 / cmax) if cmax > 0 else 1.0
        lower = loss.dual_value(s * mu, y)
        mu_in = res.info.get("mu")
        if mu_in is not None:
            # The inner interior-point solver's own dual point pairs better with its
            # multipliers than -grad L at its (slightly inexact) primal point; both bounds are
            # sound (any mu, scaled, is dual feasible), keep the larger.
            mu2 = _into_domain(loss, xp.asarray(mu_in, dtype=X.dtype), y)
            vals2, _ = _dual_values(prog, mu2, lam0, dual_iter)
            c2 = float(xp.max(vals2)) / beta
            lower2 = loss.dual_value(min(1.0, 1.0 / c2) * mu2 if c2 > 0 else mu2, y)
            if lower2 > lower:
                lower, mu, s = lower2, mu2, (min(1.0, 1.0 / c2) if c2 > 0 else 1.0)
        gap = (primal - lower) / max(abs(primal), 1e-300)
        rec = {"time": time.perf_counter() - t0, "iter": n_iter, "objective": primal,
               "lower_bound": lower, "criterion": gap, "working_set": len(ws),
               "n_active": int(xp.sum(xp.linalg.vector_norm(Uall, axis=1) > 0)),
               "max_violation": cmax}
        history.append(rec)
        if not best or gap < best["gap"]:
            best = {"gap": gap, "primal": primal, "lower": lower, "U": Uall, "mu": s * mu}
        if callback is not None:
            callback(rec)
        if status is SolverStatus.INTERRUPTED:
            break
        if gap <= tol:
            status = SolverStatus.CONVERGED
            break
        inner_tol = max(min(inner_tol, 0.1 * gap), 0.1 * tol, 1e-12)
        vals_np = to_numpy(vals)
        outside = np.setdiff1d(np.arange(P), ws)
        viol = outside[vals_np[outside] > beta * (1 + 0.5 * tol)]
        if viol.size == 0:
            # Nothing to add: the gap is the inner accuracy (or the multiplier estimates).
            if res.status is not SolverStatus.CONVERGED or n_iter >= max_iter:
                status = res.status if res.status is not SolverStatus.CONVERGED else SolverStatus.MAX_ITER
                break
            if inner_tol <= 1e-12:
                break
            inner_tol = max(inner_tol * 0.01, 1e-12)
            dual_iter *= 2
            continue
        add = viol[np.argsort(-vals_np[viol])][: max(10, len(ws))]
        ws = np.union1d(ws, add)
        if n_iter >= max_iter:
            break
        if deadline is not None and time.perf_counter() > deadline:
            status = SolverStatus.TIME_LIMIT
            break
    U = best["U"]
    G = U.shape[0]
    return SolverResult(
        V=U[: G // 2] if relu else U, W=U[G // 2:] if relu else None,
        objective=best["primal"], lower_bound=best["lower"], criterion=best["gap"],
        n_iter=n_iter, status=status, history=history, dual=best["mu"],
        info={"time": time.perf_counter() - t0, "working_set_size": len(ws),
              "inner": getattr(inner, "__name__", str(inner))},
    )
