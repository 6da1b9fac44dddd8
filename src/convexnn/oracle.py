"""The dual oracle of the convex ReLU program: the most violated neuron.

Given a dual vector ``mu`` (n,) and data ``X`` (n, d) (a hidden bias is the last, all-ones column
of ``X``), the oracle computes ([PE20]_ §2-3, [EP20]_, SPEC §3)::

    g(mu) = max_{||u|| <= 1} | mu^T (X u)_+ |
          = max_{s in {+1, -1}} max_{||u|| <= 1} s * mu^T (X u)_+ .

``g(mu) <= beta`` is the constraint of the dual problem; a unit ``u`` attaining ``g`` is the neuron
a cutting-plane method adds.

Exact value through the activation patterns
-------------------------------------------
On the cone ``C_i = {u : (2 D_i - I) X u >= 0}`` of pattern ``D_i`` the ReLU is linear,
``(X u)_+ = D_i X u``, and the cones of all patterns cover ``R^d`` (every ``u`` lies in the closure
of a cell of the arrangement, and the closure is contained in the cone of that cell's pattern). So
``g = max_{i, s} g_{i,s}`` with the small SOCP::

    g_{i,s} = max { c^T u : K_i u >= 0, ||u|| <= 1 },     c = s X^T D_i mu,  K_i = (2 D_i - I) X.

By conic duality (support function of ``C_i`` intersected with the unit ball) and Moreau's
decomposition ``c = P_C(c) + P_{C°}(c)``::

    g_{i,s} = min_{lam >= 0} || c + K_i^T lam || = || P_{C_i}(c) ||,

attained by ``u = P_{C_i}(c) / ||P_{C_i}(c)||``. We solve the non-negative least-squares problem on
``lam`` with the Lawson-Hanson active-set method (:func:`scipy.optimize.nnls`, exact up to
rounding). Every ``lam >= 0`` gives a *sound* upper bound (weak duality:
``c^T u <= c^T u + lam^T K_i u <= ||c + K_i^T lam||`` for feasible ``u``) and every unit ``u``
gives a lower value ``s mu^T (X u)_+``, so each solve returns an interval of width ~1e-15.
Patterns are processed in decreasing order of the cheap bound
``g_{i,s} <= min(||X^T D_i mu||, ||X^T D_i (s mu)_+||)`` (the second because ``x_k^T u >= 0`` on
the cone for ``k`` in ``D_i``, so terms with ``s mu_k < 0`` are non-positive) and
the loop stops as soon as that bound is below the best value found: typically only a handful of
the SOCPs are solved.

References
----------
.. [PE20] Pilanci & Ergen, Neural Networks are Convex Regularizers: Exact Polynomial-time Convex
   Optimization Formulations for Two-Layer Networks, ICML 2020.
.. [EP20] Ergen & Pilanci, Convex Geometry of Two-Layer ReLU Networks: Implicit Autoencoding and
   Interpretable Models, AISTATS 2020; Convex Geometry and Duality of Over-parameterized Neural
   Networks, JMLR 2021.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import nnls
from sklearn.utils import check_random_state

from .arrangements import Arrangements, enumerate_arrangements

__all__ = [
    "OracleResult",
    "exact_oracle",
    "search_oracle",
    "pattern_maximum",
    "norm_upper_bound",
    "oracle_value",
]


@dataclass
class OracleResult:
    """Result of the dual oracle ``g(mu) = max_{||u||<=1} |mu^T (X u)_+|``.

    Attributes
    ----------
    value : float
        ``g``: the largest ``s * mu^T (X u)_+`` found; it is attained by ``u`` (evaluated
        directly, so it is always a valid *lower* value of the true ``g``).
    u : ndarray of shape (d,)
        The maximizing unit vector (zero vector when ``value == 0``).
    sign : int
        ``+1`` or ``-1``: ``value = sign * mu^T (X u)_+``.
    pattern : int or None
        Index of the maximizing pattern in the pattern set (None for the search oracle).
    exact : bool
        True when ``value`` is the exact maximum (every pattern of ``X`` was examined).
    upper_bound : float
        A sound upper bound on the true ``g``. Equals ``value`` up to rounding (~1e-15
        relative) when ``exact``; otherwise the pattern-free norm bound of
        :func:`norm_upper_bound`.
    n_solved : int
        Number of pattern SOCPs solved exactly.
    method : str
    """

    value: float
    u: np.ndarray
    sign: int
    pattern: int | None
    exact: bool
    upper_bound: float
    n_solved: int = 0
    method: str = ""
    info: dict[str, Any] = field(default_factory=dict)


def oracle_value(X: np.ndarray, mu: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``mu^T (X U)_+`` for each column of ``U`` (d, k): shape (k,)."""
    return mu @ np.maximum(X @ U, 0.0)


def _check(X: Any, mu: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64).ravel()
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array, got shape {X.shape}")
    if mu.shape[0] != X.shape[0]:
        raise ValueError(f"mu has {mu.shape[0]} entries but X has {X.shape[0]} rows")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(mu))):
        raise ValueError("X or mu contains NaN or infinity")
    return X, mu


def pattern_maximum(
    X: np.ndarray, mu: np.ndarray, mask: np.ndarray, sign: float
) -> tuple[float, float, np.ndarray]:
    """Exact ``max { s mu^T D X u : (2D - I) X u >= 0, ||u|| <= 1 }`` for one pattern.

    Solves the dual ``min_{lam >= 0} ||c + K^T lam||`` (``c = s X^T D mu``, ``K = (2D - I) X``)
    by non-negative least squares; ``u = (c + K^T lam) / ||c + K^T lam||`` is the projection of
    ``c`` on the pattern cone, normalized.

    Returns
    -------
    lower : float
        ``s mu^T (X u)_+`` evaluated at the returned unit ``u`` (attained, hence a valid lower
        value of the oracle).
    upper : float
        ``||c + K^T lam||``: a sound upper bound on the pattern's maximum (weak duality).
    u : ndarray of shape (d,)
    """
    mask = np.asarray(mask, dtype=bool)
    c = sign * (X.T @ (mu * mask))
    K = np.where(mask[:, None], X, -X)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lam, _ = nnls(K.T, -c, maxiter=50 * max(K.shape[0], 10))
        lam = np.maximum(lam, 0.0)
        r = c + K.T @ lam
    except RuntimeError:  # pragma: no cover - Lawson-Hanson failing to converge
        r = c.copy()
    upper = float(np.linalg.norm(r))
    if upper <= 1e-13 * float(np.linalg.norm(c)):
        # The projection vanishes (c is in the polar cone): the pattern's maximum is 0 up to
        # rounding, and r / ||r|| would be a noise direction.
        return 0.0, upper, np.zeros(X.shape[1])
    u = r / upper
    lower = float(sign * (mu @ np.maximum(X @ u, 0.0)))
    if lower < 0.0:
        lower, u = 0.0, np.zeros(X.shape[1])
    return lower, upper, u


def norm_upper_bound(X: np.ndarray, mu: np.ndarray) -> float:
    """A sound upper bound on ``g(mu)`` that needs no activation patterns.

    For ``s in {+1, -1}`` let ``m = (s mu)_+`` and ``X_s`` the rows of ``X`` where ``s mu_k > 0``.
    Since ``(X u)_+ >= 0``, for every ``||u|| <= 1``:

    * (B1) ``s mu^T (X u)_+ <= m^T (X_s u)_+ <= ||m|| ||(X_s u)_+|| <= ||m|| ||X_s||_2``;
    * (B2) ``s mu^T (X u)_+ <= sum_k m_k (x_k^T u)_+ <= sum_k m_k ||x_k||`` (Cauchy-Schwarz per row);
    * (B3) with ``(t)_+ = (t + |t|)/2``:
      ``s mu^T (X u)_+ = (s mu^T X u + s mu^T |X u|)/2 <= (||X^T mu|| + |mu|^T |X u|)/2`` and
      ``|mu|^T |X u| <= min(||mu|| ||X||_2, sum_k |mu_k| ||x_k||)``.

    Returns ``max_s min(B1_s, B2_s, B3)`` (SPEC §3: ``max(||mu_+||, ||mu_-||) ||X||_2`` is B1
    loosened). Sound but possibly loose by a factor up to ``~sqrt(n)``.
    """
    X, mu = _check(X, mu)
    if not np.any(mu):
        return 0.0
    row = np.linalg.norm(X, axis=1)
    absmu = np.abs(mu)
    spec = float(np.linalg.norm(X, 2)) if X.size else 0.0
    b3 = 0.5 * float(np.linalg.norm(X.T @ mu)) + 0.5 * min(
        float(np.linalg.norm(mu)) * spec, float(absmu @ row)
    )
    best = 0.0
    for s in (1.0, -1.0):
        pos = s * mu > 0
        if not pos.any():
            continue
        m = absmu[pos]
        b1 = float(np.linalg.norm(m)) * float(np.linalg.norm(X[pos], 2))
        b2 = float(m @ row[pos])
        best = max(best, min(b1, b2, b3))
    # One ulp-scale safety factor against rounding in the norms above.
    return best * (1.0 + 1e-12)


def exact_oracle(
    X: Any,
    mu: Any,
    arrangements: Arrangements | None = None,
    *,
    max_patterns: int = 200_000,
) -> OracleResult:
    """Exact dual oracle ``g(mu) = max_{||u||<=1} |mu^T (X u)_+|`` over every pattern.

    See the module docstring for the formulation ([PE20]_, SPEC §3): for every pattern ``D_i``
    and sign ``s``, ``g_{i,s} = min_{lam >= 0} ||s X^T D_i mu + K_i^T lam||``. Patterns are
    visited in decreasing order of the bound ``||X^T D_i mu||`` and only those whose bound
    exceeds the best value found so far are solved (exactly, by NNLS).

    Parameters
    ----------
    X : array-like of shape (n, d)
        Data; a hidden bias is the last (all-ones) column.
    mu : array-like of shape (n,)
        Dual vector.
    arrangements : Arrangements or None
        The pattern set. None: :func:`~convexnn.arrangements.enumerate_arrangements` (raises
        ``ValueError`` when the rank of ``X`` makes enumeration too large). A set with
        ``exact=False`` (e.g. sampled) gives only a lower value: the result then has
        ``exact=False`` and the pattern-free :func:`norm_upper_bound` as ``upper_bound``.
    max_patterns : int
        Enumeration limit passed to ``enumerate_arrangements``.

    Returns
    -------
    OracleResult
        ``value`` attained by ``u``; ``upper_bound`` sound (equal to ``value`` up to rounding
        when ``exact``).
    """
    X, mu = _check(X, mu)
    n, d = X.shape
    if arrangements is None:
        try:
            arrangements = enumerate_arrangements(X, max_patterns=max_patterns)
        except ValueError as exc:
            raise ValueError(
                f"the exact oracle needs every activation pattern of X, which cannot be "
                f"enumerated here ({exc}). Use search_oracle (best effort, not a proof) "
                "instead."
            ) from exc
    if arrangements.n_samples != n or arrangements.n_features != d:
        raise ValueError(
            f"the arrangements were built for data of shape ({arrangements.n_samples}, "
            f"{arrangements.n_features}), but X has shape {X.shape}"
        )
    masks = arrangements.masks()
    P = masks.shape[1]
    zero = OracleResult(0.0, np.zeros(d), 1, None, arrangements.exact, 0.0, 0, "exact")
    if P == 0 or not np.any(mu):
        if not arrangements.exact:
            zero.upper_bound = norm_upper_bound(X, mu)
        return zero

    C = X.T @ (masks * mu[:, None])  # (d, P): X^T D_i mu
    ub = np.linalg.norm(C, axis=0)
    # Cheap lower values: u = +-c_i/||c_i|| and the (normalized) gate vectors.
    safe = np.where(ub > 0, ub, 1.0)
    G = arrangements.gates
    gn = np.linalg.norm(G, axis=0)
    cand = np.concatenate([C / safe, G / np.where(gn > 0, gn, 1.0)], axis=1)
    vals = oracle_value(X, mu, cand)
    j = int(np.argmax(np.abs(vals)))
    best = float(abs(vals[j]))
    best_sign = 1 if vals[j] >= 0 else -1
    best_u = cand[:, j].copy() if best > 0 else np.zeros(d)
    best_pat: int | None = (j % P) if best > 0 else None

    # Per (pattern, sign) bounds. On the cone, x_k^T u >= 0 for k in D_i, so the terms with
    # s mu_k < 0 are <= 0 and g_{i,s} <= ||X^T D_i (s mu)_+|| as well as ||X^T D_i mu||.
    ub_s = np.concatenate(
        [
            np.minimum(ub, np.linalg.norm(X.T @ (masks * np.maximum(s * mu, 0)[:, None]), axis=0))
            for s in (1.0, -1.0)
        ]
    )
    order = np.argsort(-ub_s, kind="stable")
    upper = 0.0
    n_solved = 0
    for k in order:
        if ub_s[k] <= best:
            # Every remaining (pattern, sign) has g_{i,s} <= ub_s[k] <= best.
            upper = max(upper, float(ub_s[k]))
            break
        i, s = int(k % P), (1 if k < P else -1)
        lo, hi, u = pattern_maximum(X, mu, masks[:, i], float(s))
        n_solved += 1
        upper = max(upper, hi)
        if lo > best:
            best, best_u, best_sign, best_pat = lo, u, s, i
    upper = max(upper, best)
    if not arrangements.exact:
        upper = max(norm_upper_bound(X, mu), best)
    return OracleResult(
        value=best,
        u=best_u,
        sign=best_sign,
        pattern=best_pat,
        exact=bool(arrangements.exact),
        upper_bound=upper,
        n_solved=n_solved,
        method="exact" if arrangements.exact else f"patterns({arrangements.method})",
        info={"n_patterns": P},
    )


def _normalize(U: np.ndarray) -> np.ndarray:
    nrm = np.linalg.norm(U, axis=0)
    return U / np.where(nrm > 0, nrm, 1.0)


def search_oracle(
    X: Any,
    mu: Any,
    *,
    n_starts: int = 256,
    n_iter: int = 60,
    n_polish: int = 8,
    max_data_starts: int = 256,
    random_state: int | np.random.RandomState | None = None,
    init: np.ndarray | None = None,
) -> OracleResult:
    """Best-effort dual oracle without enumerating patterns (a lower value of ``g``).

    Maximizes ``h_s(u) = s mu^T (X u)_+`` on the unit sphere from many starts at once, for both
    signs: the starts are the (normalized) data rows, ``X^T mu_+``, ``X^T mu_-``, ``+-X^T mu``,
    ``n_starts`` Gaussian draws, and the columns of ``init`` (d, k). Each step is one pair of
    GEMMs: half of the starts take the fixed-point step ``u <- grad h_s(u) / ||grad h_s(u)||``
    (the maximizer of the linearization; monotone when ``s mu >= 0`` since ``h_s`` is then
    convex), the other half a normalized projected ascent step with decreasing length. The best
    points' patterns are then maximized exactly inside their cones (:func:`pattern_maximum`),
    and the fixed point / polish round is repeated once from the polished points.

    The returned ``value`` is attained by ``u`` (so it is a valid lower value of ``g``, never a
    proof of optimality); ``upper_bound`` is the sound pattern-free bound of
    :func:`norm_upper_bound`.

    Parameters
    ----------
    X : array-like of shape (n, d)
    mu : array-like of shape (n,)
    n_starts : int
        Number of random starting directions.
    n_iter : int
        Ascent steps per round.
    n_polish : int
        Number of best candidates whose pattern cone is maximized exactly.
    max_data_starts : int
        At most this many data rows (chosen at random) are used as starts.
    random_state : int, RandomState or None
    init : ndarray of shape (d, k) or None
        Extra starting directions (e.g. the hidden weights of a network, bias last).

    Returns
    -------
    OracleResult
        With ``exact=False``.
    """
    X, mu = _check(X, mu)
    n, d = X.shape
    rng = check_random_state(random_state)
    ub = norm_upper_bound(X, mu)
    if ub == 0.0:
        return OracleResult(0.0, np.zeros(d), 1, None, False, 0.0, 0, "search")

    starts = []
    rows = np.arange(n)
    if n > max_data_starts:
        rows = rng.choice(n, max_data_starts, replace=False)
    starts.append(X[rows].T)
    mp, mm = np.maximum(mu, 0), np.maximum(-mu, 0)
    starts.append(np.column_stack([X.T @ mp, X.T @ mm, X.T @ mu, -(X.T @ mu)]))
    starts.append(rng.standard_normal((d, int(n_starts))))
    if init is not None:
        init = np.asarray(init, dtype=np.float64)
        if init.ndim == 1:
            init = init[:, None]
        if init.shape[0] != d:
            raise ValueError(f"init must have shape ({d}, k), got {init.shape}")
        starts.append(init)
    U0 = _normalize(np.concatenate(starts, axis=1))
    U0 = U0[:, np.linalg.norm(U0, axis=0) > 0]
    k = U0.shape[1]
    # Both signs for every start.
    U = np.concatenate([U0, U0], axis=1)
    s = np.concatenate([np.ones(k), -np.ones(k)])
    S = U.shape[1]
    fixed = np.zeros(S, dtype=bool)
    fixed[::2] = True

    best_vals = np.full(S, -np.inf)
    best_U = U.copy()

    def run(U: np.ndarray, n_iter: int) -> None:
        nonlocal best_vals, best_U
        for t in range(n_iter + 1):
            Z = X @ U  # (n, S)
            vals = s * (mu @ np.maximum(Z, 0.0))
            better = vals > best_vals
            best_vals = np.where(better, vals, best_vals)
            best_U[:, better] = U[:, better]
            if t == n_iter:
                break
            Gr = X.T @ ((Z > 0) * mu[:, None]) * s  # (d, S): gradient of h_s
            Gn = _normalize(Gr)
            step = 1.0 / np.sqrt(t + 1.0)
            U_new = np.where(fixed, Gn, U + step * Gn)
            dead = np.linalg.norm(Gr, axis=0) == 0
            if dead.any():  # zero gradient (no active row): restart at a random direction
                U_new[:, dead] = rng.standard_normal((d, int(dead.sum())))
            U = _normalize(U_new)

    run(U, n_iter)
    n_solved = 0
    best = (0.0, np.zeros(d), 1)
    for _round in range(2):
        order = np.argsort(-best_vals)
        seen: set[bytes] = set()
        polished: list[tuple[int, np.ndarray]] = []
        for j in order:
            if len(polished) >= n_polish:
                break
            u = best_U[:, j]
            mask = X @ u >= 0
            key = np.packbits(mask).tobytes() + (b"+" if s[j] > 0 else b"-")
            if key in seen:
                continue
            seen.add(key)
            lo, _, up = pattern_maximum(X, mu, mask, float(s[j]))
            n_solved += 1
            cand_val = max(lo, float(best_vals[j]))
            cand_u = up if lo >= best_vals[j] else u
            if cand_val > best[0]:
                best = (cand_val, cand_u.copy(), int(s[j]))
            polished.append((j, up if lo > 0 else u))
        if _round == 0:
            # Restart the ascent from the polished points (they sit on cone boundaries where a
            # neighbouring pattern may be better).
            for j, u in polished:
                best_U[:, j] = u
            run(best_U.copy(), max(5, n_iter // 4))
    val, u, sgn = best
    # The best distinct-pattern candidates, for column generation (several cuts per round).
    order = np.argsort(-best_vals)
    cands: list[np.ndarray] = []
    cvals: list[float] = []
    seen_c: set[bytes] = set()
    for j in order:
        if best_vals[j] <= 0 or len(cands) >= 64:
            break
        key = np.packbits(X @ best_U[:, j] >= 0).tobytes()
        if key in seen_c:
            continue
        seen_c.add(key)
        cands.append(best_U[:, j])
        cvals.append(float(best_vals[j]))
    return OracleResult(
        value=float(val),
        u=u if val > 0 else np.zeros(d),
        sign=sgn,
        pattern=None,
        exact=False,
        upper_bound=max(ub, float(val)),
        n_solved=n_solved,
        method="search",
        info={"n_starts_total": S,
              "candidates": np.array(cands).T if cands else np.zeros((d, 0)),
              "candidate_values": np.array(cvals)},
    )
