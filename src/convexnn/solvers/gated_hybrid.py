"""Gated model on small and medium data: interior point, then a sparse first-order polish.

The structured interior-point method (:mod:`.interior_point`) reaches a ``1e-6`` gap in about
twenty Newton steps, but it returns a point near the analytic centre of the optimal face: the
groups that are zero at the optimum are small, not zero. The polish

1. computes the dual point ``mu = -grad L(f)`` at the interior-point solution and the exact
   dual-constraint values ``h_g = ||X^T D_g mu||`` (gated model: no cone);
2. zeroes the groups with ``h_g < beta (1 - 1e-3)`` -- at the optimum a non-zero group has
   ``h_g = beta`` exactly, and for the squared or logistic loss the optimal predictions, hence
   ``mu``, are unique;
3. polishes on that support by an active-set Newton method (:func:`_support_newton`): damped
   Newton on the smooth restriction of the objective to the non-zero groups, groups leaving
   by a block-coordinate test and violators of the dual constraint entering; it converges
   quadratically once the support is right (usually 1-6 steps) and is accepted only when the
   global duality gap over *all* patterns is below ``tol``;
4. otherwise (support too large for its Newton systems, no certificate) runs the
   working-set FISTA (:mod:`.fista`) from the screened point to the requested gap. FISTA's
   prox produces exact zeros, and its working set re-admits any group step 2 removed wrongly,
   so either way the result is certified by the same global duality gap as a cold FISTA solve.

Measured (2 cores, P = 250 sampled gates, bias column, ``beta = 1e-2``, squared loss, tol 1e-6,
one process, total fit time): with the FISTA polish, hepatitis 0.54 s vs 1.46 s for FISTA
alone, statlog-heart 0.60 vs 1.58, vertebral 0.34 vs 0.83, yacht 0.26 vs 1.00, pima 1.13 vs
4.11, fertility 0.16 vs 1.31 -- the same ``F`` and the same neurons as FISTA (the
interior-point point alone had 2-54 more). With the Newton polish (this session): vertebral
0.19 s (1 Newton step; the FISTA polish took 1,100 iterations there), hepatitis 0.34, breast
cancer 0.19, fertility 0.14 (6 steps: one spurious group dropped, gap 8e-9), haberman 0.11,
yacht 0.29, energy 0.82 (0.69 of it the interior point); objectives equal FISTA's to 1e-13
relative or lower. When ``|S| d > n`` the Newton systems go through ``n x n`` matrices
(:func:`_newton_solve_lowrank`): sonar (n 156, d 61) 1.30 s vs 1.46-1.71 s with the FISTA
fallback, breast-cancer-wisc-diag (427, 31) 1.10 vs 2.68, statlog-german-credit (750, 25) 2.13
vs 2.39.

With the structured Newton systems of the interior point (``O(n^2 P + n^3)`` a step,
:class:`.interior_point._GatedKKT`) and of the polish (the same Hadamard form,
:func:`_newton_solve_lowrank`), all phases under one BLAS thread (measured on a quiet
machine, same settings, solver call alone): fertility 16 ms, statlog-heart 30 ms,
vertebral 33 ms, ionosphere 0.09 s, breast-cancer-wisc-diag 0.19 s (was 1.10), pima 0.17 s,
wine-quality-red (n = 1,439) 0.73 s -- the same iterations and ``F``. Then (2026-12-03,
whole fit, A/B in one process against 394595e): the interior point's fused step kernels, its
ridge starting point and a polish that forms neither the support's operator nor ``Z`` (see
:func:`_newton_solve_lowrank`) gave a median 1.27x over 16 UCI sets (1.05-1.45x; fertility
16.1 -> 13.0 ms, planning 28.4 -> 19.6, breast-cancer 47.5 -> 34.6, bostonHousing 153 -> 115),
``F`` within 6e-11 and the same neurons. Then (2026-12-03, later): the predictor direction
without ``dZ`` or refinement, one triangular solve in the polish's Newton system, and the
polish's certificate from predictions it already has gave a median 1.09x over 10 sets; merging
identical rows (squared loss, :func:`_solve_merged`) gave congressional-voting 3.97x (64
distinct rows of 326), spect 1.11x, breast-cancer 1.08x. The 31-set benchmark
(``benchmarks/results/uci31_gated.md``) has the side-by-side ratios.

The estimators use this hybrid below :data:`MAX_N` samples and :data:`MAX_WORK` for
``n^2 P`` (the flops of one step's ``n x n`` matrix). Measured crossover with the
working-set FISTA (P = 250, squared loss): wine-quality-red (n 1,439, d 12) 0.89 vs 0.81 s,
kin8nm (n 7,373, d 9) 9.9 vs 1.4 s; planted data with larger d favours the hybrid: n 1,000,
d 100: 1.27 vs 3.41 s; n 2,000, d 50: 2.92 vs 3.48; n 1,500, d 200: 6.9 vs 11.2.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg as sla

from .._backend import blas_threads, to_numpy
from ..losses import Loss
from ..operators import MaskedOperator
from ._cone_kernels import _rowdot
from ._result import SolverResult, SolverStatus, chain_results
from .fista import _certify, solve_gated_fista
from .interior_point import solve_ipm
from .working_set import solve_working_set

__all__ = ["solve_gated_hybrid", "use_hybrid", "MAX_N", "MAX_WORK"]

#: Largest ``n`` for which the estimators use the hybrid (an ``n x n`` factorization per step).
MAX_N = 2000
#: Largest ``n^2 P`` (the flops of one interior-point step's ``n x n`` matrix) for which
#: they use it: ``n = 2000`` up to ``P = 625`` patterns.
MAX_WORK = 2.5e9
#: The Newton polish certifies a point with the interior point's lower bound only when the
#: point's own gap is within this multiple of ``tol`` (see :func:`_support_newton`).
OWN_GAP_FOR_BOUND = 10.0
#: A group outside the polish's support enters as soon as its dual value exceeds
#: ``beta (1 + EARLY_ENTRY)`` (see :func:`_support_newton`).
EARLY_ENTRY = 1e-3
#: A group outside the support violates its dual constraint when its dual value exceeds
#: ``beta (1 + VIOLATION)``: the entry test and the stall test that hands over to it use the
#: same margin, so a stall declared for a violator always finds one to let in.
VIOLATION = 1e-9
#: Largest number of unknowns (support size x d) for the Newton polish (a dense Cholesky).
MAX_NEWTON_VARS = 2500
#: Largest ``n x (support size x d)`` for its low-rank (Woodbury) form, used when that is > n.
MAX_NEWTON_NM = 3e7


def use_hybrid(n: int, d: int, P: int) -> bool:
    """Whether :func:`solve_gated_hybrid` is the estimators' choice for this size."""
    return n <= MAX_N and float(n) * n * P <= MAX_WORK


def _newton_solve_lowrank(X: np.ndarray, XXt: np.ndarray, Ms: np.ndarray, c: np.ndarray,
                          E: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``H^{-1} g`` for ``H = Aw^T Aw + blockdiag_k(c_k (I - e_k e_k^T))`` through n x n systems.

    ``Aw = [diag(Ms_k) X]_k`` (n, |S| d) is the support's masked operator with the loss-Hessian
    weights folded into the masks (``Ms = diag(sqrt(l'')) M_S``), ``XXt = X X^T``.
    ``H = K - E diag(c) E^T`` with ``K = C + Aw^T Aw``, ``C = blockdiag(c_k I)`` (positive
    definite; inverted by Woodbury through ``N = I_n + Aw C^{-1} Aw^T``) and ``E`` the
    ``m x |S|`` matrix of the unit directions ``e_k`` in their blocks. A second Woodbury step
    (rank ``|S|``) gives ``H^{-1} = K^{-1} + Z (diag(1/c) - E^T Z)^{-1} Z^T``, ``Z = K^{-1} E``.

    The mask structure makes ``N`` cheap: ``Aw C^{-1} Aw^T = XXt o (Ms diag(1/c) Ms^T)``
    (``o`` the Hadamard product), ``O(n^2 |S|)`` instead of the ``O(n^2 |S| d)`` of the plain
    product, and ``Aw C^{-1} E = Ms o (X E^T) / c``. Neither ``Aw`` (n x m) nor ``Z`` (m x |S|)
    is formed: ``Aw v = sum_k Ms_k o (X v_k)`` and ``Aw^T r = (X^T (Ms_k o r))_k`` are
    products with ``X`` and ``Ms``, and ``Z`` enters only through the three products in the
    comment in the body. Total ``O(n^2 |S| + n |S|^2 + n |S| d)``; checked against the dense
    solve in tests/test_gated_hybrid.py.
    """
    n, d = X.shape
    k = E.shape[0]
    # N = I + XXt o (Ms diag(1/c) Ms^T): the upper triangle by a symmetric rank-k update (half
    # a GEMM's flops; Fortran order, so XXt is multiplied through its transposed view), then
    # its upper Cholesky factor N = R^T R in place.
    Mc = Ms / np.sqrt(c)[None, :]
    syrk = sla.get_blas_funcs("syrk", (Mc,))
    N = syrk(1.0, Mc.T, trans=1, lower=0)
    N *= XXt.T
    N[np.diag_indices(n)] += 1.0
    potrf, potrs, trtrs = sla.get_lapack_funcs(("potrf", "potrs", "trtrs"), (N,))
    R, info = potrf(N, lower=0, overwrite_a=1, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"Newton system not positive definite (potrf info={info})")
    cinv = np.repeat(1.0 / c, d)
    # Z is never formed (at planning, n 137, |S| 75, d 14, the product Aw^T T alone took
    # 1.1 ms of a 2.2 ms solve). With B = Aw C^{-1} E = Ms o (X E^T) / c, T = N^{-1} B and
    # Wt = R^{-T} B (so T = R^{-1} Wt), Z = E diag(1/c) - C^{-1} Aw^T T and (E^T E = I)
    #   diag(1/c) - E^T Z = B^T T = Wt^T Wt             (k x k, O(n k^2); no cancellation),
    #   Z^T g = (E . g)_k / c - Wt^T R^{-T} (Aw C^{-1} g),
    #   Z corr = E diag(corr / c) - C^{-1} Aw^T (T corr).
    # One triangular solve with the k columns of B, not the two of N^{-1} B (a third of the
    # polish's time at breast-cancer, n 215, k 80).
    B = Ms * (X @ E.T) / c[None, :]
    Wt, _ = trtrs(R, B, lower=0, trans=1)
    Y = cinv * g
    AwY = _rowdot(Ms, X @ Y.reshape(k, d).T)
    y1, _ = trtrs(R, AwY, lower=0, trans=1)
    Eg = _rowdot(E, g.reshape(k, d)) / c
    cap = syrk(1.0, Wt, trans=1, lower=0)  # upper triangle of Wt^T Wt
    cf, info = potrf(cap, lower=0, overwrite_a=1, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"capacitance matrix not positive definite (info={info})")
    corr, _ = potrs(cf, Eg - Wt.T @ y1, lower=0)
    r, _ = potrs(R, AwY + B @ corr, lower=0)
    out = Y - cinv * (Ms.T @ (r[:, None] * X)).reshape(-1)
    out += (E * (corr / c)[:, None]).reshape(-1)
    return np.asarray(out)


def _support_newton(Xa: np.ndarray, ya: np.ndarray, M: np.ndarray, op: MaskedOperator,
                    loss: Loss, beta: float, U: np.ndarray, *, tol: float, t0: float,
                    n_iter0: int, callback: Any = None, max_iter: int = 60,
                    deadline: float | None = None, bound: tuple[float, Any] | None = None
                    ) -> SolverResult | None:
    """Active-set Newton from the screened point; ``None`` when it cannot certify ``tol``.

    On a support ``S`` of non-zero groups the objective
    ``phi(u) = L(A u) + beta sum_{g in S} ||u_g||``, ``A = [D_g X]_{g in S}``, is smooth, with
    gradient ``A^T grad L + beta u_g / ||u_g||`` and Hessian
    ``A^T diag(L'') A + beta blockdiag((I - e_g e_g^T) / ||u_g||)``, ``e_g = u_g / ||u_g||``.
    Damped Newton (Armijo backtracking) on ``phi`` converges quadratically once ``S`` is the
    optimal support. ``S`` is corrected as in an active-set method:

    * a group leaves ``S`` (is set to zero) when the quadratic model says a block-coordinate
      step would zero it, ``||grad_g - H_gg u_g|| <= beta``, or when its norm falls below
      ``1e-5`` of the largest (Newton alone only shrinks such a group geometrically: its
      optimum is the kink at zero), or when a failed full step reverses it
      (``u_g . (u_g + p_g) < 0``);
    * when Newton stalls on ``S`` (or earlier: once a group outside ``S`` violates by more
      than :data:`EARLY_ENTRY`, or violates at all while the point's own gap is no smaller
      than the decrease its last step predicted), the groups outside ``S`` that violate the dual constraint
      (``h_g = ||(D_g X)^T grad L|| > beta``) enter, at their proximal-gradient step
      ``-(1 - beta / h_g) (D_g X)^T grad L / L_g`` with ``L_g = ||D_g X||^2 L''_max``; an
      entered group is exempt from the small-norm drop until the next Newton step.

    ``bound = (lower, dual)``: a lower bound on the optimum over all patterns known from
    elsewhere (the interior point's, with its dual point). After one Newton step from a
    screened point with the right support ``F`` is at the optimum to ~1e-10 (quadratic
    convergence from ~1e-8), but the point's own dual bound often needs one or two more steps
    to reach ``tol`` -- steps that no longer change ``F``: once the own gap is within
    :data:`OWN_GAP_FOR_BOUND` ``x tol``, the gap is taken against the better of the two
    bounds (both bound the same optimum from below). With a wrong support the own gap stays
    far above that (1e-3 on ilpd-indian-liver and wine-quality-red, where the screening
    removed support groups and ``F`` was 3e-8 above the optimum after one step; 3.6e-8 to
    4.3e-6 where the support was right), so Newton goes on and lets the violators in.

    The result is accepted only when the *global* certificate -- the relative duality gap over
    all patterns, with the dual point scaled to be feasible for every group -- is below
    ``tol``; otherwise (too many unknowns for its Newton systems, no progress) the caller falls
    back to the working-set FISTA, so this step can only save time, never change the answer
    beyond ``tol``.
    """
    n, d = Xa.shape
    XXt: np.ndarray | None = None  # X X^T, formed on first use by the low-rank Newton systems
    XX: np.ndarray | None = None   # the rows' outer products x_i x_i^T (n, d^2), likewise
    Ufull = U.copy()
    history: list[dict[str, float]] = []
    it = 0
    fresh = np.zeros(0, dtype=int)  # groups that entered S at the last pricing

    def certify(f: np.ndarray) -> tuple[SolverResult | None, float, float]:
        # The global certificate over all patterns, as in the FISTA solvers (f: the
        # predictions of Ufull, from its support's products); the result where it holds,
        # the largest dual value outside S and the point's own (absolute) duality gap.
        g = loss.gradient(f, ya)
        G = op.adjoint(g)
        primal, lower, gap, _, mu = _certify(op, ya, loss, beta, Ufull, f, g, G)
        own = primal - lower
        hg = np.linalg.norm(G, axis=1)
        hg[S] = 0.0
        h_out = float(hg.max(initial=0.0))
        if bound is not None and bound[0] > lower and gap <= OWN_GAP_FOR_BOUND * tol:
            lower, mu = bound
            gap = (primal - lower) / max(abs(primal), 1e-300)
        rec = {"time": time.perf_counter() - t0, "iter": n_iter0 + it, "objective": primal,
               "lower_bound": lower, "criterion": gap}
        history.append(rec)
        if callback is not None:
            callback(rec)
        if gap > tol:
            return None, h_out, own
        return SolverResult(V=Ufull, W=None, objective=primal, lower_bound=lower,
                            criterion=gap, n_iter=n_iter0 + it, status=SolverStatus.CONVERGED,
                            history=history, dual=mu,
                            info={"gap": gap, "polish": "newton", "newton_iter": it,
                                  "support": int(np.count_nonzero(np.linalg.norm(Ufull, axis=1)))}
                            ), h_out, own

    for _round in range(50):   # each round changes S (drops or entries); max_iter bounds it too
        S = np.flatnonzero(np.linalg.norm(Ufull, axis=1) > 0)
        m = S.size * d
        lowrank = m > n        # Newton systems through an n x n matrix (Woodbury)
        if S.size == 0 or (m > MAX_NEWTON_VARS if not lowrank else n * m > MAX_NEWTON_NM):
            return None
        # The support's operator A = [D_k X]_k (n, m) is applied through its masks and X;
        # it is formed only on the dense path (m <= n). On the low-rank path forming it (and
        # its weighted copy) cost more than the Newton solve: 1 ms of fresh pages each at
        # n 137, m 1,050.
        Mf = M.take(S, axis=1).astype(np.float64)
        A = None if lowrank else (Mf[:, :, None] * Xa[:, None, :]).reshape(n, m)
        # Constant data-term Hessian of the squared loss, formed once on the dense path.
        AtA = A.T @ A if loss.name == "squared" and A is not None else None
        u = Ufull[S].reshape(-1)

        def fwd(v: np.ndarray, A: np.ndarray | None = A, Mf: np.ndarray = Mf) -> np.ndarray:
            return A @ v if A is not None else _rowdot(Mf, Xa @ v.reshape(-1, d).T)

        def adj(r: np.ndarray, A: np.ndarray | None = A, Mf: np.ndarray = Mf) -> np.ndarray:
            return A.T @ r if A is not None else (Mf.T @ (r[:, None] * Xa)).reshape(-1)

        def phi(v: np.ndarray) -> tuple[float, np.ndarray]:
            """The objective on S at ``v``, and the predictions."""
            fv = fwd(v)
            return loss.value(fv, ya) + beta * float(
                np.linalg.norm(v.reshape(-1, d), axis=1).sum()), fv

        stalled = False
        while it < max_iter and (deadline is None or time.perf_counter() < deadline):
            V = u.reshape(-1, d)
            nrm = np.linalg.norm(V, axis=1)
            f = fwd(u)
            gdata = adj(loss.gradient(f, ya))
            w = loss.hessian_diag(f, ya)
            H = None
            if A is None:
                # the diagonal blocks sum_i w_i M_ik x_i x_i^T: one GEMM with the rows' outer
                # products (n x d^2, no larger than A itself while d <= |S|), else per group
                Mw = Mf * w[:, None]
                if d <= S.size:
                    if XX is None:
                        XX = (Xa[:, :, None] * Xa[:, None, :]).reshape(n, d * d)
                    Hkk = (Mw.T @ XX).reshape(S.size, d, d)
                else:
                    Hkk = np.stack([(Xa * Mw[:, j, None]).T @ Xa for j in range(S.size)])
            else:
                H = AtA / n if AtA is not None else A.T @ (w[:, None] * A)
                Hkk = H.reshape(S.size, d, S.size, d)[np.arange(S.size), :, np.arange(S.size), :]
            # Block-coordinate test on the quadratic model: group k would be zero if minimized
            # alone, ||grad_k - H_kk u_k|| <= beta. (At an optimum every non-zero group fails
            # it: e_k^T of that vector has modulus beta + u_k^T H_kk u_k / ||u_k|| > beta.)
            c = gdata.reshape(-1, d) - np.einsum("kij,kj->ki", Hkk, V)
            # (A group that has just entered starts at its small proximal-gradient step: it
            # is not dropped for being small before a Newton step has sized it -- hepatitis
            # from a looser interior point entered and dropped the same group 28 times.)
            tiny = nrm <= 1e-5 * nrm.max()
            if fresh.size:
                tiny &= ~np.isin(S, fresh)
            drop = (np.linalg.norm(c, axis=1) <= beta) | tiny
            if drop.any():
                Ufull[S[drop]] = 0.0                       # leaves S: rebuild A
                break
            it += 1
            fresh = fresh[:0]
            E = V / nrm[:, None]
            grad = gdata + beta * E.reshape(-1)
            try:
                if A is None:
                    if XXt is None:
                        XXt = Xa @ Xa.T
                    Ms = np.sqrt(w)[:, None] * Mf
                    p = -_newton_solve_lowrank(Xa, XXt, Ms, beta / nrm, E, grad)
                else:
                    assert H is not None
                    blocks = beta * (np.eye(d)[None] - E[:, :, None] * E[:, None, :]) \
                        / nrm[:, None, None]
                    for k in range(S.size):
                        H[k * d:(k + 1) * d, k * d:(k + 1) * d] += blocks[k]
                    # A tiny ridge (the group terms are only PSD).
                    H[np.diag_indices_from(H)] += 1e-14 * max(float(np.trace(H)) / m, 1e-300)
                    p = sla.cho_solve(sla.cho_factor(H, check_finite=False), -grad,
                                      check_finite=False)
            except (np.linalg.LinAlgError, ValueError):
                return None
            if not np.all(np.isfinite(p)):
                return None
            slope = float(grad @ p)
            f0 = loss.value(f, ya) + beta * float(nrm.sum())  # phi(u)
            if not slope < 0:
                stalled = True
                break
            f1, fv = phi(u + p)
            if f1 > f0 + 0.25 * slope:
                # The full step fails. Where it reverses a group (u_k . (u_k + p_k) < 0) that
                # group's optimum is the kink at zero, which Newton's quadratic model of
                # ||u_k|| cannot reach (its curvature along u_k is zero): the step is poor for
                # every group, and backtracking shrinks the reversed one geometrically over
                # many damped steps (fertility: five steps at t = 1/4 .. 1/256 for one group).
                # Such groups leave S at once; should one belong to the support it re-enters
                # as a violator once Newton stalls, and the global certificate decides.
                cross = np.einsum("kj,kj->k", V, V + p.reshape(-1, d)) < 0
                if cross.any() and not cross.all():
                    Ufull[S[cross]] = 0.0
                    break
            t, ft = 1.0, f1
            while ft > f0 + 0.25 * t * slope and t > 1e-10:
                t *= 0.5
                ft, fv = phi(u + t * p)
            u = u + t * p
            Ufull[S] = u.reshape(-1, d)
            done, h_out, own = certify(fv)
            if done is not None:
                return done
            # Newton decrement ~ round-off of phi, or no step: stationary on S. Or a group
            # outside S violates its dual constraint by more than EARLY_ENTRY: it enters now
            # rather than after the two or three steps that Newton takes to converge on the
            # wrong support (breast-cancer, vertebral-column from a 1e-5 interior point: the
            # screening had dropped one support group). Or one violates at all while the
            # point's own gap is no smaller than the decrease this step predicted (-slope):
            # what is left of phi's suboptimality on S after a Newton step is far below that
            # (quadratic convergence), so the gap is the violators' (pima at the estimators'
            # setting: 2 polish steps instead of 4; own gap 3.8e-4 after the first, its one
            # violator below EARLY_ENTRY).
            if -slope <= 1e-15 * abs(f0) or t <= 1e-10 or h_out > beta * (1.0 + EARLY_ENTRY) or (
                    own >= -slope and h_out > beta * (1.0 + VIOLATION)):
                stalled = True
                break
        else:
            return None
        if not stalled:
            continue
        # Stationary on S but not certified: let the dual-constraint violators in.
        f = op.forward(Ufull)
        gL = loss.gradient(f, ya)
        Gall = op.adjoint(gL)
        h = np.linalg.norm(Gall, axis=1)
        h[S] = 0.0
        enter = np.flatnonzero(h > beta * (1.0 + VIOLATION))
        if enter.size == 0:
            return None
        enter = enter[np.argsort(-h[enter])][:10]
        # Lipschitz constant of group g's gradient: ||D_g X||^2 times the bound on L''.
        Lg = np.array([np.linalg.norm(Xa[M[:, g]], 2) ** 2 for g in enter]) * loss.lipschitz(n)
        Ufull[enter] = -((1.0 - beta / h[enter]) / Lg)[:, None] * Gall[enter]
        fresh = enter
    return None


# One BLAS thread for every phase: the factorizations here are of n x n matrices with
# n <= MAX_N, where two OpenBLAS threads on this 2-core machine made the polish's
# Cholesky factorizations ~10x slower (statlog-heart: 0.108 s for 13 of them vs 0.01 s).
@blas_threads(1)
def solve_gated_hybrid(
    X: Any,
    y: Any,
    masks: Any,
    loss: Loss,
    beta: float,
    *,
    gates: Any = None,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    time_limit: float | None = None,
    callback: Any = None,
) -> SolverResult:
    """Solve the gated program by the interior-point method, then polish to a sparse optimum.

    Parameters are those of :func:`.fista.solve_gated_fista`; ``gates`` (d, P) are passed to
    the interior-point method (interior points of the patterns' regions). With the squared
    loss, identical rows of ``(X, masks)`` are first merged into weighted ones, exactly
    (:func:`_solve_merged`; ``info["merged_rows"]``); the result is that of the rows as given.

    Returns
    -------
    SolverResult
        The polished result (``info["polish"] == "newton"`` when the Newton polish certified
        it, else FISTA's); ``n_iter`` counts the phases, ``history`` holds the interior-point
        records then the polish's (times from the start), ``info["ipm_time"]``,
        ``info["ipm_iter"]`` and ``info["n_screened"]`` (groups zeroed before the polish).
    """
    t0 = time.perf_counter()
    Xa = np.asarray(to_numpy(X), dtype=np.float64)
    ya = np.asarray(to_numpy(y), dtype=np.float64)
    M = np.asarray(to_numpy(masks)).astype(bool)
    merged = _merge_duplicate_rows(Xa, ya, M) if loss.name == "squared" else None
    if merged is not None:
        res = _solve_merged(Xa, ya, M, merged, loss, beta, gates=gates, tol=tol,
                            max_iter=max_iter, time_limit=time_limit, callback=callback)
        res.info["time"] = time.perf_counter() - t0  # the merging included
        return res
    return _solve_hybrid(Xa, ya, M, loss, beta, gates=gates, tol=tol, max_iter=max_iter,
                         time_limit=time_limit, callback=callback)


class _Merged(NamedTuple):
    """The distinct rows of ``(X, masks)``: ``first`` (indices), ``inv`` (each row's distinct
    row), ``m`` (multiplicities) and ``ybar`` (the groups' mean targets)."""

    first: np.ndarray
    inv: np.ndarray
    m: np.ndarray
    ybar: np.ndarray


def _merge_duplicate_rows(X: np.ndarray, y: np.ndarray, M: np.ndarray) -> _Merged | None:
    """The groups of identical rows of ``(X, masks)``, or None when every row is distinct."""
    n = X.shape[0]
    if n < 2:
        return None
    Xb = np.ascontiguousarray(X).view(np.uint8).reshape(n, -1)
    # rows of X first (30 us at n 215): only data with repeated rows pays for the masks' key
    if np.unique(Xb.view(np.dtype((np.void, Xb.shape[1])))[:, 0]).size == n:
        return None
    key = np.ascontiguousarray(np.concatenate(
        [Xb, np.packbits(np.ascontiguousarray(M), axis=1)], axis=1))
    void = key.view(np.dtype((np.void, key.shape[1])))[:, 0]
    _, first, inv, m = np.unique(void, return_index=True, return_inverse=True,
                                 return_counts=True)
    if first.size == n:
        return None
    inv = inv.reshape(-1)
    mf = m.astype(np.float64)
    return _Merged(first, inv, mf, np.bincount(inv, weights=y, minlength=first.size) / mf)


def _solve_merged(X: np.ndarray, y: np.ndarray, M: np.ndarray, mg: _Merged, loss: Loss,
                  beta: float, **kw: Any) -> SolverResult:
    """The squared-loss program with its identical rows merged, exactly.

    With ``G_r`` the rows equal to distinct row ``r`` (``m_r`` of them, mean target
    ``ybar_r``; their predictions are equal), ``(1/2n) sum_i (f_i - y_i)^2
    = c1 (1/2n') sum_r (sqrt(m_r) f_r - sqrt(m_r) ybar_r)^2 + c0`` with ``n'`` distinct rows,
    ``c1 = n'/n`` and ``c0 = (1/2n) sum_i (y_i - ybar_{r(i)})^2``. Since
    ``sqrt(m_r) f_r = sum_k D_rk (sqrt(m_r) x_r)^T u_k`` (a positive row scaling keeps every
    mask), ``F(U) = c1 F'(U) + c0`` where ``F'`` is the same program on the rows
    ``sqrt(m_r) x_r``, targets ``sqrt(m_r) ybar_r`` and ``beta' = beta / c1``: the same
    minimizers. A lower bound ``l'`` of ``F'`` gives ``c1 l' + c0`` for ``F``, attained by the
    dual point ``mu_i = c1 mu'_r / sqrt(m_r) + (y_i - ybar_r) / n`` (feasible: the second term
    sums to zero over each group, so ``X^T D_k mu = c1 X'^T D'_k mu'``, and
    ``||.|| <= c1 beta' = beta``; derived here and checked against CVXPY on the unmerged data
    in tests/test_gated_hybrid.py). The relative gap can only shrink:
    ``c1 (F' - l') / (c1 F' + c0) <= (F' - l') / F'``.

    On the benchmark's UCI sets congressional-voting has 64 distinct rows of 326 (its fit
    3.97x faster, same ``F`` to 2e-13), breast-cancer 201 of 215 (1.08x), spect 62 of 79
    (1.11x); 19 of the 31 sets have none (there the check costs 30-110 us, n 169-576).
    """
    n = X.shape[0]
    nr = mg.first.size
    c1 = nr / n
    res_y = y - mg.ybar[mg.inv]
    c0 = 0.5 * float(res_y @ res_y) / n
    sq = np.sqrt(mg.m)
    cb = kw.pop("callback", None)

    def lift(rec: dict[str, float]) -> dict[str, float]:
        out = dict(rec)
        out["objective"] = c1 * rec["objective"] + c0
        out["lower_bound"] = c1 * rec["lower_bound"] + c0
        out["criterion"] = (out["objective"] - out["lower_bound"]) / max(
            abs(out["objective"]), 1e-300)
        return out

    res = _solve_hybrid(X[mg.first] * sq[:, None], mg.ybar * sq, M[mg.first], loss,
                        beta / c1, callback=None if cb is None else (lambda r: cb(lift(r))),
                        **kw)
    V = np.asarray(res.V)
    f = MaskedOperator(X, M).forward(V)  # the predictions on the given rows
    F = loss.value(f, y) + beta * float(np.linalg.norm(V, axis=1).sum())
    lower = c1 * float(res.lower_bound) + c0
    dual = None if res.dual is None else (
        c1 * np.asarray(res.dual)[mg.inv] / sq[mg.inv] + res_y / n)
    gap = (F - lower) / max(abs(F), 1e-300)
    status = res.status
    if status is SolverStatus.CONVERGED and not gap <= kw["tol"]:
        status = SolverStatus.MAX_ITER
    return SolverResult(V=V, W=None, objective=F, lower_bound=lower, criterion=gap,
                        n_iter=res.n_iter, status=status,
                        history=[lift(r) for r in res.history], dual=dual,
                        info={**res.info, "merged_rows": n - nr})


def _solve_hybrid(Xa: np.ndarray, ya: np.ndarray, M: np.ndarray, loss: Loss, beta: float, *,
                  gates: Any, tol: float, max_iter: int, time_limit: float | None,
                  callback: Any) -> SolverResult:
    """:func:`solve_gated_hybrid` on validated arrays, rows as given."""
    t0 = time.perf_counter()
    # max_iter and time_limit bound all phases together.
    ipm = solve_ipm(Xa, ya, M, loss, beta, model="gated", gates=gates, tol=tol,
                    max_iter=min(max_iter, 100), time_limit=time_limit, callback=callback)
    t_ipm = time.perf_counter() - t0
    U = np.array(ipm.V, dtype=np.float64, copy=True)
    op = MaskedOperator(Xa, M)
    mu = -loss.gradient(op.forward(U), ya)
    h = np.linalg.norm(op.adjoint(mu), axis=1)
    screened = (h < beta * (1.0 - 1e-3)) & (np.linalg.norm(U, axis=1) > 0)
    U[screened] = 0.0
    n_left = min(max_iter - ipm.n_iter, 60)
    deadline = None if time_limit is None else t0 + time_limit
    newton = None if n_left <= 0 else _support_newton(
        Xa, ya, M, op, loss, beta, U, tol=tol, t0=t0, n_iter0=ipm.n_iter, callback=callback,
        max_iter=n_left, deadline=deadline,
        bound=None if ipm.dual is None else (float(ipm.lower_bound), ipm.dual))
    if newton is not None:
        hist = list(ipm.history) + newton.history
        newton.history = hist
        newton.info.update({"time": time.perf_counter() - t0, "ipm_time": t_ipm,
                            "ipm_iter": ipm.n_iter, "n_screened": int(screened.sum())})
        return newton
    remaining = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 1e-3)
    res = solve_working_set(Xa, ya, M, loss, beta, model="gated", inner=solve_gated_fista,
                            U0=U, tol=tol, max_iter=max(max_iter - ipm.n_iter, 1),
                            time_limit=remaining,
                            callback=callback)
    return chain_results(ipm, res, t_ipm, {"time": time.perf_counter() - t0, "ipm_time": t_ipm,
                                           "ipm_iter": ipm.n_iter,
                                           "n_screened": int(screened.sum())})
