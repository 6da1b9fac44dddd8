"""The two-layer ReLU network, its objective (SPEC §0), and its recovery from a convex solution.

``f(x) = sum_j (x . w_j + b_j)_+ a_j (+ c)``, with weight-decay objective

    F = (1/n) sum_k l(f(x_k), y_k) + (beta/2) (||W||_F^2 + ||b||^2 + ||a||^2).

The hidden bias ``b`` is the paper's "ones column" and is regularized like the weights; the
optional output offset ``c`` is not regularized (SPEC §0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .losses import get_loss

__all__ = ["TwoLayerReLUNetwork", "recover_network"]


@dataclass(eq=False)
class TwoLayerReLUNetwork:
    """A two-layer ReLU network with scalar output.

    Parameters
    ----------
    hidden_weights : ndarray of shape (m, d)
    hidden_bias : ndarray of shape (m,) or None
    output_weights : ndarray of shape (m,)
    output_bias : float or None
        Unregularized output offset (None: no offset).
    """

    hidden_weights: np.ndarray
    hidden_bias: np.ndarray | None
    output_weights: np.ndarray
    output_bias: float | None = None

    def __post_init__(self) -> None:
        W = np.atleast_2d(np.asarray(self.hidden_weights, dtype=np.float64))
        a = np.asarray(self.output_weights, dtype=np.float64).ravel()
        if W.shape[0] != a.shape[0]:
            raise ValueError(
                f"hidden_weights has {W.shape[0]} neurons but output_weights has {a.shape[0]}"
            )
        self.hidden_weights = W
        self.output_weights = a
        if self.hidden_bias is not None:
            b = np.asarray(self.hidden_bias, dtype=np.float64).ravel()
            if b.shape[0] != W.shape[0]:
                raise ValueError(
                    f"hidden_bias has {b.shape[0]} entries, expected one per neuron ({W.shape[0]})"
                )
            self.hidden_bias = b
        if self.output_bias is not None:
            self.output_bias = float(self.output_bias)
        for name in ("hidden_weights", "hidden_bias", "output_weights"):
            v = getattr(self, name)
            if v is not None and not np.all(np.isfinite(v)):
                raise ValueError(f"{name} contains NaN or infinity")

    @property
    def n_neurons(self) -> int:
        return int(self.hidden_weights.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.hidden_weights.shape[1])

    def _check_X(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features}), got {np.shape(X)}"
            )
        return X

    def hidden(self, X: Any) -> np.ndarray:
        """Pre-activations ``X W^T + b``, shape (n, m)."""
        X = self._check_X(X)
        Z = X @ self.hidden_weights.T
        if self.hidden_bias is not None:
            Z = Z + self.hidden_bias
        return Z

    def predict(self, X: Any) -> np.ndarray:
        """Network output ``f(X)``, shape (n,)."""
        out = np.maximum(self.hidden(X), 0.0) @ self.output_weights
        if self.output_bias is not None:
            out = out + self.output_bias
        return out

    def penalty(self) -> float:
        """``(1/2)(||W||_F^2 + ||b||^2 + ||a||^2)`` (the weight decay without beta)."""
        s = float(np.sum(self.hidden_weights**2) + np.sum(self.output_weights**2))
        if self.hidden_bias is not None:
            s += float(np.sum(self.hidden_bias**2))
        return 0.5 * s

    def objective(self, X: Any, y: Any, beta: float, loss: str = "squared") -> float:
        """The weight-decay objective ``F`` of SPEC §0.

        For ``loss="logistic"`` the labels must be in {-1, +1}.
        """
        y = np.asarray(y, dtype=np.float64).ravel()
        f = self.predict(X)
        if f.shape[0] != y.shape[0]:
            raise ValueError(f"X has {f.shape[0]} rows but y has {y.shape[0]} entries")
        return get_loss(loss).value(f, y) + beta * self.penalty()

    def group_norm_objective(self, X: Any, y: Any, beta: float, loss: str = "squared") -> float:
        """``L(f) + beta * sum_j ||(w_j, b_j)|| |a_j|``: the value ``F`` takes after optimal
        per-neuron rescaling (AM-GM: ``(||w||^2 + a^2)/2 >= ||w|| |a|``, equality when balanced)."""
        y = np.asarray(y, dtype=np.float64).ravel()
        return get_loss(loss).value(self.predict(X), y) + beta * float(
            np.sum(self._input_norms() * np.abs(self.output_weights))
        )

    def _input_norms(self) -> np.ndarray:
        sq = np.sum(self.hidden_weights**2, axis=1)
        if self.hidden_bias is not None:
            sq = sq + self.hidden_bias**2
        return np.sqrt(sq)

    def balanced(self) -> TwoLayerReLUNetwork:
        """The same function with each neuron rescaled so ``||(w_j, b_j)|| = |a_j|``.

        ReLU is positively homogeneous, so ``(w, b, a) -> (w/t, b/t, a t)`` keeps ``f``; the
        balanced scaling minimizes the weight decay (SPEC §2). Dead neurons are dropped.
        """
        nin = self._input_norms()
        nout = np.abs(self.output_weights)
        keep = (nin > 0) & (nout > 0)
        t = np.sqrt(nin[keep] / nout[keep])
        return TwoLayerReLUNetwork(
            self.hidden_weights[keep] / t[:, None],
            None if self.hidden_bias is None else self.hidden_bias[keep] / t,
            self.output_weights[keep] * t,
            self.output_bias,
        )

    def gates(self) -> np.ndarray:
        """Gate vectors of the neurons, shape (d[+1], m): hidden weights with the bias last.

        Pass them as ``arrangements`` to a convex fit (with ``fit_intercept`` matching) to give
        the convex program this network's activation patterns.
        """
        W = self.hidden_weights
        if self.hidden_bias is not None:
            W = np.column_stack([W, self.hidden_bias])
        return W.T.copy()

    def to_torch(self, dtype: Any = None) -> Any:
        """An ``nn.Sequential(Linear, ReLU, Linear)`` computing the same function."""
        import torch
        from torch import nn

        dtype = dtype or torch.float64
        m, d = self.hidden_weights.shape
        # Build the layers in the target dtype: copying float64 weights into default (float32)
        # layers first would round them.
        l1 = nn.Linear(d, m, bias=self.hidden_bias is not None, dtype=dtype)
        l2 = nn.Linear(m, 1, bias=self.output_bias is not None, dtype=dtype)
        with torch.no_grad():
            l1.weight.copy_(torch.as_tensor(self.hidden_weights, dtype=dtype))
            if self.hidden_bias is not None:
                l1.bias.copy_(torch.as_tensor(self.hidden_bias, dtype=dtype))
            l2.weight.copy_(torch.as_tensor(self.output_weights[None, :], dtype=dtype))
            if self.output_bias is not None:
                l2.bias.fill_(self.output_bias)
        return nn.Sequential(l1, nn.ReLU(), l2)

    @classmethod
    def from_torch(cls, module: Any) -> TwoLayerReLUNetwork:
        """Build from ``nn.Sequential(Linear(d, m), ReLU(), Linear(m, 1))``."""
        from torch import nn

        layers = list(module.children()) if isinstance(module, nn.Module) else list(module)
        if (
            len(layers) != 3
            or not isinstance(layers[0], nn.Linear)
            or not isinstance(layers[1], nn.ReLU)
            or not isinstance(layers[2], nn.Linear)
            or layers[2].out_features != 1
        ):
            raise TypeError(
                "expected nn.Sequential(nn.Linear(d, m), nn.ReLU(), nn.Linear(m, 1)); "
                f"got {module!r}"
            )
        l1, l2 = layers[0], layers[2]

        def np_(t: Any) -> np.ndarray:
            return t.detach().cpu().double().numpy()

        return cls(
            np_(l1.weight),
            None if l1.bias is None else np_(l1.bias),
            np_(l2.weight).ravel(),
            None if l2.bias is None else float(np_(l2.bias)[0]),
        )

    @classmethod
    def from_weights(cls, weights: Any) -> TwoLayerReLUNetwork:
        """From a network, a torch module, or a tuple ``(W, b, a[, c])`` / ``(W, a)``."""
        if isinstance(weights, cls):
            return weights
        if hasattr(weights, "children") and hasattr(weights, "parameters"):
            return cls.from_torch(weights)
        if isinstance(weights, dict):
            return cls(
                weights["hidden_weights"],
                weights.get("hidden_bias"),
                weights["output_weights"],
                weights.get("output_bias"),
            )
        if isinstance(weights, (tuple, list)):
            if len(weights) == 2:
                return cls(weights[0], None, weights[1], None)
            if len(weights) == 3:
                return cls(weights[0], weights[1], weights[2], None)
            if len(weights) == 4:
                return cls(*weights)
        raise TypeError(
            "network must be a TwoLayerReLUNetwork, an nn.Sequential(Linear, ReLU, Linear), "
            "a dict of weights, or a tuple (W, a), (W, b, a) or (W, b, a, c); "
            f"got {type(weights).__name__}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "hidden_weights": self.hidden_weights,
            "hidden_bias": self.hidden_bias,
            "output_weights": self.output_weights,
            "output_bias": self.output_bias,
        }

    def __repr__(self) -> str:
        return (
            f"TwoLayerReLUNetwork(n_neurons={self.n_neurons}, n_features={self.n_features}, "
            f"hidden_bias={self.hidden_bias is not None}, output_bias={self.output_bias})"
        )


def recover_network(
    V: np.ndarray,
    W: np.ndarray | None,
    *,
    fit_intercept: bool,
    prune_tol: float = 1e-8,
) -> tuple[TwoLayerReLUNetwork, dict[str, float]]:
    """Read the network off a solution of the convex ReLU program (SPEC §2, [PE20] Thm 1).

    For ``v_i != 0``: hidden weight ``v_i / sqrt(||v_i||)`` and output weight
    ``+sqrt(||v_i||)``; for ``w_i != 0``: ``w_i / sqrt(||w_i||)`` and ``-sqrt(||w_i||)``. This
    is the balanced scaling, so the network's weight decay equals ``beta sum_i ||v_i|| +
    ||w_i||`` and (for feasible ``v, w``) its ``F`` equals the convex objective.

    Groups with ``||v_i|| <= prune_tol * max_j ||v_j||`` (over both signs) are pruned; the
    returned ``info`` dict reports how many were pruned and the largest pruned norm relative to
    the largest kept one, so the caller can report the effect on ``F``.

    Parameters
    ----------
    V, W : ndarray of shape (P, d)
        Positive and negative blocks (``W=None`` for gated/one-sided solutions).
    fit_intercept : bool
        If True, the last column of ``V`` is the hidden bias (the ones column of ``X``).
    """
    blocks = [V] if W is None else [V, W]
    signs = [1.0] if W is None else [1.0, -1.0]
    U = np.concatenate(blocks, axis=0)
    s = np.concatenate([np.full(B.shape[0], sg) for B, sg in zip(blocks, signs, strict=True)])
    norms = np.linalg.norm(U, axis=1)
    top = float(norms.max()) if norms.size else 0.0
    keep = norms > prune_tol * top if top > 0 else np.zeros_like(norms, dtype=bool)
    pruned = (~keep) & (norms > 0)
    info = {
        "n_pruned": int(pruned.sum()),
        "max_pruned_relative_norm": float(norms[pruned].max() / top) if pruned.any() else 0.0,
    }
    U, s, norms = U[keep], s[keep], norms[keep]
    root = np.sqrt(norms)
    hidden = U / root[:, None]
    out = s * root
    if fit_intercept:
        net = TwoLayerReLUNetwork(hidden[:, :-1], hidden[:, -1], out, None)
    else:
        net = TwoLayerReLUNetwork(hidden, None, out, None)
    return net, info
