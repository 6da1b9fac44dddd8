"""Accelerated proximal gradient (FISTA) with backtracking and adaptive restart, for
``min_U phi(X U^T) + beta * sum_g ||u_g||_2`` where ``phi`` acts on the (n, G) matrix
``Z = X U^T`` of per-group pre-activations.

Both convex programs have this form: the gated model ([MSP22]) with
``phi(Z) = L(rowsum(D * Z))``, and the augmented-Lagrangian subproblem of the ReLU model with
``phi(Z) = L(rowsum(S * Z)) + (1/2rho) ||(lam - rho C * Z)_+||^2``.

Numerical choices:

* ``Z`` is linear in ``U``, so the extrapolated point's ``Z_y = Z_x + theta (Z_x - Z_prev)``
  costs no GEMM: one forward GEMM (for the new iterate) and one adjoint GEMM (for the gradient)
  per iteration; a backtracking step costs one more forward GEMM.
* The step is ``1/L`` with ``L`` tried 10 % smaller at each iteration and doubled on failure of
  the sufficient-decrease test (Beck & Teboulle 2009), so it tracks the local curvature.
* Momentum is reset when ``(y - x_new) . (x_new - x) > 0`` (O'Donoghue & Candès 2015, gradient
  restart), which restores linear convergence on the (locally) strongly convex problems here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._backend import array_namespace

__all__ = ["group_norms", "prox_group_l1", "fista", "FistaState", "roundoff_slack"]


def group_norms(U: Any) -> Any:
    """Row norms ``||u_g||_2`` of a (G, d) array."""
    xp = array_namespace(U)
    return xp.linalg.vector_norm(U, axis=1)


def prox_group_l1(U: Any, thresh: float) -> Any:
    """Block soft-thresholding ``u_g max(0, 1 - thresh / ||u_g||)``: the prox of
    ``thresh * sum_g ||u_g||``."""
    xp = array_namespace(U)
    nrm = group_norms(U)
    scale = xp.where(nrm > thresh, 1.0 - thresh / xp.where(nrm > 0, nrm, xp.ones_like(nrm)), 0.0)
    return U * scale[:, None]


@dataclass
class FistaState:
    """Iterate of :func:`fista`, kept between calls for warm starts."""

    U: Any
    Z: Any
    L: float
    n_iter: int = 0


def roundoff_slack(U: Any) -> float:
    """Relative round-off allowance of a sufficient-decrease test in ``U``'s precision.

    The objective values are sums in the working precision: in float32 an allowance of 1e-12
    made every test fail near the solution and doubled L to 1e300 (NUMERICAL_ERROR after 426
    iterations of the ReLU AL on n = 60, P = 30)."""
    return 1e-12 if U.dtype == array_namespace(U).float64 else 1e-5


def fista(
    X: Any,
    state: FistaState,
    phi: Callable[[Any, bool], tuple[float, Any]],
    beta: float,
    *,
    max_iter: int,
    stop: Callable[[FistaState, int], bool] | None = None,
    grad_tol: float | None = None,
    check_every: int = 10,
    deadline: float | None = None,
) -> tuple[FistaState, str]:
    """Run FISTA from ``state`` for at most ``max_iter`` iterations.

    Parameters
    ----------
    X : array (n, d)
    state : FistaState
        Starting point (``Z`` must equal ``X U^T``) and the current curvature estimate ``L``.
    phi : callable ``phi(Z, need_grad) -> (value, dphi/dZ or None)``
    beta : float
        Weight of the group-l1 penalty.
    stop : callable ``stop(state, it) -> bool``, optional
        Called every ``check_every`` iterations; True ends the run ("stop").
    grad_tol : float, optional
        End the run ("grad") when the gradient-mapping norm ``L ||x_new - y||`` is below it.
    deadline : float, optional
        ``time.perf_counter()`` value after which the run ends ("time").

    Returns
    -------
    state, reason : FistaState, str
        ``reason`` in {"stop", "grad", "max_iter", "time", "nonfinite", "stall"} ("stall":
        the line search failed at every step length, the round-off floor).
    """
    xp = array_namespace(state.U)
    U, Z, L = state.U, state.Z, state.L
    Uy, Zy = U, Z
    t = 1.0
    val_y, Gz = phi(Zy, True)
    grad = Gz.T @ X
    slack = roundoff_slack(U)
    for it in range(1, max_iter + 1):
        L = max(0.9 * L, 1e-300)
        L_it = L
        while True:
            U_new = prox_group_l1(Uy - grad / L, beta / L)
            Z_new = X @ U_new.T
            val_new, _ = phi(Z_new, False)
            diff = U_new - Uy
            quad = float(xp.sum(grad * diff)) + 0.5 * L * float(xp.sum(diff * diff))
            # Relative slack guards the test against round-off once converged.
            if val_new <= val_y + quad + slack * (abs(val_y) + abs(val_new)):
                break
            if not (val_new == val_new) or L > 1e300:  # NaN or runaway curvature
                state.U, state.Z, state.L = U, Z, L
                return state, "nonfinite"
            if L > 1e6 * L_it:
                # The test fails at every step length: the round-off floor of the working
                # precision; keep the last iterate.
                state.U, state.Z, state.L = U, Z, L_it
                return state, "stall"
            L *= 2.0
        gm = L * float(xp.linalg.vector_norm(diff))  # gradient-mapping norm
        # Gradient-based adaptive restart.
        if float(xp.sum((Uy - U_new) * (U_new - U))) > 0:
            t = 1.0
        t_new = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
        theta = (t - 1.0) / t_new
        Uy = U_new + theta * (U_new - U)
        Zy = Z_new + theta * (Z_new - Z)
        U, Z, t = U_new, Z_new, t_new
        state.U, state.Z, state.L = U, Z, L
        state.n_iter += 1
        if grad_tol is not None and gm <= grad_tol:
            return state, "grad"
        if stop is not None and it % check_every == 0 and stop(state, it):
            return state, "stop"
        if deadline is not None and time.perf_counter() > deadline:
            return state, "time"
        val_y, Gz = phi(Zy, True)
        grad = Gz.T @ X
    return state, "max_iter"
