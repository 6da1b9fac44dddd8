"""Optimality certificates for any two-layer ReLU network (SPEC §3, [PE20]_, [EP20]_).

For the weight-decay objective of SPEC §0,
``F = L(f) + (beta/2)(||W||^2 + ||b||^2 + ||a||^2)`` with ``L(f) = (1/n) sum_k l(f_k, y_k)``,
the convex dual in this project's scaling is ([PE20]_ Thm 1, [EP20]_)::

    max_mu  -L*(-mu)   s.t.   g(mu) = max_{||u|| <= 1} |mu^T (X u)_+| <= beta.

Weak duality, for every network (``||w_j|| = 1`` after rescaling, any ``mu`` with
``g(mu) <= beta``)::

    F >= L(f) + beta sum_j |a_j|                        (AM-GM on each neuron)
      >= -L*(-mu) - mu^T f + beta sum_j |a_j|           (Fenchel-Young)
      >= -L*(-mu) - g(mu) sum_j |a_j| + beta sum_j |a_j| >= -L*(-mu),

since ``mu^T f = sum_j a_j mu^T (X w_j)_+ >= -g(mu) sum_j |a_j|``. A hidden bias is the last,
all-ones column of ``X``. An unregularized output offset ``c`` adds the constraint
``1^T mu = 0`` (``mu^T (f + c 1) = mu^T f``).

Certificate of a given network: ``mu = -grad L(yhat)`` at its predictions, ``g = g(mu)`` (the
oracle of :mod:`convexnn.oracle`), and every ``t`` in ``[0, beta / g_upper]`` (``g_upper`` a
sound upper bound on ``g``) makes ``t mu`` dual feasible, so

    lower_bound = max_{0 <= t <= beta / g_upper} -L*(-t mu)  <=  F*  <=  F(network).

SPEC §3 uses ``t = min(1, beta/g)``; we maximize the concave function of ``t`` over the whole
feasible interval (closed form for the squared loss, a bounded scalar search plus the SPEC point
for the logistic loss), which is never worse and equally sound.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .arrangements import (
    Arrangements,
    enumerate_arrangements,
    max_arrangements,
    numerical_rank,
)
from .losses import get_loss
from .network import TwoLayerReLUNetwork
from .oracle import OracleResult, exact_oracle, norm_upper_bound, search_oracle

__all__ = ["Certificate", "certify", "dual_lower_bound", "AUTO_EXACT_LIMIT"]

#: "auto" enumerates the patterns exactly when the bound of SPEC §1 is at most this.
AUTO_EXACT_LIMIT = 20_000

_TINY = 1e-300


@dataclass
class Certificate:
    """Duality-gap certificate of a two-layer ReLU network (SPEC §3).

    Attributes
    ----------
    primal : float
        ``F`` of the network (SPEC §0).
    lower_bound : float
        A *proven* lower bound on the global optimum ``F*`` (equal to ``sound_lower_bound``).
        It is built from a sound upper bound on the oracle value ``g``: the exact ``g`` when
        ``exact``, otherwise the pattern-free norm bound (sound, possibly very loose).
    gap, relative_gap : float
        ``primal - lower_bound`` and ``gap / max(|primal|, tiny)``: proven bounds on the
        suboptimality of the network.
    exact : bool
        True when ``g`` was computed exactly (every activation pattern of the data examined),
        so the lower bound uses the exact ``g`` and a zero gap is attainable. False: the lower
        bound is still a proof but uses a loose bound on ``g``.
    optimal : bool
        ``exact and relative_gap <= tol``: the network is proven globally optimal to ``tol``.
    worst_neuron : ndarray of shape (d,) or (d + 1,)
        The unit neuron ``u`` maximizing ``|mu^T (X u)_+|`` (the hidden bias last when the
        problem has one): the direction a cutting-plane step would add.
    worst_value : float
        ``g / beta`` for the best ``g`` found (``<= 1`` at a global optimum).
    worst_sign : int
        Sign ``s`` with ``g = s mu^T (X u)_+`` (the output weight's sign for that neuron).
    sound_lower_bound : float
        Same as ``lower_bound``.
    estimated_lower_bound : float
        ``max_t -L*(-t mu)`` over ``t <= beta / g_found`` with the best ``g`` *found*
        (``g`` exact when ``exact``, else the search oracle's value). **Not a proof** unless
        ``exact``: the search may miss the maximizing neuron.
    estimated_gap, estimated_relative_gap : float
        The gap against ``estimated_lower_bound`` (not a proof unless ``exact``).
    g, g_upper : float
        Oracle value found and the sound upper bound used for the proof.
    method : str
        How ``g`` was computed (``"exact"``, ``"search"``, ``"patterns(...)"``).
    """

    primal: float
    lower_bound: float
    gap: float
    relative_gap: float
    exact: bool
    optimal: bool
    worst_neuron: np.ndarray
    worst_value: float
    worst_sign: int
    sound_lower_bound: float
    estimated_lower_bound: float
    estimated_gap: float
    estimated_relative_gap: float
    g: float
    g_upper: float
    beta: float
    loss: str
    tol: float
    method: str
    fit_intercept: bool
    dual: np.ndarray = field(repr=False)
    info: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        """A short human-readable report."""
        lines = [
            f"objective F            : {self.primal:.10g}",
            f"proven lower bound     : {self.lower_bound:.10g}"
            + ("" if self.exact else "  (loose: pattern-free bound on g)"),
            f"proven gap             : {self.gap:.3e} (relative {self.relative_gap:.3e})",
        ]
        if not self.exact:
            lines.append(
                f"estimated lower bound  : {self.estimated_lower_bound:.10g}  "
                f"(relative gap {self.estimated_relative_gap:.3e}; NOT a proof: search oracle)"
            )
        lines.append(
            f"oracle g/beta          : {self.worst_value:.6g} (method {self.method}; "
            f"g <= {self.g_upper:.6g} proven)"
        )
        if self.optimal:
            verdict = f"globally optimal to relative tolerance {self.tol:g} (proof)"
        elif self.exact:
            verdict = "not proven optimal (exact oracle): the gap above is the suboptimality bound"
        else:
            verdict = "not proven optimal (patterns not enumerated; see estimate)"
        lines.append(f"verdict                : {verdict}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dictionary (arrays as lists), e.g. for JSON."""
        d = asdict(self)
        for k, v in list(d.items()):
            if isinstance(v, np.ndarray):
                d[k] = v.tolist()
        return d

    def __str__(self) -> str:
        return self.summary()


def _labels_pm1(y: np.ndarray) -> np.ndarray:
    vals = np.unique(y)
    if np.all(np.isin(vals, [-1.0, 1.0])):
        return y
    if np.all(np.isin(vals, [0.0, 1.0])):
        return np.where(y > 0, 1.0, -1.0)
    if vals.size == 2:
        return np.where(y == vals[1], 1.0, -1.0)
    raise ValueError(
        "the logistic loss needs two classes (labels in {-1, +1}, {0, 1}, or any two values); "
        f"got {vals.size} distinct labels"
    )


def dual_lower_bound(
    mu: np.ndarray, y: np.ndarray, beta: float, g_bound: float, loss: Any
) -> tuple[float, float]:
    """``max_{0 <= t <= t_max} -L*(-t mu)`` with ``t_max = beta / g_bound`` (``inf`` if 0).

    Any such ``t`` makes ``t mu`` dual feasible (``g(t mu) = t g(mu) <= beta``), so the value
    is a lower bound on the optimum whenever ``g_bound >= g(mu)``. The function of ``t`` is
    concave. Squared loss: ``t mu^T y - (n/2) t^2 ||mu||^2``, maximized at
    ``t = mu^T y / (n ||mu||^2)`` (clipped). Logistic: the domain also needs
    ``t n y_k mu_k <= 1``; bounded scalar search, compared with SPEC's ``t = min(1, t_max)``.

    Returns
    -------
    value : float
    t : float
    """
    loss = get_loss(loss)
    n = mu.shape[0]
    t_max = math.inf if g_bound <= 0 else beta / g_bound
    if not np.any(mu):
        return float(loss.dual_value(mu, y)), 1.0
    if loss.name == "squared":
        t = float(mu @ y) / (n * float(mu @ mu))
        t = min(max(t, 0.0), t_max)
        cands = [t, min(1.0, t_max)]
    else:
        p = n * y * mu
        pmax = float(np.max(p))
        if pmax > 0:
            t_max = min(t_max, 1.0 / pmax)
        cands = [min(1.0, t_max)]
        if math.isfinite(t_max) and t_max > 0:
            from scipy.optimize import minimize_scalar

            res = minimize_scalar(
                lambda t: -loss.dual_value(t * mu, y),
                bounds=(0.0, t_max),
                method="bounded",
                options={"xatol": 1e-12 * max(t_max, 1.0)},
            )
            cands += [float(res.x), t_max]
    best_v, best_t = -math.inf, 0.0
    for t in cands:
        v = float(loss.dual_value(t * mu, y))
        if v > best_v:
            best_v, best_t = v, t
    return best_v, best_t


def _center_dual(mu: np.ndarray, y: np.ndarray, loss_name: str) -> np.ndarray:
    """Make ``1^T mu = 0`` (needed with an unregularized output offset), staying in the
    domain of ``L*``: squared loss subtract the mean; logistic (``mu = y p / n``, ``p in
    [0,1]``) scale down the ``p`` of the class with the larger total."""
    if loss_name == "squared":
        return mu - mu.mean()
    pos, neg = y > 0, y < 0
    sp, sn = float(mu[pos].sum()), float(-mu[neg].sum())
    mu = mu.copy()
    if sp > sn:
        mu[pos] *= sn / sp if sp > 0 else 0.0
    elif sn > sp:
        mu[neg] *= sp / sn if sn > 0 else 0.0
    return mu


def certify(
    network: Any,
    X: Any,
    y: Any,
    beta: float,
    *,
    loss: str = "squared",
    arrangements: str | Arrangements = "auto",
    fit_intercept: bool = False,
    tol: float = 1e-6,
    random_state: int | np.random.RandomState | None = None,
) -> Certificate:
    """Certify the global (sub)optimality of a two-layer ReLU network (SPEC §3, [PE20]_).

    Computes ``F`` of the network, the dual point ``mu = -grad L(yhat)``, the oracle value
    ``g = max_{||u||<=1} |mu^T (X u)_+|`` and the proven lower bound
    ``max_{0 <= t <= beta/g_upper} -L*(-t mu) <= F*`` (see the module docstring for the
    derivation). With ``g`` exact, ``g <= beta`` (up to ``tol``) proves global optimality.

    Parameters
    ----------
    network : TwoLayerReLUNetwork, tuple ``(W, a)`` / ``(W, b, a[, c])``, dict, or
        ``torch.nn.Sequential(Linear, ReLU, Linear)``
    X : array-like of shape (n, d)
    y : array-like of shape (n,)
        Targets; for ``loss="logistic"`` labels in {-1, +1} (``{0, 1}`` or any two values are
        mapped to them, the larger to +1).
    beta : float
        Weight decay (SPEC §0 scaling).
    loss : {"squared", "logistic"}
    arrangements : "auto", "exact", "search" or Arrangements
        How ``g`` is computed. ``"exact"``: enumerate every pattern (error if the rank is too
        high). ``"search"``: best-effort many-start search (the proven bound then uses the loose
        pattern-free bound on ``g``). ``"auto"``: exact when ``max_arrangements(n, rank)`` is at
        most 20000, else search. An ``Arrangements`` object (of the data with the bias column
        appended when there is one): exact only if ``arrangements.exact``.
    fit_intercept : bool
        The problem has a hidden bias (ones column). Forced True when the network has one.
    tol : float
        Relative-gap tolerance for ``optimal``.
    random_state : int, RandomState or None
        For the search oracle.

    Returns
    -------
    Certificate
    """
    net = TwoLayerReLUNetwork.from_weights(network)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} entries")
    if not (beta > 0 and math.isfinite(beta)):
        raise ValueError(f"beta must be positive and finite, got {beta!r}")
    loss_obj = get_loss(loss)
    if loss_obj.name == "logistic":
        y = _labels_pm1(y)
    n = X.shape[0]
    intercept = bool(fit_intercept) or net.hidden_bias is not None
    Xd = np.column_stack([X, np.ones(n)]) if intercept else X

    primal = net.objective(X, y, beta, loss_obj.name)
    f = net.predict(X)
    mu = -np.asarray(loss_obj.gradient(f, y), dtype=np.float64)
    if net.output_bias is not None:
        mu = _center_dual(mu, y, loss_obj.name)

    init = net.gates()
    if intercept and net.hidden_bias is None:
        init = np.vstack([init, np.zeros((1, init.shape[1]))])

    # Choose the oracle.
    mode = arrangements
    if isinstance(mode, str):
        if mode not in ("auto", "exact", "search"):
            raise ValueError(
                f"arrangements must be 'auto', 'exact', 'search' or an Arrangements object, "
                f"got {mode!r}"
            )
        if mode == "auto":
            r = numerical_rank(Xd)
            mode = "exact" if max_arrangements(n, r) <= AUTO_EXACT_LIMIT else "search"
    res: OracleResult
    if isinstance(mode, Arrangements):
        res = exact_oracle(Xd, mu, mode)
        if not res.exact:
            # A partial pattern set: also run the search, keep the best value found.
            res2 = search_oracle(Xd, mu, random_state=random_state, init=init)
            if res2.value > res.value:
                res = res2
            res.upper_bound = max(norm_upper_bound(Xd, mu), res.value)
            res.exact = False
    elif mode == "exact":
        try:
            arr = enumerate_arrangements(Xd, max_patterns=max(AUTO_EXACT_LIMIT, 200_000))
        except ValueError as exc:
            raise ValueError(
                f"arrangements='exact' is impossible here ({exc}); use 'search' or 'auto'"
            ) from exc
        res = exact_oracle(Xd, mu, arr)
    else:
        res = search_oracle(Xd, mu, random_state=random_state, init=init)

    g, g_upper = float(res.value), float(max(res.upper_bound, res.value))
    sound, t_sound = dual_lower_bound(mu, y, beta, g_upper, loss_obj)
    if res.exact:
        est, t_est = sound, t_sound
    else:
        est, t_est = dual_lower_bound(mu, y, beta, g, loss_obj)
    tiny = max(abs(primal), _TINY)
    gap = primal - sound
    rel = gap / tiny
    egap = primal - est
    return Certificate(
        primal=float(primal),
        lower_bound=float(sound),
        gap=float(gap),
        relative_gap=float(rel),
        exact=bool(res.exact),
        optimal=bool(res.exact and rel <= tol),
        worst_neuron=np.asarray(res.u, dtype=np.float64),
        worst_value=g / beta,
        worst_sign=int(res.sign),
        sound_lower_bound=float(sound),
        estimated_lower_bound=float(est),
        estimated_gap=float(egap),
        estimated_relative_gap=float(egap / tiny),
        g=g,
        g_upper=g_upper,
        beta=float(beta),
        loss=loss_obj.name,
        tol=float(tol),
        method=res.method,
        fit_intercept=intercept,
        dual=t_sound * mu,
        info={"t": t_sound, "t_estimate": t_est, "n_solved": res.n_solved, **res.info},
    )
