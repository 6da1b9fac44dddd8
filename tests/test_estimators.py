"""End-to-end tests of the estimators against an independent interior-point reference."""

import warnings

import numpy as np
import pytest
from conftest import random_instance

from convexnn import ConvexReLUClassifier, ConvexReLURegressor
from convexnn.arrangements import enumerate_arrangements
from convexnn.solvers.cvxpy_solver import solve_cvxpy

pytest.importorskip("cvxpy")

# (n, d) with d raw features; the bias column makes the rank d + 1 <= 4.
INSTANCES = [(20, 2, 0), (12, 3, 1), (30, 1, 2)]
BETA = 1e-2


def reference(X, y, model, loss):
    """Interior-point optimum (CVXPY + Clarabel) of SPEC §2 over all patterns."""
    Xd = np.column_stack([X, np.ones(len(X))])
    arr = enumerate_arrangements(Xd)
    return solve_cvxpy(Xd, y, arr.masks(), BETA, model=model, loss=loss, tol=1e-10).objective


def make(loss, **kw):
    cls = ConvexReLUClassifier if loss == "logistic" else ConvexReLURegressor
    return cls(beta=BETA, loss=loss, arrangements="exact", **kw)


@pytest.mark.parametrize("n,d,seed", INSTANCES)
@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("model,solver", [("relu", "auto"), ("relu", "cvxpy"), ("relu", "clarabel"),
                                          ("gated", "auto"), ("gated", "newton")])
def test_exact_enumeration_matches_interior_point(n, d, seed, loss, model, solver):
    X, y = random_instance(n, d, seed, loss)
    ref = reference(X, y, model, loss)
    est = make(loss, model=model, solver=solver).fit(X, y)
    assert est.converged_
    assert abs(est.objective_ - ref) <= 1e-5 * abs(ref)
    if model == "relu":
        net = est.network_
        assert net.objective(X, y, BETA, loss) == pytest.approx(est.objective_, rel=1e-6)
        out = est.decision_function(X) if loss == "logistic" else est.predict(X)
        np.testing.assert_allclose(net.predict(X), out, rtol=1e-12, atol=1e-12)
        # The recovered network is balanced: weight decay equals the group-l1 penalty.
        assert net.group_norm_objective(X, y, BETA, loss) == pytest.approx(est.objective_,
                                                                           rel=1e-9)
        # Certificate: sound (below the independent optimum) and, here, a proof of optimality.
        cert = est.certificate_
        assert cert.lower_bound <= ref * (1 + 1e-8) + 1e-12
        assert cert.primal == pytest.approx(est.objective_, rel=1e-12)
        if solver != "cvxpy":
            assert cert.exact and cert.optimal and cert.relative_gap <= 1e-6


@pytest.mark.parametrize("n,d,seed", INSTANCES)
def test_first_order_admm_reaches_the_interior_point_optimum(n, d, seed):
    """The first-order ReLU solver (ADMM, squared loss) against the interior-point optimum."""
    X, y = random_instance(n, d, seed)
    ref = reference(X, y, "relu", "squared")
    est = make("squared", solver="admm", max_iter=40_000).fit(X, y)
    assert est.converged_
    assert abs(est.objective_ - ref) <= 1e-5 * abs(ref)
    assert est.network_.objective(X, y, BETA) == pytest.approx(est.objective_, rel=1e-12)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_global_optimum_beats_best_of_ten_adam_runs(loss):
    """The theorem on a real instance: no Adam run of a wide network gets below the convex F."""
    torch = pytest.importorskip("torch")  # noqa: F841
    from convexnn.nonconvex import train_nonconvex

    X, y = random_instance(20, 2, 0, loss)
    est = make(loss).fit(X, y)
    runs = [train_nonconvex(X, y, BETA, width=60, loss=loss, lr=lr, steps=1500, seed=s)
            for lr in (3e-3, 1e-2, 3e-2, 1e-1, 3e-1) for s in (0, 1)]
    best = min(r.objective for r in runs)
    assert len(runs) == 10
    assert est.objective_ <= best * (1 + 1e-6)
    # And it is a real improvement or a tie, never worse: Adam gets close.
    assert best <= est.objective_ * 1.5


def test_relu_model_is_between_gated_bound_and_sampled_upper_bound():
    X, y = random_instance(20, 2, 3)
    relu = make("squared").fit(X, y).objective_
    gated = make("squared", model="gated").fit(X, y).objective_
    sampled = ConvexReLURegressor(beta=BETA, arrangements=20, random_state=0).fit(X, y).objective_
    assert gated <= relu * (1 + 1e-6)
    assert relu <= sampled * (1 + 1e-6)


def test_large_beta_gives_zero_network():
    X, y = random_instance(20, 2, 4)
    est = ConvexReLURegressor(beta=1e3, arrangements="exact").fit(X, y)
    assert est.n_neurons_ == 0
    np.testing.assert_allclose(est.predict(X), 0.0)
    assert est.objective_ == pytest.approx(0.5 * np.mean(y**2))


def test_gated_predict_uses_gates():
    X, y = random_instance(20, 2, 5)
    est = ConvexReLURegressor(beta=BETA, model="gated", arrangements="exact").fit(X, y)
    assert est.network_ is None
    Xd = np.column_stack([X, np.ones(len(X))])
    manual = np.sum((Xd @ est.gates_ >= 0) * (Xd @ est.gated_weights_.T), axis=1)
    np.testing.assert_allclose(est.predict(X), manual)


def test_classifier_labels_and_proba():
    X, y = random_instance(30, 2, 6, "logistic")
    labels = np.where(y > 0, "yes", "no")
    clf = ConvexReLUClassifier(beta=BETA, arrangements=40, random_state=0).fit(X, labels)
    assert set(clf.predict(X)) <= {"yes", "no"}
    p = clf.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert clf.score(X, labels) > 0.7
    sq = ConvexReLUClassifier(beta=BETA, loss="squared", arrangements=40).fit(X, labels)
    assert not hasattr(sq, "predict_proba")


def test_seeding_with_a_network_is_never_worse():
    pytest.importorskip("torch")
    from convexnn.nonconvex import train_nonconvex

    X, y = random_instance(40, 3, 7)
    adam = train_nonconvex(X, y, BETA, width=30, lr=1e-2, steps=1000, seed=0)
    est = ConvexReLURegressor(beta=BETA, arrangements=adam.network).fit(X, y)
    assert est.objective_ <= adam.objective * (1 + 1e-6)


def test_warm_start_keeps_patterns():
    X, y = random_instance(30, 3, 8)
    est = ConvexReLURegressor(beta=BETA, arrangements=30, random_state=0, warm_start=True)
    f1 = est.fit(X, y).objective_
    est.set_params(random_state=1)
    f2 = est.fit(X, y).objective_
    assert f2 <= f1 * (1 + 1e-6)


@pytest.mark.parametrize(
    "X,y,match",
    [
        (np.array([[np.nan, 1.0], [1.0, 2.0]]), np.array([1.0, 2.0]), "NaN"),
        (np.array([[np.inf, 1.0], [1.0, 2.0]]), np.array([1.0, 2.0]), "infinity"),
        (np.ones((3, 2)), np.ones(4), "inconsistent numbers of samples"),
        (np.zeros((0, 2)), np.zeros(0), "0 sample"),
    ],
)
def test_bad_input_errors(X, y, match):
    with pytest.raises(ValueError, match=match):
        ConvexReLURegressor().fit(X, y)


def test_bad_parameters_and_single_class():
    X, y = random_instance(10, 2, 9)
    with pytest.raises(ValueError, match="beta"):
        ConvexReLURegressor(beta=0).fit(X, y)
    with pytest.raises(ValueError, match="beta"):
        ConvexReLURegressor(beta=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        ConvexReLUClassifier().fit(X, np.ones(10))
    with pytest.raises(ValueError, match="shape"):
        ConvexReLURegressor(arrangements=np.ones((5, 4))).fit(X, y)
    with pytest.raises(MemoryError, match="fewer patterns"):
        ConvexReLURegressor(arrangements=10**9).fit(X, y)
    with pytest.raises(ValueError, match="sample them instead"):
        ConvexReLURegressor(arrangements="exact").fit(
            np.random.default_rng(0).standard_normal((300, 8)), np.ones(300))


def test_no_nan_and_convergence_warning():
    X, y = random_instance(30, 3, 10)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        est = ConvexReLURegressor(beta=BETA, model="gated", arrangements=50, max_iter=3,
                                  random_state=0).fit(X, y)
    assert not est.converged_
    assert any("did not converge" in str(x.message) for x in w)
    assert np.isfinite(est.objective_) and np.all(np.isfinite(est.predict(X)))
