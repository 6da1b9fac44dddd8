"""The convex program over a fixed pattern set, in the form the first-order solvers use.

Variables are stacked group-major in ``U`` of shape (G, d): for the gated model ``G = P`` and
row ``i`` is ``u_i``; for the ReLU model ``G = 2P``, rows ``0..P-1`` are the ``v_i`` and rows
``P..2P-1`` the ``w_i``. Two (n, G) arrays describe everything:

* ``S`` -- the signed masks: prediction ``f = rowsum(S * (X U^T))``
  (``S = [D]`` gated, ``S = [D, -D]`` ReLU);
* ``C`` -- the cone signs ``2 D - 1`` (ReLU only): constraint ``C * (X U^T) >= 0``.

Duality (SPEC §3, derived in ``losses``): for a dual point ``mu`` and multipliers
``lam >= 0`` (ReLU only), the Lagrangian is bounded below in ``u_g`` iff
``||X^T (S_g mu + C_g lam_g)|| <= beta``; scaling ``(mu, lam)`` by
``s = min(1, beta / max_g ||.||)`` makes any point feasible, so ``-L*(-s mu)`` is a lower bound
on the program's optimum. This is the stopping test of both first-order solvers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._backend import array_namespace
from ..losses import Loss
from ._fista_core import group_norms


@dataclass
class GroupProgram:
    X: Any
    y: Any
    S: Any  # (n, G) signed masks
    C: Any | None  # (n, G) cone signs, None for the gated model
    loss: Loss
    beta: float
    gsign: Any = None  # (G,) +1 for the v blocks, -1 for the w blocks (ReLU only)

    @classmethod
    def build(cls, X: Any, y: Any, masks: Any, loss: Loss, beta: float, model: str) -> GroupProgram:
        xp = array_namespace(X)
        D = xp.astype(masks, X.dtype)
        if model == "gated":
            return cls(X, y, D, None, loss, beta)
        if model == "relu":
            S = xp.concat([D, -D], axis=1)
            C = 2 * xp.concat([D, D], axis=1) - 1
            P = D.shape[1]
            gsign = xp.concat([xp.ones((P,), dtype=X.dtype), -xp.ones((P,), dtype=X.dtype)])
            return cls(X, y, S, C, loss, beta, gsign)
        raise ValueError(f"model must be 'relu' or 'gated', got {model!r}")

    @property
    def n_groups(self) -> int:
        return int(self.S.shape[1])

    def predict(self, Z: Any) -> Any:
        """Convex-model prediction ``rowsum(S * Z)``."""
        return array_namespace(Z).sum(self.S * Z, axis=1)

    def network_predict(self, Z: Any) -> Any:
        """Prediction of the ReLU network read off ``U``: ``sum_g sign_g (X u_g)_+``.

        Equals :meth:`predict` when the cone constraints hold; for a slightly infeasible ``U``
        it is the output of the network actually returned to the user."""
        if self.C is None:
            return self.predict(Z)
        xp = array_namespace(Z)
        return xp.where(Z > 0, Z, 0.0) @ self.gsign

    def penalty(self, U: Any) -> float:
        return self.beta * float(array_namespace(U).sum(group_norms(U)))

    def primal(self, U: Any, Z: Any) -> float:
        """Objective of the returned model: the network's ``F`` (ReLU) or the gated ``F``."""
        return self.loss.value(self.network_predict(Z), self.y) + self.penalty(U)

    def dual_bound(self, Z: Any, lam: Any | None = None) -> tuple[float, Any, float]:
        """Lower bound ``-L*(-s mu)`` at ``mu = -grad L(predict(Z))``.

        Returns the bound, the scaled dual point, and ``max_g ||.|| / beta`` before scaling.
        """
        xp = array_namespace(Z)
        mu = -self.loss.gradient(self.predict(Z), self.y)
        R = self.S * mu[:, None]
        if lam is not None:
            R = R + self.C * lam
        c = float(xp.max(group_norms(R.T @ self.X))) if R.shape[1] else 0.0
        s = 1.0 if c <= self.beta else self.beta / c
        return self.loss.dual_value(s * mu, self.y), s * mu, c / self.beta
