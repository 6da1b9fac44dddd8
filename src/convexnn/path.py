"""Regularization paths over the weight decay ``beta``, warm-started, and their cross-validation.

The convex program of SPEC §2 has a solution path in ``beta``: at ``beta >= beta_max`` the zero
network is optimal, and as ``beta`` decreases neurons enter. Solving the grid from the largest
``beta`` to the smallest and starting each fit from the previous solution (and its patterns)
costs far less than independent fits, as for the lasso (Friedman, Hastie & Tibshirani, *J.
Stat. Softw.* 2010; scikit-learn's ``LassoCV``).

* :func:`beta_max` -- where the zero network stops being optimal: ``beta_max =
  max_{||u|| <= 1} |mu_0^T (X u)_+|`` with ``mu_0 = -grad L(0)`` (SPEC §3's dual constraint at the
  zero network; both output signs). The maximization is the nonconvex dual oracle, so the value
  returned is bracketed: the search oracle's maximizer gives a value ``<= beta_max`` and the
  pattern-free bound of :func:`convexnn.oracle.norm_upper_bound` a value ``>= beta_max``.
* :func:`beta_grid` -- a log-spaced grid below that value.
* :func:`fit_path` -- fits one estimator along a grid (warm starts), keeps a fitted copy per
  ``beta``.
* :class:`ConvexReLUCV` -- k-fold cross-validation of ``beta`` along the path, then a refit on
  all the data at the best ``beta``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils.validation import check_is_fitted

__all__ = ["PathResult", "beta_max", "beta_grid", "fit_path", "ConvexReLUCV"]


def _design_and_mu0(X: Any, y: Any, loss: str, fit_intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    from .losses import get_loss

    Xa = np.asarray(X, dtype=np.float64)
    if Xa.ndim != 2 or Xa.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array, got shape {Xa.shape}")
    ya = np.asarray(y, dtype=np.float64).ravel()
    if ya.shape[0] != Xa.shape[0]:
        raise ValueError(f"X has {Xa.shape[0]} rows but y has {ya.shape[0]} entries")
    if not (np.all(np.isfinite(Xa)) and np.all(np.isfinite(ya))):
        raise ValueError("X and y must be finite (no NaN or inf); impute or drop those rows")
    Xd = np.c_[Xa, np.ones(Xa.shape[0])] if fit_intercept else Xa
    mu0 = -get_loss(loss).gradient(np.zeros(Xd.shape[0]), ya)
    return Xd, mu0


def beta_max(X: Any, y: Any, *, loss: str = "squared", fit_intercept: bool = True,
             random_state: int | None = 0) -> tuple[float, float]:
    """Bracket the smallest ``beta`` at which the zero network is optimal.

    Parameters
    ----------
    X : array (n, d)
    y : array (n,)
        Targets (``±1`` labels for ``loss="logistic"``).
    loss : {"squared", "logistic"}
    fit_intercept : bool
        Whether the network has the (regularized) hidden bias, as in the estimators.
    random_state : int, optional
        Seed of the search oracle's random starts.

    Returns
    -------
    low, high : float
        ``low <= beta_max <= high``: ``low`` is attained by a neuron the search oracle found
        (for ``beta < low`` that neuron makes the zero network suboptimal, a proof), ``high``
        is the sound pattern-free bound (for ``beta >= high`` the zero network is optimal).
    """
    from .oracle import norm_upper_bound, search_oracle

    Xd, mu0 = _design_and_mu0(X, y, loss, fit_intercept)
    if not np.any(mu0):
        return 0.0, 0.0
    o = search_oracle(Xd, mu0, random_state=random_state)
    return float(o.value), float(max(norm_upper_bound(Xd, mu0), o.value))


def beta_grid(X: Any, y: Any, *, n_betas: int = 8, ratio: float = 1e-3, loss: str = "squared",
              fit_intercept: bool = True, random_state: int | None = 0) -> np.ndarray:
    """``n_betas`` values log-spaced from the lower estimate of :func:`beta_max` down to
    ``ratio`` times it, in decreasing order (the order :func:`fit_path` solves them in)."""
    if n_betas < 1:
        raise ValueError(f"n_betas must be >= 1, got {n_betas}")
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must lie in (0, 1), got {ratio}")
    low, _ = beta_max(X, y, loss=loss, fit_intercept=fit_intercept, random_state=random_state)
    if low <= 0:
        raise ValueError("y is already fitted by the zero network (the gradient of the loss at "
                         "zero vanishes): there is no path to compute")
    return np.geomspace(low, low * ratio, n_betas)


@dataclass
class PathResult:
    """A fitted regularization path.

    Attributes
    ----------
    betas : ndarray
        The grid, in the order it was solved (decreasing).
    estimators : list
        A fitted copy of the estimator per ``beta``.
    objectives : ndarray
        ``objective_`` per ``beta`` (SPEC §0's ``F`` at that ``beta``).
    n_neurons : ndarray of int
    times : ndarray
        Seconds per fit (warm-started).
    relative_gaps : ndarray
        ``relative_gap_`` per fit (over the fitted patterns).
    """

    betas: np.ndarray
    estimators: list[Any] = field(repr=False)
    objectives: np.ndarray
    n_neurons: np.ndarray
    times: np.ndarray
    relative_gaps: np.ndarray


def fit_path(estimator: Any, X: Any, y: Any, betas: Sequence[float] | np.ndarray,
             *, warm_start: bool = True) -> PathResult:
    """Fit ``estimator`` at every ``beta`` of the grid, largest first, warm-starting each fit.

    Parameters
    ----------
    estimator : ConvexReLURegressor or ConvexReLUClassifier
        Cloned, then refitted along the grid (the argument itself is not modified).
    X, y : arrays
    betas : sequence of float
        Positive weight decays; solved in decreasing order whatever the order given.
    warm_start : bool
        Start each fit from the previous solution and keep its patterns (``warm_start=True``
        of the estimators); ``False`` fits each ``beta`` from scratch.

    Returns
    -------
    PathResult
    """
    b = np.asarray(betas, dtype=np.float64).ravel()
    if b.size == 0 or not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise ValueError(f"betas must be a non-empty list of positive numbers, got {list(b)}")
    b = np.sort(b)[::-1]
    est = clone(estimator).set_params(warm_start=warm_start)
    fitted, objs, neu, times, gaps = [], [], [], [], []
    for beta in b:
        est.set_params(beta=float(beta))
        t0 = time.perf_counter()
        est.fit(X, y)
        times.append(time.perf_counter() - t0)
        fitted.append(copy.deepcopy(est))
        objs.append(est.objective_)
        neu.append(est.n_neurons_)
        gaps.append(est.relative_gap_)
    return PathResult(betas=b, estimators=fitted, objectives=np.array(objs),
                      n_neurons=np.array(neu, dtype=int), times=np.array(times),
                      relative_gaps=np.array(gaps))


class ConvexReLUCV(BaseEstimator):
    """Cross-validated ``beta`` for a convex ReLU estimator, along warm-started paths.

    For each of ``cv`` folds the path of :func:`fit_path` is fitted on the training part and
    scored on the held-out part; the ``beta`` with the best mean score is refitted on all the
    data (its path from the largest ``beta`` down, warm-started).

    Parameters
    ----------
    estimator : ConvexReLURegressor or ConvexReLUClassifier
        Template (its own ``beta`` is ignored).
    betas : sequence of float or None
        The grid; ``None`` uses :func:`beta_grid` with ``n_betas`` values.
    n_betas : int
        Grid size when ``betas`` is None.
    cv : int
        Folds (stratified for classifiers).
    random_state : int or None
        Seed of the fold shuffling.

    Attributes
    ----------
    betas_ : ndarray
        The grid (decreasing).
    cv_scores_ : ndarray of shape (n_betas, cv)
        Held-out ``score`` (accuracy for classifiers, R^2 for regressors) per beta and fold.
    best_beta_ : float
    best_estimator_ : estimator
        Refitted on all the data at ``best_beta_``.
    path_ : PathResult
        The refit path (from the largest beta down to ``best_beta_``).
    """

    def __init__(self, estimator: Any, *, betas: Sequence[float] | None = None, n_betas: int = 6,
                 cv: int = 3, random_state: int | None = 0) -> None:
        self.estimator = estimator
        self.betas = betas
        self.n_betas = n_betas
        self.cv = cv
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> ConvexReLUCV:
        Xa = np.asarray(X, dtype=np.float64)
        ya = np.asarray(y)
        if Xa.ndim != 2 or Xa.shape[0] != ya.shape[0]:
            raise ValueError(f"X must be 2-D with one row per entry of y; got X {Xa.shape}, "
                             f"y {ya.shape}")
        if not isinstance(self.cv, (int, np.integer)) or self.cv < 2:
            raise ValueError(f"cv must be an integer >= 2, got {self.cv!r}")
        if Xa.shape[0] < self.cv:
            raise ValueError(f"{Xa.shape[0]} samples cannot be split into cv={self.cv} folds")
        clf = is_classifier(self.estimator)
        if self.betas is None:
            loss = getattr(self.estimator, "loss", "squared")
            yg = ya.astype(np.float64)
            if clf:
                classes = np.unique(ya)
                if classes.size != 2:
                    raise ValueError("betas=None derives the grid for binary labels only; "
                                     "pass betas explicitly")
                yg = np.where(ya == classes[1], 1.0, -1.0)
            grid = beta_grid(Xa, yg, n_betas=self.n_betas, loss=loss,
                             fit_intercept=getattr(self.estimator, "fit_intercept", True))
        else:
            grid = np.asarray(self.betas, dtype=np.float64)
        grid = np.sort(grid)[::-1]
        splitter = (StratifiedKFold if clf else KFold)(n_splits=int(self.cv), shuffle=True,
                                                       random_state=self.random_state)
        scores = np.empty((grid.size, int(self.cv)))
        for k, (tr, va) in enumerate(splitter.split(Xa, ya)):
            res = fit_path(self.estimator, Xa[tr], ya[tr], grid)
            for i, e in enumerate(res.estimators):
                scores[i, k] = e.score(Xa[va], ya[va])
        self.betas_ = grid
        self.cv_scores_ = scores
        best = int(np.argmax(scores.mean(axis=1)))
        self.best_beta_ = float(grid[best])
        self.path_ = fit_path(self.estimator, Xa, ya, grid[: best + 1])
        self.best_estimator_ = self.path_.estimators[-1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    def score(self, X: Any, y: Any) -> float:
        check_is_fitted(self, "best_estimator_")
        return float(self.best_estimator_.score(X, y))
