"""Regularization paths: warm-started fits equal cold fits, beta_max brackets the zero network,
and cross-validation picks a beta from held-out scores."""

import numpy as np
import pytest

from convexnn import ConvexReLUClassifier, ConvexReLURegressor
from convexnn.path import ConvexReLUCV, beta_grid, beta_max, fit_path


def _data(seed=0, n=20):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = np.maximum(X @ [1.0, -0.5] + 0.3, 0) - np.maximum(X @ [-0.7, 1.0], 0)
    return X, y + 0.1 * rng.standard_normal(n)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_warm_path_matches_cold_fits(loss):
    X, y = _data()
    Est = ConvexReLURegressor
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
        Est = ConvexReLUClassifier
    est = Est(arrangements="exact", loss=loss, tol=1e-8)
    low, high = beta_max(X, y, loss=loss)
    betas = np.geomspace(0.5 * low, 0.01 * low, 3)
    res = fit_path(est, X, y, betas)
    assert np.all(np.diff(res.betas) < 0)
    for b, F in zip(res.betas, res.objectives, strict=True):
        cold = Est(beta=b, arrangements="exact", loss=loss, tol=1e-8).fit(X, y)
        assert F == pytest.approx(cold.objective_, rel=1e-6)
    assert np.all(res.relative_gaps <= 1e-6)
    # the estimator passed in is not modified
    assert not hasattr(est, "network_")


def test_beta_max_brackets_the_zero_network():
    X, y = _data(1)
    low, high = beta_max(X, y)
    assert 0 < low <= high
    L0 = 0.5 * np.mean(y**2)
    above = ConvexReLURegressor(beta=1.01 * high, arrangements="exact").fit(X, y)
    assert above.n_neurons_ == 0
    assert above.objective_ == pytest.approx(L0, rel=1e-9)
    below = ConvexReLURegressor(beta=0.98 * low, arrangements="exact").fit(X, y)
    assert below.n_neurons_ > 0 and below.objective_ < L0


def test_beta_grid_and_bad_input():
    X, y = _data(2)
    g = beta_grid(X, y, n_betas=4, ratio=1e-2)
    assert g.shape == (4,) and np.all(np.diff(g) < 0)
    assert g[-1] == pytest.approx(g[0] * 1e-2)
    with pytest.raises(ValueError, match="positive"):
        fit_path(ConvexReLURegressor(), X, y, [0.1, -1.0])
    with pytest.raises(ValueError, match="finite"):
        beta_max(np.full((3, 2), np.nan), np.ones(3))
    with pytest.raises(ValueError, match="zero network"):
        beta_grid(X, np.zeros(len(y)))


def test_cv_picks_a_beta_and_refits():
    X, y = _data(3, n=60)
    labels = (y > np.median(y)).astype(int)
    cv = ConvexReLUCV(ConvexReLUClassifier(arrangements=20, loss="squared", random_state=0),
                      n_betas=3, cv=3).fit(X, labels)
    assert cv.cv_scores_.shape == (3, 3)
    assert cv.best_beta_ in cv.betas_
    best = int(np.argmax(cv.cv_scores_.mean(axis=1)))
    assert cv.best_beta_ == cv.betas_[best]
    assert cv.best_estimator_.beta == cv.best_beta_
    assert cv.predict(X).shape == (60,)
    assert 0.5 < cv.score(X, labels) <= 1.0
    with pytest.raises(ValueError, match="cv"):
        ConvexReLUCV(ConvexReLUClassifier(), cv=1).fit(X, labels)
