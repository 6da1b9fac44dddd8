"""Tests for convexnn.nonconvex (PyTorch training of the nonconvex network)."""

import math

import numpy as np
import pytest

pytest.importorskip("torch")

from convexnn.network import TwoLayerReLUNetwork  # noqa: E402
from convexnn.nonconvex import best_of_grid, train_adam_numpy, train_nonconvex  # noqa: E402


def _data(loss, n=60, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.maximum(X @ rng.standard_normal(d), 0) - 0.5 * np.maximum(X[:, 0], 0)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    return X, y


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_objective_decreases_and_matches_network(loss, fit_intercept):
    X, y = _data(loss)
    beta = 1e-2
    res = train_nonconvex(
        X, y, beta, width=10, loss=loss, lr=1e-2, steps=300, fit_intercept=fit_intercept,
        record_every=25,
    )
    assert len(res.history) >= 3
    F0 = res.history[0][1]
    assert res.history[-1][1] < F0
    assert res.objective < 0.9 * F0
    assert (res.network.hidden_bias is not None) == fit_intercept
    assert res.network.output_bias is None
    # objective is F of SPEC §0 for the returned network (best iterate).
    assert res.objective == pytest.approx(res.network.objective(X, y, beta, loss), rel=1e-12)
    assert res.objective <= min(F for _, F in res.history) + 1e-12
    assert res.objective <= res.final_objective + 1e-12
    times = [t for t, _ in res.history]
    assert times == sorted(times) and res.time >= times[-1]
    assert res.steps == 300 and not res.diverged


def test_history_F_is_spec_objective_at_init():
    """The loss trained on is exactly F: check F at step 0 against the network objective."""
    X, y = _data("squared")
    beta = 0.1
    rng = np.random.default_rng(1)
    init = TwoLayerReLUNetwork(rng.standard_normal((5, 3)), rng.standard_normal(5),
                               rng.standard_normal(5))
    res = train_nonconvex(X, y, beta, width=None, init=init, steps=0)
    assert res.history[0][1] == pytest.approx(init.objective(X, y, beta), rel=1e-12)
    assert res.objective == pytest.approx(init.objective(X, y, beta), rel=1e-12)


def test_sgd_float32_and_time_limit():
    X, y = _data("squared")
    res = train_nonconvex(X, y, 1e-3, width=8, optimizer="sgd", lr=1e-2, steps=200,
                          dtype="float32")
    assert res.objective < res.history[0][1]
    res = train_nonconvex(X, y, 1e-3, width=8, steps=10**7, time_limit=0.2)
    assert res.steps < 10**7 and res.time < 5


def test_seed_reproducible_and_grid():
    X, y = _data("squared")
    a = train_nonconvex(X, y, 1e-3, width=6, steps=50, seed=3)
    b = train_nonconvex(X, y, 1e-3, width=6, steps=50, seed=3)
    assert a.objective == b.objective
    best, runs, total = best_of_grid(X, y, 1e-3, width=6, loss="squared", lrs=(1e-3, 1e-2),
                                     seeds=(0, 1), steps=100)
    assert len(runs) == 4 and total >= sum(r.time for r in runs) * 0.99
    assert best.objective == min(r.objective for r in runs)
    assert {(r.params["lr"], r.params["seed"]) for r in runs} == {
        (1e-3, 0), (1e-3, 1), (1e-2, 0), (1e-2, 1)
    }


def test_divergence_keeps_best():
    X, y = _data("squared")
    res = train_nonconvex(X, y, 1e-3, width=6, optimizer="sgd", lr=1e6, steps=200)
    assert math.isfinite(res.objective)
    assert res.objective <= res.history[0][1]


def test_bad_inputs():
    X, y = _data("squared")
    with pytest.raises(ValueError, match="-1, \\+1"):
        train_nonconvex(X, (y > 0).astype(float), 1e-3, width=4, loss="logistic", steps=1)
    with pytest.raises(ValueError, match="optimizer"):
        train_nonconvex(X, y, 1e-3, width=4, optimizer="lbfgs", steps=1)
    init = TwoLayerReLUNetwork(np.ones((2, 3)), None, np.ones(2), 0.5)
    with pytest.raises(ValueError, match="offset"):
        train_nonconvex(X, y, 1e-3, width=None, init=init, fit_intercept=False, steps=1)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_numpy_adam_follows_torch_adam(loss, fit_intercept):
    """Same init, same lr: the NumPy Adam and torch.optim.Adam take the same steps."""
    X, y = _data(loss, n=40, d=3, seed=2)
    rng = np.random.default_rng(3)
    init = TwoLayerReLUNetwork(rng.standard_normal((7, 3)),
                               rng.standard_normal(7) if fit_intercept else None,
                               rng.standard_normal(7))
    kw = dict(init=init, lr=1e-2, steps=300, loss=loss, fit_intercept=fit_intercept,
              record_every=1)
    a = train_adam_numpy(X, y, 1e-2, **kw)
    b = train_nonconvex(X, y, 1e-2, width=None, **kw)
    Fa = np.array([F for _, F in a.history])
    Fb = np.array([F for _, F in b.history])
    assert Fa.shape == Fb.shape == (301,)
    np.testing.assert_allclose(Fa, Fb, rtol=1e-8, atol=1e-10)
    for attr in ("hidden_weights", "output_weights"):
        np.testing.assert_allclose(getattr(a.network, attr), getattr(b.network, attr),
                                   rtol=1e-8, atol=1e-10)
    assert a.objective == pytest.approx(b.objective, rel=1e-8)
    assert a.final_objective == pytest.approx(b.final_objective, rel=1e-8)
    assert a.params["optimizer"] == "adam-numpy" and a.steps == 300
