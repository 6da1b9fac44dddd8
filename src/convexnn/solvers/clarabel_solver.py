"""Direct Clarabel solver: the convex programs of SPEC §2 as one sparse conic program.

The same programs as :mod:`.cvxpy_solver` (ReLU cone-constrained program of [PE20]_ Thm 1, and
the gated group lasso of [MSP22]_), but the conic form is built here with vectorized NumPy COO
construction and handed to ``clarabel.DefaultSolver`` directly: no CVXPY canonicalization, so it
is cheap enough to be called repeatedly on small working sets of patterns.

Conic form (Clarabel: ``min 1/2 x'Px + q'x  s.t.  A x + s = b,  s in K``). Groups ``g = 1..G``:
for the ReLU model ``G = 2P`` with blocks ``u = [v_1..v_P, w_1..w_P]``, signs ``S_g = D_i`` /
``-D_i`` and cone matrices ``C_g = 2 D_i - I`` for both halves; for the gated model ``G = P``,
``S_g = D_i`` and no cone constraints. With ``M u = sum_g S_g X u_g`` (the prediction):

* squared loss, variables ``[u (G d), t (G), r (n)]``::

      min (1/2n) ||r||^2 + beta sum_g t_g
      s.t. r - M u = -y                          (zero cone, dual mu)
           C_g X u_g >= 0                        (nonnegative cone, dual lam_g; ReLU only)
           ||u_g|| <= t_g                        (second-order cones)

* logistic loss, variables ``[u, t, f (n), s (n), a (n), c (n)]``; ``s_k >= log(1 + e^{z_k})``,
  ``z_k = -y_k f_k``, written as ``e^{-s_k} + e^{z_k - s_k} <= 1``::

      min (1/n) sum_k s_k + beta sum_g t_g
      s.t. f - M u = 0                           (zero cone, dual mu)
           C_g X u_g >= 0,  a_k + c_k <= 1       (nonnegative cone)
           ||u_g|| <= t_g                        (second-order cones)
           (-s_k, 1, a_k), (z_k - s_k, 1, c_k) in K_exp

  with Clarabel's ``K_exp = cl{(x, y, z) : y > 0, y e^{x/y} <= z}`` (checked numerically: the
  program ``max x s.t. (x, 1, 2) in K_exp`` returns ``log 2``).

Multipliers. Clarabel's dual ``z`` satisfies ``P x + q + A' z = 0`` with ``z in K*``. For the zero
cone this gives ``mu = -grad L(f)`` (from the ``r`` / ``f`` rows), and the ``u_g`` rows give
``X'(S_g mu + C_g lam_g) = -z_u``, ``||z_u|| <= z_t = beta``: the duals ``lam_g >= 0`` of the
nonnegativity rows (the ``-C_g X`` rows of ``A``) are the multipliers of SPEC §3's restricted dual
with no sign change. They are returned as ``info["multipliers"]`` (``(n, G)``, same group order;
zeros for the gated model, so the same stationarity formula applies to both models).

.. [PE20] Pilanci & Ergen, Neural Networks are Convex Regularizers, ICML 2020.
.. [MSP22] Mishkin, Sahiner & Pilanci, Fast Convex Optimization for Two-Layer ReLU Networks,
   ICML 2022.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..losses import get_loss
from ._result import SolverResult, SolverStatus

__all__ = ["solve_clarabel"]


def _scaled_blocks(X: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, ...]:
    """COO triplets of the blocks ``diag(S[:, g]) X``, skipping zero coefficients.

    Returns ``(k, g, col, val)``: sample index, group index, column ``g d + j`` in the ``u``
    block, and value ``S[k, g] X[k, j]``; explicit zeros are dropped.
    """
    d = X.shape[1]
    kk, gg = np.nonzero(S)
    vals = (S[kk, gg][:, None] * X[kk]).ravel()
    cols = (gg[:, None] * d + np.arange(d)).ravel()
    k_rep = np.repeat(kk, d)
    g_rep = np.repeat(gg, d)
    keep = vals != 0
    return k_rep[keep], g_rep[keep], cols[keep], vals[keep]


def solve_clarabel(
    X: np.ndarray,
    y: np.ndarray,
    masks: np.ndarray,
    beta: float,
    *,
    model: str = "relu",
    loss: str = "squared",
    tol: float = 1e-10,
    U0: Any = None,
    max_iter: int = 200,
    verbose: bool = False,
    direct_solve_method: str | None = None,
) -> SolverResult:
    """Solve the ReLU (cone-constrained) or gated convex program with Clarabel directly.

    Parameters
    ----------
    X : ndarray (n, d); y : ndarray (n,); masks : bool ndarray (n, P)
    beta : float
    model : {"relu", "gated"}
    loss : {"squared", "logistic"}
    tol : float
        Clarabel's ``tol_gap_abs``, ``tol_gap_rel`` and ``tol_feas`` (clipped to ``>= 1e-12``).
    U0 : ignored
        Accepted for interface compatibility; Clarabel (an interior-point method) has no warm
        start.
    max_iter : int
    verbose : bool
    direct_solve_method : str or None
        Clarabel's KKT factorization (``"qdldl"``, ``"faer"``, ...); None keeps its default.

    Returns
    -------
    SolverResult
        ``status`` is CONVERGED (Clarabel ``Solved``), MAX_ITER (``AlmostSolved``: reduced
        accuracy) or SOLVER_ERROR (anything else; the last iterate is still returned when it is
        finite). ``objective`` is recomputed in NumPy from the returned blocks. ``lower_bound`` is
        the dual value ``-L*(-c mu)`` at ``mu = -grad L(f)`` scaled by ``c = min(1, beta / g)``
        with ``g = max_g ||X'(S_g mu + C_g lam_g)||`` -- a lower bound on this program (over the
        given patterns). ``info`` holds ``multipliers`` ``(n, G)``, ``mu`` (Clarabel's
        equality dual), ``time``, ``iterations``, ``constraint_violation``, ``clarabel_status``.
    """
    del U0  # no warm start for an interior-point method
    import clarabel
    import scipy.sparse as sp

    if model not in ("relu", "gated"):
        raise ValueError(f"model must be 'relu' or 'gated', got {model!r}")
    if loss not in ("squared", "logistic"):
        raise ValueError(f"loss must be 'squared' or 'logistic', got {loss!r}")
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    D = np.asarray(masks, dtype=np.float64)
    if D.ndim == 1:
        D = D[:, None]
    n, d = X.shape
    P = D.shape[1]
    t0 = time.perf_counter()

    relu = model == "relu"
    if relu:
        S = np.concatenate([D, -D], axis=1)  # (n, G) prediction signs
        Cm = 2.0 * D - 1.0
        C = np.concatenate([Cm, Cm], axis=1)  # (n, G) cone signs
    else:
        S = D
        C = None
    G = S.shape[1]
    Gd = G * d

    # ---- variable layout ------------------------------------------------------------------
    off_t = Gd
    off_f = Gd + G  # r (squared) or f (logistic)
    if loss == "squared":
        nvar = off_f + n
    else:
        off_s = off_f + n
        off_a = off_s + n
        off_c = off_a + n
        nvar = off_c + n

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    b_parts: list[np.ndarray] = []
    cones: list[Any] = []
    ar_n = np.arange(n)

    # ---- zero cone: r - M u = -y  (squared)  /  f - M u = 0  (logistic) ----------------------
    k_i, _, c_i, v_i = _scaled_blocks(X, S)
    rows += [k_i, ar_n]
    cols += [c_i, off_f + ar_n]
    vals += [-v_i, np.ones(n)]
    b_parts.append(-y if loss == "squared" else np.zeros(n))
    cones.append(clarabel.ZeroConeT(n))
    row = n

    # ---- nonnegative cone: C_g X u_g >= 0 (relu), a + c <= 1 (logistic) ----------------------
    n_nonneg = 0
    if relu:
        k_i, g_i, c_i, v_i = _scaled_blocks(X, C)  # type: ignore[arg-type]
        rows.append(row + g_i * n + k_i)
        cols.append(c_i)
        vals.append(-v_i)
        b_parts.append(np.zeros(G * n))
        n_nonneg += G * n
    if loss == "logistic":
        r0 = row + n_nonneg
        rows += [r0 + ar_n, r0 + ar_n]
        cols += [off_a + ar_n, off_c + ar_n]
        vals += [np.ones(n), np.ones(n)]
        b_parts.append(np.ones(n))
        n_nonneg += n
    if n_nonneg:
        cones.append(clarabel.NonnegativeConeT(n_nonneg))
    row_lam = row  # the G*n multiplier rows start here (relu)
    row += n_nonneg

    # ---- second-order cones: (t_g, u_g), slack = -A x ---------------------------------------
    ar_G = np.arange(G)
    rows.append(row + ar_G * (d + 1))
    cols.append(off_t + ar_G)
    vals.append(-np.ones(G))
    j = np.arange(Gd)
    rows.append(row + (j // d) * (d + 1) + 1 + j % d)
    cols.append(j)
    vals.append(-np.ones(Gd))
    b_parts.append(np.zeros(G * (d + 1)))
    cones += [clarabel.SecondOrderConeT(d + 1)] * G
    row += G * (d + 1)

    # ---- exponential cones (logistic) -------------------------------------------------------
    if loss == "logistic":
        # cone 1, rows row + 3k + (0, 1, 2): (-s_k, 1, a_k)
        # cone 2, rows row + 3n + 3k + (0, 1, 2): (-y_k f_k - s_k, 1, c_k)
        r1 = row + 3 * ar_n
        r2 = row + 3 * n + 3 * ar_n
        rows += [r1, r1 + 2, r2, r2, r2 + 2]
        cols += [off_s + ar_n, off_a + ar_n, off_f + ar_n, off_s + ar_n, off_c + ar_n]
        vals += [np.ones(n), -np.ones(n), y.copy(), np.ones(n), -np.ones(n)]
        b_exp = np.zeros(6 * n)
        b_exp[1::3] = 1.0
        b_parts.append(b_exp)
        cones += [clarabel.ExponentialConeT()] * (2 * n)
        row += 6 * n

    A = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(row, nvar)
    )
    b = np.concatenate(b_parts)
    q = np.zeros(nvar)
    q[off_t:off_t + G] = beta
    if loss == "squared":
        Pm = sp.csc_matrix(
            (np.full(n, 1.0 / n), (off_f + ar_n, off_f + ar_n)), shape=(nvar, nvar)
        )
    else:
        q[off_s:off_s + n] = 1.0 / n
        Pm = sp.csc_matrix((nvar, nvar))

    settings = clarabel.DefaultSettings()
    settings.verbose = bool(verbose)
    settings.max_iter = int(max_iter)
    tol = max(float(tol), 1e-12)
    settings.tol_gap_abs = tol
    settings.tol_gap_rel = tol
    settings.tol_feas = tol
    if direct_solve_method is not None:
        settings.direct_solve_method = direct_solve_method
    t_build = time.perf_counter() - t0
    solution = clarabel.DefaultSolver(Pm, q, A, b, cones, settings).solve()

    cstatus = solution.status
    x = np.asarray(solution.x, dtype=np.float64)
    z = np.asarray(solution.z, dtype=np.float64)
    if cstatus == clarabel.SolverStatus.Solved:
        status = SolverStatus.CONVERGED
    elif cstatus == clarabel.SolverStatus.AlmostSolved:
        status = SolverStatus.MAX_ITER
    else:
        status = SolverStatus.SOLVER_ERROR
    ok = x.shape == (nvar,) and z.shape == (row,) and np.all(np.isfinite(x)) and np.all(np.isfinite(z))
    if ok:
        U = x[:Gd].reshape(G, d)
        mu_cl = z[:n].copy()
        lam = z[row_lam:row_lam + G * n].reshape(G, n).T.copy() if relu else np.zeros((n, P))
    else:
        status = SolverStatus.SOLVER_ERROR
        U = np.zeros((G, d))
        mu_cl = np.zeros(n)
        lam = np.zeros((n, G))
    Vv = U[:P].copy()
    Wv = U[P:].copy() if relu else None
    elapsed = time.perf_counter() - t0

    # Objective re-evaluated in NumPy from the solution (not Clarabel's reported value).
    lossf = get_loss(loss)
    Ud = Vv if Wv is None else Vv - Wv
    f = np.sum(D * (X @ Ud.T), axis=1)
    norms = float(np.linalg.norm(U, axis=1).sum())
    obj = lossf.value(f, y) + beta * norms
    viol = 0.0
    if relu:
        viol = float(max(np.max(-(C * (X @ U.T))), 0.0))  # type: ignore[operator]

    # Lower bound from the restricted dual: (c mu, c lam) is dual feasible for c = min(1, beta/g).
    # Two candidate mu's: -grad L(f) at the returned f, and Clarabel's equality dual; keep the
    # better bound (both are valid).
    mu = -lossf.gradient(f, y)
    lower = -np.inf
    dual = mu
    g = np.inf
    for cand in (mu, mu_cl) if ok else ():
        Sl = S * cand[:, None] + (C * lam if relu else 0.0)  # type: ignore[operator]
        g_c = float(np.max(np.linalg.norm(X.T @ Sl, axis=0))) if G else 0.0
        c = 1.0 if g_c <= beta else beta / g_c
        lb = float(lossf.dual_value(c * cand, y))
        if cand is mu:
            g = g_c
        if lb > lower:
            lower, dual = lb, c * cand
    gap = (obj - lower) / max(abs(obj), 1e-300) if np.isfinite(lower) else np.inf

    n_iter = int(solution.iterations)
    return SolverResult(
        V=Vv,
        W=Wv,
        objective=float(obj),
        lower_bound=lower,
        criterion=float(gap),
        n_iter=n_iter,
        status=status,
        history=[{"time": elapsed, "iter": n_iter, "objective": float(obj), "lower_bound": lower,
                  "criterion": float(gap)}],
        dual=dual,
        info={
            "time": elapsed,
            "build_time": t_build,
            "solve_time": float(solution.solve_time),
            "iterations": n_iter,
            "constraint_violation": viol,
            "multipliers": lam,
            "mu": mu_cl,
            "stationarity": g,
            "clarabel_status": str(cstatus),
            "clarabel_objective": float(solution.obj_val),
        },
    )
