"""Structured primal-dual interior-point solver for the ReLU (and gated) program.

Formulation
-----------
The ReLU program of SPEC §2 [PE20]_ over groups ``g`` (``G = 2P``: the ``v`` and ``w`` blocks,
``S_g = ±D_g`` the signed masks, ``C_g = 2 D_g - 1`` the cone signs) is the second-order cone
program

    min  L(f) + beta sum_g t_g
    s.t. f = sum_g S_g * (X u_g),   (t_g, u_g) in Q^{d+1},   C_g * (X u_g) >= 0,

with ``L(f) = (1/n) sum_k l(f_k, y_k)`` (squared or logistic loss, kept as a smooth objective:
no exponential cones). The gated model [MSP22]_ drops the cone rows (``C = None``).

Method
------
Mehrotra predictor-corrector primal-dual interior-point method with Nesterov-Todd scaling of
the second-order cones (the conic QP method of CVXOPT, Vandenberghe 2010, with the loss Hessian
in place of the quadratic term; the cone rows are linear inequalities with the usual
``lambda / s`` scaling). Every iterate is strictly primal feasible (``s`` is a function of
``u``), so the returned ``U`` is exactly a network whose objective is the reported ``F``.

Each Newton system is ``(blockdiag_g(B_g) + F^T diag(l'') F) dx = r`` in ``x = (t_g, u_g)_g``
with one ``(d+1) x (d+1)`` block per group -- the NT scaling ``W_g^{-2}`` plus
``X^T diag(lambda_g / s_g) X`` from the group's ``n`` cone rows -- and the rank-``n`` data term
(``F_g = [0, S_g X]``). It is solved by Woodbury through an ``n x n`` Cholesky factorization
or, when ``G (d+1) < n``, a dense one; the factorization serves both the predictor and the
corrector. Forming the ``n x n`` matrix is the dominant cost, and both models have structure
that cuts it:

* gated model (no cone rows, :class:`_GatedKKT`): ``B_g^{-1}`` is the square of the NT
  scaling, whose ``u``-block is identity plus rank one, so the matrix is
  ``(X X^T) o (S diag(alpha) S^T) + R R^T`` -- ``O(n^2 G)`` instead of ``O(n^2 G d)``;
* ReLU model (:class:`_KKT` with ``paired=True``): the ``v`` and ``w`` blocks of a pattern have
  the same mask up to sign, so their terms share ``D_i X`` and are summed before the rank
  update -- ``O(n^2 P d)`` instead of ``O(n^2 2P (d+1))``.

This is the structure Clarabel cannot see (it factors a sparse KKT matrix with ``G n`` cone
rows).

Starting point: the groups start at a common multiple of centered interior points of their
cones (analytic centers of the cone capped by a ball, batched Newton), sized at a quarter of the
one-dimensional optimal step of the most violated group at ``f = 0`` (this scale was measured to
matter: ``1/(G ||X||)`` needed 50-65 iterations on statlog-heart, this rule ~25); the duals are
centered (``s o z = mu e``, the linear rows sharing the cone part's total). A cold gated solve
starts instead at the ridge solution (:func:`_ridge_start`: 15 % fewer steps on ten UCI sets).

Certificate: at every iterate, ``mu = -grad L(f)`` and the cone multipliers give
``||X^T (S_g mu + C_g lambda_g)|| = ||z_g,1 + r_g||`` (``r`` the dual residual) -- an upper bound on
the dual-constraint value ``h_g`` of every group in the solve; patterns whose cone has an empty
interior are left out of the solve (their groups stay zero, ``info['n_excluded']``) and priced
exactly by NNLS (:func:`._cone_dual.cone_dual_norms_exact`). With ``s = min(1, beta / max_g h_g)``
the relative gap ``(F - D) / |F|``, ``D = -L*(-s mu)``, certifies the result over *all* the given
patterns (SPEC §3), as for the other solvers; it is the stopping rule.

Measured (2 cores under load ~6, one process per row, BLAS limited to one thread -- the
default here: on this machine multithreaded OpenBLAS made a ``203 x 203`` Cholesky 500 times
slower), ``beta = 1e-2``, bias column, ``tol = 1e-6``; CVXPY + Clarabel at ``tol = 1e-8``:

=============================  ========  ==================  =====================
problem                        loss      this solver         CVXPY + Clarabel
=============================  ========  ==================  =====================
statlog-heart, 250 sampled     squared   1.2 s (23 it)       9.5 s
statlog-heart, 250 sampled     logistic  1.0 s (23 it)       15.7 s (AlmostSolved)
statlog-heart, 200 from a net  squared   0.95 s (23 it)      7.0 s
statlog-heart, 200 from a net  logistic  0.91 s (21 it)      12.5 s (AlmostSolved)
credit-approval, 250 sampled   squared   4.8 s (29 it)       161 s
credit-approval, 250 sampled   logistic  4.0 s (22 it)       failed after 93 s
=============================  ========  ==================  =====================

Objectives agree with CVXPY to ``3e-7`` where it solved; where it stopped "AlmostSolved" its
value is ``1e-6`` above ours, and the active-set solver agrees with ours to ``2e-8``.

With the structured factorizations (same machine, quiet, P = 250 sampled gates, bias column,
squared / logistic loss on +-1 labels, best of two runs in one process; before -> after, same
iterations and ``F`` to 1e-9): gated statlog-heart 0.080 -> 0.035 s / 0.090 -> 0.038 s,
credit-approval 0.30 -> 0.091 / 0.37 -> 0.094, ionosphere (d = 35) 0.30 -> 0.038 /
0.44 -> 0.060; ReLU statlog-heart 0.52 -> 0.34 / 0.55 -> 0.42, credit-approval 2.52 -> 1.40 /
1.91 -> 1.11, ionosphere 1.72 -> 1.37 / 1.58 -> 1.08.

Kernels
-------
The small per-cone operations of a step (NT scaling, Jordan products, step lengths, the ReLU
Newton blocks' Jacobi-scaled Cholesky inverses, the cone rows' fused updates) live in
:mod:`._cone_kernels`, compiled by numba where it is installed (NumPy versions otherwise). On
the small UCI sets their NumPy call overhead was a third of a gated solve; compiled, the gated
hybrid ran 1.2-1.6x faster (nine sets, A/B in one process, median 1.37x) and the ReLU hybrid
1.15x twice over (the cone kernels with the fused row updates, then the per-block
factorizations; eight sets each), with the same iterations and ``F``. The structured gated
step goes further: each of its parts -- residuals, scaling and the Woodbury factors, the two
halves of a solve around the ``n x n`` Cholesky solve, right-hand side, dual direction and step
length, corrector, update -- is one fused kernel (``gated_*``), about twenty calls a step where
the NumPy compositions made over a hundred; A/B in one process, 12 UCI sets: median 1.15x
(0.97-1.22x), the same iterations and ``F``. What is left of a small gated step (n 137,
P 250: ~1.4 ms) is mostly its BLAS calls: two rank-``P`` updates of the ``n x n`` matrix, its
factorization and the ``n x P x d`` products of the solves (~40 us each at this size).

Working set (``screen=True``)
-----------------------------
Every step costs time linear in the number of groups in the solve, and most groups are zero at
the optimum (statlog-heart, P = 250: 64 of 500). An interior point cannot say which until late
-- all groups start at the same size and shrink together -- but their order by norm settles
early: at iteration 10 the optimal support lay within the largest 42-125 patterns of 250 on
six UCI sets (at iteration 6 within 93-204). With screening, at each iteration of
``SCREEN_AT`` (8 and 12) the patterns outside the
``SCREEN_KEEP`` fraction (0.65) with the largest norms (both groups of a pattern together:
the paired factorization needs them) leave the solve. (Screening at 6 and 10 keeping half was
faster where it kept the support -- 1.3-1.9x for the whole ReLU hybrid -- but on
cylinder-bands, congressional-voting, breast-cancer and statlog-german-credit it dropped
support patterns and the polish's FISTA fallback then cost up to 2.6x the time; the rule kept
loses none on the 29 UCI sets with n <= 800.) While groups are out, each record's certificate
bounds their dual values by the unconstrained ``||X^T S_g mu||`` (sound, the cone constraint
only lowers the maximum, and loose); once the working set's own gap reaches ``tol`` they are
priced exactly (batched bound, NNLS where it stays above ``max(beta, h)``). If some violate,
the round returns and the next one solves the working set plus those patterns, warm-started
(``max_rounds``; the last takes every group), so the result carries the usual certificate over
all patterns. Restarting costs nearly a full run of the smaller problem -- an interior point
near its end cannot grow a new group from the central path's small size, so bringing the
violators into the running solve was tried and jammed. ``max_rounds=1`` returns as soon as the
working set is solved and leaves the rest to the caller: the ReLU hybrid (:mod:`.relu_hybrid`)
uses that, its active-set polish prices all groups and adds the violators. (The gated hybrid
does not: its steps cost ``O(n^2 K)``, little of it in ``K`` at these sizes -- screened vs
not on the 31 UCI sets 0.83-1.13x, median 0.94x.)

Limits: double precision floors the certified gap near ``1e-7 .. 1e-8`` (the iteration then
jams and stops with ``info['stalled']``); the ReLU program needs ~20 steps (the steps are cut
to 0.3-0.6 by a few cone rows in its first ten; Gondzio correctors on those rows were tried:
one step fewer, no faster).

References
----------
.. [PE20] Pilanci & Ergen, Neural Networks are Convex Regularizers, ICML 2020.
.. [MSP22] Mishkin, Sahiner & Pilanci, Fast Convex Optimization for Two-Layer ReLU Networks,
   ICML 2022.
.. [V10] L. Vandenberghe, The CVXOPT linear and quadratic cone program solvers, 2010 (NT
   scaling of second-order cones, Mehrotra correction).
.. [M92] S. Mehrotra, On the implementation of a primal-dual interior point method, SIAM J.
   Optim. 2 (1992).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import scipy.linalg as sla

from .._backend import blas_threads, to_numpy
from ..losses import Loss
from ._cone_dual import cone_dual_norms, cone_dual_norms_exact, refine_exact
from ._cone_kernels import _jacobi, _rowdot, kernels
from ._result import SolverResult, SolverStatus

__all__ = ["solve_ipm"]

#: Screening (``screen=True``): at each of these iterations the groups outside the
#: ``SCREEN_KEEP`` fraction with the largest norms leave the solve (never below
#: ``SCREEN_MIN`` groups); see the module docstring, "Working set".
SCREEN_AT = (8, 12)
SCREEN_KEEP = 0.65
SCREEN_MIN = 48
#: Restarts on the working set plus the violators before the last round takes every group.
MAX_ROUNDS = 3


# ---------------------------------------------------------------------------------------------
# interior points of the cones
# ---------------------------------------------------------------------------------------------
def _interior_gates(X: np.ndarray, Cs: np.ndarray, gates: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Unit interior points ``h_p`` of the cones ``{u : Cs_p * X u >= 0}`` (rows of ``X``).

    Uses the given gates when strictly interior; otherwise the least-squares point ``X^+ C_p``
    and, failing that, the LP ``max s : C_p * X u >= s, |u|_inf <= 1``. Returns the points
    (P, d) and a flag per pattern (False: the cone has an empty interior)."""
    m, d = X.shape
    P = Cs.shape[1]
    H = np.zeros((P, d))
    ok = np.zeros(P, dtype=bool)
    if m == 0:
        H[:, 0] = 1.0
        return H, np.ones(P, dtype=bool)
    if gates is not None:
        Hg = np.asarray(gates, dtype=np.float64).T
        Z = X @ Hg.T
        marg = np.min(Cs * Z, axis=0)
        scale = np.maximum(np.max(np.abs(Z), axis=0), 1e-300)
        good = marg > 1e-9 * scale
        H[good] = Hg[good]
        ok |= good
    todo = np.flatnonzero(~ok)
    if todo.size:
        Hl = np.linalg.lstsq(X, Cs[:, todo], rcond=None)[0].T
        Z = X @ Hl.T
        marg = np.min(Cs[:, todo] * Z, axis=0)
        good = marg > 1e-9 * np.maximum(np.max(np.abs(Z), axis=0), 1e-300)
        H[todo[good]] = Hl[good]
        ok[todo[good]] = True
        rest = todo[~good]
        if rest.size:
            from scipy.optimize import linprog

            xs = float(np.max(np.abs(X)))
            for p in rest:
                A = -(Cs[:, p][:, None] * X)
                res = linprog(np.r_[np.zeros(d), -1.0], A_ub=np.c_[A, np.ones(m)],
                              b_ub=np.zeros(m), bounds=[(-1, 1)] * d + [(None, 1.0)],
                              method="highs")
                if res.status == 0 and -res.fun > 1e-9 * xs:
                    H[p] = res.x[:d]
                    ok[p] = True
    if ok.any():
        H[ok] = _center_in_cones(X, Cs[:, ok], H[ok])
    norms = np.linalg.norm(H, axis=1)
    ok &= norms > 0
    H[ok] /= norms[ok, None]
    return H, ok


#: The gated model's cold start is the ridge solution with ``lambda = RIDGE_START * beta``
#: (:func:`_ridge_start`).
RIDGE_START = 10.0


def _ridge_start(X: np.ndarray, S: np.ndarray, XXt: np.ndarray, loss: Loss, y: np.ndarray,
                 lam: float) -> np.ndarray | None:
    """Starting point of a cold gated solve: the ridge solution of one Newton step from ``f = 0``.

    The program with the group norms replaced by ``(lam / 2) sum_g ||u_g||^2`` and the loss by
    its quadratic model at ``f = 0`` (exact for the squared loss; gradient ``g``, Hessian
    ``diag(h)``, ``E = h^{1/2}``) has ``u_g = X^T S_g nu`` with
    ``(lam I + diag(h) K) nu = -g``, ``K = (X X^T) o (S S^T)`` (the gated model's kernel), solved
    in the symmetric form ``nu = E w``, ``(lam I + E K E) w = -g / E`` (one ``n x n`` Cholesky
    factorization: half an interior-point step). It is the starting point CVXOPT's cone
    solvers take (a least-squares problem, shifted into the cones; Vandenberghe 2010, with
    ``lam`` for the identity scaling), here with every group non-zero and ``lam`` tied to
    ``beta``: on an active group of the optimum ``||X^T S_g mu|| = beta``, so ``lam ~ beta``
    gives ridge groups of the optimum's size.

    Measured (10 UCI sets, P = 250, squared loss; interior-point steps to a 1e-6 gap, summed;
    cold start = all groups at the cone's axis): ``lam = 10 beta`` took 75 / 77 / 87 steps
    at ``beta = 1e-3 / 1e-2 / 1e-1`` against 103 / 91 / 91 cold; ``3 beta`` and ``30 beta``
    were within 2 steps of it, fixed ``lam`` in 0.01-0.3 as good at ``beta = 1e-2`` but not
    at ``1e-1``. Logistic loss (9 sets): 133 / 81 / 80 against 155 / 93 / 83. Returns None
    where ``h`` has a zero or the solution is not finite (the cold start then serves).
    """
    n = X.shape[0]
    f0 = np.zeros(n)
    h = np.asarray(loss.hessian_diag(f0, y), dtype=np.float64)
    if not np.all(h > 0):
        return None
    E = np.sqrt(h)
    SE = S * E[:, None]
    syrk = sla.get_blas_funcs("syrk", (SE,))
    Mk = syrk(1.0 / lam, SE.T, trans=1, lower=0)  # upper triangle of E (S S^T) E / lam
    Mk *= XXt.T  # syrk returns Fortran order: the transposed view walks XXt the same way
    # (lam I + E K E) w = -g / E as (I + E K E / lam) w = -g / (lam E): the interior point's
    # own I + PSD factorization (Cholesky, eigenvalue clamp where round-off breaks it)
    fac = _FactoredN()
    fac._factor(Mk)
    w = fac._msolve(-np.asarray(loss.gradient(f0, y)) / E) / lam
    if not np.all(np.isfinite(w)):
        return None
    return np.asarray(S.T @ ((E * w)[:, None] * X))


def _central_height(loss: Loss, y: np.ndarray, X: np.ndarray, S: np.ndarray, f: np.ndarray,
                    un: np.ndarray, beta: float) -> float | None:
    """``q = mu / beta`` that puts every gated cone of the starting point on the central path.

    With ``z_0 = beta`` (the dual residual ``r_t = beta - z_0`` zero), the pair
    ``s = (t, u)``, ``z = (beta, -beta u / t)`` has ``s o z = (beta (t^2 - |u|^2) / t, 0)``:
    it is central, ``s o z = mu e``, exactly when ``t^2 - q t - |u|^2 = 0``,
    ``t = (q + sqrt(q^2 + 4 |u|^2)) / 2`` with ``q = mu / beta``. The heights
    ``t = 1.5 |u|`` used before left each cone at its own ``mu_g ~ 0.83 beta |u_g|``, many
    orders apart across the groups of a ridge start. ``mu`` is the textbook target
    ``(F - l) / nu`` (``F - l``: the duality gap of the start's primal point and its scaled
    dual point ``-grad L``, ``nu = K`` cones), no tuned constant.

    Measured (interior-point steps to a 1e-6 gap, summed; P = 250): the benchmark's 31 UCI
    sets, squared loss, ``beta = 1e-2``: 230 against 245 (``1e-3``: 232 / 238, ``1e-1``:
    248 / 260), logistic 286 / 294; 13 other UCI sets (not tuned on): squared 97 / 103,
    logistic 130 / 127. ``mu`` at ``0.3x`` and ``2x`` the target: 237 / 243 steps. (The same
    centering of the ReLU program's cones, whose rows carry their own multipliers, took 706
    steps against 589 on its 31 sets: not used there.) Returns None where the gap is not a
    positive finite number (the fixed heights then serve).
    """
    g = loss.gradient(f, y)
    h = np.linalg.norm((S * g[:, None]).T @ X, axis=1)
    hmax = float(h.max(initial=0.0))
    sc = 1.0 if hmax <= beta else beta / hmax
    gap = loss.value(f, y) + beta * float(un.sum()) - loss.dual_value(-sc * g, y)
    q = gap / (un.size * beta)
    return q if np.isfinite(q) and q > 0 else None


def _outer_upper(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The upper triangles of the products ``x_k x_k^T`` of the rows of ``X``, ``(n, d(d+1)/2)``,
    and the index ``sym`` (``d^2``) that gathers a full symmetric ``d x d`` matrix from such a
    triangle: ``(W.T @ XXu)[:, sym].reshape(-1, d, d) = sum_k w_k x_k x_k^T`` for each column
    of ``W`` at half the flops of the full product (statlog-heart, 500 columns: 3.4 -> 1.7 ms,
    0.13 ms the gather -- a scatter into both triangles cost 1.7 ms)."""
    d = X.shape[1]
    iu = np.triu_indices(d)
    sym = np.empty((d, d), dtype=np.intp)
    sym[iu] = sym[iu[1], iu[0]] = np.arange(iu[0].size)
    return X[:, iu[0]] * X[:, iu[1]], sym.ravel()


def _center_in_cones(X: np.ndarray, Cs: np.ndarray, H: np.ndarray, steps: int = 10) -> np.ndarray:
    """Move interior points toward the analytic centers of ``{u : Cs_p * X u >= 0}`` capped by
    a ball: ``max sum_k log(Cs_pk x_k . u) - (m/2) ||u||^2`` by damped Newton, batched over the
    patterns (``m`` rows). Gates from enumeration or from a trained network can lie within
    ``1e-5`` of a cone boundary; a centered start keeps the first Newton systems well scaled."""
    m, d = X.shape
    XXu, sym = _outer_upper(X)  # the Hessians are symmetric
    U = H / np.maximum(np.linalg.norm(H, axis=1, keepdims=True), 1e-300)
    # Each pattern stops once its own Newton decrement is below 1e-8 (most do by the 7th step
    # on spect and statlog-heart; a few take all ten), so the late steps only cost the
    # stragglers -- this start-up was 10 % of a whole ReLU fit on spect.
    act = np.arange(U.shape[0])
    Ca, Ua = Cs, U
    for _ in range(steps):
        sl = Ca * (X @ Ua.T)  # (m, |act|) > 0
        inv = 1.0 / sl
        g = (Ca * inv).T @ X - m * Ua
        Hs = ((inv * inv).T @ XXu)[:, sym].reshape(-1, d, d)
        Hs[:, np.arange(d), np.arange(d)] += m
        du = np.linalg.solve(Hs, g[:, :, None])[:, :, 0]
        go = _rowdot(g, du) >= 1e-8
        if not go.any():
            break
        if not go.all():
            act, du, sl, Ca, Ua = act[go], du[go], sl[:, go], Ca[:, go], Ua[go]
        dsl = Ca * (X @ du.T)
        with np.errstate(divide="ignore", invalid="ignore"):
            lim = np.where(dsl < 0, -sl / dsl, np.inf).min(axis=0)
        Ua = Ua + np.minimum(1.0, 0.95 * lim)[:, None] * du
        U[act] = Ua
    return U


# ---------------------------------------------------------------------------------------------
# second-order cone helpers (arrays of cones, one per row): the kernels of ._cone_kernels,
# compiled by numba where it is installed
# ---------------------------------------------------------------------------------------------
def _soc_max_step(x: np.ndarray, dx: np.ndarray, rx: np.ndarray) -> float:
    """Largest ``a`` with ``x_k + a dx_k`` in the cone for every row ``k``; ``rx = x0^2 -
    |x1|^2 > 0`` (kept accurately by the caller: it cancels near the boundary)."""
    return float(kernels().soc_min_step(x, dx, rx))


def _dr(x: np.ndarray, dx: np.ndarray, a: float) -> np.ndarray:
    """Change of ``x0^2 - |x1|^2`` along ``x + a dx``."""
    return np.asarray(kernels().dr(x, dx, a))


def _jprod(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Jordan product ``x o y = (x . y, x0 y1 + y0 x1)``."""
    return np.asarray(kernels().jprod(x, y))


def _jdiv(lam: np.ndarray, r: np.ndarray, detl: np.ndarray) -> np.ndarray:
    """``q`` with ``lam o q = r`` (``detl = lam0^2 - |lam1|^2``)."""
    return np.asarray(kernels().jdiv(lam, r, detl))


class _NTScaling:
    """Nesterov-Todd scaling ``W`` (``W z = W^{-1} s``) of an array of second-order cones
    [V10]_, kept in factored form:
    ``W = eta [[w0, w1^T], [w1, I + c w1 w1^T]]``, ``c = 1 / (1 + w0)``, with
    ``w = (s/sqrt(rs) + J z/sqrt(rz)) / (2 gamma)`` and ``eta = (rs / rz)^(1/4)``; ``W^{-1}``
    flips the sign of ``w1`` and divides by ``eta``. Applying ``W`` or ``W^{-1}`` costs
    ``O(K m)`` (the dense ``K x m x m`` matrices, :meth:`inv2_dense`, are formed only where the
    ReLU model's Newton blocks need them)."""

    def __init__(self, s: np.ndarray, z: np.ndarray, rs: np.ndarray, rz: np.ndarray) -> None:
        # (nu, v, det: the 2 x 2 form of inv_of_inverse, on span(e_0, (0, w1 / |w1|)))
        self._k = kernels()
        (self.w0, self.w1, self.c, self.eta, self.nu, self.v,
         self.det) = self._k.nt_params(s, z, rs, rz)

    @classmethod
    def from_params(cls, params: tuple[np.ndarray, ...]) -> _NTScaling:
        """The scaling with the parameters ``(w0, w1, c, eta, nu, v, det)`` already computed
        (by :func:`._cone_kernels.gated_scaling`, with the rest of a gated step's data)."""
        nt = cls.__new__(cls)
        nt._k = kernels()
        nt.w0, nt.w1, nt.c, nt.eta, nt.nu, nt.v, nt.det = params
        return nt

    def apply(self, x: np.ndarray, inverse: bool = False) -> np.ndarray:
        """``W x`` (or ``W^{-1} x``), one vector per cone (rows of ``x``)."""
        return np.asarray(self._k.nt_apply(self.w0, self.w1, self.c, self.eta, x, inverse))

    def apply_inv2(self, x: np.ndarray) -> np.ndarray:
        """``W^{-2} x`` (two applications of ``W^{-1}``)."""
        return np.asarray(self._k.nt_apply_inv2(self.w0, self.w1, self.c, self.eta, x))

    def inv_of_inverse(self, x: np.ndarray) -> np.ndarray:
        """``(W^{-1})^{-1} x``: the exact inverse of the matrix that :meth:`apply` with
        ``inverse=True`` applies.

        In exact arithmetic this is ``W x``, but ``w0^2 - |w1|^2 = 1`` cancels near the cone
        boundary and the computed ``W`` and ``W^{-1}`` drift apart (``|W W^{-1} - I|`` reached
        0.8 on a planted logistic instance late in the solve). The Newton systems use
        ``W^{-2}`` (as the dense :class:`_KKT` does), so :class:`_GatedKKT` needs the inverse
        of *that* matrix. ``W^{-1}`` is ``1/eta`` times the identity on the complement of
        ``span(e_0, (0, v))``, ``v = w1 / |w1|``, and the 2 x 2 matrix
        ``A = [[w0, -nu], [-nu, 1 + c nu^2]]`` (``nu = |w1|``) on it, so its inverse is
        ``eta`` times the identity plus ``A^{-1}`` there: ``O(K m)``.
        """
        return np.asarray(self._k.nt_inv_of_inverse(self.nu, self.v, self.det, self.w0,
                                                     self.c, self.eta, x))

    def inv2_dense(self) -> np.ndarray:
        """The matrices ``W^{-2}`` (K, m, m), in closed form (:func:`._cone_kernels.nt_inv2_dense`)."""
        return np.asarray(self._k.nt_inv2_dense(self.w0, self.w1, self.c, self.eta))

    def dense_inverse(self) -> np.ndarray:
        """The matrices ``W^{-1}``, (K, m, m)."""
        w0, w1 = self.w0, self.w1
        K, m = w1.shape[0], w1.shape[1] + 1
        Winv = np.empty((K, m, m))
        Winv[:, 1:, 1:] = (self.c[:, None, None] * w1[:, :, None]) * w1[:, None, :]
        Winv[:, 1:, 1:] += np.eye(m - 1)[None]
        Winv[:, 0, 0] = w0
        Winv[:, 0, 1:] = -w1
        Winv[:, 1:, 0] = -w1
        Winv /= self.eta[:, None, None]
        return Winv


#: A Gram matrix ``A A^T`` (``A`` of shape ``(r, k)``) of at least this many multiply-adds
#: ``r^2 k`` is formed with every BLAS thread (see :func:`_gram_threads`).
GRAM_THREADS_MIN = 2e7


def _gram_threads(r: int, k: int) -> int:
    """BLAS threads for the symmetric rank-``k`` update of an ``r x r`` Gram matrix.

    The solvers run under one BLAS thread: on this 2-core machine two OpenBLAS threads made
    the small factorizations of a step up to 30x slower (a ``203 x 203`` Cholesky: 0.37 ms
    with one, 11 ms with two). The Gram update is the exception -- large, regular and
    compute-bound: with two threads ``r = 203, k = 3500`` took 2.2 ms instead of 3.5 ms,
    ``384 x 9000`` 18.6 instead of 29.8 ms, ``750 x 6250`` 39.5 instead of 77.9 ms. Below
    ``GRAM_THREADS_MIN`` the thread start-up is not worth it (``75 x 1375``: 0.18 vs 0.24 ms,
    within noise). Only used when the solve runs under one thread (``num_threads=1``, the
    default); returns the threads for the update: 2 above the threshold (never more than the
    CPUs), else 1.
    """
    return min(2, os.cpu_count() or 1) if float(r) * r * k >= GRAM_THREADS_MIN else 1


def _clamped_chol_inv(B: np.ndarray) -> np.ndarray:
    """``Linv`` with ``Linv^T Linv`` the inverse of the Jacobi-scaled blocks ``B`` (K, m, m)
    after clamping their eigenvalues at ``1e-14`` of the largest: the repair of blocks whose
    Cholesky factorization broke down in round-off."""
    Bs, dg = _jacobi(B)
    w, V = np.linalg.eigh(Bs)
    w = np.maximum(w, 1e-14 * np.max(np.abs(w), axis=1, keepdims=True) + 1e-300)
    Lc = np.linalg.cholesky((V * w[:, None, :]) @ V.transpose(0, 2, 1))
    return _lower_inverse(Lc) / dg[:, None, :]


def _gram_limit(r: int, k: int, gram_threads: bool) -> int | None:
    """The thread limit for a Gram update inside a one-thread solve: :func:`_gram_threads`
    where that is above one, else None -- the solve already runs on one thread, and setting
    the limit again cost 0.2 ms a call (threadpoolctl), 4 % of a gated solve on
    breast-cancer."""
    if not gram_threads:
        return None
    t = _gram_threads(r, k)
    return t if t > 1 else None


def _lower_inverse(L: np.ndarray) -> np.ndarray:
    """Inverses of a batch of lower-triangular matrices (K, m, m) (forward substitution,
    :func:`._cone_kernels.lower_inverse`)."""
    return np.asarray(kernels().lower_inverse(L))


class _FactoredN:
    """The ``n x n`` Woodbury matrix ``M`` (upper triangle given) and solves with it:
    Cholesky, or an eigenvalue clamp at 1 (``M = I + PSD``) where round-off breaks it."""

    cf: Any
    _potrs: Any
    eig: tuple[np.ndarray, np.ndarray] | None

    def _factor(self, M: np.ndarray) -> None:
        M[np.diag_indices(M.shape[0])] += 1.0
        self.eig = None
        # LAPACK potrf / potrs directly: scipy's cho_factor / cho_solve wrappers cost 15-20 us
        # a call (29 vs 14 us for a solve at n = 98), and a small gated solve makes ~30 of them.
        # Not overwrite_a: a factorization that fails part-way has already overwritten the
        # leading block, and the eigenvalue fallback below must see M itself.
        potrf, self._potrs = sla.get_lapack_funcs(("potrf", "potrs"), (M,))
        c, info = potrf(M, lower=0, overwrite_a=0, clean=0)
        if info == 0:
            self.cf = c
        else:
            Mu = np.triu(M)
            w, V = np.linalg.eigh(Mu + np.triu(Mu, 1).T)
            self.eig = (np.maximum(w, 1.0), V)

    def _msolve(self, b: np.ndarray) -> np.ndarray:
        if self.eig is None:
            x, info = self._potrs(self.cf, b, lower=0)
            if info != 0:
                raise ValueError(f"internal error: potrs failed (info={info})")
            return np.asarray(x)
        w, V = self.eig
        return np.asarray(V @ ((V.T @ b) / w))


class _KKT(_FactoredN):
    """Factorization of ``blockdiag(B) + Ft^T diag(E^2) Ft`` with ``Ft_g = [0, S_g X]``.

    With ``B_g^{-1} = L_g^{-T} L_g^{-1}`` (block Cholesky) the system is solved by Woodbury
    through ``M = I + E Ft B^{-1} Ft^T E`` (``n x n``) when ``n <= K m``, else densely.

    ``paired=True`` (the ReLU program): groups ``j`` and ``j + K/2`` are the ``v`` and ``w``
    blocks of one pattern, ``S_{j + K/2} = -S_j``, so their terms of
    ``Ft B^{-1} Ft^T = sum_g S_g X G_g X^T S_g`` (``G_g = [B_g^{-1}]_uu``, ``d x d``) share
    ``S_j X``: ``M`` is formed from the ``K/2`` sums ``G_v + G_w = C C^T`` as one rank-``K d/2``
    update (``O(n^2 K d / 2)``, half the flops and none of the ``t`` columns of the unpaired
    ``O(n^2 K (d+1))``), and the solve applies ``M`` in the symmetric form
    ``H^{-1} = L^{-T} (I - Q^T M^{-1} Q) L^{-1}``, ``Q = E Ft L^{-T}``, without forming ``Q``.
    Checked against the unpaired factorization in tests/test_interior_point.py.
    """

    def __init__(self, X: np.ndarray, S: np.ndarray, B: np.ndarray, E: np.ndarray,
                 paired: bool = False, gram_threads: bool = False) -> None:
        n = X.shape[0]
        K, m, _ = B.shape
        # Jacobi-scaled block Cholesky (the blocks of groups near zero or of rows near their
        # cone boundary have entries many orders apart); the blocks where it breaks down
        # (round-off) are repaired by an eigenvalue clamp. Linv = Lc^{-1} D^{-1}, so
        # B^{-1} = Linv^T Linv.
        Linv, ok = kernels().block_chol_inv(B)
        if not ok.all():
            Linv[~ok] = _clamped_chol_inv(B[~ok])
        self.Linv = Linv
        self.K, self.m = K, m
        self.X, self.S, self.E = X, S, E
        self.wood = n <= K * m
        self.paired = paired and self.wood and K % 2 == 0
        if self.paired:
            Qm = self._paired_factor(X, S, E)
        else:
            # Q = [diag(S_g E) X L_g^{-T}]_g as one (n, K m) GEMM in its final layout (a
            # batched matmul plus a transposed copy cost 3x more at n=203, K=500, m=15).
            Lt = np.ascontiguousarray(self.Linv[:, :, 1:]).reshape(K * m, -1)
            Qm = X @ Lt.T
            Qm.reshape(n, K, m)[...] *= (S * E[:, None])[:, :, None]
        self.Qm = Qm
        # The Gram matrix (the dominant cost, O(n^2 K m)) by a symmetric rank-k update: half
        # the flops of a GEMM. Qm.T is Fortran-ordered, so BLAS sees it without a copy; only
        # the upper triangle is formed, which is all the Cholesky factorization reads.
        gram = sla.get_blas_funcs("syrk", (Qm,))
        r, k = Qm.shape if self.wood else Qm.shape[::-1]
        with blas_threads(_gram_limit(r, k, gram_threads)):
            Mg = gram(1.0, Qm.T, trans=1 if self.wood else 0, lower=0)
        self._factor(Mg)

    def _paired_factor(self, X: np.ndarray, S: np.ndarray, E: np.ndarray) -> np.ndarray:
        """``[diag(E |S_j|) X C_j]_j`` (n, K d / 2) with ``C_j C_j^T = G_{v_j} + G_{w_j}``."""
        n, d = X.shape
        k = self.K // 2
        # Jacobi-scaled Cholesky of G_v + G_w, as for B (eigenvalue clamp where it fails).
        C, ok = kernels().pair_factor(self.Linv)
        if not ok.all():
            Lu = self.Linv[:, :, 1:]
            bad = np.flatnonzero(~ok)
            Gp = (Lu[bad].transpose(0, 2, 1) @ Lu[bad]
                  + Lu[bad + k].transpose(0, 2, 1) @ Lu[bad + k])
            Gs, dg = _jacobi(Gp)
            w, V = np.linalg.eigh(Gs)
            C[bad] = (V * np.sqrt(np.maximum(w, 0.0))[:, None, :]) * dg[:, :, None]
        Qp = X @ C.transpose(1, 0, 2).reshape(d, k * d)  # block j: X C_j
        Qp.reshape(n, k, d)[...] *= (np.abs(S[:, :k]) * E[:, None])[:, :, None]
        return Qp

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        a = np.einsum("kij,kj->ki", self.Linv, rhs)
        if self.paired:
            # Q a = E Ft L^{-T} a and Q^T c = L^{-1} Ft^T E c, applied factor by factor.
            ua = np.einsum("kji,kj->ki", self.Linv, a)
            fa = _rowdot(self.S, self.X @ ua[:, 1:].T)
            c = self.E * self._msolve(self.E * fa)
            back = np.zeros_like(a)
            back[:, 1:] = (self.S * c[:, None]).T @ self.X
            z = a - np.einsum("kij,kj->ki", self.Linv, back)
        elif self.wood:
            c = self._msolve(self.Qm @ a.ravel())
            z = a - (self.Qm.T @ c).reshape(self.K, self.m)
        else:
            z = self._msolve(a.ravel()).reshape(self.K, self.m)
        return np.asarray(np.einsum("kji,kj->ki", self.Linv, z))


# The gated Newton solve refines once against the exact system only where the NT scaling
# has w0 > REFINE_W0. Measured unrefined residuals |H x - b| / |b| grow like w0^2 * 1e-14:
# 2e-11 - 7e-8 at the last three steps of 4 UCI sets (squared and logistic loss, w0 up to
# 3e3, where the IPM stops at a 1e-6 gap), ~1e-6 expected at 1e4. Such inexact directions
# cost nothing: the residuals r_t, r_u are recomputed from the iterate every step, and with
# no refinement at all the steps to a 1e-6 gap were the same on the 31 benchmark sets
# (230; logistic 286; beta 1e-3 232, 1e-1 248) and 13 others (97; logistic 130). The
# threshold was 1e2 (three of breast-cancer's seven steps refined, none needed to).
REFINE_W0 = 1e4


class _GatedKKT(_FactoredN):
    """Factorization of ``blockdiag(W_g^{-2}) + Ft^T diag(E^2) Ft`` for the gated model, at
    ``O(n^2 K + n^3)`` instead of the ``O(n^2 K d)`` of :class:`_KKT`.

    Without cone rows the block of group ``g`` is the NT scaling alone, ``B_g = W_g^{-2}``.
    Its inverse ``B_g^{-1} = V_g^2``, ``V_g = (W_g^{-1})^{-1}`` (:meth:`_NTScaling.inv_of_inverse`;
    ``= W_g`` in exact arithmetic), is known in closed form, and its ``u``-block is *identity
    plus rank one*: ``V`` is ``eta`` times the identity off ``span(e_0, (0, v))``,
    ``v = w1 / |w1|``, so

        [B_g^{-1}]_uu = alpha_g I + q_g q_g^T,   alpha_g = eta_g^2

    (:func:`._cone_kernels.gated_scaling`). Woodbury through the ``n x n`` matrix
    ``M = I + E Ft B^{-1} Ft^T E`` then needs

        Ft B^{-1} Ft^T = sum_g alpha_g S_g X X^T S_g + (S_g X q_g)(S_g X q_g)^T
                       = (X X^T) o (S diag(alpha) S^T) + R R^T,   R_g = S_g o (X q_g)

    (``o`` the Hadamard product; ``S_g`` the 0/1 mask as a diagonal), two ``n x n x K``
    rank-K updates: the sum over groups of ``d x d`` blocks is never formed. The solve is
    the symmetric form ``H^{-1} = V (I - Q^T M^{-1} Q) V``, ``Q = E Ft V``, applied factor by
    factor. Derived here; checked against a dense solve of the explicit system (residuals no
    larger than :class:`_KKT`'s, including late-iterate cone points where the computed ``W``
    and ``W^{-1}`` are 0.3 apart from inverse) in tests/test_interior_point.py, and on the
    31 UCI sets of the benchmark (same iterations and ``F`` as :class:`_KKT` to 1e-15).

    With the numba kernels the solver runs this class's step (the factorization and both
    ``direction`` calls) as one compiled call, :func:`._cone_jit.gated_step` (checked against
    this composition in tests/test_cone_kernels.py); this class is the NumPy backend's step
    and the fallback where that call's Cholesky factorization fails.
    """

    def __init__(self, X: np.ndarray, S: np.ndarray, E: np.ndarray, XXt: np.ndarray,
                 scaled: tuple[np.ndarray, ...]) -> None:
        # scaled: kernels().gated_scaling(s, z, rs, rz, S, E, X) -- the NT scaling's
        # parameters, lam, detl, lam o lam and the two (n, K) factors of M, in one call
        self.X, self.S, self.E = X, S, E
        self._k = kernels()
        self.nt = nt = _NTScaling.from_params(scaled[:7])
        self.lam, self.detl, self.lamlam = scaled[7:10]
        self.refine = bool(nt.w0.max(initial=0.0) > REFINE_W0)
        Se, Q = scaled[10:]  # S o E sqrt(alpha) and S o E o (X q^T), (n, K)
        # Both n x n products by symmetric rank-k updates (upper triangles only, half the
        # flops of a GEMM; the transposes are Fortran-ordered views, so BLAS copies nothing).
        # On the solve's one BLAS thread: unlike the ReLU Gram (inner dimension K m), these
        # have inner dimension K <= P, and two threads (the _gram_threads rule) made whole
        # gated fits slower on every UCI set with n >= 283 where it applied (congressional-
        # voting 91 -> 62 ms with one thread, bostonHousing 170 -> 80, pima 228 -> 131,
        # wine-quality-red (n 1439) 961 -> 927; the waking of the second thread, not the
        # product, is what costs).
        syrk = sla.get_blas_funcs("syrk", (Se,))
        Mm = syrk(1.0, Se.T, trans=1, lower=0)
        # syrk returns Fortran order; XXt (symmetric) is multiplied through its transposed
        # view so both operands are walked in the same order (3-5x faster at n 200-600)
        Mm *= XXt.T
        Mm = syrk(1.0, Q.T, beta=1.0, c=Mm, trans=1, lower=0, overwrite_c=1)
        self._factor(Mm)

    def _apply_h(self, x: np.ndarray) -> np.ndarray:
        """``H x = W^{-2} x + Ft^T E^2 Ft x`` (the system matrix, unfactored)."""
        nt = self.nt
        return np.asarray(self._k.gated_apply_h(nt.w0, nt.w1, nt.c, nt.eta, x, self.S,
                                                self.X, self.E))

    def solve(self, rhs: np.ndarray, refine: bool = True) -> np.ndarray:
        # Late in a solve (W^2 has condition ~(2 w0)^4) the solve below leaves residuals of
        # ~1e-8 relative (the late-iterate test: 3e-8 at |w1| ~ 2e4, 1e-12 after one step of
        # iterative refinement against the exact H, O(n d K)). The refinement is 40 % of the
        # direction's cost and is taken only past w0 = REFINE_W0 (see there).
        x = self._solve1(rhs)
        if refine and self.refine:
            x = x + self._solve1(rhs - self._apply_h(x))
        return x

    def _solve1(self, rhs: np.ndarray) -> np.ndarray:
        # Symmetric Woodbury with W as the square root of B^{-1} = W^2 (W is symmetric):
        # H^{-1} = W (I - Q^T M^{-1} Q) W,  Q = E Ft W,  M = I + Q Q^T. The inner operator has
        # eigenvalues in (0, 1], so nothing cancels; the unsymmetric form
        # W^2 - W^2 Ft^T E M^{-1} E Ft W^2 lost all digits once |w1| ~ 1e4 (a planted logistic
        # instance, n = 150: residual 1e0 where this form gives 1e-13). (W here is
        # (W^{-1})^{-1}, :meth:`_NTScaling.inv_of_inverse`.)
        nt = self.nt
        a, b = self._k.gated_solve_pre(nt.nu, nt.v, nt.det, nt.w0, nt.c, nt.eta, rhs, self.S,
                                       self.X, self.E)
        return np.asarray(self._k.gated_solve_post(nt.nu, nt.v, nt.det, nt.w0, nt.c, nt.eta,
                                                   a, self._msolve(b), self.S, self.X, self.E))

    def direction(self, rc: np.ndarray, r_t: np.ndarray, r_u: np.ndarray, s: np.ndarray,
                  rs: np.ndarray, z: np.ndarray, rz: np.ndarray, predictor: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The Newton direction for the complementarity term ``rc`` (the gated counterpart of
        :meth:`_Step.direction`): ``dx``, ``dz``, ``dZ = X du^T`` and the largest step that
        keeps the primal and dual points inside their cones.

        ``predictor=True`` (the affine-scaling direction, which only sets the corrector's
        centering and second-order term): no ``dZ`` (empty) and no refinement step."""
        nt, k = self.nt, self._k
        Wq, rhs = k.gated_rhs(self.lam, rc, self.detl, nt.w0, nt.w1, nt.c, nt.eta, r_t, r_u)
        dx = self.solve(rhs, refine=not predictor)
        dz, dZ, amax = k.gated_finish(nt.w0, nt.w1, nt.c, nt.eta, Wq, dx, self.X, s, rs, z, rz,
                                      not predictor)
        return dx, dz, dZ, float(amax)


class _Step:
    """One interior-point iteration's data: the factorized system and the current point."""

    def __init__(self, X: np.ndarray, Xv: np.ndarray, valid: np.ndarray, Cw: np.ndarray | None,
                 kkt: _KKT, lam: np.ndarray, detl: np.ndarray, nt: _NTScaling,
                 wl: np.ndarray | None, r_t: np.ndarray, r_u: np.ndarray,
                 s_soc: np.ndarray, r_s: np.ndarray, zs: np.ndarray, r_z: np.ndarray,
                 sl: np.ndarray | None, Zl: np.ndarray | None) -> None:
        self.X, self.Xv, self.valid, self.Cw, self.kkt = X, Xv, valid, Cw, kkt
        self.all_valid = bool(valid.all())
        self.lam, self.detl, self.nt, self.wl = lam, detl, nt, wl
        self.r_t, self.r_u = r_t, r_u
        self.s_soc, self.r_s, self.zs, self.r_z, self.sl, self.Zl = s_soc, r_s, zs, r_z, sl, Zl

    def direction(self, rc_soc: np.ndarray, Wq_l: np.ndarray | None) -> tuple[Any, ...]:
        """Solve the Newton system for the SOC complementarity right-hand side ``rc_soc`` and
        the linear rows' ``W^{-1} q`` (``Wq_l``); returns ``dx, X du, dz_soc, ds_lin, dz_lin``
        and ``r_lin``, the smallest ratios ``ds / s`` and ``dz / z`` over the linear rows (their
        ratio tests; ``inf`` without them)."""
        qs = _jdiv(self.lam, rc_soc, self.detl)
        Wq_s = self.nt.apply(qs, inverse=True)
        K, m = Wq_s.shape
        rhs = np.empty((K, m))
        rhs[:, 0] = -self.r_t + Wq_s[:, 0]
        rhs[:, 1:] = -self.r_u + Wq_s[:, 1:]
        if self.Cw is not None and Wq_l is not None:
            rhs[:, 1:] += (self.Cw * Wq_l).T @ self.Xv
        dx = self.kkt.solve(rhs)
        dz_s = Wq_s - self.nt.apply_inv2(dx)
        dZ = self.X @ dx[:, 1:].T
        ds_l = dz_l = None
        rs_lin = rz_lin = np.inf
        if (self.Cw is not None and Wq_l is not None and self.wl is not None
                and self.sl is not None and self.Zl is not None):
            # ds = C o dZ, dz = W^{-1} q - (z / s) o ds and their ratio tests, in one pass
            # (no copy by boolean indexing when every row is valid, the usual case)
            ds_l, dz_l, rs_lin, rz_lin = kernels().lin_direction(
                self.Cw, dZ if self.all_valid else dZ[self.valid], Wq_l, self.wl, self.sl,
                self.Zl)
        return dx, dZ, dz_s, ds_l, dz_l, (float(rs_lin), float(rz_lin))

    def max_step(self, ds_s: np.ndarray, dz_s: np.ndarray, r_lin: tuple[float, float]
                 ) -> float:
        """Largest step keeping primal and dual strictly inside their cones (``r_lin`` from
        :meth:`direction`: the linear rows' limits are ``-1 / r`` where ``r < 0``). One step
        for both: separate primal and dual steps, as LP codes take them, were tried -- more
        steps on four of six UCI sets, median 0.98x for the ReLU fit."""
        a = min(_soc_max_step(self.s_soc, ds_s, self.r_s),
                _soc_max_step(self.zs, dz_s, self.r_z))
        for r in r_lin:
            if r < 0:
                a = min(a, -1.0 / r)
        return a


# ---------------------------------------------------------------------------------------------
# the solver
# ---------------------------------------------------------------------------------------------
def _check_inputs(X: Any, y: Any, masks: Any, loss: Loss, beta: float, model: str, tol: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if model not in ("relu", "gated"):
        raise ValueError(f"model must be 'relu' or 'gated', got {model!r}")
    X = np.asarray(to_numpy(X), dtype=np.float64)
    y = np.asarray(to_numpy(y), dtype=np.float64)
    D = np.asarray(to_numpy(masks))
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    if D.ndim != 2 or D.shape[0] != X.shape[0]:
        raise ValueError(f"masks must have shape ({X.shape[0]}, P), got {D.shape}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("X and y must be finite")
    loss.check_targets(y)
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be positive, got {beta!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    return X, y, D.astype(bool)


def solve_ipm(
    X: Any,
    y: Any,
    masks: Any,
    loss: Loss,
    beta: float,
    *,
    model: str = "relu",
    gates: Any = None,
    U0: Any = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    time_limit: float | None = None,
    callback: Any = None,
    num_threads: int | None = 1,
    screen: bool = False,
    max_rounds: int = MAX_ROUNDS,
) -> SolverResult:
    """Solve the ReLU (or gated) program over ``masks`` by the structured primal-dual IPM.

    Parameters
    ----------
    X : array (n, d); y : array (n,); masks : bool array (n, P)
    loss : Loss
    beta : float
    model : {"relu", "gated"}
    gates : array (d, P), optional
        Gate vectors of the patterns (interior points of their cones); computed (least
        squares, then an LP) where missing or not strictly interior.
    U0 : array (G, d), optional
        Warm start (``[V; W]`` for ReLU): its groups that satisfy their cone constraints start
        there (pushed slightly inside); the duals are re-centered.
    tol : float
        Relative duality-gap tolerance, certified over the whole pattern set.
    max_iter : int
        Interior-point iterations (each: one factorization, two solves).
    time_limit : float, optional
        Seconds; the best iterate so far is returned with ``TIME_LIMIT``.
    callback : callable, optional
        Called with each history record.
    num_threads : int or None
        BLAS threads during the solve (:mod:`threadpoolctl`); None leaves them alone.
    screen : bool
        Solve over a working set of patterns (module docstring, "Working set"); the
        certificate still covers every pattern.
    max_rounds : int
        With ``screen``: rounds at most (the last over every group); ``1`` returns once the
        working set is solved, certified only by the loose bound for the groups left out (for
        a caller that prices and adds them itself).

    Returns
    -------
    SolverResult
        ``info`` holds ``multipliers`` (n, G) (cone-row multipliers ``lambda``),
        ``n_excluded`` / ``excluded_patterns`` (patterns whose cone has an empty interior:
        kept at zero, priced exactly in the certificate), ``time``, ``stalled``, ``rounds``
        and ``n_groups_solved`` (groups in the last round's solve at its end).
    """
    Xa, ya, D = _check_inputs(X, y, masks, loss, beta, model, tol)
    if num_threads is None:
        return _solve(Xa, ya, D, loss, beta, model, gates, U0, tol, max_iter, time_limit,
                      callback, screen, max_rounds, False)
    with blas_threads(num_threads):
        return _solve(Xa, ya, D, loss, beta, model, gates, U0, tol, max_iter, time_limit,
                      callback, screen, max_rounds, num_threads == 1)


def _solve(X: np.ndarray, y: np.ndarray, D: np.ndarray, loss: Loss, beta: float, model: str,
           gates: Any, U0: Any, tol: float, max_iter: int, time_limit: float | None,
           callback: Any, screen: bool, max_rounds: int, gram_threads: bool = False
           ) -> SolverResult:
    """Rounds of :func:`_solve_round`: with screening, a round that ends with groups outside
    its working set violating their dual constraint is followed by one on the working set plus
    those patterns, warm-started (the last of ``max_rounds`` on every group). With
    ``max_rounds=1`` the first round returns as soon as its working set is solved, leaving
    the groups outside it to the caller's pricing."""
    t0 = time.perf_counter()
    G = 2 * D.shape[1] if model == "relu" else D.shape[1]
    work = None
    history: list[dict[str, float]] = []
    res: SolverResult | None = None
    n_iter = 0
    for rnd in range(max_rounds):
        left = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 0.0)
        Uw = U0
        if res is not None:  # warm start from the previous round's point
            Uw = res.V if res.W is None else np.concatenate([res.V, res.W])
        res = _solve_round(X, y, D, loss, beta, model, gates, Uw, tol,
                           max(max_iter - n_iter, 1), left, callback, screen and rnd == 0,
                           work, time.perf_counter() - t0, price_out=max_rounds > 1,
                           gram_threads=gram_threads)
        history += res.history
        n_iter += res.n_iter
        viol = res.info.pop("violating_groups", None)
        ws = res.info.pop("working_groups", None)
        if viol is None or not viol.size or n_iter >= max_iter or (
                time_limit is not None and time.perf_counter() - t0 >= time_limit):
            break
        if rnd == max_rounds - 2:
            work = np.arange(G)
        else:
            work = np.union1d(ws, viol)
            if model == "relu":  # whole patterns (the paired factorization)
                pats = np.unique(work % (G // 2))
                work = np.r_[pats, pats + G // 2]
    assert res is not None
    res.history = history
    res.n_iter = n_iter
    res.info["time"] = time.perf_counter() - t0
    res.info["rounds"] = rnd + 1
    return res


def _solve_round(X: np.ndarray, y: np.ndarray, D: np.ndarray, loss: Loss, beta: float,
                 model: str, gates: Any, U0: Any, tol: float, max_iter: int,
                 time_limit: float | None, callback: Any, screen: bool,
                 work: np.ndarray | None, t_start: float, price_out: bool = True,
                 gram_threads: bool = False) -> SolverResult:
    t0 = time.perf_counter() - t_start  # history times count from the first round's start
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    X = np.ascontiguousarray(X)  # the compiled kernels' BLAS products want C order
    kern = kernels()
    n, d = X.shape
    P = D.shape[1]
    relu = model == "relu"
    Df = D.astype(np.float64)
    G = 2 * P if relu else P
    valid = np.linalg.norm(X, axis=1) > 0  # zero rows: vacuous cone rows, no prediction
    Xv = X[valid]
    nv = Xv.shape[0]
    if relu:
        S = np.concatenate([Df, -Df], axis=1)
        Call: np.ndarray | None = 2.0 * np.concatenate([Df, Df], axis=1) - 1.0
        gsign = np.r_[np.ones(P), -np.ones(P)]
    else:
        S, Call, gsign = Df, None, np.ones(P)
    if U0 is not None:
        U0 = np.asarray(to_numpy(U0), dtype=np.float64)
        if U0.shape != (G, d):
            raise ValueError(f"U0 must have shape ({G}, {d}), got {U0.shape}")
        if not np.isfinite(U0).all():
            raise ValueError("U0 must be finite")
    if gates is not None:
        gates = np.asarray(to_numpy(gates), dtype=np.float64)
        if gates.shape != (d, P):
            raise ValueError(f"gates must have shape ({d}, {P}), got {gates.shape}")

    # ---- groups in the solve: a prediction column, and (ReLU) a cone with an interior
    live = np.any(D[valid], axis=0)  # masks with no non-zero row contribute nothing
    Hp = np.zeros((P, d))
    okp = live.copy()
    if relu and live.any():
        Cp = 2.0 * Df[valid][:, live] - 1.0
        Hl, okl = _interior_gates(Xv, Cp, None if gates is None else gates[:, live])
        Hp[live] = Hl
        okp[np.flatnonzero(live)[~okl]] = False
    excluded = np.flatnonzero(live & ~okp)  # degenerate cones (empty interior)
    okg = np.r_[okp, okp] if relu else okp
    idx = np.flatnonzero(okg)
    dropped = np.zeros(0, dtype=int)  # groups left out of the solve (working set)
    if work is not None and np.isin(idx, work).any():
        inw = np.isin(idx, work)
        idx, dropped = idx[inw], idx[~inw]
    K = idx.size
    # take, not S[:, idx]: advanced indexing on the last axis returns a Fortran-ordered
    # array, and the row-wise products and rank-K updates below run on it 1.4x slower
    # (pima: 17.7 vs 12.8 ms a gated KKT factorization).
    Sw = S.take(idx, axis=1)
    Cw = None if Call is None else Call[valid].take(idx, axis=1)
    # The cone rows' term of the Newton blocks, X^T diag(z_g / s_g) X for every group, from the
    # upper triangles of the products x_k x_k^T (the blocks are symmetric: half the product).
    XXu, sym = _outer_upper(Xv) if relu else (None, None)
    # Gated model: the structured factorization (O(n^2 K) per step) whenever Woodbury
    # (n <= K (d + 1)) is the cheaper form; the dense K (d+1) system otherwise.
    XXt = X @ X.T if not relu and n <= K * (d + 1) else None

    def net_objective(Ufull: np.ndarray) -> float:
        Z = X @ Ufull.T
        f = np.maximum(Z, 0.0) @ gsign if relu else _rowdot(S, Z)
        return loss.value(f, y) + beta * float(np.sum(np.linalg.norm(Ufull, axis=1)))

    def excluded_values(mu: np.ndarray) -> np.ndarray:
        """Exact dual values of the excluded groups at ``mu`` (sound upper bounds)."""
        if excluded.size == 0 or Call is None:
            return np.zeros(0)
        gx = np.r_[excluded, excluded + P]
        Cvec = np.zeros((G, d))
        Cvec[gx] = (S[:, gx] * mu[:, None]).T @ X
        vals, _ = cone_dual_norms_exact(X[valid], Cvec, Call[valid], gx)
        return np.asarray(vals)

    history: list[dict[str, float]] = []
    info_base = {"n_excluded": int(excluded.size), "excluded_patterns": excluded,
                 "n_groups_solved": int(K)}

    # ---- trivial cases: U = 0 optimal (checked by the unconstrained bound ||X^T S_g mu||)
    mu0 = -loss.gradient(np.zeros(n), y)
    c0 = (S * mu0[:, None]).T @ X
    h0 = np.linalg.norm(c0, axis=1)
    if K == 0 or float(h0.max(initial=0.0)) <= beta:
        hmax = float(h0.max(initial=0.0))
        if excluded.size and hmax > beta:
            hmax = max(float(excluded_values(mu0).max(initial=0.0)),
                       float(h0[idx].max(initial=0.0)))
        sc = 1.0 if hmax <= beta else beta / hmax
        F = loss.value(np.zeros(n), y)
        lb = loss.dual_value(sc * mu0, y)
        gap = (F - lb) / max(abs(F), 1e-300)
        rec = {"time": time.perf_counter() - t0, "iter": 0, "objective": F,
               "lower_bound": lb, "criterion": gap}
        history.append(rec)
        if callback is not None:
            callback(rec)
        Uz = np.zeros((G, d))
        return SolverResult(
            V=Uz[:P], W=Uz[P:] if relu else None, objective=F, lower_bound=lb, criterion=gap,
            n_iter=0, status=SolverStatus.CONVERGED if gap <= tol else SolverStatus.MAX_ITER,
            history=history, dual=sc * mu0,
            info={**info_base, "time": time.perf_counter() - t0, "multipliers": None,
                  "stalled": False})

    # ---- starting point
    gtop = int(np.argmax(h0[idx]))
    u_dir = c0[idx[gtop]] / h0[idx[gtop]]
    a_top = Sw[:, gtop] * (X @ u_dir)
    curv = float(np.sum(loss.hessian_diag(np.zeros(n), y) * a_top * a_top))
    a0 = 0.25 * (float(h0[idx[gtop]]) - beta) / max(curv, 1e-300)
    if relu:
        Hg = np.r_[Hp, Hp][idx]
        U = a0 * Hg
    else:
        Hg = np.zeros((K, d))
        U = np.zeros((K, d))
    Uw = None
    if U0 is not None:
        Uw = U0[idx].copy()
    elif XXt is not None:
        Uw = _ridge_start(X, Sw, XXt, loss, y, RIDGE_START * beta)
    if Uw is not None:
        nw = np.linalg.norm(Uw, axis=1)
        if Cw is not None:
            feas = np.all(Cw * (Xv @ Uw.T) >= -1e-9 * nw[None, :] * np.linalg.norm(
                Xv, axis=1)[:, None], axis=0)
            Uw[~feas] = 0.0
            nw[~feas] = 0.0
        # warm groups pushed inside their cones; the others start small
        U = np.where((nw > 0)[:, None], Uw + 0.1 * nw[:, None] * Hg, 0.1 * U)
    un = np.linalg.norm(U, axis=1)
    Z = X @ U.T
    f = _rowdot(Sw, Z)
    t = np.maximum(1.5 * un, 0.5 * a0)
    r_s = t * t - un * un
    q = None if Cw is not None else _central_height(loss, y, X, Sw, f, un, beta)
    if q is not None:
        t = 0.5 * (q + np.sqrt(q * q + 4.0 * un * un))
        r_s = q * t  # = t^2 - |u|^2 without the cancellation where t ~ |u|
    s_soc = np.concatenate([t[:, None], U], axis=1)
    sl: Any = None if Cw is None else Cw * Z[valid]
    if sl is not None and not np.all(sl > 0):  # cannot happen with interior gates
        raise RuntimeError("internal error: the starting point is not interior")
    cz = beta * r_s / t  # centered SOC duals z = cz J s / r_s, with z0 = beta
    zs = (cz / r_s)[:, None] * s_soc
    zs[:, 1:] *= -1.0
    r_z = cz * cz / r_s
    Zl: Any = None if sl is None else (float(np.mean(cz)) / max(nv, 1)) / sl
    nu = K + (0 if Cw is None else nv * K)

    status = SolverStatus.MAX_ITER
    best: dict[str, Any] = {"gap": np.inf}
    best_key = np.inf  # what "best" minimizes (see below)
    stalled = False
    it = 0
    n_small = 0
    # ---- working set (see the module docstring): the multipliers of the last pricing of
    # the groups outside it (warm start of the next), screenings done
    lam_out: np.ndarray | None = None
    out_masks: tuple[int, np.ndarray] | None = None  # (len(dropped), masks of the outside)
    n_screen = 0
    ws_gap = np.inf
    lip = None

    def outside_groups() -> np.ndarray:
        """The groups not in the solve: the dropped ones and those of excluded patterns."""
        return np.r_[dropped, excluded, excluded + P] if relu else dropped

    def outside_values(mu: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
        """Sound values of the dual constraint of every group outside the solve (dropped
        groups and excluded patterns) at ``mu``: the batched bound, settled exactly by NNLS
        where it stays above ``thr`` (as the active-set pricing does)."""
        nonlocal lam_out, lip
        gx = outside_groups()
        if gx.size == 0:
            return gx, np.zeros(0)
        Cvec = (S[:, gx] * mu[:, None]).T @ X
        if Call is None:
            return gx, np.linalg.norm(Cvec, axis=1)
        Cx = Call[valid][:, gx]
        if lip is None:
            lip = float(np.linalg.norm(Xv, 2)) ** 2
        lam0 = None
        if lam_out is not None and lam_out.shape[1] == gx.size:
            lam0 = lam_out
        vals, lam_b = cone_dual_norms(Xv, Cvec, Cx, lam0, n_iter=300, lipschitz=lip,
                                      target=thr)
        refine_exact(Xv, Cvec, Cx, vals, lam_b, np.flatnonzero(vals > thr))
        lam_out = lam_b
        return gx, np.asarray(vals)
    work_step: np.ndarray | None = None  # the fused gated step's workspace (Se, Q, M, dZ)
    try:
        while True:
            gL = loss.gradient(f, y)
            hvals: np.ndarray | None = None
            if XXt is not None:  # gated, structured: one fused call (see the Newton system)
                r_u, r_t, hvals = kern.gated_residuals(Sw, X, gL, zs, beta)
            else:
                r_u = (Sw * gL[:, None]).T @ X - zs[:, 1:]
                if Cw is not None:
                    r_u -= (Cw * Zl).T @ Xv
                r_t = beta - zs[:, 0]
            comp = float(np.sum(s_soc * zs)) + (0.0 if Cw is None else float(np.sum(sl * Zl)))
            mu_c = comp / nu
            # ---- certificate at this iterate
            if not (np.isfinite(comp) and np.all(np.isfinite(r_u))):
                status = SolverStatus.NUMERICAL_ERROR
                break
            mu = -gL
            if hvals is None:
                hvals = np.linalg.norm(r_u + zs[:, 1:], axis=1)
            hmax = float(hvals.max())
            h_ws = hmax
            if dropped.size:
                # a cheap sound bound for every group outside the solve (the cone only lowers
                # the max; the excluded patterns' too, or a round that returns without the
                # exact pricing below would certify without them); they are priced exactly
                # once the working set's gap reaches tol
                # (by pattern: the v and w groups of a pattern, S_w = -S_v, share the value;
                # the outside patterns' masks are taken once per change of the working set)
                if out_masks is None or out_masks[0] != dropped.size:
                    out_masks = (dropped.size, Df.take(np.unique(outside_groups() % P), axis=1))
                hmax = max(hmax, float(np.max(np.linalg.norm(
                    out_masks[1].T @ (mu[:, None] * X), axis=1))))
            Ufull = np.zeros((G, d))
            Ufull[idx] = U
            # Gated model: F from the carried predictions (Z = X U^T is updated with U, so f
            # is the prediction of U to round-off; the returned point's F is recomputed
            # exactly at the end). The ReLU network's output (X u)_+ needs the product (over
            # the working set: the other groups are zero).
            if relu:
                F = loss.value(np.maximum(X @ U.T, 0.0) @ gsign[idx], y) + beta * float(
                    np.sum(np.linalg.norm(U, axis=1)))
            else:
                F = loss.value(f, y) + beta * float(np.sqrt(_rowdot(U, U)).sum())
            if it and ws_gap < 1e3 * tol:
                # An interior point has every group non-zero: near the end, the network with
                # the negligible groups removed is often better (and equally certified).
                un = np.linalg.norm(Ufull, axis=1)
                for thr in (1e-6, 1e-8):
                    small = (un > 0) & (un < thr * un.max())
                    if small.any():
                        Ut = Ufull.copy()
                        Ut[small] = 0.0
                        if relu:
                            Ft = net_objective(Ut)
                        else:
                            # from the carried products Z = X U^T: the predictions less the
                            # small groups' terms (an n x |small| sum, not an n x d x P product)
                            sw = small[idx]
                            Ft = loss.value(f - np.einsum("ik,ik->i", Sw[:, sw], Z[:, sw]), y) \
                                + beta * float(np.linalg.norm(Ut, axis=1).sum())
                        if Ft < F:
                            F, Ufull = Ft, Ut
                            break
            sc = 1.0 if hmax <= beta else beta / hmax
            lb = loss.dual_value(sc * mu, y)
            gap = (F - lb) / max(abs(F), 1e-300)
            ws_gap = gap  # the gap over the working set alone
            if hmax > h_ws:
                sc_ws = 1.0 if h_ws <= beta else beta / h_ws
                ws_gap = (F - loss.dual_value(sc_ws * mu, y)) / max(abs(F), 1e-300)
            violators = np.zeros(0, dtype=int)
            if ws_gap <= tol and gap > tol and dropped.size and price_out:
                # the working set is solved: price what was left out exactly
                gx, hx = outside_values(mu, max(h_ws, beta))
                hmax = max(h_ws, float(hx.max(initial=0.0)))
                sc = 1.0 if hmax <= beta else beta / hmax
                lb = loss.dual_value(sc * mu, y)
                gap = (F - lb) / max(abs(F), 1e-300)
                if gap > tol:
                    violators = np.intersect1d(gx[hx > max(h_ws, beta)], dropped)
            elif gap <= tol and excluded.size:
                hx = excluded_values(mu)
                if hx.size and float(hx.max()) > hmax:
                    hmax = float(hx.max())
                    sc = 1.0 if hmax <= beta else beta / hmax
                    lb = loss.dual_value(sc * mu, y)
                    gap = (F - lb) / max(abs(F), 1e-300)
            rec = {"time": time.perf_counter() - t0, "iter": it, "objective": F,
                   "lower_bound": lb, "criterion": gap, "mu": mu_c,
                   "max_violation": hmax / beta, "n_working": int(K)}
            history.append(rec)
            if callback is not None:
                callback(rec)
            point = {"gap": gap, "F": F, "lower": lb, "mu": sc * mu, "U": Ufull,
                     "Zl": Zl, "idx": idx}
            # The best point: the lowest certified gap -- or, in a round that leaves the groups
            # outside its working set to the caller (max_rounds=1), the lowest gap over the
            # working set: there the loose bound of the outside groups dominates the global
            # gap (it jumps at the screening and stays flat), and picking by it returned a
            # pre-screening iterate far from the working set's optimum when the round ended
            # at the limit of double precision instead of at tol (a planted instance at
            # tol = 1e-7: the polish then failed).
            key = ws_gap if dropped.size and not price_out else gap
            if key < best_key:
                best, best_key = point, key
            if gap <= tol:
                status = SolverStatus.CONVERGED
                break
            if violators.size or (ws_gap <= tol and dropped.size and not price_out):
                # The working set is solved and groups outside it violate their dual
                # constraint: return this point; the caller restarts with them. (Bringing them
                # into this run does not work: an interior point near the end cannot grow a
                # new group from the path's small size -- the steps jam.)
                best = point
                info_base.update(violating_groups=violators, working_groups=idx)
                break
            if it >= max_iter:
                break
            if deadline is not None and time.perf_counter() > deadline:
                status = SolverStatus.TIME_LIMIT
                break
            # ---- working set: screen out the groups far from the support
            if screen and n_screen < len(SCREEN_AT) and it == SCREEN_AT[n_screen]:
                n_screen += 1
                un = np.linalg.norm(U, axis=1)
                out = np.zeros(0, dtype=int)
                if relu:
                    # by pattern: idx is [v groups; w groups of the same patterns] (sorted),
                    # which the paired factorization relies on
                    half = K // 2
                    m = max(SCREEN_MIN // 2, int(np.ceil(SCREEN_KEEP * half)))
                    if m < half:
                        order = np.argsort(-np.maximum(un[:half], un[half:]), kind="stable")
                        out = np.sort(order[m:])
                        out = np.r_[out, out + half]
                else:
                    m = max(SCREEN_MIN, int(np.ceil(SCREEN_KEEP * K)))
                    if m < K:
                        out = np.sort(np.argsort(-un, kind="stable")[m:])
                if out.size:
                    sel = np.ones(K, dtype=bool)
                    sel[out] = False
                    dropped = np.sort(np.r_[dropped, idx[out]])
                    lam_out = None
                    idx = idx[sel]
                    s_soc, zs, r_s, r_z = s_soc[sel], zs[sel], r_s[sel], r_z[sel]
                    keep = np.flatnonzero(sel)  # take: C-ordered, as for Sw above
                    Z, Sw = Z.take(keep, axis=1), Sw.take(keep, axis=1)
                    if Cw is not None and sl is not None and Zl is not None:
                        Cw, sl, Zl = (Cw.take(keep, axis=1), sl.take(keep, axis=1),
                                      Zl.take(keep, axis=1))
                    K = idx.size
                    nu = K + (0 if Cw is None else nv * K)
                    U = s_soc[:, 1:]
                    f = _rowdot(Sw, Z)
                    continue  # the certificate and residuals at the reduced point
            it += 1
            # ---- Newton system
            hL = loss.hessian_diag(f, y)
            E = np.sqrt(np.maximum(hL, 0.0))
            if XXt is not None:
                # Gated, structured: the same Mehrotra step as the general branch below, each
                # part one call of a fused kernel (:mod:`._cone_kernels`, gated_*) where the
                # general branch makes 5-15 array operations.
                ok = False
                if kern.gated_step is not None:
                    # the same step in one compiled call (see gated_step); not ok: the
                    # factorization failed, and the Python path below repairs it
                    if work_step is None or work_step.size < (3 * K + n) * n:
                        work_step = np.empty((3 * K + n) * n)
                    ok, dx, dz_s, dZ, a_max = kern.gated_step(
                        s_soc, zs, r_s, r_z, Sw, E, X, XXt, r_t, r_u, comp, mu_c, REFINE_W0,
                        kern.lapack, work_step)
                if not ok:
                    gk = _GatedKKT(X, Sw, E, XXt,
                                   kern.gated_scaling(s_soc, zs, r_s, r_z, Sw, E, X))
                    nt = gk.nt
                    dx, dz_s, _, a_aff = gk.direction(-gk.lamlam, r_t, r_u, s_soc, r_s, zs, r_z,
                                                      predictor=True)
                    rc = kern.gated_corrector(s_soc, dx, zs, dz_s, min(1.0, a_aff), gk.lamlam,
                                              nt.w0, nt.w1, nt.c, nt.eta, comp, mu_c)
                    dx, dz_s, dZ, a_max = gk.direction(rc, r_t, r_u, s_soc, r_s, zs, r_z)
                a = min(1.0, 0.99 * a_max)
            else:
                nt = _NTScaling(s_soc, zs, r_s, r_z)
                lam = nt.apply(zs)
                detl = np.sqrt(r_s * r_z)
                wl = None
                B = nt.inv2_dense()
                if Cw is not None:
                    wl = Zl / sl
                    B[:, 1:, 1:] += (wl.T @ XXu)[:, sym].reshape(K, d, d)
                kkt = _KKT(X, Sw, B, E, paired=relu, gram_threads=gram_threads)
                step = _Step(X, Xv, valid, Cw, kkt, lam, detl, nt, wl, r_t, r_u,
                             s_soc, r_s, zs, r_z, sl, Zl)
                # predictor (affine scaling)
                lamlam = _jprod(lam, lam)
                dx, dZ, dz_s, ds_l, dz_l, r_lin = step.direction(-lamlam,
                                                                 None if Zl is None else -Zl)
                a_aff = min(1.0, step.max_step(dx, dz_s, r_lin))
                comp_a = float(np.sum((s_soc + a_aff * dx) * (zs + a_aff * dz_s)))
                if Cw is not None:
                    comp_a += float(kern.lin_comp(sl, ds_l, Zl, dz_l, a_aff, a_aff))
                sigma = min(1.0, max(comp_a, 0.0) / comp) ** 3
                # corrector (Mehrotra second-order term, centering sigma mu)
                Wds = nt.apply(dx, inverse=True)
                Wdz = nt.apply(dz_s)
                rc = -lamlam - _jprod(Wds, Wdz)
                rc[:, 0] += sigma * mu_c
                Wq_l = None
                if Cw is not None:
                    Wq_l = kern.lin_corrector(sl, Zl, ds_l, dz_l, sigma * mu_c)
                dx, dZ, dz_s, ds_l, dz_l, r_lin = step.direction(rc, Wq_l)
                a = min(1.0, 0.99 * step.max_step(dx, dz_s, r_lin))
            if not np.isfinite(a) or a <= 0:
                status = SolverStatus.NUMERICAL_ERROR
                break
            n_small = n_small + 1 if a < 1e-3 else 0
            if n_small >= 5:  # jammed at the limit of double precision
                stalled = True
                break
            # the step; the carried cone residuals guarded against drift (never above the
            # direct value's order, never non-positive)
            if XXt is not None:
                s_soc, zs, r_s, r_z, Z, f = kern.gated_update(s_soc, zs, r_s, r_z, dx, dz_s, a,
                                                              Z, dZ, Sw)
            else:
                r_s = r_s + _dr(s_soc, dx, a)
                r_z = r_z + _dr(zs, dz_s, a)
                s_soc = s_soc + a * dx
                zs = zs + a * dz_s
                r_s = np.maximum(r_s, 1e-3 * np.maximum(
                    s_soc[:, 0] ** 2 - _rowdot(s_soc[:, 1:], s_soc[:, 1:]), 1e-300))
                r_z = np.maximum(r_z, 1e-3 * np.maximum(
                    zs[:, 0] ** 2 - _rowdot(zs[:, 1:], zs[:, 1:]), 1e-300))
                Z = Z + a * dZ
                f = _rowdot(Sw, Z)
            U = s_soc[:, 1:]
            if Cw is not None:
                sl = sl + a * ds_l
                Zl = Zl + a * dz_l
    except KeyboardInterrupt:
        status = SolverStatus.INTERRUPTED

    if "U" not in best:  # non-finite at the very start: return zeros
        Ub = np.zeros((G, d))
        F = net_objective(Ub)
        best = {"gap": np.inf, "F": F, "lower": -np.inf, "mu": None, "U": Ub, "Zl": None}
    Ub = best["U"]
    # Trim negligible groups (an interior point has every group non-zero) when the
    # certified gap stays within the tolerance (or does not grow by more than tol / 10).
    un = np.linalg.norm(Ub, axis=1)
    if un.size and un.max() > 0 and np.isfinite(best["gap"]):
        for thr in (1e-6, 1e-8, 1e-10):
            small = (un > 0) & (un < thr * un.max())
            if not small.any():
                continue
            Ut = Ub.copy()
            Ut[small] = 0.0
            Ft = net_objective(Ut)
            gt = (Ft - best["lower"]) / max(abs(Ft), 1e-300)
            if gt <= max(tol, best["gap"]) or gt <= best["gap"] + 0.1 * tol:
                best.update(U=Ut, F=Ft, gap=gt)
                Ub = Ut
                break
    if not relu and np.isfinite(best["gap"]):
        Fx = net_objective(Ub)  # exact F of the returned point (the loop used carried f)
        best.update(F=Fx, gap=(Fx - best["lower"]) / max(abs(Fx), 1e-300))
    if status is SolverStatus.CONVERGED and not best["gap"] <= tol:
        status = SolverStatus.MAX_ITER
    elif best["gap"] <= tol and status is not SolverStatus.INTERRUPTED:
        status = SolverStatus.CONVERGED  # the trimmed network is certified
    lam_full = None
    if best.get("Zl") is not None:
        lam_full = np.zeros((n, G))
        lam_full[np.ix_(valid, best["idx"])] = best["Zl"]
    return SolverResult(
        V=Ub[:P], W=Ub[P:] if relu else None, objective=best["F"], lower_bound=best["lower"],
        criterion=best["gap"], n_iter=it, status=status, history=history, dual=best["mu"],
        info={**info_base, "n_groups_solved": int(K), "time": time.perf_counter() - t0,
              "multipliers": lam_full,
              "stalled": stalled})
