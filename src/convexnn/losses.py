"""Data-fitting terms ``L(f) = (1/n) sum_k l(f_k, y_k)`` and their convex conjugates.

Both follow the scaling convention of SPEC §0 (mean over samples). Each loss provides

* ``value(f, y)``: ``L(f)``;
* ``gradient(f, y)``: ``grad L(f)`` (shape (n,));
* ``lipschitz(n)``: a Lipschitz constant of ``grad L``;
* ``dual_value(mu, y)``: ``-L*(-mu)``, the dual objective of SPEC §3 at a dual point ``mu``
  (``-inf`` where ``-mu`` is outside the domain of ``L*``).

Derivations (checked numerically in ``tests/test_losses.py`` against a direct
maximization of ``mu^T f - L(f)``):

* squared, ``l(f, y) = (f - y)^2 / 2``: ``L*(z) = z^T y + (n/2) ||z||^2``, hence
  ``-L*(-mu) = mu^T y - (n/2) ||mu||^2`` and ``mu* = (y - f*) / n``.
* logistic, ``l(f, y) = log(1 + exp(-y f))``, ``y in {-1, +1}``: ``l*(z) = p log p +
  (1 - p) log(1 - p)`` with ``p = -y z in [0, 1]`` (``+inf`` otherwise). With
  ``L*(z) = (1/n) sum_k l*(n z_k)`` this gives ``-L*(-mu) = (1/n) sum_k H(n y_k mu_k)`` where
  ``H`` is the binary entropy in nats, and ``mu* = y sigma(-y f*) / n``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._backend import array_namespace, to_numpy

__all__ = ["SquaredLoss", "LogisticLoss", "get_loss", "Loss"]


class SquaredLoss:
    """``L(f) = (1 / 2n) ||f - y||^2``."""

    name = "squared"

    def value(self, f: Any, y: Any) -> float:
        xp = array_namespace(f)
        r = f - y
        return float(xp.sum(r * r)) / (2 * f.shape[0])

    def gradient(self, f: Any, y: Any) -> Any:
        return (f - y) / f.shape[0]

    def lipschitz(self, n: int) -> float:
        return 1.0 / n

    def hessian_diag(self, f: Any, y: Any) -> Any:
        """Diagonal of the Hessian of ``L`` at ``f``."""
        return 0 * f + 1.0 / f.shape[0]

    def dual_value(self, mu: Any, y: Any) -> float:
        xp = array_namespace(mu)
        n = mu.shape[0]
        return float(xp.sum(mu * y)) - 0.5 * n * float(xp.sum(mu * mu))

    def check_targets(self, y: Any) -> None:
        """Raise ``ValueError`` unless ``y`` is finite (any real targets)."""
        if not np.all(np.isfinite(_to_numpy(y))):
            raise ValueError("y must be finite (no NaN or infinity)")

    def __repr__(self) -> str:
        return "SquaredLoss()"


class LogisticLoss:
    """``L(f) = (1/n) sum_k log(1 + exp(-y_k f_k))`` with labels ``y in {-1, +1}``."""

    name = "logistic"

    def value(self, f: Any, y: Any) -> float:
        xp = array_namespace(f)
        z = -y * f
        # logaddexp(0, z) is the overflow-free log(1 + e^z).
        return float(xp.sum(xp.logaddexp(xp.zeros_like(z), z))) / f.shape[0]

    def gradient(self, f: Any, y: Any) -> Any:
        xp = array_namespace(f)
        z = y * f
        # sigma(-z) computed as exp(-logaddexp(0, z)): stable for both signs of z.
        s = xp.exp(-xp.logaddexp(xp.zeros_like(z), z))
        return -y * s / f.shape[0]

    def lipschitz(self, n: int) -> float:
        return 0.25 / n

    def hessian_diag(self, f: Any, y: Any) -> Any:
        """Diagonal of the Hessian: ``sigma(yf) sigma(-yf) / n``."""
        xp = array_namespace(f)
        z = y * f
        s = xp.exp(-xp.logaddexp(xp.zeros_like(z), z))  # sigma(-z)
        return s * (1 - s) / f.shape[0]

    def dual_value(self, mu: Any, y: Any) -> float:
        xp = array_namespace(mu)
        n = mu.shape[0]
        p = n * y * mu
        if float(xp.min(p)) < -1e-12 or float(xp.max(p)) > 1 + 1e-12:
            return -np.inf
        p = xp.clip(p, 0.0, 1.0)
        # x log x with the convention 0 log 0 = 0.
        def xlogx(t: Any) -> Any:
            return xp.where(t > 0, t * xp.log(xp.where(t > 0, t, xp.ones_like(t))), xp.zeros_like(t))

        return -float(xp.sum(xlogx(p) + xlogx(1 - p))) / n

    def check_targets(self, y: Any) -> None:
        """Raise ``ValueError`` unless every label is -1 or +1.

        With 0/1 labels the loss is constant on the 0 entries and a solver runs to its
        iteration limit (the interior point: 100 steps, gap 0.88 on statlog-heart), so the
        solvers check their targets first."""
        yn = _to_numpy(y)
        if not np.all(np.isin(yn, (-1.0, 1.0))):
            vals = np.unique(yn[np.isfinite(yn)])[:5] if yn.size else yn
            raise ValueError(
                "the logistic loss needs labels in {-1, +1}; got values like "
                f"{vals.tolist()}: map them (e.g. y = 2 * y - 1 for 0/1 labels), or use "
                "ConvexReLUClassifier, which maps any two classes itself")

    def __repr__(self) -> str:
        return "LogisticLoss()"


Loss = SquaredLoss | LogisticLoss


def _to_numpy(y: Any) -> np.ndarray:
    return np.asarray(to_numpy(y), dtype=np.float64).reshape(-1)


def get_loss(loss: str | Loss) -> Loss:
    if isinstance(loss, (SquaredLoss, LogisticLoss)):
        return loss
    if loss == "squared":
        return SquaredLoss()
    if loss == "logistic":
        return LogisticLoss()
    raise ValueError(f"loss must be 'squared' or 'logistic', got {loss!r}")
