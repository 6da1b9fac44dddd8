import numpy as np
import pytest
from scipy.optimize import minimize

from convexnn.losses import get_loss


@pytest.mark.parametrize("name", ["squared", "logistic"])
def test_gradient_matches_finite_differences(name):
    rng = np.random.default_rng(0)
    n = 7
    f = rng.standard_normal(n)
    y = np.sign(rng.standard_normal(n)) if name == "logistic" else rng.standard_normal(n)
    loss = get_loss(name)
    g = loss.gradient(f, y)
    eps = 1e-6
    fd = np.array([(loss.value(f + eps * e, y) - loss.value(f - eps * e, y)) / (2 * eps)
                   for e in np.eye(n)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("name", ["squared", "logistic"])
def test_dual_value_is_the_conjugate(name):
    """-L*(-mu) = min_f L(f) + mu^T f, computed by direct minimization."""
    rng = np.random.default_rng(1)
    n = 6
    y = np.sign(rng.standard_normal(n)) if name == "logistic" else rng.standard_normal(n)
    loss = get_loss(name)
    # A feasible dual point: mu = -grad L(f0) scaled (p in (0,1) for logistic).
    mu = -0.7 * loss.gradient(rng.standard_normal(n), y)
    res = minimize(lambda f: loss.value(f, y) + mu @ f, np.zeros(n), method="BFGS",
                   options={"gtol": 1e-12})
    assert loss.dual_value(mu, y) == pytest.approx(res.fun, rel=1e-7, abs=1e-10)


def test_logistic_dual_outside_domain_is_minus_inf():
    loss = get_loss("logistic")
    y = np.array([1.0, -1.0])
    assert loss.dual_value(np.array([-1.0, 0.0]), y) == -np.inf


def test_logistic_is_stable_for_large_margins():
    loss = get_loss("logistic")
    f = np.array([1e4, -1e4])
    y = np.array([1.0, 1.0])
    assert np.isfinite(loss.value(f, y))
    assert np.all(np.isfinite(loss.gradient(f, y)))


def test_unknown_loss():
    with pytest.raises(ValueError, match="squared"):
        get_loss("hinge")


@pytest.mark.parametrize("solver", ["ipm", "relu_fista", "active_set", "gated_fista"])
def test_solvers_reject_zero_one_labels_for_the_logistic_loss(solver):
    """0/1 labels make the logistic loss constant on the zeros: a clear error, not 100 steps."""
    from convexnn.arrangements import sample_arrangements
    from convexnn.solvers.active_set import solve_active_set
    from convexnn.solvers.fista import solve_gated_fista
    from convexnn.solvers.interior_point import solve_ipm
    from convexnn.solvers.relu_fista import solve_relu_fista

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    y01 = (X[:, 0] > 0).astype(float)
    masks = sample_arrangements(X, 5, random_state=0).masks()
    run = {"ipm": solve_ipm, "relu_fista": solve_relu_fista, "active_set": solve_active_set,
           "gated_fista": solve_gated_fista}[solver]
    with pytest.raises(ValueError, match=r"\{-1, \+1\}.*2 \* y - 1"):
        run(X, y01, masks, get_loss("logistic"), 0.1)
    run(X, 2 * y01 - 1, masks, get_loss("logistic"), 0.1)  # the mapped labels are fine
    with pytest.raises(ValueError, match="finite"):
        get_loss("squared").check_targets(np.array([0.0, np.nan]))
