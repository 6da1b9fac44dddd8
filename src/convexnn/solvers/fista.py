"""Gated ReLU model (group lasso) by accelerated proximal gradient with restarts.

Solves ([MSP22]_, SPEC §2)::

    min_U  F(U) = L(M U) + beta sum_i ||u_i||_2,   M U = sum_i D_i X u_i,   L(f) = (1/n) sum_k l(f_k, y_k)

Two entry points:

* :func:`solve_gated_fista` -- FISTA over all the given patterns;
* :func:`solve_gated_working_set` -- the same FISTA on a working set of patterns, grown from the
  dual-constraint violations of the full set (the outer loop of :mod:`.working_set`, specialised
  to the gated model so that the full pattern set is only touched once per outer round).

Hot path (SPEC-free numerical choices, measured on this project's 2-core machine). FISTA runs in
*prediction space*: ``f = M U`` is linear in ``U``, so the extrapolated point's prediction
``f_y = f_x + theta (f_x - f_prev)`` costs an n-vector update, not a GEMM. An iteration is then
exactly one forward product ``M U_new`` and one adjoint ``M^T grad L(f_y)``, each a single GEMM of
the masks (see :class:`~convexnn.operators.MaskedOperator`), plus O(nd + Pd) vector work; a
backtracking step costs one more forward product.

* Step ``1/L`` with ``L`` tried 5 % smaller each iteration and doubled on failure of the
  sufficient-decrease test (Beck & Teboulle 2009).
* Gradient-based adaptive restart of the momentum (O'Donoghue & Candès 2015).
* Optionally (``precondition``) the steps are taken in the low-rank metric of :mod:`._metric`,
  which gives the ~d outlying eigenvalues that all masks share their own curvature: 4-8x
  fewer iterations on large problems (n = 1e5, d = 100, P = 1000: ~100 iterations).
* Stopping rule, evaluated at the extrapolated point ``y`` where the gradient is already known
  (so it costs no extra product): the relative duality gap ``(F(U_y) - D) / F(U_y)`` with the
  dual point ``mu = -grad L(f_y)`` scaled to be dual feasible (SPEC §3), and optionally the
  relative KKT residual (:func:`kkt_residual`). When it holds, ``U_y`` is returned.

.. [MSP22] Mishkin, Sahiner & Pilanci, Fast Convex Optimization for Two-Layer ReLU Networks,
   ICML 2022.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._backend import array_namespace, to_numpy
from ..losses import Loss
from ..operators import MaskedOperator
from ._fista_core import group_norms, prox_group_l1, roundoff_slack
from ._metric import LowRankMetric, build_gated_metric
from ._problem import GroupProgram
from ._result import SolverResult, SolverStatus

__all__ = ["solve_gated_fista", "solve_gated_working_set", "kkt_residual", "use_metric"]


def _initial_curvature(prog: GroupProgram) -> float:
    op = MaskedOperator(prog.X, prog.S if prog.C is None else prog.S[:, : prog.S.shape[1] // 2])
    # Start from a tenth of the bound: backtracking doubles it when needed, and the bound of
    # Schur's inequality is often loose by more than 10x.
    return 0.1 * prog.loss.lipschitz(prog.X.shape[0]) * op.norm_sq_upper()


def kkt_residual(U: Any, G: Any, beta: float) -> float:
    """Relative KKT residual of the group lasso at ``U`` with loss gradient ``G = grad_U L``::

        ||U - prox_{beta ||.||_{2,1}}(U - G)||_F / (1 + ||U||_F + ||G||_F)

    (the natural residual of the optimality condition ``0 in G + beta d||U||_{2,1}``, in the
    relative form of Li, Sun & Toh, SIAM J. Optim. 2018). Zero exactly at optimal ``U``.
    """
    xp = array_namespace(U)
    R = U - prox_group_l1(U - G, beta)
    num = float(xp.linalg.vector_norm(R))
    den = 1.0 + float(xp.linalg.vector_norm(U)) + float(xp.linalg.vector_norm(G))
    return num / den


def _zeros(xp: Any, shape: tuple[int, ...], like: Any) -> Any:
    return xp.zeros(shape, dtype=like.dtype, device=getattr(like, "device", None))


@dataclass
class _Inner:
    U: Any
    f: Any
    L: float
    n_iter: int = 0
    reason: str = "max_iter"
    primal: float = float("inf")
    lower: float = -float("inf")
    gap: float = float("inf")
    kkt: float = float("inf")
    crit: float = float("inf")
    mu: Any = None
    history: list[dict[str, float]] = field(default_factory=list)


def _f64(a: Any) -> Any:
    xp = array_namespace(a)
    return a if a.dtype == xp.float64 else xp.astype(a, xp.float64)


def _criterion(gap: float, kkt: float, criterion: str) -> float:
    if criterion == "gap":
        return gap
    if criterion == "kkt":
        return kkt
    if criterion == "both":
        return max(gap, kkt)
    raise ValueError(f"criterion must be 'gap', 'kkt' or 'both', got {criterion!r}")


def _certify(op: MaskedOperator, y: Any, loss: Loss, beta: float, U: Any, f: Any, g: Any,
             G: Any) -> tuple[float, float, float, float, Any]:
    """Primal value, dual bound, relative gap, KKT residual and scaled dual point at ``U``."""
    xp = array_namespace(U)
    # Reductions in float64 (O(n + Pd) work): a float32 sum over n = 1e5 terms would put the
    # gap's round-off floor near 1e-6.
    f64, y64 = _f64(f), _f64(y)
    primal = loss.value(f64, y64) + beta * float(xp.sum(group_norms(_f64(U))))
    c = float(xp.max(group_norms(_f64(G)))) / beta if G.shape[0] else 0.0
    s = 1.0 if c <= 1.0 else 1.0 / c
    mu = -s * g
    lower = loss.dual_value(-s * _f64(g), y64)
    gap = (primal - lower) / max(abs(primal), 1e-300)
    kkt = kkt_residual(_f64(U), _f64(G), beta)
    return primal, lower, gap, kkt, mu


def _gated_fista(op: MaskedOperator, y: Any, loss: Loss, beta: float, U: Any, f: Any, L: float,
                 *, tol: float, criterion: str, max_iter: int, check_every: int,
                 deadline: float | None, t0: float, callback: Any = None,
                 iter_offset: int = 0, stall_iter: int = 2000,
                 metric: LowRankMetric | None = None) -> _Inner:
    """FISTA in prediction space on ``op`` from ``(U, f = op.forward(U))``; see module doc.

    With ``metric`` (:class:`._metric.LowRankMetric`) the steps are taken in its geometry
    ``B = L (I + V diag(rho - 1) V^T)``: ``L`` is backtracked as before, the sufficient-decrease
    test and the restart use ``||.||_B``.
    """
    xp = array_namespace(U)
    st = _Inner(U=U, f=f, L=L)
    Uy, fy = U, f
    t = 1.0
    best_it = 0
    squared = loss.name == "squared"
    n = int(fy.shape[0])
    # Round-off allowance of the sufficient-decrease test, from the working precision.
    slack = roundoff_slack(U)
    val_y = 0.0
    # Projections of the iterates onto the metric's basis, carried along like f.
    pU = pUy = metric.project(U) if metric is not None else np.zeros(0)
    for it in range(max_iter + 1):
        if not squared:
            val_y = loss.value(fy, y)
        gy = loss.gradient(fy, y)
        Gy = op.adjoint(gy)
        if it % check_every == 0 or it == max_iter:
            primal, lower, gap, kkt, mu = _certify(op, y, loss, beta, Uy, fy, gy, Gy)
            crit = _criterion(gap, kkt, criterion)
            rec = {"time": time.perf_counter() - t0, "iter": iter_offset + st.n_iter,
                   "objective": primal, "lower_bound": lower, "criterion": crit, "gap": gap,
                   "kkt": kkt}
            st.history.append(rec)
            if callback is not None:
                try:
                    callback(rec)
                except KeyboardInterrupt:
                    st.reason = "interrupted"
                    break
            if crit <= tol:
                st.U, st.f, st.reason = Uy, fy, "stop"
                st.primal, st.lower, st.gap, st.kkt, st.crit, st.mu = primal, lower, gap, kkt, crit, mu
                return st
            if crit < (1 - 1e-3) * st.crit:
                st.crit, best_it = crit, it
            elif it - best_it > stall_iter:
                # No progress for stall_iter iterations: the round-off floor of the working
                # precision (float32 gaps stall near 1e-6); return the last iterate.
                st.reason = "stall"
                break
        if it == max_iter:
            break
        if deadline is not None and time.perf_counter() > deadline:
            st.reason = "time"
            break
        L = max(0.95 * L, 1e-300)
        L_it = L
        while True:
            if metric is None:
                U_new = prox_group_l1(Uy - Gy / L, beta / L)
            else:
                U_new, p_new = metric.step(Uy, Gy, L, beta, pUy)
            f_new = op.forward(U_new)
            diff = U_new - Uy
            quad = (L * float(xp.sum(diff * diff)) if metric is None
                    else metric.norm_sq(diff, L, p_new - pUy))
            if squared:
                # Exact Bregman form L(f_new) - L(f_y) - <grad, f_new - f_y> = ||df||^2 / 2n:
                # no cancellation, so the test stays meaningful in float32 at convergence.
                df = f_new - fy
                lhs = float(xp.sum(df * df)) / (2 * n)
                rhs = 0.5 * quad
            else:
                val_new = loss.value(f_new, y)
                lhs = val_new - val_y - float(xp.sum(Gy * diff))
                rhs = 0.5 * quad + slack * (abs(val_y) + abs(val_new))
            if lhs <= rhs * (1 + slack):
                break
            if not (lhs == lhs) or L > 1e300:  # NaN or runaway curvature
                st.reason = "nonfinite"
                st.L = L
                return st
            if L > 1e6 * L_it:
                # The test fails at every step length: the round-off floor of the working
                # precision (float32 near a KKT residual of 1e-7); keep the last iterate.
                st.reason = "stall"
                st.L = L_it
                return st
            L *= 2.0
        # Gradient-based adaptive restart (in the metric's inner product when there is one).
        restart = (float(xp.sum((Uy - U_new) * (U_new - st.U))) if metric is None
                   else metric.inner(Uy - U_new, U_new - st.U, L, pUy - p_new, p_new - pU))
        if restart > 0:
            t = 1.0
        t_new = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
        theta = (t - 1.0) / t_new
        if theta > 0:
            Uy = U_new + theta * (U_new - st.U)
            fy = f_new + theta * (f_new - st.f)
        else:
            Uy, fy = U_new, f_new
        if metric is not None:
            pU, pUy = p_new, p_new + max(theta, 0.0) * (p_new - pU)
        st.U, st.f, st.L, t = U_new, f_new, L, t_new
        st.n_iter += 1
    st.L = L
    return st


def use_metric(n: int, d: int, tol: float) -> bool:
    """Whether ``precondition="auto"`` runs FISTA in the low-rank metric of :mod:`._metric`.

    The metric cuts the iterations 2-8x, but building it costs ~``0.75 min(n, 5000) d / n``
    plain iterations per working-set round and each iteration a few host-side projections, so
    it pays for large n and tight tolerances. Measured (working-set FISTA, planted data of
    ``benchmarks/scaling.py`` and UCI sets, beta = 1e-2), time plain -> metric:

    * n = 1e5, d = 100, P = 1000, float32, KKT 1e-6: KKT 6e-2 at 60 s -> converged in 25 s;
      n = 2e4, d = 50, P = 500: 46 s -> 3.6 s; n = 1e4, d = 100, P = 200: 25 s (not
      converged) -> 4.4 s; n = 1e4, d = 20, P = 300 (float64): 1.9 -> 1.1 s;
    * the same n = 1e4, d = 100 problem at KKT 1e-4: 2.8 s -> over 3 s (plain needs only ~400
      iterations there); n = 3000, d = 10, P = 100: 0.33 -> 0.84 s;
    * 32 UCI sets (P = 250, gap 1e-6): slower on every set with n < 1000 (median 0.8x) and on
      the d = 8 sets (kin8nm, n 7373: 0.56x); faster on wine-quality-red (n 1439: 1.9x).

    Hence: ``n >= 5000``, ``d >= 10`` and ``tol <= 1e-5``.
    """
    return n >= 5000 and d >= 10 and tol <= 1e-5


def _metric_for(op: MaskedOperator, loss: Loss) -> LowRankMetric | None:
    """The low-rank metric of :mod:`._metric` for ``op``; None when there is nothing to
    deflate (fewer than two groups) or when its basis would not fit: it holds ``2 G d^2``
    floats while being built (and ``G r^2`` Grams), so ``G d^2 > 5e7`` (~0.8 GB) runs plain."""
    if op.P < 2 or op.P * op.d * op.d > 5e7:
        return None
    return build_gated_metric(op.X, op.mask, loss.lipschitz(1))


def _finish(op: MaskedOperator, y: Any, loss: Loss, beta: float, st: _Inner, criterion: str) -> None:
    """Certificate at the last iterate ``x`` (one adjoint product)."""
    g = loss.gradient(st.f, y)
    primal, lower, gap, kkt, mu = _certify(op, y, loss, beta, st.U, st.f, g, op.adjoint(g))
    st.primal, st.lower, st.gap, st.kkt, st.mu = primal, lower, gap, kkt, mu
    st.crit = _criterion(gap, kkt, criterion)


_STATUS = {"stop": SolverStatus.CONVERGED, "time": SolverStatus.TIME_LIMIT,
           "nonfinite": SolverStatus.NUMERICAL_ERROR, "interrupted": SolverStatus.INTERRUPTED,
           "stall": SolverStatus.STALLED}


def solve_gated_fista(
    X: Any,
    y: Any,
    masks: Any,
    loss: Loss,
    beta: float,
    *,
    U0: Any | None = None,
    tol: float = 1e-6,
    criterion: str = "gap",
    max_iter: int = 10_000,
    check_every: int = 1,
    time_limit: float | None = None,
    callback: Any = None,
    L0: float | None = None,
    precondition: bool = False,
) -> SolverResult:
    """Solve the gated model over all of ``masks`` by FISTA; see the module docstring.

    Parameters
    ----------
    X : array (n, d); y : array (n,); masks : bool array (n, P)
        NumPy arrays or PyTorch tensors (same backend and device), float32 or float64 (the
        dtype of ``X`` is the working dtype). Masks may also be 0/1 in ``X``'s dtype (used
        without a copy) or a :class:`~convexnn.operators.MaskedOperator`.
    loss : Loss
    beta : float
    U0 : array (P, d), optional
        Warm start.
    tol : float
        Tolerance on the stopping criterion.
    criterion : {"gap", "kkt", "both"}
        Relative duality gap, relative KKT residual (:func:`kkt_residual`), or the larger.
    check_every : int
        Iterations between certificate evaluations (each costs O(n + Pd), no product).
    callback : callable, optional
        ``callback(record: dict)`` after each check (progress display); may raise
        ``KeyboardInterrupt``, which ends the solve with status INTERRUPTED.
    L0 : float, optional
        Initial curvature estimate (default: a tenth of Schur's bound on ``||M||^2 / n``).
    precondition : bool
        Run FISTA in the low-rank metric of :mod:`._metric` (removes the ~d outlying
        eigenvalues that all masks share; 4-8x fewer iterations measured there).
    """
    xp = array_namespace(X)
    _criterion(0.0, 0.0, criterion)
    loss.check_targets(y)
    t0 = time.perf_counter()
    op = masks if isinstance(masks, MaskedOperator) else MaskedOperator(X, masks)
    P, d = op.P, X.shape[1]
    U = _zeros(xp, (P, d), X) if U0 is None else U0
    f = op.forward(U)
    metric = _metric_for(op, loss) if precondition else None
    if L0 is not None:
        L = L0
    elif metric is not None:
        L = metric.L_start
    else:
        L = 0.1 * loss.lipschitz(X.shape[0]) * op.norm_sq_upper()
    deadline = None if time_limit is None else t0 + time_limit
    st = _gated_fista(op, y, loss, beta, U, f, max(L, 1e-300), tol=tol, criterion=criterion,
                      max_iter=max_iter, check_every=max(1, check_every),
                      deadline=deadline, t0=t0, callback=callback, metric=metric)
    if st.reason != "stop":
        _finish(op, y, loss, beta, st, criterion)
    return SolverResult(V=st.U, W=None, objective=st.primal, lower_bound=st.lower,
                        criterion=st.crit, n_iter=st.n_iter,
                        status=_STATUS.get(st.reason, SolverStatus.MAX_ITER),
                        history=st.history, dual=st.mu,
                        info={"time": time.perf_counter() - t0, "gap": st.gap, "kkt": st.kkt,
                              "L": st.L, "reason": st.reason})


def solve_gated_working_set(
    X: Any,
    y: Any,
    masks: Any,
    loss: Loss,
    beta: float,
    *,
    tol: float = 1e-6,
    criterion: str = "gap",
    max_iter: int = 10_000,
    max_outer: int = 50,
    initial_size: int | None = None,
    U0: Any | None = None,
    time_limit: float | None = None,
    callback: Any = None,
    check_every: int = 1,
    precondition: bool | str = "auto",
) -> SolverResult:
    """The gated model over ``masks`` by FISTA on a working set of patterns.

    Same contract as :func:`.working_set.solve_working_set` with ``model="gated"``: the
    returned criterion is the *global* one (all patterns of ``masks``), so a converged result
    with ``criterion="gap"`` certifies ``objective <= optimum * (1 + tol)``. Each outer round
    costs one adjoint product over all patterns (the dual-constraint values
    ``||X^T D_g mu||``); the inner FISTA works on the dense (X.dtype) masks of the working set
    only, while the full mask set stays boolean unless it was passed in ``X``'s dtype.

    Parameters
    ----------
    criterion : {"gap", "kkt", "both"}
        As in :func:`solve_gated_fista`, over all patterns.
    precondition : bool or "auto"
        As in :func:`solve_gated_fista`; the metric is rebuilt for each working set. "auto":
        :func:`use_metric`.
    Other parameters as in :func:`solve_gated_fista` and :func:`.working_set.solve_working_set`.
    """
    xp = array_namespace(X)
    _criterion(0.0, 0.0, criterion)
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    op = masks if isinstance(masks, MaskedOperator) else MaskedOperator(
        X, masks, dense=None if masks.dtype == X.dtype else False)
    P, d = op.P, X.shape[1]
    if precondition == "auto":
        precondition = use_metric(int(X.shape[0]), d, tol)
    Uall = _zeros(xp, (P, d), X) if U0 is None else U0
    nz = to_numpy(group_norms(Uall)) > 0
    f = op.forward(Uall) if nz.any() else _zeros(xp, (X.shape[0],), X)
    g = loss.gradient(f, y)
    Gall = op.adjoint(g)
    primal, lower, gap, kkt, mu = _certify(op, y, loss, beta, Uall, f, g, Gall)
    crit = _criterion(gap, kkt, criterion)
    vals_np = to_numpy(group_norms(Gall))
    history: list[dict[str, float]] = []

    def record(n_iter: int, ws_size: int, cmax: float) -> None:
        rec = {"time": time.perf_counter() - t0, "iter": n_iter, "objective": primal,
               "lower_bound": lower, "criterion": crit, "gap": gap, "kkt": kkt,
               "working_set": ws_size, "n_active": int(np.sum(to_numpy(group_norms(Uall)) > 0)),
               "max_violation": cmax}
        history.append(rec)
        if callback is not None:
            callback(rec)

    def result(status: SolverStatus, n_iter: int, ws_size: int) -> SolverResult:
        return SolverResult(V=Uall, W=None, objective=primal, lower_bound=lower, criterion=crit,
                            n_iter=n_iter, status=status, history=history, dual=mu,
                            info={"time": time.perf_counter() - t0, "working_set_size": ws_size,
                                  "inner": "solve_gated_fista", "gap": gap, "kkt": kkt,
                                  "n_outer": len(history)})

    cmax0 = float(vals_np.max(initial=0.0)) / beta
    if not nz.any() and cmax0 <= 1.0:
        # Dual feasible at U = 0: the zero network is optimal (beta >= beta_max), certified.
        try:
            record(0, 0, cmax0)
        except KeyboardInterrupt:
            return result(SolverStatus.INTERRUPTED, 0, 0)
        return result(SolverStatus.CONVERGED if crit <= tol else SolverStatus.MAX_ITER, 0, 0)
    k0 = min(P, initial_size or 50)
    ws = np.union1d(np.flatnonzero(nz), np.argsort(-vals_np)[:k0])
    n_iter = 0
    status = SolverStatus.MAX_ITER
    inner_tol = 1e-2
    L: float | None = None
    metric: LowRankMetric | None = None
    metric_ws = ws
    for _outer in range(max_outer):
        op_w = op.columns(ws)
        idx = ws if isinstance(X, np.ndarray) else xp.asarray(ws, device=X.device)
        if precondition and (metric is None or not np.array_equal(ws, metric_ws)):
            # Built once per working set: a round that only tightens the inner tolerance
            # keeps the metric (and the L it reached).
            metric, metric_ws = _metric_for(op_w, loss), ws
            if metric is not None:
                L = metric.L_start
        if L is None:
            L = 0.1 * loss.lipschitz(X.shape[0]) * op_w.norm_sq_upper()
        st = _gated_fista(op_w, y, loss, beta, Uall[idx], f, L, tol=inner_tol,
                          criterion=criterion, max_iter=max(max_iter - n_iter, 1),
                          check_every=check_every, deadline=deadline, t0=t0,
                          iter_offset=n_iter, metric=metric)
        n_iter += st.n_iter
        L = st.L
        Uall = _zeros(xp, (P, d), X)
        Uall[idx] = st.U
        f = st.f
        g = loss.gradient(f, y)
        Gall = op.adjoint(g)
        primal, lower, gap, kkt, mu = _certify(op, y, loss, beta, Uall, f, g, Gall)
        crit = _criterion(gap, kkt, criterion)
        vals_np = to_numpy(group_norms(Gall))
        try:
            record(n_iter, len(ws), float(vals_np.max(initial=0.0)) / beta)
        except KeyboardInterrupt:
            st.reason = "interrupted"
        if st.reason in ("nonfinite", "interrupted"):
            status = _STATUS[st.reason]
            break
        if crit <= tol:
            status = SolverStatus.CONVERGED
            break
        if n_iter >= max_iter:
            break
        if st.reason == "time" or (deadline is not None and time.perf_counter() > deadline):
            status = SolverStatus.TIME_LIMIT
            break
        inner_tol = max(min(inner_tol, 0.1 * crit), 0.1 * tol, 1e-12)
        outside = np.setdiff1d(np.arange(P), ws)
        viol = outside[vals_np[outside] > beta * (1 + 0.5 * tol)]
        if viol.size == 0:
            # Nothing to add: the criterion is the inner accuracy.
            if st.reason != "stop" or inner_tol <= 1e-12:
                if st.reason == "stall":
                    status = SolverStatus.STALLED
                break
            inner_tol = max(inner_tol * 0.01, 1e-12)
            continue
        add = viol[np.argsort(-vals_np[viol])][: max(10, len(ws))]
        ws = np.union1d(ws, add)
    return result(status, n_iter, len(ws))
