"""Cone-constrained ReLU program by accelerated proximal gradient with an exact prox (first
order), on a working set of groups, with an exact duality-gap certificate.

Program (SPEC §2, [PE20]_): over groups ``g`` (``G = 2P``: the ``v`` and ``w`` blocks of the
``P`` patterns), ``K_g = {u : (2 D_g - I) X u >= 0}``,

    min_U  L(sum_p D_p X (v_p - w_p)) + beta sum_g ||u_g||  s.t.  u_g in K_g.

**The prox is exact.** For a closed convex cone ``K`` and the Euclidean norm,

    prox_{t (||.|| + I_K)}(z) = max(0, 1 - t / ||P_K z||) P_K z,

(check: with ``p = P_K z``, ``z - p`` lies in the normal cone of ``K`` at ``p``, which is also
the normal cone at every positive multiple of ``p``; so ``u = (1 - t/||p||) p`` satisfies
``0 in t u/||u|| + u - z + N_K(u)``; if ``||p|| <= t``, ``z = p + (z - p)`` lies in
``t B + K°`` and ``u = 0`` is optimal). So FISTA ([BT09]_) needs the Euclidean projection onto
the polyhedral cone ``K_g`` -- a small problem in ``d`` dimensions with ``n`` rows, solved
exactly: by its dual non-negative least squares ``min_{lam >= 0} ||z + A^T lam||``
(Lawson-Hanson, :func:`scipy.optimize.nnls`) on the violated rows, growing the row set until
the result is feasible; and, on later iterations, by the closed-form projection onto the null
space of the group's previous *active rows* -- precomputed as a ``d x d`` projector and a
multiplier map, applied to all such groups in one batched product, accepted when its multipliers
are non-negative and the point is feasible (the KKT conditions of the projection: then it *is*
the projection). After a few iterations the active rows settle and almost every projection
takes this path.

**The dual-constraint values are exact, too.** With ``mu = -grad L(f)``, the value of a group's
dual constraint (SPEC §3) is ``h_g(mu) = max{mu^T S_g X u : u in K_g, ||u|| <= 1}
= ||P_{K_g}(X^T S_g mu)||`` -- a projection again (``X^T S_g mu = -grad_g``). So the relative
gap ``(F - D) / F`` with ``D = -L*(-s mu)``, ``s = min(1, beta / max_g h_g)`` is an exact
certificate over *all* the given patterns (no upper bounds from an inexact inner solver, as in
:mod:`._cone_dual`); it is the stopping rule.

**Cheap in the zero groups.** ``P_K`` is positively homogeneous and ``||P_K a|| - ||P_K b|| <=
||a - b||``, so a group that is zero at the extrapolated point stays zero when
``h_g^{ref} + ||grad_g - grad_g^{ref}|| <= beta`` (``h^{ref}`` the value at the last gradient
where it was computed): most groups are skipped without a projection, exactly. A zero group's
projection does not depend on the step ``1/L``, so backtracking reuses it.

**Working set** (as in :mod:`.working_set`): the iterates are restricted to a set of groups
grown from the largest dual-constraint violations (celer/skglm-style: the set grows when the
restricted problem is solved to a tenth of the global gap); the optimum is neuron-sparse.

Other numerical choices follow :mod:`._fista_core`: prediction-space FISTA (one forward and one
adjoint product with the masks per iteration), step ``1/L`` tried 10 % larger each iteration
and halved on failure of the sufficient-decrease test, gradient-based adaptive restart
([OC15]_). The iterates are feasible up to ``1e-12`` relative in each row (the projections'
acceptance threshold), so the returned ``U`` is a network whose objective is the reported ``F``.

Measured (2 cores, 250 sampled gates, bias column, ``beta = 1e-2``, squared loss, tol 1e-6):
see ``benchmarks/first_order.py`` and ``benchmarks/results/first_order.md``.

NumPy only (the projections are Lawson-Hanson calls); the gated model's FISTA
(:mod:`.fista`) is the one that also runs on PyTorch tensors.

References
----------
.. [PE20] Pilanci & Ergen, Neural Networks are Convex Regularizers, ICML 2020.
.. [BT09] Beck & Teboulle, A fast iterative shrinkage-thresholding algorithm, SIAM J. Imaging
   Sci. 2009.
.. [OC15] O'Donoghue & Candès, Adaptive restart for accelerated gradient schemes, Found.
   Comput. Math. 2015.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.optimize import nnls

from .._backend import to_numpy
from ..losses import Loss
from ..operators import MaskedOperator
from ._fista_core import prox_group_l1
from ._result import SolverResult, SolverStatus

__all__ = ["solve_relu_fista", "ConeProjector"]

#: Relative row tolerance of an accepted projection: ``c_k x_k . u >= -FEAS_TOL * max|A z|``.
FEAS_TOL = 1e-12


class ConeProjector:
    """Exact Euclidean projections onto the cones ``K_g = {u : C_g * (X u) >= 0}``.

    Parameters
    ----------
    X : array (n, d)
    C : array (n, P) of ±1
        Cone signs ``2 D_p - 1``; group ``g`` uses column ``g % P``.
    n_groups : int
        Number of groups ``G`` (``2 P`` for the ReLU program).

    Notes
    -----
    Each group remembers the active rows of its last projection, as a ``d x d`` projector onto
    their null space and a ``d x d`` (zero-padded) map to their multipliers; :meth:`project`
    tries that closed form for all groups in one batched product and falls back to
    Lawson-Hanson NNLS per group. Counters ``n_fast`` and ``n_nnls`` record which path ran.
    """

    def __init__(self, X: np.ndarray, C: np.ndarray, n_groups: int) -> None:
        self.X = X
        self.C = C
        self.P = C.shape[1]
        n, d = X.shape
        self.d = d
        self.proj = np.zeros((n_groups, d, d))
        self.lmap = np.zeros((n_groups, d, d))
        self.has_fast = np.zeros(n_groups, dtype=bool)
        self.rows: list[np.ndarray] = [np.zeros(0, dtype=np.intp)] * n_groups
        self.n_fast = 0
        self.n_nnls = 0

    def _remember(self, g: int, A_act: np.ndarray) -> None:
        """Store the closed form for the active rows ``A_act`` (s, d) of group ``g``."""
        s, d = A_act.shape
        if s == 0:
            self.proj[g] = np.eye(d)
            self.lmap[g] = 0.0
            self.has_fast[g] = True
            return
        if s >= d:
            self.has_fast[g] = False
            return
        try:
            lm = -np.linalg.solve(A_act @ A_act.T, A_act)  # lambda = lm z
        except np.linalg.LinAlgError:
            self.has_fast[g] = False
            return
        proj = np.eye(d) + A_act.T @ lm  # u = z + A^T lambda
        # Accept the closed form only if it really annihilates the active rows (an
        # ill-conditioned Gram matrix would break complementary slackness silently).
        if not np.all(np.isfinite(proj)) or (np.max(np.abs(A_act @ proj))
                                             > 1e-9 * max(float(np.max(np.abs(A_act))), 1e-300)):
            self.has_fast[g] = False
            return
        self.lmap[g] = 0.0
        self.lmap[g, :s] = lm
        self.proj[g] = proj
        self.has_fast[g] = True

    def _nnls(self, g: int, z: np.ndarray, a: np.ndarray, tol: float) -> np.ndarray:
        """Projection by NNLS on a growing subset of rows (exact: a point that is feasible
        for all rows and optimal for the subset satisfies the full KKT conditions, the other
        rows with zero multipliers). Rows enter in batches of the ``d`` most violated: the
        answer has at most ``d - 1`` active rows in general position, and Lawson-Hanson's cost
        grows with the number of candidate rows (at d = 25, n = 750 all violated rows made it
        the dominant cost)."""
        self.n_nnls += 1
        A = self.C[:, g % self.P, None] * self.X
        batch = self.d
        rows = np.zeros(A.shape[0], dtype=bool)
        rows[self.rows[g]] = True  # the last active rows: usually the answer's
        viol = np.flatnonzero(a < -tol)
        rows[viol[np.argsort(a[viol])[:batch]]] = True
        while True:
            S = np.flatnonzero(rows)
            AS = A[S]
            lam, _ = nnls(AS.T, -z)
            u = z + lam @ AS
            r = A @ u
            new = np.flatnonzero((r < -tol) & ~rows)
            if new.size == 0:
                self.rows[g] = S[lam > 0]
                self._remember(g, AS[lam > 0])
                return u
            rows[new[np.argsort(r[new])[:batch]]] = True

    def project(self, Z: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Projections of the rows ``Z[j]`` onto ``K_{groups[j]}``: shape (len(groups), d)."""
        k = len(groups)
        out = np.array(Z, dtype=np.float64, copy=True)
        if k == 0:
            return out
        cols = groups % self.P
        A_all = (self.X @ Z.T) * self.C[:, cols]
        scale = np.maximum(np.max(np.abs(A_all), axis=0), 1e-300)
        tol = FEAS_TOL * scale
        todo = np.flatnonzero(np.min(A_all, axis=0) < -tol)
        if todo.size == 0:
            return out
        fast = todo[self.has_fast[groups[todo]]]
        done = np.zeros(k, dtype=bool)
        if fast.size:
            gf = groups[fast]
            zf = Z[fast]
            lam = np.einsum("gij,gj->gi", self.lmap[gf], zf)
            u = np.einsum("gij,gj->gi", self.proj[gf], zf)
            Au = (self.X @ u.T) * self.C[:, cols[fast]]
            lam_ok = np.min(lam, axis=1) >= -1e-14 * np.maximum(np.max(np.abs(lam), axis=1),
                                                                1e-300)
            ok = lam_ok & (np.min(Au, axis=0) >= -tol[fast])
            out[fast[ok]] = u[ok]
            done[fast[ok]] = True
            self.n_fast += int(ok.sum())
        for j in todo[~done[todo]]:
            out[j] = self._nnls(int(groups[j]), Z[j], A_all[:, j], float(tol[j]))
        return out


class _State:
    """Problem data, products and the cached dual-constraint values of the zero groups."""

    def __init__(self, X: np.ndarray, y: np.ndarray, masks: np.ndarray, loss: Loss,
                 beta: float) -> None:
        self.X, self.y, self.loss, self.beta = X, y, loss, beta
        self.n, self.d = X.shape
        self.P = masks.shape[1]
        self.G = 2 * self.P
        self.op = MaskedOperator(X, masks)
        C = 2.0 * masks.astype(np.float64) - 1.0
        self.proj = ConeProjector(X, C, self.G)
        # h_ref[g] = ||P_K(-grad_g)|| at grad_ref[g]: safe bounds for skipping zero groups.
        self.h_ref = np.full(self.G, np.inf)
        self.grad_ref = np.zeros((self.G, self.d))

    def forward(self, U: np.ndarray) -> np.ndarray:
        return np.asarray(self.op.forward(U[: self.P] - U[self.P:]))

    def gradient(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = self.loss.gradient(f, self.y)
        gv = np.asarray(self.op.adjoint(r))
        return np.concatenate([gv, -gv]), r

    def smooth(self, f: np.ndarray) -> float:
        return float(self.loss.value(f, self.y))

    def objective(self, U: np.ndarray, f: np.ndarray) -> float:
        return self.smooth(f) + self.beta * float(np.sum(np.linalg.norm(U, axis=1)))

    def dual_values(self, grad: np.ndarray, groups: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Upper bounds on ``h_g = ||P_K(-grad_g)||`` for ``groups``, exact where a bound
        exceeded ``beta`` (those projections are returned with their group ids)."""
        drift = np.linalg.norm(grad[groups] - self.grad_ref[groups], axis=1)
        need = groups[self.h_ref[groups] + drift > self.beta]
        pr = self.proj.project(-grad[need], need)
        self.h_ref[need] = np.linalg.norm(pr, axis=1)
        self.grad_ref[need] = grad[need]
        drift = np.linalg.norm(grad[groups] - self.grad_ref[groups], axis=1)
        return self.h_ref[groups] + drift, need, pr


def _prox(st: _State, Uy: np.ndarray, grad: np.ndarray, L: float, ws: np.ndarray,
          cache: Any) -> tuple[np.ndarray, Any]:
    """``prox_{(beta/L)(||.|| + I_K)}(Uy - grad/L)`` restricted to the working set ``ws``."""
    beta = st.beta
    out = np.zeros_like(Uy)
    nz = np.linalg.norm(Uy, axis=1) > 0
    if cache is None:
        # Zero groups: z = -grad/L, and P_K(z) = P_K(-grad)/L -- independent of L.
        _, need, pr = st.dual_values(grad, np.flatnonzero(ws & ~nz))
        cache = (need, pr)
    # The prox is block soft-thresholding of the projection (module docstring).
    need, pr = cache
    out[need] = prox_group_l1(pr, beta) / L
    idx = np.flatnonzero(nz)
    if idx.size:
        out[idx] = prox_group_l1(st.proj.project(Uy[idx] - grad[idx] / L, idx), beta / L)
    return out, cache


def _certificate(st: _State, U: np.ndarray, f: np.ndarray, ws: np.ndarray
                 ) -> tuple[float, float, float, np.ndarray, np.ndarray, float]:
    """Objective, global lower bound, relative gap, bounds ``h`` (all groups), the dual point
    and the working-set-restricted gap (the inner problem's accuracy)."""
    grad, r = st.gradient(f)
    h, _, _ = st.dual_values(grad, np.arange(st.G))
    mu = -r
    primal = st.objective(U, f)
    hmax = float(np.max(h)) if h.size else 0.0
    s = min(1.0, st.beta / hmax) if hmax > 0 else 1.0
    lower = float(st.loss.dual_value(s * mu, st.y))
    hw = float(np.max(h[ws])) if ws.any() else 0.0
    sw = min(1.0, st.beta / hw) if hw > 0 else 1.0
    lower_ws = float(st.loss.dual_value(sw * mu, st.y))
    denom = max(abs(primal), 1e-300)
    return primal, lower, (primal - lower) / denom, h, s * mu, (primal - lower_ws) / denom


def solve_relu_fista(
    X: Any,
    y: Any,
    masks: Any,
    loss: Loss,
    beta: float,
    *,
    U0: Any = None,
    tol: float = 1e-6,
    max_iter: int = 100_000,
    time_limit: float | None = None,
    callback: Any = None,
    initial_size: int | None = None,
    check_every: int = 50,
) -> SolverResult:
    """Solve the cone-constrained ReLU program over ``masks`` by FISTA with an exact prox.

    Parameters
    ----------
    X : array (n, d); y : array (n,); masks : bool array (n, P)
    loss : Loss
    beta : float
    U0 : array (2P, d), optional
        Warm start ``[V; W]``; each group is projected onto its cone first.
    tol : float
        Relative duality gap ``(F - D) / F`` over all the patterns (exact, see the module
        docstring) at which to stop.
    max_iter : int
        FISTA iterations in all.
    time_limit : float, optional
        Seconds; the best certified iterate so far is returned with ``TIME_LIMIT``.
    callback : callable, optional
        Called with each history record.
    initial_size : int, optional
        Groups in the first working set (default ``max(32, 2 d)``), the largest dual-constraint
        values at the start.
    check_every : int
        Iterations between certificates (each costs one adjoint product and the projections
        of the groups whose cached bound exceeds ``beta``).

    Returns
    -------
    SolverResult
        ``V``, ``W`` of shape (P, d); ``info`` holds ``working_set_size``, ``n_nnls`` and
        ``n_fast`` (projections by each path) and ``time``.
    """
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + float(time_limit)
    Xa = np.ascontiguousarray(to_numpy(X), dtype=np.float64)
    ya = np.asarray(to_numpy(y), dtype=np.float64)
    loss.check_targets(ya)
    M = np.asarray(to_numpy(masks)).astype(bool)
    st = _State(Xa, ya, M, loss, float(beta))
    G, P = st.G, st.P
    if U0 is None:
        U = np.zeros((G, st.d))
    else:
        U0a = np.asarray(to_numpy(U0), dtype=np.float64)
        if U0a.shape != (G, st.d):
            raise ValueError(f"U0 must have shape {(G, st.d)} ([V; W]); got {U0a.shape}")
        nzg = np.flatnonzero(np.linalg.norm(U0a, axis=1) > 0)
        U = np.zeros((G, st.d))
        U[nzg] = st.proj.project(U0a[nzg], nzg)
    f = st.forward(U)
    ws = np.linalg.norm(U, axis=1) > 0
    primal, lower, gap, h, mu, _ = _certificate(st, U, f, ws)
    k0 = min(G, initial_size or max(32, 2 * st.d))
    order = np.argsort(-h)
    ws[order[:k0][h[order[:k0]] > beta]] = True
    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"gap": gap, "primal": primal, "lower": lower, "U": U.copy(),
                            "mu": mu}

    def record(it: int) -> None:
        rec = {"time": time.perf_counter() - t0, "iter": it, "objective": best["primal"],
               "lower_bound": best["lower"], "criterion": best["gap"],
               "working_set": int(ws.sum()),
               "n_active": int(np.sum(np.linalg.norm(best["U"], axis=1) > 0))}
        history.append(rec)
        if callback is not None:
            callback(rec)

    record(0)
    status = SolverStatus.MAX_ITER
    if gap <= tol:
        status = SolverStatus.CONVERGED
    # Curvature: start at a tenth of the operator bound (backtracking corrects it).
    L = 0.1 * loss.lipschitz(st.n) * st.op.norm_sq_upper()
    Uy, fy, t = U, f, 1.0
    it = 0
    while status is not SolverStatus.CONVERGED and it < max_iter:
        it += 1
        grad, _ = st.gradient(fy)
        val_y = st.smooth(fy)
        L = max(0.9 * L, 1e-300)
        cache = None
        while True:
            Un, cache = _prox(st, Uy, grad, L, ws, cache)
            fn = st.forward(Un)
            diff = Un - Uy
            quad = float(np.sum(grad * diff)) + 0.5 * L * float(np.sum(diff * diff))
            val_n = st.smooth(fn)
            if val_n <= val_y + quad + 1e-12 * abs(val_y):
                break
            if not np.isfinite(val_n) or L > 1e300:
                status = SolverStatus.NUMERICAL_ERROR
                break
            L *= 2.0
        if status is SolverStatus.NUMERICAL_ERROR:
            break
        if float(np.sum((Uy - Un) * (Un - U))) > 0:  # gradient-based adaptive restart
            t = 1.0
        t_new = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
        theta = (t - 1.0) / t_new
        Uy = Un + theta * (Un - U)
        fy = fn + theta * (fn - f)
        U, f, t = Un, fn, t_new
        timed_out = deadline is not None and time.perf_counter() > deadline
        if it % check_every and not timed_out and it < max_iter:
            continue
        primal, lower, gap, h, mu, gap_ws = _certificate(st, U, f, ws)
        if not np.isfinite(primal):
            status = SolverStatus.NUMERICAL_ERROR
            break
        if gap < best["gap"]:
            best = {"gap": gap, "primal": primal, "lower": lower, "U": U.copy(), "mu": mu}
        record(it)
        if gap <= tol:
            status = SolverStatus.CONVERGED
            break
        if timed_out:
            status = SolverStatus.TIME_LIMIT
            break
        # Grow the working set once the restricted problem is solved to a tenth of the
        # global gap (its own gap ignores the groups outside).
        out = np.flatnonzero(~ws & (h > beta))
        if out.size and gap_ws <= 0.1 * gap:
            add = out[np.argsort(-h[out])][: max(10, int(ws.sum()) // 2)]
            ws[add] = True
            t = 1.0  # restart the momentum on the larger problem
            Uy, fy = U, f
    U = best["U"]
    return SolverResult(
        V=U[:P], W=U[P:], objective=best["primal"], lower_bound=best["lower"],
        criterion=best["gap"], n_iter=it, status=status, history=history, dual=best["mu"],
        info={"time": time.perf_counter() - t0, "working_set_size": int(ws.sum()),
              "n_nnls": st.proj.n_nnls, "n_fast": st.proj.n_fast},
    )
