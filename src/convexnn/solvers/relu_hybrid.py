"""ReLU model on small data: interior point, then a sparse active-set Newton polish.

The structured interior-point method (:mod:`.interior_point`) solves the cone-constrained
ReLU program ([PE20], SPEC §2) to a ``1e-6`` gap in about twenty Newton steps, but, like every
path-following method, it stops *inside* the cones: the groups that are zero at the optimum
are small, not zero (fertility: 70 groups above 1e-8 of the largest, 38 in the optimum), and
no cone row is exactly tight. The polish

1. zeroes the groups whose norm is at most ``SCREEN_REL`` (``1e-3``) times the largest (on
   fertility, hepatitis and pima this left exactly the optimal support: every remaining group
   had an exact dual-constraint value ``>= beta (1 - 1e-4)``, every zeroed one less);
2. reads the *active cone rows* of each kept group off the interior point -- the rows with
   slack ``C_k x_k^T u <= ROW_TOL ||u|| ||x_k||`` (``1e-5``): complementarity makes the
   slacks of the active rows tiny and those of the others of order ``||u|| ||x_k||`` -- and
   starts the primal active-set Newton method of :mod:`.active_set` there (its warm start
   with that row tolerance; where those rows leave no feasible direction it retries smaller
   tolerances for that group). With the support and the active rows right the reduced problem
   is smooth and Newton converges quadratically: 2-15 steps, gaps of ``1e-9``..``1e-15``;
3. if that does not certify ``tol`` within ``NEWTON_STEPS`` (15; ``NEWTON_STEPS_SCREENED``,
   30, after a screened interior point) steps, runs the
   cone-constrained FISTA of :mod:`.relu_fista` (exact projections, working set) from the
   screened point of step 1. On data with many tied rows (the integer-coded monks sets,
   congressional-voting) this fallback used to run: Newton was stopped by zero-length steps
   at round-off blocks and released redundant rows after the optimum
   (:data:`.active_set.ROW_BLOCK_TOL` and ``_ActiveSetNewton._stationary``); since then
   Newton certifies all 30 UCI sets of the benchmark within the step budget (monks-1 26,
   monks-2 24 steps; breast-cancer 22, was 30 and FISTA).

The interior point runs over a working set (``screen=True, max_rounds=1`` of
:func:`.interior_point.solve_ipm`): from its 8th and 12th steps only the 65 % of the
patterns with the largest norms stay in the solve, and it returns once that working set is
solved; the polish prices every group and adds any that the screening dropped wrongly. Whole
hybrid, screened vs not (29 UCI sets with n <= 800, P = 250, one run each, same machine):
median 1.26x faster, 0.87-1.62x, the same ``F`` to 1e-15 on every set; the monks sets (FISTA
polish) 0.87-1.03x.

Either way the result carries the global certificate (duality gap over *all* patterns) of the
solver that produced it; the thresholds only affect speed. (Zeroing the small groups moves
``F`` by up to 5e-4 relative -- many tiny groups add up -- so the polish is needed, not just
a re-check.)

Measured (2 cores, P = 250 sampled gates, bias column, ``beta = 1e-2``, squared loss,
``tol = 1e-6``; whole estimator fit, seconds; the same ``F`` as cold FISTA to 1e-10 and 2e-7
to 1e-6 relative below the interior point's): fertility 0.39 (cold FISTA 3.66, active-set
Newton 2.18, interior point alone 0.25-0.35), hepatitis 0.84 (8.05, 17.2), statlog-heart 0.96
(4.73, 5.16), heart-hungarian 0.97 (4.01, 4.21), ionosphere 3.40 (17.7, 24.4), pima 2.71
(2.53, 5.33), yacht 0.77; with the FISTA fallback monks-1 0.56 (the polish alone: Newton
0.13 s without a certificate, then FISTA 0.56 s; FISTA directly 0.25 s). Neurons:
those of FISTA / the active-set method (fertility 38, hepatitis 61, pima 34; the interior
point alone 70, 86, 92). Logistic loss: hepatitis 1.09 (newton 3.66, FISTA 3.37),
statlog-heart 1.08 (2.30, 1.50). Tried: screening at ``1e-4`` / ``1e-2`` (no faster), a
looser interior-point tolerance (``1e-4``, ``1e-5``: at most 3 steps fewer), row tolerances
``1e-9`` (the default warm start: 140-550 Newton steps, the rows join one ratio test at a
time), ``1e-6`` and ``1e-4`` (each best on some sets, 1e-5 the best compromise), FISTA as
the only polish (0.3-1.3 s: its tail is slow).

Each interior-point step costs ``O(n^2 P d)`` (the paired factorization of
:class:`.interior_point._KKT`); on concrete (n = 927) the interior point alone took 7.1 s
against 4.1 s for cold FISTA, so the estimators use this hybrid only while
:func:`use_relu_hybrid` holds. Re-measured after the paired factorization and with every
phase under one BLAS thread (quiet machine, whole hybrid vs cold ``relu_fista``, seconds):
fertility 0.13 vs 1.07, hepatitis 0.39 vs 2.64, statlog-heart 0.50 vs 1.59, ionosphere 1.97
vs 9.65, cylinder-bands 3.58 vs 18.3, breast-cancer-wisc-diag 2.45 vs 5.26, bostonHousing
1.22 vs 1.62, yacht 0.36 vs 0.75 -- but FISTA is faster on the low-``d`` sets near the size
limit: pima 1.42 vs 1.27, credit-approval 2.10 vs 1.53, ilpd 0.91 vs 0.74, energy 1.29 vs
1.08, statlog-german-credit 4.38 vs 3.82, concrete 2.96 vs 1.53 (the limit stays at n = 800:
where FISTA wins it wins by <= 1.4x, where the hybrid wins by up to 5x). Re-measured
on 2026-12-03 after the working set and the cheaper pricing (the figures at :data:`MAX_N`), the
hybrid won on all of these and up to n = 1,902, so the limit moved to n = 2,000.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .._backend import blas_threads, to_numpy
from ..losses import Loss
from ._result import SolverResult, chain_results
from .active_set import solve_active_set
from .interior_point import solve_ipm
from .relu_fista import solve_relu_fista

__all__ = ["solve_relu_hybrid", "use_relu_hybrid", "MAX_N", "MAX_N_LOGISTIC", "MAX_WORK",
           "MIN_TOL", "SCREEN_REL"]

#: Largest ``n`` for which the estimators use the hybrid. Re-measured after the working set,
#: the target compaction of the pricing and the cached masks (2026-12-03, whole fit, hybrid
#: vs cold FISTA, P = 250, the same ``F`` to 1e-9 or lower): pima (n = 576) 0.73 vs 1.69 s,
#: credit-approval (518) 0.89 vs 2.54, ilpd (437) 0.53 vs 1.59, energy (691) 0.65 vs 1.14,
#: statlog-german-credit (750) 3.8 vs 8.6, concrete (927) 2.0 vs 3.7, wine-quality-red
#: (1,439) 3.5 vs 4.1, titanic (1,651, d 4) 1.2 vs 2.3, ozone (1,902, d 73) 36 vs 75 s. The
#: limit was n = 800 (concrete had gone to FISTA); the ``n x n`` factorization of a step grows
#: as ``n^3``, so the limit stays where it was measured.
MAX_N = 2000
#: The same for the logistic loss (its interior point takes more steps). Measured with the
#: first version of the polish (FISTA only): hepatitis (n = 116) 1.81 s vs 3.37 s for cold
#: FISTA, statlog-heart (203) 1.58 vs 1.50, pima (576) 2.91 vs 1.68; with the Newton polish
#: hepatitis 1.09 s and statlog-heart 1.08 s (pima not re-measured in hybrid mode).
MAX_N_LOGISTIC = 300
#: Largest ``n^2 P d`` (the flops of one Newton system) for which they use it: ozone's
#: 1,902^2 x 250 x 73 = 6.6e10, measured above (was 5e9, which left wine-quality-red to FISTA). Its
#: ``(n, P d)`` factor takes ``8 MAX_WORK / n`` bytes: 280 MB at n = 2,000.
MAX_WORK = 7e10
#: Smallest ``tol`` for which the estimators use it (or cold FISTA): FISTA's tail is slow at
#: tighter gaps (tol 1e-9 on an enumerated d = 3 instance: the gap stalls at 3e-8 after
#: 10,000 iterations; the active-set Newton method reaches 1.7e-14 in 281 steps).
MIN_TOL = 1e-7
#: Groups with norm <= SCREEN_REL x the largest are zeroed before the polish.
SCREEN_REL = 1e-3
#: Interior-point steps at most (it needs 15-35 on UCI sets).
MAX_IPM_ITER = 100
#: Newton steps of the active-set polish before the FISTA fallback (it certified within 2-15
#: steps on the UCI sets where it works; see the module docstring).
NEWTON_STEPS = 15
#: The same when the interior point left groups out (screening) and so did not certify: the
#: polish may also have to add violators.
NEWTON_STEPS_SCREENED = 30
#: A cone row of a kept group starts active when its slack is at most ROW_TOL ||u|| ||x_k||.
ROW_TOL = 1e-5


def use_relu_hybrid(n: int, d: int, P: int, loss: str = "squared") -> bool:
    """Whether :func:`solve_relu_hybrid` is the estimators' choice for this size and loss
    (when ``tol >= MIN_TOL``)."""
    limit = MAX_N_LOGISTIC if loss == "logistic" else MAX_N
    return n <= limit and float(n) * n * P * d <= MAX_WORK


# One BLAS thread for every phase (n <= MAX_N here): as for the gated hybrid, two
# OpenBLAS threads on this 2-core machine slow the small factorizations down.
@blas_threads(1)
def solve_relu_hybrid(
    X: Any,
    y: Any,
    masks: Any,
    loss: Loss,
    beta: float,
    *,
    gates: Any = None,
    tol: float = 1e-6,
    max_iter: int = 100_000,
    time_limit: float | None = None,
    callback: Any = None,
) -> SolverResult:
    """Solve the ReLU program by the interior-point method, then polish to a sparse optimum.

    Parameters
    ----------
    X : array (n, d); y : array (n,); masks : bool array (n, P)
    loss : Loss
    beta : float
    gates : array (d, P), optional
        Interior points of the patterns' cones (passed to the interior-point method).
    tol : float
        Relative duality gap over all the patterns, for both phases.
    max_iter : int
        Interior-point steps, Newton steps and FISTA iterations, in all.
    time_limit : float, optional
        Seconds for all phases together.
    callback : callable, optional
        Called with each history record of every phase (times from each phase's start).

    Returns
    -------
    SolverResult
        The polished result (``V``, ``W`` of shape (P, d); ``info["polish"]`` is ``"newton"``
        or ``"fista"``), or the interior point's if the polish stopped early with a larger gap
        (``"none"`` when no budget was left); ``n_iter`` counts every phase, ``history`` holds
        the interior-point records then the certifying polish's (times from the start),
        ``info["ipm_time"]``, ``info["ipm_iter"]``, ``info["ipm_groups_solved"]`` (the
        interior point's working set at its end) and ``info["n_screened"]`` (groups zeroed
        before the polish).
    """
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit

    def left() -> float | None:
        return None if deadline is None else max(deadline - time.perf_counter(), 1e-3)

    Xa = np.asarray(to_numpy(X), dtype=np.float64)
    ya = np.asarray(to_numpy(y), dtype=np.float64)
    M = np.asarray(to_numpy(masks)).astype(bool)
    ipm = solve_ipm(Xa, ya, M, loss, beta, model="relu", gates=gates, tol=tol,
                    max_iter=max(min(max_iter - 1, MAX_IPM_ITER), 1), time_limit=time_limit,
                    callback=callback, screen=True, max_rounds=1)
    t_ipm = time.perf_counter() - t0
    U = np.concatenate([np.asarray(ipm.V, dtype=np.float64),
                        np.asarray(ipm.W, dtype=np.float64)])
    norms = np.linalg.norm(U, axis=1)
    top = float(norms.max()) if norms.size else 0.0
    screened = (norms <= SCREEN_REL * top) & (norms > 0)
    U[screened] = 0.0
    info = {"ipm_time": t_ipm, "ipm_iter": ipm.n_iter, "n_screened": int(screened.sum()),
            "ipm_groups_solved": ipm.info.get("n_groups_solved")}
    spent = 0   # polish steps that did not certify

    def finish(res: SolverResult, t_res: float, polish: str) -> SolverResult:
        out = chain_results(ipm, res, t_res, {**info, "polish": polish,
                                              "time": time.perf_counter() - t0})
        out.n_iter += spent
        return out

    def exhausted() -> bool:
        return max_iter - ipm.n_iter - spent <= 0 or (
            deadline is not None and time.perf_counter() >= deadline)

    if exhausted():
        return finish(ipm, t_ipm, "none")
    newton = solve_active_set(Xa, ya, M, loss, beta, model="relu", gates=gates, U0=U, tol=tol,
                              max_iter=min(NEWTON_STEPS if ipm.status.converged else
                                           NEWTON_STEPS_SCREENED, max_iter - ipm.n_iter),
                              time_limit=left(), callback=callback, warm_row_tol=ROW_TOL,
                              lam0=ipm.info.get("multipliers"))
    if newton.status.converged:
        return finish(newton, t_ipm, "newton")
    # The Newton polish did not certify: FISTA from the screened interior point (not from
    # Newton's iterate, which may have dropped the groups it could not start from).
    spent = newton.n_iter
    if exhausted():
        return finish(ipm, t_ipm, "none")
    t_f = time.perf_counter() - t0
    res = solve_relu_fista(Xa, ya, M, loss, beta, U0=U, tol=tol,
                           max_iter=max_iter - ipm.n_iter - spent, time_limit=left(),
                           callback=callback)
    return finish(res, t_f, "fista")
