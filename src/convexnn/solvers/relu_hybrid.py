"""ReLU model on small data: interior point, then a sparse FISTA polish.

The structured interior-point method (:mod:`.interior_point`) solves the cone-constrained
ReLU program ([PE20], SPEC §2) to a ``1e-6`` gap in about twenty Newton steps, but, like every
path-following method, it converges to the analytic centre of the optimal face: when the
optimum is not unique (the usual case: many patterns can carry the same predictions) it keeps
groups that a vertex solution sets to zero. The polish

1. zeroes the groups whose norm is at most ``SCREEN_REL`` (``1e-3``) times the largest -- at
   the interior-point solution those are the groups of the optimal face's interior that the
   barrier keeps slightly away from zero;
2. runs the cone-constrained FISTA of :mod:`.relu_fista` (exact projections, working set,
   global duality gap over *all* patterns) from that point to the requested gap.

FISTA's prox sets groups to exact zeros and its working set re-admits any group that step 1
removed wrongly, so the screening threshold only affects speed: the result carries the same
global certificate as a cold FISTA solve.

Measured (2 cores, P = 250 sampled gates, bias column, ``beta = 1e-2``, squared loss,
``tol = 1e-6``; seconds, interior point + polish; benchmarks/README.md, this module's
session): fertility 0.30 + 0.28 (cold FISTA 3.66, active-set Newton 2.18), hepatitis 0.96 +
0.63 (8.05, 17.2), heart-hungarian 1.00 + 0.41 (4.01, 4.21), ionosphere 3.38 + 1.28 (17.7,
24.4), pima 2.20 + 0.41 (2.53, 5.33). The polished ``F`` equals cold FISTA's to 1e-10 and is
2e-7 to 1e-6 (relative) below the interior point's; the neurons are those of FISTA / the
active-set method (fertility 38 instead of 70, hepatitis 61 / 86, ionosphere 40 / 64, pima 34
/ 92). Screening thresholds ``1e-4`` and ``1e-2`` and a looser interior-point tolerance
(``1e-4``, ``1e-5``: at most 3 Newton steps fewer, then more FISTA iterations) were no faster.

Each interior-point step costs ``O(n^2 P d)``; on concrete (n = 927) the interior point alone
took 7.1 s against 4.1 s for cold FISTA, so the estimators use this hybrid only while
:func:`use_relu_hybrid` holds.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .._backend import to_numpy
from ..losses import Loss
from ._result import SolverResult, chain_results
from .interior_point import solve_ipm
from .relu_fista import solve_relu_fista

__all__ = ["solve_relu_hybrid", "use_relu_hybrid", "MAX_N", "MAX_N_LOGISTIC", "MAX_WORK",
           "MIN_TOL", "SCREEN_REL"]

#: Largest ``n`` for which the estimators use the hybrid (measured crossover with cold FISTA:
#: pima n = 576 tie, statlog-german-credit n = 750 hybrid faster, concrete n = 927 FISTA).
MAX_N = 800
#: The same for the logistic loss (its interior point takes more steps): hepatitis (n = 116)
#: 1.81 s vs 3.37 s for cold FISTA, statlog-heart (203) 1.58 vs 1.50, pima (576) 2.91 vs 1.68.
MAX_N_LOGISTIC = 300
#: Largest ``n^2 P d`` (the flops of one Newton system) for which they use it.
MAX_WORK = 5e9
#: Smallest ``tol`` for which the estimators use it (or cold FISTA): FISTA's tail is slow at
#: tighter gaps (tol 1e-9 on an enumerated d = 3 instance: the gap stalls at 3e-8 after
#: 10,000 iterations; the active-set Newton method reaches 1.7e-14 in 281 steps).
MIN_TOL = 1e-7
#: Groups with norm <= SCREEN_REL x the largest are zeroed before the polish.
SCREEN_REL = 1e-3
#: Interior-point steps at most (it needs 15-35 on UCI sets).
MAX_IPM_ITER = 100


def use_relu_hybrid(n: int, d: int, P: int, loss: str = "squared") -> bool:
    """Whether :func:`solve_relu_hybrid` is the estimators' choice for this size and loss
    (when ``tol >= MIN_TOL``)."""
    limit = MAX_N_LOGISTIC if loss == "logistic" else MAX_N
    return n <= limit and float(n) * n * P * d <= MAX_WORK


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
        Interior-point steps plus FISTA iterations, in all.
    time_limit : float, optional
        Seconds for both phases together.
    callback : callable, optional
        Called with each history record of either phase.

    Returns
    -------
    SolverResult
        FISTA's result (``V``, ``W`` of shape (P, d)), or the interior point's if the polish
        stopped early with a larger gap; ``n_iter`` counts both phases, ``history`` holds the
        interior-point records then the polish's (times from the start), ``info["ipm_time"]``,
        ``info["ipm_iter"]`` and ``info["n_screened"]`` (groups zeroed before the polish).
    """
    t0 = time.perf_counter()
    Xa = np.asarray(to_numpy(X), dtype=np.float64)
    ya = np.asarray(to_numpy(y), dtype=np.float64)
    M = np.asarray(to_numpy(masks)).astype(bool)
    ipm = solve_ipm(Xa, ya, M, loss, beta, model="relu", gates=gates, tol=tol,
                    max_iter=max(min(max_iter - 1, MAX_IPM_ITER), 1), time_limit=time_limit,
                    callback=callback)
    t_ipm = time.perf_counter() - t0
    U = np.concatenate([np.asarray(ipm.V, dtype=np.float64),
                        np.asarray(ipm.W, dtype=np.float64)])
    norms = np.linalg.norm(U, axis=1)
    top = float(norms.max()) if norms.size else 0.0
    screened = (norms <= SCREEN_REL * top) & (norms > 0)
    U[screened] = 0.0
    remaining = None if time_limit is None else max(time_limit - t_ipm, 1e-3)
    res = solve_relu_fista(Xa, ya, M, loss, beta, U0=U, tol=tol,
                           max_iter=max(max_iter - ipm.n_iter, 1), time_limit=remaining,
                           callback=callback)
    return chain_results(ipm, res, t_ipm, {"time": time.perf_counter() - t0, "ipm_time": t_ipm,
                                           "ipm_iter": ipm.n_iter,
                                           "n_screened": int(screened.sum())})
